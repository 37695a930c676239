//! The drain behind `flush()`: under the store's lock (when it has one), pick up what other trackers left,
//! send what is due until the deadline, and settle the store.

use super::js::flush_report;
use super::Queue;
use crate::core::ids::unit_interval;
use crate::core::outbox::SendOutput;
use crate::wasm::http::post_json;
use crate::wasm::platform::{now_ms, sleep};
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// Drains the queue for at most `deadline_ms` and resolves to the flush report. Never rejects.
pub async fn drain(queue: Rc<Queue>, deadline_ms: u64) -> Result<JsValue, JsValue> {
    let _ = wasm_bindgen_futures::JsFuture::from(queue.ensure_loaded()).await;
    let deadline = now_ms() as u64 + deadline_ms;
    let lock = queue.store.as_ref().and_then(|store| store.lock_method().map(|lock| (store.clone(), lock)));
    let Some((store, lock)) = lock else {
        return Ok(drain_locked(queue, deadline).await);
    };
    let name = format!("drain:{}", queue.namespace);
    let inner = queue.clone();
    let run = Closure::once_into_js(move || crate::wasm::platform::promise_of(async move { Ok(drain_locked(inner, deadline).await) }));
    match store.with_lock(&lock, &name, run.unchecked_ref()).await {
        Ok(report) => Ok(report),
        // The lock itself failed: drain without it (at least once beats not at all).
        Err(_) => Ok(drain_locked(queue, deadline).await),
    }
}

async fn drain_locked(queue: Rc<Queue>, deadline: u64) -> JsValue {
    queue.settle_store().await;
    queue.reconcile(true).await;
    if let Ok(mut outbox) = queue.outbox.try_borrow_mut() {
        outbox.begin_flush(now_ms() as u64, deadline);
    }
    let report = send_loop(&queue, deadline, queue.endpoint.clone()).await;
    queue.settle_store().await;
    flush_report(report.as_ref(), &queue.durability())
}

/// The most a page going away may send in one `keepalive` request (browsers share 64 KiB among them).
pub const KEEPALIVE_BODY_BYTES: usize = 60 * 1024;

/// `flush({ keepalive: true })`, for `pagehide`: sends what the tracker holds in memory at once, in
/// `keepalive` requests the browser completes after the page is gone. It waits for nothing first (no lock, no
/// store read, no pending store write): anything awaited there would not run once the page unloads. Records
/// it cannot send stay queued and in the store for the next page (at least once: a reply lost with the page
/// may make the next page send a record again; the service keeps one).
pub async fn drain_now(queue: Rc<Queue>, deadline_ms: u64) -> Result<JsValue, JsValue> {
    let deadline = now_ms() as u64 + deadline_ms;
    if let Ok(mut outbox) = queue.outbox.try_borrow_mut() {
        outbox.begin_flush_within(now_ms() as u64, deadline, KEEPALIVE_BODY_BYTES);
    }
    let mut endpoint = queue.endpoint.clone();
    endpoint.keepalive = true;
    let report = send_loop(&queue, deadline, endpoint).await;
    Ok(flush_report(report.as_ref(), &queue.durability()))
}

/// Sends batches until the outbox says the flush is done; `None` if it could not be asked.
async fn send_loop(queue: &Rc<Queue>, deadline: u64, endpoint: crate::wasm::http::Endpoint) -> Option<crate::core::outbox::FlushReport> {
    loop {
        let now = now_ms() as u64;
        let next = match queue.outbox.try_borrow_mut() {
            Ok(mut outbox) => outbox.poll_send(now),
            Err(_) => return None,
        };
        match next {
            SendOutput::Send { id, body } => {
                let mut endpoint = endpoint.clone();
                endpoint.timeout_ms = endpoint.timeout_ms.min(deadline.saturating_sub(now).max(1));
                let outcome = post_json(&endpoint, body).await;
                let jitter = match queue.entropy.try_borrow_mut() {
                    Ok(mut pool) => unit_interval(pool.take::<4>()),
                    Err(_) => js_sys::Math::random(),
                };
                if let Ok(mut outbox) = queue.outbox.try_borrow_mut() {
                    outbox.handle_response(id, outcome, now_ms() as u64, jitter);
                }
                queue.kick();
            }
            SendOutput::Wait { until_ms } => sleep(until_ms.saturating_sub(now) as f64).await,
            SendOutput::AwaitResponse { .. } => return None,
            SendOutput::Done(report) => return Some(report),
        }
    }
}
