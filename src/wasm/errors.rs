//! Turning core errors into the JavaScript errors users catch: `Error` with `name` "AicmError" and a stable `code`.

use crate::core::error::TrackError;
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

/// A short text for any thrown JS value (an `Error`'s message, a string, or its `String()` form).
pub fn describe_thrown(value: &JsValue) -> String {
    if let Some(text) = value.as_string() {
        return text;
    }
    if let Some(message) = Reflect::get(value, &JsValue::from_str("message")).ok().and_then(|m| m.as_string()) {
        return message;
    }
    js_sys::JSON::stringify(value).ok().and_then(|s| s.as_string()).unwrap_or_else(|| "unknown error".to_owned())
}
