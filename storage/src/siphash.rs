//! SipHash with compile-time round counts, written from the SipHash paper
//! (Aumasson and Bernstein). The keyspace tries use SipHash-1-2 — what
//! Redis's own dictionaries use — with keys drawn once per process: keyed,
//! so clients cannot aim keys at one trie path, and cheaper than the
//! standard library's SipHash-1-3 (one finalization round fewer, no
//! generic buffering for the length prefix of a byte string).

use std::hash::{BuildHasher, Hasher};

/// A streaming SipHash-`C`-`D` state: `C` compression rounds per 8-byte
/// block, `D` finalization rounds. Writes may be split anywhere; the result
/// depends only on the concatenated bytes.
#[derive(Clone, Debug)]
pub struct SipHasher<const C: usize, const D: usize> {
    v: [u64; 4],
    /// Bytes of the block being filled, little-endian from the low byte.
    tail: u64,
    /// How many bytes `tail` holds (0..8).
    ntail: usize,
    /// Bytes written so far.
    len: usize,
}

impl<const C: usize, const D: usize> SipHasher<C, D> {
    /// A state keyed with the 128-bit key `k0`, `k1`.
    pub fn new_with_keys(k0: u64, k1: u64) -> Self {
        SipHasher {
            v: [
                k0 ^ 0x736f_6d65_7073_6575,
                k1 ^ 0x646f_7261_6e64_6f6d,
                k0 ^ 0x6c79_6765_6e65_7261,
                k1 ^ 0x7465_6462_7974_6573,
            ],
            tail: 0,
            ntail: 0,
            len: 0,
        }
    }

    #[inline(always)]
    fn round(&mut self) {
        let [mut v0, mut v1, mut v2, mut v3] = self.v;
        v0 = v0.wrapping_add(v1);
        v1 = v1.rotate_left(13) ^ v0;
        v0 = v0.rotate_left(32);
        v2 = v2.wrapping_add(v3);
        v3 = v3.rotate_left(16) ^ v2;
        v0 = v0.wrapping_add(v3);
        v3 = v3.rotate_left(21) ^ v0;
        v2 = v2.wrapping_add(v1);
        v1 = v1.rotate_left(17) ^ v2;
        v2 = v2.rotate_left(32);
        self.v = [v0, v1, v2, v3];
    }

    #[inline(always)]
    fn compress(&mut self, m: u64) {
        self.v[3] ^= m;
        for _ in 0..C {
            self.round();
        }
        self.v[0] ^= m;
    }
}

/// Up to 8 bytes as a little-endian integer.
#[inline(always)]
fn load_le(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(b)
}

impl<const C: usize, const D: usize> Hasher for SipHasher<C, D> {
    #[inline]
    fn write(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len();
        if self.ntail != 0 {
            let take = (8 - self.ntail).min(bytes.len());
            self.tail |= load_le(&bytes[..take]) << (8 * self.ntail);
            self.ntail += take;
            bytes = &bytes[take..];
            if self.ntail < 8 {
                return;
            }
            let m = self.tail;
            self.compress(m);
            self.tail = 0;
            self.ntail = 0;
        }
        let mut blocks = bytes.chunks_exact(8);
        for b in &mut blocks {
            let mut w = [0u8; 8];
            w.copy_from_slice(b);
            self.compress(u64::from_le_bytes(w));
        }
        let rest = blocks.remainder();
        self.tail = load_le(rest);
        self.ntail = rest.len();
    }

    /// A byte string's length prefix: one whole block when the state is
    /// block-aligned (always, for a single key).
    #[inline]
    fn write_usize(&mut self, n: usize) {
        if self.ntail == 0 {
            self.len += 8;
            self.compress(n as u64);
        } else {
            self.write(&(n as u64).to_le_bytes());
        }
    }

    #[inline]
    fn finish(&self) -> u64 {
        let mut s = self.clone();
        let b = ((self.len as u64 & 0xff) << 56) | self.tail;
        s.compress(b);
        s.v[2] ^= 0xff;
        for _ in 0..D {
            s.round();
        }
        s.v[0] ^ s.v[1] ^ s.v[2] ^ s.v[3]
    }
}

/// Builds SipHash-1-2 states with one fixed key.
#[derive(Clone, Copy, Debug)]
pub struct Sip12Keys {
    k0: u64,
    k1: u64,
}

impl Sip12Keys {
    /// Keys drawn from the standard library's per-process random state.
    pub fn random() -> Self {
        let rs = std::collections::hash_map::RandomState::new();
        Sip12Keys {
            k0: rs.hash_one(0x5eed_0000_u64),
            k1: rs.hash_one(0x5eed_0001_u64),
        }
    }
}

impl BuildHasher for Sip12Keys {
    type Hasher = SipHasher<1, 2>;
    #[inline]
    fn build_hasher(&self) -> Self::Hasher {
        SipHasher::new_with_keys(self.k0, self.k1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The paper's test vector (appendix A): SipHash-2-4, key 00..0f,
    /// message 00..0e.
    #[test]
    fn paper_vector() {
        let k0 = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        let k1 = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]);
        let msg: Vec<u8> = (0u8..15).collect();
        let mut h = SipHasher::<2, 4>::new_with_keys(k0, k1);
        h.write(&msg);
        assert_eq!(h.finish(), 0xa129_ca61_49be_45e5);
    }

    /// SipHash-2-4 equals the standard library's (deprecated, but still
    /// SipHash-2-4) `SipHasher` for any bytes, however the writes are split,
    /// and with length prefixes written as `write_usize`.
    #[test]
    #[allow(deprecated)]
    fn matches_std_siphash24_for_any_split() {
        let mut seed = 0x1234_5678_9abc_def0_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            let (k0, k1) = (next(), next());
            let len = (next() % 40) as usize;
            let msg: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let mut ours = SipHasher::<2, 4>::new_with_keys(k0, k1);
            let mut theirs = std::hash::SipHasher::new_with_keys(k0, k1);
            let prefix = next() % 2 == 0;
            if prefix {
                ours.write_usize(len);
                theirs.write_usize(len);
            }
            let mut rest = &msg[..];
            while !rest.is_empty() {
                let n = 1 + (next() as usize % rest.len());
                ours.write(&rest[..n]);
                theirs.write(&rest[..n]);
                rest = &rest[n..];
            }
            // A prefix after unaligned bytes takes the general path.
            if !prefix && !len.is_multiple_of(8) {
                ours.write_usize(len);
                theirs.write_usize(len);
            }
            assert_eq!(ours.finish(), theirs.finish(), "len {len}");
        }
    }

    /// One key, one value; another key, another value (SipHash-1-2 as used).
    #[test]
    fn keyed() {
        let a = Sip12Keys { k0: 1, k1: 2 };
        let b = Sip12Keys { k0: 3, k1: 2 };
        assert_eq!(a.hash_one(b"key"), a.hash_one(b"key"));
        assert_ne!(a.hash_one(b"key"), b.hash_one(b"key"));
        assert_ne!(a.hash_one(b"key"), a.hash_one(b"kez"));
    }
}
