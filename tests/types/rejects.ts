// Usages that must NOT compile. Each `@ts-expect-error` makes tsc fail if the line below it ever compiles, so
// these pin how strict the types are. tests/types/run fails on any unused directive.
import { Tracker, ready, version, memoryStore, durableObjectSink, kvStore, type AicmErrorCode, type Anonymizer, type AicmOutboxOptions, type DurableObjectNamespaceLike, queueSink, handleQueueBatch, type QueueBatchLike } from 'aicostmanager-edge';
declare const outboxBinding: DurableObjectNamespaceLike;
// @ts-expect-error: the glue's loader is not re-exported
import { initSync } from 'aicostmanager-edge';
// @ts-expect-error: there is no default export
import aicm from 'aicostmanager-edge';

// Options of the wrong type.
// @ts-expect-error: apiKey is a string
new Tracker({ apiKey: 123 });
// @ts-expect-error: timeoutMs is a number
new Tracker({ apiKey: 'k', timeoutMs: '10' });
// @ts-expect-error: maxAttempts is a number
new Tracker({ apiKey: 'k', maxAttempts: '3' });
// @ts-expect-error: only "immediate" exists
new Tracker({ apiKey: 'k', deliveryType: 'sqlite' });
// @ts-expect-error: a store needs deliveryType "persistent_queue"
new Tracker({ apiKey: 'k', store: { put: async () => {}, list: async () => [], delete: async () => {} } });
// @ts-expect-error: a store needs put, list and delete
new Tracker({ apiKey: 'k', deliveryType: 'persistent_queue', store: { put: async () => {} } });
// @ts-expect-error: maxQueueSize is a number
new Tracker({ apiKey: 'k', deliveryType: 'persistent_queue', maxQueueSize: '10' });
// @ts-expect-error: queue-mode track returns { responseId } at once, not a promise
const notAPromise: Promise<unknown> = new Tracker({ apiKey: 'k', deliveryType: 'persistent_queue' }).track('a::b', {});
// @ts-expect-error: immediate track returns a promise, not { responseId }
const notQueued: { responseId: string } = new Tracker({ apiKey: 'k' }).track('a::b', {});
// @ts-expect-error: deadlineMs is a number
await new Tracker({ apiKey: 'k' }).flush({ deadlineMs: '1000' });
// @ts-expect-error: anonymizer is a function
new Tracker({ apiKey: 'k', anonymizer: 5 });
// @ts-expect-error: anonymizeFields is a list
new Tracker({ apiKey: 'k', anonymizeFields: 'email' });
// @ts-expect-error: proxy is a boolean
new Tracker({ proxy: 'yes' });
// @ts-expect-error: customerKey is a string or null
new Tracker({ apiKey: 'k', customerKey: 42 });
// @ts-expect-error: context values are JSON
new Tracker({ apiKey: 'k', context: { when: undefined } });
// @ts-expect-error: unknown option (a typo of apiKey)
new Tracker({ apikey: 'k' });
// @ts-expect-error: fetch takes the URL as a string
new Tracker({ apiKey: 'k', fetch: (input: number) => fetch(String(input)) });
// @ts-expect-error: an anonymizer takes JSON values, not only numbers
const narrowAnonymizer: Anonymizer = (value: number) => value;

const tracker = new Tracker({ apiKey: 'k' });

// track without or with wrong arguments.
// @ts-expect-error: serviceKey and usage are required
tracker.track();
// @ts-expect-error: usage is required
tracker.track('openai::gpt-4o-mini');
// @ts-expect-error: usage is an object
tracker.track('openai::gpt-4o-mini', 'x');
// @ts-expect-error: usage is an object, not a list
tracker.track('openai::gpt-4o-mini', [1, 2]);
// @ts-expect-error: serviceKey is a string
tracker.track(42, {});
// @ts-expect-error: usage values are JSON (no functions)
tracker.track('svc', { fn: () => 1 });
// @ts-expect-error: usage values are JSON (no bigint)
tracker.track('svc', { n: 1n });
// @ts-expect-error: timestamp is a string, Date or number
tracker.track('svc', {}, { timestamp: true });
// @ts-expect-error: responseId is a string
tracker.track('svc', {}, { responseId: 1 });
// @ts-expect-error: unknown per-call option
tracker.track('svc', {}, { apiKey: 'other' });

// trackBatch with wrong records.
// @ts-expect-error: records are objects, not strings
tracker.trackBatch(['a', 'b']);
// @ts-expect-error: a record needs usage
tracker.trackBatch([{ serviceKey: 'svc' }]);
// @ts-expect-error: a record needs serviceKey
tracker.trackBatch([{ usage: {} }]);
// @ts-expect-error: records are a list
tracker.trackBatch({ serviceKey: 'svc', usage: {} });
// @ts-expect-error: the snake_case wire names are not the JS names
tracker.trackBatch([{ service_key: 'svc', usage: {} }]);

// Setters.
// @ts-expect-error: a customer key is a string or null
tracker.setCustomerKey(5);
// @ts-expect-error: fields are a list
tracker.setAnonymizeFields('email');
// @ts-expect-error: context is an object or null
tracker.setContext('prod');

// Results.
const outcome = await tracker.track('svc', {});
// @ts-expect-error: not a status
if (outcome.status === 'bogus') console.log(outcome);
// @ts-expect-error: error is null unless the record failed
console.log(outcome.error.code);
// @ts-expect-error: close resolves to a flush report
const closed: number = await tracker.close();
// @ts-expect-error: version is a string
const v: number = version;
// @ts-expect-error: ready resolves with nothing
const r: Promise<string> = ready;
// @ts-expect-error: not an error code
const code: AicmErrorCode = 'E_NOPE';

// @ts-expect-error: a sink's send takes the records' texts, not objects
new Tracker({ sink: { send: async (records: { id: number }[]) => records } });
// @ts-expect-error: a sink must have send
new Tracker({ sink: { kind: 'x' } });

// @ts-expect-error: a shard is a string
durableObjectSink(outboxBinding, { shard: 42 });
// @ts-expect-error: enqueueRecords takes record texts, not objects
new Tracker({ deliveryType: 'persistent_queue', apiKey: 'k' }).enqueueRecords([{ response_id: 'r' }]);
// @ts-expect-error: the object sets its store itself
const badOutboxOptions: AicmOutboxOptions = { store: memoryStore() };
// @ts-expect-error: the object's own settings are numbers
const badCoalesce: AicmOutboxOptions = { coalesceMs: 'soon' };

export { initSync, aicm, narrowAnonymizer, closed, v, r, code, badOutboxOptions, badCoalesce };

// Cloudflare Queues.
// @ts-expect-error: queueSink takes a Queue binding, not its name
queueSink('AICM_QUEUE');
declare const rejectsBatch: QueueBatchLike;
// @ts-expect-error: maxRetries is a number
await handleQueueBatch(rejectsBatch, {}, { maxRetries: '100' });
declare const kvNs: Parameters<typeof kvStore>[0];
// @ts-expect-error: maxOperations is a number
kvStore(kvNs, { maxOperations: '25' });
// @ts-expect-error: backlog() has no "waiting" figure
kvStore(kvNs).backlog().waiting;

