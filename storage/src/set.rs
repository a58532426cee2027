//! A set value (Redis type `set`): a persistent set of byte strings.
//!
//! Two representations, mirroring Redis 7.0's two set encodings so that OBJECT ENCODING and
//! the reply order of small integer sets match it:
//! - `intset`: a copy-on-write sorted vector of `i64`, used while every member is the
//!   canonical decimal form of an integer (Redis answers these sets in ascending order);
//! - `hashtable`: a [`HashTrie`] of members, path-copied on write, iterated in hash order.
//!
//! Like Redis, a set never converts back from `hashtable` to `intset`.

use std::sync::Arc;

use crate::hash::UNIFORM_PICK_MAX;
use crate::noderef::Locked;
use crate::value::{fmt_i64, parse_i64};
use crate::{HashTrie, SmallBytes};

#[derive(Clone, Debug)]
enum Repr {
    Intset(Arc<Vec<i64>>),
    Table(HashTrie<SmallBytes, (), Locked>),
}

/// A set value (Redis type `set`). Cloning is O(1).
#[derive(Clone, Debug)]
pub struct Set(Repr);

// Keeps `Value` at 32 bytes.
const _: () = assert!(std::mem::size_of::<Set>() <= 24);

/// One member as stored: an intset holds integers, not their text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Member<'a> {
    /// A member of an intset.
    Int(i64),
    /// A member of a hashtable set.
    Bytes(&'a [u8]),
}

impl Member<'_> {
    /// Calls `f` with the member's bytes (an integer is formatted on the stack).
    pub fn with<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match *self {
            Member::Bytes(b) => f(b),
            Member::Int(n) => {
                let mut buf = [0u8; 20];
                f(fmt_i64(&mut buf, n))
            }
        }
    }

    /// The member's bytes, owned.
    pub fn to_bytes(&self) -> SmallBytes {
        self.with(|b| SmallBytes::from(b))
    }
}

impl Default for Set {
    fn default() -> Self {
        Set::new()
    }
}

impl PartialEq for Set {
    /// Equal members, whatever the encoding.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|m| m.with(|b| other.contains(b)))
    }
}

impl Set {
    /// An empty intset-encoded set (Redis starts a set as an intset when its first
    /// member is an integer; [`Set::add`] converts otherwise).
    pub fn new() -> Set {
        Set(Repr::Intset(Arc::new(Vec::new())))
    }

    /// The encoding OBJECT ENCODING reports for this value.
    pub fn encoding(&self) -> &'static str {
        match self.0 {
            Repr::Intset(_) => "intset",
            Repr::Table(_) => "hashtable",
        }
    }

    /// Whether the set is intset-encoded (its order is ascending numeric order).
    pub fn is_intset(&self) -> bool {
        matches!(self.0, Repr::Intset(_))
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Intset(v) => v.len(),
            Repr::Table(t) => t.len(),
        }
    }

    /// True when the set has no members.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when `m` is a member.
    pub fn contains(&self, m: &[u8]) -> bool {
        match &self.0 {
            Repr::Intset(v) => parse_i64(m).is_some_and(|n| v.binary_search(&n).is_ok()),
            Repr::Table(t) => t.contains_key(m),
        }
    }

    /// Converts to the hashtable encoding (no-op when already there).
    pub fn convert_to_table(&mut self) {
        if let Repr::Intset(v) = &self.0 {
            let mut buf = [0u8; 20];
            let t: HashTrie<SmallBytes, (), Locked> = v
                .iter()
                .map(|&n| (SmallBytes::from(fmt_i64(&mut buf, n)), ()))
                .collect();
            self.0 = Repr::Table(t);
        }
    }

    /// Adds `m`; returns true when it was not a member. An intset converts when `m` is
    /// not an integer or when it grows past `max_intset` members.
    pub fn add(&mut self, m: &[u8], max_intset: usize) -> bool {
        if let Repr::Intset(v) = &mut self.0 {
            if let Some(n) = parse_i64(m) {
                let Err(pos) = v.binary_search(&n) else {
                    return false;
                };
                Arc::make_mut(v).insert(pos, n);
                if v.len() > max_intset {
                    self.convert_to_table();
                }
                return true;
            }
            self.convert_to_table();
        }
        match &mut self.0 {
            Repr::Table(t) => t.insert(SmallBytes::from(m), ()).is_none(),
            Repr::Intset(_) => unreachable!("converted above"),
        }
    }

    /// Removes `m`; returns whether it was a member.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match &mut self.0 {
            Repr::Intset(v) => {
                let Some(Ok(pos)) = parse_i64(m).map(|n| v.binary_search(&n)) else {
                    return false;
                };
                Arc::make_mut(v).remove(pos);
                true
            }
            Repr::Table(t) => t.remove(m).is_some(),
        }
    }

    /// All members: ascending for an intset, hash order for a hashtable.
    pub fn iter(&self) -> Box<dyn Iterator<Item = Member<'_>> + '_> {
        match &self.0 {
            Repr::Intset(v) => Box::new(v.iter().map(|&n| Member::Int(n))),
            Repr::Table(t) => Box::new(t.keys().map(|k| Member::Bytes(k.as_slice()))),
        }
    }

    /// The member at position `i` (modulo the size) in [`Set::iter`] order: O(1) for an
    /// intset, O(n) for a hashtable of at most [`UNIFORM_PICK_MAX`] members. For a bigger
    /// hashtable, a pseudo-random member chosen by `i` in O(log n), not quite uniformly
    /// (see [`HashTrie::random_entry`]).
    pub fn pick(&self, i: u64) -> Option<Member<'_>> {
        match &self.0 {
            Repr::Intset(v) => {
                if v.is_empty() {
                    return None;
                }
                Some(Member::Int(v[(i % v.len() as u64) as usize]))
            }
            Repr::Table(t) if t.len() <= UNIFORM_PICK_MAX => {
                let n = (i % t.len().max(1) as u64) as usize;
                t.keys().nth(n).map(|k| Member::Bytes(k.as_slice()))
            }
            Repr::Table(t) => t.random_entry(i).map(|(k, _)| Member::Bytes(k.as_slice())),
        }
    }

    /// One step of SSCAN: an intset is returned whole with next cursor 0, as Redis does; a
    /// hashtable is scanned by hash position (see [`HashTrie::scan`]).
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut f: impl FnMut(Member<'a>)) -> u64 {
        match &self.0 {
            Repr::Intset(v) => {
                for &n in v.iter() {
                    f(Member::Int(n));
                }
                0
            }
            Repr::Table(t) => t.scan(cursor, count, |k, _| f(Member::Bytes(k.as_slice()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[test]
    fn intset_sorted_then_converts() {
        let mut s = Set::new();
        for m in ["5", "-3", "10", "5"] {
            s.add(m.as_bytes(), 512);
        }
        let got: Vec<SmallBytes> = s.iter().map(|m| m.to_bytes()).collect();
        assert_eq!(
            got,
            vec!["-3".into(), "5".into(), "10".into()] as Vec<SmallBytes>
        );
        assert_eq!(s.encoding(), "intset");
        assert!(!s.contains(b"05"));
        s.add(b"05", 512);
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"05") && s.contains(b"5") && s.contains(b"-3"));
        let mut t = Set::new();
        t.add(b"1", 1);
        t.add(b"2", 1);
        assert_eq!(t.encoding(), "hashtable");
        assert_eq!(fmt_i64(&mut [0; 20], i64::MIN), b"-9223372036854775808");
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(Vec<u8>),
        Rem(Vec<u8>),
        Snapshot,
    }

    fn member() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (-20i64..20).prop_map(|n| n.to_string().into_bytes()),
            proptest::collection::vec(any::<u8>(), 0..3),
            Just(b"9223372036854775807".to_vec()),
            Just(b"-9223372036854775808".to_vec()),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => member().prop_map(Op::Add),
            2 => member().prop_map(Op::Rem),
            1 => Just(Op::Snapshot),
        ]
    }

    proptest! {
        #[test]
        fn matches_hashset_model(ops in proptest::collection::vec(op(), 0..200)) {
            let mut s = Set::new();
            let mut model: HashSet<Vec<u8>> = HashSet::new();
            let mut snaps = Vec::new();
            for o in ops {
                match o {
                    Op::Add(m) => prop_assert_eq!(s.add(&m, 16), model.insert(m)),
                    Op::Rem(m) => prop_assert_eq!(s.remove(&m), model.remove(&m)),
                    Op::Snapshot => snaps.push((s.clone(), model.clone())),
                }
                prop_assert_eq!(s.len(), model.len());
                let members: Vec<Vec<u8>> = s.iter().map(|m| m.to_bytes().to_vec()).collect();
                let as_set: HashSet<Vec<u8>> = members.iter().cloned().collect();
                prop_assert_eq!(members.len(), as_set.len());
                prop_assert_eq!(&as_set, &model);
                if s.is_intset() {
                    prop_assert!(s.len() <= 16);
                    let nums: Vec<i64> = members.iter().map(|m| parse_i64(m).unwrap()).collect();
                    prop_assert!(nums.windows(2).all(|w| w[0] < w[1]));
                }
            }
            for (snap, m) in snaps {
                let got: HashSet<Vec<u8>> = snap.iter().map(|x| x.to_bytes().to_vec()).collect();
                prop_assert_eq!(got, m);
            }
            let mut seen = HashSet::new();
            let mut cursor = 0;
            loop {
                cursor = s.scan(cursor, 2, |m| { assert!(seen.insert(m.to_bytes().to_vec())); });
                if cursor == 0 { break; }
            }
            prop_assert_eq!(seen, model);
        }
    }
}
