//! Model runner and a use-after-free detecting value type.

use std::sync::atomic::{
    AtomicBool as StdAtomicBool, AtomicUsize as StdAtomicUsize, Ordering as StdOrdering,
};
use std::time::Instant;

use loom::alloc::Track;
use loom::sync::atomic::{AtomicUsize, Ordering};

/// Runs `model` under loom with at most `preemptions` preemptions per
/// interleaving (the `LOOM_MAX_PREEMPTIONS` environment variable overrides it),
/// then prints the number of interleavings explored and the run time. With
/// `LOOM_REPORT=<file>` set, also appends a `name<TAB>preemptions<TAB>
/// interleavings<TAB>seconds` line to that file.
pub fn check(name: &str, preemptions: usize, model: impl Fn() + Sync + Send + 'static) {
    static RUNS: StdAtomicUsize = StdAtomicUsize::new(0);
    RUNS.store(0, StdOrdering::SeqCst);
    let mut b = loom::model::Builder::new();
    let bound = std::env::var("LOOM_MAX_PREEMPTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(preemptions);
    b.preemption_bound = Some(bound);
    let start = Instant::now();
    b.check(move || {
        RUNS.fetch_add(1, StdOrdering::Relaxed);
        IN_MODEL.store(true, StdOrdering::SeqCst);
        model();
        IN_MODEL.store(false, StdOrdering::SeqCst);
    });
    let secs = start.elapsed().as_secs_f64();
    let runs = RUNS.load(StdOrdering::SeqCst);
    eprintln!("loom model {name}: {runs} interleavings, preemption bound {bound}, {secs:.2} s");
    if let Ok(path) = std::env::var("LOOM_REPORT") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{name}\t{bound}\t{runs}\t{secs:.2}");
        }
    }
}

const LIVE: u64 = 0x4C49_5645_4C49_5645;
const DEAD: u64 = 0xDEAD_DEAD_DEAD_DEAD;

/// Whether the model closure is running (loom runs every model thread on the
/// test's OS thread). After it returns, loom drops its lazy statics, TICK
/// among them, and the epoch collector frees what it still holds.
static IN_MODEL: StdAtomicBool = StdAtomicBool::new(false);

loom::lazy_static! {
    /// A loom location touched by every liveness check and every drop, so
    /// that loom sees the two conflict and tries a drop between a reader's
    /// load of a version and its look at it.
    static ref TICK: AtomicUsize = AtomicUsize::new(0);
}

/// A value that knows whether it is still alive. Dropping poisons it, so a
/// reader that reaches a freed copy (the bug of the `free-now` and
/// `snapshot-unpinned` variants) fails its check instead of reading garbage
/// silently. Each copy owns a loom-tracked allocation, so a copy that is never
/// freed is reported by loom's leak check at the end of the interleaving.
pub struct Tracked<T> {
    magic: u64,
    val: T,
    _track: Track<()>,
}

impl<T> Tracked<T> {
    /// A new tracked value.
    pub fn new(val: T) -> Self {
        Tracked {
            magic: LIVE,
            val,
            _track: Track::new(()),
        }
    }

    /// The value, after a preemption point and a check that it was not freed.
    pub fn get(&self) -> &T {
        TICK.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `magic` is a plain u64 inside `self`. A volatile read so the
        // check is not optimised away; when the protocol is broken `self` may
        // already be freed, which is exactly what this check reports.
        let m = unsafe { std::ptr::read_volatile(&self.magic) };
        assert_eq!(
            m, LIVE,
            "use after free: a reader reached a reclaimed version"
        );
        &self.val
    }

    /// The value for the writer that owns it (no preemption point).
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.val
    }
}

impl<T: Clone> Clone for Tracked<T> {
    fn clone(&self) -> Self {
        // Everything read from `self` is read right after the check, with no
        // loom operation (no preemption point) in between.
        let val = self.get().clone();
        Tracked::new(val)
    }
}

impl<T> Drop for Tracked<T> {
    fn drop(&mut self) {
        // SAFETY: writing a plain field of a value being dropped.
        unsafe { std::ptr::write_volatile(&mut self.magic, DEAD) };
        if IN_MODEL.load(StdOrdering::SeqCst) {
            TICK.fetch_add(1, Ordering::Relaxed);
        }
    }
}
