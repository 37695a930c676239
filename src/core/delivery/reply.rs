//! The one reply contract: what a `/track` outcome means for the records of the body it answers, in every
//! delivery mode.
//!
//! Call [`interpret`] with the [`HttpOutcome`] of one request, the `response_id`s its body carried (in body
//! order) and the retry timing; act on the [`Verdict`] alone. Both machines do: immediate delivery
//! ([`crate::core::immediate`]) turns it into per-record results, the outbox ([`crate::core::outbox`]) into
//! deliveries, dead letters and retry times. Neither reads a status, a reply body or a `Retry-After` itself.
//! Parsing the body and judging one per-record result is [`crate::core::response`]'s; classifying a status
//! and computing a delay is [`crate::core::retry`]'s; this module puts them together.
//!
//! # The contract
//!
//! | outcome | verdict | immediate | outbox |
//! |---|---|---|---|
//! | 2xx with a readable reply | [`Verdict::PerRecord`]: per record [`RecordVerdict::Accepted`], [`RecordVerdict::Rejected`] or [`RecordVerdict::Unconfirmed`] | the server's status / `error` / `unknown` | delivered / dead letter / dead letter |
//! | 2xx whose body is not a `/track` reply | [`Verdict::PerRecord`], every record [`RecordVerdict::Unconfirmed`] (`InvalidResponse`) | `unknown`, not retried | dead letter, not retried |
//! | 413, more than one record | [`Verdict::Split`]: at most half as many records per body for the rest of the delivery | sent again at once | sent again at once |
//! | 413, one record | [`Verdict::GiveUp`] (`TooLarge`) | `failed` | dead letter |
//! | 422 naming some records of the body | [`Verdict::PerRecord`]: those [`RecordVerdict::Rejected`], the others [`RecordVerdict::Resend`] | `error`; the rest sent again at once | dead letters; the rest sent again at once |
//! | 422 naming none, or unreadable; any other status (1xx, 3xx, other 4xx) | [`Verdict::GiveUp`] (`HttpStatus` with a body excerpt) | `failed` | dead letter |
//! | network error, timeout, 408, 429, 5xx | [`Verdict::RetryAt`] | again at `at_ms` while attempts remain ([`out_of_attempts`]) | again at `at_ms` (and nothing else before), until older than `max_age_ms` (attempts alone never dead-letter) |
//!
//! Matching per-record results: by `response_id` first (the first result for an id wins); a result without
//! `response_id` matches by position only when the reply has exactly one result per record of the body.
//!
//! **A 2xx is the server's "I took the request".** A record it gives no definitive result for (no result,
//! a status this version does not know, or a body that cannot be read at all) is
//! [`RecordVerdict::Unconfirmed`]: the service may hold it, so it is never retried blindly, in either
//! mode. Immediate delivery reports it `unknown`; the outbox keeps it as a dead letter saying so (nothing
//! is silently dropped: a proxy that answers 200 with an HTML page does not make records vanish), from
//! which `requeueDeadLetters()` sends it again under the same `response_id` (the service keeps one).
//!
//! **413 means the body was too large, and the next one of the same size would be too.** One rule in both
//! modes: the batch size for the rest of the delivery (the `track()`/`trackBatch()` call, or the flush)
//! becomes half the refused batch's record count (rounded down); its records are sent again at once, no
//! attempt counted. A single record is too large on its own and is given up on.
//!
//! **Retry times**: a `Retry-After` (seconds or HTTP date) on a retryable answer wins, capped at
//! [`RetryPolicy::max_retry_after_ms`]; otherwise the backoff of the failed attempt's window `w`, drawn
//! from `[0, w)` ([`Spread::Full`], immediate: the caller waits) or `[w/2, w)` ([`Spread::UpperHalf`], the
//! outbox: attempts at least half a window apart whichever isolate makes them).

use crate::core::error::DeliveryError;
use crate::core::response::{self, ResultVerdict, ServerResult, TrackReply};
use crate::core::retry::{self, HttpOutcome, OutcomeClass, RetryPolicy};
use crate::core::sort::sort_by;
use crate::core::value::Value;

/// Where in the backoff window a retry delay is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spread {
    /// `[0, w)`: full jitter (immediate delivery, which a caller waits for).
    Full,
    /// `[w/2, w)`: equal jitter (the outbox), so that a record's attempts are at least half a window apart.
    UpperHalf,
}

/// What a retry time is computed from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryTiming {
    /// Delays and the `Retry-After` cap.
    pub policy: RetryPolicy,
    /// The attempt that failed if the outcome is a failure (1-based; the backoff window grows with it).
    pub failed_attempt: u32,
    /// When the outcome arrived (epoch ms): delays count from it.
    pub now_ms: u64,
    /// A uniform draw in `[0, 1)`; NaN and values outside are clamped.
    pub jitter: f64,
    /// Where in the window the delay is drawn.
    pub spread: Spread,
}

/// The final word of one reply on one record of the body.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordVerdict {
    /// The service has the record: `queued`, `completed`, `service_key_unknown` (or cost events without a
    /// status: `completed`). `errors` are the server's messages (e.g. why a service key is unknown).
    Accepted { status: &'static str, errors: Vec<String>, cost_events: Option<Value> },
    /// The service refused the record (per-record `error`, errors without a status, or a 422 naming it).
    Rejected { errors: Vec<String> },
    /// A 2xx that says nothing definitive about the record (no result, an unknown status, an unreadable
    /// body): the service may hold it. Never resent blindly.
    Unconfirmed { error: DeliveryError },
    /// Not judged (a 422 named other records): send it again at once, no attempt counted.
    Resend,
}

/// What one outcome means for the whole body. See the module docs for the table.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// One verdict per record of the body, in body order. `status` is the HTTP status (2xx, or 422).
    /// `triggered_limits` is the reply's, when it had some.
    PerRecord { status: u16, records: Vec<RecordVerdict>, triggered_limits: Option<Value> },
    /// 413 on more than one record: at most `max_records` per body for the rest of the delivery; every
    /// record of the body is sent again at once, no attempt counted.
    Split { max_records: usize },
    /// Retryable (network error, timeout, 408, 429, 5xx): the same records again at `at_ms`, if attempts
    /// remain ([`out_of_attempts`]); else `error` is their last word. `may_have_been_accepted`: the request
    /// may have reached the server ([`retry::may_have_been_accepted`]), so a record given up on afterwards is
    /// not known to be refused.
    RetryAt { at_ms: u64, error: DeliveryError, may_have_been_accepted: bool },
    /// Retrying the same body cannot help: every record of it is given up on with `error`; `status` is the
    /// HTTP status, when there was a response.
    GiveUp { status: Option<u16>, error: DeliveryError },
}

/// True when a record that has failed `attempts` retryable attempts may not be tried again
/// (`policy.max_attempts`, 0 counting as 1, at most 65,535).
pub fn out_of_attempts(policy: &RetryPolicy, attempts: u32) -> bool {
    attempts >= policy.max_attempts.clamp(1, u32::from(u16::MAX))
}

/// Interprets the outcome of one `/track` request whose body carried the records `body` (their
/// `response_id`s in body order; `None` for a record the caller no longer holds, which keeps the positions
/// of the others). See the module docs for the contract.
pub fn interpret(outcome: &HttpOutcome, body: &[Option<&str>], timing: &RetryTiming) -> Verdict {
    match (retry::classify(outcome), outcome) {
        (OutcomeClass::Success, HttpOutcome::Response { status, body: text, .. }) => answered(*status, text, body),
        (OutcomeClass::TooLarge, _) if body.len() > 1 => Verdict::Split { max_records: body.len() / 2 },
        (OutcomeClass::TooLarge, _) => Verdict::GiveUp { status: Some(413), error: DeliveryError::TooLarge { status: 413 } },
        (OutcomeClass::Permanent, HttpOutcome::Response { status: 422, body: text, .. }) => {
            refused_422(text, body).unwrap_or_else(|| give_up(outcome))
        }
        (OutcomeClass::Retryable, _) => Verdict::RetryAt {
            at_ms: timing.now_ms.saturating_add(retry_delay_ms(outcome, timing)),
            error: retry::outcome_error(outcome),
            may_have_been_accepted: retry::may_have_been_accepted(outcome),
        },
        // Any other status (a 2xx is always a response: this arm only sees permanent ones).
        _ => give_up(outcome),
    }
}

fn give_up(outcome: &HttpOutcome) -> Verdict {
    let status = match outcome {
        HttpOutcome::Response { status, .. } => Some(*status),
        HttpOutcome::Network { .. } | HttpOutcome::Timeout { .. } => None,
    };
    Verdict::GiveUp { status, error: retry::outcome_error(outcome) }
}

/// The delay before the retry (see the module docs).
fn retry_delay_ms(outcome: &HttpOutcome, timing: &RetryTiming) -> u64 {
    let jitter = match timing.spread {
        Spread::Full => timing.jitter,
        Spread::UpperHalf => 0.5 + if timing.jitter.is_nan() { 0.0 } else { timing.jitter.clamp(0.0, 1.0) } / 2.0,
    };
    retry::retry_delay_ms(&timing.policy, timing.failed_attempt, outcome, timing.now_ms, jitter)
}

/// A 2xx: one verdict per record; an unreadable body leaves every record unconfirmed.
fn answered(status: u16, text: &str, body: &[Option<&str>]) -> Verdict {
    let reply = match response::parse_track_reply(text) {
        Ok(reply) => reply,
        Err(reason) => {
            let error = DeliveryError::InvalidResponse { reason };
            let records = body.iter().map(|_| RecordVerdict::Unconfirmed { error: error.clone() }).collect();
            return Verdict::PerRecord { status, records, triggered_limits: None };
        }
    };
    let records = match_results(&reply, body)
        .into_iter()
        .map(|result| match result {
            None => RecordVerdict::Unconfirmed { error: DeliveryError::MissingResult },
            Some(result) => match response::verdict(result) {
                ResultVerdict::Accepted(status) => RecordVerdict::Accepted {
                    status,
                    errors: result.errors.clone(),
                    cost_events: result.cost_events.clone(),
                },
                ResultVerdict::Rejected => RecordVerdict::Rejected { errors: result.errors.clone() },
                ResultVerdict::Unknown(error) => RecordVerdict::Unconfirmed { error },
            },
        })
        .collect();
    Verdict::PerRecord { status, records, triggered_limits: reply.triggered_limits }
}

/// A 422 naming records of the body (by `response_id`, with errors or `status: "error"`): those refused, the
/// others resent. `None` when it names none of them or cannot be read.
fn refused_422(text: &str, body: &[Option<&str>]) -> Option<Verdict> {
    let reply = response::parse_track_reply(text).ok()?;
    let by_id = ResultsById::new(&reply);
    let records: Vec<RecordVerdict> = body
        .iter()
        .map(|id| match id.and_then(|id| by_id.get(id)) {
            Some(result) if !result.errors.is_empty() || result.status.as_deref() == Some("error") => {
                RecordVerdict::Rejected { errors: result.errors.clone() }
            }
            _ => RecordVerdict::Resend,
        })
        .collect();
    records
        .iter()
        .any(|r| matches!(r, RecordVerdict::Rejected { .. }))
        .then_some(Verdict::PerRecord { status: 422, records, triggered_limits: None })
}

/// One result (or none) per record of the body: by `response_id` first; an unnamed result by position only
/// when the reply has one result per record.
fn match_results<'r>(reply: &'r TrackReply, body: &[Option<&str>]) -> Vec<Option<&'r ServerResult>> {
    let by_id = ResultsById::new(reply);
    let by_position = reply.results.len() == body.len();
    body.iter()
        .enumerate()
        .map(|(i, id)| {
            id.and_then(|id| by_id.get(id)).or_else(|| {
                by_position.then(|| reply.results.get(i)).flatten().filter(|r| r.response_id.is_none())
            })
        })
        .collect()
}

/// Results by `response_id`; the first result wins when the server repeats an id.
///
/// A sorted vector rather than a map: same lookups, fewer wasm bytes.
struct ResultsById<'a> {
    sorted: Vec<(&'a str, usize, &'a ServerResult)>,
}

impl<'a> ResultsById<'a> {
    fn new(reply: &'a TrackReply) -> Self {
        let mut sorted: Vec<(&str, usize, &ServerResult)> = reply
            .results
            .iter()
            .enumerate()
            .filter_map(|(i, result)| result.response_id.as_deref().map(|id| (id, i, result)))
            .collect();
        sort_by(&mut sorted, |a, b| (a.0, a.1) < (b.0, b.1));
        ResultsById { sorted }
    }

    fn get(&self, id: &str) -> Option<&'a ServerResult> {
        // Entries with equal ids are ordered by position: the first not below `id` is the first result.
        let first = self.sorted.partition_point(|(other, _, _)| *other < id);
        self.sorted.get(first).filter(|(other, _, _)| *other == id).map(|(_, _, result)| *result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2015-10-21T07:28:00Z.
    const NOW: u64 = 1_445_412_480_000;

    fn http(status: u16, body: &str) -> HttpOutcome {
        HttpOutcome::Response { status, retry_after: None, body: body.to_owned() }
    }

    fn http_retry_after(status: u16, retry_after: &str) -> HttpOutcome {
        HttpOutcome::Response { status, retry_after: Some(retry_after.to_owned()), body: String::new() }
    }

    fn timing(spread: Spread) -> RetryTiming {
        RetryTiming { policy: RetryPolicy::IMMEDIATE, failed_attempt: 2, now_ms: NOW, jitter: 0.5, spread }
    }

    fn accepted(status: &'static str) -> RecordVerdict {
        RecordVerdict::Accepted { status, errors: Vec::new(), cost_events: None }
    }

    fn rejected(errors: &[&str]) -> RecordVerdict {
        RecordVerdict::Rejected { errors: errors.iter().map(|e| (*e).to_owned()).collect() }
    }

    fn unconfirmed(error: DeliveryError) -> RecordVerdict {
        RecordVerdict::Unconfirmed { error }
    }

    fn invalid(body: &str) -> DeliveryError {
        DeliveryError::InvalidResponse { reason: response::parse_track_reply(body).expect_err("unreadable") }
    }

    fn per_record(status: u16, records: Vec<RecordVerdict>) -> Verdict {
        Verdict::PerRecord { status, records, triggered_limits: None }
    }

    fn retry_at(delay_ms: u64, error: DeliveryError, may_have_been_accepted: bool) -> Verdict {
        Verdict::RetryAt { at_ms: NOW + delay_ms, error, may_have_been_accepted }
    }

    fn http_error(status: u16, body: &str) -> DeliveryError {
        DeliveryError::HttpStatus { status, body: body.to_owned() }
    }

    #[test]
    fn the_contract_table() {
        let two = [Some("r0"), Some("r1")];
        let three = [Some("r0"), Some("r1"), Some("r2")];
        let cases: Vec<(&str, HttpOutcome, &[Option<&str>], Verdict)> = vec![
            // 2xx, readable: per record, by response_id, whatever the order.
            (
                "2xx by id",
                http(202, r#"{"results":[{"response_id":"r1","status":"completed"},{"response_id":"r0","status":"queued"}]}"#),
                &two,
                per_record(202, vec![accepted("queued"), accepted("completed")]),
            ),
            (
                "2xx every per-record kind",
                http(200, r#"{"results":[{"response_id":"r0","status":"error","errors":["bad"]},{"response_id":"r1","status":"deduplicated"}]}"#),
                &three,
                per_record(
                    200,
                    vec![
                        rejected(&["bad"]),
                        unconfirmed(DeliveryError::InvalidResponse {
                            reason: "unknown status \"deduplicated\" without errors or cost_events".into(),
                        }),
                        unconfirmed(DeliveryError::MissingResult),
                    ],
                ),
            ),
            (
                "2xx the first result for an id wins",
                http(202, r#"{"results":[{"response_id":"r0","status":"queued"},{"response_id":"r0","status":"error","errors":["x"]}]}"#),
                &[Some("r0")],
                per_record(202, vec![accepted("queued")]),
            ),
            (
                "2xx unnamed results by position when counts agree",
                http(202, r#"{"results":[{"status":"queued"},{"status":"completed"}]}"#),
                &two,
                per_record(202, vec![accepted("queued"), accepted("completed")]),
            ),
            (
                "2xx unnamed results not by position when counts differ",
                http(202, r#"{"results":[{"status":"queued"}]}"#),
                &two,
                per_record(202, vec![unconfirmed(DeliveryError::MissingResult), unconfirmed(DeliveryError::MissingResult)]),
            ),
            (
                "2xx a record the caller no longer holds keeps the others' positions",
                http(202, r#"{"results":[{"status":"queued"},{"status":"completed"}]}"#),
                &[None, Some("r1")],
                per_record(202, vec![accepted("queued"), accepted("completed")]),
            ),
            // 2xx, unreadable: accepted by the server, confirmed for nobody; never a retry.
            ("2xx not JSON", http(202, "<html>ok</html>"), &two, per_record(202, vec![unconfirmed(invalid("<html>ok</html>")); 2])),
            ("2xx empty", http(200, ""), &two, per_record(200, vec![unconfirmed(invalid("")); 2])),
            ("2xx no results", http(202, r#"{"ok":true}"#), &[Some("r0")], per_record(202, vec![unconfirmed(invalid(r#"{"ok":true}"#))])),
            // 413.
            ("413 splits", http(413, "too large"), &three, Verdict::Split { max_records: 1 }),
            ("413 splits four", http(413, ""), &[Some("a"), Some("b"), Some("c"), Some("d")], Verdict::Split { max_records: 2 }),
            (
                "413 one record",
                http(413, "too large"),
                &[Some("r0")],
                Verdict::GiveUp { status: Some(413), error: DeliveryError::TooLarge { status: 413 } },
            ),
            // 422.
            (
                "422 naming some",
                http(422, r#"{"results":[{"response_id":"r1","errors":["payload: invalid"]},{"response_id":"r2","status":"error"}]}"#),
                &three,
                per_record(422, vec![RecordVerdict::Resend, rejected(&["payload: invalid"]), rejected(&[])]),
            ),
            (
                "422 naming none of the body",
                http(422, r#"{"results":[{"response_id":"zz","errors":["x"]},{"response_id":"r0","status":"queued"}]}"#),
                &two,
                Verdict::GiveUp {
                    status: Some(422),
                    error: http_error(422, r#"{"results":[{"response_id":"zz","errors":["x"]},{"response_id":"r0","status":"queued"}]}"#),
                },
            ),
            ("422 unreadable", http(422, "not json"), &two, Verdict::GiveUp { status: Some(422), error: http_error(422, "not json") }),
            // Other statuses: given up, with the status and a body excerpt.
            ("400", http(400, "bad"), &two, Verdict::GiveUp { status: Some(400), error: http_error(400, "bad") }),
            ("401", http(401, "no"), &two, Verdict::GiveUp { status: Some(401), error: http_error(401, "no") }),
            ("404", http(404, ""), &two, Verdict::GiveUp { status: Some(404), error: http_error(404, "") }),
            ("301", http(301, ""), &two, Verdict::GiveUp { status: Some(301), error: http_error(301, "") }),
            ("100", http(100, ""), &two, Verdict::GiveUp { status: Some(100), error: http_error(100, "") }),
            // Retryable: backoff of attempt 2 (window 1000 ms, jitter 0.5) or Retry-After, capped.
            ("500", http(500, "boom"), &two, retry_at(500, http_error(500, "boom"), false)),
            ("503", http(503, ""), &two, retry_at(500, http_error(503, ""), false)),
            ("408", http(408, ""), &two, retry_at(500, http_error(408, ""), false)),
            ("429 seconds", http_retry_after(429, "7"), &two, retry_at(7_000, http_error(429, ""), false)),
            ("503 capped", http_retry_after(503, "3600"), &two, retry_at(60_000, http_error(503, ""), false)),
            ("429 date", http_retry_after(429, "Wed, 21 Oct 2015 07:28:05 GMT"), &two, retry_at(5_000, http_error(429, ""), false)),
            ("429 garbage", http_retry_after(429, "soon"), &two, retry_at(500, http_error(429, ""), false)),
            (
                "timeout",
                HttpOutcome::Timeout { timeout_ms: 9 },
                &two,
                retry_at(500, DeliveryError::Timeout { timeout_ms: 9 }, true),
            ),
            (
                "dropped connection",
                HttpOutcome::Network { message: "read ECONNRESET".into() },
                &two,
                retry_at(500, DeliveryError::Network { message: "read ECONNRESET".into() }, true),
            ),
            (
                "refused connection",
                HttpOutcome::Network { message: "connect ECONNREFUSED 127.0.0.1:1".into() },
                &two,
                retry_at(500, DeliveryError::Network { message: "connect ECONNREFUSED 127.0.0.1:1".into() }, false),
            ),
        ];
        for (name, outcome, body, expected) in cases {
            assert_eq!(interpret(&outcome, body, &timing(Spread::Full)), expected, "{name}");
        }
    }

    #[test]
    fn the_outcomes_the_two_machines_disagreed_on() {
        // An unreadable 2xx is never a retry, whatever the spread (the outbox's retried it before).
        for spread in [Spread::Full, Spread::UpperHalf] {
            let verdict = interpret(&http(202, "<html>ok</html>"), &[Some("r0")], &timing(spread));
            assert!(matches!(verdict, Verdict::PerRecord { ref records, .. } if matches!(records[..], [RecordVerdict::Unconfirmed { .. }])));
        }
        // 413 on n records: at most n / 2 per body, in both modes (immediate used to split in halves).
        for n in 2..9usize {
            let ids: Vec<String> = (0..n).map(|i| format!("r{i}")).collect();
            let body: Vec<Option<&str>> = ids.iter().map(|s| Some(s.as_str())).collect();
            assert_eq!(interpret(&http(413, ""), &body, &timing(Spread::Full)), Verdict::Split { max_records: n / 2 });
        }
    }

    #[test]
    fn triggered_limits_come_with_the_per_record_verdicts() {
        let reply = r#"{"results":[{"response_id":"r0","status":"queued"}],"triggered_limits":{"key_id":"a"}}"#;
        let Verdict::PerRecord { triggered_limits, .. } = interpret(&http(202, reply), &[Some("r0")], &timing(Spread::Full)) else {
            panic!("a per-record verdict")
        };
        assert_eq!(triggered_limits, Some(Value::object([("key_id", Value::from("a"))])));
    }

    #[test]
    fn accepted_records_keep_the_servers_messages_and_cost_events() {
        let reply = r#"{"results":[{"response_id":"r0","status":"service_key_unknown","errors":["not recognized"]},{"response_id":"r1","cost_events":[]}]}"#;
        let verdict = interpret(&http(202, reply), &[Some("r0"), Some("r1")], &timing(Spread::Full));
        assert_eq!(
            verdict,
            per_record(
                202,
                vec![
                    RecordVerdict::Accepted { status: "service_key_unknown", errors: vec!["not recognized".into()], cost_events: None },
                    RecordVerdict::Accepted { status: "completed", errors: vec![], cost_events: Some(Value::Array(vec![])) },
                ]
            )
        );
    }

    #[test]
    fn retry_times_by_spread_and_attempt() {
        let at = |spread, failed_attempt, jitter| {
            let timing = RetryTiming { policy: RetryPolicy::QUEUE, failed_attempt, now_ms: NOW, jitter, spread };
            match interpret(&http(503, ""), &[Some("r0")], &timing) {
                Verdict::RetryAt { at_ms, .. } => at_ms - NOW,
                other => panic!("a retry, got {other:?}"),
            }
        };
        // QUEUE: window 2 s, 4 s, ... 300 s.
        assert_eq!(at(Spread::Full, 1, 0.0), 0);
        assert_eq!(at(Spread::UpperHalf, 1, 0.0), 1_000, "the upper half of the window");
        assert_eq!(at(Spread::UpperHalf, 1, 0.5), 1_500);
        assert_eq!(at(Spread::UpperHalf, 2, 0.5), 3_000);
        assert_eq!(at(Spread::UpperHalf, 20, 0.5), 225_000, "capped window");
        for jitter in [f64::NAN, -1.0, 7.0, f64::INFINITY] {
            let delay = at(Spread::UpperHalf, 1, jitter);
            assert!((1_000..2_000).contains(&delay), "{jitter}: {delay}");
        }
        // A Retry-After wins over either spread.
        let timing = RetryTiming { policy: RetryPolicy::QUEUE, failed_attempt: 1, now_ms: NOW, jitter: 0.0, spread: Spread::UpperHalf };
        assert_eq!(interpret(&http_retry_after(429, "3"), &[Some("r0")], &timing), retry_at(3_000, http_error(429, ""), false));
        // Time never overflows.
        let late = RetryTiming { now_ms: u64::MAX, ..timing };
        assert!(matches!(interpret(&http(500, ""), &[Some("r0")], &late), Verdict::RetryAt { at_ms: u64::MAX, .. }));
    }

    #[test]
    fn attempts_run_out_at_max_attempts() {
        let policy = RetryPolicy { max_attempts: 3, ..RetryPolicy::IMMEDIATE };
        assert!(!out_of_attempts(&policy, 0));
        assert!(!out_of_attempts(&policy, 2));
        assert!(out_of_attempts(&policy, 3));
        assert!(out_of_attempts(&policy, 4));
        let zero = RetryPolicy { max_attempts: 0, ..policy };
        assert!(out_of_attempts(&zero, 1), "0 counts as 1");
        assert!(!out_of_attempts(&zero, 0));
        let huge = RetryPolicy { max_attempts: u32::MAX, ..policy };
        assert!(out_of_attempts(&huge, u32::from(u16::MAX)), "a stored count saturates at 65,535");
    }

    #[test]
    fn an_empty_body_is_harmless() {
        assert_eq!(interpret(&http(202, r#"{"results":[]}"#), &[], &timing(Spread::Full)), per_record(202, vec![]));
        assert!(matches!(interpret(&http(413, ""), &[], &timing(Spread::Full)), Verdict::GiveUp { .. }));
    }
}
