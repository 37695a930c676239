//! JavaScript values as the core sees them ([`HostValue`]), and core values back to JavaScript.

use crate::core::import::{HostKind, HostValue};
use crate::core::json::write_value;
use crate::core::value::Value;
use js_sys::{Array, JsString, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

impl HostValue for JsValue {
    /// Checks the common kinds first (numbers, strings, plain objects) to cross into JavaScript as little as
    /// possible per field.
    fn classify(&self) -> HostKind<Self> {
        if let Some(n) = self.as_f64() {
            return HostKind::Number(n);
        }
        if self.is_string() {
            return match js_string(self) {
                Some(s) => HostKind::String(s),
                None => HostKind::OtherObject { name: BROKEN_STRING.to_owned() },
            };
        }
        if self.is_object() {
            return classify_object(self);
        }
        if self.is_undefined() {
            return HostKind::Undefined;
        }
        if self.is_null() {
            return HostKind::Null;
        }
        if let Some(b) = self.as_bool() {
            return HostKind::Bool(b);
        }
        if self.is_bigint() {
            return HostKind::BigInt;
        }
        if self.is_symbol() {
            return HostKind::Symbol;
        }
        if self.is_function() {
            return HostKind::Function;
        }
        HostKind::OtherObject { name: "value of unknown type".to_owned() }
    }

    fn same_identity(&self, other: &Self) -> bool {
        Object::is(self, other)
    }
}

fn classify_object(value: &JsValue) -> HostKind<JsValue> {
    if Array::is_array(value) {
        let array: &Array = value.unchecked_ref();
        return HostKind::Array(array.iter().collect());
    }
    let object: &Object = value.unchecked_ref();
    if let Some(proto) = non_plain_prototype(object) {
        return HostKind::OtherObject { name: constructor_name(&proto) };
    }
    let keys = Object::keys(object);
    let mut entries = Vec::with_capacity(keys.length() as usize);
    for key in keys.iter() {
        let Some(name) = key.as_string() else { continue };
        match Reflect::get(object, &key) {
            Ok(child) => entries.push((name, child)),
            Err(_) => return HostKind::OtherObject { name: format!("object with a throwing getter ({})", crate::core::json::quoted(&name)) },
        }
    }
    HostKind::PlainObject(entries)
}

fn constructor_name(proto: &Object) -> String {
    Reflect::get(proto, &JsValue::from_str("constructor"))
        .ok()
        .and_then(|c| Reflect::get(&c, &JsValue::from_str("name")).ok())
        .and_then(|n| n.as_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "non-plain object".to_owned())
}

/// A core value as a fresh JavaScript value (one `JSON.parse` call instead of one call per field).
pub fn value_to_js(value: &Value) -> JsValue {
    let mut text = String::new();
    write_value(value, &mut text);
    js_sys::JSON::parse(&text).unwrap_or(JsValue::NULL)
}

const BROKEN_STRING: &str = "string with an unpaired surrogate (invalid UTF-16)";

/// The string inside `value`, or `None` when it is not a string or holds an unpaired surrogate: such a string
/// has no UTF-8 form, and converting it would silently replace the surrogate with U+FFFD.
pub fn js_string(value: &JsValue) -> Option<String> {
    let text = value.as_string()?;
    // Only a lossy conversion produces U+FFFD from a string that did not contain it; check validity then.
    // (A byte scan: `str::contains` would pull a substring searcher and its panic paths into the wasm.)
    let has_replacement = text.as_bytes().windows(3).any(|w| w == "\u{FFFD}".as_bytes());
    if has_replacement && !value.unchecked_ref::<JsString>().is_valid_utf16() {
        return None;
    }
    Some(text)
}

/// Reads `object[name]`; the error is what a throwing getter threw.
pub fn get(object: &JsValue, name: &str) -> Result<JsValue, JsValue> {
    Reflect::get(object, &JsValue::from_str(name))
}

/// True for `{}`-like objects (not arrays, functions, class instances, `Date`, `Map`...).
pub fn is_plain_object(value: &JsValue) -> bool {
    value.is_object() && !Array::is_array(value) && non_plain_prototype(value.unchecked_ref()).is_none()
}

/// The object's prototype when the object is not plain; `None` for objects made by `{}` or
/// `Object.create(null)`, in this realm or another (`Object.prototype` of any realm has a null prototype).
fn non_plain_prototype(object: &Object) -> Option<Object> {
    let proto = Object::get_prototype_of(object);
    if proto.is_null() || Object::get_prototype_of(&proto).is_null() {
        None
    } else {
        Some(proto)
    }
}
