//! One consumer invocation over one Queues batch: which records go into which `/track` body, and what
//! becomes of each message (ack, retry, re-send with its attempts, dead letter).
//!
//! Call [`ConsumerSession::new`] with the batch's messages, then loop: [`ConsumerSession::next_body`] gives
//! a `/track` body to POST (`None`: nothing more to post), [`ConsumerSession::settle`] takes its outcome; at
//! the end [`ConsumerSession::actions`] says what to do with every message. The session never does I/O,
//! reads the clock or draws random numbers: times and jitter are arguments. Every outcome is read through
//! the one reply interpreter ([`crate::core::delivery::reply::interpret`]); delays come from
//! [`crate::core::retry`].
//!
//! Rules (the module docs of [`super`] give the why):
//! - a body that is not a record ([`super::envelope::parse_message`]) is dead-lettered, never posted;
//! - a `response_id` seen twice in the batch is posted once; the later messages are acked (the first one
//!   holds the record whatever becomes of it);
//! - while the isolate's pause runs (`paused_until_ms`, kept by the caller between invocations), nothing is
//!   posted: every record is retried after the pause or its own backoff, whichever is later;
//! - a retryable outcome (network, timeout, 408, 429, 5xx) retries every record of the body and every record
//!   not posted yet, and pauses the isolate until the interpreter's retry time (`Retry-After` honoured);
//! - a retry of a message Queues has delivered `queue_max_retries` times or more is a re-send instead
//!   ([`Action::Requeue`]): a fresh message carrying the attempts, so that Queues never dead-letters a record
//!   for its attempts; a record older than `max_age_ms` whose attempt failed is dead-lettered (`E_TOO_OLD`);
//! - 413 on several records halves the records per body and posts them again at once; a per-record refusal,
//!   an unconfirmed 2xx and any other status are dead letters with their reason.

use std::collections::{HashMap, VecDeque};

use super::envelope::{encode_dead_letter, encode_requeued, parse_message, DeadReason, Incoming};
use crate::core::delivery::reply::{interpret, RecordVerdict, RetryTiming, Spread, Verdict};
use crate::core::error::DeliveryError;
use crate::core::retry::{self, HttpOutcome, RetryPolicy};

/// Queues refuses a `delaySeconds` above 12 hours (developers.cloudflare.com/queues/platform/limits/,
/// "Per-message delay"): every delay is capped here.
pub const MAX_DELAY_SECONDS: u32 = 43_200;

/// `{"tracked":[` + `]}`.
const BODY_FRAME: usize = 14;

/// The consumer's settings (the `handleQueueBatch` options).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConsumerConfig {
    /// Most records per `/track` body.
    pub max_batch_size: usize,
    /// Most bytes per `/track` body.
    pub max_batch_bytes: usize,
    /// Backoff (`max_attempts` is not used: the consumer never gives up on a record by attempts).
    pub policy: RetryPolicy,
    /// The queue's `max_retries` (wrangler.toml): a message delivered this many times is re-sent instead of
    /// retried.
    pub queue_max_retries: u32,
    /// A record first enqueued longer ago than this is dead-lettered when an attempt fails.
    pub max_age_ms: u64,
}

impl Default for ConsumerConfig {
    /// 100 records and 4 MiB per body, [`RetryPolicy::QUEUE`]'s backoff (2 s doubling to 5 min, `Retry-After`
    /// up to 60 s), Queues' default `max_retries` of 3, 7 days of age.
    fn default() -> Self {
        ConsumerConfig {
            max_batch_size: 100,
            max_batch_bytes: 4 * 1024 * 1024,
            policy: RetryPolicy::QUEUE,
            queue_max_retries: 3,
            max_age_ms: 7 * 24 * 3600 * 1000,
        }
    }
}

/// One delivered message, as the bindings read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageIn {
    /// The body when it is a string; `None` otherwise (`kind` says what it was).
    pub body: Option<String>,
    /// `"string"`, `"object"`, `"ArrayBuffer"`, `"unreadable"`…
    pub kind: String,
    /// Queues' `msg.attempts` (1 on the first delivery).
    pub attempts: u32,
    /// Queues' `msg.timestamp` (epoch ms): when this message was sent.
    pub timestamp_ms: u64,
}

/// What to do with one message.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `msg.ack()`. `status` is the record's per-record status (`"duplicate"` for a repeated `response_id`).
    Ack { status: String },
    /// `msg.retry({ delaySeconds })`. `code` is the failure's error code.
    Retry { delay_seconds: u32, code: &'static str },
    /// Send `body` as a new message with `delaySeconds`, then `msg.ack()` (on a failed send: `msg.retry`).
    Requeue { body: String, delay_seconds: u32, code: &'static str },
    /// Send `body` to the dead-letter queue, then `msg.ack()`; without a DLQ binding or on a failed send,
    /// `msg.retry({ delaySeconds: MAX_DELAY_SECONDS })` (Queues' own `dead_letter_queue` then receives the raw
    /// message once its `max_retries` are used up).
    DeadLetter { body: String, reason: DeadReason },
}

struct Slot {
    parsed: Option<Incoming>,
    queue_attempts: u32,
    first_seen_ms: u64,
    action: Option<Action>,
}

/// The state of one invocation (see the module docs).
pub struct ConsumerSession {
    config: ConsumerConfig,
    slots: Vec<Slot>,
    pending: VecDeque<Vec<usize>>,
    current: Option<Vec<usize>>,
    max_records: usize,
    paused_until_ms: u64,
    posts: u32,
}

impl ConsumerSession {
    /// Reads the batch and plans its bodies. `paused_until_ms`: the isolate's pause (0 for none);
    /// `accept_dead_letters`: true for the DLQ replay, which posts nothing: every record (a dead letter, a
    /// re-sent record or a plain one) becomes an [`Action::Requeue`] to the delivery queue with its attempts
    /// reset, and a message that is not a record stays a dead letter. `jitter` in `[0, 1)`.
    pub fn new(
        config: ConsumerConfig,
        messages: Vec<MessageIn>,
        now_ms: u64,
        paused_until_ms: u64,
        accept_dead_letters: bool,
        jitter: f64,
    ) -> Self {
        let mut session = ConsumerSession {
            config,
            slots: Vec::with_capacity(messages.len()),
            pending: VecDeque::new(),
            current: None,
            max_records: config.max_batch_size.max(1),
            paused_until_ms,
            posts: 0,
        };
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut primaries = Vec::new();
        for (index, message) in messages.into_iter().enumerate() {
            let mut slot =
                Slot { parsed: None, queue_attempts: message.attempts, first_seen_ms: message.timestamp_ms, action: None };
            match parse_message(message.body.as_deref(), &message.kind, accept_dead_letters) {
                Err(e) => {
                    let reason = DeadReason { code: e.code, status: None, errors: vec![e.reason] };
                    let body = encode_dead_letter(&reason, None, message.body.as_deref(), message.attempts, message.timestamp_ms, now_ms);
                    slot.action = Some(Action::DeadLetter { body, reason });
                }
                Ok(incoming) => {
                    slot.first_seen_ms = incoming.first_seen_ms.unwrap_or(message.timestamp_ms);
                    if seen.contains_key(&incoming.response_id) {
                        slot.action = Some(Action::Ack { status: "duplicate".to_owned() });
                    } else {
                        seen.insert(incoming.response_id.clone(), index);
                        primaries.push(index);
                    }
                    slot.parsed = Some(incoming);
                }
            }
            session.slots.push(slot);
        }
        if accept_dead_letters {
            // The replay posts nothing: each record goes back to the delivery queue, attempts reset.
            for index in primaries {
                let body = session.record(index).map(|r| encode_requeued(&r.record_json, 0, now_ms));
                if let Some(body) = body {
                    session.set(index, Action::Requeue { body, delay_seconds: 0, code: "E_REPLAY" });
                }
            }
        } else if now_ms < paused_until_ms {
            let wait_s = ceil_seconds(paused_until_ms - now_ms);
            let outcome = HttpOutcome::Network { message: "paused after a failed delivery".to_owned() };
            for (n, index) in primaries.into_iter().enumerate() {
                session.fail(index, &outcome, now_ms, spread(jitter, n), Some(wait_s), "E_PAUSED");
            }
        } else {
            session.plan(primaries);
        }
        session
    }

    /// The isolate's pause after this invocation (epoch ms; keep it for the next invocation).
    pub fn paused_until_ms(&self) -> u64 {
        self.paused_until_ms
    }

    /// `/track` POSTs made so far.
    pub fn posts(&self) -> u32 {
        self.posts
    }

    /// The next `/track` body to POST, or `None` when nothing is left (or a body is still unsettled).
    pub fn next_body(&mut self) -> Option<String> {
        if self.current.is_some() {
            return None;
        }
        let group = self.pending.pop_front()?;
        let mut body = String::from("{\"tracked\":[");
        for (i, record) in group.iter().filter_map(|&index| self.record(index)).enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&record.record_json);
        }
        body.push_str("]}");
        self.current = Some(group);
        self.posts = self.posts.saturating_add(1);
        Some(body)
    }

    /// Takes the outcome of the body [`Self::next_body`] gave last. `jitter` in `[0, 1)`.
    pub fn settle(&mut self, outcome: &HttpOutcome, now_ms: u64, jitter: f64) {
        let Some(group) = self.current.take() else { return };
        let ids: Vec<Option<&str>> = group.iter().map(|&i| self.record(i).map(|r| r.response_id.as_str())).collect();
        let failed_attempt = group.iter().map(|&i| self.total_attempts(i)).max().unwrap_or(1);
        let timing = RetryTiming { policy: self.config.policy, failed_attempt, now_ms, jitter, spread: Spread::UpperHalf };
        match interpret(outcome, &ids, &timing) {
            Verdict::PerRecord { status, records, .. } => {
                let mut resend = Vec::new();
                for (&index, verdict) in group.iter().zip(records) {
                    let action = match verdict {
                        RecordVerdict::Accepted { status, .. } => Action::Ack { status: status.to_owned() },
                        RecordVerdict::Rejected { errors } => {
                            self.dead(index, DeadReason { code: "E_REJECTED", status: Some(status), errors }, now_ms)
                        }
                        RecordVerdict::Unconfirmed { error } => self.dead(index, reason_of(&error, Some(status)), now_ms),
                        RecordVerdict::Resend => {
                            resend.push(index);
                            continue;
                        }
                    };
                    self.set(index, action);
                }
                if !resend.is_empty() {
                    self.pending.push_front(resend);
                }
            }
            Verdict::Split { max_records } => {
                self.max_records = max_records.max(1);
                let regrouped = self.groups(group);
                for g in regrouped.into_iter().rev() {
                    self.pending.push_front(g);
                }
            }
            Verdict::GiveUp { status, error } => {
                for index in group {
                    let action = self.dead(index, reason_of(&error, status), now_ms);
                    self.set(index, action);
                }
            }
            Verdict::RetryAt { at_ms, error, .. } => {
                self.paused_until_ms = self.paused_until_ms.max(at_ms);
                let code = error.code();
                let rest: Vec<usize> = self.pending.drain(..).flatten().collect();
                for (n, index) in group.into_iter().chain(rest).enumerate() {
                    self.fail(index, outcome, now_ms, spread(jitter, n), None, code);
                }
            }
        }
    }

    /// What to do with every message, in batch order (a message left undecided, which the loop above never
    /// leaves, is retried after the backoff's base delay).
    pub fn actions(&self) -> Vec<Action> {
        let base = ceil_seconds(self.config.policy.base_delay_ms);
        self.slots
            .iter()
            .map(|s| s.action.clone().unwrap_or(Action::Retry { delay_seconds: base, code: "E_UNSETTLED" }))
            .collect()
    }

    fn record(&self, index: usize) -> Option<&Incoming> {
        self.slots.get(index).and_then(|s| s.parsed.as_ref())
    }

    fn set(&mut self, index: usize, action: Action) {
        if let Some(slot) = self.slots.get_mut(index) {
            slot.action = Some(action);
        }
    }

    fn total_attempts(&self, index: usize) -> u32 {
        self.slots.get(index).map_or(1, |s| {
            s.queue_attempts.max(1).saturating_add(s.parsed.as_ref().map_or(0, |p| p.carried_attempts))
        })
    }

    /// Greedy groups of at most `max_records` records and `max_batch_bytes` bytes, order kept.
    fn groups(&self, indices: Vec<usize>) -> Vec<Vec<usize>> {
        let mut groups = Vec::new();
        let mut current: Vec<usize> = Vec::new();
        let mut bytes = BODY_FRAME;
        for index in indices {
            let len = self.record(index).map_or(0, |r| r.record_json.len());
            let added = len.saturating_add(usize::from(!current.is_empty()));
            if !current.is_empty()
                && (current.len() >= self.max_records || bytes.saturating_add(added) > self.config.max_batch_bytes)
            {
                groups.push(std::mem::take(&mut current));
                bytes = BODY_FRAME;
            }
            bytes = bytes.saturating_add(len).saturating_add(usize::from(!current.is_empty()));
            current.push(index);
        }
        if !current.is_empty() {
            groups.push(current);
        }
        groups
    }

    fn plan(&mut self, primaries: Vec<usize>) {
        let groups = self.groups(primaries);
        self.pending.extend(groups);
    }

    /// A dead letter for the record of `index`.
    fn dead(&self, index: usize, reason: DeadReason, now_ms: u64) -> Action {
        let (record, first_seen) =
            self.slots.get(index).map_or((None, now_ms), |s| (s.parsed.as_ref().map(|p| p.record_json.as_str()), s.first_seen_ms));
        let body = encode_dead_letter(&reason, record, None, self.total_attempts(index), first_seen, now_ms);
        Action::DeadLetter { body, reason }
    }

    /// A retryable failure of the record of `index`: retried, re-sent or (too old) dead-lettered.
    fn fail(&mut self, index: usize, outcome: &HttpOutcome, now_ms: u64, jitter: f64, at_least_s: Option<u32>, code: &'static str) {
        let Some(slot) = self.slots.get(index) else { return };
        let attempts = self.total_attempts(index);
        if now_ms.saturating_sub(slot.first_seen_ms) > self.config.max_age_ms {
            let message = retry::outcome_error(outcome).to_string();
            let action = self.dead(index, DeadReason { code: "E_TOO_OLD", status: outcome.status(), errors: vec![message] }, now_ms);
            self.set(index, action);
            return;
        }
        let backoff_ms = retry::retry_delay_ms(&self.config.policy, attempts, outcome, now_ms, jitter);
        let delay_seconds = ceil_seconds(backoff_ms).max(at_least_s.unwrap_or(0)).min(MAX_DELAY_SECONDS);
        let action = if slot.queue_attempts >= self.config.queue_max_retries {
            let record = slot.parsed.as_ref().map_or("null", |p| p.record_json.as_str());
            Action::Requeue { body: encode_requeued(record, attempts, slot.first_seen_ms), delay_seconds, code }
        } else {
            Action::Retry { delay_seconds, code }
        };
        self.set(index, action);
    }
}

fn reason_of(error: &DeliveryError, status: Option<u16>) -> DeadReason {
    DeadReason { code: error.code(), status, errors: vec![error.to_string()] }
}

/// Whole seconds, rounded up, saturating.
fn ceil_seconds(ms: u64) -> u32 {
    u32::try_from(ms.div_ceil(1000)).unwrap_or(u32::MAX)
}

/// A different draw in the upper half `[0.5, 1)` of the window for the `n`-th record (golden-ratio steps).
fn spread(jitter: f64, n: usize) -> f64 {
    let j = if jitter.is_nan() { 0.0 } else { jitter.clamp(0.0, 1.0) };
    let step = (j + 0.618_033_988_75 * (n as f64)).fract();
    0.5 + step / 2.0
}
