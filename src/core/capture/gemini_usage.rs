//! Gemini's `usageMetadata` as upstream records it (shared/llm-usage.md P2, F6): top-level keys in camelCase
//! (a snake_case key such as `prompt_token_count` is renamed), keys whose value is `null` dropped,
//! `toolUsePromptTokensDetails` and `trafficType` dropped, and each modality item of the detail arrays written
//! `{"modality", "token_count"}` (upstream's snake case there), whatever case it came in.
//!
//! Call it on the `usageMetadata` object of a body or stream chunk (REST JSON or an `@google/genai` object
//! read as JSON). Anything that is not an object comes back unchanged: the extractor decides whether that is
//! an error.

use crate::core::value::Value;

/// Keys upstream drops from the payload.
const DROPPED: [&str; 2] = ["toolUsePromptTokensDetails", "trafficType"];

/// The normalized copy of `usage_metadata`.
pub fn normalize(usage_metadata: &Value) -> Value {
    let Value::Object(entries) = usage_metadata else {
        return usage_metadata.clone();
    };
    let mut out: Vec<(String, Value)> = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let key = camel_case(key);
        if matches!(value, Value::Null) || DROPPED.contains(&key.as_str()) {
            continue;
        }
        let value = match value {
            Value::Array(items) if key.ends_with("TokensDetails") => Value::Array(items.iter().map(modality_item).collect()),
            other => other.clone(),
        };
        // A key given in both spellings keeps the first, as a JSON object keeps one value per key.
        if !out.iter().any(|(k, _)| *k == key) {
            out.push((key, value));
        }
    }
    Value::Object(out)
}

/// `{modality, tokenCount}` (or `token_count`) → `{"modality", "token_count"}`; other keys kept, nulls dropped.
fn modality_item(item: &Value) -> Value {
    let Value::Object(entries) = item else {
        return item.clone();
    };
    let mut out: Vec<(String, Value)> = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        if matches!(value, Value::Null) {
            continue;
        }
        let key = if key == "tokenCount" { "token_count".to_string() } else { key.clone() };
        if !out.iter().any(|(k, _)| *k == key) {
            out.push((key, value.clone()));
        }
    }
    Value::Object(out)
}

/// `prompt_token_count` → `promptTokenCount`; a key with no `_` is returned as it is.
fn camel_case(key: &str) -> String {
    if !key.contains('_') {
        return key.to_string();
    }
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for ch in key.chars() {
        if ch == '_' {
            upper = !out.is_empty();
        } else if upper {
            out.extend(ch.to_uppercase());
            upper = false;
        } else {
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::json;

    fn norm(text: &str) -> String {
        json::to_string(&normalize(&json::parse(text).unwrap()))
    }

    #[test]
    fn example_4_of_llm_usage_gives_upstreams_record() {
        let body = r#"{"promptTokenCount":8,"candidatesTokenCount":12,"totalTokenCount":45,"cachedContentTokenCount":4,"thoughtsTokenCount":25,"promptTokensDetails":[{"modality":"TEXT","tokenCount":8}],"cacheTokensDetails":[{"modality":"TEXT","tokenCount":4}]}"#;
        assert_eq!(
            norm(body),
            r#"{"promptTokenCount":8,"candidatesTokenCount":12,"totalTokenCount":45,"cachedContentTokenCount":4,"thoughtsTokenCount":25,"promptTokensDetails":[{"modality":"TEXT","token_count":8}],"cacheTokensDetails":[{"modality":"TEXT","token_count":4}]}"#
        );
    }

    #[test]
    fn nulls_dropped_keys_and_snake_case_renamed() {
        assert_eq!(
            norm(r#"{"prompt_token_count":3,"candidatesTokenCount":null,"trafficType":"ON_DEMAND","toolUsePromptTokensDetails":[{"modality":"TEXT","tokenCount":1}],"candidates_tokens_details":[{"modality":"TEXT","token_count":2,"x":null}]}"#),
            r#"{"promptTokenCount":3,"candidatesTokensDetails":[{"modality":"TEXT","token_count":2}]}"#
        );
    }

    #[test]
    fn a_non_object_comes_back_unchanged() {
        assert_eq!(norm("[1]"), "[1]");
        assert_eq!(norm("null"), "null");
    }

    #[test]
    fn both_spellings_of_one_key_keep_the_first() {
        assert_eq!(norm(r#"{"promptTokenCount":1,"prompt_token_count":2}"#), r#"{"promptTokenCount":1}"#);
    }
}
