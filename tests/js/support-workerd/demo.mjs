// The end-to-end demo (run by scripts/demo): worker-example in real workerd, a fake OpenAI-compatible LLM and the
// local ingest server, all on 127.0.0.1. Sends a few chat requests through the Worker for several models and
// customers, waits for the usage records the Worker delivers after each response, prints what the ingest server
// accepted and exits 0 only when every answer's record arrived. Stops everything it started, also on failure.
//
//   node tests/js/support-workerd/demo.mjs        (needs the package in tests/js/node_modules: see scripts/demo)

import { readFile } from 'node:fs/promises';

import { startIngestServer } from '../../ingest/server.mjs';
import { TESTS_JS_DIR } from './bundle.mjs';
import { startFakeLlm } from './fake-llm.mjs';
import { waitFor } from './wait.mjs';
import { startWorker } from './worker.mjs';

const API_KEY = 'aicm-demo-key';
const DELIVERY_TIMEOUT_MS = 5000;
const CHATS = [
  { model: 'gpt-4o-mini', customer: 'acme', prompt: 'Explain tokens to a five-year-old.' },
  { model: 'gpt-4o', customer: 'globex', prompt: 'Draft a two-line release note for version 0.1.' },
  { model: 'gpt-4o-mini', customer: 'globex', prompt: 'Translate "good morning" into French.' },
  { model: 'gpt-4.1-nano', customer: 'acme', prompt: 'Name three prime numbers.' },
  { model: 'gpt-4o', customer: null, prompt: 'Say hello (anonymous visitor, no customer key).' },
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

async function main() {
  const started = [];
  try {
    const ingest = await startIngestServer({ apiKey: API_KEY });
    started.push(() => ingest.close());
    const llm = await startFakeLlm();
    started.push(() => llm.close());
    const worker = await startWorker({ env: { AICM_API_KEY: API_KEY, AICM_API_BASE: ingest.url, LLM_BASE_URL: llm.url } });
    started.push(() => worker.dispose());

    console.log(`worker-example running in workerd (miniflare ${await versionOf('miniflare')}, aicostmanager-edge ${await versionOf('aicostmanager-edge')})`);
    console.log(`ingest server ${ingest.trackUrl}   fake LLM ${llm.url}/v1/chat/completions\n`);

    const answers = [];
    for (const c of CHATS) {
      const answer = await chat(worker, c);
      answers.push(answer);
      const who = c.customer ?? '(none)';
      console.log(`POST /chat  ${c.model.padEnd(12)} customer ${who.padEnd(7)} → 200  ${answer.choices[0].message.content}`);
    }

    const wanted = new Set(answers.map((a) => a.id));
    const arrived = () => ingest.accepted().filter((r) => wanted.has(r.response_id));
    console.log(`\nwaiting for delivery (the Worker sends usage under ctx.waitUntil, after each response) ...`);
    let timedOut = false;
    await waitFor(() => arrived().length >= wanted.size, { timeoutMs: DELIVERY_TIMEOUT_MS }).catch(() => {
      timedOut = true;
    });

    const records = arrived();
    console.log('\nrecords accepted by the ingest server:\n');
    console.log(
      table(
        records.map((r) => ({
          service_key: r.service_key,
          response_id: r.response_id,
          customer_key: r.customer_key ?? '-',
          total_tokens: r.payload?.total_tokens ?? '-',
        })),
        ['service_key', 'response_id', 'customer_key', 'total_tokens'],
      ),
    );
    console.log(`\n${records.length} records accepted`);

    const got = new Set(records.map((r) => r.response_id));
    const missing = [...wanted].filter((id) => !got.has(id));
    if (missing.length > 0 || timedOut) {
      console.error(`error: ${missing.length} of ${wanted.size} records missing after ${DELIVERY_TIMEOUT_MS} ms: ${missing.join(', ')}`);
      for (const l of worker.logs()) console.error(`  worker [${l.level}] ${l.message}`);
      console.error(`  ingest stats: ${JSON.stringify(ingest.stats())}`);
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
