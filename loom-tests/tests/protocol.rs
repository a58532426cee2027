//! loom models of the lock/commit protocol: the real `ferrous_storage::mvcc`
//! code, built against loom's primitives through `ferrous_storage::sync`.
//!
//! Each model names the `broken-*` feature of the variant it must reject.
//! `loom-tests/run.sh` runs the sound models, then rebuilds with each broken
//! variant and requires its model to fail with the expected message. (Not
//! `#[should_panic]`: after a failed assertion loom's cleanup can panic again
//! in a destructor, which aborts the test process.)
#![cfg(ferrous_loom)]

use ferrous_storage::{Entry, GilWait, Store, Value, Version};
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;
use loom_tests::{check, Tracked};

/// A version holding `k1 = k2 = g`, or nothing for `g = 0`.
fn pair(g: u64) -> Version {
    let mut v = Version::new(1);
    if g > 0 {
        set_pair(&mut v, g);
    }
    v
}

fn set_pair(v: &mut Version, g: u64) {
    let val = g.to_string();
    v.db_mut(0)
        .set(b"k1", Entry::new(Value::string(val.as_bytes())), false, 0);
    v.db_mut(0)
        .set(b"k2", Entry::new(Value::string(val.as_bytes())), false, 0);
}

/// The generation of a version written by `set_pair`, asserting both keys agree.
fn read_pair(v: &Version) -> u64 {
    let g = |k: &[u8]| -> u64 {
        match v.db(0).get(k, 0).map(|e| &e.value) {
            None => 0,
            Some(Value::Str { bytes, .. }) => std::str::from_utf8(bytes)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(u64::MAX),
            Some(_) => u64::MAX,
        }
    };
    let (a, b) = (g(b"k1"), g(b"k2"));
    assert_eq!(a, b, "torn read: k1 from generation {a}, k2 from {b}");
    a
}

/// Model 1: two writers commit concurrently. Both increments survive (no
/// lost update) and the commits are numbered 1 and 2 (serialized).
/// Broken variant: `release-before-swap` (commit drops the GIL before it
/// publishes, so the second writer clones a stale root).
#[test]
fn model_1_writers_serialize() {
    check("1 writers serialize", 2, || {
        let store = Arc::new(Store::new(0u64));
        let ts: Vec<_> = (0..2)
            .map(|_| {
                let s = store.clone();
                thread::spawn(move || {
                    let mut tx = s.begin();
                    *tx += 1;
                    tx.commit()
                })
            })
            .collect();
        let mut ns: Vec<u64> = ts.into_iter().map(|t| t.join().unwrap()).collect();
        ns.sort_unstable();
        assert_eq!(ns, [1, 2], "commit numbers");
        assert_eq!(store.snapshot(), 2, "lost update");
        assert_eq!(store.commits(), 2);
    });
}

/// Model 2: a reader concurrent with a committing writer sees the whole old
/// or the whole new version: each transaction writes two keys, the reader
/// checks both, twice (a later read never goes back in time).
/// Broken variant: `publish-early` (each write access publishes the
/// transaction so far).
#[test]
fn model_2_reader_sees_whole_versions() {
    check("2 reader atomic", 3, || {
        let store = Arc::new(Store::new(pair(1)));
        let s = store.clone();
        let writer = thread::spawn(move || {
            let mut tx = s.begin();
            tx.db_mut(0)
                .set(b"k1", Entry::new(Value::string(&b"2"[..])), false, 0);
            tx.db_mut(0)
                .set(b"k2", Entry::new(Value::string(&b"2"[..])), false, 0);
            tx.commit();
        });
        let first = store.read(read_pair);
        let second = store.read(read_pair);
        assert!(first == 1 || first == 2, "generation {first}");
        assert!(second >= first, "went back from {first} to {second}");
        writer.join().unwrap();
        assert_eq!(store.read(read_pair), 2);
    });
}

/// Model 3: an aborted transaction leaves the root exactly as it was (same
/// pointer, no commit counted) and a concurrent reader never sees its writes.
/// Broken variant: `abort-publishes`.
#[test]
fn model_3_abort_leaves_root() {
    check("3 abort", 3, || {
        let store = Arc::new(Store::new(pair(1)));
        let before = store.read(|v| v as *const Version as usize);
        let s = store.clone();
        let writer = thread::spawn(move || {
            let mut tx = s.begin();
            set_pair(&mut tx, 2);
            tx.abort();
        });
        assert_eq!(store.read(read_pair), 1, "saw an aborted write");
        writer.join().unwrap();
        assert_eq!(store.read(read_pair), 1, "saw an aborted write");
        assert_eq!(
            store.read(|v| v as *const Version as usize),
            before,
            "abort replaced the root"
        );
        assert_eq!(store.commits(), 0);
        assert!(!store.gil_busy());
    });
}

/// Model 4: kill during a script. The script (thread A) writes, then polls
/// the kill flag; SCRIPT KILL comes from thread B, which then writes itself.
/// The script must observe the kill, abort (its write never published) and
/// release the GIL so B proceeds. It runs as the server runs EVAL: through
/// `WriteTxn::split`, polling a `KillSignal`, and unmarking itself
/// (`script_finished`) before its transaction ends.
/// Broken variant: `kill-reset-late` (a new script clears the kill flag after
/// announcing itself, losing a kill that lands in between: the script never
/// stops and loom reports the livelock).
#[test]
fn model_4_kill_script() {
    check("4 kill", 2, || {
        let store = Arc::new(Store::new(0u64));
        let s = store.clone();
        let script = thread::spawn(move || {
            let mut tx = s.begin();
            // As the server's EVAL handler: the version and the script slot
            // apart, the hook polling the slot's kill signal.
            let (v, mut slot) = tx.split();
            slot.script_started(1);
            let kill = slot.kill_signal();
            *v = 100;
            // `while true do end`, polling the flag like the Lua hook does.
            while !kill.requested() {
                thread::yield_now();
            }
            // The script is over; the transaction may go on (rest of the
            // batch or EXEC): no more BUSY, and SCRIPT KILL says NOTBUSY.
            slot.script_finished();
            assert_eq!(
                s.gil_wait(u64::MAX, 0),
                GilWait::Wait,
                "mark outlived the script"
            );
            assert!(!s.request_kill(), "kill accepted after the script ended");
            tx.abort();
        });
        let s = store.clone();
        let killer = thread::spawn(move || {
            while !s.request_kill() {
                thread::yield_now();
            }
            let mut tx = s.begin();
            *tx += 1;
            tx.commit();
        });
        script.join().unwrap();
        killer.join().unwrap();
        assert_eq!(store.snapshot(), 1, "the killed script's write survived");
        assert_eq!(store.commits(), 1);
        assert!(!store.gil_busy());
    });
}

/// Model 5: busy threshold, time abstracted: the script starts at t = 1 and
/// runs until told to stop; the other writer arrives at t = 1 + threshold. It
/// must get BUSY (or the GIL, if it came before the script), never block:
/// the script is only stopped (SCRIPT KILL) after the writer has answered.
/// Broken variant: `busy-blocks` (the writer blocks on the GIL; loom reports
/// the deadlock).
#[test]
fn model_5_busy_not_block() {
    const THRESHOLD: u64 = 5;
    check("5 busy", 2, || {
        let store = Arc::new(Store::new(0u64));
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let s = store.clone();
        let st = stop.clone();
        let script = thread::spawn(move || {
            let mut tx = s.begin();
            tx.script_started(1);
            *tx = 100;
            // Runs "long": until killed, which happens only after the writer
            // has answered. Sleeps instead of polling (a spinning script
            // would only multiply the interleavings).
            let (m, cv) = &*st;
            let mut stopped = m.lock().unwrap();
            while !*stopped {
                stopped = cv.wait(stopped).unwrap();
            }
            drop(stopped);
            assert!(tx.kill_requested());
            tx.abort();
        });
        let s = store.clone();
        let writer = thread::spawn(move || loop {
            match s.begin_or_busy(1 + THRESHOLD, THRESHOLD) {
                Ok(mut tx) => {
                    *tx += 1;
                    tx.commit();
                    return false;
                }
                Err(GilWait::Busy) => return true,
                // The GIL holder has not announced a script yet.
                Err(GilWait::Wait) => thread::yield_now(),
            }
        });
        let busy = writer.join().unwrap();
        // SCRIPT KILL once the script runs (it may not have started yet).
        while !store.request_kill() {
            thread::yield_now();
        }
        // Before the threshold a writer is told to wait, not BUSY.
        assert_eq!(store.gil_wait(THRESHOLD, THRESHOLD), GilWait::Wait);
        *stop.0.lock().unwrap() = true;
        stop.1.notify_one();
        script.join().unwrap();
        assert_eq!(store.snapshot(), if busy { 0 } else { 1 });
        assert!(!store.gil_busy());
        assert_eq!(store.gil_wait(100, THRESHOLD), GilWait::Wait, "stale mark");
    });
}

/// Model 6: reclamation. A reader pinned on a version while a writer commits
/// twice (retiring two versions) must never reach a freed version; every
/// version is freed by the end (each `Tracked` copy owns a loom-tracked
/// allocation, so loom's leak check reports one that is not).
/// Broken variants: `free-now` (the old root is freed at the swap) and
/// `leak-retired` (it is never freed).
#[test]
fn model_6_reclamation() {
    check("6 reclamation", 3, || {
        let store = Arc::new(Store::new(Tracked::new(0u64)));
        let s = store.clone();
        let writer = thread::spawn(move || {
            for _ in 0..2 {
                let mut tx = s.begin();
                *tx.get_mut() += 1;
                tx.commit();
            }
        });
        let seen = store.read(|v| *v.get());
        assert!(seen <= 2);
        writer.join().unwrap();
        assert_eq!(store.read(|v| *v.get()), 2);
        // Versions retired through the epoch collector may still wait in its
        // queue here; loom's leak check after the interleaving covers them.
    });
}

/// Model 7: a snapshot taken for a background dump stays intact while a
/// writer keeps committing (two commits, both keys each time): the dump sees
/// one whole generation, and the same one on a second look after the writer
/// finished.
/// Broken variant: `snapshot-unpinned` (the root is cloned without pinning,
/// so the writer's second commit can reclaim it mid-clone).
#[test]
fn model_7_snapshot_intact() {
    check("7 snapshot", 3, || {
        let store = Arc::new(Store::new(Tracked::new(pair(1))));
        // Registers this thread with the epoch collector first, as every
        // server thread is by its first read.
        store.read(|_| ());
        let done = Arc::new(AtomicBool::new(false));
        let s = store.clone();
        let d = done.clone();
        let writer = thread::spawn(move || {
            for g in 2..5 {
                let mut tx = s.begin();
                set_pair(tx.get_mut(), g);
                tx.commit();
            }
            d.store(true, Ordering::Release);
        });
        let dump = store.snapshot();
        let g = read_pair(dump.get());
        assert!((1..=4).contains(&g));
        writer.join().unwrap();
        assert!(done.load(Ordering::Acquire));
        assert_eq!(read_pair(dump.get()), g, "snapshot changed under the dump");
        assert_eq!(store.read(|v| read_pair(v.get())), 4);
    });
}
