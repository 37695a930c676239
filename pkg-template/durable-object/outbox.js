// AicmOutbox: the Durable Object that holds a Worker's records and delivers them, driven by its alarm.
// A plain class (constructor(state, env), fetch, alarm): workerd runs it as a Durable Object without
// `cloudflare:workers`, so every entry of the package can export it and still load in Node and browsers.
import { Tracker } from '../wasm/aicostmanager_edge.js';
import { durableObjectStorageStore } from './storage.js';
import { ROUTE } from './limits.js';

/**
 * Tracker options the object uses unless `AICM_OUTBOX_OPTIONS` (or `outboxOptions()`) says otherwise, over the
 * persistent queue's defaults (unlimited attempts for outages, backoff windows 2 s … 5 min, dead letters only
 * past `maxAgeMs`, 7 days): a larger backlog than a per-request tracker's, as one object takes every producer's
 * records. 100,000 records (about 5.5 hours of outage at 5 requests/s) and 64 MiB keep the object's memory well
 * under the isolate's 128 MB (the outbox holds its records in memory too); shard for more.
 */
export const OUTBOX_DEFAULTS = Object.freeze({
  maxQueueSize: 100_000,
  maxQueueBytes: 64 * 1024 * 1024,
});

/** The object's own settings (not tracker options), with their defaults. */
export const OUTBOX_SETTINGS = Object.freeze({
  /** New records set the alarm this far ahead (unless one is due sooner), so many requests make one POST. */
  coalesceMs: 1_000,
  /** How long one alarm's flush may send (then the next alarm goes on). */
  flushDeadlineMs: 15_000,
  /** When something unexpected failed in an alarm: try again this much later. */
  retryAlarmMs: 30_000,
});

const SETTING_NAMES = Object.keys(OUTBOX_SETTINGS);
/** Options the object sets itself. */
const OWN_OPTIONS = ['deliveryType', 'store', 'sink', 'apiKey', 'apiBase', 'fetch', 'proxy'];

function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

function errorReply(error) {
  const code = typeof error?.code === 'string' ? error.code : 'E_OUTBOX';
  const message = String(error?.message ?? error);
  const status = code === 'E_QUEUE_FULL' ? 503
    : ['E_INVALID_RECORD', 'E_BATCH_TOO_LARGE', 'E_INVALID_BATCH', 'E_INVALID_OPTION', 'E_BAD_REQUEST'].includes(code) ? 400
      : 500;
  return json(status, { error: { code, message } });
}

function badRequest(message) {
  const error = new Error(message);
  error.code = 'E_BAD_REQUEST';
  return error;
}

async function readJson(request) {
  const text = await request.text();
  try {
    return text === '' ? {} : JSON.parse(text);
  } catch {
    throw badRequest('the request body is not JSON');
  }
}

function idsOf(body) {
  const ids = body?.ids;
  if (ids === undefined || ids === null) return undefined;
  if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string')) throw badRequest('ids must be an array of strings');
  return ids;
}

/**
 * The Durable Object outbox. Re-export it from your Worker (`export { AicmOutbox } from "aicostmanager-edge"`)
 * and bind it (`[[durable_objects.bindings]] name = "AICM_OUTBOX", class_name = "AicmOutbox"`, with a
 * `new_sqlite_classes = ["AicmOutbox"]` migration). Producers reach it through `durableObjectSink(env.AICM_OUTBOX)`.
 *
 * Inside: one persistent-queue `Tracker` over the object's storage (`apiKey` from `env.AICM_API_KEY`, `apiBase`
 * from `env.AICM_API_BASE` when set, other tracker options from `env.AICM_OUTBOX_OPTIONS`, an object or its JSON
 * text, over `OUTBOX_DEFAULTS`; the object's own settings `coalesceMs`, `flushDeadlineMs`, `retryAlarmMs` go in
 * the same object). `alarm()` flushes and sets the next alarm to the outbox's next due time
 * (`stats().nextDueAt`): retries follow the core's backoff and the server's Retry-After, and a backlog drains
 * after an outage with no request at all. `alarm()` never throws.
 *
 * HTTP interface (paths under /aicm/outbox/; `durableObjectSink` and `durableObjectOutbox` call it):
 * POST records (a JSON array of record texts) → 200 `{ added, duplicates }` once stored; 400 malformed; 503 full
 * or storage failing. GET stats, GET dead-letters, POST dead-letters/requeue `{ ids? }`, POST
 * dead-letters/purge `{ ids? }`, POST flush.
 */
export class AicmOutbox {
  constructor(state, env) {
    this.state = state;
    this.env = env ?? {};
    this.tracker = null;
    this.settings = null;
    /** The alarm time as last set or read (undefined: not read yet; null: none). */
    this.alarmAt = undefined;
  }

  /**
   * Tracker options and object settings (`coalesceMs`, `flushDeadlineMs`, `retryAlarmMs`). Default: `AICM_OUTBOX_OPTIONS`
   * from the environment (an object, or its JSON text). Override it in a subclass to configure in code.
   */
  outboxOptions() {
    const raw = this.env.AICM_OUTBOX_OPTIONS;
    if (raw === undefined || raw === null || raw === '') return {};
    const options = typeof raw === 'string' ? JSON.parse(raw) : raw;
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw new TypeError('AICM_OUTBOX_OPTIONS must be an object (or its JSON text)');
    }
    return options;
  }

  /** The object's tracker, built on first use (throws an AicmError when the options are unusable). */
  outboxTracker() {
    if (this.tracker) return this.tracker;
    const given = { ...this.outboxOptions() };
    const settings = { ...OUTBOX_SETTINGS };
    for (const name of SETTING_NAMES) {
      if (given[name] !== undefined) {
        const n = given[name];
        if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new TypeError(`AICM_OUTBOX_OPTIONS.${name} must be a number ≥ 0`);
        settings[name] = n;
      }
      delete given[name];
    }
    for (const name of OWN_OPTIONS) {
      if (given[name] !== undefined) throw new TypeError(`AICM_OUTBOX_OPTIONS.${name}: the outbox object sets ${name} itself`);
    }
    const options = {
      ...OUTBOX_DEFAULTS,
      ...given,
      deliveryType: 'persistent_queue',
      store: durableObjectStorageStore(this.state.storage),
      apiKey: this.env.AICM_API_KEY,
    };
    if (this.env.AICM_API_BASE) options.apiBase = this.env.AICM_API_BASE;
    this.tracker = new Tracker(options);
    this.settings = settings;
    return this.tracker;
  }

  async fetch(request) {
    try {
      const url = new URL(request.url);
      if (!url.pathname.startsWith(ROUTE)) return json(404, { error: { code: 'E_NOT_FOUND', message: `no route ${url.pathname}` } });
      const route = `${request.method} ${url.pathname.slice(ROUTE.length)}`;
      const tracker = this.outboxTracker();
      switch (route) {
        case 'POST records': {
          const records = await readJson(request);
          if (!Array.isArray(records)) throw badRequest('the body must be a JSON array of record texts');
          const taken = await tracker.enqueueRecords(records);
          if (taken.unsaved > 0) {
            const storeError = tracker.stats().storeError;
            return json(503, { error: { code: 'E_STORE', message: `the outbox storage failed: ${storeError}` } });
          }
          await this.scheduleAlarm(this.settings.coalesceMs);
          return json(200, { added: taken.added, duplicates: taken.duplicates });
        }
        case 'GET stats':
          return json(200, { ...tracker.stats(), alarmAt: await this.readAlarm() });
        case 'GET dead-letters':
          return json(200, await tracker.deadLetters());
        case 'POST dead-letters/requeue': {
          const requeued = await tracker.requeueDeadLetters(idsOf(await readJson(request)));
          await this.scheduleAlarm(0);
          return json(200, { requeued });
        }
        case 'POST dead-letters/purge':
          return json(200, { purged: await tracker.purgeDeadLetters(idsOf(await readJson(request))) });
        case 'POST flush': {
          const report = await tracker.flush({ deadlineMs: this.settings.flushDeadlineMs });
          await this.scheduleAlarm(0);
          return json(200, report);
        }
        default:
          return json(404, { error: { code: 'E_NOT_FOUND', message: `no route ${route}` } });
      }
    } catch (error) {
      return errorReply(error);
    }
  }

  /**
   * Sets a safety alarm (`retryAlarmMs` ahead: should the object die mid-flush, that alarm runs the flush again),
   * flushes what is due, then sets the alarm to the outbox's next due time (none when nothing waits). Never throws.
   */
  async alarm() {
    this.alarmAt = null; // the alarm that fired is gone
    let retryMs = OUTBOX_SETTINGS.retryAlarmMs;
    try {
      const tracker = this.outboxTracker();
      retryMs = this.settings.retryAlarmMs;
      await this.setAlarm(Date.now() + retryMs);
      await tracker.flush({ deadlineMs: this.settings.flushDeadlineMs });
      await this.scheduleAlarm(this.settings.coalesceMs, true);
    } catch (error) {
      console.error(`AicmOutbox alarm: ${error?.code ?? ''} ${error?.message ?? error}; next alarm in ${retryMs} ms`);
      try {
        await this.setAlarm(Date.now() + retryMs);
      } catch {
        // Nothing more can be done here; the next request sets the alarm again.
      }
    }
  }

  async setAlarm(at) {
    await this.state.storage.setAlarm(at);
    this.alarmAt = at;
  }

  async readAlarm() {
    if (this.alarmAt === undefined) this.alarmAt = await this.state.storage.getAlarm();
    return this.alarmAt;
  }

  /**
   * Sets the alarm to the outbox's next due time, but at least `minDelayMs` from now (coalescing), unless an
   * alarm is set already for that time or sooner. With `replace` (after a flush), a later alarm replaces the
   * one set, and none is left when nothing waits.
   */
  async scheduleAlarm(minDelayMs, replace = false) {
    const due = this.outboxTracker().stats().nextDueAt;
    const current = await this.readAlarm();
    if (due === null || due === undefined) {
      if (replace && current !== null) {
        await this.state.storage.deleteAlarm();
        this.alarmAt = null;
      }
      return;
    }
    const at = Math.max(due, Date.now() + minDelayMs);
    if (current !== null && (replace ? current === at : current <= at)) return;
    await this.setAlarm(at);
  }
}
