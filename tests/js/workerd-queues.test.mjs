// Cloudflare Queues delivery in real workerd (Miniflare's local Queues): queueSink in three producer Workers,
// handleQueueBatch in a consumer Worker, the local ingest answering 503 for a while, then recovering.
//
// Time is compressed: the consumer's backoff cap is 4 s instead of 5 min (retryMaxDelayMs, 75×) and its base 1 s
// (2× less), the queue's max_retries is 2 (the documented setting is 100) so that re-sends carrying the attempts
// happen within the outage; the outage itself is 30 s of real time at 5 requests/s.
// Checked once that it can fail: with the consumer's maxRetries left at 100 while the queue's is 2 (no re-sends),
// Queues dead-lettered 77 of the 210 records by attempts and the test failed on "never delivered".
// Run: node --test tests/js/workerd-queues.test.mjs   (after scripts/build-pkg and unpack_pkg_into tests/js)

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { readFileSync } from 'node:fs';

import { Miniflare } from 'miniflare';

import { startIngestServer } from '../ingest/server.mjs';
import { bundleWorker } from './support-workerd/bundle.mjs';

const ENTRY = fileURLToPath(new URL('./support-workerd/queues-worker.mjs', import.meta.url));
const MODULES_RULES = [
  { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
  { type: 'CompiledWasm', include: ['**/*.wasm'] },
];
const PRODUCERS = ['producer-a', 'producer-b', 'producer-c'];
const RATE_PER_S = 5;
const UP_BEFORE_S = 6;
const OUTAGE_S = 30;
const UP_AFTER_S = 6;
const CONSUMER_OPTIONS = { retryBaseDelayMs: 1000, retryMaxDelayMs: 4000, maxRetries: 2 };

/**
 * The README's "Cloudflare Queues" wrangler.toml block: `{ producers: [{ binding, queue }], consumers: [{ queue,
 * max_batch_size, ... }] }` (only `[[queues.producers]]`/`[[queues.consumers]]` tables of `key = "string" | number`
 * lines; anything else throws, naming the line), and the `maxRetries` its code example passes.
 */
function readmeQueuesSetup() {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('### Cloudflare Queues'));
  const toml = /```toml\n([\s\S]*?)```/.exec(section)[1];
  const setup = { producers: [], consumers: [] };
  let table = null;
  for (const raw of toml.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const head = /^\[\[queues\.(producers|consumers)\]\]$/.exec(line);
    if (head) { table = {}; setup[head[1]].push(table); continue; }
    const entry = /^(\w+) = (?:"([^"]*)"|(\d+))$/.exec(line);
    if (!entry || !table) throw new Error(`README wrangler.toml: cannot read ${JSON.stringify(line)}`);
    table[entry[1]] = entry[2] ?? Number(entry[3]);
  }
  const maxRetries = Number(/handleQueueBatch\(batch, env, \{ maxRetries: (\d+) \}\)/.exec(section)[1]);
  return { ...setup, maxRetries };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Cloudflare Queues in workerd: an outage of the ingest', () => {
  let ingest;
  let mf;
  let outdir;
  let recordsQueue;

  before(async () => {
    const setup = readmeQueuesSetup();
    const [consumerToml] = setup.consumers;
    assert.equal(setup.maxRetries, consumerToml.max_retries, "the README's maxRetries is its wrangler max_retries");
    assert.ok(consumerToml.max_retries >= 100 && consumerToml.dead_letter_queue, 'the documented setup');
    const binding = (name) => setup.producers.find((p) => p.binding === name).queue;
    assert.equal(binding('AICM_DLQ'), consumerToml.dead_letter_queue);
    recordsQueue = binding('AICM_QUEUE');
    ingest = await startIngestServer({ apiKey: 'k-queues' });
    outdir = await mkdtemp(path.join(os.tmpdir(), 'aicm-queues-'));
    const scriptPath = await bundleWorker({ entry: ENTRY, outdir });
    const common = { modules: true, scriptPath, modulesRoot: outdir, modulesRules: MODULES_RULES, compatibilityDate: '2025-09-01' };
    mf = new Miniflare({
      cf: false,
      workers: [
        ...PRODUCERS.map((name) => ({ ...common, name, queueProducers: { AICM_QUEUE: recordsQueue } })),
        {
          ...common,
          name: 'consumer',
          bindings: {
            AICM_API_KEY: 'k-queues',
            AICM_API_BASE: ingest.url,
            CONSUMER_OPTIONS: JSON.stringify(CONSUMER_OPTIONS),
          },
          queueProducers: Object.fromEntries(setup.producers.map((p) => [p.binding, p.queue])),
          queueConsumers: {
            // The README's consumer, max_retries compressed to CONSUMER_OPTIONS.maxRetries (see the top).
            [recordsQueue]: {
              maxBatchSize: consumerToml.max_batch_size,
              maxBatchTimeout: consumerToml.max_batch_timeout,
              maxRetries: CONSUMER_OPTIONS.maxRetries,
              deadLetterQueue: consumerToml.dead_letter_queue,
            },
            [consumerToml.dead_letter_queue]: { maxBatchSize: 100, maxBatchTimeout: 1 },
          },
        },
      ],
    });
    await mf.ready;
  });

  after(async () => {
    await mf?.dispose();
    await ingest?.close();
    if (outdir) await rm(outdir, { recursive: true, force: true });
  });

  it('loses nothing, sends no response_id twice, POSTs to the down service within the backoff', { timeout: 180_000 }, async () => {
    const producers = await Promise.all(PRODUCERS.map((name) => mf.getWorker(name)));
    const consumer = await mf.getWorker('consumer');
    const ids = [];
    const answers = [];
    let outageStart = 0;
    let outageEnd = 0;
    const total = (UP_BEFORE_S + OUTAGE_S + UP_AFTER_S) * RATE_PER_S;
    const t0 = Date.now();
    for (let i = 0; i < total; i += 1) {
      const second = i / RATE_PER_S;
      if (second >= UP_BEFORE_S && !outageStart) {
        ingest.setFaults({ always: { status: 503 } });
        outageStart = Date.now();
      }
      if (second >= UP_BEFORE_S + OUTAGE_S && !outageEnd) {
        ingest.setFaults(null);
        outageEnd = Date.now();
      }
      const id = `q-${i}`;
      ids.push(id);
      answers.push(producers[i % producers.length].fetch(`http://localhost/track?id=${id}`).then((r) => r.json()));
      const due = t0 + ((i + 1) * 1000) / RATE_PER_S;
      await sleep(Math.max(0, due - Date.now()));
    }
    for (const answer of await Promise.all(answers)) assert.deepEqual(answer, { status: 'queued', error: null });

    // Recovery: wait until every record is accepted (the backoff after the outage is at most 4 s per message).
    const deadline = Date.now() + 90_000;
    while (ingest.accepted().length < ids.length && Date.now() < deadline) await sleep(250);
    await sleep(3000); // let late duplicates, if any, arrive
    const accepted = new Set(ingest.accepted().map((r) => r.response_id));
    const lost = ids.filter((id) => !accepted.has(id));
    assert.deepEqual(lost, [], `${lost.length} of ${ids.length} records never delivered`);

    // Every POST the ingest saw: no response_id in two accepted POSTs.
    const requests = ingest.requests();
    const acceptedSends = new Map();
    for (const req of requests.filter((r) => r.status >= 200 && r.status < 300)) {
      for (const record of JSON.parse(req.bodyText).tracked) acceptedSends.set(record.response_id, (acceptedSends.get(record.response_id) ?? 0) + 1);
    }
    const duplicates = [...acceptedSends].filter(([, n]) => n > 1);
    assert.deepEqual(duplicates, [], 'a response_id was sent twice');
    assert.equal(ingest.stats().duplicates, 0);

    // POSTs to the down service: each failed POST pauses the consumer isolate for at least half the first backoff
    // window (0.5 s), so at most one POST per 0.5 s of outage (+1 for the one in flight when it started).
    const downPosts = requests.filter((r) => r.status === 503).length;
    const bound = Math.ceil(((outageEnd - outageStart) / 1000) / 0.5) + 1;
    assert.ok(downPosts <= bound, `${downPosts} POSTs during ${(outageEnd - outageStart) / 1000} s of outage, bound ${bound}`);

    const stats = await (await consumer.fetch('http://localhost/stats')).json();
    assert.deepEqual(stats.deadLetters, [], 'an outage dead-letters nothing');
    const sum = (key) => stats.reports.reduce((n, r) => n + r[key], 0);
    const requeued = sum('requeued');
    assert.ok(requeued > 0, 'messages reached max_retries during the outage and were re-sent with their attempts');
    // Queue operations (Cloudflare bills a write, a read and a delete per 64 KB message): the producers' writes,
    // one read per delivery, one delete per ack, one write per re-send.
    const deliveries = sum('acked') + sum('retried') + sum('requeued') + sum('deadLettered');
    const ops = ids.length + deliveries + sum('acked') + 2 * requeued;
    console.log(`# queues outage: ${ids.length} records, ${requests.length} POSTs (${downPosts} answered 503 in ${OUTAGE_S} s), `
      + `${deliveries} deliveries, ${requeued} re-sends, ${sum('retried')} retries, ~${(ops / ids.length).toFixed(2)} Queue operations per record`);
  });
});
