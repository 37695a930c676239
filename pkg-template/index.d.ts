// Types of aicostmanager-edge, hand-written: the same for every entry point (node, workerd, edge-light, browser,
// default), which all export the same API and differ only in how they load the wasm.

import type { OutboxStore } from "./stores/index.js";
export * from "./stores/index.js";
export * from "./durable-object/index.js";

/** Any value JSON can carry. Numbers must be finite: NaN and ±Infinity are rejected with `E_NON_FINITE_NUMBER`. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * Replaces one value of a field named in `anonymizeFields` before the record leaves the tracker.
 * Called with the field's value and the field's name. If it throws, or returns something JSON cannot carry
 * (undefined, a function, NaN, a cycle...), the value is redacted with the default anonymizer instead (fail closed).
 * The default anonymizer turns every string into "[REDACTED]", recursively through objects and arrays, and keeps
 * numbers, booleans and null.
 */
export type Anonymizer = (value: JsonValue, field: string) => JsonValue;

/** An ISO-8601 string with `Z` or an offset, a `Date`, or epoch milliseconds. Anything else: `E_INVALID_TIMESTAMP`. */
export type TimestampInput = string | Date | number;

/** The stable `code` of every error the library throws. */
export type AicmErrorCode =
  | "E_INVALID_SERVICE_KEY"
  | "E_INVALID_USAGE"
  | "E_NON_FINITE_NUMBER"
  | "E_UNSUPPORTED_VALUE"
  | "E_CYCLIC_VALUE"
  | "E_TOO_DEEP"
  | "E_INVALID_TIMESTAMP"
  | "E_INVALID_RESPONSE_ID"
  | "E_INVALID_CUSTOMER_KEY"
  | "E_INVALID_CONTEXT"
  | "E_RECORD_TOO_LARGE"
  | "E_BATCH_TOO_LARGE"
  | "E_INVALID_BATCH"
  | "E_INVALID_RECORD"
  | "E_INVALID_OPTION"
  | "E_MISSING_API_KEY"
  | "E_QUEUE_FULL"
  | "E_TRACKER_CLOSED"
  | "E_REENTRANT"
  | "E_UNSUPPORTED_DELIVERY_TYPE"
  /**
   * Reading a value threw (a getter that throws, a revoked Proxy such as an Immer draft after `produce`); the
   * message names where (`usage.a[0]: reading it threw: ...`). Inside `trackBatch` it comes as
   * `E_INVALID_RECORD` naming the index, like every error of one record.
   */
  | "E_UNREADABLE_VALUE";

/**
 * What the library throws: a plain `Error` whose `name` is `"AicmError"` and whose `code` says what went wrong.
 * There is no class to test with `instanceof`; test `err.name === "AicmError"` and switch on `err.code`.
 * These are programming or input errors: retrying the same call fails the same way.
 */
export interface AicmError extends Error {
  name: "AicmError";
  code: AicmErrorCode;
}

/**
 * Where a tracker hands its records instead of POSTing them to `/track`: a Cloudflare Queue (`queueSink`), a
 * Durable Object outbox (`durableObjectSink`), or your own object. Whoever drains the sink holds the API key
 * and delivers (the queue consumer, the Durable Object), so a tracker with a sink needs no `apiKey`.
 */
export interface TrackerSink {
  /** A short name for messages, e.g. "cloudflare-queue" (1 to 64 printable ASCII characters). Default "sink". */
  readonly kind?: string;
  /**
   * Takes records: each string is one record's JSON text exactly as it would be in a `/track` body
   * (`{"service_key":…,"response_id":…,…}`), in order. Resolve (to anything) once every record is taken
   * durably; throw or reject when none is (the records are retried like after a network error: backoff,
   * `maxAttempts`; `error.code` "E_SINK", `error.cause` what you threw). Called with the sink as `this`,
   * raced against `timeoutMs` (past it: `E_TIMEOUT`, and `"unknown"` once attempts run out: you may hold them).
   */
  send(records: string[]): Promise<unknown>;
  /** Optional: largest record text you take, in UTF-8 bytes; the tracker's `maxRecordBytes` becomes the smaller. */
  readonly maxRecordBytes?: number;
  /** Optional: most records per `send`; the tracker's `maxBatchSize` becomes the smaller. */
  readonly maxBatchSize?: number;
  /** Optional: most bytes per `send` (the texts plus one byte per record); `maxBatchBytes` becomes the smaller. */
  readonly maxBatchBytes?: number;
}

/** How records are delivered: at once (`track` resolves to the result), or through an outbox in a store. */
export type DeliveryType = "immediate" | "persistent_queue";

/** Options of `new Tracker(options)`. Invalid values throw `E_INVALID_OPTION` from the constructor. */
export interface TrackerOptions<D extends DeliveryType = "immediate"> {
  /** The AICostManager API key, sent as `Authorization: Bearer <apiKey>`. Required unless `proxy` is true or a `sink` is given (else `E_MISSING_API_KEY`). */
  apiKey?: string;
  /** `apiBase` is your own proxy that adds the key: no `Authorization` header is sent unless `apiKey` is also given. Default false. */
  proxy?: boolean;
  /** Default "https://aicostmanager.com". Requests go to `apiBase + apiUrl + "/track"`. */
  apiBase?: string;
  /** Default "/api/v1". */
  apiUrl?: string;
  /**
   * "immediate" (default): each `track` sends at once and resolves to the result. "persistent_queue": `track` puts
   * the record in an outbox kept in `store` and returns `{ responseId }` at once; `flush()` delivers. Anything else
   * throws `E_UNSUPPORTED_DELIVERY_TYPE`.
   */
  deliveryType?: D;
  /**
   * Persistent queue only: where the outbox lives (`memoryStore()`, `indexedDbStore()`, `kvStore(env.KV)` or your
   * own object with put/list/delete). Default: memory inside the tracker (`durability: "memory"`).
   */
  store?: D extends "persistent_queue" ? OutboxStore : never;
  /**
   * Persistent queue only: most records held, queued, in flight AND dead-lettered together; a new record past it
   * throws `E_QUEUE_FULL` (flush, requeue or purge dead letters). Nothing held is ever dropped: requeueing never
   * needs room, and a larger backlog found in the store is adopted whole (new records wait until it shrinks).
   * Default 10000.
   */
  maxQueueSize?: number;
  /** Persistent queue only: most bytes of records held (queued, in flight and dead letters), as `maxQueueSize`. Default 16777216. */
  maxQueueBytes?: number;
  /** Persistent queue only: a record older than this is dead-lettered at its next failure. Default 7 days. */
  maxAgeMs?: number;
  /** Customer key attached to every record unless a call overrides it; null = none. */
  customerKey?: string | null;
  /** Context object attached to every record unless a call overrides it; null = none. */
  context?: { [key: string]: JsonValue } | null;
  /** Key names, matched at any depth of the usage object (never context or keys), whose values are anonymized before sending. */
  anonymizeFields?: string[];
  /** Anonymizer for `anonymizeFields`; null or absent = the default (strings → "[REDACTED]"). */
  anonymizer?: Anonymizer | null;
  /**
   * Timeout of one HTTP attempt in milliseconds, and of one store call (`put`, `list`, `delete`; at least 1000 ms
   * there: past it the call counts as failed and its records are written again later). Default 10000.
   */
  timeoutMs?: number;
  /**
   * HTTP attempts per record, 1..=10. Default 3 (immediate); persistent queue: no limit by default (attempts spread
   * over flushes, the retry time stored with the record so a tracker in a new isolate or page keeps the backoff;
   * an outage of any length dead-letters nothing, only `maxAgeMs` does), or this many when set.
   */
  maxAttempts?: number;
  /**
   * Base of the exponential backoff, window w = min(retryMaxDelayMs, base * 2^(n-1)): immediate waits random(0, w)
   * (full jitter), the persistent queue random(w/2, w) so that attempts are at least half a window apart.
   * Default 500 (immediate) or 2000 (persistent queue).
   */
  retryBaseDelayMs?: number;
  /** Upper bound of one backoff delay. Default 30000 (immediate) or 300000 (persistent queue). */
  retryMaxDelayMs?: number;
  /** A longer `Retry-After` from the server is capped to this. Default 60000. */
  maxRetryAfterMs?: number;
  /** Records per request, 1..=1000. Default 1000. */
  maxBatchSize?: number;
  /**
   * Largest encoded record; a larger one throws `E_RECORD_TOO_LARGE`. Default 1048576. The usage and the context
   * as given (before anonymization) must each fit too: they are measured as they are read, so a huge array or
   * string is refused without being copied.
   */
  maxRecordBytes?: number;
  /** Largest request body; batches are split to stay under it (unless one record alone is larger). Default 4194304. */
  maxBatchBytes?: number;
  /** The fetch to send requests with. Default `globalThis.fetch`. Useful for tests, proxies and custom agents. */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
  /**
   * Hand records to this sink instead of POSTing them (see `TrackerSink`): immediate `track` resolves
   * `"queued"` once the sink took the record; a persistent queue's `flush()` hands due records over. With a
   * sink, `apiKey`, `proxy`, `apiBase`, `apiUrl` and `fetch` are refused (`E_INVALID_OPTION`): the sink's
   * consumer holds the key and the endpoint. The sink's limits apply on top of the tracker's (the smaller wins).
   */
  sink?: TrackerSink;
}

/** Per-call options of `track`. */
export interface TrackOptions {
  /** Idempotency id of the record. Default: 32 lowercase hex chars (a uuid4 without dashes). Invalid: `E_INVALID_RESPONSE_ID`. */
  responseId?: string;
  /** When the usage happened. Default: now. */
  timestamp?: TimestampInput;
  /** Overrides the tracker's customer key for this record; null = send none. */
  customerKey?: string | null;
  /** Overrides the tracker's context for this record; null = send none. */
  context?: { [key: string]: JsonValue } | null;
  /** Added to the tracker's `anonymizeFields` for this record (union). */
  anonymizeFields?: string[];
  /** Replaces the tracker's anonymizer for this record. */
  anonymizer?: Anonymizer;
}

/** One record of `trackBatch`. */
export interface BatchRecord {
  /** The AICostManager service key, e.g. "openai::gpt-4o-mini". */
  serviceKey: string;
  /** The usage object as the provider reported it (token counts and so on). */
  usage: { [key: string]: JsonValue };
  responseId?: string;
  timestamp?: TimestampInput;
  customerKey?: string | null;
  context?: { [key: string]: JsonValue } | null;
}

/** Per-call options of `trackBatch`, applied to every record. */
export interface BatchOptions {
  /** Added to the tracker's `anonymizeFields` (union). */
  anonymizeFields?: string[];
  /** Replaces the tracker's anonymizer for this call. */
  anonymizer?: Anonymizer;
}

/**
 * The server's statuses; "failed" when the server certainly did not accept the record (it refused every attempt, or
 * the connection never opened); "unknown" when the attempts ran out after one that may have reached the server
 * without a definitive answer (a timeout, a connection lost mid-request, a 2xx without a readable result for it):
 * the service may hold it. Retry either with the same `responseId` only (the service deduplicates on it).
 */
export type TrackStatus = "queued" | "completed" | "service_key_unknown" | "error" | "failed" | "unknown";

/** Why a record was not delivered (or what the server reported as its error). */
export interface DeliveryFailure {
  /**
   * Stable code: `E_NETWORK` (no response), `E_TIMEOUT` (no response within `timeoutMs`), `E_HTTP_STATUS` (a status that
   * is not retried, or retries exhausted), `E_TOO_LARGE` (413 for this record alone), `E_INVALID_RESPONSE` (a 2xx that is
   * not a /track reply: not retried), `E_MISSING_RESULT` (the reply has no result for this record), `E_REJECTED` (the
   * server refused this record: see `errors`), `E_SINK` (the tracker's sink threw or rejected: its message names
   * the sink's kind and the reason).
   */
  code: "E_NETWORK" | "E_TIMEOUT" | "E_HTTP_STATUS" | "E_TOO_LARGE" | "E_INVALID_RESPONSE" | "E_MISSING_RESULT" | "E_REJECTED" | "E_SINK";
  /**
   * What went wrong, in words; for `E_NETWORK` it names the URL (without credentials or query string) and the
   * reason, `cause` chain included (`... TypeError: fetch failed (cause: Error: connect ECONNREFUSED ...)`).
   */
  message: string;
  /** The HTTP status for `E_HTTP_STATUS` and `E_TOO_LARGE`; null for the other codes. */
  httpStatus: number | null;
  /** `E_NETWORK`: what `fetch` threw or rejected with (Node: a `TypeError` whose `cause.code` is e.g. "ECONNREFUSED"); `E_SINK`: what the sink's `send` threw or rejected with. */
  cause?: unknown;
}

/** The outcome of one record. */
export interface TrackResult {
  responseId: string;
  status: TrackStatus;
  /** The server's per-record errors (may be empty). */
  errors: string[];
  costEvents: JsonValue[] | null;
  /** Set when `status` is "failed", "unknown" or "error". Never contains the API key (redacted as "[redacted]"). */
  error: DeliveryFailure | null;
  /** HTTP attempts made for this record. */
  attempts: number;
}

/** The outcome of `track`: the record's result plus the limits the server reported as triggered. */
export interface TrackOutcome extends TrackResult {
  triggeredLimits: { [key: string]: JsonValue } | null;
}

/** The outcome of `trackBatch`: one result per input record, in input order. */
export interface BatchOutcome {
  results: TrackResult[];
  triggeredLimits: { [key: string]: JsonValue } | null;
}

/** What persistent-queue `track` returns at once: the record is in the outbox. */
export interface Queued {
  responseId: string;
}

/** What persistent-queue `trackBatch` returns at once. */
export interface QueuedBatch {
  responseIds: string[];
}

/** What `flush()` (and `close()`) resolve to. */
export interface FlushReport {
  /** Records the service accepted during this flush. */
  sent: number;
  /** Records moved to the dead letters during this flush (see `deadLetters()`). */
  deadLettered: number;
  /** Records that failed and wait for a later flush (backoff or Retry-After past the deadline). */
  retryLater: number;
  /** Records still in the outbox after this flush. */
  remaining: number;
  /** Where the outbox lives: "persistent", "memory" (lost with the isolate or page), or "none" (immediate mode). */
  durability: string;
}

/** `stats()`: the outbox right now. */
export interface QueueStats {
  queued: number;
  inFlight: number;
  /** Delivered since the tracker was created. */
  sent: number;
  deadLettered: number;
  /** Always 0: nothing tracked is ever dropped. */
  dropped: number;
  /** Bytes of records queued or in flight. */
  bytes: number;
  /** Bytes of the dead letters' records (`bytes + deadBytes` is what `maxQueueBytes` bounds). */
  deadBytes: number;
  /** Records whose store write has not succeeded yet (lost if the runtime dies now). */
  unsaved: number;
  /** Store entries under this tracker's namespace it could not read (left untouched). */
  unreadable: number;
  /** `track` calls with a `responseId` already queued, in flight or dead-lettered (kept once). */
  duplicates: number;
  durability: string;
  /**
   * Why the last store call failed (it threw, rejected, timed out after `timeoutMs`, or answered with something
   * unreadable), with the store's own reason (`store.put rejected: Error: disk full [EIO]`); null once a call works.
   */
  storeError: string | null;
  /**
   * When something is next due to be sent (epoch ms; in the past means now): the earliest due record, never before
   * a retry pause (backoff or the server's Retry-After), no later than the lease of a batch in flight. null when
   * nothing is queued or in flight (absent in immediate mode). `AicmOutbox` sets its alarm to it.
   */
  nextDueAt?: number | null;
}

/** A record that will not be delivered unless requeued: refused by the service, or out of attempts or time. */
export interface DeadLetter {
  responseId: string;
  /** Why, in words; the API key is redacted from it (and from `errors`) before it is kept or stored. */
  reason: string;
  /** The HTTP status that decided it, or null (network, timeout, per-record error in a 2xx). */
  status: number | null;
  /** The service's messages for this record. */
  errors: string[];
  attempts: number;
  /** Epoch milliseconds. */
  createdAt: number;
  deadLetteredAt: number;
  /** The record as it would be sent. */
  record: { [key: string]: JsonValue };
}

/**
 * Sends usage records to AICostManager's `/track` endpoint.
 *
 * @example
 * const tracker = new Tracker({ apiKey: env.AICM_API_KEY });
 * const outcome = await tracker.track("openai::gpt-4o-mini", { prompt_tokens: 12, completion_tokens: 30 });
 * if (outcome.status === "failed" || outcome.status === "unknown") console.warn(outcome.error);
 */
export class Tracker<D extends DeliveryType = "immediate"> {
  /**
   * Checks the options and creates a tracker; sends and stores nothing.
   * @throws {AicmError} `E_MISSING_API_KEY` without `apiKey` (unless `proxy`), `E_INVALID_OPTION` for an out-of-range
   *   or mistyped option, `E_UNSUPPORTED_DELIVERY_TYPE` for an unknown delivery type.
   */
  constructor(options?: TrackerOptions<D>);

  /**
   * Builds, anonymizes and sends one record. Validation errors THROW synchronously (nothing is sent):
   * `E_INVALID_SERVICE_KEY`, `E_INVALID_USAGE`, `E_NON_FINITE_NUMBER`, `E_UNSUPPORTED_VALUE`, `E_CYCLIC_VALUE`,
   * `E_TOO_DEEP`, `E_INVALID_TIMESTAMP`, `E_INVALID_RESPONSE_ID`, `E_INVALID_CUSTOMER_KEY`, `E_INVALID_CONTEXT`,
   * `E_RECORD_TOO_LARGE`, `E_UNREADABLE_VALUE` (a getter threw, a revoked Proxy), `E_TRACKER_CLOSED`. Delivery
   * failures (network, timeout, HTTP errors after the retries) do not reject: the promise RESOLVES with
   * `status: "failed"` (or `"unknown"` when an attempt may have reached the server: a timeout or a connection lost
   * mid-request) and `error` set.
   * Persistent queue: returns `{ responseId }` at once, the record in the outbox (its store write starts in this
   * tick); throws `E_QUEUE_FULL` when the outbox is full.
   */
  track(
    serviceKey: string,
    usage: { [key: string]: JsonValue },
    options?: TrackOptions,
  ): D extends "persistent_queue" ? Queued : Promise<TrackOutcome>;

  /**
   * Sends many records in requests of at most `maxBatchSize` records and `maxBatchBytes` bytes; results come in
   * input order. Throws `E_BATCH_TOO_LARGE` over 10000 records or 64 MiB encoded per call, and `E_INVALID_RECORD` (its message names
   * the index) when any record is invalid, in which case none is sent. Delivery failures resolve as in `track`.
   */
  trackBatch(
    records: BatchRecord[],
    options?: BatchOptions,
  ): D extends "persistent_queue" ? QueuedBatch : Promise<BatchOutcome>;

  /**
   * Delivers what is due, for at most `deadlineMs` (default 20000), and resolves to a report; never rejects. Two
   * calls at once share one drain, each resolving by its own deadline. Workers: `ctx.waitUntil(tracker.flush())`; Next.js: `after(() => tracker.flush())`;
   * browsers: on `pagehide` with `{ keepalive: true }`, which shares no drain: before it returns it starts one
   * `keepalive` request (at most 60 KiB) with the due records held in memory that no running drain has in flight,
   * and one store write of them with a lease (the HTTP timeout + 5 s), waiting for no lock, store read or drain: a
   * page that is going away runs no more code after that. The next page does not send those records before the
   * lease ends (after it, it does: the service keeps one per `responseId`). It resolves, if the page lives to see
   * the reply, to what that request delivered. In immediate mode it waits for the deliveries in flight.
   * Resolves by `deadlineMs` plus 0.5 s whatever the store does: the drain lock is waited for until the deadline
   * only (records left are reported as `remaining`), store calls are cut at the deadline plus 0.5 s, and a failed
   * store write or delete is retried (up to 5 times) in that time once sending is over.
   * @throws {AicmError} `E_INVALID_OPTION` for a `deadlineMs` that is not a number from 0 to 600000.
   */
  flush(options?: { deadlineMs?: number; keepalive?: boolean }): Promise<FlushReport>;

  /** The outbox right now (all zeros but `inFlight` in immediate mode). */
  stats(): QueueStats;

  /** The dead letters, oldest first (always empty in immediate mode). */
  deadLetters(): Promise<DeadLetter[]>;

  /**
   * Puts dead letters (all, or those listed) back in the queue, due now with their attempts reset; resolves to how
   * many. Dead letters already count against `maxQueueSize`/`maxQueueBytes`, so this never exceeds the bounds and
   * never refuses.
   */
  requeueDeadLetters(responseIds?: string[]): Promise<number>;

  /**
   * Persistent queue: takes record JSON texts another tracker built (what a `sink`'s `send(records)` is handed,
   * e.g. in a Durable Object or a queue consumer) into this outbox, all or none, and resolves once the store writes
   * they caused were answered: `added` new records, `duplicates` (a `response_id` already held, kept once),
   * `unsaved` (records of the whole outbox whose store write failed; 0 = all in the store). Each text must be a JSON
   * object with a non-empty `service_key` and a valid `response_id`, at most `maxRecordBytes`.
   * Rejects (taking nothing) with `E_INVALID_RECORD` (naming the index), `E_INVALID_BATCH` (not an array),
   * `E_BATCH_TOO_LARGE` (over 10000), `E_QUEUE_FULL`, `E_INVALID_OPTION` (an immediate tracker), `E_TRACKER_CLOSED`.
   */
  enqueueRecords(records: string[]): Promise<{ added: number; duplicates: number; unsaved: number }>;

  /** Deletes dead letters (all, or those listed) for good; resolves to how many. */
  purgeDeadLetters(responseIds?: string[]): Promise<number>;

  /** Sets the customer key of later records; null = none. Throws `E_INVALID_CUSTOMER_KEY` for an invalid key. */
  setCustomerKey(key: string | null): void;

  /** Sets the context of later records; null = none. Throws `E_INVALID_CONTEXT` for a value JSON cannot carry. */
  setContext(context: { [key: string]: JsonValue } | null): void;

  /** Replaces the set of field names anonymized in later records. */
  setAnonymizeFields(fields: string[]): void;

  /** Sets the anonymizer of later records; null = the default anonymizer. */
  setAnonymizer(fn: Anonymizer | null): void;

  /**
   * Closes the tracker (later `track`/`trackBatch` calls throw `E_TRACKER_CLOSED`), then flushes the outbox or waits
   * for the deliveries in flight, and resolves to the flush report. In a Worker: `ctx.waitUntil(tracker.close())`.
   */
  close(): Promise<FlushReport>;

  /** Frees the wasm memory behind this object at once (otherwise the garbage collector does). Call after `close()`. */
  free(): void;
}

/**
 * Resolves once the wasm is instantiated. The node, workerd and edge-light entries instantiate synchronously at
 * import, and the browser/default entry awaits it at top level, so it is already resolved when your import
 * finishes; awaiting it is never needed but always safe.
 */
export const ready: Promise<void>;

/** The package version, e.g. "0.1.0". */
export const version: string;
