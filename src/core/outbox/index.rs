//! Finding a row by `response_id` without keeping a second copy of the id.
//!
//! An open-addressing hash set of row positions (linear probing, backward-shift deletion). The ids themselves
//! stay in the rows; every lookup asks the caller for the id at a position (`key_of`). That costs one `u32`
//! per slot, at most half the slots used: about 4–8 bytes per record, against a string copy of the id plus a
//! map node. Hashing is FNV-1a with a multiplicative finish: deterministic, no random seed.

/// A slot holding no position.
const EMPTY: u32 = u32::MAX;
/// The smallest table allocated.
const MIN_SLOTS: usize = 16;

/// Row positions, looked up by the id of the row they point at.
#[derive(Debug, Default)]
pub(super) struct IdIndex {
    /// Length 0 or a power of two; `EMPTY` or a row position.
    slots: Vec<u32>,
    len: usize,
}

/// FNV-1a over the bytes, then a multiply to spread the low-entropy bits into the high ones we keep.
fn hash(id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

impl IdIndex {
    /// Number of positions held.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Heap bytes held by the table (for memory estimates).
    pub(super) fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<u32>()
    }

    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    fn home(&self, id: &str) -> usize {
        // The high 32 bits of the hash carry the most mixing.
        ((hash(id) >> 32) as usize) & self.mask()
    }

    /// The position whose row has the id `id`, if any.
    pub(super) fn find<'a>(&self, id: &str, key_of: impl Fn(u32) -> Option<&'a str>) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.mask();
        let mut slot = self.home(id);
        loop {
            let pos = *self.slots.get(slot)?;
            if pos == EMPTY {
                return None;
            }
            if key_of(pos) == Some(id) {
                return Some(pos);
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Adds `pos`, whose row's id is `key_of(pos)`. The caller makes sure the id is not held already.
    pub(super) fn insert<'a>(&mut self, pos: u32, key_of: impl Fn(u32) -> Option<&'a str>) {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow(&key_of);
        }
        self.place(pos, &key_of);
        self.len += 1;
    }

    fn place<'a>(&mut self, pos: u32, key_of: &impl Fn(u32) -> Option<&'a str>) {
        let mask = self.mask();
        let mut slot = self.home(key_of(pos).unwrap_or_default());
        while let Some(held) = self.slots.get_mut(slot) {
            if *held == EMPTY {
                *held = pos;
                return;
            }
            slot = (slot + 1) & mask;
        }
    }

    fn grow<'a>(&mut self, key_of: &impl Fn(u32) -> Option<&'a str>) {
        let size = (self.slots.len() * 2).max(MIN_SLOTS);
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; size]);
        for pos in old.into_iter().filter(|&p| p != EMPTY) {
            self.place(pos, key_of);
        }
    }

    /// Removes the position whose row has the id `id`; returns it. Call it before the row loses its id.
    pub(super) fn remove<'a>(&mut self, id: &str, key_of: impl Fn(u32) -> Option<&'a str>) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.mask();
        let mut slot = self.home(id);
        let found = loop {
            let pos = *self.slots.get(slot)?;
            if pos == EMPTY {
                return None;
            }
            if key_of(pos) == Some(id) {
                break pos;
            }
            slot = (slot + 1) & mask;
        };
        // Backward-shift: pull later members of the probe run into the hole when their home allows it.
        let mut hole = slot;
        let mut next = (hole + 1) & mask;
        loop {
            let pos = match self.slots.get(next) {
                Some(&pos) if pos != EMPTY => pos,
                _ => break,
            };
            let home = self.home(key_of(pos).unwrap_or_default());
            // `pos` may move to `hole` when its home is not in (hole, next] (cyclically).
            if (next.wrapping_sub(home) & mask) >= (next.wrapping_sub(hole) & mask) {
                if let Some(h) = self.slots.get_mut(hole) {
                    *h = pos;
                }
                hole = next;
            }
            next = (next + 1) & mask;
        }
        if let Some(h) = self.slots.get_mut(hole) {
            *h = EMPTY;
        }
        self.len -= 1;
        Some(found)
    }

    /// Forgets every position (keeps the allocation).
    pub(super) fn clear(&mut self) {
        self.slots.iter_mut().for_each(|s| *s = EMPTY);
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model: ids by position, some removed.
    struct Rows(Vec<Option<String>>);

    impl Rows {
        fn key(&self, pos: u32) -> Option<&str> {
            self.0.get(pos as usize).and_then(|r| r.as_deref())
        }
    }

    #[test]
    fn insert_find_remove_against_a_model() {
        let mut rows = Rows(Vec::new());
        let mut index = IdIndex::default();
        let mut seed: u64 = 7;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut live: Vec<u32> = Vec::new();
        for step in 0..20_000u32 {
            let r = next();
            if r % 3 != 0 || live.is_empty() {
                // Ids from a small alphabet collide in their home slots often.
                let id = format!("id-{}", r % 50_000);
                if index.find(&id, |p| rows.key(p)).is_some() {
                    continue;
                }
                rows.0.push(Some(id));
                let pos = (rows.0.len() - 1) as u32;
                index.insert(pos, |p| rows.key(p));
                live.push(pos);
            } else {
                let pos = live.swap_remove((r as usize / 3) % live.len());
                let id = rows.key(pos).unwrap().to_owned();
                assert_eq!(index.remove(&id, |p| rows.key(p)), Some(pos));
                rows.0[pos as usize] = None;
                assert_eq!(index.find(&id, |p| rows.key(p)), None);
            }
            if step % 997 == 0 {
                for p in 0..rows.0.len() as u32 {
                    if let Some(id) = rows.key(p) {
                        assert_eq!(index.find(id, |q| rows.key(q)), Some(p), "step {step}");
                    }
                }
            }
        }
        assert_eq!(index.len(), live.len());
        assert_eq!(live.len(), rows.0.iter().filter(|r| r.is_some()).count());
        assert!(index.slots.len() >= 2 * index.len(), "at most half the slots used");
        assert_eq!(index.remove("absent", |p| rows.key(p)), None);
        index.clear();
        assert_eq!(index.len(), 0);
        assert_eq!(index.find("id-1", |p| rows.key(p)), None);
    }
}
