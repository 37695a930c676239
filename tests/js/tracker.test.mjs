// The package as a Node consumer sees it (tests/js/node_modules/aicostmanager-edge, "node" export condition),
// against the local ingest server: exports, the record on the wire, validation (thrown AicmErrors, nothing
// sent), tracker defaults and anonymization, trackBatch, the fetch option, triggered limits and close().
// Run: node --test tests/js/tracker.test.mjs   (after scripts/build-pkg and unpack_pkg_into tests/js)

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';

import { Tracker, ready, version } from 'aicostmanager-edge';
import * as pkg from 'aicostmanager-edge';

import { startIngestServer } from '../ingest/server.mjs';
import {
  KEY, assertQueued, assertThrowsAicm, makeTracker, onlySentRecord, recordingFetch, sentBodies,
} from './support/tracker.mjs';

const USAGE = Object.freeze({ prompt_tokens: 19, completion_tokens: 10, total_tokens: 29 });

let ingest;
before(async () => {
  ingest = await startIngestServer({ apiKey: KEY });
});
after(() => ingest.close());
beforeEach(() => ingest.reset());

/** Tracks one valid record and checks that it, and only it, reached the server in one new request. */
async function assertStillTracks(tracker, label) {
  const countBefore = ingest.requests().length;
  const result = await tracker.track('openai::gpt-4o-mini', { ...USAGE }, { responseId: `ok-${label}` });
  assertQueued(result);
  const bodies = sentBodies(ingest).slice(countBefore);
  assert.deepEqual(bodies.map((records) => records.map((r) => r.response_id)), [[`ok-${label}`]],
    `after "${label}" exactly the valid record went out`);
}

describe('exports', () => {
  it('exports Tracker, ready (resolved), version and the stores from the node entry, and nothing of the wasm glue', async () => {
    assert.equal(typeof Tracker, 'function');
    assert.ok(ready instanceof Promise);
    assert.equal(await ready, undefined);
    assert.match(version, /^\d+\.\d+\.\d+/);
    assert.deepEqual(Object.keys(pkg).sort(), [
      'AicmOutbox', 'OUTBOX_DEFAULTS', 'OUTBOX_SETTINGS', 'QueueConsumerSession', 'Tracker', 'durableObjectOutbox',
      'durableObjectSink', 'durableObjectStorageStore', 'handleQueueBatch', 'indexedDbStore', 'kvStore', 'memoryStore',
      'queueSink', 'ready', 'replayDeadLetters', 'version',
    ]);
  });

  it('version is the package.json version', async () => {
    const { createRequire } = await import('node:module');
    const manifest = createRequire(import.meta.url)('aicostmanager-edge/package.json');
    assert.equal(version, manifest.version);
  });
});

describe('the record on the wire', () => {
  it('sends {"tracked":[record]} with the SDK field order, a Bearer key and JSON content type', async () => {
    const tracker = makeTracker(ingest);
    const result = await tracker.track('openai::gpt-4o-mini', { ...USAGE, prompt_tokens_details: null }, {
      responseId: 'resp-1', timestamp: '2025-01-15T10:30:00Z', customerKey: 'cust-1', context: { env: 'prod' },
    });
    assertQueued(result);
    assert.equal(result.responseId, 'resp-1');
    const [request] = ingest.requests();
    assert.equal(request.path, '/api/v1/track');
    assert.equal(request.headers.authorization, `Bearer ${KEY}`);
    assert.equal(request.headers['user-agent'], `aicostmanager-edge/${version}`, 'names the client, as the SDK does');
    assert.match(request.headers['content-type'], /^application\/json/);
    assert.equal(request.bodyText,
      '{"tracked":[{"service_key":"openai::gpt-4o-mini","response_id":"resp-1","timestamp":"1736937000.0",'
      + '"payload":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":null},'
      + '"customer_key":"cust-1","context":{"env":"prod"}}]}');
    assert.deepEqual(Object.keys(onlySentRecord(ingest)),
      ['service_key', 'response_id', 'timestamp', 'payload', 'customer_key', 'context']);
  });

  it('omits customer_key and context when absent, and generates a 32-hex response_id per record', async () => {
    const tracker = makeTracker(ingest);
    const first = await tracker.track('openai::gpt-4o-mini', { ...USAGE });
    const second = await tracker.track('openai::gpt-4o-mini', { ...USAGE });
    assert.match(first.responseId, /^[0-9a-f]{32}$/);
    assert.match(second.responseId, /^[0-9a-f]{32}$/);
    assert.notEqual(first.responseId, second.responseId);
    const records = sentBodies(ingest).flat();
    assert.deepEqual(records.map((r) => r.response_id), [first.responseId, second.responseId]);
    for (const record of records) {
      assert.deepEqual(Object.keys(record), ['service_key', 'response_id', 'timestamp', 'payload']);
      assert.deepEqual(record.payload, USAGE);
    }
  });

  it('writes timestamps as Python float epoch seconds from ISO strings, Dates and epoch milliseconds', async () => {
    const tracker = makeTracker(ingest);
    const cases = [
      ['2025-01-15T10:30:00Z', '1736937000.0'],
      ['2025-01-15T12:30:00+02:00', '1736937000.0'],
      ['2025-01-15T10:30:00.123456Z', '1736937000.123456'],
      [new Date('2025-01-15T10:30:00.250Z'), '1736937000.25'],
      [1736937000123, '1736937000.123'],
      [0, '0.0'],
    ];
    for (const [input] of cases) await tracker.track('openai::gpt-4o-mini', { ...USAGE }, { timestamp: input });
    assert.deepEqual(sentBodies(ingest).flat().map((r) => r.timestamp), cases.map(([, wire]) => wire));
  });

  it('stamps a record without a timestamp with the current time', async () => {
    const tracker = makeTracker(ingest);
    const startSeconds = Date.now() / 1000;
    await tracker.track('openai::gpt-4o-mini', { ...USAGE });
    const endSeconds = Date.now() / 1000;
    const { timestamp } = onlySentRecord(ingest);
    assert.match(timestamp, /^\d+\.\d+$/);
    const seconds = Number(timestamp);
    assert.ok(seconds >= startSeconds - 0.001 && seconds <= endSeconds + 0.001,
      `${timestamp} within [${startSeconds}, ${endSeconds}]`);
  });

  it('posts to apiBase + apiUrl + "/track" without doubled slashes', async () => {
    const tracker = makeTracker(ingest, { apiBase: `${ingest.url}/`, apiUrl: '/api/v1/' });
    assertQueued(await tracker.track('openai::gpt-4o-mini', { ...USAGE }));
    assert.equal(ingest.requests()[0].path, '/api/v1/track');

    const seen = recordingFetch(async () => new Response('{"results":[]}', { status: 202 }));
    const other = new Tracker({ apiKey: KEY, apiBase: 'https://example.test/base', apiUrl: '/v9', fetch: seen.fetch });
    await other.track('openai::gpt-4o-mini', { ...USAGE });
    assert.deepEqual(seen.calls.map((c) => c.url), ['https://example.test/base/v9/track']);
    assert.equal(seen.calls[0].init.method, 'POST');
  });

  it('with proxy: true and no apiKey sends no Authorization header (the proxy adds it)', async () => {
    const proxy = recordingFetch((url, init) =>
      globalThis.fetch(url, { ...init, headers: { ...init.headers, authorization: `Bearer ${KEY}` } }));
    const tracker = new Tracker({ proxy: true, apiBase: ingest.url, fetch: proxy.fetch });
    assertQueued(await tracker.track('openai::gpt-4o-mini', { ...USAGE }));
    assert.equal(proxy.calls.length, 1);
    const sentHeaders = Object.keys(proxy.calls[0].init.headers).map((name) => name.toLowerCase());
    assert.ok(!sentHeaders.includes('authorization'), `headers sent: ${sentHeaders}`);
    assert.equal(ingest.accepted().length, 1);
  });

  it('uses the fetch option when given instead of the global fetch', async () => {
    const seen = recordingFetch();
    const tracker = makeTracker(ingest, { fetch: seen.fetch });
    assertQueued(await tracker.track('openai::gpt-4o-mini', { ...USAGE }, { responseId: 'via-option' }));
    assert.equal(seen.calls.length, 1);
    assert.equal(seen.calls[0].url, ingest.trackUrl);
    assert.equal(JSON.parse(seen.calls[0].init.body).tracked[0].response_id, 'via-option');
    assert.equal(ingest.requests().length, 1);
  });
});

describe('validation: thrown AicmErrors, nothing sent, the tracker keeps working', () => {
  const cyclic = { name: 'loop' };
  cyclic.self = cyclic;
  class Usage {
    constructor() {
      this.total_tokens = 3;
    }
  }
  /** [label, call(tracker), code, message pattern naming the field] */
  const trackCases = [
    ['empty service key', (t) => t.track('', { ...USAGE }), 'E_INVALID_SERVICE_KEY', /serviceKey/],
    ['blank service key', (t) => t.track('   ', { ...USAGE }), 'E_INVALID_SERVICE_KEY', /serviceKey/],
    ['numeric service key', (t) => t.track(42, { ...USAGE }), 'E_INVALID_SERVICE_KEY', /serviceKey/],
    ['missing service key', (t) => t.track(undefined, { ...USAGE }), 'E_INVALID_SERVICE_KEY', /serviceKey/],
    ['usage string', (t) => t.track('a::b', 'tokens'), 'E_INVALID_USAGE', /usage.*string/],
    ['usage array', (t) => t.track('a::b', [1, 2]), 'E_INVALID_USAGE', /usage.*array/],
    ['usage null', (t) => t.track('a::b', null), 'E_INVALID_USAGE', /usage.*null/],
    ['usage undefined', (t) => t.track('a::b'), 'E_INVALID_USAGE', /usage/],
    ['usage Map', (t) => t.track('a::b', new Map([['total_tokens', 3]])), 'E_INVALID_USAGE', /usage.*Map/],
    ['usage class instance', (t) => t.track('a::b', new Usage()), 'E_INVALID_USAGE', /usage.*Usage/],
    ['NaN', (t) => t.track('a::b', { total_tokens: NaN }), 'E_NON_FINITE_NUMBER', /usage\.total_tokens/],
    ['nested Infinity', (t) => t.track('a::b', { a: { b: Infinity } }), 'E_NON_FINITE_NUMBER', /usage\.a\.b/],
    ['-Infinity in an array', (t) => t.track('a::b', { a: [1, -Infinity] }), 'E_NON_FINITE_NUMBER', /usage\.a\[1\]/],
    ['BigInt', (t) => t.track('a::b', { a: { b: 10n } }), 'E_UNSUPPORTED_VALUE', /usage\.a\.b.*bigint/],
    ['function', (t) => t.track('a::b', { a: { b: () => 1 } }), 'E_UNSUPPORTED_VALUE', /usage\.a\.b.*function/],
    ['symbol', (t) => t.track('a::b', { a: Symbol('s') }), 'E_UNSUPPORTED_VALUE', /usage\.a.*symbol/],
    ['Date inside usage', (t) => t.track('a::b', { at: new Date() }), 'E_UNSUPPORTED_VALUE', /usage\.at/],
    ['cyclic object', (t) => t.track('a::b', { a: { b: cyclic } }), 'E_CYCLIC_VALUE', /usage\.a\.b/],
    ['unparseable timestamp', (t) => t.track('a::b', { ...USAGE }, { timestamp: 'yesterday' }),
      'E_INVALID_TIMESTAMP', /timestamp/],
    ['naive ISO timestamp', (t) => t.track('a::b', { ...USAGE }, { timestamp: '2025-01-15T10:30:00' }),
      'E_INVALID_TIMESTAMP', /timestamp/],
    ['invalid Date', (t) => t.track('a::b', { ...USAGE }, { timestamp: new Date('nope') }),
      'E_INVALID_TIMESTAMP', /timestamp/],
    ['NaN epoch ms', (t) => t.track('a::b', { ...USAGE }, { timestamp: NaN }), 'E_INVALID_TIMESTAMP', /timestamp/],
    ['object timestamp', (t) => t.track('a::b', { ...USAGE }, { timestamp: {} }), 'E_INVALID_TIMESTAMP', /timestamp/],
    ['empty response id', (t) => t.track('a::b', { ...USAGE }, { responseId: '' }),
      'E_INVALID_RESPONSE_ID', /responseId/],
    ['numeric response id', (t) => t.track('a::b', { ...USAGE }, { responseId: 7 }),
      'E_INVALID_RESPONSE_ID', /responseId/],
    ['numeric customer key', (t) => t.track('a::b', { ...USAGE }, { customerKey: 7 }),
      'E_INVALID_CUSTOMER_KEY', /customerKey/],
    ['array context', (t) => t.track('a::b', { ...USAGE }, { context: ['x'] }), 'E_INVALID_CONTEXT', /context/],
    ['NaN in context', (t) => t.track('a::b', { ...USAGE }, { context: { a: { b: NaN } } }),
      'E_NON_FINITE_NUMBER', /context\.a\.b/],
    ['record over maxRecordBytes', (t) => t.track('a::b', { text: 'x'.repeat(2000) }), 'E_RECORD_TOO_LARGE',
      /maxRecordBytes/],
    ['unknown track option', (t) => t.track('a::b', { ...USAGE }, { customer_key: 'c' }), 'E_INVALID_OPTION',
      /customer_key/],
    ['track options not an object', (t) => t.track('a::b', { ...USAGE }, 'c'), 'E_INVALID_OPTION', /options/],
    ['anonymizeFields not an array', (t) => t.track('a::b', { ...USAGE }, { anonymizeFields: 'email' }),
      'E_INVALID_OPTION', /anonymizeFields/],
    ['anonymizeFields with a number', (t) => t.track('a::b', { ...USAGE }, { anonymizeFields: ['a', 1] }),
      'E_INVALID_OPTION', /anonymizeFields/],
    ['anonymizer not a function', (t) => t.track('a::b', { ...USAGE }, { anonymizer: 'redact' }),
      'E_INVALID_OPTION', /anonymizer/],
    ['trackBatch over 10000 records',
      (t) => t.trackBatch(Array.from({ length: 10001 }, () => ({ serviceKey: 'a::b', usage: { ...USAGE } }))),
      'E_BATCH_TOO_LARGE', /10001/],
    ['a bad record in a batch',
      (t) => t.trackBatch([
        { serviceKey: 'a::b', usage: { ...USAGE } },
        { serviceKey: 'a::b', usage: { ...USAGE } },
        { serviceKey: 'a::b', usage: { a: { b: NaN } } },
      ]),
      'E_INVALID_RECORD', /records\[2\].*usage\.a\.b/],
    ['a batch record without serviceKey',
      (t) => t.trackBatch([{ serviceKey: 'a::b', usage: {} }, { usage: {} }]), 'E_INVALID_RECORD',
      /records\[1\].*serviceKey/],
    ['a batch record with an unknown key',
      (t) => t.trackBatch([{ serviceKey: 'a::b', usage: {}, service_key: 'x' }]), 'E_INVALID_RECORD',
      /records\[0\].*service_key/],
  ];

  it('each invalid call throws synchronously with its code and the field in the message', async () => {
    const counted = recordingFetch();
    const tracker = makeTracker(ingest, { maxRecordBytes: 1024, fetch: counted.fetch });
    for (const [label, call, code, message] of trackCases) {
      const callsBefore = counted.calls.length;
      assertThrowsAicm(() => call(tracker), code, message, label);
      assert.equal(counted.calls.length, callsBefore, `${label}: nothing was fetched`);
      await assertStillTracks(tracker, label);
    }
    assert.equal(ingest.requests().length, trackCases.length, 'only the valid records reached the server');
  });

  it('a lone surrogate in a usage string is refused or sent escaped, never silently replaced', async () => {
    const tracker = makeTracker(ingest);
    let thrown = null;
    try {
      await tracker.track('a::b', { text: 'a\ud800b' }, { responseId: 'surrogate' });
    } catch (error) {
      thrown = error;
    }
    if (thrown !== null) {
      assert.equal(thrown.code, 'E_UNSUPPORTED_VALUE');
      assert.match(thrown.message, /usage\.text/);
      assert.equal(ingest.requests().length, 0);
    } else {
      assert.equal(onlySentRecord(ingest).payload.text, 'a\ud800b', 'the string arrived as the caller gave it');
    }
  });

  it('a bad batch record sends none of the batch', async () => {
    const tracker = makeTracker(ingest);
    assertThrowsAicm(() => tracker.trackBatch([
      { serviceKey: 'a::b', usage: { ...USAGE }, responseId: 'good-0' },
      { serviceKey: 'a::b', usage: { ...USAGE }, responseId: 'good-1' },
      { serviceKey: 'a::b', usage: { ...USAGE }, timestamp: 'not a time' },
    ]), 'E_INVALID_RECORD', /records\[2\].*timestamp/);
    await assertStillTracks(tracker, 'after a bad batch');
    assert.ok(!ingest.accepted().some((r) => r.response_id.startsWith('good-')));
  });

  /** [label, options, code, message pattern] for `new Tracker(options)`. */
  const constructorCases = [
    ['missing apiKey', {}, 'E_MISSING_API_KEY', /apiKey/],
    ['empty customerKey', { apiKey: KEY, customerKey: '' }, 'E_INVALID_CUSTOMER_KEY', /customerKey/],
    ['blank customerKey', { apiKey: KEY, customerKey: '  ' }, 'E_INVALID_CUSTOMER_KEY', /customerKey/],
    ['no options at all', undefined, 'E_MISSING_API_KEY', /apiKey/],
    ['empty apiKey', { apiKey: '' }, 'E_INVALID_OPTION', /apiKey/],
    ['apiKey not a string', { apiKey: 42 }, 'E_INVALID_OPTION', /apiKey/],
    ['unknown option', { apiKey: KEY, apikey: KEY }, 'E_INVALID_OPTION', /apikey/],
    ['snake_case option', { apiKey: KEY, api_base: 'http://x' }, 'E_INVALID_OPTION', /api_base/],
    ['unknown deliveryType', { apiKey: KEY, deliveryType: 'sqlite' }, 'E_UNSUPPORTED_DELIVERY_TYPE',
      /deliveryType/],
    ['store without the queue', { apiKey: KEY, store: {} }, 'E_INVALID_OPTION', /store/],
    ['store without delete()', { apiKey: KEY, deliveryType: 'persistent_queue', store: { put() {}, list() {} } },
      'E_INVALID_OPTION', /delete/],
    ['maxQueueSize 0', { apiKey: KEY, deliveryType: 'persistent_queue', maxQueueSize: 0 }, 'E_INVALID_OPTION',
      /maxQueueSize/],
    ['timeoutMs as a string', { apiKey: KEY, timeoutMs: '5000' }, 'E_INVALID_OPTION', /timeoutMs/],
    ['maxAttempts 0', { apiKey: KEY, maxAttempts: 0 }, 'E_INVALID_OPTION', /maxAttempts/],
    ['maxAttempts 11', { apiKey: KEY, maxAttempts: 11 }, 'E_INVALID_OPTION', /maxAttempts/],
    ['maxBatchSize 1.5', { apiKey: KEY, maxBatchSize: 1.5 }, 'E_INVALID_OPTION', /maxBatchSize/],
    ['maxBatchSize 1001', { apiKey: KEY, maxBatchSize: 1001 }, 'E_INVALID_OPTION', /maxBatchSize/],
    ['proxy as a string', { apiKey: KEY, proxy: 'yes' }, 'E_INVALID_OPTION', /proxy/],
    ['apiBase as a number', { apiKey: KEY, apiBase: 8080 }, 'E_INVALID_OPTION', /apiBase/],
    ['apiBase without a scheme', { apiKey: KEY, apiBase: 'example.com' }, 'E_INVALID_OPTION', /apiBase/],
    ['fetch not a function', { apiKey: KEY, fetch: {} }, 'E_INVALID_OPTION', /fetch/],
    ['anonymizeFields as a string', { apiKey: KEY, anonymizeFields: 'email' }, 'E_INVALID_OPTION',
      /anonymizeFields/],
    ['customerKey as a number', { apiKey: KEY, customerKey: 1 }, 'E_INVALID_CUSTOMER_KEY', /customerKey/],
    ['context as an array', { apiKey: KEY, context: [] }, 'E_INVALID_CONTEXT', /context/],
    ['options as a string', 'key', 'E_INVALID_OPTION', /options/],
  ];

  it('the constructor throws a coded AicmError for missing keys and wrong options', () => {
    for (const [label, options, code, message] of constructorCases) {
      assertThrowsAicm(() => new Tracker(options), code, message, label);
    }
  });

  it('a valid tracker keeps working after its setters refuse bad values', async () => {
    const tracker = makeTracker(ingest);
    assertThrowsAicm(() => tracker.setCustomerKey(5), 'E_INVALID_CUSTOMER_KEY', /customerKey/);
    assertThrowsAicm(() => tracker.setCustomerKey(''), 'E_INVALID_CUSTOMER_KEY', /customerKey/);
    assertThrowsAicm(() => tracker.setContext('prod'), 'E_INVALID_CONTEXT', /context/);
    assertThrowsAicm(() => tracker.setAnonymizeFields('email'), 'E_INVALID_OPTION', /anonymizeFields/);
    assertThrowsAicm(() => tracker.setAnonymizer(42), 'E_INVALID_OPTION', /anonymizer/);
    await assertStillTracks(tracker, 'setters');
    assert.deepEqual(Object.keys(onlySentRecord(ingest)), ['service_key', 'response_id', 'timestamp', 'payload']);
  });
});

describe('tracker defaults', () => {
  it('customerKey and context: constructor defaults, setters, per-call overrides and null clearing', async () => {
    const tracker = makeTracker(ingest, { customerKey: 'c-ctor', context: { env: 'prod' } });
    const send = (id, options = {}) => tracker.track('a::b', { ...USAGE }, { responseId: id, ...options });
    await send('ctor');
    await send('override', { customerKey: 'c-call', context: { env: 'call' } });
    await send('cleared-per-call', { customerKey: null, context: null });
    tracker.setCustomerKey('c-set');
    tracker.setContext({ route: '/chat' });
    await send('set');
    tracker.setCustomerKey(null);
    tracker.setContext(null);
    await send('cleared');
    await send('call-only', { customerKey: 'c-only', context: { only: true } });

    const byId = Object.fromEntries(ingest.accepted().map((r) => [r.response_id, r]));
    const view = (id) => ({ customer_key: byId[id].customer_key, context: byId[id].context });
    assert.deepEqual(view('ctor'), { customer_key: 'c-ctor', context: { env: 'prod' } });
    assert.deepEqual(view('override'), { customer_key: 'c-call', context: { env: 'call' } });
    assert.deepEqual(view('cleared-per-call'), { customer_key: undefined, context: undefined });
    assert.ok(!('customer_key' in byId['cleared-per-call']) && !('context' in byId['cleared-per-call']));
    assert.deepEqual(view('set'), { customer_key: 'c-set', context: { route: '/chat' } });
    assert.ok(!('customer_key' in byId.cleared) && !('context' in byId.cleared));
    assert.deepEqual(view('call-only'), { customer_key: 'c-only', context: { only: true } });
  });

  it('anonymizeFields: the union of tracker and call fields, at any depth, inside arrays too', async () => {
    const tracker = makeTracker(ingest, { anonymizeFields: ['email'] });
    const usage = {
      total_tokens: 5,
      email: 'ann@example.com',
      name: 'Ann',
      nested: { name: 'Bob', keep: 'visible', list: [{ email: 'bob@example.com', n: 1 }, 'plain'] },
    };
    await tracker.track('a::b', usage, { anonymizeFields: ['name'], responseId: 'union' });
    await tracker.track('a::b', usage, { responseId: 'tracker-only' });
    const [union, trackerOnly] = ingest.accepted();
    assert.deepEqual(union.payload, {
      total_tokens: 5,
      email: '[REDACTED]',
      name: '[REDACTED]',
      nested: { name: '[REDACTED]', keep: 'visible', list: [{ email: '[REDACTED]', n: 1 }, 'plain'] },
    });
    assert.deepEqual(trackerOnly.payload, {
      total_tokens: 5,
      email: '[REDACTED]',
      name: 'Ann',
      nested: { name: 'Bob', keep: 'visible', list: [{ email: '[REDACTED]', n: 1 }, 'plain'] },
    });

    tracker.setAnonymizeFields(['keep']);
    await tracker.track('a::b', usage, { responseId: 'replaced-set' });
    const replaced = ingest.accepted()[2];
    assert.equal(replaced.payload.email, 'ann@example.com', 'setAnonymizeFields replaces the set');
    assert.equal(replaced.payload.nested.keep, '[REDACTED]');
  });

  it('the default redaction turns strings into "[REDACTED]" recursively and keeps numbers, booleans and null', async () => {
    const tracker = makeTracker(ingest, { anonymizeFields: ['secret'] });
    await tracker.track('a::b', {
      secret: { text: 'raw', count: 2, flag: true, none: null, list: ['raw', 3, false, { deep: 'raw' }] },
      other: 'raw-but-not-named',
    });
    assert.deepEqual(onlySentRecord(ingest).payload, {
      secret: { text: '[REDACTED]', count: 2, flag: true, none: null, list: ['[REDACTED]', 3, false, { deep: '[REDACTED]' }] },
      other: 'raw-but-not-named',
    });
  });

  it('a custom anonymizer is called with (value, field) for each named field and its result is sent', async () => {
    const calls = [];
    const anonymizer = (value, field) => {
      calls.push([structuredClone(value), field]);
      return typeof value === 'string' ? `hash:${value.length}` : { masked: field };
    };
    const tracker = makeTracker(ingest, { anonymizeFields: ['email', 'profile'], anonymizer });
    await tracker.track('a::b', { email: 'ann@example.com', profile: { age: 40, tags: ['x'] }, total_tokens: 1 });
    assert.deepEqual(calls, [['ann@example.com', 'email'], [{ age: 40, tags: ['x'] }, 'profile']]);
    assert.deepEqual(onlySentRecord(ingest).payload, { email: 'hash:15', profile: { masked: 'profile' }, total_tokens: 1 });
  });

  it('a per-call anonymizer replaces the tracker one; setAnonymizer(null) restores the default', async () => {
    const tracker = makeTracker(ingest, { anonymizeFields: ['email'], anonymizer: () => 'tracker' });
    await tracker.track('a::b', { email: 'e' }, { responseId: 'tracker-fn' });
    await tracker.track('a::b', { email: 'e' }, { responseId: 'call-fn', anonymizer: () => 'call' });
    tracker.setAnonymizer(null);
    await tracker.track('a::b', { email: 'e' }, { responseId: 'default' });
    assert.deepEqual(ingest.accepted().map((r) => r.payload.email), ['tracker', 'call', '[REDACTED]']);
  });

  it('fails closed: an anonymizer that throws or returns what JSON cannot carry gets the value redacted', async () => {
    const raw = 'ann@example.com';
    const failing = {
      throws: () => {
        throw new Error('boom');
      },
      'returns a BigInt': () => 5n,
      'returns undefined': () => undefined,
      'returns NaN': () => NaN,
      'returns a Promise': async () => 'later',
      'returns a function': () => () => raw,
    };
    const tracker = makeTracker(ingest, { anonymizeFields: ['email'] });
    for (const [label, anonymizer] of Object.entries(failing)) {
      const result = await tracker.track('a::b', { email: raw, n: 1 }, { anonymizer, responseId: label });
      assertQueued(result);
    }
    const stored = ingest.accepted();
    assert.deepEqual(stored.map((r) => r.response_id), Object.keys(failing));
    for (const record of stored) assert.deepEqual(record.payload, { email: '[REDACTED]', n: 1 }, record.response_id);
    for (const request of ingest.requests()) assert.ok(!request.bodyText.includes(raw), 'the raw value never left');
  });

  it('does not mutate the caller\'s usage, context or options', async () => {
    const usage = { email: 'ann@example.com', nested: { email: ['a', 'b'] }, total_tokens: 3 };
    const context = { user: 'ann', tags: ['x'] };
    const options = { anonymizeFields: ['email'], context, customerKey: 'c', responseId: 'no-mutation' };
    const snapshot = structuredClone({ usage, options });
    const tracker = makeTracker(ingest);
    await tracker.track('a::b', usage, options);
    assert.deepEqual({ usage, options }, snapshot);
    assert.deepEqual(onlySentRecord(ingest).payload, { email: '[REDACTED]', nested: { email: ['[REDACTED]', '[REDACTED]'] }, total_tokens: 3 });
  });
});

describe('trackBatch', () => {
  it('resolves to {results, triggeredLimits} with results in input order', async () => {
    const tracker = makeTracker(ingest);
    const outcome = await tracker.trackBatch([
      { serviceKey: 'openai::gpt-4o-mini', usage: { ...USAGE }, responseId: 'b-0', customerKey: 'c0' },
      { serviceKey: 'no-vendor-key', usage: { ...USAGE }, responseId: 'b-1' },
      { serviceKey: 'anthropic::claude', usage: { input_tokens: 1 }, context: { k: 1 } },
    ]);
    assert.deepEqual(Object.keys(outcome).sort(), ['results', 'triggeredLimits']);
    assert.equal(outcome.triggeredLimits, null);
    assert.deepEqual(outcome.results.map((r) => r.status), ['queued', 'service_key_unknown', 'queued']);
    assert.deepEqual(outcome.results.slice(0, 2).map((r) => r.responseId), ['b-0', 'b-1']);
    assert.match(outcome.results[2].responseId, /^[0-9a-f]{32}$/);
    assert.match(outcome.results[1].errors[0], /no-vendor-key/);
    const [records] = sentBodies(ingest);
    assert.deepEqual(records.map((r) => r.response_id), outcome.results.map((r) => r.responseId));
    assert.equal(records[0].customer_key, 'c0');
    assert.deepEqual(records[2].context, { k: 1 });
  });

  it('sends requests of at most maxBatchSize records (5 records, maxBatchSize 2 → 2 + 2 + 1)', async () => {
    const tracker = makeTracker(ingest, { maxBatchSize: 2 });
    const records = Array.from({ length: 5 }, (_, i) => ({ serviceKey: 'a::b', usage: { i }, responseId: `c-${i}` }));
    const outcome = await tracker.trackBatch(records);
    assert.deepEqual(outcome.results.map((r) => [r.responseId, r.status, r.attempts]),
      records.map((r) => [r.responseId, 'queued', 1]));
    assert.deepEqual(sentBodies(ingest).map((body) => body.map((r) => r.response_id)),
      [['c-0', 'c-1'], ['c-2', 'c-3'], ['c-4']]);
  });

  it('keeps every request body within maxBatchBytes, counted in UTF-8 bytes, in input order', async () => {
    const tracker = makeTracker(ingest, { maxBatchBytes: 1024, maxRecordBytes: 1024 });
    // "é" is one UTF-16 unit but two UTF-8 bytes: a limit counted in characters would overflow.
    const records = Array.from({ length: 10 }, (_, i) =>
      ({ serviceKey: 'a::b', usage: { note: 'é'.repeat(100 + 10 * i) }, responseId: `u-${i}` }));
    const outcome = await tracker.trackBatch(records);
    assert.ok(outcome.results.every((r) => r.status === 'queued' && r.attempts === 1));
    const requests = ingest.requests();
    assert.ok(requests.length > 1, 'the batch was split by size');
    for (const request of requests) assert.ok(request.bodyBytes <= 1024, `a body of ${request.bodyBytes} bytes`);
    assert.deepEqual(sentBodies(ingest).flat().map((r) => r.response_id), records.map((r) => r.responseId));
  });

  it('a body of exactly maxBatchBytes goes in one request; one byte more is split', async () => {
    const tracker = makeTracker(ingest, { maxBatchBytes: 1024, maxRecordBytes: 1024 });
    const record = (id, pad) => ({ serviceKey: 'a::b', usage: { pad: 'x'.repeat(pad) }, responseId: id, timestamp: 0 });
    const encoded = (id) => JSON.stringify({ service_key: 'a::b', response_id: id, timestamp: '0.0', payload: { pad: '' } });
    const overhead = `{"tracked":[${encoded('e-0')},${encoded('e-1')}]}`.length;
    const free = 1024 - overhead;
    await tracker.trackBatch([record('e-0', Math.floor(free / 2)), record('e-1', Math.ceil(free / 2))]);
    await tracker.trackBatch([record('f-0', Math.floor(free / 2)), record('f-1', Math.ceil(free / 2) + 1)]);
    assert.deepEqual(sentBodies(ingest).map((body) => body.map((r) => r.response_id)), [['e-0', 'e-1'], ['f-0'], ['f-1']]);
    assert.equal(ingest.requests()[0].bodyBytes, 1024);
  });

  it('applies batch anonymizeFields/anonymizer to every record and an empty batch sends nothing', async () => {
    const tracker = makeTracker(ingest, { anonymizeFields: ['a'] });
    const outcome = await tracker.trackBatch(
      [{ serviceKey: 'a::b', usage: { a: 'x', b: 'y' } }, { serviceKey: 'a::b', usage: { a: 'x', b: 'y' } }],
      { anonymizeFields: ['b'], anonymizer: (value) => `${value}!` },
    );
    assert.equal(outcome.results.length, 2);
    assert.deepEqual(ingest.accepted().map((r) => r.payload), [{ a: 'x!', b: 'y!' }, { a: 'x!', b: 'y!' }]);
    const empty = await tracker.trackBatch([]);
    assert.deepEqual(empty, { results: [], triggeredLimits: null });
    assert.equal(ingest.requests().length, 1);
  });
});

describe('triggered limits and close()', () => {
  it('reports the server\'s triggered_limits on track and trackBatch results', async () => {
    const limits = { version: 'v1', key_id: 'test', encrypted_payload: 'eyJ.x.y' };
    ingest.setTriggeredLimits(limits);
    const tracker = makeTracker(ingest);
    const single = await tracker.track('a::b', { ...USAGE });
    assert.deepEqual(single.triggeredLimits, limits);
    const batch = await tracker.trackBatch([{ serviceKey: 'a::b', usage: { ...USAGE } }]);
    assert.deepEqual(batch.triggeredLimits, limits);
    assert.equal(batch.results[0].triggeredLimits, undefined, 'limits are reported once per call, not per result');
  });

  it('close() waits for deliveries in flight; afterwards every call throws E_TRACKER_CLOSED', async () => {
    ingest.setFaults({ queue: [{ kind: 'slow', delayMs: 150 }] });
    const tracker = makeTracker(ingest);
    let settled = null;
    const inFlight = tracker.track('a::b', { ...USAGE }, { responseId: 'in-flight' });
    inFlight.then((result) => {
      settled = result;
    });
    await tracker.close();
    assert.notEqual(settled, null, 'close() resolved only after the delivery in flight finished');
    assertQueued(settled);
    assert.deepEqual(ingest.accepted().map((r) => r.response_id), ['in-flight']);

    assertThrowsAicm(() => tracker.track('a::b', { ...USAGE }), 'E_TRACKER_CLOSED', /closed/);
    assertThrowsAicm(() => tracker.trackBatch([{ serviceKey: 'a::b', usage: {} }]), 'E_TRACKER_CLOSED', /closed/);
    assertThrowsAicm(() => tracker.setCustomerKey('c'), 'E_TRACKER_CLOSED', /closed/);
    await tracker.close(); // a second close is harmless
    assert.equal(ingest.requests().length, 1);
  });
});
