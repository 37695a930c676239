//! Runs the core's immediate-delivery state machine with real `fetch` and timers.
//!
//! The loop is the core's drive loop: poll the machine, execute what it asks (send a body, wait until a
//! time), report back, until it says it is done. Every decision (retry, split, give up) is the core's.

use crate::core::batch::EncodedRecord;
use crate::core::ids::unit_interval;
use crate::core::immediate::{DeliveryReport, ImmediateConfig, ImmediateDelivery, Output};
use crate::core::retry::HttpOutcome;
use crate::wasm::http::{post_json, Endpoint};
use crate::wasm::platform::{now_ms, sleep, Entropy};
use js_sys::{Array, Reflect};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};

/// Delivers `records` and reports every record's outcome, with the values `fetch` failed with (to attach
/// to the results as `error.cause`). Never fails: failures are outcomes.
pub async fn deliver(
    records: Vec<EncodedRecord>,
    config: ImmediateConfig,
    endpoint: Endpoint,
    entropy: Rc<RefCell<Entropy>>,
) -> (DeliveryReport, Causes) {
    let mut machine = ImmediateDelivery::new(records, config);
    let mut causes = Causes::default();
    loop {
        match machine.poll_output(now_ms() as u64) {
            Output::Send { id, body, .. } => {
                let attempt = post_json(&endpoint, body).await;
                if let (HttpOutcome::Network { message } | HttpOutcome::SinkFailed { message }, Some(cause)) =
                    (&attempt.outcome, attempt.cause)
                {
                    causes.note(message, cause);
                }
                let jitter = match entropy.try_borrow_mut() {
                    Ok(mut pool) => unit_interval(pool.take::<4>()),
                    Err(_) => js_sys::Math::random(),
                };
                machine.handle_response(id, attempt.outcome, now_ms() as u64, jitter);
            }
            Output::Wait { until_ms } => sleep(until_ms as f64 - now_ms()).await,
            // This loop reports every send before polling again, so the machine never waits on us; if it
            // ever did, stopping is the only move that cannot hang the caller.
            Output::AwaitResponse { .. } | Output::Done => break,
        }
    }
    (machine.into_report(), causes)
}

/// Most distinct network failures remembered per delivery (the newest win).
const MAX_CAUSES: usize = 8;

/// The values `fetch` threw or rejected with during one delivery, by the message the core got for them.
#[derive(Default)]
pub struct Causes {
    by_message: Vec<(String, JsValue)>,
}

impl Causes {
    fn note(&mut self, message: &str, cause: JsValue) {
        self.by_message.retain(|(m, _)| m != message);
        if self.by_message.len() >= MAX_CAUSES {
            self.by_message.remove(0);
        }
        self.by_message.push((message.to_owned(), cause));
    }

    /// Sets `error.cause` on every `E_NETWORK` and `E_SINK` error of `result` (what `track()` resolves to, or
    /// `trackBatch()`'s `{ results }`): the original value `fetch` failed with. `result` is ours.
    pub fn attach(&self, result: &JsValue) {
        if self.by_message.is_empty() {
            return;
        }
        let results = Reflect::get(result, &JsValue::from_str("results")).unwrap_or(JsValue::UNDEFINED);
        match results.dyn_ref::<Array>() {
            Some(items) => items.iter().for_each(|item| self.attach_one(&item)),
            None => self.attach_one(result),
        }
    }

    fn attach_one(&self, outcome: &JsValue) {
        let Ok(error) = Reflect::get(outcome, &JsValue::from_str("error")) else { return };
        let text = |name: &str| Reflect::get(&error, &JsValue::from_str(name)).ok().and_then(|v| v.as_string());
        if !error.is_object() || !matches!(text("code").as_deref(), Some("E_NETWORK" | "E_SINK")) {
            return;
        }
        let Some(message) = text("message") else { return };
        if let Some((_, cause)) = self.by_message.iter().rev().find(|(m, _)| message.ends_with(m.as_str())) {
            let _ = Reflect::set(&error, &JsValue::from_str("cause"), cause);
        }
    }
}
