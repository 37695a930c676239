// Cloudflare Queues delivery, the recommended Workers setup: `queueSink(env.AICM_QUEUE)` is the Tracker's
// `sink` in the producer Worker; `handleQueueBatch(batch, env, options)` is the consumer Worker's `queue()`
// handler, `replayDeadLetters(batch, env, options)` the handler of a consumer attached to the dead-letter queue.
// Every decision (bodies, acks, retry delays, re-sends, dead letters, the pause) is the core's
// (src/core/delivery/queue_consumer); this file reads the user's batch defensively, does the fetches and the
// Queue calls, and reports. Nothing runs at import: the pause below is plain data, no timer, no randomness.
import { QueueConsumerSession } from '../wasm/aicostmanager_edge.js';

/** The isolate's pause (epoch ms): after a failed POST, batches arriving before then are retried unposted. */
let pausedUntilMs = 0;

/** Queues' limits for what a producer sends (developers.cloudflare.com/queues/platform/limits/). */
const MAX_RECORD_BYTES = 127_000;
const MAX_BATCH_SIZE = 100;
/** 256 KB per sendBatch minus ~100 B of metadata for each of up to 100 messages. */
const MAX_BATCH_BYTES = 246_000;

function codedError(Kind, code, message) {
  const error = new Kind(message);
  error.name = 'AicmError';
  error.code = code;
  return error;
}

function isQueue(binding) {
  try {
    return binding !== null && typeof binding === 'object' && typeof binding.send === 'function'
      && typeof binding.sendBatch === 'function';
  } catch {
    return false;
  }
}

/**
 * The Tracker's sink for a Cloudflare Queue producer binding: `new Tracker({ sink: queueSink(env.AICM_QUEUE) })`.
 * Each record goes out as one message whose body is the record's JSON text (`contentType: "text"`), in one
 * `sendBatch` per tracker send (at most 100 messages and 246,000 bytes, a record at most 127,000 bytes).
 * Throws a TypeError (code E_INVALID_OPTION) when `queue` is not a Queue binding.
 */
export function queueSink(queue) {
  if (!isQueue(queue)) {
    throw codedError(TypeError, 'E_INVALID_OPTION', 'queueSink(queue): queue must be a Cloudflare Queue producer binding (with send and sendBatch)');
  }
  return Object.freeze({
    kind: 'cloudflare-queue',
    maxRecordBytes: MAX_RECORD_BYTES,
    maxBatchSize: MAX_BATCH_SIZE,
    maxBatchBytes: MAX_BATCH_BYTES,
    send(records) {
      return queue.sendBatch(records.map((body) => ({ body, contentType: 'text' })));
    },
  });
}

function read(fn, fallback) {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

/** The messages of a batch as plain data plus the message objects, whatever the batch is (a hostile one included). */
function readMessages(batch) {
  let list;
  let length;
  try {
    list = batch.messages;
    length = list.length;
  } catch (err) {
    throw codedError(TypeError, 'E_QUEUE_BATCH', `batch.messages cannot be read: ${read(() => String(err?.message ?? err), 'unreadable')}`);
  }
  if (typeof length !== 'number' || !(length >= 0) || length > 10_000) {
    throw codedError(TypeError, 'E_QUEUE_BATCH', 'batch.messages is not a list of messages');
  }
  const out = [];
  for (let i = 0; i < length; i += 1) {
    const msg = read(() => list[i], undefined);
    let body;
    let kind = 'unreadable';
    try {
      const b = msg.body;
      kind = typeof b === 'string' ? 'string' : (b === null ? 'null' : (b instanceof ArrayBuffer ? 'ArrayBuffer' : typeof b));
      if (typeof b === 'string') body = b;
    } catch {
      kind = 'unreadable';
    }
    const attempts = read(() => Number(msg.attempts), 1);
    const timestamp = read(() => { const t = msg.timestamp; return t instanceof Date ? t.getTime() : Number(t); }, NaN);
    const id = read(() => String(msg.id), String(i));
    out.push({ msg, id, body, kind, attempts: Number.isFinite(attempts) ? attempts : 1, timestamp: Number.isFinite(timestamp) ? timestamp : Date.now() });
  }
  return out;
}

function describe(err) {
  return read(() => (err && typeof err.message === 'string' ? err.message : String(err)), 'unreadable error');
}

async function post(fetchFn, url, apiKey, body, timeoutMs) {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; controller.abort(); }, timeoutMs);
  try {
    const response = await fetchFn(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      body,
      signal: controller.signal,
    });
    const status = Number(response.status);
    const retryAfter = read(() => response.headers.get('retry-after') ?? undefined, undefined);
    const text = await response.text();
    return { status, retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined, text: String(text) };
  } catch (err) {
    return timedOut ? { timeout: true } : { network: describe(err) };
  } finally {
    clearTimeout(timer);
  }
}

async function sendGroups(queue, items, toMessage) {
  const failed = new Set();
  const groups = new Map();
  for (const item of items) {
    if (!groups.has(item.action.group)) groups.set(item.action.group, []);
    groups.get(item.action.group).push(item);
  }
  for (const group of groups.values()) {
    try {
      if (!queue) throw new Error('no queue binding');
      await queue.sendBatch(group.map(toMessage));
    } catch {
      for (const item of group) failed.add(item);
    }
  }
  return failed;
}

async function settle(entry, call, report) {
  try {
    await call(entry.msg);
  } catch (err) {
    report.errors.push({ id: entry.id, code: 'E_QUEUE_CALL', message: describe(err) });
  }
}

async function run(batch, env, options, replay) {
  const opts = options ?? {};
  const e = env ?? {};
  const apiKey = opts.apiKey ?? read(() => e.AICM_API_KEY, undefined);
  if (!replay && (typeof apiKey !== 'string' || apiKey === '')) {
    throw codedError(TypeError, 'E_MISSING_API_KEY', 'apiKey: pass { apiKey } or bind the secret AICM_API_KEY');
  }
  const apiBase = opts.apiBase ?? read(() => e.AICM_API_BASE, undefined);
  const fetchFn = opts.fetch ?? globalThis.fetch;
  const queue = opts.queue ?? read(() => e.AICM_QUEUE, undefined);
  const dlq = opts.deadLetterQueue ?? read(() => e.AICM_DLQ, undefined);
  const num = (v) => (v === undefined ? undefined : Number(v));
  const session = new QueueConsumerSession(
    typeof apiBase === 'string' ? apiBase : undefined,
    num(opts.maxBatchSize), num(opts.maxBatchBytes), num(opts.maxRetries), num(opts.maxAgeMs), num(opts.timeoutMs),
    num(opts.retryBaseDelayMs), num(opts.retryMaxDelayMs), replay,
  );
  try {
    const entries = readMessages(batch);
    for (const m of entries) session.add(m.body, m.kind, m.attempts, m.timestamp);
    session.start(Date.now(), replay ? 0 : pausedUntilMs, Math.random());
    for (let body = session.nextBody(); body !== undefined; body = session.nextBody()) {
      const answer = await post(fetchFn, session.trackUrl, apiKey, body, session.timeoutMs);
      if (answer.timeout) session.settleTimeout(Date.now(), Math.random());
      else if (answer.network !== undefined) session.settleNetwork(answer.network, Date.now(), Math.random());
      else session.settleResponse(answer.status, answer.retryAfter, answer.text, Date.now(), Math.random());
    }
    if (!replay) pausedUntilMs = Math.max(pausedUntilMs, session.pausedUntilMs);
    const actions = JSON.parse(session.actionsJson());
    const report = { acked: 0, retried: 0, requeued: 0, deadLettered: 0, posts: session.posts, deadLetters: [], errors: [] };
    const requeues = [];
    const deads = [];
    entries.forEach((entry, i) => {
      const action = actions[i];
      if (action.a === 'requeue') requeues.push({ entry, action });
      else if (action.a === 'dead') deads.push({ entry, action });
    });
    const requeueFailed = await sendGroups(isQueue(queue) ? queue : undefined, requeues,
      ({ action }) => ({ body: action.body, contentType: 'text', delaySeconds: action.delaySeconds }));
    const deadFailed = await sendGroups(isQueue(dlq) ? dlq : undefined, deads, ({ action }) => ({ body: action.body, contentType: 'text' }));
    for (let i = 0; i < entries.length; i += 1) {
      const entry = entries[i];
      const action = actions[i];
      if (action.a === 'ack') {
        report.acked += 1;
        await settle(entry, (m) => m.ack(), report);
      } else if (action.a === 'retry') {
        report.retried += 1;
        await settle(entry, (m) => m.retry({ delaySeconds: action.delaySeconds }), report);
      } else if (action.a === 'requeue') {
        const item = requeues.find((r) => r.entry === entry);
        if (requeueFailed.has(item)) {
          report.retried += 1;
          await settle(entry, (m) => m.retry({ delaySeconds: action.delaySeconds }), report);
        } else {
          report.requeued += 1;
          await settle(entry, (m) => m.ack(), report);
        }
      } else {
        const item = deads.find((d) => d.entry === entry);
        const sent = !deadFailed.has(item);
        report.deadLettered += 1;
        report.deadLetters.push({ id: entry.id, code: action.code, status: action.status, errors: action.errors, sent });
        if (sent) await settle(entry, (m) => m.ack(), report);
        else await settle(entry, (m) => m.retry({ delaySeconds: action.keepSeconds }), report);
      }
    }
    return report;
  } finally {
    session.free();
  }
}

/**
 * The consumer Worker's `queue()` handler: `queue(batch, env) { return handleQueueBatch(batch, env); }`.
 * Posts the batch's records to /track and acks, retries, re-sends or dead-letters each message (see the README's
 * "Cloudflare Queues"). Resolves to `{ acked, retried, requeued, deadLettered, posts, deadLetters, errors }`; never
 * rejects for a delivery failure. Throws E_MISSING_API_KEY, E_INVALID_OPTION or E_QUEUE_BATCH (a batch whose
 * messages cannot be read at all: Queues then redelivers it).
 */
export function handleQueueBatch(batch, env, options) {
  return run(batch, env, options, false);
}

/**
 * The handler of a consumer attached to the dead-letter queue: sends each dead letter's record back to the
 * delivery queue (`options.queue`, default `env.AICM_QUEUE`) with its attempts reset, and acks it; posts nothing.
 * A message whose send fails, or that holds no record, stays in the dead-letter queue (retried, reported).
 * Resolves to the same report as handleQueueBatch (`requeued` = sent back).
 */
export function replayDeadLetters(batch, env, options) {
  return run(batch, env, { deadLetterQueue: null, ...(options ?? {}) }, true);
}
