#!/usr/bin/env node
// Assembles the npm package: copies pkg-template/ into a package directory that already holds the wasm-bindgen
// output in wasm/, then fills in what only the build knows. Called by scripts/build-pkg; run alone it needs
// the same arguments:
//
//   node scripts/lib/assemble-pkg.mjs <template-dir> <package-dir> <version> <crate-lib-name>
//
// - package.json: `version` set to <version> (from Cargo.toml).
// - entries/*.js: '__AICM_VERSION__' replaced by <version>; the `// @glue-exports` line replaced by
//   `export { A, B } from '../wasm/<crate>.js';` listing the glue's named exports except `initSync` (the glue's
//   default export, its async init, is not a named export). So whatever src/wasm exports appears in every entry,
//   while the loading functions stay private to the entries.
// Exits 1 with a message when a placeholder is missing or left over, or the glue cannot be imported.
import { cpSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [templateDir, pkgDir, version, crate] = process.argv.slice(2);
if (!crate) fail('usage: assemble-pkg.mjs <template-dir> <package-dir> <version> <crate-lib-name>');

function fail(message) {
  console.error(`error: ${message}`);
  process.exit(1);
}

const gluePath = resolve(pkgDir, 'wasm', `${crate}.js`);

// The glue's default init() falls back to `new URL('<crate>_bg.wasm', import.meta.url)`. No entry uses that
// fallback (web.js passes its own URL; the others instantiate synchronously), but bundlers see it and ship the
// .wasm a second time (Next.js/Turbopack emitted two 185 KB copies). Replace it with an error; fail if the line
// is not there exactly once (a new wasm-bindgen changed the glue: look again).
{
  const text = readFileSync(gluePath, 'utf8');
  const fallback = `module_or_path = new URL('${crate}_bg.wasm', import.meta.url);`;
  const count = text.split(fallback).length - 1;
  if (count !== 1) fail(`${gluePath}: expected the default-init fallback line once, found it ${count} times`);
  writeFileSync(gluePath, text.replace(fallback,
    "throw new Error('aicostmanager-edge: init() needs { module_or_path }; import the package entry instead');"));
}

// Importing the web glue only defines functions and classes; nothing is instantiated until init is called.
let glue;
try {
  glue = await import(pathToFileURL(gluePath).href);
} catch (err) {
  fail(`cannot import the glue ${gluePath}: ${err.message}`);
}
const glueExports = Object.keys(glue).filter((name) => name !== 'default' && name !== 'initSync').sort();
const reexport = glueExports.length
  ? `export { ${glueExports.join(', ')} } from '../wasm/${crate}.js';`
  : '// (the wasm glue has no named exports besides initSync)';

cpSync(templateDir, pkgDir, { recursive: true });

const manifestPath = join(pkgDir, 'package.json');
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
manifest.version = version;
writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);

const entriesDir = join(pkgDir, 'entries');
for (const file of readdirSync(entriesDir).filter((f) => f.endsWith('.js'))) {
  const path = join(entriesDir, file);
  const source = readFileSync(path, 'utf8');
  const lines = source.split('\n');
  const marker = lines.findIndex((line) => line.startsWith('// @glue-exports'));
  if (marker < 0) fail(`${file}: no "// @glue-exports" line`);
  if (!source.includes('__AICM_VERSION__')) fail(`${file}: no __AICM_VERSION__ placeholder`);
  lines[marker] = reexport;
  const filled = lines.join('\n').replaceAll('__AICM_VERSION__', version);
  if (filled.includes('@glue-exports')) fail(`${file}: more than one "// @glue-exports" line`);
  writeFileSync(path, filled);
}

console.log(`assembled ${pkgDir}: version ${version}; entries re-export: ${glueExports.join(', ') || '(nothing yet)'}`);
