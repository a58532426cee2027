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

/// A script id as a map key: 40 hex digits, lower case.
pub type ShaKey = [u8; 40];

/// `sha` lower-cased into a [`ShaKey`], or None when it is not 40 bytes
/// long (no script has such an id).
pub fn sha_key(sha: &[u8]) -> Option<ShaKey> {
    let mut k = [0u8; 40];
    if sha.len() != k.len() {
        return None;
    }
    for (d, s) in k.iter_mut().zip(sha) {
        *d = s.to_ascii_lowercase();
    }
    Some(k)
}

/// Hasher for [`ShaKey`] maps: the keys are SHA1 digests (every inserted
/// key is the digest of a script body, so nobody picks them), already
/// uniform, so 16 of their bytes mixed once make a good hash; SipHash over
/// all 40 bytes costs more than the rest of the lookup.
#[derive(Default, Clone, Copy)]
pub struct ShaHasher(u64);

impl std::hash::Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let word = |i: usize| {
            let mut w = [0u8; 8];
            let part = bytes.get(i..).unwrap_or_default();
            let n = part.len().min(8);
            w[..n].copy_from_slice(&part[..n]);
            u64::from_le_bytes(w)
        };
        let h = (self.0.rotate_left(23) ^ word(0) ^ word(8).rotate_left(32))
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 29);
    }
    // Arrays hash their length first: nothing to mix.
    fn write_usize(&mut self, _: usize) {}
}

/// A map keyed by script id.
pub type ShaMap<V> = std::collections::HashMap<ShaKey, V, std::hash::BuildHasherDefault<ShaHasher>>;
