//! The libraries Redis bundles into its Lua VM, written in Rust with the
//! same observable behaviour.

pub mod bit;
pub mod cjson;
pub mod msgpack;
pub mod structlib;
