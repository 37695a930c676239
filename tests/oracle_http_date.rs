//! The HTTP-date reader (`timestamp::parse_http_date`) and `retry::parse_retry_after` against `httpdate`.
//!
//! Documented differences, asserted as such: the core does not check the day name against the date (RFC 9110
//! lets a recipient ignore it; httpdate refuses a wrong one and, in RFC 850 dates, a short one), reads a
//! leap second (`:60`) as the next minute's first second, reads month names in any case, and reads years
//! before 1970 (httpdate cannot represent them); httpdate skips any byte between an RFC 850 date and its
//! time, where the core wants the grammar's space.
#![cfg(not(target_arch = "wasm32"))]

mod oracle_support;

use std::time::{Duration, UNIX_EPOCH};

use aicostmanager_edge::core::retry::parse_retry_after;
use aicostmanager_edge::core::timestamp::parse_http_date;
use chrono::{DateTime, Datelike, Timelike, Utc};
use oracle_support::{cases, Disagreements, Rng};

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const LONG_DAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

fn theirs(s: &str) -> Option<i64> {
    let t = httpdate::parse_http_date(s).ok()?;
    Some(t.duration_since(UNIX_EPOCH).ok()?.as_millis() as i64)
}

/// The three forms of one instant, day names right.
fn spellings(d: &DateTime<Utc>) -> [String; 3] {
    let fields = [d.year() as u32, d.month0(), d.day(), d.hour(), d.minute(), d.second()];
    spell_fields(d.weekday().num_days_from_monday() as usize, fields)
}

/// The three forms of `[year, month0, day, hour, minute, second]`, which may be out of range.
fn spell_fields(wd: usize, [year, month0, day, h, mi, s]: [u32; 6]) -> [String; 3] {
    let mon = MONTHS.get(month0 as usize).copied().unwrap_or("Foo");
    [
        format!("{}, {day:02} {mon} {year:04} {h:02}:{mi:02}:{s:02} GMT", DAYS[wd]),
        format!("{}, {day:02}-{mon}-{:02} {h:02}:{mi:02}:{s:02} GMT", LONG_DAYS[wd], year % 100),
        format!("{} {mon} {day:>2} {h:02}:{mi:02}:{s:02} {year:04}", DAYS[wd]),
    ]
}

/// What the core reads `s` as, spelled again with the right day name and no surrounding whitespace: when
/// httpdate reads that as the same instant, the two differ only as documented.
fn documented_difference(s: &str, ms: i64) -> bool {
    // A leap second is read as the next second, which may be the next day: name the day of the one before.
    let leap = s.contains(":60");
    let Some(d) = DateTime::from_timestamp_millis(if leap { ms - 1000 } else { ms }) else { return false };
    if d.year() < 1970 {
        return true;
    }
    let s = s.trim();
    let wd = d.weekday().num_days_from_monday() as usize;
    let respelled = match s.split_once([',', ' ']) {
        Some((_, rest)) if s.as_bytes().get(s.find([',', ' ']).unwrap_or(0)) == Some(&b',') => {
            let name = if rest.trim_start().as_bytes().get(2) == Some(&b'-') { LONG_DAYS[wd] } else { DAYS[wd] };
            format!("{name},{rest}")
        }
        Some((_, rest)) => format!("{} {rest}", DAYS[wd]),
        None => return false,
    };
    // Month names in any case (the core is lenient there, httpdate is not).
    let canonical = MONTHS[d.month0() as usize];
    let mut respelled = respelled;
    if let Some(at) = (0..respelled.len().saturating_sub(2)).find(|&i| respelled.get(i..i + 3).is_some_and(|m| m.eq_ignore_ascii_case(canonical))) {
        respelled.replace_range(at..at + 3, canonical);
    }
    // A leap second: httpdate refuses :60; the core reads the next minute's first second.
    let respelled = if leap { respelled.replace(":60", ":59") } else { respelled };
    let expected = if leap { theirs(&respelled).map(|t| t + 1000) } else { theirs(&respelled) };
    expected == Some(ms)
}

/// httpdate skips the byte between an RFC 850 date and its time whatever it is; the core wants the space
/// the grammar has. True when that is the only difference.
fn httpdate_skips_separator(s: &str, theirs_ms: i64) -> bool {
    let Some(comma) = s.find(", ") else { return false };
    let at = comma + 2 + 9; // "DD-Mon-YY" then the separator
    if s.as_bytes().get(comma + 4) != Some(&b'-') || s.as_bytes().get(at) == Some(&b' ') || !s.is_char_boundary(at) {
        return false;
    }
    let end = (at + 1..=s.len()).find(|&e| s.is_char_boundary(e)).unwrap_or(s.len());
    let fixed = format!("{} {}", &s[..at], &s[end..]);
    parse_http_date(&fixed) == Some(theirs_ms)
}

#[test]
fn http_dates_read_like_httpdate() {
    let mut rng = Rng::for_test("http_dates");
    let mut bad = Disagreements::default();
    let (mut agreed, mut documented) = (0, 0);
    for case in 0..cases(30_000) {
        let secs = match rng.below(4) {
            0 => rng.range(0, 253_402_300_799), // 1970..9999
            1 => rng.range(-2_208_988_800, 3_155_760_000), // 1900..2070 (RFC 850's two-digit years)
            2 => rng.range(946_684_800, 4_102_444_800),
            _ => rng.range(-62_135_596_800, 0), // before 1970: httpdate cannot say
        };
        let Some(d) = DateTime::from_timestamp(secs, 0) else { continue };
        let mut s = rng.pick(&spellings(&d)).clone();
        match rng.below(9) {
            8 => {
                // One field at or past its limit: hour 24, minute 60, second 61, day 0 / 29..32, month 13.
                let mut fields = [d.year() as u32, d.month0(), d.day(), d.hour(), d.minute(), d.second()];
                let field = rng.below(6) as usize;
                fields[field] = match field {
                    0 => *rng.pick(&[1900, 2000, 2100, 2400, 1999, 9999]),
                    1 => *rng.pick(&[1, 12]),
                    2 => *rng.pick(&[0, 28, 29, 30, 31, 32]),
                    3 => *rng.pick(&[23, 24, 99]),
                    4 => *rng.pick(&[59, 60]),
                    _ => *rng.pick(&[59, 60, 61]),
                };
                s = rng.pick(&spell_fields(d.weekday().num_days_from_monday() as usize, fields)).clone();
            }
            0 => {
                let other = *rng.pick(&DAYS); // maybe a wrong day
                s = s.replacen(DAYS[d.weekday().num_days_from_monday() as usize], other, 1);
            }
            1 => s = format!("{}{s}{}", rng.pick(&["", " ", "\t"]), rng.pick(&["", " ", "\r\n"])),
            2 if s.contains(":59 ") || s.contains(":00 ") => s = s.replacen(":59 ", ":60 ", 1),
            3 | 4 => s = rng.mutate_some(&s),
            _ => {}
        }
        let ours = parse_http_date(&s);
        match (ours, theirs(&s)) {
            (Some(a), Some(b)) if a == b => agreed += 1,
            (None, None) => {}
            (Some(a), None) if documented_difference(&s, a) => documented += 1,
            (None, Some(b)) if httpdate_skips_separator(&s, b) => documented += 1,
            (ours, theirs) => bad.add(format!("case {case}: {s:?}: ours {ours:?}, httpdate {theirs:?}")),
        }
    }
    bad.assert_none("parse_http_date");
    assert!(agreed > 10_000 && documented > 1000, "generator too narrow: {agreed} agreed, {documented} documented");
}

#[test]
fn documented_differences() {
    // Wrong day name (Sunday was right), a short one in RFC 850, a leap second, a year before 1970.
    for (s, ms) in [
        ("Mon, 06 Nov 1994 08:49:37 GMT", 784_111_777_000),
        ("Sun, 06-Nov-94 08:49:37 GMT", 784_111_777_000),
        ("Thu, 31 Dec 1998 23:59:60 GMT", 915_148_800_000),
        ("Thu, 01 Jan 1910 00:00:00 GMT", -1_893_456_000_000),
        ("Sun, 06 NOV 1994 08:49:37 GMT", 784_111_777_000),
    ] {
        assert_eq!(parse_http_date(s), Some(ms), "{s}");
        assert_eq!(theirs(s), None, "httpdate refuses {s}");
    }
    assert_eq!(theirs("Sunday, 06-Nov-94 08:49:37 GMT"), Some(784_111_777_000));
    assert_eq!(theirs("Sunday, 06-Nov-94x08:49:37 GMT"), Some(784_111_777_000));
    assert_eq!(parse_http_date("Sunday, 06-Nov-94x08:49:37 GMT"), None);
    assert_eq!(theirs("  Sun, 06 Nov 1994 08:49:37 GMT "), parse_http_date("  Sun, 06 Nov 1994 08:49:37 GMT "));
}

/// Retry-After: delta-seconds saturate, dates count from `now` (0 once past), anything else is `None`.
#[test]
fn retry_after_reads_like_httpdate() {
    let mut rng = Rng::for_test("retry_after");
    let mut bad = Disagreements::default();
    for case in 0..cases(10_000) {
        let now_ms = rng.below(4_102_444_800_000);
        let value = match rng.below(5) {
            0 => {
                let bits = rng.below(64);
                rng.below(1 << bits).to_string()
            }
            1 => {
                let (later, earlier) = (rng.below(7200), rng.below(3600));
                httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis(now_ms) + Duration::from_secs(later) - Duration::from_secs(earlier))
            }
            2 => format!("{}{}", rng.pick(&["-1", "1.5", "+3", "0x10", "1e3", " 12 ", "\t7", "", " ", "99999999999999999999999"]), rng.pick(&["", " "])),
            _ => rng.mutate_some(&httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis(now_ms))),
        };
        let trimmed = value.trim();
        let expected = if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
            Some(trimmed.parse::<u64>().unwrap_or(u64::MAX).saturating_mul(1000))
        } else {
            theirs(trimmed).map(|at| u64::try_from(at).unwrap_or(0).saturating_sub(now_ms))
        };
        let ours = parse_retry_after(&value, now_ms);
        // Where httpdate refuses, the core may still read a documented form (checked above): compare only
        // when httpdate reads the date or neither does.
        if expected.is_some() && ours != expected {
            bad.add(format!("case {case}: {value:?} at {now_ms}: ours {ours:?}, expected {expected:?}"));
        }
        if expected.is_none() && ours.is_some() && parse_http_date(trimmed).is_none() {
            bad.add(format!("case {case}: {value:?}: ours {ours:?} for a value that is neither seconds nor a date"));
        }
    }
    bad.assert_none("parse_retry_after");
}
