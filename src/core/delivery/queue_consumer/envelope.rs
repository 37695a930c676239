//! The texts of Cloudflare Queues messages: what a message body may be, and the two bodies the consumer
//! writes (a re-sent record carrying its attempts, a dead letter carrying its reason).
//!
//! Call [`parse_message`] on each delivered message body before anything is posted: only a body it accepts is
//! ever put into a `/track` body. Three shapes are accepted, nothing else:
//! - a **record**: the record's JSON text exactly as the producer ([`queueSink`]) sent it, an object with a
//!   non-empty string `response_id`;
//! - a **re-sent record** ([`encode_requeued`]): `{"aicm_requeued":1,"attempts":N,"first_seen_ms":T,"record":{...}}`,
//!   exactly these four keys, `N` and `T` non-negative integers;
//! - a **dead letter** ([`encode_dead_letter`]), only where the caller allows it (the DLQ replay):
//!   `{"aicm_dead_letter":1,"reason":{...},"attempts":N,"first_seen_ms":T,"record":{...}}`.
//!
//! Anything else (not JSON, not an object, no `response_id`, an envelope with a missing, extra or ill-typed
//! key) is a [`NotARecord`] with a reason, which the consumer dead-letters without posting it.
//!
//! [`queueSink`]: ../../../../pkg-template/stores/cloudflare-queues.js

use crate::core::json;
use crate::core::value::Value;

/// The marker key of a re-sent record.
const REQUEUED_KEY: &str = "aicm_requeued";
/// The marker key of a dead letter.
const DEAD_LETTER_KEY: &str = "aicm_dead_letter";
/// Attempts and times above this are refused (2^53: exact in a JS number).
const MAX_INTEGER: f64 = 9_007_199_254_740_991.0;

/// A message body that is one record, with what its envelope (if any) carried.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// The record's JSON text, what goes into the `/track` body.
    pub record_json: String,
    /// The record's `response_id`: its idempotency key.
    pub response_id: String,
    /// Attempts made before this message existed (0 for a record straight from the producer).
    pub carried_attempts: u32,
    /// When the record was first enqueued (epoch ms), when an envelope says so.
    pub first_seen_ms: Option<u64>,
    /// True when the body was a dead letter (only accepted by the replay).
    pub was_dead_letter: bool,
}

/// Why a message body is not a record. `reason` is for people; `code` is stable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotARecord {
    /// `"E_QUEUE_MESSAGE"`: the stable code.
    pub code: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

fn not_a_record(reason: impl Into<String>) -> NotARecord {
    NotARecord { code: "E_QUEUE_MESSAGE", reason: reason.into() }
}

/// Reads one message body. `body` is `None` when the body was not a string (`kind` names what it was, e.g.
/// `"object"`, `"ArrayBuffer"`, `"unreadable"`). `accept_dead_letters` is true only for the DLQ replay.
pub fn parse_message(body: Option<&str>, kind: &str, accept_dead_letters: bool) -> Result<Incoming, NotARecord> {
    let text = body.ok_or_else(|| not_a_record(format!("the message body is {kind}, not a record's JSON text")))?;
    let value = json::parse(text).map_err(|e| not_a_record(format!("the message body is not JSON: {e:?}")))?;
    let Value::Object(entries) = &value else {
        return Err(not_a_record("the message body is not a JSON object"));
    };
    if value.get(REQUEUED_KEY).is_some() {
        return envelope(entries, REQUEUED_KEY, &["attempts", "first_seen_ms", "record"], false);
    }
    if value.get(DEAD_LETTER_KEY).is_some() {
        if !accept_dead_letters {
            return Err(not_a_record("a dead letter reached the delivery consumer: replay it with replayDeadLetters"));
        }
        return envelope(entries, DEAD_LETTER_KEY, &["reason", "attempts", "first_seen_ms", "record"], true);
    }
    let response_id = response_id_of(&value)?;
    Ok(Incoming { record_json: text.to_owned(), response_id, carried_attempts: 0, first_seen_ms: None, was_dead_letter: false })
}

fn response_id_of(record: &Value) -> Result<String, NotARecord> {
    if !matches!(record, Value::Object(_)) {
        return Err(not_a_record("the record is not a JSON object"));
    }
    match record.get("response_id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => Ok(id.to_owned()),
        _ => Err(not_a_record("the record has no string response_id")),
    }
}

/// An envelope: the marker equal to 1 and exactly the `keys` besides it.
fn envelope(entries: &[(String, Value)], marker: &str, keys: &[&str], dead: bool) -> Result<Incoming, NotARecord> {
    if entries.len() != keys.len() + 1 {
        return Err(not_a_record(format!("a {marker} envelope must have exactly the keys {marker}, {}", keys.join(", "))));
    }
    let mut attempts = None;
    let mut first_seen = None;
    let mut record = None;
    for (key, value) in entries {
        match key.as_str() {
            k if k == marker => {
                if value.as_f64() != Some(1.0) {
                    return Err(not_a_record(format!("{marker} must be 1")));
                }
            }
            "attempts" => attempts = Some(integer(value, "attempts")?),
            "first_seen_ms" => first_seen = Some(integer(value, "first_seen_ms")?),
            "record" => record = Some(value),
            "reason" if dead => {}
            other => return Err(not_a_record(format!("unexpected key {other:?} in a {marker} envelope"))),
        }
    }
    let (Some(attempts), Some(first_seen), Some(record)) = (attempts, first_seen, record) else {
        return Err(not_a_record(format!("a {marker} envelope misses attempts, first_seen_ms or record")));
    };
    let response_id = response_id_of(record)?;
    Ok(Incoming {
        record_json: json::to_string(record),
        response_id,
        carried_attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        first_seen_ms: Some(first_seen),
        was_dead_letter: dead,
    })
}

fn integer(value: &Value, name: &str) -> Result<u64, NotARecord> {
    match value.as_f64() {
        Some(n) if (0.0..=MAX_INTEGER).contains(&n) && n.fract() == 0.0 => Ok(n as u64),
        _ => Err(not_a_record(format!("{name} must be a non-negative integer"))),
    }
}

/// The body of a re-sent record: the record's JSON text, the attempts made so far and when it was first
/// enqueued. [`parse_message`] reads it back.
pub fn encode_requeued(record_json: &str, attempts: u32, first_seen_ms: u64) -> String {
    format!("{{\"{REQUEUED_KEY}\":1,\"attempts\":{attempts},\"first_seen_ms\":{first_seen_ms},\"record\":{record_json}}}")
}

/// Why a message is dead-lettered: what the DLQ message's `reason` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadReason {
    /// Stable: `E_REJECTED`, `E_HTTP_STATUS`, `E_TOO_LARGE`, `E_INVALID_RESPONSE`, `E_MISSING_RESULT`,
    /// `E_QUEUE_MESSAGE` (not a record), `E_TOO_OLD` (older than the max age after a failed attempt).
    pub code: &'static str,
    /// The HTTP status of the answer that decided it, when there was one.
    pub status: Option<u16>,
    /// The server's per-record errors, or a description.
    pub errors: Vec<String>,
}

/// The body of a dead letter. `record_json` is the record (`None` for a body that was not one: then
/// `body_excerpt` keeps the start of what arrived). `at_ms`: when it was dead-lettered.
pub fn encode_dead_letter(
    reason: &DeadReason,
    record_json: Option<&str>,
    body_excerpt: Option<&str>,
    attempts: u32,
    first_seen_ms: u64,
    at_ms: u64,
) -> String {
    let mut out = String::new();
    out.push_str(&format!("{{\"{DEAD_LETTER_KEY}\":1,\"reason\":{{\"code\":"));
    out.push_str(&json::quoted(reason.code));
    if let Some(status) = reason.status {
        out.push_str(&format!(",\"status\":{status}"));
    }
    out.push_str(",\"errors\":[");
    for (i, e) in reason.errors.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&json::quoted(&excerpt(e, 1000)));
    }
    out.push_str(&format!("],\"at_ms\":{at_ms}"));
    if let Some(body) = body_excerpt {
        out.push_str(",\"body_excerpt\":");
        out.push_str(&json::quoted(&excerpt(body, 2000)));
    }
    out.push_str(&format!("}},\"attempts\":{attempts},\"first_seen_ms\":{first_seen_ms},\"record\":"));
    out.push_str(record_json.unwrap_or("null"));
    out.push('}');
    out
}

/// The first `max` characters of `s`.
fn excerpt(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const REC: &str = r#"{"service_key":"a::b","response_id":"r1","payload":{"n":1.5,"s":"x\"y"}}"#;

    #[test]
    fn a_record_is_taken_verbatim() {
        let got = parse_message(Some(REC), "string", false).unwrap();
        assert_eq!(got.record_json, REC);
        assert_eq!(got.response_id, "r1");
        assert_eq!((got.carried_attempts, got.first_seen_ms, got.was_dead_letter), (0, None, false));
    }

    #[test]
    fn a_requeued_envelope_round_trips() {
        let text = encode_requeued(REC, 7, 1_700_000_000_000);
        let got = parse_message(Some(&text), "string", false).unwrap();
        assert_eq!(got.record_json, REC);
        assert_eq!((got.carried_attempts, got.first_seen_ms), (7, Some(1_700_000_000_000)));
    }

    #[test]
    fn a_dead_letter_is_only_read_by_the_replay() {
        let reason = DeadReason { code: "E_REJECTED", status: Some(200), errors: vec!["bad \"key\"".into()] };
        let text = encode_dead_letter(&reason, Some(REC), None, 3, 5, 9);
        assert!(json::parse(&text).is_ok(), "{text}");
        assert!(parse_message(Some(&text), "string", false).is_err());
        let got = parse_message(Some(&text), "string", true).unwrap();
        assert_eq!((got.record_json.as_str(), got.carried_attempts, got.was_dead_letter), (REC, 3, true));
        let garbage = encode_dead_letter(&reason, None, Some("<html>"), 0, 5, 9);
        assert!(json::parse(&garbage).is_ok());
        assert!(parse_message(Some(&garbage), "string", true).is_err(), "a dead letter without a record is not replayable");
    }

    #[test]
    fn everything_else_is_not_a_record() {
        let bad = [
            "", "null", "[]", "\"r1\"", "{", "{}", r#"{"response_id":""}"#, r#"{"response_id":5}"#,
            r#"{"aicm_requeued":1,"attempts":1,"first_seen_ms":1}"#,
            r#"{"aicm_requeued":2,"attempts":1,"first_seen_ms":1,"record":{"response_id":"r"}}"#,
            r#"{"aicm_requeued":1,"attempts":-1,"first_seen_ms":1,"record":{"response_id":"r"}}"#,
            r#"{"aicm_requeued":1,"attempts":1.5,"first_seen_ms":1,"record":{"response_id":"r"}}"#,
            r#"{"aicm_requeued":1,"attempts":1,"first_seen_ms":"1","record":{"response_id":"r"}}"#,
            r#"{"aicm_requeued":1,"attempts":1,"first_seen_ms":1,"record":{"response_id":"r"},"x":0}"#,
            r#"{"aicm_requeued":1,"attempts":1,"first_seen_ms":1,"record":"{\"response_id\":\"r\"}"}"#,
            r#"{"aicm_requeued":1,"attempts":1e300,"first_seen_ms":1,"record":{"response_id":"r"}}"#,
            r#"{"aicm_dead_letter":1,"reason":{},"attempts":1,"first_seen_ms":1,"record":{"response_id":"r"}}"#,
        ];
        for b in bad {
            let e = parse_message(Some(b), "string", false).unwrap_err();
            assert_eq!(e.code, "E_QUEUE_MESSAGE", "{b}");
        }
        let e = parse_message(None, "ArrayBuffer", false).unwrap_err();
        assert!(e.reason.contains("ArrayBuffer"));
        let deep = "[".repeat(100_000);
        assert!(parse_message(Some(&deep), "string", false).is_err());
    }
}
