// Types of the outbox stores (deliveryType "persistent_queue"). Hand-written; the implementations are the .js
// files beside this one.

/** One stored entry. Keys and values are built by the tracker (values are JSON text); a store keeps them as given. */
export interface OutboxEntry {
  key: string;
  value: string;
}

/**
 * Where a persistent queue keeps its records. Implement it over any key-value store: `put`, `list` and `delete`
 * are required, the rest optional. A method that rejects makes the tracker keep the records in memory and try
 * again with its next store call; it never loses them for that.
 */
export interface OutboxStore {
  /**
   * Persist entries; one transaction where the store has them. A key may be written again (same value shape).
   * `flush({ keepalive: true })` calls it from the `pagehide` handler: start the write before the first `await`
   * where you can, since a page that unloads runs nothing a task later.
   */
  put(entries: OutboxEntry[]): Promise<void>;
  /** Every entry whose key starts with `prefix`, in any order. */
  list(prefix: string): Promise<OutboxEntry[]>;
  /** Remove entries by key; missing keys are not an error. */
  delete(keys: string[]): Promise<void>;
  /** Optional. "memory" | "persistent" (default "persistent"); a store may change it (IndexedDB falling back). */
  readonly durability?: string;
  /**
   * Optional. true when `list` sees every completed `put`/`delete` at once from any tracker sharing the store
   * (memory, IndexedDB). false for eventually consistent stores (Workers KV). Default false.
   */
  readonly consistent?: boolean;
  /**
   * Optional. Runs `fn` holding an exclusive lock named `name` across every tracker sharing the store (IndexedDB:
   * Web Locks). Without it, trackers sharing a store may both send a record (at least once; same response_id).
   */
  lock?<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

/** What `memoryStore()` returns: always in memory, consistent, with an in-process lock. */
export interface MemoryOutboxStore extends OutboxStore {
  readonly durability: "memory";
  readonly consistent: true;
  lock<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

/**
 * An outbox in a `Map`, for every runtime: the default store. Nothing survives the page, worker or isolate
 * (`durability: "memory"`). `lock` excludes trackers sharing this store within the realm. Rejects only with a
 * TypeError for malformed arguments.
 */
export declare function memoryStore(): MemoryOutboxStore;

/** Options of `indexedDbStore()`. */
export interface IndexedDbStoreOptions {
  /** Database name. Default "aicostmanager-edge". */
  dbName?: string;
  /** Object store name (created when missing). Default "outbox". */
  storeName?: string;
}

/** What `indexedDbStore()` returns. */
export interface IndexedDbOutboxStore extends OutboxStore {
  /** "persistent" while IndexedDB works; "memory" once it fell back (see `fallbackReason`). */
  readonly durability: "persistent" | "memory";
  /** true, unless IndexedDB failed after being written and could not be read back. */
  readonly consistent: boolean;
  /** Why the store fell back to memory (IndexedDB missing, open or transaction failed), or undefined. */
  readonly fallbackReason: string | undefined;
  /** Holds the Web Lock "aicostmanager-edge:" + name (an in-page lock where Web Locks are missing). */
  lock<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

/**
 * An outbox in IndexedDB for pages and web workers, shared by every tab of the origin, opened on first use.
 * Once open, each call starts its transaction before it returns; a `put` made while it is still opening, in a
 * `pagehide` handler (Chromium may drop that transaction with the page), or while an earlier such `put` is not in
 * IndexedDB yet is also kept in localStorage (keys "aicostmanager-edge:spill:…") until IndexedDB has it, and the
 * next `list()` moves what a page that went away left there, oldest first. Falls back to memory (and says so in `durability` / `fallbackReason`) where IndexedDB is missing or fails;
 * never rejects because of IndexedDB. Throws a TypeError for an empty `dbName` or `storeName`.
 */
export declare function indexedDbStore(options?: IndexedDbStoreOptions): IndexedDbOutboxStore;

/**
 * The parts of a Workers KV namespace binding (`env.MY_KV`) that `kvStore` uses, typed structurally so no
 * `@cloudflare/workers-types` is needed.
 */
export interface KvNamespaceLike {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void>;
  delete(key: string): Promise<void>;
  list(options?: { prefix?: string | null; cursor?: string | null }): Promise<{
    keys: { name: string }[];
    list_complete: boolean;
    cursor?: string;
  }>;
}

/** Options of `kvStore()`. */
export interface KvStoreOptions {
  /**
   * Expiration of every segment written, in seconds; an integer ≥ 60. Default 30 days. Keep it above the
   * tracker's `maxAgeMs` (default 7 days): a `list()` writes again every known segment older than half of it.
   */
  ttlSeconds?: number;
  /**
   * KV operations this store may make, 4..1000; default 500. KV allows 1,000 per Worker invocation on the paid
   * plan and 50 on the free plan (past it every KV call throws): leave room for your own KV use, and pass 25 or
   * less on the free plan. Past it the store's calls reject (nothing lost: retried by a later request).
   */
  maxOperations?: number;
}

/** `backlog()` of a `kvStore()`: what it knows of the KV outbox. */
export interface KvBacklog {
  /** KV operations spent, of `maxOperations`. */
  operations: number;
  maxOperations: number;
  /** Segments and entries this store read or wrote. */
  segments: number;
  entries: number;
  /** The last `list()`: segments KV listed, those not read for the budget, whether the listing reached the end. */
  listedSegments: number;
  unreadSegments: number;
  listComplete: boolean;
}

/** What `kvStore()` returns: persistent, eventually consistent, without a lock. */
export interface KvOutboxStore extends OutboxStore {
  readonly durability: "persistent";
  readonly consistent: false;
  /** What waits in KV as far as this store knows (at least `entries`, plus one or more per unread segment). */
  backlog(): KvBacklog;
}

/**
 * An outbox in Cloudflare Workers KV (`kvStore(env.MY_KV)`). Writes only fresh keys: one KV write per `put`
 * (a segment holding all its entries, with `expirationTtl`), one delete (plus one write when a segment is only
 * partly deleted) per segment touched by `delete`, one list per 1000 keys plus one read per segment not seen
 * before by `list`. At least once: isolates may send the same record twice; duplicates carry the same
 * response_id and the service keeps one. Throws a TypeError when `namespace` is not a KV binding, a RangeError
 * when `ttlSeconds` is not an integer ≥ 60 or `maxOperations` not an integer in 4..1000. Bounded: at most
 * `maxOperations` KV calls per store (one store per request); a `list()` spends at most 30 % of what is left and 50 reads
 * (oldest segments first), so a backlog of any size costs a request a bounded number of operations.
 */
export declare function kvStore(namespace: KvNamespaceLike, options?: KvStoreOptions): KvOutboxStore;

// ---- Cloudflare Queues (README "Cloudflare Queues") ----

/** The parts of a Cloudflare Queue producer binding the package uses (`env.AICM_QUEUE`, `env.AICM_DLQ`). */
export interface QueueLike {
  send(body: unknown, options?: { contentType?: string; delaySeconds?: number }): Promise<unknown>;
  sendBatch(messages: Iterable<{ body: unknown; contentType?: string; delaySeconds?: number }>): Promise<unknown>;
}

/** The parts of a delivered Queues message the consumer reads and calls. */
export interface QueueMessageLike {
  readonly id: string;
  readonly body: unknown;
  readonly attempts: number;
  readonly timestamp: Date;
  ack(): void;
  retry(options?: { delaySeconds?: number }): void;
}

/** The `batch` of a `queue()` handler. */
export interface QueueBatchLike {
  readonly queue?: string;
  readonly messages: readonly QueueMessageLike[];
}

/** The Tracker sink `queueSink()` returns. */
export interface QueueSink {
  readonly kind: "cloudflare-queue";
  readonly maxRecordBytes: 127000;
  readonly maxBatchSize: 100;
  readonly maxBatchBytes: 246000;
  send(records: string[]): Promise<unknown>;
}

/**
 * The Tracker's sink for a Cloudflare Queue: `new Tracker({ sink: queueSink(env.AICM_QUEUE) })`. Each record is
 * one message (body: the record's JSON text, `contentType: "text"`), one `sendBatch` per tracker send, within
 * Queues' limits (100 messages, 256 KB with metadata, 127,000 B per record). Throws a TypeError (code
 * E_INVALID_OPTION) when `queue` is not a Queue binding.
 */
export declare function queueSink(queue: QueueLike): QueueSink;

/** Options of `handleQueueBatch` and `replayDeadLetters`. */
export interface QueueConsumerOptions {
  /** Default `env.AICM_API_KEY` (not needed by the replay). */
  apiKey?: string;
  /** Default `env.AICM_API_BASE`, else the Tracker's default (https://aicostmanager.com). */
  apiBase?: string;
  /** Default the global `fetch`. */
  fetch?: typeof fetch;
  /** Per POST, ms (1–600000). Default 10000. */
  timeoutMs?: number;
  /** Records per /track body (1–1000). Default 100. */
  maxBatchSize?: number;
  /** Bytes per /track body (1024–16 MiB). Default 4 MiB. */
  maxBatchBytes?: number;
  /** The queue's `max_retries` from wrangler.toml (0–100). Default 3. A message delivered this many times is
   *  re-sent as a fresh message carrying its attempts instead of being retried. */
  maxRetries?: number;
  /** A record first enqueued longer ago than this is dead-lettered when an attempt fails (1 min–30 days). Default 7 days. */
  maxAgeMs?: number;
  /** Backoff base, ms (1 s–1 h). Default 2000. */
  retryBaseDelayMs?: number;
  /** Backoff cap, ms (1 s–12 h). Default 300000. */
  retryMaxDelayMs?: number;
  /** The delivery queue's producer binding, for re-sends (and the replay's target). Default `env.AICM_QUEUE`. */
  queue?: QueueLike | null;
  /** The dead-letter queue's producer binding. Default `env.AICM_DLQ`. Without one, a dead letter stays in the
   *  queue (retried 12 h later) until Queues' own max_retries moves it to the wrangler `dead_letter_queue`. */
  deadLetterQueue?: QueueLike | null;
}

/** What one consumer invocation did. */
export interface QueueBatchReport {
  acked: number;
  retried: number;
  /** Re-sent as fresh messages (the replay: sent back to the delivery queue). */
  requeued: number;
  deadLettered: number;
  /** /track POSTs made. */
  posts: number;
  /** `sent`: false when no DLQ binding took it (the message stays in the queue). */
  deadLetters: { id: string; code: string; status: number | null; errors: string[]; sent: boolean }[];
  /** A message's ack()/retry() that threw (E_QUEUE_CALL). */
  errors: { id: string; code: string; message: string }[];
}

/**
 * The consumer Worker's `queue()` handler (README "Cloudflare Queues"). Never rejects for a delivery failure;
 * rejects with E_MISSING_API_KEY, E_INVALID_OPTION, or E_QUEUE_BATCH when `batch.messages` cannot be read.
 */
export declare function handleQueueBatch(batch: QueueBatchLike, env: Record<string, unknown>, options?: QueueConsumerOptions): Promise<QueueBatchReport>;

/**
 * The `queue()` handler of a consumer attached to the dead-letter queue: sends each record back to the delivery
 * queue (`options.queue`, default `env.AICM_QUEUE`) with its attempts reset and acks it; posts nothing.
 */
export declare function replayDeadLetters(batch: QueueBatchLike, env: Record<string, unknown>, options?: QueueConsumerOptions): Promise<QueueBatchReport>;

/** Internal: the core's consumer session that `handleQueueBatch` drives. Not for direct use; may change. */
export declare class QueueConsumerSession {
  private constructor();
  free(): void;
}
