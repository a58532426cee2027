//! LPUSH and LINDEX on a list of 1k and 1M elements (the packed chunks behind
//! `List`), with the previous version kept alive as a published snapshot
//! keeps it (so every push path-copies) and without.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ferrous_storage::list::{End, List};
use ferrous_storage::SmallBytes;

fn filled(n: usize) -> List {
    List::from_items((0..n).map(|i| SmallBytes::from(format!("element:{i}").into_bytes())))
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("list");
    for &n in &[1_000usize, 1_000_000] {
        let mut l = filled(n);
        g.bench_function(BenchmarkId::new("lpush_shared", n), |b| {
            b.iter(|| {
                let snapshot = l.clone();
                l.push(End::Left, b"value");
                l.pop(End::Right);
                black_box(snapshot);
            })
        });
        g.bench_function(BenchmarkId::new("lpush_owned", n), |b| {
            b.iter(|| {
                l.push(End::Left, b"value");
                l.pop(End::Right);
            })
        });
        let mut i = 0usize;
        g.bench_function(BenchmarkId::new("lindex", n), |b| {
            b.iter(|| {
                i = (i + 7919) % n;
                black_box(l.get(i));
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
