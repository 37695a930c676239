// Bounded parallelism for the KV store's reads and deletes.

/**
 * Calls `fn(item)` for every item, at most `limit` at a time, and resolves once all have settled. Rejects with
 * the first error thrown, after the others have still run (so one failed KV call does not leave the rest undone).
 */
export async function forEachLimited(items, limit, fn) {
  let next = 0;
  let firstError;
  let failed = false;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next];
      next += 1;
      try {
        await fn(item);
      } catch (err) {
        if (!failed) firstError = err;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed) throw firstError;
}
