//! `OsTree`: a persistent order-statistic B+tree of `(score, member)` items,
//! the ordered half of a sorted set.
//!
//! Leaves hold up to [`LEAF_MAX`] items in one sorted `Vec` (compact: 32 bytes
//! an item, no per-item node), inner nodes hold up to [`INNER_MAX`] children,
//! each with its subtree size and its largest item. Subtree sizes give rank and
//! select in O(log n); the stored maxima let a descent find a key or a score /
//! lex bound without touching the leaves it skips.
//!
//! Persistence: nodes sit behind counted [`NodeRef`]s (mode [`Locked`]: the
//! counts change under the count lock, entered by every method that may
//! change them: insert, remove, clone, drop); a writer uses `make_mut`, so a
//! node shared with a published version is copied (path copying) and an
//! exclusively owned one is changed in place. Cloning a tree is one count
//! increment.
//!
//! Ordering is Redis's: by score, then by member bytes. Scores are never NaN
//! (the command layer rejects NaN results), so `partial_cmp` is total here;
//! `-0` and `0` compare equal, as C's `<` does.

use std::cmp::Ordering;

use crate::noderef::{prefetched_clone, touch_counts, Counting, Locked, NodeRef};
use crate::SmallBytes;

/// Most items in a leaf; a leaf that grows past it splits in two.
pub const LEAF_MAX: usize = 64;
/// Most children of an inner node.
pub const INNER_MAX: usize = 32;
const LEAF_MIN: usize = LEAF_MAX / 4;
const INNER_MIN: usize = INNER_MAX / 4;

/// One sorted-set element.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// The score (never NaN).
    pub score: f64,
    /// The member.
    pub member: SmallBytes,
}

/// Redis's element order: score, then member bytes.
#[inline]
pub fn cmp_key(a_score: f64, a_member: &[u8], b_score: f64, b_member: &[u8]) -> Ordering {
    match a_score.partial_cmp(&b_score) {
        Some(Ordering::Equal) | None => a_member.cmp(b_member),
        Some(o) => o,
    }
}

#[inline]
fn cmp_item(a: &Item, score: f64, member: &[u8]) -> Ordering {
    cmp_key(a.score, &a.member, score, member)
}

#[derive(Clone, Debug)]
struct Child {
    /// Items in the subtree.
    len: usize,
    /// The subtree's largest item.
    max: Item,
    node: NodeRef<Node, Locked>,
}

#[derive(Debug)]
enum Node {
    Leaf(Vec<Item>),
    Inner(Vec<Child>),
}

impl Clone for Node {
    fn clone(&self) -> Self {
        match self {
            // Up to 64 items (2 KB) or 32 children of 48 bytes, cold on both
            // sides of the copy.
            Node::Leaf(v) => Node::Leaf(prefetched_clone(v)),
            Node::Inner(k) => {
                touch_counts(k.iter().map(|c| &c.node));
                Node::Inner(prefetched_clone(k))
            }
        }
    }
}

impl Node {
    fn len(&self) -> usize {
        match self {
            Node::Leaf(v) => v.len(),
            Node::Inner(k) => k.iter().map(|c| c.len).sum(),
        }
    }

    /// Number of direct entries (items or children).
    fn width(&self) -> usize {
        match self {
            Node::Leaf(v) => v.len(),
            Node::Inner(k) => k.len(),
        }
    }

    fn max(&self) -> Option<&Item> {
        match self {
            Node::Leaf(v) => v.last(),
            Node::Inner(k) => k.last().map(|c| &c.max),
        }
    }

    fn min_width(&self) -> usize {
        match self {
            Node::Leaf(_) => LEAF_MIN,
            Node::Inner(_) => INNER_MIN,
        }
    }
}

impl Child {
    fn of(node: NodeRef<Node, Locked>) -> Option<Child> {
        let max = node.max()?.clone();
        Some(Child {
            len: node.len(),
            max,
            node,
        })
    }
}

/// A persistent order-statistic tree of [`Item`]s. Does not check member
/// uniqueness: the sorted set keeps one item per member.
#[derive(Debug, Default)]
pub struct OsTree {
    root: Option<NodeRef<Node, Locked>>,
}

impl Clone for OsTree {
    fn clone(&self) -> Self {
        let _counts = self.root.as_ref().map(|_| Locked::enter());
        OsTree {
            root: self.root.clone(),
        }
    }
}

impl Drop for OsTree {
    fn drop(&mut self) {
        if self.root.is_some() {
            let _counts = Locked::enter();
            self.root = None;
        }
    }
}

impl OsTree {
    /// An empty tree.
    pub fn new() -> OsTree {
        OsTree { root: None }
    }

    /// Number of items (O(fanout)).
    pub fn len(&self) -> usize {
        self.root.as_ref().map_or(0, |r| r.len())
    }

    /// Whether the tree is empty.
    pub fn is_empty(&self) -> bool {
        self.root.is_none()
    }

    /// Inserts `(score, member)`, which must not be present already.
    pub fn insert(&mut self, score: f64, member: SmallBytes) {
        let _counts = Locked::enter();
        let item = Item { score, member };
        let Some(root) = self.root.as_mut() else {
            self.root = Some(NodeRef::new(Node::Leaf(vec![item])));
            return;
        };
        if let Some(right) = insert_rec(root, item) {
            let left = root.clone();
            let kids: Vec<Child> = [left, right].into_iter().filter_map(Child::of).collect();
            self.root = Some(NodeRef::new(Node::Inner(kids)));
        }
    }

    /// Removes `(score, member)`; returns whether it was there.
    pub fn remove(&mut self, score: f64, member: &[u8]) -> bool {
        let _counts = Locked::enter();
        let Some(root) = self.root.as_mut() else {
            return false;
        };
        if !remove_rec(root, score, member) {
            return false;
        }
        while let Some(r) = self.root.as_ref() {
            match &**r {
                Node::Leaf(v) if v.is_empty() => self.root = None,
                Node::Inner(k) if k.is_empty() => self.root = None,
                Node::Inner(k) if k.len() == 1 => {
                    let only = k[0].node.clone();
                    self.root = Some(only);
                }
                _ => break,
            }
        }
        true
    }

    /// Number of items for which `pred` holds, given that `pred` holds for a
    /// prefix of the order (true, …, true, false, …). O(log n).
    pub fn count_while(&self, pred: impl Fn(&Item) -> bool) -> usize {
        let mut node = match &self.root {
            Some(r) => &**r,
            None => return 0,
        };
        let mut acc = 0;
        loop {
            match node {
                Node::Leaf(v) => return acc + v.partition_point(&pred),
                Node::Inner(kids) => {
                    let mut next = None;
                    for c in kids {
                        if pred(&c.max) {
                            acc += c.len;
                        } else {
                            next = Some(&*c.node);
                            break;
                        }
                    }
                    match next {
                        Some(n) => node = n,
                        None => return acc,
                    }
                }
            }
        }
    }

    /// The 0-based rank of `(score, member)` if present.
    pub fn rank(&self, score: f64, member: &[u8]) -> Option<usize> {
        let r = self.count_while(|x| cmp_item(x, score, member) == Ordering::Less);
        let it = self.get(r)?;
        (cmp_item(it, score, member) == Ordering::Equal).then_some(r)
    }

    /// The item at 0-based rank `i`.
    pub fn get(&self, mut i: usize) -> Option<&Item> {
        let mut node = &**self.root.as_ref()?;
        loop {
            match node {
                Node::Leaf(v) => return v.get(i),
                Node::Inner(kids) => {
                    let mut next = None;
                    for c in kids {
                        if i < c.len {
                            next = Some(&*c.node);
                            break;
                        }
                        i -= c.len;
                    }
                    node = next?;
                }
            }
        }
    }

    /// The smallest item.
    pub fn first(&self) -> Option<&Item> {
        self.get(0)
    }

    /// The largest item.
    pub fn last(&self) -> Option<&Item> {
        self.root.as_ref()?.max()
    }

    /// Items in order starting at rank `start`.
    pub fn iter_from(&self, start: usize) -> Iter<'_> {
        Iter::new(self, start, false)
    }

    /// Items in descending order starting at rank `start` (inclusive) going down.
    pub fn iter_rev_from(&self, start: usize) -> Iter<'_> {
        Iter::new(self, start, true)
    }

    /// All items in order.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0)
    }

    /// Heap bytes used by the nodes (not counting heap members).
    pub fn heap_bytes(&self) -> usize {
        fn rec(n: &Node) -> usize {
            std::mem::size_of::<Node>()
                + 16
                + match n {
                    Node::Leaf(v) => v.capacity() * std::mem::size_of::<Item>(),
                    Node::Inner(k) => {
                        k.capacity() * std::mem::size_of::<Child>()
                            + k.iter().map(|c| rec(&c.node)).sum::<usize>()
                    }
                }
        }
        self.root.as_ref().map_or(0, |r| rec(r))
    }

    /// Checks the structural invariants (tests).
    #[doc(hidden)]
    pub fn check(&self) {
        fn rec(n: &Node, is_root: bool) -> (usize, usize) {
            match n {
                Node::Leaf(v) => {
                    assert!(v.len() <= LEAF_MAX);
                    assert!(is_root || v.len() >= LEAF_MIN, "leaf underfull {}", v.len());
                    for w in v.windows(2) {
                        assert_eq!(cmp_item(&w[0], w[1].score, &w[1].member), Ordering::Less);
                    }
                    (v.len(), 0)
                }
                Node::Inner(k) => {
                    assert!(k.len() <= INNER_MAX);
                    assert!(if is_root {
                        k.len() >= 2
                    } else {
                        k.len() >= INNER_MIN
                    });
                    let mut total = 0;
                    let mut depth = None;
                    for c in k {
                        let (l, d) = rec(&c.node, false);
                        assert_eq!(l, c.len);
                        assert_eq!(Some(&c.max), c.node.max());
                        assert!(depth.is_none() || depth == Some(d));
                        depth = Some(d);
                        total += l;
                    }
                    (total, depth.unwrap_or(0) + 1)
                }
            }
        }
        if let Some(r) = &self.root {
            assert!(r.width() > 0);
            rec(r, true);
        }
    }
}

impl PartialEq for OsTree {
    fn eq(&self, other: &Self) -> bool {
        // Versions share untouched values: a shared root is equal at once.
        match (&self.root, &other.root) {
            (None, None) => return true,
            (Some(a), Some(b)) if NodeRef::ptr_eq(a, b) => return true,
            _ => {}
        }
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

/// Inserts into the subtree; returns a new right sibling if the node split.
fn insert_rec(node: &mut NodeRef<Node, Locked>, item: Item) -> Option<NodeRef<Node, Locked>> {
    match NodeRef::make_mut(node) {
        Node::Leaf(v) => {
            let pos =
                v.partition_point(|x| cmp_item(x, item.score, &item.member) == Ordering::Less);
            if v.len() == v.capacity() {
                // Grow by an eighth, not double: leaves are the bulk of a
                // big set's memory and this keeps them about 90% full.
                v.reserve_exact((v.len() / 8).max(4));
            }
            v.insert(pos, item);
            if v.len() > LEAF_MAX {
                let right = v.split_off(v.len() / 2);
                v.shrink_to_fit();
                return Some(NodeRef::new(Node::Leaf(right)));
            }
            None
        }
        Node::Inner(kids) => {
            let mut i = kids
                .partition_point(|c| cmp_item(&c.max, item.score, &item.member) == Ordering::Less);
            if i == kids.len() {
                i -= 1;
                kids[i].max = item.clone();
            }
            kids[i].len += 1;
            let split = insert_rec(&mut kids[i].node, item)?;
            if let Some(left) = Child::of(kids[i].node.clone()) {
                kids[i] = left;
            }
            if let Some(right) = Child::of(split) {
                kids.insert(i + 1, right);
            }
            if kids.len() > INNER_MAX {
                let right = kids.split_off(kids.len() / 2);
                kids.shrink_to_fit();
                return Some(NodeRef::new(Node::Inner(right)));
            }
            None
        }
    }
}

/// Removes from the subtree; returns whether the item was found.
fn remove_rec(node: &mut NodeRef<Node, Locked>, score: f64, member: &[u8]) -> bool {
    // Look before copying: a miss must not path-copy a shared node.
    match &**node {
        Node::Leaf(v) => {
            if v.binary_search_by(|x| cmp_item(x, score, member)).is_err() {
                return false;
            }
        }
        Node::Inner(kids) => {
            let i = kids.partition_point(|c| cmp_item(&c.max, score, member) == Ordering::Less);
            if i == kids.len() {
                return false;
            }
        }
    }
    match NodeRef::make_mut(node) {
        Node::Leaf(v) => match v.binary_search_by(|x| cmp_item(x, score, member)) {
            Ok(pos) => {
                v.remove(pos);
                true
            }
            Err(_) => false,
        },
        Node::Inner(kids) => {
            let i = kids.partition_point(|c| cmp_item(&c.max, score, member) == Ordering::Less);
            if !remove_rec(&mut kids[i].node, score, member) {
                return false;
            }
            kids[i].len -= 1;
            if kids[i].node.width() < kids[i].node.min_width() {
                rebalance(kids, i);
            } else if let Some(m) = kids[i].node.max() {
                if cmp_item(m, kids[i].max.score, &kids[i].max.member) != Ordering::Equal {
                    kids[i].max = m.clone();
                }
            }
            true
        }
    }
}

/// Fixes the underfull child `i` by merging it with a neighbour and, if the
/// merge overflows, splitting the result evenly again.
fn rebalance(kids: &mut Vec<Child>, i: usize) {
    if kids.len() < 2 {
        if let Some(c) = Child::of(kids[i].node.clone()) {
            kids[i] = c;
        } else {
            kids.remove(i);
        }
        return;
    }
    let a = if i + 1 < kids.len() { i } else { i - 1 };
    let right = kids.remove(a + 1).node;
    let right = NodeRef::unwrap_or_clone(right);
    let left = NodeRef::make_mut(&mut kids[a].node);
    let spill = match (left, right) {
        (Node::Leaf(l), Node::Leaf(mut r)) => {
            l.append(&mut r);
            if l.len() > LEAF_MAX {
                let s = l.split_off(l.len() / 2);
                l.shrink_to_fit();
                Some(Node::Leaf(s))
            } else {
                None
            }
        }
        (Node::Inner(l), Node::Inner(mut r)) => {
            l.append(&mut r);
            if l.len() > INNER_MAX {
                let s = l.split_off(l.len() / 2);
                l.shrink_to_fit();
                Some(Node::Inner(s))
            } else {
                None
            }
        }
        // Siblings are always at the same depth.
        _ => None,
    };
    match Child::of(kids[a].node.clone()) {
        Some(c) => kids[a] = c,
        None => {
            kids.remove(a);
        }
    }
    if let Some(s) = spill.and_then(|s| Child::of(NodeRef::new(s))) {
        kids.insert(a + 1, s);
    }
}

/// An in-order (or reverse-order) iterator over a range of ranks.
pub struct Iter<'a> {
    stack: Vec<(&'a [Child], usize)>,
    leaf: &'a [Item],
    /// Forward: next index in `leaf`. Reverse: items of `leaf` left below.
    pos: usize,
    rev: bool,
}

impl<'a> Iter<'a> {
    fn new(t: &'a OsTree, start: usize, rev: bool) -> Iter<'a> {
        let mut it = Iter {
            stack: Vec::new(),
            leaf: &[],
            pos: 0,
            rev,
        };
        let Some(root) = &t.root else { return it };
        if start >= root.len() {
            return it;
        }
        let mut node: &'a Node = root;
        let mut i = start;
        loop {
            match node {
                Node::Leaf(v) => {
                    it.leaf = v;
                    it.pos = if rev { i + 1 } else { i };
                    return it;
                }
                Node::Inner(kids) => {
                    let mut k = 0;
                    while k + 1 < kids.len() && i >= kids[k].len {
                        i -= kids[k].len;
                        k += 1;
                    }
                    it.stack.push((kids, k));
                    node = &kids[k].node;
                }
            }
        }
    }

    /// Descends to the leftmost (or rightmost) leaf of `node`.
    fn descend(&mut self, mut node: &'a Node) {
        loop {
            match node {
                Node::Leaf(v) => {
                    self.leaf = v;
                    self.pos = if self.rev { v.len() } else { 0 };
                    return;
                }
                Node::Inner(kids) => {
                    let k = if self.rev { kids.len() - 1 } else { 0 };
                    self.stack.push((kids, k));
                    node = &kids[k].node;
                }
            }
        }
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Item;

    fn next(&mut self) -> Option<&'a Item> {
        loop {
            if self.rev {
                if self.pos > 0 {
                    self.pos -= 1;
                    return self.leaf.get(self.pos);
                }
            } else if self.pos < self.leaf.len() {
                self.pos += 1;
                return self.leaf.get(self.pos - 1);
            }
            // Move to the neighbouring leaf.
            loop {
                let top = self.stack.last_mut()?;
                let kids: &'a [Child] = top.0;
                let next = if self.rev && top.1 > 0 {
                    Some(top.1 - 1)
                } else if !self.rev && top.1 + 1 < kids.len() {
                    Some(top.1 + 1)
                } else {
                    None
                };
                match next {
                    Some(k) => {
                        top.1 = k;
                        self.descend(&kids[k].node);
                        break;
                    }
                    None => {
                        self.stack.pop();
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// Model key: score bits made order-preserving, then member.
    fn mkey(score: f64, m: &[u8]) -> (i64, Vec<u8>) {
        let b = score.to_bits() as i64;
        (if b < 0 { b ^ i64::MAX } else { b }, m.to_vec())
    }

    fn check_against(t: &OsTree, model: &BTreeSet<(i64, Vec<u8>)>, items: &[(f64, Vec<u8>)]) {
        t.check();
        assert_eq!(t.len(), model.len());
        let got: Vec<(i64, Vec<u8>)> = t.iter().map(|x| mkey(x.score, &x.member)).collect();
        let want: Vec<(i64, Vec<u8>)> = model.iter().cloned().collect();
        assert_eq!(got, want);
        let rev: Vec<(i64, Vec<u8>)> = t
            .iter_rev_from(t.len().saturating_sub(1))
            .map(|x| mkey(x.score, &x.member))
            .collect();
        assert_eq!(rev, want.iter().rev().cloned().collect::<Vec<_>>());
        for (s, m) in items.iter().step_by(3) {
            let k = mkey(*s, m);
            let r = t.rank(*s, m);
            match want.binary_search(&k) {
                Ok(i) => {
                    assert_eq!(r, Some(i));
                    assert_eq!(t.get(i).map(|x| mkey(x.score, &x.member)), Some(k.clone()));
                    let tail: Vec<_> = t.iter_from(i).map(|x| mkey(x.score, &x.member)).collect();
                    assert_eq!(tail, want[i..].to_vec());
                    let head: Vec<_> = t
                        .iter_rev_from(i)
                        .map(|x| mkey(x.score, &x.member))
                        .collect();
                    assert_eq!(head, want[..=i].iter().rev().cloned().collect::<Vec<_>>());
                }
                Err(_) => assert_eq!(r, None),
            }
            let below = t.count_while(|x| x.score < *s);
            assert_eq!(below, want.iter().filter(|w| w.0 < mkey(*s, b"").0).count());
        }
    }

    #[test]
    fn sequential_insert_remove() {
        let mut t = OsTree::new();
        let mut model = BTreeSet::new();
        let mut items = Vec::new();
        for i in 0..5000u32 {
            let s = (i % 97) as f64;
            let m = i.to_be_bytes().to_vec();
            t.insert(s, SmallBytes::from(&m[..]));
            model.insert(mkey(s, &m));
            items.push((s, m));
        }
        check_against(&t, &model, &items[..200]);
        let snapshot = t.clone();
        for (s, m) in items.iter().step_by(3) {
            assert!(t.remove(*s, m));
            assert!(!t.remove(*s, m));
            model.remove(&mkey(*s, m));
        }
        check_against(&t, &model, &items[..300]);
        assert_eq!(snapshot.len(), 5000);
        snapshot.check();
        for (s, m) in &items {
            t.remove(*s, m);
        }
        assert!(t.is_empty());
        assert_eq!(t.iter().count(), 0);
    }

    #[test]
    fn snapshots_dropped_on_other_threads_leave_the_tree_whole() {
        // Node counts change under the count lock (`Locked`): a writer
        // inserting and removing while reader threads drop their snapshots.
        // A lost count change frees a node the writer still uses (a crash or
        // a failed check) or leaks it.
        let mut t = OsTree::new();
        let (tx, rx) = std::sync::mpsc::sync_channel::<OsTree>(16);
        let reader = std::thread::spawn(move || {
            let mut seen = 0usize;
            while let Ok(snap) = rx.recv() {
                seen += snap.iter().take(50).count();
            }
            seen
        });
        for round in 0..200u32 {
            for j in 0..50u32 {
                let m = (round * 50 + j).to_be_bytes();
                t.insert(f64::from(j % 7), SmallBytes::from(&m[..]));
            }
            if round >= 2 {
                for j in 0..25u32 {
                    let m = ((round - 2) * 50 + j).to_be_bytes();
                    assert!(t.remove(f64::from(j % 7), &m));
                }
            }
            tx.send(t.clone()).unwrap();
        }
        drop(tx);
        assert!(reader.join().unwrap() > 0);
        t.check();
        assert_eq!(t.len(), 200 * 50 - 198 * 25);
    }

    #[test]
    fn random_order_three_levels() {
        // Enough items for inner-node splits and merges at two levels.
        let mut t = OsTree::new();
        let mut model = BTreeSet::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut items = Vec::new();
        for _ in 0..150_000 {
            let s = (next() % 1000) as f64;
            let m = (next() % 1_000_000).to_le_bytes().to_vec();
            if model.insert(mkey(s, &m)) {
                t.insert(s, SmallBytes::from(&m[..]));
                items.push((s, m));
            }
        }
        t.check();
        let snapshot = t.clone();
        for (i, (s, m)) in items.iter().enumerate() {
            if next() % 10 != 0 {
                assert!(t.remove(*s, m), "{i}");
                model.remove(&mkey(*s, m));
            }
        }
        t.check();
        check_against(&t, &model, &items[..50]);
        assert_eq!(snapshot.len(), items.len());
        snapshot.check();
    }

    proptest! {
        // Each case checks ranks and iteration from many positions: O(n²).
        #![proptest_config(ProptestConfig::with_cases(96))]
        #[test]
        fn matches_model(ops in prop::collection::vec((any::<bool>(), -50i32..50, 0u16..400), 1..1500)) {
            let mut t = OsTree::new();
            let mut model = BTreeSet::new();
            let mut items = Vec::new();
            for (ins, s, m) in ops {
                let s = s as f64 / 4.0;
                let m = m.to_le_bytes().to_vec();
                let k = mkey(s, &m);
                if ins {
                    if model.insert(k) {
                        t.insert(s, SmallBytes::from(&m[..]));
                    }
                } else {
                    prop_assert_eq!(t.remove(s, &m), model.remove(&k));
                }
                items.push((s, m));
            }
            check_against(&t, &model, &items);
        }
    }
}
