//! `NodeRef`: the reference-counted pointer that links [`crate::HashTrie`] nodes,
//! with two ways of changing the count.
//!
//! * [`Atomic`]: locked read-modify-write instructions, as `Arc` does; any
//!   thread may clone or drop at any time. Collections inside values use it.
//! * [`Locked`]: plain loads and stores, made only while the thread holds the
//!   process-wide count lock ([`Locked::enter`]). The keyspace uses it. A write
//!   at 1M keys path-copies 4–5 nodes; each copy increments the counts of up to
//!   32 children and destroying the version it replaced decrements them again.
//!   As locked instructions those ~200 operations each wait for their (mostly
//!   cold) cache line in turn; plain ones overlap. Measured on the engine's
//!   write path, same process, alternated: 1M keys 4.35 → 2.99 µs per write,
//!   100k 2.97 → 1.53 µs (docs/performance.md, session 15).
//!
//! Why one lock is enough and cheap: every count change of a `Locked` trie
//! happens inside a [`HashTrie`](crate::HashTrie) method that enters the lock
//! for its whole run (insert, remove, mutable lookup, clone, drop), so the
//! changes are totally ordered by the mutex. Readers walk nodes without
//! touching counts (a node they reach is kept alive by the version they hold,
//! exactly as with `Arc`). Entering is one locked instruction (a spin lock,
//! re-entrant on the same thread through a thread-local depth; leaving is a
//! plain store). The lock is contended only when another thread drops the
//! last handle of an old version (a reader's snapshot, the epoch collector,
//! the reaper) while a writer is inside a trie method; a trie's drop frees
//! its nodes in chunks of a few thousand per hold, so even dropping a whole
//! keyspace (FLUSHALL) keeps writers waiting for one chunk at most.

use std::cell::Cell;
use std::marker::PhantomData;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};

/// How a [`NodeRef`]'s count changes (see the module doc).
pub trait Counting: Sized + Clone + Send + Sync + 'static {
    /// Held while counts may change; [`Counting::enter`] makes one.
    type Guard;
    /// Makes count changes allowed on this thread until the guard drops.
    fn enter() -> Self::Guard;
    /// Adds one to `c`.
    fn inc(c: &AtomicUsize);
    /// Takes one from `c`; true when it was the last (the node may be freed:
    /// every other holder's use of it happens before).
    fn dec(c: &AtomicUsize) -> bool;
    /// Whether `c` says the holder is the only one (its node may be changed
    /// in place: every other former holder's use of it happens before).
    fn unique(c: &AtomicUsize) -> bool;
}

/// Counts changed by locked instructions, from any thread (as `Arc`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Atomic;

impl Counting for Atomic {
    type Guard = ();
    #[inline]
    fn enter() {}
    #[inline]
    fn inc(c: &AtomicUsize) {
        // As `Arc::clone`: a new handle is made from an existing one, which
        // keeps the node alive, so no ordering is needed.
        c.fetch_add(1, Ordering::Relaxed);
    }
    #[inline]
    fn dec(c: &AtomicUsize) -> bool {
        if c.fetch_sub(1, Ordering::Release) != 1 {
            return false;
        }
        fence(Ordering::Acquire);
        true
    }
    #[inline]
    fn unique(c: &AtomicUsize) -> bool {
        c.load(Ordering::Acquire) == 1
    }
}

/// Counts changed by plain loads and stores under the process-wide count lock.
#[derive(Clone, Copy, Debug, Default)]
pub struct Locked;

/// The count lock: a spin lock, taken with one locked instruction and released
/// with a plain store (a futex mutex costs a second locked instruction to
/// release, on every trie operation of every write). Holds are short: one trie
/// method, or one chunk of [`crate::HashTrie`]'s drop.
static COUNT_LOCK: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// How many [`LockedGuard`]s this thread holds (the lock is held when > 0).
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Holds the count lock (the outermost guard of a thread unlocks on drop) or
/// only adds to the thread's depth (nested ones). Not `Send`: it must drop on
/// its thread.
pub struct LockedGuard {
    outermost: bool,
    _not_send: PhantomData<*const ()>,
}

impl Drop for LockedGuard {
    #[inline]
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get() - 1));
        if self.outermost {
            COUNT_LOCK.store(false, Ordering::Release);
        }
    }
}

impl Locked {
    /// Whether this thread holds the count lock.
    #[inline]
    pub fn held() -> bool {
        DEPTH.with(|d| d.get() > 0)
    }

    #[cold]
    fn lock_contended() {
        let mut spins = 0u32;
        loop {
            // Wait with plain loads (no cache-line ping-pong), then try again.
            while COUNT_LOCK.load(Ordering::Relaxed) {
                if spins < 64 {
                    std::hint::spin_loop();
                    spins += 1;
                } else {
                    // The holder may be descheduled (2 cores, many threads).
                    std::thread::yield_now();
                }
            }
            if !COUNT_LOCK.swap(true, Ordering::Acquire) {
                return;
            }
        }
    }
}

impl Counting for Locked {
    type Guard = LockedGuard;
    #[inline]
    fn enter() -> LockedGuard {
        let depth = DEPTH.with(|d| d.get());
        let outermost = depth == 0;
        if outermost && COUNT_LOCK.swap(true, Ordering::Acquire) {
            Locked::lock_contended();
        }
        DEPTH.with(|d| d.set(depth + 1));
        LockedGuard {
            outermost,
            _not_send: PhantomData,
        }
    }
    #[inline]
    fn inc(c: &AtomicUsize) {
        debug_assert!(
            Locked::held(),
            "a Locked count changed outside the count lock"
        );
        c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }
    #[inline]
    fn dec(c: &AtomicUsize) -> bool {
        debug_assert!(
            Locked::held(),
            "a Locked count changed outside the count lock"
        );
        let n = c.load(Ordering::Relaxed);
        c.store(n - 1, Ordering::Relaxed);
        n == 1
    }
    #[inline]
    fn unique(c: &AtomicUsize) -> bool {
        debug_assert!(Locked::held(), "a Locked count read outside the count lock");
        c.load(Ordering::Relaxed) == 1
    }
}

struct Inner<T> {
    count: AtomicUsize,
    value: T,
}

/// A counted pointer to an immutable-while-shared `T` (a trie node).
pub struct NodeRef<T, C: Counting> {
    ptr: NonNull<Inner<T>>,
    _owns: PhantomData<Inner<T>>,
    _mode: PhantomData<C>,
}

// SAFETY: as `Arc<T>`: the value is shared (needs `Sync`) and may be dropped on
// any thread (needs `Send`). Count changes are atomic (`Atomic`) or serialized
// by the count lock (`Locked`, see the module doc).
unsafe impl<T: Send + Sync, C: Counting> Send for NodeRef<T, C> {}
unsafe impl<T: Send + Sync, C: Counting> Sync for NodeRef<T, C> {}

impl<T, C: Counting> NodeRef<T, C> {
    /// A new node with a count of one.
    #[inline]
    pub fn new(value: T) -> Self {
        let b = Box::new(Inner {
            count: AtomicUsize::new(1),
            value,
        });
        NodeRef {
            // SAFETY: `Box::into_raw` is never null.
            ptr: unsafe { NonNull::new_unchecked(Box::into_raw(b)) },
            _owns: PhantomData,
            _mode: PhantomData,
        }
    }

    #[inline]
    fn inner(&self) -> &Inner<T> {
        // SAFETY: the node lives while any handle (this one) does.
        unsafe { self.ptr.as_ref() }
    }

    /// The current count (a hint for `Atomic`; used to touch the count's cache line).
    #[inline]
    pub fn count(this: &Self) -> usize {
        this.inner().count.load(Ordering::Relaxed)
    }

    /// Whether both point at the same node.
    #[inline]
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        a.ptr == b.ptr
    }

    /// The node for changing in place, if this is its only handle.
    #[inline]
    pub fn get_mut(this: &mut Self) -> Option<&mut T> {
        if C::unique(&this.inner().count) {
            // SAFETY: the only handle, borrowed mutably: nobody else can reach
            // the node, and every earlier holder's use happened before.
            Some(unsafe { &mut (*this.ptr.as_ptr()).value })
        } else {
            None
        }
    }

    /// The node for changing in place, copied first if it is shared.
    #[inline]
    pub fn make_mut(this: &mut Self) -> &mut T
    where
        T: Clone,
    {
        if !C::unique(&this.inner().count) {
            *this = NodeRef::new(this.inner().value.clone());
        }
        // SAFETY: as in `get_mut`: unique now.
        unsafe { &mut (*this.ptr.as_ptr()).value }
    }
}

impl<T, C: Counting> NodeRef<T, C> {
    /// Gives up this handle; when it was the last one, the node itself
    /// (its storage freed, its contents moved out, not dropped).
    #[inline]
    pub fn into_last(this: Self) -> Option<T> {
        let this = std::mem::ManuallyDrop::new(this);
        if C::dec(&this.inner().count) {
            // SAFETY: the last handle (no other can reach the node any more);
            // the node came from `Box::into_raw`, and `this` is never dropped.
            let inner = unsafe { Box::from_raw(this.ptr.as_ptr()) };
            Some(inner.value)
        } else {
            None
        }
    }
}

impl<T: Clone, C: Counting> NodeRef<T, C> {
    /// The node itself: moved out when this was its only handle, else a copy.
    #[inline]
    pub fn unwrap_or_clone(mut this: Self) -> T {
        NodeRef::make_mut(&mut this);
        NodeRef::into_last(this).expect("unique after make_mut")
    }
}

impl<T, C: Counting> Clone for NodeRef<T, C> {
    #[inline]
    fn clone(&self) -> Self {
        C::inc(&self.inner().count);
        NodeRef {
            ptr: self.ptr,
            _owns: PhantomData,
            _mode: PhantomData,
        }
    }
}

impl<T, C: Counting> Drop for NodeRef<T, C> {
    #[inline]
    fn drop(&mut self) {
        if C::dec(&self.inner().count) {
            // SAFETY: the last handle; the node came from `Box::into_raw`.
            unsafe { drop(Box::from_raw(self.ptr.as_ptr())) };
        }
    }
}

impl<T: std::fmt::Debug, C: Counting> std::fmt::Debug for NodeRef<T, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

impl<T, C: Counting> Deref for NodeRef<T, C> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.inner().value
    }
}

// ---- path-copy helpers shared by the structures built on `NodeRef` ----

/// Reads the count of every node in `links` before a path copy increments
/// them. The nodes live in other cache lines, usually cold; plain loads
/// overlap their misses, whereas the increments (locked ones in the `Atomic`
/// mode) would take them one after another.
#[inline]
pub(crate) fn touch_counts<'a, T: 'a, C: Counting>(
    links: impl IntoIterator<Item = &'a NodeRef<T, C>>,
) {
    let mut sum = 0usize;
    for l in links {
        sum = sum.wrapping_add(NodeRef::count(l));
    }
    std::hint::black_box(sum);
}

/// Asks for the cache lines of a copy's source and of its freshly allocated
/// destination before the copy starts. Both are usually cold (a node of a
/// large structure; a block the allocator last saw when an older version was
/// freed), and the element-by-element copy would otherwise take their misses
/// in turn, stalling on the destination's stores. Measured at 1M keys, same
/// process, alternated: 3.16 → 2.80 µs per write, 2.86 → 2.56 µs at 16 writes
/// per publish (destination alone: 3.25 → 2.93).
#[inline]
pub(crate) fn prefetch_copy<T>(dst: *const T, src: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let bytes = std::mem::size_of_val(src);
        let (d, s) = (dst as *const i8, src.as_ptr() as *const i8);
        let mut off = 0;
        while off < bytes {
            // SAFETY: a prefetch never faults and has no effect on memory;
            // `wrapping_add` keeps the address arithmetic defined.
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(d.wrapping_add(off));
                _mm_prefetch::<_MM_HINT_T0>(s.wrapping_add(off));
            }
            off += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (dst, src);
}

/// A copy of a node's array (entries, items, children), prefetched first
/// ([`prefetch_copy`]): the bulk of a path copy's bytes.
#[inline]
pub(crate) fn prefetched_clone<T: Clone>(src: &[T]) -> Vec<T> {
    let mut v = Vec::with_capacity(src.len());
    prefetch_copy(v.as_ptr(), src);
    v.extend_from_slice(src);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_clones_and_drops_in_both_modes() {
        fn check<C: Counting>() {
            let _g = C::enter();
            let mut a: NodeRef<Vec<u8>, C> = NodeRef::new(vec![1]);
            assert_eq!(NodeRef::count(&a), 1);
            let b = a.clone();
            assert_eq!(NodeRef::count(&a), 2);
            assert!(NodeRef::get_mut(&mut a).is_none());
            // Shared: make_mut copies, the original stays as it was.
            NodeRef::make_mut(&mut a).push(2);
            assert_eq!((&*a, &*b), (&vec![1, 2], &vec![1]));
            assert!(!NodeRef::ptr_eq(&a, &b));
            assert_eq!((NodeRef::count(&a), NodeRef::count(&b)), (1, 1));
            // Unique: changed in place.
            let p = a.ptr;
            NodeRef::make_mut(&mut a).push(3);
            assert_eq!(a.ptr, p);
            NodeRef::get_mut(&mut a).unwrap().push(4);
            assert_eq!(*a, vec![1, 2, 3, 4]);
        }
        check::<Atomic>();
        check::<Locked>();
    }

    #[test]
    fn the_count_lock_nests_and_is_released() {
        assert!(!Locked::held());
        {
            let _a = Locked::enter();
            let _b = Locked::enter();
            assert!(Locked::held());
        }
        assert!(!Locked::held());
        // Released: another thread can take it.
        std::thread::spawn(|| drop(Locked::enter())).join().unwrap();
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "outside the count lock")]
    fn a_locked_count_change_outside_the_lock_is_caught() {
        // Never dropped: its drop outside the lock would panic while unwinding.
        let a = std::mem::ManuallyDrop::new(NodeRef::<u8, Locked>::new(1));
        let _b = NodeRef::clone(&a);
    }
}
