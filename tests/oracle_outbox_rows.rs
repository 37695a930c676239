//! The outbox's stored rows (src/core/outbox/stored.rs), through the public outbox API: what one outbox
//! writes to its store, another reads back exactly (records byte for byte, dead letters field for field);
//! damaged and hostile rows never panic, are counted as unreadable or adopted, and whatever is adopted is
//! sent or listed as valid JSON. The oracle is the writer itself (round trip) and `json::parse`.
#![cfg(not(target_arch = "wasm32"))]

mod oracle_support;

use std::collections::BTreeMap;

use aicostmanager_edge::core::batch::EncodedRecord;
use aicostmanager_edge::core::fingerprint::namespace;
use aicostmanager_edge::core::json;
use aicostmanager_edge::core::outbox::{DeadLetter, Outbox, OutboxConfig, SendOutput, StoreOpKind};
use aicostmanager_edge::core::record;
use aicostmanager_edge::core::retry::HttpOutcome;
use aicostmanager_edge::core::value::Value;
use oracle_support::{cases, Disagreements, Rng};

type Store = BTreeMap<String, String>;

fn settle(outbox: &mut Outbox, store: &mut Store) {
    while let Some(op) = outbox.poll_store() {
        match op.kind {
            StoreOpKind::Put(entries) => store.extend(entries),
            StoreOpKind::Delete(keys) => keys.iter().for_each(|k| {
                store.remove(k);
            }),
        }
        outbox.handle_stored(op.id, Ok(()));
    }
}

fn listing(store: &Store) -> Vec<(String, String)> {
    store.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The ids of a sent body's records, and the records' JSON texts.
fn body_records(body: &str) -> Vec<(String, String)> {
    let parsed = json::parse(body).unwrap_or(Value::Null);
    parsed
        .get("tracked")
        .and_then(Value::as_array)
        .unwrap_or(&[])
        .iter()
        .map(|r| (r.get("response_id").and_then(Value::as_str).unwrap_or("").to_owned(), json::to_string(r)))
        .collect()
}

fn accept_all(body: &str) -> HttpOutcome {
    let results: Vec<String> = body_records(body)
        .iter()
        .map(|(id, _)| format!(r#"{{"response_id":{},"status":"queued"}}"#, json::quoted(id)))
        .collect();
    HttpOutcome::Response { status: 202, retry_after: None, body: format!(r#"{{"results":[{}]}}"#, results.join(",")) }
}

/// Flushes `outbox` answering with `answer` until done (bounded), settling the store after every reply.
/// Returns the bodies sent.
fn flush(outbox: &mut Outbox, store: &mut Store, now_ms: &mut u64, mut answer: impl FnMut(&str) -> HttpOutcome) -> Vec<String> {
    let mut bodies = Vec::new();
    outbox.begin_flush(*now_ms, *now_ms + 10_000_000);
    for _ in 0..200 {
        match outbox.poll_send(*now_ms) {
            SendOutput::Send { id, body } => {
                let outcome = answer(&body);
                bodies.push(body);
                outbox.handle_response(id, outcome, *now_ms, 0.5);
                settle(outbox, store);
            }
            SendOutput::Wait { until_ms } => *now_ms = until_ms,
            SendOutput::AwaitResponse { .. } => *now_ms += 1000,
            SendOutput::Done(_) => break,
        }
    }
    settle(outbox, store);
    bodies
}

fn sorted(mut letters: Vec<DeadLetter>) -> Vec<DeadLetter> {
    letters.sort_by(|a, b| a.response_id.cmp(&b.response_id));
    letters
}

/// One outbox's store after tracking a few nasty records, failing some sends and dead-lettering some.
struct Written {
    config: OutboxConfig,
    store: Store,
    dead: Vec<DeadLetter>,
    /// The JSON of the records still queued, by id.
    queued: BTreeMap<String, String>,
    now_ms: u64,
}

fn write_some(rng: &mut Rng) -> Written {
    let ns = namespace(&rng.nasty_string(8), &rng.nasty_string(8), &rng.nasty_string(8));
    let mut config = OutboxConfig::new(ns);
    config.policy.max_attempts = 1 + rng.below(6) as u32;
    config.max_batch_size = 1 + rng.below(3) as usize;
    let mut outbox = Outbox::new(config.clone());
    let mut store = Store::new();
    let mut now_ms = rng.below(4_000_000_000_000);
    outbox.handle_listed(Vec::new(), now_ms, true);
    let mut all = BTreeMap::new();
    for i in 0..1 + rng.below(4) {
        let id = format!("{}{i}", rng.nasty_string(10));
        // Distinct keys, as a JS object has them (import never builds duplicates).
        let payload = Value::Object(vec![("p".into(), rng.json_value(3)), (format!("q{}", rng.nasty_string(5)), rng.json_value(2))]);
        let context = rng.one_in(2).then(|| rng.json_value(2));
        let customer = rng.one_in(2).then(|| rng.nasty_string(10));
        let micros = rng.range(-62_135_596_800_000_000, 253_402_300_799_999_999);
        let json = record::encode(&rng.nasty_string(12), &id, micros, &payload, customer.as_deref(), context.as_ref());
        all.insert(id.clone(), json.clone());
        let _ = outbox.enqueue(EncodedRecord { response_id: id, json }, now_ms);
        now_ms += rng.below(5000);
        settle(&mut outbox, &mut store);
    }
    // Some failed sends (attempts counted and written back), then maybe a rejection (dead letters).
    let failures = rng.below(4);
    let mut sent = 0;
    let reason = rng.nasty_string(40);
    let errors: Vec<String> = (0..rng.below(3)).map(|_| rng.nasty_string(15)).collect();
    let reject = rng.one_in(2);
    let status = *rng.pick(&[400u16, 401, 403, 404, 413, 422]);
    flush(&mut outbox, &mut store, &mut now_ms, |body| {
        sent += 1;
        if sent <= failures {
            HttpOutcome::Response { status: 503, retry_after: None, body: reason.clone() }
        } else if reject {
            let ids: Vec<String> = body_records(body).iter().map(|(id, _)| json::quoted(id)).collect();
            let errs: Vec<String> = errors.iter().map(|e| json::quoted(e)).collect();
            let detail = format!(r#"{{"detail":{},"errors":[{}],"response_ids":[{}]}}"#, json::quoted(&reason), errs.join(","), ids.join(","));
            HttpOutcome::Response { status, retry_after: None, body: detail }
        } else {
            HttpOutcome::Network { message: reason.clone() }
        }
    });
    let dead = sorted(outbox.dead_letters());
    let queued = all.into_iter().filter(|(id, _)| !dead.iter().any(|d| &d.response_id == id)).collect();
    Written { config, store, dead, queued, now_ms }
}

#[test]
fn written_rows_read_back_exactly() {
    let mut rng = Rng::for_test("rows_round_trip");
    let mut bad = Disagreements::default();
    let mut dead_seen = 0;
    for case in 0..cases(400) {
        let w = write_some(&mut rng);
        dead_seen += w.dead.len();
        let mut reader = Outbox::new(w.config.clone());
        reader.handle_listed(listing(&w.store), w.now_ms, false);
        let stats = reader.stats();
        if stats.unreadable != 0 {
            bad.add(format!("case {case}: {} of its own rows unreadable: {:?}", stats.unreadable, w.store));
        }
        let dead = sorted(reader.dead_letters());
        if dead != w.dead {
            bad.add(format!("case {case}: dead letters read back as {dead:?}, written {:?}", w.dead));
        }
        let (mut store, mut now_ms) = (w.store.clone(), w.now_ms);
        let bodies = flush(&mut reader, &mut store, &mut now_ms, accept_all);
        let sent: BTreeMap<String, String> = bodies.iter().flat_map(|b| body_records(b)).collect();
        if sent != w.queued {
            bad.add(format!("case {case}: sent {sent:?}, queued {:?}", w.queued));
        }
        for body in &bodies {
            let again = json::parse(body).map(|v| json::to_string(&v));
            if again.as_deref() != Ok(body.as_str()) {
                bad.add(format!("case {case}: a body is not canonical JSON: {body}"));
            }
        }
    }
    bad.assert_none("stored rows");
    assert!(dead_seen > 100, "too few dead letters generated ({dead_seen})");
}

/// A stored value built field by field from hostile values.
fn hostile_value(rng: &mut Rng, id: &str, record: &str) -> String {
    let number = |rng: &mut Rng| -> String {
        match rng.below(4) {
            0 => json::to_string(&Value::Number(rng.nasty_f64())),
            1 => rng.pick(&["-1", "0", "1", "9007199254740992", "9007199254740993", "1e300", "0.5", "65535", "65536", "4294967296", "-0", "null", "\"1\"", "[]", "{}", "true"]).to_string(),
            _ => rng.below(1 << 20).to_string(),
        }
    };
    let mut fields: Vec<String> = Vec::new();
    for name in ["v", "created", "attempts", "at", "reason", "status", "errors", "record"] {
        if rng.one_in(8) {
            continue;
        }
        let value = match name {
            "v" if !rng.one_in(4) => "1".to_owned(),
            "reason" if !rng.one_in(4) => json::quoted(&rng.nasty_string(20)),
            "errors" if !rng.one_in(4) => format!("[{}]", json::quoted(&rng.nasty_string(10))),
            "status" => rng.pick(&["null", "99", "100", "999", "1000", "422", "422.5", "\"500\""]).to_string(),
            "record" => match rng.below(4) {
                0 => json::to_string(&rng.json_value(3)),
                1 => format!(r#"{{"response_id":{}}}"#, json::quoted(&rng.nasty_string(5))),
                _ => record.replace("__ID__", &json::to_string(&Value::from(id))),
            },
            _ => number(rng),
        };
        fields.push(format!("{}:{value}", json::quoted(name)));
    }
    format!("{{{}}}", fields.join(","))
}

#[test]
fn damaged_and_hostile_rows_never_panic_and_stay_valid() {
    let mut rng = Rng::for_test("rows_damaged");
    let mut bad = Disagreements::default();
    let (mut adopted, mut unreadable) = (0, 0);
    for case in 0..cases(600) {
        let w = write_some(&mut rng);
        let ns = w.config.namespace.clone();
        let mut entries = listing(&w.store);
        for _ in 0..1 + rng.below(4) {
            match rng.below(4) {
                0 if !entries.is_empty() => {
                    let at = rng.below(entries.len() as u64) as usize;
                    entries[at].1 = rng.mutate_some(&entries[at].1);
                }
                1 if !entries.is_empty() => {
                    let at = rng.below(entries.len() as u64) as usize;
                    entries[at].0 = rng.mutate_some(&entries[at].0);
                }
                _ => {
                    let id = rng.nasty_string(6);
                    let kind = *rng.pick(&["q/", "d/", "x/", ""]);
                    let record = r#"{"service_key":"a::b","response_id":__ID__,"payload":{}}"#;
                    entries.push((format!("{ns}{kind}{id}"), hostile_value(&mut rng, &id, record)));
                }
            }
        }
        let under_ns = entries.iter().filter(|(k, _)| k.starts_with(&ns)).count();
        let mut reader = Outbox::new(w.config.clone());
        reader.handle_listed(entries.clone(), w.now_ms, false);
        let stats = reader.stats();
        adopted += stats.queued + stats.dead_lettered;
        unreadable += stats.unreadable;
        if stats.queued + stats.dead_lettered + stats.unreadable > under_ns {
            bad.add(format!("case {case}: {stats:?} from {under_ns} entries under the namespace"));
        }
        for letter in reader.dead_letters() {
            let again = json::parse(&letter.record_json).map(|v| json::to_string(&v));
            if again.as_deref() != Ok(letter.record_json.as_str()) {
                bad.add(format!("case {case}: dead letter record is not canonical JSON: {}", letter.record_json));
            }
        }
        let mut store: Store = entries.into_iter().collect();
        let mut now_ms = w.now_ms;
        for body in flush(&mut reader, &mut store, &mut now_ms, accept_all) {
            if json::parse(&body).map(|v| json::to_string(&v)).as_deref() != Ok(body.as_str()) {
                bad.add(format!("case {case}: body is not canonical JSON: {body}"));
            }
        }
    }
    bad.assert_none("damaged rows");
    assert!(adopted > 300 && unreadable > 300, "generator too narrow: {adopted} adopted, {unreadable} unreadable");
}
