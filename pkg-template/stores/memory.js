// The memory store: the default outbox store of the persistent queue, and the IndexedDB store's fallback.
import { createLocks } from './locks.js';
import { checkEntries, checkKeys, checkPrefix } from './validate.js';

/**
 * An outbox store in a `Map`, for every runtime. Use it when nothing has to outlive the page or isolate (tests,
 * short scripts, Node processes you flush before exit), or to share one outbox between trackers of one realm.
 * It reports `durability: "memory"`: what is queued is lost when the page, worker or isolate ends.
 *
 * - `put` stores all entries or none (a bad argument rejects with a TypeError before anything changes); a key
 *   put again takes the new value. Values are strings, kept as given; `list` returns fresh objects, so callers
 *   cannot change what is stored.
 * - `list(prefix)` sees every completed `put`/`delete` at once (`consistent: true`).
 * - `delete` ignores keys that are not there.
 * - `lock(name, fn)` is an in-process mutex per name: trackers sharing this store never drain at once.
 * Never fails otherwise (memory is the limit).
 *
 * @returns {import('./index.js').OutboxStore}
 */
export function memoryStore() {
  const entries = new Map();
  const lock = createLocks();
  return {
    durability: 'memory',
    consistent: true,
    async put(batch) {
      for (const { key, value } of checkEntries(batch)) entries.set(key, value);
    },
    async list(prefix) {
      checkPrefix(prefix);
      const found = [];
      for (const [key, value] of entries) {
        if (key.startsWith(prefix)) found.push({ key, value });
      }
      return found;
    },
    async delete(keys) {
      for (const key of checkKeys(keys)) entries.delete(key);
    },
    lock,
  };
}
