//! Flushes: choosing the next batch, waiting, leases, and the flush report.

use super::entry::{flag, Live};
use super::{BatchId, Flush, FlushReport, InFlight, Outbox, SendOutput, MAX_EXPIRED};

/// `{"tracked":[`
const BODY_OPEN: &str = "{\"tracked\":[";
/// `]}`
const BODY_CLOSE: &str = "]}";

/// What [`Outbox::pick_due`] does with a record that would make the body too large.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum BodyFit {
    /// A drain's batch: the oldest due record goes even alone over the limit (the server says 413 if it must);
    /// after it, the batch ends at the first record that does not fit, so records go in order.
    OldestAlwaysThenStop,
    /// A `keepalive` body: never over the limit (a browser refuses it); a record that does not fit is
    /// skipped and waits for the next page.
    NeverOverSkipping,
}

impl Outbox {
    /// Starts a drain that may send until `deadline_ms`. Resets the flush counters (sent, dead-lettered,
    /// retry later) and the batch size (413s halve it for one flush only). A flush already running is
    /// restarted with the new deadline. Then drain [`Outbox::poll_send`].
    pub fn begin_flush(&mut self, now_ms: u64, deadline_ms: u64) {
        self.begin_flush_within(now_ms, deadline_ms, self.config.max_batch_bytes);
    }

    /// [`Outbox::begin_flush`] with request bodies of at most `max_batch_bytes` for this flush (a record
    /// larger than that still goes alone): for a page that is going away, whose `keepalive` requests share a
    /// 64 KiB budget.
    pub fn begin_flush_within(&mut self, now_ms: u64, deadline_ms: u64, max_batch_bytes: usize) {
        self.expire_lease(now_ms);
        let max_batch_bytes = max_batch_bytes.min(self.config.max_batch_bytes);
        self.flush = Some(Flush { deadline_ms, max_batch_bytes, sent: 0, dead_lettered: 0 });
        self.batch_limit = self.config.max_batch_size.max(1);
        for (_, row) in self.live.iter_mut() {
            row.flags &= !flag::FAILED;
        }
        // A drain is the moment to retry store operations that failed.
        self.store.parked = false;
    }

    /// What to do next about sending, at `now_ms`. See [`SendOutput`]; call it after every change and after
    /// every `Wait` elapsed. Outside a flush: `Done` with zeros.
    ///
    /// During a flush: `AwaitResponse` while a batch is in flight (until its lease expires; then its
    /// records are due again and this may send them); `Send` when records are due (oldest first, at most
    /// the batch size and `max_batch_bytes`) and the server is not in a retry pause; `Wait` when the next
    /// record is due before the deadline; otherwise `Done` with the report, which ends the flush.
    pub fn poll_send(&mut self, now_ms: u64) -> SendOutput {
        self.expire_lease(now_ms);
        let Some(deadline_ms) = self.flush.as_ref().map(|f| f.deadline_ms) else {
            return SendOutput::Done(FlushReport::default());
        };
        if let Some(flight) = &self.in_flight {
            return SendOutput::AwaitResponse { id: flight.id };
        }
        if now_ms >= deadline_ms {
            return self.finish_flush();
        }
        let Some(due_ms) = self.earliest_due() else {
            return self.finish_flush();
        };
        let ready_ms = due_ms.max(self.blocked_until_ms);
        if ready_ms > now_ms {
            return if ready_ms < deadline_ms { SendOutput::Wait { until_ms: ready_ms } } else { self.finish_flush() };
        }
        match self.start_batch(now_ms) {
            Some(send) => send,
            None => self.finish_flush(),
        }
    }

    /// The earliest `due_ms` of the rows not in flight.
    fn earliest_due(&mut self) -> Option<u64> {
        if let Some(cached) = self.due_cache {
            return cached;
        }
        let due = self.live.iter().filter(|(_, r)| r.batch == 0).map(|(_, r)| r.due_ms).min();
        self.due_cache = Some(due);
        due
    }

    /// The due rows not in a batch, oldest first, at most `limit` of them and fitting `max_bytes` as `fit`
    /// says, with the length of their body.
    pub(super) fn pick_due(&self, now_ms: u64, limit: usize, max_bytes: usize, fit: BodyFit) -> (Vec<u32>, usize) {
        let mut positions = Vec::new();
        let mut body_len = BODY_OPEN.len() + BODY_CLOSE.len();
        for (pos, row) in self.live.iter() {
            if positions.len() >= limit {
                break;
            }
            if row.batch != 0 || row.due_ms > now_ms {
                continue;
            }
            let added = row.rec.json_len() + usize::from(!positions.is_empty());
            if body_len.saturating_add(added) > max_bytes {
                match fit {
                    BodyFit::OldestAlwaysThenStop if positions.is_empty() => {}
                    BodyFit::OldestAlwaysThenStop => break,
                    BodyFit::NeverOverSkipping => continue,
                }
            }
            body_len = body_len.saturating_add(added);
            positions.push(pos);
        }
        (positions, body_len)
    }

    /// The `/track` body of the rows at `positions` (`body_len` long, from [`Outbox::pick_due`]), calling
    /// `mark` on each row it takes.
    pub(super) fn body_of(&mut self, positions: &[u32], body_len: usize, mut mark: impl FnMut(&mut Live)) -> String {
        let mut body = String::with_capacity(body_len);
        body.push_str(BODY_OPEN);
        for &pos in positions {
            if let Some(row) = self.live.get_mut(pos) {
                if body.len() > BODY_OPEN.len() {
                    body.push(',');
                }
                body.push_str(row.rec.json());
                mark(row);
            }
        }
        body.push_str(BODY_CLOSE);
        body
    }

    /// Picks the due rows, oldest first, builds the body and puts them in flight under a lease.
    fn start_batch(&mut self, now_ms: u64) -> Option<SendOutput> {
        let limit = self.batch_limit.max(1);
        let max_bytes = self.flush.as_ref().map_or(self.config.max_batch_bytes, |f| f.max_batch_bytes);
        // The oldest due record always goes, alone if it must; after it, stop at the first that does not fit.
        let (positions, body_len) = self.pick_due(now_ms, limit, max_bytes, BodyFit::OldestAlwaysThenStop);
        if positions.is_empty() {
            self.due_cache = None;
            return None;
        }
        self.next_batch = self.next_batch.wrapping_add(1).max(1);
        let id = BatchId(self.next_batch);
        let lease_until_ms = now_ms.saturating_add(self.config.lease_ms);
        let body = self.body_of(&positions, body_len, |row| {
            row.batch = id.0;
            row.due_ms = lease_until_ms;
        });
        self.in_flight_records += positions.len();
        self.due_cache = None;
        self.in_flight = Some(InFlight { id, positions, lease_until_ms });
        Some(SendOutput::Send { id, body })
    }

    /// Takes the rows of `positions` still carried by batch `id` out of it, due at `due_ms`; returns them.
    pub(super) fn release(&mut self, positions: &[u32], id: BatchId, due_ms: u64) -> Vec<u32> {
        let mut members = Vec::with_capacity(positions.len());
        for &pos in positions {
            if let Some(row) = self.live.get_mut(pos) {
                if row.batch == id.0 {
                    row.batch = 0;
                    row.due_ms = due_ms;
                    members.push(pos);
                }
            }
        }
        self.in_flight_records = self.in_flight_records.saturating_sub(members.len());
        self.due_cache = None;
        members
    }

    /// A batch in flight past its lease: its records are due now; a late reply is still honoured.
    fn expire_lease(&mut self, now_ms: u64) {
        let Some(flight) = self.in_flight.take_if(|f| now_ms >= f.lease_until_ms) else { return };
        self.release(&flight.positions, flight.id, now_ms);
        if self.expired.len() >= MAX_EXPIRED {
            self.expired.remove(0);
        }
        self.expired.push((flight.id, flight.positions));
    }

    /// The report of a flush that sent nothing (it never got the drain lock in time, or a `keepalive`
    /// flush had nothing to send): zero counts, everything queued or in flight `remaining`.
    pub fn unsent_report(&self) -> FlushReport {
        FlushReport { remaining: self.live.live(), ..FlushReport::default() }
    }

    fn finish_flush(&mut self) -> SendOutput {
        let Some(flush) = self.flush.take() else {
            return SendOutput::Done(FlushReport::default());
        };
        let retry_later = self.live.iter().filter(|(_, r)| r.flags & flag::FAILED != 0).count();
        SendOutput::Done(FlushReport {
            sent: flush.sent,
            dead_lettered: flush.dead_lettered,
            retry_later,
            remaining: self.live.live(),
        })
    }
}

/// The timeout of one HTTP attempt that a flush starts with `remaining_ms` left before its deadline: the
/// tracker's `timeoutMs`, cut at the deadline (so a flush ends on time), and at least 1 ms (0 would not
/// bound the request at all in some runtimes).
pub fn attempt_timeout_ms(timeout_ms: u64, remaining_ms: u64) -> u64 {
    timeout_ms.min(remaining_ms).max(1)
}
