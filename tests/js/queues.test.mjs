// queueSink / handleQueueBatch / replayDeadLetters in Node with fake Queue objects: the glue's reading of hostile
// batches (throwing getters, a revoked Proxy, bodies that are not records), what each message is told (ack,
// retry with delaySeconds, re-send, dead letter with its reason), and the DLQ replay. The decisions themselves are
// tested natively (src/core/delivery/queue_consumer/tests.rs); workerd: tests/js/workerd-queues.test.mjs.
// Run: node --test tests/js/queues.test.mjs   (after scripts/build-pkg and unpack_pkg_into tests/js)

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Tracker, handleQueueBatch, queueSink, replayDeadLetters } from 'aicostmanager-edge';

const rec = (id) => JSON.stringify({ service_key: 'openai::gpt-4o-mini', response_id: id, payload: { prompt_tokens: 1 } });

function message(body, { attempts = 1, id } = {}) {
  const m = { id: id ?? `m-${Math.random()}`, body, attempts, timestamp: new Date(), calls: [] };
  m.ack = () => m.calls.push(['ack']);
  m.retry = (o) => m.calls.push(['retry', o]);
  return m;
}

function fakeQueue({ fail = false } = {}) {
  const sent = [];
  return {
    sent,
    send: async (b) => { if (fail) throw new Error('down'); sent.push([b]); },
    sendBatch: async (b) => { if (fail) throw new Error('down'); sent.push(b); },
  };
}

/** A fetch answering every POST with `answer(tracked)` ({ status, body, headers }); it keeps the bodies. */
function fakeFetch(answer) {
  const posts = [];
  const fn = async (url, init) => {
    const tracked = JSON.parse(init.body).tracked;
    posts.push(tracked);
    const { status = 200, body, headers = {} } = answer(tracked);
    return new Response(body ?? JSON.stringify({ results: tracked.map((r) => ({ response_id: r.response_id, status: 'queued' })) }), { status, headers });
  };
  fn.posts = posts;
  return fn;
}

const env = (extra = {}) => ({ AICM_API_KEY: 'k', AICM_API_BASE: 'http://127.0.0.1:9', ...extra });

describe('queueSink', () => {
  it('sends each record as a text message in one sendBatch, within Queues limits', async () => {
    const queue = fakeQueue();
    const sink = queueSink(queue);
    assert.equal(sink.kind, 'cloudflare-queue');
    assert.deepEqual([sink.maxRecordBytes, sink.maxBatchSize, sink.maxBatchBytes], [127_000, 100, 246_000]);
    const tracker = new Tracker({ sink });
    const outcome = await tracker.track('openai::gpt-4o-mini', { prompt_tokens: 1 }, { responseId: 'p-1' });
    assert.equal(outcome.status, 'queued');
    assert.equal(queue.sent.length, 1);
    assert.equal(queue.sent[0][0].contentType, 'text');
    assert.equal(JSON.parse(queue.sent[0][0].body).response_id, 'p-1');
  });

  it('refuses what is not a Queue binding', () => {
    for (const bad of [undefined, null, {}, { send() {} }, 'AICM_QUEUE', new Proxy({}, { get() { throw new Error('x'); } })]) {
      assert.throws(() => queueSink(bad), (e) => e instanceof TypeError && e.code === 'E_INVALID_OPTION');
    }
  });
});

describe('handleQueueBatch', () => {
  it('posts once per response_id, acks both duplicates, dead-letters garbage with its reason, never posts it', async () => {
    const dlq = fakeQueue();
    const fetch = fakeFetch(() => ({}));
    const msgs = [message(rec('a')), message(rec('a')), message('<html>'), message({ response_id: 'obj' }), message(new ArrayBuffer(4))];
    const report = await handleQueueBatch({ queue: 'q', messages: msgs }, env(), { fetch, deadLetterQueue: dlq });
    assert.equal(fetch.posts.length, 1);
    assert.deepEqual(fetch.posts[0].map((r) => r.response_id), ['a']);
    assert.deepEqual(msgs.map((m) => m.calls[0][0]), ['ack', 'ack', 'ack', 'ack', 'ack']);
    assert.equal(report.acked, 2);
    assert.equal(report.deadLettered, 3);
    assert.equal(dlq.sent.flat().length, 3);
    const letter = JSON.parse(dlq.sent[0][0].body);
    assert.equal(letter.reason.code, 'E_QUEUE_MESSAGE');
    assert.equal(letter.record, null);
    assert.equal(letter.reason.body_excerpt, '<html>');
  });

  it('without a DLQ binding a dead letter stays in the queue (retried 12 h later) and is reported', async () => {
    const msgs = [message('not json')];
    const report = await handleQueueBatch({ messages: msgs }, env(), { fetch: fakeFetch(() => ({})) });
    assert.equal(report.deadLettered, 1);
    assert.equal(report.deadLetters[0].sent, false);
    assert.equal(report.deadLetters[0].code, 'E_QUEUE_MESSAGE');
    assert.deepEqual(msgs[0].calls[0], ['retry', { delaySeconds: 43_200 }]);
  });

  it('reads hostile batches without a trap: throwing getters, a revoked Proxy, throwing ack/retry', async () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    await assert.rejects(handleQueueBatch(proxy, env(), { fetch: fakeFetch(() => ({})) }), (e) => e.code === 'E_QUEUE_BATCH');
    await assert.rejects(handleQueueBatch({ get messages() { throw new Error('no'); } }, env(), {}), (e) => e.code === 'E_QUEUE_BATCH');
    await assert.rejects(handleQueueBatch({ messages: { length: 1e12 } }, env(), {}), (e) => e.code === 'E_QUEUE_BATCH');
    const hostile = message(rec('h'));
    Object.defineProperty(hostile, 'body', { get() { throw new Error('body getter'); } });
    const { proxy: gone, revoke: revokeMsg } = Proxy.revocable(message(rec('g')), {});
    revokeMsg();
    const throwing = message(rec('t'));
    throwing.ack = () => { throw new Error('ack refused'); };
    const fetch = fakeFetch(() => ({}));
    const report = await handleQueueBatch({ messages: [hostile, gone, throwing] }, env(), { fetch });
    assert.deepEqual(fetch.posts.map((p) => p.map((r) => r.response_id)), [['t']]);
    assert.equal(report.deadLettered, 2);
    // The revoked message cannot even be told to retry, t's ack throws: both reported, the rest carried on.
    assert.deepEqual(report.errors.map((e) => e.code), ['E_QUEUE_CALL', 'E_QUEUE_CALL'], JSON.stringify(report.errors));
    assert.deepEqual(hostile.calls, [['retry', { delaySeconds: 43_200 }]], 'an unreadable body is a dead letter, kept');
  });

  it('refuses bad options with a code', async () => {
    await assert.rejects(handleQueueBatch({ messages: [] }, {}, {}), (e) => e.code === 'E_MISSING_API_KEY');
    await assert.rejects(handleQueueBatch({ messages: [] }, env(), { maxRetries: 101 }), (e) => e.code === 'E_INVALID_OPTION');
  });
});

describe('replayDeadLetters', () => {
  it('sends the records of dead letters back to the delivery queue, attempts reset, and acks them', async () => {
    const dlq = fakeQueue();
    const fetch = fakeFetch(() => ({ status: 200, body: JSON.stringify({ results: [{ response_id: 'z', status: 'error', errors: ['bad'] }] }) }));
    await handleQueueBatch({ messages: [message(rec('z'))] }, env(), { fetch, deadLetterQueue: dlq });
    const letter = dlq.sent[0][0];
    assert.equal(JSON.parse(letter.body).reason.code, 'E_REJECTED');
    assert.deepEqual(JSON.parse(letter.body).reason.errors, ['bad']);
    const queue = fakeQueue();
    const dead = message(letter.body, { attempts: 4 });
    const report = await replayDeadLetters({ messages: [dead] }, { AICM_QUEUE: queue });
    assert.equal(report.posts, 0);
    assert.equal(report.requeued, 1);
    assert.deepEqual(dead.calls[0], ['ack']);
    const back = JSON.parse(queue.sent[0][0].body);
    assert.equal(back.attempts, 0);
    assert.equal(back.record.response_id, 'z');
  });
});

// Last: these leave the module-scope pause running (it is the isolate's, shared by every call in this file).
describe('handleQueueBatch on a service that is down', () => {
  it('retries with the backoff on 503 and, during the pause that follows, retries a new batch without a POST', async () => {
    const fetch = fakeFetch(() => ({ status: 503, body: 'down' }));
    const first = [message(rec('b1'))];
    const report = await handleQueueBatch({ messages: first }, env(), { fetch, maxRetries: 10 });
    assert.equal(report.posts, 1);
    assert.equal(first[0].calls[0][0], 'retry');
    assert.ok(first[0].calls[0][1].delaySeconds >= 1 && first[0].calls[0][1].delaySeconds <= 2);
    const second = [message(rec('b2'))];
    const again = await handleQueueBatch({ messages: second }, env(), { fetch, maxRetries: 10 });
    assert.equal(again.posts, 0);
    assert.equal(fetch.posts.length, 1, 'no POST during the pause');
    assert.equal(second[0].calls[0][0], 'retry');
  });

  it('re-sends a message at max_retries carrying its attempts and acks the original; keeps it when the send fails', async () => {
    // A fresh module-level pause may still run from the previous test: use a Retry-After-free 500 after it.
    await new Promise((r) => setTimeout(r, 2100));
    const queue = fakeQueue();
    const fetch = fakeFetch(() => ({ status: 500 }));
    const msgs = [message(rec('c'), { attempts: 3 })];
    const report = await handleQueueBatch({ messages: msgs }, env({ AICM_QUEUE: queue }), { fetch });
    assert.equal(report.requeued, 1);
    assert.deepEqual(msgs[0].calls[0], ['ack']);
    const envelope = JSON.parse(queue.sent[0][0].body);
    assert.equal(envelope.aicm_requeued, 1);
    assert.equal(envelope.attempts, 3);
    assert.equal(envelope.record.response_id, 'c');
    const kept = [message(rec('d'), { attempts: 3 })];
    const r2 = await handleQueueBatch({ messages: kept }, env({ AICM_QUEUE: fakeQueue({ fail: true }) }), { fetch });
    assert.equal(r2.requeued, 0);
    assert.equal(kept[0].calls[0][0], 'retry', 'a failed re-send keeps the message in the queue');
  });

});
