//! Randomised differential test of stream trimming and node bookkeeping:
//! seeded random XADD (with MAXLEN/MINID, exact or `~`), XDEL and XTRIM on
//! a real redis-server and on Ferrous; after every step the replies, XINFO
//! STREAM (radix tree counts, first/last ids, entries added, max deleted
//! id) and XLEN must be byte-identical. Field values of varied sizes make
//! `stream-node-max-bytes` cut nodes too. A last test throws awkward
//! arguments at every stream and HyperLogLog command (no panic, no drop).

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

fn both(r: &mut Raw, f: &mut Raw, args: &[Vec<u8>]) {
    let a: Vec<&[u8]> = args.iter().map(|x| x.as_slice()).collect();
    r.send(&a);
    f.send(&a);
    let (want, got) = (r.read_reply(), f.read_reply());
    let shown: Vec<String> = a.iter().take(8).map(|x| show(x)).collect();
    assert_eq!(show(&want), show(&got), "command: {}", shown.join(" "));
}

fn v(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn run(seed: u64, node_entries: &str, node_bytes: &str, big_values: bool, scale: u64) {
    let Some(redis) = Redis::start(&[]) else {
        return;
    };
    let ferrous = Ferrous::start(&[]);
    let (mut r, mut f) = (redis.client(), ferrous.client());
    let mut g = Rng(seed);
    both(
        &mut r,
        &mut f,
        &[
            v("CONFIG"),
            v("SET"),
            v("stream-node-max-entries"),
            v(node_entries),
        ],
    );
    both(
        &mut r,
        &mut f,
        &[
            v("CONFIG"),
            v("SET"),
            v("stream-node-max-bytes"),
            v(node_bytes),
        ],
    );
    let mut ms = 1u64;
    for _ in 0..600 {
        match g.below(10) {
            0..=5 => {
                ms += 1 + g.below(3);
                let mut cmd = vec![v("XADD"), v("s")];
                match g.below(8) {
                    0 => cmd.extend([
                        v("MAXLEN"),
                        v("~"),
                        (g.below(40 * scale)).to_string().into_bytes(),
                    ]),
                    1 => cmd.extend([v("MAXLEN"), (g.below(60 * scale)).to_string().into_bytes()]),
                    2 => cmd.extend([
                        v("MINID"),
                        v("~"),
                        (ms.saturating_sub(g.below(80 * scale)))
                            .to_string()
                            .into_bytes(),
                    ]),
                    _ => {}
                }
                cmd.push(format!("{ms}-{}", g.below(3)).into_bytes());
                for k in 0..1 + g.below(3) {
                    let field = if g.below(4) == 0 {
                        format!("f{k}x")
                    } else {
                        format!("f{k}")
                    };
                    let len = if big_values {
                        g.below(400)
                    } else {
                        g.below(12)
                    } as usize;
                    let val: Vec<u8> = if g.below(3) == 0 {
                        g.below(100_000).to_string().into_bytes()
                    } else {
                        (0..len).map(|_| b'a' + g.below(26) as u8).collect()
                    };
                    cmd.push(field.into_bytes());
                    cmd.push(val);
                }
                both(&mut r, &mut f, &cmd);
            }
            6 | 7 => {
                let mut cmd = vec![v("XDEL"), v("s")];
                for _ in 0..1 + g.below(4) {
                    let t = ms.saturating_sub(g.below(100 * scale));
                    cmd.push(format!("{t}-{}", g.below(3)).into_bytes());
                }
                both(&mut r, &mut f, &cmd);
            }
            8 => {
                let cmd = match g.below(4) {
                    0 => vec![
                        v("XTRIM"),
                        v("s"),
                        v("MAXLEN"),
                        v("~"),
                        g.below(80 * scale).to_string().into_bytes(),
                    ],
                    1 => vec![
                        v("XTRIM"),
                        v("s"),
                        v("MAXLEN"),
                        v("~"),
                        g.below(80 * scale).to_string().into_bytes(),
                        v("LIMIT"),
                        g.below(30).to_string().into_bytes(),
                    ],
                    2 => vec![
                        v("XTRIM"),
                        v("s"),
                        v("MINID"),
                        v("~"),
                        ms.saturating_sub(g.below(120 * scale))
                            .to_string()
                            .into_bytes(),
                    ],
                    _ => vec![
                        v("XTRIM"),
                        v("s"),
                        v("MAXLEN"),
                        g.below(80 * scale).to_string().into_bytes(),
                    ],
                };
                both(&mut r, &mut f, &cmd);
            }
            _ => {
                both(
                    &mut r,
                    &mut f,
                    &[v("XRANGE"), v("s"), v("-"), v("+"), v("COUNT"), v("5")],
                );
            }
        }
        both(&mut r, &mut f, &[v("XINFO"), v("STREAM"), v("s")]);
    }
    both(&mut r, &mut f, &[v("XRANGE"), v("s"), v("-"), v("+")]);
}

#[test]
fn trimming_small_entries_matches_redis() {
    run(0x57ae_a111, "10", "4096", false, 1);
}

#[test]
fn trimming_default_nodes_matches_redis() {
    run(0x57ae_a222, "100", "4096", false, 4);
}

#[test]
fn trimming_byte_limited_nodes_matches_redis() {
    run(0x57ae_a333, "100", "2000", true, 3);
}

#[test]
fn trimming_many_small_nodes_matches_redis() {
    run(0x57ae_a444, "7", "300", false, 3);
}

/// Awkward arguments for the stream and HyperLogLog commands (no BLOCK, so
/// nothing waits): ids at the limits, options in any order, other types.
const POOL: &[&str] = &[
    "s",
    "h",
    "str",
    "g",
    "c",
    "nokey",
    "0",
    "1",
    "-1",
    "5",
    "99999999",
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "1-1",
    "1-*",
    "(1",
    "(0-0",
    "-",
    "+",
    "$",
    ">",
    "*",
    "18446744073709551615-18446744073709551615",
    "(18446744073709551615-18446744073709551615",
    "",
    "\x00",
    "MAXLEN",
    "MINID",
    "LIMIT",
    "~",
    "=",
    "NOMKSTREAM",
    "COUNT",
    "STREAMS",
    "GROUP",
    "NOACK",
    "IDLE",
    "TIME",
    "RETRYCOUNT",
    "FORCE",
    "JUSTID",
    "LASTID",
    "ENTRIESREAD",
    "ENTRIESADDED",
    "MAXDELETEDID",
    "MKSTREAM",
    "FULL",
    "GETREG",
    "DECODE",
    "ENCODING",
    "TODENSE",
    "f",
    "v",
];

#[test]
fn awkward_arguments_never_drop_the_connection() {
    let ferrous = Ferrous::start(&[]);
    let mut c = ferrous.client();
    let mut g = Rng(0xa3c1_d0e5);
    let cmds: &[&[&str]] = &[
        &["XADD"],
        &["XTRIM"],
        &["XDEL"],
        &["XRANGE"],
        &["XREVRANGE"],
        &["XLEN"],
        &["XREAD"],
        &["XREADGROUP"],
        &["XACK"],
        &["XPENDING"],
        &["XCLAIM"],
        &["XAUTOCLAIM"],
        &["XSETID"],
        &["XGROUP", "CREATE"],
        &["XGROUP", "SETID"],
        &["XGROUP", "DESTROY"],
        &["XGROUP", "CREATECONSUMER"],
        &["XGROUP", "DELCONSUMER"],
        &["XINFO", "STREAM"],
        &["XINFO", "GROUPS"],
        &["XINFO", "CONSUMERS"],
        &["PFADD"],
        &["PFCOUNT"],
        &["PFMERGE"],
        &["PFDEBUG"],
    ];
    for round in 0..6000 {
        if round % 300 == 0 {
            c.cmd(&["FLUSHALL"]);
            c.cmd(&["XADD", "s", "1-1", "f", "v"]);
            c.cmd(&["XADD", "s", "2-1", "f", "v"]);
            c.cmd(&["XGROUP", "CREATE", "s", "g", "0"]);
            c.cmd(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"]);
            c.cmd(&["PFADD", "h", "a", "b"]);
            c.cmd(&["SET", "str", "x"]);
        }
        let cmd = cmds[g.below(cmds.len() as u64) as usize];
        let mut args: Vec<&str> = cmd.to_vec();
        for _ in 0..g.below(9) {
            args.push(POOL[g.below(POOL.len() as u64) as usize]);
        }
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        c.send(&a);
        assert!(
            c.try_read_reply().is_some(),
            "connection dropped after {args:?}"
        );
    }
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
}

/// Replies that carry idle or delivery times: only their type is compared.
fn timed(args: &[&str]) -> bool {
    let name = args[0].to_ascii_uppercase();
    let sub = args
        .get(1)
        .map(|s| s.to_ascii_uppercase())
        .unwrap_or_default();
    (name == "XPENDING" && args.len() >= 6)
        || (name == "XINFO" && sub == "CONSUMERS")
        || (name == "XINFO" && sub == "STREAM" && args.len() > 3)
}

#[test]
fn awkward_arguments_get_redis_replies() {
    for seed in [0xf00d_5eed, 0xbad_c0de, 0x1357_9bdf, 0x2468_ace0] {
        awkward_against_redis(seed);
    }
}

fn awkward_against_redis(seed: u64) {
    let Some(redis) = Redis::start(&[]) else {
        return;
    };
    let ferrous = Ferrous::start(&[]);
    let (mut r, mut f) = (redis.client(), ferrous.client());
    // No small positive numbers (a min-idle of a few ms could go either way)
    // and no `*` (ids from the clock).
    let pool: Vec<&str> = POOL
        .iter()
        .copied()
        .filter(|p| !matches!(*p, "*" | "1" | "5"))
        .collect();
    let mut g = Rng(seed);
    let cmds: &[&[&str]] = &[
        &["XADD"],
        &["XTRIM"],
        &["XDEL"],
        &["XRANGE"],
        &["XREVRANGE"],
        &["XLEN"],
        &["XREAD"],
        &["XREADGROUP"],
        &["XACK"],
        &["XPENDING"],
        &["XCLAIM"],
        &["XAUTOCLAIM"],
        &["XSETID"],
        &["XGROUP", "CREATE"],
        &["XGROUP", "SETID"],
        &["XGROUP", "DESTROY"],
        &["XGROUP", "CREATECONSUMER"],
        &["XGROUP", "DELCONSUMER"],
        &["XINFO", "STREAM"],
        &["XINFO", "GROUPS"],
        &["XINFO", "CONSUMERS"],
        &["PFADD"],
        &["PFCOUNT"],
        &["PFMERGE"],
        &["PFDEBUG"],
    ];
    let seed: &[&[&str]] = &[
        &["FLUSHALL"],
        &["XADD", "s", "1-1", "f", "v"],
        &["XADD", "s", "2-1", "f", "v"],
        &["XGROUP", "CREATE", "s", "g", "0"],
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"],
        &["PFADD", "h", "a", "b"],
        &["SET", "str", "x"],
        &["RPUSH", "l", "x"],
    ];
    for round in 0..5000 {
        if round % 250 == 0 {
            for s in seed {
                let a: Vec<&[u8]> = s.iter().map(|x| x.as_bytes()).collect();
                r.send(&a);
                f.send(&a);
                let _ = (r.read_reply(), f.read_reply());
            }
        }
        let cmd = cmds[g.below(cmds.len() as u64) as usize];
        let mut args: Vec<&str> = cmd.to_vec();
        for _ in 0..g.below(9) {
            args.push(pool[g.below(pool.len() as u64) as usize]);
        }
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        r.send(&a);
        f.send(&a);
        let (want, got) = (r.read_reply(), f.read_reply());
        if timed(&args) {
            assert_eq!(
                want[..1],
                got[..1],
                "{args:?}: {} vs {}",
                show(&want),
                show(&got)
            );
        } else {
            assert_eq!(show(&want), show(&got), "{args:?}");
        }
    }
}
