// The OutboxStore contract: one list of cases every store must pass, run by tests/js/stores.test.mjs against
// memoryStore() and kvStore() over a real local KV (Miniflare), and by tests/browser/idb.test.mjs against
// indexedDbStore() in headless Chromium. Plain ESM with no imports, so the browser page can load it as is.
//
// Each case is `{ name, run({ store, p, assert }) }`: `store` is the store under test (possibly shared between
// cases), `p` a key prefix no other case uses (so cases on a shared store do not see each other), `assert`
// an object with equal(a, b), deepEqual(a, b), ok(v) and rejects(promiseFn, ErrorClass), each throwing on failure.

/** The entries of `list` as [key, value] pairs sorted by key, to compare regardless of order. */
export function pairs(entries) {
  return entries.map((e) => [e.key, e.value]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A deterministic string of `length` UTF-16 units mixing ASCII, 2-, 3- and 4-byte UTF-8 characters. */
function bigString(length, seed) {
  const alphabet = ['a', 'Z', '0', '"', '\\', '\n', 'é', 'ß', '€', '中', '😀', ' ', '{', '}'];
  let out = '';
  let x = seed;
  while (out.length < length) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out += alphabet[x % alphabet.length];
  }
  return out.slice(0, length);
}

export const storeContract = [
  {
    name: 'put then list returns every entry under the prefix',
    async run({ store, p, assert }) {
      await store.put([
        { key: `${p}q/1`, value: '{"n":1}' },
        { key: `${p}q/2`, value: '{"n":2}' },
      ]);
      assert.deepEqual(pairs(await store.list(p)), [
        [`${p}q/1`, '{"n":1}'],
        [`${p}q/2`, '{"n":2}'],
      ]);
    },
  },
  {
    name: 'list of a prefix nothing was put under is empty',
    async run({ store, p, assert }) {
      await store.put([{ key: `${p}q/1`, value: 'x' }]);
      assert.deepEqual(await store.list(`${p}nothing/`), []);
      assert.deepEqual(await store.list(`${p}q/1x`), []);
    },
  },
  {
    name: 'prefix isolation: list(prefix) returns exactly the keys starting with it, also from one mixed put',
    async run({ store, p, assert }) {
      await store.put([
        { key: `${p}a/1`, value: 'a1' },
        { key: `${p}b/1`, value: 'b1' },
        { key: `${p}ab`, value: 'ab' },
        { key: `${p}a/2`, value: 'a2' },
      ]);
      await store.put([{ key: `${p}a/sub/3`, value: 'a3' }]);
      assert.deepEqual(pairs(await store.list(`${p}a/`)), [
        [`${p}a/1`, 'a1'],
        [`${p}a/2`, 'a2'],
        [`${p}a/sub/3`, 'a3'],
      ]);
      assert.deepEqual(pairs(await store.list(`${p}b/`)), [[`${p}b/1`, 'b1']]);
      assert.deepEqual(pairs(await store.list(`${p}a`)).map(([k]) => k), [`${p}a/1`, `${p}a/2`, `${p}a/sub/3`, `${p}ab`]);
      assert.deepEqual(pairs(await store.list(`${p}a/s`)), [[`${p}a/sub/3`, 'a3']]);
      assert.equal((await store.list(p)).length, 5);
    },
  },
  {
    name: 'a key put again takes the new value (across calls and within one call)',
    async run({ store, p, assert }) {
      await store.put([{ key: `${p}k`, value: 'v1' }, { key: `${p}other`, value: 'o' }]);
      await store.put([{ key: `${p}k`, value: 'v2' }]);
      assert.deepEqual(pairs(await store.list(p)), [[`${p}k`, 'v2'], [`${p}other`, 'o']]);
      await store.put([{ key: `${p}k`, value: 'v3' }, { key: `${p}k`, value: 'v4' }]);
      assert.deepEqual(pairs(await store.list(`${p}k`)), [[`${p}k`, 'v4']]);
    },
  },
  {
    name: 'delete of missing keys resolves and leaves the rest',
    async run({ store, p, assert }) {
      await store.delete([`${p}never`]);
      await store.put([{ key: `${p}keep`, value: 'x' }]);
      await store.delete([`${p}never`, `${p}also-never`]);
      assert.deepEqual(pairs(await store.list(p)), [[`${p}keep`, 'x']]);
    },
  },
  {
    name: 'delete removes exactly the given keys; list after delete shows the rest, then nothing',
    async run({ store, p, assert }) {
      await store.put(['1', '2', '3', '4'].map((n) => ({ key: `${p}q/${n}`, value: `v${n}` })));
      await store.delete([`${p}q/2`, `${p}q/4`]);
      assert.deepEqual(pairs(await store.list(p)), [[`${p}q/1`, 'v1'], [`${p}q/3`, 'v3']]);
      await store.delete([`${p}q/1`]);
      assert.deepEqual(pairs(await store.list(p)), [[`${p}q/3`, 'v3']]);
      await store.delete([`${p}q/3`]);
      assert.deepEqual(await store.list(p), []);
    },
  },
  {
    name: 'a deleted key put again is listed with its new value',
    async run({ store, p, assert }) {
      await store.put([{ key: `${p}d/1`, value: 'old' }]);
      await store.delete([`${p}d/1`]);
      await store.put([{ key: `${p}d/1`, value: 'new' }]);
      assert.deepEqual(pairs(await store.list(p)), [[`${p}d/1`, 'new']]);
    },
  },
  {
    name: 'large values (1 MiB, multi-byte characters) round-trip exactly',
    async run({ store, p, assert }) {
      const big1 = bigString(1024 * 1024, 1);
      const big2 = bigString(512 * 1024 + 7, 2);
      await store.put([{ key: `${p}big/1`, value: big1 }, { key: `${p}big/2`, value: big2 }]);
      const listed = pairs(await store.list(p));
      assert.equal(listed.length, 2);
      assert.ok(listed[0][1] === big1, 'big/1 differs after the round trip');
      assert.ok(listed[1][1] === big2, 'big/2 differs after the round trip');
    },
  },
  {
    name: 'many entries: 2500 in one put, half deleted in one call',
    async run({ store, p, assert }) {
      const all = Array.from({ length: 2500 }, (_, i) => ({ key: `${p}q/${String(i).padStart(5, '0')}`, value: `{"i":${i}}` }));
      await store.put(all);
      const listed = pairs(await store.list(`${p}q/`));
      assert.equal(listed.length, 2500);
      assert.deepEqual(listed, pairs(all));
      await store.delete(all.filter((_, i) => i % 2 === 0).map((e) => e.key));
      assert.deepEqual(pairs(await store.list(p)), pairs(all.filter((_, i) => i % 2 === 1)));
    },
  },
  {
    name: 'stored state is a copy: changing the objects given to put or returned by list changes nothing',
    async run({ store, p, assert }) {
      const given = [{ key: `${p}c/1`, value: 'original' }];
      await store.put(given);
      given[0].value = 'changed';
      given[0].key = `${p}c/2`;
      const first = await store.list(p);
      first[0].value = 'mutated';
      assert.deepEqual(pairs(await store.list(p)), [[`${p}c/1`, 'original']]);
    },
  },
  {
    name: 'unicode keys and prefixes at the edge of the UTF-16 range',
    async run({ store, p, assert }) {
      await store.put([
        { key: `${p}x\uffff`, value: '1' },
        { key: `${p}x\uffffz`, value: '2' },
        { key: `${p}y`, value: '3' },
        { key: `${p}é/😀`, value: '4' },
      ]);
      assert.deepEqual(pairs(await store.list(`${p}x\uffff`)), [[`${p}x\uffff`, '1'], [`${p}x\uffffz`, '2']]);
      assert.deepEqual(pairs(await store.list(`${p}x`)).length, 2);
      assert.deepEqual(pairs(await store.list(`${p}é/`)), [[`${p}é/😀`, '4']]);
    },
  },
  {
    name: 'malformed arguments reject with a TypeError and store nothing',
    async run({ store, p, assert }) {
      await assert.rejects(() => store.put('nope'), TypeError);
      await assert.rejects(() => store.put([{ key: `${p}ok`, value: 'x' }, { key: `${p}bad`, value: 1 }]), TypeError);
      await assert.rejects(() => store.put([{ key: 7, value: 'x' }]), TypeError);
      await assert.rejects(() => store.put([null]), TypeError);
      await assert.rejects(() => store.delete(`${p}ok`), TypeError);
      await assert.rejects(() => store.delete([1]), TypeError);
      await assert.rejects(() => store.list(undefined), TypeError);
      assert.deepEqual(await store.list(p), []);
    },
  },
  {
    name: 'empty put and delete resolve and change nothing',
    async run({ store, p, assert }) {
      await store.put([{ key: `${p}e`, value: 'x' }]);
      await store.put([]);
      await store.delete([]);
      assert.deepEqual(pairs(await store.list(p)), [[`${p}e`, 'x']]);
    },
  },
  {
    name: 'lock (when the store has one) runs holders of one name one at a time and passes results and errors through',
    async run({ store, p, assert }) {
      if (typeof store.lock !== 'function') return;
      const events = [];
      const pause = () => new Promise((resolve) => setTimeout(resolve, 20));
      const holder = (id) => async () => {
        events.push(`start ${id}`);
        await pause();
        events.push(`end ${id}`);
        return id;
      };
      const results = await Promise.all([store.lock(`${p}drain`, holder('a')), store.lock(`${p}drain`, holder('b'))]);
      assert.deepEqual(results, ['a', 'b']);
      assert.deepEqual(events, ['start a', 'end a', 'start b', 'end b']);
      await assert.rejects(() => store.lock(`${p}drain`, async () => { throw new RangeError('inside'); }), RangeError);
      assert.equal(await store.lock(`${p}drain`, async () => 'released after an error'), 'released after an error');
    },
  },
];
