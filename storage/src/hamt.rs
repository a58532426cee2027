//! `HashTrie`: the persistent hash map behind every database.
//!
//! Placeholder on top of `imbl::HashMap` with the API of the compact CHAMP trie
//! that replaces it. Iteration from a hash cursor sorts, which is O(n log n).

use std::borrow::Borrow;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash};

use std::sync::OnceLock;

fn state() -> &'static RandomState {
    static S: OnceLock<RandomState> = OnceLock::new();
    S.get_or_init(RandomState::new)
}

/// The process-wide keyed hash of a key.
pub fn hash_of<Q: Hash + ?Sized>(q: &Q) -> u64 {
    state().hash_one(q)
}

/// A persistent hash map; `clone` is O(1).
#[derive(Clone)]
pub struct HashTrie<K, V>(imbl::HashMap<K, V>);

impl<K: Hash + Eq + Clone, V: Clone> Default for HashTrie<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Hash + Eq + Clone, V: Clone> HashTrie<K, V> {
    /// An empty map.
    pub fn new() -> Self {
        HashTrie(imbl::HashMap::new())
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The value of `k`.
    pub fn get<Q>(&self, k: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.get(k)
    }
    /// Whether `k` is present.
    pub fn contains_key<Q>(&self, k: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.contains_key(k)
    }
    /// The value of `k`, path-copying shared nodes.
    pub fn get_mut<Q>(&mut self, k: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.get_mut(k)
    }
    /// Inserts, returning the previous value.
    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        self.0.insert(k, v)
    }
    /// Removes, returning the entry.
    pub fn remove<Q>(&mut self, k: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.remove_with_key(k)
    }
    /// All entries.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.0.iter()
    }
    /// Entries whose hash is >= `cursor`, in ascending hash order.
    pub fn iter_from(&self, cursor: u64) -> impl Iterator<Item = (u64, &K, &V)> {
        let mut v: Vec<(u64, &K, &V)> = self
            .0
            .iter()
            .map(|(k, v)| (hash_of(k), k, v))
            .filter(|(h, _, _)| *h >= cursor)
            .collect();
        v.sort_by_key(|e| e.0);
        v.into_iter()
    }
    /// A roughly uniform entry chosen with random number `r`.
    pub fn random_entry(&self, r: u64) -> Option<(&K, &V)> {
        self.iter_from(r)
            .next()
            .map(|(_, k, v)| (k, v))
            .or_else(|| self.iter_from(0).next().map(|(_, k, v)| (k, v)))
    }
}
