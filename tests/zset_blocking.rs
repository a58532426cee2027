//! BZPOPMIN, BZPOPMAX and BZMPOP against a real redis-server: each scenario
//! runs the same steps with two clients on both servers (one blocks, the
//! other writes) and the replies must be byte-identical.

mod common;

use std::time::Duration;

use common::{show, Ferrous, Raw, Redis};

/// One scenario step: which client, the command, and whether to read its
/// reply now (false for a command that blocks).
type Step<'a> = (usize, &'a [&'a str], bool);

fn run(steps: &[Step<'_>], port: u16) -> Vec<Vec<u8>> {
    let mut c = [Raw::connect(port), Raw::connect(port)];
    let mut pending = [false, false];
    let mut out = Vec::new();
    for &(who, args, read) in steps {
        if args.is_empty() {
            // Collect the reply of a blocked command.
            out.push(c[who].read_reply());
            pending[who] = false;
            continue;
        }
        if args == ["!sleep"] {
            std::thread::sleep(Duration::from_millis(150));
            continue;
        }
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        c[who].send(&a);
        if args[0] == "HELLO" {
            // The reply carries the client id, which differs.
            c[who].read_reply();
            continue;
        }
        if read {
            out.push(c[who].read_reply());
        } else {
            pending[who] = true;
            // Give the server time to register the waiter.
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    out
}

fn compare(name: &str, steps: &[Step<'_>]) {
    let Some(redis) = Redis::start(&[]) else {
        return;
    };
    let fe = Ferrous::start(&[]);
    let want = run(steps, redis.port);
    let got = run(steps, fe.port);
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        assert_eq!(show(w), show(g), "{name}: reply {i}");
    }
    assert_eq!(want.len(), got.len());
}

const WAIT: &[&str] = &[];

#[test]
fn bzpopmin_served_by_zadd() {
    compare(
        "bzpopmin",
        &[
            (0, &["BZPOPMIN", "k1", "k2", "0"], false),
            (1, &["ZADD", "k2", "2", "b", "1", "a"], true),
            (0, WAIT, true),
            (1, &["ZRANGE", "k2", "0", "-1", "WITHSCORES"], true),
            (0, &["BZPOPMAX", "k2", "0"], true),
            (0, &["EXISTS", "k2"], true),
        ],
    );
}

#[test]
fn bzpopmax_resp3_and_timeout() {
    compare(
        "bzpopmax",
        &[
            (0, &["HELLO", "3"], true),
            (0, &["BZPOPMAX", "k", "0.1"], true),
            (0, &["BZPOPMAX", "k", "0"], false),
            (1, &["ZADD", "k", "1", "a", "5", "e"], true),
            (0, WAIT, true),
            (0, &["BZPOPMIN", "k", "-1"], true),
            (0, &["BZPOPMIN", "k", "x"], true),
            (1, &["SET", "s", "x"], true),
            (0, &["BZPOPMIN", "s", "0"], true),
        ],
    );
}

#[test]
fn bzmpop_served_and_errors() {
    compare(
        "bzmpop",
        &[
            (
                0,
                &["BZMPOP", "0", "2", "a", "b", "MAX", "COUNT", "2"],
                false,
            ),
            (1, &["ZADD", "b", "1", "x", "2", "y", "3", "z"], true),
            (0, WAIT, true),
            (0, &["BZMPOP", "0", "2", "a", "b", "MIN"], true),
            (0, &["BZMPOP", "0.05", "1", "a", "MIN"], true),
            (0, &["BZMPOP", "0", "0", "a", "MIN"], true),
            (0, &["BZMPOP", "-1", "1", "a", "MIN"], true),
            (1, &["GEOADD", "g", "0", "0", "p"], true),
            (0, &["BZPOPMIN", "g", "0"], true),
        ],
    );
}

#[test]
fn store_commands_serve_waiters() {
    compare(
        "stores",
        &[
            (1, &["ZADD", "src", "1", "a", "2", "b"], true),
            (0, &["BZPOPMIN", "dst", "0"], false),
            (1, &["ZUNIONSTORE", "dst", "1", "src"], true),
            (0, WAIT, true),
            (0, &["BZPOPMAX", "dst2", "0"], false),
            (1, &["ZINCRBY", "dst2", "3", "m"], true),
            (0, WAIT, true),
        ],
    );
}
