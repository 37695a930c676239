// The IndexedDB store's spill: where a `put` made before the database is open keeps its entries, synchronously,
// in localStorage, until IndexedDB has them. A page that goes away in the very task it first tracks (the database
// still opening) can start no IndexedDB transaction any more; a localStorage write made in that task survives it.
// The next `list()` on the same database moves what such a page left into IndexedDB first.

/**
 * The spill of database `dbName`, object store `storeName`: `keep(entries)` → a token (or null where localStorage
 * is missing or full), `drop(token)`, and `left()` → every spill not dropped, oldest first, as `{ token, entries }`.
 * Never throws.
 */
export function createSpill(dbName, storeName) {
  const prefix = `aicostmanager-edge:spill:${dbName}/${storeName}:`;
  let count = 0;
  /** The latest time a token was made with: a clock set back between two puts must not order them backwards. */
  let last = 0;

  function storage() {
    try {
      return globalThis.localStorage ?? null;
    } catch {
      return null; // sandboxed frames throw on the property itself
    }
  }

  return {
    keep(entries) {
      const local = storage();
      if (!local) return null;
      count += 1;
      last = Math.max(last, Date.now());
      const random = Math.random().toString(36).slice(2, 8);
      const token = `${prefix}${last.toString(36).padStart(9, '0')}:${String(count).padStart(9, '0')}:${random}`;
      try {
        local.setItem(token, JSON.stringify(entries));
        return token;
      } catch {
        return null; // quota: the IndexedDB write is all there is
      }
    },
    drop(token) {
      try {
        storage()?.removeItem(token);
      } catch {
        // nothing to do: the next list() moves it into IndexedDB again (same keys, same values)
      }
    },
    left() {
      const local = storage();
      const out = [];
      if (!local) return out;
      try {
        for (let i = 0; i < local.length; i += 1) {
          const token = local.key(i);
          if (typeof token !== 'string' || !token.startsWith(prefix)) continue;
          let parsed;
          try {
            parsed = JSON.parse(local.getItem(token) ?? '[]');
          } catch {
            parsed = []; // not ours after all, or cut: left for drop() by the list() that reads it
          }
          const entries = Array.isArray(parsed)
            ? parsed.filter((e) => e && typeof e.key === 'string' && typeof e.value === 'string')
            : [];
          out.push({ token, entries: entries.map(({ key, value }) => ({ key, value })) });
        }
      } catch {
        // unreadable storage: what was read so far
      }
      return out.sort((a, b) => (a.token < b.token ? -1 : a.token > b.token ? 1 : 0));
    },
  };
}
