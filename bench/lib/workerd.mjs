// A Worker in real workerd (Miniflare from tests/js) with a local KV namespace bound as env.Q. Bundled the way
// the workerd tests bundle (tests/js/support-workerd/bundle.mjs: workerd conditions, .wasm as a CompiledWasm
// module next to the bundle, aicostmanager-edge from tests/js/node_modules).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { TESTS_JS, requireFromTestsJs } from './common.mjs';

// Custom modulesRules replace Miniflare's defaults, so ES modules are listed too (shared/toolchain.md §5).
const MODULES_RULES = [
  { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
  { type: 'CompiledWasm', include: ['**/*.wasm'] },
];

/**
 * Bundles `entry` and starts it with `bindings` and a KV namespace `Q`. Resolves to
 * `{ dispatchFetch(path, init), kv, dispose() }`: `kv` is the same namespace seen from Node (for checks that
 * must not be counted), `dispose()` stops workerd and deletes the bundle.
 */
export async function startKvWorker({ entry, bindings }) {
  const { Miniflare } = requireFromTestsJs('miniflare');
  const { bundleWorker } = await import(pathToFileURL(join(TESTS_JS, 'support-workerd', 'bundle.mjs')).href);
  const outdir = await mkdtemp(join(tmpdir(), 'aicm-bench-kv-'));
  let mf = null;
  const dispose = async () => {
    await mf?.dispose();
    await rm(outdir, { recursive: true, force: true });
  };
  try {
    const scriptPath = await bundleWorker({ entry, outdir });
    mf = new Miniflare({
      modules: true,
      scriptPath,
      modulesRoot: outdir,
      modulesRules: MODULES_RULES,
      compatibilityDate: '2026-04-01',
      bindings,
      kvNamespaces: ['Q'],
      cf: false, // else Miniflare fetches a Request.cf sample from the internet
    });
    await mf.ready;
    const kv = await mf.getKVNamespace('Q');
    const started = mf;
    return {
      dispatchFetch: (path, init) => started.dispatchFetch(new URL(path, 'http://localhost').href, init),
      kv,
      dispose,
    };
  } catch (error) {
    await dispose().catch(() => {});
    throw error;
  }
}
