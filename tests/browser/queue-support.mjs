// Node-side helpers for queue.test.mjs: headless Chromium (Debian's /usr/bin/chromium driven by playwright-core,
// launched as idb.test.mjs does), the static server of static-server.mjs, the in-process ingest server, pages
// with queue-page.mjs loaded, and what the ingest server received, read by response id.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startIngestServer } from '../ingest/server.mjs';
import { startGate } from './gate.mjs';
import { packageDir, startStaticServer } from './static-server.mjs';
import { CHROMIUM, CHROMIUM_ARGS, chromium } from './chromium.mjs';


/** The API key the ingest server requires and every tracker in these tests sends. */
export const KEY = 'browser-queue-key';


/**
 * Starts the static server, the ingest server (API key KEY), a gate in front of it (gate.mjs: trackers given
 * `apiBase: gate.url` send through it) and Chromium with a fresh profile. Resolves to `{ ingest, gate, origin,
 * openPage(initScript?), ready(page), reload(page), goto(page, path), trackerOptions(extra), pageErrors,
 * close() }`; pages load `/` (harness.mjs, the package's browser entry) and then queue-page.mjs.
 */
export async function startQueueBrowser() {
  assert.ok(existsSync(join(packageDir, 'package.json')), `${packageDir} missing: build and unpack the package first`);
  const server = await startStaticServer();
  const ingest = await startIngestServer({ apiKey: KEY });
  const gate = await startGate(ingest.url);
  const userDataDir = await mkdtemp(join(tmpdir(), 'aicm-queue-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  const pageErrors = [];

  async function ready(page) {
    await page.waitForFunction(() => window.harnessReady === true, null, { timeout: 10_000 });
    await page.evaluate(() => import('/browser/queue-page.mjs'));
    return page;
  }

  return {
    ingest,
    gate,
    origin: server.origin,
    pageErrors,
    /** Waits for the harness in `page` (after a navigation it did itself) and loads queue-page.mjs again. */
    ready,
    /** A new tab on the test page with queue-page.mjs loaded; `initScript` runs before any page script. */
    async openPage(initScript) {
      const page = await context.newPage();
      page.on('pageerror', (err) => pageErrors.push(err));
      if (initScript) await page.addInitScript(initScript);
      await page.goto(`${server.origin}/`);
      return ready(page);
    },
    /** Reloads `page` (its trackers are gone) and loads queue-page.mjs again. */
    async reload(page) {
      await page.reload();
      return ready(page);
    },
    /** Navigates `page` to `path` of the test origin (`/` gets queue-page.mjs loaded again). */
    async goto(page, path) {
      await page.goto(`${server.origin}${path}`);
      return path.split('?')[0] === '/' ? ready(page) : page;
    },
    /** Tracker options pointing at the ingest server; `extra` adds or overrides. */
    trackerOptions(extra = {}) {
      return { apiKey: KEY, apiBase: ingest.url, timeoutMs: 5000, ...extra };
    },
    async close() {
      await context.close();
      await gate.close();
      await ingest.close();
      await server.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

/** `count` distinct response ids starting with `prefix`. */
export function ids(prefix, count) {
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(4, '0')}`);
}

/**
 * The response ids of every record in the /track requests the server logged, in order (repeats kept). With
 * `processedOnly`, only requests it answered with a 2xx (it read the records), not the 503s of an outage.
 */
export function sentIds(ingest, { processedOnly = false } = {}) {
  return ingest
    .requests()
    .filter((request) => request.bodyText !== null)
    .filter((request) => !processedOnly || (request.status >= 200 && request.status < 300))
    .flatMap((request) => JSON.parse(request.bodyText).tracked.map((record) => record.response_id));
}

/** The response ids of the records in a `/track` body. */
export function idsInBody(bodyText) {
  return JSON.parse(bodyText).tracked.map((record) => record.response_id);
}

/** The response ids the server accepted (stored), in order. */
export function acceptedIds(ingest) {
  return ingest.accepted().map((record) => record.response_id);
}

/** The ids appearing more than once in `list`, sorted. */
export function repeated(list) {
  const seen = new Set();
  const twice = new Set();
  for (const id of list) (seen.has(id) ? twice : seen).add(id);
  return [...twice].sort();
}

/**
 * Asserts that the server accepted exactly `expected` (as a set, each once) and never processed a record twice
 * (no id in two 2xx requests, no duplicate answered). `resends: false` also refuses an id in two requests of any
 * status (for runs without faults, where nothing may be retried).
 */
export function assertDeliveredOnce(ingest, expected, { label = '', resends = true } = {}) {
  const where = label ? `${label}: ` : '';
  const accepted = acceptedIds(ingest);
  assert.deepEqual(repeated(accepted), [], `${where}records accepted twice`);
  assert.deepEqual([...accepted].sort(), [...expected].sort(), `${where}accepted records differ from those tracked`);
  assert.deepEqual(repeated(sentIds(ingest, { processedOnly: true })), [], `${where}records processed in two requests`);
  if (!resends) assert.deepEqual(repeated(sentIds(ingest)), [], `${where}records sent in more than one request`);
  assert.equal(ingest.stats().duplicates, 0, `${where}the server answered duplicates`);
}

/** The response ids of the queued (`q/`) and dead-lettered (`d/`) entries among raw IndexedDB rows. */
export function storedIds(rows) {
  const queued = [];
  const dead = [];
  for (const { key } of rows) {
    const match = /\/(q|d)\/([^/]+)$/.exec(key);
    if (match) (match[1] === 'q' ? queued : dead).push(match[2]);
  }
  return { queued: queued.sort(), dead: dead.sort() };
}
