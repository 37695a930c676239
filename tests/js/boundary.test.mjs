// The JS↔wasm boundary (issue 6, defects 1, 2 and the lone-surrogate keys of 7), on the packed package: whatever
// JS value a user hands the Tracker (throwing getters, revoked Proxies in every position, huge arrays, strings and
// objects, keys with unpaired surrogates), the call throws a coded AicmError or works, the instance is never
// corrupted (a normal track() works after each, free() at the end), and wasm memory stays bounded.
// Run: node --test tests/js/boundary.test.mjs   (after scripts/build-pkg and unpack_pkg_into tests/js)

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';

import { Tracker } from 'aicostmanager-edge';

import { startIngestServer } from '../ingest/server.mjs';
import { KEY, FAST, assertThrowsAicm, sentBodies } from './support/tracker.mjs';

// The wasm instance's memory, for the memory bounds. The package exports no handle to it (and should not), so this
// test-only path imports the glue module by file URL: it is the very module the node entry imported (same resolved
// URL, so the same instance), and its initSync() returns the existing exports, `memory` among them, once the
// module is initialized. Nothing in the public API is widened.
const glueUrl = new URL('./node_modules/aicostmanager-edge/wasm/aicostmanager_edge.js', import.meta.url);
const { initSync } = await import(glueUrl.href);
const wasmExports = initSync({});
assert.ok(wasmExports.memory instanceof WebAssembly.Memory, 'the glue hands back the initialized instance');
const memoryBytes = () => wasmExports.memory.buffer.byteLength;
const MiB = 1024 * 1024;

let ingest;
before(async () => {
  ingest = await startIngestServer({ apiKey: KEY });
});
after(() => ingest.close());
beforeEach(() => ingest.reset());

const SERVICE_KEY = 'x::y';

/** A Proxy that was revoked: every operation on it throws a TypeError (an Immer draft after `produce`). */
function revoked(target = {}) {
  const { proxy, revoke } = Proxy.revocable(target, {});
  revoke();
  return proxy;
}

/** An array whose element 0 is a getter that throws (the repro). */
function throwingArray() {
  const a = [1];
  Object.defineProperty(a, 0, { get() { throw 1; } });
  return a;
}

/** An object whose `name` getter throws `error`. */
function throwingGetter(name, error = new Error('getter threw')) {
  return Object.defineProperty({}, name, { get() { throw error; }, enumerable: true });
}

/** The two kinds of tracker: each case runs against both. */
const KINDS = {
  immediate: () => new Tracker({ apiKey: KEY, apiBase: ingest.url, ...FAST }),
  persistent_queue: () => new Tracker({ apiKey: KEY, apiBase: ingest.url, deliveryType: 'persistent_queue', ...FAST }),
};

/**
 * Checks that `tracker` still works: a normal track() is accepted (immediate: delivered; queue: queued, then
 * delivered by flush()) and reaches the server.
 */
async function assertStillTracks(tracker, kind, responseId) {
  const before = sentBodies(ingest).flat().length;
  const result = tracker.track(SERVICE_KEY, { n: 1 }, { responseId });
  if (kind === 'immediate') {
    // Not assertQueued: a kept-alive socket the server closed meanwhile may cost a retry; delivered is what counts.
    const delivered = await result;
    assert.equal(delivered.status, 'queued', JSON.stringify(delivered));
  } else {
    assert.equal(result.responseId, responseId);
    const report = await tracker.flush();
    assert.equal(report.remaining, 0, JSON.stringify(report));
  }
  const sent = sentBodies(ingest).flat().slice(before).map((r) => r.response_id);
  assert.ok(sent.includes(responseId), `${responseId} reached the server after the hostile calls`);
}

// Each case: [label, call(tracker), code, message pattern]. The rule (README "Validation"): a value that had to be
// read and whose read threw is E_UNREADABLE_VALUE naming where; a value whose type alone is wrong keeps the
// argument's code; inside trackBatch, every error of one record is E_INVALID_RECORD naming the index.
const HOSTILE = [
  ['throwing getter in an array in usage', (t) => t.track(SERVICE_KEY, { a: throwingArray() }),
    'E_UNREADABLE_VALUE', /^usage\.a\[0\]: reading it threw: 1$/],
  ['revoked Proxy as usage', (t) => t.track(SERVICE_KEY, revoked()), 'E_UNREADABLE_VALUE', /^usage: reading it threw: /],
  ['revoked array Proxy as usage', (t) => t.track(SERVICE_KEY, revoked([])), 'E_UNREADABLE_VALUE', /^usage: /],
  ['revoked Proxy inside usage', (t) => t.track(SERVICE_KEY, { a: [1, { b: revoked() }] }),
    'E_UNREADABLE_VALUE', /^usage\.a\[1\]\.b: reading it threw: /],
  ['throwing getter in usage', (t) => t.track(SERVICE_KEY, throwingGetter('tokens')),
    'E_UNREADABLE_VALUE', /^usage\.tokens: reading it threw: getter threw$/],
  ['Proxy whose ownKeys trap throws as usage',
    (t) => t.track(SERVICE_KEY, new Proxy({}, { ownKeys() { throw new Error('no keys'); } })),
    'E_UNREADABLE_VALUE', /^usage: reading it threw: no keys$/],
  ['array Proxy whose length throws inside usage',
    (t) => t.track(SERVICE_KEY, { a: new Proxy([], { get(target, key) { if (key === 'length') throw new Error('len'); return target[key]; } }) }),
    'E_UNREADABLE_VALUE', /^usage\.a: reading it threw: len$/],
  ['revoked Proxy as service key', (t) => t.track(revoked(), { n: 1 }), 'E_INVALID_SERVICE_KEY', /serviceKey/],
  ['revoked Proxy as options', (t) => t.track(SERVICE_KEY, { n: 1 }, revoked()), 'E_UNREADABLE_VALUE', /^options: /],
  ['throwing getter in options', (t) => t.track(SERVICE_KEY, { n: 1 }, throwingGetter('responseId')),
    'E_UNREADABLE_VALUE', /^options\.responseId: reading it threw: getter threw$/],
  ['revoked Proxy as context', (t) => t.track(SERVICE_KEY, { n: 1 }, { context: revoked() }),
    'E_UNREADABLE_VALUE', /^context: /],
  ['revoked Proxy inside context', (t) => t.track(SERVICE_KEY, { n: 1 }, { context: { a: revoked() } }),
    'E_UNREADABLE_VALUE', /^context\.a: /],
  ['revoked Proxy as customer key', (t) => t.track(SERVICE_KEY, { n: 1 }, { customerKey: revoked() }),
    'E_INVALID_CUSTOMER_KEY', /customerKey/],
  ['revoked Proxy as anonymizeFields', (t) => t.track(SERVICE_KEY, { n: 1 }, { anonymizeFields: revoked([]) }),
    'E_UNREADABLE_VALUE', /^options\.anonymizeFields: /],
  ['throwing item in anonymizeFields', (t) => t.track(SERVICE_KEY, { n: 1 }, { anonymizeFields: throwingArray() }),
    'E_UNREADABLE_VALUE', /^options\.anonymizeFields\[0\]: /],
  ['Proxy of a Date as timestamp', (t) => t.track(SERVICE_KEY, { n: 1 }, { timestamp: new Proxy(new Date(), {}) }),
    'E_UNREADABLE_VALUE', /^options\.timestamp: /],
  ['revoked Proxy as trackBatch records', (t) => t.trackBatch(revoked([])), 'E_UNREADABLE_VALUE', /^records: /],
  ['trackBatch records whose length throws',
    (t) => t.trackBatch(new Proxy([], { get(target, key) { if (key === 'length') throw new Error('len'); return target[key]; } })),
    'E_UNREADABLE_VALUE', /^records: reading it threw: len$/],
  ['revoked Proxy as a trackBatch item', (t) => t.trackBatch([revoked()]), 'E_INVALID_RECORD',
    /^records\[0\]: record: reading it threw: .*\(E_UNREADABLE_VALUE\)$/],
  ['getter-throwing element of the records array', (t) => t.trackBatch(throwingArray()), 'E_INVALID_RECORD',
    /^records\[0\]: record: reading it threw: 1/],
  ['revoked usage in a trackBatch record', (t) => t.trackBatch([{ serviceKey: SERVICE_KEY, usage: revoked() }]),
    'E_INVALID_RECORD', /^records\[0\]: usage: reading it threw: /],
  ['revoked Proxy as trackBatch options', (t) => t.trackBatch([{ serviceKey: SERVICE_KEY, usage: { n: 1 } }], revoked()),
    'E_UNREADABLE_VALUE', /^options: /],
  ['setContext(revoked Proxy)', (t) => t.setContext(revoked()), 'E_UNREADABLE_VALUE', /^context: /],
  ['setAnonymizeFields(revoked Proxy)', (t) => t.setAnonymizeFields(revoked([])), 'E_UNREADABLE_VALUE',
    /^anonymizeFields: /],
  ['setAnonymizeFields([revoked Proxy])', (t) => t.setAnonymizeFields([revoked()]), 'E_UNREADABLE_VALUE',
    /^anonymizeFields\[0\]: /],
  ['setCustomerKey(revoked Proxy)', (t) => t.setCustomerKey(revoked()), 'E_INVALID_CUSTOMER_KEY', /customerKey/],
  ['requeueDeadLetters(revoked Proxy)', (t) => t.requeueDeadLetters(revoked([])), 'E_UNREADABLE_VALUE', /^ids: /],
  ['requeueDeadLetters([throwing item])', (t) => t.requeueDeadLetters(throwingArray()), 'E_UNREADABLE_VALUE',
    /^ids\[0\]: /],
  ['purgeDeadLetters(revoked Proxy)', (t) => t.purgeDeadLetters(revoked([])), 'E_UNREADABLE_VALUE', /^ids: /],
  ['flush(revoked Proxy)', (t) => t.flush(revoked()), 'E_UNREADABLE_VALUE', /^options\.deadlineMs: /],
  ['flush options with a throwing getter', (t) => t.flush(throwingGetter('keepalive')), 'E_UNREADABLE_VALUE',
    /^options\.keepalive: reading it threw: getter threw$/],
  ['unpaired surrogate in a usage key', (t) => t.track(SERVICE_KEY, { 'a\ud800': 1 }), 'E_UNSUPPORTED_VALUE',
    /^usage\["a\ufffd"\]: .*unpaired surrogate/],
  ['two keys that would collide as U+FFFD', (t) => t.track(SERVICE_KEY, { ok: { 'k\ud800': 1, 'k\udc00': 2 } }),
    'E_UNSUPPORTED_VALUE', /^usage\.ok\["k\ufffd"\]: .*unpaired surrogate/],
  ['unpaired surrogate in a context key', (t) => t.track(SERVICE_KEY, { n: 1 }, { context: { '\udfff': 'x' } }),
    'E_UNSUPPORTED_VALUE', /^context\["\ufffd"\]: /],
];

/** The hostile constructor options: each throws, and a new Tracker afterwards works. */
const HOSTILE_OPTIONS = [
  ['revoked Proxy as options', () => revoked(), 'E_UNREADABLE_VALUE', /^options: /],
  ['throwing apiKey getter', () => throwingGetter('apiKey'), 'E_UNREADABLE_VALUE', /^options\.apiKey: /],
  ['revoked Proxy as context', (deliveryType) => ({ apiKey: KEY, deliveryType, context: revoked() }),
    'E_UNREADABLE_VALUE', /^context: /],
  ['revoked Proxy as anonymizeFields', (deliveryType) => ({ apiKey: KEY, deliveryType, anonymizeFields: revoked([]) }),
    'E_UNREADABLE_VALUE', /^options\.anonymizeFields: /],
  ['revoked Proxy as customerKey', (deliveryType) => ({ apiKey: KEY, deliveryType, customerKey: revoked() }),
    'E_INVALID_CUSTOMER_KEY', /customerKey/],
];

for (const [kind, make] of Object.entries(KINDS)) {
  describe(`hostile values (${kind} tracker)`, () => {
    it('the issue repro: a throwing getter 1000 times, then a normal track() works and free() works', async () => {
      const tracker = make();
      const a = throwingArray();
      for (let i = 0; i < 1000; i += 1) {
        assertThrowsAicm(() => tracker.track(SERVICE_KEY, { a }), 'E_UNREADABLE_VALUE', /usage\.a\[0\]/, `call ${i}`);
      }
      await assertStillTracks(tracker, kind, `repro-${kind}`);
      tracker.free();
    });

    for (const [label, call, code, message] of HOSTILE) {
      it(`${label}: ${code} (200 times), then a normal track() and free() work`, async () => {
        const tracker = make();
        for (let i = 0; i < 200; i += 1) assertThrowsAicm(() => call(tracker), code, message, `${label} #${i}`);
        await assertStillTracks(tracker, kind, `after-${kind}-${label.replace(/\W+/g, '-')}`);
        tracker.free();
      });
    }

    for (const [label, options, code, message] of HOSTILE_OPTIONS) {
      it(`new Tracker with ${label}: ${code}, then a new tracker works`, async () => {
        for (let i = 0; i < 200; i += 1) {
          assertThrowsAicm(() => new Tracker(options(kind)), code, message, `${label} #${i}`);
        }
        const tracker = make();
        await assertStillTracks(tracker, kind, `ctor-${kind}-${label.replace(/\W+/g, '-')}`);
        tracker.free();
      });
    }

    it('an anonymizer returning a revoked Proxy or a throwing object fails closed (redacted), and the tracker works', async () => {
      const results = [() => revoked(), () => throwingGetter('x'), () => revoked([]), () => ({ a: [revoked()] })];
      for (const [i, anonymizer] of results.entries()) {
        const tracker = make();
        const responseId = `anon-${kind}-${i}`;
        const result = tracker.track(SERVICE_KEY, { email: 'a@b.c' }, { responseId, anonymizeFields: ['email'], anonymizer });
        if (kind === 'immediate') assert.equal((await result).status, 'queued');
        else assert.equal((await tracker.flush()).remaining, 0);
        const record = sentBodies(ingest).flat().find((r) => r.response_id === responseId);
        assert.equal(record?.payload.email, '[REDACTED]', `anonymizer ${i}: the default redaction replaced the value`);
        await assertStillTracks(tracker, kind, `${responseId}-after`);
        tracker.free();
      }
    });
  });
}

describe('huge values are refused as they are read, at little cost', () => {
  // A refused value must not grow wasm memory in proportion to its size: memory only ever grows (it is never given
  // back), so a 9-million-element array copied into wasm before validation would cost hundreds of MB for good (and
  // trapped the instance before the fix). What the import may hold is bounded by maxRecordBytes instead: the import
  // stops once a lower bound of the encoded size passes it. With a 64 KiB budget the whole run below may grow
  // memory by at most 4 MiB (0.7 MiB measured); with the default 1 MiB it may grow once, by at most 32 MiB (9 MiB
  // measured: the core's values take ~32 bytes per element for a 2-byte `0,`), and then not at all when the same
  // calls repeat.
  const HUGE = [
    ['new Array(9e6)', () => ({ s: new Array(9e6) }), /^usage\.s: /],
    ['new Array(9e6).fill(0)', () => ({ s: new Array(9e6).fill(0) }), /^usage\.s/],
    ['a 50 MB string', () => ({ s: 'x'.repeat(50e6) }), /^usage\.s: /],
    ['an object with 2 million keys', () => {
      const wide = {};
      for (let i = 0; i < 2e6; i += 1) wide[`k${i}`] = i;
      return { wide };
    }, /^usage\.wide/],
  ];
  const values = HUGE.map(([label, make, message]) => [label, make(), message]);

  function refuseAll(tracker) {
    for (const [label, usage, message] of values) {
      assertThrowsAicm(() => tracker.track(SERVICE_KEY, usage), 'E_RECORD_TOO_LARGE', message, label);
      assertThrowsAicm(() => tracker.setContext(usage), 'E_RECORD_TOO_LARGE', /^context/, `${label} as context`);
    }
  }

  it('with maxRecordBytes 65536: coded errors, wasm memory grows by at most 4 MiB, the tracker works', async () => {
    const start = memoryBytes();
    for (const kind of Object.keys(KINDS)) {
      const tracker = new Tracker({ apiKey: KEY, apiBase: ingest.url, deliveryType: kind, ...FAST, maxRecordBytes: 65536 });
      refuseAll(tracker);
      await assertStillTracks(tracker, kind, `small-budget-${kind}`);
      tracker.free();
    }
    const grown = memoryBytes() - start;
    assert.ok(grown <= 4 * MiB, `wasm memory grew by ${grown} bytes`);
  });

  it('with the default maxRecordBytes: coded errors, bounded growth once, none when repeated', async () => {
    for (const [kind, make] of Object.entries(KINDS)) {
      const tracker = make();
      const start = memoryBytes();
      refuseAll(tracker);
      const first = memoryBytes() - start;
      assert.ok(first <= 32 * MiB, `${kind}: the first pass grew wasm memory by ${first} bytes`);
      const settled = memoryBytes();
      refuseAll(tracker);
      assert.equal(memoryBytes() - settled, 0, `${kind}: repeating the refused calls grows no memory`);
      await assertStillTracks(tracker, kind, `default-budget-${kind}`);
      tracker.free();
    }
  });

  it('a 50 MB string alone costs no wasm memory (it is measured, not copied)', () => {
    const tracker = KINDS.immediate();
    const big = 'y'.repeat(50e6);
    const start = memoryBytes();
    for (let i = 0; i < 20; i += 1) {
      assertThrowsAicm(() => tracker.track(SERVICE_KEY, { big }), 'E_RECORD_TOO_LARGE', /^usage\.big: /);
      assertThrowsAicm(() => tracker.track(big, { n: 1 }), 'E_INVALID_SERVICE_KEY', /longer than 65536/);
      assertThrowsAicm(() => tracker.track(SERVICE_KEY, { n: 1 }, { customerKey: big }), 'E_INVALID_CUSTOMER_KEY');
    }
    assert.equal(memoryBytes() - start, 0, 'no growth');
    tracker.free();
  });
});

describe('a trackBatch call holds its records at once, so their total is bounded', () => {
  it('records of 64 MiB and more together throw E_BATCH_TOO_LARGE (10,000 × 1 MiB would exhaust the instance)', async () => {
    const tracker = new Tracker({ apiKey: KEY, apiBase: ingest.url, ...FAST, maxRecordBytes: 4 * MiB, maxBatchBytes: 4 * MiB });
    const usage = { text: 'z'.repeat(3 * MiB) };
    const records = Array.from({ length: 30 }, (_, i) => ({ serviceKey: SERVICE_KEY, usage, responseId: `big-${i}` }));
    assertThrowsAicm(() => tracker.trackBatch(records), 'E_BATCH_TOO_LARGE', /^records: .*64 ?MiB|67108864/);
    assert.equal(ingest.requests().length, 0, 'nothing was sent');
    await assertStillTracks(tracker, 'immediate', 'after-big-batch');
    tracker.free();
  });
});
