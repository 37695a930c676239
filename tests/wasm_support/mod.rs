//! Shared by the wasm-bindgen tests (`tests/node.rs`, `tests/web.rs`): a real `Tracker` talking to the
//! project's ingest server (tests/ingest), whose URL is given at compile time in `AICM_INGEST_URL`.

use aicostmanager_edge::wasm::Tracker;
use js_sys::{Array, Function, Object, Promise, Reflect, JSON};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// The ingest server started by scripts/test. Fails the test (not skips it) when missing.
pub fn ingest_url() -> &'static str {
    match option_env!("AICM_INGEST_URL") {
        Some(url) if !url.is_empty() => url,
        _ => panic!("AICM_INGEST_URL was not set at compile time: run these tests through scripts/test"),
    }
}

/// `new Tracker({ apiKey, apiBase: ingest, retryBaseDelayMs: 5, ...extra })`.
pub fn tracker(extra: &str) -> Tracker {
    let options = format!(
        r#"{{"apiKey":"sk-wasm-test","apiBase":"{}","retryBaseDelayMs":5,"retryMaxDelayMs":20{}}}"#,
        ingest_url(),
        extra
    );
    Tracker::new(JSON::parse(&options).expect("options parse")).expect("tracker")
}

pub fn js(text: &str) -> JsValue {
    JSON::parse(text).expect("valid JSON in test")
}

pub fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(key)).expect("property")
}

/// Awaits a promise (given as a `Promise` or as the `JsValue` a tracker call returns).
pub async fn settle(promise: impl Into<JsValue>) -> JsValue {
    let promise: Promise = promise.into().dyn_into().expect("a promise");
    JsFuture::from(promise).await.expect("promise resolves")
}

async fn fetch_json(path: &str, method: &str, body: Option<&str>) -> JsValue {
    let init = Object::new();
    Reflect::set(&init, &"method".into(), &method.into()).expect("set");
    if let Some(body) = body {
        Reflect::set(&init, &"body".into(), &body.into()).expect("set");
    }
    let fetch: Function = get(&js_sys::global(), "fetch").dyn_into().expect("global fetch");
    let url = format!("{}{}", ingest_url(), path);
    let response = fetch.call2(&js_sys::global(), &url.into(), &init).expect("fetch call");
    let response = settle(response).await;
    let text: Function = get(&response, "text").dyn_into().expect("text()");
    let text = settle(text.call0(&response).expect("text call")).await;
    JSON::parse(&text.as_string().expect("text")).unwrap_or(JsValue::NULL)
}

/// Installs a fault spec on the ingest server (`{ queue: [...], always: ... }`).
pub async fn set_faults(spec: &str) {
    fetch_json("/__control/faults", "POST", Some(spec)).await;
}

/// The records the server stored, as parsed JSON objects.
pub async fn accepted() -> Vec<JsValue> {
    let list: Array = fetch_json("/__control/accepted", "GET", None).await.dyn_into().expect("array");
    list.iter().collect()
}

/// How many stored records have this `response_id`.
pub async fn accepted_count(response_id: &str) -> usize {
    accepted().await.iter().filter(|r| get(r, "response_id").as_string().as_deref() == Some(response_id)).count()
}

/// How many `/track` requests the server has seen so far.
pub async fn request_count() -> usize {
    let list: Array = fetch_json("/__control/requests", "GET", None).await.dyn_into().expect("array");
    list.length() as usize
}

/// True in a browser page (Chromium), false in Node.
pub fn in_browser() -> bool {
    Reflect::has(&js_sys::global(), &JsValue::from_str("document")).unwrap_or(false)
}

/// A response id unique to this test run and name.
pub fn unique_id(name: &str) -> String {
    format!("wasm-{name}-{}", (js_sys::Math::random() * 1e12) as u64)
}

pub mod cases;

thread_local! {
    /// The case running now (wasm-bindgen-test may run async tests concurrently; the cases share the ingest
    /// server's fault queue, so they take turns).
    static TURN: std::cell::RefCell<Option<Promise>> = const { std::cell::RefCell::new(None) };
}

/// Runs `case` after every case started before it has finished.
pub async fn one_at_a_time(case: impl std::future::Future<Output = ()> + 'static) {
    let previous = TURN.with(|t| t.borrow_mut().take());
    let (done, finish) = {
        let mut resolve_slot = None;
        let promise = Promise::new(&mut |resolve, _| resolve_slot = Some(resolve));
        (promise, resolve_slot.expect("Promise::new runs its executor at once"))
    };
    TURN.with(|t| *t.borrow_mut() = Some(done));
    if let Some(previous) = previous {
        let _ = JsFuture::from(previous).await;
    }
    case.await;
    let _ = finish.call0(&JsValue::UNDEFINED);
}

/// Defines one `#[wasm_bindgen_test]` per shared case, so Node and Chromium run the same list.
macro_rules! delivery_tests {
    ($($case:ident),* $(,)?) => {
        $(
            #[wasm_bindgen_test::wasm_bindgen_test]
            async fn $case() {
                wasm_support::one_at_a_time(wasm_support::cases::$case()).await;
            }
        )*
    };
}
