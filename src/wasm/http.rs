//! One HTTP attempt: POST a body with `fetch`, bounded by a timeout, and report what happened as the core's
//! [`HttpOutcome`]. The response body is always read (Workers require every body to be consumed).
//!
//! A network failure's message names the URL (without credentials or query, [`for_messages`]) and the
//! reason `fetch` gave, its `cause` followed (`ECONNREFUSED`, not just "fetch failed"); the value `fetch`
//! threw or rejected with is handed back as [`Attempt::cause`].

use crate::core::config::track_headers;
use crate::core::retry::HttpOutcome;
use crate::core::safe_url::for_messages;
use crate::wasm::cause::describe;
use crate::wasm::guarded::get;
use crate::wasm::options::Sink;
use crate::wasm::platform::Deadline;
use js_sys::{Function, Object, Reflect};
use wasm_bindgen::prelude::*;

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
    /// The tracker's `sink`: bodies are handed to it ([`crate::wasm::sink`]) instead of POSTed.
    pub sink: Option<Sink>,
}

/// One attempt's outcome, and what `fetch` threw or rejected with when it failed that way.
pub struct Attempt {
    pub outcome: HttpOutcome,
    /// The original value behind a [`HttpOutcome::Network`] (an `Error`, often with its own `cause`).
    pub cause: Option<JsValue>,
}

/// POSTs `body` as JSON to the endpoint. Never fails: every problem is an [`HttpOutcome`].
pub async fn post_json(endpoint: &Endpoint, body: String) -> Attempt {
    begin_post(endpoint, body).await
}

/// [`post_json`] whose `fetch` call is made before this returns (a page going away must start its request
/// in the `pagehide` task itself); await the result for the attempt.
pub fn begin_post(endpoint: &Endpoint, body: String) -> std::pin::Pin<Box<dyn std::future::Future<Output = Attempt>>> {
    if let Some(sink) = &endpoint.sink {
        return Box::pin(crate::wasm::sink::hand_off(sink, &body, endpoint.timeout_ms));
    }
    Box::pin(begin_fetch(endpoint, body))
}

fn begin_fetch(endpoint: &Endpoint, body: String) -> impl std::future::Future<Output = Attempt> {
    let timeout_ms = endpoint.timeout_ms;
    let controller = web_sys::AbortController::new().ok();
    let deadline = Deadline::start(timeout_ms);
    let url = for_messages(&endpoint.url);
    let started = start_fetch(endpoint, body, controller.as_ref());
    async move {
        let network = |what: &str, thrown: JsValue| Attempt {
            outcome: HttpOutcome::Network { message: format!("POST {url} {what}: {}", describe(&thrown)) },
            cause: Some(thrown),
        };
        let attempt = match started {
            Err(thrown) => network("threw", thrown),
            Ok(request) => match deadline.race_user(&request).await {
                Ok(Some(response)) => match read_response(&response, &deadline).await {
                    Ok(outcome) => Attempt { outcome, cause: None },
                    Err(thrown) => network("failed reading the response", thrown),
                },
                Ok(None) => Attempt { outcome: HttpOutcome::Timeout { timeout_ms }, cause: None },
                Err(thrown) => network("failed", thrown),
            },
        };
        deadline.cancel();
        if matches!(attempt.outcome, HttpOutcome::Timeout { .. }) {
            if let Some(controller) = controller {
                controller.abort(); // frees the connection; the request is given up
            }
        }
        attempt
    }
}

/// The outcome of a settled `fetch`; `Err` with what reading the body threw or rejected with.
async fn read_response(response: &JsValue, deadline: &Deadline) -> Result<HttpOutcome, JsValue> {
    let timeout_ms = deadline.timeout_ms();
    let Some(status) = get(response, "status").ok().and_then(|s| s.as_f64()) else {
        return Err(JsValue::from_str("fetch resolved to something that is not a Response"));
    };
    let retry_after = get(response, "headers")
        .ok()
        .and_then(|headers| {
            let getter = get(&headers, "get").ok()?.dyn_into::<Function>().ok()?;
            getter.call1(&headers, &JsValue::from_str("retry-after")).ok()
        })
        .and_then(|v| v.as_string());
    let text = match deadline.race_user(&call_method(response, "text")?).await? {
        Some(text) => text.as_string().unwrap_or_default(),
        None => return Ok(HttpOutcome::Timeout { timeout_ms }),
    };
    Ok(HttpOutcome::Response { status: status as u16, retry_after, body: text })
}

/// Calls `fetch`; `Ok` with whatever it returned (a promise, normally), `Err` with what it threw.
fn start_fetch(endpoint: &Endpoint, body: String, controller: Option<&web_sys::AbortController>) -> Result<JsValue, JsValue> {
    let headers = Object::new();
    for (name, value) in track_headers(endpoint.authorization.as_deref(), in_browser()) {
        Reflect::set(&headers, &JsValue::from_str(name), &JsValue::from_str(&value))?;
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
    match &endpoint.fetch {
        Some(user_fetch) => user_fetch.call2(&JsValue::UNDEFINED, &url, &init),
        None => {
            let global = js_sys::global();
            let fetch = get(&global, "fetch")?
                .dyn_into::<Function>()
                .map_err(|_| JsValue::from_str("this runtime has no global fetch; pass { fetch } to the Tracker"))?;
            fetch.call2(&global, &url, &init)
        }
    }
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
