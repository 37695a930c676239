// The Durable Object outbox (AicmOutbox + durableObjectSink) in real workerd (Miniflare 4, SQLite-backed objects,
// storage and alarms persisted on disk where a test restarts workerd). Producers are separate Miniflare workers,
// each its own isolate, with a tracker per request whose sink POSTs to the one object; every POST the object makes
// reaches the local ingest (tests/ingest), which logs it. Needs the packed package in tests/js/node_modules.
//
// Time is compressed: the object's retry policy is the library queue's (2 s … 5 min backoff windows) divided by
// 10 for the base (200 ms) and by 30 for the cap (10 s); the 20-s outage stands for ≈ 3.3 minutes at ×10.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { startIngestServer } from '../ingest/server.mjs';
import { readDurableObjectToml, startOutboxWorkers } from './support-workerd/durable-object.mjs';
import { waitFor } from './support-workerd/wait.mjs';

const API_KEY = 'aicm-test-key-durable-object';
// maxAttempts stays the persistent queue's default: unlimited for outages (dead letters by age only).
const POLICY = { retryBaseDelayMs: 200, retryMaxDelayMs: 10_000 };
const RETRY_ALARM_MS = 2_000; // the safety alarm an alarm sets before it flushes (default 30 s)
const COALESCE_MS = 1_000; // OUTBOX_SETTINGS.coalesceMs, the default the tests keep
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let ingest;
let cleanups = [];

before(async () => {
  ingest = await startIngestServer({ apiKey: API_KEY });
});
after(async () => {
  await ingest?.close();
});
beforeEach(() => {
  ingest.reset();
  cleanups = [];
});
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

function env(options = {}) {
  return { AICM_API_KEY: API_KEY, AICM_API_BASE: ingest.url, AICM_OUTBOX_OPTIONS: JSON.stringify({ ...POLICY, retryAlarmMs: RETRY_ALARM_MS, ...options }) };
}

async function start(options) {
  const workers = await startOutboxWorkers(options);
  cleanups.push(() => workers.dispose());
  return workers;
}

async function tempDir() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'aicm-do-persist-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function getJson(handle, pathname) {
  const response = await handle.fetch(pathname);
  const text = await response.text();
  assert.equal(response.status, 200, `${pathname}: ${text}`);
  return JSON.parse(text);
}

/** response_id → how many POSTs that the ingest answered 2xx carried it. */
function deliveredSends() {
  const sends = new Map();
  for (const request of ingest.requests()) {
    if (request.status < 200 || request.status > 299) continue;
    for (const record of JSON.parse(request.bodyText).tracked) sends.set(record.response_id, (sends.get(record.response_id) ?? 0) + 1);
  }
  return sends;
}

const acceptedIds = () => new Set(ingest.accepted().map((r) => r.response_id));

/** Most POSTs an outage of `ms` can see: one per coalescing window (new records) plus the backoff of the oldest. */
function postBound(ms) {
  let attempts = 1;
  for (let spent = 0, k = 0; ; k += 1) {
    spent += Math.min(POLICY.retryBaseDelayMs * 2 ** k, POLICY.retryMaxDelayMs) / 2; // equal jitter: ≥ w/2
    if (spent > ms) break;
    attempts += 1;
  }
  return Math.ceil(ms / COALESCE_MS) + attempts;
}

describe('Durable Object outbox in workerd', () => {
  test('the README shows the wrangler.toml the tests bind (binding, class, SQLite migration)', async () => {
    const snippet = await readDurableObjectToml();
    assert.equal(snippet.binding, 'AICM_OUTBOX');
    assert.equal(snippet.className, 'AicmOutbox');
    assert.deepEqual(snippet.sqliteClasses, ['AicmOutbox']);
    for (const readme of ['README.md', 'pkg-template/README.md']) {
      const text = await readFile(path.join(REPO, readme), 'utf8');
      assert.ok(text.includes(snippet.text.trim()), `${readme} shows fixtures/durable-object.wrangler.toml verbatim`);
    }
  });

  test('outage: 5 requests/s from 4 producer isolates, 20 s of 503, recovery drained by alarms alone: 0 lost, 0 duplicate sends', async (t) => {
    const workers = await start({ producers: 4, className: 'CountingOutbox', env: env() });
    const tracked = [];
    const results = [];
    let n = 0;
    /** `seconds` of traffic at 5 requests/s, round robin over the producers; resolves once every answer is in. */
    const traffic = async (seconds) => {
      const pending = [];
      const t0 = Date.now();
      for (let i = 0; i < seconds * 5; i += 1) {
        const id = `do-outage-${n}`;
        const producer = workers.producer(n);
        n += 1;
        tracked.push(id);
        pending.push(producer.fetch(`/track?id=${id}`).then((r) => r.json()).then((r) => results.push(r)));
        await sleep(Math.max(0, t0 + (i + 1) * 200 - Date.now()));
      }
      await Promise.all(pending);
    };

    await traffic(3);
    ingest.setFaults({ always: { status: 503 } });
    const outageStart = Date.now();
    await traffic(20);
    const outageEnd = Date.now();
    ingest.setFaults(null);
    // No request from here on: the object's alarm alone drains what waits.
    await waitFor(() => acceptedIds().size === tracked.length, {
      timeoutMs: 60_000,
      intervalMs: 200,
      what: 'every tracked record accepted by the ingest',
      describe: () => `${acceptedIds().size} of ${tracked.length}`,
    });

    assert.equal(results.length, tracked.length);
    const notQueued = results.filter((r) => r.status !== 'queued');
    assert.deepEqual(notQueued, [], 'every track() resolved "queued": the object had the record in storage');
    assert.deepEqual([...acceptedIds()].sort(), [...tracked].sort(), '0 lost');
    const sends = deliveredSends();
    const twice = [...sends].filter(([, count]) => count > 1);
    assert.deepEqual(twice, [], '0 duplicate sends: no response_id in two accepted POSTs');

    const outagePosts = ingest.requests().filter((r) => r.at >= outageStart && r.at <= outageEnd && r.status === 503).length;
    assert.ok(outagePosts >= 1, 'the object tried during the outage');
    assert.ok(outagePosts <= postBound(outageEnd - outageStart), `${outagePosts} POSTs during the outage, bound ${postBound(outageEnd - outageStart)}`);

    const stats = await getJson(workers.producer(0), '/outbox/stats');
    assert.equal(stats.queued + stats.inFlight + stats.deadLettered, 0, JSON.stringify(stats));
    assert.equal(stats.nextDueAt, null);
    const counts = await getJson(workers.producer(0), '/__counts');
    assert.equal(counts.deleteKeys, tracked.length, 'each delivered record deleted once');
    assert.ok(counts.putKeys <= tracked.length * (outagePosts + 1), `row writes ${counts.putKeys}`);
    t.diagnostic(`records ${tracked.length}; POSTs ${ingest.requests().length} (${outagePosts} during the outage, bound ${postBound(outageEnd - outageStart)}); ` +
      `per record: object requests ${(counts.requests / tracked.length).toFixed(2)}, alarms ${(counts.alarms / tracked.length).toFixed(2)}, ` +
      `put keys ${(counts.putKeys / tracked.length).toFixed(2)}, delete keys ${(counts.deleteKeys / tracked.length).toFixed(2)}, ` +
      `listed rows ${(counts.listed / tracked.length).toFixed(2)}, setAlarm ${(counts.setAlarm / tracked.length).toFixed(2)}`);
  });

  test('restart: workerd disposed between track and delivery (storage and alarm on disk); the alarm delivers with no request', async () => {
    const persist = await tempDir();
    ingest.setFaults({ always: { status: 503 } });
    const first = await start({ producers: 1, className: 'AicmOutbox', persist, env: env() });
    const ids = Array.from({ length: 10 }, (_, i) => `do-restart-${i}`);
    for (const id of ids) assert.equal((await getJson(first.producer(0), `/track?id=${id}`)).status, 'queued');
    await waitFor(() => ingest.requests().length >= 1, { timeoutMs: 10_000, what: 'a first (failing) POST' });
    const before = await getJson(first.producer(0), '/outbox/stats');
    assert.equal(before.queued + before.inFlight, ids.length, JSON.stringify(before));
    assert.equal(typeof before.alarmAt, 'number', 'an alarm is set for the retry');
    await first.dispose();

    ingest.setFaults(null);
    const second = await start({ producers: 1, className: 'AicmOutbox', persist, env: env() });
    await waitFor(() => acceptedIds().size === ids.length, {
      timeoutMs: 30_000,
      intervalMs: 100,
      what: 'the restarted object delivering the records through its alarm',
      describe: () => `${acceptedIds().size} of ${ids.length}`,
    });
    assert.deepEqual([...deliveredSends().values()], ids.map(() => 1), 'each delivered once');
    const after = await getJson(second.producer(0), '/outbox/stats');
    assert.equal(after.queued + after.inFlight, 0, JSON.stringify(after));
  });

  test('dead letters are reachable from a Worker: listed, requeued (then delivered), purged', async () => {
    const workers = await start({ producers: 1, className: 'AicmOutbox', env: env() });
    ingest.setFaults({ queue: [{ kind: 'recordError', responseIds: ['do-dl-0', 'do-dl-1'] }] });
    for (const id of ['do-dl-0', 'do-dl-1', 'do-dl-2']) assert.equal((await getJson(workers.producer(0), `/track?id=${id}`)).status, 'queued');
    await waitFor(async () => (await getJson(workers.producer(0), '/outbox/stats')).deadLettered === 2, { timeoutMs: 10_000, what: '2 dead letters' });
    const letters = await getJson(workers.producer(0), '/outbox/dead-letters');
    assert.deepEqual(letters.map((l) => l.responseId).sort(), ['do-dl-0', 'do-dl-1']);
    assert.match(letters[0].reason + letters[0].errors.join(' '), /Injected record error/);
    assert.deepEqual(await getJson(workers.producer(0), '/outbox/requeue?ids=do-dl-0'), { requeued: 1 });
    await waitFor(() => acceptedIds().has('do-dl-0'), { timeoutMs: 10_000, what: 'the requeued record delivered by the alarm' });
    assert.deepEqual(await getJson(workers.producer(0), '/outbox/purge'), { purged: 1 });
    const stats = await getJson(workers.producer(0), '/outbox/stats');
    assert.equal(stats.deadLettered + stats.queued, 0, JSON.stringify(stats));
    assert.deepEqual([...acceptedIds()].sort(), ['do-dl-0', 'do-dl-2']);
  });

  test('the object refuses what it cannot take: malformed POSTs (400, nothing taken), a full outbox (503, the producer reports E_SINK)', async () => {
    const workers = await start({ producers: 1, className: 'AicmOutbox', env: env({ maxQueueSize: 2 }) });
    ingest.setFaults({ always: { status: 503 } });
    const raw = async (body) => {
      const response = await workers.producer(0).fetch('/raw-records', { method: 'POST', body });
      return { status: response.status, body: await response.json() };
    };
    const good = JSON.stringify({ service_key: 'openai::gpt-4o-mini', response_id: 'do-raw-ok', timestamp: '1.0', payload: {} });
    for (const [body, code] of [
      ['not json', 'E_BAD_REQUEST'],
      [JSON.stringify({ records: [] }), 'E_BAD_REQUEST'],
      [JSON.stringify([good, 42]), 'E_INVALID_RECORD'],
      [JSON.stringify([good, '{"service_key":"s"}']), 'E_INVALID_RECORD'],
      [JSON.stringify([good, '[1]']), 'E_INVALID_RECORD'],
    ]) {
      const answer = await raw(body);
      assert.equal(answer.status, 400, `${body}: ${JSON.stringify(answer)}`);
      assert.equal(answer.body.error.code, code, body);
    }
    let stats = await getJson(workers.producer(0), '/outbox/stats');
    assert.equal(stats.queued, 0, 'a refused batch takes nothing, not even its good records');
    assert.equal((await getJson(workers.producer(0), '/track?id=do-full-0')).status, 'queued');
    assert.equal((await getJson(workers.producer(0), '/track?id=do-full-1')).status, 'queued');
    const full = await getJson(workers.producer(0), '/track?id=do-full-2');
    assert.equal(full.status, 'failed', JSON.stringify(full));
    assert.equal(full.error.code, 'E_SINK');
    assert.match(full.error.message, /503.*E_QUEUE_FULL/);
    const again = await getJson(workers.producer(0), '/track?id=do-full-0');
    assert.equal(again.status, 'queued', 'a duplicate of a held record needs no room');
    stats = await getJson(workers.producer(0), '/outbox/stats');
    assert.equal(stats.queued + stats.inFlight, 2);
  });

  test('hostile bindings give the producer a reported outcome, never a trap', async () => {
    const workers = await start({ producers: 1, className: 'AicmOutbox', env: env() });
    const cases = { throws: ['failed', 'E_SINK', /idFromName exploded/], 'fetch-throws': ['failed', 'E_SINK', /stub\.fetch exploded/],
      hangs: ['unknown', 'E_TIMEOUT', /300 ms/], 'answers-500': ['failed', 'E_SINK', /answered 500: object on fire/],
      missing: ['failed', 'E_SINK', /binding is undefined/] };
    for (const [name, [status, code, message]] of Object.entries(cases)) {
      const outcome = await getJson(workers.producer(0), `/hostile/${name}`);
      assert.equal(outcome.status, status, `${name}: ${JSON.stringify(outcome)}`);
      assert.equal(outcome.error.code, code, name);
      assert.match(outcome.error.message, message, name);
    }
    assert.deepEqual(workers.logs().filter((l) => /RuntimeError|unreachable/.test(l.message)), [], 'no wasm trap');
  });
});
