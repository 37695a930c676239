// Tests of the local /track ingest server (tests/ingest/): contract rules, faults, CORS, control endpoints, CLI.
// Run: node --test tests/js/ingest.test.mjs

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

import { startIngestServer } from '../ingest/server.mjs';
import { normalizeFaultSpec } from '../ingest/faults.mjs';
import { isAcceptedTimestamp } from '../ingest/validate.mjs';

const CLI = fileURLToPath(new URL('../ingest/cli.mjs', import.meta.url));
const KEY = 'test-key';

/** The literal body of wire-contract.md §1 (observed from the Python SDK 0.3.2). */
const SDK_BODY = '{"tracked":[{"service_key":"openai::gpt-4o-mini","response_id":"1709671d3c87426db1b8bbd55753c022",'
  + '"timestamp":"1795310876.161856","payload":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,'
  + '"prompt_tokens_details":null},"customer_key":"cust-1","context":{"env":"prod"}}]}';

async function start(t, options = {}) {
  const server = await startIngestServer(options);
  t.after(() => server.close());
  return server;
}

let nextId = 0;
function record(overrides = {}) {
  nextId += 1;
  return {
    service_key: 'openai::gpt-4o-mini',
    response_id: `resp-${nextId}`,
    timestamp: '1736937000.0',
    payload: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
    ...overrides,
  };
}

function without(object, key) {
  const copy = { ...object };
  delete copy[key];
  return copy;
}

/** POST with fetch; `body` string goes as-is, anything else as JSON. */
async function post(url, body, { key = KEY, headers = {}, signal } = {}) {
  const auth = key === null ? {} : { authorization: `Bearer ${key}` };
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth, ...headers },
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
    signal,
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

async function getJson(url) {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  return res.json();
}

/** A request with exact header bytes (fetch would trim "Bearer " to "Bearer"). */
function rawRequest(url, { method = 'POST', headers = {}, body = '' } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

describe('accepting records', () => {
  it('accepts the literal SDK body of wire-contract §1 byte for byte', async (t) => {
    const server = await start(t, { apiKey: KEY });
    const res = await post(server.trackUrl, SDK_BODY, { headers: { 'user-agent': 'aicostmanager-python' } });
    assert.equal(res.status, 202);
    assert.deepEqual(res.json, { results: [{ response_id: '1709671d3c87426db1b8bbd55753c022', status: 'queued' }] });
    const stored = server.accepted();
    assert.equal(stored.length, 1);
    assert.equal(JSON.stringify({ tracked: stored }), SDK_BODY);
    const [logged] = server.requests();
    assert.equal(logged.bodyText, SDK_BODY);
    assert.equal(logged.bodyBytes, Buffer.byteLength(SDK_BODY));
    assert.equal(logged.method, 'POST');
    assert.equal(logged.path, '/api/v1/track');
    assert.equal(logged.status, 202);
    assert.equal(logged.fault, null);
    assert.deepEqual(logged.headers, {
      authorization: `Bearer ${KEY}`,
      'content-type': 'application/json',
      'user-agent': 'aicostmanager-python',
      origin: null,
    });
    assert.ok(Math.abs(logged.at - Date.now()) < 5000);
  });

  it('answers every record in request order, service keys without :: as service_key_unknown (stored)', async (t) => {
    const server = await start(t);
    const records = [record({ response_id: 'a' }), record({ response_id: 'b', service_key: 'unknown-service' }),
      record({ response_id: 'c', service_key: 'anthropic::claude' })];
    const res = await post(server.trackUrl, { tracked: records });
    assert.equal(res.status, 202);
    assert.deepEqual(res.json, {
      results: [
        { response_id: 'a', status: 'queued' },
        { response_id: 'b', status: 'service_key_unknown',
          errors: ["Service key 'unknown-service' is not recognized. Event queued for review."] },
        { response_id: 'c', status: 'queued' },
      ],
    });
    assert.deepEqual(server.accepted(), records);
    assert.equal(server.stats().accepted, 3);
  });

  it('stores records exactly as received, optional fields, api_id and ISO timestamps included', async (t) => {
    const server = await start(t);
    const records = [
      record({ customer_key: 'c', context: { nested: { a: [1, null, 'x'] } }, api_id: 'openai_chat' }),
      record({ timestamp: '2025-01-01T00:00:00Z', payload: {} }),
      record({ timestamp: '2025-01-15T10:30:00.123456+02:00' }),
    ];
    const res = await post(server.trackUrl, { tracked: records, skip_limits: true });
    assert.equal(res.status, 202);
    assert.deepEqual(server.accepted(), records);
  });

  it('dedupes by response_id: answered again, stored once, counted as duplicate', async (t) => {
    const server = await start(t);
    const first = record({ response_id: 'dup' });
    assert.equal((await post(server.trackUrl, { tracked: [first] })).status, 202);
    const again = await post(server.trackUrl, { tracked: [first, record({ response_id: 'fresh' })] });
    assert.deepEqual(again.json.results, [{ response_id: 'dup', status: 'queued' }, { response_id: 'fresh', status: 'queued' }]);
    const within = await post(server.trackUrl, { tracked: [record({ response_id: 'twice' }), record({ response_id: 'twice' })] });
    assert.deepEqual(within.json.results.map((r) => r.status), ['queued', 'queued']);
    assert.deepEqual(server.accepted().map((r) => r.response_id), ['dup', 'fresh', 'twice']);
    assert.deepEqual(server.stats(), {
      requests: 3, accepted: 3, duplicates: 2, rejected: 0, preflights: 0, byStatus: { 202: 3 },
    });
  });

  it('repeats the first answer for a duplicate of a service_key_unknown record', async (t) => {
    const server = await start(t);
    const body = { tracked: [record({ response_id: 'u', service_key: 'nokey' })] };
    const first = await post(server.trackUrl, body);
    const second = await post(server.trackUrl, body);
    assert.deepEqual(second.json, first.json);
    assert.equal(first.json.results[0].status, 'service_key_unknown');
    assert.equal(server.accepted().length, 1);
  });

  it('includes triggered_limits in 202 replies only when set', async (t) => {
    const limits = { version: 'v1', key_id: 'test', public_key: 'pem', encrypted_payload: 'jws' };
    const server = await start(t, { triggeredLimits: limits });
    assert.deepEqual((await post(server.trackUrl, { tracked: [record()] })).json.triggered_limits, limits);
    server.setTriggeredLimits(null);
    assert.equal('triggered_limits' in (await post(server.trackUrl, { tracked: [record()] })).json, false);
    server.reset();
    assert.deepEqual((await post(server.trackUrl, { tracked: [record()] })).json.triggered_limits, limits);
    const plain = await start(t);
    assert.equal('triggered_limits' in (await post(plain.trackUrl, { tracked: [record()] })).json, false);
  });

  it('honours pathPrefix and answers 404 elsewhere, 405 for GET on /track', async (t) => {
    const server = await start(t, { pathPrefix: '/custom/' });
    assert.equal(server.trackUrl, `${server.url}/custom/track`);
    assert.equal((await post(server.trackUrl, { tracked: [record()] })).status, 202);
    const other = await post(`${server.url}/api/v1/track`, { tracked: [record()] });
    assert.deepEqual([other.status, other.json], [404, { detail: 'Not found.' }]);
    const get = await fetch(server.trackUrl);
    assert.equal(get.status, 405);
    assert.equal(server.requests().at(-1).status, 405);
    assert.equal(server.accepted().length, 1);
  });

  it('returns copies: mutating accepted() does not change the server', async (t) => {
    const server = await start(t);
    await post(server.trackUrl, { tracked: [record({ response_id: 'x' })] });
    const copy = server.accepted();
    copy[0].response_id = 'changed';
    copy.push({});
    assert.deepEqual(server.accepted().map((r) => r.response_id), ['x']);
  });
});

describe('authentication', () => {
  const NOT_PROVIDED = { detail: 'Authentication credentials were not provided.' };
  const INVALID = { detail: 'Invalid API key.' };

  it('rejects missing or malformed Authorization with 401 "not provided"', async (t) => {
    const server = await start(t, { apiKey: KEY });
    const body = JSON.stringify({ tracked: [record()] });
    for (const authorization of [undefined, 'Bearer ', 'Bearer', 'Basic dXNlcjpwYXNz', `Token ${KEY}`, `Bearer ${KEY} extra`]) {
      const headers = { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) };
      const res = await rawRequest(server.trackUrl, { headers, body });
      assert.equal(res.status, 401, `authorization ${authorization}`);
      assert.deepEqual(JSON.parse(res.text), NOT_PROVIDED);
      assert.equal(res.headers['www-authenticate'], 'Bearer');
    }
    assert.equal(server.accepted().length, 0);
  });

  it('rejects a wrong key with 401 "Invalid API key." and accepts the right one', async (t) => {
    const server = await start(t, { apiKey: KEY });
    const wrong = await post(server.trackUrl, { tracked: [record()] }, { key: 'other' });
    assert.deepEqual([wrong.status, wrong.json], [401, INVALID]);
    const none = await post(server.trackUrl, { tracked: [record()] }, { key: 'None' });
    assert.deepEqual([none.status, none.json], [401, INVALID]);
    assert.equal(server.accepted().length, 0);
    assert.equal((await post(server.trackUrl, { tracked: [record()] })).status, 202);
  });

  it('without apiKey accepts any Bearer token but still requires one', async (t) => {
    const server = await start(t);
    assert.equal((await post(server.trackUrl, { tracked: [record()] }, { key: 'anything' })).status, 202);
    assert.equal((await post(server.trackUrl, { tracked: [record()] }, { key: null })).status, 401);
  });

  it('requireAuth: false accepts requests without credentials', async (t) => {
    const server = await start(t, { apiKey: KEY, requireAuth: false });
    assert.equal((await post(server.trackUrl, { tracked: [record()] }, { key: null })).status, 202);
    assert.equal((await post(server.trackUrl, { tracked: [record()] }, { key: 'wrong' })).status, 202);
    assert.equal(server.accepted().length, 2);
  });
});

describe('body size and JSON', () => {
  it('answers 413 over maxBodyBytes, before parsing, and accepts a body of exactly the limit', async (t) => {
    const exact = JSON.stringify({ tracked: [record({ response_id: 'fits' })] });
    const server = await start(t, { maxBodyBytes: Buffer.byteLength(exact) });
    assert.equal((await post(server.trackUrl, exact)).status, 202);
    const over = JSON.stringify({ tracked: [record({ response_id: 'fits2' })] });
    const res = await post(server.trackUrl, over);
    assert.deepEqual([res.status, res.json], [413, { detail: 'Request body too large.' }]);
    const garbage = await post(server.trackUrl, 'x'.repeat(Buffer.byteLength(exact) + 1));
    assert.equal(garbage.status, 413);
    assert.deepEqual(server.accepted().map((r) => r.response_id), ['fits']);
    const log = server.requests();
    assert.equal(log[1].bodyText, null);
    assert.equal(log[1].bodyBytes, Buffer.byteLength(over));
  });

  it('answers 400 to invalid JSON and invalid UTF-8', async (t) => {
    const server = await start(t);
    for (const body of ['{"tracked": [', '', 'nope', new Uint8Array([0x7b, 0xff, 0x7d])]) {
      const res = await post(server.trackUrl, body);
      assert.deepEqual([res.status, res.json], [400, { detail: 'Invalid JSON body.' }]);
    }
  });
});

describe('validation', () => {
  it('answers 422 with a detail string to a bad envelope', async (t) => {
    const server = await start(t);
    const cases = [
      [[record()], 'Request body must be a JSON object.'],
      [null, 'Request body must be a JSON object.'],
      [{}, "Field 'tracked' is required."],
      [{ tracked: record() }, "Field 'tracked' must be a list."],
      [{ tracked: [] }, "Field 'tracked' must contain at least 1 record."],
      [{ tracked: [record()], skip_limits: 'yes' }, "Field 'skip_limits' must be a boolean."],
      [{ tracked: [record()], extra: 1 }, "Unexpected field 'extra'."],
      [{ records: [record()] }, "Unexpected field 'records'."],
    ];
    for (const [body, detail] of cases) {
      const res = await post(server.trackUrl, body);
      assert.deepEqual([res.status, res.json], [422, { detail }], JSON.stringify(body));
    }
    assert.equal(server.accepted().length, 0);
  });

  it('lists per-record errors like the service', async (t) => {
    const server = await start(t);
    const base = record({ response_id: 'r' });
    const cases = [
      [without(base, 'response_id'), 'UNKNOWN-RESPONSE-0', ['Missing response_id.']],
      [{ ...base, response_id: '' }, 'UNKNOWN-RESPONSE-0', ['Missing response_id.']],
      [{ ...base, response_id: 42 }, 'UNKNOWN-RESPONSE-0', ["Field 'response_id' must be a string."]],
      ['not-an-object', 'UNKNOWN-RESPONSE-0', ['Record must be a JSON object.']],
      [without(base, 'service_key'), 'r', ['Missing service_key.']],
      [{ ...base, service_key: '' }, 'r', ["Field 'service_key' must be a non-empty string."]],
      [{ ...base, service_key: 7 }, 'r', ["Field 'service_key' must be a non-empty string."]],
      [without(base, 'timestamp'), 'r', ['Missing timestamp.']],
      [without(base, 'payload'), 'r', ['Missing payload.']],
      [{ ...base, payload: [1] }, 'r', ["Field 'payload' must be an object."]],
      [{ ...base, payload: 'x' }, 'r', ["Field 'payload' must be an object."]],
      [{ ...base, customer_key: 5 }, 'r', ["Field 'customer_key' must be a string when present."]],
      [{ ...base, customer_key: null }, 'r', ["Field 'customer_key' must be a string when present."]],
      [{ ...base, context: 'prod' }, 'r', ["Field 'context' must be an object when present."]],
      [{ ...base, usage: {} }, 'r', ["Unexpected field 'usage'."]],
      [{ payload: {}, extra: 1 }, 'UNKNOWN-RESPONSE-0',
        ['Missing response_id.', 'Missing service_key.', 'Missing timestamp.', "Unexpected field 'extra'."]],
    ];
    for (const [bad, responseId, errors] of cases) {
      const res = await post(server.trackUrl, { tracked: [bad] });
      assert.equal(res.status, 422, JSON.stringify(bad));
      assert.deepEqual(res.json, { results: [{ response_id: responseId, status: 'error', errors }] }, JSON.stringify(bad));
    }
    assert.equal(server.accepted().length, 0);
  });

  it('rejects the whole request when any record is invalid, listing only the invalid ones', async (t) => {
    const server = await start(t);
    const good = record({ response_id: 'good' });
    const res = await post(server.trackUrl, {
      tracked: [good, without(record(), 'response_id'), record({ response_id: 'bad', timestamp: 1736937000 })],
    });
    assert.equal(res.status, 422);
    assert.deepEqual(res.json.results.map((r) => [r.response_id, r.status]), [['UNKNOWN-RESPONSE-1', 'error'], ['bad', 'error']]);
    assert.match(res.json.results[1].errors[0], /^Invalid timestamp 1736937000/);
    assert.deepEqual(server.accepted(), []);
    assert.equal(server.stats().rejected, 2);
    assert.equal((await post(server.trackUrl, { tracked: [good] })).json.results[0].status, 'queued');
  });

  it('accepts float-epoch and zoned ISO-8601 timestamps, refuses the rest', async (t) => {
    const accepted = ['1736937000.0', '1795310876.161856', '0.5', '2025-01-01T00:00:00Z', '2025-01-15T10:30:00.123+05:30',
      '2024-02-29T23:59:59-0800', '2025-01-01 00:00:00z', '2025-01-01T00:00Z'];
    const refused = ['1736937000', '', 'now', '2025-01-15T10:30:00', '2025-13-01T00:00:00Z', '2025-02-29T00:00:00Z',
      '2025-01-01T24:00:00Z', '2025-01-01T00:60:00Z', '2025-01-01', '1e9', '-1.0', ' 1736937000.0', '2025-01-01T00:00:00+24:00'];
    for (const ts of accepted) assert.equal(isAcceptedTimestamp(ts), true, ts);
    for (const ts of refused) assert.equal(isAcceptedTimestamp(ts), false, ts);
    const server = await start(t);
    assert.equal((await post(server.trackUrl, { tracked: accepted.map((timestamp) => record({ timestamp })) })).status, 202);
    const res = await post(server.trackUrl, { tracked: [record({ timestamp: '1736937000', response_id: 'int' })] });
    assert.equal(res.status, 422);
    assert.equal(res.json.results[0].response_id, 'int');
  });
});

describe('CORS', () => {
  it('answers OPTIONS preflight on any path with 204 and the allow headers', async (t) => {
    const server = await start(t);
    for (const path of ['/api/v1/track', '/anything', '/__control/faults']) {
      const res = await fetch(`${server.url}${path}`, {
        method: 'OPTIONS',
        headers: { origin: 'http://page.test', 'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type' },
      });
      assert.equal(res.status, 204, path);
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
      assert.equal(res.headers.get('access-control-allow-methods'), 'GET, POST, OPTIONS');
      assert.equal(res.headers.get('access-control-allow-headers'), 'authorization, content-type');
      assert.equal(res.headers.get('access-control-max-age'), '600');
      assert.equal(await res.text(), '');
    }
    assert.equal(server.requests().length, 0);
    assert.equal(server.stats().preflights, 1);
  });

  it('puts access-control-allow-origin on every reply, faults included', async (t) => {
    const server = await start(t, { apiKey: KEY });
    server.setFaults({ queue: [{ status: 503 }, { kind: 'badJson' }] });
    const replies = [
      await post(server.trackUrl, { tracked: [record()] }),
      await post(server.trackUrl, { tracked: [record()] }),
      await post(server.trackUrl, { tracked: [record()] }),
      await post(server.trackUrl, { tracked: [record()] }, { key: 'bad' }),
      await post(server.trackUrl, '{'),
      await post(`${server.url}/nowhere`, {}),
      { headers: (await fetch(`${server.url}/healthz`)).headers },
    ];
    for (const res of replies) {
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
      assert.equal(res.headers.get('access-control-expose-headers'), 'retry-after');
    }
  });
});

describe('faults', () => {
  it('status fault: default body, custom body and headers, nothing stored, logged with its status', async (t) => {
    const server = await start(t);
    server.setFaults({ queue: [{ status: 500 }, { status: 503, body: { detail: 'down' }, headers: { 'x-test': '1' } },
      { kind: 'status', status: 200, body: '{"ok": true}' }] });
    const a = await post(server.trackUrl, { tracked: [record()] });
    assert.deepEqual([a.status, a.json], [500, { detail: 'Injected fault' }]);
    const b = await post(server.trackUrl, { tracked: [record()] });
    assert.deepEqual([b.status, b.json, b.headers.get('x-test')], [503, { detail: 'down' }, '1']);
    const c = await post(server.trackUrl, { tracked: [record()] });
    assert.deepEqual([c.status, c.text], [200, '{"ok": true}']);
    assert.equal(server.accepted().length, 0);
    assert.deepEqual(server.requests().map((r) => [r.status, r.fault]), [[500, 'status'], [503, 'status'], [200, 'status']]);
  });

  it('status faults apply before auth (like a failing proxy) and to invalid bodies', async (t) => {
    const server = await start(t, { apiKey: KEY });
    server.setFaults({ always: { status: 502 } });
    assert.equal((await post(server.trackUrl, 'not json', { key: null })).status, 502);
  });

  it('429 with Retry-After in seconds or as an HTTP date', async (t) => {
    const server = await start(t);
    const date = new Date(Date.now() + 5000).toUTCString();
    server.setFaults({ queue: [{ status: 429, retryAfter: '2' }, { status: 429, retryAfter: date }, { status: 503, retryAfter: 7 }] });
    const a = await post(server.trackUrl, { tracked: [record()] });
    assert.deepEqual([a.status, a.headers.get('retry-after')], [429, '2']);
    const b = await post(server.trackUrl, { tracked: [record()] });
    assert.deepEqual([b.status, b.headers.get('retry-after')], [429, date]);
    const c = await post(server.trackUrl, { tracked: [record()] });
    assert.deepEqual([c.status, c.headers.get('retry-after')], [503, '7']);
    assert.equal(server.accepted().length, 0);
  });

  it('drop: the connection closes without a reply and nothing is stored', async (t) => {
    const server = await start(t);
    server.setFaults({ queue: [{ kind: 'drop' }] });
    await assert.rejects(post(server.trackUrl, { tracked: [record({ response_id: 'lost' })] }), TypeError);
    assert.equal(server.accepted().length, 0);
    const [logged] = server.requests();
    assert.deepEqual([logged.status, logged.fault], [null, 'drop']);
    assert.match(logged.bodyText, /"lost"/);
    assert.equal((await post(server.trackUrl, { tracked: [record()] })).status, 202);
  });

  it('drop afterAccept: records are stored, the reply is lost, the retry is a duplicate', async (t) => {
    const server = await start(t);
    server.setFaults({ queue: [{ kind: 'drop', afterAccept: true }] });
    const body = { tracked: [record({ response_id: 'kept' })] };
    await assert.rejects(post(server.trackUrl, body), TypeError);
    assert.deepEqual(server.accepted().map((r) => r.response_id), ['kept']);
    assert.equal((await post(server.trackUrl, body)).json.results[0].status, 'queued');
    assert.equal(server.accepted().length, 1);
    assert.equal(server.stats().duplicates, 1);
  });

  it('slow: answers normally after delayMs', async (t) => {
    const server = await start(t);
    server.setFaults({ queue: [{ kind: 'slow', delayMs: 150 }] });
    const started = Date.now();
    const res = await post(server.trackUrl, { tracked: [record({ response_id: 'late' })] });
    assert.ok(Date.now() - started >= 140, `took ${Date.now() - started} ms`);
    assert.deepEqual(res.json.results, [{ response_id: 'late', status: 'queued' }]);
    assert.equal(server.requests()[0].fault, 'slow');
  });

  it('slow: does nothing when the client gives up meanwhile', async (t) => {
    const server = await start(t);
    server.setFaults({ queue: [{ kind: 'slow', delayMs: 200 }] });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 40);
    await assert.rejects(post(server.trackUrl, { tracked: [record()] }, { signal: controller.signal }), { name: 'AbortError' });
    await sleep(300);
    assert.equal(server.accepted().length, 0);
    assert.deepEqual(server.requests().map((r) => [r.status, r.fault]), [[null, 'slow']]);
  });

  it('close() does not wait for slow replies', { timeout: 5000 }, async () => {
    const server = await startIngestServer();
    server.setFaults({ always: { kind: 'slow', delayMs: 60_000 } });
    const pending = post(server.trackUrl, { tracked: [record()] }).catch((error) => error);
    await sleep(50);
    const started = Date.now();
    await server.close();
    assert.ok(Date.now() - started < 1000);
    assert.ok((await pending) instanceof Error);
    assert.equal(server.accepted().length, 0);
  });

  it('recordError by responseIds: those get status error and are not stored, the rest as usual', async (t) => {
    const server = await start(t);
    server.setFaults({ queue: [{ kind: 'recordError', responseIds: ['b', 'c'] }] });
    const res = await post(server.trackUrl, { tracked: [record({ response_id: 'a' }), record({ response_id: 'b' }),
      record({ response_id: 'c', service_key: 'nokey' }), record({ response_id: 'd', service_key: 'nokey' })] });
    assert.equal(res.status, 202);
    assert.deepEqual(res.json.results.map((r) => [r.response_id, r.status, r.errors]), [
      ['a', 'queued', undefined],
      ['b', 'error', ['Injected record error.']],
      ['c', 'error', ['Injected record error.']],
      ['d', 'service_key_unknown', ["Service key 'nokey' is not recognized. Event queued for review."]],
    ]);
    assert.deepEqual(server.accepted().map((r) => r.response_id), ['a', 'd']);
    assert.equal(server.stats().rejected, 2);
  });

  it('recordError by count (default 1): the first n records', async (t) => {
    const server = await start(t);
    server.setFaults({ queue: [{ kind: 'recordError', count: 2 }, { kind: 'recordError' }] });
    const tracked = ['x', 'y', 'z'].map((id) => record({ response_id: id }));
    const first = await post(server.trackUrl, { tracked });
    assert.deepEqual(first.json.results.map((r) => r.status), ['error', 'error', 'queued']);
    const second = await post(server.trackUrl, { tracked });
    assert.deepEqual(second.json.results.map((r) => r.status), ['error', 'queued', 'queued']);
    assert.deepEqual(server.accepted().map((r) => r.response_id), ['z', 'y']);
  });

  it('recordError does not hide validation: an invalid record still gives 422', async (t) => {
    const server = await start(t);
    server.setFaults({ queue: [{ kind: 'recordError', count: 1 }] });
    assert.equal((await post(server.trackUrl, { tracked: [without(record(), 'payload')] })).status, 422);
    assert.equal((await post(server.trackUrl, { tracked: [record()] })).json.results[0].status, 'queued');
  });

  it('badJson: 202 whose body is not JSON, records stored (a retry is a duplicate)', async (t) => {
    const server = await start(t);
    server.setFaults({ queue: [{ kind: 'badJson' }] });
    const body = { tracked: [record({ response_id: 'bj' })] };
    const res = await post(server.trackUrl, body);
    assert.deepEqual([res.status, res.text, res.json], [202, '{"results": [', undefined]);
    assert.equal(server.accepted().length, 1);
    await post(server.trackUrl, body);
    assert.equal(server.accepted().length, 1);
    assert.equal(server.stats().duplicates, 1);
  });

  it('badJson does not turn an error reply into a 202', async (t) => {
    const server = await start(t, { apiKey: KEY });
    server.setFaults({ queue: [{ kind: 'badJson' }] });
    assert.equal((await post(server.trackUrl, { tracked: [record()] }, { key: 'wrong' })).status, 401);
  });

  it('consumes the queue in order, then always, and setFaults replaces the set', async (t) => {
    const server = await start(t);
    server.setFaults({ queue: [{ status: 500 }, { status: 429, retryAfter: '1' }], always: { status: 503 } });
    const statuses = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await post(server.trackUrl, { tracked: [record()] })).status);
    assert.deepEqual(statuses, [500, 429, 503, 503]);
    server.setFaults({ queue: [{ status: 500 }] });
    assert.equal((await post(server.trackUrl, { tracked: [record()] })).status, 500);
    assert.equal((await post(server.trackUrl, { tracked: [record()] })).status, 202);
    server.setFaults({ always: { status: 500 } });
    server.setFaults(null);
    assert.equal((await post(server.trackUrl, { tracked: [record()] })).status, 202);
    assert.deepEqual(server.stats().byStatus, { 202: 2, 429: 1, 500: 2, 503: 2 });
  });

  it('faults are consumed by POST /track only (not preflights, control calls or GET)', async (t) => {
    const server = await start(t);
    server.setFaults({ queue: [{ status: 500 }] });
    await fetch(server.trackUrl, { method: 'OPTIONS' });
    await fetch(server.trackUrl);
    await fetch(`${server.url}/__control/stats`);
    assert.equal((await post(server.trackUrl, { tracked: [record()] })).status, 500);
  });

  it('rejects malformed specs with TypeError and keeps the previous plan', async (t) => {
    const server = await start(t);
    server.setFaults({ queue: [{ status: 500 }] });
    const bad = [
      'x', [], { queue: {} }, { extra: 1 }, { queue: [{ kind: 'nope' }] }, { queue: [{}] }, { always: { status: 99 } },
      { always: { status: 600 } }, { always: { status: 500, headers: { a: 1 } } }, { always: { kind: 'slow' } },
      { always: { kind: 'slow', delayMs: -1 } }, { always: { kind: 'recordError', count: 0 } },
      { always: { kind: 'recordError', responseIds: 'a' } }, { always: { kind: 'recordError', responseIds: [], count: 1 } },
      { always: { kind: 'drop', delayMs: 5 } }, { always: { kind: 'drop', afterAccept: 'yes' } }, { always: { status: 429, retryAfter: {} } },
    ];
    for (const spec of bad) assert.throws(() => server.setFaults(spec), TypeError, JSON.stringify(spec));
    assert.equal((await post(server.trackUrl, { tracked: [record()] })).status, 500);
  });

  it('normalizes specs to plain data', () => {
    assert.deepEqual(normalizeFaultSpec({ queue: [{ status: 429, retryAfter: 3 }, { kind: 'recordError' }], always: { kind: 'drop' } }), {
      queue: [
        { kind: 'status', status: 429, body: { detail: 'Injected fault' }, headers: { 'retry-after': '3' } },
        { kind: 'recordError', responseIds: null, count: 1 },
      ],
      always: { kind: 'drop', afterAccept: false },
    });
  });
});

describe('control endpoints', () => {
  it('healthz, faults, accepted, requests, stats and reset over HTTP', async (t) => {
    const server = await start(t);
    assert.deepEqual(await getJson(`${server.url}/healthz`), { status: 'ok' });
    const set = await post(`${server.url}/__control/faults`, { queue: [{ status: 503 }] }, { key: null });
    assert.equal(set.status, 200);
    assert.equal(set.json.faults.queue[0].status, 503);
    assert.deepEqual(await getJson(`${server.url}/__control/faults`), set.json.faults);
    assert.equal((await post(server.trackUrl, { tracked: [record()] })).status, 503);
    const rec = record({ response_id: 'via-http' });
    assert.equal((await post(server.trackUrl, { tracked: [rec] })).status, 202);
    assert.deepEqual(await getJson(`${server.url}/__control/accepted`), [rec]);
    const log = await getJson(`${server.url}/__control/requests`);
    assert.deepEqual(log.map((r) => [r.status, r.fault]), [[503, 'status'], [202, null]]);
    assert.deepEqual(log, server.requests());
    assert.deepEqual(await getJson(`${server.url}/__control/stats`), server.stats());
    const limits = await post(`${server.url}/__control/triggered-limits`, { version: 'v1' }, { key: null });
    assert.equal(limits.status, 200);
    assert.deepEqual((await post(server.trackUrl, { tracked: [record()] })).json.triggered_limits, { version: 'v1' });

    server.setFaults({ always: { status: 500 } });
    assert.equal((await post(`${server.url}/__control/reset`, '', { key: null })).status, 200);
    assert.deepEqual(await getJson(`${server.url}/__control/accepted`), []);
    assert.deepEqual(await getJson(`${server.url}/__control/requests`), []);
    assert.deepEqual((await getJson(`${server.url}/__control/stats`)).requests, 0);
    assert.deepEqual(await getJson(`${server.url}/__control/faults`), { queue: [], always: null });
    const after = await post(server.trackUrl, { tracked: [record()] });
    assert.equal(after.status, 202);
    assert.equal('triggered_limits' in after.json, false);
  });

  it('rejects bad fault specs and bad JSON with 400, unknown paths with 404, wrong methods with 405', async (t) => {
    const server = await start(t);
    const bad = await post(`${server.url}/__control/faults`, { queue: [{ kind: 'nope' }] }, { key: null });
    assert.equal(bad.status, 400);
    assert.match(bad.json.detail, /unknown kind "nope"/);
    assert.equal((await post(`${server.url}/__control/faults`, '{', { key: null })).status, 400);
    assert.equal((await fetch(`${server.url}/__control/nothing`)).status, 404);
    assert.equal((await fetch(`${server.url}/__control/reset`)).status, 405);
    assert.equal(server.requests().length, 0);
  });

  it('reset() clears records, requests, faults and counters', async (t) => {
    const server = await start(t);
    await post(server.trackUrl, { tracked: [record({ response_id: 'r' })] });
    server.setFaults({ always: { status: 500 } });
    server.reset();
    assert.deepEqual([server.accepted(), server.requests()], [[], []]);
    assert.deepEqual(server.stats(), { requests: 0, accepted: 0, duplicates: 0, rejected: 0, preflights: 0, byStatus: {} });
    const res = await post(server.trackUrl, { tracked: [record({ response_id: 'r' })] });
    assert.equal(res.status, 202);
    assert.equal(server.stats().duplicates, 0, 'dedupe memory is cleared too');
  });
});

describe('options', () => {
  it('rejects unknown or malformed options', async () => {
    await assert.rejects(startIngestServer({ apikey: 'x' }), TypeError);
    await assert.rejects(startIngestServer({ port: -1 }), TypeError);
    await assert.rejects(startIngestServer({ maxBodyBytes: '10' }), TypeError);
    await assert.rejects(startIngestServer({ apiKey: '' }), TypeError);
  });

  it('reports url and trackUrl on 127.0.0.1 and fails on a taken port', async (t) => {
    const server = await start(t);
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(server.trackUrl, `${server.url}/api/v1/track`);
    await assert.rejects(startIngestServer({ port: server.port }), { code: 'EADDRINUSE' });
  });

  it('calls onRequest once per /track request', async (t) => {
    const seen = [];
    const server = await start(t, { onRequest: (entry) => seen.push(entry.status) });
    await post(server.trackUrl, { tracked: [record()] });
    await post(server.trackUrl, '{');
    await fetch(`${server.url}/healthz`);
    assert.deepEqual(seen, [202, 400]);
  });
});

describe('cli', () => {
  function startCli(args) {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => { stdout += c; });
    child.stderr.on('data', (c) => { stderr += c; });
    const ready = new Promise((resolve, reject) => {
      child.stdout.on('data', () => {
        const match = /^INGEST_URL=(\S+)\n/.exec(stdout);
        if (match) resolve(match[1]);
      });
      child.once('exit', (code) => reject(new Error(`cli exited ${code}: ${stderr}`)));
    });
    return { child, ready, output: () => ({ stdout, stderr }) };
  }

  for (const signal of ['SIGTERM', 'SIGINT']) {
    it(`prints INGEST_URL, logs each /track request on stderr, exits 0 on ${signal}`, async () => {
      const cli = startCli(['--port', '0', '--api-key', 'cli-key', '--max-body-bytes', '400']);
      const url = await cli.ready;
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal((await post(`${url}/api/v1/track`, { tracked: [record()] }, { key: 'cli-key' })).status, 202);
      assert.equal((await post(`${url}/api/v1/track`, { tracked: [record()] }, { key: 'nope' })).status, 401);
      assert.equal((await post(`${url}/api/v1/track`, 'x'.repeat(401), { key: 'cli-key' })).status, 413);
      await fetch(`${url}/healthz`);
      const exited = once(cli.child, 'exit');
      cli.child.kill(signal);
      const [code] = await exited;
      assert.equal(code, 0);
      const { stdout, stderr } = cli.output();
      assert.equal(stdout, `INGEST_URL=${url}\n`);
      const lines = stderr.trim().split('\n');
      assert.equal(lines.length, 3, stderr);
      assert.match(lines[0], /POST \/api\/v1\/track 202 /);
      assert.match(lines[1], /POST \/api\/v1\/track 401 /);
      assert.match(lines[2], /POST \/api\/v1\/track 413 /);
    });
  }

  it('--no-auth accepts requests without a key', async () => {
    const cli = startCli(['--port', '0', '--no-auth']);
    const url = await cli.ready;
    try {
      assert.equal((await post(`${url}/api/v1/track`, { tracked: [record()] }, { key: null })).status, 202);
    } finally {
      cli.child.kill('SIGTERM');
      await once(cli.child, 'exit');
    }
  });

  it('exits 2 with usage on bad arguments', async () => {
    const cli = startCli(['--port', 'abc']);
    const refused = assert.rejects(cli.ready, /cli exited 2/);
    const [code] = await once(cli.child, 'exit');
    assert.equal(code, 2);
    assert.match(cli.output().stderr, /usage:/);
    await refused;
  });
});
