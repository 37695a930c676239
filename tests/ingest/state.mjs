// What the ingest server keeps between requests: accepted records (deduplicated by response_id), the request log
// and the counters. Everything handed out is a copy, so tests cannot change the server's view by accident.

function copy(value) {
  return JSON.parse(JSON.stringify(value));
}

export class IngestState {
  #records = [];
  #resultById = new Map();
  #requests = [];
  #counters = null;

  constructor() {
    this.clear();
  }

  /** Forgets every record, logged request and counter. */
  clear() {
    this.#records = [];
    this.#resultById = new Map();
    this.#requests = [];
    this.#counters = { requests: 0, accepted: 0, duplicates: 0, rejected: 0, preflights: 0, byStatus: {} };
  }

  /** The reply given when `responseId` was first stored, or undefined when it never was. */
  storedResult(responseId) {
    const result = this.#resultById.get(responseId);
    return result === undefined ? undefined : copy(result);
  }

  /** Stores `record` as received, remembering the `result` it was answered with (repeated for duplicates). */
  store(record, result) {
    this.#records.push(copy(record));
    this.#resultById.set(result.response_id, copy(result));
    this.#counters.accepted += 1;
  }

  /** Counts a record answered again without being stored. */
  countDuplicate() {
    this.#counters.duplicates += 1;
  }

  /** Counts records answered with status "error" (invalid, or injected errors). */
  countRejected(n) {
    this.#counters.rejected += n;
  }

  /** Counts an OPTIONS preflight (not in the request log). */
  countPreflight() {
    this.#counters.preflights += 1;
  }

  /** Appends one /track request to the log (status null = no reply was sent). */
  logRequest(entry) {
    this.#requests.push(copy(entry));
    this.#counters.requests += 1;
    const key = entry.status === null ? 'none' : String(entry.status);
    this.#counters.byStatus[key] = (this.#counters.byStatus[key] ?? 0) + 1;
  }

  /** Stored records in accept order, as parsed JSON. */
  accepted() {
    return copy(this.#records);
  }

  /** Every /track request (except preflights) in arrival order. */
  requests() {
    return copy(this.#requests);
  }

  /** `{ requests, accepted, duplicates, rejected, preflights, byStatus }`. */
  stats() {
    return copy(this.#counters);
  }
}
