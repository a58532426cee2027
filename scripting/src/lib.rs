//! Lua scripting for Ferrous (EVAL, EVALSHA, SCRIPT).
//!
//! One Lua 5.1 VM per [`Engine`] (the server keeps a small pool, guarded by
//! its own locks: write scripts run under the GIL), a sandbox that makes
//! every global read-only, the `redis.*` API, the libraries Redis bundles
//! (`cjson`, `cmsgpack`, `bit`, `struct`, written in Rust), and conversions
//! between replies and Lua values. The crate reaches commands only through
//! the [`Host`] trait, so it never depends on the server crate.
//!
//! Lua itself is built by `build.rs` from the `lua-src` sources with
//! security patches applied (see there).

mod api;
mod convert;
mod engine;
mod libs;
mod reply;

pub use convert::{fmt_g, fmt_g17};
pub use engine::{Control, Engine, FunctionDef, Host, Outcome, RunOpts};
pub use reply::Reply;

/// Which security patches the bundled Lua was built with.
pub const LUA_PATCHES: &str = env!("FERROUS_LUA_PATCHED");

/// Lower-case hex SHA1 of `data` (script ids, `redis.sha1hex`).
pub fn sha1_hex(data: &[u8]) -> String {
    use sha1::Digest;
    let d = sha1::Sha1::digest(data);
    let mut s = String::with_capacity(40);
    for b in d.iter() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}
