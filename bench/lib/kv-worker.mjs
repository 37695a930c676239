// The Worker bench/queue-kv runs in workerd (bundled by tests/js/support-workerd/bundle.mjs). Every KV call
// goes through a counting wrapper of the real binding env.Q; the counts live at module scope (a plain object:
// no timers, randomness or I/O there) and are read and cleared over HTTP.
//
//   POST /package?n=N[&deadline=ms]  a Tracker (persistent_queue, store: kvStore(counted env.Q)) tracks N records, then
//                        ctx.waitUntil(tracker.flush())
//   POST /baseline?n=N   hand-written: ctx.waitUntil(put the N records as one JSON array under a fresh key with
//                        expirationTtl, POST them to the ingest, delete the key on 202)
//   GET  /counts         { get, put, delete, list, putValueBytes, putKeyBytes, getBytes, flushes, sent, remaining }
//   POST /reset          zeroes the counts
import { Tracker, kvStore } from 'aicostmanager-edge';

const TTL_SECONDS = 7 * 24 * 3600;
const fresh = () => ({ get: 0, put: 0, delete: 0, list: 0, putValueBytes: 0, putKeyBytes: 0, getBytes: 0, flushes: 0, sent: 0, remaining: 0, failures: 0, maxOps: 0 });
let counts = fresh();
const utf8 = new TextEncoder();
const bytes = (text) => (typeof text === 'string' ? utf8.encode(text).length : 0);

/** env.Q with every call counted (and the bytes of what is written and read). */
function counted(kv) {
  return {
    async get(key, ...rest) {
      counts.get += 1;
      const value = await kv.get(key, ...rest);
      counts.getBytes += bytes(value);
      return value;
    },
    async put(key, value, options) {
      counts.put += 1;
      counts.putValueBytes += bytes(value);
      counts.putKeyBytes += bytes(key);
      return kv.put(key, value, options);
    },
    async delete(key) {
      counts.delete += 1;
      return kv.delete(key);
    },
    async list(options) {
      counts.list += 1;
      return kv.list(options);
    },
  };
}

function usageOf(i) {
  const prompt = 100 + (i % 900);
  const completion = 20 + (i % 300);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

function sdkTimestamp() {
  const text = String(Date.now() / 1000);
  return text.includes('.') ? text : `${text}.0`;
}

async function packageRequest(env, ctx, n, deadlineMs) {
  const store = kvStore(counted(env.Q));
  const tracker = new Tracker({ apiKey: env.API_KEY, apiBase: env.INGEST_URL, deliveryType: 'persistent_queue', store });
  for (let i = 0; i < n; i += 1) tracker.track('openai::gpt-4o-mini', usageOf(i));
  ctx.waitUntil(
    tracker.flush(deadlineMs ? { deadlineMs } : undefined).then(
      (report) => {
        counts.maxOps = Math.max(counts.maxOps, store.backlog().operations);
        counts.flushes += 1;
        counts.sent += report.sent;
        counts.remaining += report.remaining;
      },
      () => {
        counts.flushes += 1;
        counts.failures += 1;
      },
    ),
  );
}

async function baselineRequest(env, ctx, n) {
  const kv = counted(env.Q);
  const tracked = Array.from({ length: n }, (_, i) => ({
    service_key: 'openai::gpt-4o-mini',
    response_id: crypto.randomUUID(),
    timestamp: sdkTimestamp(),
    payload: usageOf(i),
  }));
  const key = `baseline/q/${Date.now().toString(36)}-${crypto.randomUUID()}`;
  ctx.waitUntil(
    (async () => {
      await kv.put(key, JSON.stringify(tracked), { expirationTtl: TTL_SECONDS });
      const res = await fetch(`${env.INGEST_URL}/api/v1/track`, {
        method: 'POST',
        headers: { authorization: `Bearer ${env.API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ tracked }),
      });
      await res.text();
      if (res.status === 202) {
        await kv.delete(key);
        counts.sent += n;
      } else {
        counts.remaining += n;
      }
    })().then(
      () => {
        counts.flushes += 1;
      },
      () => {
        counts.flushes += 1;
        counts.failures += 1;
      },
    ),
  );
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const n = Number(url.searchParams.get('n') ?? '1');
    switch (url.pathname) {
      case '/package':
        await packageRequest(env, ctx, n, Number(url.searchParams.get('deadline') ?? '0'));
        return new Response('ok');
      case '/baseline':
        await baselineRequest(env, ctx, n);
        return new Response('ok');
      case '/counts':
        return Response.json(counts);
      case '/reset':
        counts = fresh();
        return new Response('ok');
      default:
        return new Response('not found', { status: 404 });
    }
  },
};
