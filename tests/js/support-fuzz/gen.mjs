// Generates the fuzz's arguments: each as a Val { v, s }, the value and the source text that builds it (with the
// builders of hostile.mjs as `H.*`), so that a failing call prints as runnable JavaScript. All choices come from
// the seeded rng; the few slow values (huge arrays, 50 MB strings, 10,000-record batches) are rationed by
// `budget`, so a run's cost does not depend on luck.

import { H } from './hostile.mjs';

export class Val {
  constructor(v, s) {
    this.v = v;
    this.s = s;
  }
}

/** Source text of a primitive (or undefined), exact for -0, NaN, BigInt, lone surrogates. */
export function srcOf(x) {
  if (x === undefined) return 'undefined';
  if (typeof x === 'number') return Object.is(x, -0) ? '-0' : String(x);
  if (typeof x === 'bigint') return `${x}n`;
  if (typeof x === 'string') return x.length > 64 && /^(.)\1*$/s.test(x) ? `${JSON.stringify(x[0])}.repeat(${x.length})` : JSON.stringify(x);
  return JSON.stringify(x);
}

export const lit = (x) => new Val(x, srcOf(x));
const raw = (v, s) => new Val(v, s);

/** H.name(args...): each arg a Val or a primitive. */
export function h(name, ...args) {
  const vals = args.map((a) => (a instanceof Val ? a : lit(a)));
  return new Val(H[name](...vals.map((a) => a.v)), `H.${name}(${vals.map((a) => a.s).join(', ')})`);
}

/** An object literal with own data properties (also for "__proto__"), from [key, Val] pairs. */
export function obj(entries) {
  const o = {};
  for (const [k, val] of entries) Object.defineProperty(o, k, { value: val.v, enumerable: true, writable: true, configurable: true });
  return new Val(o, `{ ${entries.map(([k, val]) => `[${JSON.stringify(k)}]: ${val.s}`).join(', ')} }`);
}

export function arr(items) {
  return new Val(items.map((i) => i.v), `[${items.map((i) => i.s).join(', ')}]`);
}

const KEYS = ['a', 'prompt_tokens', 'completion_tokens', 'secret', '', '__proto__', 'constructor', '\uD800', 'k\uDC00x',
  'toString', '0', '1e3', 'é', 'x'.repeat(300), 'nested.key', '\u0000'];

const ODD_NUMBERS = [NaN, -0, Infinity, -Infinity, 1e308, -1e308, 5e-324, 2.2250738585072014e-308, 2 ** 53 + 2, 1e21,
  0.1 + 0.2, -1e-7, 4294967296, -2147483649];

const STRINGS = ['hello', '', ' ', '\uD800', 'a\uDC00b', '\uDBFF\uDFFF', '\uDFFF\uD800', 'é', '\u0000', '\uFFFE', 'line\nbreak',
  '"quoted\\"', '{"json":1}', '\u2028'];

/** Slow values a run may use, per 100,000 calls (scaled by the run's call count, at least 1 each). */
const BUDGET_PER_100K = { array9e6: 3, fill1e6: 5, string5e7: 2, keys1e5: 3, batch10000: 3, deep1e5: 6, length2e32: 6,
  list1e5: 6, string1e6: 20 };

export function createBudget(calls) {
  const budget = {};
  for (const [k, n] of Object.entries(BUDGET_PER_100K)) budget[k] = Math.max(1, Math.round((n * calls) / 100000));
  return budget;
}

export function createGen(r, budget) {
  const take = (kind) => {
    if (budget[kind] > 0) {
      budget[kind] -= 1;
      return true;
    }
    return false;
  };
  const throwKind = () => r.int(0, 6);
  const key = () => (r.chance(0.6) ? r.pick(['a', 'b', 'prompt_tokens', 'completion_tokens', 'n']) : r.pick(KEYS));

  function number() {
    return r.chance(0.6) ? lit(r.int(0, 1e6)) : lit(r.pick(ODD_NUMBERS));
  }

  function string() {
    const x = r.float();
    if (x < 0.6) return lit(r.pick(STRINGS));
    if (x < 0.98) return h('str', r.int(1, 3000));
    if (x < 0.999 || !take('string1e6')) return h('str', r.int(3000, 70000), r.pick(['y', '\uD800', 'é']));
    if (r.chance(0.1) && take('string5e7')) return h('str', 5e7);
    return h('str', r.int(1e6, 2e6));
  }

  function leaf() {
    return r.weighted([
      [30, number],
      [6, () => lit(r.pick([1n, 2n ** 70n, -0n]))],
      [30, string],
      [8, () => lit(r.pick([true, false, null, undefined]))],
      [3, () => raw(Symbol('s'), 'Symbol("s")')],
      [1, () => raw(Symbol.iterator, 'Symbol.iterator')],
      [3, () => raw(() => 1, '() => 1')],
      [1, () => raw(class K {}, 'class K {}')],
      [6, () => h('instance', r.int(0, 17))],
      [4, () => h('date', r.pick([0, NaN, 8.64e15, -8.64e15, 1767225600000]))],
    ])();
  }

  function smallObject(d) {
    const n = r.int(0, 3);
    const entries = [];
    for (let i = 0; i < n; i += 1) entries.push([key(), any(d - 1)]);
    return obj(entries);
  }

  function smallArray(d) {
    const n = r.int(0, 3);
    const items = [];
    for (let i = 0; i < n; i += 1) items.push(any(d - 1));
    return arr(items);
  }

  function container(d) {
    return r.weighted([
      [10, () => smallObject(d)],
      [8, () => smallArray(d)],
      [3, () => h('nullProto', smallObject(d))],
      [3, () => h('frozen', r.chance(0.5) ? smallObject(d) : smallArray(d))],
      [8, () => h('getter', smallObject(d), key(), throwKind())],
      [3, () => h('flipGetter', smallObject(d), key(), lit(1), leaf())],
      [2, () => h('mutatingGetter', obj([['a', lit(1)], ['b', lit(2)]]), 'a', r.int(1, 50), 'b')],
      [8, () => h('idxGetter', arr([lit(1), lit(2), lit(3)]), r.int(0, 2), throwKind())],
      [8, () => h('trapThrows', r.chance(0.5) ? obj([['a', lit(1)]]) : arr([lit(1)]),
        r.pick(['get', 'ownKeys', 'getPrototypeOf', 'has', 'getOwnPropertyDescriptor']), throwKind())],
      [5, () => h('lengthThrows', arr([lit(1), lit(2)]), throwKind())],
      [4, () => h('indexThrows', arr([lit(1), lit(2)]), r.int(0, 1), throwKind())],
      [2, () => h('selfProxy')],
      [2, () => h('badOwnKeys')],
      [8, () => h('revoked', r.pick([obj([['a', lit(1)]]), arr([lit(1)]), raw(() => 1, '() => 1')]))],
      [4, () => {
        if (r.chance(0.01) && take('deep1e5')) return h('nest', 100000, r.pick(['o', 'a']));
        return h('nest', r.pick([10, 63, 64, 65, 66, 100, 1000, 5000]), r.pick(['o', 'a']));
      }],
      [5, () => h('cycle', r.pick(['o', 'a', 'deep', 'ctx']))],
      [2, () => h('shared')],
      [4, () => h('sparse', r.int(1, 1000), r.int(0, 999), leaf())],
      [2, () => {
        if (r.chance(0.05) && take('length2e32')) return h('withLength', arr([lit(1)]), 4294967295);
        return h('withLength', arr([lit(1)]), r.int(2, 5000));
      }],
      [2, () => h('withProp', arr([lit(1)]), 'extra', lit(1))],
      [2, () => h('hidden', obj([['a', lit(1)]]), 'h', leaf())],
      [2, () => h('symKey', obj([['a', lit(1)]]))],
      [2, () => h('toJSONThrows', throwKind())],
      [2, () => h('badThenable', throwKind(), r.chance(0.5))],
      [2, () => h('lengthLies', arr([]), r.pick([4294967295, 9e6, 2 ** 31]))],
      [1, () => {
        if (r.chance(0.02) && take('array9e6')) return h('big', 9e6);
        if (r.chance(0.03) && take('fill1e6')) return h('filled', 1e6, 0);
        if (r.chance(0.02) && take('keys1e5')) return h('manyKeys', 100000);
        return r.chance(0.5) ? h('big', r.int(1000, 20000)) : h('manyKeys', r.int(10, 2000));
      }],
    ])();
  }

  function any(d = 3) {
    if (d <= 0 || r.chance(0.45)) return leaf();
    return container(d);
  }

  /** A valid usage object. */
  function validUsage() {
    const entries = [['prompt_tokens', lit(r.int(0, 5000))], ['completion_tokens', lit(r.int(0, 5000))]];
    if (r.chance(0.3)) entries.push(['details', obj([['cached', lit(r.int(0, 100))], ['model', lit('m')]])]);
    if (r.chance(0.2)) entries.push(['secret', lit('s3cr3t')]);
    return obj(entries);
  }

  /** A usage object with one hostile value somewhere inside (or a hostile usage outright). */
  function usage() {
    const x = r.float();
    if (x < 0.1) return validUsage();
    if (x < 0.25) return any(3);
    if (x < 0.35) return container(3);
    const entries = [['prompt_tokens', lit(r.int(0, 5000))]];
    if (r.chance(0.3)) entries.push(['secret', r.chance(0.5) ? lit('s3cr3t') : any(2)]);
    const where = r.int(0, 2);
    if (where === 0) entries.push([key(), any(3)]);
    else if (where === 1) entries.push(['details', obj([['cached', lit(1)], [key(), any(3)]])]);
    else entries.push(['list', arr([lit(1), any(3)])]);
    return obj(entries);
  }

  function serviceKey() {
    if (r.chance(0.88)) return lit(r.pick(['openai::gpt-4o-mini', 'x::y', 'anthropic::claude', 'fuzz::service']));
    return r.chance(0.5) ? lit(r.pick(['', ' ', '\uD800', 'a::\uDC00', 'x'.repeat(300), 'no-separator'])) : any(2);
  }

  function fieldList() {
    return r.weighted([
      [10, () => arr([lit('secret')])],
      [3, () => arr([])],
      [2, () => arr([lit('secret'), lit('a'), lit('prompt_tokens')])],
      [3, () => arr([leaf()])],
      [2, () => lit(r.pick(['secret', 5, null]))],
      [2, () => h('idxGetter', arr([lit('secret'), lit('a')]), 0, throwKind())],
      [2, () => h('lengthThrows', arr([lit('secret')]), throwKind())],
      [2, () => h('revoked', arr([lit('secret')]))],
      [1, () => h('lengthLies', arr([lit('a')]), 4294967295)],
      [1, () => h('sparse', r.int(2, 50000), 0, lit('secret'))],
      [1, () => arr([lit('\uD800'), lit('')])],
      [1, () => container(2)],
    ])();
  }

  function anonVal(box) {
    const kind = r.pick(H.ANON_KINDS);
    const tk = throwKind();
    return new Val(H.anon(kind, box, tk), `H.anon(${JSON.stringify(kind)}, box, ${tk})`);
  }

  function responseId() {
    return r.weighted([
      [10, () => lit(r.hex(32))],
      [3, () => lit(r.pick(['', '   ', '\uD800', 'x'.repeat(300), 'id-with-dash', 'é']))],
      [3, () => leaf()],
      [1, () => container(1)],
    ])();
  }

  function timestamp() {
    return r.weighted([
      [6, () => h('date', r.pick([0, 1767225600000, NaN, 8.64e15, -8.64e15, -1]))],
      [4, () => lit(r.pick(['2026-01-01T00:00:00Z', '2026-01-01T00:00:00+02:00', '2026-01-01T00:00:00', '2026-13-45T99:00:00Z',
        '', 'yesterday', '2026-01-01T00:00:00.123456789Z', '+275760-09-13T00:00:00Z', '\uD800']))],
      [4, () => lit(r.pick([0, 1767225600000, -1, 1e20, NaN, Infinity, -0, 1.5, 8.64e15 + 1]))],
      [2, () => h('badDate', r.pick(['toISOString', 'getTime', 'valueOf']), throwKind())],
      [2, () => leaf()],
      [1, () => container(1)],
    ])();
  }

  function customerKey() {
    return r.weighted([
      [6, () => lit(r.pick(['cust-1', 'c', null]))],
      [3, () => lit(r.pick(['', '   ', '\uD800', 'x'.repeat(2000), 5, true]))],
      [2, () => leaf()],
      [1, () => container(1)],
    ])();
  }

  function context() {
    return r.weighted([
      [5, () => obj([['env', lit('fuzz')], ['n', lit(1)]])],
      [2, () => lit(null)],
      [6, () => any(3)],
      [4, () => container(3)],
    ])();
  }

  function trackOptions(box) {
    const x = r.float();
    if (x < 0.55) return null; // no options argument
    if (x < 0.62) {
      return r.weighted([
        [2, () => leaf()],
        [2, () => h('revoked', obj([]))],
        [3, () => h('trapThrows', obj([['responseId', lit('a')]]), r.pick(['get', 'ownKeys', 'getPrototypeOf', 'has']), throwKind())],
        [1, () => container(2)],
      ])();
    }
    const entries = [];
    if (r.chance(0.3)) entries.push(['responseId', responseId()]);
    if (r.chance(0.3)) entries.push(['timestamp', timestamp()]);
    if (r.chance(0.25)) entries.push(['customerKey', customerKey()]);
    if (r.chance(0.25)) entries.push(['context', context()]);
    if (r.chance(0.25)) entries.push(['anonymizeFields', fieldList()]);
    if (r.chance(0.25)) entries.push(['anonymizer', anonVal(box)]);
    if (r.chance(0.05)) entries.push([r.pick(['responseID', 'foo', '\uD800', 'apiKey']), lit(1)]);
    let o = obj(entries);
    if (r.chance(0.1) && entries.length > 0) o = h('getter', o, entries[0][0], throwKind());
    return o;
  }

  function batchRecord(box) {
    if (r.chance(0.1)) return any(2);
    const entries = [['serviceKey', serviceKey()], ['usage', r.chance(0.5) ? validUsage() : usage()]];
    if (r.chance(0.2)) entries.push(['responseId', responseId()]);
    if (r.chance(0.15)) entries.push(['timestamp', timestamp()]);
    if (r.chance(0.15)) entries.push(['customerKey', customerKey()]);
    if (r.chance(0.15)) entries.push(['context', context()]);
    if (r.chance(0.03)) entries.push(['anonymizer', anonVal(box)]);
    let o = obj(entries);
    if (r.chance(0.05)) o = h('getter', o, 'usage', throwKind());
    return o;
  }

  function batch(box) {
    const x = r.float();
    if (x < 0.75) {
      const items = [];
      const n = r.int(0, 4);
      for (let i = 0; i < n; i += 1) items.push(batchRecord(box));
      return arr(items);
    }
    return r.weighted([
      [3, () => h('idxGetter', arr([batchRecord(box), batchRecord(box)]), r.int(0, 1), throwKind())],
      [3, () => h('lengthThrows', arr([batchRecord(box)]), throwKind())],
      [2, () => h('indexThrows', arr([batchRecord(box), batchRecord(box)]), r.int(0, 1), throwKind())],
      [3, () => h('revoked', arr([batchRecord(box)]))],
      [2, () => h('sparse', r.int(2, 20), 0, batchRecord(box))],
      [2, () => h('big', r.pick([10001, 9e6, 4294967295]))],
      [2, () => h('lengthLies', arr([batchRecord(box)]), r.pick([10000, 4294967295, 10001]))],
      [3, () => leaf()],
      [2, () => container(2)],
      [1, () => (take('batch10000')
        ? h('filled', 10000, obj([['serviceKey', lit('fuzz::bulk')], ['usage', obj([['n', lit(1)]])]]))
        : arr([batchRecord(box)]))],
    ])();
  }

  function batchOptions(box) {
    if (r.chance(0.7)) return null;
    if (r.chance(0.15)) return r.chance(0.5) ? leaf() : h('revoked', obj([]));
    const entries = [];
    if (r.chance(0.5)) entries.push(['anonymizeFields', fieldList()]);
    if (r.chance(0.5)) entries.push(['anonymizer', anonVal(box)]);
    if (r.chance(0.1)) entries.push(['customerKey', lit('c')]);
    return obj(entries);
  }

  function flushOptions() {
    return r.weighted([
      [2, () => null],
      [3, () => obj([])],
      [30, () => obj([['deadlineMs', lit(r.int(0, 40))]])],
      [6, () => obj([['keepalive', lit(true)], ['deadlineMs', lit(r.int(0, 30))]])],
      [2, () => obj([['keepalive', lit(r.pick([false, true]))]])],
      [8, () => obj([['deadlineMs', lit(r.pick([NaN, -1, 1e9, '10', 10n, -0, 600001, 5.5, Infinity, null, 1e308]))]])],
      [3, () => obj([['keepalive', r.pick([lit('yes'), lit(1), lit(null), leaf()])], ['deadlineMs', lit(5)]])],
      [3, () => h('getter', obj([['deadlineMs', lit(5)]]), r.pick(['deadlineMs', 'keepalive']), throwKind())],
      [3, () => h('trapThrows', obj([['deadlineMs', lit(5)]]), r.pick(['get', 'ownKeys', 'getPrototypeOf', 'has']), throwKind())],
      [2, () => h('revoked', obj([['deadlineMs', lit(5)]]))],
      [2, () => obj([['deadlineMs', lit(5)], [r.pick(['deadline', 'foo', '\uD800']), lit(1)]])],
      [2, () => leaf()],
    ])();
  }

  function ids(knownIds) {
    return r.weighted([
      [5, () => null],
      [3, () => arr([])],
      [5, () => arr(knownIds.length > 0 ? [lit(r.pick(knownIds))] : [lit(r.hex(32))])],
      [2, () => arr([lit('nope'), lit('')])],
      [2, () => h('idxGetter', arr([lit('a'), lit('b')]), 0, throwKind())],
      [2, () => h('lengthThrows', arr([lit('a')]), throwKind())],
      [2, () => h('revoked', arr([lit('a')]))],
      [1, () => h('lengthLies', arr([lit('a')]), 4294967295)],
      [1, () => arr([lit('\uD800')])],
      [3, () => leaf()],
      [1, () => container(2)],
    ])();
  }

  return { any, leaf, container, usage, validUsage, serviceKey, trackOptions, batch, batchOptions, flushOptions, ids,
    fieldList, anonymizer: anonVal, customerKey, context, throwKind, take, number, string, timestamp, key };
}
