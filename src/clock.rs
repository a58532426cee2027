//! A cheap monotonic clock for timing commands: the command statistics'
//! microseconds, and a script's in-line time budget (`script_host::Offload`).
//!
//! Both read the clock around every command, a script's `redis.call`s
//! included, so a reading's cost adds up: `Instant::now()` (a vDSO
//! `clock_gettime`) costs ~25 ns on the project's VM, the processor's
//! time-stamp counter ~10 ns — a ten-call script takes ~20 readings. Where
//! the time-stamp counter ticks at a constant rate on every core (x86-64
//! with an invariant TSC, as CPUID reports), a [`Stamp`] is a counter
//! reading, converted with a rate measured against `Instant` once, at the
//! first use (a 10 ms calibration, done at server start by [`init`]).
//! Elsewhere it is `Instant` time since that first use. Wall-clock time
//! (expiry, `TIME`) never comes from here.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A point on the clock; compare stamps, add durations, measure between.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp(u64);

/// How readings become time.
struct Rate {
    /// Whether stamps are time-stamp counter readings (else nanoseconds
    /// since `base`).
    tsc: bool,
    base: Instant,
    /// Microseconds per tick, as a 32.32 fixed-point number.
    us_per_tick: u64,
    /// Ticks per nanosecond, as a 32.32 fixed-point number.
    ticks_per_ns: u64,
}

static RATE: OnceLock<Rate> = OnceLock::new();

fn rate() -> &'static Rate {
    RATE.get_or_init(calibrate)
}

/// Measures the clock's rate now rather than at its first reading.
pub fn init() {
    rate();
}

/// The time now.
#[inline]
pub fn now() -> Stamp {
    let r = rate();
    if r.tsc {
        Stamp(read_tsc())
    } else {
        Stamp(r.base.elapsed().as_nanos() as u64)
    }
}

impl Stamp {
    /// Whole microseconds from `earlier` to `self` (0 if `earlier` is later:
    /// readings on two cores may disagree by a few ticks).
    #[inline]
    pub fn micros_since(self, earlier: Stamp) -> u64 {
        let ticks = self.0.saturating_sub(earlier.0) as u128;
        ((ticks * rate().us_per_tick as u128) >> 32) as u64
    }

    /// `self` plus `d`.
    pub fn after(self, d: Duration) -> Stamp {
        let ticks = (d.as_nanos() * rate().ticks_per_ns as u128) >> 32;
        Stamp(self.0.saturating_add(ticks.min(u64::MAX as u128) as u64))
    }
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn read_tsc() -> u64 {
    // SAFETY: RDTSC exists on every x86-64 processor and has no memory
    // effects.
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn read_tsc() -> u64 {
    0
}

/// Whether the time-stamp counter ticks at one constant rate whatever the
/// core's frequency and power state (CPUID leaf 0x8000_0007, EDX bit 8).
#[cfg(target_arch = "x86_64")]
fn invariant_tsc() -> bool {
    use core::arch::x86_64::__cpuid;
    // The extended leaf is read only if the processor reports it.
    __cpuid(0x8000_0000).eax >= 0x8000_0007 && __cpuid(0x8000_0007).edx & (1 << 8) != 0
}

#[cfg(not(target_arch = "x86_64"))]
fn invariant_tsc() -> bool {
    false
}

/// `x` as a 32.32 fixed-point number.
fn fixed(x: f64) -> u64 {
    (x * (1u64 << 32) as f64).round() as u64
}

fn calibrate() -> Rate {
    let base = Instant::now();
    let ns_rate = Rate {
        tsc: false,
        base,
        us_per_tick: fixed(1e-3),
        ticks_per_ns: fixed(1.0),
    };
    if !invariant_tsc() {
        return ns_rate;
    }
    let t0 = read_tsc();
    let spent = loop {
        let e = base.elapsed();
        if e >= Duration::from_millis(10) {
            break e;
        }
        std::hint::spin_loop();
    };
    let ticks = read_tsc().wrapping_sub(t0);
    let per_ns = ticks as f64 / spent.as_nanos() as f64;
    // A counter that did not tick at 100 MHz–100 GHz is not one to trust.
    if !(0.1..100.0).contains(&per_ns) {
        return ns_rate;
    }
    Rate {
        tsc: true,
        base,
        us_per_tick: fixed(1e-3 / per_ns),
        ticks_per_ns: fixed(per_ns),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stamps measure what `Instant` measures, to within a few percent and
    /// the granularity of a microsecond.
    #[test]
    fn stamps_agree_with_instant() {
        init();
        for ms in [0u64, 3, 20] {
            let (s0, i0) = (now(), Instant::now());
            std::thread::sleep(Duration::from_millis(ms));
            let (s1, i1) = (now(), Instant::now());
            let want = i1.duration_since(i0).as_micros() as f64;
            let got = s1.micros_since(s0) as f64;
            assert!(
                (got - want).abs() <= want * 0.05 + 50.0,
                "slept {ms} ms: stamps say {got} µs, Instant {want} µs"
            );
            assert_eq!(s0.micros_since(s1), 0, "earlier minus later");
        }
        let s = now();
        let due = s.after(Duration::from_millis(5));
        assert!(due > s && now() < due);
        let us = due.micros_since(s) as i64;
        assert!((us - 5000).abs() <= 10, "{us}");
        std::thread::sleep(Duration::from_millis(6));
        assert!(now() >= due);
    }
}
