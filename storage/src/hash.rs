//! A hash value (Redis type `hash`). Owned by the hashes work: replace this placeholder with the persistent representation.

/// A hash value (Redis type `hash`). Owned by the hashes work: replace this placeholder with the persistent representation.
///
/// Must stay at most 24 bytes (keep big state behind a pointer) so that
/// [`crate::Value`] stays 32 bytes.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Hash {}

impl Hash {
    /// The encoding OBJECT ENCODING reports for this value.
    pub fn encoding(&self) -> &'static str {
        "unknown"
    }
}
