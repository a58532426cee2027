//! Keyspace hit/miss statistics of the stream and HyperLogLog commands,
//! compared with a real redis-server: after each command the change of
//! `keyspace_hits` and `keyspace_misses` in INFO stats must be the same
//! (Redis counts read lookups, not write lookups, and some commands look a
//! key up twice).

mod common;

use common::{Ferrous, Raw, Redis};

fn stat(c: &mut Raw, name: &str) -> u64 {
    let info = String::from_utf8_lossy(&c.cmd(&["INFO", "stats"])).into_owned();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn deltas(c: &mut Raw, line: &str) -> (u64, u64) {
    let (h, m) = (stat(c, "keyspace_hits"), stat(c, "keyspace_misses"));
    let args: Vec<&str> = line.split(' ').collect();
    c.cmd(&args);
    (stat(c, "keyspace_hits") - h, stat(c, "keyspace_misses") - m)
}

#[test]
fn hits_and_misses_match_redis() {
    let Some(redis) = Redis::start(&[]) else {
        return;
    };
    let ferrous = Ferrous::start(&[]);
    let (mut r, mut f) = (redis.client(), ferrous.client());
    let script = [
        "XADD s 1-1 f v",
        "XADD s 2-1 f v",
        "XLEN s",
        "XLEN nokey",
        "XRANGE s - +",
        "XRANGE nokey - +",
        "XREVRANGE s + -",
        "XREAD STREAMS s nokey 0 0",
        "XREAD STREAMS s $",
        "XDEL s 9-9",
        "XTRIM s MAXLEN 5",
        "XGROUP CREATE s g 0",
        "XREADGROUP GROUP g c STREAMS s >",
        "XREADGROUP GROUP g c STREAMS s 0",
        "XREADGROUP GROUP g c STREAMS nokey >",
        "XACK s g 1-1",
        "XACK nokey g 1-1",
        "XPENDING s g",
        "XPENDING nokey g",
        "XCLAIM s g d 0 2-1 JUSTID",
        "XCLAIM nokey g d 0 2-1",
        "XAUTOCLAIM s g d 0 0 JUSTID",
        "XAUTOCLAIM nokey g d 0 0",
        "XINFO STREAM s",
        "XINFO GROUPS s",
        "XINFO CONSUMERS s g",
        "XINFO STREAM nokey",
        "XSETID s 5-5",
        "XGROUP SETID s g 0",
        "SET str x",
        "XLEN str",
        "PFADD h a b c",
        "PFADD h d",
        "PFCOUNT h",
        "PFCOUNT h nokey",
        "PFCOUNT nokey",
        "PFMERGE h2 h nokey",
        "PFMERGE h3",
        "PFDEBUG ENCODING h",
    ];
    for line in script {
        assert_eq!(deltas(&mut r, line), deltas(&mut f, line), "{line}");
    }
}
