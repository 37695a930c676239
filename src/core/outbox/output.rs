//! What the outbox hands out: store operations, sends, reports, stats and dead letters.

/// Names one store operation, so that its result is reported against the right one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StoreOpId(pub(super) u64);

impl StoreOpId {
    /// The id as a number (unique within one outbox), for hosts that must carry it around.
    pub fn value(self) -> u64 {
        self.0
    }
}

/// Names one request body (one batch of records), so that its HTTP outcome is reported against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BatchId(pub(super) u32);

impl BatchId {
    /// The id as a number (unique within one outbox until it wraps after 4 billion batches; never 0).
    pub fn value(self) -> u32 {
        self.0
    }
}

/// One store operation to perform, then report with [`super::Outbox::handle_stored`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOp {
    pub id: StoreOpId,
    pub kind: StoreOpKind,
}

/// What a [`StoreOp`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOpKind {
    /// `store.put(entries)`: write every `(key, value)` (one transaction where the store has them).
    Put(Vec<(String, String)>),
    /// `store.delete(keys)`: remove these keys; missing keys are not an error.
    Delete(Vec<String>),
}

/// What to do next about sending. See the module docs for the drive loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutput {
    /// POST `body` to `/track`, then report the outcome with [`super::Outbox::handle_response`].
    Send { id: BatchId, body: String },
    /// Nothing is due before `until_ms` (which is before the flush deadline): sleep, then poll again.
    Wait { until_ms: u64 },
    /// The batch `id` is in flight: report its outcome first (or poll again once its lease has expired).
    AwaitResponse { id: BatchId },
    /// Nothing more can be sent before the deadline: the flush is over. Outside a flush: all zeros.
    Done(FlushReport),
}

/// How one flush went: the counters run from [`super::Outbox::begin_flush`] to the [`SendOutput::Done`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Records the server accepted during the flush.
    pub sent: usize,
    /// Records dead-lettered during the flush.
    pub dead_lettered: usize,
    /// Records still queued whose sending failed during the flush (they wait for a retry).
    pub retry_later: usize,
    /// Records still queued or in flight at the end (`retry_later` included).
    pub remaining: usize,
}

/// A snapshot of the outbox (`tracker.stats()`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// Records waiting to be sent (due now or after a backoff).
    pub queued: usize,
    /// Records in the batch being sent.
    pub in_flight: usize,
    /// Records the server accepted since this outbox was created.
    pub sent: usize,
    /// Records in the dead-letter set now.
    pub dead_lettered: usize,
    /// Records dropped without delivery or dead letter: always 0 (kept for callers used to the name).
    pub dropped: usize,
    /// Bytes of the records queued and in flight.
    pub bytes: usize,
    /// Bytes of the dead letters' records. `bytes + dead_bytes` is what `max_queue_bytes` bounds, as
    /// `queued + in_flight + dead_lettered` is what `max_queue_size` bounds.
    pub dead_bytes: usize,
    /// Store entries under the namespace that the latest listing showed but the core could not read
    /// (another version, corruption): left in the store untouched.
    pub unreadable: usize,
    /// `enqueue` calls with a `response_id` already queued, in flight or dead-lettered (kept once).
    pub duplicates: usize,
    /// Records and dead letters whose store write has not succeeded yet (lost if the runtime dies now).
    pub unsaved: usize,
    /// When something is next due to be sent ([`super::Outbox::next_due_ms`]): `stats().nextDueAt`.
    pub next_due_ms: Option<u64>,
}

/// A record the outbox gave up on, with the reason (`tracker.deadLetters()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub response_id: String,
    /// Why, in words: the server's rejection, the HTTP status and body, or "gave up after N attempts: ...".
    pub reason: String,
    /// The HTTP status of the answer that decided it; `None` for network errors and timeouts.
    pub status: Option<u16>,
    /// The server's messages for this record, when it gave any.
    pub errors: Vec<String>,
    /// Failed sends counted for it.
    pub attempts: u32,
    /// When it entered the queue (epoch ms).
    pub created_ms: u64,
    /// When it was dead-lettered (epoch ms).
    pub at_ms: u64,
    /// The record as it would be sent.
    pub record_json: String,
}
