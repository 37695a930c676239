// The numbers the Durable Object outbox and its sink share (documented in ../index.d.ts and the README).

/** Largest record text the sink hands over, in UTF-8 bytes: a stored value (record plus ~1 KB of retry and
 *  dead-letter fields) stays under the 128 KiB value limit of key-value-backed objects (SQLite-backed: 2 MB). */
export const MAX_RECORD_BYTES = 120_000;
/** Most records per POST to the object. */
export const MAX_BATCH_SIZE = 500;
/** Most record bytes per POST to the object (the texts plus one byte each). */
export const MAX_BATCH_BYTES = 1024 * 1024;
/** Keys per `storage.put`/`storage.delete` call (the storage API's limit). */
export const STORAGE_KEYS_PER_CALL = 128;
/** The shard `durableObjectSink` uses when none is given. */
export const DEFAULT_SHARD = 'default';
/** Path prefix of the object's HTTP interface. */
export const ROUTE = '/aicm/outbox/';
/** The origin of the URLs the sink fetches (a Durable Object stub ignores the host). */
export const ORIGIN = 'https://aicm-outbox.invalid';
