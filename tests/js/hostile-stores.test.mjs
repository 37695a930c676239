// deliveryType "persistent_queue" against stores and fetches that are broken or hostile (issue 6, defects 3, 4
// and 7): list() results that throw on length or an index or are revoked Proxies, methods that throw, reject
// with non-Errors, return thenables whose `then` throws, never answer; locks that never call back or never
// settle, another tracker holding the lock forever; a delete that fails once after a 202; a fetch refused by a
// closed port. Every flush must settle (by its deadline when the store never answers), nothing may escape as an
// uncaught exception, no record may be lost, and delivery errors must say the URL and the reason.
// Counts and states only: no assertion on elapsed time (each test has a limit that turns a hang into a failure).
// Run: node --test tests/js/hostile-stores.test.mjs   (after scripts/build-pkg and unpack_pkg_into tests/js)

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';

import { Tracker, memoryStore } from 'aicostmanager-edge';

import { startIngestServer } from '../ingest/server.mjs';
import { waitFor } from './support/wait.mjs';
import {
  KEY, SERVICE_KEY, acceptedIds, persistentStore, queueTracker, saved, sorted, trackMany, wireIds,
} from './support-queue/queue.mjs';

let ingest;
before(async () => {
  ingest = await startIngestServer({ apiKey: KEY });
});
after(() => ingest.close());
beforeEach(() => ingest.reset());

/** A limit per test: a flush that never settles fails its test instead of hanging the run. */
const LIMIT = { timeout: 20_000 };

const never = () => new Promise(() => {});

function assertAcceptedOnce(ids) {
  const accepted = acceptedIds(ingest);
  assert.equal(new Set(accepted).size, accepted.length, 'the server stored no record twice');
  assert.deepEqual(sorted(accepted), sorted(ids));
}

function allWireIds() {
  return wireIds(ingest).filter((ids) => ids !== null).flat();
}

/** A store over a persistentStore whose methods can be replaced per test (`overrides`), no lock. */
function storeWith(overrides = {}) {
  const base = persistentStore({ consistent: true });
  return { base, store: { durability: 'persistent', consistent: true, put: base.put, list: base.list, delete: base.delete, ...overrides } };
}

/** After the hostile part: the same process still tracks and delivers with a healthy tracker. */
async function stillWorks() {
  const tracker = queueTracker(ingest, { store: memoryStore() });
  const [id] = trackMany(tracker, 1, `after-${Math.random().toString(16).slice(2)}`);
  const report = await tracker.flush();
  assert.equal(report.sent, 1);
  assert.ok(acceptedIds(ingest).includes(id));
}

function revoked(target) {
  const { proxy, revoke } = Proxy.revocable(target, {});
  revoke();
  return proxy;
}

describe('list() results that throw when read (defect 3)', () => {
  const entry = () => ({ key: 'aicm/v1/0000000000000000/q/x', value: '{}' });
  const listings = [
    ['an array whose length throws', () => new Proxy([], { get(t, k) { if (k === 'length') throw new Error('length trap'); return Reflect.get(t, k); } })],
    ['an array whose index getter throws', () => { const a = [entry()]; Object.defineProperty(a, 0, { get() { throw new Error('index getter'); } }); return a; }],
    ['a Proxy whose index trap throws', () => new Proxy([entry(), entry()], { get(t, k) { if (k === '1') throw new Error('index trap'); return Reflect.get(t, k); } })],
    ['a revoked Proxy', () => revoked([])],
    ['an array of revoked Proxies', () => [revoked({}), revoked([])]],
  ];
  for (const [name, list] of listings) {
    it(`${name}: no uncaught exception, flush settles and delivers`, LIMIT, async () => {
      const { store } = storeWith({ list: async () => list() });
      const tracker = queueTracker(ingest, { store });
      const ids = trackMany(tracker, 2, 'hl');
      await saved(tracker);
      const report = await tracker.flush();
      assert.equal(report.sent, 2, JSON.stringify(report));
      assertAcceptedOnce(ids);
      await stillWorks();
    });
  }

  it('a listing whose length throws is reported in stats().storeError', LIMIT, async () => {
    const { store } = storeWith({ list: async () => new Proxy([], { get(t, k) { if (k === 'length') throw new Error('length trap'); return Reflect.get(t, k); } }) });
    const tracker = queueTracker(ingest, { store });
    assert.deepEqual(await tracker.deadLetters(), []); // after the first load: a listing, and nothing else
    assert.match(tracker.stats().storeError, /length.*length trap/);
    trackMany(tracker, 1, 'hs');
    assert.equal((await tracker.flush()).sent, 1);
  });
});

describe('store methods that throw, reject with non-Errors or answer with garbage', () => {
  const poisonedPromise = () => {
    const p = Promise.resolve();
    Object.defineProperty(p, 'constructor', { get() { throw new Error('constructor getter'); } });
    return p;
  };
  const behaviours = [
    ['throw synchronously', () => { throw new Error('sync throw'); }],
    ['throw a non-Error', () => { throw 42; }], // eslint-disable-line no-throw-literal
    ['reject with undefined', () => Promise.reject(undefined)],
    ['reject with null', () => Promise.reject(null)],
    ['reject with a revoked Proxy', () => Promise.reject(revoked({}))],
    ['reject with an object whose message getter throws', () => Promise.reject({ get message() { throw new Error('nested'); } })],
    ['return a thenable whose then getter throws', () => ({ get then() { throw new Error('then getter'); } })],
    ['return a thenable whose then throws', () => ({ then() { throw new Error('then throws'); } })],
    ['return a promise whose constructor getter throws', poisonedPromise],
    ['return a revoked Proxy', () => revoked({})],
    ['do the work but return a non-promise', (work) => { work(); return 42; }],
  ];
  for (const method of ['put', 'delete', 'list']) {
    for (const [name, behave] of behaviours) {
      it(`${method}() that does: ${name}: flush settles, nothing is lost`, LIMIT, async () => {
        const { base, store } = storeWith();
        store[method] = (arg) => behave(() => base[method](arg));
        const tracker = queueTracker(ingest, { store });
        const ids = trackMany(tracker, 2, `hm-${method}`);
        const report = await tracker.flush();
        assert.equal(report.sent, 2, JSON.stringify(report));
        assertAcceptedOnce(ids);
        const error = tracker.stats().storeError;
        assert.ok(error === null || typeof error === 'string', `storeError ${error}`);
        await stillWorks();
      });
    }
  }

  it('store methods behind getters that start throwing after construction', LIMIT, async () => {
    const base = persistentStore();
    let reads = 0;
    const store = {
      get put() { reads += 1; if (reads > 1) throw new Error('put getter'); return base.put; },
      list: base.list,
      get delete() { if (reads > 1) throw new Error('delete getter'); return base.delete; },
    };
    const tracker = queueTracker(ingest, { store });
    const ids = trackMany(tracker, 2, 'hg');
    const report = await tracker.flush();
    assert.equal(report.sent, 2);
    assertAcceptedOnce(ids);
    assert.match(tracker.stats().storeError, /getter/);
  });

  it('a rejection keeps its reason in stats().storeError (the cause: name, message, code)', LIMIT, async () => {
    const { store } = storeWith({ put: () => Promise.reject(Object.assign(new Error('disk on fire'), { code: 'EIO' })) });
    const tracker = queueTracker(ingest, { store });
    trackMany(tracker, 1, 'hr');
    await waitFor(() => tracker.stats().storeError !== null, 'the failed put');
    assert.match(tracker.stats().storeError, /^store\.put rejected: Error: disk on fire \[EIO\]$/);
    await tracker.flush();
  });
});

describe('a store that never answers (defect 4)', () => {
  for (const method of ['put', 'list', 'delete']) {
    it(`${method}() never settles: flush({ deadlineMs }) resolves, the records are kept; a later flush with a working store delivers them once`, LIMIT, async () => {
      let hang = true;
      const base = persistentStore({ consistent: true });
      const store = {
        durability: 'persistent',
        consistent: true,
        put: (entries) => (hang && method === 'put' ? never() : base.put(entries)),
        list: (prefix) => (hang && method === 'list' ? never() : base.list(prefix)),
        delete: (keys) => (hang && method === 'delete' ? never() : base.delete(keys)),
      };
      const tracker = queueTracker(ingest, { store, timeoutMs: 300 });
      const ids = trackMany(tracker, 3, `hn-${method}`);
      const report = await tracker.flush({ deadlineMs: 200 });
      if (method === 'delete') {
        assert.equal(report.sent, 3, 'delivered; only the deletes hang');
      } else {
        assert.equal(report.remaining, 3, JSON.stringify(report));
        assert.equal(report.sent, 0);
      }
      await waitFor(() => /did not answer within/.test(tracker.stats().storeError ?? ''), 'the store timeout reported');
      hang = false;
      const later = await tracker.flush();
      assert.equal(later.remaining, 0, JSON.stringify(later));
      assertAcceptedOnce(ids);
      await saved(tracker);
      await tracker.flush();
      assert.equal(base.entries.size, 0, 'the delivered records left the store');
      assert.equal(allWireIds().length, 3, 'each record went over the wire once');
    });
  }

  it('a lock() that never calls back: flush resolves by its deadline, records remaining, then delivered', LIMIT, async () => {
    let lockWorks = false;
    const base = persistentStore({ consistent: true });
    const store = { ...base, put: base.put, list: base.list, delete: base.delete, lock: (name, fn) => (lockWorks ? fn() : never()) };
    const tracker = queueTracker(ingest, { store });
    const ids = trackMany(tracker, 2, 'hk');
    const report = await tracker.flush({ deadlineMs: 200 });
    assert.deepEqual([report.sent, report.remaining], [0, 2]);
    lockWorks = true;
    const later = await tracker.flush();
    assert.equal(later.sent, 2);
    assertAcceptedOnce(ids);
  });

  it('a lock() that runs the drain but never settles: the flush still resolves with the drain report', LIMIT, async () => {
    const base = persistentStore({ consistent: true });
    const store = { ...base, put: base.put, list: base.list, delete: base.delete, lock: (name, fn) => { fn(); return never(); } };
    const tracker = queueTracker(ingest, { store });
    const ids = trackMany(tracker, 2, 'hks');
    const report = await tracker.flush({ deadlineMs: 5000 });
    assert.equal(report.sent, 2);
    assertAcceptedOnce(ids);
  });

  it('a lock() that throws or rejects: the flush drains without it', LIMIT, async () => {
    for (const lock of [() => { throw new Error('no locks here'); }, () => Promise.reject(7)]) {
      ingest.reset();
      const base = persistentStore({ consistent: true });
      const tracker = queueTracker(ingest, { store: { ...base, put: base.put, list: base.list, delete: base.delete, lock } });
      const ids = trackMany(tracker, 2, 'hkt');
      const report = await tracker.flush();
      assert.equal(report.sent, 2);
      assertAcceptedOnce(ids);
    }
  });

  it('two trackers on one store, one holding the drain lock: the other flush ends at its own deadline', LIMIT, async () => {
    // A mutex lock (one drain at a time, whatever the name), as memoryStore and IndexedDB have.
    let tail = Promise.resolve();
    const lock = (name, fn) => {
      const run = tail.then(() => fn());
      tail = run.catch(() => {});
      return run;
    };
    const base = persistentStore({ consistent: true });
    const store = { ...base, put: base.put, list: base.list, delete: base.delete, lock };
    let release;
    const gate = new Promise((resolve) => { release = resolve; });
    const holder = queueTracker(ingest, {
      store,
      timeoutMs: 600_000,
      fetch: async (url, init) => { await gate; return fetch(url, init); },
    });
    const waiter = queueTracker(ingest, { store });
    const held = trackMany(holder, 1, 'hold');
    await saved(holder);
    const holding = holder.flush({ deadlineMs: 600_000 });
    const ids = trackMany(waiter, 2, 'wait');
    const report = await waiter.flush({ deadlineMs: 200 });
    assert.equal(report.sent, 0);
    assert.ok(report.remaining >= 2, JSON.stringify(report));
    release();
    const holderReport = await holding;
    assert.ok(holderReport.sent >= 1, JSON.stringify(holderReport));
    const later = await waiter.flush();
    assert.equal(later.remaining, 0);
    assertAcceptedOnce([...held, ...ids]);
  });
});

describe('store writes after a 202 (defect 7)', () => {
  it('a delete that fails once after a 202 is retried in the flush: a new tracker does not resend', LIMIT, async () => {
    const base = persistentStore({ consistent: true });
    let failures = 1;
    const store = {
      ...base,
      put: base.put,
      list: base.list,
      delete: async (keys) => {
        if (failures > 0) {
          failures -= 1;
          throw new Error('delete failed (injected)');
        }
        return base.delete(keys);
      },
    };
    const first = queueTracker(ingest, { store });
    const ids = trackMany(first, 3, 'hd');
    await saved(first);
    const report = await first.flush();
    assert.equal(report.sent, 3);
    assert.equal(failures, 0, 'the delete did fail once');
    assert.equal(base.entries.size, 0, 'the retried delete emptied the store before flush() resolved');
    const next = queueTracker(ingest, { store }); // the next isolate
    const nextReport = await next.flush();
    assert.equal(nextReport.sent, 0);
    assert.equal(allWireIds().length, 3, 'no record was sent again');
    assertAcceptedOnce(ids);
  });

  it('a dead letter\'s put that fails once after a 202 is retried in the flush: its record is not resent', LIMIT, async () => {
    const base = persistentStore({ consistent: true });
    let failures = 0;
    const store = {
      ...base,
      put: async (entries) => {
        if (failures > 0 && entries.some(({ key }) => key.includes('/d/'))) {
          failures -= 1;
          throw new Error('put failed (injected)');
        }
        return base.put(entries);
      },
      list: base.list,
      delete: base.delete,
    };
    const tracker = queueTracker(ingest, { store });
    const [id] = trackMany(tracker, 1, 'hp');
    await saved(tracker);
    failures = 1;
    ingest.setFaults({ queue: [{ kind: 'recordError', responseIds: [id] }] });
    const report = await tracker.flush();
    assert.equal(report.deadLettered, 1);
    assert.equal(failures, 0, 'the dead letter\'s put did fail once');
    assert.equal(tracker.stats().unsaved, 0, 'the failed put was retried before flush() resolved');
    assert.deepEqual([...base.entries.keys()].map((k) => k.split('/').at(-2)), ['d'], 'the d/ key written, the q/ key gone');
    const next = queueTracker(ingest, { store }); // the next isolate
    assert.equal((await next.flush()).sent, 0);
    assert.equal(allWireIds().length, 1, 'the rejected record was not sent again');
  });
});

/** A TCP port nothing listens on: listen on a free one, then close it. */
async function closedPort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('delivery errors keep their cause (consolidation)', () => {
  it('immediate: a refused connection names the URL and ECONNREFUSED, with fetch\'s error as cause', async () => {
    const port = await closedPort();
    const tracker = new Tracker({ apiKey: KEY, apiBase: `http://127.0.0.1:${port}`, maxAttempts: 1 });
    const result = await tracker.track(SERVICE_KEY, { prompt_tokens: 1 });
    assert.equal(result.status, 'failed');
    assert.equal(result.error.code, 'E_NETWORK');
    assert.ok(result.error.message.includes(`http://127.0.0.1:${port}/api/v1/track`), result.error.message);
    assert.match(result.error.message, /ECONNREFUSED/);
    assert.ok(!result.error.message.includes(KEY), 'no API key in the message');
    assert.ok(result.error.cause instanceof Error, `cause ${result.error.cause}`);
    assert.equal(result.error.cause.cause?.code, 'ECONNREFUSED');
    const batch = await tracker.trackBatch([{ serviceKey: SERVICE_KEY, usage: { prompt_tokens: 1 } }]);
    assert.equal(batch.results[0].error.cause?.cause?.code, 'ECONNREFUSED');
  });

  it('queue: the dead letter of a refused record says the URL and ECONNREFUSED', LIMIT, async () => {
    const port = await closedPort();
    const tracker = new Tracker({
      // A network failure is dead-lettered by age only (never by attempts): a short maxAgeMs and backoff.
      apiKey: KEY, apiBase: `http://127.0.0.1:${port}`, deliveryType: 'persistent_queue', maxAttempts: 1,
      maxAgeMs: 1000, retryBaseDelayMs: 100, retryMaxDelayMs: 200,
    });
    tracker.track(SERVICE_KEY, { prompt_tokens: 1 });
    const report = await tracker.flush();
    assert.equal(report.deadLettered, 1);
    const [letter] = await tracker.deadLetters();
    assert.ok(letter.reason.includes(`http://127.0.0.1:${port}/api/v1/track`), letter.reason);
    assert.match(letter.reason, /ECONNREFUSED/);
  });
});
