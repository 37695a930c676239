//! The store pump: runs the outbox's store operations one at a time, in the order it asks for them.

use super::Queue;
use crate::core::outbox::{StoreOpKind, StoreTiming};
use crate::wasm::platform::{now_ms, sleep};
use std::rc::Rc;
use wasm_bindgen::JsValue;

/// Runs store operations until the outbox has none left, then marks the pump idle. Never fails: a failed
/// operation (a rejection, a throw, no answer within the store timeout) is reported to the outbox, which
/// keeps the records and tries again later; while a flush that has sent what it could waits for the store,
/// "later" is after a short pause ([`StoreTiming::retry_at`]), so that the deletes of delivered records
/// land before the flush ends.
pub async fn pump(queue: Rc<Queue>) -> Result<JsValue, JsValue> {
    let mut failures = 0u32;
    let mut retried = false;
    loop {
        let next = queue.outbox.try_borrow_mut().ok().and_then(|mut outbox| outbox.poll_store());
        let Some(op) = next else {
            // Nothing to do, or parked after a failure: retry while a flush waits, else stop.
            let now = now_ms() as u64;
            let retry = if failures > 0 && !retried { StoreTiming::retry_at(failures, now, queue.retry_until.get()) } else { None };
            let Some(at) = retry else { break };
            sleep(at.saturating_sub(now) as f64).await;
            if let Ok(mut outbox) = queue.outbox.try_borrow_mut() {
                outbox.retry_store();
            }
            retried = true;
            continue;
        };
        retried = false;
        let budget = queue.store_budget_ms();
        let result = match (&queue.store, &op.kind) {
            (None, _) => Ok(()), // no store: the outbox in memory is all there is
            (Some(store), StoreOpKind::Put(entries)) => store.put(entries, budget).await.map_err(|f| f.message),
            (Some(store), StoreOpKind::Delete(keys)) => store.delete(keys, budget).await.map_err(|f| f.message),
        };
        failures = if result.is_ok() { 0 } else { failures.saturating_add(1) };
        queue.note_store_result(&result);
        if let Ok(mut outbox) = queue.outbox.try_borrow_mut() {
            outbox.handle_stored(op.id, result);
        }
    }
    if let Ok(mut slot) = queue.pump.try_borrow_mut() {
        *slot = None;
    }
    Ok(JsValue::UNDEFINED)
}
