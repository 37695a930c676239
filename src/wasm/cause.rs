//! What a store or `fetch` threw or rejected with, in words, read only through [`crate::wasm::guarded`]
//! (the value may be a revoked Proxy or an object whose getters throw).
//!
//! Node's `fetch` rejects with `TypeError: fetch failed` and puts the reason in `cause`
//! (`Error: connect ECONNREFUSED 127.0.0.1:9`, `code: "ECONNREFUSED"`): the text follows `cause` so that a
//! message says the reason, not only "fetch failed".

use crate::core::decimal::display_f64;
use crate::wasm::guarded::get;
use crate::wasm::js_value::{js_string, leading_units};
use wasm_bindgen::JsValue;

/// Most characters of a description (a store may reject with a huge string).
const MAX_CHARS: usize = 500;

/// Most UTF-16 units of one string read into wasm memory: enough for `MAX_CHARS` characters and one more (so
/// that the cut below still sees a longer text), whatever the string's length.
const MAX_READ_UNITS: u32 = 2 * MAX_CHARS as u32 + 2;

/// How deep `cause` chains are followed.
const MAX_CAUSES: usize = 3;

/// `"TypeError: fetch failed (cause: Error: connect ECONNREFUSED 127.0.0.1:9)"`, `"42"`, `"undefined"`,
/// `"{\"code\":\"EIO\"}"`: never empty, never throws.
pub fn describe(value: &JsValue) -> String {
    let mut text = describe_one(value);
    let mut current = value.clone();
    for _ in 0..MAX_CAUSES {
        if !current.is_object() {
            break;
        }
        let cause = get(&current, "cause").unwrap_or(JsValue::UNDEFINED);
        if cause.is_undefined() || cause.is_null() {
            break;
        }
        text.push_str(" (cause: ");
        text.push_str(&describe_one(&cause));
        text.push(')');
        current = cause;
    }
    match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or_default()),
        None => text,
    }
}

fn describe_one(value: &JsValue) -> String {
    if value.is_string() {
        return text(value).unwrap_or_else(|| "a string with an unpaired surrogate".to_owned());
    }
    if let Some(n) = value.as_f64() {
        return display_f64(n);
    }
    if let Some(b) = value.as_bool() {
        return b.to_string();
    }
    if value.is_undefined() {
        return "undefined".to_owned();
    }
    if value.is_null() {
        return "null".to_owned();
    }
    if value.is_bigint() {
        return "a bigint".to_owned();
    }
    if value.is_symbol() {
        return "a symbol".to_owned();
    }
    let text_of = |name: &str| get(value, name).ok().and_then(|v| text(&v)).filter(|s| !s.is_empty());
    let message = text_of("message");
    let name = text_of("name");
    let code = text_of("code");
    let mut text = match (name, message) {
        (Some(name), Some(message)) => format!("{name}: {message}"),
        (None, Some(message)) => message,
        (Some(name), None) => name,
        (None, None) => match js_sys::JSON::stringify(value).ok().and_then(|s| text(&s)) {
            Some(json) if json != "{}" => json,
            _ => "an object without a message".to_owned(),
        },
    };
    if let Some(code) = code {
        if !text.contains(code.as_str()) {
            text = format!("{text} [{code}]");
        }
    }
    text
}

/// A string's text, at most [`MAX_READ_UNITS`] of it copied; `None` for a non-string or an unpaired
/// surrogate.
fn text(value: &JsValue) -> Option<String> {
    if !value.is_string() {
        return None;
    }
    js_string(&leading_units(value, MAX_READ_UNITS).into())
}
