//! loom models of the lock/commit protocol in `ferrous_storage::mvcc`.
//!
//! The models are in `tests/protocol.rs` and only build with
//! `--cfg ferrous_loom --cfg crossbeam_loom` (run `loom-tests/run.sh`, see the
//! README). This library holds what they share: [`check`], which runs a model
//! and reports how many interleavings loom explored and how long it took, and
//! [`Tracked`], a value that detects use after free and leaks.

#[cfg(ferrous_loom)]
mod support;
#[cfg(ferrous_loom)]
pub use support::*;
