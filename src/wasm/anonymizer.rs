//! A user's anonymizer function `(value, field) => value` as the core's [`Anonymizer`].

use crate::core::anonymize::Anonymizer;
use crate::core::import::import_value;
use crate::core::value::Value;
use crate::wasm::js_value::value_to_js;
use js_sys::Function;
use wasm_bindgen::JsValue;

/// Calls the user's function for each matched field. A throw, or a result JSON cannot carry (a Promise,
/// `undefined`, a BigInt...), that cannot be read (a revoked Proxy, a throwing getter) or that is larger than
/// `max_bytes` (`maxRecordBytes`) counts as a failure: the core then redacts the value with the default (fail
/// closed).
pub struct JsAnonymizer<'a> {
    pub function: &'a Function,
    pub max_bytes: usize,
}

impl Anonymizer for JsAnonymizer<'_> {
    fn anonymize(&mut self, field: &str, value: &Value) -> Option<Value> {
        let result = self.function.call2(&JsValue::UNDEFINED, &value_to_js(value), &JsValue::from_str(field)).ok()?;
        import_value(&result, "anonymizer result", self.max_bytes).ok()
    }
}
