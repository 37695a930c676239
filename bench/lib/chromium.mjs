// Headless Chromium on the browser tests' page (tests/browser: static-server.mjs serves the packed package and
// harness.mjs, which puts the package's exports on `window.pkg`). Debian's /usr/bin/chromium driven by
// playwright-core from tests/js; no browser is downloaded.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { REPO_ROOT, requireFromTestsJs } from './common.mjs';
import { CHROMIUM, CHROMIUM_ARGS } from '../../tests/browser/chromium.mjs';
export { CHROMIUM };


/**
 * Starts the static server and Chromium (a fresh profile) and opens the harness page. Resolves to
 * `{ page, version, close() }` once `window.harnessReady`; `close()` stops both and deletes the profile.
 */
export async function openHarnessPage() {
  const { chromium } = requireFromTestsJs('playwright-core');
  const { startStaticServer } = await import(pathToFileURL(join(REPO_ROOT, 'tests', 'browser', 'static-server.mjs')).href);
  const server = await startStaticServer();
  const profile = await mkdtemp(join(tmpdir(), 'aicm-bench-idb-'));
  let context = null;
  const close = async () => {
    await context?.close();
    await server.close();
    await rm(profile, { recursive: true, force: true });
  };
  try {
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (err) => errors.push(err));
    await page.goto(`${server.origin}/`);
    await page.waitForFunction(() => window.harnessReady === true, null, { timeout: 20_000 });
    const version = await page.evaluate(() => window.pkg.version);
    return { page, version, browserVersion: context.browser()?.version() ?? 'chromium', errors, close };
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
}
