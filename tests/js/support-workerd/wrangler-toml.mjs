// Reads the subset of wrangler.toml that worker-example uses, so the tests run the Worker with its own `main`,
// `compatibility_date`, `[vars]`, `[[kv_namespaces]]` and `[triggers] crons`: top-level, [table] and [[array of
// tables]] keys whose values are double-quoted strings or one-line arrays of them, comments, blank lines.
// Anything else (numbers, booleans, dotted keys, multi-line strings or arrays) throws, naming the line, rather
// than being silently misread.

import { readFile } from 'node:fs/promises';

const TABLE = /^\[([A-Za-z0-9_-]+)\]$/;
const ARRAY_TABLE = /^\[\[([A-Za-z0-9_-]+)\]\]$/;
const STRING = '"((?:[^"\\\\]|\\\\["\\\\nt])*)"';
const STRING_ENTRY = new RegExp(`^([A-Za-z0-9_-]+)\\s*=\\s*${STRING}$`);
const ARRAY_ENTRY = /^([A-Za-z0-9_-]+)\s*=\s*\[(.*)\]$/;
const ARRAY_ITEM = new RegExp(`^\\s*${STRING}\\s*(,|$)`);

/** The strings of a one-line array's inside (`"a", "b"`, trailing comma allowed), or null if it is anything else. */
function parseStringArray(inside) {
  const items = [];
  let rest = inside.trim();
  while (rest !== '') {
    const item = ARRAY_ITEM.exec(rest);
    if (!item) return null;
    items.push(unescape(item[1]));
    rest = rest.slice(item[0].length).trim();
  }
  return items;
}

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

/**
 * Parses `text`: `{ name: value, ..., table: { name: value }, arrayTable: [{ name: value }, ...] }`. Throws Error
 * naming `source` and the line, also when a name is used both as a [table] and as an [[array of tables]].
 */
export function parseWranglerToml(text, source = 'wrangler.toml') {
  const config = {};
  let current = config;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = stripComment(raw).trim();
    if (line === '') return;
    const arrayTable = ARRAY_TABLE.exec(line);
    if (arrayTable) {
      const list = (config[arrayTable[1]] ??= []);
      if (!Array.isArray(list)) throw new Error(`${source}:${index + 1}: [[${arrayTable[1]}]] but ${arrayTable[1]} is not an array: ${raw}`);
      current = {};
      list.push(current);
      return;
    }
    const table = TABLE.exec(line);
    if (table) {
      current = config[table[1]] ??= {};
      if (Array.isArray(current) || typeof current !== 'object') {
        throw new Error(`${source}:${index + 1}: [${table[1]}] but ${table[1]} is already something else: ${raw}`);
      }
      return;
    }
    const array = STRING_ENTRY.test(line) ? null : ARRAY_ENTRY.exec(line);
    const items = array && parseStringArray(array[2]);
    if (items) {
      current[array[1]] = items;
      return;
    }
    const entry = STRING_ENTRY.exec(line);
    if (!entry) throw new Error(`${source}:${index + 1}: unsupported TOML (only "key = \\"string\\"", key = ["strings"], [table] and [[array of tables]]): ${raw}`);
    current[entry[1]] = unescape(entry[2]);
  });
  return config;
}

/** Reads and parses the wrangler.toml at `file`; rejects when it is missing or uses unsupported TOML. */
export async function readWranglerToml(file) {
  return parseWranglerToml(await readFile(file, 'utf8'), file);
}
