//! `HashTrie`: a persistent (immutable, structurally shared) CHAMP hash map.
//!
//! Layout: every node keeps two bitmaps (`datamap` for inline entries, `nodemap` for child
//! nodes) and only the slots that are present, in two exact-size boxed slices. A path copy
//! therefore moves `present entries + 8 bytes per child`, not a fixed 32-slot array.
//!
//! Hashes are 64-bit and consumed from the most significant bits first, 5 bits per level, so
//! the trie's in-order traversal is ascending numeric hash order. That makes a hash a stable
//! position for Redis `SCAN` cursors ([`HashTrie::iter_from`], [`HashTrie::scan`]).
//! Entries whose full 64-bit hashes are equal share a collision node.
//!
//! Persistence: nodes are linked by counted pointers ([`NodeRef`], in one of the two counting
//! modes of [`crate::noderef`]); `clone` is one count increment on the root. Writers mutate
//! nodes in place when their count is one and path-copy them when shared, so a published
//! version is never changed. Every method that may change a count enters the mode's guard
//! (for `Locked`, the count lock) for its whole run.
//! The structure is kept canonical (CHAMP): a sub-node always holds at least two entries in
//! its subtree; removals collapse single-entry sub-nodes back into their parent.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::mem;
use std::num::NonZeroUsize;
use std::sync::OnceLock;

use crate::noderef::{prefetch_copy, prefetched_clone, touch_counts, Atomic, Counting, NodeRef};
use crate::siphash::Sip12Keys;

/// Last level that still indexes hash bits: levels 0..=11 take 5 bits each (60 bits), level 12
/// takes the remaining 4. Distinct hashes always diverge at or before this level.
const MAX_LEVEL: u32 = 12;
/// Upper bound on the node depth on any path (levels 0..=12 plus a collision node).
const MAX_DEPTH: usize = MAX_LEVEL as usize + 2;

/// The process-wide hash used by every [`HashTrie`]: SipHash-1-2 (as Redis's dictionaries)
/// with random keys chosen once per process ([`crate::siphash`]). Hash values (and therefore
/// scan cursors) are not stable across restarts.
#[inline]
pub fn hash_of<Q: Hash + ?Sized>(q: &Q) -> u64 {
    static STATE: OnceLock<Sip12Keys> = OnceLock::new();
    STATE.get_or_init(Sip12Keys::random).hash_one(q)
}

/// Slot index (0..32) of `hash` at `level`, most significant bits first. At the last level
/// only 4 bits remain; shifting them left keeps slot order equal to hash order.
#[inline]
fn index(hash: u64, level: u32) -> u32 {
    debug_assert!(level <= MAX_LEVEL);
    ((((hash as u128) << (5 * (level + 1))) >> 64) as u32) & 31
}

/// Position of `bit`'s slot within the compact array described by `map`.
#[inline]
fn rank(map: u32, bit: u32) -> usize {
    (map & (bit - 1)).count_ones() as usize
}

/// A key and its value. The key's hash is not stored: lookups compare keys
/// (short keys are inline), and splits and SCAN cursors re-hash the few keys
/// they need, so that every node copy moves 8 bytes less per entry (the
/// keyspace's entries are 64 bytes, one cache line).
#[derive(Clone)]
struct Entry<K, V> {
    key: K,
    value: V,
}

struct Branch<K, V, C: Counting> {
    datamap: u32,
    nodemap: u32,
    entries: Box<[Entry<K, V>]>,
    children: Box<[Link<K, V, C>]>,
}

#[derive(Clone)]
enum Node<K, V, C: Counting> {
    Branch(Branch<K, V, C>),
    /// Two or more entries with the identical 64-bit hash. Never the root.
    Collision(Box<[Entry<K, V>]>),
}

/// A counted link to a node (see [`crate::noderef`] for the two counting modes).
type Link<K, V, C> = NodeRef<Node<K, V, C>, C>;

thread_local! {
    /// Branch nodes this thread copied from shared ones (path copies), for
    /// [`take_copies`].
    static COPIES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

#[inline]
fn count_copy() {
    COPIES.with(|c| c.set(c.get().wrapping_add(1)));
}

/// Branch nodes of any trie this thread has path-copied since the last call
/// (and resets the count). A write transaction's count is the number of nodes
/// its commit makes garbage: what destroying the version it replaces frees
/// ([`crate::Store::with_reaper`]).
pub fn take_copies() -> usize {
    COPIES.with(|c| c.replace(0))
}

impl<K: Clone, V: Clone, C: Counting> Clone for Branch<K, V, C> {
    fn clone(&self) -> Self {
        count_copy();
        Branch {
            datamap: self.datamap,
            nodemap: self.nodemap,
            entries: prefetched_clone(&self.entries).into_boxed_slice(),
            children: {
                touch_counts(&self.children);
                self.children.clone()
            },
        }
    }
}

impl<K, V, C: Counting> Branch<K, V, C> {
    fn empty() -> Self {
        Branch {
            datamap: 0,
            nodemap: 0,
            entries: Box::default(),
            children: Box::default(),
        }
    }
}

// ---- slice helpers: build each new boxed slice with exactly one allocation ----

fn cloned_with_insert<T: Clone>(src: &[T], pos: usize, item: T) -> Box<[T]> {
    let mut v = Vec::with_capacity(src.len() + 1);
    prefetch_copy(v.as_ptr(), src);
    v.extend_from_slice(&src[..pos]);
    v.push(item);
    v.extend_from_slice(&src[pos..]);
    v.into_boxed_slice()
}

fn cloned_without<T: Clone>(src: &[T], pos: usize) -> Box<[T]> {
    let mut v = Vec::with_capacity(src.len() - 1);
    prefetch_copy(v.as_ptr(), src);
    v.extend_from_slice(&src[..pos]);
    v.extend_from_slice(&src[pos + 1..]);
    v.into_boxed_slice()
}

fn insert_owned<T>(b: &mut Box<[T]>, pos: usize, item: T) {
    let mut v = mem::take(b).into_vec();
    // Exact growth so `into_boxed_slice` does not reallocate a second time.
    v.reserve_exact(1);
    v.insert(pos, item);
    *b = v.into_boxed_slice();
}

fn remove_owned<T>(b: &mut Box<[T]>, pos: usize) -> T {
    let mut v = mem::take(b).into_vec();
    let item = v.remove(pos);
    *b = v.into_boxed_slice();
    item
}

/// A sub-trie holding exactly `a` and `b` (distinct keys, hashes `ha` and
/// `hb`), rooted at `level`.
fn merge<K, V, C: Counting>(
    a: Entry<K, V>,
    ha: u64,
    b: Entry<K, V>,
    hb: u64,
    level: u32,
) -> Node<K, V, C> {
    if ha == hb {
        return Node::Collision(vec![a, b].into_boxed_slice());
    }
    let (ia, ib) = (index(ha, level), index(hb, level));
    if ia == ib {
        Node::Branch(Branch {
            datamap: 0,
            nodemap: 1 << ia,
            entries: Box::default(),
            children: vec![NodeRef::new(merge(a, ha, b, hb, level + 1))].into_boxed_slice(),
        })
    } else {
        let entries = if ia < ib { vec![a, b] } else { vec![b, a] };
        Node::Branch(Branch {
            datamap: (1 << ia) | (1 << ib),
            nodemap: 0,
            entries: entries.into_boxed_slice(),
            children: Box::default(),
        })
    }
}

/// A sub-trie at `level` holding the collision node `coll` (hash `ch`) and
/// entry `e` (hash `eh`).
fn merge_collision<K, V, C: Counting>(
    coll: Link<K, V, C>,
    ch: u64,
    e: Entry<K, V>,
    eh: u64,
    level: u32,
) -> Node<K, V, C> {
    debug_assert_ne!(ch, eh);
    let (ic, ie) = (index(ch, level), index(eh, level));
    if ic == ie {
        Node::Branch(Branch {
            datamap: 0,
            nodemap: 1 << ic,
            entries: Box::default(),
            children: vec![NodeRef::new(merge_collision(coll, ch, e, eh, level + 1))]
                .into_boxed_slice(),
        })
    } else {
        Node::Branch(Branch {
            datamap: 1 << ie,
            nodemap: 1 << ic,
            entries: vec![e].into_boxed_slice(),
            children: vec![coll].into_boxed_slice(),
        })
    }
}

/// Inserts `e`, whose key hashes to `hash`, below `slot` at `level`.
fn insert_rec<K: Hash + Eq + Clone, V: Clone, C: Counting>(
    slot: &mut Link<K, V, C>,
    e: Entry<K, V>,
    hash: u64,
    level: u32,
) -> Option<V> {
    match &**slot {
        Node::Collision(es) => {
            let ch = hash_of(&es[0].key);
            if ch != hash {
                let coll = NodeRef::clone(slot);
                *slot = NodeRef::new(merge_collision(coll, ch, e, hash, level));
                return None;
            }
            if let Some(p) = es.iter().position(|x| x.key == e.key) {
                let Node::Collision(es) = NodeRef::make_mut(slot) else {
                    unreachable!()
                };
                return Some(mem::replace(&mut es[p].value, e.value));
            }
            match NodeRef::get_mut(slot) {
                Some(Node::Collision(es)) => insert_owned(es, es.len(), e),
                _ => {
                    let Node::Collision(es) = &**slot else {
                        unreachable!()
                    };
                    let n = cloned_with_insert(es, es.len(), e);
                    *slot = NodeRef::new(Node::Collision(n));
                }
            }
            None
        }
        Node::Branch(b) => {
            let bit = 1u32 << index(hash, level);
            if b.nodemap & bit != 0 {
                let pos = rank(b.nodemap, bit);
                // Only a pointer changes here, so copy-then-modify costs nothing extra.
                let Node::Branch(b) = NodeRef::make_mut(slot) else {
                    unreachable!()
                };
                return insert_rec(&mut b.children[pos], e, hash, level + 1);
            }
            let pos = rank(b.datamap, bit);
            if b.datamap & bit == 0 {
                match NodeRef::get_mut(slot) {
                    Some(Node::Branch(b)) => {
                        insert_owned(&mut b.entries, pos, e);
                        b.datamap |= bit;
                    }
                    _ => {
                        let Node::Branch(b) = &**slot else {
                            unreachable!()
                        };
                        // Shared: build the grown copy directly instead of clone + grow.
                        let nb = Branch {
                            datamap: b.datamap | bit,
                            nodemap: b.nodemap,
                            entries: cloned_with_insert(&b.entries, pos, e),
                            children: {
                                touch_counts(&b.children);
                                b.children.clone()
                            },
                        };
                        count_copy();
                        *slot = NodeRef::new(Node::Branch(nb));
                    }
                }
                return None;
            }
            let cur = &b.entries[pos];
            if cur.key == e.key {
                let Node::Branch(b) = NodeRef::make_mut(slot) else {
                    unreachable!()
                };
                return Some(mem::replace(&mut b.entries[pos].value, e.value));
            }
            // Slot taken by another key: push both down into a new sub-node.
            let old_hash = hash_of(&cur.key);
            let npos = rank(b.nodemap, bit);
            match NodeRef::get_mut(slot) {
                Some(Node::Branch(b)) => {
                    let old = remove_owned(&mut b.entries, pos);
                    let child = NodeRef::new(merge(old, old_hash, e, hash, level + 1));
                    insert_owned(&mut b.children, npos, child);
                    b.datamap ^= bit;
                    b.nodemap |= bit;
                }
                _ => {
                    let Node::Branch(b) = &**slot else {
                        unreachable!()
                    };
                    let old = b.entries[pos].clone();
                    let child = NodeRef::new(merge(old, old_hash, e, hash, level + 1));
                    let nb = Branch {
                        datamap: b.datamap ^ bit,
                        nodemap: b.nodemap | bit,
                        entries: cloned_without(&b.entries, pos),
                        children: {
                            touch_counts(&b.children);
                            cloned_with_insert(&b.children, npos, child)
                        },
                    };
                    count_copy();
                    *slot = NodeRef::new(Node::Branch(nb));
                }
            }
            None
        }
    }
}

/// Removes the entry for `k`, which the caller has checked is present.
fn remove_rec<K, V, C: Counting, Q>(
    slot: &mut Link<K, V, C>,
    hash: u64,
    k: &Q,
    level: u32,
) -> Entry<K, V>
where
    K: Borrow<Q> + Clone,
    V: Clone,
    Q: Eq + ?Sized,
{
    match &**slot {
        Node::Collision(es) => {
            let pos = es
                .iter()
                .position(|x| x.key.borrow() == k)
                .expect("remove_rec: key checked present");
            match NodeRef::get_mut(slot) {
                Some(Node::Collision(es)) => remove_owned(es, pos),
                _ => {
                    let Node::Collision(es) = &**slot else {
                        unreachable!()
                    };
                    let removed = es[pos].clone();
                    *slot = NodeRef::new(Node::Collision(cloned_without(es, pos)));
                    removed
                }
            }
        }
        Node::Branch(b) => {
            let bit = 1u32 << index(hash, level);
            if b.datamap & bit != 0 {
                let pos = rank(b.datamap, bit);
                return match NodeRef::get_mut(slot) {
                    Some(Node::Branch(b)) => {
                        b.datamap ^= bit;
                        remove_owned(&mut b.entries, pos)
                    }
                    _ => {
                        let Node::Branch(b) = &**slot else {
                            unreachable!()
                        };
                        let removed = b.entries[pos].clone();
                        let nb = Branch {
                            datamap: b.datamap ^ bit,
                            nodemap: b.nodemap,
                            entries: cloned_without(&b.entries, pos),
                            children: {
                                touch_counts(&b.children);
                                b.children.clone()
                            },
                        };
                        count_copy();
                        *slot = NodeRef::new(Node::Branch(nb));
                        removed
                    }
                };
            }
            let pos = rank(b.nodemap, bit);
            let Node::Branch(b) = NodeRef::make_mut(slot) else {
                unreachable!()
            };
            let removed = remove_rec(&mut b.children[pos], hash, k, level + 1);
            if let Some(single) = take_singleton(&mut b.children[pos]) {
                // Canonical form: a sub-node left with one entry is inlined into its parent.
                remove_owned(&mut b.children, pos);
                b.nodemap ^= bit;
                b.datamap |= bit;
                let dpos = rank(b.datamap, bit);
                insert_owned(&mut b.entries, dpos, single);
            } else {
                hoist_collision(&mut b.children[pos]);
            }
            removed
        }
    }
}

/// Canonical form: a sub-node whose only content is a collision node is replaced by that
/// collision node, as a fresh build would have placed it (at the level the hashes diverge
/// from the other entries, not below a chain of single-child branches).
fn hoist_collision<K, V, C: Counting>(slot: &mut Link<K, V, C>) {
    let hoist = match &**slot {
        Node::Branch(b) => {
            b.entries.is_empty()
                && b.children.len() == 1
                && matches!(*b.children[0], Node::Collision(_))
        }
        _ => false,
    };
    if hoist {
        if let Node::Branch(b) = &**slot {
            let c = NodeRef::clone(&b.children[0]);
            *slot = c;
        }
    }
}

/// If the sub-node in `slot` holds exactly one entry (and no children), takes it out.
fn take_singleton<K: Clone, V: Clone, C: Counting>(
    slot: &mut Link<K, V, C>,
) -> Option<Entry<K, V>> {
    let single = match &**slot {
        Node::Branch(b) => b.children.is_empty() && b.entries.len() == 1,
        Node::Collision(es) => es.len() == 1,
    };
    if !single {
        return None;
    }
    // After a removal below, this node is fresh or unique, so the entry is usually moved.
    Some(match NodeRef::get_mut(slot) {
        Some(Node::Branch(b)) => remove_owned(&mut b.entries, 0),
        Some(Node::Collision(es)) => remove_owned(es, 0),
        None => match &**slot {
            Node::Branch(b) => b.entries[0].clone(),
            Node::Collision(es) => es[0].clone(),
        },
    })
}

/// A persistent hash map (CHAMP trie) with O(1) snapshots.
///
/// `clone` shares the whole structure; later writes to either copy path-copy only the nodes
/// they touch. Iteration is in ascending order of [`hash_of`] of the keys.
pub struct HashTrie<K, V, C: Counting = Atomic> {
    /// None while empty: an empty map (15 of the 16 databases, most expiry
    /// indexes) is cloned and dropped with every version without a refcount
    /// operation (those cost ~0.4 µs per commit for 15 empty databases).
    root: Option<Link<K, V, C>>,
    /// The number of entries plus one: the zero this never holds is the niche
    /// that `Option<HashTrie>` and the value enums use (the root's `Option`
    /// took the `Arc`'s).
    len_plus_one: NonZeroUsize,
}

impl<K, V, C: Counting> Clone for HashTrie<K, V, C> {
    /// O(1): one refcount increment on the root (none when empty).
    fn clone(&self) -> Self {
        let _counts = self.root.as_ref().map(|_| C::enter());
        HashTrie {
            root: self.root.clone(),
            len_plus_one: self.len_plus_one,
        }
    }
}

impl<K, V, C: Counting> Drop for HashTrie<K, V, C> {
    fn drop(&mut self) {
        if let Some(root) = self.root.take() {
            release(root);
        }
    }
}

/// Nodes a trie's drop frees per hold of the count lock ([`crate::noderef`]).
const RELEASE_CHUNK: usize = 4096;

/// Drops a trie's root: frees every node only it held, at most
/// [`RELEASE_CHUNK`] per hold of the count lock, so a writer waits for one
/// chunk at most however big the trie.
fn release<K, V, C: Counting>(root: Link<K, V, C>) {
    // Allocated only for a trie bigger than one chunk.
    let mut spill = Vec::new();
    let mut next = Some(root);
    while let Some(link) = next.or_else(|| spill.pop()) {
        let _counts = C::enter();
        let mut budget = RELEASE_CHUNK;
        release_rec(link, &mut budget, &mut spill);
        while budget > 0 {
            let Some(link) = spill.pop() else { break };
            release_rec(link, &mut budget, &mut spill);
        }
        next = None;
    }
}

fn release_rec<K, V, C: Counting>(
    link: Link<K, V, C>,
    budget: &mut usize,
    spill: &mut Vec<Link<K, V, C>>,
) {
    if *budget == 0 {
        // Moved, not dropped: no count changes until a later hold.
        spill.push(link);
        return;
    }
    *budget -= 1;
    // The node's entries drop with it here; its children are released one by one.
    if let Some(Node::Branch(b)) = NodeRef::into_last(link) {
        for c in b.children.into_vec() {
            release_rec(c, budget, spill);
        }
    }
}

impl<K, V, C: Counting> Default for HashTrie<K, V, C> {
    fn default() -> Self {
        HashTrie {
            root: None,
            len_plus_one: NonZeroUsize::MIN,
        }
    }
}

impl<K, V> HashTrie<K, V> {
    /// An empty map with [`Atomic`] counts (any other mode: `default()`).
    pub fn new() -> Self {
        Self::default()
    }
}

impl<K, V, C: Counting> HashTrie<K, V, C> {
    /// Number of entries.
    #[inline]
    pub fn len(&self) -> usize {
        self.len_plus_one.get() - 1
    }

    /// Records that the map holds `n` entries.
    #[inline]
    fn set_len(&mut self, n: usize) {
        self.len_plus_one = NonZeroUsize::MIN.saturating_add(n);
    }

    /// True when the map has no entries.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when both maps share the same root (so are equal without looking further).
    pub fn ptr_eq(&self, other: &Self) -> bool {
        match (&self.root, &other.root) {
            (Some(a), Some(b)) => NodeRef::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }

    /// All entries in ascending hash order.
    pub fn iter(&self) -> Iter<'_, K, V, C> {
        let mut stack = Vec::with_capacity(MAX_DEPTH);
        // The root is always a branch (collision nodes are never the root).
        if let Some(Node::Branch(b)) = self.root.as_deref() {
            stack.push(Frame::Branch {
                b,
                todo: b.datamap | b.nodemap,
            });
        }
        Iter {
            raw: RawIter { stack },
            remaining: self.len(),
        }
    }

    /// All keys in ascending hash order.
    pub fn keys(&self) -> Keys<'_, K, V, C> {
        Keys(self.iter())
    }

    /// All values in ascending hash order of their keys.
    pub fn values(&self) -> Values<'_, K, V, C> {
        Values(self.iter())
    }

    /// Estimate of heap bytes owned by the nodes (node structs, entry and child arrays, count
    /// headers), excluding whatever keys and values themselves own on the heap. Nodes shared
    /// with other versions are counted in full.
    pub fn heap_bytes(&self) -> usize {
        self.heap_bytes_with(|_, _| 0)
    }

    /// Like [`HashTrie::heap_bytes`], adding `f(key, value)` for every entry (e.g. the heap
    /// size of keys and values).
    pub fn heap_bytes_with<F: Fn(&K, &V) -> usize>(&self, f: F) -> usize {
        fn walk<K, V, C: Counting, F: Fn(&K, &V) -> usize>(n: &Node<K, V, C>, f: &F) -> usize {
            let arc = 2 * mem::size_of::<usize>() + mem::size_of::<Node<K, V, C>>();
            let es = mem::size_of::<Entry<K, V>>();
            match n {
                Node::Branch(b) => {
                    arc + b.entries.len() * es
                        + b.children.len() * mem::size_of::<Link<K, V, C>>()
                        + b.entries.iter().map(|e| f(&e.key, &e.value)).sum::<usize>()
                        + b.children.iter().map(|c| walk(c, f)).sum::<usize>()
                }
                Node::Collision(v) => {
                    arc + v.len() * es + v.iter().map(|e| f(&e.key, &e.value)).sum::<usize>()
                }
            }
        }
        self.root.as_deref().map_or(0, |r| walk(r, &f))
    }

    fn find<Q>(&self, hash: u64, k: &Q) -> Option<&Entry<K, V>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let mut node = self.root.as_deref()?;
        let mut level = 0;
        loop {
            match node {
                Node::Branch(b) => {
                    let bit = 1u32 << index(hash, level);
                    if b.datamap & bit != 0 {
                        let e = &b.entries[rank(b.datamap, bit)];
                        return (e.key.borrow() == k).then_some(e);
                    }
                    if b.nodemap & bit == 0 {
                        return None;
                    }
                    node = &b.children[rank(b.nodemap, bit)];
                    level += 1;
                }
                Node::Collision(es) => {
                    return es.iter().find(|e| e.key.borrow() == k);
                }
            }
        }
    }

    /// The value for `k`.
    #[inline]
    pub fn get<Q>(&self, k: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.find(hash_of(k), k).map(|e| &e.value)
    }

    /// [`HashTrie::get`] with `k`'s hash ([`hash_of`]) already computed.
    #[inline]
    pub fn get_hashed<Q>(&self, hash: u64, k: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        self.find(hash, k).map(|e| &e.value)
    }

    /// The stored key and the value for `k`.
    pub fn get_key_value<Q>(&self, k: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.find(hash_of(k), k).map(|e| (&e.key, &e.value))
    }

    /// True when `k` is present.
    pub fn contains_key<Q>(&self, k: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.find(hash_of(k), k).is_some()
    }
}

impl<K: Hash + Eq + Clone, V: Clone, C: Counting> HashTrie<K, V, C> {
    /// Inserts or replaces; returns the previous value. Path-copies shared nodes.
    #[inline]
    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        let hash = hash_of(&k);
        let e = Entry { key: k, value: v };
        let _counts = C::enter();
        let root = self
            .root
            .get_or_insert_with(|| NodeRef::new(Node::Branch(Branch::empty())));
        let old = insert_rec(root, e, hash, 0);
        if old.is_none() {
            self.set_len(self.len() + 1);
        }
        old
    }

    /// Removes `k`, returning the stored key and value. Copies nothing when `k` is absent.
    pub fn remove<Q>(&mut self, k: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = hash_of(k);
        // Looking first keeps a miss from path-copying nodes shared with a snapshot.
        self.find(hash, k)?;
        let _counts = C::enter();
        let e = remove_rec(self.root.as_mut()?, hash, k, 0);
        self.set_len(self.len() - 1);
        if self.is_empty() {
            self.root = None;
        }
        Some((e.key, e.value))
    }

    /// Mutable access to the value for `k`, path-copying shared nodes on the way (nothing is
    /// copied when `k` is absent).
    pub fn get_mut<Q>(&mut self, k: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get_mut_hashed(hash_of(k), k)
    }

    /// [`HashTrie::get_mut`] with `k`'s hash ([`hash_of`]) already computed.
    pub fn get_mut_hashed<Q>(&mut self, hash: u64, k: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        self.find(hash, k)?;
        self.get_mut_present(hash, k)
    }

    /// The walk of [`HashTrie::get_mut_hashed`] for a key the caller has just
    /// found with this `hash`: the walk trusts the hash bits and does not compare
    /// keys outside collision nodes, so for an absent key it would return
    /// another key's value.
    pub(crate) fn get_mut_present<Q>(&mut self, hash: u64, k: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let _counts = C::enter();
        let mut slot = self.root.as_mut()?;
        let mut level = 0;
        loop {
            match NodeRef::make_mut(slot) {
                Node::Branch(b) => {
                    let bit = 1u32 << index(hash, level);
                    if b.datamap & bit != 0 {
                        return Some(&mut b.entries[rank(b.datamap, bit)].value);
                    }
                    slot = &mut b.children[rank(b.nodemap, bit)];
                    level += 1;
                }
                Node::Collision(es) => {
                    let i = es.iter().position(|e| e.key.borrow() == k).unwrap_or(0);
                    return Some(&mut es[i].value);
                }
            }
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone, C: Counting> FromIterator<(K, V)> for HashTrie<K, V, C> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut m = HashTrie::default();
        m.extend(iter);
        m
    }
}

impl<K: Hash + Eq + Clone, V: Clone, C: Counting> Extend<(K, V)> for HashTrie<K, V, C> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        // One entry into the count lock for the whole batch (insert nests).
        let _counts = C::enter();
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<K: fmt::Debug, V: fmt::Debug, C: Counting> fmt::Debug for HashTrie<K, V, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Hash + Eq, V: PartialEq, C: Counting> PartialEq for HashTrie<K, V, C> {
    fn eq(&self, other: &Self) -> bool {
        self.ptr_eq(other)
            || (self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v)))
    }
}

impl<K: Hash + Eq, V: Eq, C: Counting> Eq for HashTrie<K, V, C> {}

impl<'a, K, V, C: Counting> IntoIterator for &'a HashTrie<K, V, C> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V, C>;
    fn into_iter(self) -> Iter<'a, K, V, C> {
        self.iter()
    }
}

impl<K: Hash, V, C: Counting> HashTrie<K, V, C> {
    /// Entries whose hash is `>= cursor`, in ascending hash order, as `(hash, key, value)`.
    ///
    /// Starting costs O(depth): subtrees entirely below the cursor are never visited.
    /// For SCAN, resume with `last_hash + 1` (stop when `last_hash == u64::MAX`) and only
    /// stop between two different hashes, since entries sharing a full hash (collisions) must
    /// be returned in the same batch. [`HashTrie::scan`] does both.
    pub fn iter_from(&self, cursor: u64) -> IterFrom<'_, K, V, C> {
        let mut stack = Vec::with_capacity(MAX_DEPTH);
        let Some(mut node) = self.root.as_deref() else {
            return IterFrom {
                raw: RawIter { stack },
                min_hash: cursor,
            };
        };
        let mut level = 0;
        loop {
            match node {
                Node::Branch(b) => {
                    let idx = index(cursor, level);
                    let bit = 1u32 << idx;
                    // Slots strictly after the cursor's slot hold only hashes > cursor.
                    let after = (b.datamap | b.nodemap) & !(((2u64 << idx) - 1) as u32);
                    if b.nodemap & bit != 0 {
                        stack.push(Frame::Branch { b, todo: after });
                        node = &b.children[rank(b.nodemap, bit)];
                        level += 1;
                        continue;
                    }
                    // A data entry in the cursor's slot may be either side of the cursor;
                    // `min_hash` filters it.
                    let todo = after | (b.datamap & bit);
                    stack.push(Frame::Branch { b, todo });
                }
                Node::Collision(es) => stack.push(Frame::Collision { es, pos: 0 }),
            }
            break;
        }
        IterFrom {
            raw: RawIter { stack },
            min_hash: cursor,
        }
    }

    /// One step of a Redis-style SCAN: calls `f` on entries with hash `>= cursor` in hash
    /// order until at least `count` (min 1) were visited and the next entry has a different
    /// hash. Returns the cursor to continue from, or 0 when the scan is complete (a start
    /// cursor is 0 too, as in Redis).
    ///
    /// Every entry present for the whole scan is visited at least once, whatever is inserted
    /// or removed between calls, because a cursor is a position in hash space, not in a
    /// node layout.
    pub fn scan<'a, F: FnMut(&'a K, &'a V)>(&'a self, cursor: u64, count: usize, mut f: F) -> u64 {
        let count = count.max(1);
        let mut last = None;
        for (visited, (h, k, v)) in self.iter_from(cursor).enumerate() {
            if visited >= count && last != Some(h) {
                // h > last >= 0, so the next cursor is never the "done" value 0.
                return h;
            }
            f(k, v);
            last = Some(h);
        }
        0
    }

    /// A pseudo-random entry chosen by `r`: the first entry whose hash is `>= r`, wrapping
    /// to the lowest hash. None only when empty.
    ///
    /// Bias: an entry is picked with probability proportional to the gap in hash space
    /// between it and its predecessor. Hashes are uniformly random, so the gaps are roughly
    /// exponential: a typical entry is within a small factor of 1/len, but some entries are
    /// several times likelier than others. Good enough for eviction/`RANDOMKEY` sampling,
    /// not for statistics.
    pub fn random_entry(&self, r: u64) -> Option<(&K, &V)> {
        self.iter_from(r)
            .next()
            .map(|(_, k, v)| (k, v))
            .or_else(|| self.iter().next())
    }
}

// ---- iteration ----

enum Frame<'a, K, V, C: Counting> {
    /// `todo`: slots of `b` not yet visited.
    Branch {
        b: &'a Branch<K, V, C>,
        todo: u32,
    },
    Collision {
        es: &'a [Entry<K, V>],
        pos: usize,
    },
}

struct RawIter<'a, K, V, C: Counting> {
    stack: Vec<Frame<'a, K, V, C>>,
}

impl<'a, K, V, C: Counting> Iterator for RawIter<'a, K, V, C> {
    type Item = &'a Entry<K, V>;

    fn next(&mut self) -> Option<&'a Entry<K, V>> {
        loop {
            let top = self.stack.last_mut()?;
            match top {
                Frame::Branch { b, todo } => {
                    if *todo == 0 {
                        self.stack.pop();
                        continue;
                    }
                    let b: &'a Branch<K, V, C> = b;
                    let bit = 1u32 << todo.trailing_zeros();
                    *todo &= !bit;
                    if b.datamap & bit != 0 {
                        return Some(&b.entries[rank(b.datamap, bit)]);
                    } else {
                        match &*b.children[rank(b.nodemap, bit)] {
                            Node::Branch(c) => self.stack.push(Frame::Branch {
                                b: c,
                                todo: c.datamap | c.nodemap,
                            }),
                            Node::Collision(es) => self.stack.push(Frame::Collision { es, pos: 0 }),
                        }
                    }
                }
                Frame::Collision { es, pos } => {
                    let es: &'a [Entry<K, V>] = es;
                    if let Some(e) = es.get(*pos) {
                        *pos += 1;
                        return Some(e);
                    } else {
                        self.stack.pop();
                    }
                }
            }
        }
    }
}

/// Iterator over `(&K, &V)` in ascending hash order; see [`HashTrie::iter`].
pub struct Iter<'a, K, V, C: Counting = Atomic> {
    raw: RawIter<'a, K, V, C>,
    remaining: usize,
}

impl<'a, K, V, C: Counting> Iterator for Iter<'a, K, V, C> {
    type Item = (&'a K, &'a V);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let e = self.raw.next()?;
        self.remaining -= 1;
        Some((&e.key, &e.value))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K, V, C: Counting> ExactSizeIterator for Iter<'_, K, V, C> {}

/// Iterator over `(hash, &K, &V)` from a cursor; see [`HashTrie::iter_from`].
pub struct IterFrom<'a, K, V, C: Counting = Atomic> {
    raw: RawIter<'a, K, V, C>,
    /// Entries with a smaller hash are skipped (only ever those on the
    /// cursor's path).
    min_hash: u64,
}

impl<'a, K: Hash, V, C: Counting> Iterator for IterFrom<'a, K, V, C> {
    type Item = (u64, &'a K, &'a V);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let e = self.raw.next()?;
            let h = hash_of(&e.key);
            if h >= self.min_hash {
                return Some((h, &e.key, &e.value));
            }
        }
    }
}

/// Iterator over keys; see [`HashTrie::keys`].
pub struct Keys<'a, K, V, C: Counting = Atomic>(Iter<'a, K, V, C>);

impl<'a, K, V, C: Counting> Iterator for Keys<'a, K, V, C> {
    type Item = &'a K;
    fn next(&mut self) -> Option<&'a K> {
        self.0.next().map(|(k, _)| k)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

/// Iterator over values; see [`HashTrie::values`].
pub struct Values<'a, K, V, C: Counting = Atomic>(Iter<'a, K, V, C>);

impl<'a, K, V, C: Counting> Iterator for Values<'a, K, V, C> {
    type Item = &'a V;
    fn next(&mut self) -> Option<&'a V> {
        self.0.next().map(|(_, v)| v)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

#[cfg(test)]
mod tests;
