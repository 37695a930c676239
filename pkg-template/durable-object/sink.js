// The producer side of the Durable Object outbox: a Tracker `sink` that POSTs record texts to the object.
import { DEFAULT_SHARD, MAX_BATCH_BYTES, MAX_BATCH_SIZE, MAX_RECORD_BYTES, ORIGIN, ROUTE } from './limits.js';

const MAX_REASON_CHARS = 500;

function sinkError(message, cause) {
  const error = new Error(`durableObjectSink: ${message}`, cause === undefined ? undefined : { cause });
  error.name = 'AicmOutboxError';
  return error;
}

/**
 * A `TrackerSink` that hands records to the `AicmOutbox` Durable Object bound as `namespace` (e.g.
 * `env.AICM_OUTBOX`), in the object named `options.shard` (default "default"; one object per shard name).
 * `send(records)` is one `stub.fetch` POST carrying the record texts; it resolves once the object has them in its
 * storage (its 2xx reply leaves its output gate only once the writes are durable) and rejects with the object's
 * reason otherwise (a full outbox, a storage failure, a malformed record), so the tracker retries it.
 * A missing or broken binding is reported by `send` (the tracker reports E_SINK), never thrown here; only a
 * `shard` that is not a non-empty string throws a TypeError.
 *
 * @param {DurableObjectNamespace} namespace
 * @param {{ shard?: string }} [options]
 */
export function durableObjectSink(namespace, options = {}) {
  const shard = options?.shard ?? DEFAULT_SHARD;
  if (typeof shard !== 'string' || shard.length === 0) {
    throw new TypeError('durableObjectSink(namespace, { shard }): shard must be a non-empty string');
  }
  return {
    kind: 'durable-object',
    maxRecordBytes: MAX_RECORD_BYTES,
    maxBatchSize: MAX_BATCH_SIZE,
    maxBatchBytes: MAX_BATCH_BYTES,
    shard,
    async send(records) {
      if (namespace === null || typeof namespace !== 'object' && typeof namespace !== 'function') {
        throw sinkError(`the Durable Object binding is ${namespace === null ? 'null' : typeof namespace}: bind AicmOutbox ([[durable_objects.bindings]] in wrangler.toml)`);
      }
      const stub = namespace.get(namespace.idFromName(shard));
      const response = await stub.fetch(`${ORIGIN}${ROUTE}records`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(records),
      });
      const text = await response.text();
      if (!response.ok) {
        throw sinkError(`the outbox object answered ${response.status}: ${text.slice(0, MAX_REASON_CHARS)}`);
      }
      return text;
    },
  };
}

/**
 * Calls the `AicmOutbox` object of `shard` from a Worker: `stats()`, `deadLetters()`, `requeueDeadLetters(ids?)`,
 * `purgeDeadLetters(ids?)` and `flush()`, each one `stub.fetch` to the object's tracker call of the same name,
 * resolving to what that call resolves to. Rejects with the object's reason when it answers otherwise than 2xx.
 *
 * @param {DurableObjectNamespace} namespace
 * @param {{ shard?: string }} [options]
 */
export function durableObjectOutbox(namespace, options = {}) {
  const shard = options?.shard ?? DEFAULT_SHARD;
  if (typeof shard !== 'string' || shard.length === 0) {
    throw new TypeError('durableObjectOutbox(namespace, { shard }): shard must be a non-empty string');
  }
  const call = async (path, body) => {
    const stub = namespace.get(namespace.idFromName(shard));
    const init = body === undefined ? { method: 'GET' } : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
    const response = await stub.fetch(`${ORIGIN}${ROUTE}${path}`, init);
    const text = await response.text();
    if (!response.ok) throw sinkError(`the outbox object answered ${response.status} to ${path}: ${text.slice(0, MAX_REASON_CHARS)}`);
    return JSON.parse(text);
  };
  const selection = (ids) => (ids === undefined || ids === null ? {} : { ids });
  return {
    shard,
    stats: () => call('stats'),
    deadLetters: () => call('dead-letters'),
    requeueDeadLetters: (ids) => call('dead-letters/requeue', selection(ids)),
    purgeDeadLetters: (ids) => call('dead-letters/purge', selection(ids)),
    flush: () => call('flush', {}),
  };
}
