// The Worker that runs the public-API fuzz inside workerd (fuzz-workerd.fuzz.mjs bundles and starts it). One
// request runs the whole fuzz (I/O such as a tracker's fetch cannot cross requests in workerd) and answers its
// summary as JSON. Unhandled rejections (global `unhandledrejection` event) and uncaught exceptions (`error` event)
// become failures of the run; what workerd itself logs as an error the test checks from outside.
import * as pkg from 'aicostmanager-edge';

import { fuzzSettings } from './env.mjs';
import { reportUncaught, runFuzz } from './run.mjs';
import { wasmMemoryBytes } from './wasm-memory.mjs';

addEventListener('unhandledrejection', (event) => reportUncaught('unhandledrejection', event.reason));
addEventListener('error', (event) => reportUncaught(`error event (${String(event.message)})`, event.error));

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
    return Response.json(summary);
  },
};
