//! A set value (Redis type `set`). Owned by the sets work: replace this placeholder with the persistent representation.

/// A set value (Redis type `set`). Owned by the sets work: replace this placeholder with the persistent representation.
///
/// Must stay at most 24 bytes (keep big state behind a pointer) so that
/// [`crate::Value`] stays 32 bytes.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Set {}

impl Set {
    /// The encoding OBJECT ENCODING reports for this value.
    pub fn encoding(&self) -> &'static str {
        "unknown"
    }
}
