// Faults the ingest server can be told to inject into POST /track, and the plan that hands them out.
//
// Spec: { queue: [fault, ...], always: fault | null }   (both optional; null/undefined spec = no faults)
// A fault is one of
//   { status: 500, body?, headers?, retryAfter? }   answer that status (any 200..599), nothing validated or stored;
//                                                   body default {"detail":"Injected fault"} (a string body is sent as-is)
//   { kind: 'drop', afterAccept?: false }           destroy the socket, no reply; with afterAccept the records are
//                                                   processed and stored first (reply lost after the server kept them)
//   { kind: 'slow', delayMs }                       process normally after delayMs; nothing at all if the client left
//   { kind: 'recordError', responseIds?, count? }   202 where the named records (or the first `count`, default 1)
//                                                   get status "error", errors ["Injected record error."], not stored
//   { kind: 'badJson' }                             process normally, but a 202 goes out as the body `{"results": [`
//   { kind: 'echoKey', status?: 401, perRecord? }   a careless server that echoes the caller's credentials: answers
//                                                   `status` (default 401) with a body holding the Authorization
//                                                   header, its token, a cut-off token and its URL-encoded form;
//                                                   with perRecord, a 202 where every record is an "error" whose
//                                                   message holds the token. Nothing is stored.
// `{ kind: 'status', status: ... }` is the long form of the first one.

export const FAULT_KINDS = Object.freeze(['status', 'drop', 'slow', 'recordError', 'badJson', 'echoKey']);
export const DEFAULT_FAULT_BODY = Object.freeze({ detail: 'Injected fault' });
export const INJECTED_RECORD_ERROR = 'Injected record error.';

const ALLOWED_KEYS = {
  status: ['kind', 'status', 'body', 'headers', 'retryAfter'],
  drop: ['kind', 'afterAccept'],
  slow: ['kind', 'delayMs'],
  recordError: ['kind', 'responseIds', 'count'],
  badJson: ['kind'],
  echoKey: ['kind', 'status', 'perRecord'],
};

function isPlainObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function fail(where, message) {
  throw new TypeError(`Invalid fault ${where}: ${message}`);
}

function normalizeStatus(fault, where) {
  const { status, headers = {}, retryAfter } = fault;
  if (!Number.isInteger(status) || status < 200 || status > 599) fail(where, 'status must be an integer 200..599');
  if (!isPlainObject(headers) || Object.values(headers).some((v) => typeof v !== 'string')) {
    fail(where, 'headers must be an object of strings');
  }
  const out = { kind: 'status', status, body: fault.body === undefined ? DEFAULT_FAULT_BODY : fault.body, headers: { ...headers } };
  if (retryAfter !== undefined) {
    if (typeof retryAfter !== 'string' && typeof retryAfter !== 'number') fail(where, 'retryAfter must be a string or number');
    out.headers['retry-after'] = String(retryAfter);
  }
  return out;
}

function normalizeRecordError(fault, where) {
  const { responseIds, count } = fault;
  if (responseIds !== undefined && count !== undefined) fail(where, 'give responseIds or count, not both');
  if (responseIds !== undefined) {
    if (!Array.isArray(responseIds) || responseIds.some((id) => typeof id !== 'string')) {
      fail(where, 'responseIds must be an array of strings');
    }
    return { kind: 'recordError', responseIds: [...responseIds], count: null };
  }
  const n = count === undefined ? 1 : count;
  if (!Number.isInteger(n) || n < 1) fail(where, 'count must be a positive integer');
  return { kind: 'recordError', responseIds: null, count: n };
}

/** Checks one fault and returns a fresh normalized copy; throws TypeError (message names `where`) when malformed. */
export function normalizeFault(fault, where = 'fault') {
  if (!isPlainObject(fault)) fail(where, 'must be an object');
  const kind = fault.kind ?? (fault.status !== undefined ? 'status' : undefined);
  if (!FAULT_KINDS.includes(kind)) fail(where, `unknown kind ${JSON.stringify(fault.kind)} (one of ${FAULT_KINDS.join(', ')})`);
  const extra = Object.keys(fault).filter((key) => !ALLOWED_KEYS[kind].includes(key));
  if (extra.length > 0) fail(where, `unexpected key(s) ${extra.join(', ')} for kind '${kind}'`);
  switch (kind) {
    case 'status':
      return normalizeStatus(fault, where);
    case 'drop':
      if (fault.afterAccept !== undefined && typeof fault.afterAccept !== 'boolean') fail(where, 'afterAccept must be a boolean');
      return { kind, afterAccept: fault.afterAccept === true };
    case 'slow':
      if (typeof fault.delayMs !== 'number' || !Number.isFinite(fault.delayMs) || fault.delayMs < 0) {
        fail(where, 'delayMs must be a non-negative number');
      }
      return { kind, delayMs: fault.delayMs };
    case 'recordError':
      return normalizeRecordError(fault, where);
    case 'echoKey': {
      const status = fault.status ?? 401;
      if (!Number.isInteger(status) || status < 200 || status > 599) fail(where, 'status must be an integer 200..599');
      if (fault.perRecord !== undefined && typeof fault.perRecord !== 'boolean') fail(where, 'perRecord must be a boolean');
      return { kind, status, perRecord: fault.perRecord === true };
    }
    default:
      return { kind };
  }
}

/** Checks a whole spec; returns `{ queue, always }` normalized, or throws TypeError. */
export function normalizeFaultSpec(spec) {
  if (spec === null || spec === undefined) return { queue: [], always: null };
  if (!isPlainObject(spec)) throw new TypeError('Invalid fault spec: must be an object { queue?, always? }');
  const extra = Object.keys(spec).filter((key) => key !== 'queue' && key !== 'always');
  if (extra.length > 0) throw new TypeError(`Invalid fault spec: unexpected key(s) ${extra.join(', ')}`);
  const queue = spec.queue ?? [];
  if (!Array.isArray(queue)) throw new TypeError('Invalid fault spec: queue must be an array');
  return {
    queue: queue.map((fault, i) => normalizeFault(fault, `queue[${i}]`)),
    always: spec.always === null || spec.always === undefined ? null : normalizeFault(spec.always, 'always'),
  };
}

/** The faults in force. Each POST /track takes `next()`: the head of the queue, else `always`, else null (normal). */
export class FaultPlan {
  #queue = [];
  #always = null;

  /** Replaces the current faults with `spec` (validated first: on TypeError the old plan stays). */
  replace(spec) {
    const { queue, always } = normalizeFaultSpec(spec);
    this.#queue = queue;
    this.#always = always;
  }

  /** Removes every fault. */
  clear() {
    this.#queue = [];
    this.#always = null;
  }

  /** Consumes and returns the fault for the next request, or null for normal behaviour. */
  next() {
    if (this.#queue.length > 0) return this.#queue.shift();
    return this.#always === null ? null : structuredClone(this.#always);
  }

  /** The pending faults, for inspection (`GET /__control/faults`). */
  describe() {
    return structuredClone({ queue: this.#queue, always: this.#always });
  }
}

/**
 * The reply of an `echoKey` fault for a request with this Authorization header and these records:
 * `{ status, body }` (body an object to send as JSON).
 */
export function echoKeyReply(fault, authorization, tracked) {
  const header = typeof authorization === 'string' ? authorization : '';
  const token = header.replace(/^bearer\s+/i, '');
  if (fault.perRecord) {
    const results = tracked.map((record) => ({
      response_id: record?.response_id ?? null,
      status: 'error',
      errors: [`API key ${token} may not track ${record?.response_id}`],
    }));
    return { status: 202, body: { results } };
  }
  return {
    status: fault.status,
    body: {
      detail: `Invalid API key ${token}.`,
      authorization: header,
      hint: `${token.slice(0, 14)}…`,
      retry: `https://example.invalid/track?key=${encodeURIComponent(token)}`,
    },
  };
}
