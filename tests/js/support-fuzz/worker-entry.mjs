// The Worker that runs the public-API fuzz inside workerd (fuzz-workerd.fuzz.mjs bundles and starts it). One
// request runs the whole fuzz (I/O such as a tracker's fetch cannot cross requests in workerd) and answers its
// summary as JSON. Unhandled rejections are collected by the global `unhandledrejection` event and added to the
// summary as failures; what workerd itself logs as an error the test checks from outside.
import * as pkg from 'aicostmanager-edge';

import { fuzzSettings } from './env.mjs';
import { describe, runFuzz } from './run.mjs';
import { wasmMemoryBytes } from './wasm-memory.mjs';

const uncaught = [];
addEventListener('unhandledrejection', (event) => {
  uncaught.push(`unhandledrejection: ${describe(event.reason)}`);
});
addEventListener('error', (event) => {
  uncaught.push(`error event: ${describe(event.error)}`);
});

export default {
  async fetch(request, env) {
    const settings = fuzzSettings(env);
    const summary = await runFuzz({
      pkg,
      wasmMemoryBytes,
      ingestUrl: env.INGEST_URL,
      refusedUrl: env.REFUSED_URL,
      seed: settings.seed,
      calls: settings.calls,
      maxWasmBytes: settings.maxWasmBytes,
      log: (line) => console.log(line),
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (uncaught.length > 0) {
      summary.failures['uncaught-in-runtime'] = {
        count: uncaught.length,
        examples: uncaught.slice(0, 4).map((detail) => ({ call: -1, detail, repro: '(not attributable to one call)' })),
      };
    }
    return Response.json(summary);
  },
};
