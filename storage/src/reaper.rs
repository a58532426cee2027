//! The reaper: a thread that destroys retired versions off the writer's path.
//!
//! A write path-copies the few trie nodes between the root and its key; the
//! version it replaces still owns the old copies. Destroying that version frees
//! them and decrements the reference counts of every child they shared with the
//! new version — at 1M keys about a fifth of a write's cost, paid by whichever
//! thread collected the version (usually the writer, holding the GIL). With
//! the switch on (`lazyfree-lazy-server-del`), the epoch collector hands large
//! retired versions ([`crate::Store::with_reaper`]) to a [`Reaper`] instead,
//! which batches them and wakes its thread once per [`BATCH`] versions (or
//! after [`NAP`]), so a commit pays a mutex push and, now and then, one
//! wake-up. The thread spends about twice the CPU the writer saves
//! (cross-thread frees, reference counts moving between cores): it pays only
//! with a core to spare, hence a switch, off by default.
//!
//! Bounded: past [`MAX_WAITING`] queued versions the caller destroys its
//! version itself.

#![cfg_attr(ferrous_loom, allow(dead_code))]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Versions queued before the reaper thread is woken.
const BATCH: usize = 16;
/// Longest a queued version waits when fewer than [`BATCH`] arrive.
const NAP: Duration = Duration::from_millis(10);
/// Queue length past which [`Grave::bury`] destroys the version in place.
const MAX_WAITING: usize = 1024;

struct Shared<V> {
    queue: Mutex<Queue<V>>,
    wake: Condvar,
}

struct Queue<V> {
    items: Vec<Box<V>>,
    closed: bool,
    /// The thread sleeps with nothing queued and no timeout: the next
    /// version must wake it (it then waits up to [`NAP`] for a batch).
    idle: bool,
}

/// The owner of a reaper thread; dropping it ends the thread (what is still
/// queued is destroyed there first). Queue through a [`Grave`].
pub struct Reaper<V> {
    shared: Arc<Shared<V>>,
    enabled: Arc<AtomicBool>,
}

/// A handle that queues versions for a [`Reaper`]'s thread; once the reaper
/// is gone, [`Grave::bury`] destroys in place.
pub struct Grave<V> {
    shared: Arc<Shared<V>>,
}

impl<V: Send + 'static> Reaper<V> {
    /// Starts the reaper thread, named `name`; `None` if it cannot be started.
    /// The store hands it versions only while `enabled` is set (a
    /// configuration switch the owner may flip at any time).
    pub fn start(name: &str, enabled: Arc<AtomicBool>) -> Option<Reaper<V>> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                items: Vec::new(),
                closed: false,
                idle: false,
            }),
            wake: Condvar::new(),
        });
        let theirs = Arc::clone(&shared);
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || run(&theirs))
            .ok()?;
        Some(Reaper { shared, enabled })
    }

    /// Whether versions should be handed to this reaper now.
    #[inline]
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// A handle on this reaper's queue.
    pub fn grave(&self) -> Grave<V> {
        Grave {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<V: Send + 'static> Grave<V> {
    /// Queues `v` for destruction on the reaper thread, or destroys it here
    /// when the queue is over its bound or the reaper has stopped.
    pub fn bury(&self, v: Box<V>) {
        let mut q = self.shared.queue.lock().unwrap_or_else(|e| e.into_inner());
        if q.closed || q.items.len() >= MAX_WAITING {
            drop(q);
            drop(v);
            return;
        }
        q.items.push(v);
        let wake = q.items.len() == BATCH || (q.items.len() == 1 && q.idle);
        drop(q);
        if wake {
            self.shared.wake.notify_one();
        }
    }
}

impl<V> Drop for Reaper<V> {
    fn drop(&mut self) {
        let mut q = self.shared.queue.lock().unwrap_or_else(|e| e.into_inner());
        q.closed = true;
        drop(q);
        self.shared.wake.notify_one();
    }
}

fn run<V>(shared: &Shared<V>) {
    let mut taken: Vec<Box<V>> = Vec::new();
    loop {
        let mut q = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
        while q.items.len() < BATCH && !q.closed {
            if q.items.is_empty() {
                // Nothing queued: sleep until something is (or the end).
                q.idle = true;
                q = shared.wake.wait(q).unwrap_or_else(|e| e.into_inner());
                q.idle = false;
                continue;
            }
            let (g, timeout) = shared
                .wake
                .wait_timeout(q, NAP)
                .unwrap_or_else(|e| e.into_inner());
            q = g;
            if timeout.timed_out() && !q.items.is_empty() {
                break;
            }
        }
        std::mem::swap(&mut taken, &mut q.items);
        let closed = q.closed;
        drop(q);
        taken.clear();
        if closed {
            let mut q = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
            q.items.clear();
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn every_buried_value_is_dropped_batch_or_not() {
        let dropped = Arc::new(AtomicUsize::new(0));
        let r: Reaper<Counted> =
            Reaper::start("reaper-test", Arc::new(AtomicBool::new(true))).expect("thread");
        let h = r.grave();
        // Let the thread find its queue empty and sleep first.
        std::thread::sleep(Duration::from_millis(50));
        // Fewer than a batch: the first wakes the idle thread, which drops
        // them after the nap.
        for _ in 0..3 {
            h.bury(Box::new(Counted(Arc::clone(&dropped))));
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while dropped.load(Ordering::SeqCst) < 3 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(dropped.load(Ordering::SeqCst), 3);
        // Many batches, then close: all dropped.
        for _ in 0..(5 * BATCH + 7) {
            h.bury(Box::new(Counted(Arc::clone(&dropped))));
        }
        drop(r);
        // After the reaper: destroyed in place.
        h.bury(Box::new(Counted(Arc::clone(&dropped))));
        assert!(dropped.load(Ordering::SeqCst) >= 1);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while dropped.load(Ordering::SeqCst) < 4 + 5 * BATCH + 7
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(dropped.load(Ordering::SeqCst), 4 + 5 * BATCH + 7);
    }
}
