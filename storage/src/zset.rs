//! A sorted set value (Redis type `zset`): an order-statistic tree of
//! `(score, member)` items ([`OsTree`]) plus, once the set is big, a
//! member→score CHAMP map for O(1) score lookups.
//!
//! Small sets mirror Redis's `listpack` encoding: no map, member lookups scan
//! the (single-leaf) tree, which is what a listpack costs too. Past
//! `zset-max-listpack-entries` items or a member longer than
//! `zset-max-listpack-value` bytes the set switches to the `skiplist`
//! encoding (map + tree) for good, as Redis never converts back on its own.

use crate::hamt::HashTrie;
use crate::noderef::Locked;
use crate::ostree::{Item, OsTree};
use crate::SmallBytes;

/// The `zset-max-listpack-*` thresholds in force for one command.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `zset-max-listpack-entries`.
    pub entries: usize,
    /// `zset-max-listpack-value` (member length in bytes).
    pub value: usize,
}

/// A sorted set.
///
/// 24 bytes so that [`crate::Value`] stays 32: the tree root is one pointer,
/// the optional map a pointer and a length.
#[derive(Clone, Debug, Default)]
pub struct ZSet {
    tree: OsTree,
    /// `None` while the set is in the listpack encoding.
    dict: Option<HashTrie<SmallBytes, f64, Locked>>,
}

const _: () = assert!(std::mem::size_of::<ZSet>() <= 24);

impl PartialEq for ZSet {
    fn eq(&self, other: &Self) -> bool {
        self.tree == other.tree
    }
}

impl ZSet {
    /// An empty set in the encoding Redis would create for a command adding
    /// `size_hint` elements whose longest member is `max_len` bytes.
    pub fn with_hint(size_hint: usize, max_len: usize, lim: Limits) -> ZSet {
        let mut z = ZSet::default();
        if lim.entries == 0 || size_hint > lim.entries || max_len > lim.value {
            z.dict = Some(HashTrie::default());
        }
        z
    }

    /// The encoding OBJECT ENCODING reports for this value.
    pub fn encoding(&self) -> &'static str {
        if self.dict.is_some() {
            "skiplist"
        } else {
            "listpack"
        }
    }

    /// Whether the set is in the listpack encoding.
    pub fn is_listpack(&self) -> bool {
        self.dict.is_none()
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match &self.dict {
            Some(d) => d.len(),
            None => self.tree.len(),
        }
    }

    /// Whether the set has no member.
    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// The ordered items.
    pub fn tree(&self) -> &OsTree {
        &self.tree
    }

    /// The member→score map (skiplist encoding only), for hash-order SCAN.
    pub fn dict(&self) -> Option<&HashTrie<SmallBytes, f64, Locked>> {
        self.dict.as_ref()
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.dict {
            Some(d) => d.get(member).copied(),
            None => self
                .tree
                .iter()
                .find(|it| it.member.as_slice() == member)
                .map(|it| it.score),
        }
    }

    /// Sets `member`'s score, adding it if new; returns the previous score.
    /// Converts to the skiplist encoding when a threshold is passed.
    pub fn insert(&mut self, member: &[u8], mut score: f64, lim: Limits) -> Option<f64> {
        let old = self.score(member);
        // Like Redis, convert before adding the element that passes a limit,
        // so that element goes straight into the skiplist.
        if self.dict.is_none()
            && old.is_none()
            && (self.tree.len() + 1 > lim.entries || member.len() > lim.value)
        {
            self.convert_to_skiplist();
        }
        if self.dict.is_none() && score == 0.0 {
            // A listpack stores scores as text or integers: -0 comes back as 0.
            score = 0.0;
        }
        if let Some(o) = old {
            if o.to_bits() == score.to_bits() {
                return old;
            }
            self.tree.remove(o, member);
        }
        let m = SmallBytes::from(member);
        if let Some(d) = &mut self.dict {
            d.insert(m.clone(), score);
        }
        self.tree.insert(score, m);
        old
    }

    /// Removes `member`; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let s = match &mut self.dict {
            Some(d) => d.remove(member)?.1,
            None => self.score(member)?,
        };
        self.tree.remove(s, member);
        Some(s)
    }

    /// The 0-based rank of `member` in ascending order, with its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        let s = self.score(member)?;
        self.tree.rank(s, member).map(|r| (r, s))
    }

    /// The item at ascending rank `i`.
    pub fn get(&self, i: usize) -> Option<&Item> {
        self.tree.get(i)
    }

    /// Switches to the skiplist encoding (map + tree).
    pub fn convert_to_skiplist(&mut self) {
        if self.dict.is_some() {
            return;
        }
        let mut d = HashTrie::default();
        for it in self.tree.iter() {
            d.insert(it.member.clone(), it.score);
        }
        self.dict = Some(d);
    }

    /// Switches back to listpack if the set fits the limits (what Redis does
    /// for the results of ZUNIONSTORE, ZRANGESTORE and the like).
    pub fn shrink_if_fits(&mut self, lim: Limits) {
        if self.dict.is_some()
            && self.len() <= lim.entries
            && self.tree.iter().all(|it| it.member.len() <= lim.value)
        {
            self.dict = None;
            // A listpack keeps no negative zero (see `insert`).
            if self
                .tree
                .iter()
                .any(|it| it.score == 0.0 && it.score.is_sign_negative())
            {
                let items: Vec<Item> = self.tree.iter().cloned().collect();
                self.tree = OsTree::new();
                for it in items {
                    self.tree
                        .insert(if it.score == 0.0 { 0.0 } else { it.score }, it.member);
                }
            }
        }
    }

    /// Heap bytes used (MEMORY USAGE and tests).
    pub fn heap_bytes(&self) -> usize {
        self.tree.heap_bytes()
            + self
                .dict
                .as_ref()
                .map_or(0, |d| d.heap_bytes_with(|k, _| k.heap_size()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIM: Limits = Limits {
        entries: 4,
        value: 8,
    };

    #[test]
    fn conversion_and_lookups() {
        let mut z = ZSet::with_hint(1, 1, LIM);
        assert_eq!(z.encoding(), "listpack");
        for (i, m) in ["a", "b", "c", "d"].iter().enumerate() {
            assert_eq!(z.insert(m.as_bytes(), i as f64, LIM), None);
        }
        assert_eq!(z.encoding(), "listpack");
        assert_eq!(z.insert(b"a", 10.0, LIM), Some(0.0));
        assert_eq!(z.rank(b"a"), Some((3, 10.0)));
        z.insert(b"e", 0.5, LIM);
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(z.len(), 5);
        assert_eq!(z.score(b"e"), Some(0.5));
        assert_eq!(z.remove(b"e"), Some(0.5));
        assert_eq!(z.remove(b"e"), None);
        assert_eq!(z.encoding(), "skiplist");
        z.shrink_if_fits(LIM);
        assert_eq!(z.encoding(), "listpack");
        let mut w = ZSet::with_hint(1, 1, LIM);
        w.insert(b"123456789", 1.0, LIM);
        assert_eq!(w.encoding(), "skiplist");
        assert_eq!(ZSet::with_hint(5, 1, LIM).encoding(), "skiplist");
    }
}
