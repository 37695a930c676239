// Types of aicostmanager-edge, hand-written: the same for every entry point (node, workerd, edge-light, browser,
// default), which all export the same API and differ only in how they load the wasm.

/** Any value JSON can carry. Numbers must be finite: NaN and ±Infinity are rejected with `E_NON_FINITE_NUMBER`. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * Replaces one value of a field named in `anonymizeFields` before the record leaves the tracker.
 * Called with the field's value and the field's name. If it throws, or returns something JSON cannot carry
 * (undefined, a function, NaN, a cycle...), the value is redacted with the default anonymizer instead (fail closed).
 * The default anonymizer turns every string into "[REDACTED]", recursively through objects and arrays, and keeps
 * numbers, booleans and null.
 */
export type Anonymizer = (value: JsonValue, field: string) => JsonValue;

/** An ISO-8601 string with `Z` or an offset, a `Date`, or epoch milliseconds. Anything else: `E_INVALID_TIMESTAMP`. */
export type TimestampInput = string | Date | number;

/** The stable `code` of every error the library throws. */
export type AicmErrorCode =
  | "E_INVALID_SERVICE_KEY"
  | "E_INVALID_USAGE"
  | "E_NON_FINITE_NUMBER"
  | "E_UNSUPPORTED_VALUE"
  | "E_CYCLIC_VALUE"
  | "E_TOO_DEEP"
  | "E_INVALID_TIMESTAMP"
  | "E_INVALID_RESPONSE_ID"
  | "E_INVALID_CUSTOMER_KEY"
  | "E_INVALID_CONTEXT"
  | "E_RECORD_TOO_LARGE"
  | "E_BATCH_TOO_LARGE"
  | "E_INVALID_BATCH"
  | "E_INVALID_RECORD"
  | "E_INVALID_OPTION"
  | "E_MISSING_API_KEY"
  | "E_QUEUE_FULL"
  | "E_TRACKER_CLOSED"
  | "E_REENTRANT"
  | "E_UNSUPPORTED_DELIVERY_TYPE";

/**
 * What the library throws: a plain `Error` whose `name` is `"AicmError"` and whose `code` says what went wrong.
 * There is no class to test with `instanceof`; test `err.name === "AicmError"` and switch on `err.code`.
 * These are programming or input errors: retrying the same call fails the same way.
 */
export interface AicmError extends Error {
  name: "AicmError";
  code: AicmErrorCode;
}

/** Options of `new Tracker(options)`. Invalid values throw `E_INVALID_OPTION` from the constructor. */
export interface TrackerOptions {
  /** The AICostManager API key, sent as `Authorization: Bearer <apiKey>`. Required unless `proxy` is true (else `E_MISSING_API_KEY`). */
  apiKey?: string;
  /** `apiBase` is your own proxy that adds the key: no `Authorization` header is sent unless `apiKey` is also given. Default false. */
  proxy?: boolean;
  /** Default "https://aicostmanager.com". Requests go to `apiBase + apiUrl + "/track"`. */
  apiBase?: string;
  /** Default "/api/v1". */
  apiUrl?: string;
  /** Only "immediate" in 0.1: each `track` sends at once. "persistent_queue" throws `E_UNSUPPORTED_DELIVERY_TYPE` (queue comes in 0.2). */
  deliveryType?: "immediate";
  /** Customer key attached to every record unless a call overrides it; null = none. */
  customerKey?: string | null;
  /** Context object attached to every record unless a call overrides it; null = none. */
  context?: { [key: string]: JsonValue } | null;
  /** Key names, matched at any depth of the usage object (never context or keys), whose values are anonymized before sending. */
  anonymizeFields?: string[];
  /** Anonymizer for `anonymizeFields`; null or absent = the default (strings → "[REDACTED]"). */
  anonymizer?: Anonymizer | null;
  /** Timeout of one HTTP attempt in milliseconds. Default 10000. */
  timeoutMs?: number;
  /** HTTP attempts per request, 1..=10. Default 3. */
  maxAttempts?: number;
  /** Base of the exponential backoff: full jitter over min(retryMaxDelayMs, base * 2^(n-1)). Default 500. */
  retryBaseDelayMs?: number;
  /** Upper bound of one backoff delay. Default 30000. */
  retryMaxDelayMs?: number;
  /** A longer `Retry-After` from the server is capped to this. Default 60000. */
  maxRetryAfterMs?: number;
  /** Records per request, 1..=1000. Default 1000. */
  maxBatchSize?: number;
  /** Largest encoded record; a larger one throws `E_RECORD_TOO_LARGE`. Default 1048576. */
  maxRecordBytes?: number;
  /** Largest request body; batches are split to stay under it (unless one record alone is larger). Default 4194304. */
  maxBatchBytes?: number;
  /** The fetch to send requests with. Default `globalThis.fetch`. Useful for tests, proxies and custom agents. */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
}

/** Per-call options of `track`. */
export interface TrackOptions {
  /** Idempotency id of the record. Default: 32 lowercase hex chars (a uuid4 without dashes). Invalid: `E_INVALID_RESPONSE_ID`. */
  responseId?: string;
  /** When the usage happened. Default: now. */
  timestamp?: TimestampInput;
  /** Overrides the tracker's customer key for this record; null = send none. */
  customerKey?: string | null;
  /** Overrides the tracker's context for this record; null = send none. */
  context?: { [key: string]: JsonValue } | null;
  /** Added to the tracker's `anonymizeFields` for this record (union). */
  anonymizeFields?: string[];
  /** Replaces the tracker's anonymizer for this record. */
  anonymizer?: Anonymizer;
}

/** One record of `trackBatch`. */
export interface BatchRecord {
  /** The AICostManager service key, e.g. "openai::gpt-4o-mini". */
  serviceKey: string;
  /** The usage object as the provider reported it (token counts and so on). */
  usage: { [key: string]: JsonValue };
  responseId?: string;
  timestamp?: TimestampInput;
  customerKey?: string | null;
  context?: { [key: string]: JsonValue } | null;
}

/** Per-call options of `trackBatch`, applied to every record. */
export interface BatchOptions {
  /** Added to the tracker's `anonymizeFields` (union). */
  anonymizeFields?: string[];
  /** Replaces the tracker's anonymizer for this call. */
  anonymizer?: Anonymizer;
}

/** The server's statuses, or "failed" when the record was not delivered. */
export type TrackStatus = "queued" | "completed" | "service_key_unknown" | "error" | "failed";

/** Why a record was not delivered (or what the server reported as its error). */
export interface DeliveryFailure {
  /**
   * Stable code: `E_NETWORK` (no response), `E_TIMEOUT` (no response within `timeoutMs`), `E_HTTP_STATUS` (a status that
   * is not retried, or retries exhausted), `E_TOO_LARGE` (413 for this record alone), `E_INVALID_RESPONSE` (a 2xx that is
   * not a /track reply: not retried), `E_MISSING_RESULT` (the reply has no result for this record), `E_REJECTED` (the
   * server refused this record: see `errors`).
   */
  code: "E_NETWORK" | "E_TIMEOUT" | "E_HTTP_STATUS" | "E_TOO_LARGE" | "E_INVALID_RESPONSE" | "E_MISSING_RESULT" | "E_REJECTED";
  message: string;
  /** The HTTP status for `E_HTTP_STATUS` and `E_TOO_LARGE`; null for the other codes. */
  httpStatus: number | null;
}

/** The outcome of one record. */
export interface TrackResult {
  responseId: string;
  status: TrackStatus;
  /** The server's per-record errors (may be empty). */
  errors: string[];
  costEvents: JsonValue[] | null;
  /** Set when `status` is "failed" or "error". */
  error: DeliveryFailure | null;
  /** HTTP attempts made for this record. */
  attempts: number;
}

/** The outcome of `track`: the record's result plus the limits the server reported as triggered. */
export interface TrackOutcome extends TrackResult {
  triggeredLimits: { [key: string]: JsonValue } | null;
}

/** The outcome of `trackBatch`: one result per input record, in input order. */
export interface BatchOutcome {
  results: TrackResult[];
  triggeredLimits: { [key: string]: JsonValue } | null;
}

/**
 * Sends usage records to AICostManager's `/track` endpoint.
 *
 * @example
 * const tracker = new Tracker({ apiKey: env.AICM_API_KEY });
 * const outcome = await tracker.track("openai::gpt-4o-mini", { prompt_tokens: 12, completion_tokens: 30 });
 * if (outcome.status === "failed") console.warn(outcome.error);
 */
export class Tracker {
  /**
   * Checks the options and creates a tracker; sends nothing.
   * @throws {AicmError} `E_MISSING_API_KEY` without `apiKey` (unless `proxy`), `E_INVALID_OPTION` for an out-of-range
   *   or mistyped option, `E_UNSUPPORTED_DELIVERY_TYPE` for a delivery type other than "immediate".
   */
  constructor(options?: TrackerOptions);

  /**
   * Builds, anonymizes and sends one record. Validation errors THROW synchronously (nothing is sent):
   * `E_INVALID_SERVICE_KEY`, `E_INVALID_USAGE`, `E_NON_FINITE_NUMBER`, `E_UNSUPPORTED_VALUE`, `E_CYCLIC_VALUE`,
   * `E_TOO_DEEP`, `E_INVALID_TIMESTAMP`, `E_INVALID_RESPONSE_ID`, `E_INVALID_CUSTOMER_KEY`, `E_INVALID_CONTEXT`,
   * `E_RECORD_TOO_LARGE`, `E_TRACKER_CLOSED`. Delivery failures (network, timeout, HTTP errors after the retries)
   * do not reject: the promise RESOLVES with `status: "failed"` and `error` set.
   */
  track(serviceKey: string, usage: { [key: string]: JsonValue }, options?: TrackOptions): Promise<TrackOutcome>;

  /**
   * Sends many records in requests of at most `maxBatchSize` records and `maxBatchBytes` bytes; results come in
   * input order. Throws `E_BATCH_TOO_LARGE` over 10000 records per call, and `E_INVALID_RECORD` (its message names
   * the index) when any record is invalid, in which case none is sent. Delivery failures resolve as in `track`.
   */
  trackBatch(records: BatchRecord[], options?: BatchOptions): Promise<BatchOutcome>;

  /** Sets the customer key of later records; null = none. Throws `E_INVALID_CUSTOMER_KEY` for an invalid key. */
  setCustomerKey(key: string | null): void;

  /** Sets the context of later records; null = none. Throws `E_INVALID_CONTEXT` for a value JSON cannot carry. */
  setContext(context: { [key: string]: JsonValue } | null): void;

  /** Replaces the set of field names anonymized in later records. */
  setAnonymizeFields(fields: string[]): void;

  /** Sets the anonymizer of later records; null = the default anonymizer. */
  setAnonymizer(fn: Anonymizer | null): void;

  /**
   * Waits for the deliveries in flight, then closes the tracker: later `track`/`trackBatch` calls throw
   * `E_TRACKER_CLOSED`. In a Worker, hand it to `ctx.waitUntil(tracker.close())`.
   */
  close(): Promise<void>;

  /** Frees the wasm memory behind this object at once (otherwise the garbage collector does). Call after `close()`. */
  free(): void;
}

/**
 * Resolves once the wasm is instantiated. The node, workerd and edge-light entries instantiate synchronously at
 * import, and the browser/default entry awaits it at top level, so it is already resolved when your import
 * finishes; awaiting it is never needed but always safe.
 */
export const ready: Promise<void>;

/** The package version, e.g. "0.1.0". */
export const version: string;
