//! Scenario tests of the outbox on a virtual clock, with scripted HTTP outcomes and a fake store (a map the
//! test applies [`StoreOp`]s to). Only the public API is used, as the bindings use it.

// Test-only file (declared `#[cfg(test)] mod tests;` in outbox/mod.rs); tests/source_rules.rs reads
// everything after the first `#[cfg(test)]` as test code.
#[cfg(test)]
mod bounds;
mod isolates;
mod redaction;
mod scenarios;
mod keepalive;
mod soak;
mod store;

use std::collections::BTreeMap;

use super::*;
use crate::core::json;
use crate::core::record;
use crate::core::retry::{HttpOutcome, RetryPolicy};
use crate::core::value::Value;

/// 2015-10-21T07:28:00Z: the virtual clock starts here.
pub(super) const T0: u64 = 1_445_412_480_000;
/// Virtual time one request takes.
pub(super) const LATENCY: u64 = 5;
/// The jitter every test passes: the outbox draws from the upper half of each window (equal jitter), so
/// windows 500, 1000, 2000 ms... give 375, 750, 1500 ms...
pub(super) const JITTER: f64 = 0.5;
pub(super) const NS: &str = "aicm/v1/00000000feedbeef/";

/// The tests' outbox: the product's defaults ([`OutboxConfig::new`]) but a short retry policy (5 attempts, 500 ms
/// base, 30 s cap) so that exhausting attempts takes a few virtual seconds. Tests of the defaults themselves use
/// `OutboxConfig::new` (tests/isolates.rs).
pub(super) fn config() -> OutboxConfig {
    OutboxConfig { policy: RetryPolicy { max_attempts: 5, ..RetryPolicy::IMMEDIATE }, ..OutboxConfig::new(NS) }
}

/// A record encoded as the tracker encodes it.
pub(super) fn rec(id: &str) -> EncodedRecord {
    let payload = Value::object([
        ("prompt_tokens", Value::Number(19.0)),
        ("completion_tokens", Value::Number(10.0)),
        ("total_tokens", Value::Number(29.0)),
    ]);
    let json = record::encode("openai::gpt-4o-mini", id, 1_736_937_000_000_000, &payload, None, None);
    EncodedRecord { response_id: id.to_owned(), json }
}

pub(super) fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

pub(super) fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

pub(super) use crate::core::batch::response_ids_in as ids_in;

pub(super) fn http(status: u16, body: &str) -> HttpOutcome {
    HttpOutcome::Response { status, retry_after: None, body: body.to_owned() }
}

pub(super) fn http_retry_after(status: u16, retry_after: &str) -> HttpOutcome {
    HttpOutcome::Response { status, retry_after: Some(retry_after.to_owned()), body: String::new() }
}

/// A 202 giving every id the status `status`.
pub(super) fn results(ids: &[String], status: &str) -> HttpOutcome {
    let items: Vec<String> = ids.iter().map(|id| format!(r#"{{"response_id":"{id}","status":"{status}"}}"#)).collect();
    http(202, &format!(r#"{{"results":[{}]}}"#, items.join(",")))
}

/// The fake store: what the test applies the outbox's operations to, with a log of them.
#[derive(Debug, Default)]
pub(super) struct FakeStore {
    pub(super) map: BTreeMap<String, String>,
    pub(super) log: Vec<StoreOpKind>,
}

impl FakeStore {
    pub(super) fn apply(&mut self, op: &StoreOp) {
        match &op.kind {
            StoreOpKind::Put(entries) => {
                for (k, v) in entries {
                    self.map.insert(k.clone(), v.clone());
                }
            }
            StoreOpKind::Delete(keys) => {
                for k in keys {
                    self.map.remove(k);
                }
            }
        }
        self.log.push(op.kind.clone());
    }

    /// Runs every operation the outbox asks for, all succeeding.
    pub(super) fn settle(&mut self, outbox: &mut Outbox) {
        let mut guard = 0;
        while let Some(op) = outbox.poll_store() {
            self.apply(&op);
            outbox.handle_stored(op.id, Ok(()));
            guard += 1;
            assert!(guard < 100, "store ops do not converge");
        }
    }

    pub(super) fn listing(&self) -> Vec<(String, String)> {
        self.map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Ids under `q/` (kind "q") or `d/` (kind "d"), sorted.
    pub(super) fn ids(&self, kind: &str) -> Vec<String> {
        let prefix = format!("{NS}{kind}/");
        self.map.keys().filter_map(|k| k.strip_prefix(&prefix)).map(str::to_owned).collect()
    }

    /// The parsed value under `<ns><kind>/<id>`.
    pub(super) fn value(&self, kind: &str, id: &str) -> Value {
        json::parse(self.map.get(&format!("{NS}{kind}/{id}")).expect("stored")).expect("JSON")
    }
}

/// What a flush did, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Event {
    Send { at: u64, ids: Vec<String> },
    Wait { at: u64, until: u64 },
}

pub(super) struct Run {
    pub(super) report: FlushReport,
    pub(super) events: Vec<Event>,
}

impl Run {
    pub(super) fn sends(&self) -> Vec<Vec<String>> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Send { ids, .. } => Some(ids.clone()),
                Event::Wait { .. } => None,
            })
            .collect()
    }

    pub(super) fn send_times(&self) -> Vec<u64> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Send { at, .. } => Some(*at),
                Event::Wait { .. } => None,
            })
            .collect()
    }

    /// For each Wait: how long after the previous reply it waits.
    pub(super) fn waits(&self) -> Vec<u64> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Wait { at, until } => Some(until - at),
                Event::Send { .. } => None,
            })
            .collect()
    }
}

/// Drives one flush from `*now` to its `Done`, with the store settling after every change. Each send takes
/// [`LATENCY`]; the server sees the ids of each body.
pub(super) fn drive_flush(
    outbox: &mut Outbox,
    store: &mut FakeStore,
    now: &mut u64,
    deadline_in: u64,
    mut server: impl FnMut(&[String]) -> HttpOutcome,
) -> Run {
    store.settle(outbox);
    outbox.begin_flush(*now, *now + deadline_in);
    let mut events = Vec::new();
    for _ in 0..10_000 {
        match outbox.poll_send(*now) {
            SendOutput::Send { id, body } => {
                let sent = ids_in(&body);
                events.push(Event::Send { at: *now, ids: sent.clone() });
                let outcome = server(&sent);
                *now += LATENCY;
                outbox.handle_response(id, outcome, *now, JITTER);
                store.settle(outbox);
            }
            SendOutput::Wait { until_ms } => {
                assert!(until_ms > *now, "a wait is in the future");
                events.push(Event::Wait { at: *now, until: until_ms });
                *now = until_ms;
            }
            SendOutput::AwaitResponse { id } => panic!("batch {id:?} was answered"),
            SendOutput::Done(report) => {
                store.settle(outbox);
                return Run { report, events };
            }
        }
    }
    panic!("the flush does not end");
}

/// A server answering from a script, then accepting everything.
pub(super) fn script(answers: Vec<HttpOutcome>) -> impl FnMut(&[String]) -> HttpOutcome {
    let mut answers = std::collections::VecDeque::from(answers);
    move |ids| answers.pop_front().unwrap_or_else(|| results(ids, "queued"))
}

/// An outbox with `ids` enqueued at `T0` and persisted.
pub(super) fn outbox_with(config: OutboxConfig, ids: &[String], store: &mut FakeStore) -> Outbox {
    let mut outbox = Outbox::new(config);
    outbox.handle_listed(store.listing(), T0, true);
    for id in ids {
        outbox.enqueue(rec(id), T0).expect("room");
    }
    store.settle(&mut outbox);
    outbox
}
