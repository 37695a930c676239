//! Every decision of the Queues consumer, natively.

// Test-only file (declared `#[cfg(test)] mod tests;` in queue_consumer/mod.rs); tests/source_rules.rs and the
// project's panic checks read everything after the first `#[cfg(test)]` as test code.
#[cfg(test)]
use super::envelope::{encode_requeued, parse_message};
use super::session::{Action, ConsumerConfig, ConsumerSession, MessageIn, MAX_DELAY_SECONDS};
use crate::core::retry::HttpOutcome;

const NOW: u64 = 1_800_000_000_000;

fn rec(id: &str) -> String {
    format!(r#"{{"service_key":"a::b","response_id":"{id}","payload":{{"x":1}}}}"#)
}

fn msg(body: &str, attempts: u32) -> MessageIn {
    MessageIn { body: Some(body.to_owned()), kind: "string".into(), attempts, timestamp_ms: NOW - 1000 }
}

fn ok_reply(ids: &[&str]) -> HttpOutcome {
    let results: Vec<String> = ids.iter().map(|id| format!(r#"{{"response_id":"{id}","status":"queued"}}"#)).collect();
    HttpOutcome::Response { status: 200, retry_after: None, body: format!(r#"{{"results":[{}]}}"#, results.join(",")) }
}

fn status(code: u16, retry_after: Option<&str>) -> HttpOutcome {
    HttpOutcome::Response { status: code, retry_after: retry_after.map(str::to_owned), body: "down".into() }
}

fn session(messages: Vec<MessageIn>, paused: u64) -> ConsumerSession {
    ConsumerSession::new(ConsumerConfig::default(), messages, NOW, paused, false, 0.3)
}

/// Posts every body, answering each with `answer(body)`.
fn drive(s: &mut ConsumerSession, mut answer: impl FnMut(&str) -> HttpOutcome) -> Vec<String> {
    let mut bodies = Vec::new();
    while let Some(body) = s.next_body() {
        let outcome = answer(&body);
        s.settle(&outcome, NOW, 0.3);
        bodies.push(body);
    }
    bodies
}

#[test]
fn accepted_records_are_acked_and_posted_once_in_one_body() {
    let mut s = session(vec![msg(&rec("a"), 1), msg(&rec("b"), 1)], 0);
    let bodies = drive(&mut s, |_| ok_reply(&["a", "b"]));
    assert_eq!(bodies, vec![format!("{{\"tracked\":[{},{}]}}", rec("a"), rec("b"))]);
    assert_eq!(s.actions(), vec![Action::Ack { status: "queued".into() }, Action::Ack { status: "queued".into() }]);
    assert_eq!(s.posts(), 1);
}

#[test]
fn a_repeated_response_id_is_sent_once_and_both_acked() {
    let mut s = session(vec![msg(&rec("a"), 1), msg(&rec("a"), 2), msg(&rec("b"), 1)], 0);
    let bodies = drive(&mut s, |_| ok_reply(&["a", "b"]));
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0].matches("\"response_id\":\"a\"").count(), 1);
    let actions = s.actions();
    assert_eq!(actions[1], Action::Ack { status: "duplicate".into() });
    assert!(matches!(actions[0], Action::Ack { .. }) && matches!(actions[2], Action::Ack { .. }));
}

#[test]
fn garbage_is_dead_lettered_and_never_posted() {
    let garbage = MessageIn { body: None, kind: "ArrayBuffer".into(), attempts: 1, timestamp_ms: NOW };
    let mut s = session(vec![msg("<html>", 1), garbage, msg("{\"response_id\":7}", 1)], 0);
    assert!(drive(&mut s, |_| panic!("posted garbage")).is_empty());
    for action in s.actions() {
        let Action::DeadLetter { reason, body } = action else { panic!("{action:?}") };
        assert_eq!(reason.code, "E_QUEUE_MESSAGE");
        assert!(crate::core::json::parse(&body).is_ok(), "{body}");
    }
}

#[test]
fn a_5xx_retries_everything_with_the_backoff_and_pauses_the_isolate() {
    let ids: Vec<String> = (0..150).map(|i| format!("r{i}")).collect();
    let mut s = session(ids.iter().map(|id| msg(&rec(id), 1)).collect(), 0);
    let bodies = drive(&mut s, |_| status(503, None));
    assert_eq!(bodies.len(), 1, "the second body of 50 is not posted once the first failed");
    assert!(s.paused_until_ms() > NOW && s.paused_until_ms() <= NOW + 2_000, "{}", s.paused_until_ms());
    for action in s.actions() {
        // Attempt 1 failed: window 2 s, upper half [1 s, 2 s) → 1 or 2 whole seconds.
        let Action::Retry { delay_seconds, code } = action else { panic!("{action:?}") };
        assert!((1..=2).contains(&delay_seconds), "{delay_seconds}");
        assert_eq!(code, "E_HTTP_STATUS");
    }
}

#[test]
fn the_backoff_grows_with_carried_attempts_and_retry_after_wins() {
    let envelope = encode_requeued(&rec("a"), 9, NOW - 10_000);
    let mut s = session(vec![msg(&envelope, 1)], 0);
    drive(&mut s, |_| status(503, None));
    // 1 + 9 = attempt 10: window min(2 s · 2^9, 300 s) = 300 s, upper half.
    let Action::Retry { delay_seconds, .. } = &s.actions()[0] else { panic!() };
    assert!((150..=300).contains(delay_seconds), "{delay_seconds}");

    let mut s = session(vec![msg(&rec("a"), 1)], 0);
    drive(&mut s, |_| status(429, Some("45")));
    assert_eq!(s.actions()[0], Action::Retry { delay_seconds: 45, code: "E_HTTP_STATUS" });
    assert_eq!(s.paused_until_ms(), NOW + 45_000);
}

#[test]
fn during_the_pause_a_batch_is_retried_without_a_post() {
    let mut s = session(vec![msg(&rec("a"), 1), msg(&rec("b"), 2)], NOW + 30_500);
    assert!(s.next_body().is_none());
    for action in s.actions() {
        let Action::Retry { delay_seconds, code } = action else { panic!("{action:?}") };
        assert_eq!(code, "E_PAUSED");
        assert!(delay_seconds >= 31, "{delay_seconds}");
    }
    let mut s = session(vec![msg(&rec("a"), 1)], NOW);
    assert!(s.next_body().is_some(), "a pause that has ended posts");
}

#[test]
fn before_queues_max_retries_a_record_is_resent_carrying_its_attempts() {
    let mut s = session(vec![msg(&rec("a"), 2), msg(&rec("b"), 3)], 0);
    drive(&mut s, |_| HttpOutcome::Network { message: "refused".into() });
    let actions = s.actions();
    assert!(matches!(actions[0], Action::Retry { .. }), "{:?}", actions[0]);
    let Action::Requeue { body, delay_seconds, code } = &actions[1] else { panic!("{:?}", actions[1]) };
    assert_eq!(*code, "E_NETWORK");
    assert!(*delay_seconds >= 1);
    let back = parse_message(Some(body), "string", false).unwrap();
    assert_eq!((back.record_json, back.carried_attempts, back.first_seen_ms), (rec("b"), 3, Some(NOW - 1000)));
}

#[test]
fn an_outage_of_days_never_dead_letters_and_delays_stay_within_queues_limit() {
    // A record through 2 days of 503 at 5-minute steps: always retried or re-sent, never a dead letter.
    let mut body = rec("a");
    let mut attempts = 1;
    let first = NOW;
    let mut now = NOW;
    while now < NOW + 2 * 24 * 3600 * 1000 {
        let m = MessageIn { body: Some(body.clone()), kind: "string".into(), attempts, timestamp_ms: first };
        let mut s = ConsumerSession::new(ConsumerConfig::default(), vec![m], now, 0, false, 0.9);
        let b = s.next_body().unwrap();
        assert!(b.contains("\"response_id\":\"a\""));
        s.settle(&status(503, Some("999999")), now, 0.9);
        match &s.actions()[0] {
            Action::Retry { delay_seconds, .. } => {
                assert!(*delay_seconds <= MAX_DELAY_SECONDS);
                attempts += 1;
            }
            Action::Requeue { body: next, delay_seconds, .. } => {
                assert!(*delay_seconds <= MAX_DELAY_SECONDS);
                body = next.clone();
                attempts = 1;
            }
            other => panic!("{other:?}"),
        }
        now += 300_000;
    }
}

#[test]
fn a_record_older_than_the_max_age_is_dead_lettered_when_it_fails_again() {
    let old = encode_requeued(&rec("a"), 50, NOW - 8 * 24 * 3600 * 1000);
    let mut s = session(vec![msg(&old, 1)], 0);
    drive(&mut s, |_| status(503, None));
    let Action::DeadLetter { reason, body } = &s.actions()[0] else { panic!() };
    assert_eq!(reason.code, "E_TOO_OLD");
    assert!(body.contains(&rec("a")));
    // The same old record is still delivered when the service is up.
    let mut s = session(vec![msg(&old, 1)], 0);
    drive(&mut s, |_| ok_reply(&["a"]));
    assert!(matches!(s.actions()[0], Action::Ack { .. }));
}

#[test]
fn definitive_failures_are_dead_letters_with_their_reason() {
    let reply = HttpOutcome::Response {
        status: 200,
        retry_after: None,
        body: r#"{"results":[{"response_id":"a","status":"error","errors":["bad service_key"]},{"response_id":"b","status":"queued"}]}"#.into(),
    };
    let mut s = session(vec![msg(&rec("a"), 1), msg(&rec("b"), 1), msg(&rec("c"), 1)], 0);
    drive(&mut s, |_| reply.clone());
    let actions = s.actions();
    let Action::DeadLetter { reason, .. } = &actions[0] else { panic!() };
    assert_eq!((reason.code, reason.status, reason.errors.clone()), ("E_REJECTED", Some(200), vec!["bad service_key".to_owned()]));
    assert!(matches!(actions[1], Action::Ack { .. }));
    let Action::DeadLetter { reason, .. } = &actions[2] else { panic!() };
    assert_eq!(reason.code, "E_MISSING_RESULT", "an unconfirmed 2xx is never retried blindly");

    let mut s = session(vec![msg(&rec("a"), 1)], 0);
    drive(&mut s, |_| status(401, None));
    let Action::DeadLetter { reason, .. } = &s.actions()[0] else { panic!() };
    assert_eq!((reason.code, reason.status), ("E_HTTP_STATUS", Some(401)));
}

#[test]
fn a_413_halves_the_bodies_and_a_single_record_413_is_a_dead_letter() {
    let ids = ["a", "b", "c", "d"];
    let mut s = session(ids.iter().map(|id| msg(&rec(id), 1)).collect(), 0);
    let bodies = drive(&mut s, |body| {
        let n = body.matches("response_id").count();
        if n > 1 {
            status(413, None)
        } else {
            let id = ids.iter().find(|id| body.contains(&format!("\"{id}\""))).unwrap();
            if *id == "c" { status(413, None) } else { ok_reply(&[id]) }
        }
    });
    // 4 → 413 → 2+2 → 413 each → 1+1+1+1.
    assert_eq!(bodies.len(), 1 + 2 + 4);
    let actions = s.actions();
    let Action::DeadLetter { reason, .. } = &actions[2] else { panic!() };
    assert_eq!(reason.code, "E_TOO_LARGE");
    assert_eq!(actions.iter().filter(|a| matches!(a, Action::Ack { .. })).count(), 3);
}

#[test]
fn bodies_respect_the_batch_limits() {
    let cfg = ConsumerConfig { max_batch_size: 2, max_batch_bytes: 10_000, ..ConsumerConfig::default() };
    let messages = (0..5).map(|i| msg(&rec(&format!("r{i}")), 1)).collect();
    let mut s = ConsumerSession::new(cfg, messages, NOW, 0, false, 0.1);
    let bodies = drive(&mut s, |body| {
        let ids: Vec<String> = (0..5).map(|i| format!("r{i}")).filter(|id| body.contains(&format!("\"{id}\""))).collect();
        ok_reply(&ids.iter().map(String::as_str).collect::<Vec<_>>())
    });
    assert_eq!(bodies.iter().map(|b| b.matches("response_id").count()).collect::<Vec<_>>(), vec![2, 2, 1]);
    let one = rec("r0").len();
    let cfg = ConsumerConfig { max_batch_size: 100, max_batch_bytes: 14 + 2 * one + 1, ..ConsumerConfig::default() };
    let messages = (0..3).map(|i| msg(&rec(&format!("r{i}")), 1)).collect();
    let mut s = ConsumerSession::new(cfg, messages, NOW, 0, false, 0.1);
    let bodies = drive(&mut s, |_| ok_reply(&[]));
    assert_eq!(bodies.iter().map(String::len).collect::<Vec<_>>(), vec![14 + 2 * one + 1, 14 + one]);
}

#[test]
fn the_replay_reads_dead_letters_and_resets_attempts() {
    use super::envelope::{encode_dead_letter, DeadReason};
    let reason = DeadReason { code: "E_HTTP_STATUS", status: Some(401), errors: vec![] };
    let dead = encode_dead_letter(&reason, Some(&rec("a")), None, 40, NOW - 5, NOW - 1);
    let garbage = msg("nope", 1);
    let mut s = ConsumerSession::new(ConsumerConfig::default(), vec![msg(&dead, 7), msg(&rec("b"), 2), garbage], NOW, 0, true, 0.1);
    assert!(s.next_body().is_none(), "the replay posts nothing");
    let actions = s.actions();
    let Action::Requeue { body, delay_seconds: 0, code: "E_REPLAY" } = &actions[0] else { panic!("{:?}", actions[0]) };
    let back = parse_message(Some(body), "string", false).unwrap();
    assert_eq!((back.record_json, back.carried_attempts, back.first_seen_ms), (rec("a"), 0, Some(NOW)));
    assert!(matches!(&actions[1], Action::Requeue { .. }));
    assert!(matches!(&actions[2], Action::DeadLetter { .. }));
    // The delivery consumer refuses a dead letter (it is not posted again behind the user's back).
    let mut s = session(vec![msg(&dead, 1)], 0);
    assert!(s.next_body().is_none());
}
