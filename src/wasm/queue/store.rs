//! The user's store object (`{ put, list, delete, durability?, consistent?, lock? }`) as Rust calls.
//!
//! Every call turns whatever the store does — a rejected promise, a synchronous throw, a getter that throws,
//! a missing method, a thenable whose `then` throws, an answer that never comes, a `list` result that is a
//! revoked Proxy or throws on `length` or an index — into a [`StoreFailure`] the outbox can act on; nothing
//! here panics or throws. Every value the store hands back is read through [`crate::wasm::guarded`], and
//! every call is raced against a timer of the budget it is given (a late answer is ignored).

use crate::wasm::cause::describe;
use crate::wasm::guarded::{get, is_array, item, length};
use crate::wasm::js_value::js_string;
use crate::wasm::platform::Deadline;
use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// Why a store call failed, for the outbox and `stats().storeError`: what went wrong and, when the store
/// threw or rejected, with what (its `message`, `name`, `code` and `cause` chain, see [`describe`]).
pub struct StoreFailure {
    pub message: String,
}

impl StoreFailure {
    fn new(message: String) -> StoreFailure {
        StoreFailure { message }
    }

    fn thrown(message: String, cause: JsValue) -> StoreFailure {
        StoreFailure { message: format!("{message}: {}", describe(&cause)) }
    }
}

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
            let method = get(&object, name).map_err(|e| format!("reading {name} threw: {}", describe(&e)))?;
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

    /// Calls `store.lock(name, run)` and returns what it returned at once (a promise, normally), for the
    /// caller to race against its own deadline; `Err` with what it threw.
    pub fn call_lock(&self, lock: &Function, name: &str, run: &Function) -> Result<JsValue, StoreFailure> {
        lock.call2(&self.object, &JsValue::from_str(name), run)
            .map_err(|e| StoreFailure::thrown("store.lock threw".to_owned(), e))
    }

    /// `store.put([{ key, value }, ...])`, for at most `budget_ms`.
    pub async fn put(&self, entries: &[(String, String)], budget_ms: u64) -> Result<(), StoreFailure> {
        self.call("put", &entries_array(entries), budget_ms).await.map(|_| ())
    }

    /// `store.put([{ key, value }, ...])` called before this returns, for a page going away (an IndexedDB
    /// transaction must start in the `pagehide` task to be committed): `Ok` with what it returned, to race
    /// with [`Deadline::race_user`]; `Err` when reading `put` threw, it is not a function, or it threw.
    pub fn put_now(&self, entries: &[(String, String)]) -> Result<JsValue, StoreFailure> {
        let method = get(&self.object, "put")
            .map_err(|e| StoreFailure::thrown("reading store.put threw".to_owned(), e))?
            .dyn_into::<Function>()
            .map_err(|_| StoreFailure::new("store.put is not a function".to_owned()))?;
        method.call1(&self.object, &entries_array(entries)).map_err(|e| StoreFailure::thrown("store.put threw".to_owned(), e))
    }

    /// `store.delete([key, ...])`, for at most `budget_ms`.
    pub async fn delete(&self, keys: &[String], budget_ms: u64) -> Result<(), StoreFailure> {
        let array: Array = keys.iter().map(|k| JsValue::from_str(k)).collect();
        self.call("delete", &array, budget_ms).await.map(|_| ())
    }

    /// `store.list(prefix)` → `(key, value)` pairs, for at most `budget_ms`. Entries that are not
    /// `{ key: string, value: string }` (or throw when read) are skipped and counted in the second element
    /// rather than failing the whole listing; so are entries past the first `max_entries`
    /// ([`crate::core::outbox::listed_entries_to_read`]).
    pub async fn list(
        &self,
        prefix: &str,
        budget_ms: u64,
        max_entries: u32,
    ) -> Result<(Vec<(String, String)>, usize), StoreFailure> {
        let listed = self.call("list", &JsValue::from_str(prefix), budget_ms).await?;
        let bad = |what: &str, cause: JsValue| StoreFailure::thrown(format!("store.list() resolved to {what}"), cause);
        match is_array(&listed) {
            Ok(true) => {}
            Ok(false) => return Err(StoreFailure::new("store.list() did not resolve to an array".to_owned())),
            Err(e) => return Err(bad("a value that throws on Array.isArray (a revoked Proxy?)", e)),
        }
        let count = match length(&listed) {
            Ok(Some(n)) => n,
            Ok(None) => return Err(StoreFailure::new("store.list() resolved to an array without a length".to_owned())),
            Err(e) => return Err(bad("an array whose length throws", e)),
        };
        let mut entries = Vec::new();
        let mut malformed = count.saturating_sub(max_entries) as usize;
        for index in 0..count.min(max_entries) {
            // A hole or a non-object is malformed without a property read (reading one would throw).
            let Ok(entry) = item(&listed, index).map_err(drop).and_then(|e| if e.is_object() { Ok(e) } else { Err(()) }) else {
                malformed += 1;
                continue;
            };
            let key = get(&entry, "key").ok().and_then(|k| js_string(&k));
            let value = get(&entry, "value").ok().and_then(|v| js_string(&v));
            match (key, value) {
                (Some(key), Some(value)) => entries.push((key, value)),
                _ => malformed += 1,
            }
        }
        Ok((entries, malformed))
    }

    async fn call(&self, name: &str, argument: &JsValue, budget_ms: u64) -> Result<JsValue, StoreFailure> {
        let method = get(&self.object, name)
            .map_err(|e| StoreFailure::thrown(format!("reading store.{name} threw"), e))?
            .dyn_into::<Function>()
            .map_err(|_| StoreFailure::new(format!("store.{name} is not a function")))?;
        let result =
            method.call1(&self.object, argument).map_err(|e| StoreFailure::thrown(format!("store.{name} threw"), e))?;
        let deadline = Deadline::start(budget_ms);
        match deadline.race_user(&result).await {
            Ok(Some(value)) => Ok(value),
            Ok(None) => Err(StoreFailure::new(format!("store.{name} did not answer within {budget_ms} ms"))),
            Err(e) => Err(StoreFailure::thrown(format!("store.{name} rejected"), e)),
        }
    }
}

/// `[{ key, value }, ...]` for `store.put`.
fn entries_array(entries: &[(String, String)]) -> Array {
    entries
        .iter()
        .map(|(key, value)| {
            let entry = Object::new();
            let _ = Reflect::set(&entry, &JsValue::from_str("key"), &JsValue::from_str(key));
            let _ = Reflect::set(&entry, &JsValue::from_str("value"), &JsValue::from_str(value));
            JsValue::from(entry)
        })
        .collect()
}
