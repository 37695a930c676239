//! The dead-letter set as API: list, requeue, purge (the Python SDK's queue manager).

use crate::core::sort::sort_by;
use super::entry::{flag, Live};
use super::stored::{self, KeyKind};
use super::{DeadLetter, Outbox};

impl Outbox {
    /// Every dead letter, oldest first (`tracker.deadLetters()`).
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.dead
            .iter()
            .map(|(_, row)| DeadLetter {
                response_id: row.rec.id().to_owned(),
                reason: row.reason.clone(),
                status: row.status,
                errors: row.errors.clone(),
                attempts: row.attempts,
                created_ms: row.created_ms,
                at_ms: row.at_ms,
                record_json: row.rec.json_string(),
            })
            .collect()
    }

    /// Dead letters named by `ids` (all of them for `None`; unknown ids are skipped), in order, once each.
    fn select_dead(&self, ids: Option<&[String]>) -> Vec<u32> {
        match ids {
            None => self.dead.iter().map(|(p, _)| p).collect(),
            Some(ids) => {
                let mut positions: Vec<u32> = ids.iter().filter_map(|id| self.dead.find(id)).collect();
                sort_by(&mut positions, |a, b| a < b);
                positions.dedup();
                positions
            }
        }
    }

    /// Moves dead letters (all for `None`) back to the queue: due now, attempts 0, age 0 (their `created`
    /// restarts now). Each one's `q/` key is put, then its `d/` key deleted. Dead letters count against the
    /// bounds already, so a requeue never passes them and never refuses: every dead letter named moves.
    /// Returns how many moved.
    pub fn requeue_dead_letters(&mut self, ids: Option<&[String]>, now_ms: u64) -> usize {
        let mut moved = 0;
        for pos in self.select_dead(ids) {
            let Some(dead) = self.dead.remove(pos) else { continue };
            if dead.flags & flag::WRITTEN != 0 {
                self.schedule_delete(stored::key(&self.config.namespace, KeyKind::Dead, dead.rec.id()));
            }
            let len = dead.rec.json_len();
            self.dead_bytes = self.dead_bytes.saturating_sub(len);
            let row = Live { rec: dead.rec, created_ms: now_ms, due_ms: now_ms, batch: 0, attempts: 0, flags: flag::DIRTY };
            // An id queued already (not possible by construction) keeps its queued record.
            if self.live.push(row).is_ok() {
                self.bytes += len;
                moved += 1;
            }
        }
        if moved > 0 {
            self.note_due(now_ms);
            self.store.parked = false;
        }
        self.compact();
        moved
    }

    /// Removes dead letters (all for `None`) for good, deleting their `d/` keys. Returns how many.
    pub fn purge_dead_letters(&mut self, ids: Option<&[String]>) -> usize {
        let mut purged = 0;
        for pos in self.select_dead(ids) {
            let Some(dead) = self.dead.remove(pos) else { continue };
            if dead.flags & flag::WRITTEN != 0 {
                self.schedule_delete(stored::key(&self.config.namespace, KeyKind::Dead, dead.rec.id()));
            }
            self.dead_bytes = self.dead_bytes.saturating_sub(dead.rec.json_len());
            purged += 1;
        }
        self.compact();
        purged
    }
}
