//! Turning core errors into the JavaScript errors users catch: `Error` with `name` "AicmError" and a stable `code`.

use crate::core::error::TrackError;
use crate::wasm::js_value::leading_units;
use js_sys::{Error, Reflect};
use wasm_bindgen::JsValue;

/// An `Error` with `name = "AicmError"` and `code` set, ready to throw.
pub fn coded_error(code: &str, message: &str) -> JsValue {
    let error = Error::new(message);
    error.set_name("AicmError");
    // Setting a property on a fresh Error cannot fail; if it ever did, the error still carries its message.
    let _ = Reflect::set(&error, &JsValue::from_str("code"), &JsValue::from_str(code));
    error.into()
}

/// The JS error for a [`TrackError`]; the message names the offending field.
pub fn track_error(error: &TrackError) -> JsValue {
    coded_error(error.code(), &error.to_string())
}

/// Longest description of a thrown value copied into a message, in UTF-16 units.
const MAX_THROWN_UNITS: u32 = 500;

/// A short text for any thrown JS value (an `Error`'s message, a string, or its `JSON.stringify` form), cut
/// to [`MAX_THROWN_UNITS`]. Never throws: the thrown value may be a revoked Proxy or have throwing getters.
pub fn describe_thrown(value: &JsValue) -> String {
    if value.is_string() {
        return short(value);
    }
    if let Some(message) = Reflect::get(value, &JsValue::from_str("message")).ok().filter(|m| m.is_string()) {
        return short(&message);
    }
    match js_sys::JSON::stringify(value) {
        Ok(text) if text.is_string() => short(&text),
        _ => "unknown error".to_owned(),
    }
}

/// A string value's text, at most [`MAX_THROWN_UNITS`] units of it (the copy is cut in JavaScript first).
fn short(value: &JsValue) -> String {
    String::from(leading_units(value, MAX_THROWN_UNITS))
}
