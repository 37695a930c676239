// A Cloudflare Worker that forwards chat requests to an OpenAI-compatible LLM and reports each answer's token
// usage to AICostManager with aicostmanager-edge, through an outbox in Workers KV that loses nothing when
// AICostManager is unreachable.
//
//   POST /chat     body: an OpenAI chat.completions request ({ model, messages, ... }); header x-customer-key
//                  (optional) names the customer to bill. Answers with the LLM's response, unchanged.
//   GET  /health   { ok: true }
//   cron           (scheduled) delivers what waits in KV, for quiet hours with no chats to do it
//
// Env: AICM_API_KEY (secret), AICM_API_BASE, LLM_BASE_URL (vars in wrangler.toml), LLM_API_KEY (secret, optional),
// AICM_QUEUE (a KV namespace binding: the outbox).
//
// Workers rules this file follows: nothing happens at module scope (no timers, randomness or I/O outside a
// request), a Tracker is created per request (no state shared across requests), and usage is delivered under
// ctx.waitUntil, so the user gets the answer without waiting for AICostManager.
import { Tracker, kvStore } from 'aicostmanager-edge';

/**
 * Queue options for a Worker. Each request's flush reads the whole KV outbox, so in a Worker retries come with
 * traffic (and the cron): a later request tries again what is due. The retry time of every record is kept in KV
 * with it, so whichever isolate serves the next request honours the backoff its predecessors computed: a
 * record's attempts are spent at the backoff's pace, not one per request. Hence:
 * - no retry inside one request: the first backoff (6 to 12 s) is longer than a chat's flush deadline, so a
 *   failed batch ends the flush at once (reported as `retryLater`) instead of sleeping inside waitUntil;
 * - 10 attempts from 12 s up to 5 min apart (the library's 5 min cap): an outage of about 15 minutes at least
 *   dead-letters nothing. What still runs out of attempts is not lost: it waits in KV as a dead letter and is
 *   put back in the queue once AICostManager accepts records again (see redeliverOutageDeadLetters);
 * - once AICostManager accepts a record again, the records waiting for their retry time go out at once in the
 *   same flush (the library ends the retry pause on a success), so the first request after an outage delivers
 *   the backlog.
 */
const QUEUE_OPTIONS = {
  deliveryType: 'persistent_queue',
  maxAttempts: 10,
  retryBaseDelayMs: 12_000,
};
/** How long one chat's flush may take; Workers cut waitUntil work 30 s after the response. */
const FLUSH_DEADLINE_MS = 5_000;
/** The cron's flush may wait for the retry time of what is waiting (at most one first backoff, 12 s). */
const CRON_FLUSH_DEADLINE_MS = 20_000;

const CUSTOMER_HEADER = 'x-customer-key';

export default {
  async fetch(request, env, ctx) {
    const { pathname } = new URL(request.url);
    if (pathname === '/health') {
      return request.method === 'GET' ? Response.json({ ok: true }) : methodNotAllowed('GET');
    }
    if (pathname === '/chat') {
      return request.method === 'POST' ? chat(request, env, ctx) : methodNotAllowed('POST');
    }
    return Response.json({ error: 'not found' }, { status: 404 });
  },

  /** Cron trigger ([triggers] in wrangler.toml): delivers what earlier requests left in KV, even without traffic. */
  async scheduled(controller, env, ctx) {
    const tracker = newTracker(env, {});
    if (tracker) ctx.waitUntil(deliver(tracker, 'cron', CRON_FLUSH_DEADLINE_MS));
  },
};

/** Forwards the chat request to the LLM, schedules the usage report and returns the LLM's answer as it came. */
async function chat(request, env, ctx) {
  const requestText = await request.text();
  let requestedModel;
  try {
    requestedModel = JSON.parse(requestText).model;
  } catch {
    return Response.json({ error: 'the body must be a JSON chat completion request' }, { status: 400 });
  }

  const headers = { 'content-type': 'application/json' };
  if (env.LLM_API_KEY) headers.authorization = `Bearer ${env.LLM_API_KEY}`;
  let llm;
  let answerText;
  try {
    llm = await fetch(`${String(env.LLM_BASE_URL).replace(/\/+$/, '')}/v1/chat/completions`, {
      method: 'POST',
      headers,
      body: requestText,
    });
    answerText = await llm.text();
  } catch (err) {
    console.error(`LLM unreachable: ${err}`);
    return Response.json({ error: 'the LLM could not be reached' }, { status: 502 });
  }
  const answer = new Response(answerText, {
    status: llm.status,
    headers: { 'content-type': llm.headers.get('content-type') ?? 'application/json' },
  });
  if (!llm.ok) return answer; // nothing was generated, nothing to bill

  let completion;
  try {
    completion = JSON.parse(answerText);
  } catch {
    console.warn('usage not tracked: the LLM answer is not JSON');
    return answer;
  }
  const model = typeof completion.model === 'string' ? completion.model : requestedModel;
  trackUsage(env, ctx, {
    serviceKey: `openai::${model}`,
    usage: completion.usage,
    responseId: completion.id,
    customerKey: request.headers.get(CUSTOMER_HEADER) || null, // absent or empty: the record carries no customer_key
    route: '/chat',
  });
  return answer;
}

/**
 * Queues one usage record in the KV outbox and schedules delivery after the response (ctx.waitUntil). Never
 * throws: tracking must not cost the user their answer. Invalid input makes the library throw synchronously an
 * AicmError with a stable `code` (nothing is queued); records that cannot be delivered now (AICostManager down)
 * stay in KV and go out with a later request's flush.
 */
function trackUsage(env, ctx, { serviceKey, usage, responseId, customerKey, route }) {
  const tracker = newTracker(env, { customerKey, context: { route } });
  if (!tracker) return;
  try {
    tracker.track(serviceKey, usage, { responseId }); // sync: the KV write starts now, nothing waits for the network
  } catch (err) {
    explainTrackingError(err); // and still flush below: earlier requests may have left records in KV
  }
  ctx.waitUntil(deliver(tracker, `usage ${responseId}`));
}

/** A queue tracker over the KV outbox, or null (logged) when the Worker is not configured for tracking. */
function newTracker(env, { customerKey = null, context = null }) {
  try {
    return new Tracker({
      ...QUEUE_OPTIONS,
      apiKey: env.AICM_API_KEY,
      apiBase: env.AICM_API_BASE,
      store: kvStore(env.AICM_QUEUE),
      customerKey,
      context,
    });
  } catch (err) {
    explainTrackingError(err);
    return null;
  }
}

/**
 * Delivers what waits in the KV outbox (this request's record and whatever earlier requests left), then logs what
 * could not go out yet. Resolves, never rejects.
 */
async function deliver(tracker, what, deadlineMs = FLUSH_DEADLINE_MS) {
  try {
    let report = await tracker.flush({ deadlineMs });
    if (report.sent > 0 && (await redeliverOutageDeadLetters(tracker)) > 0) {
      const again = await tracker.flush({ deadlineMs });
      report = { ...again, sent: report.sent + again.sent, deadLettered: report.deadLettered + again.deadLettered };
    }
    if (report.retryLater || report.deadLettered || report.remaining) {
      console.warn(
        `aicm flush (${what}): ${report.sent} sent, ${report.retryLater} to retry later, ` +
          `${report.deadLettered} dead-lettered, ${report.remaining} waiting in KV`,
      );
    }
  } catch (err) {
    console.error(`aicm flush (${what}) crashed: ${err}`);
  }
}

/**
 * AICostManager accepts records again: puts back in the queue the dead letters that ran out of attempts while it
 * was unreachable (network errors, timeouts, 408, 429, 5xx), so an outage longer than `maxAttempts` requests
 * loses nothing. Records the service refused (4xx, per-record errors) stay dead letters: sending them again
 * would fail again. Resolves to how many were requeued.
 */
async function redeliverOutageDeadLetters(tracker) {
  const outage = (status) => status === null || status === 408 || status === 429 || status >= 500;
  const ids = (await tracker.deadLetters()).filter((d) => outage(d.status)).map((d) => d.responseId);
  return ids.length > 0 ? tracker.requeueDeadLetters(ids) : 0;
}

/** Logs why a record was not queued (the library's errors carry a stable `code`). */
function explainTrackingError(err) {
  if (err instanceof TypeError && /kvStore/.test(err.message)) {
    console.error('usage not tracked: bind a KV namespace as AICM_QUEUE ([[kv_namespaces]] in wrangler.toml)');
    return;
  }
  switch (err?.name === 'AicmError' ? err.code : undefined) {
    case 'E_MISSING_API_KEY':
      console.error('usage not tracked: set the AICM_API_KEY secret (wrangler secret put AICM_API_KEY)');
      break;
    case 'E_INVALID_USAGE':
    case 'E_NON_FINITE_NUMBER':
      console.warn(`usage not tracked: the LLM answer has no usable usage (${err.code}: ${err.message})`);
      break;
    case 'E_QUEUE_FULL':
      console.error(`usage not tracked: the KV outbox is full (${err.message})`);
      break;
    case undefined:
      console.error(`usage not tracked: unexpected error: ${err?.stack ?? err}`);
      break;
    default:
      console.warn(`usage not tracked: ${err.code}: ${err.message}`);
  }
}

function methodNotAllowed(allow) {
  return Response.json({ error: 'method not allowed' }, { status: 405, headers: { allow } });
}
