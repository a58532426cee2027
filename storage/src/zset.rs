//! A sorted set value (Redis type `zset`). Owned by the sorted-sets work: replace this placeholder with member→score map plus an order-statistic tree.

/// A sorted set value (Redis type `zset`). Owned by the sorted-sets work: replace this placeholder with member→score map plus an order-statistic tree.
///
/// Must stay at most 24 bytes (keep big state behind a pointer) so that
/// [`crate::Value`] stays 32 bytes.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ZSet {}

impl ZSet {
    /// The encoding OBJECT ENCODING reports for this value.
    pub fn encoding(&self) -> &'static str {
        "unknown"
    }
}
