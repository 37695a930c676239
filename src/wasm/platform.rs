//! The host's clock, timers and entropy. Touched only inside calls, never at module scope (Workers forbid
//! random values and timers there).

use js_sys::{Function, Promise};
use std::future::Future;
use std::pin::Pin;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    pub fn set_timeout(handler: &Function, ms: f64) -> JsValue;
    /// `setTimeout(handler, ms, arg)`: calls `handler(arg)`.
    #[wasm_bindgen(js_name = setTimeout)]
    pub fn set_timeout_with_arg(handler: &Function, ms: f64, arg: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    pub fn clear_timeout(handle: &JsValue);
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues, catch)]
    fn get_random_values(buf: &mut [u8]) -> Result<JsValue, JsValue>;
}

/// Now, in epoch milliseconds.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Resolves after `ms` milliseconds (via `setTimeout`, inside the caller's request or page lifetime).
pub async fn sleep(ms: f64) {
    let promise = Promise::new(&mut |resolve, _reject| {
        set_timeout(&resolve, ms.max(0.0));
    });
    let _ = JsFuture::from(promise).await;
}

/// A buffer of random bytes refilled 256 at a time from `crypto.getRandomValues`, so that each record does
/// not cross into JavaScript for its id.
#[derive(Default)]
pub struct Entropy {
    pool: Vec<u8>,
}

const POOL_BYTES: usize = 256;

impl Entropy {
    /// `N` random bytes. Falls back to `Math.random` only where `crypto.getRandomValues` is missing.
    pub fn take<const N: usize>(&mut self) -> [u8; N] {
        if self.pool.len() < N {
            self.refill();
        }
        let mut out = [0u8; N];
        for slot in out.iter_mut() {
            *slot = self.pool.pop().unwrap_or_else(|| (js_sys::Math::random() * 256.0) as u8);
        }
        out
    }

    fn refill(&mut self) {
        let mut fresh = vec![0u8; POOL_BYTES];
        if get_random_values(&mut fresh).is_err() {
            for byte in fresh.iter_mut() {
                *byte = (js_sys::Math::random() * 256.0) as u8;
            }
        }
        self.pool.extend_from_slice(&fresh);
    }
}

/// A promise of `future`, run on the microtask queue. Every async export goes through here so that
/// wasm-bindgen's promise machinery is compiled once (boxed), not once per future type: ~1 KB each.
pub fn promise_of(future: impl Future<Output = Result<JsValue, JsValue>> + 'static) -> Promise {
    let boxed: Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>> = Box::pin(future);
    wasm_bindgen_futures::future_to_promise(boxed)
}

/// A timer: a promise that resolves to a private sentinel after `timeout_ms`, to race other promises
/// against (an HTTP attempt, a store call, a flush's end). The timer's handler is the promise's own
/// `resolve` (no Rust closure is kept alive for it). Cancelled when dropped, so a pending timer never keeps
/// a Node process alive or fires after its work.
pub struct Deadline {
    timeout_ms: u64,
    expired: Promise,
    sentinel: js_sys::Object,
    handle: Option<JsValue>,
}

impl Deadline {
    /// Starts the timer.
    pub fn start(timeout_ms: u64) -> Deadline {
        let sentinel = js_sys::Object::new();
        let mut handle = None;
        let expired = Promise::new(&mut |resolve, _reject| {
            handle = Some(set_timeout_with_arg(&resolve, timeout_ms as f64, &sentinel));
        });
        Deadline { timeout_ms, expired, sentinel, handle }
    }

    /// The timer's length.
    pub fn timeout_ms(&self) -> u64 {
        self.timeout_ms
    }

    /// Awaits `promise` (one of ours, or one adopted with [`crate::wasm::guarded::adopt`]) unless the timer
    /// fires first: `Ok(None)` then. `Err` is the promise's rejection.
    pub async fn race(&self, promise: &Promise) -> Result<Option<JsValue>, JsValue> {
        let both = js_sys::Array::of2(promise, &self.expired);
        let settled = JsFuture::from(Promise::race(&both)).await?;
        Ok(if js_sys::Object::is(&settled, &self.sentinel) { None } else { Some(settled) })
    }

    /// Awaits whatever a user's function returned (a value, a promise, a thenable, one whose `then` throws)
    /// unless the timer fires first: `Ok(None)` then; `Err` with the rejection. A late answer is ignored.
    pub async fn race_user(&self, value: &JsValue) -> Result<Option<JsValue>, JsValue> {
        let adopted = crate::wasm::guarded::adopt(value)?;
        match self.race(&adopted).await? {
            Some(settled) => crate::wasm::guarded::item(&settled, 0).map(Some),
            None => Ok(None),
        }
    }

    /// Stops the timer (also done on drop).
    pub fn cancel(&self) {
        if let Some(handle) = &self.handle {
            clear_timeout(handle);
        }
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        self.cancel();
    }
}
