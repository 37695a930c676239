// An outbox store over a Durable Object's own storage (`state.storage`): what `AicmOutbox` gives its tracker.
import { checkEntries, checkKeys, checkPrefix } from '../stores/validate.js';
import { STORAGE_KEYS_PER_CALL } from './limits.js';

function chunks(items) {
  const out = [];
  for (let i = 0; i < items.length; i += STORAGE_KEYS_PER_CALL) out.push(items.slice(i, i + STORAGE_KEYS_PER_CALL));
  return out;
}

/**
 * The `OutboxStore` of a persistent-queue tracker living inside a Durable Object, over `storage`
 * (`state.storage` / `ctx.storage`). Strongly consistent (`consistent: true`): the object is the only writer.
 *
 * - `put` writes at most 128 keys per `storage.put` call (the API's limit) and issues every call before it
 *   awaits any, so the runtime commits them as one atomic write (write coalescing); the object's output gate
 *   holds its reply until they are durable.
 * - `list(prefix)` is one `storage.list({ prefix })`; `delete` at most 128 keys per call, issued together.
 * A storage call that throws or rejects rejects the method; the tracker keeps its records and tries again.
 *
 * @param {DurableObjectStorage} storage
 * @returns {import('../stores/index.js').OutboxStore}
 */
export function durableObjectStorageStore(storage) {
  return {
    durability: 'durable-object',
    consistent: true,
    async put(entries) {
      const checked = checkEntries(entries);
      await Promise.all(chunks(checked).map((part) => storage.put(Object.fromEntries(part.map((e) => [e.key, e.value])))));
    },
    async list(prefix) {
      const found = await storage.list({ prefix: checkPrefix(prefix) });
      const out = [];
      for (const [key, value] of found) out.push({ key, value: typeof value === 'string' ? value : String(value) });
      return out;
    },
    async delete(keys) {
      await Promise.all(chunks(checkKeys(keys)).map((part) => storage.delete(part)));
    },
  };
}
