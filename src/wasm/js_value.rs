//! JavaScript values as the core sees them ([`HostValue`]), and core values back to JavaScript.
//!
//! Every read of a user's value here goes through [`crate::wasm::guarded`]: a getter that throws or a revoked
//! `Proxy` becomes a [`HostError`], never an exception unwinding through Rust frames.

use crate::core::import::{HostError, HostKind, HostValue, MAX_SCALAR_UNITS};
use crate::core::json::write_value;
use crate::core::value::Value;
use crate::wasm::errors::describe_thrown;
use crate::wasm::guarded;
use js_sys::{JsString, Object};
use wasm_bindgen::{JsCast, JsValue};

impl HostValue for JsValue {
    /// Checks the common kinds first (numbers, strings, plain objects) to cross into JavaScript as little as
    /// possible per field. A string is measured, not copied.
    fn classify(&self) -> Result<HostKind, HostError> {
        if let Some(n) = self.as_f64() {
            return Ok(HostKind::Number(n));
        }
        if self.is_string() {
            return Ok(HostKind::String { units: units_of(self) });
        }
        if self.is_object() {
            return classify_object(self);
        }
        Ok(if self.is_undefined() {
            HostKind::Undefined
        } else if self.is_null() {
            HostKind::Null
        } else if let Some(b) = self.as_bool() {
            HostKind::Bool(b)
        } else if self.is_bigint() {
            HostKind::BigInt
        } else if self.is_symbol() {
            HostKind::Symbol
        } else if self.is_function() {
            HostKind::Function
        } else {
            HostKind::OtherObject { name: "value of unknown type".to_owned() }
        })
    }

    fn text(&self) -> Result<String, HostError> {
        js_text(self)
    }

    fn item(&self, index: usize) -> Result<JsValue, HostError> {
        let index = u32::try_from(index).map_err(|_| HostError::Threw { reason: "index out of range".to_owned() })?;
        guarded::item(self, index).map_err(threw)
    }

    fn keys(&self) -> Result<(JsValue, usize), HostError> {
        let keys = guarded::own_keys(self).map_err(threw)?;
        // A fresh array Object.keys made: its length is ours to read.
        let len = keys.length() as usize;
        Ok((keys.into(), len))
    }

    fn property(&self, key: &JsValue) -> Result<JsValue, HostError> {
        guarded::get_key(self, key).map_err(threw)
    }

    fn same_identity(&self, other: &Self) -> bool {
        Object::is(self, other)
    }
}

/// A thrown JS value as the core's [`HostError`].
fn threw(thrown: JsValue) -> HostError {
    HostError::Threw { reason: describe_thrown(&thrown) }
}

/// The UTF-16 length of a value known to be a string (no copy).
fn units_of(value: &JsValue) -> usize {
    value.unchecked_ref::<JsString>().length() as usize
}

fn classify_object(value: &JsValue) -> Result<HostKind, HostError> {
    if guarded::is_array(value).map_err(threw)? {
        return Ok(match guarded::length(value).map_err(threw)? {
            Some(len) => HostKind::Array { len: len as usize },
            // Only a Proxy can report such a length.
            None => HostKind::OtherObject { name: "array whose length is not a whole number".to_owned() },
        });
    }
    Ok(match non_plain_prototype(value).map_err(threw)? {
        Some(proto) => HostKind::OtherObject { name: constructor_name(&proto) },
        None => HostKind::PlainObject,
    })
}

/// Longest constructor name copied into a message.
const MAX_NAME_UNITS: usize = 100;

fn constructor_name(proto: &JsValue) -> String {
    guarded::get(proto, "constructor")
        .ok()
        .and_then(|c| guarded::get(&c, "name").ok())
        .filter(|n| n.is_string() && units_of(n) <= MAX_NAME_UNITS)
        .and_then(|n| js_string(&n))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "non-plain object".to_owned())
}

/// A core value as a fresh JavaScript value (one `JSON.parse` call instead of one call per field).
pub fn value_to_js(value: &Value) -> JsValue {
    let mut text = String::new();
    write_value(value, &mut text);
    js_sys::JSON::parse(&text).unwrap_or(JsValue::NULL)
}

/// The text of a string value; `BrokenString` when it holds an unpaired surrogate: such a string has no UTF-8
/// form, and converting it would silently replace the surrogate with U+FFFD.
fn js_text(value: &JsValue) -> Result<String, HostError> {
    let text = value.as_string().ok_or_else(|| HostError::Threw { reason: "not a string".to_owned() })?;
    // Only a lossy conversion produces U+FFFD from a string that did not contain it; check validity then.
    // (A byte scan: `str::contains` would pull a substring searcher and its panic paths into the wasm.)
    let has_replacement = text.as_bytes().windows(3).any(|w| w == "\u{FFFD}".as_bytes());
    if has_replacement && !value.unchecked_ref::<JsString>().is_valid_utf16() {
        return Err(HostError::BrokenString { lossy: text });
    }
    Ok(text)
}

/// The string inside `value`, or `None` when it is not a string or holds an unpaired surrogate.
pub fn js_string(value: &JsValue) -> Option<String> {
    js_text(value).ok()
}

/// The first `max_units` UTF-16 units of the string `value`, cut in JavaScript before anything is copied into
/// wasm memory (a thrown or rejected string may be 50 MB) and never inside a surrogate pair; the string itself
/// when it is no longer. `value` must be a string (check `is_string()` first: `length` of anything else throws).
pub fn leading_units(value: &JsValue, max_units: u32) -> JsString {
    let text: &JsString = value.unchecked_ref();
    if text.length() <= max_units {
        return text.clone();
    }
    let before_cut = max_units.checked_sub(1).map_or(0.0, |i| text.char_code_at(i));
    let cut = if (0xD800 as f64..0xDC00 as f64).contains(&before_cut) { max_units - 1 } else { max_units };
    text.slice(0, cut)
}

/// [`js_string`] for the short strings a user passes besides usage and context (service key, response id,
/// customer key, timestamp, option values): also `None` for a string longer than [`MAX_SCALAR_UNITS`], which
/// is then not copied.
pub fn short_string(value: &JsValue) -> Option<String> {
    if !value.is_string() || units_of(value) > MAX_SCALAR_UNITS {
        return None;
    }
    js_text(value).ok()
}

/// True for `{}`-like objects (not arrays, functions, class instances, `Date`, `Map`...); `Err` with what was
/// thrown when telling threw (a revoked Proxy).
pub fn is_plain_object(value: &JsValue) -> Result<bool, JsValue> {
    if !value.is_object() || guarded::is_array(value)? {
        return Ok(false);
    }
    Ok(non_plain_prototype(value)?.is_none())
}

/// The object's prototype when the object is not plain; `None` for objects made by `{}` or
/// `Object.create(null)`, in this realm or another (`Object.prototype` of any realm has a null prototype).
fn non_plain_prototype(object: &JsValue) -> Result<Option<JsValue>, JsValue> {
    let proto = guarded::prototype_of(object)?;
    if proto.is_null() || guarded::prototype_of(&proto)?.is_null() {
        Ok(None)
    } else {
        Ok(Some(proto))
    }
}

/// A short description of a JS value's type for messages ("a string", "an array", "a Map", ...). Reads
/// nothing inside containers; a value that cannot be read is described as such.
pub fn type_of(value: &JsValue) -> String {
    if value.is_string() {
        let units = units_of(value);
        return if units > MAX_SCALAR_UNITS {
            format!("a string of {units} characters (longer than {MAX_SCALAR_UNITS})")
        } else if short_string(value).is_none() {
            "a string with an unpaired surrogate (invalid UTF-16)".to_owned()
        } else {
            "a string".to_owned()
        };
    }
    match value.classify() {
        Ok(kind) => crate::core::import::describe(&kind),
        Err(_) => "an object that cannot be read (inspecting it threw)".to_owned(),
    }
}
