//! Randomised differential tests for the string commands whose results are
//! hard to enumerate by hand: INCRBYFLOAT's long double arithmetic, LCS's
//! choice among equally long subsequences, and BITFIELD/BITPOS/BITCOUNT
//! over random bitmaps. Each case is sent to a real redis-server and to
//! Ferrous; the replies (and the resulting value) must be byte-identical.

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
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
}

fn both(r: &mut Raw, f: &mut Raw, args: &[&[u8]]) {
    r.send(args);
    f.send(args);
    let (want, got) = (r.read_reply(), f.read_reply());
    let shown: Vec<String> = args.iter().map(|a| show(a)).collect();
    assert_eq!(show(&want), show(&got), "command: {}", shown.join(" "));
}

fn servers() -> Option<(Redis, Ferrous)> {
    let redis = Redis::start(&[])?;
    Some((redis, Ferrous::start(&[])))
}

fn float_text(g: &mut Rng) -> String {
    match g.below(6) {
        0 => g.range(-1_000_000, 1_000_000).to_string(),
        1 => format!("{}.{}", g.range(-1000, 1000), g.below(1_000_000_000)),
        2 => format!("{}e{}", g.range(-99999, 99999), g.range(-40, 40)),
        3 => format!("0.{}{}", "0".repeat(g.below(20) as usize), g.range(1, 999)),
        4 => format!(
            "{}.{:020}",
            g.range(-(1 << 40), 1 << 40),
            g.next() % 100_000_000_000_000_000
        ),
        _ => format!(
            "{:.*}",
            g.below(25) as usize,
            (g.next() % 2_000_000) as f64 / 1000.0 - 1000.0
        ),
    }
}

#[test]
fn incrbyfloat_matches_redis() {
    let Some((redis, ferrous)) = servers() else {
        return;
    };
    let (mut r, mut f) = (redis.client(), ferrous.client());
    let mut g = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..1500 {
        if i % 25 == 0 {
            let v = float_text(&mut g);
            both(&mut r, &mut f, &[b"SET", b"fz", v.as_bytes()]);
        }
        let x = float_text(&mut g);
        both(&mut r, &mut f, &[b"INCRBYFLOAT", b"fz", x.as_bytes()]);
    }
}

#[test]
fn lcs_matches_redis() {
    let Some((redis, ferrous)) = servers() else {
        return;
    };
    let (mut r, mut f) = (redis.client(), ferrous.client());
    let mut g = Rng(0x1234_5678_9abc_def1);
    for _ in 0..600 {
        let word = |g: &mut Rng| -> Vec<u8> {
            let n = g.below(16);
            (0..n).map(|_| b"abc"[g.below(3) as usize]).collect()
        };
        let (a, b) = (word(&mut g), word(&mut g));
        both(&mut r, &mut f, &[b"MSET", b"la", &a, b"lb", &b]);
        let min = g.below(4).to_string();
        let opts: &[&[u8]] = match g.below(5) {
            0 => &[],
            1 => &[b"IDX"],
            2 => &[b"IDX", b"WITHMATCHLEN"],
            3 => &[b"IDX", b"MINMATCHLEN", min.as_bytes(), b"WITHMATCHLEN"],
            _ => &[b"LEN"],
        };
        let mut cmd: Vec<&[u8]> = vec![b"LCS", b"la", b"lb"];
        cmd.extend_from_slice(opts);
        both(&mut r, &mut f, &cmd);
    }
}

#[test]
fn bit_commands_match_redis() {
    let Some((redis, ferrous)) = servers() else {
        return;
    };
    let (mut r, mut f) = (redis.client(), ferrous.client());
    let mut g = Rng(0x0dd_ba11_cafe_f00d);
    for _ in 0..1500 {
        let len = g.below(7);
        let bytes: Vec<u8> = (0..len)
            .map(|_| match g.below(3) {
                0 => 0,
                1 => 0xff,
                _ => g.below(256) as u8,
            })
            .collect();
        both(&mut r, &mut f, &[b"SET", b"bz", &bytes]);
        let mut args: Vec<String> = Vec::new();
        match g.below(3) {
            0 => {
                args.extend(["BITPOS".into(), "bz".into(), g.below(2).to_string()]);
                for _ in 0..g.below(3) {
                    args.push(g.range(-60, 60).to_string());
                }
                if args.len() == 5 && g.below(2) == 0 {
                    args.push(["BIT", "BYTE"][g.below(2) as usize].into());
                }
            }
            1 => {
                args.extend(["BITCOUNT".into(), "bz".into()]);
                if g.below(5) != 0 {
                    args.push(g.range(-60, 60).to_string());
                    args.push(g.range(-60, 60).to_string());
                    if g.below(2) == 0 {
                        args.push(["BIT", "BYTE"][g.below(2) as usize].into());
                    }
                }
            }
            _ => {
                args.extend(["BITFIELD".into(), "bz".into()]);
                for _ in 0..1 + g.below(4) {
                    let cap = if g.below(2) == 0 { 64 } else { 8 };
                    let width = 1 + g.below(cap);
                    let ty = format!("{}{}", ["i", "u"][g.below(2) as usize], width);
                    let off = format!("{}{}", ["", "#"][g.below(2) as usize], g.below(50));
                    let val = match g.below(4) {
                        0 => i64::MAX,
                        1 => i64::MIN,
                        2 => g.next() as i64,
                        _ => g.range(-300, 300),
                    }
                    .to_string();
                    match g.below(4) {
                        0 => args.extend(["GET".into(), ty, off]),
                        1 => args.extend(["SET".into(), ty, off, val]),
                        2 => args.extend(["INCRBY".into(), ty, off, val]),
                        _ => args.extend([
                            "OVERFLOW".into(),
                            ["WRAP", "SAT", "FAIL"][g.below(3) as usize].into(),
                        ]),
                    }
                }
            }
        }
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        both(&mut r, &mut f, &a);
        both(&mut r, &mut f, &[b"GET", b"bz"]);
    }
}
