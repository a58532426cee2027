//! Criterion benchmarks of the engine's write path, the project's hottest
//! code: the cost of one write through the real commit protocol
//! (`Store::begin` → `Db::set` → `commit`), at 1k, 100k and 1M keys, with the
//! committed root (what readers see) alive, in two modes:
//!
//! * `commit_each`: one write transaction per write (no batching);
//! * `group_64`: 64 writes per transaction, as adaptive group commit does
//!   under pipelined load.
//!
//! Also `snapshot` (must be O(1)) and `get` on a snapshot.

use std::hint::black_box;

// The server's allocator, so the figures are the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ferrous_storage::{Entry, Store, Value, Version};

fn key(i: u64) -> Vec<u8> {
    format!("key:{i:012}").into_bytes()
}

/// A store holding `n` keys with 16-byte values.
fn filled(n: u64) -> Store<Version> {
    let store = Store::new(Version::new(16));
    let mut i = 0;
    while i < n {
        let mut tx = store.begin();
        let db = tx.db_mut(0);
        for j in i..(i + 10_000).min(n) {
            db.set(
                &key(j),
                Entry::new(Value::string(&b"value-0123456789"[..])),
                false,
                0,
            );
        }
        tx.commit();
        i += 10_000;
    }
    store
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

fn write_path(c: &mut Criterion) {
    let mut g = c.benchmark_group("write");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    for &n in &[1_000u64, 100_000, 1_000_000] {
        let store = filled(n);
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let keys: Vec<Vec<u8>> = (0..4096).map(|_| key(rng.next(n))).collect();
        let mut k = 0usize;
        g.bench_with_input(BenchmarkId::new("commit_each", n), &n, |b, _| {
            b.iter(|| {
                let mut tx = store.begin();
                k = (k + 1) & 4095;
                tx.db_mut(0).set(
                    &keys[k],
                    Entry::new(Value::string(&b"value-9876543210"[..])),
                    false,
                    0,
                );
                tx.commit();
            })
        });
        g.bench_with_input(BenchmarkId::new("group_64", n), &n, |b, _| {
            b.iter_custom(|iters| {
                let start = std::time::Instant::now();
                let mut done = 0;
                while done < iters {
                    let mut tx = store.begin();
                    let db = tx.db_mut(0);
                    for _ in 0..64.min(iters - done) {
                        k = (k + 1) & 4095;
                        db.set(
                            &keys[k],
                            Entry::new(Value::string(&b"value-9876543210"[..])),
                            false,
                            0,
                        );
                        done += 1;
                    }
                    tx.commit();
                }
                start.elapsed()
            })
        });
        g.bench_with_input(BenchmarkId::new("get", n), &n, |b, _| {
            b.iter(|| {
                k = (k + 1) & 4095;
                store.read(|v| black_box(v.db(0).get(&keys[k], 0).is_some()))
            })
        });
        g.bench_with_input(BenchmarkId::new("snapshot", n), &n, |b, _| {
            b.iter(|| black_box(store.snapshot()))
        });
    }
    g.finish();
}

criterion_group!(benches, write_path);
criterion_main!(benches);
