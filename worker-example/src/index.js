// A Cloudflare Worker that forwards chat requests to an OpenAI-compatible LLM and reports each answer's token
// usage to AICostManager with aicostmanager-edge, without making the user wait and without losing a record
// when AICostManager is unreachable. The delivery is chosen by configuration (src/delivery.js): a Cloudflare
// Queue (wrangler.toml, recommended), the AicmOutbox Durable Object (wrangler.durable-object.toml) or a Workers
// KV outbox (wrangler.kv.toml).
//
//   POST /chat     body: an OpenAI chat.completions request ({ model, messages, ... }); header x-customer-key
//                  (optional) names the customer to bill. Answers with the LLM's response, unchanged.
//   GET  /health   { ok: true, delivery }
//   queue          (Queues) consumes the usage queue: posts batches to /track; replays the dead-letter queue
//                  when this Worker is also its consumer (see README.md)
//   cron           (KV) delivers what waits in KV, for quiet hours with no chats to do it
//
// Env: AICM_DELIVERY ("queues" | "durable-object" | "kv"), AICM_API_KEY (secret; read by the consumer, the object
// or the KV tracker), AICM_API_BASE, LLM_BASE_URL, LLM_API_KEY (secret, optional), and the bindings of the
// delivery: AICM_QUEUE (+ AICM_DLQ), AICM_OUTBOX, or AICM_KV.
//
// Workers rules this file follows: nothing happens at module scope (no timers, randomness or I/O outside a
// request), a Tracker is created per request, and usage is delivered under ctx.waitUntil.
import { handleQueueBatch, replayDeadLetters } from 'aicostmanager-edge';

import { forwardChat } from './chat.js';
import { CRON_FLUSH_DEADLINE_MS, deliver, deliveryOf } from './delivery.js';
import { explainTrackingError } from './explain.js';

// The Durable Object class, bound as AICM_OUTBOX in wrangler.durable-object.toml (unused by the other setups).
export { AicmOutbox } from 'aicostmanager-edge';

export default {
  async fetch(request, env, ctx) {
    const { pathname } = new URL(request.url);
    if (pathname === '/health') {
      return request.method === 'GET' ? Response.json({ ok: true, delivery: env.AICM_DELIVERY || 'queues' }) : methodNotAllowed('GET');
    }
    if (pathname === '/chat') {
      if (request.method !== 'POST') return methodNotAllowed('POST');
      const { answer, usage } = await forwardChat(request, env);
      if (usage) trackUsage(env, ctx, usage);
      return answer;
    }
    return Response.json({ error: 'not found' }, { status: 404 });
  },

  /** Queues: the usage queue's consumer (and, when configured, the dead-letter queue's, to replay it). */
  async queue(batch, env) {
    if (env.AICM_DLQ_NAME && batch.queue === env.AICM_DLQ_NAME) {
      await replayDeadLetters(batch, env); // back to env.AICM_QUEUE, attempts reset
      return;
    }
    // maxRetries = the consumer's max_retries in wrangler.toml: a record is re-sent before Queues would dead-letter it.
    const report = await handleQueueBatch(batch, env, { maxRetries: Number(env.AICM_QUEUE_MAX_RETRIES || 100) });
    if (report.retried || report.deadLettered) console.warn(`aicm queue batch: ${JSON.stringify(report)}`);
  },

  /** KV: delivers what earlier requests left in KV, even without traffic ([triggers] in wrangler.kv.toml). */
  async scheduled(controller, env, ctx) {
    const delivery = newTracker(env, {});
    if (delivery) ctx.waitUntil(deliver(delivery.tracker, delivery, 'cron', CRON_FLUSH_DEADLINE_MS));
  },
};

/**
 * Tracks one usage record and schedules its delivery after the response (ctx.waitUntil). Never throws: tracking
 * must not cost the user their answer. Invalid input makes the library throw synchronously an AicmError with a
 * stable `code` (nothing is tracked).
 */
function trackUsage(env, ctx, { serviceKey, usage, responseId, customerKey }) {
  const delivery = newTracker(env, { customerKey, context: { route: '/chat' } });
  if (!delivery) return;
  try {
    delivery.tracker.track(serviceKey, usage, { responseId }); // sync: validated, anonymized, in the outbox
  } catch (err) {
    explainTrackingError(err, delivery); // and still flush below: for KV, earlier requests may have left records
  }
  ctx.waitUntil(deliver(delivery.tracker, delivery, `usage ${responseId}`));
}

/** `{ name, where, binding, tracker }` for this request, or null (logged) when the Worker is not configured for tracking. */
function newTracker(env, defaults) {
  let delivery;
  try {
    delivery = deliveryOf(env);
    return { ...delivery, tracker: delivery.tracker(env, defaults) };
  } catch (err) {
    explainTrackingError(err, delivery);
    return null;
  }
}

function methodNotAllowed(allow) {
  return Response.json({ error: 'method not allowed' }, { status: 405, headers: { allow } });
}
