//! loom models of the lock/commit protocol in `ferrous_storage::mvcc`.
//!
//! The models live in `tests/` and only build with `--cfg ferrous_loom`
//! (see the README); the loom issue fills them in.
