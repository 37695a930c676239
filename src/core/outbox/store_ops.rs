//! Store operations: what to write or delete next, and what a completed operation changes.

use crate::core::sort::sort_by;
use super::entry::{flag, Row};
use super::stored::{self, KeyKind};
use super::table::Table;
use super::{Outbox, Outstanding, StoreOp, StoreOpId, StoreOpKind};

/// Most deleted keys remembered between two listings.
const MAX_RECENTLY_DELETED: usize = 10_000;

impl Outbox {
    /// The next store operation, or `None` when there is nothing to do, one is outstanding, or the last one
    /// failed and nothing changed since (the next change or flush retries it).
    ///
    /// A put carries every record and dead letter written since the last put (so everything enqueued in one
    /// tick goes out as one put); puts go before deletes. A delete skips keys that should exist again (a
    /// record tracked again after delivery, a dead letter re-created). Perform it, then report with
    /// [`Outbox::handle_stored`].
    pub fn poll_store(&mut self) -> Option<StoreOp> {
        if self.store.outstanding.is_some() || self.store.parked {
            return None;
        }
        let ns = self.config.namespace.as_str();
        let live_rows = self.live.take_dirty(flag::IN_PUT | flag::WRITTEN);
        let dead_rows = self.dead.take_dirty(flag::IN_PUT | flag::WRITTEN);
        let id = StoreOpId(self.store.next_id);
        if !live_rows.is_empty() || !dead_rows.is_empty() {
            let mut entries = Vec::with_capacity(live_rows.len() + dead_rows.len());
            for pos in live_rows {
                if let Some(row) = self.live.get(pos) {
                    entries.push((stored::key(ns, KeyKind::Queued, row.rec.id()), stored::write_queued(row)));
                }
            }
            for pos in dead_rows {
                if let Some(row) = self.dead.get(pos) {
                    entries.push((stored::key(ns, KeyKind::Dead, row.rec.id()), stored::write_dead(row)));
                }
            }
            let keys: Vec<String> = entries.iter().map(|(k, _)| k.clone()).collect();
            // A key written again is no longer a tombstone: the next listing must see it, not skip it.
            let mut written: Vec<&String> = keys.iter().collect();
            sort_by(&mut written, |a, b| a < b);
            self.store.recently_deleted.retain(|k| written.binary_search(&k).is_err());
            self.store.next_id += 1;
            self.store.outstanding = Some(Outstanding { id, put: true, keys });
            return Some(StoreOp { id, kind: StoreOpKind::Put(entries) });
        }
        let mut keys = std::mem::take(&mut self.store.pending_deletes);
        sort_by(&mut keys, |a, b| a < b);
        keys.dedup();
        keys.retain(|k| !self.key_should_exist(k));
        if keys.is_empty() {
            return None;
        }
        self.store.next_id += 1;
        self.store.outstanding = Some(Outstanding { id, put: false, keys: keys.clone() });
        Some(StoreOp { id, kind: StoreOpKind::Delete(keys) })
    }

    /// Reports the result of store operation `id` (from [`Outbox::poll_store`]); other ids are ignored.
    ///
    /// `Ok`: a put's rows are known to be in the store; a delete's keys are remembered until the next listing
    /// (which may have been taken before the delete). `Err` (the store's message): a put's rows are written
    /// again, a delete's keys deleted again, with the next operation; nothing is lost. Then poll again.
    pub fn handle_stored(&mut self, id: StoreOpId, result: Result<(), String>) {
        let Some(op) = self.store.outstanding.take_if(|o| o.id == id) else { return };
        let ok = result.is_ok();
        if op.put {
            let ns = self.config.namespace.as_str();
            for key in &op.keys {
                match stored::split_key(ns, key) {
                    Some((KeyKind::Queued, id)) => settle_put(&mut self.live, id, ok),
                    Some((KeyKind::Dead, id)) => settle_put(&mut self.dead, id, ok),
                    None => {}
                }
            }
        } else if ok {
            let recent = &mut self.store.recently_deleted;
            recent.extend(op.keys);
            // Without listings (a host that lists only at start) keep the newest ones only; forgetting one
            // at worst lets a stale listing resend a delivered record (same response_id: deduplicated).
            if recent.len() > MAX_RECENTLY_DELETED {
                recent.drain(..recent.len() - MAX_RECENTLY_DELETED / 2);
            }
        } else {
            self.store.pending_deletes.extend(op.keys);
        }
        if !ok {
            self.store.parked = true;
        }
    }

    /// Lifts the pause after a failed store operation: the next [`Outbox::poll_store`] tries it again at
    /// once. Call it when [`super::StoreTiming::retry_at`] says it is time (a flush still has time to wait
    /// for the store): after a 202, the delete of the delivered records is retried while the flush lasts, so
    /// that the next isolate or page does not send them again. Harmless when nothing failed.
    pub fn retry_store(&mut self) {
        self.store.parked = false;
    }

    /// Whether the store should hold `key` now (a live record's `q/`, a dead letter's `d/`).
    pub(super) fn key_should_exist(&self, key: &str) -> bool {
        match stored::split_key(&self.config.namespace, key) {
            Some((KeyKind::Queued, id)) => self.live.find(id).is_some(),
            Some((KeyKind::Dead, id)) => self.dead.find(id).is_some(),
            None => false,
        }
    }
}

/// The put that held the row with this id finished (`ok`) or failed. Rows not part of that put (an id
/// removed and added again meanwhile) are left alone.
fn settle_put<T: Row>(table: &mut Table<T>, id: &str, ok: bool) {
    let Some(pos) = table.find(id) else { return };
    let Some(row) = table.get_mut(pos) else { return };
    let flags = row.flags_mut();
    if *flags & flag::IN_PUT == 0 {
        return;
    }
    *flags &= !flag::IN_PUT;
    confirm_or_rewrite(table, pos, ok);
}

/// After a write of the row at `pos`: `ok` marks it confirmed in the store, a failure marks it to be written
/// again with the next store operation.
pub(super) fn confirm_or_rewrite<T: Row>(table: &mut Table<T>, pos: u32, ok: bool) {
    if !ok {
        table.mark_dirty(pos);
    } else if let Some(row) = table.get_mut(pos) {
        *row.flags_mut() |= flag::CONFIRMED;
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{config, ids, results, FakeStore, JITTER, T0};
    use super::super::{Outbox, SendOutput, StoreOpKind, StoreTiming};

    #[test]
    fn a_delete_that_failed_after_a_202_is_retried_within_the_flush_when_asked() {
        let mut store = FakeStore::default();
        let mut ob = Outbox::new(config());
        ob.enqueue(super::super::tests::rec("r0"), T0).ok();
        store.settle(&mut ob);
        ob.begin_flush(T0, T0 + 1000);
        let SendOutput::Send { id, .. } = ob.poll_send(T0) else { panic!("a send") };
        ob.handle_response(id, results(&ids("r", 1), "queued"), T0 + 5, JITTER);
        let Some(del) = ob.poll_store() else { panic!("the delete") };
        assert!(matches!(del.kind, StoreOpKind::Delete(_)));
        ob.handle_stored(del.id, Err("the store said no".into()));
        assert!(ob.poll_store().is_none(), "parked: no tight loop");
        let end = StoreTiming::flush_end_ms(T0 + 1000);
        let at = StoreTiming::retry_at(1, T0 + 6, Some(end));
        assert_eq!(at, Some(T0 + 26));
        ob.retry_store();
        let Some(again) = ob.poll_store() else { panic!("the delete again") };
        assert_eq!(again.kind, del.kind);
        store.apply(&again);
        ob.handle_stored(again.id, Ok(()));
        assert!(store.ids("q").is_empty(), "the delivered record left the store");
        ob.retry_store();
        assert!(ob.poll_store().is_none(), "nothing left: retry_store is harmless");
    }
}
