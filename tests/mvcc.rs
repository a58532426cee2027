//! MVCC behaviour seen from clients: a reader never observes half of a
//! multi-key write, and concurrent writers lose no update.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::Ferrous;

fn parse_mget_pair(reply: &[u8]) -> (String, String) {
    let s = String::from_utf8_lossy(reply);
    let parts: Vec<&str> = s.split("\r\n").collect();
    // *2 $n a $n b
    (parts[2].to_string(), parts[4].to_string())
}

#[test]
fn readers_never_see_half_an_mset() {
    let f = Ferrous::start(&[]);
    let mut w = f.client();
    assert_eq!(w.cmd(&["MSET", "a", "0", "b", "0"]), b"+OK\r\n");
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let port = f.port;
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut r = common::Raw::connect(port);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let (a, b) = parse_mget_pair(&r.cmd(&["MGET", "a", "b"]));
                    assert_eq!(a, b, "saw a torn MSET");
                    n += 1;
                }
                n
            })
        })
        .collect();
    for i in 1..=3000 {
        let v = i.to_string();
        assert_eq!(w.cmd(&["MSET", "a", &v, "b", &v]), b"+OK\r\n");
    }
    stop.store(true, Ordering::Relaxed);
    let reads: u64 = readers.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(reads > 0);
}

#[test]
fn concurrent_incr_loses_no_update() {
    let f = Ferrous::start(&[]);
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let port = f.port;
            std::thread::spawn(move || {
                let mut c = common::Raw::connect(port);
                for _ in 0..500 {
                    let r = c.cmd(&["INCR", "counter"]);
                    assert_eq!(r[0], b':');
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut c = f.client();
    assert_eq!(c.cmd(&["GET", "counter"]), b"$4\r\n4000\r\n");
}
