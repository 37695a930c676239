// Issue 6, defect 5: the API key never reaches the store, a dead letter, a result or stats(), even when the
// service echoes it (the ingest server's `echoKey` fault answers 401 with the Authorization header, the token,
// a cut-off token and its URL-encoded form in the body, or a 202 whose per-record errors name the token).
// Run: node --test tests/js/redaction.test.mjs   (after scripts/build-pkg and unpack_pkg_into tests/js)

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';

import { Tracker, memoryStore } from 'aicostmanager-edge';

import { startIngestServer } from '../ingest/server.mjs';
import { FAST, SERVICE_KEY, recordingStore, saved, trackMany } from './support-queue/queue.mjs';

/** A realistic key: long enough that any 12-character run of it is redacted. Contains characters URL-encoding changes. */
const SECRET = 'sk-proj-T3st+Redact/9f8e7d6c5b4a=';
/** What must appear nowhere: the key, runs of it, and its URL-encoded form. */
const FORBIDDEN = [SECRET, SECRET.slice(0, 14), SECRET.slice(8, 20), SECRET.slice(-12), encodeURIComponent(SECRET)];

let ingest;
before(async () => {
  ingest = await startIngestServer({ apiKey: SECRET });
});
after(() => ingest.close());
beforeEach(() => ingest.reset());

function assertNoKey(what, value) {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  for (const bit of FORBIDDEN) assert.ok(!text.includes(bit), `${what} contains ${JSON.stringify(bit)}: ${text}`);
}

/** Every key and value the store holds, as one string. */
async function storeText(store) {
  const entries = await store.list('');
  return JSON.stringify(entries);
}

describe('a service that echoes the API key', () => {
  it('persistent queue, 401 echoing the key: dead letters, the store and stats() never hold it', async () => {
    const inner = memoryStore();
    const rec = recordingStore(inner);
    const tracker = new Tracker({
      apiKey: SECRET, apiBase: ingest.url, deliveryType: 'persistent_queue', store: rec.store, ...FAST,
    });
    trackMany(tracker, 2, 'echo');
    await saved(tracker);
    ingest.setFaults({ queue: [{ kind: 'echoKey' }] });
    const report = await tracker.flush();
    assert.equal(report.deadLettered, 2, JSON.stringify(report));
    const requests = ingest.requests();
    assert.equal(requests.length, 1);
    assert.equal(requests[0].status, 401);

    const dead = await tracker.deadLetters();
    assert.equal(dead.length, 2);
    for (const letter of dead) {
      assert.equal(letter.status, 401);
      assert.match(letter.reason, /^HTTP 401: .*Invalid API key \[redacted\]/);
      assert.match(letter.reason, /Bearer \[redacted\]/);
    }
    assertNoKey('deadLetters()', dead);
    await saved(tracker);
    assertNoKey('the store', await storeText(inner));
    assertNoKey('every value put', JSON.stringify(rec.calls));
    assertNoKey('stats()', tracker.stats());
    // The dead letters are in the store, redacted, for the next isolate too.
    const next = new Tracker({ apiKey: SECRET, apiBase: ingest.url, deliveryType: 'persistent_queue', store: inner, ...FAST });
    const adopted = await next.deadLetters();
    assert.equal(adopted.length, 2);
    assertNoKey('deadLetters() of a new tracker', adopted);
  });

  it('persistent queue, per-record errors naming the key: redacted in the dead letters and the store', async () => {
    const inner = memoryStore();
    const tracker = new Tracker({ apiKey: SECRET, apiBase: ingest.url, deliveryType: 'persistent_queue', store: inner, ...FAST });
    trackMany(tracker, 3, 'per-record');
    ingest.setFaults({ queue: [{ kind: 'echoKey', perRecord: true }] });
    const report = await tracker.flush();
    assert.equal(report.deadLettered, 3, JSON.stringify(report));
    const dead = await tracker.deadLetters();
    for (const letter of dead) {
      assert.deepEqual(letter.errors, [`API key [redacted] may not track ${letter.responseId}`]);
    }
    assertNoKey('deadLetters()', dead);
    await saved(tracker);
    assertNoKey('the store', await storeText(inner));
  });

  it('immediate: the result of a 401 echoing the key does not hold it, and is failed (the service refused it)', async () => {
    const tracker = new Tracker({ apiKey: SECRET, apiBase: ingest.url, ...FAST });
    ingest.setFaults({ queue: [{ kind: 'echoKey' }] });
    const result = await tracker.track(SERVICE_KEY, { prompt_tokens: 1 });
    assert.equal(result.status, 'failed');
    assert.equal(result.error.httpStatus, 401);
    assert.match(result.error.message, /\[redacted\]/);
    assertNoKey('the result', result);

    ingest.setFaults({ queue: [{ kind: 'echoKey', perRecord: true }] });
    const rejected = await tracker.track(SERVICE_KEY, { prompt_tokens: 2 }, { responseId: 'named' });
    assert.equal(rejected.status, 'error');
    assert.deepEqual(rejected.errors, ['API key [redacted] may not track named']);
    assertNoKey('the rejected result', rejected);
  });
});
