// Promise wrappers around the IndexedDB calls the IndexedDB store makes. Each rejects with the DOMException
// IndexedDB reported (or a plain Error saying what happened); the store decides what a failure means.

/** How long an open may take before the store gives up on it (WebKit has hung opens forever). */
export const OPEN_TIMEOUT_MS = 10_000;

/**
 * The global IndexedDB factory, or null where there is none or touching it throws (some sandboxed frames and
 * privacy modes throw a SecurityError on the property itself).
 */
export function readFactory() {
  try {
    const factory = globalThis.indexedDB;
    return factory && typeof factory.open === 'function' ? factory : null;
  } catch {
    return null;
  }
}

/**
 * Opens database `dbName` with an object store `storeName` (keyPath "key"), creating either when missing. When
 * the database exists without that store (another store name was used before), it is reopened at the next
 * version to add it. Rejects with the open request's error, or after OPEN_TIMEOUT_MS (a late success is closed).
 */
export async function openDatabase(factory, dbName, storeName) {
  let version;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const db = await openOnce(factory, dbName, version, storeName);
    if (db.objectStoreNames.contains(storeName)) return db;
    version = db.version + 1;
    db.close();
  }
  throw new Error(`could not add object store "${storeName}" to database "${dbName}"`);
}

function openOnce(factory, dbName, version, storeName) {
  // factory.open may throw at once (old private modes): the async caller rejects with it.
  const request = version === undefined ? factory.open(dbName) : factory.open(dbName, version);
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      reject(new Error(`opening database "${dbName}" took longer than ${OPEN_TIMEOUT_MS} ms`));
    }, OPEN_TIMEOUT_MS);
    const finish = (fn) => {
      clearTimeout(timer);
      if (settled) return false;
      settled = true;
      fn();
      return true;
    };
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains(storeName)) db.createObjectStore(storeName, { keyPath: 'key' });
    };
    request.onsuccess = () => {
      const db = request.result;
      if (!finish(() => resolve(db))) db.close();
    };
    request.onerror = () => finish(() => reject(request.error ?? new Error(`opening database "${dbName}" failed`)));
    // onblocked: another connection holds an older version open; it closes on `versionchange` (ours do), and
    // the open then goes on. The timeout covers connections that never close.
  });
}

/**
 * Runs one transaction on `storeName`: `work(objectStore)` issues the requests and may return one request whose
 * result the promise resolves to, once the transaction has COMPLETED (committed). Rejects when the transaction
 * cannot start (db closing, store missing) or aborts (a failed request, QuotaExceededError, UnknownError...).
 */
export function runTransaction(db, storeName, mode, work) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(storeName, mode);
    let result;
    tx.oncomplete = () => resolve(result);
    tx.onabort = () => reject(tx.error ?? new Error(`IndexedDB ${mode} transaction aborted`));
    let request;
    try {
      request = work(tx.objectStore(storeName));
    } catch (err) {
      tx.abort(); // requests already issued must not commit
      throw err;
    }
    if (request) {
      request.onsuccess = () => {
        result = request.result;
      };
    }
    // Every request is issued: commit now rather than when the page has seen their results, so that a write made
    // while the page unloads (whose later tasks never run) still commits.
    if (mode === 'readwrite' && typeof tx.commit === 'function') tx.commit();
  });
}

/**
 * The key range of every string key starting with `prefix`, or undefined for the empty prefix (every key).
 * The upper bound is the prefix with its last UTF-16 unit incremented, exclusive, so it is exact for any key.
 */
export function prefixRange(prefix) {
  let end = prefix;
  while (end.endsWith('\uffff')) end = end.slice(0, -1);
  if (end === '') return prefix === '' ? undefined : IDBKeyRange.lowerBound(prefix);
  const upper = end.slice(0, -1) + String.fromCharCode(end.charCodeAt(end.length - 1) + 1);
  return IDBKeyRange.bound(prefix, upper, false, true);
}
