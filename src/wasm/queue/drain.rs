//! The drain behind `flush()`: under the store's lock (when it has one), pick up what other trackers left,
//! send what is due until the deadline, and settle the store. (`flush({ keepalive: true })` does none of
//! that: see [`drain_now`].)
//!
//! Nothing here waits for the store past the flush's own end ([`StoreTiming::flush_end_ms`]: the deadline
//! plus a small margin for the last deletes), nor for the drain lock past the deadline: a store whose calls
//! never answer, or another tracker that holds the lock forever, cost this flush its deadline and no more.
//! The records it could not deal with stay queued (reported as `remaining`) for the next flush.

use super::js::flush_report;
use super::Queue;
use crate::core::ids::unit_interval;
use crate::core::outbox::{attempt_timeout_ms, Farewell, SendOutput, StoreTiming};
use crate::wasm::guarded::adopt;
use crate::wasm::http::{begin_post, post_json};
use crate::wasm::platform::{now_ms, sleep, Deadline};
use js_sys::{Array, Function, Object, Promise};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// Drains the queue for at most `deadline_ms` (plus [`crate::core::outbox::FLUSH_STORE_MARGIN_MS`] for
/// the store) and resolves to the flush report. Never rejects.
pub async fn drain(queue: Rc<Queue>, deadline_ms: u64) -> Result<JsValue, JsValue> {
    let deadline = (now_ms() as u64).saturating_add(deadline_ms);
    let end = StoreTiming::flush_end_ms(deadline);
    queue.flush_end.set(Some(end));
    let report = drain_within(&queue, deadline, end).await;
    queue.flush_end.set(None);
    Ok(report)
}

async fn drain_within(queue: &Rc<Queue>, deadline: u64, end: u64) -> JsValue {
    // What earlier isolates left (the first load), waited for until the deadline at most.
    let _ = Deadline::start(deadline.saturating_sub(now_ms() as u64)).race(&queue.ensure_loaded()).await;
    let lock = queue.store.as_ref().and_then(|store| store.lock_method().map(|lock| (store.clone(), lock)));
    let Some((store, lock)) = lock else {
        return drain_locked(queue.clone(), deadline, end).await;
    };
    let turn = LockTurn::new();
    let run = {
        let (turn, queue) = (turn.clone(), queue.clone());
        Closure::once_into_js(move || -> Promise {
            turn.started.set(true);
            if turn.abandoned.get() {
                // This flush stopped waiting for the lock: it is over, and the next flush drains.
                return crate::wasm::platform::promise_of(async { Ok(JsValue::UNDEFINED) });
            }
            crate::wasm::platform::promise_of(async move {
                let report = drain_locked(queue, deadline, end).await;
                turn.finish(&report);
                Ok(report)
            })
        })
    };
    let name = format!("drain:{}", queue.namespace);
    let settled = match store.call_lock(&lock, &name, run.unchecked_ref()) {
        Ok(returned) => adopt(&returned),
        Err(failure) => Err(JsValue::from_str(&failure.message)),
    };
    let settled = match settled {
        Ok(promise) => promise,
        Err(thrown) => return without_lock(queue, &turn, &thrown, deadline, end).await,
    };
    // Until the deadline: the drain under the lock finishes, or the lock call settles, or neither.
    let either = Promise::race(&Array::of2(&turn.done, &settled));
    let waited = Deadline::start(StoreTiming::lock_wait_ms(now_ms() as u64, deadline)).race(&either).await;
    match waited {
        Ok(Some(value)) if Object::is(&value, &turn.sentinel) => return turn.report(queue),
        Err(thrown) if !turn.started.get() => return without_lock(queue, &turn, &thrown, deadline, end).await,
        Ok(Some(_)) if !turn.started.get() => {
            // The lock call resolved without running the drain: a broken lock; drain without it.
            return without_lock(queue, &turn, &JsValue::from_str("store.lock resolved without calling back"), deadline, end).await;
        }
        Ok(None) if !turn.started.get() => {
            // Another drain holds the lock past this flush's deadline: give up on it, keep the records.
            turn.abandoned.set(true);
            return turn.report(queue);
        }
        _ => {}
    }
    // The drain under the lock runs: it ends by `end` itself.
    let _ = Deadline::start(end.saturating_sub(now_ms() as u64)).race(&turn.done).await;
    turn.report(queue)
}

/// The lock threw or rejected before granting it: drain without it (at least once beats not at all).
async fn without_lock(queue: &Rc<Queue>, turn: &LockTurn, thrown: &JsValue, deadline: u64, end: u64) -> JsValue {
    turn.abandoned.set(true);
    queue.note_store_result(&Err(format!("store.lock failed: {}", crate::wasm::cause::describe(thrown))));
    drain_locked(queue.clone(), deadline, end).await
}

/// One flush's turn under the store's lock: whether the lock called back, whether the flush stopped
/// waiting for it (a late call-back then does nothing), and the report of the drain it ran.
struct LockTurn {
    started: Cell<bool>,
    abandoned: Cell<bool>,
    report: RefCell<Option<JsValue>>,
    /// Resolves to `sentinel` once the drain under the lock has its report.
    done: Promise,
    resolve: Option<Function>,
    sentinel: Object,
}

impl LockTurn {
    fn new() -> Rc<LockTurn> {
        let mut resolve = None;
        let done = Promise::new(&mut |res, _rej| resolve = Some(res));
        Rc::new(LockTurn {
            started: Cell::new(false),
            abandoned: Cell::new(false),
            report: RefCell::new(None),
            done,
            resolve,
            sentinel: Object::new(),
        })
    }

    fn finish(&self, report: &JsValue) {
        if let Ok(mut slot) = self.report.try_borrow_mut() {
            *slot = Some(report.clone());
        }
        if let Some(resolve) = &self.resolve {
            let _ = resolve.call1(&JsValue::UNDEFINED, &self.sentinel);
        }
    }

    /// The drain's report, or (no drain ran, or it did not finish in time) what is left, all `remaining`.
    fn report(&self, queue: &Queue) -> JsValue {
        if let Some(report) = self.report.try_borrow().ok().and_then(|r| r.clone()) {
            return report;
        }
        let report = queue.outbox.try_borrow().ok().map(|outbox| outbox.unsent_report());
        flush_report(report.as_ref(), &queue.durability())
    }
}

async fn drain_locked(queue: Rc<Queue>, deadline: u64, end: u64) -> JsValue {
    queue.settle_store_until(deadline).await;
    queue.reconcile(true).await;
    if let Ok(mut outbox) = queue.outbox.try_borrow_mut() {
        outbox.begin_flush(now_ms() as u64, deadline);
    }
    let report = send_loop(&queue, deadline, queue.endpoint.clone()).await;
    // Sent: now get the deletes of what was delivered (and the writes of new attempt counts) into the
    // store, retrying what fails while this flush has time (else the next isolate sends them again).
    queue.retry_until.set(Some(end));
    if let Ok(mut outbox) = queue.outbox.try_borrow_mut() {
        outbox.retry_store();
    }
    queue.kick();
    queue.settle_store_until(end).await;
    queue.retry_until.set(None);
    flush_report(report.as_ref(), &queue.durability())
}

/// `flush({ keepalive: true })`, for `pagehide`: asks the outbox for its farewell (see
/// [`crate::core::outbox::Outbox::farewell`]) and starts both its store write and its `keepalive` request
/// before returning, in the caller's task: a page that unloads runs nothing later, so this waits for nothing
/// first (no lock, no store read, no drain in progress, whose in-flight records it leaves to that drain). The
/// promise resolves once the write and the reply are in (if the page lives to see them), by `deadline_ms`, to
/// the report of what that request delivered; never rejects.
pub fn drain_now(queue: Rc<Queue>, deadline_ms: u64) -> Promise {
    let end = StoreTiming::flush_end_ms((now_ms() as u64).saturating_add(deadline_ms));
    let farewell = queue.outbox.try_borrow_mut().ok().map(|mut outbox| outbox.farewell(now_ms() as u64));
    let Farewell { send, put } = farewell.unwrap_or(Farewell { send: None, put: Vec::new() });
    // Both calls reach user code (the store, `fetch`): no borrow is held across them.
    let stored = match (&queue.store, put.is_empty()) {
        (Some(store), false) => Some(store.put_now(&put)),
        _ => None,
    };
    let request = send.map(|send| {
        let mut endpoint = queue.endpoint.clone();
        endpoint.keepalive = true;
        endpoint.timeout_ms = attempt_timeout_ms(endpoint.timeout_ms, deadline_ms);
        let reply = begin_post(&endpoint, send.body.clone());
        (send, reply)
    });
    crate::wasm::platform::promise_of(async move {
        if let Some(started) = stored {
            let budget_ms = queue.timing.call_budget_ms(now_ms() as u64, Some(end));
            let result = match started {
                Ok(value) => match Deadline::start(budget_ms).race_user(&value).await {
                    Ok(Some(_)) => Ok(()),
                    // Unknown: written again with the next store operation (the same values).
                    Ok(None) => Err(format!("store.put did not answer within {budget_ms} ms")),
                    Err(e) => Err(format!("store.put rejected: {}", crate::wasm::cause::describe(&e))),
                },
                Err(failure) => Err(failure.message),
            };
            queue.note_store_result(&result);
            if let Ok(mut outbox) = queue.outbox.try_borrow_mut() {
                outbox.handle_farewell_stored(&put, result);
            }
        }
        let report = match request {
            Some((send, reply)) => {
                let outcome = reply.await.outcome;
                let jitter = match queue.entropy.try_borrow_mut() {
                    Ok(mut pool) => unit_interval(pool.take::<4>()),
                    Err(_) => js_sys::Math::random(),
                };
                queue.outbox.try_borrow_mut().ok().map(|mut outbox| outbox.handle_farewell_reply(&send, outcome, now_ms() as u64, jitter))
            }
            None => queue.outbox.try_borrow().ok().map(|outbox| outbox.unsent_report()),
        };
        queue.kick();
        Ok(flush_report(report.as_ref(), &queue.durability()))
    })
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
                endpoint.timeout_ms = attempt_timeout_ms(endpoint.timeout_ms, deadline.saturating_sub(now));
                let outcome = post_json(&endpoint, body).await.outcome;
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
