//! `lazyfree-lazy-server-del`: retired versions of large pipelined write
//! batches are destroyed on the reaper thread. Checks that the switch decides
//! whether that thread works at all, and that writes, readers and the
//! keyspace are unaffected. Its own test binary: the only server in the
//! process, so the `ferrous-reaper` thread seen in /proc is this server's.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{encode, Ferrous, Raw};

/// CPU time in ns of this process's threads named `ferrous-reaper`.
fn reaper_cpu_ns() -> u64 {
    let mut total = 0;
    let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task");
    for t in tasks.flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim() == "ferrous-reaper" {
            let stat = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
            total += stat
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

/// SETs `key:i` to `val` for every i below `n`, pipelined 256 per write
/// (each batch is one write transaction copying far more than 32 nodes once
/// the keyspace is large).
fn load(c: &mut Raw, n: usize, val: &str) {
    let mut i = 0;
    while i < n {
        let end = (i + 256).min(n);
        let mut buf = Vec::new();
        for k in i..end {
            let key = format!("key:{k}");
            buf.extend(encode(&[b"SET", key.as_bytes(), val.as_bytes()]));
        }
        c.send_raw(&buf);
        for _ in i..end {
            assert_eq!(c.read_reply(), b"+OK\r\n");
        }
        i = end;
    }
}

#[test]
fn lazy_server_del_moves_the_frees_and_changes_no_reply() {
    const N: usize = 60_000;
    let f = Ferrous::start(&[]);
    let mut c = f.client();
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "lazyfree-lazy-server-del"]),
        b"*2\r\n$24\r\nlazyfree-lazy-server-del\r\n$2\r\nno\r\n"
    );

    // Off (the default, as in Redis): the reaper thread does nothing.
    load(&mut c, N, "a");
    let before = reaper_cpu_ns();
    load(&mut c, N, "b");
    let off = reaper_cpu_ns() - before;
    assert!(off < 1_000_000, "reaper worked while off: {off} ns");

    // On: the same load's garbage is destroyed there, while a reader checks
    // that a pair written together is always seen together.
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "lazyfree-lazy-server-del", "yes"]),
        b"+OK\r\n"
    );
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let port = f.port;
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut r = Raw::connect(port);
            while !stop.load(Ordering::Relaxed) {
                let got = r.cmd(&["MGET", "pair:x", "pair:y"]);
                let s = String::from_utf8_lossy(&got).to_string();
                let parts: Vec<&str> = s.split("\r\n").collect();
                if parts.len() > 4 {
                    assert_eq!(parts[2], parts[4], "torn pair: {s}");
                }
            }
        })
    };
    let before = reaper_cpu_ns();
    for round in 0..3 {
        let v = format!("c{round}");
        load(&mut c, N, &v);
        assert_eq!(c.cmd(&["MSET", "pair:x", &v, "pair:y", &v]), b"+OK\r\n");
    }
    stop.store(true, Ordering::Relaxed);
    reader.join().expect("reader");
    // The reaper wakes once per 16 versions or after 10 ms.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while reaper_cpu_ns() - before < 1_000_000 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let on = reaper_cpu_ns() - before;
    assert!(on >= 1_000_000, "reaper idle while on: {on} ns");

    // Every key holds the last round's value.
    assert_eq!(c.cmd(&["DBSIZE"]), format!(":{}\r\n", N + 2).as_bytes());
    for k in (0..N).step_by(997) {
        assert_eq!(c.cmd(&["GET", &format!("key:{k}")]), b"$2\r\nc2\r\n");
    }
    // (the error's text is checked against redis-server in tests/diff/lazyfree.txt)
    assert!(c
        .cmd(&["CONFIG", "SET", "lazyfree-lazy-server-del", "maybe"])
        .starts_with(b"-ERR CONFIG SET failed"));
}
