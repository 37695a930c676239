// Reads the subset of wrangler.toml that worker-example uses, so the tests run the Worker with its own `main`,
// `compatibility_date`, `[vars]`, `[[kv_namespaces]]`, `[[queues.producers]]`/`[[queues.consumers]]`,
// `[[durable_objects.bindings]]`, `[[migrations]]` and `[triggers] crons`: top-level, [table] and [[array of
// tables]] (dotted names nest: `[[queues.producers]]` is `config.queues.producers[]`) keys whose values are
// double-quoted strings, non-negative integers or one-line arrays of strings, comments, blank lines. Anything
// else (floats, booleans, dotted keys, multi-line strings or arrays) throws, naming the line, rather than being
// silently misread.

import { readFile } from 'node:fs/promises';

const NAME = '[A-Za-z0-9_-]+(?:\\.[A-Za-z0-9_-]+)?';
const TABLE = new RegExp(`^\\[(${NAME})\\]$`);
const ARRAY_TABLE = new RegExp(`^\\[\\[(${NAME})\\]\\]$`);
const INTEGER_ENTRY = /^([A-Za-z0-9_-]+)\s*=\s*(0|[1-9][0-9]{0,14})$/;
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
      const { parent, name } = tableParent(config, arrayTable[1], source, index, raw);
      const list = (parent[name] ??= []);
      if (!Array.isArray(list)) throw new Error(`${source}:${index + 1}: [[${arrayTable[1]}]] but ${arrayTable[1]} is not an array: ${raw}`);
      current = {};
      list.push(current);
      return;
    }
    const table = TABLE.exec(line);
    if (table) {
      const { parent, name } = tableParent(config, table[1], source, index, raw);
      current = parent[name] ??= {};
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
    const integer = INTEGER_ENTRY.exec(line);
    if (integer) {
      current[integer[1]] = Number(integer[2]);
      return;
    }
    const entry = STRING_ENTRY.exec(line);
    if (!entry) throw new Error(`${source}:${index + 1}: unsupported TOML (only "key = \\"string\\"", key = 123, key = ["strings"], [table] and [[array of tables]]): ${raw}`);
    current[entry[1]] = unescape(entry[2]);
  });
  return config;
}

/** The object a dotted table name `a.b` lives in (`config.a`, created as a table) and its last part. */
function tableParent(config, dotted, source, index, raw) {
  const parts = dotted.split('.');
  const name = parts.pop();
  let parent = config;
  for (const part of parts) {
    parent = parent[part] ??= {};
    if (Array.isArray(parent) || typeof parent !== 'object') {
      throw new Error(`${source}:${index + 1}: ${part} is not a table: ${raw}`);
    }
  }
  return { parent, name };
}

/** Reads and parses the wrangler.toml at `file`; rejects when it is missing or uses unsupported TOML. */
export async function readWranglerToml(file) {
  return parseWranglerToml(await readFile(file, 'utf8'), file);
}
