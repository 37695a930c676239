// Runs a Worker in real workerd through Miniflare (no wrangler): bundle with esbuild (bundle.mjs), then start
// workerd with ES modules for .js/.mjs and CompiledWasm for .wasm (custom modulesRules REPLACE Miniflare's
// defaults, so both rules are listed; shared/toolchain.md §5). Shared by tests/js/workerd.test.mjs and demo.mjs.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Miniflare } from 'miniflare';

import { bundleWorker } from './bundle.mjs';
import { readWranglerToml } from './wrangler-toml.mjs';

export const WORKER_EXAMPLE_DIR = fileURLToPath(new URL('../../../worker-example/', import.meta.url));

const MODULES_RULES = [
  { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
  { type: 'CompiledWasm', include: ['**/*.wasm'] },
];

/**
 * Bundles `entry` and starts it in workerd. Resolves once workerd serves requests; rejects when bundling or
 * startup fails (e.g. workerd refuses the module because it uses timers or randomness at module scope), with
 * what workerd logged in the message. `kvNamespaces` are binding names of Workers KV namespaces (Miniflare's local
 * KV); `kvPersist` is a directory where they are kept across Miniflare instances (default: in memory, gone with
 * `dispose()`). The handle:
 *   url                        'http://127.0.0.1:PORT', where workerd listens (for real HTTP clients)
 *   dispatchFetch(path, init)  a request to the Worker (path relative to http://localhost), resolves to a Response
 *   kv(binding)                the KV namespace bound as `binding`, usable from Node (get/put/delete/list)
 *   scheduled(cron)            runs the Worker's scheduled() handler as a Cron Trigger would; resolves to
 *                              { outcome, noRetry } once the handler returned (its waitUntil work may still run)
 *   logs()                     what the Worker logged so far: [{ level, message }] (console.* and runtime errors)
 *   dispose()                  stops workerd (cutting any ctx.waitUntil work short) and deletes the bundle; safe to
 *                              call twice; the kvPersist directory is left alone
 */
export async function startWorkerScript({ entry, compatibilityDate, bindings = {}, kvNamespaces = [], kvPersist = false }) {
  const outdir = await mkdtemp(path.join(os.tmpdir(), 'aicm-workerd-'));
  const logs = [];
  let mf = null;
  let url = null;
  const dispose = async () => {
    const running = mf;
    mf = null;
    await running?.dispose();
    await rm(outdir, { recursive: true, force: true });
  };
  try {
    const scriptPath = await bundleWorker({ entry, outdir });
    mf = new Miniflare({
      modules: true,
      scriptPath,
      modulesRoot: outdir,
      modulesRules: MODULES_RULES,
      compatibilityDate,
      bindings,
      kvNamespaces,
      kvPersist,
      cf: false, // else Miniflare fetches a Request.cf sample from the internet
      handleStructuredLogs: ({ level, message }) => {
        logs.push({ level, message });
      },
    });
    url = await mf.ready;
  } catch (error) {
    await dispose().catch(() => {});
    const logged = logs.map((entry) => `  [${entry.level}] ${entry.message}`).join('\n');
    error.message += logged ? `\nworkerd logged:\n${logged}` : '';
    error.workerdLogs = logs;
    throw error;
  }
  const started = mf;
  return {
    url: url.href.replace(/\/$/, ''),
    dispatchFetch: (pathname, init) => started.dispatchFetch(new URL(pathname, 'http://localhost').href, init),
    kv: (binding) => started.getKVNamespace(binding),
    scheduled: async (cron) => (await started.getWorker()).scheduled({ cron, scheduledTime: new Date() }),
    logs: () => logs.map((entry) => ({ ...entry })),
    dispose,
  };
}

/**
 * Starts worker-example as wrangler would: `main` and `compatibility_date` from its wrangler.toml, its `[vars]`,
 * overridden and completed by `env` (secrets such as AICM_API_KEY, local URLs), and its `[[kv_namespaces]]` as
 * local KV (kept in `kvPersist` when given). `entry` replaces `main` (a test wrapper around the Worker).
 * Same handle as startWorkerScript.
 */
export async function startWorker({ env = {}, exampleDir = WORKER_EXAMPLE_DIR, kvPersist = false, entry } = {}) {
  const config = await readWranglerToml(path.join(exampleDir, 'wrangler.toml'));
  if (!config.main || !config.compatibility_date) throw new Error(`${exampleDir}wrangler.toml needs main and compatibility_date`);
  const kvNamespaces = (config.kv_namespaces ?? []).map((ns) => {
    if (!ns.binding) throw new Error(`${exampleDir}wrangler.toml: a [[kv_namespaces]] entry has no binding`);
    return ns.binding;
  });
  return startWorkerScript({
    entry: entry ?? path.join(exampleDir, config.main),
    compatibilityDate: config.compatibility_date,
    bindings: { ...config.vars, ...env },
    kvNamespaces,
    kvPersist,
  });
}
