//! Cost of one ZADD-style score update in a sorted set, with and without the
//! previous version of the value kept alive (as a published snapshot keeps
//! it): with a snapshot every write path-copies one tree path (a 64-item
//! leaf and the inner nodes above it) and one CHAMP path of the member map.
//! Also rank and select, which the range commands use.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ferrous_storage::zset::{Limits, ZSet};
use std::hint::black_box;

const LIM: Limits = Limits {
    entries: 128,
    value: 64,
};

fn filled(n: usize) -> ZSet {
    let mut z = ZSet::with_hint(n, 16, LIM);
    for i in 0..n {
        z.insert(
            format!("element:{i}").as_bytes(),
            (i * 7 % 1000) as f64,
            LIM,
        );
    }
    z
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("zset");
    for &n in &[100usize, 10_000, 1_000_000] {
        let mut z = filled(n);
        let name = format!("{}-{n}", z.encoding());
        let mut i = 0usize;
        let mut s = 0.0;
        g.bench_function(BenchmarkId::new("update_shared", &name), |b| {
            b.iter(|| {
                let snapshot = z.clone();
                i = (i + 7919) % n;
                s += 1.0;
                z.insert(format!("element:{i}").as_bytes(), s, LIM);
                black_box(snapshot);
            })
        });
        g.bench_function(BenchmarkId::new("update_owned", &name), |b| {
            b.iter(|| {
                i = (i + 7919) % n;
                s += 1.0;
                z.insert(format!("element:{i}").as_bytes(), s, LIM);
            })
        });
        g.bench_function(BenchmarkId::new("rank_select", &name), |b| {
            b.iter(|| {
                i = (i + 7919) % n;
                let r = z.rank(format!("element:{i}").as_bytes());
                black_box(z.get(r.map_or(0, |r| r.0)));
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
