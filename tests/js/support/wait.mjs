// Waiting for something to become true without asserting on elapsed time, and cleaning up the timers a
// stuck delivery would leave behind so that a failing test cannot keep the test process alive.

/**
 * Resolves once `predicate()` is true, polling every few milliseconds. Rejects with an Error naming `what`
 * after `limitMs`: the limit only turns a hang into a failure, it is not a timing assertion.
 */
export async function waitFor(predicate, what, limitMs = 5000) {
  const deadline = Date.now() + limitMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Records every timer created through the global setTimeout during the test `t` and clears those still
 * pending when it ends. Use it in tests where a bug would make the library sleep for a very long time (a
 * Retry-After that is not honoured with a one-hour backoff): the test fails on its own limit, and the
 * forgotten timer does not keep the process running for an hour.
 */
export function clearTimersAfter(t) {
  const original = globalThis.setTimeout;
  const originalClear = globalThis.clearTimeout;
  const pending = new Set();
  globalThis.setTimeout = function trackedSetTimeout(handler, ms, ...args) {
    const handle = original((...callArgs) => {
      pending.delete(handle);
      handler(...callArgs);
    }, ms, ...args);
    pending.add(handle);
    return handle;
  };
  globalThis.clearTimeout = function trackedClearTimeout(handle) {
    pending.delete(handle);
    originalClear(handle);
  };
  t.after(() => {
    globalThis.setTimeout = original;
    globalThis.clearTimeout = originalClear;
    for (const handle of pending) originalClear(handle);
    pending.clear();
  });
}
