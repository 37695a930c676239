// worker-example's persistent queue in real workerd (Miniflare, local Workers KV): an ingest outage costs the user
// nothing and loses no record; records wait in KV and a later request's flush (or the cron) delivers each exactly
// once; an isolate that dies between track and delivery loses nothing (KV kept on disk with kvPersist); KV writes
// per tracked record stay within a stated bound. KV calls are counted by a wrapper around the Worker's binding
// (support-workerd/fixtures/kv-counting-worker.mjs); what KV holds is read with Miniflare's getKVNamespace.
// Needs the packed package in tests/js/node_modules (scripts/test and scripts/demo install it).

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { startIngestServer } from '../ingest/server.mjs';
import { startFakeLlm } from './support-workerd/fake-llm.mjs';
import { listAllKeys, readKvOutbox } from './support-workerd/kv-outbox.mjs';
import { waitFor } from './support-workerd/wait.mjs';
import { startWorker } from './support-workerd/worker.mjs';

const API_KEY = 'aicm-test-key-workerd-queue';
const QUEUE = 'AICM_QUEUE';
const WORKER_MAX_ATTEMPTS = 10; // worker-example's QUEUE_OPTIONS.maxAttempts
const fixture = (name) => fileURLToPath(new URL(`./support-workerd/fixtures/${name}`, import.meta.url));
const COUNTING_ENTRY = fixture('kv-counting-worker.mjs');

let ingest;
let llm;
/** Everything a test started, stopped after it whatever happens. */
let cleanups = [];

before(async () => {
  ingest = await startIngestServer({ apiKey: API_KEY });
  llm = await startFakeLlm();
});

after(async () => {
  await llm?.close();
  await ingest?.close();
});

beforeEach(() => {
  ingest.reset();
  cleanups = [];
});

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

/** worker-example (behind the KV-counting wrapper, or `entry`) against the local ingest and LLM; stopped after the test. */
async function startQueueWorker({ kvPersist = false, entry = COUNTING_ENTRY } = {}) {
  const worker = await startWorker({
    env: { AICM_API_KEY: API_KEY, AICM_API_BASE: ingest.url, LLM_BASE_URL: llm.url },
    kvPersist,
    entry,
  });
  cleanups.push(() => worker.dispose());
  return { worker, kv: await worker.kv(QUEUE) };
}

/** A temp directory for Miniflare's kvPersist, removed after the test. */
async function tempKvDir() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'aicm-kv-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

let chatCount = 0;
/** One chat through the Worker; asserts the user got the LLM's answer (200) and resolves to it. */
async function chat(worker) {
  chatCount += 1;
  const res = await worker.dispatchFetch('/chat', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-customer-key': 'acme' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Question ${chatCount}?` }] }),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `the user must get the answer whatever the ingest does: ${text}`);
  const answer = JSON.parse(text);
  assert.equal(text, llm.answers().find((a) => JSON.parse(a.bodyText).id === answer.id)?.bodyText, 'answer passed through unchanged');
  return answer;
}

/**
 * Resolves once the Worker logged the end of the flush that `responseId`'s request started (worker-example logs
 * a line when a flush leaves something in KV), to that line.
 */
function flushEnded(worker, responseId) {
  return waitFor(() => worker.logs().find((l) => l.message.startsWith(`aicm flush (usage ${responseId})`)), {
    what: `the end of the flush of ${responseId}`,
    describe: () => JSON.stringify(worker.logs()),
  });
}

/** The response_ids of the records in one logged /track request. */
const trackedIds = (request) => JSON.parse(request.bodyText).tracked.map((record) => record.response_id);

/** KV calls the Worker made so far: { get, put, delete, list }. */
async function kvOps(worker) {
  const res = await worker.dispatchFetch('/__kv-ops');
  return res.json();
}

/** Resolves once every id in `ids` was accepted and the KV outbox is empty (delivered, segments deleted). */
async function deliveredAndDrained(kv, ids, { timeoutMs = 5000 } = {}) {
  const wanted = new Set(ids);
  await waitFor(() => ingest.accepted().filter((r) => wanted.has(r.response_id)).length >= wanted.size, {
    what: `${wanted.size} accepted records`,
    timeoutMs,
    describe: () => JSON.stringify(ingest.stats()),
  });
  await waitFor(async () => (await listAllKeys(kv)).length === 0, {
    what: 'an empty KV outbox',
    timeoutMs,
    describe: () => JSON.stringify(ingest.stats()),
  });
}

/** Asserts each of `ids` was accepted exactly once and sent in exactly one accepted (202) request. */
function assertExactlyOnce(ids) {
  const accepted = ingest.accepted().map((r) => r.response_id);
  assert.deepEqual([...accepted].sort(), [...ids].sort(), 'each record accepted once, nothing else');
  assert.equal(ingest.stats().duplicates, 0, 'no record reached the server twice');
  const sentOk = ingest.requests().filter((r) => r.status === 202).flatMap(trackedIds);
  assert.deepEqual([...sentOk].sort(), [...ids].sort());
}

describe('KV outbox in the steady state', () => {
  test('each chat costs one KV put and one KV delete, and its record arrives once', async (t) => {
    const { worker, kv } = await startQueueWorker();
    const ids = [];
    for (let i = 0; i < 4; i += 1) {
      const answer = await chat(worker);
      ids.push(answer.id);
      await deliveredAndDrained(kv, [answer.id]); // one request at a time: no flush sees another's record
    }
    assertExactlyOnce(ids);
    const ops = await kvOps(worker);
    t.diagnostic(`KV calls for ${ids.length} records: ${JSON.stringify(ops)}`);
    // One put (the record's own segment, written in the tick of track()) and one delete (that segment, once the
    // service accepted the record) per record: the minimum for a record that survives the isolate.
    assert.equal(ops.put, ids.length);
    assert.equal(ops.delete, ids.length);
    // One list when the tracker loads the outbox, one when its flush starts; nothing left over to read.
    assert.ok(ops.list <= 2 * ids.length, `${ops.list} lists`);
    assert.equal(ops.get, 0);
  });
});

describe('an ingest outage', () => {
  test('users get 200s, records wait in KV, the recovery delivers each exactly once; KV writes stay bounded', async (t) => {
    const { worker, kv } = await startQueueWorker();
    ingest.setFaults({ always: { status: 503 } });
    const outageIds = [];
    for (let i = 0; i < 4; i += 1) {
      const answer = await chat(worker);
      outageIds.push(answer.id);
      // Sequential flushes, so that what each one read and sent is known.
      const line = await flushEnded(worker, answer.id);
      // Its own record failed; the earlier ones wait for their stored retry time (6 to 12 s), unless it came.
      const [, retryLater] = /: 0 sent, (\d+) to retry later, 0 dead-lettered, (\d+) waiting in KV$/.exec(line.message) ?? [];
      assert.ok(Number(retryLater) >= 1 && Number(retryLater) <= i + 1, line.message);
      assert.match(line.message, new RegExp(`, ${i + 1} waiting in KV$`));
    }
    assert.deepEqual(ingest.accepted(), [], 'nothing accepted during the outage');
    const failed = ingest.requests();
    assert.ok(failed.length >= outageIds.length && failed.every((r) => r.status === 503), JSON.stringify(ingest.stats()));

    const waiting = await readKvOutbox(kv);
    assert.deepEqual(waiting.dead, []);
    assert.deepEqual(waiting.otherKeys, []);
    assert.deepEqual(waiting.queued.map((q) => q.responseId).sort(), [...outageIds].sort(), 'every record waits in KV');
    for (const q of waiting.queued) {
      // The attempts KV holds for a record are exactly the failed requests that carried it.
      const tries = failed.filter((r) => trackedIds(r).includes(q.responseId)).length;
      assert.equal(q.attempts, tries, `attempts of ${q.responseId}`);
      assert.ok(tries >= 1 && tries < WORKER_MAX_ATTEMPTS);
      assert.equal(q.record.customer_key, 'acme');
    }
    const duringOutage = await kvOps(worker);
    // Bound during the outage: one put per request (its record's segment) + one put per failed batch (the new
    // attempt counts of the records it carried); nothing is deleted (nothing delivered or dead-lettered).
    assert.ok(duringOutage.put <= outageIds.length + failed.length, JSON.stringify(duringOutage));
    assert.equal(duringOutage.delete, 0);

    ingest.setFaults(null);
    const recovered = await chat(worker);
    const ids = [...outageIds, recovered.id];
    await deliveredAndDrained(kv, ids);
    assertExactlyOnce(ids);
    // The recovery request's flush: its own record (with any whose retry time had come) is accepted, which ends
    // the retry pause: the records still waiting follow at once in one more batch, oldest first.
    const delivering = ingest.requests().filter((r) => r.status === 202).map(trackedIds);
    assert.ok(delivering.length <= 2, JSON.stringify(delivering));
    assert.ok(delivering[0].includes(recovered.id), JSON.stringify(delivering));
    assert.deepEqual(delivering.flat().sort(), [...ids].sort());

    const ops = await kvOps(worker);
    const perRecord = ((ops.put + ops.delete) / ids.length).toFixed(2);
    t.diagnostic(`KV calls for ${ids.length} records (${outageIds.length} during the outage, ${failed.length} failed batches): ` +
      `${JSON.stringify(ops)}; ${perRecord} writes (put+delete) per record`);
    // Bound over the whole run: per record, 1 put + 1 delete (its own segment); per failed batch, 1 put (the
    // attempt counts) + 1 delete (that segment, once its records are delivered). Segments are written once and
    // deleted once: KV is empty at the end, so deletes equal puts.
    assert.ok(ops.put <= ids.length + failed.length, JSON.stringify(ops));
    assert.equal(ops.delete, ops.put, 'every segment written was deleted once');
    assert.deepEqual(await listAllKeys(kv), []);
  });

  test('an outage over more requests than maxAttempts: each record spends attempts at the backoff pace, not one per request', async () => {
    const { worker, kv } = await startQueueWorker();
    ingest.setFaults({ always: { status: 503 } });
    const outageIds = [];
    for (let i = 0; i < WORKER_MAX_ATTEMPTS + 2; i += 1) {
      const answer = await chat(worker);
      outageIds.push(answer.id);
      await flushEnded(worker, answer.id);
    }
    // Before the stored retry time, every new isolate tried the whole backlog: the oldest records were
    // dead letters after maxAttempts requests. Now a record waits 6 to 12 s after its first failure.
    const waiting = await readKvOutbox(kv);
    assert.deepEqual(waiting.dead, [], 'nothing ran out of attempts');
    const failed = ingest.requests();
    for (const q of waiting.queued) {
      const tries = failed.filter((r) => trackedIds(r).includes(q.responseId)).length;
      assert.equal(q.attempts, tries, `attempts of ${q.responseId}`);
      assert.ok(tries <= 3, `${q.responseId}: ${tries} attempts within a few seconds`);
    }
    assert.deepEqual(waiting.queued.map((q) => q.responseId).sort(), [...outageIds].sort());
    assert.deepEqual(ingest.accepted(), []);

    ingest.setFaults(null);
    const recovered = await chat(worker);
    const ids = [...outageIds, recovered.id];
    await deliveredAndDrained(kv, ids);
    assertExactlyOnce(ids);
  });

  test('a tracker per request, a request every ~150 ms through a 4 s outage: attempts only at the backoff pace', async (t) => {
    // backoff-queue-worker: a new tracker per request, retryBaseDelayMs 400, retryMaxDelayMs 3200, maxAttempts 10,
    // flushes of 250 ms. The queue draws the delay after a record's n-th failed attempt from [w/2, w), with
    // w = min(3200, 400·2^(n-1)) (equal jitter, stored with the record: README "Retries across isolates"), so
    // the ingest must see a record's attempts n and n+1 at least w/2 apart, whichever isolate's tracker sends
    // them. Lower bounds only: a slow machine makes the gaps longer, never shorter. Before the retry time was
    // stored, every request's new tracker retried the whole backlog: attempts ~150 ms apart, and the first
    // records were dead letters after 10 requests.
    const BASE = 400;
    const MAX = 3200;
    const CLOCK_TOLERANCE_MS = 30; // workerd's Date.now() moves with I/O events; Node and workerd share the clock
    const lowerBound = (failed) => Math.floor(Math.min(MAX, BASE * 2 ** (failed - 1)) / 2) - CLOCK_TOLERANCE_MS;
    const { worker, kv } = await startQueueWorker({ entry: fixture('backoff-queue-worker.mjs') });
    const request = async (responseId, deadline) => {
      const res = await worker.dispatchFetch(deadline === undefined ? '/' : `/?deadline=${deadline}`, { method: 'POST', body: responseId });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      const prefix = `flush ${responseId} `;
      const line = await waitFor(() => worker.logs().find((l) => l.message.startsWith(prefix)), {
        what: `the end of the flush of ${responseId}`,
        describe: () => JSON.stringify(worker.logs().slice(-5)),
      });
      return JSON.parse(line.message.slice(prefix.length));
    };

    ingest.setFaults({ always: { status: 503 } });
    const outageIds = [];
    const reports = [];
    const started = Date.now();
    // One request at a time (KV has no lock: two flushes at once may send the same record together, which
    // counts once but would blur the gaps), each ~150 ms after the previous one's flush ended.
    while (Date.now() - started < 4000) {
      const id = `backoff-outage-${String(outageIds.length).padStart(3, '0')}`;
      outageIds.push(id);
      reports.push(await request(id));
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    assert.deepEqual(reports.filter((r) => r.deadLettered !== 0), [], 'no flush dead-lettered anything');
    const waiting = await readKvOutbox(kv);
    assert.deepEqual(waiting.dead, [], 'nothing ran out of attempts during the outage');
    assert.deepEqual(waiting.queued.map((q) => q.responseId).sort(), [...outageIds].sort(), 'every record waits in KV');
    assert.deepEqual(ingest.accepted(), []);

    const failed = ingest.requests();
    assert.ok(failed.every((r) => r.status === 503), JSON.stringify(ingest.stats()));
    let retried = 0;
    let closest = Infinity; // the smallest margin over the lower bound, for the diagnostic
    for (const id of outageIds) {
      const seen = failed.filter((r) => trackedIds(r).includes(id)).map((r) => r.at);
      assert.ok(seen.length >= 1, `${id} was sent during the outage`);
      // Each request the ingest saw is an attempt KV counts (a send cut short by a flush's deadline may count
      // without reaching the ingest: then the n-th one seen is at least the n-th attempt, and its bound holds).
      const stored = waiting.queued.find((q) => q.responseId === id)?.attempts;
      assert.ok(stored >= seen.length && stored < 10, `${id}: ${stored} attempts stored, ${seen.length} seen`);
      for (let n = 1; n < seen.length; n += 1) {
        const gap = seen[n] - seen[n - 1];
        assert.ok(
          gap >= lowerBound(n),
          `${id}: attempt ${n + 1} came ${gap} ms after attempt ${n}, before the backoff's lower bound ` +
            `${lowerBound(n) + CLOCK_TOLERANCE_MS} ms (attempts at ${seen.map((at) => at - started).join(', ')} ms)`,
        );
        retried += 1;
        closest = Math.min(closest, gap - lowerBound(n) - CLOCK_TOLERANCE_MS);
      }
    }
    t.diagnostic(`${outageIds.length} requests, ${failed.length} failed batches, ${retried} retries checked, ` +
      `the closest ${closest} ms above its backoff's lower bound`);
    // The test has teeth only if records were retried across trackers: the first one, at least twice.
    assert.ok(failed.filter((r) => trackedIds(r).includes(outageIds[0])).length >= 3, 'the first record was retried');

    ingest.setFaults(null);
    const recoveredId = 'backoff-recovered';
    await request(recoveredId, 5000);
    const ids = [...outageIds, recoveredId];
    await deliveredAndDrained(kv, ids);
    assertExactlyOnce(ids);
  });

  test('the cron delivers what waits in KV without any chat', async () => {
    const { worker, kv } = await startQueueWorker();
    ingest.setFaults({ always: { status: 503 } });
    const answer = await chat(worker);
    await flushEnded(worker, answer.id);
    assert.deepEqual((await readKvOutbox(kv)).queued.map((q) => q.responseId), [answer.id]);

    ingest.setFaults(null);
    const result = await worker.scheduled('*/15 * * * *');
    assert.equal(result.outcome, 'ok');
    // The cron's flush waits for the record's stored retry time (6 to 12 s after its failure), then sends it.
    await deliveredAndDrained(kv, [answer.id], { timeoutMs: 25_000 });
    assertExactlyOnce([answer.id]);
  });
});

describe('an isolate restart', () => {
  test('between track and delivery loses nothing: a new isolate on the same KV delivers the old records', async () => {
    const kvPersist = await tempKvDir();
    const first = await startQueueWorker({ kvPersist });

    // A record whose flush failed (ingest down) ...
    ingest.setFaults({ always: { status: 503 } });
    const failedOne = await chat(first.worker);
    await flushEnded(first.worker, failedOne.id);
    // ... and one whose batch is on its way when the isolate dies (the ingest holds the request, then the
    // isolate is gone: no reply, nothing stored).
    ingest.setFaults({ queue: [{ kind: 'slow', delayMs: 20_000 }] });
    const inFlight = await chat(first.worker);
    await waitFor(() => ingest.faults().queue.length === 0, { what: 'the batch to reach the ingest server' });
    const beforeRestart = await readKvOutbox(first.kv);
    assert.deepEqual(beforeRestart.queued.map((q) => q.responseId).sort(), [failedOne.id, inFlight.id].sort());
    await first.worker.dispose(); // the isolate dies with its waitUntil work unfinished
    assert.deepEqual(ingest.accepted(), []);

    ingest.setFaults(null);
    const second = await startQueueWorker({ kvPersist });
    const survived = await readKvOutbox(second.kv);
    assert.deepEqual(survived.queued.map((q) => q.responseId).sort(), [failedOne.id, inFlight.id].sort(), 'KV kept both');
    const next = await chat(second.worker);
    const ids = [failedOne.id, inFlight.id, next.id];
    await deliveredAndDrained(second.kv, ids);
    assertExactlyOnce(ids);
  });
});

describe('the library defaults in a Worker (design.md §1 as written)', () => {
  test(
    'an outage during one request leaves its record queued for later flushes (attempts "spread over flushes")',
    async () => {
      const { worker, kv } = await startQueueWorker({ entry: fixture('default-queue-worker.mjs') });
      ingest.setFaults({ always: { status: 503 } });
      const responseId = 'default-options-outage-0001';
      const res = await worker.dispatchFetch('/', { method: 'POST', body: responseId });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      const line = await waitFor(() => worker.logs().find((l) => l.message.startsWith('flush report ')), {
        what: 'the flush report',
        timeoutMs: 25_000,
      });
      const report = JSON.parse(line.message.slice('flush report '.length));
      const attempts = ingest.requests().filter((r) => trackedIds(r).includes(responseId)).length;
      const waiting = await readKvOutbox(kv);
      assert.deepEqual(
        { deadLettered: report.deadLettered, queued: waiting.queued.map((q) => q.responseId), dead: waiting.dead.length },
        { deadLettered: 0, queued: [responseId], dead: 0 },
        `one flush made ${attempts} attempts; report ${JSON.stringify(report)}`,
      );
      // Queue defaults: attempts without limit at an equal-jitter backoff from 2 s (waits of 1–2, 2–4, 4–8, 8–16 s):
      // a 20 s flush makes at most 5 attempts (1 + 2 + 4 + 8 s of minimum waits fit, adding 16 s does not).
      assert.ok(attempts <= 5, `one flush made ${attempts} attempts`);
    },
  );
});
