//! `SmallBytes`: an immutable, cheaply clonable byte string of exactly 24 bytes.
//!
//! Short contents (up to [`INLINE_CAP`] bytes) live inline, so copying one touches no other
//! cache line and no refcount; this matters because every path copy in the persistent map
//! clones the entries of the copied node. Longer contents sit behind a single `Arc<[u8]>`.
//!
//! Equality, ordering and hashing are exactly those of `[u8]`, so a map keyed by `SmallBytes`
//! can be queried with a plain `&[u8]` through `Borrow`.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// Longest content stored inline (without any heap allocation).
pub const INLINE_CAP: usize = 22;

enum Repr {
    // 1 tag byte + 1 length byte + 22 data bytes = 24: the largest inline buffer a tagged
    // enum can hold while staying the size of the `Arc<[u8]>` variant plus its tag.
    Inline { len: u8, buf: [u8; INLINE_CAP] },
    Heap(Arc<[u8]>),
}

impl Clone for Repr {
    /// An inline string is copied as one 24-byte block. The derived clone
    /// copied it field by field through the stack, in stores of odd sizes
    /// and offsets that the next 16-byte load had to wait for (store
    /// forwarding fails): half of a trie node copy's samples in one profile
    /// (docs/performance.md, session 17).
    #[inline]
    fn clone(&self) -> Self {
        match self {
            // SAFETY: the inline variant is plain bytes (a tag, a length and
            // an array, no padding) and owns nothing, so a bitwise copy is a
            // valid value independent of the original.
            Repr::Inline { .. } => unsafe { std::ptr::read(self) },
            Repr::Heap(a) => Repr::Heap(Arc::clone(a)),
        }
    }
}

/// An immutable byte string, 24 bytes in size, with small-string optimisation.
///
/// Contents of up to [`INLINE_CAP`] (22) bytes are stored inline; longer ones are stored in
/// one shared `Arc<[u8]>`, so `clone` is at worst one refcount increment.
#[derive(Clone)]
pub struct SmallBytes(Repr);

const _: () = assert!(std::mem::size_of::<SmallBytes>() == 24);

impl SmallBytes {
    /// The empty byte string (inline, no allocation).
    pub const fn new() -> Self {
        SmallBytes(Repr::Inline {
            len: 0,
            buf: [0; INLINE_CAP],
        })
    }

    /// Number of bytes.
    #[inline]
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Inline { len, .. } => *len as usize,
            Repr::Heap(a) => a.len(),
        }
    }

    /// True when the string has no bytes.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when the contents are stored inline (no heap allocation).
    #[inline]
    pub fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline { .. })
    }

    /// The contents as a slice.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf } => &buf[..*len as usize],
            Repr::Heap(a) => a,
        }
    }

    /// Bytes this value owns on the heap: 0 when inline, otherwise the `Arc` allocation
    /// (two counters plus the data). The allocation is shared between clones, so summing
    /// this over clones over-counts.
    pub fn heap_size(&self) -> usize {
        match &self.0 {
            Repr::Inline { .. } => 0,
            Repr::Heap(a) => 2 * std::mem::size_of::<usize>() + a.len(),
        }
    }

    #[inline]
    fn inline(s: &[u8]) -> Self {
        debug_assert!(s.len() <= INLINE_CAP);
        let mut buf = [0u8; INLINE_CAP];
        buf[..s.len()].copy_from_slice(s);
        SmallBytes(Repr::Inline {
            len: s.len() as u8,
            buf,
        })
    }
}

impl Default for SmallBytes {
    fn default() -> Self {
        Self::new()
    }
}

impl From<&[u8]> for SmallBytes {
    #[inline]
    fn from(s: &[u8]) -> Self {
        if s.len() <= INLINE_CAP {
            Self::inline(s)
        } else {
            SmallBytes(Repr::Heap(Arc::from(s)))
        }
    }
}

impl<const N: usize> From<&[u8; N]> for SmallBytes {
    fn from(s: &[u8; N]) -> Self {
        Self::from(&s[..])
    }
}

impl From<Vec<u8>> for SmallBytes {
    fn from(v: Vec<u8>) -> Self {
        if v.len() <= INLINE_CAP {
            Self::inline(&v)
        } else {
            SmallBytes(Repr::Heap(Arc::from(v)))
        }
    }
}

impl From<&str> for SmallBytes {
    fn from(s: &str) -> Self {
        Self::from(s.as_bytes())
    }
}

impl From<String> for SmallBytes {
    fn from(s: String) -> Self {
        Self::from(s.into_bytes())
    }
}

impl From<Arc<[u8]>> for SmallBytes {
    /// Keeps an existing `Arc` as is, unless the contents are short enough to inline.
    fn from(a: Arc<[u8]>) -> Self {
        if a.len() <= INLINE_CAP {
            Self::inline(&a)
        } else {
            SmallBytes(Repr::Heap(a))
        }
    }
}

impl Deref for SmallBytes {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for SmallBytes {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Borrow<[u8]> for SmallBytes {
    #[inline]
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for SmallBytes {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for SmallBytes {}

impl PartialEq<[u8]> for SmallBytes {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_slice() == other
    }
}

impl PartialEq<&[u8]> for SmallBytes {
    fn eq(&self, other: &&[u8]) -> bool {
        self.as_slice() == *other
    }
}

impl PartialOrd for SmallBytes {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SmallBytes {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl Hash for SmallBytes {
    // Must hash exactly like `[u8]` (length prefix + bytes) so `Borrow<[u8]>` lookups agree.
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state)
    }
}

impl fmt::Debug for SmallBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("b\"")?;
        for &b in self.as_slice() {
            for c in std::ascii::escape_default(b) {
                fmt::Write::write_char(f, c as char)?;
            }
        }
        f.write_str("\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::RandomState;
    use std::hash::BuildHasher;

    fn bytes(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 37 + 11) as u8).collect()
    }

    #[test]
    fn size_is_24() {
        assert_eq!(std::mem::size_of::<SmallBytes>(), 24);
        assert_eq!(std::mem::size_of::<Option<SmallBytes>>(), 24);
    }

    #[test]
    fn boundary_lengths() {
        for n in [0, 1, 21, 22, 23, 24, 100] {
            let v = bytes(n);
            for s in [
                SmallBytes::from(&v[..]),
                SmallBytes::from(v.clone()),
                SmallBytes::from(Arc::<[u8]>::from(&v[..])),
            ] {
                assert_eq!(s.len(), n);
                assert_eq!(s.is_empty(), n == 0);
                assert_eq!(s.as_slice(), &v[..]);
                assert_eq!(&*s, &v[..]);
                assert_eq!(s.is_inline(), n <= INLINE_CAP, "len {n}");
                assert_eq!(s.heap_size() == 0, n <= INLINE_CAP);
                let c = s.clone();
                assert_eq!(c, s);
                assert_eq!(c.as_slice(), &v[..]);
            }
        }
        assert!(SmallBytes::from(&bytes(22)[..]).is_inline());
        assert!(!SmallBytes::from(&bytes(23)[..]).is_inline());
        assert_eq!(SmallBytes::from(&bytes(24)[..]).heap_size(), 24 + 16);
    }

    #[test]
    fn binary_bytes() {
        for v in [
            vec![0u8; 5],
            vec![0xFF; 22],
            vec![0xFF; 23],
            vec![0, 0xFF, 0, 0xFF],
            vec![],
        ] {
            let s = SmallBytes::from(&v[..]);
            assert_eq!(s.as_slice(), &v[..]);
        }
        // Trailing zero bytes are content, not padding.
        assert_ne!(
            SmallBytes::from(&[1u8, 0][..]),
            SmallBytes::from(&[1u8][..])
        );
        assert_ne!(SmallBytes::from(&[0u8][..]), SmallBytes::new());
    }

    #[test]
    fn from_str_and_string() {
        assert_eq!(SmallBytes::from("hello").as_slice(), b"hello");
        let long = "x".repeat(40);
        assert_eq!(SmallBytes::from(long.clone()).as_slice(), long.as_bytes());
        assert_eq!(SmallBytes::from(b"abc"), SmallBytes::from("abc"));
    }

    #[test]
    fn hash_matches_slice() {
        let rs = RandomState::new();
        for n in [0, 3, 22, 23, 64] {
            let v = bytes(n);
            let s = SmallBytes::from(&v[..]);
            assert_eq!(rs.hash_one(&s), rs.hash_one(&v[..]));
            let b: &[u8] = s.borrow();
            assert_eq!(rs.hash_one(b), rs.hash_one(&v[..]));
        }
    }

    #[test]
    fn ordering_matches_slice() {
        let vals: Vec<Vec<u8>> = vec![
            vec![],
            vec![0],
            vec![0, 0],
            vec![1],
            vec![0xFF],
            vec![0x61; 22],
            vec![0x61; 23],
            vec![0x61; 30],
            vec![0x62],
        ];
        for a in &vals {
            for b in &vals {
                let (sa, sb) = (SmallBytes::from(&a[..]), SmallBytes::from(&b[..]));
                assert_eq!(sa.cmp(&sb), a.cmp(b));
                assert_eq!(sa.partial_cmp(&sb), a.partial_cmp(b));
                assert_eq!(sa == sb, a == b);
            }
        }
    }

    #[test]
    fn borrow_lookup_in_std_map() {
        let mut m = std::collections::HashMap::new();
        m.insert(SmallBytes::from("short"), 1);
        m.insert(SmallBytes::from("a long key that is not inline"), 2);
        assert_eq!(m.get(&b"short"[..]), Some(&1));
        assert_eq!(m.get(&b"a long key that is not inline"[..]), Some(&2));
    }

    #[test]
    fn heap_clone_shares() {
        let s = SmallBytes::from(&bytes(50)[..]);
        let c = s.clone();
        assert_eq!(s.as_slice().as_ptr(), c.as_slice().as_ptr());
    }

    #[test]
    fn inline_clone_is_an_equal_independent_copy() {
        for n in 0..=INLINE_CAP {
            let src = bytes(n);
            let s = SmallBytes::from(&src[..]);
            assert!(s.is_inline());
            let c = s.clone();
            drop(s);
            assert!(c.is_inline());
            assert_eq!(c.as_slice(), &src[..], "length {n}");
            assert_eq!(c.len(), n);
        }
    }

    #[test]
    fn debug_escapes() {
        assert_eq!(
            format!("{:?}", SmallBytes::from(&[b'a', 0, 0xFF, b'"'][..])),
            r#"b"a\x00\xff\"""#
        );
    }
}
