// In-process named mutexes: what `lock(name, fn)` uses where nothing better exists (the memory store, and the
// IndexedDB store where Web Locks are missing). They exclude callers inside one JS realm only (one page, one
// worker, one isolate), never across tabs or isolates.

/**
 * Returns `lock(name, fn)`: runs `fn()` once every earlier holder of `name` has finished, and resolves or rejects
 * with what `fn` resolves or rejects with. Holders of one name run one at a time, in call order; different names
 * do not wait for each other. A throwing or rejecting `fn` releases the lock all the same.
 * Not re-entrant: calling `lock(name, …)` from inside `fn` with the same name waits forever (as with Web Locks).
 */
export function createLocks() {
  /** name → the promise the next holder waits for (settles when the current last holder is done). */
  const tails = new Map();

  return function lock(name, fn) {
    if (typeof fn !== 'function') return Promise.reject(new TypeError('lock(name, fn): fn must be a function'));
    const key = String(name);
    const before = tails.get(key) ?? Promise.resolve();
    let release;
    const mine = new Promise((resolve) => {
      release = resolve;
    });
    tails.set(key, mine);
    return before.then(async () => {
      try {
        return await fn();
      } finally {
        if (tails.get(key) === mine) tails.delete(key);
        release();
      }
    });
  };
}
