//! Reconciling with what the store holds: adopting what others left, forgetting what others finished.

use crate::core::sort::sort_by;
use super::entry::{flag, Dead, Live};
use super::stored::{self, KeyKind};
use super::Outbox;

/// Whether a listing may make the outbox forget what it no longer shows (`drop_missing` of
/// [`Outbox::handle_listed`]): only when the caller wants it (a drain's listing, `wanted`), the store says it
/// is consistent (a listing shows every completed write), and the listing had no item the bindings could not
/// read (`malformed`). A listing that is not a trustworthy picture of the store is still adopted, but nothing
/// is forgotten because of what it does not show.
pub fn listing_may_forget(wanted: bool, malformed: usize, consistent: bool) -> bool {
    wanted && consistent && malformed == 0
}

impl Outbox {
    /// The store's entries under the namespace (`store.list(namespace)`): call it at start and at the start
    /// of each drain, ideally with no store operation outstanding.
    ///
    /// - Unknown `q/` entries are adopted in `created` order among the others, due at the retry time their
    ///   last failure stored, or the lease of the `keepalive` request a page going away sent them in
    ///   ([`Outbox::farewell`]) (now if none; at most the longest backoff or `Retry-After` from now); unknown
    ///   `d/` entries join the dead letters. Bounds: see the module docs.
    /// - Known `q/` entries merge their retry state monotonically: when the store shows more attempts than
    ///   this outbox counted (another tracker failed it meanwhile), the count rises to the stored one and the
    ///   retry time to the later of the two; a count is never lowered.
    /// - An id that is a dead letter (here or in the listing) is not queued: a `q/` key left beside its
    ///   `d/` key (a run that stopped between the two writes) is deleted.
    /// - Keys this outbox deleted or is deleting are ignored (the listing may predate the delete).
    /// - Values it cannot read are left in the store and counted in `stats().unreadable`.
    /// - `drop_missing` (consistent stores shared by several trackers only): records and dead letters
    ///   whose store write had succeeded, with no write outstanding, but which the listing no longer shows,
    ///   were delivered, dead-lettered or purged by another tracker: they are forgotten, not sent again. A
    ///   record written but still in the store is never forgotten: a later listing shows it again.
    pub fn handle_listed(&mut self, entries: Vec<(String, String)>, now_ms: u64, drop_missing: bool) {
        let mut tombstones = std::mem::take(&mut self.store.recently_deleted);
        tombstones.extend(self.store.pending_deletes.iter().cloned());
        if let Some(op) = self.store.outstanding.as_ref().filter(|o| !o.put) {
            tombstones.extend(op.keys.iter().cloned());
        }
        // A key deleted and then written again (a requeued dead letter, a record tracked again) is live.
        tombstones.retain(|k| !self.key_should_exist(k));
        sort_by(&mut tombstones, |a, b| a < b);
        tombstones.dedup();

        let ns = self.config.namespace.clone();
        let latest_due = self.latest_retry_ms(now_ms);
        let mut unreadable = 0;
        let mut new_live: Vec<Live> = Vec::new();
        let mut new_dead: Vec<Dead> = Vec::new();
        for (key, value) in &entries {
            let Some((kind, id)) = stored::split_key(&ns, key) else {
                // Under the namespace but of no known shape (another version's layout).
                unreadable += usize::from(key.starts_with(ns.as_str()));
                continue;
            };
            if tombstones.binary_search(key).is_ok() {
                continue;
            }
            let known = match kind {
                KeyKind::Queued => self.live.find(id).and_then(|p| self.live.get_mut(p)).map(|r| {
                    r.flags |= flag::SEEN;
                    merge_schedule(r, value, now_ms, latest_due);
                }),
                KeyKind::Dead => self.dead.find(id).and_then(|p| self.dead.get_mut(p)).map(|r| r.flags |= flag::SEEN),
            };
            if known.is_some() {
                continue;
            }
            let read = match kind {
                KeyKind::Queued => stored::read_queued(id, value).map(|row| new_live.push(row)),
                KeyKind::Dead => stored::read_dead(id, value).map(|row| new_dead.push(row)),
            };
            unreadable += usize::from(read.is_err());
        }
        drop(entries);
        self.unreadable = unreadable;

        // Dead letters first: an id both queued and dead is dead.
        // (time, id): a total order, so equal times come out the same way every time.
        sort_by(&mut new_dead, |a, b| (a.at_ms, a.rec.id()) < (b.at_ms, b.rec.id()));
        for mut row in new_dead {
            if let Some(pos) = self.live.find(row.rec.id()) {
                self.remove_live(pos, true);
            }
            row.flags |= flag::SEEN;
            // A dead letter an older version stored with the key in its reason is rewritten redacted.
            let leaked = self.config.redactor.redact_all(std::iter::once(&mut row.reason).chain(row.errors.iter_mut()));
            if leaked {
                row.flags |= flag::DIRTY;
            }
            let len = row.rec.json_len();
            if self.dead.push(row).is_ok() {
                self.dead_bytes += len;
            }
        }

        let boundary = self.live.slots() as u32;
        sort_by(&mut new_live, |a, b| (a.created_ms, a.rec.id()) < (b.created_ms, b.rec.id()));
        let mut adopted = 0usize;
        for mut row in new_live {
            if self.dead.find(row.rec.id()).is_some() {
                self.schedule_delete(stored::key(&ns, KeyKind::Queued, row.rec.id()));
                continue;
            }
            // Due at the retry time its last failure stored (whichever tracker failed it), at most one
            // longest delay from now (a clock far ahead in another isolate cannot park it for good).
            row.due_ms = row.due_ms.min(latest_due);
            row.flags |= flag::SEEN;
            let len = row.rec.json_len();
            if self.live.push(row).is_ok() {
                self.bytes += len;
                adopted += 1;
            }
        }

        if drop_missing {
            self.forget_missing();
        }
        for (_, row) in self.live.iter_mut() {
            row.flags &= !flag::SEEN;
        }
        for (_, row) in self.dead.iter_mut() {
            row.flags &= !flag::SEEN;
        }
        if adopted > 0 {
            self.merge_adopted(boundary);
        }
        self.due_cache = None;
        self.store.parked = false;
        self.compact();
    }

    /// The latest retry time a stored value may impose: now plus the longest wait the policy can produce.
    fn latest_retry_ms(&self, now_ms: u64) -> u64 {
        let policy = &self.config.policy;
        now_ms.saturating_add(policy.max_delay_ms.max(policy.max_retry_after_ms))
    }

    /// Forgets rows the store no longer holds although a write of them succeeded (see `handle_listed`).
    fn forget_missing(&mut self) {
        let missing = |flags: u8| flags & (flag::CONFIRMED | flag::IN_PUT | flag::SEEN) == flag::CONFIRMED;
        let live: Vec<u32> = self.live.iter().filter(|(_, r)| missing(r.flags)).map(|(p, _)| p).collect();
        for pos in live {
            self.remove_live(pos, false);
        }
        let dead: Vec<u32> = self.dead.iter().filter(|(_, r)| missing(r.flags)).map(|(p, _)| p).collect();
        for pos in dead {
            if let Some(row) = self.dead.remove(pos) {
                self.dead_bytes = self.dead_bytes.saturating_sub(row.rec.json_len());
            }
        }
    }

    /// Rows from `boundary` on were adopted (sorted by `created`): merges them among the others, which keep
    /// their order.
    fn merge_adopted(&mut self, boundary: u32) {
        type Rows = Vec<(u32, u64)>;
        let (old, new): (Rows, Rows) = self.live.iter().map(|(p, r)| (p, r.created_ms)).partition(|(p, _)| *p < boundary);
        let mut order = Vec::with_capacity(old.len() + new.len());
        let (mut a, mut b) = (old.into_iter().peekable(), new.into_iter().peekable());
        loop {
            let take_new = match (a.peek(), b.peek()) {
                (Some((_, old_created)), Some((_, new_created))) => new_created < old_created,
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (None, None) => break,
            };
            let next = if take_new { b.next() } else { a.next() };
            if let Some((pos, _)) = next {
                order.push(pos);
            }
        }
        let moves = self.live.reorder(&order);
        self.remap_in_flight(&moves);
    }
}

/// Raises a known row's attempts and retry time to what the store shows, when the store knows more (another
/// tracker failed the record since this one last did). Never lowers either; a row in flight keeps its lease
/// (only its count rises).
fn merge_schedule(row: &mut Live, value: &str, now_ms: u64, latest_due: u64) {
    let Some((attempts, due_ms)) = stored::read_schedule(value) else { return };
    let attempts = u16::try_from(attempts).unwrap_or(u16::MAX);
    if attempts < row.attempts {
        return;
    }
    let raised = attempts > row.attempts;
    row.attempts = attempts;
    if row.batch == 0 && due_ms.min(latest_due) > row.due_ms.max(now_ms) {
        row.due_ms = due_ms.min(latest_due);
    }
    if raised {
        // Another tracker's failure is newer news than an early release.
        row.flags &= !flag::EARLY;
    }
}

#[cfg(test)]
mod tests {
    use super::listing_may_forget;

    #[test]
    fn only_a_wanted_whole_listing_of_a_consistent_store_forgets() {
        assert!(listing_may_forget(true, 0, true));
        assert!(!listing_may_forget(false, 0, true), "the load's listing never forgets");
        assert!(!listing_may_forget(true, 1, true), "a listing with a malformed item is not the whole store");
        assert!(!listing_may_forget(true, 0, false), "an eventually consistent store may not show a write yet");
    }
}
