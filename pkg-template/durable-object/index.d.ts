// Types of the Durable Object outbox (Cloudflare Workers). Hand-written; the implementations are the .js files
// beside this one. Structural types stand in for @cloudflare/workers-types, so none is needed.
import type { DeadLetter, FlushReport, QueueStats, TrackerOptions, TrackerSink } from "../index.js";
import type { OutboxStore } from "../stores/index.js";

/** What the sink needs of a Durable Object namespace binding (`env.AICM_OUTBOX`). */
export interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown;
  get(id: any): { fetch(input: string, init?: RequestInit): Promise<Response> };
}

/** What the outbox needs of `state.storage` (`ctx.storage`). */
export interface DurableObjectStorageLike {
  put(entries: Record<string, string>): Promise<void>;
  list(options: { prefix: string }): Promise<Map<string, unknown>>;
  delete(keys: string[]): Promise<number | boolean>;
  getAlarm(): Promise<number | null>;
  setAlarm(scheduledTime: number | Date): Promise<void>;
  deleteAlarm(): Promise<void>;
}

/** Options of `durableObjectSink` and `durableObjectOutbox`. */
export interface DurableObjectShardOptions {
  /**
   * The object's name (`idFromName(shard)`): one object, one outbox, per shard. Default "default". Shard by
   * namespace or customer when one object's limits are not enough (see `AicmOutbox`).
   */
  shard?: string;
}

/** The sink `durableObjectSink` returns: `kind` "durable-object" and the object's caps. */
export interface DurableObjectSink extends TrackerSink {
  readonly kind: "durable-object";
  /** 120000: a stored value stays under the 128 KiB value limit of key-value-backed objects. */
  readonly maxRecordBytes: number;
  /** 500 records per POST to the object. */
  readonly maxBatchSize: number;
  /** 1 MiB per POST to the object. */
  readonly maxBatchBytes: number;
  readonly shard: string;
}

/**
 * A `TrackerSink` handing records to the `AicmOutbox` object `shard` of `namespace`: one `stub.fetch` POST per
 * `send`, resolved once the object has the records in storage, rejected with the object's reason otherwise
 * (full: 503 `E_QUEUE_FULL`; storage failing: 503; malformed: 400), so the tracker retries. A missing or broken
 * binding is reported by `send` (E_SINK), not thrown here.
 * @throws {TypeError} when `shard` is not a non-empty string.
 * @example
 * const tracker = new Tracker({ sink: durableObjectSink(env.AICM_OUTBOX) });
 * ctx.waitUntil(tracker.track("openai::gpt-4o-mini", usage));
 */
export declare function durableObjectSink(namespace: DurableObjectNamespaceLike | undefined, options?: DurableObjectShardOptions): DurableObjectSink;

/** What `durableObjectOutbox` returns: the object's tracker calls, from any Worker. Each is one `stub.fetch`. */
export interface DurableObjectOutboxHandle {
  readonly shard: string;
  /** The object's `tracker.stats()`, plus `alarmAt` (epoch ms of the next alarm, or null). */
  stats(): Promise<QueueStats & { alarmAt: number | null }>;
  deadLetters(): Promise<DeadLetter[]>;
  /** Requeues dead letters (all, or those listed) and sets the alarm to deliver them. */
  requeueDeadLetters(responseIds?: string[]): Promise<{ requeued: number }>;
  purgeDeadLetters(responseIds?: string[]): Promise<{ purged: number }>;
  /** Flushes now (the alarm does this on its own). */
  flush(): Promise<FlushReport>;
}

/**
 * The dead letters and stats of the `AicmOutbox` object `shard`, from a Worker. Rejects with the object's reason
 * when it answers otherwise than 2xx.
 * @throws {TypeError} when `shard` is not a non-empty string.
 */
export declare function durableObjectOutbox(namespace: DurableObjectNamespaceLike, options?: DurableObjectShardOptions): DurableObjectOutboxHandle;

/**
 * The `OutboxStore` over a Durable Object's storage that `AicmOutbox` uses (at most 128 keys per storage call, all
 * issued before any is awaited; `consistent: true`; `durability: "durable-object"`), for your own objects.
 */
export declare function durableObjectStorageStore(storage: DurableObjectStorageLike): OutboxStore;

/** Tracker options of the object (from `AICM_OUTBOX_OPTIONS`) and its own settings. */
export interface AicmOutboxOptions
  extends Omit<TrackerOptions<"persistent_queue">, "deliveryType" | "store" | "sink" | "apiKey" | "apiBase" | "fetch" | "proxy"> {
  /** New records set the alarm this far ahead unless one is due sooner, so many requests make one POST. Default 1000. */
  coalesceMs?: number;
  /** How long one alarm's flush may send. Default 15000. */
  flushDeadlineMs?: number;
  /** The safety alarm each alarm sets before it flushes, and the retry after an unexpected failure. Default 30000. */
  retryAlarmMs?: number;
}

/** The environment `AicmOutbox` reads. */
export interface AicmOutboxEnv {
  /** The API key the object POSTs with (a secret: `wrangler secret put AICM_API_KEY`). */
  AICM_API_KEY?: string;
  /** Default "https://aicostmanager.com". */
  AICM_API_BASE?: string;
  /** `AicmOutboxOptions`, as an object (wrangler `[vars]` accepts one) or its JSON text. */
  AICM_OUTBOX_OPTIONS?: string | AicmOutboxOptions;
}

/**
 * The tracker options the object uses unless told otherwise, over the persistent queue's defaults (unlimited
 * attempts for outages, dead letters by age only): `{ maxQueueSize: 100000, maxQueueBytes: 64 MiB }`.
 */
export declare const OUTBOX_DEFAULTS: Readonly<{ maxQueueSize: number; maxQueueBytes: number }>;
/** The object's own settings' defaults: `{ coalesceMs: 1000, flushDeadlineMs: 15000, retryAlarmMs: 30000 }`. */
export declare const OUTBOX_SETTINGS: Readonly<{ coalesceMs: number; flushDeadlineMs: number; retryAlarmMs: number }>;

/**
 * The Durable Object outbox: `export { AicmOutbox } from "aicostmanager-edge"` in your Worker and bind it (see the
 * README's "Durable Object outbox"). One persistent-queue Tracker over the object's storage; `alarm()` flushes
 * and sets the next alarm from `stats().nextDueAt` (backoff, Retry-After), and never throws. Producers reach it
 * with `durableObjectSink`, Workers read its dead letters with `durableObjectOutbox`. Subclass it and override
 * `outboxOptions()` to configure it in code.
 */
export declare class AicmOutbox {
  constructor(state: { storage: DurableObjectStorageLike }, env: AicmOutboxEnv);
  /** The options used (default: `env.AICM_OUTBOX_OPTIONS`). Override to configure in code. */
  outboxOptions(): AicmOutboxOptions;
  /** The object's HTTP interface (paths under /aicm/outbox/): what the sink and `durableObjectOutbox` call. */
  fetch(request: Request): Promise<Response>;
  alarm(): Promise<void>;
}
