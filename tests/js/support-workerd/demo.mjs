// The end-to-end demo (run by scripts/demo): worker-example in real workerd with its KV outbox (Miniflare's local
// Workers KV), a fake OpenAI-compatible LLM and the local ingest server, all on 127.0.0.1. Three phases:
//   1. normal chats: each answer's usage is delivered after the response (ctx.waitUntil(tracker.flush()));
//   2. the ingest server is down (every /track answers 503): users still get their answers, the usage records
//      wait in KV (the demo reads KV and prints how many);
//   3. the ingest server is back: the next chat's flush delivers what waited, with its own record.
// Prints the records the ingest server accepted and "N records accepted, 0 lost"; exits 1 when a record is missing.
// (A record sent twice is legal with KV, which has no lock: the server keeps one per response_id; it is printed.)
// Stops everything it started, also on failure.
//
//   node tests/js/support-workerd/demo.mjs        (needs the package in tests/js/node_modules: see scripts/demo)

import { readFile } from 'node:fs/promises';

import { startIngestServer } from '../../ingest/server.mjs';
import { TESTS_JS_DIR } from './bundle.mjs';
import { startFakeLlm } from './fake-llm.mjs';
import { readKvOutbox } from './kv-outbox.mjs';
import { waitFor } from './wait.mjs';
import { startWorker } from './worker.mjs';

const API_KEY = 'aicm-demo-key';
const QUEUE = 'AICM_KV'; // worker-example's KV binding (wrangler.kv.toml)
const DELIVERY_TIMEOUT_MS = 5000;
const PHASES = [
  {
    title: 'phase 1: AICostManager up, usage delivered after each answer',
    ingest: 'up',
    chats: [
      { model: 'gpt-4o-mini', customer: 'acme', prompt: 'Explain tokens to a five-year-old.' },
      { model: 'gpt-4o', customer: 'globex', prompt: 'Draft a two-line release note for version 0.1.' },
      { model: 'gpt-4o', customer: null, prompt: 'Say hello (anonymous visitor, no customer key).' },
    ],
  },
  {
    title: 'phase 2: AICostManager down (every /track answers 503), users still get answers',
    ingest: 'down',
    chats: [
      { model: 'gpt-4o-mini', customer: 'globex', prompt: 'Translate "good morning" into French.' },
      { model: 'gpt-4.1-nano', customer: 'acme', prompt: 'Name three prime numbers.' },
      { model: 'gpt-4o', customer: 'acme', prompt: 'Is anyone counting my tokens right now?' },
      { model: 'gpt-4o-mini', customer: null, prompt: 'What is the capital of Portugal?' },
    ],
  },
  {
    title: 'phase 3: AICostManager back, the next chat delivers what waited in KV',
    ingest: 'up',
    chats: [{ model: 'gpt-4.1-nano', customer: 'globex', prompt: 'Thanks, that is all.' }],
  },
];

async function versionOf(name) {
  const file = new URL(`node_modules/${name}/package.json`, `file://${TESTS_JS_DIR}/`);
  return JSON.parse(await readFile(file, 'utf8')).version;
}

function table(rows, columns) {
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells) => cells.map((cell, i) => String(cell).padEnd(widths[i])).join('  ').trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(columns.map((c) => r[c])))].join('\n');
}

async function chat(worker, { model, customer, prompt }) {
  const headers = { 'content-type': 'application/json' };
  if (customer !== null) headers['x-customer-key'] = customer;
  const res = await worker.dispatchFetch('/chat', {
    method: 'POST',
    headers,
    body: JSON.stringify({ model, messages: [{ role: 'user', content: prompt }] }),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`POST /chat (${model}) answered ${res.status}: ${text}`);
  return JSON.parse(text);
}

/** Resolves once the Worker logged the end of the flush `responseId`'s request started (it logs what is left). */
function flushEnded(worker, responseId) {
  return waitFor(() => worker.logs().find((l) => l.message.startsWith(`aicm flush (usage ${responseId})`)), {
    timeoutMs: DELIVERY_TIMEOUT_MS,
    what: `the end of the flush of ${responseId}`,
  });
}

async function main() {
  const started = [];
  try {
    const ingest = await startIngestServer({ apiKey: API_KEY });
    started.push(() => ingest.close());
    const llm = await startFakeLlm();
    started.push(() => llm.close());
    const worker = await startWorker({ wranglerFile: 'wrangler.kv.toml', env: { AICM_API_KEY: API_KEY, AICM_API_BASE: ingest.url, LLM_BASE_URL: llm.url } });
    started.push(() => worker.dispose());
    const kv = await worker.kv(QUEUE);

    console.log(`worker-example running in workerd (miniflare ${await versionOf('miniflare')}, aicostmanager-edge ${await versionOf('aicostmanager-edge')})`);
    console.log(`usage outbox: Workers KV namespace ${QUEUE} (local)   ingest server ${ingest.trackUrl}   fake LLM ${llm.url}/v1/chat/completions`);

    const phaseOf = new Map(); // response_id → phase number
    for (const [index, phase] of PHASES.entries()) {
      console.log(`\n${phase.title}`);
      ingest.setFaults(phase.ingest === 'down' ? { always: { status: 503 } } : null);
      const rejectedBefore = ingest.requests().filter((r) => r.status === 503).length;
      for (const c of phase.chats) {
        const answer = await chat(worker, c);
        phaseOf.set(answer.id, index + 1);
        const who = c.customer ?? '(none)';
        console.log(`  POST /chat  ${c.model.padEnd(12)} customer ${who.padEnd(7)} → 200  ${answer.choices[0].message.content}`);
        if (phase.ingest === 'down') await flushEnded(worker, answer.id); // one request after the other, as users come
      }
      const wanted = [...phaseOf.keys()];
      if (phase.ingest === 'down') {
        const waiting = await readKvOutbox(kv);
        const rejected = ingest.requests().filter((r) => r.status === 503).length - rejectedBefore;
        console.log(`  ingest answered 503 to ${rejected} /track request(s); accepted so far: ${ingest.accepted().length}`);
        console.log(`  records waiting in KV: ${waiting.queued.length} queued, ${waiting.dead.length} dead-lettered (${waiting.segments} KV keys)`);
      } else {
        await waitFor(
          async () => wanted.every((id) => ingest.accepted().some((r) => r.response_id === id)) && (await readKvOutbox(kv)).segments === 0,
          { timeoutMs: DELIVERY_TIMEOUT_MS },
        ).catch(() => {});
        const waiting = await readKvOutbox(kv);
        console.log(`  delivered under ctx.waitUntil: ${ingest.accepted().length} records accepted so far; records waiting in KV: ${waiting.queued.length + waiting.dead.length}`);
      }
    }

    const wanted = new Set(phaseOf.keys());
    const records = ingest.accepted().filter((r) => wanted.has(r.response_id));
    console.log('\nrecords accepted by the ingest server:\n');
    console.log(
      table(
        records.map((r) => ({
          phase: phaseOf.get(r.response_id),
          service_key: r.service_key,
          response_id: r.response_id,
          customer_key: r.customer_key ?? '-',
          total_tokens: r.payload?.total_tokens ?? '-',
        })),
        ['phase', 'service_key', 'response_id', 'customer_key', 'total_tokens'],
      ),
    );
    const got = new Set(records.map((r) => r.response_id));
    const missing = [...wanted].filter((id) => !got.has(id));
    const { duplicates } = ingest.stats();
    console.log(`\n${records.length} records accepted, ${missing.length} lost${duplicates ? ` (${duplicates} sent again, kept once)` : ''}`);

    if (missing.length > 0) {
      console.error(`error: ${missing.length} of ${wanted.size} records missing: ${missing.join(', ')}`);
      for (const l of worker.logs()) console.error(`  worker [${l.level}] ${l.message}`);
      console.error(`  ingest stats: ${JSON.stringify(ingest.stats())}`);
      const left = await readKvOutbox(kv);
      console.error(`  KV outbox: queued ${JSON.stringify(left.queued.map((q) => [q.responseId, q.attempts]))}, dead ${JSON.stringify(left.dead.map((d) => [d.responseId, d.reason]))}`);
      return 1;
    }
    return 0;
  } finally {
    for (const stop of started.reverse()) await stop().catch((e) => console.error(`cleanup: ${e}`));
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(`error: ${error?.stack ?? error}`);
    process.exitCode = 1;
  },
);
