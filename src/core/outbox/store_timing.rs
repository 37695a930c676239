//! How long the bindings let the user's store take, and when a failed store operation is tried again.
//!
//! A store is the user's code (IndexedDB, KV, a `Map`, a Proxy): its calls may reject, throw or never
//! answer. The bindings race every store call against a timer of [`StoreTiming::call_budget_ms`]; a call
//! that loses the race counts as failed ([`super::Outbox::handle_stored`] with `Err`: its records are kept
//! and written again), and whatever it answers later is ignored. A `flush()` waits for the store (its
//! pending writes, the listing, the drain lock) only until its own end ([`StoreTiming::flush_end_ms`]),
//! never for another tracker's drain; and once it has sent what it could, a failed operation is retried
//! within that time ([`StoreTiming::retry_at`]), so that the deletes of delivered records reach the store before the
//! isolate or page goes away (otherwise the next one sends them again).
//!
//! A call that timed out may still land later. That is safe, at least once: its result is never reported
//! (the outbox has moved on to other operation ids), a late put that lands after the delete of a delivered
//! record leaves a key the next listing adopts and sends again (same `response_id`: the service keeps one),
//! and a late put of an older attempt count is overwritten by the next write of that record. A late delete
//! removes only keys the outbox had asked to delete; were one of them written again in between, that write
//! is undone: the only such keys belong to a record tracked again after its delivery (the service already
//! holds that `response_id`) or to a purged dead letter created again (rare; its copy in memory remains).

/// Extra time a flush gives its store operations after its deadline (the deletes of what the last batch
/// delivered): `flush({ deadlineMs })` resolves by `deadlineMs` plus this.
pub const FLUSH_STORE_MARGIN_MS: u64 = 500;

/// The first pause before a failed store operation is tried again within a flush; doubled per failure.
pub const STORE_RETRY_BASE_MS: u64 = 20;

/// The longest pause between two tries of a failed store operation within a flush.
pub const STORE_RETRY_MAX_MS: u64 = 1_000;

/// Most tries again of failed store operations at the end of one flush (20 + 40 + 80 + 160 + 320 ms of
/// pauses): a store that keeps failing costs a flush well under a second more, not its whole deadline.
pub const MAX_STORE_RETRIES: u32 = 5;

/// The shortest store-call timeout, whatever `timeoutMs` says: a store that is slow but works (IndexedDB
/// opening on a busy device, a KV write across the world) should not count as failed for a short HTTP timeout.
pub const MIN_STORE_CALL_TIMEOUT_MS: u64 = 1_000;

/// How many entries of one `list()` result the bindings read, for an outbox bounded at `max_queue_size`
/// records: four times the bound (a store may hold a larger backlog left by a tracker with a larger bound),
/// at least 1,000 and at most 1,000,000. A Proxy may claim a length of four billion, and every item read costs
/// a crossing into JavaScript, so the listing stops there; the rest count as unreadable, which makes the
/// listing untrusted: nothing is forgotten because of it, and what was not read stays in the store for a later
/// listing, once deliveries have made room.
pub fn listed_entries_to_read(max_queue_size: usize) -> u32 {
    let wanted = max_queue_size.saturating_mul(4).clamp(MIN_LISTED_ENTRIES, MAX_LISTED_ENTRIES);
    u32::try_from(wanted).unwrap_or(u32::MAX)
}

const MIN_LISTED_ENTRIES: usize = 1_000;
const MAX_LISTED_ENTRIES: usize = 1_000_000;

/// Store-call time limits for one tracker. Build it with [`StoreTiming::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreTiming {
    /// The most one store call (`put`, `list`, `delete`) may take before it counts as failed.
    pub call_timeout_ms: u64,
}

impl StoreTiming {
    /// Store calls bounded by the tracker's `timeoutMs` (the same bound as one HTTP attempt), but never
    /// below [`MIN_STORE_CALL_TIMEOUT_MS`].
    pub fn new(timeout_ms: u64) -> StoreTiming {
        StoreTiming { call_timeout_ms: timeout_ms.max(MIN_STORE_CALL_TIMEOUT_MS) }
    }

    /// When a flush with deadline `deadline_ms` stops waiting for the store: its deadline plus
    /// [`FLUSH_STORE_MARGIN_MS`]. (Sending stops at the deadline itself; the lock is waited for only until
    /// the deadline, see [`StoreTiming::lock_wait_ms`].)
    pub fn flush_end_ms(deadline_ms: u64) -> u64 {
        deadline_ms.saturating_add(FLUSH_STORE_MARGIN_MS)
    }

    /// How long a store call started at `now_ms` may take: the call timeout, cut at `end_ms` (a flush's
    /// [`StoreTiming::flush_end_ms`]) when a flush is waiting for it. At least 1 ms, so that a store that
    /// answers at once (in microtasks) still gets its answer in.
    pub fn call_budget_ms(&self, now_ms: u64, end_ms: Option<u64>) -> u64 {
        let budget = match end_ms {
            Some(end) => self.call_timeout_ms.min(end.saturating_sub(now_ms)),
            None => self.call_timeout_ms,
        };
        budget.max(1)
    }

    /// How long a flush started at `now_ms` with deadline `deadline_ms` waits for the store's drain lock
    /// (another tracker or tab may hold it): until its own deadline, never for the other drain's time.
    pub fn lock_wait_ms(now_ms: u64, deadline_ms: u64) -> u64 {
        deadline_ms.saturating_sub(now_ms)
    }

    /// After `failures` consecutive failed store operations (1 for the first), when to try again: `Some(at)`
    /// when a flush that has finished sending waits for the store until `end_ms`, at most
    /// [`MAX_STORE_RETRIES`] times, and the pause (20 ms doubled per failure, at most 1 s) ends before
    /// `end_ms`; `None` outside that wait, past the retries or when no time is left (the operation then
    /// waits for the next change or flush, as before: never a tight loop).
    pub fn retry_at(failures: u32, now_ms: u64, end_ms: Option<u64>) -> Option<u64> {
        let end = end_ms?;
        if failures == 0 || failures > MAX_STORE_RETRIES {
            return None;
        }
        let doublings = failures.saturating_sub(1).min(16);
        let pause = STORE_RETRY_BASE_MS.saturating_mul(1u64 << doublings).min(STORE_RETRY_MAX_MS);
        let at = now_ms.saturating_add(pause);
        (at < end).then_some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_call_gets_the_timeout_cut_at_the_flush_end_but_never_zero() {
        let t = StoreTiming::new(10_000);
        assert_eq!(t.call_budget_ms(1_000, None), 10_000);
        assert_eq!(t.call_budget_ms(1_000, Some(4_000)), 3_000);
        assert_eq!(t.call_budget_ms(1_000, Some(100_000)), 10_000);
        assert_eq!(t.call_budget_ms(5_000, Some(4_000)), 1, "past the end: 1 ms, enough for an answer in microtasks");
        assert_eq!(StoreTiming::new(300).call_timeout_ms, MIN_STORE_CALL_TIMEOUT_MS, "never below 1 s");
        assert_eq!(StoreTiming::new(0).call_budget_ms(0, None), MIN_STORE_CALL_TIMEOUT_MS);
    }

    #[test]
    fn a_flush_waits_for_the_store_until_its_deadline_plus_the_margin_and_for_the_lock_until_its_deadline() {
        assert_eq!(StoreTiming::flush_end_ms(20_000), 20_000 + FLUSH_STORE_MARGIN_MS);
        assert_eq!(StoreTiming::flush_end_ms(u64::MAX), u64::MAX);
        assert_eq!(StoreTiming::lock_wait_ms(1_000, 3_000), 2_000, "its own deadline, whatever the holder's");
        assert_eq!(StoreTiming::lock_wait_ms(5_000, 3_000), 0);
    }

    #[test]
    fn a_failed_operation_is_retried_with_doubling_pauses_while_the_flush_has_time() {
        let end = Some(10_000);
        assert_eq!(StoreTiming::retry_at(1, 0, end), Some(20));
        assert_eq!(StoreTiming::retry_at(2, 0, end), Some(40));
        assert_eq!(StoreTiming::retry_at(3, 100, end), Some(180));
        assert_eq!(StoreTiming::retry_at(5, 0, end), Some(320));
        assert_eq!(StoreTiming::retry_at(6, 0, end), None, "five retries per flush, then the next change or flush");
        assert_eq!(StoreTiming::retry_at(u32::MAX, 0, end), None);
        assert_eq!(StoreTiming::retry_at(0, 0, end), None, "nothing failed");
        assert_eq!(StoreTiming::retry_at(1, 9_990, end), None, "the pause would end after the flush");
        assert_eq!(StoreTiming::retry_at(1, 0, None), None, "outside a flush: wait for the next change");
    }

    #[test]
    fn a_listing_reads_four_times_the_bound_within_limits() {
        assert_eq!(listed_entries_to_read(10_000), 40_000);
        assert_eq!(listed_entries_to_read(1), 1_000);
        assert_eq!(listed_entries_to_read(usize::MAX), 1_000_000);
    }
}
