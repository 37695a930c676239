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
 * @param {{ get: Function, put: Function, delete: Function, list: Function }} namespace a KV namespace binding
 * @param {{ ttlSeconds?: number }} [options] expiration of every segment written; integer ≥ 60 (KV's minimum)
 * @returns {import('./index.js').OutboxStore}
 */
export function kvStore(namespace, { ttlSeconds = 7 * 24 * 3600 } = {}) {
  for (const method of ['get', 'put', 'delete', 'list']) {
    if (typeof namespace?.[method] !== 'function') {
      throw new TypeError(`kvStore(namespace): not a KV namespace binding (no ${method}() method)`);
    }
  }
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 60) {
    throw new RangeError('kvStore: ttlSeconds must be an integer of at least 60 (KV expirationTtl minimum)');
  }
  const writeOptions = { expirationTtl: ttlSeconds };

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
    await namespace.put(key, text, writeOptions);
    remember(key, dir, rows, Date.now());
  }

  async function deleteSegment(key) {
    forget(key);
    gone.set(key, { at: Date.now(), pending: true });
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
    const pending = [...gone].filter(([, mark]) => mark.pending).map(([key]) => key);
    await forEachLimited(pending, PARALLEL, deleteSegment).catch(() => {});
  }

  async function listSegmentKeys(dir) {
    const keys = [];
    let cursor;
    for (;;) {
      const page = await namespace.list(cursor === undefined ? { prefix: dir } : { prefix: dir, cursor });
      for (const { name } of page.keys) {
        if (parseSegmentKey(name)) keys.push(name);
      }
      if (page.list_complete || !page.cursor) return keys;
      cursor = page.cursor;
    }
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
        const listed = new Set(await listSegmentKeys(dir));
        const now = Date.now();
        const unlistedOwn = [];
        for (const [key, segment] of segments) {
          if (!segment.dir.startsWith(dir) || listed.has(key)) continue;
          const recentlyOurs = segment.writtenAt !== null && now - segment.writtenAt < KV_LAG_MS;
          if (recentlyOurs) unlistedOwn.push(key); // KV may not list it yet: ask for it
          else forget(key); // deleted elsewhere or expired
        }
        await forEachLimited(unlistedOwn, PARALLEL, async (key) => {
          if ((await namespace.get(key)) === null) forget(key); // deleted by another isolate
        });
        const unknown = [...listed].filter((key) => !segments.has(key) && !gone.has(key));
        await forEachLimited(unknown, PARALLEL, async (key) => {
          const text = await namespace.get(key);
          if (text === null) return; // deleted since it was listed (KV lists lag)
          const rows = decodeSegment(text);
          if (rows) remember(key, parseSegmentKey(key).dir, rows, null); // else not readable here: left alone
        });
        return newestEntries(segments, dir, prefix);
      });
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
