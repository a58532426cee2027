//! Write-path benchmark of the keyspace map: cost per write at 1k / 100k / 1M keys when a
//! reader snapshot is alive, compared with `imbl::HashMap<Bytes, Bytes>`; plus lookups.
//!
//! Modes: `a_publish_each` clones (publishes) before every write and keeps the last
//! snapshot alive, so every write path-copies and drops the previous version;
//! `b_publish_64` publishes every 64 writes; `c_owned` has no snapshot at all.
//! Writes overwrite random existing keys, so the map size stays N.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ferrous_storage::hamt::HashTrie;
use ferrous_storage::SmallBytes;
use std::hint::black_box;
use std::time::Duration;

const SIZES: [usize; 3] = [1_000, 100_000, 1_000_000];

fn key(i: usize) -> String {
    format!("key:{i:09}")
}

fn val(i: usize) -> String {
    format!("v{i:015}")
}

/// xorshift64*: cheap, deterministic random indices.
struct Rng(u64);
impl Rng {
    #[inline]
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as usize % n
    }
}

fn bench(c: &mut Criterion) {
    // HAMT_BENCH_N=1000000 restricts the run to one size (setting up all sizes is slow).
    let only: Option<usize> = std::env::var("HAMT_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok());
    for &n in SIZES.iter().filter(|&&n| only.is_none_or(|o| o == n)) {
        let own_keys: Vec<SmallBytes> = (0..n).map(|i| SmallBytes::from(key(i))).collect();
        let own_val = SmallBytes::from(val(7));
        let own: HashTrie<SmallBytes, SmallBytes> = own_keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), SmallBytes::from(val(i))))
            .collect();
        let im_keys: Vec<Bytes> = (0..n).map(|i| Bytes::from(key(i))).collect();
        let im_val = Bytes::from(val(7));
        let im: imbl::HashMap<Bytes, Bytes> = im_keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), Bytes::from(val(i))))
            .collect();

        {
            let mut g = c.benchmark_group("a_publish_each");
            g.bench_function(BenchmarkId::new("own", n), |b| {
                let mut map = own.clone();
                let mut snap = map.clone();
                let mut rng = Rng(0x1234_5678);
                b.iter(|| {
                    snap = map.clone();
                    map.insert(own_keys[rng.below(n)].clone(), own_val.clone());
                });
                black_box(&snap);
            });
            g.bench_function(BenchmarkId::new("imbl", n), |b| {
                let mut map = im.clone();
                let mut snap = map.clone();
                let mut rng = Rng(0x1234_5678);
                b.iter(|| {
                    snap = map.clone();
                    map.insert(im_keys[rng.below(n)].clone(), im_val.clone());
                });
                black_box(&snap);
            });
        }
        {
            let mut g = c.benchmark_group("b_publish_64");
            g.bench_function(BenchmarkId::new("own", n), |b| {
                let mut map = own.clone();
                let mut snap = map.clone();
                let mut rng = Rng(0x1234_5678);
                let mut i = 0u32;
                b.iter(|| {
                    if i.is_multiple_of(64) {
                        snap = map.clone();
                    }
                    i = i.wrapping_add(1);
                    map.insert(own_keys[rng.below(n)].clone(), own_val.clone());
                });
                black_box(&snap);
            });
            g.bench_function(BenchmarkId::new("imbl", n), |b| {
                let mut map = im.clone();
                let mut snap = map.clone();
                let mut rng = Rng(0x1234_5678);
                let mut i = 0u32;
                b.iter(|| {
                    if i.is_multiple_of(64) {
                        snap = map.clone();
                    }
                    i = i.wrapping_add(1);
                    map.insert(im_keys[rng.below(n)].clone(), im_val.clone());
                });
                black_box(&snap);
            });
        }
        {
            let mut g = c.benchmark_group("get");
            g.bench_function(BenchmarkId::new("own", n), |b| {
                let mut rng = Rng(0x9876_5432);
                b.iter(|| black_box(own.get(&own_keys[rng.below(n)][..])));
            });
            g.bench_function(BenchmarkId::new("imbl", n), |b| {
                let mut rng = Rng(0x9876_5432);
                b.iter(|| black_box(im.get(&im_keys[rng.below(n)][..])));
            });
        }
        {
            // Last user of the base maps: move them in so nothing else shares their nodes.
            let mut g = c.benchmark_group("c_owned");
            let mut own = own;
            g.bench_function(BenchmarkId::new("own", n), |b| {
                let mut rng = Rng(0x1234_5678);
                b.iter(|| own.insert(own_keys[rng.below(n)].clone(), own_val.clone()));
            });
            let mut im = im;
            g.bench_function(BenchmarkId::new("imbl", n), |b| {
                let mut rng = Rng(0x1234_5678);
                b.iter(|| im.insert(im_keys[rng.below(n)].clone(), im_val.clone()));
            });
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
