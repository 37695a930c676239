// Argument checks shared by the store adapters. A store is called by the tracker with strings it built itself,
// so a failed check is a programming error: it throws a TypeError (the adapter's promise rejects with it) and
// nothing is stored or deleted.

/**
 * Checks `put(entries)`'s argument: an array of `{ key: string, value: string }`.
 * Returns a fresh array of fresh `{ key, value }` objects, so later changes to the caller's objects do not
 * reach the store. Throws a TypeError naming the first bad entry.
 */
export function checkEntries(entries) {
  if (!Array.isArray(entries)) throw new TypeError('put(entries): entries must be an array of { key, value }');
  return entries.map((entry, i) => {
    if (entry === null || typeof entry !== 'object') {
      throw new TypeError(`put(entries): entries[${i}] must be an object { key, value }`);
    }
    const { key, value } = entry;
    if (typeof key !== 'string') throw new TypeError(`put(entries): entries[${i}].key must be a string`);
    if (typeof value !== 'string') throw new TypeError(`put(entries): entries[${i}].value must be a string`);
    return { key, value };
  });
}

/** Checks `delete(keys)`'s argument: an array of strings. Returns a copy. Throws a TypeError otherwise. */
export function checkKeys(keys) {
  if (!Array.isArray(keys)) throw new TypeError('delete(keys): keys must be an array of strings');
  keys.forEach((key, i) => {
    if (typeof key !== 'string') throw new TypeError(`delete(keys): keys[${i}] must be a string`);
  });
  return keys.slice();
}

/** Checks `list(prefix)`'s argument: a string (may be empty: every entry). Throws a TypeError otherwise. */
export function checkPrefix(prefix) {
  if (typeof prefix !== 'string') throw new TypeError('list(prefix): prefix must be a string');
  return prefix;
}
