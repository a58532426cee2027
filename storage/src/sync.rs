//! The synchronisation primitives the commit protocol is written against.
//!
//! Normally these are `std`'s; built with `--cfg ferrous_loom` they are loom's,
//! so `loom-tests` model-checks the real protocol code in [`crate::mvcc`].
//!
//! Under loom the mutex is a small lock over a loom `AtomicBool` rather than
//! `loom::sync::Mutex`: loom 0.7 blocks a thread whose `try_lock` is under way
//! when another thread acquires the mutex, so a writer that must never block
//! (`Store::try_begin`) would appear to. Its API is the subset of std's that
//! `mvcc` uses, with the same `LockResult`/`TryLockError` types.

#[cfg(ferrous_loom)]
pub use loom::sync::{
    atomic::{AtomicBool, AtomicU64, Ordering},
    Arc,
};

#[cfg(ferrous_loom)]
pub use loom_mutex::{Mutex, MutexGuard};

#[cfg(not(ferrous_loom))]
pub use std::sync::{
    atomic::{AtomicBool, AtomicU64, Ordering},
    Arc, Mutex, MutexGuard,
};

#[cfg(ferrous_loom)]
mod loom_mutex {
    use loom::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{LockResult, TryLockError, TryLockResult};

    /// A mutex whose `try_lock` is one compare-and-swap; `lock` retries it,
    /// yielding to loom's scheduler between attempts.
    pub struct Mutex<T> {
        locked: AtomicBool,
        data: loom::cell::UnsafeCell<T>,
    }

    // SAFETY: access to `data` is serialised by `locked` (acquire on lock,
    // release on unlock), as for std's mutex.
    unsafe impl<T: Send> Send for Mutex<T> {}
    unsafe impl<T: Send> Sync for Mutex<T> {}

    /// Holds the lock; releases it on drop.
    pub struct MutexGuard<'a, T> {
        lock: &'a Mutex<T>,
    }

    impl<T> Mutex<T> {
        /// An unlocked mutex.
        pub fn new(data: T) -> Self {
            Mutex {
                locked: AtomicBool::new(false),
                data: loom::cell::UnsafeCell::new(data),
            }
        }

        /// Waits for the lock (never poisoned).
        pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
            loop {
                if let Ok(g) = self.try_lock() {
                    return Ok(g);
                }
                loom::thread::yield_now();
            }
        }

        /// Takes the lock if it is free.
        pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
            match self
                .locked
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => Ok(MutexGuard { lock: self }),
                Err(_) => Err(TryLockError::WouldBlock),
            }
        }
    }

    impl<T> Drop for MutexGuard<'_, T> {
        fn drop(&mut self) {
            self.lock.locked.store(false, Ordering::Release);
        }
    }

    impl<T> std::ops::Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            // SAFETY: the guard holds the lock.
            self.lock.data.with(|p| unsafe { &*p })
        }
    }
}
