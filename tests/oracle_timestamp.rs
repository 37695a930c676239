//! src/core/timestamp.rs (ISO-8601 reading, the RFC 3339 and Python-SDK writers, epoch milliseconds) against
//! `chrono` and Rust's own `f64` formatting.
//!
//! The parser reads a superset of RFC 3339 (`HH:MM` without seconds, offsets `±HHMM` and `±HH`); each input
//! is compared with chrono on its RFC 3339 spelling ([`rfc3339_spelling`]). Documented differences, asserted
//! as such: the core refuses a leap second (`:60`), years and instants outside 0001..9999 UTC, and fractions
//! of more than 9 digits, all of which chrono reads.
#![cfg(not(target_arch = "wasm32"))]

mod oracle_support;

use aicostmanager_edge::core::timestamp::{format_rfc3339_millis, format_sdk_seconds, from_epoch_millis, parse_iso8601};
use chrono::{DateTime, Datelike, FixedOffset, Timelike, Utc};
use oracle_support::{cases, shortest_ties_even, Disagreements, Rng};

const MIN_MICROS: i64 = -62_135_596_800_000_000; // 0001-01-01T00:00:00Z
const MAX_MICROS: i64 = 253_402_300_799_999_999; // 9999-12-31T23:59:59.999999Z

/// The RFC 3339 spelling of one of the core's accepted shapes, for chrono: `T` as the separator, `:00`
/// seconds when missing, `Z` for `z`, `±HH:MM` offsets. Text of another shape is returned as it is.
fn rfc3339_spelling(s: &str) -> String {
    let (Some(date), Some(sep), Some(hhmm), Some(rest)) = (s.get(..10), s.get(10..11), s.get(11..16), s.get(16..)) else {
        return s.to_owned();
    };
    let sep = if matches!(sep, "t" | " ") { "T" } else { sep };
    let (seconds, offset) = match rest.strip_prefix(':') {
        Some(after) => {
            let end = after
                .char_indices()
                .find(|&(i, c)| !(c.is_ascii_digit() || (c == '.' && i == 2)))
                .map_or(after.len(), |(i, _)| i);
            (format!(":{}", &after[..end]), &after[end..])
        }
        None if rest.starts_with(['Z', 'z', '+', '-']) => (":00".to_owned(), rest),
        None => (String::new(), rest), // not a shape the core reads (e.g. "HH:MM.fff"): left for chrono to refuse
    };
    let offset = match offset.as_bytes() {
        [b'z'] => "Z".to_owned(),
        [sign @ (b'+' | b'-'), h1, h2] => format!("{}{}{}:00", char::from(*sign), char::from(*h1), char::from(*h2)),
        [sign @ (b'+' | b'-'), h1, h2, m1, m2] if m1.is_ascii_digit() => {
            format!("{}{}{}:{}{}", char::from(*sign), char::from(*h1), char::from(*h2), char::from(*m1), char::from(*m2))
        }
        _ => offset.to_owned(),
    };
    format!("{date}{sep}{hhmm}{seconds}{offset}")
}

/// A timestamp in one of the accepted shapes, fields drawn near and past their limits.
fn timestamp_text(rng: &mut Rng) -> String {
    let year = match rng.below(5) {
        0 => *rng.pick(&[0, 1, 2, 1600, 1900, 1970, 2000, 2024, 2100, 2400, 9999]),
        1 => rng.range(1969, 2040),
        _ => rng.range(0, 9999),
    };
    let month = if rng.one_in(20) { *rng.pick(&[0, 13, 99]) } else { rng.range(1, 12) };
    let day = if rng.one_in(3) { *rng.pick(&[28, 29, 30, 31]) } else if rng.one_in(30) { *rng.pick(&[0, 32]) } else { rng.range(1, 28) };
    let hour = if rng.one_in(20) { 24 } else if rng.one_in(4) { *rng.pick(&[0, 23]) } else { rng.range(0, 23) };
    let minute = if rng.one_in(20) { 60 } else { rng.range(0, 59) };
    let second = if rng.one_in(15) { *rng.pick(&[60, 61]) } else if rng.one_in(4) { 59 } else { rng.range(0, 59) };
    let sep = *rng.pick(&["T", "T", "t", " "]);
    let mut s = format!("{year:04}-{month:02}-{day:02}{sep}{hour:02}:{minute:02}");
    if !rng.one_in(5) {
        s.push_str(&format!(":{second:02}"));
        if rng.one_in(2) {
            let digits = if rng.one_in(10) { 10 } else { rng.range(1, 9) };
            s.push('.');
            s.extend((0..digits).map(|_| char::from(b'0' + rng.below(10) as u8)));
        }
    }
    let oh = if rng.one_in(15) { 24 } else if rng.one_in(3) { 23 } else { rng.range(0, 23) };
    let om = if rng.one_in(15) { 60 } else if rng.one_in(3) { 59 } else { rng.range(0, 59) };
    let sign = *rng.pick(&["+", "-"]);
    match rng.below(6) {
        0 => s.push('Z'),
        1 => s.push('z'),
        2 => s.push_str(&format!("{sign}{oh:02}{om:02}")),
        3 => s.push_str(&format!("{sign}{oh:02}")),
        _ => s.push_str(&format!("{sign}{oh:02}:{om:02}")),
    }
    s
}

/// Whether chrono's reading falls under a documented refusal of the core.
fn documented_refusal(s: &str, theirs: &DateTime<FixedOffset>) -> bool {
    let utc = theirs.with_timezone(&Utc);
    let micros = utc.timestamp_micros();
    let leap_second = theirs.nanosecond() >= 1_000_000_000;
    let long_fraction = s.split('.').nth(1).is_some_and(|f| f.bytes().take_while(u8::is_ascii_digit).count() > 9);
    leap_second || long_fraction || theirs.year() < 1 || !(MIN_MICROS..=MAX_MICROS).contains(&micros)
}

/// Generated timestamps, valid and not, then damaged ones: the core accepts exactly what chrono accepts in
/// RFC 3339 spelling (less the documented refusals), at the same instant, and never panics.
#[test]
fn iso8601_reads_like_chrono() {
    let mut rng = Rng::for_test("iso8601");
    let mut bad = Disagreements::default();
    let (mut accepted, mut refused_as_documented) = (0, 0);
    for case in 0..cases(20_000) {
        let mut s = timestamp_text(&mut rng);
        if case % 3 == 2 {
            s = rng.mutate_some(&s);
        }
        let ours = parse_iso8601(&s);
        let spelled = rfc3339_spelling(&s);
        let theirs = DateTime::parse_from_rfc3339(&spelled);
        match (&ours, &theirs) {
            (Ok(a), Ok(b)) => {
                accepted += 1;
                if *a != b.with_timezone(&Utc).timestamp_micros() {
                    bad.add(format!("case {case}: {s:?}: ours {a}, chrono {b} ({})", b.timestamp_micros()));
                }
            }
            (Err(_), Err(_)) => {}
            (Err(_), Ok(b)) if documented_refusal(&s, b) => refused_as_documented += 1,
            (Err(e), Ok(b)) => bad.add(format!("case {case}: {s:?}: ours refuses ({e}), chrono reads {spelled:?} as {b}")),
            (Ok(a), Err(e)) => bad.add(format!("case {case}: {s:?}: ours reads {a}, chrono refuses {spelled:?} ({e})")),
        }
        if let Ok(micros) = ours {
            if !(MIN_MICROS..=MAX_MICROS).contains(&micros) {
                bad.add(format!("case {case}: {s:?}: {micros} is out of range"));
            }
        }
    }
    bad.assert_none("parse_iso8601");
    assert!(accepted > 8000 && refused_as_documented > 100, "generator too narrow: {accepted} accepted, {refused_as_documented} documented refusals");
}

/// The documented refusals, pinned (chrono reads each of these).
#[test]
fn documented_refusals() {
    for s in ["2016-12-31T23:59:60Z", "0000-06-01T00:00:00Z", "0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01", "2025-01-15T10:30:00.1234567891Z"] {
        assert!(DateTime::parse_from_rfc3339(s).is_ok(), "chrono reads {s}");
        assert!(parse_iso8601(s).is_err(), "the core refuses {s}");
    }
    // The extensions, read as their RFC 3339 spellings.
    for (ours, rfc) in [("2024-02-29t23:59+0530", "2024-02-29T23:59:00+05:30"), ("2024-02-29 23:59:01.5-07", "2024-02-29T23:59:01.5-07:00")] {
        assert_eq!(rfc3339_spelling(ours), rfc);
        assert_eq!(parse_iso8601(ours).ok(), DateTime::parse_from_rfc3339(rfc).ok().map(|d| d.timestamp_micros()));
    }
}

/// An instant anywhere in 0001..9999, often near the edges of days, years and the range.
fn instant(rng: &mut Rng) -> i64 {
    match rng.below(4) {
        0 => rng.range(MIN_MICROS, MAX_MICROS),
        1 => rng.range(-1_000_000_000, 4_102_444_800_000_000), // around 1970..2100
        2 => *rng.pick(&[MIN_MICROS, MAX_MICROS, 0, -1, 1, 999_999, 1_000_000, 9_007_199_254_740_992, 9_007_199_254_740_993, 4_294_967_296_000_000, 4_294_967_295_999_999]) + rng.range(-2, 2),
        _ => rng.range(-100_000, 100_000) * 86_400_000_000 + rng.range(-1, 1),
    }
    .clamp(MIN_MICROS, MAX_MICROS)
}

/// Python's `repr(float)`: shortest digits (ties to even), positional for exponents -4..16 with at least
/// one fraction digit, else `d.ddde±XX`.
fn python_repr(x: f64) -> String {
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    let (digits, exponent) = shortest_ties_even(x);
    let sign = if x < 0.0 { "-" } else { "" };
    let k = digits.len() as i64;
    if (-4..16).contains(&exponent) {
        let point = exponent + 1;
        if point <= 0 {
            format!("{sign}0.{}{digits}", "0".repeat((-point) as usize))
        } else if point >= k {
            format!("{sign}{digits}{}.0", "0".repeat((point - k) as usize))
        } else {
            format!("{sign}{}.{}", &digits[..point as usize], &digits[point as usize..])
        }
    } else {
        let rest = if k > 1 { format!(".{}", &digits[1..]) } else { String::new() };
        format!("{sign}{}{rest}e{}{:02}", &digits[..1], if exponent < 0 { '-' } else { '+' }, exponent.abs())
    }
}

/// The writers: RFC 3339 with milliseconds like chrono's `%.3f` (truncated), read back by the parser;
/// the SDK's seconds like Python's `repr(micros / 10**6)` (one correctly rounded division).
#[test]
fn writers_match_chrono_and_python_repr() {
    let mut rng = Rng::for_test("writers");
    let mut bad = Disagreements::default();
    for case in 0..cases(10_000) {
        let micros = instant(&mut rng);
        let ours = format_rfc3339_millis(micros);
        let theirs = DateTime::from_timestamp_micros(micros).map(|d| d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
        if Some(&ours) != theirs.as_ref() {
            bad.add(format!("case {case}: {micros}: ours {ours}, chrono {theirs:?}"));
        }
        let back = parse_iso8601(&ours);
        if back != Ok(micros.div_euclid(1000) * 1000) {
            bad.add(format!("case {case}: {micros}: {ours} reads back as {back:?}"));
        }
        let sign = if micros < 0 { "-" } else { "" };
        let exact = format!("{sign}{}.{:06}", micros.unsigned_abs() / 1_000_000, micros.unsigned_abs() % 1_000_000);
        let seconds: f64 = exact.parse().unwrap_or(f64::NAN);
        let expected = python_repr(seconds);
        let ours = format_sdk_seconds(micros);
        if ours != expected {
            bad.add(format!("case {case}: {micros}: ours {ours}, Python repr {expected}"));
        }
    }
    bad.assert_none("the writers");
}

/// Epoch milliseconds (what `Date.getTime()` and `performance.timeOrigin + now()` give, fractional or not)
/// to microseconds: the nearest microsecond of the exact value, `Err` outside 0001..9999 or not finite.
#[test]
fn epoch_millis_round_to_the_nearest_microsecond() {
    let mut rng = Rng::for_test("epoch_millis");
    let mut bad = Disagreements::default();
    for case in 0..cases(10_000) {
        let ms = match rng.below(5) {
            0 => (instant(&mut rng) / 1000) as f64,
            1 => instant(&mut rng) as f64 / 1000.0,
            2 => instant(&mut rng) as f64 / 1000.0 + rng.unit() - 0.5,
            3 => rng.range(-100, 100) as f64 / 1000.0 + 0.0005 * rng.range(-3, 3) as f64,
            _ => rng.nasty_f64(),
        };
        // The exact value in milliseconds, then the nearest microsecond (ties either way: both are "nearest").
        let exact = format!("{ms:.1100}");
        let (int_part, frac) = exact.split_once('.').unwrap_or((&exact, ""));
        let negative = int_part.starts_with('-');
        let whole_micros: Option<i128> = format!("{}{}", int_part.trim_start_matches('-'), &frac[..3]).parse().ok();
        let rest = &frac[3..];
        let above_half = rest > "5" && rest.trim_end_matches('0') != "5";
        let tie = rest.trim_end_matches('0') == "5";
        let expected = whole_micros.map(|w| {
            let down = if negative { -w } else { w };
            let up = if negative { -(w + 1) } else { w + 1 };
            if tie {
                (down.min(up), down.max(up))
            } else if above_half {
                (up, up)
            } else {
                (down, down)
            }
        });
        let ours = from_epoch_millis(ms);
        match (ours.clone(), expected) {
            (Ok(a), Some((lo, hi))) if (lo..=hi).contains(&i128::from(a)) && (i128::from(a) == lo || i128::from(a) == hi) => {}
            (Err(_), Some((lo, hi))) if hi < i128::from(MIN_MICROS) || lo > i128::from(MAX_MICROS) => {}
            (Err(_), None) if ms.abs() > 1e20 => {} // far out of range (too many digits for the i128 above)
            (ours, expected) => bad.add(format!("case {case}: {ms:?} ms: ours {ours:?}, nearest {expected:?}")),
        }
        let theirs = DateTime::from_timestamp_micros(ours.clone().unwrap_or(0));
        if ours.is_ok() && theirs.is_none() {
            bad.add(format!("case {case}: {ms:?} ms: chrono has no instant {ours:?}"));
        }
    }
    bad.assert_none("from_epoch_millis");
    assert!(from_epoch_millis(f64::NAN).is_err() && from_epoch_millis(f64::INFINITY).is_err());
}
