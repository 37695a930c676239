// A Worker in real workerd (Miniflare from tests/js) with a local KV namespace bound as env.Q, started by the
// workerd tests' own helper (tests/js/support-workerd/worker.mjs: workerd conditions, .wasm as a CompiledWasm
// module next to the bundle, aicostmanager-edge from tests/js/node_modules).

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { TESTS_JS } from './common.mjs';

/**
 * Bundles `entry` and starts it with `bindings` and a KV namespace `Q`. Resolves to
 * `{ dispatchFetch(path, init), kv, dispose() }`: `kv` is the same namespace seen from Node (for checks that
 * must not be counted), `dispose()` stops workerd and deletes the bundle.
 */
export async function startKvWorker({ entry, bindings }) {
  const { startWorkerScript } = await import(pathToFileURL(join(TESTS_JS, 'support-workerd', 'worker.mjs')).href);
  const worker = await startWorkerScript({ entry, compatibilityDate: '2026-04-01', bindings, kvNamespaces: ['Q'] });
  try {
    return { dispatchFetch: worker.dispatchFetch, kv: await worker.kv('Q'), dispose: worker.dispose };
  } catch (error) {
    await worker.dispose().catch(() => {});
    throw error;
  }
}
