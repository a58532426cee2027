//! A stream value (Redis type `stream`). Owned by the streams work: replace this placeholder with the persistent representation.

/// A stream value (Redis type `stream`). Owned by the streams work: replace this placeholder with the persistent representation.
///
/// Must stay at most 24 bytes (keep big state behind a pointer) so that
/// [`crate::Value`] stays 32 bytes.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Stream {}

impl Stream {
    /// The encoding OBJECT ENCODING reports for this value.
    pub fn encoding(&self) -> &'static str {
        "unknown"
    }
}
