// Retry behaviour against the faulty ingest server: every fault mode, with the number of attempts asserted both
// on the result (`attempts`) and on the server's request log. Retries are made fast with small delays; where a
// test must show that Retry-After replaced the backoff, the backoff is one hour, so only an honoured
// Retry-After lets the retry happen at all (asserted on the request count, never on elapsed time).
// Run: node --test tests/js/faults.test.mjs   (after scripts/build-pkg and unpack_pkg_into tests/js)

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';

import { startIngestServer } from '../ingest/server.mjs';
import { INJECTED_RECORD_ERROR } from '../ingest/faults.mjs';
import { KEY, assertQueued, makeTracker, recordingFetch, sentBodies } from './support/tracker.mjs';
import { clearTimersAfter, waitFor } from './support/wait.mjs';

const USAGE = Object.freeze({ prompt_tokens: 19, completion_tokens: 10, total_tokens: 29 });
/** The server answers 413 to bodies above this many bytes. */
const MAX_BODY_BYTES = 2048;
/** A backoff so long that a retry can only happen promptly if Retry-After replaced it. */
const HOUR_BACKOFF = Object.freeze({ retryBaseDelayMs: 3_600_000, retryMaxDelayMs: 3_600_000 });

let ingest;
before(async () => {
  ingest = await startIngestServer({ apiKey: KEY, maxBodyBytes: MAX_BODY_BYTES });
});
after(() => ingest.close());
beforeEach(() => ingest.reset());

/** The statuses the server answered, in log order (null = no reply: dropped, or the client gave up). */
const statuses = () => ingest.requests().map((r) => r.status);

/** Tracks one small record with `responseId`; resolves to its result. */
function trackOne(tracker, responseId = 'r-1') {
  return tracker.track('openai::gpt-4o-mini', { ...USAGE }, { responseId });
}

function batchOf(n, usage = () => ({ ...USAGE })) {
  return Array.from({ length: n }, (_, i) => ({ serviceKey: 'openai::gpt-4o-mini', usage: usage(i), responseId: `b-${i}` }));
}

/**
 * Asserts a result that was not delivered: status "failed" (or `status`: "unknown" when an attempt may have reached
 * the server) with `code` and `attempts`, and `httpStatus` when given (null: no response arrived).
 */
function assertFailed(result, { code, httpStatus, attempts, status = 'failed' }) {
  assert.equal(result.status, status, JSON.stringify(result));
  assert.equal(result.error.code, code, result.error.message);
  if (httpStatus !== undefined) assert.equal(result.error.httpStatus, httpStatus);
  assert.equal(result.attempts, attempts);
  assert.deepEqual(result.errors, []);
}

describe('retryable statuses are retried until they succeed', () => {
  for (const status of [500, 502, 503, 504, 408, 429]) {
    it(`${status}, ${status}, then 202 → queued after 3 attempts, stored once`, async () => {
      ingest.setFaults({ queue: [{ status }, { status }] });
      const result = await trackOne(makeTracker(ingest));
      assertQueued(result, 3);
      assert.deepEqual(statuses(), [status, status, 202]);
      assert.deepEqual(ingest.accepted().map((r) => r.response_id), ['r-1']);
    });
  }

  it('recovery resends the identical body: same response_id and timestamp on every attempt', async () => {
    ingest.setFaults({ queue: [{ status: 503 }, { status: 503 }] });
    const result = await makeTracker(ingest).track('openai::gpt-4o-mini', { ...USAGE });
    assertQueued(result, 3);
    const bodies = ingest.requests().map((r) => r.bodyText);
    assert.equal(bodies.length, 3);
    assert.equal(new Set(bodies).size, 1, 'all three attempts carried the same bytes');
    assert.equal(JSON.parse(bodies[0]).tracked[0].response_id, result.responseId);
    assert.equal(ingest.accepted().length, 1);
  });

  it('a failing chunk of a batch is retried alone; attempts are counted per record', async () => {
    ingest.setFaults({ queue: [{ status: 503 }] });
    const outcome = await makeTracker(ingest, { maxBatchSize: 2 }).trackBatch(batchOf(5));
    assert.deepEqual(outcome.results.map((r) => [r.status, r.attempts]),
      [['queued', 2], ['queued', 2], ['queued', 1], ['queued', 1], ['queued', 1]]);
    assert.deepEqual(statuses(), [503, 202, 202, 202]);
    assert.deepEqual(sentBodies(ingest).map((body) => body.map((r) => r.response_id)),
      [['b-0', 'b-1'], ['b-0', 'b-1'], ['b-2', 'b-3'], ['b-4']]);
    assert.equal(ingest.accepted().length, 5);
  });
});

describe('Retry-After', () => {
  /** Honour the header in full unless a case tests the cap. */
  const uncapped = { maxRetryAfterMs: 60_000 };
  const cases = [
    ['429 + Retry-After "0" replaces a one-hour backoff', { status: 429, retryAfter: '0' }, uncapped],
    ['429 + Retry-After "1" replaces a one-hour backoff', { status: 429, retryAfter: '1' }, uncapped],
    ['503 + Retry-After "0" replaces a one-hour backoff', { status: 503, retryAfter: '0' }, uncapped],
    ['429 + Retry-After as an HTTP date in the past means retry now',
      { status: 429, retryAfter: new Date(Date.now() - 60_000).toUTCString() }, uncapped],
    ['429 + Retry-After of one hour is capped by maxRetryAfterMs',
      { status: 429, retryAfter: '3600' }, { maxRetryAfterMs: 20 }],
    ['429 + Retry-After as an HTTP date one hour ahead is capped by maxRetryAfterMs',
      { status: 429, retryAfter: new Date(Date.now() + 3_600_000).toUTCString() }, { maxRetryAfterMs: 20 }],
  ];
  for (const [label, fault, options] of cases) {
    it(label, { timeout: 10_000 }, async (t) => {
      clearTimersAfter(t); // if Retry-After were ignored, the one-hour backoff timer must not outlive the test
      ingest.setFaults({ queue: [fault] });
      const pending = trackOne(makeTracker(ingest, { ...HOUR_BACKOFF, ...options }));
      await waitFor(() => ingest.requests().length >= 2, 'the retry after Retry-After (a backoff would take up to an hour)');
      assertQueued(await pending, 2);
      assert.deepEqual(statuses(), [fault.status, 202]);
      assert.equal(ingest.accepted().length, 1);
    });
  }
});

describe('network errors and timeouts', () => {
  it('a dropped connection is retried (drop, drop, 202 → 3 attempts)', async () => {
    ingest.setFaults({ queue: [{ kind: 'drop' }, { kind: 'drop' }] });
    const result = await trackOne(makeTracker(ingest));
    assertQueued(result, 3);
    assert.deepEqual(statuses(), [null, null, 202]);
    assert.equal(ingest.accepted().length, 1);
  });

  it('a reply lost after the server stored the record: the retry is deduplicated by response_id', async () => {
    ingest.setFaults({ queue: [{ kind: 'drop', afterAccept: true }] });
    const result = await trackOne(makeTracker(ingest), 'kept-once');
    assertQueued(result, 2);
    assert.deepEqual(statuses(), [null, 202]);
    assert.deepEqual(ingest.accepted().map((r) => r.response_id), ['kept-once']);
    assert.equal(ingest.stats().duplicates, 1);
  });

  it('dropped connections exhaust maxAttempts → unknown E_NETWORK (the server read the request: it may hold it)', async () => {
    ingest.setFaults({ always: { kind: 'drop' } });
    const result = await trackOne(makeTracker(ingest, { maxAttempts: 2 }));
    assertFailed(result, { code: 'E_NETWORK', httpStatus: null, attempts: 2, status: 'unknown' });
    assert.deepEqual(statuses(), [null, null]);
  });

  it('an answer slower than timeoutMs is a timeout and is retried', async () => {
    ingest.setFaults({ queue: [{ kind: 'slow', delayMs: 1000 }] });
    const result = await trackOne(makeTracker(ingest, { timeoutMs: 250 }));
    assertQueued(result, 2);
    await waitFor(() => ingest.requests().length === 2, 'the server to log the abandoned slow request');
    assert.deepEqual(statuses().sort(), [202, null], 'the slow request got no reply, the retry a 202');
    assert.equal(ingest.accepted().length, 1);
  });

  it('timeouts exhaust maxAttempts → unknown E_TIMEOUT, not failed (the server may have accepted it)', async () => {
    ingest.setFaults({ always: { kind: 'slow', delayMs: 1000 } });
    const result = await trackOne(makeTracker(ingest, { timeoutMs: 250, maxAttempts: 2 }));
    assertFailed(result, { code: 'E_TIMEOUT', httpStatus: null, attempts: 2, status: 'unknown' });
    await waitFor(() => ingest.requests().length === 2, 'the server to log both abandoned requests');
    assert.deepEqual(statuses(), [null, null]);
    assert.equal(ingest.accepted().length, 0);
  });
});

describe('exhaustion', () => {
  for (const maxAttempts of [1, 4]) {
    it(`503 forever with maxAttempts ${maxAttempts} → failed after exactly ${maxAttempts} requests`, async () => {
      ingest.setFaults({ always: { status: 503 } });
      const result = await trackOne(makeTracker(ingest, { maxAttempts }));
      assertFailed(result, { code: 'E_HTTP_STATUS', httpStatus: 503, attempts: maxAttempts });
      assert.match(result.error.message, /503.*Injected fault/);
      assert.equal(ingest.requests().length, maxAttempts);
      assert.equal(ingest.accepted().length, 0);
    });
  }
});

describe('answers that are not retried', () => {
  for (const status of [400, 401, 403, 404, 409, 422]) {
    it(`${status} → failed E_HTTP_STATUS with httpStatus ${status}, one request`, async () => {
      ingest.setFaults({ queue: [{ status }] });
      const result = await trackOne(makeTracker(ingest));
      assertFailed(result, { code: 'E_HTTP_STATUS', httpStatus: status, attempts: 1 });
      assert.deepEqual(statuses(), [status]);
      assert.equal(ingest.accepted().length, 0);
    });
  }

  it('a wrong API key → the server\'s own 401, not retried', async () => {
    const result = await trackOne(makeTracker(ingest, { apiKey: 'wrong-key' }));
    assertFailed(result, { code: 'E_HTTP_STATUS', httpStatus: 401, attempts: 1 });
    assert.match(result.error.message, /Invalid API key/);
    assert.deepEqual(statuses(), [401]);
  });

  it('a per-record "error" keeps the server\'s errors, is not retried, and the other records are accepted', async () => {
    ingest.setFaults({ queue: [{ kind: 'recordError', responseIds: ['b-1'] }] });
    const outcome = await makeTracker(ingest).trackBatch(batchOf(3));
    const [first, rejected, third] = outcome.results;
    assertQueued(first);
    assertQueued(third);
    assert.equal(rejected.status, 'error');
    assert.deepEqual(rejected.errors, [INJECTED_RECORD_ERROR]);
    assert.equal(rejected.error.code, 'E_REJECTED');
    assert.match(rejected.error.message, /Injected record error/);
    assert.equal(rejected.attempts, 1);
    assert.deepEqual(statuses(), [202]);
    assert.deepEqual(ingest.accepted().map((r) => r.response_id), ['b-0', 'b-2']);
  });

  it('a 202 with a body that is not JSON → unknown E_INVALID_RESPONSE, not retried', async () => {
    ingest.setFaults({ queue: [{ kind: 'badJson' }] });
    const result = await trackOne(makeTracker(ingest));
    assertFailed(result, { code: 'E_INVALID_RESPONSE', attempts: 1, status: 'unknown' });
    assert.deepEqual(statuses(), [202]);
    // The server did store it: resending would only have duplicated it (wire-contract W-D2).
    assert.equal(ingest.accepted().length, 1);
  });
});

describe('413: too large for the server', () => {
  /** A usage whose record encodes to roughly 700 bytes: two fit in MAX_BODY_BYTES, four do not. */
  const padded = (i) => ({ ...USAGE, note: `${i}:${'x'.repeat(600)}` });

  it('splits the batch until every body fits; each record stored once', async () => {
    const seen = recordingFetch(); // the server does not keep bodies it refused: count what the client sent
    const outcome = await makeTracker(ingest, { fetch: seen.fetch }).trackBatch(batchOf(8, padded));
    assert.deepEqual(outcome.results.map((r) => r.status), Array(8).fill('queued'));
    assert.deepEqual(outcome.results.map((r) => r.responseId), batchOf(8).map((r) => r.responseId));
    const requests = ingest.requests();
    assert.ok(requests.some((r) => r.status === 413), 'the first body was too large');
    for (const request of requests) {
      if (request.status === 413) assert.ok(request.bodyBytes > MAX_BODY_BYTES);
      else assert.ok(request.status === 202 && request.bodyBytes <= MAX_BODY_BYTES, `${request.status} ${request.bodyBytes}`);
    }
    assert.deepEqual(ingest.accepted().map((r) => r.response_id).sort(), batchOf(8).map((r) => r.responseId).sort());
    assert.equal(seen.calls.length, requests.length);
    const bodies = seen.calls.map((call) => JSON.parse(call.init.body).tracked);
    const carried = (id) => bodies.filter((body) => body.some((r) => r.response_id === id)).length;
    assert.ok(outcome.results.every((r) => r.attempts >= 2), 'every record went out at least in the 413 body and once more');
    for (const result of outcome.results) assert.equal(result.attempts, carried(result.responseId), result.responseId);
  });

  it('a single record larger than the server accepts → failed E_TOO_LARGE after one request', async () => {
    const result = await makeTracker(ingest).track('openai::gpt-4o-mini', { text: 'x'.repeat(MAX_BODY_BYTES) });
    assertFailed(result, { code: 'E_TOO_LARGE', httpStatus: 413, attempts: 1 });
    assert.deepEqual(statuses(), [413]);
  });

  it('in a batch, only the oversized record fails; its neighbours are delivered', async () => {
    const records = batchOf(3);
    records[1].usage = { text: 'x'.repeat(MAX_BODY_BYTES) };
    const outcome = await makeTracker(ingest).trackBatch(records);
    assert.deepEqual(outcome.results.map((r) => r.status), ['queued', 'failed', 'queued']);
    assert.equal(outcome.results[1].error.code, 'E_TOO_LARGE');
    assert.deepEqual(ingest.accepted().map((r) => r.response_id).sort(), ['b-0', 'b-2']);
  });
});

describe('422 naming one invalid record', () => {
  it('rejects that record with the server\'s errors and resends the others, which are accepted', async () => {
    // A fetch that corrupts one record on its way out, so that the real server validation refuses it.
    const corrupting = (url, init) => {
      const body = JSON.parse(init.body);
      for (const record of body.tracked) if (record.response_id === 'b-1') record.timestamp = 'not-a-time';
      return globalThis.fetch(url, { ...init, body: JSON.stringify(body) });
    };
    const outcome = await makeTracker(ingest, { fetch: corrupting }).trackBatch(batchOf(3));
    const [first, bad, third] = outcome.results;
    assert.equal(bad.status, 'error', JSON.stringify(bad));
    assert.equal(bad.error.code, 'E_REJECTED');
    assert.equal(bad.errors.length, 1);
    assert.match(bad.errors[0], /Invalid timestamp "not-a-time"/);
    assert.equal(bad.attempts, 1);
    assertQueued(first, 2);
    assertQueued(third, 2);
    assert.deepEqual(statuses(), [422, 202]);
    assert.deepEqual(sentBodies(ingest).map((body) => body.map((r) => r.response_id)), [['b-0', 'b-1', 'b-2'], ['b-0', 'b-2']]);
    assert.deepEqual(ingest.accepted().map((r) => r.response_id), ['b-0', 'b-2']);
  });
});
