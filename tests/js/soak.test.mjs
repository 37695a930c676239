// The no-loss soak of deliveryType "persistent_queue", end to end: thousands of records (seeded PRNG) tracked in
// bursts through several trackers sharing one store, while the real ingest server answers with seeded random
// faults (5xx, 429 + Retry-After, 408, dropped connections before and after storing, slow replies past timeoutMs,
// per-record errors, unparseable 2xx, 413 over its maxBodyBytes) and trackers "die" at random: abandoned without
// flush, or cut off mid-flush (their fetch and store calls fail from then on, as if the isolate were gone).
// Afterwards every tracked response_id is either accepted by the server exactly once or a dead letter with a
// reason; none is missing. Duplicates on the wire are allowed (at least once) and counted.
// Run: node --test tests/js/soak.test.mjs   (SOAK_SEED=<n> repeats a run; the seed is printed)

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { memoryStore } from 'aicostmanager-edge';

import { startIngestServer } from '../ingest/server.mjs';
import { KEY, SERVICE_KEY, persistentStore, prng, queueTracker, saved } from './support-queue/queue.mjs';

const SEED = process.env.SOAK_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.SOAK_SEED);
const RECORDS_PER_STORE = 3000;
const MAX_BODY_BYTES = 24 * 1024;

/** Tracker options: short delays so that a retry costs milliseconds; timeoutMs below the slow faults' delay. */
const SOAK_OPTIONS = Object.freeze({
  retryBaseDelayMs: 1,
  retryMaxDelayMs: 10,
  maxRetryAfterMs: 20,
  timeoutMs: 150,
  maxAttempts: 6,
  maxBatchSize: 200,
});

let ingest;
before(async () => {
  ingest = await startIngestServer({ apiKey: KEY, maxBodyBytes: MAX_BODY_BYTES });
});
after(() => ingest.close());

function pick(rng, items) {
  return items[Math.floor(rng() * items.length)];
}

/** One seeded random fault of the ingest server's list (a `slow` of 0 ms is a normal reply). */
function randomFault(rng) {
  const r = rng();
  if (r < 0.2) return { status: pick(rng, [500, 502, 503, 504]) };
  if (r < 0.28) return { status: 429, retryAfter: pick(rng, ['0', '1', '2']) };
  if (r < 0.32) return { status: 408 };
  if (r < 0.42) return { kind: 'drop', afterAccept: rng() < 0.5 };
  if (r < 0.48) return { kind: 'slow', delayMs: rng() < 0.5 ? 10 : 300 }; // 300 ms is past timeoutMs
  if (r < 0.62) return { kind: 'recordError', count: 1 + Math.floor(rng() * 3) };
  if (r < 0.68) return { kind: 'badJson' };
  return { kind: 'slow', delayMs: 0 };
}

/**
 * The store as one tracker (one isolate) sees it: every call fails once `gate.dead` is set, so a dead tracker
 * changes nothing any more. The lock is passed through (a drain that holds it when its isolate dies finishes
 * quickly: its calls fail).
 */
function gatedStore(store, gate) {
  const dead = () => Promise.reject(new Error('isolate died'));
  return {
    durability: store.durability,
    consistent: store.consistent,
    ...(typeof store.lock === 'function' ? { lock: (name, fn) => store.lock(name, fn) } : {}),
    put: (entries) => (gate.dead ? dead() : store.put(entries)),
    list: (prefix) => (gate.dead ? dead() : store.list(prefix)),
    delete: (keys) => (gate.dead ? dead() : store.delete(keys)),
  };
}

/** `fetch` for one tracker: requests started after its death never leave it. */
function gatedFetch(gate) {
  return (url, init) => (gate.dead ? Promise.reject(new TypeError('isolate died')) : fetch(url, init));
}

/** A store of the user's own kind that survives every tracker: a Map, no lock, not consistent, async calls. */
function slowPersistentStore() {
  const inner = persistentStore({ consistent: false });
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  return {
    durability: 'persistent',
    consistent: false,
    entries: inner.entries,
    put: async (entries) => { await turn(); return inner.put(entries); },
    list: async (prefix) => { await turn(); return inner.list(prefix); },
    delete: async (keys) => { await turn(); return inner.delete(keys); },
  };
}

/** Resolves when `promises` settle, or after `ms` (so a stuck drain becomes a figure, not a hang). */
async function settleWithin(promises, ms) {
  let timer;
  const limit = new Promise((resolve) => {
    timer = setTimeout(() => resolve('timed out'), ms);
  });
  const result = await Promise.race([Promise.allSettled(promises).then(() => 'settled'), limit]);
  clearTimeout(timer);
  return result;
}

/**
 * Runs one soak over `store` and returns its figures and the sets to audit. `prefix` keeps response ids of
 * different soaks apart (they share the ingest server).
 */
async function soak(rng, store, prefix) {
  const figures = {
    trackers: 0, abandoned: 0, killed: 0, killedMidFlush: 0, flushes: 0, flushRejections: 0, faults: 0, retracked: 0, oversized: 0,
  };
  const tracked = new Set();
  const retracked = new Set();
  let nextId = 0;
  let plan = []; // the faults handed to the server, in order; the server consumes them from the head
  const live = [];
  const running = [];

  function spawn() {
    const gate = { dead: false };
    const tracker = queueTracker(ingest, { ...SOAK_OPTIONS, store: gatedStore(store, gate), fetch: gatedFetch(gate) });
    const member = { tracker, gate, flushing: null };
    live.push(member);
    figures.trackers += 1;
    return member;
  }

  function trackBurst(member, n) {
    const records = [];
    for (let k = 0; k < n; k += 1) {
      const retrack = tracked.size > 0 && rng() < 0.01;
      const id = retrack ? pick(rng, [...tracked]) : `${prefix}-${(nextId += 1)}`;
      if (retrack) retracked.add(id);
      const oversized = rng() < 0.002;
      if (oversized) figures.oversized += 1;
      const usage = { prompt_tokens: Math.floor(rng() * 5000), completion_tokens: Math.floor(rng() * 800) };
      if (oversized) usage.blob = 'z'.repeat(MAX_BODY_BYTES + 100);
      records.push({ serviceKey: SERVICE_KEY, usage, responseId: id, context: { burst: figures.flushes, k } });
    }
    if (rng() < 0.5) {
      member.tracker.trackBatch(records);
    } else {
      for (const r of records) member.tracker.track(r.serviceKey, r.usage, { responseId: r.responseId, context: r.context });
    }
    for (const r of records) tracked.add(r.responseId);
  }

  function startFlush(member) {
    figures.flushes += 1;
    const done = member.tracker.flush({ deadlineMs: 3000 }).catch(() => {
      figures.flushRejections += 1; // flush() must never reject
    }).then(() => {
      if (member.flushing === done) member.flushing = null;
    });
    member.flushing = done;
    running.push(done);
    return done;
  }

  async function die(member) {
    live.splice(live.indexOf(member), 1);
    await saved(member.tracker, 'the dying tracker\'s store writes'); // what track() returned is in the store
    if (rng() < 0.5 && member.flushing === null) {
      figures.abandoned += 1; // dropped without flush or close
    } else {
      if (member.flushing !== null) figures.killedMidFlush += 1;
      figures.killed += 1;
      member.gate.dead = true; // nothing it does from now on reaches the store or the server
    }
  }

  while (tracked.size < RECORDS_PER_STORE) {
    const member = live.length === 0 || rng() < 0.1 ? spawn() : pick(rng, live);
    trackBurst(member, 1 + Math.floor(rng() * 120));
    if (rng() < 0.5) {
      const faults = Array.from({ length: 1 + Math.floor(rng() * 6) }, () => randomFault(rng));
      figures.faults += faults.length;
      plan = [...plan.slice(plan.length - ingest.faults().queue.length), ...faults];
      ingest.setFaults({ queue: plan }); // appended to what the server has not used yet
      const flushers = live.filter(() => rng() < 0.6);
      for (const m of flushers.length > 0 ? flushers : [pick(rng, live)]) {
        if (m.flushing === null) startFlush(m);
      }
      if (rng() < 0.5) await Promise.allSettled(running.slice(-3));
    }
    if (live.length > 0 && rng() < 0.12) {
      if (rng() < 0.5) await new Promise((resolve) => setTimeout(resolve, Math.floor(rng() * 20)));
      await die(pick(rng, live));
    }
  }

  // Let every drain still running end (dead ones fail fast), then no more faults: a fresh tracker drains the store.
  figures.drainsEnded = await settleWithin(running, 15_000);
  figures.faultsUnused = ingest.faults().queue.length;
  figures.retracked = retracked.size;
  ingest.setFaults(null);
  const auditor = queueTracker(ingest, { ...SOAK_OPTIONS, store });
  let rounds = 0;
  let report;
  do {
    report = await auditor.flush({ deadlineMs: 5000 });
    rounds += 1;
  } while ((report.remaining > 0 || auditor.stats().queued > 0) && rounds < 20);
  figures.finalRounds = rounds;
  figures.finalRemaining = report.remaining;
  const letters = await auditor.deadLetters();
  figures.auditorStats = auditor.stats();
  const left = (await store.list('')).map((e) => e.key).filter((k) => /\/q\//.test(k));
  return { figures, tracked, retracked, letters, queuedKeysLeft: left };
}

/** Checks the no-loss invariant for one soak and returns the figures to print. */
function audit(result, acceptedIds) {
  const accepted = new Set(acceptedIds);
  const dead = new Map(result.letters.map((l) => [l.responseId, l]));
  for (const letter of result.letters) {
    assert.equal(typeof letter.reason, 'string');
    assert.ok(letter.reason.length > 0, `dead letter ${letter.responseId} has a reason`);
    assert.ok(result.tracked.has(letter.responseId), `dead letter ${letter.responseId} was tracked`);
  }
  const missing = [...result.tracked].filter((id) => !accepted.has(id) && !dead.has(id));
  assert.deepEqual(missing.slice(0, 20), [], `${missing.length} tracked records neither accepted nor dead-lettered`);
  assert.deepEqual(result.queuedKeysLeft, [], 'nothing left queued in the store');
  assert.equal(result.figures.drainsEnded, 'settled', 'every flush() of the soak settled, dead trackers\' included');
  assert.equal(result.figures.flushRejections, 0, 'flush() never rejects');
  assert.equal(result.figures.finalRemaining, 0);
  assert.equal(result.figures.auditorStats.dropped, 0);
  assert.equal(result.figures.auditorStats.unreadable, 0, 'every stored entry was readable');
  assert.equal(result.figures.auditorStats.queued + result.figures.auditorStats.inFlight, 0);
  const both = [...dead.keys()].filter((id) => accepted.has(id));
  const reasons = {};
  for (const letter of result.letters) {
    const kind = letter.reason.replace(/[0-9]+/g, 'N').slice(0, 40);
    reasons[kind] = (reasons[kind] ?? 0) + 1;
  }
  return { tracked: result.tracked.size, accepted: [...result.tracked].filter((id) => accepted.has(id)).length,
    deadLetters: dead.size, acceptedAndDead: both.length, acceptedAndDeadNotRetracked: both.filter((id) => !result.retracked.has(id)).length,
    reasons };
}

describe(`no-loss soak (seed ${SEED})`, () => {
  const results = [];
  const stores = [
    ['memoryStore() (consistent, locked)', () => memoryStore(), 'mem'],
    ['a custom persistent store (no lock, not consistent)', () => slowPersistentStore(), 'per'],
  ];
  let rng;
  before(() => {
    console.log(`soak seed ${SEED} (repeat with SOAK_SEED=${SEED})`);
    rng = prng(SEED);
  });

  for (const [name, makeStore, prefix] of stores) {
    it(`${RECORDS_PER_STORE} records through trackers sharing ${name}: none missing`, async (t) => {
      t.diagnostic(`seed ${SEED}`);
      const before = ingest.stats();
      const requestsBefore = ingest.requests().length;
      const result = await soak(rng, makeStore(), prefix);
      const ours = ingest.accepted().map((r) => r.response_id).filter((id) => id.startsWith(`${prefix}-`));
      assert.equal(new Set(ours).size, ours.length, 'the server stored no response_id twice');
      for (const id of ours) assert.ok(result.tracked.has(id), `accepted ${id} was tracked`);
      const figures = audit(result, ours);
      const after = ingest.stats();
      const requests = ingest.requests().slice(requestsBefore);
      const byStatus = {};
      for (const r of requests) byStatus[r.status ?? 'none'] = (byStatus[r.status ?? 'none'] ?? 0) + 1;
      const wireRecords = requests.filter((r) => r.bodyText !== null && r.status === 202)
        .reduce((n, r) => n + JSON.parse(r.bodyText).tracked.length, 0);
      Object.assign(figures, {
        wireDuplicates: after.duplicates - before.duplicates,
        recordsIn202s: wireRecords,
        requests: requests.length,
        byStatus,
        ...result.figures,
      });
      results.push([name, figures]);
      t.diagnostic(JSON.stringify(figures));
      console.log(`soak [${name}] seed ${SEED}: tracked ${figures.tracked}, accepted ${figures.accepted}, `
        + `wire duplicates ${figures.wireDuplicates}, dead letters ${figures.deadLetters} `
        + `(accepted too: ${figures.acceptedAndDead}), missing 0`);
      console.log(`  ${JSON.stringify(figures)}`);
      assert.ok(figures.tracked >= RECORDS_PER_STORE);
      assert.ok(figures.accepted > figures.tracked / 2, 'most records were delivered');
    });
  }

  it('the two soaks together tracked at least 3,000 records', () => {
    const total = results.reduce((n, [, f]) => n + f.tracked, 0);
    assert.ok(total >= 3000, `tracked ${total}`);
  });
});
