// worker-example in real workerd (Miniflare) with each of its three deliveries, configured only by which
// wrangler*.toml it runs with: Cloudflare Queues (wrangler.toml: producer + consumer in the same Worker), the
// AicmOutbox Durable Object (wrangler.durable-object.toml) and the KV outbox (wrangler.kv.toml; its outages and
// costs are workerd-queue.test.mjs's). For each: chats answered, every record accepted exactly once by the local
// ingest, through a short ingest outage (503) too, with no request after it for the Queues and Durable Object
// setups (the consumer's retries and the object's alarm deliver). The consumer's batch timeout is shortened to
// 1 s (wrangler.toml: 5 s); the backoff is the library's (first retry 1–2 s). Needs the packed package in
// tests/js/node_modules.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';

import { startIngestServer } from '../ingest/server.mjs';
import { startFakeLlm } from './support-workerd/fake-llm.mjs';
import { httpRequest } from './support-workerd/http-request.mjs';
import { waitFor } from './support-workerd/wait.mjs';
import { startWorker, WORKER_EXAMPLE_DIR } from './support-workerd/worker.mjs';
import { readWranglerToml } from './support-workerd/wrangler-toml.mjs';

const API_KEY = 'aicm-test-key-example-deliveries';

let ingest;
let llm;
let cleanups = [];

before(async () => {
  ingest = await startIngestServer({ apiKey: API_KEY });
  llm = await startFakeLlm();
});
after(async () => {
  await llm?.close();
  await ingest?.close();
});
beforeEach(() => {
  ingest.reset();
});

async function start(wranglerFile, cloudflare = {}) {
  const worker = await startWorker({
    wranglerFile,
    env: { AICM_API_KEY: API_KEY, AICM_API_BASE: ingest.url, LLM_BASE_URL: llm.url },
    cloudflare,
  });
  cleanups.push(() => worker.dispose());
  return worker;
}

async function chat(worker, text) {
  const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: text }] };
  const res = await httpRequest(`${worker.url}/chat`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-customer-key': 'acme' }, body: JSON.stringify(body),
  });
  assert.equal(res.status, 200, res.text);
  return JSON.parse(res.text).id;
}

/**
 * Waits until the ingest accepted every id, then checks each exactly once with its customer and route, and (unless
 * `onceOnTheWire` is false) that each was sent in exactly one accepted POST: no duplicate sends.
 */
async function assertDeliveredOnce(worker, ids, { timeoutMs = 30_000, onceOnTheWire = true } = {}) {
  await waitFor(() => ids.every((id) => ingest.accepted().some((r) => r.response_id === id)), {
    timeoutMs, what: `${ids.length} records accepted`,
    describe: () => `${ingest.accepted().length} accepted; logs ${JSON.stringify(worker.logs().slice(-5))}`,
  });
  for (const id of ids) {
    const records = ingest.accepted().filter((r) => r.response_id === id);
    assert.equal(records.length, 1, `${id} accepted once`);
    assert.equal(records[0].customer_key, 'acme');
    assert.deepEqual(records[0].context, { route: '/chat' });
    assert.equal(records[0].service_key, 'openai::gpt-4o-mini');
  }
  if (!onceOnTheWire) return; // KV has no lock: two requests may both send a record (the service keeps one)
  const posted = ingest.requests().filter((r) => r.status === 202).flatMap((r) => JSON.parse(r.bodyText).tracked.map((t) => t.response_id));
  for (const id of ids) assert.equal(posted.filter((p) => p === id).length, 1, `${id} sent once with a 202`);
}

describe('worker-example: the delivery comes from its wrangler config', () => {
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    cleanups = [];
  });

  test('wrangler.toml is the Queues setup; its max_retries is the one the consumer is told', async () => {
    const config = await readWranglerToml(path.join(WORKER_EXAMPLE_DIR, 'wrangler.toml'));
    assert.equal(config.vars.AICM_DELIVERY, 'queues');
    assert.deepEqual(config.queues.producers.map((p) => p.binding), ['AICM_QUEUE', 'AICM_DLQ']);
    const [consumer] = config.queues.consumers;
    assert.equal(consumer.queue, config.queues.producers[0].queue);
    assert.equal(consumer.dead_letter_queue, config.queues.producers[1].queue);
    assert.equal(consumer.dead_letter_queue, config.vars.AICM_DLQ_NAME);
    assert.equal(String(consumer.max_retries), config.vars.AICM_QUEUE_MAX_RETRIES);
    const durable = await readWranglerToml(path.join(WORKER_EXAMPLE_DIR, 'wrangler.durable-object.toml'));
    assert.equal(durable.vars.AICM_DELIVERY, 'durable-object');
    assert.deepEqual(durable.durable_objects.bindings, [{ name: 'AICM_OUTBOX', class_name: 'AicmOutbox' }]);
    const kv = await readWranglerToml(path.join(WORKER_EXAMPLE_DIR, 'wrangler.kv.toml'));
    assert.equal(kv.vars.AICM_DELIVERY, 'kv');
  });

  test('Queues: records go through the queue and its consumer, through a 503 outage, each accepted once', async () => {
    const config = await readWranglerToml(path.join(WORKER_EXAMPLE_DIR, 'wrangler.toml'));
    const queue = config.queues.consumers[0].queue;
    const worker = await start('wrangler.toml', { queueConsumers: { [queue]: { maxBatchTimeout: 1 } } });
    const ids = [];
    for (let i = 0; i < 3; i += 1) ids.push(await chat(worker, `up ${i}`));
    await assertDeliveredOnce(worker, ids);
    ingest.setFaults({ always: { status: 503 } });
    const outage = [];
    for (let i = 0; i < 3; i += 1) outage.push(await chat(worker, `down ${i}`));
    await waitFor(() => ingest.requests().some((r) => r.status === 503), { timeoutMs: 15_000, what: 'a POST refused by the outage' });
    ingest.setFaults({ always: null });
    await assertDeliveredOnce(worker, [...ids, ...outage]);
  });

  test('Durable Object: records go to AicmOutbox, whose alarm delivers them after a 503 outage with no request', async () => {
    const worker = await start('wrangler.durable-object.toml');
    ingest.setFaults({ always: { status: 503 } });
    const ids = [];
    for (let i = 0; i < 3; i += 1) ids.push(await chat(worker, `object ${i}`));
    await waitFor(() => ingest.requests().some((r) => r.status === 503), { timeoutMs: 15_000, what: 'a POST refused by the outage' });
    ingest.setFaults({ always: null });
    await assertDeliveredOnce(worker, ids, { timeoutMs: 60_000 });
  });

  test('KV: the request flushes its record from the KV outbox after the response', async () => {
    const worker = await start('wrangler.kv.toml');
    const ids = [];
    for (let i = 0; i < 2; i += 1) ids.push(await chat(worker, `kv ${i}`));
    await assertDeliveredOnce(worker, ids, { onceOnTheWire: false });
  });
});
