// The Workers KV store: a persistent outbox for Cloudflare Workers that respects KV's limits (one write per
// second per key, eventual consistency, billing per write/delete/list). Layout in ./kv-segments.js.
import {
  decodeSegment,
  directoryOf,
  encodeSegment,
  freshId,
  parseSegmentKey,
  planSegments,
  segmentKey,
} from './kv-segments.js';
import { forEachLimited } from './pool.js';
import { checkEntries, checkKeys, checkPrefix } from './validate.js';

/** How long KV may hide a write from `list` or show a deleted key (KV says up to 60 s), with a margin. */
const KV_LAG_MS = 120_000;
/** KV calls one store call runs at once (a Worker has 6 simultaneous connections). */
const PARALLEL = 6;
/** KV operations one Worker invocation may make: 1,000 on the paid plan, 50 on the free plan. */
export const KV_OPERATIONS_PAID = 1000;
export const KV_OPERATIONS_FREE = 50;
/**
 * The default `maxOperations` of one store: half the paid plan's budget, the other half left to the user's own KV
 * use. On the free plan pass `maxOperations: 25` (or less).
 */
export const DEFAULT_MAX_OPERATIONS = 500;
/** The default expiration: 30 days, well past the queue's default `maxAgeMs` (7 days). */
export const DEFAULT_TTL_SECONDS = 30 * 24 * 3600;
/**
 * The most list pages and segment reads one `list()` spends: 30 % of what the budget has left (the rest is for
 * the puts and the deletes of what gets delivered), and at most READS_PER_LIST reads: during an outage each request
 * would otherwise re-read a large share of the backlog only to find it not due.
 */
const LIST_SHARE = 0.3;
const READS_PER_LIST = 50;

/** The last stamp handed out in this isolate: stamps (and entry versions) only go up, even within one ms. */
let lastStamp = 0;
function nextStamp() {
  lastStamp = Math.max(Date.now(), lastStamp + 1);
  return lastStamp;
}

/**
 * An outbox store in Cloudflare Workers KV: `kvStore(env.MY_KV)`. Use it for `deliveryType: "persistent_queue"`
 * in Workers, so records tracked in one request survive the isolate and are delivered by a later request or
 * isolate (`ctx.waitUntil(tracker.flush())`).
 *
 * How it uses KV (it never writes a key twice, so KV's one-write-per-second-per-key limit cannot bite):
 * - `put(entries)` is ONE KV write: a fresh "segment" key `<dir>~seg~<ms base36>-<uuid>` holding all entries
 *   as JSON, with `expirationTtl: ttlSeconds` (entries older than that vanish with their segment). Entries in
 *   different directories (key up to its last "/") go to one segment each; so does a put over ~25 MiB.
 * - `list(prefix)`: lists the prefix's directory over all pages (one KV list per 1000 keys) and reads each
 *   segment this isolate does not know yet (6 at a time; segments never change, so each is read once per
 *   isolate). A listed segment that is gone when read, or that this isolate deleted, is skipped. A segment this
 *   isolate wrote in the last two minutes that KV does not list yet is read (one KV read) and kept if it is
 *   still there, so a list right after a put sees it.
 * - `delete(keys)`: a segment whose entries are all deleted → one KV delete; a segment partly deleted → its
 *   remaining entries as ONE new segment (one write) and one delete of the old one. Keys in no segment this
 *   isolate has seen (put or listed) are ignored.
 * - Calls on one store run one after another. Rejects with KV's error when a KV call fails (nothing is lost: the
 *   tracker retries), with a RangeError when an entry cannot fit in KV (value > 25 MiB, key directory > ~460
 *   bytes) and with a TypeError for bad arguments.
 *
 * Guarantee: at least once. KV is eventually consistent (up to 60 s between locations) and has no lock, so two
 * isolates may list, send and delete the same record; a duplicate carries the same `response_id` and the
 * service keeps one. `consistent: false`, `durability: "persistent"`, no `lock`.
 *
 * Bounded (KV allows 1,000 operations per Worker invocation on the paid plan, 50 on the free plan; past it every
 * KV call throws): one store makes at most `maxOperations` KV calls in its life (create one store per request,
 * as `env` is per request), and past that its calls reject with a RangeError before touching KV (the tracker
 * retries later; nothing is lost). A `list()` spends at most 30 % of what is left and at most 50 reads (list pages while the
 * new segments they show can still be read, then those reads, oldest first), so the puts of the request's own records always fit; the
 * segments it leaves unread are read by a later request once older ones are delivered (`backlog()` reports
 * them). A backlog of any size costs each request a bounded number of operations and still drains.
 *
 * Expiry (`expirationTtl`, default 30 days) never deletes a record silently as long as requests come: keep it
 * above the tracker's `maxAgeMs` (default 7 days) so a failing record is dead-lettered by age first, and a
 * `list()` writes again (fresh key, fresh expiration) every segment it knows older than half the TTL, dead
 * letters included.
 *
 * @param {{ get: Function, put: Function, delete: Function, list: Function }} namespace a KV namespace binding
 * @param {{ ttlSeconds?: number, maxOperations?: number }} [options] `ttlSeconds`: expiration of every segment
 *   written; integer ≥ 60 (KV's minimum), default 2,592,000 (30 days). `maxOperations`: KV calls this store may
 *   make, 4..1000, default 500 (half the paid plan's 1,000 per invocation, the rest left to your own KV use); on
 *   the free plan (50 per invocation) pass 25 or less.
 * @returns {import('./index.js').OutboxStore}
 */
export function kvStore(namespace, { ttlSeconds = DEFAULT_TTL_SECONDS, maxOperations = DEFAULT_MAX_OPERATIONS } = {}) {
  for (const method of ['get', 'put', 'delete', 'list']) {
    if (typeof namespace?.[method] !== 'function') {
      throw new TypeError(`kvStore(namespace): not a KV namespace binding (no ${method}() method)`);
    }
  }
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 60) {
    throw new RangeError('kvStore: ttlSeconds must be an integer of at least 60 (KV expirationTtl minimum)');
  }
  if (!Number.isInteger(maxOperations) || maxOperations < 4 || maxOperations > KV_OPERATIONS_PAID) {
    throw new RangeError(
      `kvStore: maxOperations must be an integer from 4 to ${KV_OPERATIONS_PAID} (KV's operations per invocation: ` +
        `${KV_OPERATIONS_PAID} paid, ${KV_OPERATIONS_FREE} free)`,
    );
  }
  const writeOptions = { expirationTtl: ttlSeconds };
  /** Segments older than this are written again (fresh key, fresh expiration) when a list() reads them. */
  const refreshAfterMs = (ttlSeconds * 1000) / 2;
  let operations = 0;
  /** What the last list() saw: segments KV listed, those not read for the budget, whether the listing ended. */
  let lastListing = { listed: 0, unread: 0, complete: true };

  /** Counts one KV operation; throws (nothing done) when this store's budget is spent. */
  function spend() {
    if (operations >= maxOperations) {
      throw new RangeError(
        `kvStore: this store's KV operation budget is spent (maxOperations ${maxOperations}); what waits stays in KV for a later request`,
      );
    }
    operations += 1;
  }
  /** How many operations one list() may still spend: a share of what is left, so that puts always fit. */
  function listAllowance() {
    return Math.min(READS_PER_LIST, Math.floor((maxOperations - operations) * LIST_SHARE));
  }

  /** segment key → { dir, rows: [{ key, value, w }], writtenAt: ms when this isolate wrote it, or null } */
  const segments = new Map();
  /** entry key → Set of known segment keys holding it */
  const holders = new Map();
  /** segment key → { at, pending }: deleted by this isolate (pending: the KV delete has not succeeded yet) */
  const gone = new Map();
  let queue = Promise.resolve();

  function serial(fn) {
    const result = queue.then(fn);
    queue = result.catch(() => {});
    return result;
  }

  function remember(key, dir, rows, writtenAt) {
    segments.set(key, { dir, rows, writtenAt });
    for (const row of rows) {
      if (!holders.has(row.key)) holders.set(row.key, new Set());
      holders.get(row.key).add(key);
    }
  }

  function forget(key) {
    const segment = segments.get(key);
    if (!segment) return;
    segments.delete(key);
    for (const row of segment.rows) {
      const set = holders.get(row.key);
      set?.delete(key);
      if (set?.size === 0) holders.delete(row.key);
    }
  }

  async function writeSegment(dir, rows, text) {
    const key = segmentKey(dir, nextStamp(), freshId());
    spend();
    await namespace.put(key, text, writeOptions);
    remember(key, dir, rows, Date.now());
  }

  async function deleteSegment(key) {
    forget(key);
    gone.set(key, { at: Date.now(), pending: true });
    spend();
    await namespace.delete(key);
    gone.set(key, { at: Date.now(), pending: false });
  }

  /**
   * Drops memories older than KV's lag, and retries KV deletes that failed before (a retry that fails again
   * stays pending for the next call: it does not fail this one, whose own work is unrelated).
   */
  async function tidy() {
    const now = Date.now();
    for (const [key, mark] of gone) {
      if (!mark.pending && now - mark.at > KV_LAG_MS) gone.delete(key);
    }
    const pending = [...gone]
      .filter(([, mark]) => mark.pending)
      .map(([key]) => key)
      .slice(0, Math.max(0, Math.floor((maxOperations - operations) / 4)));
    await forEachLimited(pending, PARALLEL, deleteSegment).catch(() => {});
  }

  /**
   * The segment keys under `dir`, oldest first (KV lists keys in order; a segment key's stamp sorts by time), page
   * after page while the pages and the reads of the new segments found fit in `allowance` operations.
   * `complete` false: the listing stopped for the budget (the newest are not seen). `pages`: list calls made.
   */
  async function listSegmentKeys(dir, allowance) {
    const keys = [];
    let fresh = 0;
    let cursor;
    let pages = 0;
    while (pages === 0 || pages + 1 + fresh <= allowance) {
      pages += 1;
      spend();
      const listed = await namespace.list(cursor === undefined ? { prefix: dir } : { prefix: dir, cursor });
      for (const { name } of listed.keys) {
        if (!parseSegmentKey(name)) continue;
        keys.push(name);
        if (!segments.has(name) && !gone.has(name)) fresh += 1;
      }
      if (listed.list_complete || !listed.cursor) return { keys, complete: true, pages };
      cursor = listed.cursor;
    }
    return { keys, complete: false, pages };
  }

  function refreshOld(dir, now) {
    return refreshOldSegments({
      segments,
      dir,
      now,
      refreshAfterMs,
      budgetLeft: () => maxOperations - operations,
      rewrite: async (key, segment) => {
        await writeSegment(segment.dir, segment.rows, encodeSegment(segment.rows));
        await deleteSegment(key);
      },
    });
  }

  return {
    durability: 'persistent',
    consistent: false,

    async put(entries) {
      const latest = new Map(checkEntries(entries).map((entry) => [entry.key, entry.value]));
      if (latest.size === 0) return;
      return serial(async () => {
        await tidy();
        const w = nextStamp();
        const planned = planSegments([...latest].map(([key, value]) => ({ key, value, w })));
        for (const { dir, rows, text } of planned) await writeSegment(dir, rows, text);
      });
    },

    async list(prefix) {
      checkPrefix(prefix);
      return serial(async () => {
        await tidy();
        const dir = directoryOf(prefix);
        // At most a share of the budget: list pages, then reads (oldest first), leaving the rest for puts.
        let allowance = Math.max(1, listAllowance());
        const { keys: listedKeys, complete, pages } = await listSegmentKeys(dir, allowance);
        allowance -= pages;
        const listed = new Set(listedKeys);
        const newest = listedKeys.length ? listedKeys[listedKeys.length - 1] : '';
        const now = Date.now();
        const unlistedOwn = [];
        for (const [key, segment] of segments) {
          if (!segment.dir.startsWith(dir) || listed.has(key)) continue;
          if (!complete && key > newest) continue; // past where the listing stopped: not known to be gone
          const recentlyOurs = segment.writtenAt !== null && now - segment.writtenAt < KV_LAG_MS;
          if (recentlyOurs) unlistedOwn.push(key); // KV may not list it yet: ask for it
          else forget(key); // deleted elsewhere or expired
        }
        const checked = unlistedOwn.slice(0, Math.max(0, allowance));
        allowance -= checked.length;
        await forEachLimited(checked, PARALLEL, async (key) => {
          spend();
          if ((await namespace.get(key)) === null) forget(key); // deleted by another isolate
        });
        // Oldest first; what the budget leaves unread is read by a later list() (after older ones are delivered).
        const unknown = listedKeys.filter((key) => !segments.has(key) && !gone.has(key));
        const reading = unknown.slice(0, Math.max(0, allowance));
        lastListing = { listed: listedKeys.length, unread: unknown.length - reading.length, complete };
        await forEachLimited(reading, PARALLEL, async (key) => {
          spend();
          const text = await namespace.get(key);
          if (text === null) return; // deleted since it was listed (KV lists lag)
          const rows = decodeSegment(text);
          if (rows) remember(key, parseSegmentKey(key).dir, rows, null); // else not readable here: left alone
        });
        await refreshOld(dir, now);
        return newestEntries(segments, dir, prefix);
      });
    },

    /**
     * What this store knows of the KV outbox, for monitoring: `operations` spent of `maxOperations`; `segments`
     * and `entries` known (read or written by this store); what its last list() saw: `listedSegments`,
     * `unreadSegments` (listed but not read, for the budget) and `listComplete` (false: more segments wait
     * beyond the listing's pages). Waiting in KV is at least `entries` plus one or more per unread segment.
     */
    backlog() {
      let entries = 0;
      for (const segment of segments.values()) entries += segment.rows.length;
      return {
        operations,
        maxOperations,
        segments: segments.size,
        entries,
        listedSegments: lastListing.listed,
        unreadSegments: lastListing.unread,
        listComplete: lastListing.complete,
      };
    },

    async delete(keys) {
      const doomed = new Set(checkKeys(keys));
      return serial(async () => {
        await tidy();
        const affected = new Set();
        for (const key of doomed) for (const segmentKeyHolding of holders.get(key) ?? []) affected.add(segmentKeyHolding);
        await forEachLimited([...affected], PARALLEL, async (key) => {
          const segment = segments.get(key);
          if (!segment) return;
          const remaining = segment.rows.filter((row) => !doomed.has(row.key));
          if (remaining.length) await writeSegment(segment.dir, remaining, encodeSegment(remaining));
          await deleteSegment(key);
        });
      });
    },
  };
}

/**
 * Never expires silently: a known segment under `dir` older than half its expiration is written again (one put,
 * one delete) while the budget allows, so a record that waits, dead letters included, keeps a fresh
 * `expirationTtl` as long as requests come. Failures are left for a later list().
 */
async function refreshOldSegments({ segments, dir, now, refreshAfterMs, budgetLeft, rewrite }) {
  const old = [...segments]
    .filter(([key, segment]) => segment.dir.startsWith(dir) && now - (parseSegmentKey(key)?.stamp ?? now) > refreshAfterMs)
    .slice(0, Math.max(0, Math.floor(budgetLeft() / 4)));
  for (const [key, segment] of old) {
    try {
      await rewrite(key, segment);
    } catch {
      return;
    }
  }
}

/** Per entry key starting with `prefix`, the value of its newest put among the known segments under `dir`. */
function newestEntries(segments, dir, prefix) {
  const best = new Map();
  for (const [segmentKeyName, segment] of segments) {
    if (!segment.dir.startsWith(dir)) continue;
    for (const row of segment.rows) {
      if (!row.key.startsWith(prefix)) continue;
      const current = best.get(row.key);
      if (!current || row.w > current.w || (row.w === current.w && segmentKeyName > current.segment)) {
        best.set(row.key, { value: row.value, w: row.w, segment: segmentKeyName });
      }
    }
  }
  return Array.from(best, ([key, { value }]) => ({ key, value }));
}
