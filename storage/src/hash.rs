//! A hash value (Redis type `hash`): a persistent field → value map.
//!
//! Two representations, mirroring Redis's two encodings so that OBJECT ENCODING and the
//! reply order of small hashes match it:
//! - `listpack`: pairs in insertion order (Redis's listpack keeps that order, and small
//!   hashes are answered in it byte for byte), found by a linear scan as in a listpack. They
//!   sit in copy-on-write chunks of at most [`CHUNK`] pairs, so a write to a hash shared
//!   with a snapshot copies one chunk plus the list of chunk pointers, not every pair (a
//!   flat `Vec` cost ~15 µs per write at 512 fields; see `benches/collections.rs`).
//! - `hashtable`: a [`HashTrie`], path-copied on write, iterated in hash order.
//!
//! Like Redis, a hash never converts back from `hashtable` to `listpack`.

use std::sync::Arc;

use crate::noderef::Locked;
use crate::{HashTrie, SmallBytes};

/// The thresholds (`hash-max-listpack-entries`, `hash-max-listpack-value`) that decide
/// when a listpack hash becomes a hashtable.
#[derive(Clone, Copy, Debug)]
pub struct HashLimits {
    /// Most fields a listpack hash may hold.
    pub max_entries: usize,
    /// Longest field or value (bytes) a listpack hash may hold.
    pub max_value: usize,
}

/// Up to this size a hashtable-encoded hash or set picks random elements uniformly (by
/// position, O(n)); above it, in O(log n) with the bias of [`HashTrie::random_entry`].
pub const UNIFORM_PICK_MAX: usize = 1024;

/// Most pairs in one chunk of a listpack-encoded hash.
pub const CHUNK: usize = 32;

type Pair = (SmallBytes, SmallBytes);

/// The pairs of a listpack-encoded hash, in insertion order, in copy-on-write chunks.
/// Chunks are never empty; only the last one grows.
#[derive(Clone, Debug, Default)]
struct Pairs {
    chunks: Vec<Arc<Vec<Pair>>>,
    len: usize,
}

impl Pairs {
    /// (chunk, position) of `field`.
    fn find(&self, field: &[u8]) -> Option<(usize, usize)> {
        self.chunks.iter().enumerate().find_map(|(ci, c)| {
            c.iter()
                .position(|(f, _)| f.as_slice() == field)
                .map(|p| (ci, p))
        })
    }

    fn get(&self, field: &[u8]) -> Option<&SmallBytes> {
        let (ci, p) = self.find(field)?;
        Some(&self.chunks[ci][p].1)
    }

    /// Sets `field`; true when it is new (appended).
    fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        if let Some((ci, p)) = self.find(field) {
            Arc::make_mut(&mut self.chunks[ci])[p].1 = SmallBytes::from(value);
            return false;
        }
        let pair = (SmallBytes::from(field), SmallBytes::from(value));
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => Arc::make_mut(last).push(pair),
            _ => {
                let mut c = Vec::with_capacity(CHUNK);
                c.push(pair);
                self.chunks.push(Arc::new(c));
            }
        }
        self.len += 1;
        true
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        let Some((ci, p)) = self.find(field) else {
            return false;
        };
        if self.chunks[ci].len() == 1 {
            self.chunks.remove(ci);
        } else {
            Arc::make_mut(&mut self.chunks[ci]).remove(p);
        }
        self.len -= 1;
        true
    }

    fn iter(&self) -> impl Iterator<Item = &Pair> + '_ {
        self.chunks.iter().flat_map(|c| c.iter())
    }

    fn nth(&self, mut i: usize) -> Option<&Pair> {
        for c in &self.chunks {
            if i < c.len() {
                return c.get(i);
            }
            i -= c.len();
        }
        None
    }
}

#[derive(Clone, Debug)]
enum Repr {
    // Behind an `Arc` to keep `Hash` at 24 bytes with an O(1), allocation-free clone.
    Listpack(Arc<Pairs>),
    Table(HashTrie<SmallBytes, SmallBytes, Locked>),
}

/// A hash value (Redis type `hash`). Cloning is O(1).
#[derive(Clone, Debug)]
pub struct Hash(Repr);

// Keeps `Value` at 32 bytes.
const _: () = assert!(std::mem::size_of::<Hash>() <= 24);

impl Default for Hash {
    fn default() -> Self {
        Hash::new()
    }
}

impl PartialEq for Hash {
    /// Equal contents, whatever the encoding or order.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(f, v)| other.get(f) == Some(v))
    }
}

impl Hash {
    /// An empty listpack-encoded hash.
    pub fn new() -> Hash {
        Hash(Repr::Listpack(Arc::default()))
    }

    /// The encoding OBJECT ENCODING reports for this value.
    pub fn encoding(&self) -> &'static str {
        match self.0 {
            Repr::Listpack(_) => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    /// Whether the hash is listpack-encoded (its order is insertion order).
    pub fn is_listpack(&self) -> bool {
        matches!(self.0, Repr::Listpack(_))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Listpack(v) => v.len,
            Repr::Table(t) => t.len(),
        }
    }

    /// True when the hash has no fields.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.0 {
            Repr::Listpack(v) => v.get(field).map(|v| v.as_slice()),
            Repr::Table(t) => t.get(field).map(|v| v.as_slice()),
        }
    }

    /// True when `field` is present.
    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Converts to the hashtable encoding (no-op when already there).
    pub fn convert_to_table(&mut self) {
        if let Repr::Listpack(v) = &self.0 {
            let t: HashTrie<SmallBytes, SmallBytes, Locked> = v.iter().cloned().collect();
            self.0 = Repr::Table(t);
        }
    }

    /// Converts to hashtable if any of `items` is longer than `limits.max_value` (Redis
    /// checks a command's arguments before inserting them).
    pub fn convert_for_lengths<'a>(
        &mut self,
        items: impl IntoIterator<Item = &'a [u8]>,
        limits: HashLimits,
    ) {
        if self.is_listpack() && items.into_iter().any(|b| b.len() > limits.max_value) {
            self.convert_to_table();
        }
    }

    /// Sets `field` to `value`; returns true when the field is new. A listpack hash
    /// updates in place (keeping the field's position) or appends, then converts when it
    /// has more than `limits.max_entries` fields.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: HashLimits) -> bool {
        let is_new = match &mut self.0 {
            Repr::Listpack(v) => Arc::make_mut(v).set(field, value),
            Repr::Table(t) => t
                .insert(SmallBytes::from(field), SmallBytes::from(value))
                .is_none(),
        };
        if self.is_listpack() && self.len() > limits.max_entries {
            self.convert_to_table();
        }
        is_new
    }

    /// Removes `field`; returns whether it was present.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.0 {
            // Looking first keeps a miss from copying pairs shared with a snapshot.
            Repr::Listpack(v) => v.find(field).is_some() && Arc::make_mut(v).remove(field),
            Repr::Table(t) => t.remove(field).is_some(),
        }
    }

    /// All `(field, value)` pairs: insertion order for listpack, hash order for hashtable.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], &[u8])> + '_> {
        match &self.0 {
            Repr::Listpack(v) => Box::new(v.iter().map(|(f, v)| (f.as_slice(), v.as_slice()))),
            Repr::Table(t) => Box::new(t.iter().map(|(f, v)| (f.as_slice(), v.as_slice()))),
        }
    }

    /// The pair at position `i` (modulo the size) in [`Hash::iter`] order: O(chunks) for a
    /// listpack, O(n) for a hashtable of at most [`UNIFORM_PICK_MAX`] fields. For a bigger
    /// hashtable, a pseudo-random pair chosen by `i` in O(log n), not quite uniformly
    /// (see [`HashTrie::random_entry`]).
    pub fn pick(&self, i: u64) -> Option<(&[u8], &[u8])> {
        match &self.0 {
            Repr::Listpack(v) => {
                if v.len == 0 {
                    return None;
                }
                let (f, val) = v.nth((i % v.len as u64) as usize)?;
                Some((f.as_slice(), val.as_slice()))
            }
            Repr::Table(t) if t.len() <= UNIFORM_PICK_MAX => {
                let n = (i % t.len().max(1) as u64) as usize;
                t.iter().nth(n).map(|(f, v)| (f.as_slice(), v.as_slice()))
            }
            Repr::Table(t) => t.random_entry(i).map(|(f, v)| (f.as_slice(), v.as_slice())),
        }
    }

    /// One step of HSCAN: a listpack hash is returned whole with next cursor 0, as Redis
    /// does; a hashtable one is scanned by hash position (see [`HashTrie::scan`]).
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut f: impl FnMut(&'a [u8], &'a [u8]),
    ) -> u64 {
        match &self.0 {
            Repr::Listpack(v) => {
                for (k, val) in v.iter() {
                    f(k, val);
                }
                0
            }
            Repr::Table(t) => t.scan(cursor, count, |k, v| f(k, v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    const SMALL: HashLimits = HashLimits {
        max_entries: 4,
        max_value: 3,
    };

    #[test]
    fn listpack_keeps_insertion_order_and_converts() {
        let mut h = Hash::new();
        assert!(h.set(b"b", b"1", SMALL));
        assert!(h.set(b"a", b"2", SMALL));
        assert!(!h.set(b"b", b"3", SMALL));
        let pairs: Vec<_> = h.iter().collect();
        assert_eq!(pairs, vec![(&b"b"[..], &b"3"[..]), (&b"a"[..], &b"2"[..])]);
        assert_eq!(h.encoding(), "listpack");
        h.convert_for_lengths([&b"long"[..]], SMALL);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"b"), Some(&b"3"[..]));
    }

    #[test]
    fn clone_is_isolated() {
        let mut a = Hash::new();
        a.set(b"x", b"1", SMALL);
        let b = a.clone();
        a.set(b"x", b"2", SMALL);
        a.remove(b"x");
        assert_eq!(b.get(b"x"), Some(&b"1"[..]));
        assert!(a.is_empty());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Set(u8, u8),
        Del(u8),
        Snapshot,
    }

    fn op(fields: u8) -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0..fields, any::<u8>()).prop_map(|(f, v)| Op::Set(f, v)),
            2 => (0..fields).prop_map(Op::Del),
            1 => Just(Op::Snapshot),
        ]
    }

    proptest! {
        #[test]
        fn matches_hashmap_model(ops in proptest::collection::vec(op(24), 0..200)) {
            check_model(ops, HashLimits { max_entries: 8, max_value: 64 })?;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Many listpack chunks, with deletes and updates in any of them.
        #[test]
        fn big_listpack_matches_model(ops in proptest::collection::vec(op(200), 0..600)) {
            check_model(ops, HashLimits { max_entries: 1000, max_value: 64 })?;
        }
    }

    /// The model a hash is checked against.
    type Model = HashMap<Vec<u8>, Vec<u8>>;

    fn check_model(ops: Vec<Op>, limits: HashLimits) -> Result<(), TestCaseError> {
        {
            let mut h = Hash::new();
            let mut model: Model = HashMap::new();
            let mut order: Vec<Vec<u8>> = Vec::new();
            let mut snaps: Vec<(Hash, Model)> = Vec::new();
            for o in ops {
                match o {
                    Op::Set(f, v) => {
                        let (f, v) = (vec![f, 0xff], vec![v]);
                        let new = h.set(&f, &v, limits);
                        prop_assert_eq!(new, model.insert(f.clone(), v).is_none());
                        if new {
                            order.push(f);
                        }
                    }
                    Op::Del(f) => {
                        let f = vec![f, 0xff];
                        prop_assert_eq!(h.remove(&f), model.remove(&f).is_some());
                        order.retain(|x| *x != f);
                    }
                    Op::Snapshot => snaps.push((h.clone(), model.clone())),
                }
                prop_assert_eq!(h.len(), model.len());
                if h.is_listpack() {
                    // Listpack order is insertion order.
                    let got: Vec<Vec<u8>> = h.iter().map(|(f, _)| f.to_vec()).collect();
                    prop_assert_eq!(&got, &order);
                    prop_assert!(h.len() <= limits.max_entries);
                }
                for (f, v) in &model {
                    prop_assert_eq!(h.get(f), Some(&v[..]));
                }
            }
            // Snapshots were never changed by later writes.
            for (s, m) in snaps {
                prop_assert_eq!(s.len(), m.len());
                for (f, v) in s.iter() {
                    prop_assert_eq!(m.get(f).map(|x| &x[..]), Some(v));
                }
            }
            // A full scan visits every field exactly once.
            let mut seen = HashMap::new();
            let mut cursor = 0;
            loop {
                cursor = h.scan(cursor, 3, |f, _| *seen.entry(f.to_vec()).or_insert(0) += 1);
                if cursor == 0 {
                    break;
                }
            }
            prop_assert_eq!(seen.len(), model.len());
            prop_assert!(seen.values().all(|&n| n == 1));
            // Positional picks of a listpack reach every pair.
            if h.is_listpack() {
                for (i, (f, v)) in h.iter().enumerate() {
                    prop_assert_eq!(h.pick(i as u64), Some((f, v)));
                }
            }
        }
        Ok(())
    }
}
