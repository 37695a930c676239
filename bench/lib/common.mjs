// Shared by the bench/queue-* scripts: where the packed package and the JS tooling live, the record the
// baselines build, small statistics and the summary rows bench/queue collects.
//
// The package is the tarball scripts/build-pkg packs, unpacked into tests/js/node_modules (what the tests and
// the browser harness use): `scripts/build-pkg && source scripts/lib/common.sh && unpack_pkg_into tests/js`.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TESTS_JS = join(REPO_ROOT, 'tests', 'js');
export const PACKAGE_DIR = join(TESTS_JS, 'node_modules', 'aicostmanager-edge');

/** The service key every benchmark record uses. */
export const SERVICE_KEY = 'openai::gpt-4o-mini';
/** The API key of the local ingest server in the benchmarks that deliver. */
export const API_KEY = 'bench-key';
/** An address nothing listens on: trackers that only queue never send there. */
export const NOWHERE = 'http://127.0.0.1:9';

/** Prints `error: message` and exits 1 (a missing build, not a benchmark result). */
export function fail(message) {
  console.error(`error: ${message}`);
  process.exit(1);
}

/** The package's package.json; exits with a hint when the package is not installed in tests/js. */
export function packageManifest() {
  const file = join(PACKAGE_DIR, 'package.json');
  if (!existsSync(file)) {
    fail(`${PACKAGE_DIR} missing: run scripts/build-pkg, then \`source scripts/lib/common.sh && unpack_pkg_into tests/js\``);
  }
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** Imports the package's Node entry (its `exports["."].node` file). */
export async function loadPackage() {
  const manifest = packageManifest();
  const entry = manifest.exports?.['.']?.node ?? manifest.main;
  return import(pathToFileURL(join(PACKAGE_DIR, entry)).href);
}

/**
 * The wasm instance's exports (with `memory`), or null. The Node entry instantiates the glue at import; the
 * glue's `initSync()` returns the existing instance when called again. Import the package first.
 */
export async function wasmExports() {
  const glue = join(PACKAGE_DIR, 'wasm', 'aicostmanager_edge.js');
  if (!existsSync(glue)) return null;
  const { initSync } = await import(pathToFileURL(glue).href);
  try {
    return typeof initSync === 'function' ? initSync() : null;
  } catch {
    return null;
  }
}

/** `require` for the JS tooling installed in tests/js (miniflare, playwright-core, esbuild). */
export const requireFromTestsJs = createRequire(join(TESTS_JS, 'package.json'));

/** The usage object of record `i`: an OpenAI chat completion's `usage`, fresh for every record. */
export function usageOf(i) {
  const prompt = 100 + (i % 900);
  const completion = 20 + (i % 300);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** Python's `str(time.time())` for now, as the SDK sends `timestamp` ("1795310876.161"; "…876.0" on a whole second). */
export function sdkTimestamp() {
  const text = String(Date.now() / 1000);
  return text.includes('.') ? text : `${text}.0`;
}

/** The hand-written baseline's record: a plain object as it goes on the wire, with a crypto.randomUUID() id. */
export function baselineRecord(i) {
  return { service_key: SERVICE_KEY, response_id: crypto.randomUUID(), timestamp: sdkTimestamp(), payload: usageOf(i) };
}

export const median = (values) => quantile(values, 0.5);

/** The q-quantile (nearest rank) of `values`; NaN for an empty list. */
export function quantile(values, q) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** `n` with `digits` decimals and thousands separators. */
export function num(n, digits = 0) {
  if (!Number.isFinite(n)) return String(n);
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** `a / b` as "1.23×", or "-" when b is 0 or not a number. */
export function ratio(a, b) {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(2)}×` : '-';
}

/** Prints rows (arrays of cells) as a table; the first row is the header. Numbers right-aligned, text left. */
export function printTable(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c] ?? '').length)));
  for (const [i, row] of rows.entries()) {
    const cells = row.map((cell, c) => {
      const text = String(cell ?? '');
      return c === 0 ? text.padEnd(widths[c]) : text.padStart(widths[c]);
    });
    console.log(cells.join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

/** Resolves after the current macrotask (lets microtasks, the store pump among them, run). */
export const nextTask = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Hands the figures to bench/queue: when BENCH_SUMMARY names a file, writes `rows` there as JSON. Each row:
 * `{ bench, metric, value, unit, baseline, target, verdict }` (value and baseline as display strings).
 */
export function writeSummary(rows) {
  const file = process.env.BENCH_SUMMARY;
  if (file) writeFileSync(file, JSON.stringify(rows));
}

/** "ok" when `value <= limit`, else "MISSED"; "-" when either is not a number. */
export function verdict(value, limit) {
  if (!Number.isFinite(value) || !Number.isFinite(limit)) return '-';
  return value <= limit ? 'ok' : 'MISSED';
}

/** Parses `--name value` options into numbers, keeping `defaults` for absent ones; exits on unknown names. */
export function numericOptions(argv, defaults) {
  const options = { ...defaults };
  for (let i = 0; i < argv.length; i += 1) {
    const name = argv[i].replace(/^--/, '');
    if (!(name in defaults) || !argv[i].startsWith('--')) fail(`unknown argument ${argv[i]} (options: ${Object.keys(defaults).map((k) => `--${k}`).join(' ')})`);
    const value = Number(argv[i + 1]);
    if (!Number.isFinite(value) || value <= 0) fail(`--${name} needs a positive number`);
    options[name] = value;
    i += 1;
  }
  return options;
}
