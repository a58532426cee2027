//! Lua scripting for Ferrous (EVAL, EVALSHA, FUNCTION).
//!
//! This crate is a skeleton until the scripting issue lands: it will hold the
//! Lua 5.1 VM (mlua, vendored), the SHA1 script cache, the sandbox, the
//! Lua <-> reply conversions and the `redis.*` API. It reaches commands only
//! through a small host trait that the server implements, so it never depends
//! on the server crate.
