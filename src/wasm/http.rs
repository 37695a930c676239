//! One HTTP attempt: POST a body with `fetch`, bounded by a timeout, and report what happened as the core's
//! [`HttpOutcome`]. The response body is always read (Workers require every body to be consumed).

use crate::core::config::USER_AGENT;
use crate::core::retry::HttpOutcome;
use crate::wasm::errors::describe_thrown;
use crate::wasm::js_value::get;
use crate::wasm::platform::{clear_timeout, set_timeout_with_arg};
use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// Where and how to send.
#[derive(Clone)]
pub struct Endpoint {
    pub url: String,
    pub authorization: Option<String>,
    pub timeout_ms: u64,
    /// The user's `fetch` option; `None` = the global `fetch`, looked up at call time.
    pub fetch: Option<Function>,
    /// Ask the browser to finish the request after the page is gone (`fetch(..., { keepalive: true })`).
    pub keepalive: bool,
}

/// POSTs `body` as JSON to the endpoint. Never fails: every problem is an [`HttpOutcome`].
pub async fn post_json(endpoint: &Endpoint, body: String) -> HttpOutcome {
    let timeout_ms = endpoint.timeout_ms;
    let controller = web_sys::AbortController::new().ok();
    let deadline = Deadline::start(timeout_ms);
    let outcome = match start_fetch(endpoint, body, controller.as_ref()) {
        Err(thrown) => HttpOutcome::Network { message: describe_thrown(&thrown) },
        Ok(request) => match deadline.race(request).await {
            Ok(Some(response)) => read_response(&response, &deadline).await,
            Ok(None) => HttpOutcome::Timeout { timeout_ms },
            Err(thrown) => HttpOutcome::Network { message: describe_thrown(&thrown) },
        },
    };
    deadline.cancel();
    if matches!(outcome, HttpOutcome::Timeout { .. }) {
        if let Some(controller) = controller {
            controller.abort(); // frees the connection; the request is given up
        }
    }
    outcome
}

async fn read_response(response: &JsValue, deadline: &Deadline) -> HttpOutcome {
    let timeout_ms = deadline.timeout_ms;
    let Some(status) = get(response, "status").ok().and_then(|s| s.as_f64()) else {
        return HttpOutcome::Network { message: "fetch resolved to something that is not a Response".to_owned() };
    };
    let retry_after = get(response, "headers")
        .ok()
        .and_then(|headers| {
            let getter = get(&headers, "get").ok()?.dyn_into::<Function>().ok()?;
            getter.call1(&headers, &JsValue::from_str("retry-after")).ok()
        })
        .and_then(|v| v.as_string());
    let text = match call_method(response, "text") {
        Ok(promise) => match deadline.race(Promise::resolve(&promise)).await {
            Ok(Some(text)) => text.as_string().unwrap_or_default(),
            Ok(None) => return HttpOutcome::Timeout { timeout_ms },
            Err(thrown) => return HttpOutcome::Network { message: describe_thrown(&thrown) },
        },
        Err(thrown) => return HttpOutcome::Network { message: describe_thrown(&thrown) },
    };
    HttpOutcome::Response { status: status as u16, retry_after, body: text }
}

fn start_fetch(endpoint: &Endpoint, body: String, controller: Option<&web_sys::AbortController>) -> Result<Promise, JsValue> {
    let headers = Object::new();
    Reflect::set(&headers, &"content-type".into(), &"application/json".into())?;
    if let Some(auth) = &endpoint.authorization {
        Reflect::set(&headers, &"authorization".into(), &JsValue::from_str(auth))?;
    }
    if !in_browser() {
        // Browsers own this header (and a custom one would need CORS approval); elsewhere name the client.
        Reflect::set(&headers, &"user-agent".into(), &JsValue::from_str(USER_AGENT))?;
    }
    let init = Object::new();
    Reflect::set(&init, &"method".into(), &"POST".into())?;
    Reflect::set(&init, &"headers".into(), &headers)?;
    Reflect::set(&init, &"body".into(), &JsValue::from(body))?;
    if let Some(controller) = controller {
        Reflect::set(&init, &"signal".into(), &controller.signal())?;
    }
    if endpoint.keepalive {
        Reflect::set(&init, &"keepalive".into(), &JsValue::TRUE)?;
    }
    let url = JsValue::from_str(&endpoint.url);
    let result = match &endpoint.fetch {
        Some(user_fetch) => user_fetch.call2(&JsValue::UNDEFINED, &url, &init)?,
        None => {
            let global = js_sys::global();
            let fetch = get(&global, "fetch")?
                .dyn_into::<Function>()
                .map_err(|_| JsValue::from_str("this runtime has no global fetch; pass { fetch } to the Tracker"))?;
            fetch.call2(&global, &url, &init)?
        }
    };
    Ok(Promise::resolve(&result))
}

/// True in a browser window or web worker: a `document` or `importScripts` global.
fn in_browser() -> bool {
    let global = js_sys::global();
    ["document", "importScripts"].iter().any(|name| Reflect::has(&global, &JsValue::from_str(name)).unwrap_or(false))
}

fn call_method(object: &JsValue, name: &str) -> Result<JsValue, JsValue> {
    let method = get(object, name)?.dyn_into::<Function>().map_err(|_| JsValue::from_str("not a function"))?;
    method.call0(object)
}

/// A timer for one attempt: a promise that resolves to a private sentinel after `timeout_ms`. The timer's
/// handler is the promise's own `resolve` (no Rust closure is kept alive for it).
struct Deadline {
    timeout_ms: u64,
    expired: Promise,
    sentinel: Object,
    handle: Option<JsValue>,
}

impl Deadline {
    fn start(timeout_ms: u64) -> Deadline {
        let sentinel = Object::new();
        let mut handle = None;
        let expired = Promise::new(&mut |resolve, _reject| {
            handle = Some(set_timeout_with_arg(&resolve, timeout_ms as f64, &sentinel));
        });
        Deadline { timeout_ms, expired, sentinel, handle }
    }

    /// Awaits `promise` unless the deadline passes first: `Ok(None)` then.
    async fn race(&self, promise: Promise) -> Result<Option<JsValue>, JsValue> {
        let both = Array::of2(&promise, &self.expired);
        let settled = JsFuture::from(Promise::race(&both)).await?;
        Ok(if Object::is(&settled, &self.sentinel) { None } else { Some(settled) })
    }

    /// Stops the timer once the attempt is over.
    fn cancel(&self) {
        if let Some(handle) = &self.handle {
            clear_timeout(handle);
        }
    }
}
