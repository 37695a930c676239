//! Store scenarios: one put per tick, operation order and failures, restarts, reconciliation, dead-letter API.

// Test-only file (declared `#[cfg(test)] mod tests;` in outbox/mod.rs); tests/source_rules.rs reads
// everything after the first `#[cfg(test)]` as test code.
#[cfg(test)]
use super::*;

fn put_keys(op: &StoreOp) -> Vec<String> {
    match &op.kind {
        StoreOpKind::Put(entries) => entries.iter().map(|(k, _)| k.clone()).collect(),
        StoreOpKind::Delete(_) => panic!("expected a put, got {op:?}"),
    }
}

fn delete_keys(op: &StoreOp) -> Vec<String> {
    match &op.kind {
        StoreOpKind::Delete(keys) => keys.clone(),
        StoreOpKind::Put(_) => panic!("expected a delete, got {op:?}"),
    }
}

fn keys(kind: &str, ids: &[String]) -> Vec<String> {
    ids.iter().map(|id| format!("{NS}{kind}/{id}")).collect()
}

#[test]
fn records_enqueued_in_one_tick_go_out_in_one_put() {
    let mut ob = Outbox::new(config());
    for id in ids("r", 10) {
        ob.enqueue(rec(&id), T0).unwrap();
    }
    let op = ob.poll_store().expect("a put");
    let StoreOpKind::Put(entries) = &op.kind else { panic!("a put") };
    assert_eq!(entries.len(), 10);
    assert_eq!(put_keys(&op), keys("q", &ids("r", 10)));
    for ((_, value), id) in entries.iter().zip(ids("r", 10)) {
        assert_eq!(value, &format!(r#"{{"v":1,"created":{T0},"attempts":0,"record":{}}}"#, rec(&id).json));
    }
    assert_eq!(ob.stats().unsaved, 10);
    assert!(ob.poll_store().is_none(), "one operation at a time");
    ob.enqueue(rec("next-tick"), T0 + 1).unwrap();
    assert!(ob.poll_store().is_none(), "still outstanding");
    ob.handle_stored(op.id, Ok(()));
    assert_eq!(ob.stats().unsaved, 1);
    let op2 = ob.poll_store().expect("the next tick's put");
    assert_eq!(put_keys(&op2), keys("q", &strings(&["next-tick"])));
    assert_ne!(op.id, op2.id);
    // A stale or unknown id changes nothing.
    ob.handle_stored(op.id, Err("late".into()));
    assert!(ob.poll_store().is_none());
    ob.handle_stored(op2.id, Ok(()));
    assert!(ob.poll_store().is_none());
    assert_eq!(ob.stats().unsaved, 0);
}

#[test]
fn a_failed_put_is_retried_with_the_next_operation_not_in_a_loop() {
    let mut ob = Outbox::new(config());
    ob.enqueue(rec("a"), T0).unwrap();
    let op = ob.poll_store().unwrap();
    ob.handle_stored(op.id, Err("QuotaExceededError".into()));
    assert!(ob.poll_store().is_none(), "no tight retry loop");
    assert_eq!(ob.stats().unsaved, 1);
    ob.enqueue(rec("b"), T0).unwrap();
    let op = ob.poll_store().expect("retried with the next change");
    assert_eq!(put_keys(&op), keys("q", &strings(&["a", "b"])));
    ob.handle_stored(op.id, Err("again".into()));
    // A flush is a reason to retry too.
    ob.begin_flush(T0, T0 + 1000);
    let op = ob.poll_store().expect("retried at the flush");
    assert_eq!(put_keys(&op).len(), 2);
    ob.handle_stored(op.id, Ok(()));
    assert_eq!(ob.stats().unsaved, 0);
}

#[test]
fn a_failed_delete_is_retried_and_puts_go_first() {
    let mut store = FakeStore::default();
    let mut ob = outbox_with(config(), &ids("r", 2), &mut store);
    ob.begin_flush(T0, T0 + 1000);
    let SendOutput::Send { id, .. } = ob.poll_send(T0) else { panic!("send") };
    ob.handle_response(id, results(&strings(&["r0"]), "queued"), T0 + 5, JITTER); // r1: no result → dead letter
    // r1's dead letter is written before any queued key is deleted.
    let put = ob.poll_store().unwrap();
    assert_eq!(put_keys(&put), keys("d", &strings(&["r1"])));
    store.apply(&put);
    ob.handle_stored(put.id, Ok(()));
    let del = ob.poll_store().unwrap();
    assert_eq!(delete_keys(&del), keys("q", &strings(&["r0", "r1"])));
    ob.handle_stored(del.id, Err("network".into()));
    assert!(ob.poll_store().is_none());
    ob.enqueue(rec("c"), T0 + 6).unwrap();
    let put = ob.poll_store().unwrap();
    assert_eq!(put_keys(&put), keys("q", &strings(&["c"])));
    store.apply(&put);
    ob.handle_stored(put.id, Ok(()));
    let del = ob.poll_store().expect("the delete again");
    assert_eq!(delete_keys(&del), keys("q", &strings(&["r0", "r1"])));
    store.apply(&del);
    ob.handle_stored(del.id, Ok(()));
    assert_eq!(store.ids("q"), strings(&["c"]));
    assert_eq!(store.ids("d"), strings(&["r1"]));
}

#[test]
fn a_delete_never_removes_a_key_that_should_exist_again() {
    let mut store = FakeStore::default();
    let mut ob = outbox_with(config(), &ids("r", 1), &mut store);
    let mut now = T0;
    // Delivered, its delete not yet run; then tracked again.
    ob.begin_flush(now, now + 1000);
    let SendOutput::Send { id, .. } = ob.poll_send(now) else { panic!("send") };
    now += 5;
    ob.handle_response(id, results(&ids("r", 1), "queued"), now, JITTER);
    ob.enqueue(rec("r0"), now).unwrap();
    store.settle(&mut ob);
    assert_eq!(store.ids("q"), ids("r", 1), "the new record's key survives");
    // Dead-lettered again after a requeue while the d/ delete was pending.
    let run = drive_flush(&mut ob, &mut store, &mut now, 1000, script(vec![http(400, "no")]));
    assert_eq!(run.report.dead_lettered, 1);
    assert_eq!(ob.requeue_dead_letters(None, now), 1);
    ob.begin_flush(now, now + 1000);
    let SendOutput::Send { id, .. } = ob.poll_send(now) else { panic!("send") };
    ob.handle_response(id, http(400, "no again"), now + 5, JITTER);
    store.settle(&mut ob);
    assert_eq!(store.ids("d"), ids("r", 1));
    assert_eq!(store.value("d", "r0").get("reason").and_then(Value::as_str), Some("HTTP 400: no again"));
    assert!(store.ids("q").is_empty());
}

#[test]
fn a_new_outbox_resumes_exactly_the_undelivered_records_and_the_dead_letters() {
    let mut store = FakeStore::default();
    // Batches of two: [r0, r1] is answered (one delivered, one rejected), [r2, r3] fails with a 503 and
    // pauses the flush before r4 goes.
    let mut first = outbox_with(OutboxConfig { max_batch_size: 2, ..config() }, &ids("r", 5), &mut store);
    let mut now = T0;
    let reply = r#"{"results":[{"response_id":"r0","status":"queued"},{"response_id":"r1","status":"error","errors":["bad"]}]}"#;
    let mut answers = std::collections::VecDeque::from(vec![http(202, reply)]);
    let run = drive_flush(&mut first, &mut store, &mut now, 200, |_| answers.pop_front().unwrap_or_else(|| http(503, "down")));
    assert_eq!(run.report, FlushReport { sent: 1, dead_lettered: 1, retry_later: 2, remaining: 3 });
    let attempts_before: Vec<u16> = (2..5).map(|i| store.value("q", &format!("r{i}")).get("attempts").and_then(Value::as_f64).unwrap() as u16).collect();
    drop(first); // the isolate dies

    let mut second = Outbox::new(config());
    second.handle_listed(store.listing(), now, true);
    let stats = second.stats();
    assert_eq!((stats.queued, stats.dead_lettered, stats.unreadable, stats.unsaved), (3, 1, 0, 0));
    let d = &second.dead_letters()[0];
    assert_eq!((d.response_id.as_str(), d.reason.as_str(), d.status, d.errors.clone()), ("r1", "rejected by the server: bad", Some(202), strings(&["bad"])));
    assert_eq!(d.record_json, rec("r1").json);
    assert_eq!(attempts_before, vec![1, 1, 0], "the failed attempt was written back");
    let mut sent = Vec::new();
    let run = drive_flush(&mut second, &mut store, &mut now, 60_000, |ids| {
        sent.extend(ids.iter().cloned());
        results(ids, "queued")
    });
    // r4 was never tried: due at once; r2 and r3 wait for the retry time stored with them.
    assert_eq!(sent, strings(&["r4", "r2", "r3"]));
    assert_eq!(run.report.sent, 3);
    assert!(store.ids("q").is_empty());
    assert_eq!(store.ids("d"), strings(&["r1"]));
    assert_eq!(second.stats().sent, 3);
}

#[test]
fn adopted_records_are_sent_by_created_time_among_local_ones() {
    let mut store = FakeStore::default();
    let value = |created: u64, id: &str| format!(r#"{{"v":1,"created":{created},"attempts":1,"record":{}}}"#, rec(id).json);
    store.map.insert(format!("{NS}q/late"), value(T0 + 10, "late"));
    store.map.insert(format!("{NS}q/early"), value(T0 - 10, "early"));
    let mut ob = Outbox::new(config());
    ob.enqueue(rec("local"), T0).unwrap();
    ob.handle_listed(store.listing(), T0, true);
    assert_eq!(ob.stats().queued, 3);
    ob.begin_flush(T0, T0 + 1000);
    let SendOutput::Send { body, .. } = ob.poll_send(T0) else { panic!("send") };
    assert_eq!(ids_in(&body), strings(&["early", "local", "late"]));
}

#[test]
fn listing_edge_cases_unreadable_dead_wins_and_stale_deletes() {
    let mut store = FakeStore::default();
    let good = |id: &str| format!(r#"{{"v":1,"created":{T0},"attempts":0,"record":{}}}"#, rec(id).json);
    let dead = |id: &str| format!(r#"{{"v":1,"created":{T0},"attempts":3,"at":{T0},"reason":"gave up","status":503,"errors":[],"record":{}}}"#, rec(id).json);
    store.map.insert(format!("{NS}q/ok"), good("ok"));
    store.map.insert(format!("{NS}q/v2"), r#"{"v":2}"#.to_owned());
    store.map.insert(format!("{NS}q/garbage"), "}{".to_owned());
    store.map.insert(format!("{NS}q/mismatch"), good("other"));
    store.map.insert(format!("{NS}z/future-layout"), "x".to_owned());
    store.map.insert(format!("{NS}q/both"), good("both"));
    store.map.insert(format!("{NS}d/both"), dead("both"));
    store.map.insert("aicm/v1/ffffffffffffffff/q/foreign".to_owned(), good("foreign"));
    let mut ob = Outbox::new(config());
    ob.handle_listed(store.listing(), T0, true);
    let stats = ob.stats();
    assert_eq!((stats.queued, stats.dead_lettered, stats.unreadable), (1, 1, 4));
    // Unreadable entries stay; the q/ key of a dead letter is deleted; another namespace is never touched.
    store.settle(&mut ob);
    assert!(store.map.contains_key(&format!("{NS}q/garbage")));
    assert!(store.map.contains_key(&format!("{NS}q/v2")));
    assert!(store.map.contains_key(&format!("{NS}z/future-layout")));
    assert!(store.map.contains_key("aicm/v1/ffffffffffffffff/q/foreign"));
    assert!(!store.map.contains_key(&format!("{NS}q/both")));
    assert_eq!(ob.dead_letters()[0].response_id, "both");

    // A listing taken before a delete finished does not bring the record back.
    let stale = store.listing();
    let mut now = T0;
    drive_flush(&mut ob, &mut store, &mut now, 1000, |ids| results(ids, "queued"));
    assert!(!store.map.contains_key(&format!("{NS}q/ok")));
    ob.handle_listed(stale, now, true);
    assert_eq!(ob.stats().queued, 0, "the stale q/ok is ignored");
}

#[test]
fn drop_missing_forgets_what_another_tracker_finished_but_keeps_pending_writes() {
    let mut store = FakeStore::default();
    let mut ob = outbox_with(config(), &ids("r", 3), &mut store);
    // Another tracker sharing the store delivered r0 and r1.
    store.map.remove(&format!("{NS}q/r0"));
    store.map.remove(&format!("{NS}q/r1"));
    // r3 is tracked; its put is outstanding when the listing arrives; r4's put has not even started.
    ob.enqueue(rec("r3"), T0).unwrap();
    let put = ob.poll_store().unwrap();
    ob.enqueue(rec("r4"), T0).unwrap();

    // Without drop_missing (an eventually consistent store) nothing is forgotten.
    ob.handle_listed(store.listing(), T0, false);
    assert_eq!(ob.stats().queued, 5);

    ob.handle_listed(store.listing(), T0, true);
    assert_eq!(ob.stats().queued, 3);
    store.apply(&put);
    ob.handle_stored(put.id, Ok(()));
    store.settle(&mut ob);
    let mut now = T0;
    let run = drive_flush(&mut ob, &mut store, &mut now, 1000, |ids| results(ids, "queued"));
    assert_eq!(run.sends(), vec![strings(&["r2", "r3", "r4"])]);
    assert!(store.map.is_empty());

    // Dead letters purged by another tracker are forgotten too.
    let mut ob = outbox_with(config(), &ids("d", 2), &mut store);
    drive_flush(&mut ob, &mut store, &mut now, 1000, |_| http(400, "no"));
    assert_eq!(store.ids("d"), ids("d", 2));
    store.map.remove(&format!("{NS}d/d0"));
    ob.handle_listed(store.listing(), now, true);
    assert_eq!(ob.dead_letters().iter().map(|d| d.response_id.clone()).collect::<Vec<_>>(), strings(&["d1"]));
}

#[test]
fn dead_letters_can_be_requeued_and_purged() {
    let mut store = FakeStore::default();
    let mut ob = outbox_with(config(), &ids("r", 3), &mut store);
    let mut now = T0;
    drive_flush(&mut ob, &mut store, &mut now, 1000, |_| http(403, "forbidden"));
    assert_eq!(store.ids("d"), ids("r", 3));
    assert_eq!(ob.stats().dead_lettered, 3);

    // Requeue one (and an unknown id, skipped): put q/, then delete d/.
    assert_eq!(ob.requeue_dead_letters(Some(&strings(&["r1", "nope", "r1"])), now), 1);
    let stats = ob.stats();
    assert_eq!((stats.queued, stats.dead_lettered), (1, 2));
    let put = ob.poll_store().unwrap();
    assert_eq!(put_keys(&put), keys("q", &strings(&["r1"])));
    let StoreOpKind::Put(entries) = &put.kind else { unreachable!() };
    assert_eq!(entries[0].1, format!(r#"{{"v":1,"created":{now},"attempts":0,"record":{}}}"#, rec("r1").json));
    store.apply(&put);
    ob.handle_stored(put.id, Ok(()));
    let del = ob.poll_store().unwrap();
    assert_eq!(delete_keys(&del), keys("d", &strings(&["r1"])));
    store.apply(&del);
    ob.handle_stored(del.id, Ok(()));
    let run = drive_flush(&mut ob, &mut store, &mut now, 1000, |ids| results(ids, "queued"));
    assert_eq!(run.sends(), vec![strings(&["r1"])]);

    // Purge one, then the rest.
    assert_eq!(ob.purge_dead_letters(Some(&strings(&["r0"]))), 1);
    let del = ob.poll_store().unwrap();
    assert_eq!(delete_keys(&del), keys("d", &strings(&["r0"])));
    store.apply(&del);
    ob.handle_stored(del.id, Ok(()));
    assert_eq!(ob.purge_dead_letters(None), 1);
    assert_eq!(ob.purge_dead_letters(None), 0);
    store.settle(&mut ob);
    assert!(store.map.is_empty());
    assert!(ob.dead_letters().is_empty());
    assert_eq!(ob.requeue_dead_letters(None, now), 0);
}

#[test]
fn a_dead_letter_never_written_is_purged_without_a_delete() {
    let mut ob = Outbox::new(config());
    ob.enqueue(rec("a"), T0).unwrap();
    ob.begin_flush(T0, T0 + 1000);
    let SendOutput::Send { id, .. } = ob.poll_send(T0) else { panic!("send") };
    ob.handle_response(id, http(400, "no"), T0 + 5, JITTER);
    assert_eq!(ob.purge_dead_letters(None), 1);
    let op = ob.poll_store();
    assert!(op.is_none(), "nothing was ever written: {op:?}");
}

#[test]
fn memory_per_queued_record_stays_small() {
    let mut ob = Outbox::new(config());
    let n = 10_000;
    let mut json_bytes = 0;
    for i in 0..n {
        let r = rec(&format!("{:032x}", i * 7919));
        json_bytes += r.json.len();
        ob.enqueue(r, T0).unwrap();
    }
    let per_record = ob.heap_bytes() / n;
    let overhead = (ob.heap_bytes() - json_bytes) / n;
    println!(
        "outbox memory: {per_record} B per queued record ({} B JSON + {overhead} B bookkeeping; Live row {} B on this target)",
        json_bytes / n,
        std::mem::size_of::<entry::Live>()
    );
    assert!(overhead <= 120, "bookkeeping {overhead} B per record");
}

#[test]
fn a_record_put_again_after_its_delete_is_not_forgotten_by_the_next_listing() {
    let mut store = FakeStore::default();
    let mut ob = outbox_with(config(), &ids("r", 1), &mut store);
    let mut now = T0;
    // Dead-lettered (its q/ key deleted), then requeued (its q/ key put again).
    let run = drive_flush(&mut ob, &mut store, &mut now, 1000, script(vec![http(400, "no")]));
    assert_eq!(run.report.dead_lettered, 1);
    assert_eq!(ob.requeue_dead_letters(None, now), 1);
    store.settle(&mut ob);
    assert_eq!(store.ids("q"), ids("r", 1));
    // A drain lists the shared store (drop_missing): the requeued record must still be sent.
    ob.handle_listed(store.listing(), now, true);
    let run = drive_flush(&mut ob, &mut store, &mut now, 1000, script(vec![]));
    assert_eq!(run.report.sent, 1, "the requeued record was sent");
    assert!(store.ids("q").is_empty() && store.ids("d").is_empty());
}
