//! The delivery state machine for `deliveryType: "immediate"`: one `track()` or `trackBatch()` call, from
//! encoded records to one result per record.
//!
//! It performs no I/O, reads no clock and draws no random numbers: it says what to send and how long to wait,
//! and the caller (the wasm bindings) does the `fetch`, the sleeping and the clock reading, then reports back.
//!
//! # Drive loop
//!
//! **After creating the machine and after every [`ImmediateDelivery::handle_response`], call
//! [`ImmediateDelivery::poll_output`] and act on what it says, until it returns [`Output::Done`].**
//!
//! 1. `poll_output(now)`:
//!    - [`Output::Send`]: POST `body` to `/track` with a `timeout_ms` deadline, read the whole reply body, and
//!      report the [`HttpOutcome`] with `handle_response(id, outcome, now, jitter)` (`jitter`: a uniform draw in
//!      `[0, 1)`). Then poll again.
//!    - [`Output::Wait`]: sleep until `until_ms`, then poll again.
//!    - [`Output::AwaitResponse`]: a send is still outstanding; nothing to do until its outcome is reported.
//!      (The loop above never sees this; it is there so that an extra poll is harmless.)
//!    - [`Output::Done`]: every record has its outcome; call [`ImmediateDelivery::into_report`].
//!
//! ```
//! use aicostmanager_edge::core::batch::EncodedRecord;
//! use aicostmanager_edge::core::immediate::{ImmediateConfig, ImmediateDelivery, Output};
//! use aicostmanager_edge::core::retry::HttpOutcome;
//!
//! // Stand-ins for what the bindings provide.
//! let mut now_ms = 1_700_000_000_000u64;
//! let fetch = |_body: &str| HttpOutcome::Response {
//!     status: 202,
//!     retry_after: None,
//!     body: r#"{"results":[{"response_id":"abc","status":"queued"}]}"#.to_owned(),
//! };
//!
//! let record = EncodedRecord { response_id: "abc".into(), json: r#"{"response_id":"abc"}"#.into() };
//! let mut delivery = ImmediateDelivery::new(vec![record], ImmediateConfig::default());
//! loop {
//!     match delivery.poll_output(now_ms) {
//!         Output::Send { id, body, .. } => {
//!             let outcome = fetch(&body);
//!             delivery.handle_response(id, outcome, now_ms, 0.5);
//!         }
//!         Output::Wait { until_ms } => now_ms = until_ms,
//!         // AwaitResponse cannot happen here: each send is awaited before polling again.
//!         Output::AwaitResponse { .. } | Output::Done => break,
//!     }
//! }
//! let report = delivery.into_report();
//! assert_eq!(report.outcomes[0].status, "queued");
//! ```
//!
//! # Semantics
//!
//! What each reply means is decided by [`reply::interpret`], the one reply contract it shares with the outbox
//! (see that module for the table); this machine only acts on the verdict.
//!
//! - Records are cut into bodies with [`batch::chunk`] (`max_batch_size`, `max_batch_bytes`). Bodies go one at a
//!   time, in order; at most one send is outstanding.
//! - **2xx**: per-record results are matched by `response_id` (by position only for a result without
//!   `response_id` when the reply has exactly one result per record). `queued`, `completed` and
//!   `service_key_unknown` are kept with the server's messages; `error` (or, without a status, non-empty
//!   `errors`) becomes `"error"` with [`DeliveryError::Rejected`]; `cost_events` without a status means
//!   `"completed"`; an unknown status is `"unknown"` with [`DeliveryError::InvalidResponse`]; no result at
//!   all is `"unknown"` with [`DeliveryError::MissingResult`]. A 2xx whose body cannot be read makes every
//!   record of the send `"unknown"` with `InvalidResponse` and is **not retried**: the server accepted the
//!   request, and sending the same records again would only duplicate them (upstream retries it:
//!   wire-contract W-D2).
//! - **413** on n > 1 records: at most n / 2 records per body for the rest of this delivery (the same rule as
//!   the outbox's: a later body of the old size would be refused too); the records are sent again at once,
//!   not a failed attempt. A single record fails with [`DeliveryError::TooLarge`].
//! - **422** naming some of the send's records (by `response_id`, with errors): those become `"error"`, the
//!   rest are sent again at once (one bad record does not sink the batch: W-D1). A 422 naming none of them,
//!   or unreadable, fails the whole send with [`DeliveryError::HttpStatus`].
//! - **Network error, timeout, 408, 429, 5xx**: the same body (same `response_id`s: they are idempotency keys)
//!   is sent again after a full-jitter backoff or the server's `Retry-After` (see [`crate::core::retry`]), up to
//!   `policy.max_attempts` attempts; then every record fails with the last error.
//! - **Any other status** (other 4xx, 1xx, 3xx): every record of the send fails with `HttpStatus` and a body
//!   excerpt. Not retried.
//! - **`unknown`, not `failed`**: a record that ends `failed` after an attempt that may have reached the
//!   server without a definitive answer ([`crate::core::retry::may_have_been_accepted`]: a timeout, a connection lost
//!   mid-request, a 2xx without a readable result for it) is reported `"unknown"`: the server may hold it.
//!   `"failed"` means the server certainly did not accept it. Either may be retried with the same
//!   `responseId` (the service deduplicates); never under a new id.
//! - Every error text and server message in the report passes through the config's
//!   [`crate::core::redact::Redactor`]: the API key never appears in a result.
//! - `triggered_limits` of the last 2xx reply that carried one is reported once for the whole delivery.

use std::collections::VecDeque;

use crate::core::batch::{self, EncodedRecord};
use crate::core::delivery::reply::{self, RecordVerdict, RetryTiming, Spread, Verdict};
use crate::core::error::DeliveryError;
use crate::core::redact::Redactor;
use crate::core::retry::{HttpOutcome, RetryPolicy};
use crate::core::value::Value;

/// The limits one immediate delivery works within.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImmediateConfig {
    /// Attempts and delays for retryable failures.
    pub policy: RetryPolicy,
    /// Most records in one request body (0 counts as 1).
    pub max_batch_size: usize,
    /// Most bytes in one request body (a single larger record is still sent, alone).
    pub max_batch_bytes: usize,
    /// Per-attempt deadline handed to the bindings with each [`Output::Send`].
    pub timeout_ms: u64,
    /// Applied to every error text and server message of the report ([`ImmediateDelivery::into_report`]):
    /// build it from the API key ([`Redactor::new`]).
    pub redactor: Redactor,
}

impl Default for ImmediateConfig {
    /// The JS API defaults: [`RetryPolicy::default`], 1000 records, 4 MiB per body, 10 s per attempt.
    fn default() -> Self {
        ImmediateConfig {
            policy: RetryPolicy::default(),
            max_batch_size: 1000,
            max_batch_bytes: 4 * 1024 * 1024,
            timeout_ms: 10_000,
            redactor: Redactor::default(),
        }
    }
}

/// Names one HTTP attempt, so that its outcome is reported against the right send. Every attempt, retries
/// included, gets a fresh id: a late outcome for an old attempt is recognised and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SendId(u64);

impl SendId {
    /// The id as a number (unique within one [`ImmediateDelivery`]), for hosts that must carry it around.
    pub fn value(self) -> u64 {
        self.0
    }
}

/// What the caller must do next. See the module docs for the drive loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// POST `body` to `/track`, give up after `timeout_ms`, then report with
    /// [`ImmediateDelivery::handle_response`]. `attempt` is 1 for a first try and n for the n-th try after
    /// n − 1 retryable failures (the pieces of a 413 and the remainder of a 422 keep their parent's count).
    Send { id: SendId, body: String, attempt: u32, timeout_ms: u64 },
    /// Nothing to send before `until_ms` (epoch ms): sleep, then poll again.
    Wait { until_ms: u64 },
    /// The send `id` is outstanding: report its outcome first.
    AwaitResponse { id: SendId },
    /// Every record has its outcome: call [`ImmediateDelivery::into_report`].
    Done,
}

/// The final word on one record.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordOutcome {
    pub response_id: String,
    /// `queued`, `completed`, `service_key_unknown` (server statuses), `error` (the server rejected the record),
    /// `failed` (not delivered: the server certainly did not accept it) or `unknown` (not confirmed: an attempt
    /// may have reached the server; see [`UNKNOWN`]).
    pub status: String,
    /// The server's messages for this record (e.g. why a service key is unknown); empty when there are none.
    pub errors: Vec<String>,
    /// Cost events from a legacy synchronous server.
    pub cost_events: Option<Value>,
    /// Set when `status` is `error` or `failed`.
    pub error: Option<DeliveryError>,
    /// HTTP attempts that carried this record.
    pub attempts: u32,
}

/// The result of one delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryReport {
    /// One per record, in input order.
    pub outcomes: Vec<RecordOutcome>,
    /// `triggered_limits` of the last 2xx reply that had one.
    pub triggered_limits: Option<Value>,
}

/// Records waiting to be sent together (indices into the input), with their retry state.
#[derive(Debug)]
struct PendingSend {
    indices: Vec<usize>,
    attempt: u32,
    not_before_ms: u64,
    /// Why the previous attempt failed, if it did (reported if the delivery is cut short).
    last_error: Option<DeliveryError>,
}

#[derive(Debug)]
struct InFlight {
    id: SendId,
    indices: Vec<usize>,
    attempt: u32,
}

/// The state of one immediate delivery. Create with [`ImmediateDelivery::new`], drive with
/// [`ImmediateDelivery::poll_output`] and [`ImmediateDelivery::handle_response`], finish with
/// [`ImmediateDelivery::into_report`].
#[derive(Debug)]
pub struct ImmediateDelivery {
    config: ImmediateConfig,
    records: Vec<EncodedRecord>,
    decided: Vec<Option<Decided>>,
    attempts: Vec<u32>,
    /// Per record: an attempt that carried it may have reached the server without an answer saying what
    /// became of it (a timeout, a connection lost mid-request, a 2xx that could not be read). Such a record
    /// is never reported `failed`: if nothing definitive follows, it is `unknown`.
    maybe_accepted: Vec<bool>,
    queue: VecDeque<PendingSend>,
    in_flight: Option<InFlight>,
    /// Most records per body for the rest of the delivery (lowered by 413s).
    batch_limit: usize,
    next_id: u64,
    triggered_limits: Option<Value>,
}

/// `status` of a record the server certainly did not accept (it may be sent again safely).
pub const FAILED: &str = "failed";
/// `status` of a record that ran out of attempts after an attempt that may have reached the server (a
/// timeout, a connection lost mid-request, an unreadable 2xx): it may or may not have been accepted. Sending
/// it again with the same `responseId` is safe (the service deduplicates); sending it under a new id may bill
/// twice.
pub const UNKNOWN: &str = "unknown";

/// A record's outcome minus what the machine tracks separately (id, attempts).
#[derive(Debug, Clone)]
struct Decided {
    status: &'static str,
    errors: Vec<String>,
    cost_events: Option<Value>,
    error: Option<DeliveryError>,
}

impl Decided {
    fn failed(error: DeliveryError) -> Decided {
        Decided { status: FAILED, errors: Vec::new(), cost_events: None, error: Some(error) }
    }

    fn rejected(errors: Vec<String>) -> Decided {
        Decided { status: "error", errors: errors.clone(), cost_events: None, error: Some(DeliveryError::Rejected { errors }) }
    }
}

impl ImmediateDelivery {
    /// Prepares the delivery of `records` (in this order). Nothing is sent until [`Self::poll_output`].
    /// An empty list is valid: the first poll returns [`Output::Done`].
    pub fn new(records: Vec<EncodedRecord>, config: ImmediateConfig) -> Self {
        let groups = batch::chunk(records, config.max_batch_size, config.max_batch_bytes);
        let mut flat = Vec::new();
        let mut queue = VecDeque::with_capacity(groups.len());
        for group in groups {
            let start = flat.len();
            flat.extend(group);
            queue.push_back(PendingSend { indices: (start..flat.len()).collect(), attempt: 1, not_before_ms: 0, last_error: None });
        }
        let count = flat.len();
        let batch_limit = config.max_batch_size.max(1);
        ImmediateDelivery {
            config,
            records: flat,
            decided: vec![None; count],
            attempts: vec![0; count],
            maybe_accepted: vec![false; count],
            queue,
            in_flight: None,
            batch_limit,
            next_id: 0,
            triggered_limits: None,
        }
    }

    /// What to do next, given the current time. Call after [`Self::new`] and after every
    /// [`Self::handle_response`], and again after a [`Output::Wait`] has elapsed; repeated calls are harmless.
    pub fn poll_output(&mut self, now_ms: u64) -> Output {
        if let Some(flight) = &self.in_flight {
            return Output::AwaitResponse { id: flight.id };
        }
        let Some(next) = self.queue.front() else {
            return Output::Done;
        };
        if next.not_before_ms > now_ms {
            return Output::Wait { until_ms: next.not_before_ms };
        }
        let Some(mut next) = self.queue.pop_front() else {
            return Output::Done;
        };
        // After a 413, a body of more records than the lowered limit goes in pieces, in order.
        if next.indices.len() > self.batch_limit {
            let rest = next.indices.split_off(self.batch_limit);
            let last_error = next.last_error.clone();
            self.queue.push_front(PendingSend { indices: rest, attempt: next.attempt, not_before_ms: next.not_before_ms, last_error });
        }
        let id = SendId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        let body = batch::encode_body_of(next.indices.iter().filter_map(|&i| self.records.get(i)));
        let attempt = next.attempt;
        self.in_flight = Some(InFlight { id, indices: next.indices, attempt });
        Output::Send { id, body, attempt, timeout_ms: self.config.timeout_ms }
    }

    /// Reports the outcome of the send `id`. `now_ms` is when the outcome arrived (retry delays count from
    /// it); `jitter` is a uniform draw in `[0, 1)` used only if a backoff is needed. An `id` that is not the
    /// outstanding send (unknown, or already reported) is ignored.
    ///
    /// What the outcome means is [`reply::interpret`]'s verdict; this only acts on it.
    pub fn handle_response(&mut self, id: SendId, outcome: HttpOutcome, now_ms: u64, jitter: f64) {
        let flight = match self.in_flight.take() {
            Some(flight) if flight.id == id => flight,
            other => {
                self.in_flight = other;
                return;
            }
        };
        for &i in &flight.indices {
            if let Some(count) = self.attempts.get_mut(i) {
                *count = count.saturating_add(1);
            }
        }
        let verdict = {
            let body: Vec<Option<&str>> =
                flight.indices.iter().map(|&i| self.records.get(i).map(|r| r.response_id.as_str())).collect();
            let timing =
                RetryTiming { policy: self.config.policy, failed_attempt: flight.attempt, now_ms, jitter, spread: Spread::Full };
            reply::interpret(&outcome, &body, &timing)
        };
        match verdict {
            Verdict::PerRecord { records, triggered_limits, .. } => {
                if triggered_limits.is_some() {
                    self.triggered_limits = triggered_limits;
                }
                let mut resend = Vec::new();
                for (&i, record) in flight.indices.iter().zip(records) {
                    match record {
                        RecordVerdict::Accepted { status, errors, cost_events } => {
                            self.decide(i, Decided { status, errors, cost_events, error: None });
                        }
                        RecordVerdict::Rejected { errors } => self.decide(i, Decided::rejected(errors)),
                        RecordVerdict::Unconfirmed { error } => {
                            self.mark_maybe_accepted(i);
                            self.decide(i, Decided::failed(error));
                        }
                        RecordVerdict::Resend => resend.push(i),
                    }
                }
                if !resend.is_empty() {
                    self.queue.push_front(PendingSend { indices: resend, attempt: flight.attempt, not_before_ms: 0, last_error: None });
                }
            }
            Verdict::Split { max_records } => {
                self.batch_limit = self.batch_limit.min(max_records.max(1));
                self.queue.push_front(PendingSend { indices: flight.indices, attempt: flight.attempt, not_before_ms: 0, last_error: None });
            }
            Verdict::RetryAt { at_ms, error, may_have_been_accepted } => {
                if may_have_been_accepted {
                    for &i in &flight.indices {
                        self.mark_maybe_accepted(i);
                    }
                }
                if reply::out_of_attempts(&self.config.policy, flight.attempt) {
                    self.fail_all(&flight.indices, &error);
                } else {
                    self.queue.push_front(PendingSend {
                        indices: flight.indices,
                        attempt: flight.attempt.saturating_add(1),
                        not_before_ms: at_ms,
                        last_error: Some(error),
                    });
                }
            }
            Verdict::GiveUp { error, .. } => self.fail_all(&flight.indices, &error),
        }
    }

    /// The outcome of every record, in input order. Call after [`Output::Done`]. Called earlier (the delivery
    /// is abandoned), records still waiting are reported `failed` with the error of their last attempt, or a
    /// `Network` error saying they were never sent.
    pub fn into_report(self) -> DeliveryReport {
        let mut pending_error: Vec<Option<DeliveryError>> = vec![None; self.records.len()];
        for send in &self.queue {
            if let Some(error) = &send.last_error {
                for &i in &send.indices {
                    if let Some(slot) = pending_error.get_mut(i) {
                        *slot = Some(error.clone());
                    }
                }
            }
        }
        let redactor = &self.config.redactor;
        let maybe_accepted = &self.maybe_accepted;
        let outcomes = self
            .records
            .into_iter()
            .zip(self.decided)
            .zip(self.attempts)
            .enumerate()
            .map(|(i, ((record, decided), attempts))| {
                let decided = decided.unwrap_or_else(|| {
                    Decided::failed(pending_error.get_mut(i).and_then(Option::take).unwrap_or_else(|| DeliveryError::Network {
                        message: "the delivery was stopped before this record was delivered".to_owned(),
                    }))
                });
                let status = if decided.status == FAILED && maybe_accepted.get(i).copied().unwrap_or(false) {
                    UNKNOWN
                } else {
                    decided.status
                };
                let mut errors = decided.errors;
                redactor.redact_all(errors.iter_mut());
                RecordOutcome {
                    response_id: record.response_id,
                    status: status.to_owned(),
                    errors,
                    cost_events: decided.cost_events,
                    error: decided.error.map(|e| e.redacted(redactor)),
                    attempts,
                }
            })
            .collect();
        DeliveryReport { outcomes, triggered_limits: self.triggered_limits }
    }

    fn decide(&mut self, index: usize, decided: Decided) {
        if let Some(slot) = self.decided.get_mut(index) {
            *slot = Some(decided);
        }
    }

    fn fail_all(&mut self, indices: &[usize], error: &DeliveryError) {
        for &i in indices {
            self.decide(i, Decided::failed(error.clone()));
        }
    }

    fn mark_maybe_accepted(&mut self, index: usize) {
        if let Some(flag) = self.maybe_accepted.get_mut(index) {
            *flag = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2015-10-21T07:28:00Z: the virtual clock starts here.
    const T0: u64 = 1_445_412_480_000;
    /// Virtual time a request takes.
    const LATENCY: u64 = 5;

    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Event {
        Send { at: u64, attempt: u32, ids: Vec<String> },
        Wait { at: u64, until: u64 },
    }

    /// What the scripted server is shown for each send: the response ids in the body, in body order.
    struct Request {
        ids: Vec<String>,
    }

    struct Run {
        report: DeliveryReport,
        timeline: Vec<Event>,
        bodies: Vec<String>,
    }

    impl Run {
        fn outcome(&self, id: &str) -> &RecordOutcome {
            self.report.outcomes.iter().find(|o| o.response_id == id).expect("an outcome for every record")
        }
        fn sends(&self) -> Vec<(u32, Vec<String>)> {
            self.timeline
                .iter()
                .filter_map(|e| match e {
                    Event::Send { attempt, ids, .. } => Some((*attempt, ids.clone())),
                    Event::Wait { .. } => None,
                })
                .collect()
        }
        /// Time between one response and the next send, for every retry-or-next send.
        fn gaps(&self) -> Vec<u64> {
            let sent_at: Vec<u64> = self
                .timeline
                .iter()
                .filter_map(|e| match e {
                    Event::Send { at, .. } => Some(*at),
                    Event::Wait { .. } => None,
                })
                .collect();
            sent_at.windows(2).map(|w| w[1] - (w[0] + LATENCY)).collect()
        }
        fn waits(&self) -> Vec<u64> {
            self.timeline
                .iter()
                .filter_map(|e| match e {
                    Event::Wait { at, until } => Some(until - at),
                    Event::Send { .. } => None,
                })
                .collect()
        }
    }

    use crate::core::batch::response_ids_in as ids_in;

    /// Drives a delivery to the end on a virtual clock, asking `server` for each send's outcome.
    fn drive(
        records: Vec<EncodedRecord>,
        config: ImmediateConfig,
        jitter: f64,
        mut server: impl FnMut(&Request) -> HttpOutcome,
    ) -> Run {
        let mut delivery = ImmediateDelivery::new(records, config.clone());
        let mut now = T0;
        let mut timeline = Vec::new();
        let mut bodies = Vec::new();
        for _ in 0..1000 {
            match delivery.poll_output(now) {
                Output::Send { id, body, attempt, timeout_ms } => {
                    assert_eq!(timeout_ms, config.timeout_ms);
                    let ids = ids_in(&body);
                    timeline.push(Event::Send { at: now, attempt, ids: ids.clone() });
                    let outcome = server(&Request { ids });
                    bodies.push(body);
                    // An extra poll while the send is outstanding changes nothing.
                    assert_eq!(delivery.poll_output(now), Output::AwaitResponse { id });
                    now += LATENCY;
                    delivery.handle_response(id, outcome, now, jitter);
                }
                Output::Wait { until_ms } => {
                    assert!(until_ms > now, "a Wait is always in the future");
                    timeline.push(Event::Wait { at: now, until: until_ms });
                    now = until_ms;
                }
                Output::AwaitResponse { id } => panic!("nothing outstanding, got AwaitResponse {id:?}"),
                Output::Done => {
                    assert_eq!(delivery.poll_output(now), Output::Done, "Done is terminal");
                    return Run { report: delivery.into_report(), timeline, bodies };
                }
            }
        }
        panic!("no Done after 1000 steps: {timeline:?}");
    }

    /// A server that answers from a fixed script, one outcome per send.
    fn script(outcomes: Vec<HttpOutcome>) -> impl FnMut(&Request) -> HttpOutcome {
        let mut outcomes = VecDeque::from(outcomes);
        move |_| outcomes.pop_front().expect("the script has an outcome for every send")
    }

    fn rec(i: usize) -> EncodedRecord {
        EncodedRecord {
            response_id: format!("r{i}"),
            json: format!(
                r#"{{"service_key":"openai::gpt-4o-mini","response_id":"r{i}","timestamp":"2025-01-01T00:00:00Z","payload":{{"total_tokens":{i}}}}}"#
            ),
        }
    }

    fn recs(n: usize) -> Vec<EncodedRecord> {
        (0..n).map(rec).collect()
    }

    fn http(status: u16, body: &str) -> HttpOutcome {
        HttpOutcome::Response { status, retry_after: None, body: body.to_owned() }
    }

    fn http_retry_after(status: u16, retry_after: &str) -> HttpOutcome {
        HttpOutcome::Response { status, retry_after: Some(retry_after.to_owned()), body: "slow down".to_owned() }
    }

    /// A 202 reply with `status` for every id.
    fn accepted(ids: &[String], status: &str) -> HttpOutcome {
        let results: Vec<String> =
            ids.iter().map(|id| format!(r#"{{"response_id":"{id}","status":"{status}"}}"#)).collect();
        http(202, &format!(r#"{{"results":[{}]}}"#, results.join(",")))
    }

    fn queued_all() -> impl FnMut(&Request) -> HttpOutcome {
        |req| accepted(&req.ids, "queued")
    }

    /// Answers from `outcomes` while they last, then accepts every record as `queued`.
    fn script_then_queued(outcomes: Vec<HttpOutcome>) -> impl FnMut(&Request) -> HttpOutcome {
        let mut outcomes = VecDeque::from(outcomes);
        move |req| outcomes.pop_front().unwrap_or_else(|| accepted(&req.ids, "queued"))
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn config() -> ImmediateConfig {
        ImmediateConfig::default()
    }

    fn send(attempt: u32, ids: &[&str]) -> (u32, Vec<String>) {
        (attempt, ids.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn success_in_one_send() {
        let run = drive(recs(1), config(), 0.5, queued_all());
        assert_eq!(run.sends(), vec![send(1, &["r0"])]);
        assert_eq!(run.bodies, vec![batch::encode_body(&recs(1))]);
        assert_eq!(
            run.report.outcomes,
            vec![RecordOutcome {
                response_id: "r0".into(),
                status: "queued".into(),
                errors: vec![],
                cost_events: None,
                error: None,
                attempts: 1,
            }]
        );
        assert_eq!(run.report.triggered_limits, None);
    }

    #[test]
    fn empty_delivery_is_done_at_once() {
        let mut delivery = ImmediateDelivery::new(Vec::new(), config());
        assert_eq!(delivery.poll_output(T0), Output::Done);
        assert_eq!(delivery.into_report(), DeliveryReport { outcomes: vec![], triggered_limits: None });
    }

    #[test]
    fn server_errors_then_success_resend_the_same_body_after_backoff() {
        let run = drive(recs(2), config(), 0.5, script_then_queued(vec![http(500, "boom"), http(500, "boom")]));
        assert!(run.bodies.iter().all(|b| *b == run.bodies[0]), "same bytes, same response_ids, every attempt");
        // Full jitter at 0.5: half of 500 ms, then half of 1000 ms, counted from the response.
        assert_eq!(
            run.timeline,
            vec![
                Event::Send { at: T0, attempt: 1, ids: ids(&["r0", "r1"]) },
                Event::Wait { at: T0 + 5, until: T0 + 5 + 250 },
                Event::Send { at: T0 + 255, attempt: 2, ids: ids(&["r0", "r1"]) },
                Event::Wait { at: T0 + 260, until: T0 + 260 + 500 },
                Event::Send { at: T0 + 760, attempt: 3, ids: ids(&["r0", "r1"]) },
            ]
        );
        for o in &run.report.outcomes {
            assert_eq!((o.status.as_str(), o.attempts, &o.error), ("queued", 3, &None));
        }
    }

    #[test]
    fn service_unavailable_until_attempts_run_out() {
        let run = drive(recs(1), config(), 0.5, |_| http(503, "maintenance"));
        assert_eq!(run.sends(), vec![send(1, &["r0"]), send(2, &["r0"]), send(3, &["r0"])]);
        assert_eq!(run.waits(), vec![250, 500]);
        let o = run.outcome("r0");
        assert_eq!(o.status, "failed");
        assert_eq!(o.attempts, 3);
        assert_eq!(o.error, Some(DeliveryError::HttpStatus { status: 503, body: "maintenance".into() }));

        let five = ImmediateConfig { policy: RetryPolicy { max_attempts: 5, ..RetryPolicy::default() }, ..config() };
        let run = drive(recs(1), five, 0.5, |_| http(503, "maintenance"));
        assert_eq!(run.outcome("r0").attempts, 5);
        assert_eq!(run.waits(), vec![250, 500, 1000, 2000]);

        let once = ImmediateConfig { policy: RetryPolicy { max_attempts: 0, ..RetryPolicy::default() }, ..config() };
        let run = drive(recs(1), once, 0.5, |_| http(503, "maintenance"));
        assert_eq!(run.outcome("r0").attempts, 1, "max_attempts 0 still makes one attempt");
    }

    #[test]
    fn network_errors_and_timeouts_are_retried() {
        let network = HttpOutcome::Network { message: "connection refused".into() };
        let timeout = HttpOutcome::Timeout { timeout_ms: 10_000 };
        let run = drive(recs(1), config(), 0.5, script_then_queued(vec![network.clone(), timeout.clone()]));
        assert_eq!(run.sends().len(), 3);
        assert_eq!((run.outcome("r0").status.as_str(), run.outcome("r0").attempts), ("queued", 3));

        let run = drive(recs(1), config(), 0.5, script(vec![timeout.clone(), network.clone(), timeout]));
        assert_eq!(run.outcome("r0").status, "unknown");
        assert_eq!(run.outcome("r0").error, Some(DeliveryError::Timeout { timeout_ms: 10_000 }));

        // A refused connection never carried the request: certainly not accepted.
        let run = drive(recs(1), config(), 0.5, |_| network.clone());
        assert_eq!(run.outcome("r0").status, "failed");
        assert_eq!(run.outcome("r0").error, Some(DeliveryError::Network { message: "connection refused".into() }));
        assert_eq!(run.outcome("r0").attempts, 3);
    }

    #[test]
    fn too_many_requests_honours_retry_after_seconds() {
        let run = drive(recs(1), config(), 0.5, script_then_queued(vec![http_retry_after(429, "2")]));
        assert_eq!(run.waits(), vec![2_000]);
        assert_eq!(run.outcome("r0").status, "queued");
        assert_eq!(run.outcome("r0").attempts, 2);
    }

    #[test]
    fn too_many_requests_honours_retry_after_http_date() {
        // The clock starts at 07:28:00 GMT; the 429 arrives 5 ms later and asks to wait until 07:28:10.
        let run = drive(recs(1), config(), 0.5, script_then_queued(vec![http_retry_after(429, "Wed, 21 Oct 2015 07:28:10 GMT")]));
        assert_eq!(run.waits(), vec![9_995]);
        assert_eq!(run.outcome("r0").status, "queued");
        // A date in the past means "now": no wait at all.
        let run = drive(recs(1), config(), 0.5, script_then_queued(vec![http_retry_after(503, "Tue, 20 Oct 2015 00:00:00 GMT")]));
        assert!(run.waits().is_empty());
        assert_eq!(run.sends().len(), 2);
        // A date too far away is capped like a long delta.
        let run = drive(recs(1), config(), 0.5, script_then_queued(vec![http_retry_after(429, "Thu, 22 Oct 2015 07:28:00 GMT")]));
        assert_eq!(run.waits(), vec![60_000]);
    }

    #[test]
    fn too_long_retry_after_is_capped() {
        let run = drive(recs(1), config(), 0.5, script_then_queued(vec![http_retry_after(429, "86400")]));
        assert_eq!(run.waits(), vec![60_000]);
        let short = ImmediateConfig { policy: RetryPolicy { max_retry_after_ms: 1_500, ..RetryPolicy::default() }, ..config() };
        let run = drive(recs(1), short, 0.5, script_then_queued(vec![http_retry_after(503, "30")]));
        assert_eq!(run.waits(), vec![1_500]);
    }

    #[test]
    fn unreadable_retry_after_falls_back_to_backoff() {
        let run = drive(recs(1), config(), 0.5, script_then_queued(vec![http_retry_after(429, "soon")]));
        assert_eq!(run.waits(), vec![250]);
    }

    #[test]
    fn request_timeout_408_is_retried() {
        let run = drive(recs(1), config(), 0.5, script_then_queued(vec![http(408, "")]));
        assert_eq!(run.sends(), vec![send(1, &["r0"]), send(2, &["r0"])]);
        assert_eq!(run.outcome("r0").status, "queued");
    }

    #[test]
    fn client_errors_are_not_retried() {
        for status in [400, 401, 403, 404, 409, 301, 304, 101] {
            let body = format!("{{\"detail\":\"status {status}\"}}");
            let run = drive(recs(2), config(), 0.5, script(vec![http(status, &body)]));
            assert_eq!(run.sends().len(), 1, "{status}");
            for o in &run.report.outcomes {
                assert_eq!(o.status, "failed");
                assert_eq!(o.attempts, 1);
                assert_eq!(o.error, Some(DeliveryError::HttpStatus { status, body: body.clone() }));
            }
        }
    }

    #[test]
    fn error_bodies_are_cut_to_an_excerpt() {
        let long = "x".repeat(5_000);
        let run = drive(recs(1), config(), 0.5, script(vec![http(400, &long)]));
        match &run.outcome("r0").error {
            Some(DeliveryError::HttpStatus { status: 400, body }) => {
                assert_eq!(body.chars().count(), crate::core::retry::BODY_EXCERPT_CHARS);
                assert!(long.starts_with(body.trim_end_matches('…')));
            }
            other => panic!("expected HttpStatus 400, got {other:?}"),
        }
    }

    #[test]
    fn payload_too_large_halves_the_batch_size_down_to_single_records() {
        // One rule with the outbox: a 413 on n records makes n / 2 the most per body for the rest of the
        // delivery (a later body of the old size would be refused too).
        let run = drive(recs(4), config(), 0.5, |req| {
            if req.ids.len() > 1 {
                http(413, "too large")
            } else {
                accepted(&req.ids, "queued")
            }
        });
        assert_eq!(
            run.sends(),
            vec![
                send(1, &["r0", "r1", "r2", "r3"]),
                send(1, &["r0", "r1"]),
                send(1, &["r0"]),
                send(1, &["r1"]),
                send(1, &["r2"]),
                send(1, &["r3"]),
            ]
        );
        assert!(run.waits().is_empty(), "a split is sent at once");
        let attempts: Vec<_> = run.report.outcomes.iter().map(|o| (o.status.as_str(), o.attempts)).collect();
        assert_eq!(attempts, [("queued", 3), ("queued", 3), ("queued", 2), ("queued", 2)]);
        // The lowered size holds for the later chunks of the same call, not for another call.
        let chunks = ImmediateConfig { max_batch_size: 4, ..config() };
        let mut first = true;
        let run = drive(recs(8), chunks.clone(), 0.5, move |req| {
            if std::mem::take(&mut first) {
                http(413, "too large")
            } else {
                accepted(&req.ids, "queued")
            }
        });
        assert_eq!(
            run.sends(),
            vec![
                send(1, &["r0", "r1", "r2", "r3"]),
                send(1, &["r0", "r1"]),
                send(1, &["r2", "r3"]),
                send(1, &["r4", "r5"]),
                send(1, &["r6", "r7"]),
            ]
        );
        let run = drive(recs(8), chunks, 0.5, queued_all());
        assert_eq!(run.sends(), vec![send(1, &["r0", "r1", "r2", "r3"]), send(1, &["r4", "r5", "r6", "r7"])]);
    }

    #[test]
    fn single_record_too_large_fails() {
        let run = drive(recs(1), config(), 0.5, |_| http(413, "too large"));
        assert_eq!(run.sends().len(), 1);
        assert_eq!(run.outcome("r0").status, "failed");
        assert_eq!(run.outcome("r0").error, Some(DeliveryError::TooLarge { status: 413 }));
    }

    #[test]
    fn split_halves_keep_the_retry_budget_of_their_parent() {
        // Two 500s use two of three attempts; the halves of the 413 then get one attempt each.
        let mut answers = VecDeque::from(vec![http(500, ""), http(500, ""), http(413, "")]);
        let run = drive(recs(2), config(), 0.5, move |_| answers.pop_front().unwrap_or_else(|| http(503, "down")));
        assert_eq!(
            run.sends(),
            vec![send(1, &["r0", "r1"]), send(2, &["r0", "r1"]), send(3, &["r0", "r1"]), send(3, &["r0"]), send(3, &["r1"])]
        );
        for o in &run.report.outcomes {
            assert_eq!(o.status, "failed");
            assert_eq!(o.attempts, 4);
            assert_eq!(o.error, Some(DeliveryError::HttpStatus { status: 503, body: "down".into() }));
        }
    }

    #[test]
    fn unprocessable_entity_rejects_only_the_named_records() {
        let reply_422 = r#"{"results":[{"response_id":"r1","errors":["payload: total_tokens must be a number"]}]}"#;
        let run = drive(recs(3), config(), 0.5, script_then_queued(vec![http(422, reply_422)]));
        assert_eq!(run.sends(), vec![send(1, &["r0", "r1", "r2"]), send(1, &["r0", "r2"])]);
        assert!(run.waits().is_empty(), "the rest is sent again at once");
        let bad = run.outcome("r1");
        assert_eq!(bad.status, "error");
        assert_eq!(bad.errors, vec!["payload: total_tokens must be a number".to_owned()]);
        assert_eq!(bad.error, Some(DeliveryError::Rejected { errors: bad.errors.clone() }));
        assert_eq!(bad.attempts, 1);
        for id in ["r0", "r2"] {
            assert_eq!((run.outcome(id).status.as_str(), run.outcome(id).attempts), ("queued", 2));
        }
        let order: Vec<_> = run.report.outcomes.iter().map(|o| o.response_id.as_str()).collect();
        assert_eq!(order, ["r0", "r1", "r2"]);
    }

    #[test]
    fn unprocessable_entity_naming_nobody_fails_the_send() {
        let bodies = [
            r#"{"results":[{"response_id":"UNKNOWN-RESPONSE-1","errors":["Missing response_id."]}]}"#,
            r#"{"results":[{"response_id":"r0","status":"queued"}]}"#,
            r#"{"detail":"invalid"}"#,
            "not json",
        ];
        for body in bodies {
            let run = drive(recs(2), config(), 0.5, script(vec![http(422, body)]));
            assert_eq!(run.sends().len(), 1, "{body}");
            for o in &run.report.outcomes {
                assert_eq!(o.status, "failed", "{body}");
                assert_eq!(o.error, Some(DeliveryError::HttpStatus { status: 422, body: body.to_owned() }));
            }
        }
    }

    #[test]
    fn per_record_results_inside_a_2xx() {
        let reply = r#"{"results":[
            {"response_id":"r0","status":"queued"},
            {"response_id":"r1","status":"error","errors":["Invalid service_key format"]},
            {"response_id":"r2","status":"service_key_unknown","errors":["Service key 'unknown::service' is not recognized. Event queued for review."]},
            {"response_id":"r3","cost_events":[{"vendor_id":"openai","cost":"0.00012"}]},
            {"response_id":"r4"},
            {"response_id":"r5","status":"deduplicated"},
            {"response_id":"r6","errors":["Missing payload."]},
            {"response_id":"r7","status":"completed","cost_events":[]}
        ]}"#;
        let run = drive(recs(8), config(), 0.5, script(vec![http(202, reply)]));
        let o = |id: &str| run.outcome(id).clone();
        assert_eq!((o("r0").status.as_str(), o("r0").error), ("queued", None));
        assert_eq!(o("r1").status, "error");
        assert_eq!(o("r1").errors, vec!["Invalid service_key format".to_owned()]);
        assert_eq!(o("r1").error, Some(DeliveryError::Rejected { errors: vec!["Invalid service_key format".into()] }));
        assert_eq!(o("r2").status, "service_key_unknown");
        assert_eq!(o("r2").errors.len(), 1);
        assert!(o("r2").errors[0].contains("unknown::service"));
        assert_eq!(o("r2").error, None);
        assert_eq!(o("r3").status, "completed");
        assert_eq!(
            o("r3").cost_events,
            Some(Value::Array(vec![Value::object([("vendor_id", Value::from("openai")), ("cost", Value::from("0.00012"))])]))
        );
        // A 2xx without a readable verdict for the record: the server took the request, it may hold it.
        assert_eq!(o("r4").status, "unknown");
        assert!(matches!(o("r4").error, Some(DeliveryError::InvalidResponse { .. })));
        assert_eq!(o("r5").status, "unknown");
        assert!(matches!(&o("r5").error, Some(DeliveryError::InvalidResponse { reason }) if reason.contains("deduplicated")));
        assert_eq!(o("r6").status, "error");
        assert_eq!(o("r6").error, Some(DeliveryError::Rejected { errors: vec!["Missing payload.".into()] }));
        assert_eq!((o("r7").status.as_str(), o("r7").cost_events), ("completed", Some(Value::Array(vec![]))));
        assert!(run.report.outcomes.iter().all(|o| o.attempts == 1));
    }

    #[test]
    fn missing_results_fail_only_their_records() {
        let run = drive(recs(3), config(), 0.5, script(vec![http(202, r#"{"results":[{"response_id":"r1","status":"queued"}]}"#)]));
        assert_eq!(run.outcome("r1").status, "queued");
        for id in ["r0", "r2"] {
            assert_eq!(run.outcome(id).status, "unknown", "a 2xx that does not say: the server may hold it");
            assert_eq!(run.outcome(id).error, Some(DeliveryError::MissingResult));
        }
    }

    #[test]
    fn unnamed_results_match_by_position_only_when_counts_agree() {
        let same_count = r#"{"results":[{"status":"queued"},{"status":"completed"}]}"#;
        let run = drive(recs(2), config(), 0.5, script(vec![http(200, same_count)]));
        assert_eq!(run.outcome("r0").status, "queued");
        assert_eq!(run.outcome("r1").status, "completed");

        let fewer = r#"{"results":[{"status":"queued"}]}"#;
        let run = drive(recs(2), config(), 0.5, script(vec![http(200, fewer)]));
        for id in ["r0", "r1"] {
            assert_eq!(run.outcome(id).error, Some(DeliveryError::MissingResult));
        }

        // A named result never matches another record by position.
        let named_other = r#"{"results":[{"response_id":"zz","status":"queued"},{"response_id":"r1","status":"queued"}]}"#;
        let run = drive(recs(2), config(), 0.5, script(vec![http(200, named_other)]));
        assert_eq!(run.outcome("r0").error, Some(DeliveryError::MissingResult));
        assert_eq!(run.outcome("r1").status, "queued");
    }

    #[test]
    fn unreadable_2xx_is_unknown_for_every_record_without_retry() {
        for body in ["", "<html>ok</html>", r#"{"ok":true}"#, r#"{"results":"queued"}"#] {
            let run = drive(recs(2), config(), 0.5, script(vec![http(202, body)]));
            assert_eq!(run.sends().len(), 1, "not retried: {body:?}");
            for o in &run.report.outcomes {
                assert_eq!(o.status, "unknown", "the server accepted the request: it may hold the records");
                assert_eq!(o.attempts, 1);
                assert!(matches!(o.error, Some(DeliveryError::InvalidResponse { .. })), "{body:?}: {:?}", o.error);
            }
        }
    }

    #[test]
    fn chunks_by_count_and_bytes_with_results_in_input_order() {
        // The server answers in reverse order, with a status that depends on the record.
        let reverse_server = |req: &Request| {
            let results: Vec<String> = req
                .ids
                .iter()
                .rev()
                .map(|id| {
                    let status = if id.ends_with(['1', '3']) { "completed" } else { "queued" };
                    format!(r#"{{"response_id":"{id}","status":"{status}"}}"#)
                })
                .collect();
            http(202, &format!(r#"{{"results":[{}]}}"#, results.join(",")))
        };
        let by_count = ImmediateConfig { max_batch_size: 2, ..config() };
        let run = drive(recs(5), by_count, 0.5, reverse_server);
        assert_eq!(run.sends(), vec![send(1, &["r0", "r1"]), send(1, &["r2", "r3"]), send(1, &["r4"])]);
        let statuses: Vec<_> = run.report.outcomes.iter().map(|o| (o.response_id.as_str(), o.status.as_str())).collect();
        assert_eq!(statuses, [("r0", "queued"), ("r1", "completed"), ("r2", "queued"), ("r3", "completed"), ("r4", "queued")]);

        let two_fit = batch::body_len(&recs(2));
        let by_bytes = ImmediateConfig { max_batch_bytes: two_fit, ..config() };
        let run = drive(recs(5), by_bytes, 0.5, reverse_server);
        assert_eq!(run.sends(), vec![send(1, &["r0", "r1"]), send(1, &["r2", "r3"]), send(1, &["r4"])]);
        assert!(run.bodies.iter().all(|b| b.len() <= two_fit));
        let order: Vec<_> = run.report.outcomes.iter().map(|o| o.response_id.as_str()).collect();
        assert_eq!(order, ["r0", "r1", "r2", "r3", "r4"]);
    }

    #[test]
    fn a_failing_chunk_does_not_stop_the_next_one() {
        let by_count = ImmediateConfig { max_batch_size: 1, ..config() };
        let run = drive(recs(2), by_count, 0.5, script_then_queued(vec![http(400, "bad")]));
        assert_eq!(run.sends(), vec![send(1, &["r0"]), send(1, &["r1"])]);
        assert_eq!(run.outcome("r0").status, "failed");
        assert_eq!(run.outcome("r1").status, "queued");
    }

    #[test]
    fn triggered_limits_of_the_last_reply_that_had_some() {
        let by_count = ImmediateConfig { max_batch_size: 1, ..config() };
        let replies = vec![
            http(202, r#"{"results":[{"response_id":"r0","status":"queued"}],"triggered_limits":{"key_id":"a"}}"#),
            http(202, r#"{"results":[{"response_id":"r1","status":"queued"}],"triggered_limits":{"key_id":"b"}}"#),
            http(202, r#"{"results":[{"response_id":"r2","status":"queued"}],"triggered_limits":{}}"#),
        ];
        let run = drive(recs(3), by_count, 0.5, script(replies));
        assert_eq!(run.report.triggered_limits, Some(Value::object([("key_id", Value::from("b"))])));
    }

    #[test]
    fn backoff_stays_within_the_jitter_window() {
        for jitter in [0.0, 0.25, 0.999_999, -1.0, 5.0, f64::NAN, f64::INFINITY] {
            let run = drive(recs(1), config(), jitter, script_then_queued(vec![http(500, ""), http(502, "")]));
            let waits = run.gaps();
            assert_eq!(waits.len(), 2);
            assert!(waits[0] < 500, "jitter {jitter}: first wait {} not below 500", waits[0]);
            assert!(waits[1] < 1_000, "jitter {jitter}: second wait {} not below 1000", waits[1]);
        }
        // 0.999999 of a 500 ms window is 499; 0 waits nothing (no Wait output at all).
        let run = drive(recs(1), config(), 0.999_999, script_then_queued(vec![http(500, "")]));
        assert_eq!(run.waits(), vec![499]);
        let run = drive(recs(1), config(), 0.0, script_then_queued(vec![http(500, "")]));
        assert!(run.waits().is_empty());
        assert_eq!(run.sends().len(), 2);
    }

    #[test]
    fn unknown_or_stale_send_ids_are_ignored() {
        let mut delivery = ImmediateDelivery::new(recs(1), config());
        let Output::Send { id, .. } = delivery.poll_output(T0) else { panic!("expected a send") };
        let stranger = SendId(id.value() + 100);
        delivery.handle_response(stranger, http(400, "x"), T0, 0.5);
        assert_eq!(delivery.poll_output(T0), Output::AwaitResponse { id });
        delivery.handle_response(id, http(500, "x"), T0 + 5, 0.5);
        // The retry waits; a late duplicate outcome for the first attempt changes nothing.
        delivery.handle_response(id, http(202, r#"{"results":[{"response_id":"r0","status":"queued"}]}"#), T0 + 6, 0.5);
        assert_eq!(delivery.poll_output(T0 + 6), Output::Wait { until_ms: T0 + 255 });
        let Output::Send { id: retry_id, attempt, .. } = delivery.poll_output(T0 + 255) else { panic!("expected the retry") };
        assert_ne!(retry_id, id, "every attempt has its own id");
        assert_eq!(attempt, 2);
        delivery.handle_response(retry_id, http(202, r#"{"results":[{"response_id":"r0","status":"queued"}]}"#), T0 + 260, 0.5);
        assert_eq!(delivery.poll_output(T0 + 260), Output::Done);
        let report = delivery.into_report();
        assert_eq!((report.outcomes[0].status.as_str(), report.outcomes[0].attempts), ("queued", 2));
    }

    #[test]
    fn attempts_that_may_have_reached_the_server_end_unknown_not_failed() {
        let timeout = HttpOutcome::Timeout { timeout_ms: 10_000 };
        let dropped = HttpOutcome::Network { message: "fetch failed: other side closed".into() };
        let refused = HttpOutcome::Network { message: "fetch failed: connect ECONNREFUSED 127.0.0.1:9".into() };
        // Every attempt timed out, or the connection dropped mid-request: unknown, with the last error.
        for last in [timeout.clone(), dropped.clone()] {
            let run = drive(recs(2), config(), 0.5, move |_| last.clone());
            for o in &run.report.outcomes {
                assert_eq!((o.status.as_str(), o.attempts), ("unknown", 3), "{:?}", o.error);
            }
        }
        // One early timeout is enough: the later 503s do not prove the first attempt was not stored.
        let run = drive(recs(1), config(), 0.5, script(vec![timeout, http(503, "busy"), http(503, "busy")]));
        assert_eq!(run.outcome("r0").status, "unknown");
        assert_eq!(run.outcome("r0").error, Some(DeliveryError::HttpStatus { status: 503, body: "busy".into() }));
        // Answers that certainly refused the request, and connections that never opened: failed.
        for outcome in [http(503, "busy"), http(401, "no"), refused] {
            let run = drive(recs(1), config(), 0.5, move |_| outcome.clone());
            assert_eq!(run.outcome("r0").status, "failed", "{:?}", run.outcome("r0").error);
        }
        // A definitive answer after a timeout wins: delivered, or rejected by the server.
        let run = drive(recs(1), config(), 0.5, script_then_queued(vec![HttpOutcome::Timeout { timeout_ms: 1 }]));
        assert_eq!(run.outcome("r0").status, "queued");
        let rejected = r#"{"results":[{"response_id":"r0","status":"error","errors":["bad"]}]}"#;
        let run = drive(recs(1), config(), 0.5, script(vec![HttpOutcome::Timeout { timeout_ms: 1 }, http(202, rejected)]));
        assert_eq!(run.outcome("r0").status, "error");
    }

    #[test]
    fn the_api_key_never_reaches_a_result() {
        const KEY: &str = "sk-proj-Zq8w1x2c3v4b5n6m7";
        let keyed = ImmediateConfig { redactor: crate::core::redact::Redactor::new(Some(KEY)), ..config() };
        let echo = format!(r#"{{"detail":"Invalid API key {KEY}"}}"#);
        let run = drive(recs(1), keyed.clone(), 0.5, script(vec![http(401, &echo)]));
        let o = run.outcome("r0");
        assert_eq!(o.error, Some(DeliveryError::HttpStatus { status: 401, body: r#"{"detail":"Invalid API key [redacted]"}"#.into() }));
        let rejected = format!(r#"{{"results":[{{"response_id":"r0","status":"error","errors":["key {KEY}"]}}]}}"#);
        let run = drive(recs(1), keyed.clone(), 0.5, script(vec![http(202, &rejected)]));
        assert_eq!(run.outcome("r0").errors, vec!["key [redacted]".to_owned()]);
        assert_eq!(run.outcome("r0").error, Some(DeliveryError::Rejected { errors: vec!["key [redacted]".into()] }));
        let network = HttpOutcome::Network { message: format!("Bearer {KEY} refused by the proxy") };
        let run = drive(recs(1), keyed, 0.5, move |_| network.clone());
        assert_eq!(run.outcome("r0").error, Some(DeliveryError::Network { message: "Bearer [redacted] refused by the proxy".into() }));
        let shown = format!("{:?}", run.report);
        assert!(!shown.contains("Zq8w1x2c3v4b"), "{shown}");
    }

    #[test]
    fn report_before_done_marks_undelivered_records_failed() {
        let mut delivery = ImmediateDelivery::new(recs(3), ImmediateConfig { max_batch_size: 1, ..config() });
        let Output::Send { id, .. } = delivery.poll_output(T0) else { panic!("expected a send") };
        delivery.handle_response(id, http(503, "busy"), T0 + 5, 0.5);
        let report = delivery.into_report();
        assert_eq!(report.outcomes.len(), 3);
        assert_eq!(report.outcomes[0].error, Some(DeliveryError::HttpStatus { status: 503, body: "busy".into() }));
        assert_eq!(report.outcomes[0].attempts, 1);
        for o in &report.outcomes[1..] {
            assert_eq!(o.status, "failed");
            assert_eq!(o.attempts, 0);
            assert!(matches!(o.error, Some(DeliveryError::Network { .. })));
        }
    }

}
