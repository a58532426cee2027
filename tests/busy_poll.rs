//! `busy-poll-us` (src/busy_poll.rs): the worker spins for the window after
//! a read, sleeps when idle, stops spinning when the CPUs are contended, and
//! not at all when off. Alone in its test binary: other tests running beside
//! it would contend for the CPUs it measures.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{cpu_secs, spawn_on_free_port};

/// `busy-poll-us`: after a read the worker keeps polling (it burns CPU) for
/// the window, then sleeps (an idle server uses none); 0 turns it off.
#[test]
fn busy_poller_spins_after_a_read_then_sleeps() {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI machines have 2 CPUs; the poller is off on one"
        );
        eprintln!("SKIPPED busy_poller_spins_after_a_read_then_sleeps: one CPU");
        return;
    }
    let (p, port) = spawn_on_free_port(|port| {
        vec![
            "--port".into(),
            port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--busy-poll-us".into(),
            "700000".into(),
            // Spinning whatever else runs on the machine (a build, other
            // tests): the back-off is switched on for its own phase below.
            "--busy-poll-contention-pct".into(),
            "100".into(),
        ]
    });
    let pid = p.0.id();
    let mut c = common::Raw::connect(port);
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "busy-poll-us"]),
        b"*2\r\n$12\r\nbusy-poll-us\r\n$6\r\n700000\r\n"
    );
    // Within the 0.7 s window after a read: spinning (a core's worth, less
    // what other tests running at the same time take).
    let t0 = cpu_secs(pid);
    std::thread::sleep(Duration::from_millis(400));
    let spun = cpu_secs(pid) - t0;
    assert!(spun >= 0.05, "{spun} s of CPU in the 0.4 s after a read");
    // Past the window: asleep.
    std::thread::sleep(Duration::from_millis(500));
    let t1 = cpu_secs(pid);
    std::thread::sleep(Duration::from_millis(1000));
    let idle = cpu_secs(pid) - t1;
    assert!(idle <= 0.05, "{idle} s of CPU while idle for 1 s");
    // Contended (back-off on at 10 %): with two threads of this process
    // spinning on the two CPUs, the poller sees its worker wait for a CPU and
    // stops spinning (it probes for one sample after each back-off). Without
    // the back-off it gets about a third of the CPUs (0.22 s of the 0.4 s
    // measured).
    let stop = Arc::new(AtomicBool::new(false));
    let hogs: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut x = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                }
            })
        })
        .collect();
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "busy-poll-contention-pct", "10"]),
        b"+OK\r\n"
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    let t3 = cpu_secs(pid);
    std::thread::sleep(Duration::from_millis(400));
    let contended = cpu_secs(pid) - t3;
    stop.store(true, Ordering::Relaxed);
    for h in hogs {
        h.join().unwrap();
    }
    assert!(
        contended <= 0.08,
        "{contended} s of CPU in 0.4 s spinning against two busy threads"
    );
    // Off: a read starts no spinning.
    assert_eq!(c.cmd(&["CONFIG", "SET", "busy-poll-us", "0"]), b"+OK\r\n");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    let t2 = cpu_secs(pid);
    std::thread::sleep(Duration::from_millis(300));
    let off = cpu_secs(pid) - t2;
    assert!(
        off <= 0.03,
        "{off} s of CPU in the 0.3 s after a read, poller off"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "busy-poll-us", "abc"]),
        &b"-ERR CONFIG SET failed (possibly related to argument 'busy-poll-us') - argument couldn't be parsed into an integer\r\n"[..]
    );
}
