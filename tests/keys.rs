//! Integration tests of the generic key commands that a case file cannot
//! express: SCAN's guarantee under concurrent changes, replies whose order
//! is unspecified (KEYS, SCAN), active expiry, and glob matching compared
//! with a real redis-server over many generated patterns.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::{Ferrous, Redis};

fn connect(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_connection()
        .unwrap()
}

/// One SCAN call: the next cursor and the keys returned.
fn scan(con: &mut redis::Connection, cursor: &str, extra: &[&str]) -> (String, Vec<Vec<u8>>) {
    redis::cmd("SCAN")
        .arg(cursor)
        .arg(extra)
        .query(con)
        .unwrap()
}

/// A whole SCAN iteration, calling `between` after every step.
fn scan_all(
    con: &mut redis::Connection,
    extra: &[&str],
    mut between: impl FnMut(&mut redis::Connection, usize),
) -> Vec<Vec<u8>> {
    let mut cursor = "0".to_string();
    let mut all = Vec::new();
    for step in 0.. {
        assert!(step < 100_000, "SCAN does not terminate");
        let (next, keys) = scan(con, &cursor, extra);
        all.extend(keys);
        between(con, step);
        if next == "0" {
            break;
        }
        cursor = next;
    }
    all
}

fn set(con: &mut redis::Connection, k: &str) {
    let _: () = redis::cmd("SET").arg(k).arg("v").query(con).unwrap();
}

fn del(con: &mut redis::Connection, k: &str) {
    let _: i64 = redis::cmd("DEL").arg(k).query(con).unwrap();
}

fn dbsize(con: &mut redis::Connection) -> i64 {
    redis::cmd("DBSIZE").query(con).unwrap()
}

#[test]
fn scan_returns_every_key_present_for_the_whole_scan() {
    let f = Ferrous::start(&[]);
    let mut con = connect(f.port);
    for i in 0..2000 {
        set(&mut con, &format!("stable:{i}"));
    }
    for i in 0..500 {
        set(&mut con, &format!("doomed:{i}"));
    }
    let mut added = 0;
    let seen = scan_all(&mut con, &["COUNT", "7"], |con, step| {
        // Between steps: delete keys that were there at the start, add new
        // ones (which may or may not be returned) and delete some of those.
        if step < 500 {
            del(con, &format!("doomed:{step}"));
        }
        for _ in 0..3 {
            set(con, &format!("new:{added}"));
            added += 1;
        }
        if added > 10 {
            del(con, &format!("new:{}", added - 10));
        }
    });
    let seen: HashSet<Vec<u8>> = seen.into_iter().collect();
    for i in 0..2000 {
        let k = format!("stable:{i}");
        assert!(seen.contains(k.as_bytes()), "{k} was never returned");
    }
    assert!(added > 0);
}

#[test]
fn scan_options_and_full_iteration() {
    let f = Ferrous::start(&[]);
    let mut con = connect(f.port);
    let want: BTreeSet<Vec<u8>> = (0..300).map(|i| format!("key:{i}").into_bytes()).collect();
    for k in &want {
        let _: () = redis::cmd("SET").arg(k).arg("v").query(&mut con).unwrap();
    }
    for count in ["1", "10", "1000"] {
        let got = scan_all(&mut con, &["COUNT", count], |_, _| {});
        assert_eq!(got.len(), want.len(), "no duplicates without changes");
        assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want);
    }
    let got: BTreeSet<Vec<u8>> = scan_all(&mut con, &["MATCH", "key:1?"], |_, _| {})
        .into_iter()
        .collect();
    let want_match: BTreeSet<Vec<u8>> = (10..20).map(|i| format!("key:{i}").into_bytes()).collect();
    assert_eq!(got, want_match);
    assert!(scan_all(&mut con, &["TYPE", "list"], |_, _| {}).is_empty());
    assert_eq!(
        scan_all(&mut con, &["TYPE", "string"], |_, _| {}).len(),
        300
    );
    // A cursor past the end finishes at once.
    let (next, _) = scan(&mut con, "18446744073709551615", &[]);
    assert_eq!(next, "0");
}

#[test]
fn keys_returns_all_matches() {
    let f = Ferrous::start(&[]);
    let mut con = connect(f.port);
    for i in 0..50 {
        set(&mut con, &format!("user:{i}"));
        set(&mut con, &format!("item:{i}"));
    }
    let mut got: Vec<String> = redis::cmd("KEYS").arg("user:*").query(&mut con).unwrap();
    got.sort();
    let mut want: Vec<String> = (0..50).map(|i| format!("user:{i}")).collect();
    want.sort();
    assert_eq!(got, want);
    let all: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut con).unwrap();
    assert_eq!(all.len(), 100);
}

#[test]
fn expired_keys_are_invisible_but_counted_until_deleted() {
    let f = Ferrous::start(&[]);
    // Without the active cycle nothing deletes them behind our back.
    f.server().active_expire.store(false, Ordering::Relaxed);
    let mut con = connect(f.port);
    set(&mut con, "live");
    for i in 0..50 {
        let _: () = redis::cmd("SET")
            .arg(format!("gone:{i}"))
            .arg("v")
            .arg("PX")
            .arg(20)
            .query(&mut con)
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(
        dbsize(&mut con),
        51,
        "DBSIZE counts expired keys like Redis"
    );
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut con).unwrap();
    assert_eq!(keys, vec!["live".to_string()]);
    let scanned = scan_all(&mut con, &["COUNT", "3"], |_, _| {});
    assert_eq!(scanned, vec![b"live".to_vec()]);
    for _ in 0..50 {
        let k: String = redis::cmd("RANDOMKEY").query(&mut con).unwrap();
        assert_eq!(k, "live");
    }
    // A write that meets an expired key deletes it.
    let n: i64 = redis::cmd("EXPIRE")
        .arg("gone:0")
        .arg(100)
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 0);
    assert_eq!(dbsize(&mut con), 50);
    // One round of the cycle called directly.
    let deleted = f.server().active_expire_cycle();
    assert!(deleted > 0);
    assert_eq!(dbsize(&mut con) as usize, 50 - deleted);
}

#[test]
fn active_expiry_deletes_keys_nobody_reads() {
    let f = Ferrous::start(&[]);
    let mut con = connect(f.port);
    for i in 0..10 {
        set(&mut con, &format!("keep:{i}"));
    }
    for i in 0..200 {
        let _: () = redis::cmd("SET")
            .arg(format!("tmp:{i}"))
            .arg("v")
            .arg("PX")
            .arg(100)
            .query(&mut con)
            .unwrap();
    }
    assert_eq!(dbsize(&mut con), 210);
    let deadline = Instant::now() + Duration::from_secs(10);
    while dbsize(&mut con) > 10 {
        assert!(
            Instant::now() < deadline,
            "active expiry left {} keys",
            dbsize(&mut con)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(dbsize(&mut con), 10);
    assert!(f.server().stats.expired_keys.load(Ordering::Relaxed) >= 200);
}

#[test]
fn ttl_survives_rename_move_and_copy() {
    let f = Ferrous::start(&[]);
    let mut con = connect(f.port);
    let pttl = |con: &mut redis::Connection, k: &str| -> i64 {
        redis::cmd("PTTL").arg(k).query(con).unwrap()
    };
    let _: () = redis::cmd("SET")
        .arg("a")
        .arg("v")
        .arg("PX")
        .arg(50_000)
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("RENAME")
        .arg("a")
        .arg("b")
        .query(&mut con)
        .unwrap();
    assert!((49_000..=50_000).contains(&pttl(&mut con, "b")));
    let _: i64 = redis::cmd("COPY")
        .arg("b")
        .arg("c")
        .query(&mut con)
        .unwrap();
    assert!((49_000..=50_000).contains(&pttl(&mut con, "c")));
    let _: i64 = redis::cmd("MOVE").arg("c").arg(3).query(&mut con).unwrap();
    let _: () = redis::cmd("SELECT").arg(3).query(&mut con).unwrap();
    assert!((49_000..=50_000).contains(&pttl(&mut con, "c")));
}

#[test]
fn keyspace_hits_and_misses() {
    let f = Ferrous::start(&[]);
    let mut con = connect(f.port);
    set(&mut con, "a");
    let stats = &f.server().stats;
    let (h0, m0) = (
        stats.keyspace_hits.load(Ordering::Relaxed),
        stats.keyspace_misses.load(Ordering::Relaxed),
    );
    // Each of these counts like in Redis 7.0: TYPE, TTL, EXISTS, TOUCH,
    // OBJECT and COPY's source look the key up; EXPIRE, RENAME do not.
    for c in [
        &["TYPE", "a"][..],
        &["TYPE", "nokey"],
        &["TTL", "a"],
        &["PTTL", "nokey"],
        &["EXISTS", "a", "nokey"],
        &["TOUCH", "a", "nokey"],
        &["OBJECT", "ENCODING", "a"],
        &["COPY", "nokey", "x"],
        &["COPY", "a", "x"],
        &["EXPIRE", "a", "100"],
        &["RENAME", "x", "y"],
    ] {
        let _: redis::Value = redis::cmd(c[0]).arg(&c[1..]).query(&mut con).unwrap();
    }
    let hits = stats.keyspace_hits.load(Ordering::Relaxed) - h0;
    let misses = stats.keyspace_misses.load(Ordering::Relaxed) - m0;
    assert_eq!((hits, misses), (6, 5));
}

/// A small deterministic generator (xorshift) so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a, T>(&mut self, from: &'a [T]) -> &'a T {
        &from[(self.next() % from.len() as u64) as usize]
    }
}

/// KEYS over a fixed set of awkward names with thousands of generated
/// patterns must give the same set of names as the real server.
#[test]
fn glob_patterns_match_like_redis() {
    let Some(redis) = Redis::start(&[]) else {
        return;
    };
    let f = Ferrous::start(&[]);
    let mut r = connect(redis.port);
    let mut fe = connect(f.port);
    let names: &[&[u8]] = &[
        b"", b"a", b"b", b"A", b"ab", b"ba", b"aa", b"abc", b"a*b", b"a?b", b"a[b", b"a]b", b"a-b",
        b"a^b", b"a\\b", b"\xff", b"\x80", b"a\xffb", b"\x00", b"a\x00b", b"[", b"]", b"-", b"^",
        b"\\", b"*", b"?", b"aaa", b"aab", b"xyz", b"Ab", b"aB", b"b\x80", b"}",
    ];
    for n in names {
        for con in [&mut r, &mut fe] {
            let _: () = redis::cmd("SET").arg(*n).arg("v").query(con).unwrap();
        }
    }
    let atoms: &[&[u8]] = &[
        b"a", b"b", b"A", b"*", b"?", b"[", b"]", b"^", b"-", b"\\", b"\xff", b"\x80", b"x",
        b"\x00", b"}",
    ];
    let fixed: &[&[u8]] = &[
        b"[a-\xff]",
        b"[\xff-a]",
        b"[\x80-\xff]",
        b"[^a-\xff]",
        b"a[\x00-b]b",
        b"[-a]",
        b"[a-]",
        b"[]]",
        b"[^]]",
        b"a[\\]b",
        b"[\\-a]",
        b"[A-b]*",
        b"\\*",
        b"*\\",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..5000 {
        let len = 1 + rng.next() % 7;
        let pat: Vec<u8> = match fixed.get(i) {
            Some(p) => p.to_vec(),
            None => (0..len).flat_map(|_| rng.pick(atoms).to_vec()).collect(),
        };
        let mut want: Vec<Vec<u8>> = redis::cmd("KEYS").arg(&pat).query(&mut r).unwrap();
        let mut got: Vec<Vec<u8>> = redis::cmd("KEYS").arg(&pat).query(&mut fe).unwrap();
        want.sort();
        got.sort();
        assert_eq!(got, want, "pattern {}", pat.escape_ascii());
    }
}
