// The public-API fuzz of fuzz-node.fuzz.mjs inside real workerd (Miniflare, as workerd.test.mjs runs Workers): the same
// generator and oracle (support-fuzz/run.mjs), run by one request to support-fuzz/worker-entry.mjs against the
// local ingest server. Also fails when workerd logs an error (an exception nothing caught). Knobs as in
// fuzz-node.fuzz.mjs (AICM_FUZZ_SEED, AICM_FUZZ_CALLS, AICM_FUZZ_MAX_WASM_MB), handed to the Worker as bindings.
// Needs the packed package in tests/js/node_modules (scripts/build-pkg, then unpack_pkg_into tests/js).
// Not matched by `node --test tests/js/` on purpose (see fuzz-node.fuzz.mjs).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { startIngestServer } from '../ingest/server.mjs';
import { fuzzSettings } from './support-fuzz/env.mjs';
import { formatFailures } from './support-fuzz/run.mjs';
import { startWorkerScript } from './support-workerd/worker.mjs';

const ENTRY = fileURLToPath(new URL('./support-fuzz/worker-entry.mjs', import.meta.url));

test('public API fuzz in workerd: hostile calls get only coded errors, promises settle, trackers stay healthy', { timeout: 600000 }, async () => {
  const settings = fuzzSettings(process.env);
  const ingest = await startIngestServer({ apiKey: 'fuzz-key' });
  let worker = null;
  let summary;
  let logs;
  try {
    worker = await startWorkerScript({
      entry: ENTRY,
      compatibilityDate: '2026-04-01',
      bindings: {
        INGEST_URL: ingest.url,
        REFUSED_URL: 'http://127.0.0.1:9',
        AICM_FUZZ_SEED: String(settings.seed),
        AICM_FUZZ_CALLS: String(settings.calls),
        AICM_FUZZ_MAX_WASM_MB: String(settings.maxWasmBytes / (1024 * 1024)),
      },
    });
    const res = await worker.dispatchFetch('/');
    const text = await res.text();
    assert.equal(res.status, 200, `the fuzz Worker answered ${res.status}: ${text.slice(0, 2000)}\nworkerd logged:\n${worker.logs().map((l) => `[${l.level}] ${l.message}`).join('\n')}`);
    summary = JSON.parse(text);
    logs = worker.logs();
  } finally {
    await worker?.dispose();
    await ingest.close();
  }
  const errors = logs.filter((l) => l.level === 'error');
  if (errors.length > 0) {
    summary.failures['uncaught-in-runtime (workerd error log)'] = {
      count: errors.length,
      examples: errors.slice(0, 4).map((l) => ({ call: -1, detail: l.message.slice(0, 500), repro: '(not attributable to one call)' })),
    };
  }
  console.log(`fuzz (workerd): seed ${summary.seed}, ${summary.callsRun} calls in ${summary.elapsedMs} ms, ops ${JSON.stringify(summary.ops)}, ` +
    `${summary.realDeliveries} real deliveries, wasm memory ${JSON.stringify(summary.memory)}`);
  for (const slow of summary.slowCalls) console.log(`slow call #${slow.call}: ${slow.ms} ms (reported, not failed)\n${slow.repro.slice(-1500)}`);
  const report = formatFailures(summary, 'workerd');
  if (report !== '') console.log(report);
  assert.deepEqual(Object.keys(summary.failures), [], `the fuzz found failures (seed ${summary.seed}): see the report above`);
  assert.ok(summary.callsRun >= settings.calls, `ran ${summary.callsRun} of ${settings.calls} calls`);
});
