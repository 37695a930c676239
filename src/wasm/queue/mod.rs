//! `deliveryType: "persistent_queue"`: drives the core's [`Outbox`] with the user's store, `fetch` and timers.
//!
//! Three small loops, each a thin executor of the outbox's decisions:
//! - the **store pump** ([`pump`]) runs the outbox's store operations one at a time, in order; it is started
//!   (on a microtask) by every change, so the records tracked in one tick go out as one `store.put`;
//! - the **load** ([`Queue::ensure_loaded`]) reads what an earlier isolate or page left in the store, once, on
//!   first use (never at construction, which may run at module scope);
//! - the **drain** ([`drain`]) behind `flush()` sends what is due, under the store's lock when it has one.

mod drain;
mod handoff;
pub mod js;
mod pump;
mod store;

pub use store::Store;

use crate::core::batch::EncodedRecord;
use crate::core::error::TrackError;
use crate::core::outbox::{listed_entries_to_read, listing_may_forget, Outbox, OutboxConfig, StoreTiming};
use crate::wasm::http::Endpoint;
use crate::wasm::platform::{now_ms, Deadline, Entropy};
use js_sys::Promise;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

/// The queue of one tracker.
pub struct Queue {
    outbox: RefCell<Outbox>,
    store: Option<Store>,
    namespace: String,
    endpoint: Endpoint,
    entropy: Rc<RefCell<Entropy>>,
    /// The running store pump, if any (awaited by whoever needs the store settled).
    pump: RefCell<Option<Promise>>,
    /// The load of the store's contents, started on first use.
    load: RefCell<Option<Promise>>,
    /// The running drain: concurrent `flush()` calls share it.
    flush: RefCell<Option<Promise>>,
    /// Why the last store call failed, for `stats()`; `None` when the last one worked.
    store_error: RefCell<Option<String>>,
    /// How long store calls may take.
    timing: StoreTiming,
    /// While a flush runs: when it stops waiting for the store ([`StoreTiming::flush_end_ms`]). Store calls
    /// are cut at it, and failed ones retried until it.
    flush_end: Cell<Option<u64>>,
    /// While a flush that has finished sending waits for the store: until when failed store operations
    /// are retried ([`StoreTiming::retry_at`]).
    retry_until: Cell<Option<u64>>,
}

impl Queue {
    pub fn new(
        config: OutboxConfig,
        store: Option<Store>,
        endpoint: Endpoint,
        entropy: Rc<RefCell<Entropy>>,
    ) -> Rc<Queue> {
        let namespace = config.namespace.clone();
        let timing = StoreTiming::new(endpoint.timeout_ms);
        Rc::new(Queue {
            outbox: RefCell::new(Outbox::new(config)),
            store,
            namespace,
            endpoint,
            entropy,
            pump: RefCell::new(None),
            load: RefCell::new(None),
            flush: RefCell::new(None),
            store_error: RefCell::new(None),
            timing,
            flush_end: Cell::new(None),
            retry_until: Cell::new(None),
        })
    }

    /// Adds a record to the outbox and starts its store write (on a microtask, shared by the whole tick).
    /// Fails with `E_QUEUE_FULL` when the outbox is full: nothing is added then.
    pub fn enqueue(self: &Rc<Self>, record: EncodedRecord) -> Result<(), TrackError> {
        self.outbox.try_borrow_mut().map_err(|_| TrackError::Reentrant)?.enqueue(record, now_ms() as u64)?;
        self.kick();
        Ok(())
    }

    /// Adds all the records of one `trackBatch()` or none ([`Outbox::enqueue_all`]: `E_QUEUE_FULL` when its
    /// new records do not all fit), and starts their store write.
    pub fn enqueue_all(self: &Rc<Self>, records: Vec<EncodedRecord>) -> Result<(), TrackError> {
        self.outbox.try_borrow_mut().map_err(|_| TrackError::Reentrant)?.enqueue_all(records, now_ms() as u64)?;
        self.kick();
        Ok(())
    }

    /// Starts the load (once) and the store pump (when idle).
    pub fn kick(self: &Rc<Self>) {
        let _ = self.ensure_loaded();
        let running = self.pump.try_borrow().map(|p| p.is_some()).unwrap_or(true);
        if !running {
            let promise = crate::wasm::platform::promise_of(pump::pump(self.clone()));
            if let Ok(mut slot) = self.pump.try_borrow_mut() {
                *slot = Some(promise);
            }
        }
    }

    /// The load of the store's contents (started on the first call).
    pub fn ensure_loaded(self: &Rc<Self>) -> Promise {
        if let Some(promise) = self.load.try_borrow().ok().and_then(|l| l.clone()) {
            return promise;
        }
        let queue = self.clone();
        let promise = crate::wasm::platform::promise_of(async move {
            queue.reconcile(false).await;
            Ok(JsValue::UNDEFINED)
        });
        if let Ok(mut slot) = self.load.try_borrow_mut() {
            *slot = Some(promise.clone());
        }
        promise
    }

    /// Lists the store under this tracker's namespace and hands the entries to the outbox. With
    /// `drop_missing`, records another tracker delivered are forgotten when the core allows it
    /// ([`listing_may_forget`]: consistent stores, listings without malformed items).
    async fn reconcile(self: &Rc<Self>, drop_missing: bool) {
        let Some(store) = &self.store else { return };
        let bound = self.outbox.try_borrow().map(|outbox| outbox.config().max_queue_size).unwrap_or(0);
        let max_entries = listed_entries_to_read(bound);
        match store.list(&self.namespace, self.store_budget_ms(), max_entries).await {
            Ok((entries, malformed)) => {
                let forget = listing_may_forget(drop_missing, malformed, store.consistent());
                if let Ok(mut outbox) = self.outbox.try_borrow_mut() {
                    outbox.handle_listed(entries, now_ms() as u64, forget);
                }
                self.note_store_result(&Ok(()));
            }
            Err(failure) => self.note_store_result(&Err(failure.message)),
        }
        self.kick();
    }

    fn note_store_result(&self, result: &Result<(), String>) {
        if let Ok(mut slot) = self.store_error.try_borrow_mut() {
            *slot = result.as_ref().err().cloned();
        }
    }

    /// How long a store call started now may take (cut at the running flush's end).
    fn store_budget_ms(&self) -> u64 {
        self.timing.call_budget_ms(now_ms() as u64, self.flush_end.get())
    }

    /// Resolves once the store pump has nothing left to do, or at epoch ms `end` (a flush's end: a store
    /// that never answers must not hold the flush), whichever comes first. `false` when `end` came first.
    pub async fn settle_store_until(&self, end: u64) -> bool {
        loop {
            let running = self.pump.try_borrow().ok().and_then(|p| p.clone());
            let Some(promise) = running else { return true };
            let timer = Deadline::start(end.saturating_sub(now_ms() as u64));
            if let Ok(None) = timer.race(&promise).await {
                return false;
            }
        }
    }

    /// Resolves once the store pump has nothing left to do (each store call is bounded by the store
    /// timeout, so this ends).
    pub async fn settle_store(&self) {
        loop {
            let running = self.pump.try_borrow().ok().and_then(|p| p.clone());
            match running {
                Some(promise) => {
                    let _ = JsFuture::from(promise).await;
                }
                None => break,
            }
        }
    }

    /// "memory" without a store, else what the store says.
    pub fn durability(&self) -> String {
        self.store.as_ref().map_or_else(|| "memory".to_owned(), Store::durability)
    }

    /// `flush({ deadlineMs, keepalive })`: one drain at a time; a second call while one runs gets the same
    /// promise. `keepalive` (a page going away) never waits for that drain: it sends from memory at once,
    /// before this returns, what that drain does not carry (see [`drain::drain_now`]).
    pub fn flush(self: &Rc<Self>, deadline_ms: u64, keepalive: bool) -> Promise {
        if keepalive {
            return drain::drain_now(self.clone(), deadline_ms);
        }
        if let Some(running) = self.flush.try_borrow().ok().and_then(|f| f.clone()) {
            // Share the running drain, but within this call's own deadline: a drain started by `close()` or by
            // a flush with a longer deadline goes on, and this call resolves at its deadline with what is
            // still waiting counted as `remaining`.
            let queue = self.clone();
            return crate::wasm::platform::promise_of(async move {
                match crate::wasm::platform::Deadline::start(deadline_ms).race(&running).await {
                    Ok(Some(report)) => Ok(report),
                    _ => {
                        let report = queue.outbox.try_borrow().ok().map(|outbox| outbox.unsent_report());
                        Ok(js::flush_report(report.as_ref(), &queue.durability()))
                    }
                }
            });
        }
        let queue = self.clone();
        let promise = crate::wasm::platform::promise_of(async move {
            let report = drain::drain(queue.clone(), deadline_ms).await;
            if let Ok(mut slot) = queue.flush.try_borrow_mut() {
                *slot = None;
            }
            report
        });
        if let Ok(mut slot) = self.flush.try_borrow_mut() {
            *slot = Some(promise.clone());
        }
        promise
    }
}
