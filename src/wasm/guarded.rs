//! Every operation on a JavaScript value the user handed us that can throw, as a call that returns `Err`.
//!
//! A JS exception thrown inside an import that wasm-bindgen did not declare `catch` unwinds straight through
//! the Rust frames above it: their destructors never run, `RefCell` borrows stay held, the shadow stack
//! pointer is left where it was, and after a few hundred such calls every tracker in the isolate traps. The
//! user's values can throw almost anywhere: a revoked `Proxy` (an Immer draft after `produce`) throws on
//! `Array.isArray`, `Object.keys`, `Object.getPrototypeOf` and any property read; a getter throws whatever
//! it likes; a Proxy's `get` trap can throw on `length` or on an index.
//!
//! So the rule of `src/wasm/` (checked by `tests/source_rules.rs`): a value that came from the user is read
//! only through this module. js-sys's own `Array::is_array`, `Object::keys`, `Object::get_prototype_of`,
//! `Array::length`/`get`/`iter` and `Promise::resolve` are not declared `catch` and must not be called on it.
//! Values we made ourselves (a fresh `Object`, an `Array` we filled) may use js-sys freely.

use js_sys::{Array, Date, Promise};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_namespace = Array, js_name = isArray)]
    fn array_is_array(value: &JsValue) -> Result<bool, JsValue>;
    #[wasm_bindgen(catch, js_namespace = Object, js_name = getPrototypeOf)]
    fn object_get_prototype_of(value: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_namespace = Object, js_name = keys)]
    fn object_keys(value: &JsValue) -> Result<Array, JsValue>;
    #[wasm_bindgen(catch, js_namespace = Reflect, js_name = get)]
    fn reflect_get(target: &JsValue, key: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_namespace = Reflect, js_name = get)]
    fn reflect_get_index(target: &JsValue, index: u32) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_namespace = Promise, js_name = all)]
    fn promise_all(values: &Array) -> Result<Promise, JsValue>;
    #[wasm_bindgen(catch, js_namespace = ["Date", "prototype", "getTime"], js_name = call)]
    fn date_get_time(date: &Date) -> Result<f64, JsValue>;
}

/// `date.getTime()`; `Err` for an object that passed `instanceof Date` without being one (a Proxy of a
/// `Date`, an object whose prototype was set to `Date.prototype`): `getTime` throws on those.
pub fn time_of(date: &Date) -> Result<f64, JsValue> {
    date_get_time(date)
}

/// `Array.isArray(value)`; `Err` for a revoked Proxy.
pub fn is_array(value: &JsValue) -> Result<bool, JsValue> {
    array_is_array(value)
}

/// `Object.getPrototypeOf(value)` (`value` must be an object); `Err` when a Proxy trap throws or is revoked.
pub fn prototype_of(value: &JsValue) -> Result<JsValue, JsValue> {
    object_get_prototype_of(value)
}

/// `Object.keys(value)`: own enumerable string keys, in order. The result is an array we own (safe to read
/// with js-sys, though its items are still the user's strings).
pub fn own_keys(value: &JsValue) -> Result<Array, JsValue> {
    object_keys(value)
}

/// `value[name]`; `Err` is what a getter or Proxy trap threw (also for a non-object `value` such as `null`).
pub fn get(value: &JsValue, name: &str) -> Result<JsValue, JsValue> {
    reflect_get(value, &JsValue::from_str(name))
}

/// `value[key]` for a key we already hold as a JS value (one of [`own_keys`]'s items): no string copy.
pub fn get_key(value: &JsValue, key: &JsValue) -> Result<JsValue, JsValue> {
    reflect_get(value, key)
}

/// `value[index]` (an array element, a hole reads as `undefined`).
pub fn item(value: &JsValue, index: u32) -> Result<JsValue, JsValue> {
    reflect_get_index(value, index)
}

/// `value.length` as a whole number of elements; `Ok(None)` when it is not one (not a number, negative,
/// fractional, above `u32::MAX`); `Err` when reading it threw.
pub fn length(value: &JsValue) -> Result<Option<u32>, JsValue> {
    let n = reflect_get(value, &JsValue::from_str("length"))?.as_f64();
    Ok(n.filter(|n| n.fract() == 0.0 && *n >= 0.0 && *n <= u32::MAX as f64).map(|n| n as u32))
}

/// A fresh promise of whatever a user's function returned (a value, a promise, a thenable, a promise whose
/// `then` throws), never an exception: it resolves to a one-element array we own (read it with [`item`]) or
/// rejects with what the value rejected with. For racing a user's answer against a timer.
///
/// `Promise.all([value])` is the one standard operation that adopts any thenable with every step guarded: a
/// throwing `then` getter or `constructor` getter becomes a rejection of the fresh promise it returns, where
/// `Promise.resolve(value)` would throw synchronously, or hand back the user's own promise unchanged.
pub fn adopt(value: &JsValue) -> Result<Promise, JsValue> {
    promise_all(&Array::of1(value))
}
