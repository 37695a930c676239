//! The queue's reports as JavaScript objects, and the dead-letter calls.

use super::Queue;
use crate::core::outbox::{DeadLetter, FlushReport};
use js_sys::{Array, Object, Promise, Reflect};
use std::rc::Rc;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

fn set(object: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(object, &JsValue::from_str(key), value);
}

fn number(n: usize) -> JsValue {
    JsValue::from(n as f64)
}

/// `{ sent, deadLettered, retryLater, remaining, durability }`.
pub fn flush_report(report: Option<&FlushReport>, durability: &str) -> JsValue {
    let out = Object::new();
    let report = report.cloned().unwrap_or_default();
    set(&out, "sent", &number(report.sent));
    set(&out, "deadLettered", &number(report.dead_lettered));
    set(&out, "retryLater", &number(report.retry_later));
    set(&out, "remaining", &number(report.remaining));
    set(&out, "durability", &JsValue::from_str(durability));
    out.into()
}

/// `{ queued, inFlight, sent, deadLettered, dropped, bytes, deadBytes, durability, storeError }`.
pub fn stats(queue: &Queue) -> JsValue {
    let out = Object::new();
    if let Ok(outbox) = queue.outbox.try_borrow() {
        let s = outbox.stats();
        set(&out, "queued", &number(s.queued));
        set(&out, "inFlight", &number(s.in_flight));
        set(&out, "sent", &number(s.sent));
        set(&out, "deadLettered", &number(s.dead_lettered));
        set(&out, "dropped", &number(s.dropped));
        set(&out, "bytes", &number(s.bytes));
        set(&out, "deadBytes", &number(s.dead_bytes));
        set(&out, "unsaved", &number(s.unsaved));
        set(&out, "unreadable", &number(s.unreadable));
        set(&out, "duplicates", &number(s.duplicates));
        set(&out, "nextDueAt", &s.next_due_ms.map_or(JsValue::NULL, |ms| JsValue::from(ms as f64)));
    }
    set(&out, "durability", &JsValue::from_str(&queue.durability()));
    let error = queue.store_error.try_borrow().ok().and_then(|e| e.clone());
    set(&out, "storeError", &error.map_or(JsValue::NULL, |e| JsValue::from_str(&e)));
    out.into()
}

fn dead_letter(letter: &DeadLetter) -> JsValue {
    let out = Object::new();
    set(&out, "responseId", &JsValue::from_str(&letter.response_id));
    set(&out, "reason", &JsValue::from_str(&letter.reason));
    set(&out, "status", &letter.status.map_or(JsValue::NULL, JsValue::from));
    let errors: Array = letter.errors.iter().map(|e| JsValue::from_str(e)).collect();
    set(&out, "errors", &errors);
    set(&out, "attempts", &JsValue::from(letter.attempts));
    set(&out, "createdAt", &JsValue::from(letter.created_ms as f64));
    set(&out, "deadLetteredAt", &JsValue::from(letter.at_ms as f64));
    let record = js_sys::JSON::parse(&letter.record_json).unwrap_or(JsValue::NULL);
    set(&out, "record", &record);
    out.into()
}

/// `deadLetters()`: after the store's contents are loaded.
pub fn dead_letters(queue: &Rc<Queue>) -> Promise {
    let queue = queue.clone();
    crate::wasm::platform::promise_of(async move {
        let _ = JsFuture::from(queue.ensure_loaded()).await;
        let letters: Array = match queue.outbox.try_borrow() {
            Ok(outbox) => outbox.dead_letters().iter().map(dead_letter).collect(),
            Err(_) => Array::new(),
        };
        Ok(letters.into())
    })
}

/// Which dead letters a call is about: all (`undefined`/`null`) or the given ids.
pub enum Selection {
    All,
    Ids(Vec<String>),
}

/// `requeueDeadLetters(ids?)` / `purgeDeadLetters(ids?)`: resolves to how many were affected, once the store
/// reflects it.
pub fn change_dead_letters(queue: &Rc<Queue>, selection: Selection, requeue: bool) -> Promise {
    let queue = queue.clone();
    crate::wasm::platform::promise_of(async move {
        let _ = JsFuture::from(queue.ensure_loaded()).await;
        let ids = match &selection {
            Selection::All => None,
            Selection::Ids(ids) => Some(ids.as_slice()),
        };
        let count = match queue.outbox.try_borrow_mut() {
            Ok(mut outbox) if requeue => outbox.requeue_dead_letters(ids, crate::wasm::platform::now_ms() as u64),
            Ok(mut outbox) => outbox.purge_dead_letters(ids),
            Err(_) => 0,
        };
        queue.kick();
        queue.settle_store().await;
        Ok(number(count))
    })
}

/// `{ responseId }` (what queue-mode `track()` returns at once).
pub fn queued(response_id: &str) -> JsValue {
    let out = Object::new();
    set(&out, "responseId", &JsValue::from_str(response_id));
    out.into()
}

/// `{ responseIds }` (what queue-mode `trackBatch()` returns at once).
pub fn queued_batch(response_ids: &[String]) -> JsValue {
    let out = Object::new();
    let ids: Array = response_ids.iter().map(|id| JsValue::from_str(id)).collect();
    set(&out, "responseIds", &ids);
    out.into()
}

