//! Defect 9 of issue 6: retries across isolates. In a Worker every request builds a new tracker (a new
//! `Outbox`) over the same store; the retry schedule lives in the store, so whichever isolate runs, a
//! record's attempts are spent at the backoff's pace.

// Test-only file (declared `#[cfg(test)] mod tests;` in outbox/mod.rs); tests/source_rules.rs reads
// everything after the first `#[cfg(test)]` as test code.
#[cfg(test)]
use std::collections::BTreeMap;

use super::*;
use crate::core::config::TrackerConfig;

/// The product's queue defaults (attempts without limit, backoff 2 s … 5 min): the core's, which a tracker uses.
fn product_defaults() -> OutboxConfig {
    let mut tracker = TrackerConfig::default();
    tracker.set_delivery_type("persistent_queue").unwrap();
    let core = OutboxConfig::new(NS);
    assert_eq!(core.policy, tracker.retry_policy());
    core
}

/// One request: a fresh outbox over the store, one record tracked, one flush of at most `deadline_in`.
fn request(store: &mut FakeStore, now: &mut u64, id: &str, deadline_in: u64, server: impl FnMut(&[String]) -> HttpOutcome) -> Run {
    let mut outbox = Outbox::new(product_defaults());
    outbox.handle_listed(store.listing(), *now, true);
    outbox.enqueue(rec(id), *now).expect("room");
    store.settle(&mut outbox);
    outbox.handle_listed(store.listing(), *now, true);
    let run = drive_flush(&mut outbox, store, now, deadline_in, server);
    assert!(outbox.dead_letters().is_empty(), "{id}: dead letters {:?}", outbox.dead_letters());
    run
}

#[test]
fn a_tracker_per_request_through_a_three_minute_outage_spends_attempts_at_the_backoffs_pace() {
    let policy = product_defaults().policy;
    assert_eq!((policy.max_attempts, policy.base_delay_ms, policy.max_delay_ms), (crate::core::retry::UNLIMITED_ATTEMPTS, 2_000, 300_000));
    let mut store = FakeStore::default();
    // Every send of every record during the outage: id → send times.
    let mut sends: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let outage_s = 180;
    for second in 0..outage_s {
        let mut now = T0 + second * 1_000;
        let id = format!("q{second:03}");
        let run = request(&mut store, &mut now, &id, 900, |_| http(503, "down"));
        for event in &run.events {
            if let Event::Send { at, ids } = event {
                for sent in ids {
                    sends.entry(sent.clone()).or_default().push(*at);
                }
            }
        }
    }
    assert!(store.ids("d").is_empty(), "nothing dead-lettered during the outage");
    assert_eq!(store.ids("q").len(), outage_s as usize);
    for (id, times) in &sends {
        assert!(times.len() < 8, "{id}: {} attempts spent in 3 minutes", times.len());
        for (k, pair) in times.windows(2).enumerate() {
            // After the (k+1)-th failure the backoff window is base·2^k (capped); the outbox waits at least half.
            let window = (policy.base_delay_ms << k).min(policy.max_delay_ms);
            assert!(pair[1] - pair[0] >= window / 2, "{id}: attempt {} came {} ms after attempt {}, window {window}", k + 2, pair[1] - pair[0], k + 1);
        }
        // The store counts exactly the attempts spent: none lost, none counted twice.
        let stored = store.value("q", id);
        assert_eq!(stored.get("attempts").and_then(Value::as_f64), Some(times.len() as f64), "{id}");
    }
    let total: usize = sends.values().map(Vec::len).sum();
    assert!(total < 180 * 6, "{total} sends for 180 records");
    assert_eq!(sends["q000"].len(), 7, "the first record: attempts at 0, 1.5, 4.5, 10.5, 22.5, 46.5, 94.5 s (and 190.5 s)");

    // Recovery: the next request's flush delivers its record, and then, the outage being over, every record
    // its predecessors left, each exactly once.
    let mut now = T0 + outage_s * 1_000;
    let mut accepted: Vec<String> = Vec::new();
    let run = request(&mut store, &mut now, "after", 10_000, |ids| {
        accepted.extend(ids.iter().cloned());
        results(ids, "queued")
    });
    assert_eq!(run.report.sent, outage_s as usize + 1);
    let mut unique = accepted.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), accepted.len(), "delivered once each");
    assert_eq!(accepted.len(), outage_s as usize + 1);
    assert!(store.map.is_empty(), "the store is empty: {:?}", store.ids("q"));
}

#[test]
fn a_new_outbox_keeps_the_backoff_a_failure_stored() {
    let mut store = FakeStore::default();
    let mut first = outbox_with(config(), &ids("r", 1), &mut store);
    let mut now = T0;
    let run = drive_flush(&mut first, &mut store, &mut now, 1000, script(vec![http_retry_after(503, "60")]));
    assert_eq!((run.report.sent, run.report.retry_later), (0, 1));
    assert_eq!(store.value("q", "r0").get("due").and_then(Value::as_f64), Some((T0 + LATENCY + 60_000) as f64));
    // Another isolate picks the record up ten seconds later: not due yet, so nothing is sent.
    let mut second = Outbox::new(config());
    now += 10_000;
    second.handle_listed(store.listing(), now, false);
    let run = drive_flush(&mut second, &mut store, &mut now, 1000, script(vec![]));
    assert_eq!((run.report.sent, run.report.remaining), (0, 1));
    assert!(run.sends().is_empty());
    // Once the minute has passed it goes out.
    now = T0 + 61_000;
    let run = drive_flush(&mut second, &mut store, &mut now, 1000, script(vec![]));
    assert_eq!(run.report.sent, 1);
}

#[test]
fn a_stored_retry_time_is_bounded_and_rows_without_one_are_due_at_once() {
    let json = |id: &str| rec(id).json;
    // Written by the previous version: no "due": sent at once.
    let mut store = FakeStore::default();
    store.map.insert(format!("{NS}q/old"), format!(r#"{{"v":1,"created":1,"attempts":2,"record":{}}}"#, json("old")));
    let mut ob = Outbox::new(config());
    ob.handle_listed(store.listing(), T0, false);
    let mut now = T0;
    let run = drive_flush(&mut ob, &mut store, &mut now, 1_000, script(vec![]));
    assert_eq!(run.sends(), vec![strings(&["old"])]);
    // Written by an isolate whose clock is years ahead: it waits at most the longest delay from its listing.
    let mut store = FakeStore::default();
    store.map.insert(format!("{NS}q/far"), format!(r#"{{"v":1,"created":2,"attempts":1,"due":{},"record":{}}}"#, T0 * 2, json("far")));
    let mut ob = Outbox::new(config());
    ob.handle_listed(store.listing(), T0, false);
    let mut now = T0;
    let run = drive_flush(&mut ob, &mut store, &mut now, 1_000, script(vec![]));
    assert!(run.sends().is_empty());
    let cap = config().policy.max_delay_ms.max(config().policy.max_retry_after_ms);
    now = T0 + cap;
    let run = drive_flush(&mut ob, &mut store, &mut now, 1_000, script(vec![]));
    assert_eq!(run.sends(), vec![strings(&["far"])]);
}

#[test]
fn attempt_counts_merge_monotonically_across_trackers() {
    let mut store = FakeStore::default();
    let mut a = outbox_with(config(), &ids("r", 1), &mut store);
    let mut b = Outbox::new(config());
    b.handle_listed(store.listing(), T0, true);
    // A fails the record; B has not listed since.
    let mut now = T0;
    drive_flush(&mut a, &mut store, &mut now, 10, |_| http(503, "down"));
    let after_a = store.value("q", "r0");
    assert_eq!(after_a.get("attempts").and_then(Value::as_f64), Some(1.0));
    let due = after_a.get("due").and_then(Value::as_f64).unwrap() as u64;
    // B lists: it takes A's count and retry time instead of trying at once with its stale count.
    now += 1;
    b.handle_listed(store.listing(), now, true);
    let run = drive_flush(&mut b, &mut store, &mut now, 200, script(vec![]));
    assert!(run.sends().is_empty(), "B waits for A's backoff");
    // At the retry time B tries; it fails: the count goes on from A's, not from B's own 0.
    now = due;
    drive_flush(&mut b, &mut store, &mut now, 10, |_| http(503, "down"));
    assert_eq!(store.value("q", "r0").get("attempts").and_then(Value::as_f64), Some(2.0));
    // A stale listing (a lower count, say KV showing an old value) never lowers a count.
    let stale: Vec<(String, String)> =
        vec![(format!("{NS}q/r0"), format!(r#"{{"v":1,"created":{T0},"attempts":1,"due":0,"record":{}}}"#, rec("r0").json))];
    b.handle_listed(stale, now, true);
    now += 1;
    let run = drive_flush(&mut b, &mut store, &mut now, 100, script(vec![]));
    assert!(run.sends().is_empty(), "still waiting for its own backoff");
    // A merges too: its count rises to 2, so its next failure writes 3, not 2.
    now = T0 + 60_000;
    a.handle_listed(store.listing(), now, true);
    drive_flush(&mut a, &mut store, &mut now, 10, |_| http(503, "down"));
    assert_eq!(store.value("q", "r0").get("attempts").and_then(Value::as_f64), Some(3.0));
}

#[test]
fn a_success_after_an_outage_sends_the_waiting_records_at_once_at_no_attempt_cost() {
    let mut store = FakeStore::default();
    let mut ob = outbox_with(config(), &ids("w", 2), &mut store);
    let mut now = T0;
    drive_flush(&mut ob, &mut store, &mut now, 10, |_| http(503, "down"));
    assert_eq!(store.value("q", "w0").get("attempts").and_then(Value::as_f64), Some(1.0));
    // The next request (a new isolate) tracks a record; the server accepts it; the two waiting ones follow
    // at once, although their retry time has not come. They fail (the server flaps): that early send costs
    // no attempt.
    let mut next = Outbox::new(config());
    next.handle_listed(store.listing(), now, true);
    next.enqueue(rec("new"), now).unwrap();
    let mut answers = vec![results(&strings(&["new"]), "queued"), http(503, "flap")].into_iter();
    let run = drive_flush(&mut next, &mut store, &mut now, 10, move |_| answers.next().unwrap());
    assert_eq!(run.sends(), vec![strings(&["new"]), ids("w", 2)]);
    assert_eq!(store.value("q", "w0").get("attempts").and_then(Value::as_f64), Some(1.0), "the early send was free");
    // Then they wait for their backoff again, and the next failure counts.
    let due = store.value("q", "w0").get("due").and_then(Value::as_f64).unwrap() as u64;
    assert!(due > now);
    now = due;
    drive_flush(&mut next, &mut store, &mut now, 10, |_| http(503, "down"));
    assert_eq!(store.value("q", "w0").get("attempts").and_then(Value::as_f64), Some(2.0));
}

#[test]
fn two_trackers_failing_the_same_attempt_at_once_count_it_once_and_both_wait() {
    let mut store = FakeStore::default();
    let _written = outbox_with(config(), &ids("r", 1), &mut store);
    // Two isolates list the record at the same moment and both send it: the server is down.
    let mut a = Outbox::new(config());
    let mut b = Outbox::new(config());
    a.handle_listed(store.listing(), T0, true);
    b.handle_listed(store.listing(), T0, true);
    let (mut now_a, mut now_b) = (T0, T0);
    drive_flush(&mut a, &mut store, &mut now_a, 10, |_| http(503, "down"));
    drive_flush(&mut b, &mut store, &mut now_b, 10, |_| http(503, "down"));
    // Both wrote attempts 1: the same attempt made twice at once counts once.
    assert_eq!(store.value("q", "r0").get("attempts").and_then(Value::as_f64), Some(1.0));
    // Neither tries again before the backoff, whichever lists first.
    for ob in [&mut a, &mut b] {
        let mut now = T0 + 100;
        ob.handle_listed(store.listing(), now, true);
        assert!(drive_flush(ob, &mut store, &mut now, 200, script(vec![])).sends().is_empty());
    }
}

/// Issue 7: with the defaults an outage of a whole day dead-letters nothing (attempts alone never do): a
/// request every 10 minutes keeps retrying at the backoff's cap, and the first request after the outage
/// delivers all of it. Only age ends the retries (`max_age_ms`, reported as "expired after ...").
#[test]
fn with_the_defaults_a_day_long_outage_dead_letters_nothing() {
    let mut store = FakeStore::default();
    let requests = 24 * 6;
    let mut sends_of_first = 0;
    for k in 0..requests {
        let mut now = T0 + k * 600_000;
        let run = request(&mut store, &mut now, &format!("d{k:03}"), 900, |_| http(503, "down"));
        sends_of_first += run.events.iter().filter(|e| matches!(e, Event::Send { ids, .. } if ids.iter().any(|i| i == "d000"))).count();
    }
    assert!(store.ids("d").is_empty(), "nothing dead-lettered in 24 hours of 503");
    assert_eq!(store.ids("q").len(), requests as usize);
    assert!(sends_of_first >= 100, "the first record kept being tried: {sends_of_first} sends");
    let mut now = T0 + requests * 600_000;
    let run = request(&mut store, &mut now, "after", 10_000, |ids| results(ids, "queued"));
    assert_eq!(run.report.sent, requests as usize + 1);
    assert!(store.ids("q").is_empty());

    // Past max_age_ms the next failure dead-letters it, saying why.
    let mut config = product_defaults();
    config.max_age_ms = 3_600_000;
    let mut outbox = Outbox::new(config);
    let mut store = FakeStore::default();
    outbox.enqueue(rec("old"), T0).expect("room");
    let mut now = T0 + 3_600_000;
    drive_flush(&mut outbox, &mut store, &mut now, 900, |_| http(503, "down"));
    let dead = outbox.dead_letters();
    assert_eq!(dead.len(), 1);
    assert!(dead[0].reason.starts_with("expired after 36000") && dead[0].reason.contains("ms in the queue (maxAgeMs 3600000): HTTP 503"), "{}", dead[0].reason);
}
