//! Timestamps: reading ISO-8601 and HTTP dates, writing the Python SDK's wire form.
//!
//! This module never reads the clock and knows no time zones beyond explicit UTC offsets: a timestamp without
//! `Z` or an offset is refused rather than guessed (the Python SDK reads it as the machine's local time, which
//! on an edge runtime is meaningless). Instants are `i64` epoch microseconds, limited to the years 0001 to 9999
//! (the range of Python's `datetime`); HTTP dates come back as epoch milliseconds.

use crate::core::json::quoted;
use crate::core::decimal::{display_f64, parse_decimal, push_mantissa, push_with_point, shortest_decimal, ShortestDecimal};

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;
/// 0001-01-01T00:00:00Z in epoch microseconds.
const MIN_MICROS: i64 = -719_162 * MICROS_PER_DAY;
/// 9999-12-31T23:59:59.999999Z in epoch microseconds.
const MAX_MICROS: i64 = 2_932_897 * MICROS_PER_DAY - 1;

/// Parses an ISO-8601 / RFC 3339 timestamp with a UTC offset into epoch microseconds.
///
/// Accepts `YYYY-MM-DD`, a separator (`T`, `t` or a space), `HH:MM`, optional `:SS` and `.fraction` (1 to 9
/// digits, truncated to microseconds), then `Z`/`z` or an offset `±HH:MM`, `±HHMM` or `±HH`. Fails with a
/// reason meant for the user (it quotes the input) when the text does not have that shape, has no offset (a
/// naive time or a bare date), a field is out of range (month, day of that month, hour, minute, second
/// 0..=59, year 0001..=9999), or the instant falls outside 0001-01-01..9999-12-31 UTC once the offset applies.
pub fn parse_iso8601(s: &str) -> Result<i64, String> {
    let fail = |what: String| format!("{what} in {}", quoted(s));
    let mut cur = Cursor { bytes: s.as_bytes(), pos: 0 };

    let year = cur.digits(4).ok_or_else(|| fail("expected a 4-digit year at the start (like 2025-01-15T10:30:00Z)".into()))?;
    cur.eat(b'-').ok_or_else(|| fail("expected '-' after the year".into()))?;
    let month = cur.digits(2).ok_or_else(|| fail("expected a 2-digit month after the year".into()))?;
    cur.eat(b'-').ok_or_else(|| fail("expected '-' after the month".into()))?;
    let day = cur.digits(2).ok_or_else(|| fail("expected a 2-digit day after the month".into()))?;
    check_date(year, month, day).map_err(fail)?;

    match cur.next() {
        None => {
            return Err(format!(
                "{} is a date without a time and UTC offset: add them, e.g. \"{s}T00:00:00Z\" (a time without an offset is ambiguous)",
                quoted(s)
            ))
        }
        Some(b'T' | b't' | b' ') => {}
        Some(_) => return Err(fail("expected 'T' or a space between the date and the time".into())),
    }
    let hour = cur.digits(2).ok_or_else(|| fail("expected a 2-digit hour after the date".into()))?;
    cur.eat(b':').ok_or_else(|| fail("expected ':' after the hour".into()))?;
    let minute = cur.digits(2).ok_or_else(|| fail("expected 2-digit minutes after the hour".into()))?;
    let mut second = 0;
    let mut frac_micros = 0;
    if cur.peek() == Some(b':') {
        cur.pos += 1;
        second = cur.digits(2).ok_or_else(|| fail("expected 2-digit seconds after the minutes".into()))?;
        if cur.peek() == Some(b'.') {
            cur.pos += 1;
            frac_micros = cur.fraction_micros().map_err(fail)?;
        }
    }
    check_time(hour, minute, second).map_err(fail)?;

    let offset_seconds = match cur.next() {
        None => {
            return Err(format!(
                "{} has no UTC offset: add \"Z\" for UTC or an offset such as \"+02:00\" (a time without one is ambiguous)",
                quoted(s)
            ))
        }
        Some(b'Z' | b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let hours = cur.digits(2).ok_or_else(|| fail("expected a 2-digit hour in the UTC offset".into()))?;
            // Minutes are optional (`±HH`), but a ':' must be followed by them.
            let minutes = if cur.peek().is_some() {
                let _ = cur.eat(b':');
                cur.digits(2).ok_or_else(|| fail("expected 2-digit minutes in the UTC offset".into()))?
            } else {
                0
            };
            if hours > 23 {
                return Err(fail(format!("UTC offset hour {hours} is out of range (00 to 23)")));
            }
            if minutes > 59 {
                return Err(fail(format!("UTC offset minute {minutes} is out of range (00 to 59)")));
            }
            let magnitude = i64::from(hours) * 3600 + i64::from(minutes) * 60;
            if sign == b'-' {
                -magnitude
            } else {
                magnitude
            }
        }
        Some(_) => return Err(fail("expected \"Z\" or a UTC offset like \"+02:00\" after the time".into())),
    };
    if cur.peek().is_some() {
        return Err(fail("unexpected text after the UTC offset".into()));
    }

    let seconds = days_from_civil(i64::from(year), month, day) * 86_400
        + i64::from(hour) * 3600
        + i64::from(minute) * 60
        + i64::from(second)
        - offset_seconds;
    let micros = seconds * MICROS_PER_SECOND + frac_micros;
    if !(MIN_MICROS..=MAX_MICROS).contains(&micros) {
        return Err(fail("the instant is outside 0001-01-01..9999-12-31 UTC once the offset is applied".into()));
    }
    Ok(micros)
}

/// Converts JavaScript epoch milliseconds (`Date.getTime()`, possibly fractional) to epoch microseconds,
/// rounding the exact value of `ms` to the nearest microsecond (halves away from zero).
///
/// Fails when `ms` is not finite or lies outside 0001-01-01..9999-12-31 UTC.
pub fn from_epoch_millis(ms: f64) -> Result<i64, String> {
    if !ms.is_finite() {
        return Err(format!("timestamp {} is not a finite number of epoch milliseconds", display_f64(ms)));
    }
    let out_of_range = || format!("timestamp {} (epoch milliseconds) is outside 0001-01-01..9999-12-31 UTC", display_f64(ms));
    // Out of range long before |ms| reaches 2^50, which millis_to_micros needs.
    let whole = ms.floor();
    if whole < (MIN_MICROS / 1000) as f64 - 1.0 || whole > (MAX_MICROS / 1000) as f64 + 1.0 {
        return Err(out_of_range());
    }
    let micros = millis_to_micros(ms);
    if !(MIN_MICROS..=MAX_MICROS).contains(&micros) {
        return Err(out_of_range());
    }
    Ok(micros)
}

/// `ms × 1000` rounded to the nearest integer (halves away from zero), computed exactly on the bits of
/// `ms` (finite, |ms| below 2^50, checked by the caller): the float product `ms * 1000.0` rounds first and
/// can turn 60.4999… µs into 60.5 and then 61.
fn millis_to_micros(ms: f64) -> i64 {
    let bits = ms.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1u64 << 52) - 1);
    let (m, k) = if biased == 0 { (fraction, -1074) } else { (fraction | 1 << 52, biased - 1075) };
    let v = u128::from(m) * 1000; // |ms| × 1000 = v × 2^k, v < 2^63
    let magnitude = if k >= 0 {
        v << k.min(60) // unreachable below 2^50 (k < 0 there); capped so the shift cannot overflow
    } else if k <= -100 {
        0 // below 2^-37: far from half a microsecond
    } else {
        let shift = k.unsigned_abs();
        let rest = v & ((1u128 << shift) - 1);
        (v >> shift) + u128::from(rest >= 1u128 << (shift - 1))
    };
    let magnitude = i64::try_from(magnitude).unwrap_or(i64::MAX);
    if ms < 0.0 {
        -magnitude
    } else {
        magnitude
    }
}

/// The Python SDK's wire encoding of a timestamp: `str(datetime.timestamp())`, i.e. the epoch seconds as a
/// float printed like Python's `repr` ("1736937000.0", "1795310876.161856", "0.5", "1e-06").
///
/// The float is the correctly rounded value of `micros / 10^6`, as CPython computes it (integer true
/// division), so instants after 2255, whose microsecond counts exceed 2^53, still match byte for byte.
pub fn format_sdk_seconds(micros: i64) -> String {
    if let Some(fast) = sdk_seconds_fast(micros) {
        return fast;
    }
    let magnitude = micros.unsigned_abs();
    let seconds = if magnitude < 1 << 53 {
        micros as f64 / 1e6 // both exact, so the one division rounds correctly
    } else {
        let sign = if micros < 0 { "-" } else { "" };
        parse_decimal(&format!("{sign}{}.{:06}", magnitude / 1_000_000, magnitude % 1_000_000))
    };
    python_float_repr(seconds)
}

/// Below 2^32 seconds (until 2106), floats near the value are closer together than half a microsecond,
/// so every other decimal with six or fewer fraction digits is a different float: the shortest decimal that
/// reads back as `micros / 10^6` is that value itself, trailing zeros trimmed (Python keeps one: "….0").
/// That is what every record's timestamp takes, without the exact shortest-float search.
const FAST_SECONDS_BELOW: i64 = 1 << 32;

fn sdk_seconds_fast(micros: i64) -> Option<String> {
    // From one second on: below 1e-4 s Python switches to exponent notation.
    if !(1_000_000..FAST_SECONDS_BELOW * 1_000_000).contains(&micros) {
        return None;
    }
    let mut out = (micros / 1_000_000).to_string();
    out.push('.');
    let fraction = micros % 1_000_000;
    let mut digits = [b'0'; 6];
    let mut rest = fraction;
    for slot in digits.iter_mut().rev() {
        *slot = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    let kept = digits.iter().rposition(|&d| d != b'0').map_or(1, |last| last + 1);
    out.extend(digits.iter().take(kept).map(|&d| char::from(d)));
    Some(out)
}

/// Formats epoch microseconds as RFC 3339 UTC with milliseconds ("2025-01-15T10:30:00.000Z"), truncating
/// sub-millisecond digits. For messages and tests; never fails.
pub fn format_rfc3339_millis(micros: i64) -> String {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let in_day = micros.rem_euclid(MICROS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let millis = in_day / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        millis / 3_600_000,
        millis / 60_000 % 60,
        millis / 1000 % 60,
        millis % 1000
    )
}

/// Parses an HTTP date (for a `Retry-After` header) into epoch milliseconds.
///
/// Accepts the IMF-fixdate form every server should send ("Sun, 06 Nov 1994 08:49:37 GMT") and the two
/// obsolete forms RFC 9110 asks recipients to read: RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT"; two-digit
/// years 70..99 are 19xx, 00..69 are 20xx) and asctime ("Sun Nov  6 08:49:37 1994"). The day name is not
/// checked against the date. Returns `None` for anything else, including impossible dates.
pub fn parse_http_date(s: &str) -> Option<i64> {
    let s = s.trim();
    let (day_name, rest) = s.split_once([',', ' '])?;
    if day_name.is_empty() || !day_name.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let separator = s.as_bytes().get(day_name.len()).copied()?;
    let (year, month, day, time) = if separator == b',' {
        let rest = rest.strip_prefix(' ')?;
        let rest = rest.strip_suffix(" GMT")?;
        let (date, time) = rest.rsplit_once(' ')?;
        if date.len() == 11 {
            // IMF-fixdate date part: "06 Nov 1994".
            let mut cur = Cursor { bytes: date.as_bytes(), pos: 0 };
            let day = cur.digits(2)?;
            cur.eat(b' ')?;
            let month = cur.month_name()?;
            cur.eat(b' ')?;
            let year = cur.digits(4)?;
            (year, month, day, time)
        } else {
            // RFC 850 date part: "06-Nov-94".
            let mut cur = Cursor { bytes: date.as_bytes(), pos: 0 };
            let day = cur.digits(2)?;
            cur.eat(b'-')?;
            let month = cur.month_name()?;
            cur.eat(b'-')?;
            let yy = cur.digits(2)?;
            cur.end()?;
            let year = if yy >= 70 { 1900 + yy } else { 2000 + yy };
            (year, month, day, time)
        }
    } else {
        // asctime: "Nov  6 08:49:37 1994" after the day name.
        let mut cur = Cursor { bytes: rest.as_bytes(), pos: 0 };
        let month = cur.month_name()?;
        cur.eat(b' ')?;
        let day = if cur.peek() == Some(b' ') {
            cur.pos += 1;
            cur.digits(1)?
        } else {
            cur.digits(2)?
        };
        cur.eat(b' ')?;
        let time = rest.get(cur.pos..cur.pos + 8)?;
        cur.pos += 8;
        cur.eat(b' ')?;
        let year = cur.digits(4)?;
        cur.end()?;
        (year, month, day, time)
    };

    let mut cur = Cursor { bytes: time.as_bytes(), pos: 0 };
    let hour = cur.digits(2)?;
    cur.eat(b':')?;
    let minute = cur.digits(2)?;
    cur.eat(b':')?;
    let second = cur.digits(2)?;
    cur.end()?;
    // RFC 9110 allows a leap second (60); it counts as the first second of the next minute.
    if check_date(year, month, day).is_err() || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let seconds = days_from_civil(i64::from(year), month, day) * 86_400
        + i64::from(hour) * 3600
        + i64::from(minute) * 60
        + i64::from(second);
    Some(seconds * 1000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (valid for any year, month 1..=12).
///
/// Counts in 400-year eras of 146,097 days that start on March 1st, so that the leap day is the last day
/// of its "year" and months from March on have a fixed cumulative length.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400); // 0..=399
    let month_from_march = i64::from((month + 9) % 12); // March = 0 .. February = 11
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1; // 0..=365
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year; // 0..=146096
    era * 146_097 + day_of_era - 719_468 // 719,468 days from 0000-03-01 to 1970-01-01
}

/// The proleptic Gregorian date `(year, month, day)` of a day count since 1970-01-01; inverse of
/// [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097); // 0..=146096
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365; // 0..=399
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100); // 0..=365
    let month_from_march = (5 * day_of_year + 2) / 153; // 0..=11
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 } as u32;
    let year = era * 400 + year_of_era + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap_year(year: u32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Checks a calendar date, returning what is wrong in words.
fn check_date(year: u32, month: u32, day: u32) -> Result<(), String> {
    if !(1..=9999).contains(&year) {
        return Err(format!("year {year:04} is out of range (0001 to 9999)"));
    }
    if !(1..=12).contains(&month) {
        return Err(format!("month {month} is out of range"));
    }
    let last = days_in_month(year, month);
    if !(1..=last).contains(&day) {
        return Err(format!("day {day} is out of range for {year:04}-{month:02}, which has {last} days"));
    }
    Ok(())
}

/// Checks a time of day, returning what is wrong in words.
fn check_time(hour: u32, minute: u32, second: u32) -> Result<(), String> {
    if hour > 23 {
        return Err(format!("hour {hour} is out of range (00 to 23)"));
    }
    if minute > 59 {
        return Err(format!("minute {minute} is out of range (00 to 59)"));
    }
    if second > 59 {
        return Err(format!("second {second} is out of range (00 to 59)"));
    }
    Ok(())
}

/// Prints a finite `f64` like Python's `repr(float)`: shortest round-trip digits, positional notation with at
/// least one fractional digit when the decimal exponent is in -4..16, else `d.ddde±XX` (two exponent digits
/// at least).
fn python_float_repr(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() { "nan".into() } else if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    let ShortestDecimal { negative, digits, exponent } = shortest_decimal(x);
    let count = digits.len() as i64;
    let mut out = String::from(if negative { "-" } else { "" });
    if (-4..16).contains(&exponent) {
        let point = exponent + 1; // digits before the decimal point
        if point <= 0 {
            out.push_str("0.");
            out.push_str(&"0".repeat((-point) as usize));
            out.push_str(&digits);
        } else if point >= count {
            out.push_str(&digits);
            out.push_str(&"0".repeat((point - count) as usize));
            out.push_str(".0");
        } else {
            push_with_point(&digits, point as usize, &mut out);
        }
    } else {
        push_mantissa(&digits, &mut out);
        out.push_str(&format!("e{}{:02}", if exponent < 0 { '-' } else { '+' }, exponent.abs()));
    }
    out
}

/// A byte cursor for the fixed-width formats above.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn eat(&mut self, wanted: u8) -> Option<()> {
        (self.peek() == Some(wanted)).then(|| self.pos += 1)
    }

    fn end(&self) -> Option<()> {
        (self.pos == self.bytes.len()).then_some(())
    }

    /// Exactly `count` ASCII digits as a number.
    fn digits(&mut self, count: usize) -> Option<u32> {
        let run = self.bytes.get(self.pos..self.pos + count)?;
        let mut n: u32 = 0;
        for &b in run {
            if !b.is_ascii_digit() {
                return None;
            }
            n = n * 10 + u32::from(b - b'0');
        }
        self.pos += count;
        Some(n)
    }

    /// 1 to 9 fraction digits after a decimal point, truncated to microseconds.
    fn fraction_micros(&mut self) -> Result<i64, String> {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        let run = self.bytes.get(start..self.pos).unwrap_or_default();
        if run.is_empty() {
            return Err("expected digits after the decimal point".into());
        }
        if run.len() > 9 {
            return Err(format!("the fraction of a second has {} digits (at most 9)", run.len()));
        }
        let mut micros: i64 = 0;
        for i in 0..6 {
            let digit = run.get(i).map_or(0, |b| i64::from(b - b'0'));
            micros = micros * 10 + digit;
        }
        Ok(micros)
    }

    /// A three-letter English month name ("Nov", any case) as 1..=12.
    fn month_name(&mut self) -> Option<u32> {
        const MONTHS: [&[u8; 3]; 12] =
            [b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec"];
        let run = self.bytes.get(self.pos..self.pos + 3)?;
        let index = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(run))?;
        self.pos += 3;
        Some(index as u32 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000;

    #[test]
    fn wire_contract_example() {
        let micros = parse_iso8601("2025-01-15T10:30:00Z").expect("parses");
        assert_eq!(micros, 1_736_937_000_000_000);
        assert_eq!(format_sdk_seconds(micros), "1736937000.0");
        assert_eq!(format_rfc3339_millis(micros), "2025-01-15T10:30:00.000Z");
    }

    #[test]
    fn accepted_shapes() {
        let base = 1_736_937_000 * SECOND;
        let table: &[(&str, i64)] = &[
            ("2025-01-15T10:30:00Z", base),
            ("2025-01-15t10:30:00z", base),
            ("2025-01-15 10:30:00Z", base),
            ("2025-01-15T10:30Z", base),
            ("2025-01-15T10:30:00.5Z", base + 500_000),
            ("2025-01-15T10:30:00.123456Z", base + 123_456),
            ("2025-01-15T10:30:00.123456789Z", base + 123_456),
            ("2025-01-15T10:30:00.000001Z", base + 1),
            ("2025-01-15T12:30:00+02:00", base),
            ("2025-01-15T12:30:00+0200", base),
            ("2025-01-15T12:30:00+02", base),
            ("2025-01-15T05:00:00-05:30", base),
            ("2025-01-15T10:30:00-00:00", base),
            ("2025-01-15T10:30:00+00:00", base),
            ("2025-01-16T00:29:00+13:59", base),
            ("1970-01-01T00:00:00Z", 0),
            ("1969-12-31T23:59:59.999999Z", -1),
            ("0001-01-01T00:00:00Z", MIN_MICROS),
            ("9999-12-31T23:59:59.999999Z", MAX_MICROS),
        ];
        for (text, expected) in table {
            assert_eq!(parse_iso8601(text), Ok(*expected), "{text}");
        }
    }

    #[test]
    fn leap_days() {
        // Expectations from python3 datetime(..., tzinfo=timezone.utc).timestamp().
        assert_eq!(parse_iso8601("2024-02-29T00:00:00Z"), Ok(1_709_164_800 * SECOND));
        assert_eq!(parse_iso8601("2000-02-29T00:00:00Z"), Ok(951_782_400 * SECOND));
        assert_eq!(parse_iso8601("2024-03-01T00:00:00Z"), Ok(1_709_251_200 * SECOND));
        assert!(parse_iso8601("2023-02-29T00:00:00Z").expect_err("not leap").contains("day 29 is out of range for 2023-02, which has 28 days"));
        assert!(parse_iso8601("1900-02-29T00:00:00Z").is_err());
        assert!(parse_iso8601("2100-02-29T00:00:00Z").is_err());
        assert!(parse_iso8601("2025-04-31T00:00:00Z").expect_err("april").contains("which has 30 days"));
    }

    #[test]
    fn civil_conversion_round_trips_every_day_of_some_centuries() {
        let start = days_from_civil(1599, 1, 1);
        let end = days_from_civil(2401, 12, 31);
        let mut expected = (1599, 1, 1);
        for days in start..=end {
            let civil = civil_from_days(days);
            assert_eq!(civil, expected, "day {days}");
            assert_eq!(days_from_civil(civil.0, civil.1, civil.2), days);
            let (y, m, d) = expected;
            expected = if d < days_in_month(y as u32, m) {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1, 1, 1), -719_162);
        assert_eq!(days_from_civil(9999, 12, 31), 2_932_896);
    }

    #[test]
    fn rejections_say_what_is_wrong() {
        let cases: &[(&str, &str)] = &[
            ("2025-13-01T00:00:00Z", r#"month 13 is out of range in "2025-13-01T00:00:00Z""#),
            ("2025-00-01T00:00:00Z", "month 0 is out of range"),
            ("2025-01-00T00:00:00Z", "day 0 is out of range for 2025-01"),
            ("2025-01-32T00:00:00Z", "day 32 is out of range for 2025-01, which has 31 days"),
            ("0000-01-01T00:00:00Z", "year 0000 is out of range (0001 to 9999)"),
            ("2025-01-15T24:00:00Z", "hour 24 is out of range"),
            ("2025-01-15T10:60:00Z", "minute 60 is out of range"),
            ("2025-01-15T10:30:60Z", "second 60 is out of range"),
            ("2025-01-15T10:30:00+24:00", "UTC offset hour 24 is out of range"),
            ("2025-01-15T10:30:00+02:60", "UTC offset minute 60 is out of range"),
            ("2025-01-15", "is a date without a time and UTC offset: add them, e.g. \"2025-01-15T00:00:00Z\""),
            ("2025-01-15T10:30:00", "has no UTC offset: add \"Z\""),
            ("2025-01-15T10:30", "has no UTC offset"),
            ("2025-01-15T10:30:00.123", "has no UTC offset"),
            ("", "expected a 4-digit year"),
            ("25-01-15T10:30:00Z", "expected a 4-digit year"),
            ("+2025-01-15T10:30:00Z", "expected a 4-digit year"),
            ("2025/01/15T10:30:00Z", "expected '-' after the year"),
            ("2025-1-15T10:30:00Z", "expected a 2-digit month"),
            ("2025-01/15T10:30:00Z", "expected '-' after the month"),
            ("2025-01-5T10:30:00Z", "expected a 2-digit day"),
            ("2025-01-15X10:30:00Z", "expected 'T' or a space"),
            ("2025-01-15T1:30:00Z", "expected a 2-digit hour"),
            ("2025-01-15T10.30Z", "expected ':' after the hour"),
            ("2025-01-15T10:3Z", "expected 2-digit minutes"),
            ("2025-01-15T10:30:0Z", "expected 2-digit seconds"),
            ("2025-01-15T10:30:00.Z", "expected digits after the decimal point"),
            ("2025-01-15T10:30:00.1234567890Z", "has 10 digits (at most 9)"),
            ("2025-01-15T10:30.5Z", "expected \"Z\" or a UTC offset"),
            ("2025-01-15T10:30:00 Z", "expected \"Z\" or a UTC offset"),
            ("2025-01-15T10:30:00+2", "expected a 2-digit hour in the UTC offset"),
            ("2025-01-15T10:30:00+02:0", "expected 2-digit minutes in the UTC offset"),
            ("2025-01-15T10:30:00+02:", "expected 2-digit minutes in the UTC offset"),
            ("2025-01-15T10:30:00+02Z", "expected 2-digit minutes in the UTC offset"),
            ("2025-01-15T10:30:00Zjunk", "unexpected text after the UTC offset"),
            ("2025-01-15T10:30:00+02:00:00", "unexpected text after the UTC offset"),
            (" 2025-01-15T10:30:00Z", "expected a 4-digit year"),
            ("0001-01-01T00:00:00+00:01", "outside 0001-01-01..9999-12-31 UTC"),
            ("9999-12-31T23:59:59-00:01", "outside 0001-01-01..9999-12-31 UTC"),
            ("２０２５-01-15T10:30:00Z", "expected a 4-digit year"),
        ];
        for (text, reason) in cases {
            let err = parse_iso8601(text).expect_err(text);
            assert!(err.contains(reason), "{text:?}: {err}");
        }
    }

    #[test]
    fn epoch_millis() {
        assert_eq!(from_epoch_millis(1_736_937_000_000.0), Ok(1_736_937_000_000_000));
        assert_eq!(from_epoch_millis(1.5), Ok(1500));
        assert_eq!(from_epoch_millis(0.0004), Ok(0));
        assert_eq!(from_epoch_millis(0.0006), Ok(1));
        assert_eq!(from_epoch_millis(-1.0), Ok(-1000));
        assert_eq!(from_epoch_millis(-0.0016), Ok(-2));
        assert_eq!(from_epoch_millis(1_795_310_876_161.856), Ok(1_795_310_876_161_856));
        assert_eq!(from_epoch_millis(253_402_300_799_999.5), Ok(MAX_MICROS - 499));
        // Rounded on the exact value of the double, not on `ms * 1000.0` (found by tests/oracle_timestamp.rs):
        // 0.0605 is 0.06049999… (60.4999… µs) and -0.0785 is -0.07850000…03 (-78.5000…03 µs).
        assert_eq!(from_epoch_millis(0.0605), Ok(60));
        assert_eq!(from_epoch_millis(-0.0785), Ok(-79));
        assert_eq!(from_epoch_millis(0.0625), Ok(63)); // an exact half: away from zero
        assert_eq!(from_epoch_millis(-0.0625), Ok(-63));
        assert_eq!(from_epoch_millis(5e-324), Ok(0));
        assert_eq!(from_epoch_millis(-62_135_596_800_000.0), Ok(MIN_MICROS));
        assert_eq!(from_epoch_millis(253_402_300_799_999.0), Ok(MAX_MICROS - 999));
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(from_epoch_millis(bad).expect_err("non-finite").contains("not a finite number"));
        }
        for bad in [-62_135_596_800_001.0, 253_402_300_800_000.0, 1e300, -1e300] {
            assert!(from_epoch_millis(bad).expect_err("range").contains("outside 0001-01-01..9999-12-31"), "{bad}");
        }
    }

    #[test]
    fn sdk_seconds_match_python_str_of_timestamp() {
        // Expectations from python3: str((EPOCH + timedelta(microseconds=us)).timestamp()).
        let table: &[(i64, &str)] = &[
            (0, "0.0"),
            (1, "1e-06"),
            (5, "5e-06"),
            (99, "9.9e-05"),
            (100, "0.0001"),
            (123, "0.000123"),
            (1000, "0.001"),
            (100_000, "0.1"),
            (500_000, "0.5"),
            (-1, "-1e-06"),
            (-12_345, "-0.012345"),
            (-500_000, "-0.5"),
            (-1_500_000, "-1.5"),
            (123_456_789, "123.456789"),
            (1_736_937_000_000_000, "1736937000.0"),
            (1_795_310_876_161_856, "1795310876.161856"),
            (1_736_937_000_123_000, "1736937000.123"),
            (1_736_937_000_000_001, "1736937000.000001"),
            (9_007_199_254_740_993, "9007199254.740993"),
            (10_000_000_000_000_000, "10000000000.0"),
            (-62_135_596_800_000_000, "-62135596800.0"),
            (253_402_300_799_999_000, "253402300799.999"),
            (253_402_300_799_999_999, "253402300800.0"),
            (220_958_686_923_456_793, "220958686923.4568"),
            // 229260357543.453125 exactly: a tie at 17 digits, Python rounds to even.
            (229_260_357_543_453_121, "229260357543.45312"),
            // Far outside datetime's range: still CPython's `repr(us / 10**6)`.
            (4_503_599_627_370_497, "4503599627.370497"),
            (i64::MAX, "9223372036854.775"),
            (i64::MIN, "-9223372036854.775"),
        ];
        for (micros, expected) in table {
            assert_eq!(format_sdk_seconds(*micros), *expected, "{micros}");
        }
    }

    #[test]
    fn python_repr_layout() {
        assert_eq!(python_float_repr(1e16), "1e+16");
        assert_eq!(python_float_repr(1.5e16), "1.5e+16");
        assert_eq!(python_float_repr(9999999999999998.0), "9999999999999998.0");
        assert_eq!(python_float_repr(1e-100), "1e-100");
        assert_eq!(python_float_repr(-0.0), "-0.0");
        assert_eq!(python_float_repr(f64::NAN), "nan");
    }

    #[test]
    fn rfc3339_millis() {
        assert_eq!(format_rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(format_rfc3339_millis(1_795_310_876_161_856), "2026-11-22T01:27:56.161Z");
        assert_eq!(format_rfc3339_millis(1_709_164_800 * SECOND), "2024-02-29T00:00:00.000Z");
        assert_eq!(format_rfc3339_millis(MIN_MICROS), "0001-01-01T00:00:00.000Z");
        assert_eq!(format_rfc3339_millis(MAX_MICROS), "9999-12-31T23:59:59.999Z");
        // Far outside the supported range it still formats without panicking.
        let _ = format_rfc3339_millis(i64::MIN);
        let _ = format_rfc3339_millis(i64::MAX);
    }

    #[test]
    fn http_dates() {
        let expected = 784_111_777_000; // 1994-11-06T08:49:37Z
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(expected));
        assert_eq!(parse_http_date("  Sun, 06 Nov 1994 08:49:37 GMT "), Some(expected));
        assert_eq!(parse_http_date("Mon, 06 Nov 1994 08:49:37 GMT"), Some(expected)); // day name not cross-checked
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), Some(expected));
        assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), Some(expected));
        assert_eq!(parse_http_date("Sun Nov 16 08:49:37 1994"), Some(expected + 10 * 86_400_000));
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_http_date("Wed, 15 Jan 2025 10:30:00 GMT"), Some(1_736_937_000_000));
        assert_eq!(parse_http_date("Thursday, 29-Feb-24 00:00:00 GMT"), Some(1_709_164_800_000));
        assert_eq!(parse_http_date("Sat, 31 Dec 2016 23:59:60 GMT"), Some(1_483_228_800_000));
        for bad in [
            "",
            "120",
            "Sun, 06 Nov 1994 08:49:37",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 31 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:60:00 GMT",
            "Sun, 06 Nov 1994 8:49:37 GMT",
            "Sun, 06 Nov 0000 08:49:37 GMT",
            "Sun,06 Nov 1994 08:49:37 GMT",
            "S1n, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-1994 08:49:37 GMT",
            "Sun Nov 6 08:49:37 1994",
            "Sun Nov  6 08:49:37 1994 GMT",
            "Sun Nov  6 08:49 1994",
            "2025-01-15T10:30:00Z",
            "Sun, 06 Nov 1994 08:49:37 GMT é",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_fast_sdk_seconds_match_the_exact_ones() {
        let exact = |micros: i64| python_float_repr(micros as f64 / 1e6);
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let mut cases: Vec<i64> = vec![1_000_000, 1_000_001, 1_500_000, 1_736_937_000_000_000, 1_795_310_876_161_856];
        cases.push(FAST_SECONDS_BELOW * 1_000_000 - 1);
        for _ in 0..40_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let micros = 1_000_000 + (seed % (FAST_SECONDS_BELOW as u64 * 1_000_000 - 1_000_000)) as i64;
            // Whole seconds and milliseconds (what JS clocks give) as often as arbitrary microseconds.
            cases.push(match seed % 3 {
                0 => (micros - micros % 1_000_000).max(1_000_000),
                1 => (micros - micros % 1000).max(1_000_000),
                _ => micros,
            });
        }
        for micros in cases {
            assert_eq!(sdk_seconds_fast(micros), Some(exact(micros)), "{micros}");
        }
        assert_eq!(sdk_seconds_fast(FAST_SECONDS_BELOW * 1_000_000), None);
        assert_eq!(sdk_seconds_fast(999_999), None);
    }
}
