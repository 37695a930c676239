//! JSON text <-> [`Value`], with no dependencies.
//!
//! This module does not decide what a document means; it only reads and writes the text. Two promises matter
//! to the rest of the core:
//! - [`parse`] is strict RFC 8259 and never panics or overflows the stack, whatever the input (nesting is
//!   capped at [`MAX_DEPTH`]); every rejection is a [`JsonError`] with the byte offset of the problem.
//! - [`write_value`] produces exactly the bytes the Python SDK puts on the wire (`json.dumps(x,
//!   ensure_ascii=False, separators=(",", ":"))`), with numbers printed as JavaScript's `JSON.stringify`
//!   prints them, since our numbers come from JS.
use crate::core::decimal::{parse_decimal, push_mantissa, push_with_point, shortest_decimal, ShortestDecimal};
use crate::core::value::Value;

/// How deeply arrays and objects may nest before [`parse`] gives up (the outermost container is depth 1).
pub const MAX_DEPTH: usize = 128;


/// Why a JSON text could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// Byte offset in the input where the problem was found.
    pub offset: usize,
    /// What is wrong, in words meant for an error message.
    pub reason: String,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid JSON at byte {}: {}", self.offset, self.reason)
    }
}

/// Parses one JSON text (a single value, with optional whitespace around it).
///
/// Call it on anything received from outside (server replies, stored records). Fails with the byte offset
/// and a reason when the text is not valid JSON, nests deeper than [`MAX_DEPTH`], or holds a number too
/// large for an `f64` (`1e999`). A `\u` escape of a lone surrogate decodes to U+FFFD. When an object repeats
/// a key, the later value replaces the earlier one and keeps the earlier position.
pub fn parse(text: &str) -> Result<Value, JsonError> {
    let mut parser = Parser { bytes: text.as_bytes(), pos: 0 };
    parser.skip_whitespace();
    let value = parser.parse_value(0)?;
    parser.skip_whitespace();
    if parser.pos < parser.bytes.len() {
        return Err(parser.error("unexpected data after the JSON value"));
    }
    Ok(value)
}

/// Appends `value` as compact JSON to `out` (no spaces, object keys in their stored order).
///
/// Never fails. A non-finite number (which [`Value`] rules out) would be written as `null`.
pub fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(*n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(entries) => {
            out.push('{');
            for (i, (key, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_value(item, out);
            }
            out.push('}');
        }
    }
}

/// Returns `value` as compact JSON text (see [`write_value`]).
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

/// `s` as a JSON string literal, for messages (`"a\"b"`): what `{:?}` would give, without pulling Rust's
/// Debug formatting and its Unicode tables into the wasm.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_string(s, &mut out);
    out
}

/// Appends `s` as a JSON string literal (with quotes) to `out`.
///
/// Escapes `"` and `\`, writes `\n \r \t \b \f` for those controls and `\u00xx` (lowercase hex) for the other
/// characters below U+0020; everything else, non-ASCII included, is written as is (Python's
/// `ensure_ascii=False`).
pub fn write_string(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut plain_from = 0;
    for (i, c) in s.char_indices() {
        let escape: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            c if (c as u32) < 0x20 => None,
            _ => continue,
        };
        out.push_str(s.get(plain_from..i).unwrap_or_default());
        plain_from = i + c.len_utf8();
        match escape {
            Some(text) => out.push_str(text),
            None => {
                let code = c as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[(code >> 4) & 0xf]));
                out.push(char::from(HEX[code & 0xf]));
            }
        }
    }
    out.push_str(s.get(plain_from..).unwrap_or_default());
    out.push('"');
}

/// Writes a finite `f64` as ECMAScript's `Number::toString` does (which is what `JSON.stringify` uses).
fn write_number(n: f64, out: &mut String) {
    if !n.is_finite() {
        out.push_str("null");
        return;
    }
    if n == 0.0 {
        out.push('0'); // also -0, as in JavaScript
        return;
    }
    let ShortestDecimal { negative, digits, exponent } = shortest_decimal(n);
    let k = digits.len() as i64;
    // ECMAScript names: the value is 0.d1d2...dk × 10^n.
    let n_pos = exponent + 1;
    if negative {
        out.push('-');
    }
    if k <= n_pos && n_pos <= 21 {
        out.push_str(&digits);
        out.push_str(&"0".repeat((n_pos - k) as usize));
    } else if 0 < n_pos && n_pos <= 21 {
        push_with_point(&digits, n_pos as usize, out);
    } else if -6 < n_pos && n_pos <= 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-n_pos) as usize));
        out.push_str(&digits);
    } else {
        push_mantissa(&digits, out);
        let exponent10 = n_pos - 1;
        out.push('e');
        out.push(if exponent10 >= 0 { '+' } else { '-' });
        out.push_str(&exponent10.abs().to_string());
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, reason: impl Into<String>) -> JsonError {
        JsonError { offset: self.pos, reason: reason.into() }
    }

    fn error_at(&self, offset: usize, reason: impl Into<String>) -> JsonError {
        JsonError { offset, reason: reason.into() }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Describes the byte at the cursor for "expected X, found Y" messages.
    fn found(&self) -> String {
        match self.peek() {
            None => "the end of the text".to_owned(),
            Some(b) if b.is_ascii_graphic() => format!("'{}'", char::from(b)),
            Some(b) => format!("byte 0x{b:02x}"),
        }
    }

    fn parse_value(&mut self, depth: usize) -> Result<Value, JsonError> {
        match self.peek() {
            Some(b'{') => self.parse_object(depth + 1),
            Some(b'[') => self.parse_array(depth + 1),
            Some(b'"') => Ok(Value::String(self.parse_string()?)),
            Some(b't') => self.parse_literal("true", Value::Bool(true)),
            Some(b'f') => self.parse_literal("false", Value::Bool(false)),
            Some(b'n') => self.parse_literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.parse_number(),
            _ => Err(self.error(format!("expected a JSON value, found {}", self.found()))),
        }
    }

    fn parse_literal(&mut self, word: &str, value: Value) -> Result<Value, JsonError> {
        let end = self.pos + word.len();
        if self.bytes.get(self.pos..end) == Some(word.as_bytes()) {
            self.pos = end;
            Ok(value)
        } else {
            Err(self.error(format!("expected '{word}'")))
        }
    }

    fn enter(&self, depth: usize) -> Result<(), JsonError> {
        if depth > MAX_DEPTH {
            Err(self.error(format!("nesting deeper than {MAX_DEPTH} levels")))
        } else {
            Ok(())
        }
    }

    fn parse_array(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.enter(depth)?;
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_whitespace();
            items.push(self.parse_value(depth)?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.error(format!("expected ',' or ']' in an array, found {}", self.found()))),
            }
        }
    }

    fn parse_object(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.enter(depth)?;
        self.pos += 1; // '{'
        let mut entries: Vec<(String, Value)> = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(entries));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(self.error(format!("expected a string key in an object, found {}", self.found())));
            }
            let key = self.parse_string()?;
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return Err(self.error(format!("expected ':' after an object key, found {}", self.found())));
            }
            self.pos += 1;
            self.skip_whitespace();
            let value = self.parse_value(depth)?;
            insert_member(&mut entries, key, value);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(entries));
                }
                _ => return Err(self.error(format!("expected ',' or '}}' in an object, found {}", self.found()))),
            }
        }
    }

    /// Parses a string literal; the cursor is on the opening quote.
    fn parse_string(&mut self) -> Result<String, JsonError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut plain_from = self.pos;
        loop {
            let Some(b) = self.peek() else {
                return Err(self.error_at(start, "unterminated string"));
            };
            match b {
                b'"' => {
                    self.push_plain(&mut out, plain_from)?;
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    self.push_plain(&mut out, plain_from)?;
                    self.parse_escape(&mut out)?;
                    plain_from = self.pos;
                }
                0x00..=0x1f => {
                    return Err(self.error(format!("control character 0x{b:02x} must be escaped in a string")));
                }
                _ => self.pos += 1,
            }
        }
    }

    /// Copies the unescaped run `plain_from..pos` into `out`. The run ends at an ASCII byte of a `&str`, so
    /// it is always on a char boundary.
    fn push_plain(&self, out: &mut String, plain_from: usize) -> Result<(), JsonError> {
        let run = self.bytes.get(plain_from..self.pos).unwrap_or_default();
        match std::str::from_utf8(run) {
            Ok(text) => {
                out.push_str(text);
                Ok(())
            }
            Err(_) => Err(self.error_at(plain_from, "invalid UTF-8 in a string")),
        }
    }

    /// Decodes one escape sequence; the cursor is on the backslash.
    fn parse_escape(&mut self, out: &mut String) -> Result<(), JsonError> {
        let escape_at = self.pos;
        self.pos += 1;
        let Some(kind) = self.peek() else {
            return Err(self.error_at(escape_at, "unterminated escape sequence"));
        };
        self.pos += 1;
        let simple = match kind {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.parse_hex4(escape_at)?;
                out.push(self.finish_unicode_escape(unit)?);
                return Ok(());
            }
            _ => {
                return Err(self.error_at(escape_at, format!("invalid escape sequence '\\{}'", char::from(kind))));
            }
        };
        out.push(simple);
        Ok(())
    }

    /// Turns a `\uXXXX` code unit into a char, consuming a following `\uDC00..\uDFFF` when `unit` is a high
    /// surrogate. Lone surrogates become U+FFFD.
    fn finish_unicode_escape(&mut self, unit: u16) -> Result<char, JsonError> {
        match unit {
            0xD800..=0xDBFF => {
                let next_at = self.pos;
                if self.bytes.get(next_at..next_at + 2) == Some(b"\\u".as_slice()) {
                    self.pos += 2;
                    let low = self.parse_hex4(next_at)?;
                    if (0xDC00..=0xDFFF).contains(&low) {
                        let code = 0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                        return Ok(char::from_u32(code).unwrap_or('\u{FFFD}'));
                    }
                    // Not a low surrogate: leave that escape to be decoded on its own.
                    self.pos = next_at;
                }
                Ok('\u{FFFD}')
            }
            0xDC00..=0xDFFF => Ok('\u{FFFD}'),
            _ => Ok(char::from_u32(u32::from(unit)).unwrap_or('\u{FFFD}')),
        }
    }

    /// Reads the four hex digits after `\u`.
    fn parse_hex4(&mut self, escape_at: usize) -> Result<u16, JsonError> {
        let mut unit: u16 = 0;
        for _ in 0..4 {
            let digit = match self.peek() {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                _ => return Err(self.error_at(escape_at, "'\\u' must be followed by four hex digits")),
            };
            unit = (unit << 4) | u16::from(digit);
            self.pos += 1;
        }
        Ok(unit)
    }

    fn parse_number(&mut self) -> Result<Value, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.error_at(start, "a number must not have leading zeros"));
                }
            }
            Some(b'1'..=b'9') => self.skip_digits(),
            _ => return Err(self.error(format!("expected a digit in a number, found {}", self.found()))),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.require_digit("after the decimal point")?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.require_digit("in the exponent")?;
        }
        let text = std::str::from_utf8(self.bytes.get(start..self.pos).unwrap_or_default()).unwrap_or_default();
        let n = parse_decimal(text);
        if n.is_finite() {
            Ok(Value::Number(n))
        } else {
            Err(self.error_at(start, format!("number {text} is too large")))
        }
    }

    fn require_digit(&mut self, place: &str) -> Result<(), JsonError> {
        match self.peek() {
            Some(b'0'..=b'9') => {
                self.skip_digits();
                Ok(())
            }
            _ => Err(self.error(format!("expected a digit {place}, found {}", self.found()))),
        }
    }

    fn skip_digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }
}

/// Adds a member to an object being parsed; a repeated key replaces the earlier value in place.
///
/// A linear scan: `/track` replies have small objects, and a map type would cost more wasm bytes than it saves.
fn insert_member(entries: &mut Vec<(String, Value)>, key: String, value: Value) {
    match entries.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => entries.push((key, value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(v: &Value) -> String {
        to_string(v)
    }

    fn num(n: f64) -> String {
        write(&Value::Number(n))
    }

    #[test]
    #[allow(clippy::excessive_precision)] // 229260357543.453125 is written exactly on purpose (a tie case)
    fn numbers_print_like_json_stringify() {
        // Expectations from `node -e 'console.log(JSON.stringify(x))'` (Node 20).
        let table: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.0, "-1"),
            (19.0, "19"),
            (0.1, "0.1"),
            (0.5, "0.5"),
            (-0.5, "-0.5"),
            (1.5, "1.5"),
            (100.0, "100"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (-1e21, "-1e+21"),
            (123456789012345680000.0, "123456789012345680000"),
            (1.5e-7, "1.5e-7"),
            (1e-7, "1e-7"),
            (0.000001, "0.000001"),
            (0.0000015, "0.0000015"),
            (1e-5, "0.00001"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (9007199254740992.0, "9007199254740992"),
            (9007199254740994.0, "9007199254740994"),
            (-123.456, "-123.456"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1.0 / 3.0, "0.3333333333333333"),
            (123e-20, "1.23e-18"),
            (1e100, "1e+100"),
            (12345678901234567890123.0, "1.2345678901234568e+22"),
            (4.35, "4.35"),
            (3.0e10, "30000000000"),
            (1.2345e-10, "1.2345e-10"),
            (2.5e25, "2.5e+25"),
            (999999999999999900000.0, "999999999999999900000"),
            (0.001, "0.001"),
            (-0.000001234, "-0.000001234"),
            // An exact tie at the shortest length: JavaScript picks the even digit.
            (229260357543.453125, "229260357543.45312"),
            (1.5e-323, "1.5e-323"),
            (143188229389941.625, "143188229389941.62"), // another tie, x/8 near 1e14
            (2.2250738585072014e-308, "2.2250738585072014e-308"),
            (2.225073858507201e-308, "2.225073858507201e-308"), // largest subnormal
            (1e23, "1e+23"),
            (8.41e21, "8.41e+21"),
            (5e-7, "5e-7"),
            (0.1 + 0.7, "0.7999999999999999"),
            (1.0 / 3.0 * 1e-10, "3.3333333333333335e-11"),
        ];
        for (n, expected) in table {
            assert_eq!(num(*n), *expected, "number {n:?}");
        }
    }

    #[test]
    fn non_finite_numbers_are_written_as_null() {
        assert_eq!(num(f64::NAN), "null");
        assert_eq!(num(f64::INFINITY), "null");
        assert_eq!(num(f64::NEG_INFINITY), "null");
    }

    #[test]
    fn strings_escape_like_python_json_dumps() {
        // Expectation from python3 `json.dumps(s, ensure_ascii=False, separators=(",", ":"))`.
        let s = "a\"b\\c\n\r\t\u{8}\u{c}\u{0}\u{1}\u{1f}\u{7f} é€\u{2028}😀/</";
        let mut out = String::new();
        write_string(s, &mut out);
        assert_eq!(out, "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0000\\u0001\\u001f\u{7f} é€\u{2028}😀/</\"");
        for (c, expected) in [('\u{b}', "\"\\u000b\""), ('\u{1a}', "\"\\u001a\""), ('\u{1e}', "\"\\u001e\"")] {
            let mut out = String::new();
            write_string(&c.to_string(), &mut out);
            assert_eq!(out, expected);
        }
        let mut empty = String::new();
        write_string("", &mut empty);
        assert_eq!(empty, "\"\"");
    }

    #[test]
    fn compact_containers_match_python() {
        let v = Value::object([
            ("k", Value::Array(vec![Value::Number(1.0), Value::object([("x", Value::Null), ("y", Value::Bool(true)), ("z", Value::Bool(false))])])),
            ("", Value::from("")),
        ]);
        assert_eq!(write(&v), r#"{"k":[1,{"x":null,"y":true,"z":false}],"":""}"#);
        assert_eq!(write(&Value::Array(vec![])), "[]");
        assert_eq!(write(&Value::Object(vec![])), "{}");
    }

    #[test]
    fn wire_contract_body_round_trips_byte_identically() {
        let body = r#"{"tracked":[{"service_key":"openai::gpt-4o-mini","response_id":"1709671d3c87426db1b8bbd55753c022","timestamp":"1795310876.161856","payload":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":null},"customer_key":"cust-1","context":{"env":"prod"}}]}"#;
        let value = parse(body).expect("parses");
        assert_eq!(write(&value), body);
        let record = value.get("tracked").and_then(Value::as_array).and_then(|a| a.first()).expect("one record");
        assert_eq!(record.get("timestamp").and_then(Value::as_str), Some("1795310876.161856"));
        assert_eq!(record.get("payload").and_then(|p| p.get("total_tokens")).and_then(Value::as_f64), Some(29.0));
    }

    #[test]
    fn round_trips() {
        let texts = [
            "null",
            "true",
            "false",
            "0",
            "-1.5",
            "\"\"",
            "[]",
            "{}",
            r#"[1,"two",{"three":[3,null,false]},[[]]]"#,
            r#"{"a":{"b":{"c":"d\n\u0001\"\\"}}}"#,
            "{\"unicode\":\"é€😀\u{2028}\u{7f}\"}",
            "[0.1,1e+21,1.5e-7,5e-324,123456789012345680000]",
        ];
        for text in texts {
            let v = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(write(&v), text);
            assert_eq!(parse(&write(&v)), Ok(v));
        }
    }

    #[test]
    fn parses_whitespace_escapes_and_numbers() {
        assert_eq!(parse(" \t\r\n[ 1 , 2 ]\n "), Ok(Value::Array(vec![Value::Number(1.0), Value::Number(2.0)])));
        assert_eq!(parse(r#""\/\b\f\n\r\t\"\\""#), Ok(Value::from("/\u{8}\u{c}\n\r\t\"\\")));
        assert_eq!(parse(r#""\u00e9\u20AC""#), Ok(Value::from("é€")));
        assert_eq!(parse("-0"), Ok(Value::Number(-0.0)));
        assert_eq!(parse("1E2"), Ok(Value::Number(100.0)));
        assert_eq!(parse("1e-2"), Ok(Value::Number(0.01)));
        assert_eq!(parse("2.5E+3"), Ok(Value::Number(2500.0)));
        assert_eq!(parse("1e-999"), Ok(Value::Number(0.0)));
        // Correctly rounded like JSON.parse, at the edges of the range and on exact midpoints.
        let bits = |text: &str| match parse(text) {
            Ok(Value::Number(n)) => n.to_bits(),
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(bits("1.7976931348623158e308"), f64::MAX.to_bits());
        assert_eq!(bits("2.4703282292062328e-324"), 1); // just above half the smallest subnormal
        assert_eq!(bits("2.4703282292062327e-324"), 0);
        assert_eq!(bits("9007199254740993"), 9007199254740992f64.to_bits()); // a tie: to even
        assert_eq!(bits("9007199254740993.0000000000000000000000000001"), 9007199254740994f64.to_bits());
        assert_eq!(bits("1795310876.161856"), 1795310876.161856f64.to_bits());
        assert!(parse("1.7976931348623159e308").is_err());
    }

    #[test]
    fn surrogate_escapes() {
        assert_eq!(parse(r#""\ud83d\ude00""#), Ok(Value::from("😀")));
        assert_eq!(parse(r#""\uD83D\uDE00x""#), Ok(Value::from("😀x")));
        assert_eq!(parse(r#""\ud800x""#), Ok(Value::from("\u{FFFD}x")));
        assert_eq!(parse(r#""\udc00""#), Ok(Value::from("\u{FFFD}")));
        assert_eq!(parse(r#""\ud800""#), Ok(Value::from("\u{FFFD}")));
        // A high surrogate followed by another escape: each decoded on its own.
        assert_eq!(parse(r#""\ud800\u0041""#), Ok(Value::from("\u{FFFD}A")));
        assert_eq!(parse(r#""\ud800\ud83d\ude00""#), Ok(Value::from("\u{FFFD}😀")));
        assert_eq!(parse(r#""\ud800\n""#), Ok(Value::from("\u{FFFD}\n")));
    }

    #[test]
    fn duplicate_keys_replace_in_place() {
        let v = parse(r#"{"a":1,"b":2,"a":3}"#).expect("parses");
        assert_eq!(write(&v), r#"{"a":3,"b":2}"#);
        // Large objects use the index path.
        let mut text = String::from("{");
        for i in 0..40 {
            text.push_str(&format!("\"k{i}\":{i},"));
        }
        text.push_str("\"k5\":\"late\",\"k39\":true,\"new\":null}");
        let v = parse(&text).expect("parses");
        let Value::Object(entries) = &v else { panic!("object") };
        assert_eq!(entries.len(), 41);
        assert_eq!(entries[5], ("k5".to_owned(), Value::from("late")));
        assert_eq!(entries[39], ("k39".to_owned(), Value::Bool(true)));
        assert_eq!(entries[40], ("new".to_owned(), Value::Null));
    }

    #[test]
    fn depth_limit_is_an_error_not_a_stack_overflow() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
        let too_deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let err = parse(&too_deep).expect_err("too deep");
        assert_eq!(err.offset, MAX_DEPTH);
        assert!(err.reason.contains("nesting"), "{}", err.reason);
        let objects = "{\"a\":".repeat(MAX_DEPTH + 1);
        assert!(parse(&objects).expect_err("too deep").reason.contains("nesting"));
        let huge = "[".repeat(1_000_000);
        assert!(parse(&huge).is_err());
    }

    #[test]
    fn malformed_inputs_are_errors_with_offsets() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 0, "expected a JSON value"),
            ("   ", 3, "expected a JSON value"),
            ("[1,]", 3, "expected a JSON value"),
            ("[1 2]", 3, "expected ',' or ']'"),
            ("{\"a\":1,}", 7, "expected a string key"),
            ("{\"a\" 1}", 5, "expected ':'"),
            ("{\"a\":1 \"b\":2}", 7, "expected ',' or '}'"),
            ("{a:1}", 1, "expected a string key"),
            ("[1", 2, "expected ',' or ']'"),
            ("\"abc", 0, "unterminated string"),
            ("\"a\u{1}\"", 2, "control character 0x01"),
            ("\"a\nb\"", 2, "control character 0x0a"),
            ("\"\\x\"", 1, "invalid escape"),
            ("\"\\u12G4\"", 1, "four hex digits"),
            ("\"\\u12", 1, "four hex digits"),
            ("\"\\", 1, "unterminated escape"),
            ("01", 0, "leading zeros"),
            ("-01", 0, "leading zeros"),
            ("-", 1, "expected a digit"),
            ("+1", 0, "expected a JSON value"),
            ("1.", 2, "after the decimal point"),
            (".5", 0, "expected a JSON value"),
            ("1e", 2, "in the exponent"),
            ("1e+", 3, "in the exponent"),
            ("1e999", 0, "too large"),
            ("-1e999", 0, "too large"),
            ("NaN", 0, "expected a JSON value"),
            ("Infinity", 0, "expected a JSON value"),
            ("tru", 0, "expected 'true'"),
            ("nul", 0, "expected 'null'"),
            ("falsy", 0, "expected 'false'"),
            ("null x", 5, "unexpected data"),
            ("{} {}", 3, "unexpected data"),
            ("\u{feff}{}", 0, "expected a JSON value"),
            ("[\u{a0}1]", 1, "expected a JSON value"),
        ];
        for (text, offset, reason) in cases {
            let err = parse(text).expect_err(text);
            assert_eq!(err.offset, *offset, "{text:?}: {err}");
            assert!(err.reason.contains(reason), "{text:?}: {err}");
        }
    }

    #[test]
    fn arbitrary_prefixes_never_panic() {
        let text = r#"{"a":[1,-2.5e3,"x\u00e9\ud83d\ude00",{"b":null}],"c":true}"#;
        for end in 0..text.len() {
            if let Some(prefix) = text.get(..end) {
                let _ = parse(prefix);
            }
        }
        assert!(parse(text).is_ok());
    }
}
