//! Tests for `HashTrie`: unit tests, structural invariants (canonical CHAMP form, hash order)
//! and proptest model tests against `std::collections::HashMap`.

use super::*;
use crate::noderef::Locked;
use crate::smallbytes::SmallBytes;
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};
use std::hash::Hasher;

/// A key whose hash is forced to collide: keys divisible by 3 share one of 5 hashes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Ck(u32);

impl Hash for Ck {
    fn hash<H: Hasher>(&self, h: &mut H) {
        if self.0.is_multiple_of(3) {
            (self.0 % 5).hash(h)
        } else {
            (self.0 + 1000).hash(h)
        }
    }
}

/// Checks every structural invariant; returns the number of entries.
fn check<K: Hash, V, C: Counting>(m: &HashTrie<K, V, C>) {
    fn walk<K: Hash, V, C: Counting>(
        n: &Node<K, V, C>,
        level: u32,
        prefix: u64,
        is_root: bool,
    ) -> usize {
        // `prefix`: hash bits fixed by the path (high bits), checked through `index`.
        match n {
            Node::Collision(es) => {
                assert!(!is_root);
                assert!(es.len() >= 2, "collision node with < 2 entries");
                let ch = hash_of(&es[0].key);
                for e in es.iter() {
                    let h = hash_of(&e.key);
                    assert_eq!(h, ch);
                    for l in 0..level.min(MAX_LEVEL + 1) {
                        assert_eq!(index(h, l), index(prefix, l));
                    }
                }
                es.len()
            }
            Node::Branch(b) => {
                assert!(level <= MAX_LEVEL);
                assert_eq!(b.datamap & b.nodemap, 0);
                assert_eq!(b.datamap.count_ones() as usize, b.entries.len());
                assert_eq!(b.nodemap.count_ones() as usize, b.children.len());
                if !is_root {
                    assert!(
                        !(b.children.is_empty() && b.entries.len() <= 1),
                        "non-canonical sub-node"
                    );
                    assert!(
                        !(b.entries.is_empty()
                            && b.children.len() == 1
                            && matches!(*b.children[0], Node::Collision(_))),
                        "collision node not hoisted"
                    );
                }
                let mut total = 0;
                for i in 0..32u32 {
                    let bit = 1u32 << i;
                    if b.datamap & bit != 0 {
                        let h = hash_of(&b.entries[rank(b.datamap, bit)].key);
                        assert_eq!(index(h, level), i);
                        for l in 0..level {
                            assert_eq!(index(h, l), index(prefix, l));
                        }
                        total += 1;
                    }
                    if b.nodemap & bit != 0 {
                        let c = &b.children[rank(b.nodemap, bit)];
                        // Set this level's slot into the prefix.
                        let shift = 5 * (level + 1);
                        let p = if shift <= 64 {
                            (prefix & !(31u64 << (64 - shift))) | ((i as u64) << (64 - shift))
                        } else {
                            (prefix & !15) | (i as u64 >> 1)
                        };
                        let sub = walk(c, level + 1, p, false);
                        assert!(sub >= 2);
                        total += sub;
                    }
                }
                total
            }
        }
    }
    // An empty map holds no root at all (so its clones touch no refcount).
    assert_eq!(m.root.is_none(), m.is_empty());
    let n = m.root.as_deref().map_or(0, |r| walk(r, 0, 0, true));
    assert_eq!(n, m.len());
    // Iteration is in non-decreasing hash order and yields len entries.
    let hs: Vec<u64> = m.iter_from(0).map(|(h, _, _)| h).collect();
    assert_eq!(hs.len(), m.len());
    assert!(hs.windows(2).all(|w| w[0] <= w[1]));
}

/// Layout fingerprint (bitmaps and nesting; collision nodes by size only).
fn shape<K, V, C: Counting>(m: &HashTrie<K, V, C>) -> String {
    fn walk<K, V, C: Counting>(n: &Node<K, V, C>, out: &mut String) {
        match n {
            Node::Collision(es) => out.push_str(&format!("C{}", es.len())),
            Node::Branch(b) => {
                out.push_str(&format!("B{:x}/{:x}(", b.datamap, b.nodemap));
                for c in b.children.iter() {
                    walk(c, out);
                    out.push(',');
                }
                out.push(')');
            }
        }
    }
    let mut s = String::new();
    match m.root.as_deref() {
        Some(r) => walk(r, &mut s),
        None => s.push('E'),
    }
    s
}

#[test]
fn index_is_monotone_in_hash() {
    for &(a, b) in &[
        (0u64, 1u64),
        (15, 16),
        (u64::MAX - 1, u64::MAX),
        (1 << 59, 1 << 60),
    ] {
        let ia: Vec<u32> = (0..=MAX_LEVEL).map(|l| index(a, l)).collect();
        let ib: Vec<u32> = (0..=MAX_LEVEL).map(|l| index(b, l)).collect();
        assert!(ia < ib, "{a} {b}");
    }
    assert_eq!(index(u64::MAX, 0), 31);
    assert_eq!(index(u64::MAX, MAX_LEVEL), 30);
    assert_eq!(index(1, MAX_LEVEL), 2);
    assert_eq!(index(1 << 63, 0), 16);
}

#[test]
fn basic_ops() {
    let mut m = HashTrie::new();
    assert!(m.is_empty());
    assert_eq!(m.get("a"), None);
    for i in 0..10_000u32 {
        assert_eq!(m.insert(format!("k{i}"), i), None);
    }
    assert_eq!(m.len(), 10_000);
    check(&m);
    for i in 0..10_000u32 {
        assert_eq!(m.get(format!("k{i}").as_str()), Some(&i));
    }
    assert_eq!(m.insert("k5".to_string(), 55), Some(5));
    assert_eq!(m.get_key_value("k5"), Some((&"k5".to_string(), &55)));
    *m.get_mut("k6").unwrap() += 1;
    assert_eq!(m.get("k6"), Some(&7));
    assert!(m.get_mut("nope").is_none());
    assert!(m.contains_key("k9999"));
    assert!(!m.contains_key("k10000"));
    assert_eq!(m.remove("nope"), None);
    for i in 0..10_000u32 {
        let v = m.remove(format!("k{i}").as_str()).unwrap().1;
        assert!(v == i || (i == 5 && v == 55) || (i == 6 && v == 7));
        if i % 1000 == 0 {
            check(&m);
        }
    }
    assert!(m.is_empty());
    check(&m);
    assert_eq!(shape(&m), shape(&HashTrie::<String, u32>::new()));
}

#[test]
fn smallbytes_keys_lookup_by_slice() {
    let m: HashTrie<SmallBytes, SmallBytes> = (0..1000)
        .map(|i| {
            (
                SmallBytes::from(format!("key:{i:09}")),
                SmallBytes::from(format!("value-{i:010}")),
            )
        })
        .collect();
    assert_eq!(m.len(), 1000);
    let v = m.get(&b"key:000000123"[..]).unwrap();
    assert_eq!(v.as_slice(), b"value-0000000123");
    assert!(m.contains_key(&b"key:000000999"[..]));
    assert!(!m.contains_key(&b"key:000001000"[..]));
    check(&m);
}

#[test]
fn snapshot_is_unchanged_by_writes() {
    let mut m: HashTrie<u32, u32> = (0..5000).map(|i| (i, i)).collect();
    let snap = m.clone();
    assert!(snap.ptr_eq(&m));
    for i in 0..5000 {
        if i % 2 == 0 {
            m.remove(&i);
        } else {
            m.insert(i, i + 1);
        }
    }
    for i in 5000..6000 {
        m.insert(i, 0);
    }
    assert_eq!(snap.len(), 5000);
    for i in 0..5000 {
        assert_eq!(snap.get(&i), Some(&i));
    }
    check(&snap);
    check(&m);
    assert_eq!(m.len(), 2500 + 1000);
}

#[test]
fn collisions() {
    let mut m = HashTrie::new();
    for i in 0..300u32 {
        m.insert(Ck(i), i);
        check(&m);
    }
    for i in 0..300u32 {
        assert_eq!(m.get(&Ck(i)), Some(&i));
    }
    // Colliding keys are adjacent in iteration, with equal hashes.
    let hs: Vec<u64> = m.iter_from(0).map(|(h, _, _)| h).collect();
    assert_eq!(hs.iter().collect::<HashSet<_>>().len(), 200 + 5);
    let snap = m.clone();
    for i in (0..300u32).rev() {
        assert_eq!(m.remove(&Ck(i)), Some((Ck(i), i)));
        check(&m);
    }
    assert!(m.is_empty());
    assert_eq!(snap.len(), 300);
    check(&snap);
}

#[test]
fn canonical_after_removals() {
    let keep: Vec<u32> = (0..2000).collect();
    let extra: Vec<u32> = (2000..6000).collect();
    let fresh: HashTrie<Ck, ()> = keep.iter().map(|&i| (Ck(i), ())).collect();
    let mut m = fresh.clone();
    let snap = m.clone();
    for &i in &extra {
        m.insert(Ck(i), ());
    }
    for &i in &extra {
        m.remove(&Ck(i));
    }
    assert_eq!(shape(&m), shape(&fresh));
    assert_eq!(m, fresh);
    assert_eq!(snap, fresh);
    // Removing everything but one key collapses to a root with one inline entry.
    for &i in &keep[1..] {
        m.remove(&Ck(i));
    }
    let one: HashTrie<Ck, ()> = [(Ck(0), ())].into_iter().collect();
    assert_eq!(shape(&m), shape(&one));
}

#[test]
fn iter_from_edges() {
    let m: HashTrie<u32, u32> = (0..3000).map(|i| (i, i)).collect();
    let all: Vec<(u64, u32)> = m.iter_from(0).map(|(h, k, _)| (h, *k)).collect();
    assert_eq!(all.len(), 3000);
    assert_eq!(m.iter().count(), 3000);
    assert_eq!(m.iter().len(), 3000);
    assert_eq!(
        m.iter_from(u64::MAX).count(),
        all.iter().filter(|x| x.0 == u64::MAX).count()
    );
    for w in all.windows(2).step_by(97) {
        let (h0, h1) = (w[0].0, w[1].0);
        assert_eq!(m.iter_from(h0).next().unwrap().0, h0);
        assert_eq!(m.iter_from(h0 + 1).next().unwrap().0, h1);
        assert_eq!(m.iter_from(h1).next().unwrap().0, h1);
    }
    let last = all.last().unwrap().0;
    assert!(m.iter_from(last + 1).next().is_none());
}

#[test]
fn scan_sees_stable_keys_despite_churn() {
    let mut m: HashTrie<u32, ()> = (0..4000).map(|i| (i, ())).collect();
    let stable: HashSet<u32> = (0..4000).filter(|i| i % 4 != 0).collect();
    let mut seen = HashSet::new();
    let mut cursor = 0;
    let mut round = 0u32;
    loop {
        cursor = m.scan(cursor, 10, |k, _| {
            seen.insert(*k);
        });
        // Churn: remove unstable keys, add new ones.
        for j in 0..20 {
            let x = (round * 20 + j) * 4;
            m.remove(&x);
            m.insert(100_000 + round * 20 + j, ());
        }
        round += 1;
        if cursor == 0 {
            break;
        }
    }
    assert!(stable.is_subset(&seen));
}

#[test]
fn scan_keeps_collision_groups_together() {
    let m: HashTrie<Ck, ()> = (0..30).map(|i| (Ck(i * 3), ())).collect();
    // All keys fall into 5 hash groups of 6 entries each.
    let mut cursor = 0;
    let mut batches = vec![];
    loop {
        let mut b = vec![];
        cursor = m.scan(cursor, 1, |k, _| b.push(k.clone()));
        batches.push(b);
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(batches.len(), 5);
    assert!(batches.iter().all(|b| b.len() == 6));
}

#[test]
fn random_entry_covers_map() {
    let m: HashTrie<u32, u32> = (0..200).map(|i| (i, i)).collect();
    assert!(HashTrie::<u32, u32>::new().random_entry(5).is_none());
    let mut seen = HashSet::new();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..20_000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        seen.insert(*m.random_entry(x).unwrap().0);
    }
    assert!(seen.len() > 190, "{}", seen.len());
    assert!(m.random_entry(u64::MAX).is_some());
}

#[test]
fn debug_extend_heap_bytes() {
    let mut m: HashTrie<u32, u32> = HashTrie::default();
    m.extend([(1, 2)]);
    assert_eq!(format!("{m:?}"), "{1: 2}");
    let m: HashTrie<u32, u32> = (0..1000).map(|i| (i, i)).collect();
    let hb = m.heap_bytes();
    assert!(hb > 1000 * 16 && hb < 1000 * 100, "{hb}");
    assert_eq!(m.heap_bytes_with(|_, _| 1), hb + 1000);
    assert_eq!(m.keys().count(), 1000);
    assert_eq!(m.values().copied().sum::<u32>(), (0..1000).sum());
    assert_eq!((&m).into_iter().count(), 1000);
}

// ---- model tests ----

#[derive(Clone, Debug)]
enum Op {
    Insert(u32, u32),
    Remove(u32),
    Get(u32),
    GetMut(u32),
    Snapshot,
}

fn op(key_space: u32) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..key_space, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        3 => (0..key_space).prop_map(Op::Remove),
        1 => (0..key_space).prop_map(Op::Get),
        1 => (0..key_space).prop_map(Op::GetMut),
        1 => Just(Op::Snapshot),
    ]
}

fn run_model<K, F>(ops: &[Op], mk: F)
where
    K: Hash + Eq + Clone + std::fmt::Debug,
    F: Fn(u32) -> K,
{
    run_model_counted::<K, F, Atomic>(ops, &mk);
    run_model_counted::<K, F, Locked>(ops, &mk);
}

/// A trie kept as it was, and the model's contents at that time.
type Snapshot<K, C> = (HashTrie<K, u32, C>, HashMap<K, u32>);

/// The model test for one counting mode ([`crate::noderef`]).
fn run_model_counted<K, F, C>(ops: &[Op], mk: &F)
where
    K: Hash + Eq + Clone + std::fmt::Debug,
    F: Fn(u32) -> K,
    C: Counting,
{
    let mut m: HashTrie<K, u32, C> = HashTrie::default();
    let mut model: HashMap<K, u32> = HashMap::new();
    let mut snaps: Vec<Snapshot<K, C>> = vec![];
    for o in ops {
        match *o {
            Op::Insert(k, v) => assert_eq!(m.insert(mk(k), v), model.insert(mk(k), v)),
            Op::Remove(k) => assert_eq!(m.remove(&mk(k)), model.remove_entry(&mk(k))),
            Op::Get(k) => assert_eq!(m.get(&mk(k)), model.get(&mk(k))),
            Op::GetMut(k) => {
                if let Some(v) = m.get_mut(&mk(k)) {
                    *v = v.wrapping_add(1);
                }
                if let Some(v) = model.get_mut(&mk(k)) {
                    *v = v.wrapping_add(1);
                }
            }
            Op::Snapshot => snaps.push((m.clone(), model.clone())),
        }
        assert_eq!(m.len(), model.len());
    }
    check(&m);
    for (k, v) in &model {
        assert_eq!(m.get(k), Some(v));
    }
    assert_eq!(m.iter().count(), model.len());
    for (s, sm) in &snaps {
        assert_eq!(s.len(), sm.len());
        for (k, v) in s.iter() {
            assert_eq!(sm.get(k), Some(v));
        }
        check(s);
    }
}

fn check_iter_from<K: Hash + Eq + Ord + Clone + std::fmt::Debug>(
    m: &HashTrie<K, u32>,
    cursors: &[u64],
) {
    let mut all: Vec<(u64, K)> = m.iter().map(|(k, _)| (hash_of(k), k.clone())).collect();
    all.sort();
    let mut cs = cursors.to_vec();
    for (h, _) in all.iter().step_by(7) {
        cs.extend([*h, h.wrapping_add(1), h.wrapping_sub(1)]);
    }
    cs.extend([0, 1, u64::MAX]);
    for c in cs {
        let mut got: Vec<(u64, K)> = m.iter_from(c).map(|(h, k, _)| (h, k.clone())).collect();
        // Collision groups come out in insertion order; compare them as sets.
        let hs: Vec<u64> = got.iter().map(|x| x.0).collect();
        assert!(hs.windows(2).all(|w| w[0] <= w[1]));
        got.sort();
        let want: Vec<(u64, K)> = all.iter().filter(|x| x.0 >= c).cloned().collect();
        assert_eq!(got, want, "cursor {c}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn model_small_keyspace(ops in proptest::collection::vec(op(64), 0..400)) {
        run_model(&ops, |k| k);
    }

    #[test]
    fn model_large_keyspace(ops in proptest::collection::vec(op(5000), 0..1500)) {
        run_model(&ops, |k| k);
    }

    #[test]
    fn model_collisions(ops in proptest::collection::vec(op(60), 0..400)) {
        run_model(&ops, Ck);
    }

    #[test]
    fn model_smallbytes(ops in proptest::collection::vec(op(300), 0..400)) {
        run_model(&ops, |k| SmallBytes::from(format!("key:{k:0width$}", width = (k % 40) as usize)));
    }

    #[test]
    fn iter_from_matches_model(
        keys in proptest::collection::hash_set(0u32..100_000, 0..600),
        cursors in proptest::collection::vec(any::<u64>(), 0..20),
    ) {
        let m: HashTrie<u32, u32> = keys.iter().map(|&k| (k, k)).collect();
        check_iter_from(&m, &cursors);
    }

    #[test]
    fn iter_from_with_collisions(
        keys in proptest::collection::hash_set(0u32..300, 0..200),
        cursors in proptest::collection::vec(any::<u64>(), 0..20),
    ) {
        let m: HashTrie<Ck, u32> = keys.iter().map(|&k| (Ck(k), k)).collect();
        check_iter_from(&m, &cursors);
    }

    #[test]
    fn removal_is_canonical(
        keep in proptest::collection::vec(0u32..400, 0..150),
        extra in proptest::collection::vec(0u32..400, 0..150),
    ) {
        let fresh: HashTrie<Ck, ()> = keep.iter().map(|&k| (Ck(k), ())).collect();
        let mut m = fresh.clone();
        let keep_set: HashSet<u32> = keep.iter().copied().collect();
        for &k in &extra { m.insert(Ck(k), ()); }
        for &k in &extra { if !keep_set.contains(&k) { m.remove(&Ck(k)); } }
        prop_assert_eq!(shape(&m), shape(&fresh));
        prop_assert!(m == fresh);
    }
}

#[test]
fn snapshots_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<HashTrie<SmallBytes, SmallBytes>>();
    send_sync::<SmallBytes>();
    let mut m: HashTrie<u32, u32> = (0..10_000).map(|i| (i, i)).collect();
    let snap = m.clone();
    let reader = std::thread::spawn(move || (0..10_000).all(|i| snap.get(&i) == Some(&i)));
    for i in 0..10_000 {
        m.insert(i, i + 1);
    }
    assert!(reader.join().unwrap());
    assert!((0..10_000).all(|i| m.get(&i) == Some(&(i + 1))));
}

/// A value that counts how many of its kind are alive, to find leaked or
/// doubly dropped trie nodes (each node owns the values it holds).
struct Counted(u32, Arc<std::sync::atomic::AtomicIsize>);

impl Counted {
    fn new(v: u32, live: &Arc<std::sync::atomic::AtomicIsize>) -> Self {
        live.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Counted(v, Arc::clone(live))
    }
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        Counted::new(self.0, &self.1)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.1.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

use std::sync::Arc;

#[test]
fn locked_counts_survive_snapshots_dropped_on_other_threads() {
    // The keyspace's mode: a writer path-copies (counts change under the
    // count lock) while reader threads take and drop snapshots of their own
    // (a drop changes counts too). A lost count change would leak nodes or
    // free them twice: every value must be alive exactly once per holder at
    // the end, and none once everything is dropped.
    let live = Arc::new(std::sync::atomic::AtomicIsize::new(0));
    {
        let mut m: HashTrie<u32, Counted, Locked> =
            (0..20_000).map(|i| (i, Counted::new(i, &live))).collect();
        let (tx, rx) = std::sync::mpsc::sync_channel::<HashTrie<u32, Counted, Locked>>(64);
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let rx = Arc::clone(&rx);
                std::thread::spawn(move || {
                    let mut checked = 0u64;
                    loop {
                        let snap = match rx.lock().unwrap().recv() {
                            Ok(s) => s,
                            Err(_) => return checked,
                        };
                        // Read a little of it, then drop it here, off the writer's thread.
                        for k in (0..20_000).step_by(997) {
                            if let Some(v) = snap.get(&k) {
                                assert_eq!(v.0 % 20_000, k);
                                checked += 1;
                            }
                        }
                    }
                })
            })
            .collect();
        for round in 0..300u32 {
            for j in 0..64u32 {
                let k = (round * 7919 + j * 104_729) % 20_000;
                if j % 5 == 0 {
                    m.remove(&k);
                } else {
                    m.insert(k, Counted::new(k + 20_000 * (round % 3), &live));
                }
            }
            tx.send(m.clone()).unwrap();
        }
        drop(tx);
        let checked: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
        assert!(checked > 0);
        check(&m);
        assert_eq!(
            live.load(std::sync::atomic::Ordering::Relaxed),
            m.len() as isize,
            "values alive besides the map's own: nodes leaked or freed twice"
        );
    }
    assert_eq!(live.load(std::sync::atomic::Ordering::Relaxed), 0);
}

#[test]
fn dropping_a_trie_bigger_than_a_chunk_frees_every_node_once() {
    // ~13k nodes: the drop takes the count lock several times (RELEASE_CHUNK
    // nodes per hold), spilling the rest between holds; a snapshot sharing
    // most of it keeps its half alive.
    let live = Arc::new(std::sync::atomic::AtomicIsize::new(0));
    let mut m: HashTrie<u32, Counted, Locked> =
        (0..200_000).map(|i| (i, Counted::new(i, &live))).collect();
    let snap = m.clone();
    for i in (0..200_000).step_by(2) {
        m.insert(i, Counted::new(i + 1, &live));
    }
    // The path copies hold copies of their leaves' values besides the new ones.
    assert!(live.load(std::sync::atomic::Ordering::Relaxed) > 300_000);
    drop(m);
    assert_eq!(live.load(std::sync::atomic::Ordering::Relaxed), 200_000);
    check(&snap);
    assert!((0..200_000).all(|i| snap.get(&i).map(|v| v.0) == Some(i)));
    drop(snap);
    assert_eq!(live.load(std::sync::atomic::Ordering::Relaxed), 0);
    assert!(!Locked::held());
}
