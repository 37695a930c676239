// A Tracker written in plain JavaScript that keeps the contract the fuzz checks (coded errors only, promises that
// settle at once, never a throw from stats/close/free), for fuzz-oracle.test.mjs: the oracle must pass it, and fail
// each of its deliberately broken variants. It reads user values defensively and reads every one of them (so the
// generator's getters, traps and huge arrays run), calls anonymizers (so re-entrant calls happen), and never
// touches the network or a store.

function coded(code, message = code) {
  const e = new Error(message);
  e.name = 'AicmError';
  e.code = code;
  return e;
}

/** Reads `value` deeply like a validating importer would; throws a coded error for whatever it refuses. */
function readDeep(value, depth = 0, seen = new Set()) {
  if (depth > 64) throw coded('E_TOO_DEEP');
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'symbol' || typeof value === 'bigint' || typeof value === 'function') throw coded('E_UNSUPPORTED_VALUE');
    if (typeof value === 'number' && !Number.isFinite(value)) throw coded('E_NON_FINITE_NUMBER');
    return;
  }
  if (seen.has(value)) throw coded('E_CYCLIC_VALUE');
  seen.add(value);
  let keys;
  try {
    if (Array.isArray(value)) {
      const n = value.length;
      if (typeof n !== 'number' || n > 100000) throw coded('E_RECORD_TOO_LARGE');
      for (let i = 0; i < n; i += 1) readDeep(value[i], depth + 1, seen);
    } else {
      keys = Object.keys(value);
      if (keys.length > 100000) throw coded('E_RECORD_TOO_LARGE');
      for (const k of keys) readDeep(value[k], depth + 1, seen);
    }
  } catch (e) {
    if (isOwnError(e)) throw e;
    throw coded('E_INVALID_USAGE', 'a value threw when read');
  } finally {
    seen.delete(value);
  }
}

function isOwnError(e) {
  try {
    return e instanceof Error && e.name === 'AicmError';
  } catch {
    return false; // a hostile Proxy thrown by user code
  }
}

const guard = (code, fn) => {
  try {
    return fn();
  } catch (e) {
    if (isOwnError(e)) throw e;
    throw coded(code);
  }
};

const REPORT = Object.freeze({ sent: 0, deadLettered: 0, retryLater: 0, remaining: 0, durability: 'memory' });

/**
 * The fake. `broken` (for the oracle's own test) makes one method misbehave: "uncodedThrow" (track throws a
 * TypeError), "hangingFlush" (a persistent-queue flush with a short deadline never settles), "rejectingDeadLetters", "trap" (track throws a
 * WebAssembly.RuntimeError), "unhandled" (track leaves an unhandled rejection behind). Also returns a
 * `memoryStore` the fake never calls (the generator builds its hostile stores on it).
 */
export function fakePackage(broken = null) {
  class Tracker {
    constructor(options) {
      this.closed = false;
      this.queued = 0;
      this.queue = guard('E_INVALID_OPTION', () => {
        if (options === undefined || options === null || typeof options !== 'object') throw coded('E_MISSING_API_KEY');
        for (const k of Object.keys(options)) void options[k];
        return options.deliveryType === 'persistent_queue';
      });
    }

    track(serviceKey, usage, options) {
      if (broken === 'uncodedThrow') throw new TypeError('broken fake');
      if (broken === 'trap') throw new WebAssembly.RuntimeError('unreachable');
      if (broken === 'unhandled') Promise.reject(new Error('left unhandled'));
      if (this.closed) throw coded('E_TRACKER_CLOSED');
      if (typeof serviceKey !== 'string' || serviceKey === '') throw coded('E_INVALID_SERVICE_KEY');
      guard('E_INVALID_USAGE', () => readDeep(usage));
      guard('E_INVALID_OPTION', () => {
        if (options === undefined || options === null) return;
        readDeep(options);
      });
      this.queued += 1;
      return this.queue ? { responseId: '0'.repeat(32) } : Promise.resolve({ responseId: '0'.repeat(32), status: 'queued', errors: [], error: null });
    }

    trackBatch(records, options) {
      if (this.closed) throw coded('E_TRACKER_CLOSED');
      const n = guard('E_INVALID_BATCH', () => {
        if (!Array.isArray(records)) throw coded('E_INVALID_BATCH');
        const length = records.length;
        if (length > 10000) throw coded('E_BATCH_TOO_LARGE');
        for (let i = 0; i < length; i += 1) readDeep(records[i]);
        readDeep(options);
        return length;
      });
      return this.queue ? { responseIds: new Array(n).fill('0'.repeat(32)) } : Promise.resolve({ results: [] });
    }

    flush(options) {
      guard('E_INVALID_OPTION', () => {
        if (options === undefined || options === null) return;
        const d = options.deadlineMs;
        if (d !== undefined && (typeof d !== 'number' || !(d >= 0 && d <= 600000))) throw coded('E_INVALID_OPTION');
      });
      const sent = this.queue ? this.queued : 0;
      this.queued = 0;
      const short = this.queue && typeof options?.deadlineMs === 'number' && options.deadlineMs <= 40;
      return broken === 'hangingFlush' && short ? new Promise(() => {}) : Promise.resolve({ ...REPORT, sent });
    }

    stats() {
      return { queued: this.queued, inFlight: 0, durability: this.queue ? 'memory' : 'none' };
    }

    deadLetters() {
      return broken === 'rejectingDeadLetters' ? Promise.reject(coded('E_X')) : Promise.resolve([]);
    }

    requeueDeadLetters(ids) {
      guard('E_INVALID_OPTION', () => readDeep(ids));
      return Promise.resolve(0);
    }

    purgeDeadLetters(ids) {
      return this.requeueDeadLetters(ids);
    }

    setCustomerKey(key) {
      guard('E_INVALID_CUSTOMER_KEY', () => readDeep(key));
    }

    setContext(context) {
      guard('E_INVALID_CONTEXT', () => readDeep(context));
    }

    setAnonymizeFields(fields) {
      guard('E_INVALID_OPTION', () => readDeep(fields));
    }

    setAnonymizer(fn) {
      if (fn !== null && typeof fn !== 'function') throw coded('E_INVALID_OPTION');
      if (typeof fn === 'function') {
        try {
          const out = fn('value', 'secret');
          out?.then?.(() => {}, () => {});
        } catch {
          // fails closed
        }
      }
    }

    close() {
      this.closed = true;
      return Promise.resolve({ ...REPORT });
    }

    free() {}
  }
  /** A store the fake never calls: enough for the generator, which builds hostile stores from it. */
  function memoryStore() {
    const ok = async () => {};
    return { durability: 'memory', consistent: true, put: ok, list: async () => [], delete: ok, lock: async (_name, fn) => fn() };
  }
  return { Tracker, memoryStore };
}
