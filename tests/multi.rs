//! Concurrency tests of MULTI/EXEC/WATCH on the MVCC engine: optimistic
//! increment loops from many clients lose no update, and a reader polling
//! during a long EXEC never sees part of it.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{Ferrous, Raw};

fn bulk_int(reply: &[u8]) -> i64 {
    if reply.starts_with(b"$-1") {
        return 0;
    }
    let s = String::from_utf8_lossy(reply);
    s.lines().nth(1).and_then(|l| l.parse().ok()).unwrap_or(-1)
}

#[test]
fn watch_increment_loops_lose_no_update() {
    let f = Ferrous::start(&[]);
    let port = f.port;
    const CLIENTS: usize = 20;
    const ROUNDS: usize = 40;
    let threads: Vec<_> = (0..CLIENTS)
        .map(|i| {
            std::thread::spawn(move || {
                let mut c = Raw::connect(port);
                let mut retries = 0;
                // Two shared keys: half the clients share each, all share "total".
                let key = if i % 2 == 0 { "even" } else { "odd" };
                for _ in 0..ROUNDS {
                    loop {
                        assert_eq!(c.cmd(&["WATCH", key, "total"]), b"+OK\r\n");
                        let v = bulk_int(&c.cmd(&["GET", key]));
                        let t = bulk_int(&c.cmd(&["GET", "total"]));
                        assert_eq!(c.cmd(&["MULTI"]), b"+OK\r\n");
                        assert_eq!(c.cmd(&["SET", key, &(v + 1).to_string()]), b"+QUEUED\r\n");
                        assert_eq!(
                            c.cmd(&["SET", "total", &(t + 1).to_string()]),
                            b"+QUEUED\r\n"
                        );
                        let r = c.cmd(&["EXEC"]);
                        if r == b"*-1\r\n" {
                            retries += 1;
                            continue;
                        }
                        assert_eq!(r, b"*2\r\n+OK\r\n+OK\r\n");
                        break;
                    }
                }
                retries
            })
        })
        .collect();
    let retries: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let mut c = f.client();
    let total = (CLIENTS * ROUNDS) as i64;
    assert_eq!(bulk_int(&c.cmd(&["GET", "total"])), total);
    assert_eq!(bulk_int(&c.cmd(&["GET", "even"])), total / 2);
    assert_eq!(bulk_int(&c.cmd(&["GET", "odd"])), total / 2);
    eprintln!("{retries} optimistic retries");
}

#[test]
fn reader_never_sees_part_of_a_long_exec() {
    let f = Ferrous::start(&[]);
    let mut w = f.client();
    const PAIRS: usize = 5_000;
    let mut req = common::encode(&[b"MULTI"]);
    for _ in 0..PAIRS {
        req.extend(common::encode(&[b"INCR", b"x"]));
        req.extend(common::encode(&[b"INCR", b"y"]));
    }
    req.extend(common::encode(&[b"EXEC"]));
    let done = Arc::new(AtomicBool::new(false));
    let port = f.port;
    let d = done.clone();
    let reader = std::thread::spawn(move || {
        let mut r = Raw::connect(port);
        let mut polls = 0u64;
        let mut seen_full = false;
        while !d.load(Ordering::SeqCst) || !seen_full {
            let reply = r.cmd(&["MGET", "x", "y"]);
            let s = String::from_utf8_lossy(&reply).to_string();
            let vals: Vec<&str> = s.split("\r\n").collect();
            // Either both missing or both present with the same value.
            let (x, y) = (vals.get(2).copied(), vals.get(4).copied());
            let both_nil = s == "*2\r\n$-1\r\n$-1\r\n";
            assert!(both_nil || (x == y && x.is_some()), "partial state: {s:?}");
            if x == Some(&*PAIRS.to_string()) {
                seen_full = true;
            }
            polls += 1;
        }
        polls
    });
    w.send_raw(&req);
    assert_eq!(w.read_reply(), b"+OK\r\n");
    for _ in 0..2 * PAIRS {
        assert_eq!(w.read_reply(), b"+QUEUED\r\n");
    }
    let exec = w.read_reply();
    assert!(exec.starts_with(format!("*{}\r\n", 2 * PAIRS).as_bytes()));
    done.store(true, Ordering::SeqCst);
    let polls = reader.join().unwrap();
    assert!(polls > 0);
    assert_eq!(
        w.cmd(&["GET", "x"]),
        format!("${}\r\n{PAIRS}\r\n", PAIRS.to_string().len()).into_bytes()
    );
}

#[test]
fn client_list_shows_multi_and_dirty_flags() {
    let f = Ferrous::start(&[]);
    let mut a = f.client();
    let mut b = f.client();
    let id = String::from_utf8(a.cmd(&["CLIENT", "ID"])).unwrap();
    let id = id.trim_start_matches(':').trim().to_string();
    let line = |b: &mut Raw| {
        let r = b.cmd(&["CLIENT", "LIST", "ID", &id]);
        String::from_utf8_lossy(&r).to_string()
    };
    assert!(line(&mut b).contains(" flags=N "));
    a.cmd(&["WATCH", "k"]);
    b.cmd(&["SET", "k", "1"]);
    a.cmd(&["MULTI"]);
    a.cmd(&["GET", "k"]);
    let l = line(&mut b);
    assert!(l.contains(" flags=xd ") && l.contains(" multi=1 "), "{l}");
    assert_eq!(a.cmd(&["EXEC"]), b"*-1\r\n");
    let l = line(&mut b);
    assert!(l.contains(" flags=N ") && l.contains(" multi=-1 "), "{l}");
    a.cmd(&["HELLO", "3"]);
    a.cmd(&["CLIENT", "TRACKING", "on", "BCAST"]);
    let l = line(&mut b);
    assert!(l.contains(" flags=tB ") && l.contains(" redir=0 "), "{l}");
}

#[test]
fn client_pause_write_holds_exec_of_writes() {
    let f = Ferrous::start(&[]);
    let mut a = f.client();
    let mut b = f.client();
    assert_eq!(b.cmd(&["MULTI"]), b"+OK\r\n");
    assert_eq!(b.cmd(&["SET", "k", "1"]), b"+QUEUED\r\n");
    assert_eq!(a.cmd(&["CLIENT", "PAUSE", "300", "WRITE"]), b"+OK\r\n");
    let t = std::time::Instant::now();
    assert_eq!(b.cmd(&["EXEC"]), b"*1\r\n+OK\r\n");
    assert!(t.elapsed() >= std::time::Duration::from_millis(250));
    // A read-only transaction is not held; a write is held before queueing.
    assert_eq!(a.cmd(&["CLIENT", "PAUSE", "300", "WRITE"]), b"+OK\r\n");
    let t = std::time::Instant::now();
    assert_eq!(b.cmd(&["MULTI"]), b"+OK\r\n");
    assert_eq!(b.cmd(&["GET", "k"]), b"+QUEUED\r\n");
    assert_eq!(b.cmd(&["EXEC"]), b"*1\r\n$1\r\n1\r\n");
    assert!(t.elapsed() < std::time::Duration::from_millis(250));
    assert_eq!(b.cmd(&["MULTI"]), b"+OK\r\n");
    assert_eq!(b.cmd(&["SET", "k", "2"]), b"+QUEUED\r\n");
    assert!(t.elapsed() >= std::time::Duration::from_millis(250));
    assert_eq!(b.cmd(&["EXEC"]), b"*1\r\n+OK\r\n");
}
