//! Busy polling: the worker stays awake for `busy-poll-us` after each read.
//!
//! A thread asleep in `epoll_wait` must be woken by whoever makes its socket
//! readable. On loopback that is the client's own `write`, and on a virtual
//! machine the wake-up of an idle CPU is an inter-processor interrupt the
//! client's kernel pays for (perf of `redis-benchmark -P 1 lrange 0 99`
//! against Ferrous: 16.6 % of the client in `sock_def_readable`'s wake-up,
//! against 5.6 % with redis-server, whose busier thread sleeps less often).
//! Ferrous, being quicker per request, slept between requests more often and
//! so made the client slower.
//!
//! The poller is one task on the runtime. While reads keep arriving (the
//! server's input byte counter moves) and for `busy-poll-us` microseconds
//! after the last one, it yields in a loop: tokio then polls its I/O driver
//! with a zero timeout instead of blocking, so the worker is never parked
//! and a client's write wakes no one. After the window it sleeps until the
//! next read ([`BusyPoll::touched`]). `busy-poll-us 0` turns it off, and it
//! never starts on a single-CPU machine, where spinning would take the
//! clients' CPU.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The poller's sleep state, shared with the connections.
#[derive(Default)]
pub struct BusyPoll {
    /// Set while the poller waits for the next read.
    asleep: AtomicBool,
    /// Wakes the poller (a stored permit if it is not waiting yet).
    wake: Notify,
}

impl BusyPoll {
    /// Called by a connection after a read has moved `activity` (with a
    /// sequentially consistent read-modify-write): wakes a sleeping poller.
    #[inline]
    pub fn touched(&self) {
        // Pairs with the poller's store of `asleep` and its re-check of
        // `activity`: either it sees this read's count or this sees it asleep.
        if self.asleep.load(Ordering::SeqCst) {
            self.wake.notify_one();
        }
    }

    /// The poller's loop; `activity` is a counter every read moves, `window`
    /// reads the configured microseconds (0 = off).
    pub async fn run(&self, activity: &AtomicU64, window: impl Fn() -> u64) {
        if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
            return;
        }
        // Whether the last wake-up was a read's (a timeout's starts no window).
        let mut woken_by_read = true;
        loop {
            let us = window();
            if us == 0 {
                // Off: look at the setting again now and then (CONFIG SET).
                tokio::time::sleep(Duration::from_millis(100)).await;
                woken_by_read = false;
                continue;
            }
            let mut last = activity.load(Ordering::SeqCst);
            if woken_by_read {
                let window = Duration::from_micros(us);
                let mut since = Instant::now();
                loop {
                    tokio::task::yield_now().await;
                    let now = activity.load(Ordering::Relaxed);
                    if now != last {
                        last = now;
                        since = Instant::now();
                    } else if since.elapsed() > window {
                        break;
                    }
                }
            }
            self.asleep.store(true, Ordering::SeqCst);
            woken_by_read = activity.load(Ordering::SeqCst) != last
                // A read after the check above finds `asleep` set and
                // notifies (the permit is kept if it lands before this wait
                // starts). The timeout picks up a changed setting while idle.
                || tokio::time::timeout(Duration::from_secs(1), self.wake.notified())
                    .await
                    .is_ok();
            self.asleep.store(false, Ordering::SeqCst);
        }
    }
}
