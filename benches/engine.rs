//! Criterion benchmarks of the engine's write path, the project's hottest
//! code: the cost of one write through the real commit protocol
//! (`Store::begin` → `Db::set` → `commit`), at 1k, 100k and 1M keys, with the
//! committed root (what readers see) alive, in two modes:
//!
//! * `commit_each`: one write transaction per write (no batching);
//! * `group_64`: 64 writes per transaction, as adaptive group commit does
//!   under pipelined load.
//!
//! Also `snapshot` (must be O(1)) and `get` on the committed root, at 1k,
//! 10k, 100k and 1M keys; `txn/set` and `txn/get` inside an open write
//! transaction (no publish); and `resp/*`: request parsing and reply encoding
//! throughput (`src/resp.rs`, `src/reply.rs`) for typical commands and a
//! 100-command pipeline.

use std::hint::black_box;

// The server's allocator, so the figures are the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Duration;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ferrous::reply::ReplyBuf;
use ferrous::resp::{Parsed, Parser};
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
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    for &n in &[1_000u64, 10_000, 100_000, 1_000_000] {
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
        // Inside one open transaction: the first write to a trie path copies
        // it, later writes to the same nodes mutate the now-private copy.
        let mut tx = store.begin();
        g.bench_with_input(BenchmarkId::new("txn_set", n), &n, |b, _| {
            b.iter(|| {
                k = (k + 1) & 4095;
                tx.db_mut(0).set(
                    &keys[k],
                    Entry::new(Value::string(&b"value-9876543210"[..])),
                    false,
                    0,
                );
            })
        });
        g.bench_with_input(BenchmarkId::new("txn_get", n), &n, |b, _| {
            b.iter(|| {
                k = (k + 1) & 4095;
                black_box(tx.db(0).get(&keys[k], 0).is_some())
            })
        });
        tx.abort();
    }
    g.finish();
}

/// RESP encoding of one command.
fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

/// Parses every command in `input`; returns how many.
fn parse_all(p: &mut Parser, input: &[u8]) -> usize {
    let mut buf = BytesMut::from(input);
    let mut n = 0;
    while let Parsed::Command(args) = p.parse(&mut buf, 512 << 20, true) {
        black_box(&args);
        n += 1;
    }
    n
}

fn resp(c: &mut Criterion) {
    let mut g = c.benchmark_group("resp");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    let get = command(&[b"GET", b"key:000000001234"]);
    let set = command(&[b"SET", b"key:000000001234", b"value-0123456789"]);
    let mut pipeline = Vec::new();
    for i in 0..100 {
        let key = format!("key:{i:012}");
        pipeline.extend_from_slice(&if i % 2 == 0 {
            command(&[b"GET", key.as_bytes()])
        } else {
            command(&[b"SET", key.as_bytes(), b"value-0123456789"])
        });
    }
    let mut p = Parser::default();
    for (name, input) in [
        ("parse_get", &get),
        ("parse_set", &set),
        ("parse_pipeline_100", &pipeline),
    ] {
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.bench_function(name, |b| b.iter(|| parse_all(&mut p, input)));
    }
    let mut out = ReplyBuf::new(false);
    g.throughput(Throughput::Elements(1));
    g.bench_function("encode_bulk", |b| {
        b.iter(|| {
            out.buf.clear();
            out.bulk(black_box(b"value-0123456789"));
        })
    });
    g.bench_function("encode_ok", |b| {
        b.iter(|| {
            out.buf.clear();
            out.ok();
        })
    });
    g.bench_function("encode_int", |b| {
        b.iter(|| {
            out.buf.clear();
            out.int(black_box(1_234_567));
        })
    });
    // Replies to the 100-command pipeline above: 50 bulks, 50 +OK.
    g.throughput(Throughput::Elements(100));
    g.bench_function("encode_pipeline_100", |b| {
        b.iter(|| {
            out.buf.clear();
            for i in 0..100 {
                if i % 2 == 0 {
                    out.bulk(black_box(b"value-0123456789"));
                } else {
                    out.ok();
                }
            }
        })
    });
    g.finish();
}

criterion_group!(benches, write_path, resp);
criterion_main!(benches);
