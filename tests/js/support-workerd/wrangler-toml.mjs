// Reads the subset of wrangler.toml that worker-example uses, so the tests run the Worker with its own `main`,
// `compatibility_date` and `[vars]`: top-level and [table] keys with double-quoted string values, comments,
// blank lines. Anything else (arrays, numbers, [[arrays of tables]], multi-line strings) throws, naming the line,
// rather than being silently misread.

import { readFile } from 'node:fs/promises';

const TABLE = /^\[([A-Za-z0-9_.-]+)\]$/;
const STRING_ENTRY = /^([A-Za-z0-9_-]+)\s*=\s*"((?:[^"\\]|\\["\\nt])*)"$/;

function unescape(text) {
  return text.replace(/\\(["\\nt])/g, (_, c) => ({ n: '\n', t: '\t' })[c] ?? c);
}

function stripComment(line) {
  let inString = false;
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i];
    if (c === '\\' && inString) i += 1;
    else if (c === '"') inString = !inString;
    else if (c === '#' && !inString) return line.slice(0, i);
  }
  return line;
}

/** Parses `text`: `{ name: value, ..., table: { name: value } }`. Throws Error naming `source` and the line. */
export function parseWranglerToml(text, source = 'wrangler.toml') {
  const config = {};
  let current = config;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = stripComment(raw).trim();
    if (line === '') return;
    const table = TABLE.exec(line);
    if (table) {
      current = config[table[1]] ??= {};
      return;
    }
    const entry = STRING_ENTRY.exec(line);
    if (!entry) throw new Error(`${source}:${index + 1}: unsupported TOML (only "key = \\"string\\"" and [table]): ${raw}`);
    current[entry[1]] = unescape(entry[2]);
  });
  return config;
}

/** Reads and parses the wrangler.toml at `file`; rejects when it is missing or uses unsupported TOML. */
export async function readWranglerToml(file) {
  return parseWranglerToml(await readFile(file, 'utf8'), file);
}
