// The outbox stores of the packed package in Node: the shared OutboxStore contract (tests/browser/store-contract.mjs)
// against memoryStore() and against kvStore() over a REAL local Workers KV namespace (Miniflare/workerd), plus what
// only the KV store promises: one KV write per put, never a key written twice, partial deletes as one write + one
// delete, expirationTtl on every write, lagging lists and other isolates. Needs the packed package in
// tests/js/node_modules (scripts/build-pkg, then `source scripts/lib/common.sh && unpack_pkg_into tests/js`).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { kvStore, memoryStore } from 'aicostmanager-edge';

import { pairs, storeContract } from '../browser/store-contract.mjs';

const SEGMENT_KEY = /^(?:[\s\S]*\/)?~seg~[0-9a-z]+-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('memoryStore(): the OutboxStore contract', () => {
  let n = 0;
  for (const { name, run } of storeContract) {
    test(name, () => run({ store: memoryStore(), p: `m${(n += 1)}/`, assert }));
  }
});

describe('memoryStore(): its own promises', () => {
  test('reports durability "memory" and consistent true', () => {
    const store = memoryStore();
    assert.equal(store.durability, 'memory');
    assert.equal(store.consistent, true);
  });

  test('two memory stores are independent, and so are their locks', async () => {
    const a = memoryStore();
    const b = memoryStore();
    await a.put([{ key: 'k', value: 'a' }]);
    assert.deepEqual(await b.list(''), []);
    let bRan = false;
    await a.lock('drain', async () => {
      await b.lock('drain', async () => {
        bRan = true;
      });
    });
    assert.ok(bRan, "b's lock waited for a's: locks leaked between stores");
  });

  test('different lock names do not wait for each other', async () => {
    const store = memoryStore();
    let release;
    const held = store.lock('one', () => new Promise((resolve) => (release = resolve)));
    assert.equal(await store.lock('two', async () => 'two ran'), 'two ran');
    release();
    await held;
  });
});

describe('kvStore() over a real local KV namespace (Miniflare)', () => {
  let mf;
  let kv;
  before(async () => {
    mf = new Miniflare({ modules: true, script: 'export default { fetch() { return new Response() } }', kvNamespaces: ['Q'] });
    kv = await mf.getKVNamespace('Q');
  });
  after(() => mf?.dispose());

  /**
   * The namespace with every call counted and every written key recorded. `listLag` (a function returning a
   * snapshot of list results, or null) lets a test replay an older listing, as KV does for up to 60 s.
   */
  function counted({ listPageSize, listLag, failDeletes = 0 } = {}) {
    const calls = { get: 0, put: 0, delete: 0, list: 0 };
    const written = [];
    const putOptions = [];
    const deleted = [];
    let deletesToFail = failDeletes;
    const ns = {
      async get(key, ...rest) {
        calls.get += 1;
        return kv.get(key, ...rest);
      },
      async put(key, value, options) {
        calls.put += 1;
        written.push(key);
        putOptions.push(options);
        return kv.put(key, value, options);
      },
      async delete(key) {
        calls.delete += 1;
        if (deletesToFail > 0) {
          deletesToFail -= 1;
          throw new Error('KV delete failed (injected)');
        }
        deleted.push(key);
        return kv.delete(key);
      },
      async list(options) {
        calls.list += 1;
        const lagged = listLag?.(options);
        if (lagged) return lagged;
        return kv.list(listPageSize ? { ...options, limit: listPageSize } : options);
      },
    };
    const reset = () => Object.keys(calls).forEach((k) => (calls[k] = 0));
    return { ns, calls, written, putOptions, deleted, reset };
  }

  describe('the OutboxStore contract', () => {
    let n = 0;
    for (const { name, run } of storeContract) {
      test(name, () => run({ store: kvStore(kv), p: `kvc${(n += 1)}/`, assert }));
    }
  });

  test('reports durability "persistent", consistent false and no lock', () => {
    const store = kvStore(kv);
    assert.equal(store.durability, 'persistent');
    assert.equal(store.consistent, false);
    assert.equal(store.lock, undefined);
  });

  test('rejects a non-KV namespace and a ttlSeconds KV would refuse', () => {
    assert.throws(() => kvStore({ get() {}, put() {}, list() {} }), TypeError);
    assert.throws(() => kvStore(undefined), TypeError);
    assert.throws(() => kvStore(kv, { ttlSeconds: 59 }), RangeError);
    assert.throws(() => kvStore(kv, { ttlSeconds: 90.5 }), RangeError);
    for (const maxOperations of [3, 1001, 2.5, '25']) assert.throws(() => kvStore(kv, { maxOperations }), RangeError);
  });

  /**
   * KV's production limit simulated: past `limit` operations in one invocation every KV call throws, as KV does
   * (1,000 paid, 50 free). Each simulated request gets a fresh namespace wrapper (a new invocation) and a fresh store.
   */
  function invocation(limit) {
    const counter = counted();
    let used = 0;
    const ns = {};
    for (const method of ['get', 'put', 'delete', 'list']) {
      ns[method] = (...args) => {
        used += 1;
        if (used > limit) return Promise.reject(new Error('Too many API requests by single worker invocation.'));
        return counter.ns[method](...args);
      };
    }
    return { ns, calls: counter.calls, used: () => used };
  }

  test('a backlog far past the budget: each request stays within maxOperations, writes its own record first, and the backlog drains', async () => {
    const seed = kvStore(kv, { maxOperations: 1000 });
    for (let i = 0; i < 300; i += 1) await seed.put([{ key: `bl/q/old${String(i).padStart(3, '0')}`, value: `${i}` }]);
    const delivered = new Set();
    let requests = 0;
    let waiting = 300;
    while (waiting > 0) {
      requests += 1;
      assert.ok(requests <= 80, `drains within 80 requests, ${waiting} still waiting`);
      const call = invocation(50); // the free plan
      const store = kvStore(call.ns, { maxOperations: 25 });
      await store.put([{ key: `bl/q/new${requests}`, value: 'own' }]);
      assert.deepEqual(call.calls, { get: 0, put: 1, delete: 0, list: 0 }, 'the own record is written before any read');
      const listed = await store.list('bl/');
      assert.ok(listed.some((e) => e.key === `bl/q/new${requests}`), 'the own record is listed');
      const backlog = store.backlog();
      assert.ok(backlog.operations <= 25, JSON.stringify(backlog));
      // Delivered (as the tracker would after a 2xx): delete what was listed.
      await store.delete(listed.map((e) => e.key)).catch(() => {});
      assert.ok(call.used() <= 25, `request ${requests}: ${call.used()} KV operations`);
      for (const e of listed) delivered.add(e.key);
      waiting = (await kvStore(kv, { maxOperations: 1000 }).list('bl/')).filter((e) => e.key.startsWith('bl/q/old')).length;
    }
    for (let i = 0; i < 300; i += 1) assert.ok(delivered.has(`bl/q/old${String(i).padStart(3, '0')}`), `old${i} delivered`);
    // Old code: one list() read every segment (300 reads) and KV threw past 50 operations.
    assert.ok(requests >= 300 / 25, `${requests} requests`);
  });

  test('list() writes again, with a fresh expiration, a segment older than half its TTL (dead letters never expire silently)', async () => {
    const old = Date.now() - 20 * 24 * 3600 * 1000; // 20 days: past half of the default 30-day TTL
    const oldKey = `rf/d/~seg~${old.toString(36)}-0b0e1c2d-0000-4000-8000-000000000001`;
    await kv.put(oldKey, JSON.stringify({ v: 1, e: [['rf/d/letter', 'dead', old]] }));
    const { ns, putOptions } = counted();
    const store = kvStore(ns);
    assert.deepEqual(pairs(await store.list('rf/')), [['rf/d/letter', 'dead']]);
    const keys = (await kv.list({ prefix: 'rf/' })).keys;
    assert.equal(keys.length, 1);
    assert.notEqual(keys[0].name, oldKey, 'rewritten under a fresh key');
    assert.deepEqual(putOptions, [{ expirationTtl: 2592000 }]);
    assert.deepEqual(pairs(await kvStore(kv).list('rf/')), [['rf/d/letter', 'dead']]);
  });

  test('each put() is exactly one KV write, of a fresh segment key, and no other KV call', async () => {
    const { ns, calls, written } = counted();
    const store = kvStore(ns);
    await store.put([{ key: 'w1/q/a', value: '1' }]);
    assert.deepEqual(calls, { get: 0, put: 1, delete: 0, list: 0 });
    await store.put(Array.from({ length: 800 }, (_, i) => ({ key: `w1/q/${i}`, value: `{"i":${i}}` })));
    assert.deepEqual(calls, { get: 0, put: 2, delete: 0, list: 0 });
    await store.put([{ key: 'w1/q/a', value: 'again' }]); // overwrite: still a fresh key
    assert.equal(calls.put, 3);
    assert.equal(new Set(written).size, 3);
    for (const key of written) {
      assert.match(key, SEGMENT_KEY);
      assert.ok(key.startsWith('w1/q/~seg~'), `${key} is not in the entries' directory`);
    }
    assert.equal((await store.list('w1/')).length, 801);
  });

  test('every write passes expirationTtl (default 30 days, or ttlSeconds), and KV applies it', async () => {
    const short = counted();
    await kvStore(short.ns, { ttlSeconds: 3600 }).put([{ key: 'ttl1/q/a', value: 'x' }]);
    const long = counted();
    const store = kvStore(long.ns);
    await store.put([{ key: 'ttl2/q/a', value: 'x' }, { key: 'ttl2/q/b', value: 'y' }]);
    await store.delete(['ttl2/q/a']); // the rewrite of the remaining entry carries it too
    assert.deepEqual(short.putOptions, [{ expirationTtl: 3600 }]);
    assert.deepEqual(long.putOptions, [{ expirationTtl: 2592000 }, { expirationTtl: 2592000 }]);
    const now = Date.now() / 1000;
    const [shortKey] = (await kv.list({ prefix: 'ttl1/' })).keys;
    const [longKey] = (await kv.list({ prefix: 'ttl2/' })).keys;
    assert.ok(Math.abs(shortKey.expiration - (now + 3600)) < 30, `expiration ${shortKey.expiration}`);
    assert.ok(Math.abs(longKey.expiration - (now + 2592000)) < 30, `expiration ${longKey.expiration}`);
  });

  test('delete: a fully deleted segment is one KV delete; a partly deleted one is one new segment + one delete', async () => {
    const { ns, calls, written, deleted, reset } = counted();
    const store = kvStore(ns);
    await store.put([{ key: 'pd/q/1', value: '1' }, { key: 'pd/q/2', value: '2' }, { key: 'pd/q/3', value: '3' }]);
    await store.put([{ key: 'pd/q/4', value: '4' }]);
    const [first, second] = written;
    reset();
    await store.delete(['pd/q/4']);
    assert.deepEqual(calls, { get: 0, put: 0, delete: 1, list: 0 });
    assert.deepEqual(deleted, [second]);
    reset();
    await store.delete(['pd/q/2']);
    assert.deepEqual(calls, { get: 0, put: 1, delete: 1, list: 0 });
    assert.deepEqual(deleted, [second, first]);
    const rewritten = written[2];
    assert.notEqual(rewritten, first);
    assert.deepEqual(JSON.parse(await kv.get(rewritten)).e.map(([k, v]) => [k, v]), [['pd/q/1', '1'], ['pd/q/3', '3']]);
    assert.equal(await kv.get(first), null);
    assert.deepEqual(pairs(await kvStore(kv).list('pd/')), [['pd/q/1', '1'], ['pd/q/3', '3']]);
  });

  test('delete across segments: one call per segment touched, none for keys it has not seen', async () => {
    const { ns, calls, reset } = counted();
    const store = kvStore(ns);
    await store.put([{ key: 'ms/q/a1', value: '' }, { key: 'ms/q/a2', value: '' }]);
    await store.put([{ key: 'ms/q/b1', value: '' }, { key: 'ms/q/b2', value: '' }]);
    await store.put([{ key: 'ms/q/c1', value: '' }]);
    reset();
    await store.delete(['ms/q/a1', 'ms/q/a2', 'ms/q/b1', 'ms/q/c1', 'ms/q/unknown']);
    // a: whole → 1 delete; b: partial → 1 write + 1 delete; c: whole → 1 delete
    assert.deepEqual(calls, { get: 0, put: 1, delete: 3, list: 0 });
    assert.deepEqual(pairs(await kvStore(kv).list('ms/')), [['ms/q/b2', '']]);
  });

  test('no key is ever written twice through puts, overwrites, partial deletes and re-puts', async () => {
    const { ns, written } = counted();
    const store = kvStore(ns);
    for (let round = 0; round < 5; round += 1) {
      await store.put(Array.from({ length: 6 }, (_, i) => ({ key: `nw/q/${i}`, value: `r${round}` })));
      await store.delete([`nw/q/${round}`]);
      await store.list('nw/');
    }
    assert.ok(written.length >= 10);
    assert.equal(new Set(written).size, written.length, 'a KV key was written twice');
    assert.deepEqual(pairs(await kvStore(kv).list('nw/')), ['0', '1', '2', '3', '5'].map((i) => [`nw/q/${i}`, 'r4']));
  });

  test('an overwritten key deleted once is gone from every segment holding it', async () => {
    const { ns, calls, reset } = counted();
    const store = kvStore(ns);
    await store.put([{ key: 'ow/q/k', value: 'v1' }]);
    await store.put([{ key: 'ow/q/k', value: 'v2' }]);
    assert.deepEqual(pairs(await kvStore(kv).list('ow/')), [['ow/q/k', 'v2']]);
    reset();
    await store.delete(['ow/q/k']);
    assert.deepEqual(calls, { get: 0, put: 0, delete: 2, list: 0 });
    assert.deepEqual(await kvStore(kv).list('ow/'), []);
  });

  test('list reads all pages and each segment once per store; a rewritten segment is not newer than a later put', async () => {
    const { ns, calls, reset } = counted({ listPageSize: 3 });
    const writer = kvStore(kv);
    for (let i = 0; i < 7; i += 1) await writer.put([{ key: `pg/q/${i}`, value: `${i}` }, { key: `pg/q/x${i}`, value: 'x' }]);
    const reader = kvStore(ns);
    assert.equal((await reader.list('pg/')).length, 14);
    assert.deepEqual(calls, { get: 7, put: 0, delete: 0, list: 3 });
    reset();
    assert.equal((await reader.list('pg/q/')).length, 14);
    assert.deepEqual(calls, { get: 0, put: 0, delete: 0, list: 3 });
    // x0 rewritten (segment 0 partly deleted) after x0 was put again elsewhere: the later put still wins.
    await writer.put([{ key: 'pg/q/x0', value: 'newer' }]);
    await writer.delete(['pg/q/0']);
    const listed = new Map(pairs(await kvStore(kv).list('pg/')));
    assert.equal(listed.get('pg/q/x0'), 'newer');
    assert.equal(listed.has('pg/q/0'), false);
  });

  test('another isolate: sees puts, rewrites and deletes of the first after its next list', async () => {
    const a = kvStore(kv);
    const b = kvStore(kv);
    await a.put([{ key: 'iso/q/1', value: '1' }, { key: 'iso/q/2', value: '2' }, { key: 'iso/q/3', value: '3' }]);
    assert.equal((await b.list('iso/')).length, 3);
    await a.delete(['iso/q/1']);
    assert.deepEqual(pairs(await b.list('iso/')), [['iso/q/2', '2'], ['iso/q/3', '3']]);
    await b.delete(['iso/q/2']); // b deletes from the segment a wrote
    assert.deepEqual(pairs(await a.list('iso/')), [['iso/q/3', '3']]);
  });

  test('a listed segment deleted meanwhile by another isolate (lagging list) is skipped', async () => {
    const a = kvStore(kv);
    await a.put([{ key: 'lag/q/1', value: '1' }]);
    await a.put([{ key: 'lag/q/2', value: '2' }]);
    const stale = await kv.list({ prefix: 'lag/' });
    assert.equal(stale.keys.length, 2);
    await a.list('lag/');
    await a.delete(['lag/q/1']);
    const { ns, calls } = counted({ listLag: () => stale });
    const b = kvStore(ns);
    assert.deepEqual(pairs(await b.list('lag/')), [['lag/q/2', '2']]);
    assert.equal(calls.get, 2, 'b should have tried both listed segments');
  });

  test("this isolate's deletions stay deleted under a lagging list, and its own writes show before KV lists them", async () => {
    let lagging = null;
    const { ns, calls, reset } = counted({ listLag: () => lagging });
    const store = kvStore(ns);
    lagging = { keys: [], list_complete: true }; // KV has not listed anything yet
    await store.put([{ key: 'own/q/1', value: '1' }, { key: 'own/q/2', value: '2' }]);
    assert.deepEqual(pairs(await store.list('own/')), [['own/q/1', '1'], ['own/q/2', '2']]);
    lagging = await kv.list({ prefix: 'own/' }); // the listing as of now: one segment
    await store.delete(['own/q/1', 'own/q/2']);
    reset();
    assert.deepEqual(await store.list('own/'), []);
    assert.equal(calls.get, 0, 'a segment this store deleted was read again');
    assert.deepEqual(await kvStore(kv).list('own/'), []);
  });

  test('a failed KV delete rejects, hides the segment, and is retried by the next call', async () => {
    const { ns, calls, deleted, written } = counted({ failDeletes: 1 });
    const store = kvStore(ns);
    await store.put([{ key: 'fd/q/1', value: '1' }]);
    await assert.rejects(store.delete(['fd/q/1']), /injected/);
    assert.deepEqual(await store.list('fd/'), [], 'the deleted entry is still listed by the store that deleted it');
    assert.equal(calls.delete, 2, 'the failed delete was not retried by the next call');
    assert.deepEqual(deleted, [written[0]]);
    assert.equal(await kv.get(written[0]), null);
  });

  test("KV keys that are not segments, and segments it cannot read, are ignored and left alone", async () => {
    await kv.put('foreign/q/user-key', 'not ours');
    await kv.put('foreign/q/~seg~abc-00000000-0000-4000-8000-000000000000', 'garbage');
    const { ns, calls } = counted();
    const store = kvStore(ns);
    await store.put([{ key: 'foreign/q/1', value: '1' }]);
    assert.deepEqual(pairs(await store.list('foreign/')), [['foreign/q/1', '1']]);
    await store.delete(['foreign/q/1']);
    assert.equal(calls.delete, 1);
    assert.equal(await kv.get('foreign/q/user-key'), 'not ours');
    assert.equal(await kv.get('foreign/q/~seg~abc-00000000-0000-4000-8000-000000000000'), 'garbage');
  });

  test('an entry too large for one KV value rejects with a RangeError before any write', async () => {
    const { ns, calls } = counted();
    await assert.rejects(kvStore(ns).put([{ key: 'huge/q/1', value: 'x'.repeat(25 * 1024 * 1024) }]), RangeError);
    assert.equal(calls.put, 0);
  });

  test('inside workerd: a Worker puts, lists and deletes through kvStore(env.Q), then Node sees the result', async () => {
    // The package's stores bundled into one Worker module (no wasm needed for them).
    const stores = new URL('./node_modules/aicostmanager-edge/stores/index.js', import.meta.url).pathname;
    const bundled = await build({
      stdin: {
        contents: `import { kvStore } from ${JSON.stringify(stores)};
          export default {
            async fetch(request, env) {
              const store = kvStore(env.Q);
              await store.put([{ key: 'wd/q/1', value: 'one' }, { key: 'wd/q/2', value: 'two' }]);
              await store.delete(['wd/q/1']);
              return Response.json(await store.list('wd/'));
            },
          };`,
        resolveDir: new URL('.', import.meta.url).pathname,
      },
      bundle: true,
      format: 'esm',
      write: false,
    });
    const worker = new Miniflare({
      modules: true,
      compatibilityDate: '2026-04-01',
      kvNamespaces: ['Q'],
      script: bundled.outputFiles[0].text,
    });
    try {
      const res = await worker.dispatchFetch('http://localhost/');
      assert.deepEqual(await res.json(), [{ key: 'wd/q/2', value: 'two' }]);
      const seen = await kvStore(await worker.getKVNamespace('Q')).list('wd/');
      assert.deepEqual(seen, [{ key: 'wd/q/2', value: 'two' }]);
    } finally {
      await worker.dispose();
    }
  });

  test('puts into different directories are one write per directory (the only case with more than one)', async () => {
    const { ns, calls } = counted();
    await kvStore(ns).put([{ key: 'dirs/q/1', value: '' }, { key: 'dirs/d/1', value: '' }, { key: 'dirs/q/2', value: '' }]);
    assert.equal(calls.put, 2);
  });
});
