// Debian's headless Chromium for the browser tests and benchmarks, driven by playwright-core (installed with the
// other JS tooling in tests/js, pinned in its package.json). No browser is downloaded.
import { createRequire } from 'node:module';

export const { chromium } = createRequire(new URL('../js/package.json', import.meta.url))('playwright-core');

export const CHROMIUM = '/usr/bin/chromium';

// Without the background-networking flags Chromium's own connections are refused by the closed network.
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
