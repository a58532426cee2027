//! A list value (Redis type `list`): a persistent RRB vector of byte strings.
//!
//! `imbl::Vector` is a relaxed radix balanced tree: cloning is O(1), indexing,
//! pushing and popping at either end are O(1) amortised or O(log n), and
//! splitting, concatenating and inserting in the middle are O(log n). A write
//! to a list held by a published version copies only the touched path.
//!
//! Redis 7.0 encodes every list as a quicklist (listpack-encoded lists
//! arrived in 7.2), so [`List::encoding`] always answers `quicklist`.

use std::sync::Arc;

use imbl::Vector;

use crate::SmallBytes;

/// A list value. The vector sits behind an `Arc` so that [`crate::Value`]
/// stays 32 bytes and so that cloning it is one count increment: a trie
/// node holding the list is copied (with every entry in it) on each write
/// to any key of that node, and a `Box` made each copy allocate and clone
/// the vector's root (its five chunk pointers). A write to the list itself
/// clones the vector only when the `Arc` is shared.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct List {
    items: Arc<Vector<SmallBytes>>,
}

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The head (index 0): LPUSH, LPOP.
    Left,
    /// The tail: RPUSH, RPOP.
    Right,
}

impl List {
    /// An empty list.
    pub fn new() -> List {
        List::default()
    }

    /// The encoding OBJECT ENCODING reports for this value (always
    /// `quicklist` in Redis 7.0).
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// The vector, for a change: cloned first if another version shares it.
    fn items_mut(&mut self) -> &mut Vector<SmallBytes> {
        Arc::make_mut(&mut self.items)
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the list has no element.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Adds `v` at `end`.
    pub fn push(&mut self, end: End, v: SmallBytes) {
        match end {
            End::Left => self.items_mut().push_front(v),
            End::Right => self.items_mut().push_back(v),
        }
    }

    /// Removes and returns the element at `end`.
    pub fn pop(&mut self, end: End) -> Option<SmallBytes> {
        match end {
            End::Left => self.items_mut().pop_front(),
            End::Right => self.items_mut().pop_back(),
        }
    }

    /// The element at `i` (0-based from the head).
    pub fn get(&self, i: usize) -> Option<&SmallBytes> {
        self.items.get(i)
    }

    /// Replaces the element at `i`; false when `i` is out of range.
    pub fn set(&mut self, i: usize, v: SmallBytes) -> bool {
        if i >= self.items.len() {
            return false;
        }
        self.items_mut().set(i, v);
        true
    }

    /// Inserts `v` before position `i` (`i == len` appends).
    pub fn insert(&mut self, i: usize, v: SmallBytes) {
        let i = i.min(self.items.len());
        self.items_mut().insert(i, v);
    }

    /// Removes and returns the element at `i`.
    pub fn remove(&mut self, i: usize) -> Option<SmallBytes> {
        if i >= self.items.len() {
            return None;
        }
        Some(self.items_mut().remove(i))
    }

    /// Keeps only the elements in `start..end` (clamped to the list).
    pub fn keep_range(&mut self, start: usize, end: usize) {
        let len = self.items.len();
        let end = end.min(len);
        let start = start.min(end);
        if start == 0 && end == len {
            return;
        }
        let mut mid = self.items.skip(start);
        mid.truncate(end - start);
        self.items = Arc::new(mid);
    }

    /// Elements from the head.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &SmallBytes> + ExactSizeIterator {
        self.items.iter()
    }

    /// Elements in `start..end` (clamped), from the head, without walking
    /// the elements before `start`.
    pub fn range(&self, start: usize, end: usize) -> impl DoubleEndedIterator<Item = &SmallBytes> {
        let end = end.min(self.items.len());
        let start = start.min(end);
        self.items.focus().narrow(start..end).into_iter()
    }

    /// Removes up to `count` elements equal to `v` (all when `count` is 0),
    /// scanning from the tail when `from_tail`. Returns how many went.
    pub fn remove_eq(&mut self, v: &[u8], count: usize, from_tail: bool) -> usize {
        let limit = if count == 0 { usize::MAX } else { count };
        let mut hits: Vec<usize> = Vec::new();
        if from_tail {
            for (i, e) in self.items.iter().enumerate().rev() {
                if hits.len() == limit {
                    break;
                }
                if e.as_slice() == v {
                    hits.push(i);
                }
            }
        } else {
            for (i, e) in self.items.iter().enumerate() {
                if hits.len() == limit {
                    break;
                }
                if e.as_slice() == v {
                    hits.push(i);
                }
            }
            hits.reverse();
        }
        // Descending indexes: each removal leaves the others in place.
        for &i in &hits {
            self.items_mut().remove(i);
        }
        hits.len()
    }

    /// A list holding `items` in order.
    pub fn from_items(items: impl IntoIterator<Item = SmallBytes>) -> List {
        List {
            items: Arc::new(items.into_iter().collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Push(bool, u8),
        Pop(bool),
        Set(usize, u8),
        Insert(usize, u8),
        Remove(usize),
        Keep(usize, usize),
        RemoveEq(u8, usize, bool),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (any::<bool>(), 0u8..4).prop_map(|(l, v)| Op::Push(l, v)),
            2 => any::<bool>().prop_map(Op::Pop),
            1 => (0usize..80, 0u8..4).prop_map(|(i, v)| Op::Set(i, v)),
            1 => (0usize..80, 0u8..4).prop_map(|(i, v)| Op::Insert(i, v)),
            1 => (0usize..80).prop_map(Op::Remove),
            1 => (0usize..80, 0usize..80).prop_map(|(a, b)| Op::Keep(a, b)),
            1 => (0u8..4, 0usize..3, any::<bool>()).prop_map(|(v, c, t)| Op::RemoveEq(v, c, t)),
        ]
    }

    fn val(v: u8) -> SmallBytes {
        // Mix inline and heap-allocated elements.
        if v.is_multiple_of(2) {
            SmallBytes::from(vec![v; 1])
        } else {
            SmallBytes::from(vec![v; 40])
        }
    }

    proptest! {
        #[test]
        fn behaves_like_a_vec(ops in proptest::collection::vec(op(), 0..300)) {
            let mut l = List::new();
            let mut m: Vec<SmallBytes> = Vec::new();
            let mut snapshots = Vec::new();
            for o in ops {
                // Old clones must never change (persistence).
                snapshots.push((l.clone(), m.clone()));
                match o {
                    Op::Push(left, v) => {
                        if left { l.push(End::Left, val(v)); m.insert(0, val(v)); }
                        else { l.push(End::Right, val(v)); m.push(val(v)); }
                    }
                    Op::Pop(left) => {
                        let (a, b) = if left {
                            (l.pop(End::Left), if m.is_empty() { None } else { Some(m.remove(0)) })
                        } else {
                            (l.pop(End::Right), m.pop())
                        };
                        prop_assert_eq!(a, b);
                    }
                    Op::Set(i, v) => {
                        let ok = i < m.len();
                        if ok { m[i] = val(v); }
                        prop_assert_eq!(l.set(i, val(v)), ok);
                    }
                    Op::Insert(i, v) => {
                        let i = i.min(m.len());
                        m.insert(i, val(v));
                        l.insert(i, val(v));
                    }
                    Op::Remove(i) => {
                        let b = if i < m.len() { Some(m.remove(i)) } else { None };
                        prop_assert_eq!(l.remove(i), b);
                    }
                    Op::Keep(a, b) => {
                        let end = b.min(m.len());
                        let start = a.min(end);
                        m = m[start..end].to_vec();
                        l.keep_range(a, b);
                    }
                    Op::RemoveEq(v, count, tail) => {
                        let target = val(v);
                        let limit = if count == 0 { usize::MAX } else { count };
                        let mut n = 0;
                        if tail {
                            let mut i = m.len();
                            while i > 0 && n < limit {
                                i -= 1;
                                if m[i] == target { m.remove(i); n += 1; }
                            }
                        } else {
                            let mut i = 0;
                            while i < m.len() && n < limit {
                                if m[i] == target { m.remove(i); n += 1; } else { i += 1; }
                            }
                        }
                        prop_assert_eq!(l.remove_eq(&target, count, tail), n);
                    }
                }
                prop_assert_eq!(l.len(), m.len());
                prop_assert!(l.iter().eq(m.iter()));
                let (a, b) = (m.len() / 3, m.len() * 2 / 3 + 1);
                prop_assert!(l.range(a, b).eq(m[a.min(m.len())..b.min(m.len())].iter()));
            }
            for (l, m) in snapshots {
                prop_assert!(l.iter().eq(m.iter()));
            }
        }
    }
}
