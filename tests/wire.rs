//! The wire test: the request bodies printed in shared/wire-contract.md come out byte for byte when the
//! same inputs are tracked with the id and the clock fixed.
#![cfg(not(target_arch = "wasm32"))]

use aicostmanager_edge::core::batch::encode_body;
use aicostmanager_edge::core::record::{build_record, BuildContext, Override, RecordDefaults, RecordInput, TimestampInput};
use aicostmanager_edge::core::value::Value;

fn usage_gpt4o_mini() -> Value {
    Value::object([
        ("prompt_tokens", Value::Number(19.0)),
        ("completion_tokens", Value::Number(10.0)),
        ("total_tokens", Value::Number(29.0)),
        ("prompt_tokens_details", Value::Null),
    ])
}

fn ctx(now_ms: f64) -> BuildContext<'static> {
    BuildContext { now_ms, entropy: [0; 16], max_record_bytes: 1 << 20, call_fields: &[], anonymizer: None }
}

/// wire-contract.md §1: the literal body of
/// `track("openai::gpt-4o-mini", {...}, customer_key="cust-1", context={"env":"prod"})`.
#[test]
fn the_documented_track_body_is_reproduced_byte_for_byte() {
    let input = RecordInput {
        service_key: "openai::gpt-4o-mini".to_owned(),
        payload: usage_gpt4o_mini(),
        response_id: Some("1709671d3c87426db1b8bbd55753c022".to_owned()),
        // The SDK's clock had microseconds; an ISO string carries them exactly.
        timestamp: Some(TimestampInput::Iso("2026-11-22T01:27:56.161856+00:00".to_owned())),
        customer_key: Override::Set("cust-1".to_owned()),
        context: Override::Set(Value::object([("env", Value::from("prod"))])),
    };
    let record = build_record(input, &RecordDefaults::default(), ctx(0.0));
    let body = record.map(|r| encode_body(&[r]));
    let expected = r#"{"tracked":[{"service_key":"openai::gpt-4o-mini","response_id":"1709671d3c87426db1b8bbd55753c022","timestamp":"1795310876.161856","payload":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":null},"customer_key":"cust-1","context":{"env":"prod"}}]}"#;
    assert_eq!(body.as_deref(), Ok(expected));
}

/// wire-contract.md §1: `timestamp="2025-01-15T10:30:00Z"` goes out as `"1736937000.0"`; absent customer key and
/// context are omitted; a missing id becomes 32 lowercase hex characters made from the entropy given.
#[test]
fn iso_timestamps_omitted_fields_and_generated_ids_follow_the_sdk() {
    let input = RecordInput {
        service_key: "anthropic::claude-3-haiku".to_owned(),
        payload: Value::object([("input_tokens", Value::Number(5.0))]),
        response_id: None,
        timestamp: Some(TimestampInput::Iso("2025-01-15T10:30:00Z".to_owned())),
        customer_key: Override::Inherit,
        context: Override::Inherit,
    };
    let mut c = ctx(0.0);
    c.entropy = [0xab; 16];
    let record = build_record(input, &RecordDefaults::default(), c);
    let expected = r#"{"service_key":"anthropic::claude-3-haiku","response_id":"abababababab4bababababababababab","timestamp":"1736937000.0","payload":{"input_tokens":5}}"#;
    assert_eq!(record.as_ref().map(|r| r.json.as_str()), Ok(expected));
    assert_eq!(record.map(|r| r.response_id.len()), Ok(32));
}

/// The clock supplies the time when none is given (epoch ms in, SDK seconds out).
#[test]
fn the_clock_is_an_argument() {
    let input = RecordInput {
        service_key: "openai::gpt-4o".to_owned(),
        payload: Value::object([("total_tokens", Value::Number(1.0))]),
        response_id: Some("r1".to_owned()),
        timestamp: None,
        customer_key: Override::Inherit,
        context: Override::Inherit,
    };
    let record = build_record(input, &RecordDefaults::default(), ctx(1_736_937_000_250.0));
    assert!(record.map(|r| r.json.contains(r#""timestamp":"1736937000.25""#)).unwrap_or(false));
}
