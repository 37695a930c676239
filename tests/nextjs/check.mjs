// Drives the built Next.js app (tests/nextjs/run starts it): POSTs to its edge route /api/track and checks, through
// the ingest server's control endpoints, what reached /track.
//   node tests/nextjs/check.mjs <next-url> <ingest-url> <api-key>
// Prints one line per check, "PASS name" or "FAIL name: why"; exits 1 when any check failed.

import assert from 'node:assert/strict';

const [nextUrl, ingestUrl, apiKey] = process.argv.slice(2);
if (!nextUrl || !ingestUrl || !apiKey) {
  process.stderr.write('usage: node tests/nextjs/check.mjs <next-url> <ingest-url> <api-key>\n');
  process.exit(2);
}

async function postTrack(body) {
  const response = await fetch(`${nextUrl}/api/track`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* reported by the checks below */ }
  return { status: response.status, json, text };
}

async function control(path) {
  const response = await fetch(`${ingestUrl}${path}`);
  assert.equal(response.status, 200, `${path} answered ${response.status}`);
  return response.json();
}

const usage = { input_tokens: 1234, output_tokens: 56, cached: { tokens: 7 }, model: 'gpt-4o-mini', ok: true, extra: null };
const valid = { serviceKey: 'openai::gpt-4o-mini', usage, responseId: `next-edge-${process.pid}-${Date.now()}` };

const checks = [
  ['valid record: the route answers 200 with the track result', async () => {
    const reply = await postTrack(valid);
    assert.equal(reply.status, 200, `status ${reply.status}: ${reply.text}`);
    assert.equal(reply.json.responseId, valid.responseId);
    assert.equal(reply.json.status, 'queued');
    assert.equal(reply.json.error, null);
    assert.equal(reply.json.attempts, 1);
    assert.deepEqual(reply.json.errors, []);
  }],
  ['valid record: the ingest server stored it with the right fields', async () => {
    const stored = (await control('/__control/accepted')).filter((r) => r.response_id === valid.responseId);
    assert.equal(stored.length, 1, `stored ${stored.length} records with response_id ${valid.responseId}`);
    const [record] = stored;
    assert.equal(record.service_key, valid.serviceKey);
    assert.deepEqual(record.payload, usage);
    const seconds = Number(record.timestamp);
    assert.ok(Math.abs(seconds * 1000 - Date.now()) < 5 * 60 * 1000, `timestamp ${record.timestamp} is not about now`);
  }],
  ['valid record: sent once, with the API key as a Bearer token', async () => {
    const requests = (await control('/__control/requests')).filter((r) => (r.bodyText ?? '').includes(valid.responseId));
    assert.equal(requests.length, 1, `${requests.length} /track requests carried the record`);
    const auth = requests[0].headers.authorization;
    assert.equal(auth, `Bearer ${apiKey}`);
  }],
  ['no responseId: the tracker makes a 32-hex one', async () => {
    const reply = await postTrack({ serviceKey: valid.serviceKey, usage: { total_tokens: 3 } });
    assert.equal(reply.status, 200, `status ${reply.status}: ${reply.text}`);
    assert.match(reply.json.responseId, /^[0-9a-f]{32}$/);
    const stored = (await control('/__control/accepted')).filter((r) => r.response_id === reply.json.responseId);
    assert.equal(stored.length, 1);
  }],
  ['bad usage: 400 with code E_INVALID_USAGE, nothing sent', async () => {
    const before = (await control('/__control/requests')).length;
    const reply = await postTrack({ serviceKey: valid.serviceKey, usage: 'not an object', responseId: 'next-edge-bad' });
    assert.equal(reply.status, 400, `status ${reply.status}: ${reply.text}`);
    assert.equal(reply.json.code, 'E_INVALID_USAGE');
    assert.equal((await control('/__control/requests')).length, before, 'a /track request was made');
    const stored = (await control('/__control/accepted')).filter((r) => r.response_id === 'next-edge-bad');
    assert.equal(stored.length, 0);
  }],
];

let failed = 0;
for (const [name, run] of checks) {
  try {
    await run();
    console.log(`PASS ${name}`);
  } catch (error) {
    failed += 1;
    const values = 'actual' in error ? ` (got ${JSON.stringify(error.actual)}, want ${JSON.stringify(error.expected)})` : '';
    console.log(`FAIL ${name}: ${error.message.split('\n')[0]}${values}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
