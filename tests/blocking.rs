//! Blocking list commands across connections, compared with a real
//! redis-server: every scenario runs against both servers and records the
//! replies each client gets (or that it got none yet); the transcripts must
//! be equal. Covers FIFO serving, pushes from other connections, pipelines,
//! fractional timeouts, disconnects, keys deleted or changing type,
//! CLIENT UNBLOCK, BLMOVE chains, databases and RESP3.

mod common;

use std::time::Instant;

use common::{compare_logs as compare, settle, Ferrous, Raw};

fn info_field(c: &mut Raw, field: &str) -> String {
    let r = c.cmd(&["INFO", "clients"]);
    let s = String::from_utf8_lossy(&r).into_owned();
    s.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
        .unwrap_or_default()
}

#[test]
fn fifo_many_clients() {
    compare("fifo", |port, log| {
        let mut p = Raw::connect(port);
        let mut waiters: Vec<Raw> = (0..20).map(|_| Raw::connect(port)).collect();
        for w in waiters.iter_mut() {
            w.send_str(&["BLPOP", "k", "0"]);
            settle();
        }
        log.note(info_field(&mut p, "blocked_clients"));
        log.cmd(&mut p, &["RPUSH", "k", "a", "b", "c"]);
        for w in waiters.iter_mut().take(3) {
            log.poll(w, 1000);
        }
        for w in waiters.iter_mut().skip(3) {
            log.poll(w, 20);
        }
        // One element at a time, served in blocking order.
        for (i, w) in waiters.iter_mut().enumerate().skip(3) {
            log.cmd(&mut p, &["LPUSH", "k", &format!("v{i}")]);
            log.poll(w, 1000);
        }
        log.cmd(&mut p, &["EXISTS", "k"]);
        log.note(info_field(&mut p, "blocked_clients"));
    });
}

#[test]
fn multiple_keys_and_pipelines() {
    compare("multikey", |port, log| {
        let mut p = Raw::connect(port);
        let mut a = Raw::connect(port);
        let mut b = Raw::connect(port);
        a.send_str(&["BRPOP", "k1", "k2", "k3", "0"]);
        settle();
        b.send_str(&["BLPOP", "k2", "0"]);
        settle();
        log.cmd(&mut p, &["RPUSH", "k2", "x", "y"]);
        log.poll(&mut a, 1000);
        log.poll(&mut b, 1000);
        // A pipeline: the push serves the waiter before the LPOP runs.
        a.send_str(&["BLPOP", "k3", "0"]);
        settle();
        p.send_raw(b"*3\r\n$5\r\nRPUSH\r\n$2\r\nk3\r\n$1\r\nz\r\n*2\r\n$4\r\nLPOP\r\n$2\r\nk3\r\n");
        log.poll(&mut p, 1000);
        log.poll(&mut p, 1000);
        log.poll(&mut a, 1000);
        // Commands pipelined behind a blocking one wait for it.
        a.send_raw(b"*3\r\n$5\r\nBLPOP\r\n$2\r\nk4\r\n$1\r\n0\r\n*1\r\n$4\r\nPING\r\n");
        log.poll(&mut a, 100);
        log.cmd(&mut p, &["RPUSH", "k4", "w"]);
        log.poll(&mut a, 1000);
        log.poll(&mut a, 1000);
        // The same key twice.
        a.send_str(&["BLPOP", "k5", "k5", "0"]);
        settle();
        log.cmd(&mut p, &["RPUSH", "k5", "1", "2"]);
        log.poll(&mut a, 1000);
        log.cmd(&mut p, &["LRANGE", "k5", "0", "-1"]);
    });
}

#[test]
fn timeouts() {
    compare("timeouts", |port, log| {
        let mut a = Raw::connect(port);
        for (cmd, t) in [
            (vec!["BLPOP", "nokey", "0.2"], 200),
            (vec!["BRPOP", "nokey", "nokey2", "0.15"], 150),
            (vec!["BLMOVE", "nokey", "dst", "LEFT", "RIGHT", "0.1"], 100),
            (vec!["BRPOPLPUSH", "nokey", "dst", "0.1"], 100),
            (
                vec!["BLMPOP", "0.1", "1", "nokey", "RIGHT", "COUNT", "2"],
                100,
            ),
        ] {
            let start = Instant::now();
            a.send_str(&cmd);
            log.poll(&mut a, 3000);
            let took = start.elapsed().as_millis() as u64;
            log.note(format!("in time: {}", took + 20 >= t && took < t + 1500));
        }
        // Negative zero-ish timeouts truncate to 0: block forever.
        let mut p = Raw::connect(port);
        a.send_str(&["BLPOP", "k", "-0.0001"]);
        log.poll(&mut a, 200);
        log.cmd(&mut p, &["RPUSH", "k", "v"]);
        log.poll(&mut a, 1000);
        // RESP3 timeouts.
        a.cmd(&["HELLO", "3"]);
        a.send_str(&["BLPOP", "nokey", "0.05"]);
        log.poll(&mut a, 2000);
        a.send_str(&["BLMOVE", "nokey", "d", "LEFT", "LEFT", "0.05"]);
        log.poll(&mut a, 2000);
        a.send_str(&["BLPOP", "k", "0"]);
        settle();
        log.cmd(&mut p, &["RPUSH", "k", "r3"]);
        log.poll(&mut a, 1000);
    });
}

#[test]
fn disconnect_while_blocked() {
    compare("disconnect", |port, log| {
        let mut p = Raw::connect(port);
        {
            let mut a = Raw::connect(port);
            a.send_str(&["BLPOP", "k", "0"]);
            settle();
            log.note(info_field(&mut p, "blocked_clients"));
        }
        settle();
        log.note(info_field(&mut p, "blocked_clients"));
        log.cmd(&mut p, &["RPUSH", "k", "x"]);
        log.cmd(&mut p, &["LLEN", "k"]);
        // A second waiter after a vanished first one is still served.
        let mut b = Raw::connect(port);
        {
            let mut a = Raw::connect(port);
            a.send_str(&["BLPOP", "j", "0"]);
            settle();
            b.send_str(&["BLPOP", "j", "0"]);
            settle();
        }
        settle();
        log.cmd(&mut p, &["RPUSH", "j", "y"]);
        log.poll(&mut b, 1000);
        log.cmd(&mut p, &["EXISTS", "j"]);
        // Killed while blocked (with a timeout).
        let mut a = Raw::connect(port);
        let id = a.client_id();
        a.send_str(&["BLMOVE", "h", "i", "LEFT", "LEFT", "100"]);
        settle();
        log.note(info_field(&mut p, "clients_in_timeout_table"));
        log.cmd(&mut p, &["CLIENT", "KILL", "ID", &id]);
        log.note(format!("{:?}", a.poll(1000)));
        settle();
        log.note(info_field(&mut p, "blocked_clients"));
        log.note(info_field(&mut p, "clients_in_timeout_table"));
        log.cmd(&mut p, &["RPUSH", "h", "z"]);
        log.cmd(&mut p, &["LRANGE", "h", "0", "-1"]);
    });
}

#[test]
fn key_deleted_or_changing_type() {
    compare("types", |port, log| {
        let mut p = Raw::connect(port);
        let mut a = Raw::connect(port);
        a.send_str(&["BLPOP", "k", "0"]);
        settle();
        // Redis 7.0 keeps the client blocked when the key becomes a string.
        log.cmd(&mut p, &["SET", "k", "str"]);
        log.poll(&mut a, 100);
        log.cmd(&mut p, &["DEL", "k"]);
        log.poll(&mut a, 100);
        log.cmd(&mut p, &["RPUSH", "k", "v"]);
        log.poll(&mut a, 1000);
        // A wrong-type destination is reported to a BLMOVE waiter, and the
        // element stays in the source.
        a.send_str(&["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"]);
        settle();
        log.cmd(&mut p, &["SET", "dst", "str"]);
        log.cmd(&mut p, &["RPUSH", "src", "e"]);
        log.poll(&mut a, 1000);
        log.cmd(&mut p, &["LRANGE", "src", "0", "-1"]);
        // BRPOP from the other end.
        a.send_str(&["BRPOP", "ex", "0"]);
        settle();
        log.cmd(&mut p, &["RPUSH", "ex", "1"]);
        log.poll(&mut a, 1000);
        // A push pipelined with a pop: the waiter is served first.
        a.send_str(&["BLPOP", "gone", "0"]);
        settle();
        p.send_raw(
            b"*3\r\n$5\r\nRPUSH\r\n$4\r\ngone\r\n$1\r\n1\r\n*2\r\n$4\r\nLPOP\r\n$4\r\ngone\r\n",
        );
        log.poll(&mut p, 1000);
        log.poll(&mut p, 1000);
        log.poll(&mut a, 100);
        log.cmd(&mut p, &["RPUSH", "gone", "2"]);
        log.poll(&mut a, 1000);
    });
}

#[test]
fn client_unblock() {
    compare("unblock", |port, log| {
        let mut p = Raw::connect(port);
        let mut a = Raw::connect(port);
        let id = a.client_id();
        log.cmd(&mut p, &["CLIENT", "UNBLOCK", &id]);
        a.send_str(&["BLPOP", "k", "0"]);
        settle();
        let list = String::from_utf8_lossy(&p.cmd(&["CLIENT", "LIST", "ID", &id])).into_owned();
        log.note(
            list.split(' ')
                .find(|f| f.starts_with("flags="))
                .unwrap_or("")
                .to_string(),
        );
        log.cmd(&mut p, &["CLIENT", "UNBLOCK", &id]);
        log.poll(&mut a, 1000);
        log.cmd(&mut p, &["CLIENT", "UNBLOCK", &id, "TIMEOUT"]);
        a.send_str(&["BLMOVE", "k", "d", "LEFT", "LEFT", "0"]);
        settle();
        log.cmd(&mut p, &["CLIENT", "UNBLOCK", &id, "ERROR"]);
        log.poll(&mut a, 1000);
        a.send_str(&["BRPOPLPUSH", "k", "d", "0"]);
        settle();
        log.cmd(&mut p, &["CLIENT", "UNBLOCK", &id, "timeout"]);
        log.poll(&mut a, 1000);
        log.cmd(&mut p, &["CLIENT", "UNBLOCK", &id, "bogus"]);
        log.note(info_field(&mut p, "blocked_clients"));
        log.cmd(&mut p, &["PING"]);
        log.cmd(&mut a, &["PING"]);
    });
}

#[test]
fn blmove_chains() {
    compare("chains", |port, log| {
        let mut p = Raw::connect(port);
        let mut a = Raw::connect(port);
        let mut b = Raw::connect(port);
        let mut c = Raw::connect(port);
        a.send_str(&["BLMOVE", "l1", "l2", "LEFT", "LEFT", "0"]);
        settle();
        b.send_str(&["BRPOPLPUSH", "l2", "l3", "0"]);
        settle();
        c.send_str(&["BLPOP", "l3", "0"]);
        settle();
        log.cmd(&mut p, &["RPUSH", "l1", "x", "y"]);
        log.poll(&mut a, 1000);
        log.poll(&mut b, 1000);
        log.poll(&mut c, 1000);
        for k in ["l1", "l2", "l3"] {
            log.cmd(&mut p, &["LRANGE", k, "0", "-1"]);
        }
        // A rotation onto itself serves the next waiter on the same key.
        a.send_str(&["BLMOVE", "r", "r", "RIGHT", "LEFT", "0"]);
        settle();
        b.send_str(&["BLPOP", "r", "0"]);
        settle();
        log.cmd(&mut p, &["RPUSH", "r", "1", "2"]);
        log.poll(&mut a, 1000);
        log.poll(&mut b, 1000);
        log.cmd(&mut p, &["LRANGE", "r", "0", "-1"]);
        // BLMPOP with a count.
        a.send_str(&["BLMPOP", "0", "2", "m1", "m2", "LEFT", "COUNT", "3"]);
        settle();
        log.cmd(&mut p, &["RPUSH", "m2", "a", "b", "c", "d"]);
        log.poll(&mut a, 1000);
        log.cmd(&mut p, &["LRANGE", "m2", "0", "-1"]);
    });
}

#[test]
fn databases() {
    compare("dbs", |port, log| {
        let mut p = Raw::connect(port);
        let mut a = Raw::connect(port);
        log.cmd(&mut a, &["SELECT", "3"]);
        a.send_str(&["BLPOP", "k", "0"]);
        settle();
        log.cmd(&mut p, &["RPUSH", "k", "db0"]);
        log.poll(&mut a, 100);
        log.cmd(&mut p, &["SELECT", "3"]);
        log.cmd(&mut p, &["RPUSH", "k", "db3"]);
        log.poll(&mut a, 1000);
        log.cmd(&mut p, &["SELECT", "0"]);
        log.cmd(&mut p, &["LRANGE", "k", "0", "-1"]);
    });
}

#[test]
fn keys_arriving_by_rename_move_copy_swapdb() {
    compare("arrivals", |port, log| {
        let mut p = Raw::connect(port);
        let mut a = Raw::connect(port);
        a.send_str(&["BLPOP", "k", "0"]);
        settle();
        log.cmd(&mut p, &["RPUSH", "src", "1"]);
        log.cmd(&mut p, &["RENAME", "src", "k"]);
        log.poll(&mut a, 1000);
        a.send_str(&["BLPOP", "k", "0"]);
        settle();
        log.cmd(&mut p, &["SELECT", "1"]);
        log.cmd(&mut p, &["RPUSH", "k", "2"]);
        log.cmd(&mut p, &["MOVE", "k", "0"]);
        log.poll(&mut a, 1000);
        a.send_str(&["BLPOP", "k", "0"]);
        settle();
        log.cmd(&mut p, &["RPUSH", "c", "3"]);
        log.cmd(&mut p, &["COPY", "c", "k", "DB", "0"]);
        log.poll(&mut a, 1000);
        a.send_str(&["BLPOP", "k", "0"]);
        settle();
        log.cmd(&mut p, &["RPUSH", "k", "4"]);
        log.poll(&mut a, 100);
        log.cmd(&mut p, &["SWAPDB", "0", "1"]);
        log.poll(&mut a, 1000);
        log.cmd(&mut p, &["SELECT", "0"]);
        log.cmd(&mut p, &["KEYS", "*"]);
        // A string renamed onto the key keeps the client waiting.
        a.send_str(&["BLPOP", "k", "0.3"]);
        settle();
        log.cmd(&mut p, &["SET", "s", "x"]);
        log.cmd(&mut p, &["RENAME", "s", "k"]);
        log.poll(&mut a, 2000);
    });
}

#[test]
fn timeout_parsing() {
    let now = 1_000_000;
    let p = ferrous::blocking::parse_timeout;
    assert_eq!(p(b"0", now), Ok(0));
    assert_eq!(p(b"1", now), Ok(now + 1000));
    assert_eq!(p(b"0.0015", now), Ok(now + 1));
    assert_eq!(p(b"-0.0001", now), Ok(0));
    assert_eq!(p(b"0x10", now), Ok(now + 16000));
    assert_eq!(p(b"-1", now), Err(ferrous::blocking::TIMEOUT_NEGATIVE));
    assert_eq!(p(b"1e400", now), Err(ferrous::blocking::TIMEOUT_NEGATIVE));
    assert_eq!(p(b"inf", now), Err(ferrous::blocking::TIMEOUT_NEGATIVE));
    assert_eq!(p(b"nan", now), Err(ferrous::blocking::TIMEOUT_NOT_FLOAT));
    assert_eq!(p(b" 1", now), Err(ferrous::blocking::TIMEOUT_NOT_FLOAT));
    let pm = ferrous::blocking::parse_timeout_ms;
    assert_eq!(pm(b"15", now), Ok(now + 15));
    assert_eq!(pm(b"1.5", now), Err(ferrous::blocking::TIMEOUT_NOT_INTEGER));
    assert_eq!(pm(b"-1", now), Err(ferrous::blocking::TIMEOUT_NEGATIVE));
}

/// Many clients blocking and pushing concurrently: every pushed element is
/// popped exactly once and nobody is left blocked (no lost wake-ups).
#[test]
fn no_lost_wakeups() {
    let f = Ferrous::start(&[]);
    let port = f.port;
    let n = 8;
    let per = 50;
    let mut handles = Vec::new();
    for _ in 0..n {
        handles.push(std::thread::spawn(move || {
            let mut c = Raw::connect(port);
            let mut got = Vec::new();
            for _ in 0..per {
                got.push(c.cmd(&["BLPOP", "q1", "q2", "0"]));
            }
            got
        }));
    }
    let pushers: Vec<_> = (0..2)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = Raw::connect(port);
                for i in 0..(n * per / 2) {
                    let key = if i % 2 == 0 { "q1" } else { "q2" };
                    c.cmd(&["RPUSH", key, &format!("{t}-{i}")]);
                }
            })
        })
        .collect();
    for p in pushers {
        p.join().unwrap();
    }
    let mut all: Vec<Vec<u8>> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(all.len(), n * per);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), n * per, "an element was popped twice");
    let mut c = f.client();
    assert_eq!(c.cmd(&["EXISTS", "q1", "q2"]), b":0\r\n");
    assert_eq!(f.server().blocking.blocked_clients(), 0);
}

/// Inside MULTI/EXEC and scripts blocking commands answer at once, as if
/// their timeout had expired, in RESP2 and RESP3, and nobody is left blocked.
#[test]
fn no_block_answers_at_once() {
    compare("no_block", |port, log| {
        let mut c = Raw::connect(port);
        for proto in ["2", "3"] {
            c.cmd(&["HELLO", proto]); // its reply carries the client id
            log.cmd(&mut c, &["MULTI"]);
            for args in [
                &["BLPOP", "k", "0"][..],
                &["BRPOP", "k", "j", "1"],
                &["BLMPOP", "0", "1", "k", "LEFT"],
                &["BLMOVE", "k", "d", "LEFT", "LEFT", "0"],
                &["BRPOPLPUSH", "k", "d", "0"],
                &["BZPOPMIN", "z", "0"],
                &["BZMPOP", "0", "1", "z", "MIN"],
                &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
            ] {
                log.cmd(&mut c, args);
            }
            log.cmd(&mut c, &["EXEC"]);
            log.cmd(
                &mut c,
                &["EVAL", "return redis.call('blpop', KEYS[1], 0)", "1", "k"],
            );
            log.cmd(
                &mut c,
                &[
                    "EVAL",
                    "return redis.call('blmove', KEYS[1], KEYS[2], 'LEFT', 'LEFT', 0)",
                    "2",
                    "k",
                    "d",
                ],
            );
        }
        log.note(info_field(&mut c, "blocked_clients"));
    });
}

/// A blocked client killed by another is unblocked before the kill's reply:
/// a push pipelined right after the kill stays in the list (Redis frees the
/// victim at once; its connection task must not be served the element).
#[test]
fn client_kill_unblocks_before_its_reply() {
    compare("kill-blocked", |port, log| {
        let mut p = Raw::connect(port);
        for round in 0..20 {
            let key = format!("k{round}");
            let mut w = Raw::connect(port);
            let id = w.client_id();
            w.send_str(&["BLPOP", &key, "0"]);
            settle();
            log.note(info_field(&mut p, "blocked_clients"));
            let mut req = common::encode(&[b"CLIENT", b"KILL", b"ID", id.as_bytes()]);
            req.extend(common::encode(&[b"RPUSH", key.as_bytes(), b"v"]));
            req.extend(common::encode(&[b"LLEN", key.as_bytes()]));
            p.send_raw(&req);
            for _ in 0..3 {
                log.poll(&mut p, 1000);
            }
            log.poll(&mut w, 100);
            log.note(info_field(&mut p, "blocked_clients"));
            log.note(info_field(&mut p, "connected_clients"));
        }
        log.cmd(&mut p, &["DBSIZE"]);
    });
}
