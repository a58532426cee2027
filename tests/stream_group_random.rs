//! Randomised differential test of consumer groups: seeded random XADD,
//! XDEL, XTRIM, XREADGROUP (new and history), XACK, XCLAIM (FORCE,
//! RETRYCOUNT, LASTID, JUSTID), XAUTOCLAIM, XGROUP SETID/CREATE/DESTROY/
//! CREATECONSUMER/DELCONSUMER against a real redis-server and Ferrous. Replies that carry no
//! time (everything but idle and delivery times) must be byte-identical,
//! in particular XINFO GROUPS (entries-read, lag) and XPENDING summaries.

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

/// Sends `line` to both servers; words after the third of an `XINFO GROUPS`
/// line only label the step (the command that preceded it) in failures.
fn both(r: &mut Raw, f: &mut Raw, line: &str) {
    let mut args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    if line.starts_with("XINFO GROUPS") {
        args.truncate(3);
    }
    r.send(&args);
    f.send(&args);
    let (want, got) = (r.read_reply(), f.read_reply());
    assert_eq!(show(&want), show(&got), "command: {line}");
}

#[test]
fn consumer_groups_match_redis() {
    for seed in [
        0x6e0_0b5e,
        0x1234_5678,
        0xdead_beef,
        0x5eed_0001,
        0x5eed_0002,
    ] {
        run(seed);
    }
}

fn run(seed: u64) {
    let Some(redis) = Redis::start(&[]) else {
        return;
    };
    let ferrous = Ferrous::start(&[]);
    let (mut r, mut f) = (redis.client(), ferrous.client());
    let mut g = Rng(seed);
    both(&mut r, &mut f, "CONFIG SET stream-node-max-entries 8");
    both(&mut r, &mut f, "XGROUP CREATE s g1 0 MKSTREAM");
    both(&mut r, &mut f, "XGROUP CREATE s g2 $ ENTRIESREAD 0");
    let groups = ["g1", "g2"];
    let consumers = ["alice", "bob", "carol"];
    let mut ms = 0u64;
    for _ in 0..700 {
        let grp = groups[g.below(2) as usize];
        let who = consumers[g.below(3) as usize];
        let back = |g: &mut Rng, ms: u64| ms.saturating_sub(g.below(30));
        let line = match g.below(16) {
            0..=3 => {
                ms += 1 + g.below(2);
                format!("XADD s {ms}-{} f {}", g.below(2), g.below(100))
            }
            4 => format!("XDEL s {}-0 {}-1", back(&mut g, ms), back(&mut g, ms)),
            5 => match g.below(3) {
                0 => format!("XTRIM s MAXLEN {}", 5 + g.below(30)),
                1 => format!("XTRIM s MAXLEN ~ {}", g.below(30)),
                _ => format!("XTRIM s MINID {}", back(&mut g, ms)),
            },
            6..=8 => match g.below(3) {
                0 => format!(
                    "XREADGROUP GROUP {grp} {who} COUNT {} STREAMS s >",
                    1 + g.below(4)
                ),
                1 => format!("XREADGROUP GROUP {grp} {who} NOACK COUNT 2 STREAMS s >"),
                _ => format!(
                    "XREADGROUP GROUP {grp} {who} STREAMS s {}",
                    back(&mut g, ms)
                ),
            },
            9 | 10 => format!("XACK s {grp} {}-0 {}-1", back(&mut g, ms), back(&mut g, ms)),
            11 => {
                let opts = match g.below(5) {
                    0 => String::new(),
                    1 => " FORCE".to_string(),
                    2 => format!(" RETRYCOUNT {}", g.below(9)),
                    3 => format!(" LASTID {}-0", ms + g.below(3)),
                    _ => " FORCE JUSTID".to_string(),
                };
                format!(
                    "XCLAIM s {grp} {who} 0 {}-0 {}-1{opts}",
                    back(&mut g, ms),
                    back(&mut g, ms)
                )
            }
            12 => {
                let justid = if g.below(2) == 0 { " JUSTID" } else { "" };
                format!(
                    "XAUTOCLAIM s {grp} {who} 0 {}-0 COUNT {}{justid}",
                    back(&mut g, ms),
                    1 + g.below(5)
                )
            }
            13 => match g.below(4) {
                0 => format!("XGROUP SETID s {grp} {}", back(&mut g, ms)),
                1 => format!(
                    "XGROUP SETID s {grp} {} ENTRIESREAD {}",
                    back(&mut g, ms),
                    g.below(40)
                ),
                2 => format!("XGROUP CREATECONSUMER s {grp} {who}"),
                _ => format!("XGROUP DELCONSUMER s {grp} {who}"),
            },
            14 if g.below(8) == 0 => {
                both(&mut r, &mut f, &format!("XGROUP DESTROY s {grp}"));
                format!(
                    "XGROUP CREATE s {grp} {} ENTRIESREAD {}",
                    back(&mut g, ms),
                    g.below(20)
                )
            }
            14 => format!("XPENDING s {grp}"),
            _ => "XINFO GROUPS s".to_string(),
        };
        both(&mut r, &mut f, &line);
        both(&mut r, &mut f, &format!("XINFO GROUPS s {line}"));
        both(&mut r, &mut f, "XINFO STREAM s");
    }
    both(&mut r, &mut f, "XPENDING s g1");
    both(&mut r, &mut f, "XPENDING s g2");
}
