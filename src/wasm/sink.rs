//! Handing a body's records to the tracker's `sink` (a Cloudflare Queue, a Durable Object outbox, any object
//! with `send(records)`) instead of POSTing it: one attempt, reported as the core's [`HttpOutcome`], which
//! decides what it means ([`crate::core::delivery::reply`]).
//!
//! `send` gets an array of the records' JSON texts, exactly as they are in the body, and its result is
//! raced against the timeout: resolved (to anything) is [`HttpOutcome::HandedOff`]; a throw or a
//! rejection is [`HttpOutcome::SinkFailed`] naming the sink and the reason (the thrown value is kept as the
//! attempt's `cause`); no answer within `timeout_ms` is [`HttpOutcome::Timeout`] (the sink may have taken
//! them: `unknown` once attempts run out).

use crate::core::batch::records_of_body;
use crate::core::retry::HttpOutcome;
use crate::wasm::cause::describe;
use crate::wasm::http::Attempt;
use crate::wasm::options::Sink;
use crate::wasm::platform::Deadline;
use js_sys::Array;
use wasm_bindgen::JsValue;

/// Calls `sink.send(records)` before it returns (so a page going away still starts it) and resolves to the
/// attempt. Never fails: every problem is an outcome.
pub fn hand_off(sink: &Sink, body: &str, timeout_ms: u64) -> impl std::future::Future<Output = Attempt> {
    let kind = sink.kind.clone();
    let failed = move |what: &str, thrown: JsValue| Attempt {
        outcome: HttpOutcome::SinkFailed { message: format!("{kind}: send {what}: {}", describe(&thrown)) },
        cause: Some(thrown),
    };
    let started = match records_of_body(body) {
        // Our own body always splits; if it ever did not, nothing was handed over: a retryable failure.
        None => Err(JsValue::from_str("the body to hand over is not a list of records")),
        Some(texts) => {
            let records: Array = texts.into_iter().map(JsValue::from_str).collect();
            sink.send.call1(&sink.object, &records)
        }
    };
    let deadline = Deadline::start(timeout_ms);
    async move {
        let attempt = match started {
            Err(thrown) => failed("threw", thrown),
            Ok(answer) => match deadline.race_user(&answer).await {
                Ok(Some(_)) => Attempt { outcome: HttpOutcome::HandedOff, cause: None },
                Ok(None) => Attempt { outcome: HttpOutcome::Timeout { timeout_ms }, cause: None },
                Err(thrown) => failed("rejected", thrown),
            },
        };
        deadline.cancel();
        attempt
    }
}
