//! The lock/commit protocol: committed root, GIL, private versions.
//!
//! * The committed root sits behind a crossbeam-epoch atomic pointer. A reader
//!   pins the epoch, loads the pointer and reads; it takes no lock and can never
//!   see a half-applied write because a version is immutable once published.
//! * A writer locks the GIL. The guard is part of the [`WriteTxn`], which holds
//!   a private clone of the root (O(1) for persistent structures). `commit`
//!   publishes it with one swap and retires the old root through the epoch
//!   collector; `abort` (or drop) throws it away. Both consume the transaction,
//!   so the GIL is released exactly once, after the swap.
//!
//! * A script marks its transaction ([`WriteTxn::script_started`]); while it
//!   runs, [`Store::request_kill`] (SCRIPT KILL) raises a flag the script polls
//!   ([`WriteTxn::kill_requested`]), and a writer that finds the GIL taken asks
//!   [`Store::begin_or_busy`] whether to wait or to answer BUSY. The mark is
//!   cleared when the script ends ([`WriteTxn::script_finished`]: the
//!   transaction may go on with other commands) and at the latest before the
//!   GIL is released. [`WriteTxn::split`] hands a command handler the private
//!   version and the [`ScriptSlot`] apart, so the server's EVAL handler marks
//!   itself and its Lua hook polls the kill flag ([`KillSignal`]).
//!
//! Lock order: the GIL is the only lock here; nothing else may be held while
//! waiting for it.
//!
//! The `loom-broken-*` features compile deliberately wrong variants of this
//! protocol for the loom models to reject (`loom-tests/`); they only build
//! together with `--cfg ferrous_loom`.

#[cfg(all(
    not(ferrous_loom),
    any(
        feature = "loom-broken-release-before-swap",
        feature = "loom-broken-publish-early",
        feature = "loom-broken-abort-publishes",
        feature = "loom-broken-kill-reset-late",
        feature = "loom-broken-busy-blocks",
        feature = "loom-broken-free-now",
        feature = "loom-broken-leak-retired",
        feature = "loom-broken-snapshot-unpinned",
    )
))]
compile_error!("the loom-broken-* features are for the loom models only (--cfg ferrous_loom)");

use crossbeam_epoch::{self as epoch, Atomic, Owned};

use crate::reaper::Reaper;

use crate::sync::{AtomicBool, AtomicU64, Mutex, MutexGuard, Ordering};

/// The committed root plus the writer lock.
pub struct Store<V> {
    root: Atomic<V>,
    gil: Mutex<()>,
    commits: AtomicU64,
    /// When the script holding the GIL started (the caller's clock, never 0);
    /// 0 while the GIL is free or held by anything but a script.
    script_since: AtomicU64,
    /// Raised by [`Store::request_kill`], polled by the running script.
    kill: AtomicBool,
    /// Where retired versions go to be destroyed ([`Store::with_reaper`]);
    /// `None`: the thread that collects them destroys them.
    reaper: Option<Reaper<V>>,
}

/// Trie nodes a transaction must have path-copied for the version it replaces
/// to go to the reaper thread. The hand-over pays only when there is garbage
/// enough and a core to spare: a pipelined batch of writes at 1M keys (16
/// SETs copy ~60 nodes) gained 11–45 % req/s; one write per transaction
/// (-P 1: 4–5 nodes at 1M keys, ~1 on a small keyspace) lost 12–15 % when
/// handed over, its client and the writer already busy on both cores.
const REAP_MIN_COPIES: usize = 32;

/// What a writer that found the GIL taken should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GilWait {
    /// Wait for the GIL and try again: its holder is not a script, or a script
    /// still within the busy threshold.
    Wait,
    /// Answer BUSY: a script has held the GIL for at least the threshold.
    Busy,
}

impl<V: Clone + Send + Sync + 'static> Store<V> {
    /// A store whose first committed version is `initial`.
    pub fn new(initial: V) -> Self {
        Store {
            root: Atomic::new(initial),
            gil: Mutex::new(()),
            commits: AtomicU64::new(0),
            script_since: AtomicU64::new(0),
            kill: AtomicBool::new(false),
            reaper: None,
        }
    }

    /// Like [`Store::new`], but a retired version whose replacement
    /// path-copied at least [`REAP_MIN_COPIES`] trie nodes
    /// ([`crate::hamt::take_copies`], counted from the transaction's start) is
    /// destroyed on a thread of its own (named `thread_name`, see
    /// [`crate::reaper`]) instead of by whichever thread collects it. Falls
    /// back to [`Store::new`]'s behaviour if the thread cannot be started.
    /// The hand-over happens while `enabled` is set
    /// (`lazyfree-lazy-server-del` in the server).
    #[cfg(not(ferrous_loom))]
    pub fn with_reaper(
        initial: V,
        thread_name: &str,
        enabled: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> Self {
        let mut store = Store::new(initial);
        store.reaper = Reaper::start(thread_name, enabled);
        store
    }

    /// Runs `f` on the committed version without taking any lock.
    pub fn read<R>(&self, f: impl FnOnce(&V) -> R) -> R {
        #[cfg(feature = "loom-broken-snapshot-unpinned")]
        // BROKEN: reads without pinning, so nothing stops the version from
        // being reclaimed under the reader.
        let guard = unsafe { epoch::unprotected() };
        #[cfg(not(feature = "loom-broken-snapshot-unpinned"))]
        let guard = &epoch::pin();
        let shared = self.root.load(Ordering::Acquire, guard);
        // SAFETY: the root is never null (set in `new`, only ever swapped for
        // another non-null pointer) and the old root is destroyed only through
        // `defer_destroy`, i.e. after every pinned reader such as us unpins.
        let v = unsafe { shared.deref() };
        f(v)
    }

    /// An owned snapshot of the committed version (O(1) for persistent
    /// values), for readers that outlive one call, such as a background dump.
    pub fn snapshot(&self) -> V {
        self.read(V::clone)
    }

    /// Takes the GIL and opens a write transaction on a private version.
    pub fn begin(&self) -> WriteTxn<'_, V> {
        let guard = self.gil.lock().unwrap_or_else(|e| e.into_inner());
        self.open(guard)
    }

    /// Like [`Store::begin`] but gives up at once if another writer holds the GIL.
    pub fn try_begin(&self) -> Option<WriteTxn<'_, V>> {
        // std's and loom's `try_lock` both report through std's `TryLockError`.
        let guard = match self.gil.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        Some(self.open(guard))
    }

    /// A transaction on a private clone of the root, holding `lock`.
    fn open<'a>(&'a self, lock: MutexGuard<'a, ()>) -> WriteTxn<'a, V> {
        // Copies counted from here on are this transaction's.
        crate::hamt::take_copies();
        let private = self.snapshot();
        WriteTxn {
            store: self,
            _gil: Gil {
                script_since: &self.script_since,
                script: false,
                _lock: lock,
            },
            private,
        }
    }

    /// Opens a write transaction if the GIL is free; otherwise says whether to
    /// wait ([`GilWait::Wait`]: try again once the GIL is released) or to
    /// answer BUSY ([`GilWait::Busy`]): a script has held the GIL since at
    /// least `threshold` before `now` (same clock as
    /// [`WriteTxn::script_started`]). Never blocks.
    pub fn begin_or_busy(&self, now: u64, threshold: u64) -> Result<WriteTxn<'_, V>, GilWait> {
        #[cfg(feature = "loom-broken-busy-blocks")]
        // BROKEN: waits for the GIL however long the script runs.
        return Ok(self.begin());
        #[allow(unreachable_code)]
        match self.try_begin() {
            Some(tx) => Ok(tx),
            None => Err(self.gil_wait(now, threshold)),
        }
    }

    /// The decision of [`Store::begin_or_busy`] for a writer that found the GIL
    /// taken: BUSY once a script has held it for `threshold` or longer.
    pub fn gil_wait(&self, now: u64, threshold: u64) -> GilWait {
        let since = self.script_since.load(Ordering::Acquire);
        if since != 0 && now.saturating_sub(since) >= threshold {
            GilWait::Busy
        } else {
            GilWait::Wait
        }
    }

    /// SCRIPT KILL: asks the running script to stop. False when no script
    /// holds the GIL (NOTBUSY). The flag lands on whatever script is running
    /// when it is set; a script that starts later clears it first.
    pub fn request_kill(&self) -> bool {
        if self.script_since.load(Ordering::Acquire) == 0 {
            return false;
        }
        self.kill.store(true, Ordering::Release);
        true
    }

    /// Whether a writer holds the GIL right now (a hint: it may change at once).
    pub fn gil_busy(&self) -> bool {
        matches!(
            self.gil.try_lock(),
            Err(std::sync::TryLockError::WouldBlock)
        )
    }

    /// Number of commits published so far.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }
}

impl<V> Drop for Store<V> {
    fn drop(&mut self) {
        // SAFETY: `&mut self` means no reader or writer can still reach the root.
        unsafe {
            let guard = epoch::unprotected();
            let root = self.root.load(Ordering::Relaxed, guard);
            if !root.is_null() {
                drop(root.into_owned());
            }
        }
    }
}

/// The held GIL. Dropping it clears the script mark first, then unlocks, so
/// a writer never sees the mark of a script that has finished.
struct Gil<'a> {
    script_since: &'a AtomicU64,
    script: bool,
    _lock: MutexGuard<'a, ()>,
}

impl Drop for Gil<'_> {
    fn drop(&mut self) {
        if self.script {
            self.script_since.store(0, Ordering::Release);
        }
        // `_lock` is dropped after this body: the GIL is released last.
    }
}

/// A write transaction: the GIL guard plus a private version.
///
/// Dereferences to the private version. Dropping it without `commit` aborts.
pub struct WriteTxn<'a, V: Clone + Send + Sync + 'static> {
    store: &'a Store<V>,
    _gil: Gil<'a>,
    private: V,
}

impl<V: Clone + Send + Sync + 'static> WriteTxn<'_, V> {
    /// Publishes the private version with one atomic swap, then releases the GIL.
    pub fn commit(self) -> u64 {
        let guard = epoch::pin();
        let WriteTxn {
            store,
            _gil,
            private,
        } = self;
        #[cfg(feature = "loom-broken-release-before-swap")]
        // BROKEN: another writer can clone the root before this swap.
        drop(_gil);
        let old = store
            .root
            .swap(Owned::new(private), Ordering::AcqRel, &guard);
        retire(old, &guard, store.reaper.as_ref());
        let n = store.commits.fetch_add(1, Ordering::Relaxed) + 1;
        // Hand the retired versions to the global queue every few commits:
        // left in this thread's bag a version would wait for 63 more commits,
        // and each retired version pins every node its writes replaced
        // (measured: 1M keys loaded in pipelined batches took 260 MB RSS
        // without flushing). A flush per commit cost more than the rest of the
        // commit in cache misses (it seals and copies a 64-slot bag twice).
        if n % FLUSH_EVERY == 0 {
            guard.flush();
        }
        #[cfg(not(feature = "loom-broken-release-before-swap"))]
        drop(_gil);
        n
    }

    /// Drops the private version; the committed root was never touched.
    pub fn abort(self) {
        #[cfg(feature = "loom-broken-abort-publishes")]
        {
            // BROKEN: an aborted transaction's writes become visible.
            let guard = epoch::pin();
            let old =
                self.store
                    .root
                    .swap(Owned::new(self.private.clone()), Ordering::AcqRel, &guard);
            retire(old, &guard, None);
        }
    }

    /// The private version and the script slot of this transaction, borrowed
    /// apart: a command handler gets the version while the script it runs
    /// marks itself and polls for SCRIPT KILL through the slot.
    pub fn split(&mut self) -> (&mut V, ScriptSlot<'_>) {
        #[cfg(feature = "loom-broken-publish-early")]
        self.publish_early();
        let WriteTxn {
            store,
            _gil,
            private,
        } = self;
        let slot = ScriptSlot {
            script_since: &store.script_since,
            kill: &store.kill,
            marked: &mut _gil.script,
        };
        (private, slot)
    }

    /// Marks this transaction as a script started at `now` (see
    /// [`ScriptSlot::script_started`]).
    pub fn script_started(&mut self, now: u64) {
        self.split().1.script_started(now);
    }

    /// Ends the script mark while the transaction goes on (see
    /// [`ScriptSlot::script_finished`]).
    pub fn script_finished(&mut self) {
        self.split().1.script_finished();
    }

    /// Whether SCRIPT KILL asked the running script to stop; the script then
    /// aborts (drops) the transaction.
    pub fn kill_requested(&self) -> bool {
        self.store.kill.load(Ordering::Acquire)
    }

    #[cfg(feature = "loom-broken-publish-early")]
    fn publish_early(&mut self) {
        // BROKEN: every write access publishes the transaction so far, so
        // readers see its first write before its second.
        let guard = epoch::pin();
        let old = self
            .store
            .root
            .swap(Owned::new(self.private.clone()), Ordering::AcqRel, &guard);
        retire(old, &guard, None);
    }
}

/// The script half of a [`WriteTxn`] ([`WriteTxn::split`]): marks the
/// transaction as running a script and reads the kill request. Lives no
/// longer than the transaction's borrow, so it can only mark a GIL it holds.
pub struct ScriptSlot<'t> {
    script_since: &'t AtomicU64,
    kill: &'t AtomicBool,
    marked: &'t mut bool,
}

impl<'t> ScriptSlot<'t> {
    /// A shorter-lived slot on the same transaction (for a nested command
    /// context such as EXEC's).
    pub fn reborrow(&mut self) -> ScriptSlot<'_> {
        ScriptSlot {
            script_since: self.script_since,
            kill: self.kill,
            marked: &mut *self.marked,
        }
    }

    /// Marks the transaction as a script started at `now` (any clock that
    /// [`Store::begin_or_busy`] callers share): clears a stale kill request,
    /// then lets SCRIPT KILL and the busy decision see the script.
    pub fn script_started(&mut self, now: u64) {
        #[cfg(not(feature = "loom-broken-kill-reset-late"))]
        self.kill.store(false, Ordering::Relaxed);
        // Release: a killer that sees the mark also sees the flag cleared, so
        // its kill cannot be wiped out by the clearing above.
        self.script_since.store(now.max(1), Ordering::Release);
        #[cfg(feature = "loom-broken-kill-reset-late")]
        // BROKEN: a kill that lands between the mark and this store is lost.
        self.kill.store(false, Ordering::Relaxed);
        *self.marked = true;
    }

    /// The script is over but the transaction goes on (the rest of a batch
    /// or of an EXEC): writers wait again instead of getting BUSY, and SCRIPT
    /// KILL answers NOTBUSY. A kill that landed too late stays raised until
    /// the next [`ScriptSlot::script_started`] clears it; nobody polls it.
    pub fn script_finished(&mut self) {
        if *self.marked {
            self.script_since.store(0, Ordering::Release);
            *self.marked = false;
        }
    }

    /// Whether SCRIPT KILL asked the running script to stop.
    pub fn kill_requested(&self) -> bool {
        self.kill.load(Ordering::Acquire)
    }

    /// A copyable handle on the kill request, for the script's interpreter
    /// hook (which cannot hold the slot itself).
    pub fn kill_signal(&self) -> KillSignal<'t> {
        KillSignal(self.kill)
    }
}

/// Read side of SCRIPT KILL for a running script: the same flag as
/// [`WriteTxn::kill_requested`], one atomic load per poll.
#[derive(Clone, Copy)]
pub struct KillSignal<'t>(&'t AtomicBool);

impl KillSignal<'_> {
    /// Whether SCRIPT KILL asked the running script to stop.
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Commits between two flushes of the retired versions to the collector.
/// Under loom every commit flushes: the models then see retired versions
/// reclaimed while readers race with the writer (a flush only moves them to
/// the global queue sooner; it never decides when they are safe to free).
const FLUSH_EVERY: u64 = if cfg!(ferrous_loom) { 1 } else { 8 };

/// Hands a replaced root to the epoch collector: it is destroyed once every
/// reader pinned before the swap has unpinned — by the collecting thread, or
/// by the reaper thread if there is one and its queue has room.
fn retire<V: Send + 'static>(
    old: epoch::Shared<'_, V>,
    guard: &epoch::Guard,
    reaper: Option<&Reaper<V>>,
) {
    #[cfg(feature = "loom-broken-free-now")]
    // BROKEN: frees the old root under readers that loaded it before the swap.
    // SAFETY: none; this is the use-after-free the loom model must catch.
    unsafe {
        drop(old.into_owned());
    }
    #[cfg(feature = "loom-broken-leak-retired")]
    // BROKEN: the old root is never freed.
    let _ = old;
    #[cfg(not(any(feature = "loom-broken-free-now", feature = "loom-broken-leak-retired")))]
    match reaper {
        // SAFETY: `old` is no longer reachable from the root; readers that
        // loaded it before the swap are pinned, so the closure (which takes
        // ownership of it) runs only after they unpin, exactly as
        // `defer_destroy` would. It captures a pointer and a queue handle, both
        // fine to move to whichever thread runs the collection.
        Some(reaper) if reaper.enabled() && crate::hamt::take_copies() >= REAP_MIN_COPIES => unsafe {
            let grave = reaper.grave();
            guard.defer_unchecked(move || grave.bury(old.into_owned().into_box()))
        },
        // SAFETY: as above.
        _ => unsafe { guard.defer_destroy(old) },
    }
    #[cfg(any(feature = "loom-broken-free-now", feature = "loom-broken-leak-retired"))]
    let _ = (guard, reaper);
}

impl<V: Clone + Send + Sync + 'static> std::ops::Deref for WriteTxn<'_, V> {
    type Target = V;
    fn deref(&self) -> &V {
        &self.private
    }
}

impl<V: Clone + Send + Sync + 'static> std::ops::DerefMut for WriteTxn<'_, V> {
    fn deref_mut(&mut self) -> &mut V {
        #[cfg(feature = "loom-broken-publish-early")]
        self.publish_early();
        &mut self.private
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version that counts its destructions and the threads they ran on.
    #[derive(Clone)]
    struct Tracked {
        n: u32,
        log: std::sync::Arc<std::sync::Mutex<Vec<(u32, String)>>>,
    }
    impl Drop for Tracked {
        fn drop(&mut self) {
            let name = std::thread::current().name().unwrap_or("").to_string();
            if let Ok(mut log) = self.log.lock() {
                log.push((self.n, name));
            }
        }
    }

    #[test]
    fn heavy_retired_versions_die_on_the_reaper_and_light_ones_in_place() {
        // A trie deep enough that REAP_MIN_COPIES inserts into a copy
        // path-copy more than REAP_MIN_COPIES branch nodes.
        let base: crate::HashTrie<u64, u64> = (0..200_000u64).map(|i| (i, i)).collect();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let on = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let store = Store::with_reaper(
            Tracked {
                n: 0,
                log: log.clone(),
            },
            "reaper-t",
            on.clone(),
        );
        for i in 1..=40u32 {
            let mut tx = store.begin();
            tx.n = i;
            // The transaction that replaces version i-1 path-copies when i-1
            // is odd: so odd versions are heavy to free, even ones light.
            if (i - 1) % 2 == 1 {
                let mut t = base.clone();
                for j in 0..REAP_MIN_COPIES as u64 {
                    t.insert(1_000_000 * u64::from(i) + j, 0);
                }
            }
            tx.commit();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            // Pinning collects; flushing moves this thread's bag along.
            epoch::pin().flush();
            let reaped: Vec<u32> = log
                .lock()
                .unwrap()
                .iter()
                .filter(|(_, t)| t == "reaper-t")
                .map(|(n, _)| *n)
                .collect();
            if reaped.len() >= 20 || std::time::Instant::now() > deadline {
                let mut r = reaped.clone();
                r.sort();
                r.dedup();
                assert_eq!(
                    r,
                    (1..40).step_by(2).collect::<Vec<_>>(),
                    "reaped: {reaped:?}"
                );
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // Switched off: heavy versions are destroyed in place too.
        on.store(false, std::sync::atomic::Ordering::Relaxed);
        for i in 41..=60u32 {
            let mut tx = store.begin();
            tx.n = i;
            let mut t = base.clone();
            for j in 0..REAP_MIN_COPIES as u64 {
                t.insert(1_000_000 * u64::from(i) + j, 0);
            }
            tx.commit();
        }
        let freed = |log: &std::sync::Mutex<Vec<(u32, String)>>| {
            let log = log.lock().unwrap();
            log.iter().filter(|(n, _)| (40..60).contains(n)).count()
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while freed(&log) < 20 && std::time::Instant::now() < deadline {
            epoch::pin().flush();
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        // Time for a wrongly queued version to reach the reaper too.
        std::thread::sleep(std::time::Duration::from_millis(30));
        let log = log.lock().unwrap();
        assert!(
            log.iter().any(|(n, _)| (40..60).contains(n)),
            "nothing freed"
        );
        assert!(
            !log.iter()
                .any(|(n, t)| (40..60).contains(n) && t == "reaper-t"),
            "reaped while switched off"
        );
    }

    #[test]
    fn commit_publishes_and_abort_discards() {
        let store = Store::new(vec![1u32]);
        let mut tx = store.begin();
        tx.push(2);
        assert_eq!(store.snapshot(), vec![1]);
        tx.commit();
        assert_eq!(store.snapshot(), vec![1, 2]);
        let mut tx = store.begin();
        tx.push(3);
        tx.abort();
        assert_eq!(store.snapshot(), vec![1, 2]);
        assert_eq!(store.commits(), 1);
    }

    #[test]
    fn try_begin_fails_while_gil_held() {
        let store = Store::new(0u8);
        let tx = store.begin();
        assert!(store.try_begin().is_none());
        drop(tx);
        assert!(store.try_begin().is_some());
    }

    #[test]
    fn busy_decision_and_kill() {
        let store = Store::new(0u8);
        assert!(!store.request_kill(), "no script: NOTBUSY");
        let mut tx = store.begin();
        // A plain command holding the GIL never makes writers BUSY.
        assert_eq!(store.gil_wait(1_000_000, 5), GilWait::Wait);
        assert!(!store.request_kill());
        tx.script_started(100);
        assert!(matches!(store.begin_or_busy(104, 5), Err(GilWait::Wait)));
        assert!(matches!(store.begin_or_busy(105, 5), Err(GilWait::Busy)));
        assert!(!tx.kill_requested());
        assert!(store.request_kill());
        assert!(tx.kill_requested());
        tx.abort();
        // The mark went with the GIL; the next script starts unkilled.
        assert_eq!(store.gil_wait(1_000_000, 5), GilWait::Wait);
        let mut tx = store.begin_or_busy(200, 5).ok().unwrap();
        tx.script_started(200);
        assert!(!tx.kill_requested());
        *tx = 7;
        tx.commit();
        assert_eq!(store.snapshot(), 7);
        assert!(!store.request_kill());
    }

    #[test]
    fn script_finished_ends_the_mark_but_not_the_txn() {
        let store = Store::new(0u8);
        let mut tx = store.begin();
        let (v, mut slot) = tx.split();
        slot.script_started(10);
        let kill = slot.kill_signal();
        *v = 1;
        assert_eq!(store.gil_wait(20, 5), GilWait::Busy);
        assert!(store.request_kill());
        assert!(kill.requested() && slot.kill_requested());
        slot.script_finished();
        // The transaction still holds the GIL, but no script runs.
        assert_eq!(store.gil_wait(20, 5), GilWait::Wait);
        assert!(!store.request_kill());
        assert!(store.try_begin().is_none());
        *tx = 2;
        tx.commit();
        assert_eq!(store.snapshot(), 2);
    }

    #[test]
    fn concurrent_writers_do_not_lose_updates() {
        let store = std::sync::Arc::new(Store::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let s = store.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        let mut tx = s.begin();
                        *tx += 1;
                        tx.commit();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(store.snapshot(), 4000);
    }
}
