//! The store pump: runs the outbox's store operations one at a time, in the order it asks for them.

use super::Queue;
use crate::core::outbox::StoreOpKind;
use std::rc::Rc;
use wasm_bindgen::JsValue;

/// Runs store operations until the outbox has none left, then marks the pump idle. Never fails: a failed
/// operation is reported to the outbox, which keeps the records and tries again later.
pub async fn pump(queue: Rc<Queue>) -> Result<JsValue, JsValue> {
    loop {
        let next = queue.outbox.try_borrow_mut().ok().and_then(|mut outbox| outbox.poll_store());
        let Some(op) = next else { break };
        let result = match (&queue.store, &op.kind) {
            (None, _) => Ok(()), // no store: the outbox in memory is all there is
            (Some(store), StoreOpKind::Put(entries)) => store.put(entries).await,
            (Some(store), StoreOpKind::Delete(keys)) => store.delete(keys).await,
        };
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
