//! Per-command and per-error statistics for `INFO commandstats`,
//! `INFO errorstats` and `INFO latencystats`, in Redis's formats.
//!
//! Every command and subcommand of the table has a slot ([`Table::slot`]), so
//! counting calls is a few relaxed atomic adds on that command's own
//! counters, with no lock on the hot path. Callers count a run of calls of
//! the same command in a [`Tally`] first (a pipeline of GETs, a script's
//! `redis.call`s) and add it in one go: one set of atomic adds per run, not
//! per call (each is a locked instruction). Error codes are rare and go into
//! a small locked map. Latencies go into a per-command histogram laid out
//! like an HdrHistogram with 2 significant digits (what Redis uses), so the
//! reported percentiles are quantized the same way; it is allocated on the
//! command's first call.
//!
//! [`Table::slot`]: crate::commands::Table::slot

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};

use crate::commands::{table, CommandSpec, Handler};

/// Counters of one command.
#[derive(Default)]
pub struct Counters {
    calls: AtomicU64,
    usec: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
    /// Latency histogram (nanoseconds), allocated on first use.
    latency: OnceLock<Histogram>,
}

/// Calls of one command not yet added to [`CommandStats`]: how many, their
/// time and failures, and the latest run of them with the same latency
/// histogram cell. Add it with [`CommandStats::flush`] before it is dropped.
#[derive(Default)]
pub struct Tally {
    slot: usize,
    calls: u64,
    usec: u64,
    failed: u64,
    latency_index: usize,
    same_latency: u64,
}

/// The statistics of all commands and error codes; `slots` follows
/// [`crate::commands::Table::named`].
pub struct CommandStats {
    slots: Vec<(String, Counters)>,
    errors: Mutex<BTreeMap<String, u64>>,
    /// `latency-tracking`, shared with the configuration.
    tracking: Arc<AtomicBool>,
}

impl Default for CommandStats {
    fn default() -> Self {
        CommandStats::new(Arc::new(AtomicBool::new(true)))
    }
}

impl CommandStats {
    /// Statistics that record latencies while `tracking` is set (the
    /// configuration's `latency-tracking`).
    pub fn new(tracking: Arc<AtomicBool>) -> Self {
        CommandStats {
            slots: table()
                .named
                .iter()
                .map(|(n, _)| (n.clone(), Counters::default()))
                .collect(),
            errors: Mutex::new(BTreeMap::new()),
            tracking,
        }
    }

    fn slot(&self, spec: &'static CommandSpec) -> Option<&Counters> {
        self.slots.get(table().slot(spec)?).map(|(_, c)| c)
    }

    /// Before running `spec` (table slot `slot`): adds `t` if it holds
    /// another command's calls, or any calls when the command may read the
    /// statistics (connection and server commands such as INFO), so what it
    /// reads counts every earlier call.
    #[inline]
    pub fn before(&self, t: &mut Tally, spec: &CommandSpec, slot: usize) {
        let reads_stats = matches!(spec.handler, Handler::Conn(_));
        self.flush_unless(t, slot, reads_stats);
    }

    /// Adds `t` unless it holds only calls of `slot` (and `all` is false).
    #[inline]
    fn flush_unless(&self, t: &mut Tally, slot: usize, all: bool) {
        if t.calls > 0 && (t.slot != slot || all) {
            self.flush(t);
        }
    }

    /// Counts in `t` one executed call of the command in table slot `slot`
    /// that took `usec`, and whether it replied an error (after
    /// [`CommandStats::before`] for the same slot).
    #[inline]
    pub fn call(&self, t: &mut Tally, slot: usize, usec: u64, failed: bool) {
        self.flush_unless(t, slot, false);
        t.slot = slot;
        t.calls += 1;
        t.usec += usec;
        t.failed += failed as u64;
        if self.tracking.load(Relaxed) {
            // Like Redis: microseconds scaled to the histogram's
            // nanoseconds, clamped to its range.
            let i = Histogram::index(usec.saturating_mul(1000).clamp(1, Histogram::MAX));
            if t.same_latency > 0 && t.latency_index != i {
                self.flush_latency(t);
            }
            t.latency_index = i;
            t.same_latency += 1;
        }
    }

    /// Adds `t` to the shared counters and empties it.
    pub fn flush(&self, t: &mut Tally) {
        if t.calls == 0 {
            return;
        }
        if let Some((_, c)) = self.slots.get(t.slot) {
            c.calls.fetch_add(t.calls, Relaxed);
            c.usec.fetch_add(t.usec, Relaxed);
            if t.failed > 0 {
                c.failed.fetch_add(t.failed, Relaxed);
            }
        }
        self.flush_latency(t);
        *t = Tally::default();
    }

    fn flush_latency(&self, t: &mut Tally) {
        if t.same_latency == 0 {
            return;
        }
        if let Some((_, c)) = self.slots.get(t.slot) {
            let h = c.latency.get_or_init(Histogram::new);
            if let Some(n) = h.counts.get(t.latency_index) {
                n.fetch_add(t.same_latency, Relaxed);
            }
        }
        t.same_latency = 0;
    }

    /// Counts a call refused before execution (arity, auth, pause…).
    pub fn rejected(&self, spec: &'static CommandSpec) {
        if let Some(c) = self.slot(spec) {
            c.rejected.fetch_add(1, Relaxed);
        }
    }

    /// Counts an error reply by its code (the first word: `ERR`, `WRONGTYPE`…).
    pub fn error(&self, msg: &str) {
        let code = msg.split(' ').next().unwrap_or("ERR");
        let mut e = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        // Redis caps the number of distinct codes it tracks at 128.
        if e.len() < 128 || e.contains_key(code) {
            *e.entry(code.to_string()).or_insert(0) += 1;
        }
    }

    /// Zeroes everything (CONFIG RESETSTAT).
    pub fn reset(&self) {
        for (_, c) in &self.slots {
            for a in [&c.calls, &c.usec, &c.rejected, &c.failed] {
                a.store(0, Relaxed);
            }
            if let Some(h) = c.latency.get() {
                h.clear();
            }
        }
        self.errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The `cmdstat_…` lines of INFO commandstats.
    pub fn write_commandstats(&self, out: &mut String) {
        for (name, c) in &self.slots {
            let (calls, usec) = (c.calls.load(Relaxed), c.usec.load(Relaxed));
            let (rejected, failed) = (c.rejected.load(Relaxed), c.failed.load(Relaxed));
            if calls == 0 && rejected == 0 && failed == 0 {
                continue;
            }
            let per = if calls == 0 {
                0.0
            } else {
                usec as f64 / calls as f64
            };
            let _ = write!(
                out,
                "cmdstat_{name}:calls={calls},usec={usec},usec_per_call={per:.2},rejected_calls={rejected},failed_calls={failed}\r\n"
            );
        }
    }

    /// The `errorstat_…` lines of INFO errorstats.
    pub fn write_errorstats(&self, out: &mut String) {
        let e = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        for (code, n) in e.iter() {
            let _ = write!(out, "errorstat_{code}:count={n}\r\n");
        }
    }
}

impl CommandStats {
    /// The `latency_percentiles_usec_…` lines of INFO latencystats, with
    /// the given percentiles (`latency-tracking-info-percentiles`); nothing
    /// while `latency-tracking` is off, as in Redis.
    pub fn write_latencystats(&self, out: &mut String, percentiles: &[f64]) {
        if !self.tracking.load(Relaxed) {
            return;
        }
        for (name, c) in &self.slots {
            let Some(h) = c.latency.get() else { continue };
            let counts = h.snapshot();
            let total: u64 = counts.iter().sum();
            if total == 0 {
                continue;
            }
            let _ = write!(out, "latency_percentiles_usec_{name}:");
            for (i, p) in percentiles.iter().enumerate() {
                let v = Histogram::value_at_percentile(&counts, total, *p);
                let sep = if i == 0 { "" } else { "," };
                let _ = write!(out, "{sep}p{}={:.3}", fmt_percentile(*p), v as f64 / 1000.0);
            }
            out.push_str("\r\n");
        }
    }
}

/// A percentile as Redis prints it: `%f` without trailing zeros.
pub fn fmt_percentile(p: f64) -> String {
    let s = format!("{p:.6}");
    let s = s.trim_end_matches('0');
    s.strip_suffix('.').unwrap_or(s).to_string()
}

/// Counts of values from 1 to [`Histogram::MAX`] in buckets of the
/// HdrHistogram layout with 2 significant decimal digits: 256 exact
/// sub-buckets, then per power of two 128 sub-buckets whose width doubles.
pub struct Histogram {
    counts: Box<[AtomicU64]>,
}

impl Histogram {
    /// The largest value tracked (1 s in nanoseconds, as Redis).
    pub const MAX: u64 = 1_000_000_000;
    /// log2 of half the sub-bucket count: 2 significant digits need 200
    /// distinct values per bucket, rounded up to 256.
    const HALF_MAG: u32 = 7;
    const HALF: u64 = 1 << Self::HALF_MAG;
    const SUB_MASK: u64 = 2 * Self::HALF - 1;

    fn new() -> Histogram {
        // Buckets until 256 << (n - 1) exceeds MAX.
        let mut buckets = 1;
        let mut untrackable = 2 * Self::HALF;
        while untrackable <= Self::MAX {
            untrackable <<= 1;
            buckets += 1;
        }
        let len = (buckets + 1) * Self::HALF as usize;
        Histogram {
            counts: (0..len).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn bucket(v: u64) -> u32 {
        (64 - (v | Self::SUB_MASK).leading_zeros()) - (Self::HALF_MAG + 1)
    }

    fn index(v: u64) -> usize {
        let b = Self::bucket(v);
        let sub = v >> b;
        (((b as u64 + 1) << Self::HALF_MAG) + sub - Self::HALF) as usize
    }

    fn value_at(index: usize) -> u64 {
        let mut bucket = (index >> Self::HALF_MAG) as i64 - 1;
        let mut sub = (index as u64 & (Self::HALF - 1)) + Self::HALF;
        if bucket < 0 {
            sub -= Self::HALF;
            bucket = 0;
        }
        sub << bucket
    }

    /// The first value of `v`'s bucket slot.
    fn lowest_equivalent(v: u64) -> u64 {
        let b = Self::bucket(v);
        (v >> b) << b
    }

    /// The last value of `v`'s bucket slot.
    fn highest_equivalent(v: u64) -> u64 {
        Self::lowest_equivalent(v) + (1 << Self::bucket(v)) - 1
    }

    #[cfg(test)]
    fn record(&self, v: u64) {
        if let Some(c) = self.counts.get(Self::index(v.clamp(1, Self::MAX))) {
            c.fetch_add(1, Relaxed);
        }
    }

    fn clear(&self) {
        for c in self.counts.iter() {
            c.store(0, Relaxed);
        }
    }

    fn snapshot(&self) -> Vec<u64> {
        self.counts.iter().map(|c| c.load(Relaxed)).collect()
    }

    /// The value at percentile `p` of `counts` (which sum to `total`): the
    /// highest value of the slot holding the rank-th value (the lowest for
    /// p = 0), as HdrHistogram reports it.
    fn value_at_percentile(counts: &[u64], total: u64, p: f64) -> u64 {
        let p = p.min(100.0);
        let rank = ((p / 100.0 * total as f64 + 0.5) as u64).max(1);
        let mut seen = 0;
        let mut value = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                value = Self::value_at(i);
                break;
            }
        }
        if p == 0.0 {
            Self::lowest_equivalent(value)
        } else {
            Self::highest_equivalent(value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn percentiles(values: &[u64], ps: &[f64]) -> Vec<u64> {
        let h = Histogram::new();
        for v in values {
            h.record(*v);
        }
        let counts = h.snapshot();
        let total = counts.iter().sum();
        ps.iter()
            .map(|p| Histogram::value_at_percentile(&counts, total, *p))
            .collect()
    }

    /// The quantization redis-server 7.0 shows: a 2, 5, 20 or 108 µs
    /// command reports 2.007, 5.023, 20.095 and 108.031 (p0: 2.000, 107.520).
    #[test]
    fn quantized_like_redis() {
        assert_eq!(percentiles(&[2000], &[0.0, 50.0, 99.9]), [2000, 2007, 2007]);
        assert_eq!(percentiles(&[5000], &[50.0]), [5023]);
        assert_eq!(percentiles(&[20000], &[50.0]), [20095]);
        assert_eq!(percentiles(&[108000], &[0.0, 100.0]), [107520, 108031]);
        // Small values are exact; the range ends at one second.
        assert_eq!(percentiles(&[1, 255], &[0.0, 100.0]), [1, 255]);
        assert_eq!(percentiles(&[u64::MAX], &[100.0]).len(), 1);
        assert_eq!(Histogram::new().counts.len(), 24 * 128);
    }

    #[test]
    fn percentile_ranks() {
        let mut v = vec![1000; 98];
        v.extend([50_000, 900_000]);
        let got = percentiles(&v, &[50.0, 99.0, 99.9, 100.0]);
        assert_eq!(got, [1003, 50175, 901119, 901119]);
    }

    /// What `write_commandstats` and the latency histograms hold.
    fn shown(s: &CommandStats) -> Vec<(u64, u64, u64, Vec<u64>)> {
        s.slots
            .iter()
            .map(|(_, c)| {
                (
                    c.calls.load(Relaxed),
                    c.usec.load(Relaxed),
                    c.failed.load(Relaxed),
                    c.latency.get().map_or(Vec::new(), |h| h.snapshot()),
                )
            })
            .collect()
    }

    #[test]
    fn tallied_runs_add_up_to_every_call_and_flush_before_another_command() {
        let tallied = CommandStats::default();
        let direct = CommandStats::default();
        let mut t = Tally::default();
        // Runs of the same command with changing latencies and failures,
        // then other commands.
        let calls = [
            (3, 1, false),
            (3, 1, false),
            (3, 2, true),
            (3, 1, false),
            (7, 0, false),
            (3, 5, false),
            (3, 5, false),
            (9, 300, true),
        ];
        for (i, &(slot, usec, failed)) in calls.iter().enumerate() {
            if i == calls.len() - 1 {
                tallied.flush(&mut t);
                assert_eq!(shown(&tallied), shown(&direct));
            }
            tallied.flush_unless(&mut t, slot, false);
            // Before a command runs, every call of other commands is shown.
            let mut seen = shown(&direct);
            if t.calls > 0 {
                let pending = t.calls;
                seen[t.slot].0 -= pending;
                assert_eq!(t.slot, slot, "call {i}");
            }
            assert_eq!(shown(&tallied)[slot].0, seen[slot].0, "call {i}");
            for (s, row) in seen.iter().enumerate() {
                if s != slot {
                    assert_eq!(&shown(&tallied)[s], row, "call {i} slot {s}");
                }
            }
            tallied.call(&mut t, slot, usec, failed);
            let c = &direct.slots[slot].1;
            c.calls.fetch_add(1, Relaxed);
            c.usec.fetch_add(usec, Relaxed);
            c.failed.fetch_add(failed as u64, Relaxed);
            c.latency
                .get_or_init(Histogram::new)
                .record(usec.saturating_mul(1000).clamp(1, Histogram::MAX));
        }
        // A command that reads the statistics sees its own earlier calls.
        tallied.call(&mut t, 9, 1, false);
        tallied.flush_unless(&mut t, 9, true);
        assert_eq!(shown(&tallied)[9].0, 2);
        tallied.call(&mut t, 9, 1, false);
        tallied.flush(&mut t);
        assert_eq!(shown(&tallied)[9].0, 3);
        assert_eq!(t.calls, 0);
    }

    #[test]
    fn percentile_labels() {
        assert_eq!(fmt_percentile(50.0), "50");
        assert_eq!(fmt_percentile(99.9), "99.9");
        assert_eq!(fmt_percentile(12.3456789), "12.345679");
        assert_eq!(fmt_percentile(1e-10), "0");
        assert_eq!(fmt_percentile(-0.0), "-0");
    }
}
