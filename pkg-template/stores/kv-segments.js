// How the Workers KV store lays entries out in KV: "segments", one KV key per write, each holding many entries.
//
//   key    <dir>~seg~<stamp base36>-<uuid>   dir = the entries' common directory (their keys up to and including
//                                            the last "/", or "" when a key has none); stamp = write time in ms
//   value  {"v":1,"e":[[key, value, w], ...]}   w = the time the entry was put (kept when a segment is rewritten),
//                                               so the newest put of a key wins however segments were rewritten
//
// A segment's entries all share its directory, so `list(prefix)` finds every segment that can hold a matching
// entry with one KV prefix listing: the prefix's own directory.

const MARK = '~seg~';
const KEY_PATTERN = /^((?:[\s\S]*\/)?)~seg~([0-9a-z]{1,12})-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** KV's limit on key length, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 512;
/** The largest segment value written: KV's 25 MiB value limit less a margin. */
export const MAX_SEGMENT_BYTES = 25 * 1024 * 1024 - 64 * 1024;

/** The directory of an entry key: up to and including its last "/", or "" when it has none. */
export function directoryOf(key) {
  return key.slice(0, key.lastIndexOf('/') + 1);
}

/** A fresh segment key in directory `dir`. Throws a RangeError when it would exceed KV's 512-byte key limit. */
export function segmentKey(dir, stamp, id) {
  const key = `${dir}${MARK}${stamp.toString(36)}-${id}`;
  if (utf8Length(key) > MAX_KEY_BYTES) {
    throw new RangeError(`kvStore: entry keys under "${dir.slice(0, 60)}…" are too long for a KV key (${MAX_KEY_BYTES} bytes)`);
  }
  return key;
}

/** `{ dir, stamp }` of a segment key, or null for any other KV key (keys of the user's own are ignored). */
export function parseSegmentKey(key) {
  const match = KEY_PATTERN.exec(key);
  return match ? { dir: match[1], stamp: parseInt(match[2], 36) } : null;
}

/** A random UUID: `crypto.randomUUID()` (Workers, Node ≥ 19, secure browser contexts), else from getRandomValues. */
export function freshId() {
  const cryptoApi = globalThis.crypto;
  if (typeof cryptoApi?.randomUUID === 'function') return cryptoApi.randomUUID();
  const bytes = cryptoApi.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Splits rows `{ key, value, w }` into segments to write: one per directory, split further only where a
 * directory's rows would exceed MAX_SEGMENT_BYTES. Returns `[{ dir, rows, text }]` (text = the segment value).
 * Throws a RangeError, before anything is written, when one row alone exceeds the limit.
 */
export function planSegments(rows) {
  const byDir = new Map();
  for (const row of rows) {
    const dir = directoryOf(row.key);
    if (!byDir.has(dir)) byDir.set(dir, []);
    byDir.get(dir).push(row);
  }
  const segments = [];
  for (const [dir, dirRows] of byDir) {
    let chunk = [];
    let parts = [];
    let bytes = 0;
    const flush = () => {
      if (chunk.length) segments.push({ dir, rows: chunk, text: wrap(parts) });
      chunk = [];
      parts = [];
      bytes = 0;
    };
    for (const row of dirRows) {
      const part = JSON.stringify([row.key, row.value, row.w]);
      const size = utf8Length(part) + 1;
      if (size + 16 > MAX_SEGMENT_BYTES) {
        throw new RangeError(`kvStore: the value of "${row.key.slice(0, 80)}" is too large for one KV value (25 MiB)`);
      }
      if (bytes + size + 16 > MAX_SEGMENT_BYTES) flush();
      chunk.push(row);
      parts.push(part);
      bytes += size;
    }
    flush();
  }
  return segments;
}

/** The segment value holding `rows`. */
export function encodeSegment(rows) {
  return wrap(rows.map((row) => JSON.stringify([row.key, row.value, row.w])));
}

/** The rows `{ key, value, w }` of a segment value, or null when it is not a segment this version can read. */
export function decodeSegment(text) {
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (!parsed || parsed.v !== 1 || !Array.isArray(parsed.e)) return null;
  const rows = [];
  for (const item of parsed.e) {
    if (!Array.isArray(item) || typeof item[0] !== 'string' || typeof item[1] !== 'string' || !Number.isFinite(item[2])) {
      return null;
    }
    rows.push({ key: item[0], value: item[1], w: item[2] });
  }
  return rows;
}

function wrap(parts) {
  return `{"v":1,"e":[${parts.join(',')}]}`;
}

/** Length of `text` in UTF-8 bytes (lone surrogates count 3, as TextEncoder writes U+FFFD). */
export function utf8Length(text) {
  let bytes = 0;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i += 1;
    } else bytes += 3;
  }
  return bytes;
}
