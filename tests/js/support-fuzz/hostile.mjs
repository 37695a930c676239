// The hostile values of the public-API fuzz (tests/js/fuzz*.test.mjs), as small named builders. The generator
// (gen.mjs) only calls these and records each call as source text, so every failure prints a reproduction such as
//   t.track("x::y", { ["a"]: H.idxGetter([1, 2], 0, 1) })
// that runs as is after `import { H } from "./tests/js/support-fuzz/hostile.mjs"` (and `H.use({ memoryStore })` for
// the stores). Builders are deterministic: every choice is an argument.
//
// Thrown-value kinds (`kind` below): 0 new Error, 1 the number 1, 2 undefined, 3 a Symbol, 4 a Proxy that throws
// on every property read (an error object that is itself hostile), 5 null, 6 a string.

let pkg = null;
/** Hook the fuzz runner installs to check calls made from inside user callbacks (re-entrant anonymizers). */
let observer = (_box, _op, _args, fn) => {
  try {
    const out = fn();
    out?.catch?.(() => {});
  } catch {
    // outside the runner, re-entrant errors are ignored
  }
};

const NEVER = new Promise(() => {});

function hostileErrorObject() {
  return new Proxy(
    {},
    {
      get() {
        throw new Error('hostile error object: property read');
      },
      getPrototypeOf() {
        throw new Error('hostile error object: getPrototypeOf');
      },
      has() {
        throw new Error('hostile error object: has');
      },
      ownKeys() {
        throw new Error('hostile error object: ownKeys');
      },
    },
  );
}

const INSTANCES = [
  () => new (class Point { constructor() { this.x = 1; } })(),
  () => new Map([[1, 2]]),
  () => new Set([1]),
  () => new Uint8Array(4),
  () => new ArrayBuffer(8),
  () => /re/g,
  () => new Error('an error value'),
  () => Promise.resolve(1),
  () => new WeakMap(),
  () => new Number(1),
  () => new String('boxed'),
  () => new Boolean(false),
  () => Object(Symbol('boxed')),
  () => Object(1n),
  () => new DataView(new ArrayBuffer(2)),
  () => new (class Sub extends Array {})(3),
  () => Object.create(Object.create(null)),
  () => Object.create({ inherited: 1 }),
];


/** The arguments of each re-entrant call a hostile anonymizer makes (see H.anon "reentrant:<op>"). */
export const REENTRANT_ARGS = {
  track: ['fuzz::reentrant', { n: 1 }],
  trackBatch: [[{ serviceKey: 'fuzz::reentrant', usage: { n: 1 } }]],
  flush: [{ deadlineMs: 5 }],
  stats: [],
  setContext: [{ reentrant: true }],
  setCustomerKey: ['reentrant'],
  setAnonymizer: [null],
  setAnonymizeFields: [['secret']],
  close: [],
  deadLetters: [],
  requeueDeadLetters: [],
};

/** A `/track` reply for `body` (the tracker's JSON request body): every record queued. */
function cannedReply(init) {
  let ids = [];
  try {
    ids = JSON.parse(String(init?.body ?? '{}')).tracked.map((record) => record.response_id);
  } catch {
    ids = [];
  }
  const body = JSON.stringify({ results: ids.map((id) => ({ response_id: id, status: 'queued' })) });
  return new Response(body, { status: 202, headers: { 'content-type': 'application/json' } });
}

export const H = {
  /** Gives the stores access to the package under test (`memoryStore`). */
  use(packageExports) {
    pkg = packageExports;
  },
  /** Installs the runner's check for re-entrant calls: `fn(box, op, args, call)`. */
  observeWith(fn) {
    observer = fn;
  },
  thrown(kind) {
    switch (kind) {
      case 0: return new Error('hostile throw');
      case 1: return 1;
      case 2: return undefined;
      case 3: return Symbol('thrown');
      case 4: return hostileErrorObject();
      case 5: return null;
      default: return 'a thrown string';
    }
  },
  thrower(kind) {
    return () => {
      throw H.thrown(kind);
    };
  },
  str(n, ch = 'x') {
    return ch.repeat(n);
  },
  getter(obj, key, kind) {
    Object.defineProperty(obj, key, { get: H.thrower(kind), enumerable: true, configurable: true });
    return obj;
  },
  /** A getter that answers `a` on its first read and `b` after (a value that changes between checks). */
  flipGetter(obj, key, a, b) {
    let reads = 0;
    Object.defineProperty(obj, key, {
      get: () => (reads++ === 0 ? a : b),
      enumerable: true,
      configurable: true,
    });
    return obj;
  },
  /** A getter that adds `n` keys to its object (and deletes `victim`) when read, then answers 1. */
  mutatingGetter(obj, key, n, victim) {
    Object.defineProperty(obj, key, {
      get() {
        for (let i = 0; i < n; i += 1) obj[`added${i}`] = i;
        delete obj[victim];
        return 1;
      },
      enumerable: true,
      configurable: true,
    });
    return obj;
  },
  idxGetter(arr, index, kind) {
    Object.defineProperty(arr, index, { get: H.thrower(kind), enumerable: true, configurable: true });
    return arr;
  },
  /** A Proxy of `target` whose `trap` throws. */
  trapThrows(target, trap, kind) {
    return new Proxy(target, { [trap]: H.thrower(kind) });
  },
  /** A Proxy of an array whose get trap throws for `length` (what Array.isArray says is an array). */
  lengthThrows(arr, kind) {
    return new Proxy(arr, {
      get(target, prop, receiver) {
        if (prop === 'length') throw H.thrown(kind);
        return Reflect.get(target, prop, receiver);
      },
    });
  },
  /** A Proxy of an array whose get trap throws for index `index` only. */
  indexThrows(arr, index, kind) {
    return new Proxy(arr, {
      get(target, prop, receiver) {
        if (prop === String(index)) throw H.thrown(kind);
        return Reflect.get(target, prop, receiver);
      },
    });
  },
  /** A Proxy that claims a huge `length` without storing anything. */
  lengthLies(arr, length) {
    return new Proxy(arr, {
      get(target, prop, receiver) {
        if (prop === 'length') return length;
        return Reflect.get(target, prop, receiver);
      },
    });
  },
  /** An object whose every property is itself (infinitely deep without a cycle of distinct objects). */
  selfProxy() {
    const p = new Proxy(
      {},
      {
        get: (_t, prop) => (prop === Symbol.toPrimitive ? undefined : p),
        ownKeys: () => ['a', 'b'],
        getOwnPropertyDescriptor: () => ({ value: p, enumerable: true, configurable: true, writable: true }),
      },
    );
    return p;
  },
  /** A Proxy whose ownKeys breaks the Proxy invariants (Object.keys throws a TypeError). */
  badOwnKeys() {
    return new Proxy(Object.preventExtensions({ a: 1 }), { ownKeys: () => ['b'] });
  },
  revoked(target) {
    const { proxy, revoke } = Proxy.revocable(target, {});
    revoke();
    return proxy;
  },
  manyKeys(n) {
    const o = {};
    for (let i = 0; i < n; i += 1) o[`k${i}`] = i;
    return o;
  },
  /** Objects (`kind` "o") or arrays ("a") nested `n` deep, the innermost holding `leaf`. */
  nest(n, kind, leaf = 1) {
    let v = leaf;
    for (let i = 0; i < n; i += 1) v = kind === 'a' ? [v] : { d: v };
    return v;
  },
  cycle(kind) {
    if (kind === 'a') {
      const a = [1];
      a.push(a);
      return a;
    }
    if (kind === 'deep') {
      const root = { x: { y: [1, { z: null }] } };
      root.x.y[1].z = root;
      return root;
    }
    if (kind === 'ctx') {
      const o = { a: { b: 1 } };
      o.a.back = o.a;
      return o;
    }
    const o = { a: 1 };
    o.self = o;
    return o;
  },
  /** The same object twice (a DAG, not a cycle: valid). */
  shared() {
    const s = { x: 1 };
    return { a: s, b: [s, s] };
  },
  sparse(n, index, value) {
    const a = new Array(n);
    a[index] = value;
    return a;
  },
  filled(n, value) {
    return new Array(n).fill(value);
  },
  big(n) {
    return new Array(n);
  },
  withLength(arr, length) {
    arr.length = length;
    return arr;
  },
  withProp(target, key, value) {
    target[key] = value;
    return target;
  },
  hidden(target, key, value) {
    Object.defineProperty(target, key, { value, enumerable: false });
    return target;
  },
  symKey(target) {
    target[Symbol('k')] = 1;
    return target;
  },
  nullProto(entries) {
    return Object.assign(Object.create(null), entries);
  },
  frozen(v) {
    return Object.freeze(v);
  },
  instance(kind) {
    return INSTANCES[kind % INSTANCES.length]();
  },
  date(ms) {
    return new Date(ms);
  },
  /** A Date whose `method` (toISOString, getTime, valueOf) throws. */
  badDate(method, kind) {
    const d = new Date(0);
    Object.defineProperty(d, method, { value: H.thrower(kind) });
    return d;
  },
  toJSONThrows(kind) {
    return { a: 1, toJSON: H.thrower(kind) };
  },
  /** A thenable whose `then` throws or is a throwing getter. */
  badThenable(kind, getter) {
    if (getter) return H.getter({}, 'then', kind);
    return { then: H.thrower(kind) };
  },

  // ---- anonymizers ----
  /**
   * A hostile anonymizer. `box.t` is the tracker it is set on (the fuzz fills it in after construction).
   *   throw | proxy | revokedResult | promise | undefined | function | cycle | deep | huge | symbol | bigint | reentrant:<op>
   */
  anon(kind, box, throwKind = 0) {
    switch (kind) {
      case 'throw': return H.thrower(throwKind);
      case 'proxy': return () => H.trapThrows({ a: 1 }, 'ownKeys', throwKind);
      case 'getProxy': return () => H.trapThrows({ a: 1 }, 'get', throwKind);
      case 'revokedResult': return () => H.revoked({});
      case 'promise': return async (v) => v;
      case 'neverPromise': return () => NEVER;
      case 'badThenable': return () => H.badThenable(throwKind, true);
      case 'undefined': return () => undefined;
      case 'function': return () => () => 1;
      case 'cycle': return () => H.cycle('o');
      case 'deep': return () => H.nest(5000, 'o');
      case 'huge': return () => H.big(9e6);
      case 'symbol': return () => Symbol('anon');
      case 'bigint': return () => 10n;
      case 'nan': return () => NaN;
      case 'surrogate': return () => '\uD800';
      case 'identity': return (v) => v;
      case 'revokedFn': return H.revoked(() => 1);
      default: {
        const op = kind.slice('reentrant:'.length);
        return (v) => {
          if (box.t) observer(box, op, REENTRANT_ARGS[op], () => box.t[op](...REENTRANT_ARGS[op]));
          return v;
        };
      }
    }
  },
  ANON_KINDS: ['throw', 'proxy', 'getProxy', 'revokedResult', 'promise', 'neverPromise', 'badThenable', 'undefined',
    'function', 'cycle', 'deep', 'symbol', 'bigint', 'nan', 'surrogate', 'identity', 'revokedFn',
    ...Object.keys(REENTRANT_ARGS).map((op) => `reentrant:${op}`)],

  // ---- fetches (the `fetch` option) ----
  /** canned (202, every record queued) | throw | reject | hang | garbage | badJson | status500 | proxyResponse | badThenable */
  fetch(kind, throwKind = 0) {
    switch (kind) {
      // a macrotask first, as a real fetch has: a reply in microtasks only would let a long batch starve the timers
      case 'canned': return async (_url, init) => {
        await new Promise((resolve) => setTimeout(resolve, 0));
        return cannedReply(init);
      };
      case 'throw': return H.thrower(throwKind);
      case 'reject': return () => Promise.reject(H.thrown(throwKind));
      case 'hang': return () => NEVER;
      case 'garbage': return () => 42;
      case 'badJson': return async () => new Response('{"results": [', { status: 202 });
      case 'status500': return async () => new Response('{"detail":"down"}', { status: 500 });
      case 'proxyResponse': return async () => hostileErrorObject();
      default: return () => H.badThenable(throwKind, false);
    }
  },
  FETCH_KINDS: ['throw', 'reject', 'hang', 'garbage', 'badJson', 'status500', 'proxyResponse', 'badThenable'],

  // ---- stores (the `store` option) ----
  /**
   * A store: memoryStore() with `method` (put | list | delete | lock) replaced by a hostile one of `kind`:
   *   throwSync | reject | hang | garbage (resolves to 42) | badThenable
   *   list only:  listNull | listNumber | listLengthThrows | listIndexThrows | listNullEntry | listBadKey |
   *               listBadValue | listSparse | listSurrogateKey | listHostileEntry | listLengthLies
   *   lock only:  lockNeverCalls | lockTwice | lockIgnoresResult | lockResolvesEarly
   *   props:      durabilityThrows | consistentThrows | durabilityNumber (method ignored)
   */
  store(method, kind, throwKind = 0) {
    const base = pkg.memoryStore();
    const store = { put: base.put, list: base.list, delete: base.delete, lock: base.lock };
    const hostile = method === 'props' ? null : H.storeMethod(base, method, kind, throwKind);
    if (kind === 'durabilityThrows') Object.defineProperty(store, 'durability', { get: H.thrower(throwKind), enumerable: true });
    else if (kind === 'consistentThrows') Object.defineProperty(store, 'consistent', { get: H.thrower(throwKind), enumerable: true });
    else if (kind === 'durabilityNumber') store.durability = 7;
    else store[method] = hostile;
    return store;
  },
  storeMethod(base, method, kind, throwKind) {
    const orig = base[method].bind(base);
    switch (kind) {
      case 'throwSync': return H.thrower(throwKind);
      case 'reject': return () => Promise.reject(H.thrown(throwKind));
      case 'hang': return () => NEVER;
      case 'garbage': return async () => 42;
      case 'badThenable': return () => H.badThenable(throwKind, method === 'list');
      case 'listNull': return async () => null;
      case 'listNumber': return async () => 7;
      case 'listLengthThrows': return async (prefix) => H.lengthThrows([{ key: `${prefix}x`, value: '{}' }], throwKind);
      case 'listIndexThrows': return async (prefix) => H.idxGetter([{ key: `${prefix}x`, value: '{}' }, 1], 0, throwKind);
      case 'listNullEntry': return async (prefix) => [null, undefined, 3, { key: `${prefix}q` }];
      case 'listBadKey': return async () => [{ key: 1, value: '{}' }, { key: null, value: null }];
      case 'listBadValue': return async (prefix) => [{ key: `${prefix}r1`, value: '{"broken' }, { key: `${prefix}r2`, value: '[]' },
        { key: `${prefix}r3`, value: '{"response_id": 5}' }, { key: `${prefix}r4`, value: 'null' }];
      case 'listSparse': return async () => new Array(100000);
      case 'listSurrogateKey': return async (prefix) => [{ key: `${prefix}\uD800`, value: '{}' }, { key: `${prefix}a`, value: '"\uDC00"' }];
      case 'listHostileEntry': return async (prefix) => [H.getter({}, 'key', throwKind), H.trapThrows({ key: `${prefix}x` }, 'get', throwKind)];
      case 'listLengthLies': return async () => H.lengthLies([], 4294967295);
      case 'lockNeverCalls': return () => NEVER;
      case 'lockTwice': return async (name, fn) => {
        await fn();
        return fn();
      };
      // (the dropped promises get a catch here, so that any unhandled rejection the fuzz sees is the tracker's)
      case 'lockIgnoresResult': return async (name, fn) => {
        Promise.resolve(fn()).catch(() => {});
        return undefined;
      };
      case 'lockResolvesEarly': return (name, fn) => {
        orig(name, fn).catch(() => {});
        return Promise.resolve(undefined);
      };
      default: return orig;
    }
  },
  STORE_KINDS: {
    put: ['throwSync', 'reject', 'hang', 'garbage', 'badThenable'],
    delete: ['throwSync', 'reject', 'hang', 'garbage', 'badThenable'],
    list: ['throwSync', 'reject', 'hang', 'garbage', 'badThenable', 'listNull', 'listNumber', 'listLengthThrows',
      'listIndexThrows', 'listNullEntry', 'listBadKey', 'listBadValue', 'listSparse', 'listSurrogateKey',
      'listHostileEntry', 'listLengthLies'],
    lock: ['throwSync', 'reject', 'hang', 'garbage', 'badThenable', 'lockNeverCalls', 'lockTwice', 'lockIgnoresResult',
      'lockResolvesEarly'],
    props: ['durabilityThrows', 'consistentThrows', 'durabilityNumber'],
  },
  /** A whole-store hostility: a Proxy store whose get trap throws, a revoked store, a store missing `method`. */
  weirdStore(kind, method = 'put', throwKind = 0) {
    if (kind === 'proxyGet') return H.trapThrows(pkg.memoryStore(), 'get', throwKind);
    if (kind === 'revoked') return H.revoked(pkg.memoryStore());
    const s = { ...pkg.memoryStore() };
    delete s[method];
    return s;
  },
};
