// The public-API fuzz, the same in every runtime (Node: tests/js/fuzz-node.fuzz.mjs; workerd: fuzz-workerd.fuzz.mjs runs
// it inside a Worker). `runFuzz` makes `calls` hostile calls from `seed` on a pool of trackers of both delivery types
// (immediate with a canned fetch, the local ingest server, a refused port or a hostile fetch; persistent_queue with
// no store, memoryStore() or a hostile store), and checks, the oracle of issue 6:
//   1. every synchronous throw and every rejection is an AicmError (an Error named "AicmError" whose `code` is a
//      string starting with "E_"); flush/close/deadLetters/requeueDeadLetters/purgeDeadLetters never reject and
//      stats/deadLetters/close/free never throw (README's API table);
//   2. every returned promise settles within its limit: the flush deadline (default 20 s) or, for a delivery, the
//      tracker's attempts × (timeoutMs + the longest backoff), plus `marginMs`; calls with no documented deadline
//      (deadLetters, requeue, purge, close) get the default flush deadline;
//   3. after every call a healthy tracker still tracks (cheap: a persistent_queue track; sampled: the same tracker
//      tracks again; every `roundTripEvery` calls: a full round trip to the ingest server in both delivery types);
//   4. the wasm memory stays under `maxWasmBytes`;
//   5. nothing reaches the runtime as an uncaught exception or unhandled rejection (the caller reports those
//      through `recordUncaught`, as its handlers see them);
//   6. no WebAssembly.RuntimeError, ever (the first one stops the run: the instance is gone after it).
// Resolves to a plain-JSON summary: { seed, calls, callsRun, ops, failures: { class: { count, examples } },
// memory, realDeliveries, elapsedMs }. It never throws for a failure of the package: failures are data.

import { createBudget, createGen, h, lit, obj, Val } from './gen.mjs';
import { H } from './hostile.mjs';
import { createRng } from './prng.mjs';

const KEY = 'fuzz-key';
const DEFAULT_FLUSH_DEADLINE_MS = 20000;
const NEVER_REJECTS = new Set(['flush', 'close', 'deadLetters', 'requeueDeadLetters', 'purgeDeadLetters']);
const NEVER_THROWS = new Set(['stats', 'deadLetters', 'close', 'free']);
const RETURNS_PROMISE = new Set(['flush', 'close', 'deadLetters', 'requeueDeadLetters', 'purgeDeadLetters']);
const MAX_EXAMPLES = 4;
/** What a valid track({ n: 1 }) may still throw on a fuzzed tracker: full (small maxQueueSize), closed, or over a tiny maxRecordBytes. */
const SAME_TRACKER_CODES = ['E_QUEUE_FULL', 'E_TRACKER_CLOSED', 'E_RECORD_TOO_LARGE'];

/** true for an AicmError; never throws, whatever `e` is. */
export function isCoded(e) {
  try {
    return e instanceof Error && e.name === 'AicmError' && typeof e.code === 'string' && e.code.startsWith('E_');
  } catch {
    return false;
  }
}

function isTrap(e) {
  try {
    return e instanceof WebAssembly.RuntimeError;
  } catch {
    return false;
  }
}

function isStackOverflow(e) {
  try {
    return e instanceof RangeError && /call stack/i.test(e.message);
  } catch {
    return false;
  }
}

/** One line saying what `e` is, whatever it is (a hostile Proxy included). */
export function describe(e) {
  try {
    if (typeof e === 'symbol') return `the symbol ${String(e)}`;
    if (e === null || (typeof e !== 'object' && typeof e !== 'function')) return `the ${e === null ? 'value' : typeof e} ${String(e)}`;
    const name = e.name;
    const message = String(e.message).split('\n')[0].slice(0, 300);
    const code = e.code === undefined ? '' : ` [code ${String(e.code)}]`;
    const ctor = e instanceof Error ? '' : ' (not an Error)';
    return `${String(name)}: ${message}${code}${ctor}`;
  } catch {
    return 'an object whose properties cannot be read (hostile Proxy)';
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const SLOT_KINDS = [
  // [weight, kind]
  [22, 'imm-canned'],
  [10, 'imm-canned-perturbed'],
  [14, 'queue-nostore'],
  [14, 'queue-memory'],
  [18, 'queue-hostile-store'],
  [10, 'queue-hostile-store-perturbed'],
  [0.2, 'imm-ingest'],
  [0.2, 'imm-refused'],
  [1.5, 'imm-hostile-fetch'],
  [2, 'queue-hostile-fetch'],
];

const OPS = [
  [38, 'track'],
  [14, 'trackBatch'],
  [9, 'flush'],
  [4, 'stats'],
  [3, 'deadLetters'],
  [3, 'requeueDeadLetters'],
  [2, 'purgeDeadLetters'],
  [3, 'setCustomerKey'],
  [4, 'setContext'],
  [3, 'setAnonymizeFields'],
  [4, 'setAnonymizer'],
  [1.5, 'close'],
  [1, 'free'],
  [6, 'construct'],
];

let activeRun = null;

/**
 * Reports an uncaught exception or unhandled rejection the runtime saw (the caller's process/global handlers call
 * it) as a failure of the run in progress, attributed to the call being made or last made (check 5).
 */
export function reportUncaught(kind, error) {
  const line = `${kind}: ${describe(error)}`;
  if (activeRun === null) lateUncaught.push(line);
  else activeRun(line);
}
const lateUncaught = [];

export async function runFuzz({
  pkg,
  wasmMemoryBytes,
  ingestUrl,
  refusedUrl,
  seed,
  calls,
  marginMs = 2000,
  maxWasmBytes = 64 * 1024 * 1024,
  budgetMs = 240000,
  roundTripEvery = 2500,
  log = () => {},
}) {
  const { Tracker, memoryStore } = pkg;
  H.use(pkg);
  const started = Date.now();
  const r = createRng(seed);
  const gen = createGen(r, createBudget(calls));
  const failures = {};
  const ops = {};
  const pending = new Map();
  let nextPending = 0;
  let stop = false;
  let callIndex = -1;
  let currentRepro = '(setup)';
  let realDeliveries = 0;
  const memory = { start: wasmMemoryBytes(), peak: 0, end: 0 };
  memory.peak = memory.start;
  let memoryFailed = false;
  const knownIds = [];
  const slowCalls = [];

  function fail(cls, detail, repro = currentRepro) {
    const entry = (failures[cls] ??= { count: 0, examples: [] });
    entry.count += 1;
    if (entry.examples.length < MAX_EXAMPLES) entry.examples.push({ call: callIndex, detail, repro });
    if (cls === 'wasm-trap') stop = true;
  }

  function checkMemory() {
    const bytes = wasmMemoryBytes();
    if (bytes > memory.peak) memory.peak = bytes;
    if (bytes > maxWasmBytes && !memoryFailed) {
      memoryFailed = true;
      fail('wasm-memory', `wasm memory ${bytes} bytes > bound ${maxWasmBytes} (started at ${memory.start})`);
    }
  }

  /** Watches a returned promise: it must settle within `limitMs`; a rejection is checked for `op`. */
  function watch(promise, op, limitMs, repro, onResolve) {
    const id = nextPending++;
    pending.set(id, { deadline: Date.now() + limitMs, op, limitMs, repro, call: callIndex });
    Promise.resolve(promise).then(
      (value) => {
        pending.delete(id);
        if (onResolve) {
          try {
            onResolve(value);
          } catch (e) {
            fail('bad-result', `${op} resolved to an unexpected value: ${describe(e)}`, repro);
          }
        }
      },
      (e) => {
        pending.delete(id);
        if (isTrap(e)) fail('wasm-trap', `${op} rejected with ${describe(e)}`, repro);
        else if (NEVER_REJECTS.has(op)) fail('rejected-never-rejects', `${op} rejected (README: never rejects) with ${describe(e)}`, repro);
        else if (!isCoded(e)) fail('uncoded-rejection', `${op} rejected with ${describe(e)}`, repro);
      },
    );
  }

  function expirePending(final = false) {
    const now = Date.now();
    for (const [id, p] of pending) {
      if (now > p.deadline) {
        pending.delete(id);
        fail('unsettled-promise', `${p.op} did not settle within ${p.limitMs} ms (created at call ${p.call})`, p.repro);
      }
    }
    return final && pending.size === 0;
  }

  // ---- trackers ----

  /** Effective timing of a tracker's deliveries, from the numbers its options set (defaults where absent). */
  function limits(meta) {
    // Only immediate deliveries are awaited per call (queue trackers return at once): their default is 3.
    const a = meta.numbers.maxAttempts ?? 3;
    const t = meta.numbers.timeoutMs ?? 10000;
    const backoff = Math.max(meta.numbers.retryMaxDelayMs ?? (meta.queue ? 300000 : 30000), meta.numbers.maxRetryAfterMs ?? 60000);
    return { delivery: a * t + (a - 1) * backoff + marginMs };
  }

  function baseOptions(kind, box) {
    const entries = [['apiKey', lit(KEY)]];
    const numbers = { retryBaseDelayMs: 1, retryMaxDelayMs: 5, maxRetryAfterMs: 50 };
    const queue = kind.startsWith('queue');
    let fetchKind = 'canned';
    entries.push(['apiBase', lit(kind === 'imm-refused' ? refusedUrl : ingestUrl)]);
    if (kind === 'imm-ingest' || kind === 'imm-refused' || (kind === 'queue-memory' && r.chance(0.3))) {
      fetchKind = 'real';
      numbers.timeoutMs = 3000;
    } else if (kind.endsWith('hostile-fetch')) {
      fetchKind = r.pick(H.FETCH_KINDS);
      numbers.timeoutMs = r.int(20, 300);
    } else {
      numbers.timeoutMs = r.pick([1000, 2000, 5000]);
    }
    numbers.maxAttempts = r.int(1, 3);
    if (fetchKind !== 'real') {
      const tk = gen.throwKind();
      entries.push(['fetch', fetchKind === 'canned' ? h('fetch', 'canned') : h('fetch', fetchKind, tk)]);
    }
    if (queue) {
      entries.push(['deliveryType', lit('persistent_queue')]);
      if (kind === 'queue-memory') entries.push(['store', new Val(memoryStore(), 'memoryStore()')]);
      if (kind.startsWith('queue-hostile-store')) {
        if (r.chance(0.1)) {
          entries.push(['store', h('weirdStore', r.pick(['proxyGet', 'revoked', 'missing']), r.pick(['put', 'list', 'delete']), gen.throwKind())]);
        } else {
          const method = r.pick(['put', 'list', 'list', 'delete', 'lock', 'props']);
          entries.push(['store', h('store', method, r.pick(H.STORE_KINDS[method]), gen.throwKind())]);
        }
      }
      if (r.chance(0.3)) numbers.maxQueueSize = r.int(1, 60);
      if (r.chance(0.1)) numbers.maxQueueBytes = r.int(1024, 20000);
      if (r.chance(0.1)) numbers.maxAgeMs = r.int(1000, 5000);
    } else if (r.chance(0.2)) {
      entries.push(['deliveryType', lit('immediate')]);
    }
    if (r.chance(0.2)) numbers.maxBatchSize = r.int(1, 5);
    if (r.chance(0.1)) numbers.maxRecordBytes = r.int(64, 4096);
    if (r.chance(0.1)) numbers.maxBatchBytes = r.int(1024, 8192);
    for (const [k, n] of Object.entries(numbers)) entries.push([k, lit(n)]);
    if (r.chance(0.15)) entries.push(['customerKey', gen.customerKey()]);
    if (r.chance(0.15)) entries.push(['context', gen.context()]);
    if (r.chance(0.15)) entries.push(['anonymizeFields', gen.fieldList()]);
    if (r.chance(0.15)) entries.push(['anonymizer', gen.anonymizer(box)]);
    return { entries, numbers, queue, fetchKind };
  }

  /** One hostile change to tracker options: unknown keys, wrong types, out-of-range numbers, throwing getters. */
  function perturb(entries) {
    const NUMERIC = ['timeoutMs', 'maxAttempts', 'retryBaseDelayMs', 'retryMaxDelayMs', 'maxRetryAfterMs', 'maxBatchSize',
      'maxBatchBytes', 'maxRecordBytes', 'maxQueueSize', 'maxQueueBytes', 'maxAgeMs'];
    const out = entries.slice();
    const set = (k, v) => {
      const i = out.findIndex(([key]) => key === k);
      if (i >= 0) out.splice(i, 1);
      out.push([k, v]);
    };
    r.weighted([
      [3, () => set(r.pick(['apikey', 'api_key', 'foo', '\uD800', 'timeout', 'constructor', '__proto__']), gen.leaf())],
      [5, () => set(r.pick(NUMERIC), lit(r.pick([1e308, -1, NaN, Infinity, 2 ** 53, 0.5, '100', 10n, true, -1e-300, 4294967296])))],
      [3, () => set(r.pick(['proxy', 'apiBase', 'apiUrl', 'deliveryType', 'customerKey', 'apiKey']), gen.leaf())],
      [1, () => set('apiBase', lit(r.pick(['not a url', 'ftp://x', 'http://[::1', '\uD800', '', 'http://a b'])))],
      [2, () => set('context', gen.any(3))],
      [2, () => set('anonymizeFields', gen.fieldList())],
      [2, () => set('anonymizer', gen.leaf())],
      [2, () => set('fetch', gen.leaf())],
      [1, () => set('store', gen.any(2))],
    ])();
    return out;
  }

  function construct(optionsVal, repro) {
    let t = null;
    let err = null;
    try {
      t = new Tracker(optionsVal.v);
    } catch (e) {
      err = e;
    }
    if (err !== null) {
      if (isTrap(err)) fail('wasm-trap', `new Tracker threw ${describe(err)}`, repro);
      else if (isStackOverflow(err)) fail('stack-overflow', `new Tracker threw ${describe(err)}`, repro);
      else if (!isCoded(err)) fail('uncoded-throw', `new Tracker threw ${describe(err)}`, repro);
    }
    return t;
  }

  function makeSlotTracker(kind) {
    const box = { t: null };
    for (let attempt = 0; attempt < 3 && !stop; attempt += 1) {
      const { entries, numbers, queue, fetchKind } = baseOptions(kind, box);
      const perturbed = kind.endsWith('perturbed') && attempt === 0 ? perturb(entries) : entries;
      const optionsVal = obj(perturbed);
      const src = `const box = {}; const t = new Tracker(${optionsVal.s}); box.t = t;`;
      const t = construct(optionsVal, src);
      if (t !== null) {
        box.t = t;
        // the delivery type the tracker really has (a perturbed option may have changed it): stats() says
        // durability "none" in immediate mode
        let queueNow = queue;
        try {
          queueNow = t.stats().durability !== 'none';
        } catch (e) {
          fail(isTrap(e) ? 'wasm-trap' : 'threw-never-throws', `stats() right after new Tracker threw ${describe(e)}`, src);
        }
        const meta = { kind, queue: queueNow, numbers, fetchKind, src, calls: 0, life: r.int(250, 700), closed: false, deliveryEnd: 0 };
        box.meta = meta;
        return { t, box, meta };
      }
    }
    return null;
  }

  const slots = SLOT_KINDS.map(([weight, kind]) => ({ weight, kind, tracker: null }));

  function retire(slot) {
    const tr = slot.tracker;
    slot.tracker = null;
    if (tr === null) return;
    if (!tr.meta.closed && r.chance(0.4)) {
      callOn(tr, 'close', [], () => tr.t.close());
    }
    callOn(tr, 'free', [], () => tr.t.free());
  }

  // ---- the oracle around one call ----

  /** How many requests an immediate trackBatch of `records` may take (chunks are sent one after another). */
  function requestsOf(meta, records) {
    let count = 1;
    try {
      if (Array.isArray(records) && records.length <= 10000) count = Math.max(1, records.length);
    } catch {
      // hostile: the call threw, the limit is not used
    }
    if (meta.numbers.maxBatchBytes !== undefined || meta.numbers.maxRecordBytes !== undefined) return count;
    return Math.ceil(count / (meta.numbers.maxBatchSize ?? 1000));
  }

  function limitFor(meta, op, args) {
    const now = Date.now();
    const inFlight = Math.max(0, meta.deliveryEnd - now) + marginMs;
    if (op === 'track' || op === 'trackBatch') {
      const one = limits(meta).delivery;
      const limit = op === 'trackBatch' ? one * requestsOf(meta, args[0]?.v) : one;
      meta.deliveryEnd = Math.max(meta.deliveryEnd, now + limit);
      return limit;
    }
    if (!meta.queue) return op === 'flush' || op === 'close' ? inFlight : marginMs;
    if (op === 'flush') {
      let deadline = DEFAULT_FLUSH_DEADLINE_MS;
      try {
        const d = args[0]?.v?.deadlineMs;
        if (typeof d === 'number' && d >= 0 && d <= 600000) deadline = d;
      } catch {
        // a hostile options object: the call throws; the limit does not matter
      }
      return deadline + marginMs;
    }
    return DEFAULT_FLUSH_DEADLINE_MS + marginMs;
  }

  function checkResult(op, meta, value) {
    if (op === 'flush' || op === 'close') {
      if (value === null || typeof value !== 'object' || typeof value.sent !== 'number' || typeof value.durability !== 'string') {
        throw new Error(`not a flush report: ${describe(value)}`);
      }
    } else if (op === 'deadLetters') {
      if (!Array.isArray(value)) throw new Error('not an array');
      for (const d of value) if (typeof d?.responseId === 'string' && knownIds.length < 50) knownIds.push(d.responseId);
    } else if (op === 'requeueDeadLetters' || op === 'purgeDeadLetters') {
      if (typeof value !== 'number') throw new Error(`not a number: ${typeof value}`);
    } else if ((op === 'track' || op === 'trackBatch') && !meta.queue) {
      if (value === null || typeof value !== 'object') throw new Error('not an object');
      if (op === 'track' && typeof value.status !== 'string') throw new Error('no status');
      if (op === 'trackBatch' && !Array.isArray(value.results)) throw new Error('no results');
    }
  }

  /** The source of a tracker's construction and of its last calls, then `call`: a reproduction. */
  function reproOf(meta, call) {
    const history = meta.history ?? [];
    const earlier = history.length === 0 ? '' : `\n// the tracker's last ${history.length} of ${meta.calls} earlier calls:\n${history.join('\n')}`;
    return `${meta.src}${earlier}\n${call}`;
  }

  function remember(meta, call) {
    meta.history ??= [];
    meta.history.push(call.length > 2000 ? `${call.slice(0, 2000)} /* ...cut */` : call);
    if (meta.history.length > 6) meta.history.shift();
  }

  /** Runs `fn` (a call of `op` on tracker `tr`) and applies checks 1, 2 and 6 to what it does. */
  function callOn(tr, op, args, fn, repro = reproOf(tr.meta, `t.${op}(${args.map((a) => a.s).join(', ')});`)) {
    ops[op] = (ops[op] ?? 0) + 1;
    const meta = tr.meta;
    const t0 = Date.now();
    let out;
    try {
      out = fn();
    } catch (e) {
      if (isTrap(e)) fail('wasm-trap', `${op} threw ${describe(e)}`, repro);
      else if (isStackOverflow(e)) fail('stack-overflow', `${op} threw ${describe(e)}`, repro);
      else if (NEVER_THROWS.has(op)) fail('threw-never-throws', `${op} threw (README: never throws) ${describe(e)}`, repro);
      else if (!isCoded(e)) fail('uncoded-throw', `${op} threw ${describe(e)}`, repro);
      finishCall(meta, op, args, t0, repro);
      return { threw: e };
    }
    finishCall(meta, op, args, t0, repro);
    const isPromise = out instanceof Promise;
    if (RETURNS_PROMISE.has(op) || ((op === 'track' || op === 'trackBatch') && !meta.queue)) {
      if (!isPromise) {
        fail('bad-result', `${op} returned ${describe(out)} instead of a promise`, repro);
        return { out };
      }
      if (op === 'track' && !meta.queue && meta.fetchKind === 'real') realDeliveries += 1;
      watch(out, op, limitFor(meta, op, args), repro, (value) => checkResult(op, meta, value));
    } else if ((op === 'track' || op === 'trackBatch') && meta.queue) {
      try {
        if (op === 'track' && typeof out?.responseId !== 'string') throw new Error('no responseId');
        if (op === 'trackBatch' && !Array.isArray(out?.responseIds)) throw new Error('no responseIds');
        if (op === 'track' && knownIds.length < 50 && r.chance(0.05)) knownIds.push(out.responseId);
      } catch (e) {
        fail('bad-result', `${op} returned ${describe(out)}: ${describe(e)}`, repro);
      }
    }
    if (op === 'close') meta.closed = true;
    return { out };
  }

  function finishCall(meta, op, args, t0, repro) {
    noteSlow(Date.now() - t0, repro);
    meta.calls += 1;
    remember(meta, `t.${op}(${args.map((a) => a.s).join(', ')});`);
  }

  /** Remembers a slow synchronous call (reported, not failed: timings are the host's, not the package's). */
  function noteSlow(ms, repro) {
    if (ms < 1000) return;
    slowCalls.push({ call: callIndex, ms, repro: repro.slice(-3000) });
    slowCalls.sort((a, b) => b.ms - a.ms);
    slowCalls.length = Math.min(slowCalls.length, 5);
  }

  H.observeWith((box, op, args, fn) => {
    if (!box.meta) return;
    const argVals = args.map((a) => new Val(a, JSON.stringify(a)));
    const repro = `${currentRepro}\n// re-entrantly, from the anonymizer: t.${op}(${argVals.map((a) => a.s).join(', ')})`;
    callOn({ t: box.t, meta: box.meta }, op, argVals, fn, repro);
  });

  // ---- healthy trackers (check 3) ----

  let healthy = null;
  function newHealthy() {
    try {
      healthy?.free();
    } catch (e) {
      fail(isTrap(e) ? 'wasm-trap' : 'unhealthy', `healthy tracker free() threw ${describe(e)}`);
    }
    healthy = null;
    try {
      healthy = new Tracker({ apiKey: KEY, apiBase: ingestUrl, deliveryType: 'persistent_queue', fetch: H.fetch('canned'), maxQueueSize: 1000000 });
    } catch (e) {
      fail(isTrap(e) ? 'wasm-trap' : 'unhealthy', `a healthy new Tracker() threw ${describe(e)}`);
    }
  }

  function cheapCheck() {
    if (healthy === null) newHealthy();
    if (healthy === null) return;
    try {
      const q = healthy.track('fuzz::health', { n: 1 });
      if (typeof q?.responseId !== 'string' || !/^[0-9a-f]{32}$/.test(q.responseId)) throw new Error(`returned ${describe(q)}`);
    } catch (e) {
      fail(isTrap(e) ? 'wasm-trap' : 'unhealthy', `a valid track() on a fresh healthy tracker failed after this call: ${describe(e)}`);
      newHealthy();
    }
  }

  function sameTrackerCheck(tr) {
    if (tr.meta.closed || tr.meta.fetchKind !== 'canned' || !slots.some((s) => s.tracker === tr)) return;
    const repro = reproOf(tr.meta, 't.track("fuzz::same", { n: 1 });');
    const res = callOn(tr, 'track', [lit('fuzz::same'), obj([['n', lit(1)]])], () => tr.t.track('fuzz::same', { n: 1 }), repro);
    if ('threw' in res && isCoded(res.threw) && !SAME_TRACKER_CODES.includes(res.threw.code)) {
      fail('unhealthy', `a valid track() on the same tracker threw ${describe(res.threw)} after this call`, repro);
    }
  }

  async function withLimit(promise, ms, what) {
    let timer;
    const timeout = new Promise((resolve) => {
      timer = setTimeout(() => resolve({ timedOut: true }), ms);
    });
    const settled = Promise.resolve(promise).then((value) => ({ value }), (error) => ({ error }));
    const out = await Promise.race([settled, timeout]);
    clearTimeout(timer);
    if (out.timedOut) throw new Error(`${what}: did not settle within ${ms} ms`);
    if ('error' in out) throw new Error(`${what}: rejected with ${describe(out.error)}`);
    return out.value;
  }

  async function roundTrip() {
    let t = null;
    try {
      t = new Tracker({ apiKey: KEY, apiBase: ingestUrl, timeoutMs: 5000, retryBaseDelayMs: 1, retryMaxDelayMs: 5 });
      const outcome = await withLimit(t.track('fuzz::roundtrip', { prompt_tokens: 1 }), 20000, 'immediate track');
      realDeliveries += 1;
      if (outcome?.status !== 'queued') throw new Error(`immediate track resolved to status ${describe(outcome?.status)}: ${JSON.stringify(outcome?.error)}`);
      t.free();
      t = new Tracker({ apiKey: KEY, apiBase: ingestUrl, timeoutMs: 5000, deliveryType: 'persistent_queue', store: memoryStore() });
      t.track('fuzz::roundtrip', { prompt_tokens: 2 });
      const report = await withLimit(t.flush({ deadlineMs: 10000 }), 10000 + marginMs, 'queue flush');
      realDeliveries += 1;
      if (report?.sent !== 1) throw new Error(`queue flush reported ${JSON.stringify(report)}`);
      t.free();
    } catch (e) {
      fail(isTrap(e) ? 'wasm-trap' : 'unhealthy', `a full round trip to the ingest server failed after this call: ${describe(e)}`);
      try {
        t?.free();
      } catch {
        // reported above
      }
    }
  }

  // ---- the calls ----

  function argsFor(op, tr) {
    switch (op) {
      case 'track': {
        const a = [gen.serviceKey(), gen.usage()];
        const o = gen.trackOptions(tr.box);
        if (o !== null) a.push(o);
        return a;
      }
      case 'trackBatch': {
        const a = [gen.batch(tr.box)];
        const o = gen.batchOptions(tr.box);
        if (o !== null) a.push(o);
        return a;
      }
      case 'flush': {
        const o = gen.flushOptions();
        return o === null ? [] : [o];
      }
      case 'requeueDeadLetters':
      case 'purgeDeadLetters': {
        const ids = gen.ids(knownIds);
        return ids === null ? [] : [ids];
      }
      case 'setCustomerKey': return [gen.customerKey()];
      case 'setContext': return [gen.context()];
      case 'setAnonymizeFields': return [gen.fieldList()];
      case 'setAnonymizer': return [r.chance(0.2) ? lit(null) : gen.anonymizer(tr.box)];
      default: return [];
    }
  }

  function hostileConstruct() {
    const box = { t: null };
    const optionsVal = r.weighted([
      [2, () => gen.leaf()],
      [2, () => gen.container(2)],
      [10, () => obj(perturb(baseOptions(r.pick(['imm-canned', 'queue-nostore', 'queue-hostile-store']), box).entries))],
      [3, () => h('getter', obj(baseOptions('queue-memory', box).entries), r.pick(['apiKey', 'store', 'timeoutMs', 'fetch']), gen.throwKind())],
      [3, () => h('trapThrows', obj([['apiKey', lit(KEY)]]), r.pick(['get', 'ownKeys', 'getPrototypeOf', 'has', 'getOwnPropertyDescriptor']), gen.throwKind())],
      [2, () => h('revoked', obj([['apiKey', lit(KEY)]]))],
      [1, () => obj([['apiKey', gen.string()]])],
    ])();
    const src = `new Tracker(${optionsVal.s});`;
    currentRepro = src;
    ops.construct = (ops.construct ?? 0) + 1;
    const t = construct(optionsVal, src);
    if (t !== null) {
      const meta = { kind: 'constructed', queue: false, numbers: {}, fetchKind: 'unknown', src: `const t = ${src}`, calls: 0, closed: false, deliveryEnd: 0 };
      callOn({ t, meta }, 'stats', [], () => t.stats());
      callOn({ t, meta }, 'free', [], () => t.free());
    }
  }

  activeRun = (line) => fail('uncaught-in-runtime', `${line} (seen at or after this call)`);
  newHealthy();
  for (callIndex = 0; callIndex < calls && !stop; callIndex += 1) {
    if (Date.now() - started > budgetMs) {
      fail('budget', `stopped after ${callIndex} of ${calls} calls: over the ${budgetMs} ms budget`);
      break;
    }
    const op = r.weighted(OPS);
    let tr = null;
    if (op === 'construct') {
      hostileConstruct();
    } else {
      const slot = r.weighted(slots.map((s) => [s.weight, s]));
      if (slot.tracker !== null && (slot.tracker.meta.calls > slot.tracker.meta.life || (slot.tracker.meta.closed && r.chance(0.2)))) retire(slot);
      if (slot.tracker === null) slot.tracker = makeSlotTracker(slot.kind);
      tr = slot.tracker;
      if (tr !== null) {
        const args = argsFor(op, tr);
        const repro = reproOf(tr.meta, `t.${op}(${args.map((a) => a.s).join(', ')});`);
        currentRepro = repro;
        callOn(tr, op, args, () => tr.t[op](...args.map((a) => a.v)), repro);
        if (op === 'free') slot.tracker = null;
      }
    }
    if (stop) break;
    cheapCheck();
    if (tr !== null && r.chance(0.25)) sameTrackerCheck(tr);
    if (callIndex % 50 === 49) {
      const t0 = Date.now();
      await sleep(0);
      if (Date.now() - t0 > 1000) noteSlow(Date.now() - t0, `// the event loop was blocked (microtasks or a timer callback) for this long after:\n${currentRepro}`);
    }
    if (callIndex % 1000 === 999) {
      expirePending();
      checkMemory();
    }
    if (callIndex % 5000 === 4999) {
      const h0 = healthy;
      if (h0 !== null) {
        try {
          await withLimit(h0.flush({ deadlineMs: 5000 }), 5000 + marginMs, 'healthy flush');
        } catch (e) {
          fail('unhealthy', `the healthy tracker's flush failed: ${describe(e)}`);
        }
      }
      newHealthy();
    }
    if (callIndex % roundTripEvery === roundTripEvery - 1) await roundTrip();
    if (callIndex % 10000 === 9999) log(`fuzz: ${callIndex + 1} calls, ${pending.size} pending, wasm memory ${wasmMemoryBytes()}`);
  }
  const callsRun = callIndex;
  currentRepro = '(end of run: closing every tracker)';

  if (!stop) {
    for (const slot of slots) {
      const tr = slot.tracker;
      if (tr === null) continue;
      if (!tr.meta.closed) callOn(tr, 'close', [], () => tr.t.close());
    }
    // every promise settles or passes its limit
    while (pending.size > 0) {
      expirePending();
      if (pending.size === 0) break;
      await sleep(50);
    }
    for (const slot of slots) {
      const tr = slot.tracker;
      slot.tracker = null;
      if (tr !== null) callOn(tr, 'free', [], () => tr.t.free());
    }
    await roundTrip();
    try {
      healthy?.free();
    } catch (e) {
      fail('unhealthy', `free() of the healthy tracker threw ${describe(e)}`);
    }
    checkMemory();
  }
  memory.end = wasmMemoryBytes();
  H.observeWith(() => {});
  await sleep(50); // late microtasks and timers still report to this run
  activeRun = null;
  for (const line of lateUncaught.splice(0)) fail('uncaught-in-runtime', `${line} (outside any run)`);
  return { seed, calls, callsRun, ops, failures, memory, realDeliveries, pendingLeft: pending.size, slowCalls, elapsedMs: Date.now() - started };
}

/** Human-readable failure report of a summary (empty string when nothing failed). */
export function formatFailures(summary, runtime) {
  const classes = Object.entries(summary.failures);
  if (classes.length === 0) return '';
  const lines = [`${runtime} fuzz: seed ${summary.seed}, ${summary.callsRun} of ${summary.calls} calls ran; failures by class:`];
  for (const [cls, { count, examples }] of classes) {
    lines.push(`\n== ${cls}: ${count}`);
    for (const ex of examples) {
      lines.push(`-- call #${ex.call} (replay: AICM_FUZZ_SEED=${summary.seed} AICM_FUZZ_CALLS=${ex.call + 1}): ${ex.detail}`);
      lines.push(ex.repro);
    }
  }
  lines.push(`\nmemory ${JSON.stringify(summary.memory)}; repros use: import { H } from "./tests/js/support-fuzz/hostile.mjs"; H.use({ memoryStore });`);
  return lines.join('\n');
}
