//! Randomised differential tests for hashes and sets: random sequences of
//! writes and reads over a few keys, with small encoding thresholds so that
//! listpack→hashtable and intset→hashtable conversions happen often. After
//! every write the encodings must agree; full reads must be byte-identical
//! while Redis's order is defined (listpack, intset) and equal as sorted
//! multisets otherwise.

mod common;

use common::{show, sorted_reply, Ferrous, Raw, Redis};

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
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// Sends `args` to both servers and returns both replies.
fn send(r: &mut Raw, f: &mut Raw, args: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
    r.send(&a);
    f.send(&a);
    (r.read_reply(), f.read_reply())
}

fn exact(r: &mut Raw, f: &mut Raw, args: &[&str]) {
    let (want, got) = send(r, f, args);
    assert_eq!(show(&want), show(&got), "command: {}", args.join(" "));
}

/// Compares a full read exactly when `key`'s encoding defines the order
/// (as Redis reports it), as sorted multisets otherwise.
fn full_read(r: &mut Raw, f: &mut Raw, key: &str, args: &[&str]) {
    let (enc, enc_f) = send(r, f, &["OBJECT", "ENCODING", key]);
    assert_eq!(
        show(&enc),
        show(&enc_f),
        "encoding of {key} before {}",
        args.join(" ")
    );
    let ordered = enc.windows(7).any(|w| w == b"istpack" || w == b"\nintset");
    let (want, got) = send(r, f, args);
    if ordered {
        assert_eq!(show(&want), show(&got), "command: {}", args.join(" "));
    } else {
        assert_eq!(
            show(&sorted_reply(&want)),
            show(&sorted_reply(&got)),
            "command (unordered): {}",
            args.join(" ")
        );
    }
}

fn servers() -> Option<(Redis, Ferrous)> {
    let redis = Redis::start(&[])?;
    Some((redis, Ferrous::start(&[])))
}

const LONG: &str = "a-field-or-value-long-enough-to-leave-the-listpack-encoding-behind!!";

#[test]
fn hashes_match_redis() {
    let Some((redis, ferrous)) = servers() else {
        return;
    };
    let (mut r, mut f) = (redis.client(), ferrous.client());
    exact(
        &mut r,
        &mut f,
        &["CONFIG", "SET", "hash-max-listpack-entries", "6"],
    );
    let keys = ["h1", "h2", "h3"];
    let fields = ["a", "b", "c", "d", "e", "f", "g", "1", "", LONG];
    let values = ["1", "-7", "x", "", "2.5", "9223372036854775807", LONG];
    let mut g = Rng(0x005e_ed0f_0a5e);
    for i in 0..3000 {
        let k = g.pick(&keys);
        let (fa, fb) = (g.pick(&fields), g.pick(&fields));
        let (va, vb) = (g.pick(&values), g.pick(&values));
        match g.below(10) {
            0 | 1 => exact(&mut r, &mut f, &["HSET", k, fa, va, fb, vb]),
            2 => exact(&mut r, &mut f, &["HSETNX", k, fa, va]),
            3 => exact(&mut r, &mut f, &["HDEL", k, fa, fb]),
            4 => exact(&mut r, &mut f, &["HINCRBY", k, fa, "3"]),
            5 => exact(&mut r, &mut f, &["HINCRBYFLOAT", k, fa, "0.25"]),
            6 => exact(&mut r, &mut f, &["HMGET", k, fa, fb]),
            7 => exact(&mut r, &mut f, &["HSTRLEN", k, fa]),
            8 => exact(&mut r, &mut f, &["HLEN", k]),
            _ => exact(&mut r, &mut f, &["HEXISTS", k, fa]),
        }
        if i % 7 == 0 {
            let which = g.pick(&["HGETALL", "HKEYS", "HVALS"]);
            full_read(&mut r, &mut f, k, &[which, k]);
            full_read(&mut r, &mut f, k, &["HRANDFIELD", k, "100", "WITHVALUES"]);
        }
        if i % 500 == 499 {
            // Start over now and then so small hashes are exercised again.
            exact(&mut r, &mut f, &["DEL", "h1", "h2", "h3"]);
        }
    }
}

#[test]
fn sets_match_redis() {
    let Some((redis, ferrous)) = servers() else {
        return;
    };
    let (mut r, mut f) = (redis.client(), ferrous.client());
    exact(
        &mut r,
        &mut f,
        &["CONFIG", "SET", "set-max-intset-entries", "6"],
    );
    let keys = ["s1", "s2", "s3"];
    let members = [
        "1",
        "2",
        "3",
        "-5",
        "10",
        "07",
        "9223372036854775807",
        "-9223372036854775808",
        "x",
        "y",
        "",
        "18446744073709551616",
    ];
    let ints = ["1", "2", "3", "-5", "10", "0", "4", "5", "6", "7", "8"];
    let mut g = Rng(0x0123_4567_89ab_cdef);
    for i in 0..3000 {
        let (k, k2) = (g.pick(&keys), g.pick(&keys));
        // Mostly integers, so that intsets live long enough to matter.
        let src: &[&str] = if g.below(4) == 0 { &members } else { &ints };
        let (ma, mb) = (g.pick(src), g.pick(src));
        match g.below(10) {
            0..=2 => exact(&mut r, &mut f, &["SADD", k, ma, mb]),
            3 | 4 => exact(&mut r, &mut f, &["SREM", k, ma, mb]),
            5 => exact(&mut r, &mut f, &["SMOVE", k, k2, ma]),
            6 => exact(&mut r, &mut f, &["SMISMEMBER", k, ma, mb]),
            7 => exact(&mut r, &mut f, &["SCARD", k]),
            8 => {
                let op = g.pick(&["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]);
                exact(&mut r, &mut f, &[op, "dst", k, k2]);
                full_read(&mut r, &mut f, "dst", &["SMEMBERS", "dst"]);
            }
            _ => exact(&mut r, &mut f, &["SINTERCARD", "2", k, k2]),
        }
        if i % 5 == 0 {
            full_read(&mut r, &mut f, k, &["SMEMBERS", k]);
            let op = g.pick(&["SINTER", "SUNION", "SDIFF"]);
            let (want, got) = send(&mut r, &mut f, &[op, k, k2]);
            assert_eq!(
                show(&sorted_reply(&want)),
                show(&sorted_reply(&got)),
                "{op} {k} {k2}"
            );
        }
        if i % 400 == 399 {
            exact(&mut r, &mut f, &["DEL", "s1", "s2", "s3"]);
        }
    }
}

/// The bulk strings of a flat array (or set) reply.
fn bulks(reply: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = reply
        .iter()
        .position(|&b| b == b'\n')
        .map_or(reply.len(), |p| p + 1);
    while i < reply.len() {
        let nl = i + reply[i..].iter().position(|&b| b == b'\n').unwrap_or(0);
        let n: usize = std::str::from_utf8(&reply[i + 1..nl - 1])
            .unwrap()
            .parse()
            .unwrap();
        out.push(reply[nl + 1..nl + 1 + n].to_vec());
        i = nl + 1 + n + 2;
    }
    out
}

/// Random picks with a positive count are distinct members; with a negative
/// count, exactly that many members; SPOP removes what it returns.
#[test]
fn random_picks_are_members() {
    use std::collections::HashSet;
    let ferrous = Ferrous::start(&[]);
    let mut c = ferrous.client();
    for batch in 0..10 {
        let mut sadd = vec!["SADD".to_string(), "s".into()];
        let mut hset = vec!["HSET".to_string(), "h".into()];
        for i in 0..100 {
            sadd.push(format!("m{}", batch * 100 + i));
            hset.push(format!("f{}", batch * 100 + i));
            hset.push(format!("v{}", batch * 100 + i));
        }
        c.cmd(&sadd.iter().map(String::as_str).collect::<Vec<_>>());
        c.cmd(&hset.iter().map(String::as_str).collect::<Vec<_>>());
    }
    for n in [1usize, 10, 333, 334, 999, 1000] {
        let got = bulks(&c.cmd(&["SRANDMEMBER", "s", &n.to_string()]));
        assert_eq!(got.len(), n);
        let distinct: HashSet<_> = got.iter().collect();
        assert_eq!(distinct.len(), n, "SRANDMEMBER {n} repeats");
        assert!(got.iter().all(|m| m.starts_with(b"m")));
        let got = bulks(&c.cmd(&["HRANDFIELD", "h", &n.to_string(), "WITHVALUES"]));
        assert_eq!(got.len(), 2 * n);
        let fields: HashSet<_> = got.chunks(2).map(|p| p[0].clone()).collect();
        assert_eq!(fields.len(), n, "HRANDFIELD {n} repeats");
        for p in got.chunks(2) {
            assert_eq!(p[1][1..], p[0][1..], "value does not belong to its field");
        }
    }
    let got = bulks(&c.cmd(&["SRANDMEMBER", "s", "-2000"]));
    assert_eq!(got.len(), 2000);
    let popped = bulks(&c.cmd(&["SPOP", "s", "300"]));
    assert_eq!(popped.iter().collect::<HashSet<_>>().len(), 300);
    assert_eq!(c.cmd(&["SCARD", "s"]), b":700\r\n");
    for m in &popped {
        let m = String::from_utf8(m.clone()).unwrap();
        assert_eq!(c.cmd(&["SISMEMBER", "s", &m]), b":0\r\n");
    }
    let rest = bulks(&c.cmd(&["SPOP", "s", "700"]));
    assert_eq!(rest.iter().collect::<HashSet<_>>().len(), 700);
    assert_eq!(c.cmd(&["EXISTS", "s"]), b":0\r\n");
}

/// Random picks from small hashtable-encoded sets and hashes are uniform
/// (Redis's test suite checks SRANDMEMBER/HRANDFIELD histograms).
#[test]
fn random_picks_are_uniform_on_small_tables() {
    use std::collections::HashMap;
    let ferrous = Ferrous::start(&[]);
    let mut c = ferrous.client();
    let mut sadd = vec!["SADD".to_string(), "s".into()];
    let mut hset = vec!["HSET".to_string(), "h".into(), LONG.into(), "x".into()];
    for i in 0..50 {
        sadd.push(format!("member-{i}"));
        hset.push(format!("field-{i}"));
        hset.push("v".into());
    }
    c.cmd(&sadd.iter().map(String::as_str).collect::<Vec<_>>());
    c.cmd(&hset.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "s"]), b"$9\r\nhashtable\r\n");
    assert_eq!(c.cmd(&["OBJECT", "ENCODING", "h"]), b"$9\r\nhashtable\r\n");
    for cmd in [
        ["SRANDMEMBER", "s", "-50000"],
        ["HRANDFIELD", "h", "-51000"],
    ] {
        let mut hist: HashMap<Vec<u8>, usize> = HashMap::new();
        for m in bulks(&c.cmd(&cmd)) {
            *hist.entry(m).or_default() += 1;
        }
        // 1000 expected per element, standard deviation ~31.
        assert!(hist.len() >= 50, "{cmd:?}: {} distinct", hist.len());
        assert!(
            hist.values().all(|&n| (800..=1200).contains(&n)),
            "{cmd:?}: {hist:?}"
        );
    }
    let mut hist: HashMap<Vec<u8>, usize> = HashMap::new();
    for _ in 0..5000 {
        let r = c.cmd(&["SRANDMEMBER", "s"]);
        *hist.entry(r).or_default() += 1;
    }
    // 100 expected per member, standard deviation ~10.
    assert!(hist.values().all(|&n| (50..=150).contains(&n)), "{hist:?}");
}
