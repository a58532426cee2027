//! `SmallBytes`: an immutable, cheaply cloned byte string for keys and values.
//!
//! Placeholder representation (one shared heap slice); the compact inline
//! representation replaces it without changing the API.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// An immutable byte string.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SmallBytes(Arc<[u8]>);

impl SmallBytes {
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
    /// Bytes allocated on the heap for this value.
    pub fn heap_size(&self) -> usize {
        self.0.len() + 16
    }
    /// Whether the contents live inline.
    pub fn is_inline(&self) -> bool {
        false
    }
}

impl Hash for SmallBytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state)
    }
}

impl Deref for SmallBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}
impl AsRef<[u8]> for SmallBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}
impl Borrow<[u8]> for SmallBytes {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}
impl From<&[u8]> for SmallBytes {
    fn from(b: &[u8]) -> Self {
        SmallBytes(Arc::from(b))
    }
}
impl From<Vec<u8>> for SmallBytes {
    fn from(b: Vec<u8>) -> Self {
        SmallBytes(Arc::from(b))
    }
}
impl From<&str> for SmallBytes {
    fn from(s: &str) -> Self {
        SmallBytes::from(s.as_bytes())
    }
}
impl fmt::Debug for SmallBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}
