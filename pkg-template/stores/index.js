// Outbox stores for deliveryType "persistent_queue", re-exported by every entry of the package. Plain JS with no
// dependencies and no work at import: each factory does nothing until it is called, and a store touches its
// backend (IndexedDB, KV) only when one of its methods is. The interface they implement is `OutboxStore` in
// ./index.d.ts; any object with put/list/delete (and optionally durability, consistent, lock) works too.
export { memoryStore } from './memory.js';
export { indexedDbStore } from './indexeddb.js';
export { kvStore } from './kv.js';
export { queueSink, handleQueueBatch, replayDeadLetters } from './cloudflare-queues.js';
