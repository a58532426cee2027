//! Randomised differential test of the list commands: long random sequences
//! of pushes, pops, moves, inserts, removals, trims, LPOS and SORT over a
//! few keys with a small alphabet of elements (so matches and ties are
//! frequent), sent to a real redis-server and to Ferrous; every reply must
//! be byte-identical, and so must the lists at the end.

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

const KEYS: &[&str] = &["l1", "l2", "l3"];
const ELEMS: &[&str] = &["1", "2", "3", "10", "a", "b", "-5", "2.5"];
const ENDS: &[&str] = &["LEFT", "RIGHT"];

fn command(g: &mut Rng) -> Vec<String> {
    let k = g.pick(KEYS).to_string();
    let idx = |g: &mut Rng| g.range(-12, 12).to_string();
    let s = |x: &str| x.to_string();
    match g.below(20) {
        0 | 1 => {
            let mut v = vec![s(g.pick(&["LPUSH", "RPUSH"])), k];
            for _ in 0..g.range(1, 6) {
                v.push(s(g.pick(ELEMS)));
            }
            v
        }
        2 => vec![s(g.pick(&["LPUSHX", "RPUSHX"])), k, s(g.pick(ELEMS))],
        3 => {
            let mut v = vec![s(g.pick(&["LPOP", "RPOP"])), k];
            if g.below(2) == 0 {
                v.push(g.range(0, 4).to_string());
            }
            v
        }
        4 => vec![s("LRANGE"), k, idx(g), idx(g)],
        5 => vec![s("LINDEX"), k, idx(g)],
        6 => vec![s("LSET"), k, idx(g), s(g.pick(ELEMS))],
        7 => vec![
            s("LINSERT"),
            k,
            s(g.pick(&["BEFORE", "AFTER"])),
            s(g.pick(ELEMS)),
            s(g.pick(ELEMS)),
        ],
        8 => vec![s("LREM"), k, g.range(-3, 3).to_string(), s(g.pick(ELEMS))],
        9 => vec![s("LTRIM"), k, idx(g), idx(g)],
        10 => {
            let mut v = vec![s("LPOS"), k, s(g.pick(ELEMS))];
            if g.below(2) == 0 {
                let r = g.range(-3, 3);
                v.extend([s("RANK"), (if r == 0 { 1 } else { r }).to_string()]);
            }
            if g.below(2) == 0 {
                v.extend([s("COUNT"), g.range(0, 3).to_string()]);
            }
            if g.below(3) == 0 {
                v.extend([s("MAXLEN"), g.range(0, 6).to_string()]);
            }
            v
        }
        11 => vec![
            s("LMOVE"),
            k,
            s(g.pick(KEYS)),
            s(g.pick(ENDS)),
            s(g.pick(ENDS)),
        ],
        12 => vec![s("RPOPLPUSH"), k, s(g.pick(KEYS))],
        13 => {
            let mut v = vec![s("LMPOP"), s("2"), k, s(g.pick(KEYS)), s(g.pick(ENDS))];
            if g.below(2) == 0 {
                v.extend([s("COUNT"), g.range(1, 4).to_string()]);
            }
            v
        }
        14 => vec![s("LLEN"), k],
        15 => {
            let mut v = vec![s("SORT"), k];
            if g.below(2) == 0 {
                v.push(s("ALPHA"));
            }
            if g.below(2) == 0 {
                v.push(s("DESC"));
            }
            if g.below(3) == 0 {
                v.extend([
                    s("LIMIT"),
                    g.range(-1, 4).to_string(),
                    g.range(-1, 4).to_string(),
                ]);
            }
            if g.below(4) == 0 {
                v.extend([s("BY"), s(g.pick(&["w_*", "nosort"]))]);
            }
            if g.below(4) == 0 {
                v.extend([s("GET"), s(g.pick(&["#", "w_*"]))]);
            }
            if g.below(5) == 0 {
                v.extend([s("STORE"), s(g.pick(KEYS))]);
            }
            v
        }
        16 => vec![s("BLPOP"), k, s(g.pick(KEYS)), s("0.01")],
        17 => vec![
            s("BLMOVE"),
            k,
            s(g.pick(KEYS)),
            s(g.pick(ENDS)),
            s(g.pick(ENDS)),
            s("0.01"),
        ],
        18 => vec![s("BLMPOP"), s("0.01"), s("1"), k, s(g.pick(ENDS))],
        _ => vec![s("EXISTS"), k],
    }
}

#[test]
fn list_commands_match_redis() {
    let Some(redis) = Redis::start(&[]) else {
        return;
    };
    let ferrous = Ferrous::start(&[]);
    let (mut r, mut f) = (redis.client(), ferrous.client());
    let mut g = Rng(0x1234_5678_9abc_def1);
    let setup: Vec<Vec<String>> = vec![vec![
        "MSET".into(),
        "w_1".into(),
        "5".into(),
        "w_2".into(),
        "5".into(),
        "w_a".into(),
        "-1".into(),
        "w_10".into(),
        "z".into(),
    ]];
    for c in &setup {
        both(&mut r, &mut f, c);
    }
    for _ in 0..3000 {
        let c = command(&mut g);
        both(&mut r, &mut f, &c);
    }
    for k in KEYS {
        both(
            &mut r,
            &mut f,
            &["LRANGE".into(), k.to_string(), "0".into(), "-1".into()],
        );
    }
}
