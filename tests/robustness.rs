//! Hostile input never crashes a connection: every command of the table (and
//! every subcommand) is sent with many combinations of awkward arguments, and
//! each must get a reply on a live connection. A panic in a handler would drop
//! the connection (tokio isolates the task) and fail this test.

mod common;

use common::Ferrous;

/// Awkward argument values: numbers at and past the limits, empty and binary
/// strings, option words, glob metacharacters.
const POOL: &[&[u8]] = &[
    b"",
    b"0",
    b"1",
    b"-1",
    b"2",
    b"100",
    b"-100",
    b"4294967296",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"9223372036854775808",
    b"1.5",
    b"-0",
    b"nan",
    b"inf",
    b"-inf",
    b"1e400",
    b"0x10",
    b" 1",
    b"\x00",
    b"\xff\x00\xfe",
    b"k",
    b"k2",
    b"*",
    b"?",
    b"[",
    b"[a-",
    b"\\",
    b"EX",
    b"PX",
    b"EXAT",
    b"NX",
    b"XX",
    b"GT",
    b"LT",
    b"GET",
    b"KEEPTTL",
    b"COUNT",
    b"MATCH",
    b"TYPE",
    b"LEN",
    b"IDX",
    b"BIT",
    b"BYTE",
    b"OVERFLOW",
    b"SAT",
    b"FAIL",
    b"WRAP",
    b"i64",
    b"u63",
    b"i0",
    b"#-1",
    b"SET",
    b"INCRBY",
    b"AND",
    b"NOT",
    b"DB",
    b"REPLACE",
    b"ID",
    b"ADDR",
    b"SKIPME",
    b"yes",
    b"ON",
    b"OFF",
    b"SKIP",
    b"WITHMATCHLEN",
    b"MINMATCHLEN",
];

/// Commands whose side effects would end or stall the test itself.
fn skipped(name: &str) -> bool {
    matches!(
        name,
        "shutdown"
            | "quit"
            | "monitor"
            | "debug"
            | "client|pause"
            | "client|kill"
            | "config|set"
            | "client|reply"
            | "reset"
            | "auth"
            | "hello"
    )
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as usize
    }
}

#[test]
fn every_command_survives_awkward_arguments() {
    let f = Ferrous::start(&[]);
    let mut c = f.client();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut names: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
    for spec in &ferrous::commands::table().all {
        // A blocking command with a valid timeout would stall the test; their
        // argument errors are covered by the blocking and differential tests.
        if spec.has(ferrous::commands::flags::BLOCKING) {
            continue;
        }
        if spec.subcommands.is_empty() {
            names.push((spec.name.to_string(), vec![spec.name.as_bytes().to_vec()]));
        }
        for sub in spec.subcommands {
            names.push((
                format!("{}|{}", spec.name, sub.name),
                vec![spec.name.as_bytes().to_vec(), sub.name.as_bytes().to_vec()],
            ));
        }
    }
    let mut sent = 0;
    for (name, prefix) in &names {
        if skipped(name) {
            continue;
        }
        for round in 0..60 {
            // Seed some keys of the only type we have, some expiring.
            if round % 20 == 0 {
                c.cmd(&["FLUSHALL"]);
                c.cmd(&["SET", "k", "10"]);
                c.cmd(&["SET", "k2", "hello", "PX", "5"]);
            }
            let argc = rng.next() % 7;
            let mut args: Vec<&[u8]> = prefix.iter().map(|p| &p[..]).collect();
            for _ in 0..argc {
                args.push(POOL[rng.next() % POOL.len()]);
            }
            c.send(&args);
            let reply = c.try_read_reply();
            assert!(
                reply.is_some(),
                "connection dropped after {:?}",
                args.iter().map(|a| common::show(a)).collect::<Vec<_>>()
            );
            sent += 1;
        }
    }
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    assert!(sent > 3000, "{sent}");
}
