//! The synchronisation primitives the commit protocol is written against.
//!
//! Normally these are `std`'s; built with `--cfg ferrous_loom` they are loom's,
//! so `loom-tests` model-checks the real protocol code in [`crate::mvcc`].

#[cfg(ferrous_loom)]
pub use loom::sync::{
    atomic::{AtomicBool, AtomicU64, Ordering},
    Arc, Mutex, MutexGuard,
};

#[cfg(not(ferrous_loom))]
pub use std::sync::{
    atomic::{AtomicBool, AtomicU64, Ordering},
    Arc, Mutex, MutexGuard,
};
