//! A list value (Redis type `list`). Owned by the lists work: replace this placeholder with the persistent representation (RRB vector).

/// A list value (Redis type `list`). Owned by the lists work: replace this placeholder with the persistent representation (RRB vector).
///
/// Must stay at most 24 bytes (keep big state behind a pointer) so that
/// [`crate::Value`] stays 32 bytes.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct List {}

impl List {
    /// The encoding OBJECT ENCODING reports for this value.
    pub fn encoding(&self) -> &'static str {
        "unknown"
    }
}
