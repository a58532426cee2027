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
//!
//! Nor does it spin while the CPUs are oversubscribed: when a third process
//! needs a core (a subscriber besides a publishing benchmark client), the
//! spinning worker takes the time that process would use. While spinning the
//! poller samples the worker's run-queue delay (`/proc/thread-self/schedstat`,
//! the time the thread was runnable but waiting for a CPU) every
//! [`SAMPLE`], from one sample into the window on; if the thread waited more than `busy-poll-contention-pct`
//! percent of a sample (default 10; 100 = never back off), it stops spinning
//! for [`BACKOFF`] (the worker then sleeps in `epoll_wait` between requests,
//! as without the poller) and tries again after it.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// How long a run-queue delay sample of the spinning worker lasts.
pub const SAMPLE: Duration = Duration::from_millis(10);
/// How long the poller stays off once contended.
pub const BACKOFF: Duration = Duration::from_millis(200);

/// The calling thread's run-queue delay, read from
/// `/proc/thread-self/schedstat` (opened by the thread that creates it).
struct RunQueue {
    file: Option<File>,
}

impl RunQueue {
    fn open() -> RunQueue {
        RunQueue {
            file: File::open("/proc/thread-self/schedstat").ok(),
        }
    }

    /// Nanoseconds the thread has waited runnable for a CPU; `None` when the
    /// kernel does not say (no schedstats: the poller then never backs off).
    fn delay_ns(&self) -> Option<u64> {
        let mut buf = [0u8; 96];
        let n = self.file.as_ref()?.read_at(&mut buf, 0).ok()?;
        parse_delay(&buf[..n])
    }
}

/// The second field of a schedstat line (`run_ns delay_ns slices`).
fn parse_delay(line: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(line).ok()?;
    text.split_ascii_whitespace().nth(1)?.parse().ok()
}

/// Whether `delay_ns` of waiting over `wall` is more than `pct` percent of
/// it (the CPUs are contended); never at 100. The default, 10, sits between
/// what was measured with the CPUs oversubscribed (PUBLISH -c 50 -P 1 with a
/// subscriber, 3 processes on 2 cores: 17–20 %) and not (GET -P 1: 1–2 %).
fn contended(delay_ns: u64, wall: Duration, pct: u64) -> bool {
    pct < 100 && delay_ns as u128 * 100 > pct as u128 * wall.as_nanos()
}

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
    pub async fn run(
        &self,
        activity: &AtomicU64,
        window: impl Fn() -> u64,
        contention_pct: impl Fn() -> u64,
    ) {
        if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
            return;
        }
        let runq = RunQueue::open();
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
                // The first reading waits for a sample's length: most windows
                // (a request now and then) end well before, and need none.
                let mut sample: (Instant, Option<u64>) = (since, None);
                loop {
                    tokio::task::yield_now().await;
                    let now = activity.load(Ordering::Relaxed);
                    let t = Instant::now();
                    if now != last {
                        last = now;
                        since = t;
                    } else if t.duration_since(since) > window {
                        break;
                    }
                    let wall = t.duration_since(sample.0);
                    if wall >= SAMPLE {
                        let delay = runq.delay_ns();
                        if let (Some(d0), Some(d1)) = (sample.1, delay) {
                            if contended(d1.saturating_sub(d0), wall, contention_pct()) {
                                // Sleep through the back-off with `asleep`
                                // clear: reads do not wake the poller.
                                tokio::time::sleep(BACKOFF).await;
                                break;
                            }
                        }
                        sample = (t, delay);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedstat_lines_are_read() {
        assert_eq!(parse_delay(b"123 456 7\n"), Some(456));
        assert_eq!(parse_delay(b"123\n"), None);
        assert_eq!(parse_delay(b""), None);
        assert_eq!(parse_delay(b"1 x 2"), None);
        // This thread's own line (Linux keeps it with CONFIG_SCHED_INFO, as
        // the kernels this runs on do).
        assert!(RunQueue::open().delay_ns().is_some());
    }

    #[test]
    fn contention_is_a_share_of_the_sample() {
        let wall = Duration::from_millis(10);
        assert!(!contended(0, wall, 10));
        assert!(!contended(1_000_000, wall, 10));
        assert!(contended(1_000_001, wall, 10));
        assert!(contended(2_000_000, wall, 10));
        assert!(contended(1, wall, 0));
        assert!(!contended(0, wall, 0));
        // 100: never, even when the sample's clocks disagree.
        assert!(!contended(20_000_000, wall, 100));
    }
}
