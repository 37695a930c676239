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
export async function startWorkerScript({
  entry, compatibilityDate, bindings = {}, kvNamespaces = [], kvPersist = false, cloudflare = {},
}) {
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
      ...cloudflare,
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
 * The Miniflare options for a wrangler config's queues and Durable Objects: `[[queues.producers]]` (binding →
 * queue), `[[queues.consumers]]` (max_batch_size, max_batch_timeout, max_retries, dead_letter_queue,
 * retry_delay) and `[[durable_objects.bindings]]` (SQLite-backed when a `[[migrations]]` lists the class in
 * new_sqlite_classes). `overrides.queueConsumers` replaces consumer settings by queue name (a test shortening
 * the batch timeout), `durableObjectsPersist` keeps object storage and alarms across instances.
 */
export function cloudflareOptions(config, { queueConsumers = {}, durableObjectsPersist = false } = {}) {
  const options = {};
  const producers = config.queues?.producers ?? [];
  if (producers.length) options.queueProducers = Object.fromEntries(producers.map((p) => [p.binding, { queueName: p.queue }]));
  const consumers = config.queues?.consumers ?? [];
  if (consumers.length) {
    options.queueConsumers = Object.fromEntries(consumers.map((c) => [c.queue, {
      maxBatchSize: c.max_batch_size,
      maxBatchTimeout: c.max_batch_timeout,
      maxRetries: c.max_retries,
      deadLetterQueue: c.dead_letter_queue,
      retryDelay: c.retry_delay,
      ...queueConsumers[c.queue],
    }]));
  }
  const objects = config.durable_objects?.bindings ?? [];
  if (objects.length) {
    const sqlite = new Set((config.migrations ?? []).flatMap((m) => m.new_sqlite_classes ?? []));
    options.durableObjects = Object.fromEntries(objects.map((o) => [o.name, { className: o.class_name, useSQLite: sqlite.has(o.class_name) }]));
    options.durableObjectsPersist = durableObjectsPersist;
  }
  return options;
}

/**
 * Starts worker-example as wrangler would: `main` and `compatibility_date` from its `wranglerFile` (default
 * wrangler.toml: the Queues setup; wrangler.kv.toml, wrangler.durable-object.toml), its `[vars]`, overridden and
 * completed by `env` (secrets such as AICM_API_KEY, local URLs), its `[[kv_namespaces]]` as local KV (kept in
 * `kvPersist` when given), its queues and Durable Objects ([`cloudflareOptions`], with `cloudflare` passed on as
 * its overrides). `entry` replaces `main` (a test wrapper around the Worker). Same handle as startWorkerScript.
 */
export async function startWorker({
  env = {}, exampleDir = WORKER_EXAMPLE_DIR, wranglerFile = 'wrangler.toml', kvPersist = false, entry, cloudflare = {},
} = {}) {
  const config = await readWranglerToml(path.join(exampleDir, wranglerFile));
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
    cloudflare: cloudflareOptions(config, cloudflare),
  });
}
