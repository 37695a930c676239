//! Acting on what an HTTP outcome means for each record of the batch it answers. What it means is
//! [`reply::interpret`]'s verdict (the one reply contract, shared with immediate delivery); this only acts on it.

use super::entry::flag;
use super::{BatchId, InFlight, Outbox};
use crate::core::delivery::reply::{self, RecordVerdict, RetryTiming, Spread, Verdict};
use crate::core::error::DeliveryError;
use crate::core::retry::HttpOutcome;

/// The reason a record dead-lettered as [`RecordVerdict::Unconfirmed`] carries.
fn unconfirmed_reason(status: u16, error: &DeliveryError) -> String {
    format!("not confirmed: the server took the request (HTTP {status}) and may hold the record: {error}")
}

impl Outbox {
    /// Reports the HTTP outcome of batch `id` (from [`super::SendOutput::Send`]). `now_ms` is when it
    /// arrived (delays count from it); `jitter` is a uniform draw in `[0, 1)`, used if a backoff is needed.
    ///
    /// The batch in flight: every record gets its outcome (see the module docs). A batch whose lease
    /// expired: only definitive per-record verdicts count (its accepted records are delivered, its rejected
    /// ones dead-lettered, wherever they are now); anything else is ignored, as are unknown ids.
    pub fn handle_response(&mut self, id: BatchId, outcome: HttpOutcome, now_ms: u64, jitter: f64) {
        match self.in_flight.take() {
            Some(flight) if flight.id == id => self.resolve(flight, &outcome, now_ms, jitter),
            other => {
                self.in_flight = other;
                if let Some(i) = self.expired.iter().position(|(e, _)| *e == id) {
                    let (_, positions) = self.expired.remove(i);
                    self.late_reply(&positions, &outcome, now_ms);
                }
            }
        }
        self.compact();
    }

    /// The verdict on the body whose rows are `slots` (a row gone since is `None`).
    fn verdict(&self, slots: &[Option<u32>], outcome: &HttpOutcome, failed_attempt: u32, now_ms: u64, jitter: f64) -> Verdict {
        let body: Vec<Option<&str>> = slots.iter().map(|slot| slot.and_then(|p| self.live.get(p)).map(|r| r.rec.id())).collect();
        let timing = RetryTiming { policy: self.config.policy, failed_attempt, now_ms, jitter, spread: Spread::UpperHalf };
        reply::interpret(outcome, &body, &timing)
    }

    fn resolve(&mut self, flight: InFlight, outcome: &HttpOutcome, now_ms: u64, jitter: f64) {
        // The rows still carried by this batch, in body order.
        let slots: Vec<Option<u32>> = flight
            .positions
            .iter()
            .map(|&p| self.live.get(p).filter(|r| r.batch == flight.id.0).map(|_| p))
            .collect();
        // Every member is due now unless its verdict says otherwise.
        let members = self.release(&flight.positions, flight.id, now_ms);
        let verdict = self.verdict(&slots, outcome, self.attempt_if_failed(&members), now_ms, jitter);
        match verdict {
            Verdict::PerRecord { status, records, .. } => {
                let sent_before = self.sent_total;
                for (slot, record) in slots.iter().zip(records) {
                    let Some(pos) = *slot else { continue };
                    // Unconfirmed: never resent blindly, the server took the request (see the module docs).
                    // Resend: due now, with no attempt counted.
                    if let Some(RecordVerdict::Unconfirmed { error }) = self.apply_definitive(pos, record, status, now_ms) {
                        self.dead_letter(pos, now_ms, unconfirmed_reason(status, &error), Some(status), Vec::new());
                    }
                }
                if self.sent_total > sent_before {
                    self.release_waiting(now_ms);
                }
            }
            // Its records are due now, no attempt counted; smaller batches for the rest of the flush.
            Verdict::Split { max_records } => self.batch_limit = self.batch_limit.min(max_records.max(1)),
            Verdict::RetryAt { at_ms, error, .. } => {
                let status = match outcome {
                    HttpOutcome::Response { status, .. } => Some(*status),
                    HttpOutcome::Network { .. } | HttpOutcome::Timeout { .. } => None,
                };
                self.fail(&members, &error, status, at_ms, now_ms);
                self.blocked_until_ms = self.blocked_until_ms.max(at_ms);
            }
            Verdict::GiveUp { status, error } => {
                let reason = error.to_string();
                for &pos in &members {
                    self.dead_letter(pos, now_ms, reason.clone(), status, Vec::new());
                }
            }
        }
    }

    /// The highest attempt count among `members` once this attempt fails (a record sent early costs none):
    /// the batch's backoff window.
    fn attempt_if_failed(&self, members: &[u32]) -> u32 {
        members
            .iter()
            .filter_map(|&p| self.live.get(p))
            .map(|r| if r.flags & flag::EARLY == 0 { r.attempts.saturating_add(1) } else { r.attempts })
            .max()
            .map_or(0, u32::from)
    }

    /// A failed attempt for each of `members`: attempts + 1, then dead-lettered with `error` once older than
    /// `max_age_ms` (never for its attempts alone) or due at `at_ms` (one time for the whole batch, so that it stays together).
    fn fail(&mut self, members: &[u32], error: &DeliveryError, status: Option<u16>, at_ms: u64, now_ms: u64) {
        for &pos in members {
            if let Some(row) = self.live.get_mut(pos) {
                // A record sent early (the server had accepted a batch since its failure) that fails again
                // costs no attempt: its attempts are never spent faster than the backoff.
                if row.flags & flag::EARLY == 0 {
                    row.attempts = row.attempts.saturating_add(1);
                }
                row.flags &= !flag::EARLY;
            }
        }
        for &pos in members {
            let Some(row) = self.live.get(pos) else { continue };
            let attempts = u32::from(row.attempts);
            let age_ms = now_ms.saturating_sub(row.created_ms);
            // A retryable failure (an outage, a rate limit) is the server's state, not the record's: the
            // queue keeps retrying at the capped backoff and gives up by age alone, never by attempts.
            if age_ms >= self.config.max_age_ms {
                let reason = format!(
                    "expired after {age_ms} ms in the queue (maxAgeMs {}, {attempts} attempts): {error}",
                    self.config.max_age_ms
                );
                self.dead_letter(pos, now_ms, reason, status, Vec::new());
            } else if let Some(row) = self.live.get_mut(pos) {
                row.due_ms = at_ms;
                row.flags |= flag::FAILED;
                // The new attempt count goes to the store with the next put.
                self.live.mark_dirty(pos);
            }
        }
        self.due_cache = None;
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

    /// A reply for a batch whose lease expired (or a farewell's), whose rows were `positions`: definitive
    /// per-record verdicts only, for its records wherever they are now. Anything else changes nothing: they
    /// are being sent again anyway.
    fn late_reply(&mut self, positions: &[u32], outcome: &HttpOutcome, now_ms: u64) {
        let slots: Vec<Option<u32>> = positions.iter().map(|&p| self.live.get(p).map(|_| p)).collect();
        let Verdict::PerRecord { status, records, .. } = self.verdict(&slots, outcome, 1, now_ms, 0.0) else { return };
        for (slot, record) in slots.iter().zip(records) {
            let Some(pos) = *slot else { continue };
            // Unconfirmed or to be resent: the record is being sent again anyway.
            let _ = self.apply_definitive(pos, record, status, now_ms);
        }
    }

    /// Applies a definitive per-record verdict (accepted: delivered; rejected: a dead letter with the
    /// server's errors) and hands back any other (unconfirmed, resend) for the caller to decide.
    fn apply_definitive(&mut self, pos: u32, record: RecordVerdict, status: u16, now_ms: u64) -> Option<RecordVerdict> {
        match record {
            RecordVerdict::Accepted { .. } => self.deliver(pos),
            RecordVerdict::Rejected { errors } => {
                let reason = DeliveryError::Rejected { errors: errors.clone() }.to_string();
                self.dead_letter(pos, now_ms, reason, Some(status), errors);
            }
            other => return Some(other),
        }
        None
    }
}
