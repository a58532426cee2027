//! Cost of one field write into a hash or set value, with the previous version of the value
//! kept alive (as a published snapshot keeps it), so every write copies what it must:
//! the whole pair vector of a listpack-encoded hash, the whole `i64` vector of an intset,
//! one path of a hashtable-encoded one. Sizes straddle Redis's default thresholds
//! (`hash-max-listpack-entries` 512, `set-max-intset-entries` 512).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ferrous_storage::hash::{Hash, HashLimits};
use ferrous_storage::set::Set;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("hash_set_shared");
    for &(n, listpack) in &[
        (16usize, true),
        (128, true),
        (512, true),
        (512, false),
        (10_000, false),
    ] {
        let limits = HashLimits {
            max_entries: if listpack { 512 } else { 0 },
            max_value: 64,
        };
        let mut h = Hash::new();
        for i in 0..n {
            h.set(format!("field:{i}").as_bytes(), b"value", limits);
        }
        let name = format!("{}-{n}", h.encoding());
        let mut i = 0usize;
        g.bench_function(BenchmarkId::new("hset", &name), |b| {
            b.iter(|| {
                let snapshot = h.clone();
                i = (i + 7919) % n;
                h.set(format!("field:{i}").as_bytes(), b"other", limits);
                black_box(snapshot);
            })
        });
    }
    for &(n, max) in &[(16usize, 512usize), (512, 512), (512, 0), (10_000, 0)] {
        let mut s = Set::new();
        for i in 0..n {
            s.add(i.to_string().as_bytes(), max);
        }
        let name = format!("{}-{n}", s.encoding());
        let mut i = 0usize;
        g.bench_function(BenchmarkId::new("sadd_srem", &name), |b| {
            b.iter(|| {
                let snapshot = s.clone();
                i = (i + 7919) % n;
                let m = i.to_string();
                s.remove(m.as_bytes());
                s.add(m.as_bytes(), max);
                black_box(snapshot);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
