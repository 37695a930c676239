//! Defect 6 of issue 6: one rule for the bounds. `max_queue_size` / `max_queue_bytes` bound everything the
//! outbox holds (queued, in flight, dead letters); only new records are refused; nothing held is dropped.

// Test-only file (declared `#[cfg(test)] mod tests;` in outbox/mod.rs); tests/source_rules.rs reads
// everything after the first `#[cfg(test)]` as test code.
#[cfg(test)]
use super::*;

fn bounded(max_queue_size: usize) -> OutboxConfig {
    OutboxConfig { max_queue_size, ..config() }
}

fn dead_letter_all(ob: &mut Outbox, store: &mut FakeStore, now: &mut u64) {
    let run = drive_flush(ob, store, now, 1_000, |_| http(400, "bad"));
    assert_eq!(run.report.sent, 0);
}

#[test]
fn dead_letters_count_against_the_bounds_and_only_new_records_are_refused() {
    let mut store = FakeStore::default();
    let mut ob = outbox_with(bounded(3), &ids("r", 3), &mut store);
    let mut now = T0;
    dead_letter_all(&mut ob, &mut store, &mut now);
    assert_eq!((ob.stats().queued, ob.stats().dead_lettered), (0, 3));
    assert_eq!(ob.room(), (0, 16 * 1024 * 1024 - 3 * rec("r0").json.len()));
    let err = ob.enqueue(rec("new"), now).unwrap_err();
    assert_eq!(err, ob.full_error());
    assert_eq!(err, TrackError::QueueFull { records: 3, bytes: ob.stats().dead_bytes, max_records: 3, max_bytes: 16 * 1024 * 1024 });
    assert!(err.to_string().contains("dead letters included"), "{err}");
    assert!(!ob.holds("new"));
    // Purging one makes room for one.
    assert_eq!(ob.purge_dead_letters(Some(&strings(&["r0"]))), 1);
    assert_eq!(ob.room().0, 1);
    ob.enqueue(rec("new"), now).unwrap();
    assert!(ob.enqueue(rec("newer"), now).is_err());
    assert_eq!(ob.stats().dropped, 0);
}

#[test]
fn dead_letter_bytes_count_against_max_queue_bytes() {
    let one = rec("r0").json.len();
    let mut store = FakeStore::default();
    let mut ob = outbox_with(OutboxConfig { max_queue_bytes: 2 * one, ..config() }, &ids("r", 2), &mut store);
    let mut now = T0;
    dead_letter_all(&mut ob, &mut store, &mut now);
    assert_eq!((ob.stats().bytes, ob.stats().dead_bytes), (0, 2 * one));
    assert_eq!(ob.enqueue(rec("x"), now).map_err(|e| e.code()), Err("E_QUEUE_FULL"));
}

#[test]
fn requeueing_never_passes_the_bound_and_never_refuses() {
    let mut store = FakeStore::default();
    let mut ob = outbox_with(bounded(3), &ids("r", 3), &mut store);
    let mut now = T0;
    dead_letter_all(&mut ob, &mut store, &mut now);
    let before = ob.room();
    assert_eq!(ob.requeue_dead_letters(None, now), 3, "every dead letter moves: they held their room already");
    assert_eq!((ob.stats().queued, ob.stats().dead_lettered), (3, 0));
    assert_eq!(ob.room(), before, "requeueing moves records within the bound");
    store.settle(&mut ob);
    assert_eq!(store.ids("q"), ids("r", 3));
    assert!(store.ids("d").is_empty());
    let run = drive_flush(&mut ob, &mut store, &mut now, 1_000, |ids| results(ids, "queued"));
    assert_eq!(run.report.sent, 3);
    assert_eq!(ob.room().0, 3);
}

#[test]
fn a_backlog_larger_than_the_bound_is_adopted_whole_and_new_records_wait_for_room() {
    // A tracker with a bound of 10 left 6 records and 2 dead letters; one with a bound of 3 starts.
    let mut store = FakeStore::default();
    let mut big = outbox_with(bounded(10), &ids("r", 8), &mut store);
    let mut now = T0;
    let mut answers = vec![http(400, "bad")].into_iter();
    let small_batches = OutboxConfig { max_batch_size: 2, ..bounded(10) };
    drop(big);
    big = Outbox::new(small_batches);
    big.handle_listed(store.listing(), now, true);
    drive_flush(&mut big, &mut store, &mut now, 1, move |ids| answers.next().unwrap_or_else(|| http(503, ids.join(",").as_str())));
    drop(big);
    assert_eq!((store.ids("q").len(), store.ids("d").len()), (6, 2));

    let mut small = Outbox::new(bounded(3));
    small.handle_listed(store.listing(), now, true);
    let stats = small.stats();
    assert_eq!((stats.queued, stats.dead_lettered), (6, 2), "nothing left behind or dropped");
    assert_eq!(small.room().0, 0);
    assert_eq!(small.enqueue(rec("new"), now).map_err(|e| e.code()), Err("E_QUEUE_FULL"));
    // Deliveries bring it under its bound: 8 held − 6 delivered = 2 dead letters, room for 1.
    now += 3_600_000;
    let run = drive_flush(&mut small, &mut store, &mut now, 10_000, |ids| results(ids, "queued"));
    assert_eq!(run.report.sent, 6);
    assert_eq!(small.room().0, 1);
    small.enqueue(rec("new"), now).unwrap();
}

#[test]
fn a_batch_is_queued_whole_or_not_at_all_and_duplicates_take_no_room() {
    let mut store = FakeStore::default();
    let mut ob = outbox_with(bounded(4), &ids("r", 2), &mut store);
    let before = ob.stats();
    // Three new records do not fit in the two places left: none is queued.
    let err = ob.enqueue_all(vec![rec("a"), rec("b"), rec("c")], T0);
    assert_eq!(err, Err(ob.full_error()));
    assert_eq!(ob.stats(), before, "nothing changed");
    assert!(!ob.holds("a"));
    // Two new ones and two already held fit: the held ones are duplicates.
    ob.enqueue_all(vec![rec("r0"), rec("a"), rec("r1"), rec("b")], T0).unwrap();
    assert_eq!((ob.stats().queued, ob.stats().duplicates), (4, 2));
    assert_eq!(ob.room().0, 0);
    // Bytes count too: a batch whose records fit by number but not by bytes is refused whole.
    let one = rec("x0").json.len();
    let mut ob = outbox_with(OutboxConfig { max_queue_bytes: 3 * one, ..config() }, &ids("r", 1), &mut FakeStore::default());
    assert_eq!(ob.enqueue_all(vec![rec("x0"), rec("x1"), rec("x2")], T0).map_err(|e| e.code()), Err("E_QUEUE_FULL"));
    assert_eq!(ob.stats().queued, 1);
    ob.enqueue_all(vec![rec("x0"), rec("x1")], T0).unwrap();
    assert_eq!(ob.stats().queued, 3);
}

#[test]
fn a_flush_that_sent_nothing_reports_everything_remaining() {
    let mut store = FakeStore::default();
    let ob = outbox_with(config(), &ids("r", 3), &mut store);
    assert_eq!(ob.unsent_report(), FlushReport { remaining: 3, ..FlushReport::default() });
}

#[test]
fn an_attempt_never_outlasts_its_flush() {
    assert_eq!(attempt_timeout_ms(10_000, 20_000), 10_000, "the tracker's timeout when the flush has time");
    assert_eq!(attempt_timeout_ms(10_000, 250), 250, "cut at the flush's deadline");
    assert_eq!(attempt_timeout_ms(10_000, 0), 1, "never 0");
}
