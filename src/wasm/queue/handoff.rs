//! Taking record texts another tracker's sink handed over (the Durable Object outbox's `POST`).

use super::Queue;
use crate::core::error::TrackError;
use crate::core::outbox::TakenTexts;
use crate::wasm::platform::now_ms;
use std::rc::Rc;

/// What [`Queue::take_texts`] did: the core's counts, and how many records (of the whole outbox) still wait
/// for a successful store write once the store went quiet (0: everything taken is in the store).
pub struct Taken {
    pub taken: TakenTexts,
    pub unsaved: usize,
}

impl Queue {
    /// Loads the store first (so that records already stored are recognised as duplicates), then queues the
    /// texts all or none ([`crate::core::outbox::Outbox::enqueue_texts`]), then waits for the store pump to go
    /// quiet, so that the caller answers only once the writes were issued and answered. Errors change
    /// nothing (`E_INVALID_RECORD`, `E_QUEUE_FULL`, `E_BATCH_TOO_LARGE`, `E_REENTRANT`).
    pub async fn take_texts(self: &Rc<Self>, texts: Vec<String>, max_record_bytes: usize) -> Result<Taken, TrackError> {
        let _ = wasm_bindgen_futures::JsFuture::from(self.ensure_loaded()).await;
        let taken = self
            .outbox
            .try_borrow_mut()
            .map_err(|_| TrackError::Reentrant)?
            .enqueue_texts(texts, max_record_bytes, now_ms() as u64)?;
        self.kick();
        self.settle_store().await;
        let unsaved = self.outbox.try_borrow().map(|outbox| outbox.stats().unsaved).unwrap_or(0);
        Ok(Taken { taken, unsaved })
    }
}
