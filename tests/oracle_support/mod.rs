//! Shared by the oracle tests (tests/oracle_*.rs): a small deterministic PRNG and generators of the nasty
//! inputs every parser fed outside text must survive. Each test file draws a fixed number of cases from a
//! fixed seed, so a run is the same everywhere and a failure names the case that reproduces it.
//!
//! `AICM_ORACLE_SEED=<n>` and `AICM_ORACLE_SCALE=<k>` (k × the default case count) explore further by hand;
//! the defaults are what CI runs (each file well under a few seconds on 2 cores).
#![allow(dead_code)] // each test file uses its own part of this module

use aicostmanager_edge::core::value::Value;

/// SplitMix64: tiny, fast, and good enough to spread cases over the input space (not for secrets).
pub struct Rng(u64);

impl Rng {
    /// The generator for one test: its fixed seed, or `AICM_ORACLE_SEED` mixed with the test's name.
    pub fn for_test(name: &str) -> Rng {
        let base = std::env::var("AICM_ORACLE_SEED").ok().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0x5eed_a1c3);
        let mut seed = base;
        for b in name.bytes() {
            seed = (seed ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`; the tiny modulo bias does not matter here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// True with probability `1 / n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A character chosen to hurt: controls, quotes, backslashes, the surrogate neighbours, BOM, line
    /// separators, astral characters, and plain ASCII.
    pub fn nasty_char(&mut self) -> char {
        const SPECIAL: &[char] = &[
            '"', '\\', '/', '\n', '\r', '\t', '\u{8}', '\u{c}', '\u{0}', '\u{1}', '\u{1f}', '\u{7f}', '\u{80}', '\u{a0}',
            '\u{ff}', 'é', '€', '\u{2028}', '\u{2029}', '\u{d7ff}', '\u{e000}', '\u{feff}', '\u{fffd}', '\u{ffff}',
            '\u{10000}', '😀', '\u{10ffff}', ' ', '{', '}', '[', ']', ':', ',', '-', '+', '.', 'e', 'E', '0', 'u',
        ];
        match self.below(4) {
            0 => *self.pick(SPECIAL),
            1 => char::from(self.range(0x20, 0x7e) as u8),
            2 => char::from_u32(self.range(0, 0x7ff) as u32).unwrap_or('x'),
            _ => char::from_u32(self.range(0, 0x10ffff) as u32).unwrap_or('\u{fffd}'), // surrogates → U+FFFD
        }
    }

    pub fn nasty_string(&mut self, max_len: u64) -> String {
        let len = self.below(max_len + 1);
        (0..len).map(|_| self.nasty_char()).collect()
    }

    /// A finite `f64` spread over every kind: integers, short decimals, powers of ten, subnormals, the
    /// extremes, ±0, and raw bit patterns of every exponent.
    pub fn nasty_f64(&mut self) -> f64 {
        let x = match self.below(10) {
            0 => self.range(-1_000_000, 1_000_000) as f64,
            1 => (self.next_u64() >> self.below(64)) as f64,
            2 => self.range(-99_999, 99_999) as f64 / 10f64.powi(self.range(1, 8) as i32),
            3 => 10f64.powi(self.range(-330, 310) as i32),
            4 => f64::from_bits(self.below(1 << 52)), // subnormals (and 0)
            5 => *self.pick(&[0.0, -0.0, f64::MIN_POSITIVE, f64::MAX, f64::MIN, f64::EPSILON, 5e-324, 9007199254740992.0, 9007199254740993.0, 1e21, 1e-7, 0.1, 0.2, 0.3]),
            6 => {
                let base = f64::from_bits(self.next_u64() & !(0x7ff << 52) | (self.range(1, 2046) as u64) << 52);
                if self.one_in(2) { base } else { f64::from_bits(base.to_bits().wrapping_add(self.range(-2, 2) as u64)) }
            }
            _ => f64::from_bits(self.next_u64()),
        };
        if x.is_finite() { x } else { self.range(-5, 5) as f64 }
    }

    /// A JSON value of at most `depth` levels, built from the nasty generators.
    pub fn json_value(&mut self, depth: u32) -> Value {
        let kinds = if depth == 0 { 4 } else { 6 };
        match self.below(kinds) {
            0 => Value::Null,
            1 => Value::Bool(self.one_in(2)),
            2 => Value::Number(self.nasty_f64()),
            3 => Value::String(self.nasty_string(12)),
            4 => Value::Array((0..self.below(5)).map(|_| self.json_value(depth - 1)).collect()),
            _ => {
                let mut entries: Vec<(String, Value)> = Vec::new();
                for _ in 0..self.below(5) {
                    let key = if self.one_in(3) { format!("k{}", self.below(3)) } else { self.nasty_string(6) };
                    let value = self.json_value(depth - 1);
                    // Keys unique, as a parsed object has them (duplicates are tested on text).
                    match entries.iter_mut().find(|(k, _)| *k == key) {
                        Some(slot) => slot.1 = value,
                        None => entries.push((key, value)),
                    }
                }
                Value::Object(entries)
            }
        }
    }

    /// `text` damaged the way stored or received text gets damaged: truncated, a char removed, replaced,
    /// inserted or doubled, a slice repeated or two texts spliced. Always valid UTF-8.
    pub fn mutate(&mut self, text: &str) -> String {
        let chars: Vec<char> = text.chars().collect();
        let n = chars.len() as u64;
        let at = self.below(n + 1) as usize;
        let mut out = chars.clone();
        const PUNCTUATION: &[char] = &['[', ']', '{', '}', ',', ':', '"'];
        let marks: Vec<usize> = (0..out.len()).filter(|&i| PUNCTUATION.contains(&out[i])).collect();
        if !marks.is_empty() && self.one_in(3) {
            // At a piece of syntax: remove it, double it, or put another one (or a space) before it.
            let at = marks[self.below(marks.len() as u64) as usize];
            match self.below(3) {
                0 => {
                    out.remove(at);
                }
                1 => out.insert(at, out[at]),
                _ => {
                    let c = *self.pick(&['[', ']', '{', '}', ',', ':', '"', ' ', '0']);
                    out.insert(at, c);
                }
            }
            return out.into_iter().collect();
        }
        match self.below(9) {
            7 => {
                // Syntax: a punctuation or digit char where it may or may not belong.
                let c = *self.pick(&['[', ']', '{', '}', ',', ':', '"', '\\', ' ', '0', '1', '-', '+', '.', 'e', 'T', 'Z']);
                out.insert(at, c);
            }
            8 => {
                // A run of chars removed (a value, a key, a separator and its neighbour).
                let end = (at + 1 + self.below(8) as usize).min(out.len());
                out.drain(at..end);
            }
            0 => out.truncate(at),
            1 if at < out.len() => {
                out.remove(at);
            }
            2 if at < out.len() => out[at] = self.nasty_char(),
            3 => out.insert(at, self.nasty_char()),
            4 if at < out.len() => out.insert(at, out[at]),
            5 => {
                let end = (at + self.below(8) as usize).min(out.len());
                let slice: Vec<char> = out[at..end].to_vec();
                for (i, c) in slice.into_iter().enumerate() {
                    out.insert(end + i, c);
                }
            }
            _ => {
                let from = self.below(n + 1) as usize;
                out.truncate(at);
                out.extend(chars[from..].iter().copied());
            }
        }
        out.into_iter().collect()
    }

    /// `mutate` applied one to three times.
    pub fn mutate_some(&mut self, text: &str) -> String {
        let mut out = self.mutate(text);
        for _ in 0..self.below(3) {
            out = self.mutate(&out);
        }
        out
    }
}

/// The number of cases to run: `default`, times `AICM_ORACLE_SCALE` when set.
pub fn cases(default: usize) -> usize {
    let scale = std::env::var("AICM_ORACLE_SCALE").ok().and_then(|s| s.parse::<usize>().ok()).unwrap_or(1);
    default * scale.max(1)
}

/// Collects disagreements and fails once with the first few, so one run shows the pattern.
#[derive(Default)]
pub struct Disagreements {
    found: Vec<String>,
    count: usize,
}

impl Disagreements {
    pub fn add(&mut self, what: String) {
        self.count += 1;
        if self.found.len() < 12 {
            let cut = (1500..=what.len()).find(|&i| what.is_char_boundary(i)).unwrap_or(what.len());
            self.found.push(if cut < what.len() { format!("{}…", &what[..cut]) } else { what });
        }
    }

    pub fn assert_none(&self, what: &str) {
        assert!(self.count == 0, "{} disagreements with the oracle for {what}; first ones:\n{}", self.count, self.found.join("\n"));
    }
}

/// The shortest round-trip digits of a finite non-zero `x` as Rust's formatter finds them, as
/// `(digits, exponent)` meaning `0.d1d2… × 10^(exponent + 1)`, i.e. `d1.d2… × 10^exponent`.
pub fn rust_shortest(x: f64) -> (String, i64) {
    let text = format!("{:e}", x.abs());
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    (mantissa.replace('.', ""), exponent.parse().unwrap_or(0))
}

/// `x`'s exact decimal expansion (every f64 has at most 767 significant digits) as `(digits, exponent)`.
fn exact_digits(x: f64) -> (String, i64) {
    let exact = format!("{:.800e}", x.abs());
    let (mantissa, exponent) = exact.split_once('e').unwrap_or((&exact, "0"));
    (mantissa.replace('.', ""), exponent.parse().unwrap_or(0))
}

/// True when `x`'s exact decimal expansion is halfway between two `len`-digit decimals: the shortest
/// digits are then a tie, which ECMAScript and Python break to even and Rust's formatter breaks upwards.
pub fn shortest_is_tie(x: f64, len: usize) -> bool {
    // A cheap look at 41 digits first: an exact "5000…" rest shows there too.
    let rough = format!("{:.40e}", x.abs());
    let rough: String = rough.split('e').next().unwrap_or("").replace('.', "");
    let rest = rough.get(len..).unwrap_or("");
    if !(rest.starts_with('5') && rest.bytes().skip(1).all(|b| b == b'0')) {
        return false;
    }
    let (digits, _) = exact_digits(x);
    let rest = digits.get(len..).unwrap_or("");
    rest.starts_with('5') && rest.bytes().skip(1).all(|b| b == b'0')
}

/// The shortest digits ECMAScript and Python pick for `x` (finite, non-zero): Rust's, with exact ties
/// broken to the even digit instead of upwards.
pub fn shortest_ties_even(x: f64) -> (String, i64) {
    let (digits, exponent) = rust_shortest(x);
    if !shortest_is_tie(x, digits.len()) {
        return (digits, exponent);
    }
    // On a tie the other candidate is the exact expansion cut at the same length.
    let (exact, exact_exponent) = exact_digits(x);
    let down: String = exact.chars().take(digits.len()).collect();
    let even = |d: &str| d.bytes().last().is_some_and(|b| (b - b'0') % 2 == 0);
    if even(&down) && down.parse::<f64>().ok() != Some(0.0) && format!("{down}e{}", exact_exponent - digits.len() as i64 + 1).parse::<f64>().ok() == Some(x.abs()) {
        let trimmed = down.trim_end_matches('0');
        (if trimmed.is_empty() { "0".into() } else { trimmed.to_owned() }, exact_exponent)
    } else {
        (digits, exponent)
    }
}
