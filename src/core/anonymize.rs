//! Redacting named fields of a usage payload, at any depth, before anything is stored or sent.
//!
//! Field names from the tracker and from the call are combined (a union, as upstream). Wherever an object key
//! equals one of them, at any depth and inside arrays too, the whole value under that key is handed to the
//! anonymizer and replaced by what it returns; other values are searched further.
//!
//! The default anonymizer ([`redact_default`]) turns every string into `"[REDACTED]"`, recursively through
//! arrays and objects (keys kept), and leaves numbers, booleans and null alone.
//!
//! Unlike the Python SDK, a failing user anonymizer **fails closed**: the value is redacted by the default
//! instead of being sent raw (wire-contract.md W-R3).

use crate::core::value::Value;

/// What replaces every redacted string.
pub const REDACTED: &str = "[REDACTED]";

/// A user-supplied anonymizer, as the bindings wrap it (a JS function `(value, field) => value`).
pub trait Anonymizer {
    /// Returns the replacement for `value` found under `field`, or `None` when the anonymizer failed (threw,
    /// or returned something JSON cannot carry); the caller then falls back to [`redact_default`].
    fn anonymize(&mut self, field: &str, value: &Value) -> Option<Value>;
}

/// The default anonymizer: strings become `"[REDACTED]"` at any depth; other scalars are kept.
pub fn redact_default(value: &Value) -> Value {
    match value {
        Value::String(_) => Value::String(REDACTED.to_owned()),
        Value::Array(items) => Value::Array(items.iter().map(redact_default).collect()),
        Value::Object(entries) => {
            Value::Object(entries.iter().map(|(k, v)| (k.clone(), redact_default(v))).collect())
        }
        scalar => scalar.clone(),
    }
}

/// The union of two field lists, without duplicates, in first-seen order.
pub fn union_fields(tracker: &[String], call: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(tracker.len() + call.len());
    for field in tracker.iter().chain(call) {
        if !out.contains(field) {
            out.push(field.clone());
        }
    }
    out
}

/// Redacts every value under a key in `fields`, at any depth of `payload`.
///
/// Call it once per record, before the record is encoded. With no fields it returns the payload untouched.
/// With `anonymizer` set, it decides each replacement; when it fails the default redaction applies.
pub fn anonymize_payload(payload: Value, fields: &[String], anonymizer: Option<&mut dyn Anonymizer>) -> Value {
    if fields.is_empty() {
        return payload;
    }
    let mut anonymizer = anonymizer;
    walk(payload, fields, &mut anonymizer)
}

fn walk(value: Value, fields: &[String], anonymizer: &mut Option<&mut dyn Anonymizer>) -> Value {
    match value {
        Value::Object(entries) => Value::Object(
            entries
                .into_iter()
                .map(|(key, child)| {
                    let replaced = if fields.contains(&key) {
                        replace(&key, &child, anonymizer)
                    } else {
                        walk(child, fields, anonymizer)
                    };
                    (key, replaced)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(|item| walk(item, fields, anonymizer)).collect()),
        scalar => scalar,
    }
}

fn replace(field: &str, value: &Value, anonymizer: &mut Option<&mut dyn Anonymizer>) -> Value {
    match anonymizer {
        Some(user) => user.anonymize(field, value).unwrap_or_else(|| redact_default(value)),
        None => redact_default(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    fn s(text: &str) -> Value {
        Value::from(text)
    }

    /// The upstream example (aicostmanager 0.3.2, tests/test_tracker.py:100-118).
    #[test]
    fn redacts_named_fields_at_any_depth_like_upstream() {
        let payload = Value::object([
            ("input_tokens", Value::Number(1.0)),
            ("keywords", Value::Array(vec![s("Mary"), s("O'Boyle")])),
            ("metadata", Value::object([("keywords", Value::Array(vec![s("Nested")])), ("other", s("value"))])),
        ]);
        let expected = Value::object([
            ("input_tokens", Value::Number(1.0)),
            ("keywords", Value::Array(vec![s(REDACTED), s(REDACTED)])),
            ("metadata", Value::object([("keywords", Value::Array(vec![s(REDACTED)])), ("other", s("value"))])),
        ]);
        assert_eq!(anonymize_payload(payload, &fields(&["keywords"]), None), expected);
    }

    #[test]
    fn default_keeps_numbers_booleans_null_and_keys() {
        let v = Value::object([
            ("n", Value::Number(3.0)),
            ("b", Value::Bool(true)),
            ("z", Value::Null),
            ("inner", Value::object([("name", s("x"))])),
        ]);
        let expected = Value::object([
            ("n", Value::Number(3.0)),
            ("b", Value::Bool(true)),
            ("z", Value::Null),
            ("inner", Value::object([("name", s(REDACTED))])),
        ]);
        assert_eq!(redact_default(&v), expected);
    }

    #[test]
    fn matches_inside_arrays_of_objects() {
        let payload = Value::object([(
            "messages",
            Value::Array(vec![Value::object([("content", s("secret")), ("tokens", Value::Number(4.0))])]),
        )]);
        let out = anonymize_payload(payload, &fields(&["content"]), None);
        let first = out.get("messages").and_then(|m| m.as_array()).and_then(|a| a.first()).cloned();
        assert_eq!(first.as_ref().and_then(|m| m.get("content")), Some(&s(REDACTED)));
        assert_eq!(first.as_ref().and_then(|m| m.get("tokens")), Some(&Value::Number(4.0)));
    }

    struct Upper {
        seen: Vec<String>,
        fail_on: Option<&'static str>,
    }

    impl Anonymizer for Upper {
        fn anonymize(&mut self, field: &str, value: &Value) -> Option<Value> {
            self.seen.push(field.to_owned());
            if self.fail_on == Some(field) {
                return None;
            }
            value.as_str().map(|t| Value::String(t.to_uppercase()))
        }
    }

    #[test]
    fn user_anonymizer_decides_and_a_failure_falls_back_to_redaction() {
        let payload = Value::object([("a", s("hello")), ("b", s("world")), ("c", s("keep"))]);
        let mut user = Upper { seen: Vec::new(), fail_on: Some("b") };
        let out = anonymize_payload(payload, &fields(&["a", "b"]), Some(&mut user));
        assert_eq!(out, Value::object([("a", s("HELLO")), ("b", s(REDACTED)), ("c", s("keep"))]));
        assert_eq!(user.seen, vec!["a".to_owned(), "b".to_owned()]);
    }

    #[test]
    fn union_keeps_first_seen_order_without_duplicates() {
        assert_eq!(union_fields(&fields(&["a", "b"]), &fields(&["b", "c", "a"])), fields(&["a", "b", "c"]));
    }

    #[test]
    fn no_fields_means_untouched() {
        let payload = Value::object([("email", s("x@y.z"))]);
        assert_eq!(anonymize_payload(payload.clone(), &[], None), payload);
    }
}
