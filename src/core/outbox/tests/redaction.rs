//! Defect 5 of issue 6: the API key never reaches a dead letter, `deadLetters()` or the store, whatever the
//! server or the network echoes.

// Test-only file (declared `#[cfg(test)] mod tests;` in outbox/mod.rs); tests/source_rules.rs reads
// everything after the first `#[cfg(test)]` as test code.
#[cfg(test)]
use super::*;
use crate::core::redact::{Redactor, REDACTED};

const KEY: &str = "sk-proj-Zq8w1x2c3v4b5n6m7";

fn keyed() -> OutboxConfig {
    OutboxConfig { redactor: Redactor::new(Some(KEY)), ..config() }
}

/// Nothing the outbox exposes or stores holds the key or a 12-byte fragment of it.
fn assert_no_key(outbox: &Outbox, store: &FakeStore) {
    let fragment = &KEY[4..16];
    for (k, v) in &store.map {
        assert!(!v.contains(fragment) && !k.contains(fragment), "store {k}: {v}");
    }
    for dead in outbox.dead_letters() {
        assert!(!dead.reason.contains(fragment), "{}", dead.reason);
        assert!(dead.errors.iter().all(|e| !e.contains(fragment)), "{:?}", dead.errors);
    }
}

#[test]
fn a_401_echoing_the_key_is_dead_lettered_redacted() {
    let mut store = FakeStore::default();
    let mut outbox = outbox_with(keyed(), &ids("r", 2), &mut store);
    let mut now = T0;
    let body = format!(r#"{{"detail":"Invalid API key {KEY}","header":"Bearer {KEY}","cut":"{}…"}}"#, &KEY[..14]);
    let run = drive_flush(&mut outbox, &mut store, &mut now, 1000, script(vec![http(401, &body)]));
    assert_eq!(run.report.dead_lettered, 2);
    let dead = outbox.dead_letters();
    assert_eq!(dead[0].reason, format!(r#"HTTP 401: {{"detail":"Invalid API key {REDACTED}","header":"Bearer {REDACTED}","cut":"{REDACTED}…"}}"#));
    assert_eq!(store.ids("d"), ids("r", 2));
    assert_no_key(&outbox, &store);
}

#[test]
fn per_record_errors_and_network_messages_echoing_the_key_are_redacted() {
    let mut store = FakeStore::default();
    let mut outbox = outbox_with(keyed(), &ids("r", 2), &mut store);
    let mut now = T0;
    let reply = format!(
        r#"{{"results":[{{"response_id":"r0","status":"error","errors":["key {KEY} may not send r0"]}},{{"response_id":"r1","status":"queued"}}]}}"#
    );
    let run = drive_flush(&mut outbox, &mut store, &mut now, 1000, script(vec![http(202, &reply)]));
    assert_eq!((run.report.sent, run.report.dead_lettered), (1, 1));
    let dead = outbox.dead_letters();
    assert_eq!(dead[0].errors, vec![format!("key {REDACTED} may not send r0")]);
    assert_eq!(dead[0].reason, format!("rejected by the server: key {REDACTED} may not send r0"));

    // A custom fetch whose rejection carries the key, until the record is too old (attempts alone never
    // dead-letter a network failure).
    let mut outbox = outbox_with(OutboxConfig { max_age_ms: 300_000, ..keyed() }, &[], &mut store);
    outbox.enqueue(rec("n0"), now).unwrap();
    let network = HttpOutcome::Network { message: format!("proxy refused Authorization: Bearer {KEY}") };
    for _ in 0..10 {
        let answer = network.clone();
        drive_flush(&mut outbox, &mut store, &mut now, 60_000, move |_| answer.clone());
        now += 60_000;
    }
    let gave_up = outbox.dead_letters().into_iter().find(|d| d.response_id == "n0").expect("dead-lettered");
    assert!(gave_up.reason.starts_with("expired after "), "{}", gave_up.reason);
    assert!(gave_up.reason.contains("network error: proxy refused Authorization: Bearer [redacted]"), "{}", gave_up.reason);
    assert_no_key(&outbox, &store);
}

#[test]
fn a_dead_letter_stored_with_the_key_by_an_older_version_is_rewritten_redacted() {
    let mut store = FakeStore::default();
    let json = rec("old").json;
    let leaked = format!(
        r#"{{"v":1,"created":1,"attempts":1,"at":2,"reason":"HTTP 401: bad key {KEY}","status":401,"errors":["{KEY}"],"record":{json}}}"#
    );
    store.map.insert(format!("{NS}d/old"), leaked);
    let mut outbox = Outbox::new(keyed());
    outbox.handle_listed(store.listing(), T0, true);
    store.settle(&mut outbox);
    let dead = outbox.dead_letters();
    assert_eq!((dead[0].reason.as_str(), dead[0].errors.clone()), ("HTTP 401: bad key [redacted]", vec![REDACTED.to_owned()]));
    assert_no_key(&outbox, &store);
    // Without a key configured nothing is rewritten.
    let mut plain = Outbox::new(config());
    let mut other = FakeStore::default();
    other.map.insert(format!("{NS}d/old"), store.map.values().next().unwrap().replace(REDACTED, KEY));
    plain.handle_listed(other.listing(), T0, true);
    assert!(plain.poll_store().is_none());
}

#[test]
fn the_config_debug_output_does_not_show_the_key() {
    let shown = format!("{:?}", keyed());
    assert!(!shown.contains(&KEY[4..16]), "{shown}");
}
