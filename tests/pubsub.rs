//! Pub/Sub under load: many subscribers get every message in order,
//! subscribers dying mid-stream leave nothing behind, and a subscriber that
//! stops reading is disconnected by `client-output-buffer-limit pubsub`.

mod common;

use std::time::{Duration, Instant};

use common::{Ferrous, Raw};
use ferrous::pubsub::Kind;

fn info_field(c: &mut Raw, section: &str, field: &str) -> i64 {
    let r = c.cmd(&["INFO", section]);
    let s = String::from_utf8_lossy(&r).to_string();
    s.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(-1)
}

/// Resident set size of this process (server and clients), in kB.
fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How many clients a CLIENT LIST reply lists.
fn listed_clients(reply: &[u8]) -> usize {
    String::from_utf8_lossy(reply)
        .lines()
        .filter(|l| l.starts_with("id="))
        .count()
}

fn message(ch: &str, msg: &str) -> Vec<u8> {
    format!(
        "*3\r\n$7\r\nmessage\r\n${}\r\n{ch}\r\n${}\r\n{msg}\r\n",
        ch.len(),
        msg.len()
    )
    .into_bytes()
}

#[test]
fn a_thousand_subscribers_receive_everything_in_order() {
    let f = Ferrous::start(&[]);
    const SUBS: usize = 1000;
    const CHANNELS: usize = 100;
    const MESSAGES: usize = 20;
    let mut subs: Vec<Raw> = (0..SUBS)
        .map(|i| {
            let mut c = f.client();
            let ch = format!("ch{}", i % CHANNELS);
            c.send(&[b"SUBSCRIBE", ch.as_bytes()]);
            c
        })
        .collect();
    for (i, c) in subs.iter_mut().enumerate() {
        let ch = format!("ch{}", i % CHANNELS);
        let want = format!("*3\r\n$9\r\nsubscribe\r\n${}\r\n{ch}\r\n:1\r\n", ch.len());
        assert_eq!(c.read_reply(), want.as_bytes());
    }
    let mut p = f.client();
    // Publish pipelined, interleaving channels.
    let mut req = Vec::new();
    for m in 0..MESSAGES {
        for ch in 0..CHANNELS {
            let (ch, msg) = (format!("ch{ch}"), format!("m{m}"));
            req.extend(common::encode(&[b"PUBLISH", ch.as_bytes(), msg.as_bytes()]));
        }
    }
    p.send_raw(&req);
    for _ in 0..MESSAGES * CHANNELS {
        assert_eq!(
            p.read_reply(),
            format!(":{}\r\n", SUBS / CHANNELS).as_bytes()
        );
    }
    for (i, c) in subs.iter_mut().enumerate() {
        let ch = format!("ch{}", i % CHANNELS);
        for m in 0..MESSAGES {
            assert_eq!(
                c.read_reply(),
                message(&ch, &format!("m{m}")),
                "subscriber {i}"
            );
        }
    }
    assert_eq!(f.server().pubsub.count(Kind::Channel), CHANNELS);
    drop(subs);
    wait_until("subscribers cleaned up", || {
        f.server().pubsub.count(Kind::Channel) == 0
    });
}

#[test]
fn killed_subscribers_leave_no_leak() {
    let f = Ferrous::start(&[]);
    let mut admin = f.client();
    let baseline = info_field(&mut admin, "clients", "connected_clients");
    let port = f.port;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s = stop.clone();
    let publisher = std::thread::spawn(move || {
        let mut p = Raw::connect(port);
        let mut n = 0u64;
        while !s.load(std::sync::atomic::Ordering::SeqCst) {
            p.cmd(&["PUBLISH", "stream", &format!("{n:0100}")]);
            p.cmd(&["PUBLISH", "p.stream", "x"]);
            n += 1;
        }
        n
    });
    let mut rss_after_first = 0;
    for round in 0..5 {
        if round == 1 {
            rss_after_first = rss_kb();
        }
        let mut subs: Vec<Raw> = (0..40)
            .map(|i| {
                let mut c = f.client();
                if i % 2 == 0 {
                    c.cmd(&["SUBSCRIBE", "stream", "other"]);
                    c.read_reply();
                } else {
                    c.cmd(&["PSUBSCRIBE", "p.*"]);
                }
                c
            })
            .collect();
        // Some read a little, then all vanish without unsubscribing.
        for c in subs.iter_mut().step_by(3) {
            c.try_read_reply();
        }
        if round % 2 == 0 {
            for c in &subs {
                let _ = c.r.get_ref().shutdown(std::net::Shutdown::Both);
            }
        }
        drop(subs);
    }
    // Memory does not grow with the rounds (a loose bound: the process also
    // runs the test clients).
    let grown = rss_kb().saturating_sub(rss_after_first);
    assert!(grown < 64 * 1024, "RSS grew by {grown} kB");
    // The baseline plus the publisher.
    wait_until("clients back to baseline", || {
        info_field(&mut admin, "clients", "connected_clients") == baseline + 1
    });
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(publisher.join().unwrap() > 0);
    let srv = f.server();
    assert_eq!(srv.pubsub.count(Kind::Channel), 0);
    assert_eq!(srv.pubsub.count(Kind::Pattern), 0);
    assert_eq!(info_field(&mut admin, "stats", "pubsub_channels"), 0);
    assert_eq!(info_field(&mut admin, "stats", "pubsub_patterns"), 0);
    assert_eq!(
        admin.cmd(&["PUBSUB", "NUMSUB", "stream"]),
        b"*2\r\n$6\r\nstream\r\n:0\r\n"
    );
}

#[test]
fn slow_subscriber_is_disconnected_by_the_output_limit() {
    let f = Ferrous::start(&[]);
    let mut admin = f.client();
    assert_eq!(
        admin.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 1mb 256kb 60"
        ]),
        b"+OK\r\n"
    );
    let mut slow = f.client();
    slow.cmd(&["SUBSCRIBE", "firehose"]);
    let mut fast = f.client();
    fast.cmd(&["SUBSCRIBE", "firehose"]);
    let baseline = info_field(&mut admin, "clients", "connected_clients");
    let big = "x".repeat(64 * 1024);
    let mut receivers = 2;
    let mut sent = 0;
    // The slow one never reads: once the kernel's socket buffers are full
    // its pending bytes grow until the hard limit closes it.
    while receivers == 2 {
        let r = admin.cmd(&["PUBLISH", "firehose", &big]);
        receivers = String::from_utf8_lossy(&r[1..r.len() - 2]).parse().unwrap();
        // Keep the fast subscriber drained.
        let m = fast.read_reply();
        assert!(m.ends_with(b"\r\n"));
        sent += 1;
        assert!(sent < 2000, "slow subscriber never disconnected");
    }
    assert_eq!(receivers, 1);
    wait_until("slow client gone", || {
        info_field(&mut admin, "clients", "connected_clients") == baseline - 1
    });
    assert_eq!(
        admin.cmd(&["PUBSUB", "NUMSUB", "firehose"]),
        b"*2\r\n$8\r\nfirehose\r\n:1\r\n"
    );
    drop(slow);
}

#[test]
fn soft_limit_disconnects_after_its_seconds() {
    let f = Ferrous::start(&[]);
    let mut admin = f.client();
    assert_eq!(
        admin.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 0 128kb 1"
        ]),
        b"+OK\r\n"
    );
    let mut slow = f.client();
    slow.cmd(&["SUBSCRIBE", "soft"]);
    let big = "y".repeat(64 * 1024);
    let started = Instant::now();
    let mut receivers = 1;
    // Over the soft limit, but closed only once it has lasted a second.
    while receivers == 1 {
        let r = admin.cmd(&["PUBLISH", "soft", &big]);
        receivers = String::from_utf8_lossy(&r[1..r.len() - 2]).parse().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "never disconnected"
        );
    }
    assert!(started.elapsed() >= Duration::from_secs(1));
    drop(slow);
}

/// A subscriber that has read the reply to its QUIT is gone for every other
/// client: Redis frees a client right after writing its last reply, so a
/// PUBLISH sent after that reply reaches no one, and CLIENT LIST no longer
/// shows it. Repeated, as the window the other order leaves is short.
#[test]
fn quit_is_complete_when_its_reply_arrives() {
    let f = Ferrous::start(&[]);
    let mut p = f.client();
    for i in 0..300 {
        let ch = format!("gone{i}");
        let mut s = f.client();
        s.send(&[b"SUBSCRIBE", ch.as_bytes()]);
        let _ = s.read_reply();
        s.send(&[b"QUIT"]);
        assert_eq!(s.read_reply(), b"+OK\r\n");
        assert_eq!(
            p.cmd(&["PUBLISH", &ch, "x"]),
            b":0\r\n",
            "round {i}: the quitting subscriber still received a message"
        );
        let list = p.cmd(&["CLIENT", "LIST"]);
        assert_eq!(
            listed_clients(&list),
            1,
            "round {i}: {}",
            common::show(&list)
        );
    }
}

/// Likewise a subscriber killed by another client: Redis frees it before
/// the kill's reply, so a PUBLISH after the kill reaches no one and the
/// victim is in no list. Pipelined, so the killer's batch runs before the
/// victim's connection task can clean up after itself.
#[test]
fn client_kill_is_complete_when_its_reply_is_written() {
    let f = Ferrous::start(&[]);
    let mut p = f.client();
    for i in 0..50 {
        let ch = format!("killed{i}");
        let mut s = f.client();
        let id = s.client_id();
        s.send(&[b"SUBSCRIBE", ch.as_bytes()]);
        let _ = s.read_reply();
        let mut req = common::encode(&[b"CLIENT", b"KILL", b"ID", id.as_bytes()]);
        req.extend(common::encode(&[b"PUBLISH", ch.as_bytes(), b"x"]));
        req.extend(common::encode(&[b"PUBSUB", b"NUMSUB", ch.as_bytes()]));
        req.extend(common::encode(&[b"CLIENT", b"LIST"]));
        p.send_raw(&req);
        assert_eq!(p.read_reply(), b":1\r\n");
        assert_eq!(p.read_reply(), b":0\r\n", "round {i}: PUBLISH");
        let numsub = format!("*2\r\n${}\r\n{ch}\r\n:0\r\n", ch.len());
        assert_eq!(p.read_reply(), numsub.as_bytes(), "round {i}: NUMSUB");
        let list = p.read_reply();
        assert_eq!(
            listed_clients(&list),
            1,
            "round {i}: {}",
            common::show(&list)
        );
    }
}
