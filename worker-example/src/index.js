// A Cloudflare Worker that forwards chat requests to an OpenAI-compatible LLM and reports each answer's token
// usage to AICostManager with aicostmanager-edge.
//
//   POST /chat     body: an OpenAI chat.completions request ({ model, messages, ... }); header x-customer-key
//                  (optional) names the customer to bill. Answers with the LLM's response, unchanged.
//   GET  /health   { ok: true }
//
// Env: AICM_API_KEY (secret), AICM_API_BASE, LLM_BASE_URL (vars in wrangler.toml), LLM_API_KEY (secret, optional).
//
// Workers rules this file follows: nothing happens at module scope (no timers, randomness or I/O outside a
// request), a Tracker is created per request (no state shared across requests), and usage is delivered under
// ctx.waitUntil, so the user gets the answer without waiting for AICostManager.
import { Tracker } from 'aicostmanager-edge';

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
 * Starts delivering one usage record after the response (ctx.waitUntil). Never throws: tracking must not cost the
 * user their answer. Invalid input makes the library throw synchronously an AicmError with a stable `code`
 * (nothing is sent); a delivery that fails after the retries resolves with status "failed" instead of throwing.
 */
function trackUsage(env, ctx, { serviceKey, usage, responseId, customerKey, route }) {
  try {
    const tracker = new Tracker({
      apiKey: env.AICM_API_KEY,
      apiBase: env.AICM_API_BASE,
      customerKey,
      context: { route },
    });
    const delivery = tracker.track(serviceKey, usage, { responseId }).then(
      (outcome) => {
        if (outcome.status === 'failed' || outcome.status === 'error') {
          const why = outcome.error ? `${outcome.error.code} (HTTP ${outcome.error.httpStatus ?? '-'})` : outcome.errors.join('; ');
          console.warn(`usage ${outcome.responseId} not delivered after ${outcome.attempts} attempt(s): ${why}`);
        }
      },
      (err) => console.error(`usage ${responseId} delivery crashed: ${err}`),
    );
    ctx.waitUntil(delivery);
  } catch (err) {
    if (err?.name !== 'AicmError') throw err;
    switch (err.code) {
      case 'E_MISSING_API_KEY':
        console.error('usage not tracked: set the AICM_API_KEY secret (wrangler secret put AICM_API_KEY)');
        break;
      case 'E_INVALID_USAGE':
      case 'E_NON_FINITE_NUMBER':
        console.warn(`usage not tracked: the LLM answer has no usable usage (${err.code}: ${err.message})`);
        break;
      default:
        console.warn(`usage not tracked: ${err.code}: ${err.message}`);
    }
  }
}

function methodNotAllowed(allow) {
  return Response.json({ error: 'method not allowed' }, { status: 405, headers: { allow } });
}
