// Starts the Durable Object outbox in real workerd (Miniflare): one "outbox" worker that defines the object class
// and `producers` worker services (each its own isolate) that bind it and track through durableObjectSink.
// All run tests/js/support-workerd/fixtures/do-outbox-worker.mjs. The binding and the SQLite class come from
// fixtures/durable-object.wrangler.toml, the snippet README.md shows (readDurableObjectToml checks its shape).

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Miniflare } from 'miniflare';

import { bundleWorker } from './bundle.mjs';

export const FIXTURE = fileURLToPath(new URL('./fixtures/do-outbox-worker.mjs', import.meta.url));
export const WRANGLER_SNIPPET = fileURLToPath(new URL('./fixtures/durable-object.wrangler.toml', import.meta.url));
const COMPATIBILITY_DATE = '2025-01-01';
const MODULES_RULES = [
  { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
  { type: 'CompiledWasm', include: ['**/*.wasm'] },
];

/**
 * The README's wrangler.toml snippet, read strictly: `{ text, binding, className, sqliteClasses }`. Throws when it
 * is not one [[durable_objects.bindings]] with name/class_name and one [[migrations]] with tag/new_sqlite_classes.
 */
export async function readDurableObjectToml() {
  const text = await readFile(WRANGLER_SNIPPET, 'utf8');
  const value = (key) => {
    const match = new RegExp(`^${key} = "([^"]+)"$`, 'm').exec(text);
    if (!match) throw new Error(`${WRANGLER_SNIPPET}: no ${key} = "..."`);
    return match[1];
  };
  if (!/^\[\[durable_objects\.bindings\]\]$/m.test(text) || !/^\[\[migrations\]\]$/m.test(text)) {
    throw new Error(`${WRANGLER_SNIPPET}: needs [[durable_objects.bindings]] and [[migrations]]`);
  }
  const sqlite = /^new_sqlite_classes = \["([^"]+)"\]$/m.exec(text);
  if (!sqlite) throw new Error(`${WRANGLER_SNIPPET}: no new_sqlite_classes = ["..."]`);
  value('tag');
  return { text, binding: value('name'), className: value('class_name'), sqliteClasses: [sqlite[1]] };
}

/**
 * Starts the outbox worker and `producers` producer workers. `className`: the object class (AicmOutbox, or the
 * fixture's CountingOutbox); `persist`: a directory keeping the objects' storage (and alarms) across instances;
 * `env`: the outbox worker's bindings (AICM_API_KEY, AICM_API_BASE, AICM_OUTBOX_OPTIONS). The handle:
 *   producer(i).fetch(path)   a request to producer i (path relative to http://localhost) → Response
 *   outbox.fetch(path)        a request to the outbox worker's own default handler
 *   logs()                    what the workers logged
 *   dispose()                 stops workerd (the persist directory is left alone)
 */
export async function startOutboxWorkers({ producers = 1, className, persist = false, env = {} }) {
  const { binding, sqliteClasses } = await readDurableObjectToml();
  const outdir = await mkdtemp(path.join(os.tmpdir(), 'aicm-do-'));
  const logs = [];
  let mf = null;
  const dispose = async () => {
    const running = mf;
    mf = null;
    await running?.dispose();
    await rm(outdir, { recursive: true, force: true });
  };
  try {
    const scriptPath = await bundleWorker({ entry: FIXTURE, outdir });
    const common = { modules: true, scriptPath, modulesRoot: outdir, modulesRules: MODULES_RULES, compatibilityDate: COMPATIBILITY_DATE };
    const object = { className, scriptName: 'outbox', useSQLite: sqliteClasses.includes('AicmOutbox') };
    const workers = [
      { ...common, name: 'outbox', bindings: env, durableObjects: { [binding]: object } },
      ...Array.from({ length: producers }, (_, i) => ({ ...common, name: `producer-${i}`, durableObjects: { [binding]: object } })),
    ];
    mf = new Miniflare({
      workers,
      durableObjectsPersist: persist,
      cf: false,
      handleStructuredLogs: ({ level, message }) => logs.push({ level, message }),
    });
    await mf.ready;
    const handles = await Promise.all(workers.map((w) => mf.getWorker(w.name)));
    const fetcher = (worker) => ({ fetch: (pathname, init) => worker.fetch(new URL(pathname, 'http://localhost').href, init) });
    return {
      outbox: fetcher(handles[0]),
      producer: (i) => fetcher(handles[1 + (i % producers)]),
      logs: () => logs.map((entry) => ({ ...entry })),
      dispose,
    };
  } catch (error) {
    await dispose().catch(() => {});
    error.message += logs.length ? `\nworkerd logged:\n${logs.map((l) => `  [${l.level}] ${l.message}`).join('\n')}` : '';
    throw error;
  }
}
