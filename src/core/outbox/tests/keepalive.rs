//! A page going away: the farewell's keepalive request and store write, with a drain running or not, and
//! what the next page makes of the leases it finds in the store.

// Test-only file (declared `#[cfg(test)] mod tests;` in outbox/mod.rs); tests/source_rules.rs reads
// everything after the first `#[cfg(test)]` as test code.
#[cfg(test)]
use super::*;

const LEASE: u64 = 15_000;

/// A record whose JSON is about `bytes` long.
fn big(id: &str, bytes: usize) -> EncodedRecord {
    let payload = Value::object([("prompt_tokens", Value::Number(1.0)), ("text", Value::from("x".repeat(bytes).as_str()))]);
    let json = record::encode("openai::gpt-4o-mini", id, 1_736_937_000_000_000, &payload, None, None);
    EncodedRecord { response_id: id.to_owned(), json }
}

fn sent_ids(farewell: &Farewell) -> Vec<String> {
    farewell.send.as_ref().map(|s| ids_in(&s.body)).unwrap_or_default()
}

fn put_ids(farewell: &Farewell) -> Vec<String> {
    farewell.put.iter().map(|(k, _)| k.strip_prefix(NS).unwrap_or(k).to_owned()).collect()
}

/// The stored `"due"`: where a farewell keeps its lease.
fn lease_of(store: &FakeStore, id: &str) -> Option<f64> {
    store.value("q", id).get("due").and_then(Value::as_f64)
}

#[test]
fn a_farewell_during_a_drain_sends_at_once_what_that_drain_does_not_carry() {
    let mut store = FakeStore::default();
    let mut ob = outbox_with(config(), &ids("a", 10), &mut store);
    ob.begin_flush(T0, T0 + 20_000);
    let SendOutput::Send { id: drain_batch, body } = ob.poll_send(T0) else { panic!("the drain sends") };
    assert_eq!(ids_in(&body), ids("a", 10));
    // Records tracked while that batch is in flight, their store write not done yet.
    for id in ids("b", 5) {
        ob.enqueue(rec(&id), T0 + 1).unwrap();
    }
    let farewell = ob.farewell(T0 + 2);
    let send = farewell.send.clone().expect("a keepalive request");
    assert_eq!(sent_ids(&farewell), ids("b", 5), "only what the drain's request does not carry");
    assert_eq!(send.records, 5);
    assert_eq!(put_ids(&farewell), ids("q/b", 5), "the sent records, leased; the drain's are in the store already");
    for (_, value) in &farewell.put {
        assert!(value.contains(&format!(r#","attempts":0,"due":{},"record":"#, T0 + 2 + LEASE)), "{value}");
    }
    assert_eq!(ob.poll_store(), None, "the farewell's put carries their values: no second write");
    assert_eq!(ob.poll_send(T0 + 2), SendOutput::AwaitResponse { id: drain_batch }, "the drain is left alone");

    // The page lived on: the drain's reply, then its next poll skips the leased records.
    ob.handle_response(drain_batch, results(&ids("a", 10), "queued"), T0 + 5, JITTER);
    assert_eq!(ob.poll_send(T0 + 5), SendOutput::Wait { until_ms: T0 + 2 + LEASE });
    // The keepalive reply delivers them; nothing is left to send.
    let report = ob.handle_farewell_reply(&send, results(&ids("b", 5), "queued"), T0 + 6, JITTER);
    assert_eq!(report, FlushReport { sent: 5, dead_lettered: 0, retry_later: 0, remaining: 0 });
    let drain_report = FlushReport { sent: 10, dead_lettered: 0, retry_later: 0, remaining: 0 };
    assert_eq!(ob.poll_send(T0 + 2 + LEASE), SendOutput::Done(drain_report), "the keepalive's records count once");
    store.settle(&mut ob);
    assert_eq!(ob.farewell(T0 + LEASE + 10), Farewell { send: None, put: Vec::new() });
}

#[test]
fn a_drain_started_after_a_farewell_does_not_send_the_leased_records_before_the_lease() {
    let mut store = FakeStore::default();
    let mut ob = outbox_with(config(), &ids("r", 3), &mut store);
    let farewell = ob.farewell(T0);
    assert_eq!(sent_ids(&farewell), ids("r", 3));
    assert!(ob.farewell(T0 + 1).send.is_none(), "a second farewell sends nothing already leased");
    ob.begin_flush(T0 + 10, T0 + 5_000);
    assert_eq!(ob.poll_send(T0 + 10), SendOutput::Done(FlushReport { remaining: 3, ..FlushReport::default() }));
    // No reply ever came: once the lease is over they are sent again (the service keeps one of each).
    let mut now = T0 + LEASE;
    let run = drive_flush(&mut ob, &mut store, &mut now, 5_000, script(vec![]));
    assert_eq!(run.sends(), vec![ids("r", 3)]);
    assert_eq!(store.ids("q"), Vec::<String>::new());
}

#[test]
fn a_farewell_honours_a_retry_pause_and_sends_nothing_during_it() {
    let mut store = FakeStore::default();
    let mut ob = outbox_with(config(), &ids("r", 2), &mut store);
    let mut now = T0;
    let run = drive_flush(&mut ob, &mut store, &mut now, 100, script(vec![http_retry_after(503, "30")]));
    assert_eq!(run.report.retry_later, 2);
    let farewell = ob.farewell(now + 1_000);
    assert_eq!(farewell, Farewell { send: None, put: Vec::new() }, "the records and their attempts are stored already");
    let farewell = ob.farewell(now + 30_000);
    assert_eq!(sent_ids(&farewell), ids("r", 2), "after the pause");
}

#[test]
fn a_keepalive_body_keeps_to_its_budget_and_what_does_not_fit_waits() {
    let mut store = FakeStore::default();
    let mut ob = Outbox::new(config());
    ob.handle_listed(Vec::new(), T0, true);
    for (id, bytes) in [("p0", 25_000), ("p1", 25_000), ("p2", 25_000), ("huge", 70_000), ("small", 10)] {
        ob.enqueue(big(id, bytes), T0).unwrap();
    }
    store.settle(&mut ob);
    let farewell = ob.farewell(T0);
    let send = farewell.send.clone().expect("a request");
    assert!(send.body.len() <= KEEPALIVE_MAX_BODY_BYTES, "{} bytes", send.body.len());
    assert_eq!(sent_ids(&farewell), strings(&["p0", "p1", "small"]));
    assert_eq!(put_ids(&farewell), strings(&["q/p0", "q/p1", "q/small"]), "only the leases: the others are stored");
    // The next drain sends what did not fit, at once.
    ob.handle_farewell_stored(&farewell.put, Ok(()));
    ob.begin_flush(T0 + 1, T0 + 5_000);
    let SendOutput::Send { body, .. } = ob.poll_send(T0 + 1) else { panic!("the rest goes") };
    assert_eq!(ids_in(&body), strings(&["p2", "huge"]));
}

#[test]
fn the_farewell_put_saves_what_no_write_saved_yet_and_the_next_page_honours_the_leases() {
    let mut store = FakeStore::default();
    let mut ob = outbox_with(config(), &ids("s", 3), &mut store);
    ob.enqueue(rec("u0"), T0 + 1).unwrap();
    ob.enqueue(big("huge", 70_000), T0 + 1).unwrap();
    // The store write of this tick starts, and is cut by the unload: it never reaches the store.
    let cut = ob.poll_store().expect("the tick's put");
    assert!(matches!(&cut.kind, StoreOpKind::Put(entries) if entries.len() == 2));
    let farewell = ob.farewell(T0 + 2);
    assert_eq!(sent_ids(&farewell), strings(&["s0", "s1", "s2", "u0"]));
    assert_eq!(put_ids(&farewell), strings(&["q/s0", "q/s1", "q/s2", "q/u0", "q/huge"]));
    for (key, value) in &farewell.put {
        store.map.insert(key.clone(), value.clone());
    }
    assert_eq!(lease_of(&store, "s0"), Some((T0 + 2 + LEASE) as f64));
    assert_eq!(lease_of(&store, "u0"), Some((T0 + 2 + LEASE) as f64));
    assert_eq!(lease_of(&store, "huge"), None, "not sent: due at once");

    // The next page, a second later: sends what was not sent, and not the leased records.
    let mut next = Outbox::new(config());
    let mut now = T0 + 1_000;
    next.handle_listed(store.listing(), now, true);
    let run = drive_flush(&mut next, &mut store, &mut now, 5_000, script(vec![]));
    assert_eq!(run.sends(), vec![strings(&["huge"])]);
    assert_eq!(run.report, FlushReport { sent: 1, dead_lettered: 0, retry_later: 0, remaining: 4 });
    assert_eq!(store.ids("q"), strings(&["s0", "s1", "s2", "u0"]), "leased records are kept, not forgotten");
    // A page after the lease sends them again: the keepalive request may have been lost.
    let mut later = Outbox::new(config());
    let mut now = T0 + 2 + LEASE;
    later.handle_listed(store.listing(), now, true);
    let run = drive_flush(&mut later, &mut store, &mut now, 5_000, script(vec![]));
    assert_eq!(run.sends(), vec![strings(&["s0", "s1", "s2", "u0"])]);
    assert!(store.map.is_empty());
}

#[test]
fn a_lease_in_the_store_delays_adoption_like_a_stored_retry_time() {
    let mut store = FakeStore::default();
    let mut ob = outbox_with(config(), &ids("r", 2), &mut store);
    let farewell = ob.farewell(T0);
    for (key, value) in &farewell.put {
        store.map.insert(key.clone(), value.clone());
    }
    // The next page, at once and just before the lease ends: nothing to send; at its end: both.
    for now in [T0 + 1, T0 + LEASE - 1] {
        let mut next = Outbox::new(config());
        next.handle_listed(store.listing(), now, true);
        next.begin_flush(now, now + 1);
        assert_eq!(next.poll_send(now), SendOutput::Done(FlushReport { remaining: 2, ..FlushReport::default() }), "at {now}");
    }
    let mut next = Outbox::new(config());
    let mut now = T0 + LEASE;
    next.handle_listed(store.listing(), now, true);
    let run = drive_flush(&mut next, &mut store, &mut now, 1_000, script(vec![]));
    assert_eq!(run.sends(), vec![ids("r", 2)]);
}

#[test]
fn a_failed_farewell_put_is_written_again_by_the_next_store_operation() {
    let mut store = FakeStore::default();
    let mut ob = Outbox::new(config());
    ob.handle_listed(Vec::new(), T0, true);
    ob.enqueue(rec("x"), T0).unwrap();
    let farewell = ob.farewell(T0);
    assert_eq!(put_ids(&farewell), strings(&["q/x"]));
    assert_eq!(ob.poll_store(), None);
    ob.handle_farewell_stored(&farewell.put, Err("aborted".into()));
    assert_eq!(ob.stats().unsaved, 1);
    store.settle(&mut ob);
    assert_eq!(store.ids("q"), strings(&["x"]));
    assert_eq!(ob.stats().unsaved, 0);
    // The page lived on and the request failed: the record waits out its lease, no attempt counted.
    let send = farewell.send.expect("sent");
    let report = ob.handle_farewell_reply(&send, http(503, ""), T0 + 5, JITTER);
    assert_eq!(report, FlushReport { sent: 0, dead_lettered: 0, retry_later: 1, remaining: 1 });
    ob.begin_flush(T0 + 10, T0 + LEASE + 10);
    assert_eq!(ob.poll_send(T0 + 10), SendOutput::Wait { until_ms: T0 + LEASE });
    assert_eq!(store.value("q", "x").get("attempts").and_then(Value::as_f64), Some(0.0));
}

#[test]
fn a_reply_the_page_lives_to_see_delivers_and_dead_letters_like_any_reply() {
    let mut store = FakeStore::default();
    let mut ob = outbox_with(config(), &ids("r", 3), &mut store);
    let farewell = ob.farewell(T0);
    ob.handle_farewell_stored(&farewell.put, Ok(()));
    let send = farewell.send.expect("sent");
    let body = r#"{"results":[{"response_id":"r0","status":"queued"},{"response_id":"r1","status":"error","errors":["bad"]}]}"#;
    let report = ob.handle_farewell_reply(&send, http(202, body), T0 + 5, JITTER);
    assert_eq!(report, FlushReport { sent: 1, dead_lettered: 1, retry_later: 1, remaining: 1 });
    store.settle(&mut ob);
    assert_eq!((store.ids("q"), store.ids("d")), (strings(&["r2"]), strings(&["r1"])));
}
