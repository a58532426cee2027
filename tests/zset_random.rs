//! Randomised differential tests for sorted sets and geo: long random
//! command sequences over sets big enough for the skiplist encoding (and
//! multi-level trees), compared byte for byte with a real redis-server.
//! Geo searches use random centres, radii and boxes so the cell selection,
//! unsorted result order and distance formatting are all exercised.

mod common;

use common::{show, Ferrous, Raw, Redis};

/// xorshift64*: deterministic, so failures reproduce.
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
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

fn both(r: &mut Raw, f: &mut Raw, args: &[String]) {
    let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
    r.send(&a);
    f.send(&a);
    let (want, got) = (r.read_reply(), f.read_reply());
    assert_eq!(show(&want), show(&got), "command: {}", args.join(" "));
}

fn score(g: &mut Rng) -> String {
    match g.below(8) {
        0 => g.range(-5, 5).to_string(),
        1 => format!("{}.{}", g.range(-100, 100), g.below(1000)),
        2 => ["inf", "-inf", "+inf", "0", "-0"][g.below(5) as usize].to_string(),
        3 => format!("{}e{}", g.range(-999, 999), g.range(-20, 20)),
        _ => g.range(-1000, 1000).to_string(),
    }
}

fn bound(g: &mut Rng) -> String {
    let s = match g.below(6) {
        0 => ["-inf", "+inf"][g.below(2) as usize].to_string(),
        _ => g.range(-1000, 1000).to_string(),
    };
    if g.below(3) == 0 {
        format!("({s}")
    } else {
        s
    }
}

fn lex(g: &mut Rng) -> String {
    match g.below(8) {
        0 => "-".into(),
        1 => "+".into(),
        _ => format!("{}m{}", ["[", "("][g.below(2) as usize], g.below(400)),
    }
}

fn member(g: &mut Rng) -> String {
    format!("m{}", g.below(400))
}

fn idx(g: &mut Rng) -> String {
    g.range(-450, 450).to_string()
}

#[test]
fn random_sorted_set_commands() {
    let Some(redis) = Redis::start(&[]) else {
        return;
    };
    let fe = Ferrous::start(&[]);
    let (mut r, mut f) = (redis.client(), fe.client());
    let seed = std::env::var("ZSEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_2a5e_7001);
    let mut g = Rng(seed);
    let keys = ["z1", "z2", "z3"];
    for _ in 0..4000 {
        let k = g.pick(&keys).to_string();
        let mut a: Vec<String> = Vec::new();
        match g.below(23) {
            0..=4 => {
                a.push("ZADD".into());
                a.push(k);
                for o in ["NX", "XX", "GT", "LT", "CH"] {
                    if g.below(8) == 0 {
                        a.push(o.into());
                    }
                }
                for _ in 0..g.range(1, 20) {
                    a.push(score(&mut g));
                    a.push(member(&mut g));
                }
            }
            5 => a.extend(["ZINCRBY".into(), k, score(&mut g), member(&mut g)]),
            6 => {
                a.extend(["ZREM".into(), k]);
                for _ in 0..g.range(1, 5) {
                    a.push(member(&mut g));
                }
            }
            7 => {
                a.extend(["ZRANGE".into(), k, idx(&mut g), idx(&mut g)]);
                if g.below(2) == 0 {
                    a.push("REV".into());
                }
                a.push("WITHSCORES".into());
            }
            8 => {
                a.extend(["ZRANGE".into(), k]);
                let rev = g.below(2) == 0;
                a.push(bound(&mut g));
                a.push(bound(&mut g));
                a.push("BYSCORE".into());
                if rev {
                    a.push("REV".into());
                }
                if g.below(2) == 0 {
                    a.extend([
                        "LIMIT".into(),
                        g.range(-1, 50).to_string(),
                        g.range(-1, 50).to_string(),
                    ]);
                }
                a.push("WITHSCORES".into());
            }
            9 => a.extend(["ZCOUNT".into(), k, bound(&mut g), bound(&mut g)]),
            10 => a.extend([
                ["ZRANK", "ZREVRANK", "ZSCORE"][g.below(3) as usize].into(),
                k,
                member(&mut g),
            ]),
            11 => {
                a.extend(["ZMSCORE".into(), k]);
                for _ in 0..5 {
                    a.push(member(&mut g));
                }
            }
            12 => a.extend([
                "ZREMRANGEBYRANK".into(),
                k,
                idx(&mut g),
                g.range(-450, -400).to_string(),
            ]),
            13 => a.extend(["ZREMRANGEBYSCORE".into(), k, bound(&mut g), bound(&mut g)]),
            14 => a.extend([
                ["ZPOPMIN", "ZPOPMAX"][g.below(2) as usize].into(),
                k,
                g.range(0, 5).to_string(),
            ]),
            15 => {
                let op = ["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"][g.below(3) as usize];
                a.extend([
                    op.into(),
                    g.pick(&keys).into(),
                    "2".into(),
                    k,
                    g.pick(&keys).into(),
                ]);
                if op != "ZDIFFSTORE" {
                    if g.below(2) == 0 {
                        a.extend(["WEIGHTS".into(), score(&mut g), score(&mut g)]);
                    }
                    if g.below(2) == 0 {
                        a.extend([
                            "AGGREGATE".into(),
                            ["SUM", "MIN", "MAX"][g.below(3) as usize].into(),
                        ]);
                    }
                }
            }
            16 => a.extend([
                "ZRANGESTORE".into(),
                g.pick(&keys).into(),
                k,
                idx(&mut g),
                idx(&mut g),
            ]),
            17 => a.extend(["OBJECT".into(), "ENCODING".into(), k]),
            18 => a.extend(["ZCARD".into(), k]),
            19 => {
                // Lex commands on a same-score set.
                let cmd = [
                    "ZRANGEBYLEX",
                    "ZREVRANGEBYLEX",
                    "ZLEXCOUNT",
                    "ZREMRANGEBYLEX",
                ][g.below(4) as usize];
                a.extend([cmd.into(), "lex".into(), lex(&mut g), lex(&mut g)]);
                if cmd.ends_with("BYLEX") && !cmd.starts_with("ZREM") && g.below(2) == 0 {
                    a.extend([
                        "LIMIT".into(),
                        g.range(-1, 30).to_string(),
                        g.range(-1, 30).to_string(),
                    ]);
                }
            }
            20 => {
                a.extend(["ZADD".into(), "lex".into()]);
                for _ in 0..g.range(1, 30) {
                    a.push("0".into());
                    a.push(member(&mut g));
                }
            }
            21 => {
                // A plain set, as an input of the algebra (members score 1).
                a.extend(["SADD".into(), "s".into()]);
                for _ in 0..g.range(1, 10) {
                    a.push(if g.below(3) == 0 {
                        g.below(50).to_string()
                    } else {
                        member(&mut g)
                    });
                }
            }
            _ => {
                let op = ["ZUNION", "ZINTER", "ZDIFF"][g.below(3) as usize];
                let third = if g.below(2) == 0 { "s" } else { "z3" };
                a.extend([
                    op.into(),
                    "3".into(),
                    "z1".into(),
                    third.into(),
                    "z2".into(),
                    "WITHSCORES".into(),
                ]);
            }
        }
        if std::env::var("ZTRACE").is_ok() {
            eprintln!("{}", a.join(" "));
        }
        both(&mut r, &mut f, &a);
    }
    for k in keys {
        let a: Vec<String> = vec![
            "ZRANGE".into(),
            k.into(),
            "0".into(),
            "-1".into(),
            "WITHSCORES".into(),
        ];
        both(&mut r, &mut f, &a);
    }
}

#[test]
fn random_geo_searches() {
    let Some(redis) = Redis::start(&[]) else {
        return;
    };
    let fe = Ferrous::start(&[]);
    let (mut r, mut f) = (redis.client(), fe.client());
    let seed = std::env::var("ZSEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x6e0_5eed_1234);
    let mut g = Rng(seed);
    let coord = |g: &mut Rng, max: f64| (g.below(2_000_001) as f64 / 1_000_000.0 - 1.0) * max;
    // Clustered points (a city) plus points all over the map.
    let mut add = vec!["GEOADD".to_string(), "g".into()];
    for i in 0..600 {
        let (lon, lat) = if i % 2 == 0 {
            (13.0 + coord(&mut g, 0.5), 38.0 + coord(&mut g, 0.5))
        } else {
            (coord(&mut g, 180.0), coord(&mut g, 85.0))
        };
        add.extend([format!("{lon:.6}"), format!("{lat:.6}"), format!("p{i}")]);
    }
    both(&mut r, &mut f, &add);
    for _ in 0..600 {
        let (lon, lat) = if g.below(2) == 0 {
            (13.0 + coord(&mut g, 0.6), 38.0 + coord(&mut g, 0.6))
        } else {
            (coord(&mut g, 180.0), coord(&mut g, 85.0))
        };
        let units = ["m", "km", "mi", "ft"];
        let radius = match g.below(4) {
            0 => g.below(5000).to_string(),
            1 => g.below(100).to_string(),
            2 => format!("{}.{}", g.below(300), g.below(100)),
            _ => g.below(3000).to_string(),
        };
        let mut a: Vec<String> = Vec::new();
        match g.below(4) {
            0 => a.extend([
                "GEORADIUS".into(),
                "g".into(),
                format!("{lon:.6}"),
                format!("{lat:.6}"),
                radius,
                g.pick(&units).into(),
            ]),
            1 => a.extend([
                "GEORADIUSBYMEMBER".into(),
                "g".into(),
                format!("p{}", g.below(600)),
                radius,
                g.pick(&units).into(),
            ]),
            2 => a.extend([
                "GEOSEARCH".into(),
                "g".into(),
                "FROMLONLAT".into(),
                format!("{lon:.6}"),
                format!("{lat:.6}"),
                "BYBOX".into(),
                radius,
                g.below(3000).to_string(),
                g.pick(&units).into(),
            ]),
            _ => {
                a.extend([
                    "GEODIST".into(),
                    "g".into(),
                    format!("p{}", g.below(600)),
                    format!("p{}", g.below(600)),
                    g.pick(&units).into(),
                ]);
                both(&mut r, &mut f, &a);
                continue;
            }
        }
        for o in ["WITHDIST", "WITHCOORD", "WITHHASH"] {
            if g.below(2) == 0 {
                a.push(o.into());
            }
        }
        match g.below(4) {
            0 => a.push("ASC".into()),
            1 => a.push("DESC".into()),
            _ => {}
        }
        if g.below(3) == 0 {
            a.extend(["COUNT".into(), g.range(1, 20).to_string()]);
            if g.below(2) == 0 {
                a.push("ANY".into());
            }
        }
        both(&mut r, &mut f, &a);
    }
    let mut pos = vec!["GEOPOS".to_string(), "g".into()];
    let mut hash = vec!["GEOHASH".to_string(), "g".into()];
    for i in 0..600 {
        pos.push(format!("p{i}"));
        hash.push(format!("p{i}"));
    }
    both(&mut r, &mut f, &pos);
    both(&mut r, &mut f, &hash);
}

/// ZSCAN over a skiplist-encoded set (hash-order cursors) returns every
/// member with its score, whatever COUNT, even with writes between steps.
#[test]
fn zscan_skiplist_visits_every_member() {
    let fe = Ferrous::start(&[]);
    let mut c = fe.client();
    let mut add = vec!["ZADD".to_string(), "big".into()];
    for i in 0..1000 {
        add.push(i.to_string());
        add.push(format!("m{i}"));
    }
    let a: Vec<&str> = add.iter().map(String::as_str).collect();
    assert_eq!(c.cmd(&a), b":1000\r\n");
    for count in ["1", "7", "100"] {
        let mut seen = std::collections::HashMap::new();
        let mut cursor = "0".to_string();
        let mut steps = 0;
        loop {
            let reply =
                String::from_utf8(c.cmd(&["ZSCAN", "big", &cursor, "COUNT", count])).unwrap();
            let lines: Vec<&str> = reply.split("\r\n").collect();
            // *2, $n, cursor, *m, then $len/value pairs.
            cursor = lines[2].to_string();
            let items: Vec<&str> = lines[4..].iter().skip(1).step_by(2).copied().collect();
            for pair in items.chunks(2) {
                if let [m, s] = pair {
                    seen.insert(m.to_string(), s.to_string());
                }
            }
            // Writes between steps must not make the scan miss old members.
            c.cmd(&["ZADD", "big", "5000", &format!("new{steps}")]);
            steps += 1;
            if cursor == "0" {
                break;
            }
            assert!(steps < 5000, "scan does not end");
        }
        for i in 0..1000 {
            assert_eq!(
                seen.get(&format!("m{i}")),
                Some(&i.to_string()),
                "count {count}"
            );
        }
    }
}

/// Keyspace hits and misses counted by the sorted-set and geo commands
/// agree with Redis (reads and store sources count, pops do not).
#[test]
fn keyspace_stats_match_redis() {
    let Some(redis) = Redis::start(&[]) else {
        return;
    };
    let fe = Ferrous::start(&[]);
    let stats = |c: &mut Raw| {
        let info = String::from_utf8(c.cmd(&["INFO", "stats"])).unwrap();
        info.lines()
            .filter(|l| l.starts_with("keyspace_hits:") || l.starts_with("keyspace_misses:"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let steps: &[&[&str]] = &[
        &["ZADD", "src", "1", "a"],
        &["ZSCORE", "src", "a"],
        &["ZSCORE", "nokey", "a"],
        &["ZRANGE", "src", "0", "-1"],
        &["ZUNIONSTORE", "d", "2", "src", "nokey"],
        &["ZRANGESTORE", "d", "src", "0", "-1"],
        &["GEORADIUS", "src", "0", "0", "1", "km", "STORE", "d"],
        &[
            "GEOSEARCHSTORE",
            "d",
            "src",
            "FROMLONLAT",
            "0",
            "0",
            "BYRADIUS",
            "1",
            "km",
        ],
        &["ZUNION", "2", "src", "nokey"],
        &["ZINTERCARD", "2", "src", "nokey"],
        &["ZMPOP", "1", "nokey", "MIN"],
        &["ZPOPMIN", "nokey"],
        &["ZRANDMEMBER", "nokey"],
        &["ZSCAN", "src", "0"],
        &["GEOPOS", "src", "a"],
        &["ZREM", "src", "x"],
    ];
    let run = |c: &mut Raw| {
        c.cmd(&["CONFIG", "RESETSTAT"]);
        steps
            .iter()
            .map(|s| {
                c.cmd(s);
                stats(c)
            })
            .collect::<Vec<_>>()
    };
    let (want, got) = (run(&mut redis.client()), run(&mut fe.client()));
    for ((w, g), s) in want.iter().zip(&got).zip(steps) {
        assert_eq!(w, g, "after {}", s.join(" "));
    }
}
