// Reads the persistent queue's outbox straight from a Workers KV namespace (Miniflare's `getKVNamespace`), so tests
// can see what waits in KV without going through the library. Decodes kvStore's layout (pkg-template/stores/
// kv-segments.js): KV keys `<dir>~seg~<stamp>-<uuid>` whose values are `{"v":1,"e":[[entryKey, value, w], ...]}`;
// when several segments hold the same entry key, the one put last (highest w) is the entry's value. Entry keys are
// the outbox's `aicm/v1/<fingerprint>/q/<response_id>` (queued) and `.../d/<response_id>` (dead letters).

const SEGMENT_KEY = /~seg~[0-9a-z]{1,12}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ENTRY_KEY = /^aicm\/v1\/([0-9a-f]{16})\/(q|d)\/(.+)$/;

/** Every key in `kv`, over all list pages. */
export async function listAllKeys(kv) {
  const names = [];
  let cursor;
  for (;;) {
    const page = await kv.list(cursor === undefined ? {} : { cursor });
    names.push(...page.keys.map((k) => k.name));
    if (page.list_complete || !page.cursor) return names;
    cursor = page.cursor;
  }
}

/**
 * What the outbox in `kv` holds now:
 *   segments   how many segment keys KV lists
 *   queued     [{ responseId, attempts, created, record }] records waiting to be sent, by response_id
 *   dead       [{ responseId, attempts, reason, status, errors, record }] dead letters
 *   otherKeys  KV keys that are not segments (none expected)
 * Throws when a segment or an entry cannot be decoded (the layout changed: the test must be updated).
 */
export async function readKvOutbox(kv) {
  const names = await listAllKeys(kv);
  const segmentKeys = names.filter((name) => SEGMENT_KEY.test(name));
  const newest = new Map(); // entry key → { w, value }
  for (const name of segmentKeys) {
    const text = await kv.get(name);
    if (text === null) continue; // deleted since listed
    const segment = JSON.parse(text);
    if (segment?.v !== 1 || !Array.isArray(segment.e)) throw new Error(`KV segment ${name} has an unknown layout: ${text.slice(0, 200)}`);
    for (const [key, value, w] of segment.e) {
      const seen = newest.get(key);
      if (!seen || w > seen.w) newest.set(key, { w, value });
    }
  }
  const queued = [];
  const dead = [];
  for (const [key, { value }] of newest) {
    const match = ENTRY_KEY.exec(key);
    if (!match) throw new Error(`KV outbox entry with an unknown key: ${key}`);
    const stored = JSON.parse(value);
    const responseId = match[3];
    if (match[2] === 'q') {
      queued.push({ responseId, attempts: stored.attempts, created: stored.created, record: stored.record });
    } else {
      dead.push({
        responseId,
        attempts: stored.attempts,
        reason: stored.reason,
        status: stored.status,
        errors: stored.errors,
        record: stored.record,
      });
    }
  }
  return {
    segments: segmentKeys.length,
    queued,
    dead,
    otherKeys: names.filter((name) => !SEGMENT_KEY.test(name)),
  };
}
