// The tracker's `sink` option in Node: records handed to an object's send(records) instead of POSTed (what
// queueSink and durableObjectSink build on). Each record's text reaches the sink exactly as it would be in a
// /track body; the sink's limits cut batches and records; a sink that throws, rejects, never answers or
// answers with a hostile thenable is a reported outcome (E_SINK, E_TIMEOUT), never a trap, and the tracker
// keeps working. Nothing is POSTed by a tracker with a sink: the test's fetch fails the test if called.
// Run: node --test tests/js/sink.test.mjs   (after scripts/build-pkg and unpack_pkg_into tests/js)

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Tracker } from 'aicostmanager-edge';

import { assertThrowsAicm } from './support/tracker.mjs';

const USAGE = Object.freeze({ prompt_tokens: 19, completion_tokens: 10 });
const FAST = Object.freeze({ retryBaseDelayMs: 1, retryMaxDelayMs: 2, timeoutMs: 1000 });

/** A sink that keeps every send's records (texts); `answer(records, n)` decides each send's result. */
function recordingSink({ answer = () => undefined, ...limits } = {}) {
  const sends = [];
  const sink = {
    kind: 'test-sink',
    ...limits,
    send(records) {
      sends.push([...records]);
      return Promise.resolve().then(() => answer(records, sends.length));
    },
  };
  return { sink, sends };
}

function newTracker(sink, options = {}) {
  return new Tracker({ sink, ...FAST, ...options });
}

describe('sink: records go to send(records), never to fetch', () => {
  it('track() needs no apiKey and resolves "queued" once the sink took the record, handed over as its exact JSON text', async () => {
    const { sink, sends } = recordingSink();
    const tracker = newTracker(sink);
    const outcome = await tracker.track('openai::gpt-4o-mini', { ...USAGE, note: 'a "quoted", {braced} value' }, {
      responseId: 'sink-1', customerKey: 'acme', context: { route: '/chat' },
    });
    assert.equal(outcome.status, 'queued', JSON.stringify(outcome));
    assert.equal(outcome.responseId, 'sink-1');
    assert.equal(outcome.attempts, 1);
    assert.equal(outcome.error, null);
    assert.equal(sends.length, 1);
    assert.equal(sends[0].length, 1);
    const text = sends[0][0];
    assert.equal(typeof text, 'string');
    const record = JSON.parse(text);
    assert.equal(record.service_key, 'openai::gpt-4o-mini');
    assert.equal(record.response_id, 'sink-1');
    assert.equal(record.customer_key, 'acme');
    assert.deepEqual(record.context, { route: '/chat' });
    assert.equal(record.payload.prompt_tokens, 19);
    assert.equal(record.payload.note, 'a "quoted", {braced} value');
    assert.equal(text, JSON.stringify(record), 'compact JSON, as in a /track body');
  });

  it('trackBatch() is cut into sends of at most sink.maxBatchSize records, in input order', async () => {
    const { sink, sends } = recordingSink({ maxBatchSize: 100 });
    const tracker = newTracker(sink);
    const records = Array.from({ length: 250 }, (_, i) => ({ serviceKey: 'openai::gpt-4o', usage: { i }, responseId: `b-${i}` }));
    const outcome = await tracker.trackBatch(records);
    assert.deepEqual(sends.map((s) => s.length), [100, 100, 50]);
    assert.deepEqual(sends.flat().map((t) => JSON.parse(t).response_id), records.map((r) => r.responseId));
    assert.ok(outcome.results.every((r) => r.status === 'queued'), 'every record queued');
  });

  it('sends stay within sink.maxBatchBytes (texts plus one byte each), and a record over sink.maxRecordBytes throws E_RECORD_TOO_LARGE', async () => {
    const { sink, sends } = recordingSink({ maxBatchBytes: 2000, maxRecordBytes: 500 });
    const tracker = newTracker(sink);
    const records = Array.from({ length: 40 }, (_, i) => ({ serviceKey: 'a::b', usage: { pad: 'x'.repeat(100) }, responseId: `y-${i}` }));
    await tracker.trackBatch(records);
    assert.ok(sends.length > 1, `split into ${sends.length} sends`);
    for (const send of sends) {
      const bytes = send.reduce((n, t) => n + Buffer.byteLength(t) + 1, 0);
      assert.ok(bytes <= 2000, `a send of ${bytes} bytes`);
    }
    assert.equal(sends.flat().length, 40);
    assertThrowsAicm(() => tracker.track('a::b', { pad: 'x'.repeat(600) }), 'E_RECORD_TOO_LARGE');
    // The smaller limit wins whichever side sets it.
    const own = newTracker(recordingSink({ maxRecordBytes: 100_000 }).sink, { maxRecordBytes: 300 });
    assertThrowsAicm(() => own.track('a::b', { pad: 'x'.repeat(400) }), 'E_RECORD_TOO_LARGE');
  });

  it('persistent_queue hands due records to the sink at flush(), retries a refusal at the next flush, and reports it', async () => {
    let refuse = true;
    const { sink, sends } = recordingSink({ answer: () => { if (refuse) throw new Error('queue unavailable'); } });
    // The first retry is 250–500 ms away: past the first flush's deadline, within the second's.
    const tracker = newTracker(sink, { deliveryType: 'persistent_queue', maxAttempts: 5, retryBaseDelayMs: 500, retryMaxDelayMs: 500 });
    tracker.track('a::b', { ...USAGE }, { responseId: 'q-1' });
    tracker.track('a::b', { ...USAGE }, { responseId: 'q-2' });
    const first = await tracker.flush({ deadlineMs: 200 });
    assert.equal(first.sent, 0);
    assert.equal(first.retryLater, 2);
    assert.equal(first.remaining, 2);
    assert.equal(first.deadLettered, 0);
    assert.deepEqual(sends.map((s) => s.map((t) => JSON.parse(t).response_id)), [['q-1', 'q-2']], 'one send of both');
    refuse = false;
    const second = await tracker.flush();
    assert.equal(second.sent, 2);
    assert.equal(second.remaining, 0);
    assert.equal(tracker.stats().sent, 2);
  });
});

describe('sink: the README snippet', () => {
  it('runs as written, with an in-memory stand-in for myQueue', async () => {
    const batches = [];
    const myQueue = { async sendBatch(messages) { batches.push(messages); } };
    // --- README "Delivery to a sink" ---
    const sink = {
      kind: "my-queue",                 // named in error messages
      maxBatchSize: 100,                // optional limits of what one send may carry
      async send(records) {             // ['{"service_key":…,"response_id":…,…}', …]
        await myQueue.sendBatch(records.map((body) => ({ body })));
      },
    };
    const tracker = new Tracker({ sink });
    const outcome = await tracker.track("openai::gpt-4o-mini", { prompt_tokens: 12, completion_tokens: 30 });
    // --- end of snippet ---
    assert.equal(outcome.status, 'queued');
    assert.equal(batches.length, 1);
    assert.equal(JSON.parse(batches[0][0].body).response_id, outcome.responseId);
  });
});

describe('sink: failures are outcomes with a code and a cause, never a trap', () => {
  it('a send that rejects: "failed" after maxAttempts with E_SINK naming the sink and the reason, error.cause the rejection', async () => {
    const reason = new Error('Too Many Requests');
    const { sink, sends } = recordingSink({ answer: () => Promise.reject(reason) });
    const outcome = await newTracker(sink, { maxAttempts: 3 }).track('a::b', { ...USAGE });
    assert.equal(outcome.status, 'failed', JSON.stringify(outcome));
    assert.equal(outcome.attempts, 3);
    assert.equal(sends.length, 3);
    assert.equal(outcome.error.code, 'E_SINK');
    assert.match(outcome.error.message, /test-sink: send rejected: .*Too Many Requests/);
    assert.equal(outcome.error.httpStatus, null);
    assert.equal(outcome.error.cause, reason);
  });

  it('a send that throws synchronously, or returns a thenable whose then throws, fails the same way', async () => {
    const throwing = { kind: 'sync', send() { throw new TypeError('binding gone'); } };
    const outcome = await newTracker(throwing, { maxAttempts: 1 }).track('a::b', { ...USAGE });
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error.code, 'E_SINK');
    assert.match(outcome.error.message, /sync: send threw: TypeError: binding gone/);
    const thenable = { kind: 'thenable', send: () => ({ then() { throw new Error('then exploded'); } }) };
    const second = await newTracker(thenable, { maxAttempts: 1 }).track('a::b', { ...USAGE });
    assert.equal(second.status, 'failed');
    assert.match(second.error.message, /thenable: send rejected: .*then exploded/);
  });

  it('a send that never settles is E_TIMEOUT after timeoutMs and "unknown" (the sink may hold it), and a late answer is ignored', async () => {
    let late;
    const sink = { kind: 'slow', send: () => new Promise((resolve) => { late = resolve; }) };
    const outcome = await new Tracker({ sink, maxAttempts: 1, timeoutMs: 50 }).track('a::b', { ...USAGE });
    assert.equal(outcome.status, 'unknown', JSON.stringify(outcome));
    assert.equal(outcome.error.code, 'E_TIMEOUT');
    late('now');
  });

  it('after every hostile sink above, a tracker in the same isolate still delivers', async () => {
    const { sink, sends } = recordingSink();
    const outcome = await newTracker(sink).track('a::b', { ...USAGE }, { responseId: 'still-works' });
    assert.equal(outcome.status, 'queued');
    assert.equal(JSON.parse(sends[0][0]).response_id, 'still-works');
  });
});

describe('sink: the option is checked at construction', () => {
  const send = () => Promise.resolve();
  it('refuses the options that only say where to POST: the consumer holds the key', () => {
    for (const [name, value] of [['apiKey', 'k'], ['apiBase', 'https://x.example'], ['apiUrl', '/v2'], ['proxy', true], ['fetch', () => {}]]) {
      assertThrowsAicm(() => new Tracker({ sink: { send }, [name]: value }), 'E_INVALID_OPTION', new RegExp(`${name}.*sink`), name);
    }
  });

  it('refuses a sink that is not an object with send(), a bad kind and bad limits', () => {
    assertThrowsAicm(() => new Tracker({ sink: 'queue' }), 'E_INVALID_OPTION', /sink/);
    assertThrowsAicm(() => new Tracker({ sink: {} }), 'E_INVALID_OPTION', /sink\.send/);
    assertThrowsAicm(() => new Tracker({ sink: { send, kind: '' } }), 'E_INVALID_OPTION', /sink\.kind/);
    assertThrowsAicm(() => new Tracker({ sink: { send, kind: 7 } }), 'E_INVALID_OPTION', /sink\.kind/);
    for (const bad of [0, -1, 1.5, Number.NaN, 'many']) {
      assertThrowsAicm(() => new Tracker({ sink: { send, maxBatchSize: bad } }), 'E_INVALID_OPTION', /sink\.maxBatchSize/, String(bad));
    }
  });

  it('a sink whose getter throws, or a revoked Proxy, is E_UNREADABLE_VALUE naming the property', () => {
    const getter = { get send() { throw new Error('nope'); } };
    assertThrowsAicm(() => new Tracker({ sink: getter }), 'E_UNREADABLE_VALUE', /options\.sink\.send: reading it threw: .*nope/);
    const { proxy, revoke } = Proxy.revocable({ send }, {});
    revoke();
    assertThrowsAicm(() => new Tracker({ sink: proxy }), 'E_UNREADABLE_VALUE', /options\.sink/);
    // A class instance with send on its prototype is a sink too.
    class Sink { send() { return Promise.resolve(); } }
    assert.ok(new Tracker({ sink: new Sink() }));
  });
});
