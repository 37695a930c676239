//! Reading a `/track` reply.
//!
//! This module only turns the reply body into [`TrackReply`]; it does not decide what an HTTP status means or
//! whether to retry (that is [`crate::core::retry`]). Unknown fields are ignored, so a newer server that adds
//! fields keeps working.
use crate::core::json;
use crate::core::error::DeliveryError;
use crate::core::value::Value;

/// One per-record entry of a `/track` reply (`TrackResult` in the Python SDK).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerResult {
    /// The record this result is about; `None` when the server left it out.
    pub response_id: Option<String>,
    /// `queued`, `completed`, `error`, `service_key_unknown`, or another string a newer server sends.
    pub status: Option<String>,
    /// The server's messages for this record (non-string items are kept as their JSON text).
    pub errors: Vec<String>,
    /// Legacy synchronous servers: the cost events computed for this record.
    pub cost_events: Option<Value>,
}

/// A whole `/track` reply: `{"results": [...], "triggered_limits": {...}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackReply {
    pub results: Vec<ServerResult>,
    /// `None` when absent, `null` or `{}`.
    pub triggered_limits: Option<Value>,
}

/// A server's error messages as text: strings as they are, anything else as its JSON.
pub fn error_texts(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|e| match e {
            Value::String(s) => s.clone(),
            other => json::to_string(other),
        })
        .collect()
}

/// What one per-record result of a 2xx reply means for its record, in every delivery mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultVerdict {
    /// `queued`, `completed`, `service_key_unknown`, or cost events without a status (legacy servers:
    /// "completed"): the service has the record.
    Accepted(&'static str),
    /// `error`, or errors without a status: the service refused the record; its messages are in `errors`.
    Rejected,
    /// A status this version does not know, without errors or cost events (upstream's NoCostsTracked).
    Unknown(DeliveryError),
}

/// Judges one per-record result (see [`ResultVerdict`]).
pub fn verdict(result: &ServerResult) -> ResultVerdict {
    match result.status.as_deref() {
        Some("queued") => ResultVerdict::Accepted("queued"),
        Some("completed") => ResultVerdict::Accepted("completed"),
        Some("service_key_unknown") => ResultVerdict::Accepted("service_key_unknown"),
        Some("error") => ResultVerdict::Rejected,
        _ if result.cost_events.is_some() => ResultVerdict::Accepted("completed"),
        _ if !result.errors.is_empty() => ResultVerdict::Rejected,
        Some(other) => ResultVerdict::Unknown(DeliveryError::InvalidResponse {
            reason: format!("unknown status {} without errors or cost_events", json::quoted(other)),
        }),
        None => ResultVerdict::Unknown(DeliveryError::InvalidResponse {
            reason: "the result has no status, errors or cost_events".to_owned(),
        }),
    }
}

/// Parses a reply body.
///
/// Call it on the body of a 2xx (and of a 422, which carries per-record errors). Fails with a reason meant for
/// the caller's error message when the body is not JSON, is not an object, has no `results` array, or when a
/// result is not an object or has a field of the wrong type (`response_id`/`status` not a string, `errors` not
/// an array). Unknown fields are ignored.
pub fn parse_track_reply(body: &str) -> Result<TrackReply, String> {
    let value = json::parse(body).map_err(|e| format!("the reply is not valid JSON ({e}): {}", body_excerpt(body, 200)))?;
    if !matches!(value, Value::Object(_)) {
        return Err(format!("the reply is a JSON {}, not an object: {}", value.type_name(), body_excerpt(body, 200)));
    }
    let results = match value.get("results") {
        Some(Value::Array(items)) => items,
        Some(other) => return Err(format!("the reply's \"results\" is a {}, not an array", other.type_name())),
        None => return Err(format!("the reply has no \"results\" array: {}", body_excerpt(body, 200))),
    };
    let results = results
        .iter()
        .enumerate()
        .map(|(i, item)| parse_result(item).map_err(|reason| format!("results[{i}]: {reason}")))
        .collect::<Result<Vec<_>, _>>()?;
    let triggered_limits = match value.get("triggered_limits") {
        None | Some(Value::Null) => None,
        Some(Value::Object(entries)) if entries.is_empty() => None,
        Some(other) => Some(other.clone()),
    };
    Ok(TrackReply { results, triggered_limits })
}

/// Whether a per-record `status` means the server took the record (`queued`, `completed`,
/// `service_key_unknown`), so it leaves the outbox. `error` and any unknown status are not accepted.
pub fn is_accepted_status(status: &str) -> bool {
    matches!(status, "queued" | "completed" | "service_key_unknown")
}

/// The first `max_chars` characters of `body`, with "…" appended when it was cut: for putting a reply into
/// an error message without flooding it.
pub fn body_excerpt(body: &str, max_chars: usize) -> String {
    match body.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", body.get(..cut).unwrap_or_default()),
        None => body.to_owned(),
    }
}

fn parse_result(item: &Value) -> Result<ServerResult, String> {
    if !matches!(item, Value::Object(_)) {
        return Err(format!("a result must be an object, found a {}", item.type_name()));
    }
    let response_id = optional_string(item, "response_id")?;
    let status = optional_string(item, "status")?;
    let errors = match item.get("errors") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => error_texts(items),
        Some(other) => return Err(format!("\"errors\" must be an array, found a {}", other.type_name())),
    };
    let cost_events = match item.get("cost_events") {
        None | Some(Value::Null) => None,
        Some(other) => Some(other.clone()),
    };
    Ok(ServerResult { response_id, status, errors, cost_events })
}

/// The string under `key`; `None` when absent or null; an error for any other type.
fn optional_string(item: &Value, key: &str) -> Result<Option<String>, String> {
    match item.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("\"{key}\" must be a string, found a {}", other.type_name())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_contract_example_reply() {
        let body = r#"{"results": [{"response_id": "1709671d3c87426db1b8bbd55753c022", "status": "queued"}, {"response_id": "resp-456", "status": "service_key_unknown", "errors": ["Service key 'unknown::service' is not recognized. Event queued for review."]}],
 "triggered_limits": {"version": "v1", "public_key": "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkq...\n-----END PUBLIC KEY-----\n", "key_id": "test", "encrypted_payload": "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QiLCJ0eXAiOiJKV1QifQ.eyJpc3MiOiJhaWNtLWFwaSIs...<sig>"}}"#;
        let reply = parse_track_reply(body).expect("parses");
        assert_eq!(
            reply.results,
            vec![
                ServerResult {
                    response_id: Some("1709671d3c87426db1b8bbd55753c022".into()),
                    status: Some("queued".into()),
                    errors: vec![],
                    cost_events: None,
                },
                ServerResult {
                    response_id: Some("resp-456".into()),
                    status: Some("service_key_unknown".into()),
                    errors: vec!["Service key 'unknown::service' is not recognized. Event queued for review.".into()],
                    cost_events: None,
                },
            ]
        );
        let limits = reply.triggered_limits.expect("limits kept");
        assert_eq!(limits.get("key_id").and_then(Value::as_str), Some("test"));
        assert_eq!(
            limits.get("public_key").and_then(Value::as_str),
            Some("-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkq...\n-----END PUBLIC KEY-----\n")
        );
    }

    #[test]
    fn wire_contract_422_missing_response_id() {
        let body = r#"{"results":[{"response_id":"UNKNOWN-RESPONSE-1","errors":["Missing response_id."]}]}"#;
        let reply = parse_track_reply(body).expect("parses");
        assert_eq!(reply.results.len(), 1);
        assert_eq!(reply.results[0].response_id.as_deref(), Some("UNKNOWN-RESPONSE-1"));
        assert_eq!(reply.results[0].status, None);
        assert_eq!(reply.results[0].errors, vec!["Missing response_id.".to_owned()]);
        assert_eq!(reply.triggered_limits, None);
    }

    #[test]
    fn optional_fields_and_non_string_errors() {
        let body = r#"{"results":[{},{"response_id":null,"status":null,"errors":null,"cost_events":null},
            {"response_id":"r","status":"completed","errors":["a",{"loc":["x"]},3,null],
             "cost_events":[{"vendor_id":"openai","cost":"0.001"}],"extra":1}],"other":true}"#;
        let reply = parse_track_reply(body).expect("parses");
        let empty = ServerResult { response_id: None, status: None, errors: vec![], cost_events: None };
        assert_eq!(reply.results[0], empty);
        assert_eq!(reply.results[1], empty);
        let third = &reply.results[2];
        assert_eq!(third.errors, vec!["a".to_owned(), r#"{"loc":["x"]}"#.to_owned(), "3".to_owned(), "null".to_owned()]);
        let events = third.cost_events.as_ref().and_then(Value::as_array).expect("cost events");
        assert_eq!(events[0].get("cost").and_then(Value::as_str), Some("0.001"));
    }

    #[test]
    fn triggered_limits_absent_null_or_empty_is_none() {
        for body in [r#"{"results":[]}"#, r#"{"results":[],"triggered_limits":null}"#, r#"{"results":[],"triggered_limits":{}}"#] {
            assert_eq!(parse_track_reply(body).expect(body).triggered_limits, None, "{body}");
        }
        let reply = parse_track_reply(r#"{"results":[],"triggered_limits":{"version":"v1"}}"#).expect("parses");
        assert_eq!(reply.triggered_limits, Some(Value::object([("version", Value::from("v1"))])));
        let odd = parse_track_reply(r#"{"results":[],"triggered_limits":[]}"#).expect("parses");
        assert_eq!(odd.triggered_limits, Some(Value::Array(vec![])));
    }

    #[test]
    fn rejections_say_what_is_wrong() {
        let cases: &[(&str, &str)] = &[
            ("", "not valid JSON"),
            ("<html>Bad gateway</html>", "not valid JSON"),
            ("[]", "JSON array, not an object"),
            (r#"{"ok":true}"#, "no \"results\" array"),
            (r#"{"results":{}}"#, "\"results\" is a object, not an array"),
            (r#"{"results":null}"#, "\"results\" is a null"),
            (r#"{"results":["queued"]}"#, "results[0]: a result must be an object, found a string"),
            (r#"{"results":[{},1]}"#, "results[1]: a result must be an object, found a number"),
            (r#"{"results":[{"response_id":5}]}"#, "\"response_id\" must be a string, found a number"),
            (r#"{"results":[{"status":true}]}"#, "\"status\" must be a string, found a boolean"),
            (r#"{"results":[{"errors":"boom"}]}"#, "\"errors\" must be an array, found a string"),
        ];
        for (body, reason) in cases {
            let err = parse_track_reply(body).expect_err(body);
            assert!(err.contains(reason), "{body}: {err}");
        }
    }

    #[test]
    fn accepted_statuses() {
        for s in ["queued", "completed", "service_key_unknown"] {
            assert!(is_accepted_status(s), "{s}");
        }
        for s in ["error", "", "Queued", "unknown"] {
            assert!(!is_accepted_status(s), "{s}");
        }
    }

    #[test]
    fn excerpts_cut_at_char_boundaries() {
        assert_eq!(body_excerpt("hello", 5), "hello");
        assert_eq!(body_excerpt("hello", 10), "hello");
        assert_eq!(body_excerpt("hello", 3), "hel…");
        assert_eq!(body_excerpt("héllo", 2), "hé…");
        assert_eq!(body_excerpt("😀😀😀", 1), "😀…");
        assert_eq!(body_excerpt("abc", 0), "…");
        assert_eq!(body_excerpt("", 0), "");
    }
}
