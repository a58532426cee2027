//! Randomised differential test of the HyperLogLog commands: seeded random
//! element sets are added to a real redis-server and to Ferrous, and after
//! every step the raw string (GET: header, cached cardinality, sparse or
//! dense registers) and the estimates must be byte-identical.

mod common;

use common::{show, Ferrous, Raw, Redis};

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn both(r: &mut Raw, f: &mut Raw, args: &[&[u8]]) {
    r.send(args);
    f.send(args);
    let (want, got) = (r.read_reply(), f.read_reply());
    let shown: Vec<String> = args.iter().take(4).map(|a| show(a)).collect();
    assert_eq!(show(&want), show(&got), "command: {} …", shown.join(" "));
}

fn element(g: &mut Rng) -> Vec<u8> {
    match g.below(3) {
        0 => g.below(1_000_000).to_string().into_bytes(),
        1 => (0..g.below(12)).map(|_| g.next() as u8).collect(),
        _ => format!("user:{}:{}", g.below(5000), g.below(100)).into_bytes(),
    }
}

#[test]
fn pfadd_pfcount_pfmerge_match_redis() {
    let Some(redis) = Redis::start(&[]) else {
        return;
    };
    let ferrous = Ferrous::start(&[]);
    let (mut r, mut f) = (redis.client(), ferrous.client());
    let mut g = Rng(_seed());
    let keys: [&[u8]; 4] = [b"h0", b"h1", b"h2", b"h3"];
    for round in 0..120 {
        let key = keys[g.below(4) as usize];
        // Mostly small batches (sparse growth), sometimes big ones (dense).
        let n = if g.below(10) == 0 {
            500 + g.below(3000)
        } else {
            1 + g.below(40)
        };
        let elems: Vec<Vec<u8>> = (0..n).map(|_| element(&mut g)).collect();
        let mut args: Vec<&[u8]> = vec![b"PFADD", key];
        args.extend(elems.iter().map(|e| e.as_slice()));
        both(&mut r, &mut f, &args);
        both(&mut r, &mut f, &[b"GET", key]);
        if round % 3 == 0 {
            both(&mut r, &mut f, &[b"PFCOUNT", key]);
            both(&mut r, &mut f, &[b"GET", key]);
        }
        if round % 7 == 0 {
            both(&mut r, &mut f, &[b"PFCOUNT", b"h0", b"h1", b"h2", b"h3"]);
            let dest = [&b"m0"[..], b"m1"][g.below(2) as usize];
            let a = keys[g.below(4) as usize];
            let b = keys[g.below(4) as usize];
            both(&mut r, &mut f, &[b"PFMERGE", dest, a, b]);
            both(&mut r, &mut f, &[b"GET", dest]);
            both(&mut r, &mut f, &[b"PFCOUNT", dest]);
        }
    }
    for k in keys {
        both(&mut r, &mut f, &[b"PFCOUNT", k]);
        both(&mut r, &mut f, &[b"GET", k]);
    }
    // Large cardinalities: the estimator away from the small-range regime.
    for batch in 0..60u64 {
        let elems: Vec<Vec<u8>> = (0..2500)
            .map(|i| format!("big{}", batch * 2500 + i).into_bytes())
            .collect();
        let mut args: Vec<&[u8]> = vec![b"PFADD", b"big"];
        args.extend(elems.iter().map(|e| e.as_slice()));
        both(&mut r, &mut f, &args);
        both(&mut r, &mut f, &[b"PFCOUNT", b"big"]);
        both(&mut r, &mut f, &[b"PFCOUNT", b"big", b"h1"]);
    }
    both(&mut r, &mut f, &[b"GET", b"big"]);
}

/// The seed, spelled as a function so it reads as one number.
const fn _seed() -> u64 {
    0x5eed_0f11
}
