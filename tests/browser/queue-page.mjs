// Runs in the test page (the static server's `/`, imported by queue-support.mjs after harness.mjs is ready):
// persistent-queue Trackers on indexedDbStore() of the packed package, kept by name on `window.queue` so that
// queue.test.mjs can drive them across several `page.evaluate` calls:
//   queue.make(name, { dbName, storeName, keepaliveFetch, withoutLock, closedLock, ...trackerOptions })  a
//                                    Tracker with deliveryType "persistent_queue" on its own indexedDbStore;
//                                    returns the store's state. keepaliveFetch: a `fetch` option adding keepalive:
//                                    true; withoutLock: the store wrapped in a custom store without lock() (a
//                                    control case); closedLock: its lock() waits until queue.openLock(name)
//   queue.openLock(name)             lets the closedLock store's lock() calls go on
//   queue.start(name, key, options)  starts tracker.flush(options) and keeps its promise as `key`
//   queue.settled(key)               the promise `key` started by queue.start
//   queue.track(name, ids)           tracks one record per response id, synchronously, in one tick
//   queue.saved(name)                resolves once no tracked record waits for its store write (stats().unsaved 0)
//   queue.flush(name, options)       tracker.flush(options)
//   queue.stats(name), queue.store(name)   stats() and the store's { durability, fallbackReason }
//   queue.drop(name)                 forgets the tracker without flushing or closing it
//   queue.rawEntries(dbName, storeName)    every { key, value } in the object store, read with IndexedDB itself
//   queue.rawSpills(dbName, storeName)     every { key, value } the store's localStorage spill holds, oldest first
import * as pkg from '/pkg/entries/web.js';

const USAGE = Object.freeze({ prompt_tokens: 19, completion_tokens: 10, total_tokens: 29 });
const trackers = new Map();

function tracker(name) {
  const found = trackers.get(name);
  if (!found) throw new Error(`no tracker named ${name} in this page`);
  return found;
}

const started = new Map();

/** `store` as a custom store whose lock() first waits for `gate` (a promise). */
function gatedLock(store, gate) {
  const gated = unlocked(store);
  gated.lock = (lockName, fn) => gate.then(() => store.lock(lockName, fn));
  return gated;
}

function storeState(store) {
  return { durability: store.durability, fallbackReason: store.fallbackReason ?? null, consistent: store.consistent };
}

/** `store` as a custom store with put/list/delete only: trackers on it never exclude each other. */
function unlocked(store) {
  return {
    get durability() {
      return store.durability;
    },
    get consistent() {
      return store.consistent;
    },
    get fallbackReason() {
      return store.fallbackReason;
    },
    put: (entries) => store.put(entries),
    list: (prefix) => store.list(prefix),
    delete: (keys) => store.delete(keys),
  };
}

window.queue = {
  make(name, { dbName, storeName, keepaliveFetch = false, withoutLock = false, closedLock = false, ...options }) {
    const idb = pkg.indexedDbStore({ dbName, ...(storeName ? { storeName } : {}) });
    let openLock = () => {};
    const lockGate = new Promise((resolve) => {
      openLock = resolve;
    });
    const store = withoutLock ? unlocked(idb) : closedLock ? gatedLock(idb, lockGate) : idb;
    const fetchOption = keepaliveFetch ? { fetch: (url, init) => fetch(url, { ...init, keepalive: true }) } : {};
    const instance = new pkg.Tracker({ ...options, ...fetchOption, deliveryType: 'persistent_queue', store });
    trackers.set(name, { tracker: instance, store, openLock });
    return storeState(store);
  },
  track(name, ids) {
    const { tracker: t } = tracker(name);
    return ids.map((id) => t.track('openai::gpt-4o-mini', { ...USAGE }, { responseId: id }).responseId);
  },
  async saved(name, timeoutMs = 10_000) {
    const { tracker: t } = tracker(name);
    const until = Date.now() + timeoutMs;
    while (t.stats().unsaved > 0) {
      if (Date.now() > until) throw new Error(`records still unsaved after ${timeoutMs} ms: ${JSON.stringify(t.stats())}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return t.stats();
  },
  flush(name, options) {
    return tracker(name).tracker.flush(options);
  },
  openLock(name) {
    tracker(name).openLock();
  },
  start(name, key, options) {
    started.set(key, tracker(name).tracker.flush(options));
  },
  settled(key) {
    return started.get(key);
  },
  stats(name) {
    return tracker(name).tracker.stats();
  },
  store(name) {
    return storeState(tracker(name).store);
  },
  drop(name) {
    return trackers.delete(name);
  },
  rawSpills(dbName, storeName = 'outbox') {
    const prefix = `aicostmanager-edge:spill:${dbName}/${storeName}:`;
    const tokens = Object.keys(localStorage).filter((token) => token.startsWith(prefix)).sort();
    return tokens.flatMap((token) => JSON.parse(localStorage.getItem(token)));
  },
  rawEntries(dbName, storeName = 'outbox') {
    return new Promise((resolve, reject) => {
      const open = indexedDB.open(dbName);
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const db = open.result;
        if (!db.objectStoreNames.contains(storeName)) {
          db.close();
          resolve([]);
          return;
        }
        const request = db.transaction(storeName).objectStore(storeName).getAll();
        request.onerror = () => reject(request.error);
        request.onsuccess = () => {
          db.close();
          resolve(request.result);
        };
      };
    });
  },
};
