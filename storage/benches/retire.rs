//! What the last write-path lever of DESIGN.md would buy: path copies whose replaced nodes are
//! retired to a list and freed after the publish (as an epoch collector would), instead of
//! refcounted, so copying a node is a memcpy that touches no child's refcount.
//!
//! This is a measuring prototype, not engine code: `Owned` is a minimal CHAMP trie with the
//! keyspace's real entry type (`SmallBytes` key, `ferrous_storage::Entry` value, 16-byte
//! string values) that supports only building and overwriting existing keys. Each node records
//! the generation that made it; a write copies the nodes on its path that an earlier
//! generation made (moving their child pointers without touching them), mutates nodes of the
//! current generation in place, and lists the nodes it replaced; `publish` frees that list and
//! starts a new generation. Freeing right after the publish is the best case for the epoch
//! scheme (no reader lags behind), so the figures are an upper bound of what it buys.
//!
//! `FlatTrie` is the same prototype with each node in one allocation (header, slots, child
//! pointers) instead of three (the node, its entries, its children), to measure what that
//! layout adds on top.
//!
//! Compared with the engine's `HashTrie` doing the same work: `commit_each` publishes (clones
//! the root, as a version does) before every write and drops the previous version after it;
//! `group_64` publishes every 64 writes. Writes overwrite random existing keys among 4096.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ferrous_storage::hamt::{hash_of, HashTrie};
use ferrous_storage::{Entry, SmallBytes, Value};
use std::time::Duration;

// The server's allocator, so the figures compare with the engine benchmark's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BITS: u32 = 5;

#[inline]
fn index(hash: u64, level: u32) -> u32 {
    ((((hash as u128) << (BITS * (level + 1))) >> 64) as u32) & 31
}

#[inline]
fn rank(map: u32, bit: u32) -> usize {
    (map & (bit - 1)).count_ones() as usize
}

#[derive(Clone)]
struct Slot {
    hash: u64,
    key: SmallBytes,
    value: Entry,
}

/// A trie node. `children` are owned by the newest node that points at them; older copies
/// of this node (retired, or kept by readers in the real scheme) only borrow them.
struct Node {
    gen: u64,
    datamap: u32,
    nodemap: u32,
    entries: Vec<Slot>,
    children: Vec<*mut Node>,
}

/// The prototype trie: the newest version's root and the nodes replaced since the last publish.
struct Owned {
    root: *mut Node,
    gen: u64,
    retired: Vec<*mut Node>,
}

impl Owned {
    fn new() -> Owned {
        Owned {
            root: Box::into_raw(Box::new(Node {
                gen: 0,
                datamap: 0,
                nodemap: 0,
                entries: Vec::new(),
                children: Vec::new(),
            })),
            gen: 0,
            retired: Vec::new(),
        }
    }

    /// Inserts a new key while building (in place: nothing is shared yet).
    fn build_insert(&mut self, s: Slot) {
        // SAFETY: every pointer in the tree came from `Box::into_raw` and is owned by it;
        // nothing else references the tree while it is built.
        unsafe {
            let mut node = self.root;
            let mut level = 0;
            loop {
                let n = &mut *node;
                let bit = 1u32 << index(s.hash, level);
                if n.nodemap & bit != 0 {
                    node = n.children[rank(n.nodemap, bit)];
                    level += 1;
                    continue;
                }
                if n.datamap & bit == 0 {
                    n.entries.insert(rank(n.datamap, bit), s);
                    n.datamap |= bit;
                    return;
                }
                // Split: the present entry and the new one go into a new child.
                let old = n.entries.remove(rank(n.datamap, bit));
                assert_ne!(old.hash, s.hash, "64-bit hash collision in the prototype");
                n.datamap &= !bit;
                let child = Box::into_raw(Box::new(Node {
                    gen: self.gen,
                    datamap: 0,
                    nodemap: 0,
                    entries: vec![old],
                    children: Vec::new(),
                }));
                {
                    let c = &mut *child;
                    c.datamap = 1 << index(c.entries[0].hash, level + 1);
                }
                n.children.insert(rank(n.nodemap, bit), child);
                n.nodemap |= bit;
                node = child;
                level += 1;
            }
        }
    }

    /// Overwrites the value of an existing key, copying the nodes an earlier generation made.
    fn set(&mut self, hash: u64, value: Entry) {
        // SAFETY: as in `build_insert`; a node of an earlier generation is never written, only
        // copied (its child pointers move to the copy) and listed for `publish` to free.
        unsafe {
            let mut slot: *mut *mut Node = &mut self.root;
            let mut level = 0;
            loop {
                let mut node = *slot;
                if (*node).gen != self.gen {
                    let old = &*node;
                    let copy = Box::into_raw(Box::new(Node {
                        gen: self.gen,
                        datamap: old.datamap,
                        nodemap: old.nodemap,
                        entries: old.entries.clone(),
                        children: old.children.clone(),
                    }));
                    self.retired.push(node);
                    *slot = copy;
                    node = copy;
                }
                let n = &mut *node;
                let bit = 1u32 << index(hash, level);
                if n.datamap & bit != 0 {
                    n.entries[rank(n.datamap, bit)].value = value;
                    return;
                }
                slot = &mut n.children[rank(n.nodemap, bit)];
                level += 1;
            }
        }
    }

    /// The value of `key` (hash `hash`), if present.
    fn get(&self, hash: u64, key: &SmallBytes) -> Option<&Entry> {
        // SAFETY: reading a tree owned by `self`.
        unsafe {
            let mut node = &*self.root;
            let mut level = 0;
            loop {
                let bit = 1u32 << index(hash, level);
                if node.datamap & bit != 0 {
                    let s = &node.entries[rank(node.datamap, bit)];
                    return (s.key == *key).then_some(&s.value);
                }
                if node.nodemap & bit == 0 {
                    return None;
                }
                node = &*node.children[rank(node.nodemap, bit)];
                level += 1;
            }
        }
    }

    /// Publishes the current generation: frees the nodes it replaced (their entries are
    /// dropped, their child pointers are not followed: the copies own those children).
    fn publish(&mut self) {
        for n in self.retired.drain(..) {
            // SAFETY: `n` came from `Box::into_raw` and nothing points at it any more.
            drop(unsafe { Box::from_raw(n) });
        }
        self.gen += 1;
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        self.publish();
        let mut stack = vec![self.root];
        while let Some(n) = stack.pop() {
            // SAFETY: each live node is reachable exactly once from the root.
            let b = unsafe { Box::from_raw(n) };
            stack.extend(b.children.iter().copied());
        }
    }
}

/// The same retiring trie with each node in one allocation: a header, then its slots, then
/// its child pointers (three allocations per node in `Owned` and in the engine's trie: the
/// node, its entries, its children). Built by copying a finished `Owned`; supports the same
/// overwrite, lookup and publish.
#[repr(C)]
struct Flat {
    gen: u64,
    datamap: u32,
    nodemap: u32,
}

/// Layout of a flat node with `ne` slots and `nc` children, and the offsets of both arrays.
fn flat_layout(ne: usize, nc: usize) -> (std::alloc::Layout, usize, usize) {
    use std::alloc::Layout;
    let (l, slots) = Layout::new::<Flat>()
        .extend(Layout::array::<Slot>(ne).expect("layout"))
        .expect("layout");
    let (l, children) = l
        .extend(Layout::array::<*mut Flat>(nc).expect("layout"))
        .expect("layout");
    (l.pad_to_align(), slots, children)
}

impl Flat {
    /// A node with uninitialised arrays sized by the maps.
    unsafe fn alloc(gen: u64, datamap: u32, nodemap: u32) -> *mut Flat {
        let (l, _, _) = flat_layout(datamap.count_ones() as usize, nodemap.count_ones() as usize);
        let p = std::alloc::alloc(l) as *mut Flat;
        assert!(!p.is_null(), "out of memory");
        p.write(Flat {
            gen,
            datamap,
            nodemap,
        });
        p
    }

    unsafe fn slots(n: *mut Flat) -> *mut Slot {
        let (_, s, _) = flat_layout(
            (*n).datamap.count_ones() as usize,
            (*n).nodemap.count_ones() as usize,
        );
        (n as *mut u8).add(s) as *mut Slot
    }

    unsafe fn children(n: *mut Flat) -> *mut *mut Flat {
        let (_, _, c) = flat_layout(
            (*n).datamap.count_ones() as usize,
            (*n).nodemap.count_ones() as usize,
        );
        (n as *mut u8).add(c) as *mut *mut Flat
    }

    /// Drops the node's slots and frees it (not its children).
    unsafe fn free(n: *mut Flat) {
        let (ne, nc) = (
            (*n).datamap.count_ones() as usize,
            (*n).nodemap.count_ones() as usize,
        );
        std::ptr::drop_in_place(std::ptr::slice_from_raw_parts_mut(Flat::slots(n), ne));
        std::alloc::dealloc(n as *mut u8, flat_layout(ne, nc).0);
    }

    /// A flat copy of `o`'s subtree.
    unsafe fn from_owned(o: *const Node) -> *mut Flat {
        let o = &*o;
        let n = Flat::alloc(o.gen, o.datamap, o.nodemap);
        for (i, s) in o.entries.iter().enumerate() {
            Flat::slots(n).add(i).write(s.clone());
        }
        for (i, &c) in o.children.iter().enumerate() {
            Flat::children(n).add(i).write(Flat::from_owned(c));
        }
        n
    }
}

/// The flat trie: the newest root and the nodes replaced since the last publish.
struct FlatTrie {
    root: *mut Flat,
    gen: u64,
    retired: Vec<*mut Flat>,
}

impl FlatTrie {
    fn from_owned(o: &Owned) -> FlatTrie {
        FlatTrie {
            // SAFETY: `o`'s tree is complete and owned by it.
            root: unsafe { Flat::from_owned(o.root) },
            gen: o.gen,
            retired: Vec::new(),
        }
    }

    /// As [`Owned::set`]: copies the nodes an earlier generation made, in one allocation each.
    fn set(&mut self, hash: u64, value: Entry) {
        // SAFETY: as in `Owned::set`.
        unsafe {
            let mut slot: *mut *mut Flat = &mut self.root;
            let mut level = 0;
            loop {
                let mut node = *slot;
                if (*node).gen != self.gen {
                    let old = node;
                    let (dm, nm) = ((*old).datamap, (*old).nodemap);
                    let copy = Flat::alloc(self.gen, dm, nm);
                    let (os, cs) = (Flat::slots(old), Flat::slots(copy));
                    for i in 0..dm.count_ones() as usize {
                        cs.add(i).write((*os.add(i)).clone());
                    }
                    std::ptr::copy_nonoverlapping(
                        Flat::children(old),
                        Flat::children(copy),
                        nm.count_ones() as usize,
                    );
                    self.retired.push(old);
                    *slot = copy;
                    node = copy;
                }
                let bit = 1u32 << index(hash, level);
                if (*node).datamap & bit != 0 {
                    (*Flat::slots(node).add(rank((*node).datamap, bit))).value = value;
                    return;
                }
                slot = Flat::children(node).add(rank((*node).nodemap, bit));
                level += 1;
            }
        }
    }

    fn get(&self, hash: u64, key: &SmallBytes) -> Option<&Entry> {
        // SAFETY: reading a tree owned by `self`.
        unsafe {
            let mut node = self.root;
            let mut level = 0;
            loop {
                let bit = 1u32 << index(hash, level);
                if (*node).datamap & bit != 0 {
                    let s = &*Flat::slots(node).add(rank((*node).datamap, bit));
                    return (s.key == *key).then_some(&s.value);
                }
                if (*node).nodemap & bit == 0 {
                    return None;
                }
                node = *Flat::children(node).add(rank((*node).nodemap, bit));
                level += 1;
            }
        }
    }

    fn publish(&mut self) {
        for n in self.retired.drain(..) {
            // SAFETY: nothing points at a retired node any more.
            unsafe { Flat::free(n) };
        }
        self.gen += 1;
    }
}

impl Drop for FlatTrie {
    fn drop(&mut self) {
        self.publish();
        let mut stack = vec![self.root];
        while let Some(n) = stack.pop() {
            // SAFETY: each live node is reachable exactly once from the root.
            unsafe {
                let nc = (*n).nodemap.count_ones() as usize;
                for i in 0..nc {
                    stack.push(*Flat::children(n).add(i));
                }
                Flat::free(n);
            }
        }
    }
}

fn key(i: u64) -> SmallBytes {
    SmallBytes::from(format!("key:{i:012}").into_bytes())
}

fn value() -> Entry {
    Entry::new(Value::string(&b"value-9876543210"[..]))
}

/// xorshift, so key choice costs nothing measurable.
struct Rng(u64);
impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("retire");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    for &n in &[1_000u64, 100_000, 1_000_000] {
        let mut owned = Owned::new();
        let mut rc: HashTrie<SmallBytes, Entry> = HashTrie::new();
        for i in 0..n {
            let k = key(i);
            owned.build_insert(Slot {
                hash: hash_of(&k[..]),
                key: k.clone(),
                value: Entry::new(Value::string(&b"value-0123456789"[..])),
            });
            rc.insert(k, Entry::new(Value::string(&b"value-0123456789"[..])));
        }
        owned.publish();
        let mut flat = FlatTrie::from_owned(&owned);
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let keys: Vec<(u64, SmallBytes)> = (0..4096)
            .map(|_| {
                let k = key(rng.next(n));
                (hash_of(&k[..]), k)
            })
            .collect();
        let mut k = 0usize;
        g.bench_with_input(BenchmarkId::new("refcount_commit_each", n), &n, |b, _| {
            b.iter(|| {
                let published = rc.clone();
                k = (k + 1) & 4095;
                rc.insert(keys[k].1.clone(), value());
                drop(published);
            })
        });
        g.bench_with_input(BenchmarkId::new("retire_commit_each", n), &n, |b, _| {
            b.iter(|| {
                k = (k + 1) & 4095;
                owned.set(keys[k].0, value());
                owned.publish();
            })
        });
        g.bench_with_input(BenchmarkId::new("flat_commit_each", n), &n, |b, _| {
            b.iter(|| {
                k = (k + 1) & 4095;
                flat.set(keys[k].0, value());
                flat.publish();
            })
        });
        g.bench_with_input(BenchmarkId::new("refcount_group_64", n), &n, |b, _| {
            b.iter_custom(|iters| {
                let start = std::time::Instant::now();
                let mut done = 0;
                while done < iters {
                    let published = rc.clone();
                    for _ in 0..64.min(iters - done) {
                        k = (k + 1) & 4095;
                        rc.insert(keys[k].1.clone(), value());
                        done += 1;
                    }
                    drop(published);
                }
                start.elapsed()
            })
        });
        g.bench_with_input(BenchmarkId::new("retire_group_64", n), &n, |b, _| {
            b.iter_custom(|iters| {
                let start = std::time::Instant::now();
                let mut done = 0;
                while done < iters {
                    for _ in 0..64.min(iters - done) {
                        k = (k + 1) & 4095;
                        owned.set(keys[k].0, value());
                        done += 1;
                    }
                    owned.publish();
                }
                start.elapsed()
            })
        });
        g.bench_with_input(BenchmarkId::new("flat_group_64", n), &n, |b, _| {
            b.iter_custom(|iters| {
                let start = std::time::Instant::now();
                let mut done = 0;
                while done < iters {
                    for _ in 0..64.min(iters - done) {
                        k = (k + 1) & 4095;
                        flat.set(keys[k].0, value());
                        done += 1;
                    }
                    flat.publish();
                }
                start.elapsed()
            })
        });
        // The prototypes and the engine's trie hold the same keys and values.
        for (h, key) in &keys {
            assert_eq!(owned.get(*h, key), rc.get(&key[..]));
            assert_eq!(flat.get(*h, key), rc.get(&key[..]));
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
