//! The store's keys and values (format version 1).
//!
//! - queued record: key `<ns>q/<response_id>`, value `{"v":1,"created":<ms>,"attempts":<n>,"due":<ms>,
//!   "record":<json>}`; `"due"` (written once the record has failed at least once) is the time before which
//!   it must not be sent again: the backoff, kept across isolates and pages, or the lease of a `keepalive`
//!   request a page going away sent it in ([`super::keepalive`]). Rows without it (written before
//!   it existed, or never tried) are due at once; readers that do not know it ignore it, so it needed no
//!   version bump;
//! - dead letter: key `<ns>d/<response_id>`, value `{"v":1,"created":<ms>,"attempts":<n>,"at":<ms>,
//!   "reason":"...","status":<status or null>,"errors":[...],"record":<json>}`.
//!
//! Values are written with [`json::write_string`] and read back with [`json::parse`]. The record is written
//! verbatim and read back by re-encoding the parsed value, which gives the same bytes for anything the core's
//! writer produced. Reading never fails loudly: a value it cannot use is an `Err` with the reason, and the
//! caller leaves the entry in the store and counts it.

use super::entry::{Dead, Live, RecordText};
use crate::core::json;
use crate::core::value::Value;

/// Which part of the namespace a key is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyKind {
    /// `q/`: a queued record.
    Queued,
    /// `d/`: a dead letter.
    Dead,
}

impl KeyKind {
    fn infix(self) -> &'static str {
        match self {
            KeyKind::Queued => "q/",
            KeyKind::Dead => "d/",
        }
    }
}

/// `<ns>q/<id>` or `<ns>d/<id>`.
pub(super) fn key(ns: &str, kind: KeyKind, id: &str) -> String {
    let mut key = String::with_capacity(ns.len() + 2 + id.len());
    key.push_str(ns);
    key.push_str(kind.infix());
    key.push_str(id);
    key
}

/// The kind and id of a key under `ns`; `None` for a key outside it or of another shape.
pub(super) fn split_key<'a>(ns: &str, key: &'a str) -> Option<(KeyKind, &'a str)> {
    let rest = key.strip_prefix(ns)?;
    let (kind, id) = if let Some(id) = rest.strip_prefix("q/") {
        (KeyKind::Queued, id)
    } else {
        (KeyKind::Dead, rest.strip_prefix("d/")?)
    };
    (!id.is_empty()).then_some((kind, id))
}

fn push_u64(out: &mut String, n: u64) {
    out.push_str(&n.to_string());
}

/// The stored value of a queued record.
pub(super) fn write_queued(row: &Live) -> String {
    write_queued_due(row, (row.attempts > 0).then_some(row.due_ms))
}

/// The stored value of a queued record a page going away sent in a `keepalive` request: with its lease
/// (`row.due_ms`) as `"due"` even before any failure, so that the next page does not send it again before
/// the lease ends (see [`super::keepalive`]).
pub(super) fn write_leased(row: &Live) -> String {
    write_queued_due(row, Some(row.due_ms))
}

fn write_queued_due(row: &Live, due_ms: Option<u64>) -> String {
    let json = row.rec.json();
    let mut out = String::with_capacity(json.len() + 48);
    out.push_str("{\"v\":1,\"created\":");
    push_u64(&mut out, row.created_ms);
    out.push_str(",\"attempts\":");
    push_u64(&mut out, u64::from(row.attempts));
    if let Some(due_ms) = due_ms {
        out.push_str(",\"due\":");
        push_u64(&mut out, due_ms);
    }
    out.push_str(",\"record\":");
    out.push_str(json);
    out.push('}');
    out
}

/// The retry state of a stored queued record: `(attempts, due_ms)` (`due_ms` 0 when absent). Reads the
/// prefix [`write_queued`] writes without parsing the record; other layouts are parsed in full. `None` for
/// a value that is not a readable queued record.
pub(super) fn read_schedule(value: &str) -> Option<(u64, u64)> {
    fn number(rest: &str) -> Option<(u64, &str)> {
        let end = rest.bytes().position(|b| !b.is_ascii_digit()).unwrap_or(rest.len());
        let n = rest.get(..end)?.parse::<u64>().ok()?;
        Some((n, rest.get(end..)?))
    }
    let fast = || -> Option<(u64, u64)> {
        let rest = value.strip_prefix("{\"v\":1,\"created\":")?;
        let (_, rest) = number(rest)?;
        let (attempts, rest) = number(rest.strip_prefix(",\"attempts\":")?)?;
        match rest.strip_prefix(",\"due\":") {
            Some(due) => Some((attempts, number(due)?.0)),
            None => rest.starts_with(",\"record\":").then_some((attempts, 0)),
        }
    };
    fast().or_else(|| {
        let parsed = json::parse(value).ok()?;
        let attempts = whole_number(&parsed, "attempts").ok()?;
        let due = read_due(&parsed).ok()?;
        Some((attempts, due))
    })
}

/// The optional `"due"` field: 0 when absent.
fn read_due(value: &Value) -> Result<u64, String> {
    match value.get("due") {
        None | Some(Value::Null) => Ok(0),
        Some(_) => whole_number(value, "due"),
    }
}

/// The stored value of a dead letter.
pub(super) fn write_dead(row: &Dead) -> String {
    let json = row.rec.json();
    let mut out = String::with_capacity(json.len() + row.reason.len() + 96);
    out.push_str("{\"v\":1,\"created\":");
    push_u64(&mut out, row.created_ms);
    out.push_str(",\"attempts\":");
    push_u64(&mut out, u64::from(row.attempts));
    out.push_str(",\"at\":");
    push_u64(&mut out, row.at_ms);
    out.push_str(",\"reason\":");
    json::write_string(&row.reason, &mut out);
    out.push_str(",\"status\":");
    match row.status {
        Some(status) => push_u64(&mut out, u64::from(status)),
        None => out.push_str("null"),
    }
    out.push_str(",\"errors\":[");
    for (i, error) in row.errors.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json::write_string(error, &mut out);
    }
    out.push_str("],\"record\":");
    out.push_str(json);
    out.push('}');
    out
}

/// The fields both kinds share, checked.
struct Common {
    created_ms: u64,
    attempts: u64,
    rec: RecordText,
}

fn read_common(id: &str, value: &Value) -> Result<Common, String> {
    if !matches!(value, Value::Object(_)) {
        return Err(format!("the value is a JSON {}, not an object", value.type_name()));
    }
    if value.get("v").and_then(Value::as_f64) != Some(1.0) {
        return Err("not format version 1 (\"v\":1)".to_owned());
    }
    let created_ms = whole_number(value, "created")?;
    let attempts = whole_number(value, "attempts")?;
    let record = value.get("record").ok_or("no \"record\"")?;
    if !matches!(record, Value::Object(_)) {
        return Err("\"record\" is not an object".to_owned());
    }
    if record.get("response_id").and_then(Value::as_str) != Some(id) {
        return Err("the record's response_id does not match its key".to_owned());
    }
    let rec = RecordText::new(json::to_string(record), id).ok_or("the response_id is too long")?;
    Ok(Common { created_ms, attempts, rec })
}

/// A non-negative integer field no larger than 2^53.
fn whole_number(value: &Value, field: &str) -> Result<u64, String> {
    match value.get(field).and_then(Value::as_f64) {
        Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= 9_007_199_254_740_992.0 => Ok(n as u64),
        _ => Err(format!("\"{field}\" is not a non-negative integer")),
    }
}

/// Reads a queued record's value stored under the id `id`. The row comes back already known to the store
/// (`WRITTEN | CONFIRMED`), with `due_ms` as stored (0: due at once; the caller bounds it).
pub(super) fn read_queued(id: &str, value: &str) -> Result<Live, String> {
    let parsed = json::parse(value).map_err(|e| e.to_string())?;
    let common = read_common(id, &parsed)?;
    let due_ms = read_due(&parsed)?;
    Ok(Live {
        rec: common.rec,
        created_ms: common.created_ms,
        due_ms,
        batch: 0,
        attempts: u16::try_from(common.attempts).unwrap_or(u16::MAX),
        flags: super::entry::flag::WRITTEN | super::entry::flag::CONFIRMED,
    })
}

/// Reads a dead letter's value stored under the id `id` (known to the store, like [`read_queued`]).
pub(super) fn read_dead(id: &str, value: &str) -> Result<Dead, String> {
    let parsed = json::parse(value).map_err(|e| e.to_string())?;
    let common = read_common(id, &parsed)?;
    let at_ms = whole_number(&parsed, "at")?;
    let reason = parsed.get("reason").and_then(Value::as_str).ok_or("\"reason\" is not a string")?.to_owned();
    let status = match parsed.get("status") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if (100.0..=999.0).contains(n) && n.fract() == 0.0 => Some(*n as u16),
        Some(_) => return Err("\"status\" is not an HTTP status or null".to_owned()),
    };
    let errors = match parsed.get("errors") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => crate::core::response::error_texts(items),
        Some(_) => return Err("\"errors\" is not an array".to_owned()),
    };
    Ok(Dead {
        rec: common.rec,
        created_ms: common.created_ms,
        at_ms,
        attempts: u32::try_from(common.attempts).unwrap_or(u32::MAX),
        status,
        reason,
        errors,
        flags: super::entry::flag::WRITTEN | super::entry::flag::CONFIRMED,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::record;
    use crate::core::value::Value;

    const NS: &str = "aicm/v1/0123456789abcdef/";

    fn sdk_record(id: &str) -> String {
        let payload = Value::object([
            ("prompt_tokens", Value::Number(19.0)),
            ("ratio", Value::Number(0.1 + 0.2)),
            ("big", Value::Number(1e21)),
            ("text", Value::from("é \"quoted\" \n 😀")),
            ("list", Value::Array(vec![Value::Null, Value::Bool(true), Value::Number(-0.0)])),
        ]);
        record::encode("openai::gpt-4o-mini", id, 1_736_937_000_123_456, &payload, Some("acme"), Some(&Value::object([("k", Value::from("v"))])))
    }

    #[test]
    fn keys() {
        assert_eq!(key(NS, KeyKind::Queued, "abc"), "aicm/v1/0123456789abcdef/q/abc");
        assert_eq!(key(NS, KeyKind::Dead, "a/b"), "aicm/v1/0123456789abcdef/d/a/b");
        assert_eq!(split_key(NS, "aicm/v1/0123456789abcdef/q/abc"), Some((KeyKind::Queued, "abc")));
        assert_eq!(split_key(NS, "aicm/v1/0123456789abcdef/d/a/b"), Some((KeyKind::Dead, "a/b")));
        for other in ["aicm/v1/0123456789abcdef/x/abc", "aicm/v1/0123456789abcdef/q/", "aicm/v1/ffff/q/abc", "q/abc", ""] {
            assert_eq!(split_key(NS, other), None, "{other}");
        }
    }

    #[test]
    fn queued_value_round_trips_the_record_bytes() {
        let json = sdk_record("r-1");
        let row = Live { rec: RecordText::new(json.clone(), "r-1").unwrap(), created_ms: 1_700_000_000_123, attempts: 3, ..Live::default() };
        let row = Live { due_ms: 1_700_000_060_000, ..row };
        let value = write_queued(&row);
        assert_eq!(value, format!(r#"{{"v":1,"created":1700000000123,"attempts":3,"due":1700000060000,"record":{json}}}"#));
        let back = read_queued("r-1", &value).unwrap();
        assert_eq!(back.rec.json(), json, "the record comes back byte for byte");
        assert_eq!((back.rec.id(), back.created_ms, back.attempts, back.due_ms), ("r-1", 1_700_000_000_123, 3, 1_700_000_060_000));
        assert_eq!(read_schedule(&value), Some((3, 1_700_000_060_000)));
        // A record never tried carries no retry time.
        let fresh = write_queued(&Live { attempts: 0, ..row });
        assert_eq!(fresh, format!(r#"{{"v":1,"created":1700000000123,"attempts":0,"record":{json}}}"#));
        assert_eq!(read_schedule(&fresh), Some((0, 0)));
    }

    #[test]
    fn rows_written_before_the_retry_time_existed_are_still_read() {
        // The exact layout of the previous writer: no "due": due at once.
        let json = sdk_record("r-old");
        let old = format!(r#"{{"v":1,"created":1700000000123,"attempts":4,"record":{json}}}"#);
        let back = read_queued("r-old", &old).unwrap();
        assert_eq!((back.attempts, back.due_ms, back.rec.json()), (4, 0, json.as_str()));
        assert_eq!(read_schedule(&old), Some((4, 0)));
        // Another layout (fields reordered, spaces): parsed in full.
        let other = format!(r#"{{ "record": {json}, "due": 99, "attempts": 2, "created": 1, "v": 1 }}"#);
        assert_eq!(read_queued("r-old", &other).unwrap().due_ms, 99);
        assert_eq!(read_schedule(&other), Some((2, 99)));
        assert!(read_queued("r-old", &other.replace("99", "-1")).unwrap_err().contains("due"));
        assert_eq!(read_schedule("garbage"), None);
    }

    #[test]
    fn dead_value_round_trips() {
        let json = sdk_record("r-2");
        let row = Dead {
            rec: RecordText::new(json.clone(), "r-2").unwrap(),
            created_ms: 5,
            at_ms: 9,
            attempts: 2,
            status: Some(422),
            reason: "rejected by the server: \"bad\"".to_owned(),
            errors: vec!["payload: x".to_owned(), "é\n".to_owned()],
            flags: 0,
        };
        let value = write_dead(&row);
        assert!(json::parse(&value).is_ok());
        let back = read_dead("r-2", &value).unwrap();
        assert_eq!(back.rec.json(), json);
        assert_eq!((back.created_ms, back.at_ms, back.attempts, back.status), (5, 9, 2, Some(422)));
        assert_eq!((back.reason.as_str(), back.errors.clone()), (row.reason.as_str(), row.errors.clone()));
        let no_status = Dead { status: None, errors: vec![], ..row };
        let back = read_dead("r-2", &write_dead(&no_status)).unwrap();
        assert_eq!((back.status, back.errors.len()), (None, 0));
    }

    #[test]
    fn unreadable_values_say_why() {
        let good = r#"{"response_id":"r"}"#;
        let cases = [
            ("not json", "invalid JSON"),
            ("[1]", "not an object"),
            (&format!(r#"{{"v":2,"created":1,"attempts":0,"record":{good}}}"#), "version"),
            (&format!(r#"{{"v":1,"created":-1,"attempts":0,"record":{good}}}"#), "created"),
            (&format!(r#"{{"v":1,"created":1,"attempts":0.5,"record":{good}}}"#), "attempts"),
            (r#"{"v":1,"created":1,"attempts":0}"#, "record"),
            (r#"{"v":1,"created":1,"attempts":0,"record":"x"}"#, "record"),
            (r#"{"v":1,"created":1,"attempts":0,"record":{"response_id":"other"}}"#, "match"),
        ];
        for (value, why) in cases {
            let err = read_queued("r", value).unwrap_err();
            assert!(err.contains(why), "{value}: {err}");
        }
        let dead = format!(r#"{{"v":1,"created":1,"attempts":0,"at":2,"reason":"x","status":"500","record":{good}}}"#);
        assert!(read_dead("r", &dead).unwrap_err().contains("status"));
        let dead = format!(r#"{{"v":1,"created":1,"attempts":0,"at":2,"record":{good}}}"#);
        assert!(read_dead("r", &dead).unwrap_err().contains("reason"));
    }
}
