// indexedDbStore() of the packed package in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core;
// no browser is downloaded): the shared OutboxStore contract (store-contract.mjs) on real IndexedDB and on the
// memory fallback, data surviving a reload, two tabs sharing one store with lock() excluding across them, and
// the fallbacks (indexedDB missing, open throwing, transactions failing after writes). Self-contained: starts a
// static server and the browser, closes both in `after`. Needs the packed package in tests/js/node_modules
// (scripts/build-pkg, then `source scripts/lib/common.sh && unpack_pkg_into tests/js`).

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { packageDir, startStaticServer } from './static-server.mjs';
import { storeContract } from './store-contract.mjs';
import { CHROMIUM, CHROMIUM_ARGS, chromium } from './chromium.mjs';



let server;
let context;
let userDataDir;
const pageErrors = [];

before(async () => {
  assert.ok(existsSync(join(packageDir, 'package.json')), `${packageDir} missing: build and unpack the package first`);
  server = await startStaticServer();
  userDataDir = await mkdtemp(join(tmpdir(), 'aicm-idb-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
});

after(async () => {
  await context?.close();
  await server?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

/** A new tab on the test page, with `initScript` run before any page script; resolves once the harness is ready. */
async function openPage(initScript) {
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err));
  if (initScript) await page.addInitScript(initScript);
  await page.goto(`${server.origin}/`);
  await page.waitForFunction(() => window.harnessReady === true, null, { timeout: 10_000 });
  return page;
}

/** Registers one node:test per contract case, each run in `page()` against indexedDbStore(options). */
function contractTests(page, options, expectDurability, expectReason) {
  for (const { name } of storeContract) {
    test(name, async () => {
      const result = await page().evaluate(([n, o]) => window.runCase(n, o), [name, options]);
      assert.ok(result.ok, result.message);
      assert.equal(result.durability, expectDurability);
      if (expectReason) assert.match(result.fallbackReason, expectReason);
      else assert.equal(result.fallbackReason, undefined);
    });
  }
}

describe('indexedDbStore(): the OutboxStore contract on IndexedDB', () => {
  let page;
  before(async () => {
    page = await openPage();
  });
  after(() => page?.close());
  contractTests(() => page, { dbName: 'contract' }, 'persistent');

  test('the database is opened on first use, not when the store is created; one object { key, value } per entry', async () => {
    const seen = await page.evaluate(async () => {
      const names = async () => (await indexedDB.databases()).map((d) => d.name);
      const store = window.pkg.indexedDbStore({ dbName: 'lazy', storeName: 'box' });
      const before = await names();
      await store.put([{ key: 'q/1', value: 'one' }, { key: 'q/2', value: 'two' }]);
      const afterPut = await names();
      const raw = await new Promise((resolve, reject) => {
        const open = indexedDB.open('lazy');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const request = db.transaction('box').objectStore('box').getAll();
          request.onsuccess = () => {
            resolve({ rows: request.result, keyPath: db.transaction('box').objectStore('box').keyPath });
            db.close();
          };
        };
      });
      return { before, afterPut, raw, durability: store.durability, consistent: store.consistent };
    });
    assert.ok(!seen.before.includes('lazy'), 'the database existed before the first call');
    assert.ok(seen.afterPut.includes('lazy'));
    assert.deepEqual(seen.raw, { rows: [{ key: 'q/1', value: 'one' }, { key: 'q/2', value: 'two' }], keyPath: 'key' });
    assert.equal(seen.durability, 'persistent');
    assert.equal(seen.consistent, true);
  });

  test('a second store name in an existing database is added by an upgrade, keeping the first', async () => {
    const listed = await page.evaluate(async () => {
      const first = window.pkg.indexedDbStore({ dbName: 'two-stores', storeName: 'a' });
      await first.put([{ key: 'k', value: 'in a' }]);
      const second = window.pkg.indexedDbStore({ dbName: 'two-stores', storeName: 'b' });
      await second.put([{ key: 'k', value: 'in b' }]);
      return { a: await first.list(''), b: await second.list(''), reasons: [first.fallbackReason, second.fallbackReason] };
    });
    assert.deepEqual(listed, { a: [{ key: 'k', value: 'in a' }], b: [{ key: 'k', value: 'in b' }], reasons: [undefined, undefined] });
  });
});

describe('indexedDbStore(): persistence and tabs', () => {
  test('entries survive a page reload', async () => {
    const page = await openPage();
    try {
      await page.evaluate(async () => {
        const store = window.pkg.indexedDbStore({ dbName: 'reload' });
        await store.put([{ key: 'aicm/v1/f/q/1', value: '{"a":1}' }, { key: 'aicm/v1/f/q/2', value: '{"a":2}' }]);
        await store.delete(['aicm/v1/f/q/2']);
      });
      await page.reload();
      await page.waitForFunction(() => window.harnessReady === true);
      const after = await page.evaluate(async () => {
        const store = window.pkg.indexedDbStore({ dbName: 'reload' });
        return { entries: await store.list('aicm/v1/f/'), durability: store.durability };
      });
      assert.deepEqual(after, { entries: [{ key: 'aicm/v1/f/q/1', value: '{"a":1}' }], durability: 'persistent' });
    } finally {
      await page.close();
    }
  });

  /**
   * A put made before the database is open (spilled), its transaction held behind another connection's, then a
   * second put of the same key once the database is open; `clockBack` sets Date.now back an hour between them.
   */
  async function spillOrderCase(dbName, clockBack) {
    const page = await openPage();
    try {
      const seen = await page.evaluate(async ([dbName, clockBack]) => {
        const spillPrefix = `aicostmanager-edge:spill:${dbName}/outbox:`;
        const spills = () => Object.keys(localStorage).filter((t) => t.startsWith(spillPrefix)).sort();
        const open = () =>
          new Promise((resolve, reject) => {
            const request = indexedDB.open(dbName);
            request.onupgradeneeded = () => request.result.createObjectStore('outbox', { keyPath: 'key' });
            request.onsuccess = () => resolve(request.result);
            request.onerror = () => reject(request.error);
          });
        // Another connection holds a readwrite transaction (kept alive by a chain of requests): the store's
        // writes wait behind it, as a write waits for its commit while the page goes away.
        const blocker = await open();
        const tx = blocker.transaction('outbox', 'readwrite');
        const blocked = tx.objectStore('outbox');
        let hold = true;
        const spin = () => {
          if (hold) blocked.get('none').onsuccess = spin;
        };
        spin();
        const blockerDone = new Promise((resolve) => {
          tx.oncomplete = resolve;
        });
        const store = window.pkg.indexedDbStore({ dbName });
        const older = store.put([{ key: 'q/1', value: 'older' }]); // the database not open yet: spilled
        // Opens are served in order: once this one succeeds, the store's database is open and the older put's
        // transaction waits behind the blocker.
        (await open()).close();
        if (clockBack) {
          const realNow = Date.now;
          Date.now = () => realNow() - 3_600_000;
        }
        const newer = store.put([{ key: 'q/1', value: 'newer' }]);
        // What a page going away now leaves for the next one's list(): the spills, replayed oldest first.
        const replayed = spills().flatMap((token) => JSON.parse(localStorage.getItem(token)));
        hold = false;
        await Promise.all([older, newer, blockerDone]);
        blocker.close();
        return { replayed, spillsLeft: spills().length, listed: await store.list('q/') };
      }, [dbName, clockBack]);
      assert.equal(seen.replayed.at(-1)?.value, 'newer', `replaying the spills ends on an older write: ${JSON.stringify(seen.replayed)}`);
      assert.deepEqual(seen.listed, [{ key: 'q/1', value: 'newer' }]);
      assert.equal(seen.spillsLeft, 0, 'a spill was not dropped once IndexedDB had its write');
    } finally {
      await page.close();
    }
  }

  test('a put while an earlier put is spilled and not yet in IndexedDB is spilled after it: replayed, the newer write stays', async () => {
    await spillOrderCase('spill-order', false);
  });

  test('the same with the clock set back between the two puts', async () => {
    await spillOrderCase('spill-order-clock', true);
  });

  test('a put made while the page goes away (pagehide, database open) is spilled too, until IndexedDB has it; after pageshow it is not', async () => {
    const page = await openPage();
    try {
      const seen = await page.evaluate(async () => {
        const spillPrefix = 'aicostmanager-edge:spill:spill-leaving/outbox:';
        const spills = () => Object.keys(localStorage).filter((t) => t.startsWith(spillPrefix)).length;
        const store = window.pkg.indexedDbStore({ dbName: 'spill-leaving' });
        await store.put([{ key: 'q/1', value: 'open' }]); // the database is open from here on
        const out = {};
        // A handler that flushes runs as the page goes away: the store's capture listener has seen the event.
        addEventListener('pagehide', () => {
          const put = store.put([{ key: 'q/1', value: 'leaving' }]);
          out.inHandler = spills();
          out.leaving = put;
        });
        dispatchEvent(new PageTransitionEvent('pagehide', { persisted: true }));
        await out.leaving;
        out.afterWrite = spills();
        dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }));
        const back = store.put([{ key: 'q/1', value: 'back' }]);
        out.afterShow = spills();
        await back;
        return { inHandler: out.inHandler, afterWrite: out.afterWrite, afterShow: out.afterShow, listed: await store.list('q/') };
      });
      assert.deepEqual(seen, { inHandler: 1, afterWrite: 0, afterShow: 0, listed: [{ key: 'q/1', value: 'back' }] });
    } finally {
      await page.close();
    }
  });

  test('two tabs share the store, and tab B\'s lock waits until tab A\'s lock ends', async () => {
    const a = await openPage();
    const b = await openPage();
    try {
      const setup = 'window.store = window.pkg.indexedDbStore({ dbName: "tabs" });';
      await a.evaluate(setup);
      await b.evaluate(setup);
      await a.evaluate(() => window.store.put([{ key: 'q/from-a', value: 'A' }]));
      assert.deepEqual(await b.evaluate(() => window.store.list('q/')), [{ key: 'q/from-a', value: 'A' }]);
      await b.evaluate(() => window.store.delete(['q/from-a']));
      assert.deepEqual(await a.evaluate(() => window.store.list('q/')), []);

      const heldByA = await a.evaluate(async () => {
        let entered;
        const inside = new Promise((resolve) => (entered = resolve));
        const released = new Promise((resolve) => (window.releaseA = resolve));
        window.doneA = window.store.lock('drain', async () => {
          entered();
          await released;
          return 'A done';
        });
        await inside;
        return (await navigator.locks.query()).held.map((lock) => lock.name);
      });
      assert.deepEqual(heldByA, ['aicostmanager-edge:drain']);

      await b.evaluate(() => {
        window.bEntered = false;
        window.doneB = window.store.lock('drain', async () => {
          window.bEntered = true;
          return 'B done';
        });
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(await b.evaluate(() => window.bEntered), false, "tab B entered the lock while tab A held it");
      const pending = await b.evaluate(async () => (await navigator.locks.query()).pending.map((lock) => lock.name));
      assert.deepEqual(pending, ['aicostmanager-edge:drain']);
      assert.equal(await b.evaluate(() => window.store.lock('other', async () => 'other name runs')), 'other name runs');

      await a.evaluate(() => window.releaseA());
      assert.equal(await a.evaluate(() => window.doneA), 'A done');
      assert.equal(await b.evaluate(() => window.doneB), 'B done');
      assert.equal(await b.evaluate(() => window.bEntered), true);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('indexedDbStore(): fallback to memory when indexedDB is missing', () => {
  let page;
  before(async () => {
    page = await openPage(() => {
      delete window.indexedDB;
    });
    assert.equal(await page.evaluate(() => typeof indexedDB), 'undefined');
  });
  after(() => page?.close());

  test('reports durability "memory" and why, from creation on', async () => {
    const state = await page.evaluate(() => {
      const store = window.pkg.indexedDbStore();
      return { durability: store.durability, reason: store.fallbackReason, consistent: store.consistent };
    });
    assert.deepEqual(state, { durability: 'memory', reason: 'indexedDB is not available in this context', consistent: true });
  });

  contractTests(() => page, {}, 'memory', /not available/);
});

describe('indexedDbStore(): fallback when IndexedDB fails', () => {
  test('open throwing (private mode): memory, with the reason, and it keeps working', async () => {
    const page = await openPage(() => {
      IDBFactory.prototype.open = function open() {
        throw new DOMException('The user denied permission to access the database.', 'SecurityError');
      };
    });
    try {
      const seen = await page.evaluate(async () => {
        const store = window.pkg.indexedDbStore({ dbName: 'denied' });
        const before = store.durability;
        await store.put([{ key: 'q/1', value: '1' }, { key: 'q/2', value: '2' }]);
        await store.delete(['q/1']);
        return { before, after: store.durability, reason: store.fallbackReason, entries: await store.list('q/') };
      });
      assert.equal(seen.before, 'persistent');
      assert.equal(seen.after, 'memory');
      assert.match(seen.reason, /could not be opened: SecurityError: The user denied/);
      assert.deepEqual(seen.entries, [{ key: 'q/2', value: '2' }]);
    } finally {
      await page.close();
    }
  });

  test('a write failing after earlier writes (quota): memory takes over what IndexedDB held, and the failed write', async () => {
    const page = await openPage();
    try {
      const seen = await page.evaluate(async () => {
        const store = window.pkg.indexedDbStore({ dbName: 'quota' });
        await store.put([{ key: 'q/1', value: '1' }, { key: 'q/2', value: '2' }]);
        const put = IDBObjectStore.prototype.put;
        IDBObjectStore.prototype.put = function quota() {
          throw new DOMException('Quota exceeded', 'QuotaExceededError');
        };
        try {
          await store.put([{ key: 'q/3', value: '3' }]);
        } finally {
          IDBObjectStore.prototype.put = put;
        }
        await store.delete(['q/1']);
        await store.put([{ key: 'q/4', value: '4' }]); // IndexedDB works again, but the store stays in memory
        const entries = (await store.list('q/')).sort((x, y) => (x.key < y.key ? -1 : 1));
        return { durability: store.durability, consistent: store.consistent, reason: store.fallbackReason, entries };
      });
      assert.equal(seen.durability, 'memory');
      assert.equal(seen.consistent, true);
      assert.match(seen.reason, /write failed: QuotaExceededError/);
      assert.deepEqual(seen.entries, [
        { key: 'q/2', value: '2' },
        { key: 'q/3', value: '3' },
        { key: 'q/4', value: '4' },
      ]);
    } finally {
      await page.close();
    }
  });

  test('every transaction failing after writes (WebKit UnknownError): memory, and consistent turns false', async () => {
    const page = await openPage();
    try {
      const seen = await page.evaluate(async () => {
        const store = window.pkg.indexedDbStore({ dbName: 'broken' });
        await store.put([{ key: 'q/1', value: '1' }]);
        const transaction = IDBDatabase.prototype.transaction;
        IDBDatabase.prototype.transaction = function broken() {
          throw new DOMException('Internal error opening backing store', 'UnknownError');
        };
        try {
          const listed = await store.list('q/');
          await store.put([{ key: 'q/2', value: '2' }]);
          return {
            listed,
            entries: await store.list('q/'),
            durability: store.durability,
            consistent: store.consistent,
            reason: store.fallbackReason,
          };
        } finally {
          IDBDatabase.prototype.transaction = transaction;
        }
      });
      assert.deepEqual(seen.listed, []);
      assert.deepEqual(seen.entries, [{ key: 'q/2', value: '2' }]);
      assert.equal(seen.durability, 'memory');
      assert.equal(seen.consistent, false);
      assert.match(seen.reason, /read failed: UnknownError: Internal error/);
    } finally {
      await page.close();
    }
  });

  test('without Web Locks, lock() still excludes within the page', async () => {
    const page = await openPage(() => {
      Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined, configurable: true });
    });
    try {
      assert.equal(await page.evaluate(() => navigator.locks), undefined);
      const lockCase = storeContract.find((c) => c.name.startsWith('lock'));
      const result = await page.evaluate(([n]) => window.runCase(n, { dbName: 'no-locks' }), [lockCase.name]);
      assert.ok(result.ok, result.message);
    } finally {
      await page.close();
    }
  });
});

test('no uncaught errors in any page', () => {
  assert.deepEqual(pageErrors.map(String), []);
});
