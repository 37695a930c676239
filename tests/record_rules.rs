//! Record validation, defaults and anonymization as the core applies them (native, deterministic).
#![cfg(not(target_arch = "wasm32"))]

use aicostmanager_edge::core::anonymize::{Anonymizer, REDACTED};
use aicostmanager_edge::core::error::TrackError;
use aicostmanager_edge::core::record::{build_record, BuildContext, Override, RecordDefaults, RecordInput, TimestampInput};
use aicostmanager_edge::core::value::Value;

fn input() -> RecordInput {
    RecordInput {
        service_key: "openai::gpt-4o".to_owned(),
        payload: Value::object([("total_tokens", Value::Number(3.0)), ("prompt", Value::from("hello"))]),
        response_id: Some("r-1".to_owned()),
        timestamp: None,
        customer_key: Override::Inherit,
        context: Override::Inherit,
    }
}

fn ctx<'a>(fields: &'a [String]) -> BuildContext<'a> {
    BuildContext { now_ms: 1_700_000_000_000.0, entropy: [7; 16], max_record_bytes: 4096, call_fields: fields, anonymizer: None }
}

fn build(input: RecordInput) -> Result<String, TrackError> {
    build_record(input, &RecordDefaults::default(), ctx(&[])).map(|r| r.json)
}

fn code(result: Result<String, TrackError>) -> &'static str {
    result.err().map(|e| e.code()).unwrap_or("ok")
}

#[test]
fn each_bad_field_has_its_code() {
    let cases: Vec<(&str, RecordInput, &str)> = vec![
        ("empty service key", RecordInput { service_key: String::new(), ..input() }, "E_INVALID_SERVICE_KEY"),
        ("blank service key", RecordInput { service_key: "  ".to_owned(), ..input() }, "E_INVALID_SERVICE_KEY"),
        ("empty response id", RecordInput { response_id: Some(String::new()), ..input() }, "E_INVALID_RESPONSE_ID"),
        ("long response id", RecordInput { response_id: Some("x".repeat(256)), ..input() }, "E_INVALID_RESPONSE_ID"),
        ("naive ISO", RecordInput { timestamp: Some(TimestampInput::Iso("2025-01-15T10:30:00".to_owned())), ..input() }, "E_INVALID_TIMESTAMP"),
        ("garbage ISO", RecordInput { timestamp: Some(TimestampInput::Iso("yesterday".to_owned())), ..input() }, "E_INVALID_TIMESTAMP"),
        ("before 1970", RecordInput { timestamp: Some(TimestampInput::EpochMillis(-1000.0)), ..input() }, "E_INVALID_TIMESTAMP"),
        ("before 1970, ISO", RecordInput { timestamp: Some(TimestampInput::Iso("1969-12-31T23:59:59Z".to_owned())), ..input() }, "E_INVALID_TIMESTAMP"),
        ("NaN millis", RecordInput { timestamp: Some(TimestampInput::EpochMillis(f64::NAN)), ..input() }, "E_INVALID_TIMESTAMP"),
        ("empty customer key", RecordInput { customer_key: Override::Set(String::new()), ..input() }, "E_INVALID_CUSTOMER_KEY"),
        ("context not an object", RecordInput { context: Override::Set(Value::from("prod")), ..input() }, "E_INVALID_CONTEXT"),
        (
            "record too large",
            RecordInput { payload: Value::object([("blob", Value::String("x".repeat(5000)))]), ..input() },
            "E_RECORD_TOO_LARGE",
        ),
    ];
    for (name, case, expected) in cases {
        assert_eq!(code(build(case)), expected, "{name}");
    }
    assert_eq!(code(build(input())), "ok");
    assert_eq!(code(build(RecordInput { response_id: Some("x".repeat(255)), ..input() })), "ok");
}

#[test]
fn messages_name_the_field() {
    let err = build(RecordInput { timestamp: Some(TimestampInput::Iso("2025-01-15T10:30:00".to_owned())), ..input() });
    let message = err.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.starts_with("timestamp: "), "{message}");
    assert!(message.contains("Z"), "{message}");
}

#[test]
fn call_values_override_tracker_defaults_and_null_clears_them() {
    let defaults = RecordDefaults {
        customer_key: Some("acme".to_owned()),
        context: Some(Value::object([("env", Value::from("prod"))])),
        anonymize_fields: Vec::new(),
    };
    let inherit = build_record(input(), &defaults, ctx(&[])).map(|r| r.json).unwrap_or_default();
    assert!(inherit.ends_with(r#","customer_key":"acme","context":{"env":"prod"}}"#), "{inherit}");

    let set = RecordInput { customer_key: Override::Set("beta".to_owned()), context: Override::Clear, ..input() };
    let set = build_record(set, &defaults, ctx(&[])).map(|r| r.json).unwrap_or_default();
    assert!(set.ends_with(r#","customer_key":"beta"}"#), "{set}");
}

#[test]
fn tracker_and_call_fields_are_redacted_before_encoding() {
    let defaults = RecordDefaults { anonymize_fields: vec!["prompt".to_owned()], ..RecordDefaults::default() };
    let payload = Value::object([
        ("prompt", Value::from("secret")),
        ("user", Value::object([("email", Value::from("a@b.c")), ("age", Value::Number(30.0))])),
    ]);
    let fields = vec!["email".to_owned()];
    let json = build_record(RecordInput { payload, ..input() }, &defaults, ctx(&fields)).map(|r| r.json).unwrap_or_default();
    assert!(json.contains(&format!(r#""payload":{{"prompt":"{REDACTED}","user":{{"email":"{REDACTED}","age":30}}}}"#)), "{json}");
    assert!(!json.contains("secret") && !json.contains("a@b.c"));
}

struct Throws;
impl Anonymizer for Throws {
    fn anonymize(&mut self, _field: &str, _value: &Value) -> Option<Value> {
        None
    }
}

#[test]
fn a_failing_anonymizer_fails_closed() {
    let fields = vec!["prompt".to_owned()];
    let mut throws = Throws;
    let mut c = ctx(&fields);
    c.anonymizer = Some(&mut throws);
    let json = build_record(input(), &RecordDefaults::default(), c).map(|r| r.json).unwrap_or_default();
    assert!(json.contains(&format!(r#""prompt":"{REDACTED}""#)) && !json.contains("hello"), "{json}");
}
