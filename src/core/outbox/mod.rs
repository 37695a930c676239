//! The persistent outbox for `deliveryType: "persistent_queue"`: records queued in memory and in a store,
//! drained by flushes, retried, dead-lettered, never silently dropped.
//!
//! It performs no I/O, reads no clock and draws no random numbers. It decides what to write to the store,
//! what to send and when, and what every reply means for every record; the caller (the wasm bindings)
//! performs the store operations and the `fetch`es, keeps time, and reports back.
//!
//! # Drive loop
//!
//! **After every call that changes the outbox (`enqueue`, `handle_*`, `begin_flush`, `requeue_*`,
//! `purge_*`), drain both polls: [`Outbox::poll_store`] until `None`, and (during a flush)
//! [`Outbox::poll_send`] until it asks you to wait.**
//!
//! - Start: `store.list(namespace)` → [`Outbox::handle_listed`] (records an earlier isolate or page left are
//!   adopted, due at the retry time stored with them).
//! - `track()`: [`Outbox::enqueue`], then `poll_store`: every record enqueued in the same tick goes out in
//!   one [`StoreOpKind::Put`].
//! - `poll_store` → [`StoreOp`]: run it (`store.put` / `store.delete`), then [`Outbox::handle_stored`] with
//!   its result, then poll again. At most one is outstanding: `None` meanwhile.
//! - `flush()`: `store.list` → `handle_listed`, then [`Outbox::begin_flush`]`(now, deadline)`, then
//!   `poll_send(now)` until [`SendOutput::Done`]:
//!   - [`SendOutput::Send`]: POST the body to `/track` (with the HTTP timeout), read the whole reply, report it
//!     with [`Outbox::handle_response`]`(id, outcome, now, jitter)` (`jitter`: a uniform draw in `[0, 1)`);
//!   - [`SendOutput::Wait`]: sleep until `until_ms`, then poll again;
//!   - [`SendOutput::AwaitResponse`]: a send is outstanding (an extra poll; harmless);
//!   - [`SendOutput::Done`]: the flush report. Then let outstanding store ops finish before resolving, so
//!     that delivered records are deleted from the store.
//! - A page going away (`pagehide`): [`Outbox::farewell`]`(now)`, whatever else runs, and start both its
//!   `keepalive` request and its store `put` before returning to the event loop; report them with
//!   [`Outbox::handle_farewell_stored`] and [`Outbox::handle_farewell_reply`] if the page lives to see them.
//!
//! ```
//! use std::collections::BTreeMap;
//! use aicostmanager_edge::core::batch::EncodedRecord;
//! use aicostmanager_edge::core::fingerprint::namespace;
//! use aicostmanager_edge::core::json;
//! use aicostmanager_edge::core::outbox::{Outbox, OutboxConfig, SendOutput, StoreOpKind};
//! use aicostmanager_edge::core::retry::HttpOutcome;
//! use aicostmanager_edge::core::value::Value;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Stand-ins for what the bindings provide: a store, a clock, and a server that accepts everything.
//! let mut store: BTreeMap<String, String> = BTreeMap::new();
//! let mut now_ms = 1_700_000_000_000u64;
//! let fetch = |body: &str| {
//!     let sent = json::parse(body).unwrap_or(Value::Null);
//!     let results: Vec<String> = sent.get("tracked").and_then(Value::as_array).unwrap_or(&[]).iter()
//!         .map(|r| format!(r#"{{"response_id":"{}","status":"queued"}}"#, r.get("response_id").and_then(Value::as_str).unwrap_or("")))
//!         .collect();
//!     HttpOutcome::Response { status: 202, retry_after: None, body: format!(r#"{{"results":[{}]}}"#, results.join(",")) }
//! };
//! fn run_store_ops(outbox: &mut Outbox, store: &mut BTreeMap<String, String>) {
//!     while let Some(op) = outbox.poll_store() {
//!         match op.kind {
//!             StoreOpKind::Put(entries) => store.extend(entries),
//!             StoreOpKind::Delete(keys) => keys.iter().for_each(|k| { store.remove(k); }),
//!         }
//!         outbox.handle_stored(op.id, Ok(()));
//!     }
//! }
//! let listing = |store: &BTreeMap<String, String>| store.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
//!
//! let config = OutboxConfig::new(namespace("https://aicostmanager.com", "/api/v1", "sk-..."));
//! let mut outbox = Outbox::new(config);
//! outbox.handle_listed(listing(&store), now_ms, true);
//!
//! // track(): enqueue, and persist in the same tick.
//! let record = EncodedRecord { response_id: "abc".into(), json: r#"{"response_id":"abc"}"#.into() };
//! outbox.enqueue(record, now_ms)?; // E_QUEUE_FULL when full: nothing was added
//! run_store_ops(&mut outbox, &mut store);
//! assert_eq!(store.len(), 1);
//!
//! // flush(): list, then send until done.
//! outbox.handle_listed(listing(&store), now_ms, true);
//! outbox.begin_flush(now_ms, now_ms + 30_000);
//! let report = loop {
//!     match outbox.poll_send(now_ms) {
//!         SendOutput::Send { id, body } => {
//!             let outcome = fetch(&body);
//!             outbox.handle_response(id, outcome, now_ms, 0.5);
//!             run_store_ops(&mut outbox, &mut store);
//!         }
//!         SendOutput::Wait { until_ms } => now_ms = until_ms,
//!         // A send still unanswered (not here: every send is answered before polling again): wait; once
//!         // its lease expires its records are due again.
//!         SendOutput::AwaitResponse { .. } => now_ms += 1_000,
//!         SendOutput::Done(report) => break report,
//!     }
//! };
//! assert_eq!((report.sent, report.remaining), (1, 0));
//! assert!(store.is_empty(), "delivered records are deleted from the store");
//! # Ok(())
//! # }
//! ```
//!
//! # Semantics
//!
//! - **Order**: oldest first: enqueue order; records adopted from the store by their `created` time.
//! - **Bounds** (one rule): `max_queue_size` records and `max_queue_bytes` bytes bound everything the outbox
//!   holds: queued, in flight **and dead letters**. Only a new record can be refused: a full outbox refuses
//!   [`Outbox::enqueue`] with [`TrackError::QueueFull`] and changes nothing (flush, or requeue or purge dead
//!   letters, then track again). Nothing already held is ever dropped: dead-lettering and
//!   [`Outbox::requeue_dead_letters`] move a record within the bound (requeueing never needs room, so it
//!   always requeues every dead letter asked for); records adopted from the store are all adopted even when
//!   they exceed the bound (a backlog another tracker left, or a tracker with a smaller bound): the outbox is
//!   then over its bound and refuses new records until deliveries, purges or dead letters' purges bring it
//!   under. [`Outbox::room`] says how much a new batch may add.
//! - **Dedupe**: a `response_id` already queued, in flight or dead-lettered is kept once.
//! - **What a reply means** is decided by [`crate::core::delivery::reply::interpret`], the one reply
//!   contract shared with immediate delivery (see that module for the table); the outbox acts on its verdict.
//! - **2xx** with results matched by `response_id` (by position only for an unnamed result when the reply
//!   has one result per record sent): `queued`, `completed`, `service_key_unknown` (or `cost_events` without
//!   a status) → delivered and deleted; `error` (or errors without a status) → that record alone is
//!   dead-lettered with the server's errors; no result, or an unknown status → **not confirmed**: the
//!   server took the request and may hold the record, so it is not resent blindly but dead-lettered
//!   ("not confirmed: the server took the request (HTTP 202) and may hold the record: ..."), whence a
//!   requeue sends it again under the same `response_id`.
//! - **2xx that cannot be read** → every record of the batch is not confirmed, likewise (never retried: a
//!   proxy answering 200 with an HTML page would otherwise spend every attempt; nothing vanishes either).
//! - **413**: a batch of n > 1 makes n / 2 the batch size for the rest of the flush and its records are due
//!   at once, no attempt counted; a single record is dead-lettered as too large. (Immediate delivery follows
//!   the same rule for the rest of its call.)
//! - **422** naming some records (with errors) → those are dead-lettered, the rest due at once, no attempt
//!   counted; naming none → the whole batch is dead-lettered with the status and a body excerpt. **Other
//!   non-retryable statuses** (400, 401, 403, 404, ...) → the whole batch is dead-lettered likewise.
//! - **Retryable** (network, timeout, 408, 429, 5xx): every record's attempts + 1; at `max_attempts`, or
//!   once older than `max_age_ms`, it is dead-lettered ("gave up after N attempts: ..." / "expired after
//!   ..."); else it is due after the server's `Retry-After` (capped) or an equal-jitter backoff on its
//!   attempts (`[w/2, w)` of the window `w`, so attempts are at least half a window apart), and **nothing
//!   else is sent to the server before then** (an outage or a 429 is the server's state, not the batch's).
//!   The new attempt count and the retry time are written back to the store, so that a tracker in another
//!   isolate keeps the backoff ([`Outbox::handle_listed`] adopts records due at their stored retry time and
//!   merges counts monotonically).
//! - **A success ends the outage**: when a 2xx delivers records, the records waiting for a retry are due at
//!   once (and the retry pause ends); if that early send fails, it costs them no attempt.
//! - **Redaction**: every dead letter's reason and errors pass through the config's
//!   [`crate::core::redact::Redactor`] before they are kept, listed or stored.
//! - **Leases**: a batch in flight for `lease_ms` is given up on: its records are due again. A late reply
//!   for it still counts (an ack is an ack; so is a per-record rejection); a late failure is ignored.
//! - **Store**: one operation at a time. Puts go before deletes, so a dead letter's `d/` key is written
//!   before its `q/` key is deleted. A failed operation is retried with the next one (which the next change
//!   or flush triggers, never a tight loop). Nothing leaves the store except delivered records, purged
//!   dead letters, requeued dead letters' `d/` keys, and `q/` keys of records that are dead letters.
//! - **Keepalive** ([`Outbox::farewell`], module `keepalive`): one body of due records not in flight, at
//!   most [`KEEPALIVE_MAX_BODY_BYTES`], nothing during a retry pause; the records sent are leased for
//!   `lease_ms`, in memory and in the store (as their `"due"`), so neither a drain running meanwhile nor the next
//!   page sends them again before the keepalive request had time to land; after that they are sent again.
//! - **Reconciliation** ([`Outbox::handle_listed`]): unknown `q/`/`d/` entries are adopted; an id both
//!   queued and dead-lettered is a dead letter; with `drop_missing`, records whose store write had
//!   succeeded but are gone from the store were finished by another tracker and are forgotten (a record
//!   still in the store is never forgotten for good: the next listing adopts it again).

mod config;
mod dead_letters;
mod entry;
mod handoff;
mod index;
mod keepalive;
mod listing;
mod output;
mod reply;
mod send;
mod store_ops;
mod store_timing;
mod stored;
mod table;

#[cfg(test)]
mod tests;

pub use config::{lease_ms, OutboxConfig, DEFAULT_MAX_AGE_MS, LEASE_MARGIN_MS};
pub use send::attempt_timeout_ms;
pub use listing::listing_may_forget;
pub use store_timing::{listed_entries_to_read, StoreTiming, FLUSH_STORE_MARGIN_MS};
pub use handoff::{record_of_text, TakenTexts};
pub use keepalive::{Farewell, FarewellSend, KEEPALIVE_MAX_BODY_BYTES};
pub use output::{BatchId, DeadLetter, FlushReport, OutboxStats, SendOutput, StoreOp, StoreOpId, StoreOpKind};

use crate::core::batch::EncodedRecord;
use crate::core::error::TrackError;
use entry::{flag, Dead, Live, RecordText};
use stored::KeyKind;
use table::Table;

/// The batch being sent.
#[derive(Debug)]
struct InFlight {
    id: BatchId,
    /// Rows in the body, in body order (`u32::MAX`: a row gone since).
    positions: Vec<u32>,
    lease_until_ms: u64,
}

/// The flush in progress.
#[derive(Debug)]
struct Flush {
    deadline_ms: u64,
    /// The largest body this flush may send (smaller than the config's for a page that is going away).
    max_batch_bytes: usize,
    sent: usize,
    dead_lettered: usize,
}

/// The store operation being performed.
#[derive(Debug)]
struct Outstanding {
    id: StoreOpId,
    /// A put (else a delete).
    put: bool,
    keys: Vec<String>,
}

/// Store bookkeeping that is not per record.
#[derive(Debug, Default)]
struct StoreState {
    next_id: u64,
    outstanding: Option<Outstanding>,
    /// Keys to delete with the next delete (duplicates allowed; keys that should exist are skipped then).
    pending_deletes: Vec<String>,
    /// Keys deleted since the last listing: a listing started before the delete may still show them.
    recently_deleted: Vec<String>,
    /// An operation failed and nothing new happened since: do not retry in a tight loop.
    parked: bool,
}

/// Most expired batches whose late replies are still honoured.
const MAX_EXPIRED: usize = 16;

/// The outbox of one tracker. See the module docs for the drive loop and the rules.
#[derive(Debug)]
pub struct Outbox {
    config: OutboxConfig,
    live: Table<Live>,
    dead: Table<Dead>,
    /// JSON bytes of the live rows.
    bytes: usize,
    /// JSON bytes of the dead letters (they count against `max_queue_bytes` too).
    dead_bytes: usize,
    /// Live rows with a batch.
    in_flight_records: usize,
    in_flight: Option<InFlight>,
    /// Batches whose lease expired (and farewell sends), newest last, with their rows in body order: a late
    /// reply is read against the body it answers.
    expired: Vec<(BatchId, Vec<u32>)>,
    next_batch: u32,
    /// Nothing is sent before this (a retryable failure's delay).
    blocked_until_ms: u64,
    /// Most records per body for the rest of the flush (halved by 413s).
    batch_limit: usize,
    flush: Option<Flush>,
    /// Cached earliest `due_ms` of the rows not in flight (`Some(None)`: there are none; `None`: unknown).
    due_cache: Option<Option<u64>>,
    store: StoreState,
    sent_total: usize,
    duplicates: usize,
    unreadable: usize,
}

impl Outbox {
    /// An empty outbox. Feed it the store's contents with [`Outbox::handle_listed`] before the first flush.
    pub fn new(config: OutboxConfig) -> Outbox {
        let batch_limit = config.max_batch_size.max(1);
        Outbox {
            config,
            live: Table::default(),
            dead: Table::default(),
            bytes: 0,
            dead_bytes: 0,
            in_flight_records: 0,
            in_flight: None,
            expired: Vec::new(),
            next_batch: 0,
            blocked_until_ms: 0,
            batch_limit,
            flush: None,
            due_cache: Some(None),
            store: StoreState::default(),
            sent_total: 0,
            duplicates: 0,
            unreadable: 0,
        }
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &OutboxConfig {
        &self.config
    }

    /// Counts for `tracker.stats()`. Cheap, but walks the rows once (for `unsaved`).
    pub fn stats(&self) -> OutboxStats {
        let unconfirmed = |flags: u8| flags & flag::CONFIRMED == 0;
        let unsaved = self.live.iter().filter(|(_, r)| unconfirmed(r.flags)).count()
            + self.dead.iter().filter(|(_, r)| unconfirmed(r.flags)).count();
        OutboxStats {
            queued: self.live.live() - self.in_flight_records,
            in_flight: self.in_flight_records,
            sent: self.sent_total,
            dead_lettered: self.dead.live(),
            dropped: 0,
            bytes: self.bytes,
            dead_bytes: self.dead_bytes,
            unreadable: self.unreadable,
            duplicates: self.duplicates,
            unsaved,
            next_due_ms: self.next_due_ms(),
        }
    }

    /// An estimate of the heap this outbox holds for its records (rows, indexes, record texts, dead
    /// letters' reasons), for memory benchmarks. Transient buffers of an outstanding operation are not
    /// counted.
    pub fn heap_bytes(&self) -> usize {
        let live: usize = self.live.iter().map(|(_, r)| r.rec.heap_bytes()).sum();
        let dead: usize = self
            .dead
            .iter()
            .map(|(_, r)| r.rec.heap_bytes() + r.reason.capacity() + r.errors.iter().map(String::capacity).sum::<usize>())
            .sum();
        self.live.heap_bytes() + self.dead.heap_bytes() + live + dead
    }

    /// True when a record with this `response_id` is queued, in flight or dead-lettered: enqueueing it again
    /// is a duplicate, kept once, and takes no room.
    pub fn holds(&self, response_id: &str) -> bool {
        self.live.find(response_id).is_some() || self.dead.find(response_id).is_some()
    }

    /// Adds a record (already validated, anonymized and encoded), due now; its store write goes out with
    /// the next [`Outbox::poll_store`].
    ///
    /// A `response_id` already queued, in flight or dead-lettered: nothing changes, `Ok` (counted in
    /// `duplicates`). A full outbox (`max_queue_size` records or `max_queue_bytes` bytes would be exceeded):
    /// `Err(TrackError::QueueFull)` and nothing changes; flush and try again.
    pub fn enqueue(&mut self, record: EncodedRecord, now_ms: u64) -> Result<(), TrackError> {
        let EncodedRecord { response_id, json } = record;
        if self.holds(&response_id) {
            self.duplicates += 1;
            return Ok(());
        }
        let (room_records, room_bytes) = self.room();
        let len = json.len();
        if room_records == 0 || len > room_bytes {
            return Err(self.full_error());
        }
        let rec = RecordText::new(json, &response_id)
            .ok_or_else(|| TrackError::InvalidResponseId { reason: "longer than 65,535 bytes".to_owned() })?;
        let row = Live { rec, created_ms: now_ms, due_ms: now_ms, batch: 0, attempts: 0, flags: flag::DIRTY };
        if self.live.push(row).is_ok() {
            self.bytes += len;
            self.note_due(now_ms);
            self.store.parked = false;
        }
        Ok(())
    }

    /// Adds every record of one `trackBatch()` call, or none: `Err(TrackError::QueueFull)` with nothing
    /// changed when its new records (those whose `response_id` the outbox does not already hold; the others
    /// are duplicates and take no room) do not all fit in [`Outbox::room`]. Otherwise each goes in as with
    /// [`Outbox::enqueue`].
    pub fn enqueue_all(&mut self, records: Vec<EncodedRecord>, now_ms: u64) -> Result<(), TrackError> {
        let (room_records, room_bytes) = self.room();
        let fresh = records.iter().filter(|r| !self.holds(&r.response_id));
        let (count, bytes) = fresh.fold((0usize, 0usize), |(n, b), r| (n + 1, b.saturating_add(r.json.len())));
        if count > room_records || bytes > room_bytes {
            return Err(self.full_error());
        }
        for record in records {
            self.enqueue(record, now_ms)?;
        }
        Ok(())
    }

    /// Records and bytes held against the bounds: queued, in flight and dead letters.
    fn held(&self) -> (usize, usize) {
        (self.live.live() + self.dead.live(), self.bytes.saturating_add(self.dead_bytes))
    }

    /// Room left before [`TrackError::QueueFull`]: `(records, bytes)` that [`Outbox::enqueue`] still accepts
    /// (see the bounds rule in the module docs). A `trackBatch` checks it first so that it queues all of its
    /// new records or none.
    pub fn room(&self) -> (usize, usize) {
        let (records, bytes) = self.held();
        (self.config.max_queue_size.saturating_sub(records), self.config.max_queue_bytes.saturating_sub(bytes))
    }

    /// The [`TrackError::QueueFull`] for the outbox as it is now (records and bytes held, dead letters
    /// included, and the limits).
    pub fn full_error(&self) -> TrackError {
        let (records, bytes) = self.held();
        TrackError::QueueFull {
            records,
            bytes,
            max_records: self.config.max_queue_size,
            max_bytes: self.config.max_queue_bytes,
        }
    }

    /// A row became due at `due_ms`: keeps the cached earliest due time exact.
    fn note_due(&mut self, due_ms: u64) {
        if let Some(cached) = &mut self.due_cache {
            *cached = Some(cached.map_or(due_ms, |d| d.min(due_ms)));
        }
    }

    /// Removes a live row. With `delete_key`, its `q/` key is deleted from the store when it may be there.
    fn remove_live(&mut self, pos: u32, delete_key: bool) -> Option<Live> {
        let row = self.live.remove(pos)?;
        self.bytes = self.bytes.saturating_sub(row.rec.json_len());
        if row.batch != 0 {
            self.in_flight_records = self.in_flight_records.saturating_sub(1);
        }
        if delete_key && row.flags & flag::WRITTEN != 0 {
            self.schedule_delete(stored::key(&self.config.namespace, KeyKind::Queued, row.rec.id()));
        }
        self.due_cache = None;
        Some(row)
    }

    /// The server accepted the record at `pos`.
    fn deliver(&mut self, pos: u32) {
        if self.remove_live(pos, true).is_some() {
            self.sent_total += 1;
            if let Some(flush) = &mut self.flush {
                flush.sent += 1;
            }
        }
    }

    /// Moves the record at `pos` to the dead letters (one put of its `d/` key, then a delete of its `q/` key).
    ///
    /// The reason and errors pass through the configured [`crate::core::redact::Redactor`] here, the one way
    /// into the dead letters: the API key never reaches a dead letter, `deadLetters()` or the store.
    fn dead_letter(&mut self, pos: u32, now_ms: u64, reason: String, status: Option<u16>, mut errors: Vec<String>) {
        let Some(row) = self.remove_live(pos, true) else { return };
        let reason = self.config.redactor.redact(&reason);
        self.config.redactor.redact_all(errors.iter_mut());
        let dead = Dead {
            rec: row.rec,
            created_ms: row.created_ms,
            at_ms: now_ms,
            attempts: u32::from(row.attempts),
            status,
            reason,
            errors,
            flags: flag::DIRTY,
        };
        // An id already dead-lettered keeps its first dead letter.
        let len = dead.rec.json_len();
        if self.dead.push(dead).is_ok() {
            self.dead_bytes += len;
            if let Some(flush) = &mut self.flush {
                flush.dead_lettered += 1;
            }
        }
        self.store.parked = false;
    }

    fn schedule_delete(&mut self, key: String) {
        self.store.pending_deletes.push(key);
        self.store.parked = false;
    }

    /// Drops tombstones when worthwhile, keeping the batch in flight pointing at its rows.
    fn compact(&mut self) {
        if let Some(moves) = self.live.compact_if_worthwhile() {
            self.remap_in_flight(&moves);
        }
        // Dead letters are not pointed at from outside the table.
        let _ = self.dead.compact_if_worthwhile();
    }

    /// Keeps the positions held outside the table (the batch in flight, the expired batches) pointing at
    /// their rows after a reorder. A row that is gone keeps its slot as `u32::MAX` (no row), so that the
    /// others keep their place in the body the reply answers.
    fn remap_in_flight(&mut self, moves: &[u32]) {
        let remap = |positions: &mut Vec<u32>| {
            for p in positions.iter_mut() {
                *p = moves.get(*p as usize).copied().unwrap_or(u32::MAX);
            }
        };
        if let Some(flight) = &mut self.in_flight {
            remap(&mut flight.positions);
        }
        for (_, positions) in &mut self.expired {
            remap(positions);
        }
    }
}
