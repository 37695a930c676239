//! Delivery scenarios: replies, outages, caps, bounds, dedupe, leases, deadlines.

// Test-only file (declared `#[cfg(test)] mod tests;` in outbox/mod.rs); tests/source_rules.rs reads
// everything after the first `#[cfg(test)]` as test code.
#[cfg(test)]
use super::*;
use crate::core::error::TrackError;

fn dead<'a>(letters: &'a [DeadLetter], id: &str) -> &'a DeadLetter {
    letters.iter().find(|d| d.response_id == id).unwrap_or_else(|| panic!("{id} is dead-lettered"))
}

#[test]
fn delivered_records_are_deleted_from_the_store() {
    let mut store = FakeStore::default();
    let mut ob = outbox_with(config(), &ids("r", 3), &mut store);
    assert_eq!(store.ids("q"), ids("r", 3));
    let mut now = T0;
    let run = drive_flush(&mut ob, &mut store, &mut now, 30_000, |ids| results(ids, "queued"));
    assert_eq!(run.sends(), vec![ids("r", 3)]);
    assert_eq!(run.report, FlushReport { sent: 3, dead_lettered: 0, retry_later: 0, remaining: 0 });
    assert!(store.map.is_empty());
    assert_eq!(store.log.last(), Some(&StoreOpKind::Delete(ids("r", 3).iter().map(|i| format!("{NS}q/{i}")).collect())));
    let stats = ob.stats();
    assert_eq!((stats.queued, stats.in_flight, stats.sent, stats.bytes, stats.unsaved), (0, 0, 3, 0, 0));
    // Accepted statuses all count as delivered.
    for status in ["completed", "service_key_unknown"] {
        let mut store = FakeStore::default();
        let mut ob = outbox_with(config(), &ids("s", 2), &mut store);
        let run = drive_flush(&mut ob, &mut store, &mut now, 30_000, |ids| results(ids, status));
        assert_eq!(run.report.sent, 2, "{status}");
        assert!(store.map.is_empty());
    }
}

#[test]
fn outages_of_every_kind_are_retried_with_exact_delays_and_attempts() {
    // (outcome, the wait it causes after the first and after the second failure)
    let date_in_7s = "Wed, 21 Oct 2015 07:28:07 GMT"; // T0 + 7 s; the failure arrives at T0 + 5 ms
    let cases: Vec<(HttpOutcome, [u64; 2])> = vec![
        (http(500, "boom"), [375, 750]),
        (http(503, "down"), [375, 750]),
        (http(408, ""), [375, 750]),
        (http_retry_after(429, "7"), [7_000, 7_000]),
        (http_retry_after(503, "120"), [60_000, 60_000]), // capped at max_retry_after_ms
        (http_retry_after(429, date_in_7s), [6_995, 0]),  // the date is past by the second failure
        (http_retry_after(429, "soon"), [375, 750]),      // unreadable: backoff
        (HttpOutcome::Network { message: "connection refused".into() }, [375, 750]),
        (HttpOutcome::Timeout { timeout_ms: 10_000 }, [375, 750]),
    ];
    for (outcome, expected_waits) in cases {
        let mut store = FakeStore::default();
        let mut ob = outbox_with(config(), &ids("r", 2), &mut store);
        let mut now = T0;
        let mut attempts_seen = Vec::new();
        let mut answers = std::collections::VecDeque::from(vec![outcome.clone(), outcome.clone()]);
        let mut calls = 0;
        let run = drive_flush(&mut ob, &mut store, &mut now, 300_000, |ids| {
            calls += 1;
            answers.pop_front().unwrap_or_else(|| results(ids, "queued"))
        });
        assert_eq!(calls, 3, "{outcome:?}");
        assert_eq!(run.sends(), vec![ids("r", 2); 3], "{outcome:?}: the batch stays together");
        let expected: Vec<u64> = expected_waits.iter().copied().filter(|&w| w > 0).collect();
        assert_eq!(run.waits(), expected, "{outcome:?}");
        let times = run.send_times();
        assert_eq!(times[1] - times[0] - LATENCY, expected_waits[0], "{outcome:?}");
        assert_eq!(times[2] - times[1] - LATENCY, expected_waits[1], "{outcome:?}");
        assert_eq!(run.report, FlushReport { sent: 2, dead_lettered: 0, retry_later: 0, remaining: 0 }, "{outcome:?}");
        assert!(store.map.is_empty());
        // The attempt count was written back after each failure (one put per failure).
        for kind in &store.log {
            if let StoreOpKind::Put(entries) = kind {
                let v = json::parse(&entries[0].1).unwrap();
                attempts_seen.push(v.get("attempts").and_then(Value::as_f64).unwrap());
            }
        }
        assert_eq!(attempts_seen, vec![0.0, 1.0, 2.0], "{outcome:?}");
    }
}

#[test]
fn an_unreadable_2xx_dead_letters_every_record_unconfirmed_without_retry() {
    // The server accepted the request; its reply cannot be read. Retrying would send the same records to a
    // server that may hold them, for as long as the reply stays unreadable (a proxy's HTML page, say): one
    // rule with immediate delivery (`unknown`, not retried). Nothing vanishes: each is a dead letter.
    for (status, body) in [(202, "<html>accepted</html>"), (200, r#"{"ok":true}"#), (204, "")] {
        let mut store = FakeStore::default();
        let mut ob = outbox_with(config(), &ids("r", 2), &mut store);
        let mut now = T0;
        let run = drive_flush(&mut ob, &mut store, &mut now, 300_000, script(vec![http(status, body)]));
        assert_eq!(run.sends(), vec![ids("r", 2)], "{body}: not retried");
        assert_eq!(run.report, FlushReport { sent: 0, dead_lettered: 2, retry_later: 0, remaining: 0 });
        for d in ob.dead_letters() {
            assert_eq!((d.status, d.attempts), (Some(status), 0));
            assert!(d.reason.starts_with(&format!("not confirmed: the server took the request (HTTP {status})")), "{}", d.reason);
            assert!(d.reason.contains("unreadable /track response"), "{}", d.reason);
        }
        assert_eq!(store.ids("d"), ids("r", 2));
        assert!(store.ids("q").is_empty());
    }
}

#[test]
fn a_retryable_failure_pauses_every_record_not_just_its_batch() {
    let mut store = FakeStore::default();
    let small = OutboxConfig { max_batch_size: 2, ..config() };
    let mut ob = outbox_with(small, &ids("r", 4), &mut store);
    let mut now = T0;
    let run = drive_flush(&mut ob, &mut store, &mut now, 300_000, script(vec![http_retry_after(429, "3")]));
    assert_eq!(
        run.events,
        vec![
            Event::Send { at: T0, ids: strings(&["r0", "r1"]) },
            Event::Wait { at: T0 + 5, until: T0 + 3_005 },
            Event::Send { at: T0 + 3_005, ids: strings(&["r0", "r1"]) },
            Event::Send { at: T0 + 3_010, ids: strings(&["r2", "r3"]) },
        ]
    );
}

/// An outage is never dead-lettered by attempts alone: past `max_attempts` (5 here) the records keep being
/// retried at the capped backoff (the windows stop growing at `max_delay_ms`), and only their age
/// (`max_age_ms`) gives up on them, with the last error in the reason.
#[test]
fn retryable_failures_retry_past_max_attempts_and_dead_letter_by_age_with_the_last_error() {
    for (outcome, status, error) in [
        (http(503, "down"), Some(503), "HTTP 503: down"),
        (HttpOutcome::Network { message: "refused".into() }, None, "network error: refused"),
        (HttpOutcome::Timeout { timeout_ms: 10_000 }, None, "no response within 10000 ms"),
    ] {
        let mut store = FakeStore::default();
        let aging = OutboxConfig { max_age_ms: 60_000, ..config() };
        let mut ob = outbox_with(aging, &ids("r", 2), &mut store);
        let mut now = T0;
        let run = drive_flush(&mut ob, &mut store, &mut now, 3_600_000, |_| outcome.clone());
        assert_eq!(
            run.waits(),
            vec![375, 750, 1_500, 3_000, 6_000, 12_000, 22_500, 22_500],
            "equal jitter: 0.75 of each window at jitter 0.5, capped at 30 s; no end at max_attempts"
        );
        assert_eq!(run.sends().len(), 9, "past max_attempts (5) until max_age_ms");
        assert_eq!(run.report, FlushReport { sent: 0, dead_lettered: 2, retry_later: 0, remaining: 0 });
        let letters = ob.dead_letters();
        for id in ["r0", "r1"] {
            let d = dead(&letters, id);
            assert!(d.reason.starts_with("expired after "), "{}", d.reason);
            assert!(d.reason.ends_with(&format!("(maxAgeMs 60000, 9 attempts): {error}")), "{}", d.reason);
            assert_eq!((d.status, d.attempts), (status, 9));
            assert_eq!(d.record_json, rec(id).json);
            assert_eq!((d.created_ms, d.at_ms), (T0, now));
            assert!(now - T0 >= 60_000);
        }
        assert_eq!(store.ids("q"), Vec::<String>::new());
        assert_eq!(store.ids("d"), ids("r", 2));
        let stored = store.value("d", "r0");
        assert_eq!(stored.get("reason").and_then(Value::as_str), Some(letters[0].reason.as_str()));
        assert_eq!(stored.get("attempts").and_then(Value::as_f64), Some(9.0));
        assert_eq!(ob.stats().dead_lettered, 2);
    }
}

#[test]
fn records_past_max_age_are_dead_lettered_at_their_next_failure() {
    let mut store = FakeStore::default();
    let aging = OutboxConfig { max_age_ms: 60_000, ..config() };
    let mut ob = outbox_with(aging, &ids("r", 1), &mut store);
    // Still young: a failure is retried.
    let mut now = T0 + 59_000;
    let run = drive_flush(&mut ob, &mut store, &mut now, 100, script(vec![http(500, "x")]));
    assert_eq!(run.report, FlushReport { sent: 0, dead_lettered: 0, retry_later: 1, remaining: 1 });
    // Old now: the next failure dead-letters it although attempts remain.
    let mut now = T0 + 61_000;
    let run = drive_flush(&mut ob, &mut store, &mut now, 100_000, |_| http(500, "x"));
    assert_eq!(run.sends().len(), 1);
    assert_eq!(run.report.dead_lettered, 1);
    let d = &ob.dead_letters()[0];
    assert_eq!(d.attempts, 2);
    assert!(d.reason.starts_with("expired after 61005 ms in the queue (maxAgeMs 60000, 2 attempts): HTTP 500: x"), "{}", d.reason);
    // Age alone (no failure) never dead-letters: a record that is old but delivered is delivered.
    let mut store = FakeStore::default();
    let mut ob = outbox_with(OutboxConfig { max_age_ms: 1, ..config() }, &ids("s", 1), &mut store);
    let mut now = T0 + 10_000;
    assert_eq!(drive_flush(&mut ob, &mut store, &mut now, 100, |ids| results(ids, "queued")).report.sent, 1);
}

#[test]
fn per_record_errors_in_a_202_dead_letter_only_those() {
    let mut store = FakeStore::default();
    let mut ob = outbox_with(config(), &ids("r", 5), &mut store);
    let reply = r#"{"results":[
        {"response_id":"r0","status":"queued"},
        {"response_id":"r1","status":"error","errors":["Invalid service_key format"]},
        {"response_id":"r2","errors":["Missing payload."]},
        {"response_id":"r3","cost_events":[]},
        {"response_id":"r4","status":"deduplicated"}
    ]}"#;
    let mut now = T0;
    let run = drive_flush(&mut ob, &mut store, &mut now, 30_000, script(vec![http(202, reply)]));
    // r4's unknown status: the server took the request and may hold it: a dead letter saying so, not a retry.
    assert_eq!(run.sends(), vec![ids("r", 5)]);
    assert!(run.waits().is_empty());
    assert_eq!(run.report, FlushReport { sent: 2, dead_lettered: 3, retry_later: 0, remaining: 0 });
    let letters = ob.dead_letters();
    let r4 = dead(&letters, "r4");
    assert_eq!((r4.status, r4.attempts), (Some(202), 0));
    assert!(r4.reason.starts_with("not confirmed: the server took the request (HTTP 202)"), "{}", r4.reason);
    assert!(r4.reason.contains("\"deduplicated\""), "{}", r4.reason);
    let r1 = dead(&letters, "r1");
    assert_eq!((r1.status, r1.errors.clone()), (Some(202), strings(&["Invalid service_key format"])));
    assert_eq!(r1.reason, "rejected by the server: Invalid service_key format");
    assert_eq!(dead(&letters, "r2").errors, strings(&["Missing payload."]));
    assert_eq!(store.ids("d"), strings(&["r1", "r2", "r4"]));
    assert!(store.ids("q").is_empty());
    // The dead letter's d/ key was written before its q/ key was deleted.
    let put_d = store.log.iter().position(|k| matches!(k, StoreOpKind::Put(e) if e.iter().any(|(k, _)| k.ends_with("d/r1")))).unwrap();
    let del_q = store.log.iter().position(|k| matches!(k, StoreOpKind::Delete(keys) if keys.iter().any(|k| k.ends_with("q/r1")))).unwrap();
    assert!(put_d < del_q);
}

#[test]
fn missing_results_are_unconfirmed_dead_letters_and_unnamed_results_match_by_position() {
    // A 2xx without a result for a record: the server took the request and may hold it. Not resent
    // blindly (immediate delivery says `unknown`); a dead letter saying so, which a requeue sends again.
    let mut store = FakeStore::default();
    let mut ob = outbox_with(config(), &ids("r", 3), &mut store);
    let mut now = T0;
    let partial = http(202, r#"{"results":[{"response_id":"r1","status":"queued"}]}"#);
    let run = drive_flush(&mut ob, &mut store, &mut now, 30_000, script(vec![partial]));
    assert_eq!(run.sends(), vec![ids("r", 3)]);
    assert_eq!(run.report, FlushReport { sent: 1, dead_lettered: 2, retry_later: 0, remaining: 0 });
    let letters = ob.dead_letters();
    for id in ["r0", "r2"] {
        let d = dead(&letters, id);
        assert_eq!(
            (d.reason.as_str(), d.status, d.attempts),
            ("not confirmed: the server took the request (HTTP 202) and may hold the record: the /track response has no result for this record", Some(202), 0)
        );
    }
    assert_eq!(store.ids("d"), strings(&["r0", "r2"]));
    assert_eq!(ob.requeue_dead_letters(None, now), 2);
    let run = drive_flush(&mut ob, &mut store, &mut now, 30_000, |ids| results(ids, "queued"));
    assert_eq!((run.sends(), run.report.sent), (vec![strings(&["r0", "r2"])], 2));

    let mut store = FakeStore::default();
    let mut ob = outbox_with(config(), &ids("s", 2), &mut store);
    let unnamed = http(202, r#"{"results":[{"status":"queued"},{"status":"error","errors":["bad"]}]}"#);
    let run = drive_flush(&mut ob, &mut store, &mut now, 30_000, script(vec![unnamed]));
    assert_eq!(run.report, FlushReport { sent: 1, dead_lettered: 1, retry_later: 0, remaining: 0 });
    assert_eq!(ob.dead_letters()[0].response_id, "s1");
}

#[test]
fn a_422_naming_one_record_dead_letters_it_and_resends_the_others_at_once() {
    let mut store = FakeStore::default();
    let mut ob = outbox_with(config(), &ids("r", 3), &mut store);
    let reply_422 = r#"{"results":[{"response_id":"r1","errors":["payload: total_tokens must be a number"]}]}"#;
    let mut now = T0;
    let run = drive_flush(&mut ob, &mut store, &mut now, 30_000, script(vec![http(422, reply_422)]));
    assert_eq!(run.sends(), vec![ids("r", 3), strings(&["r0", "r2"])]);
    assert!(run.waits().is_empty(), "the rest goes at once");
    assert_eq!(run.report, FlushReport { sent: 2, dead_lettered: 1, retry_later: 0, remaining: 0 });
    let d = &ob.dead_letters()[0];
    assert_eq!((d.response_id.as_str(), d.status, d.attempts), ("r1", Some(422), 0));
    assert_eq!(d.errors, strings(&["payload: total_tokens must be a number"]));
    assert_eq!(store.ids("d"), strings(&["r1"]));
    // No attempt was counted for the others: their stored values never said otherwise.
    assert!(store.log.iter().all(|k| match k {
        StoreOpKind::Put(entries) => entries.iter().all(|(_, v)| !v.contains("\"attempts\":1")),
        StoreOpKind::Delete(_) => true,
    }));
}

#[test]
fn other_4xx_and_unreadable_422_dead_letter_the_batch_with_status_and_body() {
    for (status, body) in [(400, "bad request"), (401, "invalid key"), (404, "<html>nope</html>"), (422, "not json"), (422, r#"{"results":[{"response_id":"zz","errors":["x"]}]}"#)] {
        let mut store = FakeStore::default();
        let mut ob = outbox_with(config(), &ids("r", 2), &mut store);
        let mut now = T0;
        let run = drive_flush(&mut ob, &mut store, &mut now, 30_000, script(vec![http(status, body)]));
        assert_eq!(run.sends().len(), 1, "{status}: not retried");
        assert_eq!(run.report.dead_lettered, 2);
        for d in ob.dead_letters() {
            assert_eq!(d.status, Some(status));
            assert_eq!(d.reason, format!("HTTP {status}: {body}"));
            assert_eq!(d.attempts, 0);
        }
        assert_eq!(store.ids("d"), ids("r", 2));
    }
    // The body is cut to an excerpt.
    let mut store = FakeStore::default();
    let mut ob = outbox_with(config(), &ids("r", 1), &mut store);
    let mut now = T0;
    drive_flush(&mut ob, &mut store, &mut now, 30_000, script(vec![http(400, &"x".repeat(5_000))]));
    assert!(ob.dead_letters()[0].reason.chars().count() < 600);
}

#[test]
fn a_413_halves_the_batch_down_to_single_records() {
    let mut store = FakeStore::default();
    let mut ob = outbox_with(config(), &ids("r", 4), &mut store);
    let mut now = T0;
    let server = |ids: &[String]| {
        if ids.len() > 1 || ids[0] == "r3" {
            http(413, "too large")
        } else {
            results(ids, "queued")
        }
    };
    let run = drive_flush(&mut ob, &mut store, &mut now, 30_000, server);
    assert_eq!(
        run.sends(),
        vec![ids("r", 4), strings(&["r0", "r1"]), strings(&["r0"]), strings(&["r1"]), strings(&["r2"]), strings(&["r3"])]
    );
    assert!(run.waits().is_empty(), "splits go at once");
    assert_eq!(run.report, FlushReport { sent: 3, dead_lettered: 1, retry_later: 0, remaining: 0 });
    let d = &ob.dead_letters()[0];
    assert_eq!((d.response_id.as_str(), d.status, d.attempts), ("r3", Some(413), 0));
    assert_eq!(d.reason, "HTTP 413: the record alone is larger than the server accepts");
    // The halving lasts one flush only.
    for id in ids("s", 4) {
        ob.enqueue(rec(&id), now).unwrap();
    }
    let run = drive_flush(&mut ob, &mut store, &mut now, 30_000, |ids| results(ids, "queued"));
    assert_eq!(run.sends(), vec![ids("s", 4)]);
}

#[test]
fn batches_respect_size_and_bytes_oldest_first() {
    let mut store = FakeStore::default();
    let one = rec("r0").json.len();
    let by_bytes = OutboxConfig { max_batch_bytes: "{\"tracked\":[]}".len() + 2 * one + 1, ..config() };
    let mut ob = outbox_with(by_bytes, &ids("r", 5), &mut store);
    let mut now = T0;
    let run = drive_flush(&mut ob, &mut store, &mut now, 30_000, |ids| results(ids, "queued"));
    assert_eq!(run.sends(), vec![strings(&["r0", "r1"]), strings(&["r2", "r3"]), strings(&["r4"])]);
    let mut ob = outbox_with(OutboxConfig { max_batch_size: 3, ..config() }, &ids("s", 5), &mut store);
    let run = drive_flush(&mut ob, &mut store, &mut now, 30_000, |ids| results(ids, "queued"));
    assert_eq!(run.sends(), vec![strings(&["s0", "s1", "s2"]), strings(&["s3", "s4"])]);
}

#[test]
fn a_full_outbox_refuses_and_changes_nothing() {
    let mut store = FakeStore::default();
    let mut ob = outbox_with(OutboxConfig { max_queue_size: 3, ..config() }, &ids("r", 3), &mut store);
    let before = ob.stats();
    let err = ob.enqueue(rec("x"), T0).unwrap_err();
    assert_eq!(err.code(), "E_QUEUE_FULL");
    assert_eq!(err, TrackError::QueueFull { records: 3, bytes: before.bytes, max_records: 3, max_bytes: 16 * 1024 * 1024 });
    assert_eq!(ob.stats(), before);
    assert!(ob.poll_store().is_none(), "nothing to write");
    // A duplicate of a queued record is still fine when full.
    assert_eq!(ob.enqueue(rec("r1"), T0), Ok(()));
    // In flight counts too; delivery makes room.
    let mut now = T0;
    ob.begin_flush(now, now + 1000);
    let SendOutput::Send { id, .. } = ob.poll_send(now) else { panic!("a send") };
    assert!(ob.enqueue(rec("x"), now).is_err());
    now += 5;
    ob.handle_response(id, results(&ids("r", 3), "queued"), now, JITTER);
    assert_eq!(ob.enqueue(rec("x"), now), Ok(()));

    // Bytes.
    let len = rec("b0").json.len();
    let mut ob = Outbox::new(OutboxConfig { max_queue_bytes: 2 * len + 1, ..config() });
    ob.enqueue(rec("b0"), T0).unwrap();
    ob.enqueue(rec("b1"), T0).unwrap();
    let before = ob.stats();
    assert!(matches!(ob.enqueue(rec("b2"), T0), Err(TrackError::QueueFull { records: 2, max_bytes, .. }) if max_bytes == 2 * len + 1));
    assert_eq!(ob.stats(), before);
    assert_eq!(before.bytes, 2 * len);
    match ob.poll_store().map(|op| op.kind) {
        Some(StoreOpKind::Put(entries)) => assert_eq!(entries.len(), 2),
        other => panic!("one put of the two records, got {other:?}"),
    }
}

#[test]
fn the_same_response_id_is_kept_once() {
    let mut store = FakeStore::default();
    let mut ob = outbox_with(config(), &strings(&["a", "a", "b"]), &mut store);
    assert_eq!((ob.stats().queued, ob.stats().duplicates), (2, 1));
    assert_eq!(store.ids("q"), strings(&["a", "b"]));
    // A dead-lettered id tracked again stays a dead letter.
    let mut now = T0;
    drive_flush(&mut ob, &mut store, &mut now, 30_000, script(vec![http(202, r#"{"results":[{"response_id":"a","status":"error","errors":["no"]},{"response_id":"b","status":"queued"}]}"#)]));
    assert_eq!(ob.enqueue(rec("a"), now), Ok(()));
    assert_eq!((ob.stats().queued, ob.stats().dead_lettered, ob.stats().duplicates), (0, 1, 2));
    assert!(ob.poll_store().is_none());
    // A delivered id tracked again is a new record (the server dedupes it).
    ob.enqueue(rec("b"), now).unwrap();
    assert_eq!(ob.stats().queued, 1);
    store.settle(&mut ob);
    assert_eq!(store.ids("q"), strings(&["b"]));
    // In flight too.
    ob.begin_flush(now, now + 1000);
    assert!(matches!(ob.poll_send(now), SendOutput::Send { .. }));
    ob.enqueue(rec("b"), now).unwrap();
    assert_eq!((ob.stats().queued, ob.stats().in_flight, ob.stats().duplicates), (0, 1, 3));
}

#[test]
fn an_expired_lease_makes_records_due_again_and_a_late_reply_still_acks() {
    let mut store = FakeStore::default();
    let mut ob = outbox_with(config(), &ids("r", 2), &mut store);
    let lease = ob.config().lease_ms;
    ob.begin_flush(T0, T0 + 60_000);
    let SendOutput::Send { id: first, .. } = ob.poll_send(T0) else { panic!("a send") };
    assert_eq!(ob.poll_send(T0 + lease - 1), SendOutput::AwaitResponse { id: first });
    // No reply within the lease: the same records go again, in a new batch.
    let SendOutput::Send { id: second, body } = ob.poll_send(T0 + lease) else { panic!("sent again") };
    assert_ne!(first, second);
    assert_eq!(ids_in(&body), ids("r", 2));
    assert_eq!(ob.stats().in_flight, 2);
    // The first batch's late reply acks them.
    ob.handle_response(first, results(&ids("r", 2), "queued"), T0 + lease + 10, JITTER);
    store.settle(&mut ob);
    assert_eq!((ob.stats().sent, ob.stats().queued, ob.stats().in_flight), (2, 0, 0));
    assert!(store.map.is_empty());
    // The second batch's answer finds nothing left to do, whatever it says.
    ob.handle_response(second, http(500, "x"), T0 + lease + 20, JITTER);
    assert_eq!(ob.stats().sent, 2);
    assert!(ob.dead_letters().is_empty());
    match ob.poll_send(T0 + lease + 20) {
        SendOutput::Done(report) => assert_eq!(report, FlushReport { sent: 2, dead_lettered: 0, retry_later: 0, remaining: 0 }),
        other => panic!("done, got {other:?}"),
    }
    // A late failure is ignored; unknown batch ids too.
    let mut ob = outbox_with(config(), &ids("s", 1), &mut store);
    ob.begin_flush(T0, T0 + 60_000);
    let SendOutput::Send { id, .. } = ob.poll_send(T0) else { panic!("a send") };
    assert!(matches!(ob.poll_send(T0 + lease), SendOutput::Send { .. }));
    ob.handle_response(id, http(400, "late"), T0 + lease + 1, JITTER);
    ob.handle_response(BatchId(999), http(400, "stranger"), T0 + lease + 1, JITTER);
    assert!(ob.dead_letters().is_empty());
    assert_eq!(ob.stats().in_flight, 1);
}

#[test]
fn a_late_reply_is_read_against_the_body_it_answers() {
    // The same reading as a reply in time: unnamed results by position; a record it does not confirm is left
    // to the batch being sent again (nothing dead-lettered late).
    let mut store = FakeStore::default();
    let mut ob = outbox_with(config(), &ids("r", 2), &mut store);
    let lease = ob.config().lease_ms;
    ob.begin_flush(T0, T0 + 60_000);
    let SendOutput::Send { id: first, .. } = ob.poll_send(T0) else { panic!("a send") };
    assert!(matches!(ob.poll_send(T0 + lease), SendOutput::Send { .. }), "sent again after the lease");
    let late = http(202, r#"{"results":[{"status":"queued"},{"status":"mystery"}]}"#);
    ob.handle_response(first, late, T0 + lease + 10, JITTER);
    assert_eq!((ob.stats().sent, ob.stats().dead_lettered), (1, 0), "r0 by position; r1 not confirmed: left alone");
    assert!(ob.holds("r1") && !ob.holds("r0"));

    // A result for a record its body did not carry changes nothing for that record.
    let mut store = FakeStore::default();
    let mut ob = outbox_with(OutboxConfig { max_batch_size: 2, ..config() }, &ids("s", 3), &mut store);
    ob.begin_flush(T0, T0 + 60_000);
    let SendOutput::Send { id: first, body } = ob.poll_send(T0) else { panic!("a send") };
    assert_eq!(ids_in(&body), ids("s", 2));
    assert!(matches!(ob.poll_send(T0 + lease), SendOutput::Send { .. }));
    let late = http(202, r#"{"results":[{"response_id":"s2","status":"queued"},{"response_id":"s0","status":"queued"}]}"#);
    ob.handle_response(first, late, T0 + lease + 10, JITTER);
    assert_eq!(ob.stats().sent, 1);
    assert!(!ob.holds("s0") && ob.holds("s1") && ob.holds("s2"), "s2 was not in that body");
}

#[test]
fn waits_only_before_the_deadline_then_reports() {
    // Retry-After 10 s with 5 s left: Done at once, with what is left.
    let mut store = FakeStore::default();
    let mut ob = outbox_with(config(), &ids("r", 3), &mut store);
    let mut now = T0;
    let run = drive_flush(&mut ob, &mut store, &mut now, 5_000, script(vec![http_retry_after(503, "10")]));
    assert_eq!(run.sends().len(), 1);
    assert!(run.waits().is_empty());
    assert_eq!(run.report, FlushReport { sent: 0, dead_lettered: 0, retry_later: 3, remaining: 3 });
    assert_eq!(now, T0 + LATENCY, "Done without sleeping");
    // The next flush honours the pause: it waits when the deadline allows, then sends.
    let run = drive_flush(&mut ob, &mut store, &mut now, 20_000, |ids| results(ids, "queued"));
    assert_eq!(run.events[0], Event::Wait { at: T0 + LATENCY, until: T0 + LATENCY + 10_000 });
    assert_eq!(run.report, FlushReport { sent: 3, dead_lettered: 0, retry_later: 0, remaining: 0 });
    // Outside a flush, and past the deadline: Done.
    assert_eq!(ob.poll_send(now), SendOutput::Done(FlushReport::default()));
    ob.enqueue(rec("late"), now).unwrap();
    ob.begin_flush(now, now);
    assert_eq!(ob.poll_send(now), SendOutput::Done(FlushReport { remaining: 1, ..FlushReport::default() }));
}

#[test]
fn records_tracked_during_a_flush_go_in_it() {
    let mut store = FakeStore::default();
    let mut ob = outbox_with(config(), &ids("r", 1), &mut store);
    ob.begin_flush(T0, T0 + 10_000);
    let SendOutput::Send { id, .. } = ob.poll_send(T0) else { panic!("a send") };
    ob.enqueue(rec("new"), T0 + 1).unwrap();
    ob.handle_response(id, results(&ids("r", 1), "queued"), T0 + 5, JITTER);
    let SendOutput::Send { body, .. } = ob.poll_send(T0 + 5) else { panic!("the new record goes too") };
    assert_eq!(ids_in(&body), strings(&["new"]));
}

#[test]
fn a_flush_for_a_page_going_away_sends_small_bodies() {
    let mut store = FakeStore::default();
    let mut ob = outbox_with(config(), &ids("r", 10), &mut store);
    let one = rec("r0").json.len() + "{\"tracked\":[]}".len();
    ob.begin_flush_within(T0, T0 + 1000, 2 * one + 1);
    let SendOutput::Send { id, body } = ob.poll_send(T0) else { panic!("a send") };
    assert!(body.len() <= 2 * one + 1, "{} bytes", body.len());
    assert_eq!(ids_in(&body).len(), 2);
    // The next ordinary flush is back to the configured size.
    let mut now = T0 + 10;
    ob.handle_response(id, results(&ids_in(&body), "queued"), now, JITTER);
    let run = drive_flush(&mut ob, &mut store, &mut now, 1000, script(vec![]));
    assert_eq!((run.report.sent, run.sends().len()), (8, 1));
}
