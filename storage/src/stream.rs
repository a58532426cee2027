//! A stream value (Redis type `stream`): entries ordered by id, consumer
//! groups with their pending entries lists, and the bookkeeping Redis 7.0
//! reports (entries added, max deleted id, first id).
//!
//! Everything sits behind one `Arc` so a `Value` stays small, and every
//! collection inside is an `imbl::OrdMap`, so cloning a stream (a snapshot,
//! a write transaction's private version) copies nothing: a change copies
//! one path per map touched.
//!
//! Redis stores entries in "macro nodes" (listpacks of up to
//! `stream-node-max-entries` entries and about `stream-node-max-bytes`
//! bytes) and approximate trimming (`~`) only drops whole nodes. The node
//! boundaries are emulated here (`nodes`): each node records its first
//! ("master") id, its live and deleted entry counts and an estimate of its
//! listpack size, so `~` trims as many entries as Redis does for ordinary
//! entries. The byte size is an estimate of the listpack encoding; streams
//! whose nodes are cut by `stream-node-max-bytes` rather than by the entry
//! count may trim differently.

use std::sync::Arc;

use imbl::{OrdMap, OrdSet};

use crate::{Millis, SmallBytes};

/// A stream entry id: milliseconds and sequence number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl StreamId {
    /// The smallest id.
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// The largest id.
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// An id from its parts.
    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next id, if any.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The previous id, if any.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }

    /// `ms-seq`.
    pub fn to_text(self) -> String {
        format!("{}-{}", self.ms, self.seq)
    }
}

/// An entry's field-value pairs, flattened (`f1 v1 f2 v2 …`).
pub type Fields = Arc<[SmallBytes]>;

/// A pending entry of a consumer group: delivered, not yet acknowledged.
#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    /// Last delivery time.
    pub delivery_time: Millis,
    /// Number of deliveries.
    pub delivery_count: u64,
    /// The consumer owning it.
    pub consumer: SmallBytes,
}

/// A consumer of a group.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Consumer {
    /// Last time the consumer was seen (read or claimed).
    pub seen_time: Millis,
    /// Ids of the entries pending for this consumer.
    pub pel: OrdSet<StreamId>,
}

/// A consumer group.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Group {
    /// Last id delivered to the group.
    pub last_id: StreamId,
    /// Logical count of entries read by the group, -1 when unknown.
    pub entries_read: i64,
    /// Pending entries by id.
    pub pel: OrdMap<StreamId, Pending>,
    /// Consumers by name.
    pub consumers: OrdMap<SmallBytes, Consumer>,
}

impl Group {
    /// Removes pending entry `id` from the group's PEL and its owner's
    /// (XACK); returns whether it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        let Some(p) = self.pel.remove(&id) else {
            return false;
        };
        if let Some(c) = self.consumers.get_mut(&p.consumer) {
            c.pel.remove(&id);
        }
        true
    }

    /// Makes existing consumer `consumer` the owner of pending entry `id`.
    pub fn reassign(&mut self, id: StreamId, consumer: &[u8]) {
        let Some(p) = self.pel.get_mut(&id) else {
            return;
        };
        if p.consumer[..] != *consumer {
            let old = std::mem::replace(&mut p.consumer, SmallBytes::from(consumer));
            if let Some(c) = self.consumers.get_mut(&old) {
                c.pel.remove(&id);
            }
        }
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
    }
}

/// One emulated macro node.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Node {
    /// Live entries.
    pub live: u64,
    /// Entries deleted but still counted in the node.
    pub deleted: u64,
    /// Estimated listpack size.
    pub bytes: u64,
    /// Number of master fields, to estimate later entries.
    fields_hash: u64,
}

/// The stream proper.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct StreamData {
    /// Entries by id.
    pub entries: OrdMap<StreamId, Fields>,
    /// Macro nodes by master id.
    pub nodes: OrdMap<StreamId, Node>,
    /// Id of the last entry ever added (or set by XSETID).
    pub last_id: StreamId,
    /// Id of the first live entry (0-0 when empty).
    pub first_id: StreamId,
    /// Greatest id ever deleted.
    pub max_deleted: StreamId,
    /// Count of entries ever added.
    pub entries_added: u64,
    /// Consumer groups by name.
    pub groups: OrdMap<SmallBytes, Group>,
}

/// A stream value. Must stay at most 24 bytes so [`crate::Value`] stays 32.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Stream(Arc<StreamData>);

impl std::ops::Deref for Stream {
    type Target = StreamData;
    fn deref(&self) -> &StreamData {
        &self.0
    }
}

impl Stream {
    /// The encoding OBJECT ENCODING reports for this value.
    pub fn encoding(&self) -> &'static str {
        "stream"
    }

    /// Mutable access (copies the top level only when shared).
    pub fn data_mut(&mut self) -> &mut StreamData {
        Arc::make_mut(&mut self.0)
    }
}

/// Node limits (`stream-node-max-entries`, `stream-node-max-bytes`, 0 = none).
#[derive(Clone, Copy, Debug)]
pub struct NodeLimits {
    /// Entries per node.
    pub max_entries: u64,
    /// Bytes per node.
    pub max_bytes: u64,
}

/// How to trim.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TrimTo {
    /// Keep at most this many entries.
    MaxLen(u64),
    /// Drop entries below this id.
    MinId(StreamId),
}

/// Size of an integer in a listpack (encoding plus back length).
fn lp_int_size(v: i64) -> u64 {
    if (0..=127).contains(&v) {
        2
    } else if (-4096..4096).contains(&v) {
        3
    } else if (-32768..32768).contains(&v) {
        4
    } else if (-(1 << 23)..(1 << 23)).contains(&v) {
        5
    } else if (-(1i64 << 31)..(1i64 << 31)).contains(&v) {
        6
    } else {
        10
    }
}

/// Size of a string element in a listpack (integers are stored as such).
fn lp_str_size(s: &[u8]) -> u64 {
    if let Some(v) = crate::value::parse_i64(s) {
        return lp_int_size(v);
    }
    let l = s.len() as u64;
    let enc = if l < 64 {
        1 + l
    } else if l < 4096 {
        2 + l
    } else {
        5 + l
    };
    let back = match enc {
        0..=127 => 1,
        128..=16383 => 2,
        16384..=2097151 => 3,
        2097152..=268435455 => 4,
        _ => 5,
    };
    enc + back
}

fn fields_hash(fields: &[SmallBytes]) -> u64 {
    // FNV over the field names: equal master fields let Redis store values only.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ fields.len() as u64;
    for f in fields.iter().step_by(2) {
        for &b in f.iter() {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
        h = (h ^ 0xff).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl StreamData {
    /// Number of live entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first and last live entries.
    pub fn first_entry(&self) -> Option<(&StreamId, &Fields)> {
        self.entries.get_min().map(|(k, v)| (k, v))
    }

    /// The last live entry.
    pub fn last_entry(&self) -> Option<(&StreamId, &Fields)> {
        self.entries.get_max().map(|(k, v)| (k, v))
    }

    /// Appends an entry with id `id` (greater than `last_id`, checked by the caller).
    pub fn append(&mut self, id: StreamId, fields: Fields, limits: NodeLimits) {
        let total: u64 = fields.iter().map(|f| f.len() as u64).sum();
        let fh = fields_hash(&fields);
        let last = self.nodes.get_max().map(|(k, n)| (*k, *n));
        let fits = last.is_some_and(|(_, n)| {
            let full_bytes = limits.max_bytes != 0 && n.bytes + total >= limits.max_bytes;
            let full_count = limits.max_entries != 0 && n.live + n.deleted >= limits.max_entries;
            !(full_bytes || full_count)
        });
        match last {
            Some((master, mut n)) if fits => {
                let ms_diff = id.ms.wrapping_sub(master.ms) as i64;
                let seq_diff = id.seq.wrapping_sub(master.seq) as i64;
                let mut size = 2 + lp_int_size(ms_diff) + lp_int_size(seq_diff);
                if n.fields_hash == fh {
                    size += fields
                        .iter()
                        .skip(1)
                        .step_by(2)
                        .map(|v| lp_str_size(v))
                        .sum::<u64>();
                } else {
                    size += lp_int_size((fields.len() / 2) as i64);
                    size += fields.iter().map(|f| lp_str_size(f)).sum::<u64>();
                }
                size += lp_int_size(2 + fields.len() as i64);
                n.bytes += size;
                n.live += 1;
                self.nodes.insert(master, n);
            }
            _ => {
                // Header, end byte, master entry (count, deleted, field
                // count, field names, terminator), then the entry itself.
                let names: u64 = fields.iter().step_by(2).map(|f| lp_str_size(f)).sum();
                let values: u64 = fields
                    .iter()
                    .skip(1)
                    .step_by(2)
                    .map(|v| lp_str_size(v))
                    .sum();
                let bytes = 7
                    + 2
                    + 2
                    + lp_int_size((fields.len() / 2) as i64)
                    + names
                    + 2
                    + 2
                    + 2
                    + 2
                    + values
                    + lp_int_size(2 + fields.len() as i64);
                self.nodes.insert(
                    id,
                    Node {
                        live: 1,
                        deleted: 0,
                        bytes,
                        fields_hash: fh,
                    },
                );
            }
        }
        if self.entries.is_empty() {
            self.first_id = id;
        }
        self.entries.insert(id, fields);
        self.last_id = id;
        self.entries_added += 1;
    }

    /// The master id of the node holding `id`.
    fn node_of(&self, id: StreamId) -> Option<StreamId> {
        self.nodes.range(..=id).next_back().map(|(k, _)| *k)
    }

    /// Deletes one entry; returns whether it existed.
    pub fn delete(&mut self, id: StreamId) -> bool {
        if self.entries.remove(&id).is_none() {
            return false;
        }
        if let Some(master) = self.node_of(id) {
            if let Some(n) = self.nodes.get_mut(&master) {
                n.live = n.live.saturating_sub(1);
                n.deleted += 1;
                if n.live == 0 {
                    self.nodes.remove(&master);
                }
            }
        }
        self.refresh_first();
        true
    }

    fn refresh_first(&mut self) {
        self.first_id = self.entries.get_min().map(|(k, _)| *k).unwrap_or_default();
    }

    /// Trims like Redis's XTRIM / XADD trimming. With `approx`, only whole
    /// nodes go, and at most `limit` entries (0: no limit). Returns the
    /// number of entries removed.
    pub fn trim(&mut self, to: TrimTo, approx: bool, limit: u64) -> u64 {
        let mut removed = 0u64;
        loop {
            if let TrimTo::MaxLen(max) = to {
                if self.len() as u64 <= max {
                    break;
                }
            }
            let Some((master, node)) = self.nodes.get_min().map(|(k, n)| (*k, *n)) else {
                break;
            };
            let next = self.nodes.range(master..).nth(1).map(|(k, _)| *k);
            let entries = node.live;
            if limit != 0 && removed + entries > limit {
                break;
            }
            let in_node: Vec<StreamId> = match next {
                Some(nx) => self.entries.range(master..nx).map(|(k, _)| *k).collect(),
                None => self.entries.range(master..).map(|(k, _)| *k).collect(),
            };
            let whole = match to {
                TrimTo::MaxLen(max) => (self.len() as u64).saturating_sub(entries) >= max,
                TrimTo::MinId(min) => in_node.last().is_some_and(|l| *l < min),
            };
            if whole {
                for id in &in_node {
                    self.entries.remove(id);
                }
                self.nodes.remove(&master);
                removed += entries;
                continue;
            }
            if approx {
                break;
            }
            for id in in_node {
                let stop = match to {
                    TrimTo::MaxLen(max) => self.len() as u64 <= max,
                    TrimTo::MinId(min) => id >= min,
                };
                if stop {
                    break;
                }
                self.entries.remove(&id);
                if let Some(n) = self.nodes.get_mut(&master) {
                    n.live = n.live.saturating_sub(1);
                    n.deleted += 1;
                }
                removed += 1;
            }
            break;
        }
        self.refresh_first();
        removed
    }

    /// Entries from `start` to `end` inclusive, in order (or reversed).
    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
        rev: bool,
    ) -> Box<dyn Iterator<Item = (&StreamId, &Fields)> + '_> {
        if start > end {
            return Box::new(std::iter::empty());
        }
        let it = self.entries.range(start..=end);
        if rev {
            Box::new(it.rev())
        } else {
            Box::new(it)
        }
    }

    /// The logical position of `id` in the stream's history (how many
    /// entries were added up to it), when it can be told: exactly at the
    /// ends, by subtraction when no deletion fragments the stream.
    pub fn distance_from_first_ever(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.is_empty() && id <= self.last_id {
            return Some(self.entries_added);
        }
        if id == self.last_id {
            return Some(self.entries_added);
        }
        if id > self.last_id {
            return None;
        }
        if self.max_deleted == StreamId::MIN || self.max_deleted < self.first_id {
            let before = self.entries_added.saturating_sub(self.len() as u64);
            if id < self.first_id {
                return Some(before);
            }
            if id == self.first_id {
                return Some(before.saturating_add(1));
            }
        }
        None
    }

    /// Whether a deletion may have left a gap at or after `start` (the last
    /// deletion is at or after `start` and not before the first entry).
    pub fn has_tombstones_from(&self, start: StreamId) -> bool {
        !self.is_empty()
            && self.max_deleted != StreamId::MIN
            && self.first_id <= self.max_deleted
            && start <= self.max_deleted
    }

    /// A group's lag: entries added but not yet read by it, when known.
    pub fn lag(&self, g: &Group) -> Option<i64> {
        let added = self.entries_added as i64;
        if added == 0 {
            return Some(0);
        }
        if g.entries_read != -1 && !self.has_tombstones_from(g.last_id) {
            return Some(added.wrapping_sub(g.entries_read));
        }
        self.distance_from_first_ever(g.last_id)
            .map(|er| added.wrapping_sub(er as i64))
    }

    /// Number of nodes of the radix tree Redis would keep over the macro
    /// nodes' master ids (XINFO STREAM `radix-tree-nodes`): a compressed
    /// node per shared run of key bytes, a branching node where keys part,
    /// and a leaf per key; 1 (the root) when empty.
    pub fn radix_tree_nodes(&self) -> u64 {
        fn count(keys: &[[u8; 16]], depth: usize) -> u64 {
            if keys.is_empty() || depth == 16 {
                return 1;
            }
            let first = &keys[0];
            let last = &keys[keys.len() - 1];
            // Keys are sorted: the common prefix of all is that of the ends.
            let mut d = depth;
            while d < 16 && first[d] == last[d] {
                d += 1;
            }
            if d > depth {
                return 1 + count(keys, d);
            }
            let mut n = 1;
            let mut i = 0;
            while i < keys.len() {
                let b = keys[i][depth];
                let j = i + keys[i..].iter().take_while(|k| k[depth] == b).count();
                n += count(&keys[i..j], depth + 1);
                i = j;
            }
            n
        }
        let keys: Vec<[u8; 16]> = self
            .nodes
            .keys()
            .map(|id| {
                let mut k = [0u8; 16];
                k[..8].copy_from_slice(&id.ms.to_be_bytes());
                k[8..].copy_from_slice(&id.seq.to_be_bytes());
                k
            })
            .collect();
        if keys.is_empty() {
            return 1;
        }
        count(&keys, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(v: &str) -> Fields {
        vec![SmallBytes::from("f"), SmallBytes::from(v)].into()
    }

    const TEN: NodeLimits = NodeLimits {
        max_entries: 10,
        max_bytes: 4096,
    };

    fn stream_of(n: u64) -> StreamData {
        let mut s = StreamData::default();
        for i in 1..=n {
            s.append(StreamId::new(i, 0), fields("v"), TEN);
        }
        s
    }

    #[test]
    fn ids_step_across_parts() {
        assert_eq!(StreamId::new(1, u64::MAX).incr(), Some(StreamId::new(2, 0)));
        assert_eq!(StreamId::new(2, 0).decr(), Some(StreamId::new(1, u64::MAX)));
        assert_eq!(StreamId::MAX.incr(), None);
        assert_eq!(StreamId::MIN.decr(), None);
    }

    #[test]
    fn nodes_fill_up_to_the_entry_limit() {
        let s = stream_of(25);
        assert_eq!(s.nodes.len(), 3);
        // Root prefix, a branch on the 8th byte, then prefix and leaf per key.
        assert_eq!(s.radix_tree_nodes(), 8);
        assert_eq!(StreamData::default().radix_tree_nodes(), 1);
    }

    #[test]
    fn approximate_trim_drops_whole_nodes_only() {
        let mut s = stream_of(25);
        assert_eq!(s.trim(TrimTo::MaxLen(20), true, 0), 0);
        assert_eq!(s.trim(TrimTo::MaxLen(12), true, 0), 10);
        assert_eq!(s.len(), 15);
        assert_eq!(s.first_id, StreamId::new(11, 0));
        // LIMIT stops before a node that would exceed it.
        assert_eq!(s.trim(TrimTo::MaxLen(0), true, 5), 0);
        assert_eq!(s.trim(TrimTo::MaxLen(3), false, 0), 12);
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn deleting_a_whole_node_removes_it() {
        let mut s = stream_of(12);
        for i in 1..=10 {
            assert!(s.delete(StreamId::new(i, 0)));
        }
        assert!(!s.delete(StreamId::new(1, 0)));
        assert_eq!(s.nodes.len(), 1);
        assert_eq!(s.first_id, StreamId::new(11, 0));
    }

    #[test]
    fn distance_needs_an_unfragmented_stream() {
        let mut s = stream_of(5);
        assert_eq!(s.distance_from_first_ever(StreamId::new(5, 0)), Some(5));
        assert_eq!(s.distance_from_first_ever(StreamId::new(0, 1)), Some(0));
        assert_eq!(s.distance_from_first_ever(StreamId::new(9, 0)), None);
        s.delete(StreamId::new(3, 0));
        s.max_deleted = StreamId::new(3, 0);
        assert_eq!(s.distance_from_first_ever(StreamId::new(2, 0)), None);
        assert!(s.has_tombstones_from(StreamId::new(2, 0)));
        assert!(!s.has_tombstones_from(StreamId::new(4, 0)));
    }
}
