//! The no-loss soak: thousands of records through seeded random faults. Afterwards every tracked
//! `response_id` is either accepted by the fake server (which dedupes by `response_id`) or a dead letter
//! with a reason; none is missing.
//!
//! Faults: every HTTP outcome the queue knows (5xx, 408, 429 with `Retry-After` seconds or date, network
//! errors, timeouts after or before the server stored the batch, unreadable 2xx, missing results,
//! per-record errors, 413, 422, 400, replies that never come and come late), store operations that fail
//! (before or after being applied), stale listings, requeues, and isolate deaths (the outbox is dropped
//! mid-flush, in-flight reply lost, and a new one is built from the store's contents).

// Test-only file (declared `#[cfg(test)] mod tests;` in outbox/mod.rs); tests/source_rules.rs reads
// everything after the first `#[cfg(test)]` as test code.
#[cfg(test)]
use std::collections::BTreeSet;

use super::*;

/// xorshift64*: a small deterministic generator for the faults.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A record the server always rejects (as invalid).
fn poison(id: &str) -> bool {
    id.ends_with("13") || id.ends_with("77")
}

/// A record too large for the server even alone.
fn huge(id: &str) -> bool {
    id.ends_with("999")
}

/// The ingest server: stores what it accepts, once per `response_id`.
#[derive(Default)]
struct Server {
    accepted: BTreeSet<String>,
    /// Records received again after being accepted (duplicates on the wire).
    duplicates: usize,
    requests: usize,
    faulty: bool,
}

impl Server {
    fn store(&mut self, ids: &[String]) {
        for id in ids.iter().filter(|id| !poison(id)) {
            if !self.accepted.insert(id.clone()) {
                self.duplicates += 1;
            }
        }
    }

    /// A normal 202: poison records rejected, the others stored; some results left out when faulty.
    fn normal(&mut self, ids: &[String], rng: &mut Rng) -> HttpOutcome {
        self.store(ids);
        let items: Vec<String> = ids
            .iter()
            .filter(|_| !(self.faulty && rng.chance(5)))
            .map(|id| {
                if poison(id) {
                    format!(r#"{{"response_id":"{id}","status":"error","errors":["payload: invalid"]}}"#)
                } else {
                    format!(r#"{{"response_id":"{id}","status":"queued"}}"#)
                }
            })
            .collect();
        http(202, &format!(r#"{{"results":[{}]}}"#, items.join(",")))
    }

    /// What a reply that was lost on the way would have said, per the server's state now: accepted
    /// records "queued", poison ones "error", the others (never stored) left out.
    fn lost_reply(&self, ids: &[String]) -> HttpOutcome {
        let items: Vec<String> = ids
            .iter()
            .filter_map(|id| {
                if poison(id) {
                    Some(format!(r#"{{"response_id":"{id}","status":"error","errors":["payload: invalid"]}}"#))
                } else {
                    self.accepted.contains(id).then(|| format!(r#"{{"response_id":"{id}","status":"queued"}}"#))
                }
            })
            .collect();
        http(202, &format!(r#"{{"results":[{}]}}"#, items.join(",")))
    }

    /// The answer to one request; `None` when it never comes (the server may still have stored it).
    fn answer(&mut self, ids: &[String], now: u64, rng: &mut Rng) -> Option<HttpOutcome> {
        self.requests += 1;
        if ids.iter().any(|id| huge(id)) {
            return Some(http(413, "Payload Too Large"));
        }
        if !self.faulty {
            return Some(self.normal(ids, rng));
        }
        let roll = rng.below(100);
        Some(match roll {
            0..=49 => self.normal(ids, rng),
            50..=54 => http(500, "Internal Server Error"),
            55..=57 => http(503, "Service Unavailable"),
            58..=59 => http(408, ""),
            60..=61 => http_retry_after(429, &(1 + rng.below(3)).to_string()),
            62 => {
                let at = crate::core::timestamp::format_rfc3339_millis(((now + 2_000) * 1000) as i64);
                // An RFC 3339 string is not an HTTP date: the outbox falls back to backoff.
                http_retry_after(429, &at)
            }
            63 => http_retry_after(503, "Wed, 21 Oct 2015 07:28:03 GMT"), // T0 + 3 s: soon in the past
            64..=68 => HttpOutcome::Network { message: "connection reset".into() },
            69..=73 => {
                if rng.chance(50) {
                    self.store(ids);
                }
                HttpOutcome::Timeout { timeout_ms: 10_000 }
            }
            74..=77 => {
                self.store(ids);
                http(200, "<html>OK</html>")
            }
            78..=82 if ids.len() > 1 => http(413, "Payload Too Large"),
            83..=87 => {
                let named: Vec<String> = ids
                    .iter()
                    .filter(|id| poison(id))
                    .map(|id| format!(r#"{{"response_id":"{id}","errors":["payload: invalid"]}}"#))
                    .collect();
                if named.is_empty() {
                    self.normal(ids, rng)
                } else {
                    http(422, &format!(r#"{{"results":[{}]}}"#, named.join(",")))
                }
            }
            88 => http(400, "Bad Request"),
            89..=92 => {
                if rng.chance(50) {
                    self.store(ids);
                }
                return None;
            }
            _ => self.normal(ids, rng),
        })
    }
}

struct Totals {
    enqueued: usize,
    refused: usize,
    deaths: usize,
    store_failures: usize,
    late_replies: usize,
}

/// Performs the outbox's store operations; when `faulty`, some fail (before or after being applied).
fn pump_store(ob: &mut Outbox, store: &mut FakeStore, rng: &mut Rng, faulty: bool, totals: &mut Totals) {
    for _ in 0..20 {
        let Some(op) = ob.poll_store() else { return };
        let roll = if faulty { rng.below(100) } else { 99 };
        if roll < 10 {
            totals.store_failures += 1;
            ob.handle_stored(op.id, Err("store unavailable".into()));
        } else if roll < 15 {
            totals.store_failures += 1;
            store.apply(&op);
            ob.handle_stored(op.id, Err("applied, but reported as failed".into()));
        } else {
            store.apply(&op);
            ob.handle_stored(op.id, Ok(()));
        }
    }
}

/// The runtime keeps the isolate until its writes settle, then kills it: a new outbox starts from the store.
fn die_and_restart(ob: &mut Outbox, store: &mut FakeStore, now: u64, totals: &mut Totals) {
    let config = ob.config().clone();
    ob.handle_listed(store.listing(), now, false); // a drain start: failed writes are retried
    store.settle(ob);
    assert_eq!(ob.stats().unsaved, 0, "everything tracked is in the store before the isolate dies");
    *ob = Outbox::new(config);
    ob.handle_listed(store.listing(), now, true);
    totals.deaths += 1;
}

fn soak(seed: u64, records: usize, max_queue_size: usize) -> Totals {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut server = Server { faulty: true, ..Server::default() };
    let mut store = FakeStore::default();
    let mut ob = Outbox::new(OutboxConfig { max_batch_size: 40, max_queue_size, ..config() });
    let lease = ob.config().lease_ms;
    let mut now = T0;
    let mut tracked: Vec<String> = Vec::new();
    let mut totals = Totals { enqueued: 0, refused: 0, deaths: 0, store_failures: 0, late_replies: 0 };
    let mut late: Vec<(BatchId, HttpOutcome)> = Vec::new();
    let mut next_id = 0usize;

    let mut track = |ob: &mut Outbox, now: u64, rng: &mut Rng, tracked: &mut Vec<String>, totals: &mut Totals| {
        // Mostly fresh ids; sometimes one tracked before (a retry by the app: same response_id).
        let id = if !tracked.is_empty() && rng.chance(3) {
            tracked[rng.below(tracked.len() as u64) as usize].clone()
        } else {
            next_id += 1;
            format!("s{seed}-{next_id:05}")
        };
        match ob.enqueue(rec(&id), now) {
            Ok(()) => {
                totals.enqueued += 1;
                tracked.push(id);
            }
            Err(e) => {
                assert_eq!(e.code(), "E_QUEUE_FULL");
                totals.refused += 1;
            }
        }
    };

    let mut round = 0;
    while totals.enqueued < records {
        round += 1;
        assert!(round < 10_000, "the soak does not progress");
        let stale = store.listing();
        for _ in 0..rng.below(80) {
            track(&mut ob, now, &mut rng, &mut tracked, &mut totals);
        }
        pump_store(&mut ob, &mut store, &mut rng, true, &mut totals);

        if rng.chance(75) {
            let listing = if rng.chance(20) { stale } else { store.listing() };
            ob.handle_listed(listing, now, true);
            ob.begin_flush(now, now + 1_000 + rng.below(30_000));
            let mut died = false;
            for _ in 0..5_000 {
                if !late.is_empty() && rng.chance(10) {
                    let (id, outcome) = late.remove(rng.below(late.len() as u64) as usize);
                    totals.late_replies += 1;
                    ob.handle_response(id, outcome, now, rng.unit());
                    pump_store(&mut ob, &mut store, &mut rng, true, &mut totals);
                }
                match ob.poll_send(now) {
                    SendOutput::Send { id, body } => {
                        let sent = ids_in(&body);
                        let answer = server.answer(&sent, now, &mut rng);
                        if rng.chance(2) {
                            // The isolate dies with the request on the wire: the reply is lost.
                            die_and_restart(&mut ob, &mut store, now, &mut totals);
                            died = true;
                            break;
                        }
                        now += 1 + rng.below(200);
                        match answer {
                            Some(outcome) => ob.handle_response(id, outcome, now, rng.unit()),
                            None => {
                                if rng.chance(50) {
                                    late.push((id, server.lost_reply(&sent)));
                                }
                            }
                        }
                        if rng.chance(5) {
                            track(&mut ob, now, &mut rng, &mut tracked, &mut totals);
                        }
                        pump_store(&mut ob, &mut store, &mut rng, true, &mut totals);
                    }
                    SendOutput::Wait { until_ms } => now = until_ms,
                    SendOutput::AwaitResponse { .. } => now += lease,
                    SendOutput::Done(report) => {
                        assert!(report.remaining >= report.retry_later);
                        break;
                    }
                }
            }
            if died {
                late.clear();
            }
        }
        if rng.chance(3) {
            ob.requeue_dead_letters(None, now);
        }
        pump_store(&mut ob, &mut store, &mut rng, true, &mut totals);
        if rng.chance(6) {
            die_and_restart(&mut ob, &mut store, now, &mut totals);
            late.clear();
        }
        now += rng.below(60_000);
    }

    // The outage ends: deliver what is left.
    server.faulty = false;
    for (id, outcome) in late.drain(..) {
        ob.handle_response(id, outcome, now, 0.5);
    }
    for _ in 0..50 {
        ob.handle_listed(store.listing(), now, true);
        store.settle(&mut ob);
        let mut rng_ok = Rng(7);
        let run = drive_flush(&mut ob, &mut store, &mut now, 3_600_000, |ids| server.answer(ids, T0, &mut rng_ok).expect("answers"));
        if run.report.remaining == 0 {
            break;
        }
        now += 60_000;
    }
    store.settle(&mut ob);

    let stats = ob.stats();
    assert_eq!((stats.queued, stats.in_flight, stats.unsaved, stats.dropped), (0, 0, 0, 0), "everything finished");
    let letters = ob.dead_letters();
    let dead: BTreeSet<String> = letters.iter().map(|d| d.response_id.clone()).collect();
    assert!(letters.iter().all(|d| !d.reason.is_empty()), "every dead letter says why");
    let expected: BTreeSet<String> = tracked.iter().cloned().collect();
    let missing: Vec<&String> = expected.iter().filter(|id| !server.accepted.contains(*id) && !dead.contains(*id)).collect();
    assert!(missing.is_empty(), "seed {seed}: {} records lost, e.g. {:?}", missing.len(), &missing[..missing.len().min(5)]);
    assert!(server.accepted.iter().all(|id| !poison(id)));
    for id in expected.iter().filter(|id| poison(id) || huge(id)) {
        assert!(dead.contains(id), "{id} can only end as a dead letter");
    }
    // The store holds exactly the dead letters.
    assert!(store.ids("q").is_empty(), "seed {seed}: queued keys left: {:?}", store.ids("q"));
    assert_eq!(store.ids("d").into_iter().collect::<BTreeSet<_>>(), dead);
    assert!(dead.len() < expected.len() / 4, "most records are delivered");

    println!(
        "soak seed {seed}: {} records tracked ({} distinct, {} refused while full), {} accepted by the server, \
         {} duplicates on the wire, {} dead letters, {} requests, {} isolate deaths, {} store op failures, {} late replies",
        totals.enqueued,
        expected.len(),
        totals.refused,
        expected.iter().filter(|id| server.accepted.contains(*id)).count(),
        server.duplicates,
        dead.len(),
        server.requests,
        totals.deaths,
        totals.store_failures,
        totals.late_replies,
    );
    totals
}

#[test]
fn no_loss_soak_seed_1() {
    let totals = soak(1, 5_000, 10_000);
    assert!(totals.deaths > 5 && totals.store_failures > 50 && totals.late_replies > 0, "the faults happened");
}

#[test]
fn no_loss_soak_seed_2() {
    soak(0x5eed, 5_000, 10_000);
}

#[test]
fn no_loss_soak_with_a_small_queue_that_fills_up() {
    let totals = soak(42, 5_000, 150);
    assert!(totals.refused > 0, "the bound was reached");
}
