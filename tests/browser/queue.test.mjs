// The persistent queue in headless Chromium: the packed package's browser entry, Trackers with deliveryType
// "persistent_queue" on indexedDbStore(), delivering to the real ingest server (in-process, CORS on) across page
// reloads, dropped trackers, closed tabs, two tabs and two trackers on one IndexedDB, IndexedDB missing or
// failing, pagehide, and an ingest outage. Every case checks by response id that nothing is lost and nothing is
// delivered twice; a control case on a store without lock() shows that the duplicate checks do catch double sends.
// The pagehide cases flush with { keepalive: true }, which sends from memory at once and writes the records,
// leased, to IndexedDB in the pagehide task; the gate (gate.mjs) holds the keepalive request until the test has
// looked at what the next page finds, so no case depends on when a request lands. Self-contained:
// queue-support.mjs starts the servers and the browser, closed in `after`.
// Needs the packed package in tests/js/node_modules (scripts/build-pkg, then `unpack_pkg_into tests/js`).

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';

import {
  KEY,
  acceptedIds,
  assertDeliveredOnce,
  ids,
  idsInBody,
  repeated,
  sentIds,
  startQueueBrowser,
  storedIds,
} from './queue-support.mjs';

let env;
let ingest;

before(async () => {
  env = await startQueueBrowser();
  ingest = env.ingest;
});
after(() => env?.close());
beforeEach(() => {
  ingest.reset();
  env.gate.fail();
  env.gate.open();
});

const DELIVERED_ALL = (sent, durability = 'persistent') => ({ sent, deadLettered: 0, retryLater: 0, remaining: 0, durability });

/** Creates tracker `name` in `page` and tracks `list` in one tick; resolves once their store write is done. */
async function trackSaved(page, name, options, list) {
  const stats = await page.evaluate(
    async ([n, o, l]) => {
      window.queue.make(n, o);
      window.queue.track(n, l);
      return window.queue.saved(n);
    },
    [name, options, list],
  );
  assert.equal(stats.unsaved, 0);
  return stats;
}

/** The queued and dead-lettered ids in `dbName` as `page` reads them straight from IndexedDB. */
async function stored(page, dbName) {
  return storedIds(await page.evaluate((d) => window.queue.rawEntries(d), dbName));
}

/** A new tracker `name` in `page` on `options`, flushed once; resolves to the flush report. */
function makeAndFlush(page, name, options, flushOptions) {
  return page.evaluate(
    ([n, o, f]) => {
      window.queue.make(n, o);
      return window.queue.flush(n, f);
    },
    [name, options, flushOptions],
  );
}

describe('records outlive the page that tracked them', () => {
  test('tracked, page reloaded before any flush: a new tracker after the reload delivers each record once', async () => {
    const page = await env.openPage();
    try {
      const options = env.trackerOptions({ dbName: 'reload' });
      const tracked = ids('reload', 25);
      const stats = await trackSaved(page, 'first', options, tracked);
      assert.equal(stats.queued, 25);
      assert.equal(stats.durability, 'persistent');
      const rows = await page.evaluate(() => window.queue.rawEntries('reload'));
      assert.deepEqual(storedIds(rows), { queued: tracked, dead: [] });
      assert.ok(rows.every((row) => !row.value.includes(KEY) && !row.key.includes(KEY)), 'the API key reached the store');
      assert.equal(ingest.requests().length, 0, 'something was sent before any flush');

      await env.reload(page);
      assert.deepEqual(await makeAndFlush(page, 'second', options), DELIVERED_ALL(25));
      assertDeliveredOnce(ingest, tracked, { resends: false });
      assert.deepEqual(await stored(page, 'reload'), { queued: [], dead: [] });
      const after = await page.evaluate(() => window.queue.stats('second'));
      assert.deepEqual([after.queued, after.inFlight, after.sent, after.durability], [0, 0, 25, 'persistent']);
    } finally {
      await page.close();
    }
  });

  test('tracker dropped without flush or close: a new tracker in the same page delivers its records once', async () => {
    const page = await env.openPage();
    try {
      const options = env.trackerOptions({ dbName: 'dropped' });
      const tracked = ids('dropped', 12);
      await trackSaved(page, 'dropped', options, tracked);
      assert.equal(await page.evaluate(() => window.queue.drop('dropped')), true);
      assert.deepEqual(await makeAndFlush(page, 'next', options), DELIVERED_ALL(12));
      assertDeliveredOnce(ingest, tracked, { resends: false });
      assert.deepEqual(await stored(page, 'dropped'), { queued: [], dead: [] });
    } finally {
      await page.close();
    }
  });

  test('tab closed with records queued and no flush: a tracker in a new tab delivers them once', async () => {
    const options = env.trackerOptions({ dbName: 'closed-tab' });
    const tracked = ids('closed-tab', 10);
    const first = await env.openPage();
    await trackSaved(first, 'first', options, tracked);
    await first.close({ runBeforeUnload: false });
    const second = await env.openPage();
    try {
      assert.deepEqual(await stored(second, 'closed-tab'), { queued: tracked, dead: [] });
      assert.deepEqual(await makeAndFlush(second, 'second', options), DELIVERED_ALL(10));
      assertDeliveredOnce(ingest, tracked, { resends: false });
    } finally {
      await second.close();
    }
  });
});

describe('several trackers draining one IndexedDB', () => {
  test('two tabs with records of both flush at the same time: each record sent once, by one of them', async (t) => {
    const a = await env.openPage();
    const b = await env.openPage();
    try {
      // Small batches and a slow server make the drains long enough to overlap.
      ingest.setFaults({ always: { kind: 'slow', delayMs: 15 } });
      const options = env.trackerOptions({ dbName: 'tabs', maxBatchSize: 5 });
      const fromA = ids('tab-a', 60);
      const fromB = ids('tab-b', 40);
      await trackSaved(a, 'a', options, fromA);
      await trackSaved(b, 'b', options, fromB);
      const [reportA, reportB] = await Promise.all([
        a.evaluate(() => window.queue.flush('a')),
        b.evaluate(() => window.queue.flush('b')),
      ]);
      t.diagnostic(`tab A sent ${reportA.sent}, tab B sent ${reportB.sent}`);
      assert.equal(reportA.sent + reportB.sent, 100, `sent ${reportA.sent} + ${reportB.sent}`);
      for (const report of [reportA, reportB]) {
        assert.deepEqual([report.deadLettered, report.retryLater, report.remaining], [0, 0, 0]);
      }
      assertDeliveredOnce(ingest, [...fromA, ...fromB], { resends: false });
      assert.deepEqual(await stored(b, 'tabs'), { queued: [], dead: [] });
      for (const [page, name] of [[a, 'a'], [b, 'b']]) {
        const stats = await page.evaluate((n) => window.queue.stats(n), name);
        assert.deepEqual([stats.queued, stats.inFlight, stats.deadLettered], [0, 0, 0], `tab ${name}: ${JSON.stringify(stats)}`);
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('control: the same two tabs on a store without lock() do send records twice (the checks above can fail)', async () => {
    const a = await env.openPage();
    const b = await env.openPage();
    try {
      // Both drains list the store before the first reply (100 ms) lets either delete anything.
      ingest.setFaults({ always: { kind: 'slow', delayMs: 100 } });
      const options = env.trackerOptions({ dbName: 'tabs-unlocked', maxBatchSize: 25, withoutLock: true });
      const fromA = ids('unlocked-a', 60);
      const fromB = ids('unlocked-b', 40);
      await trackSaved(a, 'a', options, fromA);
      await trackSaved(b, 'b', options, fromB);
      await Promise.all([a.evaluate(() => window.queue.flush('a')), b.evaluate(() => window.queue.flush('b'))]);
      assert.ok(repeated(sentIds(ingest)).length > 0, 'without a lock no record went out twice: the duplicate check is blind');
      assert.ok(ingest.stats().duplicates > 0);
      // At least once: the server keeps one of each.
      assert.deepEqual(ingest.accepted().map((r) => r.response_id).sort(), [...fromA, ...fromB].sort());
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('tab A flushes while tab B tracks more; then both flush again: every record sent once', async (t) => {
    const a = await env.openPage();
    const b = await env.openPage();
    try {
      ingest.setFaults({ always: { kind: 'slow', delayMs: 15 } });
      const options = env.trackerOptions({ dbName: 'tabs-busy', maxBatchSize: 5 });
      const fromA = ids('busy-a', 60);
      const fromB = ids('busy-b', 50);
      await trackSaved(a, 'a', options, fromA);
      await b.evaluate((o) => window.queue.make('b', o), options);

      const flushA = a.evaluate(() => window.queue.flush('a'));
      // B starts tracking once A's drain has reached the server, in five ticks spread over the drain (12 slow requests).
      while (ingest.requests().length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      await b.evaluate(async (list) => {
        for (let i = 0; i < list.length; i += 10) {
          window.queue.track('b', list.slice(i, i + 10));
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
        return window.queue.saved('b');
      }, fromB);
      const first = await flushA;
      const [reportA, reportB] = await Promise.all([
        a.evaluate(() => window.queue.flush('a')),
        b.evaluate(() => window.queue.flush('b')),
      ]);
      t.diagnostic(`A's first flush sent ${first.sent}; then A ${reportA.sent}, B ${reportB.sent}`);
      const total = first.sent + reportA.sent + reportB.sent;
      assert.equal(total, 110, `sent ${first.sent}, then ${reportA.sent} + ${reportB.sent}`);
      for (const report of [first, reportA, reportB]) assert.deepEqual([report.deadLettered, report.retryLater], [0, 0]);
      assert.deepEqual([reportA.remaining, reportB.remaining], [0, 0]);
      assertDeliveredOnce(ingest, [...fromA, ...fromB], { resends: false });
      assert.deepEqual(await stored(a, 'tabs-busy'), { queued: [], dead: [] });
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('two trackers in one page, each with its own indexedDbStore on one database, flushing together, twice', async () => {
    const page = await env.openPage();
    try {
      ingest.setFaults({ always: { kind: 'slow', delayMs: 10 } });
      const options = env.trackerOptions({ dbName: 'one-page', maxBatchSize: 4 });
      const all = [];
      for (const round of [1, 2]) {
        const forOne = ids(`page-one-r${round}`, 30);
        const forTwo = ids(`page-two-r${round}`, 30);
        all.push(...forOne, ...forTwo);
        const reports = await page.evaluate(
          async ([o, l1, l2, make]) => {
            if (make) {
              window.queue.make('one', o);
              window.queue.make('two', o);
            }
            window.queue.track('one', l1);
            window.queue.track('two', l2);
            await Promise.all([window.queue.saved('one'), window.queue.saved('two')]);
            return Promise.all([window.queue.flush('one'), window.queue.flush('two')]);
          },
          [options, forOne, forTwo, round === 1],
        );
        assert.equal(reports[0].sent + reports[1].sent, 60, `round ${round}: ${JSON.stringify(reports)}`);
        for (const report of reports) assert.deepEqual([report.deadLettered, report.retryLater, report.remaining], [0, 0, 0]);
      }
      assertDeliveredOnce(ingest, all, { resends: false });
      assert.deepEqual(await stored(page, 'one-page'), { queued: [], dead: [] });
    } finally {
      await page.close();
    }
  });
});

describe('IndexedDB unavailable: memory, reported, records still delivered', () => {
  test('window.indexedDB deleted: store, stats() and flush() say "memory"; the records are delivered', async () => {
    const page = await env.openPage(() => {
      delete window.indexedDB;
    });
    try {
      assert.equal(await page.evaluate(() => typeof indexedDB), 'undefined');
      const options = env.trackerOptions({ dbName: 'missing' });
      const tracked = ids('no-idb', 8);
      const store = await page.evaluate((o) => window.queue.make('t', o), options);
      assert.deepEqual(store, { durability: 'memory', fallbackReason: 'indexedDB is not available in this context', consistent: true });
      await page.evaluate(([l]) => window.queue.track('t', l), [tracked]);
      assert.equal((await page.evaluate(() => window.queue.stats('t'))).durability, 'memory');
      assert.deepEqual(await page.evaluate(() => window.queue.flush('t')), DELIVERED_ALL(8, 'memory'));
      const stats = await page.evaluate(() => window.queue.stats('t'));
      assert.deepEqual([stats.durability, stats.queued, stats.sent], ['memory', 0, 8]);
      assertDeliveredOnce(ingest, tracked, { resends: false });
    } finally {
      await page.close();
    }
  });

  test('indexedDB.open throwing (private mode): memory from the first store call on, with the reason', async () => {
    const page = await env.openPage(() => {
      IDBFactory.prototype.open = function open() {
        throw new DOMException('The user denied permission to access the database.', 'SecurityError');
      };
    });
    try {
      const options = env.trackerOptions({ dbName: 'denied' });
      const tracked = ids('denied', 8);
      const created = await page.evaluate((o) => window.queue.make('t', o), options);
      assert.equal(created.durability, 'persistent', 'the database is opened on first use, not at creation');
      await page.evaluate(([l]) => window.queue.track('t', l), [tracked]);
      await page.evaluate(() => window.queue.saved('t'));
      assert.deepEqual(await page.evaluate(() => window.queue.flush('t')), DELIVERED_ALL(8, 'memory'));
      const stats = await page.evaluate(() => window.queue.stats('t'));
      assert.deepEqual([stats.durability, stats.queued, stats.sent], ['memory', 0, 8]);
      const store = await page.evaluate(() => window.queue.store('t'));
      assert.equal(store.durability, 'memory');
      assert.match(store.fallbackReason, /could not be opened: SecurityError: The user denied/);
      assertDeliveredOnce(ingest, tracked, { resends: false });
    } finally {
      await page.close();
    }
  });
});

describe('flush({ keepalive: true }) while a normal drain runs', () => {
  test('a drain waiting for the lock: the keepalive flush sends at once; the drain then sends nothing twice', { timeout: 30_000 }, async () => {
    const page = await env.openPage();
    try {
      const options = env.trackerOptions({ dbName: 'ka-lock', closedLock: true });
      const tracked = ids('ka-lock', 6);
      await trackSaved(page, 't', options, tracked);
      // The drain waits for the store's lock (another tab draining, say) until the test opens it.
      await page.evaluate(() => window.queue.start('t', 'drain'));
      const report = await page.evaluate(() => window.queue.flush('t', { keepalive: true }));
      assert.deepEqual(report, DELIVERED_ALL(6), 'the keepalive flush waited for the drain, or sent nothing');
      await page.evaluate(() => window.queue.openLock('t'));
      assert.deepEqual(await page.evaluate(() => window.queue.settled('drain')), DELIVERED_ALL(0));
      assertDeliveredOnce(ingest, tracked, { resends: false });
      assert.deepEqual(await stored(page, 'ka-lock'), { queued: [], dead: [] });
    } finally {
      await page.close();
    }
  });

  test('a drain with a batch in flight: the keepalive flush sends at once only what that batch does not carry', { timeout: 30_000 }, async () => {
    const page = await env.openPage();
    const { gate } = env;
    try {
      gate.hold();
      const options = env.trackerOptions({ dbName: 'ka-flight', apiBase: gate.url, timeoutMs: 20_000 });
      const first = ids('ka-flight-a', 10);
      const more = ids('ka-flight-b', 5);
      await trackSaved(page, 't', options, first);
      await page.evaluate(() => window.queue.start('t', 'drain'));
      const [drainBatch] = await gate.held(1);
      assert.deepEqual(idsInBody(drainBatch.bodyText), first);
      // Tracked while that batch is in flight, and flushed with keepalive in the same task.
      await page.evaluate((list) => {
        window.queue.track('t', list);
        window.queue.start('t', 'keepalive', { keepalive: true });
      }, more);
      const held = await gate.held(2);
      assert.deepEqual(idsInBody(held[1].bodyText), more, 'the keepalive request carries the new records only');
      await gate.release((body) => body.includes(more[0]));
      const keepalive = await page.evaluate(() => window.queue.settled('keepalive'));
      assert.deepEqual(keepalive, { ...DELIVERED_ALL(5), remaining: 10 }, 'the batch in flight is still out');
      await gate.release();
      assert.deepEqual(await page.evaluate(() => window.queue.settled('drain')), DELIVERED_ALL(10));
      assertDeliveredOnce(ingest, [...first, ...more], { resends: false });
      assert.deepEqual(await stored(page, 'ka-flight'), { queued: [], dead: [] });
    } finally {
      await page.close();
    }
  });
});

describe('pagehide: flush({ keepalive: true }) while the page goes away', () => {
  /** A product that never sends fails rather than hangs (gate.held waits for the keepalive request). */
  const PAGEHIDE_TEST = { timeout: 60_000 };
  /** A page loaded this long after the first page left: past the lease its keepalive request left (25 s here). */
  const LATER_MS = 60_000;
  const laterClock = `{ const realNow = Date.now; Date.now = () => realNow() + ${LATER_MS}; }`;

  /**
   * Tracks 15 records in page 1 and navigates away, with a pagehide handler that flushes with keepalive, while
   * the gate holds every request. `when`: "saved" (navigate once the store write is done), "same-task" (track and
   * navigate in one task, the database already opened by an earlier record) or "same-task-cold" (the same, as
   * the page's first store use). With page 1's keepalive request held in the gate (sent, not landed):
   *   - page 2 finds every record in IndexedDB, those the request carries with their lease: nothing lost;
   *   - page 2's flush does not send those again.
   * Then the request lands (`fate` "land") or is lost ("lost"), and a page loaded after the lease delivers what
   * the server does not have: in the end every record is accepted, once, and IndexedDB is empty.
   */
  async function pagehideCase({ dbName, prefix, when, keepaliveFetch = false, fate = 'land' }) {
    const { gate } = env;
    gate.hold();
    // A lease (timeoutMs + 5 s) that outlasts any slowness of page 2 below: only the shifted clock ends it.
    const options = env.trackerOptions({ dbName, keepaliveFetch, apiBase: gate.url, timeoutMs: 20_000 });
    const page = await env.openPage();
    let later;
    try {
      const tracked = ids(prefix, 15);
      const earlier = `${prefix}-earlier`;
      await page.evaluate(async ([o, warm, first]) => {
        window.queue.make('t', o);
        addEventListener('pagehide', () => {
          window.queue.flush('t', { deadlineMs: 2000, keepalive: true });
        });
        if (warm) {
          window.queue.track('t', [first]);
          await window.queue.saved('t');
        }
      }, [options, when === 'same-task', earlier]);
      const expected = (when === 'same-task' ? [earlier, ...tracked] : tracked).sort();
      if (when === 'saved') {
        await page.evaluate(([l]) => {
          window.queue.track('t', l);
          return window.queue.saved('t');
        }, [tracked]);
        await env.goto(page, '/?next');
      } else {
        const navigated = page.waitForURL(/\?next$/);
        await page.evaluate(([l]) => {
          window.queue.track('t', l);
          location.href = '/?next';
        }, [tracked]);
        await navigated;
        await env.ready(page);
      }
      const [request] = await gate.held(1);
      assert.deepEqual(idsInBody(request.bodyText).sort(), expected, 'the pagehide keepalive request');

      // What page 1 left: IndexedDB, and over it the spill of a put made before the database was open (the
      // next list() moves it into IndexedDB).
      const byKey = new Map((await page.evaluate((d) => window.queue.rawEntries(d), dbName)).map((row) => [row.key, row]));
      for (const row of await page.evaluate((d) => window.queue.rawSpills(d), dbName)) byKey.set(row.key, row);
      const rows = [...byKey.values()];
      const left = storedIds(rows);
      const leased = rows.filter((row) => JSON.parse(row.value).due > Date.now()).map((row) => storedIds([row]).queued[0]);
      const unleased = left.queued.filter((id) => !leased.includes(id));
      assert.deepEqual(left, { queued: expected, dead: [] }, 'records lost with the page: neither in IndexedDB nor spilled');
      assert.deepEqual(unleased, [], 'records sent with keepalive but stored without a lease');

      gate.open();
      const report = await makeAndFlush(page, 'next', options, { deadlineMs: 5000 });
      const next = { sent: unleased.length, deadLettered: 0, retryLater: 0, remaining: leased.length, durability: 'persistent' };
      assert.deepEqual(report, next);
      assert.deepEqual(sentIds(ingest).sort(), unleased, 'the next page sent again what the keepalive request carries');

      if (fate === 'land') await gate.release();
      else gate.fail();
      assert.deepEqual(acceptedIds(ingest).sort(), fate === 'land' ? expected : unleased);

      later = await env.openPage(laterClock);
      const last = await makeAndFlush(later, 'later', options);
      assert.deepEqual(last, DELIVERED_ALL(leased.length));
      assert.deepEqual(await stored(later, dbName), { queued: [], dead: [] });
      assert.deepEqual(await later.evaluate((d) => window.queue.rawSpills(d), dbName), []);
      // Every record accepted once. Past the lease a page cannot know whether the keepalive request landed, so
      // it sends those records again: a duplicate the service answers and does not count.
      assert.deepEqual(repeated(acceptedIds(ingest)), []);
      assert.deepEqual([...acceptedIds(ingest)].sort(), expected);
      assert.equal(ingest.stats().duplicates, fate === 'land' ? leased.length + unleased.length : 0);
    } finally {
      await page.close();
      await later?.close();
    }
  }

  test('records saved before leaving: none lost, none sent again by the next page', PAGEHIDE_TEST, async () => {
    await pagehideCase({ dbName: 'pagehide', prefix: 'hide', when: 'saved' });
  });

  test('records saved before leaving, fetch with keepalive: the same', PAGEHIDE_TEST, async () => {
    await pagehideCase({ dbName: 'pagehide-ka', prefix: 'hide-ka', when: 'saved', keepaliveFetch: true });
  });

  test('tracked in the same task as the navigation, database already open: none lost, none sent again', PAGEHIDE_TEST, async () => {
    await pagehideCase({ dbName: 'pagehide-now', prefix: 'hide-now', when: 'same-task' });
  });

  test('tracked in the same task as the navigation, as the page\'s first store use: none lost, none sent again', PAGEHIDE_TEST, async () => {
    await pagehideCase({ dbName: 'pagehide-cold', prefix: 'hide-cold', when: 'same-task-cold' });
  });

  test('the keepalive request lost with the page: a page after the lease delivers its records, once', PAGEHIDE_TEST, async () => {
    await pagehideCase({ dbName: 'pagehide-lost', prefix: 'hide-lost', when: 'same-task', fate: 'lost' });
  });
});

describe('ingest down during a flush (every request 503)', () => {
  test('records stay queued and in IndexedDB across a reload, then a new tracker delivers them once it recovers and their stored retry time has come', async () => {
    const page = await env.openPage();
    try {
      // Retry-After 1 s, past the first flush's deadline: one attempt, and the retry time is stored with the
      // records, so the tracker of the reloaded page waits for it (it does not retry at once).
      ingest.setFaults({ always: { status: 503, retryAfter: '1' } });
      const options = env.trackerOptions({ dbName: 'outage' });
      const tracked = ids('outage', 20);
      await trackSaved(page, 't', options, tracked);
      const report = await page.evaluate(() => window.queue.flush('t', { deadlineMs: 500 }));
      assert.deepEqual(report, { sent: 0, deadLettered: 0, retryLater: 20, remaining: 20, durability: 'persistent' });
      const requests = ingest.requests();
      assert.ok(requests.length >= 1);
      assert.deepEqual([...new Set(requests.map((r) => r.status))], [503]);
      assert.deepEqual(ingest.accepted(), []);
      const stats = await page.evaluate(() => window.queue.stats('t'));
      assert.deepEqual([stats.queued, stats.inFlight, stats.sent, stats.deadLettered], [20, 0, 0, 0]);

      await env.reload(page);
      const rows = await page.evaluate(() => window.queue.rawEntries('outage'));
      assert.deepEqual(storedIds(rows), { queued: tracked, dead: [] });
      assert.ok(rows.every((row) => JSON.parse(row.value).attempts === 1), 'the failed attempt was not written back');
      assert.ok(rows.every((row) => JSON.parse(row.value).due > 0), 'the retry time was not written back');

      ingest.setFaults(null);
      assert.deepEqual(await makeAndFlush(page, 'after', options), DELIVERED_ALL(20));
      assertDeliveredOnce(ingest, tracked);
      assert.deepEqual(await stored(page, 'outage'), { queued: [], dead: [] });
    } finally {
      await page.close();
    }
  });

  test('the same tracker delivers them on a later flush once the server is back (Retry-After honoured)', async () => {
    const page = await env.openPage();
    try {
      ingest.setFaults({ always: { status: 503, retryAfter: '1' } });
      const options = env.trackerOptions({ dbName: 'outage-same', maxRetryAfterMs: 1000 });
      const tracked = ids('outage-same', 10);
      await trackSaved(page, 't', options, tracked);
      const down = await page.evaluate(() => window.queue.flush('t', { deadlineMs: 300 }));
      assert.deepEqual(down, { sent: 0, deadLettered: 0, retryLater: 10, remaining: 10, durability: 'persistent' });
      assert.deepEqual(await stored(page, 'outage-same'), { queued: tracked, dead: [] });
      const failedRequests = ingest.requests().length;

      ingest.setFaults(null);
      assert.deepEqual(await page.evaluate(() => window.queue.flush('t', { deadlineMs: 10_000 })), DELIVERED_ALL(10));
      assert.equal(ingest.requests().filter((r) => r.status === 503).length, failedRequests);
      assertDeliveredOnce(ingest, tracked);
      assert.equal(repeated(sentIds(ingest, { processedOnly: true })).length, 0);
      assert.deepEqual(await stored(page, 'outage-same'), { queued: [], dead: [] });
    } finally {
      await page.close();
    }
  });
});

test('no uncaught errors in any page', () => {
  assert.deepEqual(env.pageErrors.map(String), []);
});
