// The three ways this Worker can deliver usage records, chosen by the AICM_DELIVERY var (each wrangler*.toml sets
// it): "queues" (the recommended setup), "durable-object" or "kv". README.md has the table of when to use which.
//
//   queues           the request hands its record to a Cloudflare Queue (queueSink); this Worker's queue()
//                    handler consumes it and posts batches to /track (handleQueueBatch), retrying with backoff
//                    through outages; what can never be delivered goes to the dead-letter queue with the reason.
//   durable-object   the request hands its record to the AicmOutbox Durable Object (durableObjectSink); the object
//                    keeps it in its storage and its alarm() delivers it, retrying through outages with no traffic.
//   kv               the request keeps its record in a Workers KV outbox (kvStore) and flushes it after the
//                    response; later requests and the cron retry what waits.
//
// Every choice builds one Tracker per request (nothing at module scope), and `deliver` never rejects.
import { Tracker, durableObjectSink, kvStore, queueSink } from 'aicostmanager-edge';

/** How long one request's flush may take; Workers cut waitUntil work 30 s after the response. */
export const FLUSH_DEADLINE_MS = 5_000;
/** The cron's flush (KV) may wait for the retry time of what is waiting. */
export const CRON_FLUSH_DEADLINE_MS = 20_000;

/**
 * Per delivery: `tracker(env, defaults)` builds the request's tracker (throws an AicmError or a TypeError when
 * the Worker is not configured for it), `where` names where records wait in log lines, `binding` says what to
 * bind when the binding is missing.
 */
export const DELIVERIES = {
  queues: {
    where: 'memory (not yet taken by the queue)',
    binding: 'bind the queue as AICM_QUEUE ([[queues.producers]] in wrangler.toml)',
    tracker: (env, defaults) => new Tracker({ ...SINK_OPTIONS, sink: queueSink(env.AICM_QUEUE), ...defaults }),
  },
  'durable-object': {
    where: 'memory (not yet taken by the Durable Object)',
    binding: 'bind AicmOutbox as AICM_OUTBOX ([[durable_objects.bindings]] in wrangler.durable-object.toml)',
    tracker: (env, defaults) =>
      new Tracker({ ...SINK_OPTIONS, sink: durableObjectSink(env.AICM_OUTBOX, { shard: env.AICM_OUTBOX_SHARD || 'default' }), ...defaults }),
  },
  kv: {
    where: 'KV',
    binding: 'bind a KV namespace as AICM_KV ([[kv_namespaces]] in wrangler.kv.toml)',
    tracker: (env, defaults) =>
      new Tracker({ ...KV_OPTIONS, apiKey: env.AICM_API_KEY, apiBase: env.AICM_API_BASE, store: kvStore(env.AICM_KV), ...defaults }),
  },
};

/**
 * KV: retries come with traffic (and the cron), at the backoff's pace: the retry time of every record is kept in
 * KV with it. No retry inside one request: the first backoff (6 to 12 s) is longer than a chat's flush deadline.
 * An outage of any length dead-letters nothing (the queue's default: only maxAgeMs, 7 days, ends the retries).
 */
const KV_OPTIONS = { deliveryType: 'persistent_queue', retryBaseDelayMs: 12_000 };

/**
 * A sink tracker: the record waits in memory only until the queue or the object took it, within this request's
 * flush (one hand-over per request; a refusal is retried once or twice inside the deadline, then logged).
 */
const SINK_OPTIONS = { deliveryType: 'persistent_queue', retryBaseDelayMs: 500, retryMaxDelayMs: 2_000 };

/** The delivery `env.AICM_DELIVERY` names (default "queues"); throws a TypeError naming the choices otherwise. */
export function deliveryOf(env) {
  const name = env.AICM_DELIVERY || 'queues';
  const delivery = DELIVERIES[name];
  if (!delivery) throw new TypeError(`AICM_DELIVERY must be one of ${Object.keys(DELIVERIES).join(', ')}, got ${JSON.stringify(name)}`);
  return { name, ...delivery };
}

/**
 * Flushes `tracker` (this request's record, and for KV whatever earlier requests left) and logs what could not
 * go out yet. Resolves, never rejects.
 */
export async function deliver(tracker, delivery, what, deadlineMs = FLUSH_DEADLINE_MS) {
  try {
    const report = await tracker.flush({ deadlineMs });
    if (report.retryLater || report.deadLettered || report.remaining) {
      console.warn(
        `aicm flush (${what}): ${report.sent} sent, ${report.retryLater} to retry later, ` +
          `${report.deadLettered} dead-lettered, ${report.remaining} waiting in ${delivery.where}`,
      );
    }
    return report;
  } catch (err) {
    console.error(`aicm flush (${what}) crashed: ${err}`);
    return null;
  }
}
