// The IndexedDB store: the persistent outbox of browsers and web workers, with a memory fallback.
import { openDatabase, prefixRange, readFactory, runTransaction } from './idb-requests.js';
import { createSpill } from './idb-spill.js';
import { createLocks } from './locks.js';
import { memoryStore } from './memory.js';
import { checkEntries, checkKeys, checkPrefix } from './validate.js';

/** Stands in for Web Locks where they are missing: excludes within this realm only. */
let realmLocks;

/**
 * True from a `pagehide` until the next `pageshow` (a page back from the back/forward cache): a put made then is
 * spilled too, even with the database open. Chromium sometimes drops a transaction started in `pagehide` with
 * the page; the localStorage write made in that task stays. Capture listeners on the window run before the
 * page's own `pagehide` handlers (the one that flushes), whenever those were added.
 */
let leaving = false;
let watchingPage = false;

function watchPage() {
  if (watchingPage) return;
  watchingPage = true;
  try {
    if (typeof globalThis.document === 'undefined' || typeof globalThis.addEventListener !== 'function') return;
    globalThis.addEventListener('pagehide', () => (leaving = true), { capture: true });
    globalThis.addEventListener('pageshow', () => (leaving = false), { capture: true });
  } catch {
    // no page events here: nothing to watch
  }
}

/**
 * An outbox store in IndexedDB, for pages and web workers (dedicated, shared, service). Queued records survive
 * reloads, closed tabs and browser restarts (until the browser evicts the origin's storage), and every tab of the
 * origin sees the same outbox.
 *
 * - Opens database `dbName` (object store `storeName`, one object `{ key, value }` per entry) on first use, never
 *   when created or imported. `put` and `delete` are one readwrite transaction per call: all or nothing.
 *   `list(prefix)` reads one key range. `consistent: true` (IndexedDB transactions are seen at once by all tabs).
 *   Once the database is open, a call starts its transaction before it returns, so a `put` made in a `pagehide`
 *   handler is normally committed as the page unloads; a `put` made before it is open, in a `pagehide` handler,
 *   or while an earlier such `put` is not in IndexedDB yet is also kept in localStorage (where there is one)
 *   until IndexedDB has it (so the next `list()`, which moves what a page that went away left there, oldest
 *   first, ends on the newest write).
 * - `lock(name, fn)` holds the Web Lock `"aicostmanager-edge:" + name`, so only one tab (or worker) drains at a
 *   time. Without Web Locks it excludes within this page or worker only.
 * - Falls back to an in-memory store when `indexedDB` is missing, or opening the database or a transaction fails
 *   (private modes, WebKit's "UnknownError", a full quota, an open hanging > 10 s): `durability` becomes
 *   "memory" and `fallbackReason` says why. The failed call and every later one are served from memory, which
 *   first takes over what IndexedDB still gives back. From then on nothing survives the page. If IndexedDB had
 *   been written and could not be read back, `consistent` turns false (the tracker then keeps records it does not
 *   see listed instead of taking them as delivered by another tab).
 * - Never rejects because IndexedDB failed; rejects with a TypeError only for bad arguments.
 *
 * @param {{ dbName?: string, storeName?: string }} [options]
 * @returns {import('./index.js').OutboxStore & { readonly fallbackReason: string | undefined }}
 */
export function indexedDbStore({ dbName = 'aicostmanager-edge', storeName = 'outbox' } = {}) {
  if (typeof dbName !== 'string' || dbName === '') throw new TypeError('indexedDbStore: dbName must be a non-empty string');
  if (typeof storeName !== 'string' || storeName === '') throw new TypeError('indexedDbStore: storeName must be a non-empty string');

  const factory = readFactory();
  let dbPromise = null;
  /** The connection `dbPromise` resolved to, once it has: calls use it without awaiting (see `run`). */
  let openDb = null;
  let wrote = false;
  let unreadable = false;
  /** Where a put made before the database is open keeps its entries until IndexedDB has them (idb-spill.js). */
  const spill = createSpill(dbName, storeName);
  /** Spills this store kept and has not dropped yet (their IndexedDB write has not completed). */
  let spillsOut = 0;
  /** Set once: resolves to the memory store that serves every call from then on. */
  let fallback = null;
  let fallbackReason;

  function database() {
    if (!dbPromise) {
      const opening = openDatabase(factory, dbName, storeName).then((db) => {
        const forget = () => {
          if (dbPromise === opening) {
            dbPromise = null;
            openDb = null;
          }
        };
        db.onversionchange = () => {
          db.close();
          forget();
        };
        db.onclose = forget; // closed by the browser (storage cleared): reopen on the next call
        if (dbPromise === opening) openDb = db;
        return db;
      });
      dbPromise = opening;
    }
    return dbPromise;
  }

  function fallBack(reason, db) {
    fallbackReason ??= reason;
    fallback ??= salvage(db);
    return fallback;
  }

  /** A memory store holding what IndexedDB still returns; marks the store unreadable when that fails after writes. */
  async function salvage(db) {
    const memory = memoryStore();
    if (!db) {
      if (wrote) unreadable = true;
      return memory;
    }
    try {
      const rows = await runTransaction(db, storeName, 'readonly', (store) => store.getAll());
      await memory.put(readableRows(rows));
    } catch {
      if (wrote) unreadable = true;
    }
    return memory;
  }

  /**
   * Runs `idbWork(db)`; on an IndexedDB failure switches to memory and runs `memoryWork(memory)` instead. A call
   * that failed because the connection was closed under it (another tab upgrading the database, storage cleared)
   * is tried once more on a new connection first. Once the database is open, `idbWork` starts before `run`
   * returns (no await first): a write made in a `pagehide` handler starts its transaction in that task, which
   * browsers commit as the page unloads, where one started a task later is lost.
   */
  async function run(what, idbWork, memoryWork) {
    for (let attempt = 0; ; attempt += 1) {
      if (fallback) return memoryWork(await fallback);
      let db;
      const opening = database();
      try {
        db = openDb && dbPromise === opening ? openDb : await opening;
        const result = await idbWork(db);
        // The fallback started while this call was in IndexedDB: memory must see it too.
        return fallback ? memoryWork(await fallback) : result;
      } catch (err) {
        if (attempt === 0 && db && dbPromise !== opening) continue;
        const reason = db ? `IndexedDB ${what} failed: ${describe(err)}` : `IndexedDB could not be opened: ${describe(err)}`;
        return memoryWork(await fallBack(reason, db));
      }
    }
  }

  if (!factory) fallBack('indexedDB is not available in this context', null);
  watchPage();

  const lock = (name, fn) => {
    const locks = globalThis.navigator?.locks;
    if (locks && typeof locks.request === 'function') return locks.request(`aicostmanager-edge:${name}`, () => fn());
    realmLocks ??= createLocks();
    return realmLocks(`aicostmanager-edge:${name}`, fn);
  };

  return {
    get durability() {
      return fallback ? 'memory' : 'persistent';
    },
    get consistent() {
      return !unreadable;
    },
    get fallbackReason() {
      return fallbackReason;
    },
    async put(entries) {
      const checked = checkEntries(entries);
      if (checked.length === 0) return;
      // No transaction can start before the database is open: keep the entries where a page that goes away
      // meanwhile leaves them for the next one. While an earlier spill is still out, spill this put too, even
      // with the database open: the next page replays spills over IndexedDB, and an older spill left without
      // this newer write after it would undo it (a keepalive flush's leased rows replaced by the unleased ones
      // of the same tick, then sent again). And while the page goes away (`leaving`).
      const spilled = fallback || (openDb && spillsOut === 0 && !leaving) ? null : spill.keep(checked);
      if (spilled) spillsOut += 1;
      try {
        await run(
          'write',
          async (db) => {
            await runTransaction(db, storeName, 'readwrite', (store) => {
              for (const entry of checked) store.put(entry);
            });
            wrote = true;
          },
          (memory) => memory.put(checked),
        );
      } finally {
        if (spilled) {
          spill.drop(spilled);
          spillsOut -= 1;
        }
      }
    },
    async list(prefix) {
      checkPrefix(prefix);
      return run(
        'read',
        async (db) => {
          // What pages that went away before their database opened left: into IndexedDB first, oldest first.
          const left = spill.left();
          if (left.length > 0) {
            await runTransaction(db, storeName, 'readwrite', (store) => {
              for (const { entries } of left) for (const entry of entries) store.put(entry);
            });
            wrote = true;
            for (const { token } of left) spill.drop(token);
          }
          const rows = await runTransaction(db, storeName, 'readonly', (store) => store.getAll(prefixRange(prefix)));
          return readableRows(rows).filter((row) => row.key.startsWith(prefix));
        },
        (memory) => memory.list(prefix),
      );
    },
    async delete(keys) {
      const checked = checkKeys(keys);
      if (checked.length === 0) return;
      await run(
        'delete',
        (db) =>
          runTransaction(db, storeName, 'readwrite', (store) => {
            for (const key of checked) store.delete(key);
          }),
        (memory) => memory.delete(checked),
      );
    },
    lock,
  };
}

/** The `{ key, value }` string pairs among stored objects (anything else in the object store is skipped). */
function readableRows(rows) {
  const out = [];
  for (const row of rows ?? []) {
    if (row && typeof row.key === 'string' && typeof row.value === 'string') out.push({ key: row.key, value: row.value });
  }
  return out;
}

function describe(err) {
  if (err && typeof err === 'object') return `${err.name ?? 'Error'}: ${err.message ?? String(err)}`;
  return String(err);
}
