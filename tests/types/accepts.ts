// Usages that must compile against the package's index.d.ts. tests/types/run fails if any line here errors.
import {
  Tracker, ready, version,
  type AicmError, type AicmErrorCode, type Anonymizer, type BatchOutcome, type BatchRecord, type JsonValue,
  type TrackerOptions, type TrackOptions, type TrackOutcome, type TrackResult, type TrackStatus,
  type FlushReport, type QueueStats, type DeadLetter, type Queued, type QueuedBatch, type OutboxStore,
  type TrackerSink, type DeliveryFailure,
  memoryStore, indexedDbStore, kvStore,
  AicmOutbox, durableObjectSink, durableObjectOutbox, durableObjectStorageStore, OUTBOX_DEFAULTS, OUTBOX_SETTINGS,
  type AicmOutboxOptions, type DurableObjectNamespaceLike, type DurableObjectSink,
  queueSink, handleQueueBatch, replayDeadLetters, type QueueBatchReport, type QueueBatchLike, type QueueLike,
} from 'aicostmanager-edge';

/** Compile-time equality: `Expect<Equal<A, B>>` errors unless A and B are the same type. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
type Expect<T extends true> = T;

await ready;
const v: string = version;

// Constructor: no options, a key, a proxy, every option.
new Tracker();
new Tracker({ apiKey: 'k' });
new Tracker({ proxy: true, apiBase: 'https://example.com/aicm' });
const anonymizer: Anonymizer = (value, field) => (field === 'email' ? '[hidden]' : value);
const options: TrackerOptions = {
  apiKey: 'k',
  proxy: false,
  apiBase: 'https://aicostmanager.com',
  apiUrl: '/api/v1',
  deliveryType: 'immediate',
  customerKey: null,
  context: { env: 'prod', nested: { list: [1, 'two', null, true] } },
  anonymizeFields: ['email', 'prompt'],
  anonymizer,
  timeoutMs: 10_000,
  maxAttempts: 3,
  retryBaseDelayMs: 500,
  retryMaxDelayMs: 30_000,
  maxRetryAfterMs: 60_000,
  maxBatchSize: 1000,
  maxRecordBytes: 1_048_576,
  maxBatchBytes: 4_194_304,
  fetch: (input, init) => fetch(input, init),
};
const tracker = new Tracker(options);
new Tracker({ apiKey: 'k', fetch });                      // the global fetch fits as it is
new Tracker({ apiKey: 'k', fetch: async () => new Response(null, { status: 204 }) });
new Tracker({ apiKey: 'k', anonymizer: null, context: null, customerKey: 'cust-1' });

// track: minimal, with every per-call option, each timestamp form.
const outcome = await tracker.track('openai::gpt-4o-mini', { prompt_tokens: 12, completion_tokens: 30 });
type _track = Expect<Equal<ReturnType<Tracker['track']>, Promise<TrackOutcome>>>;
const perCall: TrackOptions = {
  responseId: '1709671d3c87426db1b8bbd55753c022',
  timestamp: '2026-11-22T01:33:05.120Z',
  customerKey: 'cust-1',
  context: { route: '/chat' },
  anonymizeFields: ['keywords'],
  anonymizer: () => '[REDACTED]',
};
await tracker.track('openai::gpt-4o-mini', { usage: { nested: [{ n: 1 }] }, details: null }, perCall);
await tracker.track('svc', {}, { timestamp: new Date() });
await tracker.track('svc', {}, { timestamp: Date.now(), customerKey: null, context: null });

// Results: statuses, failures, limits.
const status: TrackStatus = outcome.status;
const delivered: boolean = outcome.status !== 'failed' && outcome.status !== 'error';
const httpStatus: number | null | undefined = outcome.error?.httpStatus;
const failureCode: string | undefined = outcome.error?.code;
const errors: string[] = outcome.errors;
const attempts: number = outcome.attempts;
const responseId: string = outcome.responseId;
const costEvents: JsonValue[] | null = outcome.costEvents;
const limits: { [key: string]: JsonValue } | null = outcome.triggeredLimits;
const asResult: TrackResult = outcome;

// trackBatch
const records: BatchRecord[] = [
  { serviceKey: 'openai::gpt-4o-mini', usage: { prompt_tokens: 1 } },
  { serviceKey: 'anthropic::claude', usage: {}, responseId: 'r-2', timestamp: 1_795_310_876_161, customerKey: null, context: { a: 1 } },
];
const batch: BatchOutcome = await tracker.trackBatch(records);
await tracker.trackBatch(records, { anonymizeFields: ['email'], anonymizer });
await tracker.trackBatch([]);
const firstStatus: TrackStatus | undefined = batch.results[0]?.status;
const batchLimits: { [key: string]: JsonValue } | null = batch.triggeredLimits;
type _batch = Expect<Equal<ReturnType<Tracker['trackBatch']>, Promise<BatchOutcome>>>;

// Setters and shutdown.
tracker.setCustomerKey('cust-2');
tracker.setCustomerKey(null);
tracker.setContext({ env: 'staging' });
tracker.setContext(null);
tracker.setAnonymizeFields([]);
tracker.setAnonymizer(anonymizer);
tracker.setAnonymizer(null);
await tracker.close();
tracker.free();
type _close = Expect<Equal<ReturnType<Tracker['close']>, Promise<FlushReport>>>;

// The persistent queue: track returns { responseId } at once; flush, stats and dead letters.
const queue = new Tracker({ apiKey: 'k', deliveryType: 'persistent_queue', store: memoryStore(), maxQueueSize: 100 });
const queued: Queued = queue.track('openai::gpt-4o', { total_tokens: 3 });
type _queued = Expect<Equal<typeof queued, Queued>>;
const queuedBatch: QueuedBatch = queue.trackBatch([{ serviceKey: 'a::b', usage: {} }]);
console.log(queued.responseId, queuedBatch.responseIds.length);
const report: FlushReport = await queue.flush({ deadlineMs: 5000 });
const stats: QueueStats = queue.stats();
const letters: DeadLetter[] = await queue.deadLetters();
const requeued: number = await queue.requeueDeadLetters(['id-1']);
const purged: number = await queue.purgeDeadLetters();
console.log(report.sent, stats.dropped, letters.length, requeued, purged);
const own: OutboxStore = {
  async put(entries) { console.log(entries.length); },
  async list(prefix) { return [{ key: prefix, value: '' }]; },
  async delete(keys) { console.log(keys.length); },
};
new Tracker({ apiKey: 'k', deliveryType: 'persistent_queue', store: own });
new Tracker({ apiKey: 'k', deliveryType: 'persistent_queue', store: indexedDbStore({ dbName: 'x' }) });
declare const kvBinding: Parameters<typeof kvStore>[0];
new Tracker({ apiKey: 'k', deliveryType: 'persistent_queue', store: kvStore(kvBinding, { ttlSeconds: 3600 }) });
// A sink: no apiKey; send gets the records' JSON texts.
const sink: TrackerSink = { kind: 'mine', maxBatchSize: 100, send: async (records: string[]) => records.length };
const viaSink = new Tracker({ sink, deliveryType: 'persistent_queue' });
viaSink.track('a::b', { n: 1 });
const sinkCode: DeliveryFailure['code'] = 'E_SINK';
console.log(sinkCode);
new Tracker({ apiKey: 'k', deliveryType: 'persistent_queue', store: kvStore(kvBinding, { maxOperations: 25 }) });
const kvBacklog: number = kvStore(kvBinding).backlog().unreadSegments;
void kvBacklog;
const immediateFlush: FlushReport = await tracker.flush();
console.log(immediateFlush.durability);
type _ready = Expect<Equal<typeof ready, Promise<void>>>;

// Errors: plain Errors named "AicmError" with a stable code.
try {
  new Tracker({});
} catch (err) {
  if (err instanceof Error && err.name === 'AicmError') {
    const code: AicmErrorCode = (err as AicmError).code;
    if (code === 'E_MISSING_API_KEY') console.log(err.message);
  }
}

export { v, status, delivered, httpStatus, failureCode, errors, attempts, responseId, costEvents, limits, asResult,
  firstStatus, batchLimits };

// The Durable Object outbox: the sink, the Worker-side handle, the class (re-exported and subclassed).
declare const outboxBinding: DurableObjectNamespaceLike;
const doSink: DurableObjectSink = durableObjectSink(outboxBinding, { shard: 'customer-42' });
const doKind: 'durable-object' = doSink.kind;
new Tracker({ sink: durableObjectSink(outboxBinding) });
const doHandle = durableObjectOutbox(outboxBinding);
const doAlarm: number | null = (await doHandle.stats()).alarmAt;
const doRequeued: number = (await doHandle.requeueDeadLetters(['id-1'])).requeued;
const doLetters: DeadLetter[] = await doHandle.deadLetters();
class MyOutbox extends AicmOutbox {
  outboxOptions(): AicmOutboxOptions {
    return { ...OUTBOX_DEFAULTS, maxQueueSize: 50_000, coalesceMs: OUTBOX_SETTINGS.coalesceMs };
  }
}
declare const doStorage: Parameters<typeof durableObjectStorageStore>[0];
new MyOutbox({ storage: doStorage }, { AICM_API_KEY: 'k', AICM_OUTBOX_OPTIONS: '{"maxAttempts":10}' });
const doQueue = new Tracker({ deliveryType: 'persistent_queue', apiKey: 'k', store: durableObjectStorageStore(doStorage) });
const taken: { added: number; duplicates: number; unsaved: number } = await doQueue.enqueueRecords(['{"service_key":"s","response_id":"r"}']);
const nextDue: number | null | undefined = doQueue.stats().nextDueAt;
export { doKind, doAlarm, doRequeued, doLetters, taken, nextDue };
// Cloudflare Queues: the producer's sink, the consumer's and the replay's handlers.
declare const aicmQueue: QueueLike;
declare const queueBatch: QueueBatchLike;
new Tracker({ sink: queueSink(aicmQueue) });
const queueReport: QueueBatchReport = await handleQueueBatch(queueBatch, { AICM_API_KEY: 'k', AICM_QUEUE: aicmQueue }, {
  maxRetries: 100, deadLetterQueue: aicmQueue, maxAgeMs: 86_400_000, retryMaxDelayMs: 300_000,
});
const queueCounts: number = queueReport.acked + queueReport.retried + queueReport.requeued + queueReport.deadLettered + queueReport.posts;
await replayDeadLetters(queueBatch, {}, { queue: aicmQueue });
