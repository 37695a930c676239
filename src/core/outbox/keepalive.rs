//! A page going away (`pagehide`): what its one `keepalive` request carries, and what must reach the store in
//! the same task, so that nothing is lost and nothing is sent twice.
//!
//! A page that unloads runs its `pagehide` handler and the microtasks right after it, and then nothing: a
//! drain waiting for a lock or a store read never resumes, the reply to a request never arrives, and a store
//! write started any later is not committed. So [`Outbox::farewell`] decides everything at once, from memory,
//! whatever else is running (a drain may be waiting for the lock or have a batch in flight):
//!
//! - **send**: the records that are due, oldest first, that fit in one body of at most
//!   [`KEEPALIVE_MAX_BODY_BYTES`] (browsers give all `keepalive` requests of a page 64 KiB together; a record
//!   that does not fit stays for the next page). Never a record in a batch already in flight (that drain's
//!   request carries it), nothing during a retry pause (a server's `Retry-After` or a backoff), at most
//!   `max_batch_size` records.
//! - **lease**: the records sent are not due again before `now + lease_ms`, in this page (a drain running or
//!   started meanwhile skips them) and in the next one, which reads the lease from the store (the record's
//!   `"due"`, as for a backoff; capped at the longest backoff from now like any stored retry time): a page loaded
//!   while the keepalive request may still be landing does not send those records again. Once the lease is
//!   over they are sent again (the request may have been lost with the page; the service keeps one record per
//!   `response_id`, so a late resend costs a request, never a double count).
//! - **put**: one store write, to start in the same task as the send: the records sent, with their lease
//!   (as their `"due"`), and every record and dead letter whose store write has not succeeded
//!   yet (a write started before the page began to unload may be cut by it).
//!
//! If the page lives to see the reply (it was kept in the back/forward cache, or was not going away at all),
//! report it with [`Outbox::handle_farewell_reply`]: it is honoured like a late reply (accepted records are
//! delivered and deleted, rejected ones dead-lettered, anything else leaves them leased until the lease ends).

use super::entry::flag;
use crate::core::sort::sort_by;
use super::stored::{self, KeyKind};
use super::send::BodyFit;
use super::store_ops::confirm_or_rewrite;
use super::{BatchId, FlushReport, Outbox, MAX_EXPIRED};

/// The most one `keepalive` request body may hold: browsers cap the bodies of a page's `keepalive` requests
/// in flight at 64 KiB together; this leaves room for the headers Chromium counts too.
pub const KEEPALIVE_MAX_BODY_BYTES: usize = 60 * 1024;

/// What a page going away does, all in the same task: see the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Farewell {
    /// The `keepalive` request to start now, if anything may be sent.
    pub send: Option<FarewellSend>,
    /// The store write to start now (`store.put`), then report with [`Outbox::handle_farewell_stored`].
    /// Empty when the store already holds everything as it should be.
    pub put: Vec<(String, String)>,
}

/// The one `keepalive` request of a [`Farewell`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FarewellSend {
    /// Report its outcome with [`Outbox::handle_farewell_reply`].
    pub id: BatchId,
    /// The `/track` body.
    pub body: String,
    /// How many records it carries.
    pub records: usize,
}


impl Outbox {
    /// A page is going away: picks what to send in one `keepalive` request and what to write to the store,
    /// both to be started before the caller returns to the event loop (see the module docs). Changes no
    /// flush in progress; the records sent are leased, not in flight.
    pub fn farewell(&mut self, now_ms: u64) -> Farewell {
        let lease_until_ms = now_ms.saturating_add(self.config.lease_ms);
        let (send, leased) = match self.farewell_batch(now_ms, lease_until_ms) {
            Some((send, positions)) => (Some(send), positions),
            None => (None, Vec::new()),
        };
        let ns = self.config.namespace.as_str();
        let mut put = Vec::new();
        let mut written: Vec<u32> = Vec::new();
        for (pos, row) in self.live.iter() {
            if leased.binary_search(&pos).is_ok() {
                put.push((stored::key(ns, KeyKind::Queued, row.rec.id()), stored::write_leased(row)));
            } else if row.flags & flag::CONFIRMED == 0 {
                put.push((stored::key(ns, KeyKind::Queued, row.rec.id()), stored::write_queued(row)));
            } else {
                continue;
            }
            written.push(pos);
        }
        let mut dead_written: Vec<u32> = Vec::new();
        for (pos, row) in self.dead.iter() {
            if row.flags & flag::CONFIRMED == 0 {
                put.push((stored::key(ns, KeyKind::Dead, row.rec.id()), stored::write_dead(row)));
                dead_written.push(pos);
            }
        }
        // This write carries the rows' newest values: no other put needs to (a failure makes them dirty again).
        for pos in written {
            if let Some(row) = self.live.get_mut(pos) {
                row.flags = (row.flags & !flag::DIRTY) | flag::WRITTEN;
            }
        }
        for pos in dead_written {
            if let Some(row) = self.dead.get_mut(pos) {
                row.flags = (row.flags & !flag::DIRTY) | flag::WRITTEN;
            }
        }
        // A key written again is no longer a tombstone: the next listing must see it.
        if !put.is_empty() && !self.store.recently_deleted.is_empty() {
            let mut keys: Vec<&String> = put.iter().map(|(k, _)| k).collect();
            sort_by(&mut keys, |a, b| a < b);
            self.store.recently_deleted.retain(|k| keys.binary_search(&k).is_err());
        }
        Farewell { send, put }
    }

    /// The rows a farewell sends, leased until `lease_until_ms`, and its body; `None` when nothing may go.
    fn farewell_batch(&mut self, now_ms: u64, lease_until_ms: u64) -> Option<(FarewellSend, Vec<u32>)> {
        if self.blocked_until_ms > now_ms {
            return None;
        }
        let limit = self.config.max_batch_size.max(1);
        let max_bytes = KEEPALIVE_MAX_BODY_BYTES.min(self.config.max_batch_bytes);
        let (positions, body_len) = self.pick_due(now_ms, limit, max_bytes, BodyFit::NeverOverSkipping);
        if positions.is_empty() {
            return None;
        }
        self.next_batch = self.next_batch.wrapping_add(1).max(1);
        let id = BatchId(self.next_batch);
        let body = self.body_of(&positions, body_len, |row| row.due_ms = lease_until_ms);
        self.due_cache = None;
        // Not in flight (no drain waits for it): a reply, if one comes, is honoured as a late one.
        if self.expired.len() >= MAX_EXPIRED {
            self.expired.remove(0);
        }
        self.expired.push((id, positions.clone()));
        Some((FarewellSend { id, body, records: positions.len() }, positions))
    }

    /// Reports the result of a [`Farewell`]'s `put` (pass the entries it gave). `Ok`: the store holds them.
    /// `Err`: they are written again with the next store operation (without a lease).
    pub fn handle_farewell_stored(&mut self, put: &[(String, String)], result: Result<(), String>) {
        let ok = result.is_ok();
        let ns = self.config.namespace.clone();
        for (key, _) in put {
            match stored::split_key(&ns, key) {
                Some((KeyKind::Queued, id)) => {
                    if let Some(pos) = self.live.find(id) {
                        confirm_or_rewrite(&mut self.live, pos, ok);
                    }
                }
                Some((KeyKind::Dead, id)) => {
                    if let Some(pos) = self.dead.find(id) {
                        confirm_or_rewrite(&mut self.dead, pos, ok);
                    }
                }
                None => {}
            }
        }
        if !ok {
            self.store.parked = false;
        }
    }

    /// Reports the outcome of a farewell's `keepalive` request (the page lived to see it) and returns the
    /// report of that flush: `sent` and `dead_lettered` among its records, `retry_later` for the others (they
    /// wait out their lease), `remaining` as ever. Then drain the store polls.
    pub fn handle_farewell_reply(
        &mut self,
        send: &FarewellSend,
        outcome: crate::core::retry::HttpOutcome,
        now_ms: u64,
        jitter: f64,
    ) -> FlushReport {
        let (sent_before, dead_before) = (self.sent_total, self.dead.live());
        // Its records count in this report, not in that of a drain running meanwhile.
        let drain_counts = self.flush.as_ref().map(|f| (f.sent, f.dead_lettered));
        self.handle_response(send.id, outcome, now_ms, jitter);
        if let (Some(flush), Some((sent, dead_lettered))) = (&mut self.flush, drain_counts) {
            (flush.sent, flush.dead_lettered) = (sent, dead_lettered);
        }
        let sent = self.sent_total.saturating_sub(sent_before);
        let dead_lettered = self.dead.live().saturating_sub(dead_before);
        FlushReport {
            sent,
            dead_lettered,
            retry_later: send.records.saturating_sub(sent + dead_lettered),
            remaining: self.live.live(),
        }
    }
}
