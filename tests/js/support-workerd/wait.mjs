// Polling for effects that happen after a response (delivery under ctx.waitUntil).

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Calls `check()` every `intervalMs` until it returns a truthy value, and resolves to that value. Rejects after
 * `timeoutMs` with `describe()` (what was last seen) in the message, so a failing test says what it was waiting for.
 */
export async function waitFor(check, { timeoutMs = 5000, intervalMs = 25, what = 'condition', describe = () => '' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() >= deadline) {
      const seen = describe();
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${seen ? `; last seen: ${seen}` : ''}`);
    }
    await sleep(intervalMs);
  }
}
