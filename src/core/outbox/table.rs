//! An ordered collection of rows with lookup by `response_id` and a list of rows to persist.
//!
//! Rows keep their position until a compaction: a removed row leaves a [`flag::GONE`] tombstone, so positions
//! held elsewhere (the batch in flight, the dirty list) stay valid; [`Table::reorder`] rebuilds the rows in a
//! new order and returns how positions moved.

use super::entry::{flag, Row};
use super::index::IdIndex;

/// Rows in send order, indexed by id.
#[derive(Debug, Default)]
pub(super) struct Table<T> {
    rows: Vec<T>,
    index: IdIndex,
    live: usize,
    /// Positions whose row got [`flag::DIRTY`] (each pushed once per dirtying; gone rows are skipped).
    dirty: Vec<u32>,
}

/// Old position → new position (`u32::MAX`: the row was dropped), from [`Table::reorder`].
pub(super) type Moves = Vec<u32>;

impl<T: Row> Table<T> {
    /// Rows not removed.
    pub(super) fn live(&self) -> usize {
        self.live
    }

    /// Slots used by removed rows, waiting for a compaction.
    pub(super) fn tombstones(&self) -> usize {
        self.rows.len() - self.live
    }

    /// Slots in all (live and removed); positions are below this.
    pub(super) fn slots(&self) -> usize {
        self.rows.len()
    }

    /// Heap bytes of the table itself (rows array, index, dirty list), not what rows own.
    pub(super) fn heap_bytes(&self) -> usize {
        self.rows.capacity() * std::mem::size_of::<T>() + self.index.heap_bytes() + self.dirty.capacity() * 4
    }

    fn key_of<'a>(rows: &'a [T]) -> impl Fn(u32) -> Option<&'a str> + 'a {
        move |pos| rows.get(pos as usize).map(Row::id)
    }

    /// The position of the live row with this id.
    pub(super) fn find(&self, id: &str) -> Option<u32> {
        self.index.find(id, Self::key_of(&self.rows))
    }

    /// The row at `pos`, unless it was removed.
    pub(super) fn get(&self, pos: u32) -> Option<&T> {
        self.rows.get(pos as usize).filter(|r| r.flags() & flag::GONE == 0)
    }

    /// The row at `pos`, unless it was removed.
    pub(super) fn get_mut(&mut self, pos: u32) -> Option<&mut T> {
        self.rows.get_mut(pos as usize).filter(|r| r.flags() & flag::GONE == 0)
    }

    /// Live rows in order, with their positions.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u32, &T)> {
        self.rows.iter().enumerate().filter(|(_, r)| r.flags() & flag::GONE == 0).map(|(p, r)| (p as u32, r))
    }

    /// Live rows in order, with their positions, mutably.
    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = (u32, &mut T)> {
        self.rows.iter_mut().enumerate().filter(|(_, r)| r.flags() & flag::GONE == 0).map(|(p, r)| (p as u32, r))
    }

    /// Appends `row` at the end. Gives the row back when its id is already held (or positions ran out).
    pub(super) fn push(&mut self, row: T) -> Result<u32, T> {
        if self.find(row.id()).is_some() {
            return Err(row);
        }
        let Ok(pos) = u32::try_from(self.rows.len()) else {
            return Err(row);
        };
        if pos == u32::MAX {
            return Err(row);
        }
        let dirty = row.flags() & flag::DIRTY != 0;
        self.rows.push(row);
        self.index.insert(pos, Self::key_of(&self.rows));
        self.live += 1;
        if dirty {
            self.dirty.push(pos);
        }
        Ok(pos)
    }

    /// Removes the row at `pos` and returns it; its slot becomes a tombstone.
    pub(super) fn remove(&mut self, pos: u32) -> Option<T> {
        let id = self.rows.get(pos as usize).filter(|r| r.flags() & flag::GONE == 0)?.id();
        self.index.remove(id, Self::key_of(&self.rows));
        let slot = self.rows.get_mut(pos as usize)?;
        let row = std::mem::take(slot);
        *slot.flags_mut() = flag::GONE;
        self.live -= 1;
        Some(row)
    }

    /// Marks the row at `pos` to be written with the next put.
    pub(super) fn mark_dirty(&mut self, pos: u32) {
        if let Some(row) = self.get_mut(pos) {
            let flags = row.flags_mut();
            if *flags & flag::DIRTY == 0 {
                *flags |= flag::DIRTY;
                self.dirty.push(pos);
            }
        }
    }

    /// The rows to write now, in order of dirtying; clears their [`flag::DIRTY`] and sets `set` on them.
    pub(super) fn take_dirty(&mut self, set: u8) -> Vec<u32> {
        let mut taken = Vec::new();
        for pos in std::mem::take(&mut self.dirty) {
            if let Some(row) = self.get_mut(pos) {
                let flags = row.flags_mut();
                if *flags & flag::DIRTY != 0 {
                    *flags = (*flags & !flag::DIRTY) | set;
                    taken.push(pos);
                }
            }
        }
        taken
    }

    /// Rebuilds the rows as the live positions in `order` (each at most once; others are dropped, as
    /// are removed rows) and returns where every old position went.
    pub(super) fn reorder(&mut self, order: &[u32]) -> Moves {
        let mut old = std::mem::take(&mut self.rows);
        let mut moves = vec![u32::MAX; old.len()];
        let mut rows = Vec::with_capacity(order.len());
        for &pos in order {
            let Some(slot) = old.get_mut(pos as usize) else { continue };
            if slot.flags() & flag::GONE != 0 {
                continue;
            }
            let row = std::mem::take(slot);
            *slot.flags_mut() = flag::GONE;
            if let Some(m) = moves.get_mut(pos as usize) {
                *m = rows.len() as u32;
            }
            rows.push(row);
        }
        self.rows = rows;
        self.live = self.rows.len();
        self.index.clear();
        for pos in 0..self.rows.len() as u32 {
            self.index.insert(pos, Self::key_of(&self.rows));
        }
        self.dirty = std::mem::take(&mut self.dirty)
            .into_iter()
            .filter_map(|p| moves.get(p as usize).copied().filter(|&n| n != u32::MAX))
            .collect();
        moves
    }

    /// Drops the tombstones when they outnumber the live rows (and there are enough to bother).
    /// Returns the moves when it did.
    pub(super) fn compact_if_worthwhile(&mut self) -> Option<Moves> {
        let tombstones = self.tombstones();
        if tombstones < 64 || tombstones < self.live {
            return None;
        }
        let order: Vec<u32> = self.iter().map(|(p, _)| p).collect();
        Some(self.reorder(&order))
    }
}

#[cfg(test)]
mod tests {
    use super::super::entry::{Live, RecordText};
    use super::*;

    fn live(id: &str) -> Live {
        Live { rec: RecordText::new(format!(r#"{{"response_id":"{id}"}}"#), id).unwrap(), ..Live::default() }
    }

    fn ids(t: &Table<Live>) -> Vec<String> {
        t.iter().map(|(_, r)| r.rec.id().to_owned()).collect()
    }

    #[test]
    fn push_find_remove_and_duplicates() {
        let mut t = Table::default();
        let a = t.push(live("a")).unwrap();
        let b = t.push(live("b")).unwrap();
        assert!(t.push(live("a")).is_err(), "an id is held once");
        assert_eq!((t.find("a"), t.find("b"), t.find("c")), (Some(a), Some(b), None));
        let removed = t.remove(a).unwrap();
        assert_eq!(removed.rec.id(), "a");
        assert_eq!((t.find("a"), t.get(a).is_none(), t.live(), t.tombstones()), (None, true, 1, 1));
        assert!(t.remove(a).is_none());
        // The id can come back (a record delivered, then tracked again).
        let a2 = t.push(live("a")).unwrap();
        assert_ne!(a, a2);
        assert_eq!(ids(&t), ["b", "a"]);
    }

    #[test]
    fn dirty_list_is_deduplicated_and_skips_removed_rows() {
        let mut t = Table::default();
        let mut row = live("x");
        row.flags = flag::DIRTY;
        let x = t.push(row).unwrap();
        let y = t.push(live("y")).unwrap();
        let z = t.push(live("z")).unwrap();
        t.mark_dirty(y);
        t.mark_dirty(y);
        t.mark_dirty(z);
        t.remove(z);
        assert_eq!(t.take_dirty(flag::IN_PUT), vec![x, y]);
        assert_eq!(t.get(y).unwrap().flags, flag::IN_PUT);
        assert!(t.take_dirty(0).is_empty());
    }

    #[test]
    fn reorder_and_compaction_keep_lookups_and_dirty_rows() {
        let mut t = Table::default();
        for i in 0..200 {
            t.push(live(&format!("r{i}"))).unwrap();
        }
        for p in 0..150 {
            t.remove(p).unwrap();
        }
        t.mark_dirty(160);
        let moves = t.compact_if_worthwhile().expect("150 tombstones over 50 live rows");
        assert_eq!((t.slots(), t.live(), t.tombstones()), (50, 50, 0));
        assert_eq!(moves[160], 10);
        assert_eq!(moves[3], u32::MAX);
        assert_eq!(t.find("r160"), Some(10));
        assert_eq!(t.take_dirty(0), vec![10]);
        assert!(t.compact_if_worthwhile().is_none());
        // An explicit order.
        let moves = t.reorder(&[49, 0, 0, 1]);
        assert_eq!(ids(&t), ["r199", "r150", "r151"]);
        assert_eq!((moves[49], moves[0], moves[1], moves[2]), (0, 1, 2, u32::MAX));
        assert_eq!(t.find("r151"), Some(2));
        assert_eq!(t.find("r160"), None);
    }
}
