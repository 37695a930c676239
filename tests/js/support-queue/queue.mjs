// Shared helpers for the persistent-queue tests (queue.test.mjs, soak.test.mjs): queue trackers pointed at the
// local ingest server with fast retries, stores that record or break their calls, what the server received, and
// a seeded PRNG. Nothing here asserts on time.

import { Tracker, memoryStore } from 'aicostmanager-edge';

import { waitFor } from '../support/wait.mjs';

/** The API key every test server requires. Distinctive, so a test can look for it in what was stored. */
export const KEY = 'qtest-secret-key-5b1e7d9c';

/** Options that keep retries short, so a retry within one flush costs milliseconds. */
export const FAST = Object.freeze({
  retryBaseDelayMs: 1,
  retryMaxDelayMs: 5,
  maxRetryAfterMs: 50,
  timeoutMs: 2000,
});

export const SERVICE_KEY = 'openai::gpt-4o-mini';

/** A persistent-queue tracker talking to `ingest` with the test key and FAST retries; `options` override. */
export function queueTracker(ingest, options = {}) {
  return new Tracker({ apiKey: KEY, apiBase: ingest.url, deliveryType: 'persistent_queue', ...FAST, ...options });
}

/** Tracks `n` records with response ids `<prefix>-0` … and returns the ids. */
export function trackMany(tracker, n, prefix, usage = { prompt_tokens: 3, completion_tokens: 4 }) {
  const ids = [];
  for (let i = 0; i < n; i += 1) ids.push(tracker.track(SERVICE_KEY, { ...usage }, { responseId: `${prefix}-${i}` }).responseId);
  return ids;
}

/** Resolves once every record the tracker holds has been written to its store (rejects after a limit). */
export function saved(tracker, what = 'the store writes') {
  return waitFor(() => tracker.stats().unsaved === 0, what);
}

/** The response ids of every /track request the server logged, one array per request (null: body not kept). */
export function wireIds(ingest) {
  return ingest.requests().map((r) => (r.bodyText === null ? null : JSON.parse(r.bodyText).tracked.map((x) => x.response_id)));
}

/** The response ids the server accepted (stored), in accept order. */
export function acceptedIds(ingest) {
  return ingest.accepted().map((record) => record.response_id);
}

/** `ids` sorted (for set-like comparisons). */
export function sorted(ids) {
  return [...ids].sort();
}

/**
 * A store that forwards to `inner` (default a fresh `memoryStore()`) and records every call: `calls` holds
 * `{ op: 'put', entries }`, `{ op: 'list', prefix }`, `{ op: 'delete', keys }` in call order. Breakage on demand:
 * - `failPuts`: how many puts reject (from the first; Infinity = all), without changing `inner`;
 * - `list`: a function replacing the listing (`(prefix) => anything`; may throw or return garbage).
 * `durability`, `consistent` and `lock` come from `inner` unless given in `overrides`.
 */
export function recordingStore(inner = memoryStore(), { failPuts = 0, list = null, ...overrides } = {}) {
  const calls = [];
  let putsToFail = failPuts;
  const store = {
    durability: inner.durability,
    consistent: inner.consistent,
    ...(typeof inner.lock === 'function' ? { lock: inner.lock.bind(inner) } : {}),
    async put(entries) {
      calls.push({ op: 'put', entries: entries.map(({ key, value }) => ({ key, value })) });
      if (putsToFail > 0) {
        putsToFail -= 1;
        throw new Error('disk full (injected)');
      }
      return inner.put(entries);
    },
    async list(prefix) {
      calls.push({ op: 'list', prefix });
      return list === null ? inner.list(prefix) : list(prefix);
    },
    async delete(keys) {
      calls.push({ op: 'delete', keys: [...keys] });
      return inner.delete(keys);
    },
    ...overrides,
  };
  return {
    store,
    inner,
    calls,
    puts: () => calls.filter((c) => c.op === 'put'),
    /** Every key and value ever handed to `put`, as one string per entry. */
    everythingPut: () => calls.filter((c) => c.op === 'put').flatMap((c) => c.entries.map((e) => `${e.key}\n${e.value}`)),
    /** What `inner` holds now, as a Map key → value. */
    contents: async () => new Map((await inner.list('')).map(({ key, value }) => [key, value])),
  };
}

/** The kind of a stored key: 'q' (queued) or 'd' (dead letter), and its response id; null for other keys. */
export function parseKey(key) {
  const m = /^aicm\/v1\/[0-9a-f]{16}\/([qd])\/(.+)$/.exec(key);
  return m === null ? null : { kind: m[1], responseId: m[2] };
}

/** The response ids stored under kind 'q' or 'd' in a contents Map. */
export function storedIds(contents, kind) {
  return sorted([...contents.keys()].map(parseKey).filter((k) => k?.kind === kind).map((k) => k.responseId));
}

/**
 * A store object of the user's own kind over a plain Map: "persistent", no lock, consistency as given. It is the
 * thing that outlives a tracker (an isolate) in these tests.
 */
export function persistentStore({ consistent = false } = {}) {
  const entries = new Map();
  return {
    durability: 'persistent',
    consistent,
    entries,
    async put(batch) {
      for (const { key, value } of batch) entries.set(key, value);
    },
    async list(prefix) {
      return [...entries].filter(([key]) => key.startsWith(prefix)).map(([key, value]) => ({ key, value }));
    },
    async delete(keys) {
      for (const key of keys) entries.delete(key);
    },
  };
}

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
export function prng(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
