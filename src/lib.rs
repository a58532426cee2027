//! Ferrous: a Redis-compatible server on an MVCC storage engine.
//!
//! The binary (`src/main.rs`) parses the command line into a [`config::Config`]
//! and calls [`server::start`]; tests start the same server in-process.

pub mod blocking;
pub mod busy_poll;
pub mod client;
pub mod clock;
pub mod cmdstats;
pub mod commands;
pub mod config;
pub mod connection;
pub mod errors;
pub mod exec;
pub mod glob;
pub mod info;
pub mod multi;
pub mod notify;
pub mod pubsub;
pub mod reply;
pub mod resp;
pub mod script_host;
pub mod server;
pub mod tracking;

/// The Redis version Ferrous is compatible with, reported to clients.
pub const REDIS_VERSION: &str = "7.0.15";
/// Ferrous's own version.
pub const FERROUS_VERSION: &str = env!("CARGO_PKG_VERSION");
