//! The user's store object (`{ put, list, delete, durability?, consistent?, lock? }`) as Rust calls.
//!
//! Every call turns whatever the store does — a rejected promise, a synchronous throw, a missing method, a
//! malformed `list` result — into an `Err(String)` the outbox can act on; nothing here panics or throws.

use crate::wasm::errors::describe_thrown;
use crate::wasm::js_value::{get, js_string};
use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// A store given in the `store` option.
#[derive(Clone)]
pub struct Store {
    object: JsValue,
}

/// The methods a store must have.
pub const REQUIRED_METHODS: [&str; 3] = ["put", "list", "delete"];

impl Store {
    /// Wraps `object` when it has the required methods; `Err` names the first one missing.
    pub fn new(object: JsValue) -> Result<Store, String> {
        if !object.is_object() {
            return Err("must be an object with put, list and delete methods".to_owned());
        }
        for name in REQUIRED_METHODS {
            let method = get(&object, name).map_err(|e| describe_thrown(&e))?;
            if !method.is_function() {
                return Err(format!("has no {name}() method (a store needs put, list and delete)"));
            }
        }
        Ok(Store { object })
    }

    /// `store.durability` when it is a string, else "persistent".
    pub fn durability(&self) -> String {
        get(&self.object, "durability").ok().and_then(|d| js_string(&d)).unwrap_or_else(|| "persistent".to_owned())
    }

    /// `store.consistent === true`: `list` sees every finished write at once, from any tracker.
    pub fn consistent(&self) -> bool {
        get(&self.object, "consistent").ok().and_then(|c| c.as_bool()).unwrap_or(false)
    }

    /// `store.lock` when the store offers one.
    pub fn lock_method(&self) -> Option<Function> {
        get(&self.object, "lock").ok().and_then(|l| l.dyn_into::<Function>().ok())
    }

    /// Calls `store.lock(name, run)` and awaits it.
    pub async fn with_lock(&self, lock: &Function, name: &str, run: &Function) -> Result<JsValue, String> {
        let result = lock.call2(&self.object, &JsValue::from_str(name), run).map_err(|e| describe_thrown(&e))?;
        JsFuture::from(Promise::resolve(&result)).await.map_err(|e| describe_thrown(&e))
    }

    /// `store.put([{ key, value }, ...])`.
    pub async fn put(&self, entries: &[(String, String)]) -> Result<(), String> {
        let array: Array = entries
            .iter()
            .map(|(key, value)| {
                let entry = Object::new();
                let _ = Reflect::set(&entry, &JsValue::from_str("key"), &JsValue::from_str(key));
                let _ = Reflect::set(&entry, &JsValue::from_str("value"), &JsValue::from_str(value));
                JsValue::from(entry)
            })
            .collect();
        self.call("put", &array).await.map(|_| ())
    }

    /// `store.delete([key, ...])`.
    pub async fn delete(&self, keys: &[String]) -> Result<(), String> {
        let array: Array = keys.iter().map(|k| JsValue::from_str(k)).collect();
        self.call("delete", &array).await.map(|_| ())
    }

    /// `store.list(prefix)` → `(key, value)` pairs. Entries that are not `{ key: string, value: string }` are
    /// skipped (counted in the second element) rather than failing the whole listing.
    pub async fn list(&self, prefix: &str) -> Result<(Vec<(String, String)>, usize), String> {
        let listed = self.call("list", &JsValue::from_str(prefix)).await?;
        if !Array::is_array(&listed) {
            return Err("list() did not resolve to an array".to_owned());
        }
        let mut entries = Vec::new();
        let mut malformed = 0;
        for item in listed.unchecked_into::<Array>().iter() {
            let key = get(&item, "key").ok().and_then(|k| js_string(&k));
            let value = get(&item, "value").ok().and_then(|v| js_string(&v));
            match (key, value) {
                (Some(key), Some(value)) => entries.push((key, value)),
                _ => malformed += 1,
            }
        }
        Ok((entries, malformed))
    }

    async fn call(&self, name: &str, argument: &JsValue) -> Result<JsValue, String> {
        let method = get(&self.object, name)
            .map_err(|e| describe_thrown(&e))?
            .dyn_into::<Function>()
            .map_err(|_| format!("store.{name} is not a function"))?;
        let result = method.call1(&self.object, argument).map_err(|e| format!("store.{name}: {}", describe_thrown(&e)))?;
        JsFuture::from(Promise::resolve(&result)).await.map_err(|e| format!("store.{name}: {}", describe_thrown(&e)))
    }
}
