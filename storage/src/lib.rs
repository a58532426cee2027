//! `ferrous-storage`: the MVCC keyspace of Ferrous.
//!
//! The whole keyspace is a persistent value ([`Version`]). Readers take a
//! snapshot of the committed root without any lock; every writer goes through
//! the GIL ([`mvcc::Store::begin`]), mutates a private clone, and either
//! commits it with one atomic swap or drops it. See `docs/architecture.md`.

pub mod hamt;
pub mod hash;
pub mod hll;
pub mod list;
pub mod mvcc;
pub mod noderef;
pub mod ostree;
pub mod reaper;
pub mod set;
pub mod siphash;
pub mod smallbytes;
pub mod stream;
pub mod sync;
pub mod value;
pub mod version;
pub mod zset;

pub use hamt::HashTrie;
pub use mvcc::{GilWait, KillSignal, ScriptSlot, Store, WriteTxn};
pub use smallbytes::SmallBytes;
pub use value::{Entry, Value};
pub use version::{Db, KeyEvent, Replaced, Version, WriteLog};

/// Milliseconds since the Unix epoch, the unit of every expiry time.
pub type Millis = u64;
