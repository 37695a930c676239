//! Runs the core's immediate-delivery state machine with real `fetch` and timers.
//!
//! The loop is the core's drive loop: poll the machine, execute what it asks (send a body, wait until a
//! time), report back, until it says it is done. Every decision (retry, split, give up) is the core's.

use crate::core::batch::EncodedRecord;
use crate::core::ids::unit_interval;
use crate::core::immediate::{DeliveryReport, ImmediateConfig, ImmediateDelivery, Output};
use crate::wasm::http::{post_json, Endpoint};
use crate::wasm::platform::{now_ms, sleep, Entropy};
use std::cell::RefCell;
use std::rc::Rc;

/// Delivers `records` and reports every record's outcome. Never fails: failures are outcomes.
pub async fn deliver(
    records: Vec<EncodedRecord>,
    config: ImmediateConfig,
    endpoint: Endpoint,
    entropy: Rc<RefCell<Entropy>>,
) -> DeliveryReport {
    let mut machine = ImmediateDelivery::new(records, config);
    loop {
        match machine.poll_output(now_ms() as u64) {
            Output::Send { id, body, .. } => {
                let outcome = post_json(&endpoint, body).await;
                let jitter = match entropy.try_borrow_mut() {
                    Ok(mut pool) => unit_interval(pool.take::<4>()),
                    Err(_) => js_sys::Math::random(),
                };
                machine.handle_response(id, outcome, now_ms() as u64, jitter);
            }
            Output::Wait { until_ms } => sleep(until_ms as f64 - now_ms()).await,
            // This loop reports every send before polling again, so the machine never waits on us; if it
            // ever did, stopping is the only move that cannot hang the caller.
            Output::AwaitResponse { .. } | Output::Done => break,
        }
    }
    machine.into_report()
}
