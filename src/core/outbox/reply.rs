//! What an HTTP outcome means for each record of the batch it answers.

use super::entry::flag;
use super::{BatchId, InFlight, Outbox};
use crate::core::error::DeliveryError;
use crate::core::response::{self, ResultVerdict, ServerResult, TrackReply};
use crate::core::retry::{self, HttpOutcome, OutcomeClass};

fn status_of(outcome: &HttpOutcome) -> Option<u16> {
    match outcome {
        HttpOutcome::Response { status, .. } => Some(*status),
        HttpOutcome::Network { .. } | HttpOutcome::Timeout { .. } => None,
    }
}

impl Outbox {
    /// Reports the HTTP outcome of batch `id` (from [`super::SendOutput::Send`]). `now_ms` is when it
    /// arrived (delays count from it); `jitter` is a uniform draw in `[0, 1)`, used if a backoff is needed.
    ///
    /// The batch in flight: every record gets its outcome (see the module docs). A batch whose lease
    /// expired: only a readable 2xx counts (its accepted records are delivered, its rejected ones
    /// dead-lettered, wherever they are now); anything else is ignored, as are unknown ids.
    pub fn handle_response(&mut self, id: BatchId, outcome: HttpOutcome, now_ms: u64, jitter: f64) {
        match self.in_flight.take() {
            Some(flight) if flight.id == id => self.resolve(flight, &outcome, now_ms, jitter),
            other => {
                self.in_flight = other;
                if let Some(i) = self.expired.iter().position(|e| *e == id) {
                    self.expired.remove(i);
                    self.late_reply(&outcome, now_ms);
                }
            }
        }
        self.compact();
    }

    fn resolve(&mut self, flight: InFlight, outcome: &HttpOutcome, now_ms: u64, jitter: f64) {
        // Every member is due now unless its outcome says otherwise.
        let members = self.release(&flight.positions, flight.id, now_ms);
        match retry::classify(outcome) {
            OutcomeClass::Success => self.accept_reply(&flight.positions, &members, outcome, now_ms, jitter),
            OutcomeClass::TooLarge => {
                if members.len() > 1 {
                    self.batch_limit = (members.len() / 2).max(1);
                } else {
                    let reason = DeliveryError::TooLarge { status: 413 }.to_string();
                    for &pos in &members {
                        self.dead_letter(pos, now_ms, reason.clone(), Some(413), Vec::new());
                    }
                }
            }
            OutcomeClass::Retryable => {
                let error = retry::outcome_error(outcome);
                let items: Vec<(u32, &DeliveryError)> = members.iter().map(|&p| (p, &error)).collect();
                let delay = self.fail(&items, status_of(outcome), outcome, now_ms, jitter);
                self.blocked_until_ms = self.blocked_until_ms.max(now_ms.saturating_add(delay));
            }
            OutcomeClass::Permanent => {
                let named = match outcome {
                    HttpOutcome::Response { status: 422, body, .. } => self.named_in_422(&members, body),
                    _ => Vec::new(),
                };
                if named.is_empty() {
                    let reason = retry::outcome_error(outcome).to_string();
                    for &pos in &members {
                        self.dead_letter(pos, now_ms, reason.clone(), status_of(outcome), Vec::new());
                    }
                } else {
                    // The others are due now, with no attempt counted.
                    for (pos, errors) in named {
                        let reason = DeliveryError::Rejected { errors: errors.clone() }.to_string();
                        self.dead_letter(pos, now_ms, reason, Some(422), errors);
                    }
                }
            }
        }
    }

    /// A 2xx for the batch in flight.
    fn accept_reply(&mut self, sent: &[u32], members: &[u32], outcome: &HttpOutcome, now_ms: u64, jitter: f64) {
        let HttpOutcome::Response { status, body, .. } = outcome else { return };
        let reply = match response::parse_track_reply(body) {
            Ok(reply) => reply,
            Err(reason) => {
                let error = DeliveryError::InvalidResponse { reason };
                let items: Vec<(u32, &DeliveryError)> = members.iter().map(|&p| (p, &error)).collect();
                self.fail(&items, Some(*status), outcome, now_ms, jitter);
                return;
            }
        };
        let results = self.match_results(sent, members, &reply);
        let mut retry: Vec<(u32, DeliveryError)> = Vec::new();
        let sent_before = self.sent_total;
        for (&pos, result) in members.iter().zip(&results) {
            let Some(result) = result else {
                retry.push((pos, DeliveryError::MissingResult));
                continue;
            };
            if let Some(error) = self.settle_result(pos, result, *status, now_ms) {
                retry.push((pos, error));
            }
        }
        if self.sent_total > sent_before {
            self.release_waiting(now_ms);
        }
        if !retry.is_empty() {
            let retry: Vec<(u32, &DeliveryError)> = retry.iter().map(|(pos, e)| (*pos, e)).collect();
            self.fail(&retry, Some(*status), outcome, now_ms, jitter);
        }
    }

    /// One result (or none) per member. By `response_id` first (the first result for an id wins); an
    /// unnamed result matches by position only when the reply has one result per record sent.
    fn match_results<'r>(&self, sent: &[u32], members: &[u32], reply: &'r TrackReply) -> Vec<Option<&'r ServerResult>> {
        let mut verdicts: Vec<Option<&ServerResult>> = members.iter().map(|_| None).collect();
        let mut assign = |pos: u32, result: &'r ServerResult| {
            if let Ok(i) = members.binary_search(&pos) {
                if let Some(slot @ None) = verdicts.get_mut(i) {
                    *slot = Some(result);
                }
            }
        };
        for result in &reply.results {
            if let Some(pos) = result.response_id.as_deref().and_then(|id| self.live.find(id)) {
                assign(pos, result);
            }
        }
        if reply.results.len() == sent.len() {
            for (result, &pos) in reply.results.iter().zip(sent) {
                if result.response_id.is_none() {
                    assign(pos, result);
                }
            }
        }
        verdicts
    }

    /// The members a 422 reply names (with errors or `status: "error"`), with their errors.
    fn named_in_422(&self, members: &[u32], body: &str) -> Vec<(u32, Vec<String>)> {
        let Ok(reply) = response::parse_track_reply(body) else { return Vec::new() };
        let mut named: Vec<(u32, Vec<String>)> = Vec::new();
        for result in &reply.results {
            let names_it = !result.errors.is_empty() || result.status.as_deref() == Some("error");
            let Some(pos) = result.response_id.as_deref().and_then(|id| self.live.find(id)) else { continue };
            if names_it && members.binary_search(&pos).is_ok() && !named.iter().any(|(p, _)| *p == pos) {
                named.push((pos, result.errors.clone()));
            }
        }
        named
    }

    /// A failed attempt for each record in `items` (with the error to report if it is its last): attempts
    /// + 1, then dead-lettered (attempts or age exhausted) or due after the delay, which is returned.
    fn fail(
        &mut self,
        items: &[(u32, &DeliveryError)],
        status: Option<u16>,
        outcome: &HttpOutcome,
        now_ms: u64,
        jitter: f64,
    ) -> u64 {
        let mut most_attempts = 0u16;
        for &(pos, _) in items {
            if let Some(row) = self.live.get_mut(pos) {
                // A record sent early (the server had accepted a batch since its failure) that fails again
                // costs no attempt: its attempts are never spent faster than the backoff.
                if row.flags & flag::EARLY == 0 {
                    row.attempts = row.attempts.saturating_add(1);
                }
                row.flags &= !flag::EARLY;
                most_attempts = most_attempts.max(row.attempts);
            }
        }
        // One delay for the whole batch, so that it stays together. Equal jitter: the upper half of the
        // backoff window, so that a record's attempts are at least half a window apart, whichever tracker
        // or isolate makes them (full jitter could retry at once).
        let jitter = 0.5 + if jitter.is_nan() { 0.0 } else { jitter.clamp(0.0, 1.0) } / 2.0;
        let delay = retry::retry_delay_ms(&self.config.policy, u32::from(most_attempts), outcome, now_ms, jitter);
        let max_attempts = self.config.policy.max_attempts.clamp(1, u32::from(u16::MAX));
        for &(pos, error) in items {
            let Some(row) = self.live.get(pos) else { continue };
            let attempts = u32::from(row.attempts);
            let age_ms = now_ms.saturating_sub(row.created_ms);
            if attempts >= max_attempts {
                self.dead_letter(pos, now_ms, format!("gave up after {attempts} attempts: {error}"), status, Vec::new());
            } else if age_ms >= self.config.max_age_ms {
                let reason = format!("expired after {age_ms} ms in the queue (maxAgeMs {}): {error}", self.config.max_age_ms);
                self.dead_letter(pos, now_ms, reason, status, Vec::new());
            } else if let Some(row) = self.live.get_mut(pos) {
                row.due_ms = now_ms.saturating_add(delay);
                row.flags |= flag::FAILED;
                // The new attempt count goes to the store with the next put.
                self.live.mark_dirty(pos);
            }
        }
        self.due_cache = None;
        delay
    }

    /// The server accepted records: the outage (or rate limit) that made the others wait is over. Every
    /// record waiting for a retry is due now, marked [`flag::EARLY`] (a failure of that early send costs no
    /// attempt), and the retry pause ends. This is what lets one request after an outage deliver the
    /// backlog its predecessors left, although their retry times are stored.
    fn release_waiting(&mut self, now_ms: u64) {
        self.blocked_until_ms = self.blocked_until_ms.min(now_ms);
        for (_, row) in self.live.iter_mut() {
            if row.batch == 0 && row.due_ms > now_ms && row.attempts > 0 {
                row.due_ms = now_ms;
                row.flags |= flag::EARLY;
            }
        }
        self.due_cache = None;
    }

    /// A reply for a batch whose lease expired: definitive per-record answers only.
    fn late_reply(&mut self, outcome: &HttpOutcome, now_ms: u64) {
        let HttpOutcome::Response { status, body, .. } = outcome else { return };
        if retry::classify_status(*status) != OutcomeClass::Success {
            return;
        }
        let Ok(reply) = response::parse_track_reply(body) else { return };
        for result in &reply.results {
            let Some(pos) = result.response_id.as_deref().and_then(|id| self.live.find(id)) else { continue };
            // An unknown verdict is left alone: the record is being sent again anyway.
            let _ = self.settle_result(pos, result, *status, now_ms);
        }
    }

    /// Applies a definitive per-record result: accepted → delivered, rejected → dead-lettered with the
    /// server's messages. An unknown verdict changes nothing and comes back as the error to retry with.
    fn settle_result(&mut self, pos: u32, result: &ServerResult, status: u16, now_ms: u64) -> Option<DeliveryError> {
        match response::verdict(result) {
            ResultVerdict::Accepted(_) => self.deliver(pos),
            ResultVerdict::Rejected => {
                let errors = result.errors.clone();
                let reason = DeliveryError::Rejected { errors: errors.clone() }.to_string();
                self.dead_letter(pos, now_ms, reason, Some(status), errors);
            }
            ResultVerdict::Unknown(error) => return Some(error),
        }
        None
    }
}
