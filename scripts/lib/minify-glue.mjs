// Minifies the wasm-bindgen glue in place (5.7 → 3.8 KB gzip) and gives exported classes and functions back
// their names: minification renames `class Tracker` to something like `class v`, and `Tracker.name` is what
// users see in logs and stack traces. esbuild's --keep-names would cost ~0.5 KB gzip for every internal shim.
//
//   node scripts/lib/minify-glue.mjs <glue.js>
//
// Exits 1 when esbuild fails, when the export clause cannot be found, or when a name is still wrong afterwards.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [gluePath] = process.argv.slice(2);
if (!gluePath) {
  console.error('usage: node scripts/lib/minify-glue.mjs <glue.js>');
  process.exit(2);
}
const fail = (message) => {
  console.error(`error: ${message}`);
  process.exit(1);
};

const require = createRequire(resolve(import.meta.dirname, '../../tests/js/package.json'));
const esbuild = require('esbuild');
const { code } = esbuild.transformSync(readFileSync(gluePath, 'utf8'), { minify: true, format: 'esm' });

// esbuild ends the module with one clause: export{v as Tracker,Cr as default,Rr as initSync};
const clause = code.match(/export\s*\{([^}]*)\}\s*;?\s*$/);
if (!clause) fail(`${gluePath}: no export clause at the end of the minified glue`);
const renamed = clause[1]
  .split(',')
  .map((part) => part.trim().split(/\s+as\s+/))
  .filter(([local, exported]) => exported && exported !== 'default' && local !== exported && /^[A-Za-z_$][\w$]*$/.test(exported));
const fixes = renamed
  .map(([local, exported]) => `typeof ${local}=="function"&&Object.defineProperty(${local},"name",{value:"${exported}"});`)
  .join('');
writeFileSync(gluePath, code.replace(clause[0], `${fixes}${clause[0]}`));

const glue = await import(pathToFileURL(resolve(gluePath)).href);
for (const [name, value] of Object.entries(glue)) {
  if (typeof value === 'function' && name !== 'default' && value.name !== name) {
    fail(`${gluePath}: export ${name} is named ${value.name} after minification`);
  }
}
console.log(`   minified ${gluePath}: ${code.length} bytes; names restored: ${renamed.map(([, e]) => e).join(', ') || 'none'}`);
