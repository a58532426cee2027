//! A list value (Redis type `list`): a persistent vector of packed chunks.
//!
//! Elements are stored back to back in *packs* of up to [`PACK`] elements,
//! each element of up to [`INLINE_MAX`] bytes as its length, its bytes and
//! its length again (so a pack reads from either end), a longer one as the
//! raw parts of an `Arc<[u8]>` (so a pack stays under ~8 KB), with a gap
//! before the first element for pushes at the head. A short element costs
//! its length plus two bytes, where a vector of [`SmallBytes`] cost 24 bytes
//! plus the vector's share (28 in all): 3M three-byte elements take ~18 MB
//! instead of ~85 MB, and pushes touch (and fault in) that much less memory.
//! Redis's quicklist of listpacks makes the same trade. Reading element `i`
//! walks up to half a pack (LINDEX ~60-170 ns instead of ~10-65 ns).
//!
//! The packs sit behind `Arc`s, the inner ones in an `imbl::Vector` (a
//! persistent RRB tree), the first and the last beside it ([`Packs`]):
//! cloning a list is one count increment, and a write to a list shared with a
//! published version copies only the pack it changes (and, for an inner
//! pack, the vector's path to it). Every pack but the first and the last holds exactly [`PACK`]
//! elements, so the pack holding index `i` is found by arithmetic; a
//! change in the middle (LINSERT, LREM, removal by index) moves one element
//! per pack toward the nearer end to restore that, `O(min(i, n - i) / PACK)`
//! pack operations (Redis's LINSERT and LREM are O(n) too).
//!
//! Redis 7.0 encodes every list as a quicklist (listpack-encoded lists
//! arrived in 7.2), so [`List::encoding`] always answers `quicklist`.

use std::fmt;
use std::sync::Arc;

use imbl::Vector;

use crate::SmallBytes;

/// Elements per full pack (every pack but the first and the last is full).
#[cfg(not(test))]
const PACK: usize = 128;
/// Small packs in unit tests, so short random lists span many packs.
#[cfg(test)]
const PACK: usize = 4;

/// Bytes left free before the first element when a pack is copied, so
/// that a push at the head of a just-copied pack needs no second copy.
const FRONT_GAP: usize = 32;

/// Elements up to this long are stored in the pack (their length, their
/// bytes, their length again); longer ones are stored behind an `Arc`
/// whose pointer the pack holds ([`BIG`]), so a pack stays under ~8 KB and
/// copying one (the cost of a write to a list a snapshot shares) stays cheap.
const INLINE_MAX: usize = 63;

/// Marks an element held behind an `Arc`: the marker, the `Arc<[u8]>`'s
/// data pointer and length (eight bytes each, little endian), the marker.
const BIG: u8 = 0x80;

/// Bytes an element held behind an `Arc` takes in a pack.
const BIG_LEN: usize = 18;

/// Bytes an element of `len` bytes takes in a pack.
#[inline]
fn encoded_len(len: usize) -> usize {
    if len <= INLINE_MAX {
        len + 2
    } else {
        BIG_LEN
    }
}

/// The `Arc<[u8]>` whose raw parts a big element's encoding `e` holds.
///
/// # Safety
/// `e` is the 16 bytes after a [`BIG`] marker of an element a pack holds.
#[inline]
unsafe fn big_ptr(e: &[u8]) -> *const [u8] {
    let ptr = u64::from_le_bytes(e[..8].try_into().unwrap_or_default()) as usize;
    let len = u64::from_le_bytes(e[8..16].try_into().unwrap_or_default()) as usize;
    std::ptr::slice_from_raw_parts(ptr as *const u8, len)
}

/// Up to [`PACK`] elements, packed (see the module doc). `data[..start]` is
/// free space for pushes at the head.
///
/// Ownership: the pack owns one count of every big element's `Arc`; every
/// path that drops element bytes (pops, splices, trims, drop) releases
/// them, and a clone takes a count of each.
struct Pack {
    data: Vec<u8>,
    start: usize,
    count: usize,
    /// Whether the pack may hold a big element (false: copies and drops
    /// need not walk the elements).
    big: bool,
}

// SAFETY: the raw `Arc<[u8]>` pointers inside `data` are owned counts of
// immutable byte strings, which are `Send` and `Sync`.
unsafe impl Send for Pack {}
unsafe impl Sync for Pack {}

impl Clone for Pack {
    /// Copies the elements with a [`FRONT_GAP`]-byte gap before them, taking
    /// a count of each big element.
    fn clone(&self) -> Pack {
        let used = &self.data[self.start..];
        let mut data = Vec::with_capacity(FRONT_GAP + used.len() + FRONT_GAP);
        data.resize(FRONT_GAP, 0);
        data.extend_from_slice(used);
        self.for_each_big(self.start, self.data.len(), |p| {
            // SAFETY: `p` is a live count this pack owns; the copy owns one more.
            unsafe { Arc::increment_strong_count(p) }
        });
        Pack {
            data,
            start: FRONT_GAP,
            count: self.count,
            big: self.big,
        }
    }
}

impl Drop for Pack {
    fn drop(&mut self) {
        self.release(self.start, self.data.len());
    }
}

impl Pack {
    fn new() -> Pack {
        Pack {
            data: Vec::new(),
            start: 0,
            count: 0,
            big: false,
        }
    }

    /// Writes `v`'s encoding into `out`, which is exactly `encoded_len` long
    /// (a big element's bytes are copied into a new `Arc` the pack owns).
    fn encode(v: &[u8], out: &mut [u8]) {
        let n = v.len();
        if n <= INLINE_MAX {
            out[0] = n as u8;
            out[1..1 + n].copy_from_slice(v);
            out[1 + n] = n as u8;
        } else {
            let p = Arc::into_raw(Arc::<[u8]>::from(v));
            out[0] = BIG;
            out[1..9].copy_from_slice(&(p as *const u8 as usize as u64).to_le_bytes());
            out[9..17].copy_from_slice(&(p.len() as u64).to_le_bytes());
            out[17] = BIG;
        }
    }

    /// Calls `f` with each big element's pointer among the elements in
    /// the bytes `from..to`.
    fn for_each_big(&self, from: usize, to: usize, mut f: impl FnMut(*const [u8])) {
        if !self.big {
            return;
        }
        let mut at = from;
        while at < to {
            let b = self.data[at];
            if b == BIG {
                // SAFETY: `at` starts an element of this pack.
                f(unsafe { big_ptr(&self.data[at + 1..at + 17]) });
                at += BIG_LEN;
            } else {
                at += b as usize + 2;
            }
        }
    }

    /// Gives up the counts of the big elements in the bytes `from..to`
    /// (which the caller then drops from the pack).
    fn release(&self, from: usize, to: usize) {
        self.for_each_big(from, to, |p| {
            // SAFETY: the pack owned this count and no longer holds it.
            drop(unsafe { Arc::from_raw(p) })
        });
    }

    fn push_back(&mut self, v: &[u8]) {
        let at = self.data.len();
        self.data.resize(at + encoded_len(v.len()), 0);
        Pack::encode(v, &mut self.data[at..]);
        self.big |= v.len() > INLINE_MAX;
        self.count += 1;
    }

    /// Makes room for `need` bytes before the first element.
    fn reserve_front(&mut self, need: usize) {
        if self.start < need {
            // Regrow with a gap as large as the elements (at least `need`),
            // so that pushes at the head are amortised O(1).
            let used = self.data.len() - self.start;
            let gap = need.max(used).max(FRONT_GAP);
            let mut data = Vec::with_capacity(gap + used);
            data.resize(gap, 0);
            data.extend_from_slice(&self.data[self.start..]);
            self.data = data;
            self.start = gap;
        }
    }

    fn push_front(&mut self, v: &[u8]) {
        let need = encoded_len(v.len());
        self.reserve_front(need);
        self.start -= need;
        let s = self.start;
        Pack::encode(v, &mut self.data[s..s + need]);
        self.big |= v.len() > INLINE_MAX;
        self.count += 1;
    }

    /// The element starting at `at` and the offset just after it.
    #[inline]
    fn read_at(&self, at: usize) -> (&[u8], usize) {
        let d = &self.data;
        let b = d[at];
        if b == BIG {
            // SAFETY: the pack holds a count of this element's `Arc`, which
            // lives at least as long as the borrow of the pack.
            (unsafe { &*big_ptr(&d[at + 1..at + 17]) }, at + BIG_LEN)
        } else {
            let n = b as usize;
            (&d[at + 1..at + 1 + n], at + 2 + n)
        }
    }

    /// The offset where the element ending at `end` starts.
    #[inline]
    fn start_before(&self, end: usize) -> usize {
        let b = self.data[end - 1];
        if b == BIG {
            end - BIG_LEN
        } else {
            end - 2 - b as usize
        }
    }

    /// Takes the element's value out of the bytes `at..` (which the caller
    /// then drops from the pack): a big element's `Arc` moves into the result.
    fn take_at(&self, at: usize) -> SmallBytes {
        let d = &self.data;
        if d[at] == BIG {
            // SAFETY: the pack's count moves into the result.
            SmallBytes::from(unsafe { Arc::from_raw(big_ptr(&d[at + 1..at + 17])) })
        } else {
            SmallBytes::from(self.read_at(at).0)
        }
    }

    fn pop_front(&mut self) -> Option<SmallBytes> {
        if self.count == 0 {
            return None;
        }
        let v = self.take_at(self.start);
        self.start = self.read_at(self.start).1;
        self.count -= 1;
        if self.count == 0 {
            self.data.clear();
            self.start = 0;
        }
        Some(v)
    }

    fn pop_back(&mut self) -> Option<SmallBytes> {
        if self.count == 0 {
            return None;
        }
        let at = self.start_before(self.data.len());
        let v = self.take_at(at);
        self.data.truncate(at);
        self.count -= 1;
        if self.count == 0 {
            self.data.clear();
            self.start = 0;
        }
        Some(v)
    }

    /// Moves the first element to the end of `to` (no copy of a big one).
    fn move_front_to_back(&mut self, to: &mut Pack) {
        if self.count == 0 {
            return;
        }
        let end = self.read_at(self.start).1;
        to.data.extend_from_slice(&self.data[self.start..end]);
        to.count += 1;
        to.big |= self.big;
        self.start = end;
        self.count -= 1;
    }

    /// Moves the last element to the head of `to` (no copy of a big one).
    fn move_back_to_front(&mut self, to: &mut Pack) {
        if self.count == 0 {
            return;
        }
        let end = self.data.len();
        let at = self.start_before(end);
        to.reserve_front(end - at);
        to.start -= end - at;
        let s = to.start;
        to.data[s..s + end - at].copy_from_slice(&self.data[at..end]);
        to.count += 1;
        to.big |= self.big;
        self.data.truncate(at);
        self.count -= 1;
    }

    /// The only element of a pack just taken out of a list (moved out when
    /// no snapshot shares the pack, copied otherwise).
    fn take_last(p: Arc<Pack>) -> Option<SmallBytes> {
        match Arc::try_unwrap(p) {
            Ok(mut p) => p.pop_front(),
            Err(p) => Some(SmallBytes::from(p.get(0))),
        }
    }

    /// Drops the free space around the elements (a full pack at either end
    /// of a list is about to become an inner one, or is built once).
    fn compact(&mut self) {
        if self.start > 0 || self.data.capacity() > self.data.len() {
            self.data = self.data[self.start..].to_vec();
            self.start = 0;
        }
    }

    /// Byte offsets `(start, end)` of elements `a..b` (`a <= b <= count`),
    /// walking from the nearer end.
    fn bounds(&self, a: usize, b: usize) -> (usize, usize) {
        let mut s = self.start;
        if a <= self.count - a {
            for _ in 0..a {
                s = self.read_at(s).1;
            }
        } else {
            s = self.data.len();
            for _ in a..self.count {
                s = self.start_before(s);
            }
        }
        let mut e = s;
        if b - a <= self.count - b {
            for _ in a..b {
                e = self.read_at(e).1;
            }
        } else {
            e = self.data.len();
            for _ in b..self.count {
                e = self.start_before(e);
            }
        }
        (s, e)
    }

    fn get(&self, i: usize) -> &[u8] {
        let (s, _) = self.bounds(i, i);
        self.read_at(s).0
    }

    fn iter(&self, a: usize, b: usize) -> PackIter<'_> {
        let (front, back) = self.bounds(a, b);
        PackIter {
            pack: self,
            front,
            back,
            left: b - a,
        }
    }

    /// Rebuilds the pack with element `i` replaced by `v` (`Some`), removed
    /// (`None`), or with `v` inserted before it (`insert`). Returns the
    /// removed element.
    fn splice(&mut self, i: usize, v: Option<&[u8]>, insert: bool) -> Option<SmallBytes> {
        let (s, e) = self.bounds(i, if insert { i } else { i + 1 });
        let old = (s < e).then(|| self.take_at(s));
        let new = v.map_or(0, |v| encoded_len(v.len()));
        let mut data = Vec::with_capacity(FRONT_GAP + self.data.len() - self.start + new);
        data.resize(FRONT_GAP, 0);
        data.extend_from_slice(&self.data[self.start..s]);
        if let Some(v) = v {
            let at = data.len();
            data.resize(at + new, 0);
            Pack::encode(v, &mut data[at..]);
            self.big |= v.len() > INLINE_MAX;
        }
        data.extend_from_slice(&self.data[e..]);
        self.count = self.count + usize::from(v.is_some()) - usize::from(!insert);
        self.data = data;
        self.start = FRONT_GAP;
        if self.count == 0 {
            self.data.clear();
            self.start = 0;
        }
        old
    }

    /// Keeps elements `a..b`.
    fn keep(&mut self, a: usize, b: usize) {
        let (s, e) = self.bounds(a, b);
        self.release(self.start, s);
        self.release(e, self.data.len());
        self.data.truncate(e);
        self.start = s;
        self.count = b - a;
        if self.count == 0 {
            self.data.clear();
            self.start = 0;
        }
    }
}

/// Elements of one pack between two byte offsets.
struct PackIter<'a> {
    pack: &'a Pack,
    front: usize,
    back: usize,
    left: usize,
}

impl<'a> Iterator for PackIter<'a> {
    type Item = &'a [u8];
    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let (v, next) = self.pack.read_at(self.front);
        self.front = next;
        self.left -= 1;
        Some(v)
    }
}

impl<'a> DoubleEndedIterator for PackIter<'a> {
    #[inline]
    fn next_back(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let at = self.pack.start_before(self.back);
        self.back = at;
        self.left -= 1;
        Some(self.pack.read_at(at).0)
    }
}

impl Pack {
    /// A pack for pushes at the head holding `v`, with room before it for
    /// a full pack of elements of `v`'s size (at most 4 KB).
    fn for_front(v: &[u8]) -> Pack {
        let need = encoded_len(v.len());
        let gap = (need * PACK).clamp(FRONT_GAP, 4096).max(need);
        let mut data = vec![0u8; gap];
        Pack::encode(v, &mut data[gap - need..]);
        Pack {
            data,
            start: gap - need,
            count: 1,
            big: v.len() > INLINE_MAX,
        }
    }

    /// A pack for pushes at the tail holding `v`, with room after it for a
    /// full pack of elements of `v`'s size (at most 4 KB).
    fn for_back(v: &[u8]) -> Pack {
        let need = encoded_len(v.len());
        let mut p = Pack {
            data: Vec::with_capacity((need * PACK).clamp(FRONT_GAP, 4096).max(need)),
            start: 0,
            count: 0,
            big: false,
        };
        p.push_back(v);
        p
    }
}

impl Pack {
    /// A new pack holding `v`, for pushes at `end`.
    fn new_at(end: End, v: &[u8]) -> Pack {
        match end {
            End::Left => Pack::for_front(v),
            End::Right => Pack::for_back(v),
        }
    }

    fn push(&mut self, end: End, v: &[u8]) {
        match end {
            End::Left => self.push_front(v),
            End::Right => self.push_back(v),
        }
    }

    fn pop(&mut self, end: End) -> Option<SmallBytes> {
        match end {
            End::Left => self.pop_front(),
            End::Right => self.pop_back(),
        }
    }

    /// Moves the element at `end` to the opposite end of `to` (the pack
    /// beyond `end`, or the one before it when `to` lies inward).
    fn move_out(&mut self, end: End, to: &mut Pack) {
        match end {
            End::Left => self.move_front_to_back(to),
            End::Right => self.move_back_to_front(to),
        }
    }
}

/// A list value. The packs sit behind one `Arc` so that [`crate::Value`]
/// stays small and cloning a list is one count increment (a trie node
/// holding the list is copied, with every entry in it, on each write to any
/// key of that node).
#[derive(Clone, Default)]
pub struct List {
    inner: Arc<Inner>,
}

#[derive(Clone, Default)]
struct Inner {
    len: usize,
    /// Never an empty pack; all but the first and the last hold [`PACK`].
    packs: Packs,
}

/// The packs of a list, in order: the first and the last outside the
/// vector, so that a push or pop at either end (the common write) copies
/// only that pack when a snapshot shares the list, not the vector's edge
/// chunk of 64 pack pointers (each a count to take).
#[derive(Clone, Default)]
struct Packs {
    /// The first pack; `None` only when the list is empty.
    head: Option<Arc<Pack>>,
    /// The packs between the first and the last.
    body: Vector<Arc<Pack>>,
    /// The last pack when there are at least two.
    tail: Option<Arc<Pack>>,
}

impl Packs {
    fn len(&self) -> usize {
        usize::from(self.head.is_some()) + self.body.len() + usize::from(self.tail.is_some())
    }

    fn front(&self) -> Option<&Arc<Pack>> {
        self.head.as_ref()
    }

    fn front_mut(&mut self) -> Option<&mut Arc<Pack>> {
        self.head.as_mut()
    }

    fn back(&self) -> Option<&Arc<Pack>> {
        self.tail.as_ref().or(self.head.as_ref())
    }

    fn back_mut(&mut self) -> Option<&mut Arc<Pack>> {
        match self.tail {
            Some(ref mut t) => Some(t),
            None => self.head.as_mut(),
        }
    }

    fn push_front(&mut self, p: Arc<Pack>) {
        if let Some(h) = self.head.replace(p) {
            if self.tail.is_none() {
                self.tail = Some(h);
            } else {
                self.body.push_front(h);
            }
        }
    }

    fn push_back(&mut self, p: Arc<Pack>) {
        if self.head.is_none() {
            self.head = Some(p);
        } else if let Some(t) = self.tail.replace(p) {
            self.body.push_back(t);
        }
    }

    fn pop_front(&mut self) -> Option<Arc<Pack>> {
        let h = self.head.take()?;
        self.head = self.body.pop_front().or_else(|| self.tail.take());
        Some(h)
    }

    fn pop_back(&mut self) -> Option<Arc<Pack>> {
        match self.tail.take() {
            Some(t) => {
                self.tail = self.body.pop_back();
                Some(t)
            }
            None => self.head.take(),
        }
    }

    fn end(&self, end: End) -> Option<&Arc<Pack>> {
        match end {
            End::Left => self.front(),
            End::Right => self.back(),
        }
    }

    fn end_mut(&mut self, end: End) -> Option<&mut Arc<Pack>> {
        match end {
            End::Left => self.front_mut(),
            End::Right => self.back_mut(),
        }
    }

    fn push_end(&mut self, end: End, p: Arc<Pack>) {
        match end {
            End::Left => self.push_front(p),
            End::Right => self.push_back(p),
        }
    }

    fn pop_end(&mut self, end: End) -> Option<Arc<Pack>> {
        match end {
            End::Left => self.pop_front(),
            End::Right => self.pop_back(),
        }
    }

    fn get(&self, j: usize) -> Option<&Arc<Pack>> {
        let b = self.body.len();
        match j {
            0 => self.head.as_ref(),
            _ if j <= b => self.body.get(j - 1),
            _ if j == b + 1 => self.tail.as_ref(),
            _ => None,
        }
    }

    fn get_mut(&mut self, j: usize) -> Option<&mut Arc<Pack>> {
        let b = self.body.len();
        match j {
            0 => self.head.as_mut(),
            _ if j <= b => self.body.get_mut(j - 1),
            _ if j == b + 1 => self.tail.as_mut(),
            _ => None,
        }
    }

    /// Packs `a..b` (`a < b <= len`).
    fn slice(&self, a: usize, b: usize) -> Packs {
        let mut v = self.body.clone();
        if let Some(h) = &self.head {
            v.push_front(h.clone());
        }
        if let Some(t) = &self.tail {
            v.push_back(t.clone());
        }
        let mut v = v.skip(a);
        v.truncate(b - a);
        let head = v.pop_front();
        let tail = v.pop_back();
        Packs {
            head,
            body: v,
            tail,
        }
    }
}

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The head (index 0): LPUSH, LPOP.
    Left,
    /// The tail: RPUSH, RPOP.
    Right,
}

impl PartialEq for List {
    fn eq(&self, other: &List) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

impl List {
    /// An empty list.
    pub fn new() -> List {
        List::default()
    }

    /// The encoding OBJECT ENCODING reports for this value (always
    /// `quicklist` in Redis 7.0).
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// The packs, for a change: copied first if another version shares them.
    fn inner_mut(&mut self) -> &mut Inner {
        Arc::make_mut(&mut self.inner)
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.inner.len
    }

    /// Whether the list has no element.
    pub fn is_empty(&self) -> bool {
        self.inner.len == 0
    }

    /// The pack holding element `i < len` and `i`'s position in it.
    #[inline]
    fn locate(&self, i: usize) -> (usize, usize) {
        let head = self.inner.packs.front().map_or(0, |p| p.count);
        if i < head {
            (0, i)
        } else {
            let r = i - head;
            (1 + r / PACK, r % PACK)
        }
    }

    /// Adds `v` at `end`.
    pub fn push(&mut self, end: End, v: &[u8]) {
        let inner = self.inner_mut();
        inner.len += 1;
        match inner.packs.end_mut(end) {
            Some(p) if p.count < PACK => {
                let p = Arc::make_mut(p);
                p.push(end, v);
                if p.count == PACK {
                    p.compact();
                }
            }
            _ => inner.packs.push_end(end, Arc::new(Pack::new_at(end, v))),
        }
    }

    /// Removes and returns the element at `end`.
    pub fn pop(&mut self, end: End) -> Option<SmallBytes> {
        if self.is_empty() {
            return None;
        }
        let inner = self.inner_mut();
        inner.len -= 1;
        let packs = &mut inner.packs;
        if packs.end(end)?.count == 1 {
            return packs.pop_end(end).and_then(Pack::take_last);
        }
        Arc::make_mut(packs.end_mut(end)?).pop(end)
    }

    /// The element at `i` (0-based from the head).
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.len() {
            return None;
        }
        let (j, o) = self.locate(i);
        Some(self.inner.packs.get(j)?.get(o))
    }

    /// Replaces the element at `i`; false when `i` is out of range.
    pub fn set(&mut self, i: usize, v: &[u8]) -> bool {
        if i >= self.len() {
            return false;
        }
        let (j, o) = self.locate(i);
        match self.inner_mut().packs.get_mut(j) {
            Some(p) => {
                Arc::make_mut(p).splice(o, Some(v), false);
                true
            }
            None => false,
        }
    }

    /// Inserts `v` before position `i` (`i == len` appends).
    pub fn insert(&mut self, i: usize, v: &[u8]) {
        let i = i.min(self.len());
        if i == 0 {
            return self.push(End::Left, v);
        }
        if i == self.len() {
            return self.push(End::Right, v);
        }
        let (j, o) = self.locate(i);
        let inner = self.inner_mut();
        if let Some(p) = inner.packs.get_mut(j) {
            Arc::make_mut(p).splice(o, Some(v), true);
            inner.len += 1;
            inner.rebalance(j);
        }
    }

    /// Removes and returns the element at `i`.
    pub fn remove(&mut self, i: usize) -> Option<SmallBytes> {
        if i >= self.len() {
            return None;
        }
        if i == 0 {
            return self.pop(End::Left);
        }
        if i + 1 == self.len() {
            return self.pop(End::Right);
        }
        let (j, o) = self.locate(i);
        let inner = self.inner_mut();
        let v = Arc::make_mut(inner.packs.get_mut(j)?).splice(o, None, false);
        inner.len -= 1;
        inner.rebalance(j);
        v
    }

    /// Keeps only the elements in `start..end` (clamped to the list).
    pub fn keep_range(&mut self, start: usize, end: usize) {
        let len = self.len();
        let end = end.min(len);
        let start = start.min(end);
        if start == 0 && end == len {
            return;
        }
        if start == end {
            *self = List::new();
            return;
        }
        let (js, os) = self.locate(start);
        let (je, oe) = self.locate(end - 1);
        let inner = self.inner_mut();
        let mut packs = inner.packs.slice(js, je + 1);
        let last = je - js;
        if let Some(p) = packs.get_mut(0) {
            let b = if last == 0 { oe + 1 } else { p.count };
            if os > 0 || b < p.count {
                Arc::make_mut(p).keep(os, b);
            }
        }
        if last > 0 {
            if let Some(p) = packs.get_mut(last) {
                if oe + 1 < p.count {
                    Arc::make_mut(p).keep(0, oe + 1);
                }
            }
        }
        inner.packs = packs;
        inner.len = end - start;
    }

    /// Elements from the head.
    pub fn iter(&self) -> Iter<'_> {
        self.range(0, self.len())
    }

    /// Elements in `start..end` (clamped), from the head, without walking
    /// the elements before `start`.
    pub fn range(&self, start: usize, end: usize) -> Iter<'_> {
        let end = end.min(self.len());
        let start = start.min(end);
        let ((first, first_at), (last, last_end)) = if start == end {
            ((0, 0), (0, 0))
        } else {
            let (je, oe) = self.locate(end - 1);
            (self.locate(start), (je, oe + 1))
        };
        Iter {
            packs: &self.inner.packs,
            first,
            first_at,
            last,
            last_end,
            next_front: first,
            next_back: if start == end { first } else { last + 1 },
            front: None,
            back: None,
            left: end - start,
        }
    }

    /// Removes up to `count` elements equal to `v` (all when `count` is 0),
    /// scanning from the tail when `from_tail`. Returns how many went.
    pub fn remove_eq(&mut self, v: &[u8], count: usize, from_tail: bool) -> usize {
        let limit = if count == 0 { usize::MAX } else { count };
        let mut hits: Vec<usize> = Vec::new();
        if from_tail {
            for (i, e) in self.iter().enumerate().rev() {
                if hits.len() == limit {
                    break;
                }
                if e == v {
                    hits.push(i);
                }
            }
        } else {
            for (i, e) in self.iter().enumerate() {
                if hits.len() == limit {
                    break;
                }
                if e == v {
                    hits.push(i);
                }
            }
            hits.reverse();
        }
        // `hits` is descending.
        if hits.len() <= 4 {
            // Each removal leaves the lower indexes in place.
            for &i in &hits {
                self.remove(i);
            }
        } else {
            let mut skip = hits.iter().rev().copied().peekable();
            let kept = self.iter().enumerate().filter_map(|(i, e)| {
                if skip.peek() == Some(&i) {
                    skip.next();
                    None
                } else {
                    Some(e)
                }
            });
            *self = List::from_items(kept.collect::<Vec<_>>());
        }
        hits.len()
    }

    /// A list holding `items` in order.
    pub fn from_items<T: AsRef<[u8]>>(items: impl IntoIterator<Item = T>) -> List {
        let mut inner = Inner::default();
        let mut cur = Pack::new();
        for e in items {
            cur.push_back(e.as_ref());
            inner.len += 1;
            if cur.count == PACK {
                cur.compact();
                inner
                    .packs
                    .push_back(Arc::new(std::mem::replace(&mut cur, Pack::new())));
            }
        }
        if cur.count > 0 {
            cur.compact();
            inner.packs.push_back(Arc::new(cur));
        }
        List {
            inner: Arc::new(inner),
        }
    }
}

impl Inner {
    /// Restores the packs' shape after pack `j` grew or shrank by one:
    /// an inner pack takes or gives one element per pack toward the
    /// nearer end; an end pack over [`PACK`] splits, an empty one goes.
    fn rebalance(&mut self, j: usize) {
        let Some(last) = self.packs.len().checked_sub(1) else {
            return;
        };
        let count = |packs: &Packs, p: usize| packs.get(p).map_or(0, |p| p.count);
        if j > 0 && j < last && count(&self.packs, j) != PACK {
            let grew = count(&self.packs, j) > PACK;
            if j <= last - j {
                // Toward the head: pack p gives its first element to p - 1,
                // or takes p - 1's last.
                for p in (1..=j).rev() {
                    self.shift(p, p - 1, grew);
                }
            } else {
                for p in j..last {
                    self.shift(p, p + 1, grew);
                }
            }
        }
        // The end packs: split one over PACK, drop an empty one.
        for end in [End::Right, End::Left] {
            if self.packs.end(end).is_some_and(|p| p.count > PACK) {
                let mut out = Pack::new();
                if let Some(p) = self.packs.end_mut(end) {
                    Arc::make_mut(p).move_out(end, &mut out);
                }
                self.packs.push_end(end, Arc::new(out));
            }
        }
        for end in [End::Right, End::Left] {
            if self.packs.end(end).is_some_and(|p| p.count == 0) {
                self.packs.pop_end(end);
            }
        }
    }

    /// Moves one element between neighbouring packs `p` and `q`: from `p`
    /// to `q` when `give` (from `p`'s side facing `q`), else from `q` to `p`.
    /// The element's bytes move as they are (a big one keeps its `Arc`).
    fn shift(&mut self, p: usize, q: usize, give: bool) {
        let (from, to) = if give { (p, q) } else { (q, p) };
        // Two packs of the vector changed at once: `from` is taken out
        // for the move and put back.
        let Some(slot) = self.packs.get_mut(from) else {
            return;
        };
        let mut src = std::mem::replace(slot, Arc::new(Pack::new()));
        if let Some(dst) = self.packs.get_mut(to) {
            let (s, d) = (Arc::make_mut(&mut src), Arc::make_mut(dst));
            s.move_out(if to < from { End::Left } else { End::Right }, d);
        }
        if let Some(slot) = self.packs.get_mut(from) {
            *slot = src;
        }
    }
}

/// The elements of a list range (see [`List::range`]).
pub struct Iter<'a> {
    packs: &'a Packs,
    /// The first pack of the range and the range's first element in it.
    first: usize,
    first_at: usize,
    /// The last pack of the range and the end of the range in it.
    last: usize,
    last_end: usize,
    /// Packs not opened yet: `next_front..next_back`.
    next_front: usize,
    next_back: usize,
    front: Option<PackIter<'a>>,
    back: Option<PackIter<'a>>,
    left: usize,
}

impl<'a> Iter<'a> {
    fn open(&self, j: usize) -> Option<PackIter<'a>> {
        let p: &'a Pack = self.packs.get(j)?;
        let a = if j == self.first { self.first_at } else { 0 };
        let b = if j == self.last {
            self.last_end
        } else {
            p.count
        };
        Some(p.iter(a, b))
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        loop {
            if let Some(v) = self.front.as_mut().and_then(|f| f.next()) {
                self.left -= 1;
                return Some(v);
            }
            if self.next_front < self.next_back {
                self.front = self.open(self.next_front);
                self.next_front += 1;
            } else {
                let v = self.back.as_mut()?.next()?;
                self.left -= 1;
                return Some(v);
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<'a> DoubleEndedIterator for Iter<'a> {
    fn next_back(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        loop {
            if let Some(v) = self.back.as_mut().and_then(|b| b.next_back()) {
                self.left -= 1;
                return Some(v);
            }
            if self.next_front < self.next_back {
                self.next_back -= 1;
                self.back = self.open(self.next_back);
            } else {
                let v = self.front.as_mut()?.next_back()?;
                self.left -= 1;
                return Some(v);
            }
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Push(bool, u8),
        Pop(bool),
        Set(usize, u8),
        Insert(usize, u8),
        Remove(usize),
        Keep(usize, usize),
        RemoveEq(u8, usize, bool),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (any::<bool>(), 0u8..4).prop_map(|(l, v)| Op::Push(l, v)),
            2 => any::<bool>().prop_map(Op::Pop),
            1 => (0usize..80, 0u8..4).prop_map(|(i, v)| Op::Set(i, v)),
            1 => (0usize..80, 0u8..4).prop_map(|(i, v)| Op::Insert(i, v)),
            1 => (0usize..80).prop_map(Op::Remove),
            1 => (0usize..80, 0usize..80).prop_map(|(a, b)| Op::Keep(a, b)),
            1 => (0u8..4, 0usize..3, any::<bool>()).prop_map(|(v, c, t)| Op::RemoveEq(v, c, t)),
        ]
    }

    fn val(v: u8) -> SmallBytes {
        // Mix inline and heap-allocated elements.
        // and elements on either side of the pack's inline limit.
        match v % 4 {
            0 => SmallBytes::from(vec![v; 1]),
            1 => SmallBytes::from(vec![v; INLINE_MAX]),
            2 => SmallBytes::from(vec![v; INLINE_MAX + 1]),
            _ => SmallBytes::from(vec![v; 200]),
        }
    }

    proptest! {
        #[test]
        fn behaves_like_a_vec(ops in proptest::collection::vec(op(), 0..300)) {
            let mut l = List::new();
            let mut m: Vec<SmallBytes> = Vec::new();
            let mut snapshots = Vec::new();
            for o in ops {
                // Old clones must never change (persistence).
                snapshots.push((l.clone(), m.clone()));
                match o {
                    Op::Push(left, v) => {
                        if left { l.push(End::Left, &val(v)); m.insert(0, val(v)); }
                        else { l.push(End::Right, &val(v)); m.push(val(v)); }
                    }
                    Op::Pop(left) => {
                        let (a, b) = if left {
                            (l.pop(End::Left), if m.is_empty() { None } else { Some(m.remove(0)) })
                        } else {
                            (l.pop(End::Right), m.pop())
                        };
                        prop_assert_eq!(a, b);
                    }
                    Op::Set(i, v) => {
                        let ok = i < m.len();
                        if ok { m[i] = val(v); }
                        prop_assert_eq!(l.set(i, &val(v)), ok);
                    }
                    Op::Insert(i, v) => {
                        let i = i.min(m.len());
                        m.insert(i, val(v));
                        l.insert(i, &val(v));
                    }
                    Op::Remove(i) => {
                        let b = if i < m.len() { Some(m.remove(i)) } else { None };
                        prop_assert_eq!(l.remove(i), b);
                    }
                    Op::Keep(a, b) => {
                        let end = b.min(m.len());
                        let start = a.min(end);
                        m = m[start..end].to_vec();
                        l.keep_range(a, b);
                    }
                    Op::RemoveEq(v, count, tail) => {
                        let target = val(v);
                        let limit = if count == 0 { usize::MAX } else { count };
                        let mut n = 0;
                        if tail {
                            let mut i = m.len();
                            while i > 0 && n < limit {
                                i -= 1;
                                if m[i] == target { m.remove(i); n += 1; }
                            }
                        } else {
                            let mut i = 0;
                            while i < m.len() && n < limit {
                                if m[i] == target { m.remove(i); n += 1; } else { i += 1; }
                            }
                        }
                        prop_assert_eq!(l.remove_eq(&target, count, tail), n);
                    }
                }
                prop_assert_eq!(l.len(), m.len());
                prop_assert!(l.iter().eq(m.iter().map(|e| e.as_slice())));
                prop_assert!(l.iter().rev().eq(m.iter().rev().map(|e| e.as_slice())));
                let (a, b) = (m.len() / 3, m.len() * 2 / 3 + 1);
                let want = &m[a.min(m.len())..b.min(m.len())];
                prop_assert!(l.range(a, b).eq(want.iter().map(|e| e.as_slice())));
                prop_assert_eq!(l.range(a, b).len(), want.len());
                // Both ends of one range, alternately.
                let mut it = l.range(a, b);
                let (mut i, mut j) = (0, want.len());
                while i < j {
                    prop_assert_eq!(it.next(), Some(want[i].as_slice()));
                    i += 1;
                    if i < j {
                        j -= 1;
                        prop_assert_eq!(it.next_back(), Some(want[j].as_slice()));
                    }
                }
                prop_assert_eq!(it.next(), None);
                prop_assert_eq!(it.next_back(), None);
                for (k, e) in m.iter().enumerate() {
                    prop_assert_eq!(l.get(k), Some(e.as_slice()));
                }
                prop_assert_eq!(l.get(m.len()), None);
                prop_assert_eq!(&l, &List::from_items(m.iter()));
            }
            for (l, m) in snapshots {
                prop_assert!(l.iter().eq(m.iter().map(|e| e.as_slice())));
            }
        }
    }
}
