//! The `Tracker` calls about delivery as a whole: `flush`, `stats`, the dead letters and `close`. With
//! `deliveryType: "persistent_queue"` they work on the outbox; with `"immediate"` they wait for the deliveries
//! in flight and report an empty queue, so the same Worker or page code runs with either.

use crate::core::config::{flush_deadline_ms, DEFAULT_FLUSH_DEADLINE_MS};
use crate::core::error::TrackError;
use crate::wasm::guarded;
use crate::wasm::js_value::type_of;
use crate::wasm::options::{read_field_list, unreadable};
use crate::wasm::platform::promise_of;
use crate::wasm::queue::js::{change_dead_letters, dead_letters, flush_report, stats, Selection};
use crate::wasm::queue::Queue;
use crate::wasm::tracker::{thrown, JsResult, Tracker};
use js_sys::{Array, Object, Promise, Reflect};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
impl Tracker {
    /// Delivers what is due, for at most `deadlineMs` (default 20,000), and resolves to
    /// `{ sent, deadLettered, retryLater, remaining, durability }`. Never rejects: failures are counts. Two calls
    /// at once share one drain, each resolving by its own deadline. Hand it to `ctx.waitUntil()` (Workers), `after()` (Next.js) or call it on
    /// `pagehide` (browsers, with `keepalive: true`: starts one `keepalive` request from memory and its leased
    /// store write before returning, waiting for no lock, store or drain in progress; see
    /// `crate::core::outbox::Outbox::farewell`). Throws `E_INVALID_OPTION` for a bad `deadlineMs` or `keepalive`.
    pub fn flush(&self, options: JsValue) -> JsResult<Promise> {
        let deadline = read_deadline(&options).map_err(thrown)?;
        let keepalive = read_keepalive(&options).map_err(thrown)?;
        Ok(match self.queue() {
            Some(queue) => queue.flush(deadline, keepalive),
            None => self.settle_in_flight(),
        })
    }

    /// `{ queued, inFlight, sent, deadLettered, dropped, bytes, durability, storeError }` right now. `dropped`
    /// is always 0: nothing tracked is ever dropped.
    pub fn stats(&self) -> JsValue {
        match self.queue() {
            Some(queue) => stats(&queue),
            None => {
                let out = Object::new();
                let in_flight = self.state.try_borrow().map(|s| s.in_flight.len()).unwrap_or(0);
                for (key, value) in [("queued", 0), ("inFlight", in_flight), ("sent", 0), ("deadLettered", 0), ("dropped", 0), ("bytes", 0)] {
                    let _ = Reflect::set(&out, &JsValue::from_str(key), &JsValue::from(value as f64));
                }
                let _ = Reflect::set(&out, &JsValue::from_str("durability"), &JsValue::from_str("none"));
                out.into()
            }
        }
    }

    /// The dead letters: records the service refused or that could not be delivered within `maxAttempts` or
    /// `maxAgeMs`, with the reason. Resolves to an array (empty in immediate mode).
    #[wasm_bindgen(js_name = deadLetters)]
    pub fn dead_letters(&self) -> Promise {
        match self.queue() {
            Some(queue) => dead_letters(&queue),
            None => promise_of(async { Ok(JsValue::from(Array::new())) }),
        }
    }

    /// Puts dead letters back in the queue (all, or those whose `responseId` is listed), due now with their
    /// attempts reset. Resolves to how many. Throws `E_INVALID_OPTION` when `ids` is not an array of strings.
    #[wasm_bindgen(js_name = requeueDeadLetters)]
    pub fn requeue_dead_letters(&self, ids: JsValue) -> JsResult<Promise> {
        self.change_dead_letters(ids, true)
    }

    /// Deletes dead letters for good (all, or those listed). Resolves to how many.
    #[wasm_bindgen(js_name = purgeDeadLetters)]
    pub fn purge_dead_letters(&self, ids: JsValue) -> JsResult<Promise> {
        self.change_dead_letters(ids, false)
    }

    /// Stops accepting records, then flushes (persistent queue) or waits for the deliveries in flight
    /// (immediate). Later `track()` calls throw `E_TRACKER_CLOSED`. Resolves to the last flush report; calling
    /// it twice is harmless.
    pub fn close(&self) -> Promise {
        let queue = self.queue();
        if let Ok(mut state) = self.state.try_borrow_mut() {
            state.closed = true;
        }
        match queue {
            Some(queue) => queue.flush(DEFAULT_FLUSH_DEADLINE_MS, false),
            None => self.settle_in_flight(),
        }
    }
}

impl Tracker {
    fn queue(&self) -> Option<Rc<Queue>> {
        self.state.try_borrow().ok().and_then(|s| s.queue.clone())
    }

    /// Resolves once the immediate deliveries in flight have finished, to an empty flush report.
    fn settle_in_flight(&self) -> Promise {
        let pending: Array = match self.state.try_borrow() {
            Ok(state) => state.in_flight.iter().map(|(_, p)| JsValue::from(p.clone())).collect(),
            Err(_) => Array::new(),
        };
        crate::wasm::platform::promise_of(async move {
            let _ = JsFuture::from(Promise::all_settled(&pending)).await;
            Ok(flush_report(None, "none"))
        })
    }

    fn change_dead_letters(&self, ids: JsValue, requeue: bool) -> JsResult<Promise> {
        let selection = if ids.is_undefined() || ids.is_null() {
            Selection::All
        } else {
            Selection::Ids(read_field_list(&ids, "ids", "ids").map_err(thrown)?)
        };
        Ok(match self.queue() {
            Some(queue) => change_dead_letters(&queue, selection, requeue),
            None => promise_of(async { Ok(JsValue::from(0)) }),
        })
    }
}

/// `options[name]` of a `flush()` options object; `None` when the options or the property are absent.
/// Options that are not an object are `E_INVALID_OPTION`; a read that throws is `E_UNREADABLE_VALUE`.
fn flush_option(options: &JsValue, name: &str) -> Result<Option<JsValue>, TrackError> {
    if options.is_undefined() || options.is_null() {
        return Ok(None);
    }
    if !options.is_object() {
        return Err(TrackError::InvalidOption {
            option: "options".to_owned(),
            reason: format!("expected an object such as {{ deadlineMs: 5000 }}, got {}", type_of(options)),
        });
    }
    let value = guarded::get(options, name).map_err(|error| unreadable(format!("options.{name}"), &error))?;
    Ok(Some(value).filter(|v| !v.is_undefined()))
}

fn read_keepalive(options: &JsValue) -> Result<bool, TrackError> {
    let Some(value) = flush_option(options, "keepalive")? else {
        return Ok(false);
    };
    value.as_bool().ok_or_else(|| TrackError::InvalidOption {
        option: "keepalive".to_owned(),
        reason: format!("must be a boolean, got {}", type_of(&value)),
    })
}

/// `options.deadlineMs`: a number, whose range and default the core decides ([`flush_deadline_ms`]).
fn read_deadline(options: &JsValue) -> Result<u64, TrackError> {
    let Some(value) = flush_option(options, "deadlineMs")? else {
        return flush_deadline_ms(None);
    };
    let Some(ms) = value.as_f64() else {
        return Err(TrackError::InvalidOption {
            option: "deadlineMs".to_owned(),
            reason: format!("must be a number, got {}", type_of(&value)),
        });
    };
    flush_deadline_ms(Some(ms))
}
