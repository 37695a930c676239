// The fuzz's seeded PRNG: sfc32 (Chris Doty-Humphrey's small fast counting generator, public domain), seeded from
// one 32-bit integer through splitmix32. Same seed → same sequence in every runtime (only 32-bit integer math).

function splitmix32(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * A generator from `seed` (any integer; reduced to 32 bits). Methods:
 *   u32()            a uniform 32-bit unsigned integer
 *   float()          uniform in [0, 1)
 *   int(lo, hi)      a uniform integer in [lo, hi] (inclusive)
 *   chance(p)        true with probability p
 *   pick(list)       one element of a non-empty list
 *   weighted(pairs)  the value of one [weight, value] pair, chosen in proportion to the weights
 *   hex(n)           n lowercase hex characters
 */
export function createRng(seed) {
  const mix = splitmix32(seed);
  let a = mix();
  let b = mix();
  let c = mix();
  let d = mix();
  const u32 = () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i += 1) u32();
  const float = () => u32() / 4294967296;
  const int = (lo, hi) => lo + Math.floor(float() * (hi - lo + 1));
  return {
    u32,
    float,
    int,
    chance: (p) => float() < p,
    pick: (list) => list[int(0, list.length - 1)],
    weighted(pairs) {
      let total = 0;
      for (const [w] of pairs) total += w;
      let x = float() * total;
      for (const [w, value] of pairs) {
        x -= w;
        if (x < 0) return value;
      }
      return pairs[pairs.length - 1][1];
    },
    hex(n) {
      let s = '';
      while (s.length < n) s += u32().toString(16).padStart(8, '0');
      return s.slice(0, n);
    },
  };
}
