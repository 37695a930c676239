//! `tracker.enqueueRecords(texts)`: a persistent-queue tracker taking records another tracker built (the
//! texts a sink was handed), as the Durable Object outbox (`AicmOutbox`) does for every producer's POST.

use crate::core::config::check_batch_count;
use crate::core::error::TrackError;
use crate::wasm::guarded;
use crate::wasm::js_value::{js_string, type_of};
use crate::wasm::options::unreadable;
use crate::wasm::platform::promise_of;
use crate::wasm::tracker::{thrown, Tracker};
use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
impl Tracker {
    /// Takes record JSON texts built by another tracker (what a `sink`'s `send(records)` is handed) into this
    /// persistent-queue tracker's outbox, all or none, and resolves to `{ added, duplicates, unsaved }` once
    /// the store writes they caused have been answered (`unsaved`: records of the whole outbox whose store
    /// write has not succeeded; 0 means everything taken is in the store). Each text is checked in the core
    /// (a JSON object with a non-empty `service_key` and a valid `response_id`, at most `maxRecordBytes`); a
    /// `response_id` already held is kept once. Rejects with an `AicmError` and takes nothing:
    /// `E_INVALID_RECORD` (naming the index), `E_BATCH_TOO_LARGE` (over 10,000), `E_QUEUE_FULL`,
    /// `E_INVALID_BATCH` (not an array), `E_INVALID_OPTION` (an immediate tracker),
    /// `E_TRACKER_CLOSED`.
    #[wasm_bindgen(js_name = enqueueRecords)]
    pub fn enqueue_records(&self, texts: JsValue) -> Promise {
        let prepared = self.read_texts(&texts);
        promise_of(async move {
            let (queue, texts, max_record_bytes) = prepared.map_err(thrown)?;
            let taken = queue.take_texts(texts, max_record_bytes).await.map_err(thrown)?;
            let out = Object::new();
            for (key, n) in [("added", taken.taken.added), ("duplicates", taken.taken.duplicates), ("unsaved", taken.unsaved)] {
                let _ = Reflect::set(&out, &JsValue::from_str(key), &JsValue::from(n as f64));
            }
            Ok(out.into())
        })
    }
}

type Prepared = (std::rc::Rc<crate::wasm::queue::Queue>, Vec<String>, usize);

impl Tracker {
    /// The queue, the texts copied out of the array, and the record size limit; no borrow is held after.
    fn read_texts(&self, texts: &JsValue) -> Result<Prepared, TrackError> {
        let (queue, closed, max_record_bytes) = {
            let state = self.state.try_borrow().map_err(|_| TrackError::Reentrant)?;
            (state.queue.clone(), state.closed, state.config.max_record_bytes)
        };
        if closed {
            return Err(TrackError::TrackerClosed);
        }
        let Some(queue) = queue else {
            return Err(TrackError::InvalidOption {
                option: "deliveryType".to_owned(),
                reason: "enqueueRecords() needs a tracker with deliveryType \"persistent_queue\"".to_owned(),
            });
        };
        let unreadable_texts = |error: JsValue| unreadable("records", &error);
        if !guarded::is_array(texts).map_err(unreadable_texts)? {
            return Err(TrackError::InvalidBatch { found: type_of(texts) });
        }
        let Some(count) = guarded::length(texts).map_err(unreadable_texts)? else {
            return Err(TrackError::InvalidBatch { found: "an array whose length is not a whole number".to_owned() });
        };
        check_batch_count(count as usize)?;
        let mut out = Vec::with_capacity(count as usize);
        for index in 0..count {
            let item = guarded::item(texts, index).map_err(|error| unreadable("records", &error))?;
            let text = js_string(&item).ok_or_else(|| TrackError::InvalidRecord {
                index: index as usize,
                reason: format!("expected a record's JSON text (a string), got {}", type_of(&item)),
            })?;
            out.push(text);
        }
        Ok((queue, out, max_record_bytes))
    }
}
