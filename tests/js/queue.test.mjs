// deliveryType "persistent_queue" in Node, from the packed package (tests/js/node_modules/aicostmanager-edge)
// against the real local ingest server: track/flush, one store write per tick, every reply kind of the ingest
// server's fault list, dead letters and their calls, bounds, dedupe, shared drains, restarts, namespaces, what
// reaches the store, stats, close, broken stores and two trackers on one store. Counts and states only: no
// assertion on elapsed time.
// Run: node --test tests/js/queue.test.mjs   (after scripts/build-pkg and unpack_pkg_into tests/js)

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';

import { memoryStore } from 'aicostmanager-edge';

import { startIngestServer } from '../ingest/server.mjs';
import { checkRecord } from '../ingest/validate.mjs';
import { assertThrowsAicm } from './support/tracker.mjs';
import { waitFor } from './support/wait.mjs';
import {
  KEY, SERVICE_KEY, acceptedIds, parseKey, persistentStore, queueTracker, recordingStore, saved, sorted, storedIds,
  trackMany, wireIds,
} from './support-queue/queue.mjs';

const REPORT_KEYS = ['deadLettered', 'durability', 'remaining', 'retryLater', 'sent'];
const STATS_KEYS = [
  'bytes', 'deadBytes', 'deadLettered', 'dropped', 'duplicates', 'durability', 'inFlight', 'nextDueAt', 'queued', 'sent', 'storeError',
  'unreadable', 'unsaved',
];

let ingest;
before(async () => {
  ingest = await startIngestServer({ apiKey: KEY });
});
after(() => ingest.close());
beforeEach(() => ingest.reset());

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every response id that went over the wire, flattened (requests whose body the server did not keep skipped). */
function allWireIds() {
  return wireIds(ingest).filter((ids) => ids !== null).flat();
}

/** Asserts the server stored exactly `ids` (in any order), each once. */
function assertAcceptedOnce(ids, server = ingest) {
  const accepted = acceptedIds(server);
  assert.equal(new Set(accepted).size, accepted.length, 'the server stored no record twice');
  assert.deepEqual(sorted(accepted), sorted(ids));
}

describe('track and flush', () => {
  it('track returns { responseId } synchronously and nothing is sent until flush', async () => {
    const tracker = queueTracker(ingest);
    const result = tracker.track(SERVICE_KEY, { prompt_tokens: 1 });
    assert.equal(typeof result?.then, 'undefined', 'not a promise');
    assert.deepEqual(Object.keys(result), ['responseId']);
    assert.match(result.responseId, /^[0-9a-f]{32}$/);
    const named = tracker.track(SERVICE_KEY, { prompt_tokens: 2 }, { responseId: 'named-1' });
    assert.deepEqual(named, { responseId: 'named-1' });
    const batch = tracker.trackBatch([
      { serviceKey: SERVICE_KEY, usage: { prompt_tokens: 3 }, responseId: 'batch-1' },
      { serviceKey: SERVICE_KEY, usage: { prompt_tokens: 4 } },
    ]);
    assert.equal(typeof batch?.then, 'undefined', 'not a promise');
    assert.equal(batch.responseIds.length, 2);
    assert.equal(batch.responseIds[0], 'batch-1');

    await saved(tracker);
    await sleep(30); // time for a stray request to arrive, were one sent
    assert.equal(ingest.requests().length, 0, 'nothing sent before flush()');
    assert.equal(tracker.stats().queued, 4);

    const report = await tracker.flush();
    assert.deepEqual(report, { sent: 4, deadLettered: 0, retryLater: 0, remaining: 0, durability: 'memory' });
    assert.equal(ingest.requests().length, 1, 'one request for four records');
    assert.deepEqual(sorted(wireIds(ingest)[0]), sorted([result.responseId, 'named-1', ...batch.responseIds]));
    assertAcceptedOnce([result.responseId, 'named-1', ...batch.responseIds]);
  });

  it('all records tracked in one tick go to the store as ONE put; the next tick makes another', async () => {
    const rec = recordingStore();
    const tracker = queueTracker(ingest, { store: rec.store });
    const first = trackMany(tracker, 5, 'tick1');
    first.push(...tracker.trackBatch([{ serviceKey: SERVICE_KEY, usage: { a: 1 }, responseId: 'tick1-b' }]).responseIds);
    await saved(tracker);
    assert.equal(rec.puts().length, 1, 'one store.put for the whole tick');
    const keys = rec.puts()[0].entries.map((e) => parseKey(e.key));
    assert.deepEqual(sorted(keys.map((k) => k.responseId)), sorted(first));
    assert.ok(keys.every((k) => k.kind === 'q'));

    const second = trackMany(tracker, 3, 'tick2');
    await saved(tracker);
    assert.equal(rec.puts().length, 2, 'a second tick, a second put');
    assert.deepEqual(sorted(rec.puts()[1].entries.map((e) => parseKey(e.key).responseId)), sorted(second));
    assert.equal(ingest.requests().length, 0);
  });

  it('flush reports what it did, delivers, and empties the store; durability comes from the store', async () => {
    const rec = recordingStore(persistentStore({ consistent: true }));
    const tracker = queueTracker(ingest, { store: rec.store });
    const ids = trackMany(tracker, 7, 'fl');
    await saved(tracker);
    assert.deepEqual(storedIds(await rec.contents(), 'q'), sorted(ids));

    const report = await tracker.flush();
    assert.deepEqual(Object.keys(report).sort(), REPORT_KEYS);
    assert.deepEqual(report, { sent: 7, deadLettered: 0, retryLater: 0, remaining: 0, durability: 'persistent' });
    assertAcceptedOnce(ids);
    assert.equal((await rec.contents()).size, 0, 'delivered records leave the store');
    assert.deepEqual(await tracker.flush(), { sent: 0, deadLettered: 0, retryLater: 0, remaining: 0, durability: 'persistent' },
      'a second flush has nothing to do');
    assert.equal(ingest.requests().length, 1);

    const noStore = queueTracker(ingest);
    noStore.track(SERVICE_KEY, { a: 1 });
    assert.equal((await noStore.flush()).durability, 'memory', 'no store: the outbox is memory');
  });

  it('the record sent is the record stored, field for field', async () => {
    const rec = recordingStore();
    const tracker = queueTracker(ingest, { store: rec.store, customerKey: 'cust-9', context: { env: 'test' } });
    tracker.track(SERVICE_KEY, { prompt_tokens: 5 }, { responseId: 'verbatim', timestamp: '2025-01-15T10:30:00Z' });
    await saved(tracker);
    const stored = JSON.parse(rec.puts()[0].entries[0].value);
    assert.equal(stored.attempts, 0);
    await tracker.flush();
    assert.equal(ingest.requests()[0].bodyText, JSON.stringify({ tracked: [stored.record] }));
    assert.deepEqual(stored.record, {
      service_key: SERVICE_KEY, response_id: 'verbatim', timestamp: '1736937000.0', payload: { prompt_tokens: 5 },
      customer_key: 'cust-9', context: { env: 'test' },
    });
  });
});

describe('retries across flushes', () => {
  it('a 503 with Retry-After past the deadline waits for a later flush, which delivers it; attempts are kept', async () => {
    const rec = recordingStore();
    const tracker = queueTracker(ingest, { store: rec.store, maxRetryAfterMs: 300 });
    const [id] = trackMany(tracker, 1, 'later');
    ingest.setFaults({ queue: [{ status: 503, retryAfter: '1' }] });

    const first = await tracker.flush({ deadlineMs: 200 });
    assert.deepEqual(first, { sent: 0, deadLettered: 0, retryLater: 1, remaining: 1, durability: 'memory' });
    assert.equal(ingest.requests().length, 1, 'one attempt in the first flush');
    assert.equal(tracker.stats().queued, 1);
    const stored = JSON.parse((await rec.contents()).get(rec.puts()[0].entries[0].key));
    assert.equal(stored.attempts, 1, 'the attempt is written to the store');

    const second = await tracker.flush();
    assert.deepEqual(second, { sent: 1, deadLettered: 0, retryLater: 0, remaining: 0, durability: 'memory' });
    assert.deepEqual(wireIds(ingest), [[id], [id]], 'the same response_id both times');
    assertAcceptedOnce([id]);
    assert.deepEqual(await tracker.deadLetters(), []);
    assert.equal((await rec.contents()).size, 0);
  });

  it('attempts add up over flushes until maxAttempts, then the record is a dead letter with the reason', async () => {
    const tracker = queueTracker(ingest, { maxAttempts: 3, maxRetryAfterMs: 300 });
    const [id] = trackMany(tracker, 1, 'spread');
    ingest.setFaults({ always: { status: 503, retryAfter: '1' } });
    assert.deepEqual(await tracker.flush({ deadlineMs: 150 }), { sent: 0, deadLettered: 0, retryLater: 1, remaining: 1, durability: 'memory' });
    assert.equal(ingest.requests().length, 1);
    // Retry-After (capped at 300 ms) outlasts the 150 ms deadline; the next flush waits for it twice.
    const second = await tracker.flush({ deadlineMs: 5000 });
    assert.equal(second.sent, 0);
    assert.equal(ingest.requests().length, 3, 'attempts 2 and 3 within the long flush');
    assert.equal(second.deadLettered, 1);
    const [letter] = await tracker.deadLetters();
    assert.equal(letter.responseId, id);
    assert.equal(letter.attempts, 3);
    assert.equal(letter.status, 503);
    assert.match(letter.reason, /gave up after 3 attempts: HTTP 503/);
  });
});

describe('every reply kind of the ingest fault list', () => {
  const retryable = [
    ['500', { status: 500 }],
    ['502', { status: 502 }],
    ['503', { status: 503 }],
    ['504', { status: 504 }],
    ['408', { status: 408 }],
    ['429 + Retry-After (capped by maxRetryAfterMs)', { status: 429, retryAfter: '30' }],
    ['dropped connection', { kind: 'drop' }],
    ['dropped after the server stored them', { kind: 'drop', afterAccept: true }],
    ['slow beyond timeoutMs', { kind: 'slow', delayMs: 1500 }, { timeoutMs: 300 }],
  ];
  for (const [name, fault, options = {}] of retryable) {
    it(`${name}: retried, every record delivered once at the server`, async () => {
      const tracker = queueTracker(ingest, options);
      const ids = trackMany(tracker, 3, `r${name.replace(/\W+/g, '')}`);
      ingest.setFaults({ queue: [fault] });
      const report = await tracker.flush();
      assert.deepEqual(report, { sent: 3, deadLettered: 0, retryLater: 0, remaining: 0, durability: 'memory' });
      // A slow reply is logged when the server gives up on it, which may be after the retry was answered.
      await waitFor(() => ingest.requests().length === 2, 'the failed request and its retry in the log');
      const wire = wireIds(ingest);
      assert.equal(wire.length, 2, 'the failed request and its retry');
      assert.deepEqual(sorted(wire[1]), sorted(ids), 'the retry carries the same response_ids');
      assertAcceptedOnce(ids);
      const serverDuplicates = ingest.stats().duplicates;
      const storedFirst = fault.afterAccept === true;
      assert.equal(serverDuplicates, storedFirst ? 3 : 0, 'the server deduplicated what it had already stored');
      assert.deepEqual(await tracker.deadLetters(), []);
    });
  }

  it('2xx with a body that is not JSON: not retried (the server took the request); not-confirmed dead letters to requeue', async () => {
    // One reply contract with immediate delivery (`unknown`, not retried): the server stored them.
    const tracker = queueTracker(ingest);
    const ids = trackMany(tracker, 3, 'rbadJson');
    ingest.setFaults({ queue: [{ kind: 'badJson' }] });
    const report = await tracker.flush();
    assert.deepEqual(report, { sent: 0, deadLettered: 3, retryLater: 0, remaining: 0, durability: 'memory' });
    assert.equal(ingest.requests().length, 1, 'not retried');
    assertAcceptedOnce(ids);
    const letters = await tracker.deadLetters();
    assert.deepEqual(sorted(letters.map((l) => l.responseId)), sorted(ids));
    for (const letter of letters) {
      assert.equal(letter.status, 202);
      assert.match(letter.reason, /^not confirmed: the server took the request \(HTTP 202\) and may hold the record: unreadable \/track response/);
    }
    // A requeue sends them again under the same response_ids: the service keeps one of each.
    assert.equal(await tracker.requeueDeadLetters(), 3);
    assert.deepEqual(await tracker.flush(), { sent: 3, deadLettered: 0, retryLater: 0, remaining: 0, durability: 'memory' });
    assertAcceptedOnce(ids);
    assert.equal(ingest.stats().duplicates, 3, 'the server deduplicated what it had already stored');
  });

  it('429 + Retry-After is honoured: with a high cap, a short flush leaves the record for later', async () => {
    const tracker = queueTracker(ingest, { maxRetryAfterMs: 60_000 });
    trackMany(tracker, 1, 'ra');
    ingest.setFaults({ queue: [{ status: 429, retryAfter: '2' }] });
    const report = await tracker.flush({ deadlineMs: 500 });
    // Backoff alone (1..5 ms) would have retried within 500 ms: the wait comes from Retry-After.
    assert.deepEqual(report, { sent: 0, deadLettered: 0, retryLater: 1, remaining: 1, durability: 'memory' });
    assert.equal(ingest.requests().length, 1);
  });

  it('a per-record error: that record alone is a dead letter with the server\'s errors, the others delivered', async () => {
    const rec = recordingStore();
    const tracker = queueTracker(ingest, { store: rec.store });
    const ids = trackMany(tracker, 3, 'rec');
    ingest.setFaults({ queue: [{ kind: 'recordError', responseIds: ['rec-1'] }] });
    const report = await tracker.flush();
    assert.deepEqual(report, { sent: 2, deadLettered: 1, retryLater: 0, remaining: 0, durability: 'memory' });
    assert.equal(ingest.requests().length, 1, 'no retry for a refused record');
    assertAcceptedOnce(['rec-0', 'rec-2']);
    const [letter] = await tracker.deadLetters();
    assert.equal(letter.responseId, 'rec-1');
    assert.deepEqual(letter.errors, ['Injected record error.']);
    assert.match(letter.reason, /Injected record error\./);
    assert.equal(letter.attempts, 0);
    assert.deepEqual(letter.record.response_id, 'rec-1');
    assert.ok(letter.deadLetteredAt >= letter.createdAt);
    const contents = await rec.contents();
    assert.deepEqual(storedIds(contents, 'q'), []);
    assert.deepEqual(storedIds(contents, 'd'), ['rec-1']);
    const stored = JSON.parse([...contents.values()][0]);
    assert.deepEqual(stored.errors, ['Injected record error.']);
    assert.equal(stored.record.response_id, ids[1]);
  });

  for (const [name, makeTracker] of [
    ['400', () => { ingest.setFaults({ queue: [{ status: 400, body: { detail: 'Bad request (injected).' } }] }); return queueTracker(ingest); }],
    ['401 (a wrong API key)', () => queueTracker(ingest, { apiKey: 'wrong-api-key' })],
  ]) {
    it(`${name}: the whole batch is dead-lettered with the status and the server's message, no retry`, async () => {
      const tracker = makeTracker();
      const ids = trackMany(tracker, 3, `perm${name.slice(0, 3)}`);
      const report = await tracker.flush();
      assert.deepEqual(report, { sent: 0, deadLettered: 3, retryLater: 0, remaining: 0, durability: 'memory' });
      assert.equal(ingest.requests().length, 1);
      const status = Number(name.slice(0, 3));
      const letters = await tracker.deadLetters();
      assert.deepEqual(sorted(letters.map((l) => l.responseId)), sorted(ids));
      for (const letter of letters) {
        assert.equal(letter.status, status);
        assert.match(letter.reason, new RegExp(`HTTP ${status}`));
        assert.match(letter.reason, status === 400 ? /Bad request \(injected\)/ : /Invalid API key/);
      }
      assert.deepEqual(acceptedIds(ingest), []);
    });
  }

  it('422 naming one invalid record (corrupted on the way): it alone is dead, with the server\'s errors', async () => {
    let corrupted = null;
    const corruptingFetch = (url, init) => {
      const body = JSON.parse(init.body);
      const target = body.tracked.find((r) => r.response_id === 'bad-2');
      if (target !== undefined) {
        target.timestamp = 'not a timestamp';
        target.surprise = true;
        corrupted = structuredClone(target);
      }
      return fetch(url, { ...init, body: JSON.stringify(body) });
    };
    const tracker = queueTracker(ingest, { fetch: corruptingFetch });
    const ids = trackMany(tracker, 5, 'bad');
    const report = await tracker.flush();
    assert.deepEqual(report, { sent: 4, deadLettered: 1, retryLater: 0, remaining: 0, durability: 'memory' });
    const requests = ingest.requests();
    assert.deepEqual(requests.map((r) => r.status), [422, 202]);
    assert.deepEqual(sorted(wireIds(ingest)[1]), sorted(ids.filter((id) => id !== 'bad-2')), 'the rest sent again');
    assertAcceptedOnce(ids.filter((id) => id !== 'bad-2'));
    const [letter] = await tracker.deadLetters();
    assert.equal(letter.responseId, 'bad-2');
    assert.equal(letter.status, 422);
    const expected = checkRecord(corrupted).errors;
    assert.ok(expected.length >= 2, 'the corruption gives the server something to say');
    assert.deepEqual(letter.errors, expected, 'the errors are what the server said about this record');
    assert.notEqual(letter.record.timestamp, 'not a timestamp', 'the dead letter keeps the record as tracked');
  });

  describe('413 from a server with maxBodyBytes', () => {
    let small;
    before(async () => {
      small = await startIngestServer({ apiKey: KEY, maxBodyBytes: 700 });
    });
    after(() => small.close());
    beforeEach(() => small.reset());

    it('a batch above maxBodyBytes is split until it fits; everything delivered once', async () => {
      const tracker = queueTracker(small);
      const ids = trackMany(tracker, 12, 'split');
      const report = await tracker.flush();
      assert.deepEqual(report, { sent: 12, deadLettered: 0, retryLater: 0, remaining: 0, durability: 'memory' });
      const statuses = small.requests().map((r) => r.status);
      assert.equal(statuses[0], 413, 'the whole batch was refused first');
      assert.ok(statuses.filter((s) => s === 202).length >= 2, `split into several requests: ${statuses}`);
      assert.ok(small.requests().filter((r) => r.status === 202).every((r) => r.bodyBytes <= 700));
      assertAcceptedOnce(ids, small);
    });

    it('a single record above maxBodyBytes is a dead letter with status 413; the others are delivered', async () => {
      const tracker = queueTracker(small);
      const ids = trackMany(tracker, 3, 'fits');
      tracker.track(SERVICE_KEY, { prompt_tokens: 1, note: 'x'.repeat(1000) }, { responseId: 'huge' });
      const report = await tracker.flush();
      assert.deepEqual(report, { sent: 3, deadLettered: 1, retryLater: 0, remaining: 0, durability: 'memory' });
      assertAcceptedOnce(ids, small);
      const [letter] = await tracker.deadLetters();
      assert.equal(letter.responseId, 'huge');
      assert.equal(letter.status, 413);
      assert.match(letter.reason, /413/);
    });
  });
});

describe('caps on attempts and age', () => {
  it('maxAttempts exhausted within one flush: dead letter with the reason, status and attempts', async () => {
    const tracker = queueTracker(ingest, { maxAttempts: 2 });
    const [id] = trackMany(tracker, 1, 'cap');
    ingest.setFaults({ always: { status: 503 } });
    const report = await tracker.flush();
    assert.deepEqual(report, { sent: 0, deadLettered: 1, retryLater: 0, remaining: 0, durability: 'memory' });
    assert.equal(ingest.requests().length, 2);
    const [letter] = await tracker.deadLetters();
    assert.equal(letter.responseId, id);
    assert.equal(letter.attempts, 2);
    assert.equal(letter.status, 503);
    assert.match(letter.reason, /gave up after 2 attempts/);
  });

  it('by default the queue never dead-letters by attempts: an outage only delays a record, which goes out after it', async () => {
    const tracker = queueTracker(ingest);
    const [id] = trackMany(tracker, 1, 'outage');
    ingest.setFaults({ always: { kind: 'drop' } });
    const report = await tracker.flush({ deadlineMs: 300 });
    assert.equal(report.deadLettered, 0, JSON.stringify(report));
    assert.equal(report.remaining, 1);
    const tries = ingest.requests().length;
    assert.ok(tries > 10, `${tries} attempts in 300 ms at the test's 1–5 ms backoff, more than any maxAttempts allows`);
    assert.deepEqual(await tracker.deadLetters(), []);
    ingest.setFaults({ always: null });
    const after = await tracker.flush();
    assert.equal(after.sent, 1);
    assertAcceptedOnce([id]);
  });

  it('maxAgeMs: a record older than it is dead-lettered at its next failure, not before', async () => {
    const tracker = queueTracker(ingest, { maxAgeMs: 1000, maxBatchSize: 1, maxAttempts: 10 });
    const ids = trackMany(tracker, 2, 'old');
    await sleep(1100);
    ingest.setFaults({ queue: [{ status: 503 }] });
    const report = await tracker.flush();
    assert.deepEqual(report, { sent: 1, deadLettered: 1, retryLater: 0, remaining: 0, durability: 'memory' });
    const [letter] = await tracker.deadLetters();
    const [failed] = wireIds(ingest)[0];
    assert.equal(letter.responseId, failed);
    assert.match(letter.reason, /expired after \d+ ms in the queue \(maxAgeMs 1000\)/);
    assert.equal(letter.attempts, 1);
    assertAcceptedOnce(ids.filter((id) => id !== failed));
  });
});

describe('dead letters: list, requeue, purge (all and by ids), reflected in the store', () => {
  it('requeue and purge by ids and all; a new tracker on the store sees the same dead letters', async () => {
    const rec = recordingStore();
    const tracker = queueTracker(ingest, { store: rec.store });
    const ids = trackMany(tracker, 4, 'dl');
    ingest.setFaults({ queue: [{ status: 400 }] });
    assert.equal((await tracker.flush()).deadLettered, 4);
    let contents = await rec.contents();
    assert.deepEqual(storedIds(contents, 'd'), sorted(ids));
    assert.deepEqual(storedIds(contents, 'q'), []);
    assert.equal(tracker.stats().deadLettered, 4);

    assert.equal(await tracker.requeueDeadLetters(['dl-0', 'no-such-id']), 1);
    contents = await rec.contents();
    assert.deepEqual(storedIds(contents, 'q'), ['dl-0']);
    assert.deepEqual(storedIds(contents, 'd'), ['dl-1', 'dl-2', 'dl-3']);
    const requeued = JSON.parse([...contents].find(([k]) => parseKey(k).kind === 'q')[1]);
    assert.equal(requeued.attempts, 0, 'attempts reset');
    assert.deepEqual({ queued: tracker.stats().queued, deadLettered: tracker.stats().deadLettered }, { queued: 1, deadLettered: 3 });
    assert.deepEqual(await tracker.flush(), { sent: 1, deadLettered: 0, retryLater: 0, remaining: 0, durability: 'memory' });
    assertAcceptedOnce(['dl-0']);

    assert.equal(await tracker.purgeDeadLetters(['dl-1']), 1);
    contents = await rec.contents();
    assert.deepEqual(storedIds(contents, 'd'), ['dl-2', 'dl-3']);
    assert.deepEqual(sorted((await tracker.deadLetters()).map((l) => l.responseId)), ['dl-2', 'dl-3']);

    const restarted = queueTracker(ingest, { store: rec.store });
    assert.deepEqual(sorted((await restarted.deadLetters()).map((l) => l.responseId)), ['dl-2', 'dl-3'],
      'dead letters survive the tracker');
    assert.equal(await restarted.requeueDeadLetters(), 2, 'requeue all');
    assert.deepEqual(storedIds(await rec.contents(), 'd'), []);
    assert.deepEqual(storedIds(await rec.contents(), 'q'), ['dl-2', 'dl-3']);
    assert.equal((await restarted.flush()).sent, 2);
    assertAcceptedOnce(['dl-0', 'dl-2', 'dl-3']);
    assert.equal((await rec.contents()).size, 0);
  });

  it('purge all removes every dead letter from the store; an empty purge or requeue counts 0', async () => {
    const rec = recordingStore();
    const tracker = queueTracker(ingest, { store: rec.store });
    trackMany(tracker, 3, 'pa');
    ingest.setFaults({ queue: [{ status: 403 }] });
    await tracker.flush();
    assert.equal(storedIds(await rec.contents(), 'd').length, 3);
    assert.equal(await tracker.purgeDeadLetters(), 3);
    assert.equal((await rec.contents()).size, 0);
    assert.deepEqual(await tracker.deadLetters(), []);
    assert.equal(tracker.stats().deadLettered, 0);
    assert.equal(await tracker.purgeDeadLetters(), 0);
    assert.equal(await tracker.requeueDeadLetters(), 0);
    assert.equal(ingest.requests().length, 1);
  });

  it('requeue/purge with ids that are not an array of strings throw E_INVALID_OPTION', () => {
    const tracker = queueTracker(ingest);
    assertThrowsAicm(() => tracker.requeueDeadLetters('dl-0'), 'E_INVALID_OPTION');
    assertThrowsAicm(() => tracker.purgeDeadLetters([1]), 'E_INVALID_OPTION');
  });
});

describe('bounds: E_QUEUE_FULL', () => {
  it('by count: nothing added, the earlier records intact and delivered, trackBatch all-or-nothing', async () => {
    const tracker = queueTracker(ingest, { maxQueueSize: 4 });
    const ids = trackMany(tracker, 3, 'full');
    const error = assertThrowsAicm(() => tracker.trackBatch([
      { serviceKey: SERVICE_KEY, usage: { a: 1 }, responseId: 'all-0' },
      { serviceKey: SERVICE_KEY, usage: { a: 1 }, responseId: 'all-1' },
    ]), 'E_QUEUE_FULL');
    assert.match(error.message, /maxQueueSize 4/);
    assert.equal(tracker.stats().queued, 3, 'none of the batch was added');
    ids.push(tracker.track(SERVICE_KEY, { a: 1 }, { responseId: 'full-3' }).responseId);
    assertThrowsAicm(() => tracker.track(SERVICE_KEY, { a: 1 }, { responseId: 'full-4' }), 'E_QUEUE_FULL');
    assert.equal(tracker.stats().queued, 4);
    assert.equal(tracker.stats().dropped, 0);

    assert.equal((await tracker.flush()).sent, 4);
    assertAcceptedOnce(ids);
    assert.ok(!allWireIds().some((id) => id.startsWith('all-') || id === 'full-4'), 'the refused records were never sent');
    assert.deepEqual(tracker.trackBatch([{ serviceKey: SERVICE_KEY, usage: { a: 1 }, responseId: 'after' }]).responseIds, ['after'],
      'room again after the flush');
  });

  it('by bytes: the record that would pass maxQueueBytes is refused, the others intact', async () => {
    const tracker = queueTracker(ingest, { maxQueueBytes: 1024 });
    const ids = [];
    let refused = null;
    for (let i = 0; i < 50 && refused === null; i += 1) {
      try {
        ids.push(tracker.track(SERVICE_KEY, { prompt_tokens: i, pad: 'p'.repeat(100) }, { responseId: `bytes-${i}` }).responseId);
      } catch (error) {
        refused = error;
      }
    }
    assert.equal(refused?.code, 'E_QUEUE_FULL', 'the bytes bound was reached');
    assert.match(refused.message, /maxQueueBytes 1024/);
    assert.ok(ids.length >= 2, 'several records fitted');
    const stats = tracker.stats();
    assert.equal(stats.queued, ids.length);
    assert.ok(stats.bytes <= 1024 && stats.bytes > 0);
    assertThrowsAicm(() => tracker.trackBatch([{ serviceKey: SERVICE_KEY, usage: { pad: 'p'.repeat(100) } }]), 'E_QUEUE_FULL');
    assert.equal(tracker.stats().bytes, stats.bytes, 'nothing added');
    assert.equal((await tracker.flush()).sent, ids.length);
    assertAcceptedOnce(ids);
  });
});

describe('dedupe', () => {
  it('the same responseId tracked twice is kept once and counted in stats.duplicates', async () => {
    const rec = recordingStore();
    const tracker = queueTracker(ingest, { store: rec.store });
    assert.deepEqual(tracker.track(SERVICE_KEY, { a: 1 }, { responseId: 'twice' }), { responseId: 'twice' });
    assert.deepEqual(tracker.track(SERVICE_KEY, { a: 2 }, { responseId: 'twice' }), { responseId: 'twice' });
    assert.equal(tracker.trackBatch([{ serviceKey: SERVICE_KEY, usage: { a: 3 }, responseId: 'twice' }]).responseIds[0], 'twice');
    assert.deepEqual({ queued: tracker.stats().queued, duplicates: tracker.stats().duplicates }, { queued: 1, duplicates: 2 });
    await saved(tracker);
    assert.equal(storedIds(await rec.contents(), 'q').length, 1);
    await tracker.flush();
    assert.deepEqual(allWireIds(), ['twice']);
    assert.deepEqual(ingest.accepted()[0].payload, { a: 1 }, 'the first one is kept');
  });

  it('at a full queue, a trackBatch of an already queued responseId is a duplicate, as with track', () => {
    const tracker = queueTracker(ingest, { maxQueueSize: 1 });
    tracker.track(SERVICE_KEY, { a: 1 }, { responseId: 'only' });
    assert.deepEqual(tracker.track(SERVICE_KEY, { a: 1 }, { responseId: 'only' }), { responseId: 'only' },
      'track(): a duplicate needs no room');
    assert.deepEqual(tracker.trackBatch([{ serviceKey: SERVICE_KEY, usage: { a: 1 }, responseId: 'only' }]),
      { responseIds: ['only'] }, 'trackBatch(): the same');
    assert.deepEqual({ queued: tracker.stats().queued, duplicates: tracker.stats().duplicates }, { queued: 1, duplicates: 2 });
  });

  it('a responseId already dead-lettered is not queued again', async () => {
    const tracker = queueTracker(ingest);
    tracker.track(SERVICE_KEY, { a: 1 }, { responseId: 'dead-once' });
    ingest.setFaults({ queue: [{ status: 400 }] });
    await tracker.flush();
    tracker.track(SERVICE_KEY, { a: 1 }, { responseId: 'dead-once' });
    assert.deepEqual({ queued: tracker.stats().queued, duplicates: tracker.stats().duplicates, deadLettered: tracker.stats().deadLettered },
      { queued: 0, duplicates: 1, deadLettered: 1 });
  });
});

describe('flush concurrency and deadlines', () => {
  it('two flush() calls at once share one drain: one set of requests, the same report', async () => {
    const tracker = queueTracker(ingest);
    const ids = trackMany(tracker, 6, 'both');
    ingest.setFaults({ queue: [{ kind: 'slow', delayMs: 50 }] });
    const first = tracker.flush();
    const second = tracker.flush();
    const [a, b] = await Promise.all([first, second]);
    assert.deepEqual(a, b);
    assert.equal(a.sent, 6);
    assert.equal(ingest.requests().length, 1);
    assertAcceptedOnce(ids);
    assert.notEqual(tracker.flush(), first, 'a flush after the drain ended is a new one');
  });

  it('flush({ deadlineMs }) against a slow server returns with records remaining; a later flush delivers', async () => {
    const tracker = queueTracker(ingest, { timeoutMs: 5000 });
    const ids = trackMany(tracker, 2, 'dl');
    ingest.setFaults({ always: { kind: 'slow', delayMs: 600 } });
    const report = await tracker.flush({ deadlineMs: 150 });
    assert.equal(report.sent, 0);
    assert.equal(report.remaining, 2);
    assert.deepEqual(acceptedIds(ingest), []);
    ingest.setFaults(null);
    const later = await tracker.flush();
    assert.equal(later.sent, 2);
    assert.equal(later.remaining, 0);
    assertAcceptedOnce(ids);
    // The given-up request is logged once the server's delay is over; wait for it so no later test sees it.
    await waitFor(() => ingest.requests().length === 2, 'the slow request in the log');
    assert.deepEqual(ingest.requests().map((r) => r.status), [202, null]);
  });

  it('a flush sharing a longer drain (close()) still resolves at its own deadline, the records remaining', async () => {
    const tracker = queueTracker(ingest, { timeoutMs: 5000 });
    const ids = trackMany(tracker, 3, 'share');
    ingest.setFaults({ queue: [{ kind: 'slow', delayMs: 1500 }] });
    let closed = false;
    const closing = tracker.close().then((report) => { closed = true; return report; });
    const short = await tracker.flush({ deadlineMs: 50 });
    assert.equal(closed, false, 'the short flush did not wait for the close drain');
    assert.equal(short.sent, 0);
    assert.equal(short.remaining, 3);
    const report = await closing;
    assert.equal(report.sent, 3);
    assertAcceptedOnce(ids);
  });

  it('flush rejects a bad deadlineMs with E_INVALID_OPTION', () => {
    const tracker = queueTracker(ingest);
    assertThrowsAicm(() => tracker.flush({ deadlineMs: -1 }), 'E_INVALID_OPTION');
    assertThrowsAicm(() => tracker.flush({ deadlineMs: 'soon' }), 'E_INVALID_OPTION');
  });
});

describe('restarts and namespaces', () => {
  it('a second tracker on the same store delivers what the first tracked and never flushed', async () => {
    const store = persistentStore();
    let first = queueTracker(ingest, { store });
    const ids = trackMany(first, 5, 'restart');
    await saved(first);
    first = null; // the isolate is gone: no flush, no close
    assert.equal(ingest.requests().length, 0);

    const second = queueTracker(ingest, { store });
    const report = await second.flush();
    assert.deepEqual(report, { sent: 5, deadLettered: 0, retryLater: 0, remaining: 0, durability: 'persistent' });
    assertAcceptedOnce(ids);
    assert.equal(store.entries.size, 0);
  });

  it('a tracker with another apiKey or apiBase never sends them; one with the same destination does', async () => {
    const rec = recordingStore();
    const owner = queueTracker(ingest, { store: rec.store });
    const ids = trackMany(owner, 3, 'ns');
    await saved(owner);
    const ownerPrefix = rec.puts()[0].entries[0].key.replace(/q\/.*$/, '');

    const otherKey = queueTracker(ingest, { store: rec.store, apiKey: 'another-key' });
    assert.deepEqual(await otherKey.flush(), { sent: 0, deadLettered: 0, retryLater: 0, remaining: 0, durability: 'memory' });
    const otherBase = queueTracker(ingest, { store: rec.store, apiBase: `http://localhost:${ingest.port}` });
    const own = otherBase.track(SERVICE_KEY, { a: 1 }).responseId;
    assert.equal((await otherBase.flush()).sent, 1);
    assert.deepEqual(wireIds(ingest), [[own]], 'only its own record went out');
    const listed = rec.calls.filter((c) => c.op === 'list').map((c) => c.prefix);
    assert.equal(new Set(listed).size, 3, 'three destinations, three namespaces');
    assert.deepEqual(storedIds(await rec.contents(), 'q'), sorted(ids), "the owner's records untouched");
    assert.ok([...(await rec.contents()).keys()].every((k) => k.startsWith(ownerPrefix)));

    const sameDestination = queueTracker(ingest, { store: rec.store });
    assert.equal((await sameDestination.flush()).sent, 3);
    assertAcceptedOnce([own, ...ids]);
  });
});

describe('what reaches the store', () => {
  it('the API key never appears in a stored key or value (queued, dead letters, 401s)', async () => {
    const rec = recordingStore();
    const tracker = queueTracker(ingest, { store: rec.store });
    trackMany(tracker, 2, 'key-ok');
    ingest.setFaults({ queue: [{ status: 400 }] });
    await tracker.flush();
    await tracker.requeueDeadLetters();
    await tracker.flush();
    const wrongKey = 'wrong-secret-key-4c2a';
    const wrong = queueTracker(ingest, { store: rec.store, apiKey: wrongKey });
    trackMany(wrong, 2, 'key-bad');
    await wrong.flush();
    assert.equal((await wrong.deadLetters()).length, 2, 'the 401 made dead letters that were stored');

    const written = rec.everythingPut();
    assert.ok(written.length >= 6);
    for (const secret of [KEY, wrongKey]) {
      assert.ok(!written.some((text) => text.includes(secret)), `${secret} was written to the store`);
      assert.ok(!rec.calls.some((c) => JSON.stringify(c).includes(secret)), `${secret} reached a store call`);
    }
    // Sanity: the same scan finds what is there.
    assert.ok(written.some((text) => text.includes('key-bad-1')));
  });

  it("an anonymized field's raw value never reaches the store (queued or dead-lettered)", async () => {
    const rec = recordingStore();
    const tracker = queueTracker(ingest, { store: rec.store, anonymizeFields: ['user_email'] });
    tracker.track(SERVICE_KEY, { prompt_tokens: 1, user_email: 'alice@example.com', nested: { user_email: 'bob@example.com' } },
      { responseId: 'anon-1' });
    tracker.track(SERVICE_KEY, { prompt_tokens: 2, note: 'carol-phone-555' }, {
      responseId: 'anon-2', anonymizeFields: ['note'], anonymizer: (value) => `len:${String(value).length}`,
    });
    await saved(tracker);
    ingest.setFaults({ queue: [{ status: 400 }] });
    await tracker.flush();
    await tracker.requeueDeadLetters();
    await tracker.flush();
    const written = rec.everythingPut();
    assert.ok(written.some((text) => text.includes('/d/anon-1')), 'dead letters were written too');
    for (const raw of ['alice@example.com', 'bob@example.com', 'carol-phone-555']) {
      assert.ok(!written.some((text) => text.includes(raw)), `${raw} reached the store`);
      assert.ok(!ingest.requests().some((r) => r.bodyText.includes(raw)), `${raw} reached the wire`);
    }
    const payloads = Object.fromEntries(ingest.accepted().map((r) => [r.response_id, r.payload]));
    assert.deepEqual(payloads['anon-1'], { prompt_tokens: 1, user_email: '[REDACTED]', nested: { user_email: '[REDACTED]' } });
    assert.deepEqual(payloads['anon-2'], { prompt_tokens: 2, note: 'len:15' });
  });
});

describe('stats', () => {
  it('has every field, and each moves with what happens', async () => {
    const rec = recordingStore();
    const tracker = queueTracker(ingest, { store: rec.store });
    const empty = tracker.stats();
    assert.deepEqual(Object.keys(empty).sort(), STATS_KEYS);
    assert.deepEqual(empty, {
      queued: 0, inFlight: 0, sent: 0, deadLettered: 0, dropped: 0, bytes: 0, deadBytes: 0, unsaved: 0, unreadable: 0,
      duplicates: 0, durability: 'memory', storeError: null, nextDueAt: null,
    });

    trackMany(tracker, 3, 'st');
    tracker.track(SERVICE_KEY, { a: 1 }, { responseId: 'st-0' });
    let s = tracker.stats();
    assert.deepEqual({ queued: s.queued, unsaved: s.unsaved, duplicates: s.duplicates }, { queued: 3, unsaved: 3, duplicates: 1 },
      'right after track: queued but not yet saved');
    assert.ok(s.bytes > 0);
    await saved(tracker);

    ingest.setFaults({ queue: [{ kind: 'slow', delayMs: 400 }, { kind: 'recordError', responseIds: ['st-2'] }] });
    const flushing = tracker.flush();
    await waitFor(() => tracker.stats().inFlight === 3, 'the batch in flight');
    assert.equal(tracker.stats().queued, 0, 'in flight is not queued');
    await flushing;
    ingest.setFaults({ queue: [{ kind: 'recordError', responseIds: ['st-9'] }] });
    tracker.track(SERVICE_KEY, { a: 1 }, { responseId: 'st-9' });
    await tracker.flush();
    const { deadBytes, ...rest } = tracker.stats();
    assert.deepEqual(rest, {
      queued: 0, inFlight: 0, sent: 3, deadLettered: 1, dropped: 0, bytes: 0, unsaved: 0, unreadable: 0, duplicates: 1,
      durability: 'memory', storeError: null, nextDueAt: null,
    });
    // The dead letter's record bytes: what it holds of maxQueueBytes.
    assert.ok(deadBytes > 50, `deadBytes ${deadBytes}`);
  });

  it('unreadable counts store entries of its namespace it cannot read, and leaves them untouched', async () => {
    const rec = recordingStore(persistentStore({ consistent: true }));
    const seed = queueTracker(ingest, { store: rec.store });
    const [id] = trackMany(seed, 1, 'ur');
    await saved(seed);
    const prefix = rec.puts()[0].entries[0].key.replace(/q\/.*$/, '');
    await rec.inner.put([
      { key: `${prefix}q/junk-1`, value: 'not json' },
      { key: `${prefix}d/junk-2`, value: '{"v":99,"future":true}' },
      { key: 'aicm/v1/0000000000000000/q/elsewhere', value: 'not ours' },
    ]);
    const reader = queueTracker(ingest, { store: rec.store });
    const report = await reader.flush();
    assert.equal(report.sent, 1);
    assertAcceptedOnce([id]);
    assert.equal(reader.stats().unreadable, 2);
    const contents = await rec.contents();
    assert.equal(contents.get(`${prefix}q/junk-1`), 'not json');
    assert.equal(contents.get(`${prefix}d/junk-2`), '{"v":99,"future":true}');
    assert.equal(contents.get('aicm/v1/0000000000000000/q/elsewhere'), 'not ours');
  });
});

describe('close', () => {
  it('close() flushes and resolves to the report; later track/trackBatch throw E_TRACKER_CLOSED', async () => {
    const tracker = queueTracker(ingest);
    const ids = trackMany(tracker, 3, 'close');
    const report = await tracker.close();
    assert.deepEqual(report, { sent: 3, deadLettered: 0, retryLater: 0, remaining: 0, durability: 'memory' });
    assertAcceptedOnce(ids);
    assertThrowsAicm(() => tracker.track(SERVICE_KEY, { a: 1 }), 'E_TRACKER_CLOSED');
    assertThrowsAicm(() => tracker.trackBatch([{ serviceKey: SERVICE_KEY, usage: { a: 1 } }]), 'E_TRACKER_CLOSED');
    assert.equal((await tracker.close()).sent, 0, 'closing twice is harmless');
    assert.equal(ingest.requests().length, 1);
  });
});

describe('broken stores', () => {
  it('put rejects: records stay in memory (unsaved, storeError) and are still delivered', async () => {
    const rec = recordingStore(memoryStore(), { failPuts: Infinity });
    const tracker = queueTracker(ingest, { store: rec.store });
    const ids = trackMany(tracker, 3, 'noput');
    await waitFor(() => tracker.stats().storeError !== null, 'the failed put');
    const s = tracker.stats();
    assert.equal(s.unsaved, 3);
    assert.equal(s.queued, 3);
    assert.match(s.storeError, /disk full \(injected\)/);
    assert.deepEqual(await tracker.flush(), { sent: 3, deadLettered: 0, retryLater: 0, remaining: 0, durability: 'memory' });
    assertAcceptedOnce(ids);
  });

  it('a put that failed is written again: the records reach the store, storeError clears', async () => {
    const rec = recordingStore(memoryStore(), { failPuts: 1 });
    const tracker = queueTracker(ingest, { store: rec.store });
    const ids = trackMany(tracker, 2, 'again');
    await saved(tracker);
    const puts = rec.puts();
    assert.equal(puts.length, 2, 'the failed put and its repeat');
    assert.deepEqual(puts[1].entries.map((e) => e.key), puts[0].entries.map((e) => e.key));
    assert.deepEqual(storedIds(await rec.contents(), 'q'), sorted(ids));
    assert.equal(tracker.stats().storeError, null);
  });

  const garbageListings = [
    ['a string', () => 'garbage'],
    ['null', () => null],
    ['an object', () => ({ entries: [] })],
    ['a throw', () => { throw new Error('list exploded'); }],
    ['a rejection', () => Promise.reject(new Error('list rejected'))],
  ];
  for (const [name, list] of garbageListings) {
    it(`list returning ${name}: no crash, tracked records are delivered`, async () => {
      const rec = recordingStore(memoryStore(), { list });
      const tracker = queueTracker(ingest, { store: rec.store });
      const ids = trackMany(tracker, 2, 'gl');
      const report = await tracker.flush();
      assert.ok(rec.calls.some((c) => c.op === 'list'), 'the broken list was called');
      assert.equal(report.sent, 2);
      assertAcceptedOnce(ids);
    });
  }

  it('list returning an array of garbage items: no crash, tracked records are delivered', async () => {
    const rec = recordingStore(memoryStore(), { list: () => [1, null, { key: 5 }, { key: 'aicm/v1/x', value: 7 }] });
    const tracker = queueTracker(ingest, { store: rec.store });
    const ids = trackMany(tracker, 2, 'gi');
    const report = await tracker.flush();
    assert.equal(report.sent, 2, `report ${JSON.stringify(report)}, stats ${JSON.stringify(tracker.stats())}`);
    assertAcceptedOnce(ids);
  });
});

describe('two trackers sharing one memoryStore', () => {
  for (const slow of [false, true]) {
    it(`flushing at once never send a record twice${slow ? ' (slow server)' : ''}`, async () => {
      const store = memoryStore();
      const a = queueTracker(ingest, { store, maxBatchSize: 7 });
      const b = queueTracker(ingest, { store, maxBatchSize: 7 });
      const ids = [...trackMany(a, 30, 'ta'), ...trackMany(b, 30, 'tb')];
      await Promise.all([saved(a), saved(b)]);
      if (slow) ingest.setFaults({ always: { kind: 'slow', delayMs: 5 } });
      const [ra, rb] = await Promise.all([a.flush(), b.flush()]);
      assert.equal(ra.sent + rb.sent, 60);
      assert.equal(ra.remaining + rb.remaining, 0);
      const wire = allWireIds();
      assert.equal(wire.length, 60, 'each record went over the wire exactly once');
      assert.equal(new Set(wire).size, 60);
      assertAcceptedOnce(ids);
      assert.deepEqual(await store.list(''), []);
    });
  }
});
