//! `Version`: one immutable state of all databases, and `Db`, one database.
//!
//! A `Db` is a persistent map from key to [`Entry`] plus an index of the keys
//! that carry an expiry (sampled by the active expiry cycle). Reads treat an
//! expired entry as absent and never write; writes through `&mut Db` remove
//! expired entries they meet.
//!
//! Write log (for WATCH): when switched on with [`Version::log_writes`],
//! every key a `Db` method modifies is recorded, and so is every database
//! FLUSHDB/FLUSHALL/SWAPDB replaces. The server drains the log under the GIL
//! before it commits ([`Version::take_writes`]), so the check covers every
//! command without each one having to report its keys; an aborted
//! transaction's log is dropped with it. Logging is off (one branch per
//! write) while no client watches a key.
//!
//! Key event log (for `expired` and `new` keyspace events): when switched on
//! with [`Version::log_key_events`], keys that a write deletes because they
//! had expired, and keys that are created, are recorded, so the server can
//! announce them right after the command that caused them.

use std::borrow::Borrow;
use std::sync::Arc;

use crate::hamt::HashTrie;
use crate::noderef::Locked;
use crate::value::WrongType;
use crate::{Entry, Millis, SmallBytes, Value};

/// One logical database.
#[derive(Clone, Default)]
pub struct Db {
    // `Locked` counts: the keyspace's path copies change node counts with
    // plain stores under the count lock (see `crate::noderef`).
    keys: HashTrie<SmallBytes, Entry, Locked>,
    expires: HashTrie<SmallBytes, Millis, Locked>,
    /// Keys modified while logging is on, each with whether it exists after
    /// the change; `None` when logging is off.
    written: Option<Vec<(SmallBytes, bool)>>,
    /// Keys deleted because they had expired (`false`) or created
    /// (`true`), while that log is on.
    events: Option<Vec<(SmallBytes, KeyEvent)>>,
    /// Entries of `written` already handed out by [`Version::unseen_writes`].
    seen: usize,
    /// While a savepoint covers this database key by key: each key's entry
    /// before its first change (see [`Version::set_savepoint`]).
    undo: Option<Undo>,
}

/// What a database looked like before a savepoint: the entry (or its
/// absence) of each key changed since, and the lengths of the logs; or,
/// past [`UNDO_MAX`] keys, the whole database.
#[derive(Clone, Default)]
struct Undo {
    /// `(key, entry before the first change)`, one per key, in change
    /// order: the first inline (most scripts change one key per database,
    /// and then record it without an allocation), the others in `more`.
    first: Option<(SmallBytes, Option<Entry>)>,
    more: Vec<(SmallBytes, Option<Entry>)>,
    /// The database as it was, once more than [`UNDO_MAX`] keys changed
    /// (nothing more is recorded then).
    whole: Option<Box<Db>>,
    written: Option<usize>,
    events: Option<usize>,
    seen: usize,
}

/// Most keys a database records one by one under a savepoint. Past them it
/// is saved whole: a script writing many keys then copies each trie node
/// once, as any transaction does, instead of paying a record per key (a
/// script setting 200,000 keys: 285–313 ms saved whole, 372–480 ms with a
/// record per key).
const UNDO_MAX: usize = 32;

impl Undo {
    fn has(&self, key: &[u8]) -> bool {
        let is = |e: &(SmallBytes, Option<Entry>)| e.0[..] == *key;
        self.first.as_ref().is_some_and(is) || self.more.iter().any(is)
    }
}

impl Db {
    /// Before a change of `key`: whether its entry must be recorded (a
    /// savepoint covers this database key by key and has no record of the
    /// key yet). Past [`UNDO_MAX`] keys the database is saved whole
    /// instead, and false returned.
    #[inline]
    fn undo_wants(&mut self, key: &[u8]) -> bool {
        let Some(u) = &self.undo else {
            return false;
        };
        if u.whole.is_some() || u.has(key) {
            return false;
        }
        if u.more.len() < UNDO_MAX - 1 {
            return true;
        }
        // Too many keys: keep the database as it was at the savepoint.
        let undo = self.undo.take();
        let mut before = self.clone();
        before.undo = undo;
        before.roll_back_undo();
        self.undo = Some(Undo {
            whole: Some(Box::new(before)),
            ..Undo::default()
        });
        false
    }

    /// Records `old` as `key`'s entry before the savepoint (after
    /// [`Db::undo_wants`] said so).
    fn undo_record(&mut self, key: &[u8], old: Option<Entry>) {
        if let Some(u) = &mut self.undo {
            let rec = (SmallBytes::from(key), old);
            match u.first {
                None => u.first = Some(rec),
                Some(_) => u.more.push(rec),
            }
        }
    }

    /// Starts recording each key's entry before its first change.
    fn start_undo(&mut self) {
        self.undo = Some(Undo {
            written: self.written.as_ref().map(Vec::len),
            events: self.events.as_ref().map(Vec::len),
            seen: self.seen,
            ..Undo::default()
        });
    }

    /// Puts back every key [`Db::start_undo`] saw change, and the logs'
    /// lengths, and stops recording.
    fn roll_back_undo(&mut self) {
        let Some(u) = self.undo.take() else {
            return;
        };
        if let Some(before) = u.whole {
            *self = *before;
            return;
        }
        for (key, old) in u.first.into_iter().chain(u.more).rev() {
            let (prev, expire) = match old {
                Some(e) => {
                    let x = e.expire;
                    (self.keys.insert(key.clone(), e), x)
                }
                None => (self.keys.remove::<[u8]>(&key).map(|(_, e)| e), 0),
            };
            if expire != 0 {
                self.expires.insert(key, expire);
            } else if prev.is_some_and(|p| p.expire != 0) {
                self.expires.remove::<[u8]>(&key);
            }
        }
        if let (Some(w), Some(n)) = (&mut self.written, u.written) {
            w.truncate(n);
        }
        if let (Some(x), Some(n)) = (&mut self.events, u.events) {
            x.truncate(n);
        }
        self.seen = u.seen;
    }

    /// Records a change of `key` when logging is on.
    #[inline]
    fn log(&mut self, key: &[u8], exists: bool) {
        if let Some(w) = &mut self.written {
            w.push((SmallBytes::from(key), exists));
        }
    }

    /// Takes back the write-log record that the last [`Db::get_mut`] of
    /// `key` made, for a command that got the entry for modification but
    /// changed nothing: Redis signals a key as modified (WATCH, client
    /// tracking) only when a command really changes it. Call it only right
    /// after the caller's own `get_mut` (or insert) of `key`, with no other
    /// write in between, or it could take back an earlier command's record.
    /// A no-op when the last record is another key's or was already handed
    /// out.
    pub fn unlog(&mut self, key: &[u8]) {
        if let Some(w) = &mut self.written {
            if w.len() > self.seen && w.last().is_some_and(|(k, e)| *e && k[..] == *key) {
                w.pop();
            }
        }
    }

    /// The same keys without the write log (what a replaced database was).
    fn without_log(&self) -> Db {
        Db {
            keys: self.keys.clone(),
            expires: self.expires.clone(),
            written: None,
            events: None,
            seen: 0,
            undo: None,
        }
    }

    /// Number of keys, counting expired ones not yet deleted (as Redis's DBSIZE).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there is no key at all.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Number of keys with an expiry.
    pub fn expires_len(&self) -> usize {
        self.expires.len()
    }

    /// The live entry of `key` at `now`.
    #[inline]
    pub fn get(&self, key: &[u8], now: Millis) -> Option<&Entry> {
        self.keys.get(key).filter(|e| !e.is_expired(now))
    }

    /// The entry of `key`, even if expired (for the expiry cycle and DEBUG).
    pub fn get_raw(&self, key: &[u8]) -> Option<&Entry> {
        self.keys.get(key)
    }

    /// The live entry of `key` for modification; an expired one is deleted.
    /// The caller must not change `expire` through it (use [`Db::set_expire`]).
    pub fn get_mut(&mut self, key: &[u8], now: Millis) -> Option<&mut Entry> {
        self.get_mut_typed(key, now, |_| true).unwrap_or(None)
    }

    /// [`Db::get_mut`] for a command that writes only values of one type:
    /// `Err(WrongType)` when the live value fails `is_type` (the key is then not
    /// recorded as written, as Redis does not touch a key on WRONGTYPE).
    pub fn get_mut_typed(
        &mut self,
        key: &[u8],
        now: Millis,
        is_type: impl Fn(&Value) -> bool,
    ) -> Result<Option<&mut Entry>, WrongType> {
        // One hash for the lookup and the path walk (the hottest write path).
        let hash = crate::hamt::hash_of(key);
        let Some(e) = self.keys.get_hashed(hash, key) else {
            return Ok(None);
        };
        if e.is_expired(now) {
            self.remove_expired(key);
            return Ok(None);
        }
        if !is_type(&e.value) {
            return Err(WrongType);
        }
        if self.undo_wants(key) {
            let old = self.keys.get_hashed(hash, key).cloned();
            self.undo_record(key, old);
        }
        self.log(key, true);
        Ok(self.keys.get_mut_present(hash, key))
    }

    /// The live entry of `key` for a change of representation only (an
    /// encoding conversion that Redis makes as a side effect of a read, as
    /// SORT does to a listpack sorted set): not recorded in the write log, so
    /// it neither touches WATCHers nor invalidates tracking caches. The caller
    /// must not change the entry's logical value nor its `expire`.
    pub fn get_mut_quiet(&mut self, key: &[u8], now: Millis) -> Option<&mut Entry> {
        let hash = crate::hamt::hash_of(key);
        if self.keys.get_hashed(hash, key)?.is_expired(now) {
            return None;
        }
        if self.undo_wants(key) {
            let old = self.keys.get_hashed(hash, key).cloned();
            self.undo_record(key, old);
        }
        self.keys.get_mut_present(hash, key)
    }

    /// Inserts or replaces `key`, keeping the expiry index in step with
    /// `entry.expire`. Returns the previous entry (possibly an expired one).
    pub fn insert(&mut self, key: SmallBytes, entry: Entry) -> Option<Entry> {
        let record = self.undo_wants(key.borrow());
        let expire = entry.expire;
        self.log(key.borrow(), true);
        if expire != 0 {
            self.expires.insert(key.clone(), expire);
        }
        let old = self.keys.insert(key.clone(), entry);
        if record {
            self.undo_record(key.borrow(), old.clone());
        }
        if old.is_none() {
            if let Some(x) = &mut self.events {
                x.push((key.clone(), KeyEvent::New));
            }
        }
        if expire == 0 && old.as_ref().is_some_and(|o| o.expire != 0) {
            self.expires.remove::<[u8]>(key.borrow());
        }
        old
    }

    /// Sets `key` to `entry` keeping the current expiry when `keep_ttl`.
    pub fn set(&mut self, key: &[u8], mut entry: Entry, keep_ttl: bool, now: Millis) {
        if self.events.is_some() {
            self.expire_if_needed(key, now);
        }
        if keep_ttl {
            if let Some(old) = self.get(key, now) {
                entry.expire = old.expire;
            }
        }
        self.insert(SmallBytes::from(key), entry);
    }

    /// Removes `key`, returning its entry (possibly an expired one).
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let record = self.undo_wants(key);
        let (_, e) = self.keys.remove(key)?;
        if record {
            self.undo_record(key, Some(e.clone()));
        }
        self.log(key, false);
        if e.expire != 0 {
            self.expires.remove(key);
        }
        Some(e)
    }

    /// Removes `key` if live at `now`; returns the live entry removed.
    pub fn remove_live(&mut self, key: &[u8], now: Millis) -> Option<Entry> {
        if self.expire_if_needed(key, now) {
            return None;
        }
        self.remove(key)
    }

    /// Removes an expired `key`, recording it in the expiry log.
    fn remove_expired(&mut self, key: &[u8]) {
        if self.remove(key).is_some() {
            if let Some(x) = &mut self.events {
                x.push((SmallBytes::from(key), KeyEvent::Expired));
            }
        }
    }

    /// Sets (or with 0 clears) the expiry of an existing key. Returns false if
    /// the key does not exist.
    pub fn set_expire(&mut self, key: &[u8], expire: Millis) -> bool {
        if self.undo_wants(key) {
            let old = self.keys.get(key).cloned();
            self.undo_record(key, old);
        }
        let Some(e) = self.keys.get_mut(key) else {
            return false;
        };
        let had = e.expire;
        e.expire = expire;
        self.log(key, true);
        if expire != 0 {
            let k = SmallBytes::from(key);
            self.expires.insert(k, expire);
        } else if had != 0 {
            self.expires.remove(key);
        }
        true
    }

    /// All entries (including expired ones), in hash order.
    pub fn iter(&self) -> impl Iterator<Item = (&SmallBytes, &Entry)> {
        self.keys.iter()
    }

    /// Entries with hash >= `cursor`, in ascending hash order (for SCAN).
    pub fn iter_from(&self, cursor: u64) -> impl Iterator<Item = (u64, &SmallBytes, &Entry)> {
        self.keys.iter_from(cursor)
    }

    /// A random live key, trying a few times before giving up on a db full of
    /// expired keys.
    pub fn random_key(&self, mut r: impl FnMut() -> u64, now: Millis) -> Option<&SmallBytes> {
        for _ in 0..100 {
            let (k, e) = self.keys.random_entry(r())?;
            if !e.is_expired(now) {
                return Some(k);
            }
        }
        self.keys
            .iter()
            .find(|(_, e)| !e.is_expired(now))
            .map(|(k, _)| k)
    }

    /// Deletes `key` if it is present but expired at `now` (what a write
    /// does when it meets an expired key). Returns whether it deleted one.
    pub fn expire_if_needed(&mut self, key: &[u8], now: Millis) -> bool {
        // Only a key in the expiry index can be expired.
        if self.expires.is_empty() {
            return false;
        }
        if self.keys.get(key).is_some_and(|e| e.is_expired(now)) {
            self.remove_expired(key);
            true
        } else {
            false
        }
    }

    /// One SCAN step: visits at least `count` entries (at least one) in
    /// ascending hash order from `cursor`, calling `f` on the live ones, and
    /// returns the cursor for the next step (the hash of the next entry), or
    /// 0 when the iteration is complete.
    ///
    /// A step never stops between two entries with the same hash, so the
    /// next cursor is always past everything visited: keys present during the
    /// whole iteration are returned at least once whatever is added or
    /// removed between steps, and a hash collision cannot loop forever.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        now: Millis,
        mut f: impl FnMut(&'a SmallBytes, &'a Entry),
    ) -> u64 {
        let count = count.max(1);
        let mut it = self.keys.iter_from(cursor).peekable();
        let mut visited = 0;
        let mut last = None;
        while let Some(&(h, k, e)) = it.peek() {
            if visited >= count && last != Some(h) {
                return h;
            }
            it.next();
            if !e.is_expired(now) {
                f(k, e);
            }
            visited += 1;
            last = Some(h);
        }
        0
    }

    /// A random key carrying an expiry, with its expiry (for the active cycle).
    pub fn random_expiring(&self, r: u64) -> Option<(&SmallBytes, Millis)> {
        self.expires.random_entry(r).map(|(k, t)| (k, *t))
    }
}

/// An event the database itself records in its key event log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyEvent {
    /// A write met the key expired and deleted it.
    Expired,
    /// The key was created.
    New,
}

/// One immutable state of every database.
///
/// Database 0 sits behind its own `Arc` and the others behind one more, so
/// a snapshot is two reference count increments; a writer copies only the
/// databases it writes ([`Version::db_mut`]), and a write to database 0 (the
/// default, where nearly all writes go) copies it alone, not the array of the
/// other databases' pointers with a reference count update for each (32
/// atomic operations per write transaction with 16 databases).
pub struct Version {
    first: Arc<Db>,
    /// Databases 1 and up.
    rest: Arc<Vec<Arc<Db>>>,
    /// Databases replaced while logging is on; `None` when it is off.
    replaced: Option<Vec<Replaced>>,
    /// Entries of `replaced` already handed out by [`Version::unseen_writes`].
    replaced_seen: usize,
    /// The rollback point of a running script, if any (see
    /// [`Version::set_savepoint`]).
    savepoint: Option<Savepoint>,
    /// Whether [`Version::log_key_events`] switched the key event log on
    /// (then every database logs): spares a commit a look at each of the
    /// 16 databases to learn that none does.
    key_events: bool,
}

impl Clone for Version {
    /// A copy of the databases and logs; a savepoint stays with the original
    /// (a database it covers key by key is copied without the record).
    fn clone(&self) -> Self {
        let mut c = Version {
            first: self.first.clone(),
            rest: self.rest.clone(),
            replaced: self.replaced.clone(),
            replaced_seen: self.replaced_seen,
            savepoint: None,
            key_events: self.key_events,
        };
        if let Some(sp) = &self.savepoint {
            for &i in sp.keyed.iter() {
                let db = c.slot_mut(i);
                let mut d = (**db).clone();
                d.undo = None;
                *db = Arc::new(d);
            }
        }
        c
    }
}

/// What [`Version::rollback`] puts back: the databases a script changed
/// key by key (each keeps the entries it changed, see [`Db::start_undo`]),
/// the databases replaced or changed as a whole (FLUSHDB, SWAPDB, turning a
/// log on), each saved whole before (an O(1) copy), and the length of the
/// replaced-database log.
struct Savepoint {
    /// Databases recording their changed keys (most savepoints, a
    /// script's, have one; inline so that a savepoint allocates nothing).
    keyed: SmallList<usize>,
    /// Databases saved whole.
    whole: SmallList<(usize, Arc<Db>)>,
    replaced_len: usize,
    replaced_seen: usize,
}

/// A list whose first element sits inline.
struct SmallList<T> {
    first: Option<T>,
    more: Vec<T>,
}

impl<T> Default for SmallList<T> {
    fn default() -> Self {
        SmallList {
            first: None,
            more: Vec::new(),
        }
    }
}

impl<T> SmallList<T> {
    fn push(&mut self, v: T) {
        match self.first {
            None => self.first = Some(v),
            Some(_) => self.more.push(v),
        }
    }

    fn iter(&self) -> impl Iterator<Item = &T> {
        self.first.iter().chain(self.more.iter())
    }

    fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let all: Vec<T> = self
            .first
            .take()
            .into_iter()
            .chain(self.more.drain(..))
            .collect();
        for v in all {
            if keep(&v) {
                self.push(v);
            }
        }
    }

    fn into_iter(self) -> impl Iterator<Item = T> {
        self.first.into_iter().chain(self.more)
    }
}

/// A database emptied (FLUSHDB, FLUSHALL) or swapped (SWAPDB) while the
/// write log was on.
pub struct Replaced {
    /// Its index.
    pub db: usize,
    /// Its contents before.
    pub before: Db,
    /// Its contents after a swap (`None`: emptied).
    pub after: Option<Db>,
}

impl Clone for Replaced {
    fn clone(&self) -> Self {
        Replaced {
            db: self.db,
            before: self.before.without_log(),
            after: self.after.as_ref().map(Db::without_log),
        }
    }
}

/// What a transaction changed while its write log was on.
#[derive(Default)]
pub struct WriteLog {
    /// `(db, key, exists afterwards)` for each key change, in order per db.
    pub keys: Vec<(usize, SmallBytes, bool)>,
    /// Databases replaced as a whole, in order.
    pub replaced: Vec<Replaced>,
}

/// Database `i` of a version's two parts (a free function so a caller
/// holding another field mutably can use it).
#[inline]
fn db_at<'a>(first: &'a Arc<Db>, rest: &'a [Arc<Db>], i: usize) -> &'a Arc<Db> {
    if i == 0 {
        first
    } else {
        &rest[i - 1]
    }
}

impl Version {
    /// `n` empty databases.
    pub fn new(n: usize) -> Version {
        Version {
            first: Arc::new(Db::default()),
            rest: Arc::new((1..n.max(1)).map(|_| Arc::new(Db::default())).collect()),
            replaced: None,
            replaced_seen: 0,
            savepoint: None,
            key_events: false,
        }
    }

    /// Starts a rollback point (a script's first write command): from now on
    /// each database records the entry of each key before its first change
    /// (a database replaced as a whole, by FLUSHDB or SWAPDB, is saved
    /// whole, an O(1) copy), so [`Version::rollback`] can put them back.
    /// Recording the keys a script changes, instead of saving the database,
    /// leaves the database unshared: a script's writes then change the
    /// trie in place as other commands of a pipelined batch do, instead of
    /// copying the path of each key from the root. Replaces an earlier
    /// savepoint.
    pub fn set_savepoint(&mut self) {
        self.release_savepoint();
        self.savepoint = Some(Savepoint {
            keyed: SmallList::default(),
            whole: SmallList::default(),
            replaced_len: self.replaced.as_ref().map_or(0, Vec::len),
            replaced_seen: self.replaced_seen,
        });
    }

    /// Puts back what changed since [`Version::set_savepoint`] (databases,
    /// their write and event logs, the replaced-database log) and ends the
    /// savepoint. A no-op without one.
    pub fn rollback(&mut self) {
        let Some(sp) = self.savepoint.take() else {
            return;
        };
        for i in sp.keyed.into_iter() {
            Arc::make_mut(self.slot_mut(i)).roll_back_undo();
        }
        for (i, db) in sp.whole.into_iter() {
            *self.slot_mut(i) = db;
        }
        if let Some(r) = &mut self.replaced {
            r.truncate(sp.replaced_len);
        }
        self.replaced_seen = sp.replaced_seen;
    }

    /// Ends the savepoint, keeping every change since it was set.
    pub fn release_savepoint(&mut self) {
        if let Some(sp) = self.savepoint.take() {
            for i in sp.keyed.into_iter() {
                Arc::make_mut(self.slot_mut(i)).undo = None;
            }
        }
    }

    /// Before database `i`'s first change since the savepoint: whether it
    /// must start recording its keys (it is then counted as doing so).
    #[inline]
    fn start_keyed(&mut self, i: usize) -> bool {
        match &mut self.savepoint {
            Some(sp) if !sp.keyed.iter().any(|&k| k == i) && !sp.whole.iter().any(|w| w.0 == i) => {
                sp.keyed.push(i);
                true
            }
            _ => false,
        }
    }

    /// Saves database `i` whole into the savepoint, as it was when the
    /// savepoint was set, before a change of the whole database.
    fn save(&mut self, i: usize) {
        let Some(sp) = &mut self.savepoint else {
            return;
        };
        if sp.whole.iter().any(|w| w.0 == i) {
            return;
        }
        let keyed = sp.keyed.iter().any(|&k| k == i);
        sp.keyed.retain(|&k| k != i);
        let db = if keyed {
            // Changed key by key so far: the copy is put back to the
            // savepoint, and the database stops recording.
            let live = Arc::make_mut(self.slot_mut(i));
            let mut before = live.clone();
            live.undo = None;
            before.roll_back_undo();
            Arc::new(before)
        } else {
            db_at(&self.first, &self.rest, i).clone()
        };
        if let Some(sp) = &mut self.savepoint {
            sp.whole.push((i, db));
        }
    }

    /// Every database for writing, saved into the savepoint first (the way
    /// to change them all; one database goes through [`Version::db_mut`]).
    fn dbs_mut(&mut self) -> impl Iterator<Item = &mut Db> {
        if self.savepoint.is_some() {
            for i in 0..self.num_dbs() {
                self.save(i);
            }
        }
        std::iter::once(Arc::make_mut(&mut self.first))
            .chain(Arc::make_mut(&mut self.rest).iter_mut().map(Arc::make_mut))
    }

    /// Database `i`'s pointer for replacing, the array of the others copied
    /// first if it is shared.
    fn slot_mut(&mut self, i: usize) -> &mut Arc<Db> {
        if i == 0 {
            &mut self.first
        } else {
            &mut Arc::make_mut(&mut self.rest)[i - 1]
        }
    }

    /// Switches the write log on (see the module doc). Idempotent.
    pub fn log_writes(&mut self) {
        if self.replaced.is_some() {
            return;
        }
        self.replaced = Some(Vec::new());
        self.replaced_seen = 0;
        for db in self.dbs_mut() {
            db.written = Some(Vec::new());
            db.seen = 0;
        }
    }

    /// What the write log recorded since the last call (copies; the log
    /// keeps everything for [`Version::take_writes`] and stays on). WATCH
    /// needs each change once and as soon as EXEC asks; other users need
    /// the whole log at commit.
    pub fn unseen_writes(&mut self) -> Option<WriteLog> {
        let replaced = self.replaced.as_ref()?;
        let mut log = WriteLog {
            keys: Vec::new(),
            replaced: replaced[self.replaced_seen..].to_vec(),
        };
        self.replaced_seen = replaced.len();
        if self
            .dbs()
            .any(|d| d.written.as_ref().is_some_and(|w| w.len() > d.seen))
        {
            for (i, db) in self.dbs_mut().enumerate() {
                if let Some(w) = &db.written {
                    log.keys
                        .extend(w[db.seen..].iter().map(|(k, e)| (i, k.clone(), *e)));
                    db.seen = w.len();
                }
            }
        }
        Some(log)
    }

    /// Whether the write log is on.
    pub fn logging(&self) -> bool {
        self.replaced.is_some()
    }

    /// Switches the key event log on (see the module doc). Idempotent.
    pub fn log_key_events(&mut self) {
        if self.key_events {
            return;
        }
        self.key_events = true;
        for db in self.dbs_mut() {
            db.events.get_or_insert_with(Vec::new);
        }
    }

    /// Key events recorded since the last call, by database; the log stays
    /// on. Cheap when nothing was recorded.
    pub fn take_key_events(&mut self) -> Vec<(usize, SmallBytes, KeyEvent)> {
        if !self.key_events
            || !self
                .dbs()
                .any(|d| d.events.as_ref().is_some_and(|x| !x.is_empty()))
        {
            return Vec::new();
        }
        let mut out = Vec::new();
        for i in 0..self.num_dbs() {
            if self.db(i).events.as_ref().is_some_and(|x| !x.is_empty()) {
                if let Some(x) = &mut self.db_mut(i).events {
                    out.extend(x.drain(..).map(|(k, e)| (i, k, e)));
                }
            }
        }
        out
    }

    /// Switches the key event log off (before a commit: a published version
    /// carries no log).
    pub fn end_key_event_log(&mut self) {
        if self.key_events {
            self.key_events = false;
            for db in self.dbs_mut() {
                db.events = None;
            }
        }
    }

    /// Switches the write log off and returns what it recorded (`None` if
    /// it was off).
    pub fn take_writes(&mut self) -> Option<WriteLog> {
        let replaced = self.replaced.take()?;
        self.replaced_seen = 0;
        let mut log = WriteLog {
            keys: Vec::new(),
            replaced,
        };
        for (i, db) in self.dbs_mut().enumerate() {
            if let Some(w) = db.written.take() {
                log.keys.extend(w.into_iter().map(|(k, e)| (i, k, e)));
            }
            db.seen = 0;
        }
        Some(log)
    }

    /// Number of databases.
    pub fn num_dbs(&self) -> usize {
        1 + self.rest.len()
    }

    /// Database `i` (callers validate `i` against [`Version::num_dbs`]).
    #[inline]
    pub fn db(&self, i: usize) -> &Db {
        db_at(&self.first, &self.rest, i)
    }

    /// Database `i` for writing.
    #[inline]
    pub fn db_mut(&mut self, i: usize) -> &mut Db {
        if self.savepoint.is_some() && self.start_keyed(i) {
            let db = Arc::make_mut(self.slot_mut(i));
            db.start_undo();
            return db;
        }
        Arc::make_mut(self.slot_mut(i))
    }

    /// All databases, in index order.
    pub fn dbs(&self) -> impl Iterator<Item = &Db> {
        std::iter::once(&*self.first).chain(self.rest.iter().map(|d| &**d))
    }

    /// Empties database `i`.
    pub fn flush(&mut self, i: usize) {
        if self.replaced.is_some() {
            let before = self.db(i).without_log();
            if let Some(r) = &mut self.replaced {
                r.push(Replaced {
                    db: i,
                    before,
                    after: None,
                });
            }
        }
        self.save(i);
        let db = self.db_mut(i);
        let written = db.written.take();
        let events = db.events.take();
        let seen = db.seen;
        *db = Db::default();
        db.written = written;
        db.events = events;
        db.seen = seen;
    }

    /// Empties every database.
    pub fn flush_all(&mut self) {
        for i in 0..self.num_dbs() {
            self.flush(i);
        }
    }

    /// Swaps two databases (SWAPDB). Each keeps its own write log: the log
    /// follows the database index, as watched keys do.
    pub fn swap(&mut self, a: usize, b: usize) {
        if self.replaced.is_some() {
            let (da, db) = (self.db(a).without_log(), self.db(b).without_log());
            let r = self.replaced.get_or_insert_with(Vec::new);
            r.push(Replaced {
                db: a,
                before: da.without_log(),
                after: Some(db.without_log()),
            });
            r.push(Replaced {
                db: b,
                before: db,
                after: Some(da),
            });
        }
        self.save(a);
        self.save(b);
        if a != b {
            let da = self.slot_mut(a).clone();
            let db = std::mem::replace(self.slot_mut(b), da);
            *self.slot_mut(a) = db;
        }
        // The logs went with the contents; put them back with the index.
        type Logs = (
            Option<Vec<(SmallBytes, bool)>>,
            Option<Vec<(SmallBytes, KeyEvent)>>,
            usize,
        );
        fn take(d: &mut Arc<Db>) -> Logs {
            let d = Arc::make_mut(d);
            (d.written.take(), d.events.take(), d.seen)
        }
        fn put(d: &mut Arc<Db>, (w, e, s): Logs) {
            let d = Arc::make_mut(d);
            (d.written, d.events, d.seen) = (w, e, s);
        }
        let (la, lb) = (take(self.slot_mut(a)), take(self.slot_mut(b)));
        put(self.slot_mut(a), lb);
        put(self.slot_mut(b), la);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;

    /// Every database's keys and values, for comparing whole versions.
    fn contents(v: &Version) -> Vec<Vec<(Vec<u8>, Value)>> {
        v.dbs()
            .map(|db| {
                let mut kv: Vec<_> = db
                    .keys
                    .iter()
                    .map(|(k, e)| (k[..].to_vec(), e.value.clone()))
                    .collect();
                kv.sort_by(|a, b| a.0.cmp(&b.0));
                kv
            })
            .collect()
    }

    fn put(v: &mut Version, db: usize, k: &str, val: &str) {
        v.db_mut(db)
            .set(k.as_bytes(), Entry::new(Value::string(val)), false, 0);
    }

    #[test]
    fn rollback_restores_every_database_the_savepoint_saw_change() {
        let mut v = Version::new(8);
        for db in 0..8 {
            put(&mut v, db, "k", &format!("v{db}"));
        }
        v.log_writes();
        put(&mut v, 0, "before", "x");
        let before = contents(&v);
        let log_before = v.unseen_writes().map(|l| l.keys.len());
        put(&mut v, 0, "before2", "y");
        let before2 = contents(&v);

        v.set_savepoint();
        put(&mut v, 0, "k", "changed");
        put(&mut v, 3, "new", "n");
        v.db_mut(4).remove(b"k");
        v.swap(1, 2);
        v.flush(5);
        v.flush_all();
        assert_ne!(contents(&v), before2);
        v.rollback();
        assert_eq!(contents(&v), before2);
        // The write log is back too: only the write made before the savepoint
        // is still unseen, and the replaced-database log lost the flushes.
        let log = v.unseen_writes().expect("logging stays on");
        assert_eq!(log.keys.len(), 1);
        assert!(log.replaced.is_empty());
        assert_eq!(log_before, Some(1));
        assert_ne!(contents(&v), before);

        // A released savepoint keeps the changes, and later writes are not
        // saved any more.
        v.set_savepoint();
        put(&mut v, 6, "kept", "1");
        v.release_savepoint();
        put(&mut v, 7, "kept", "2");
        v.rollback();
        assert_eq!(
            v.db(6).get(b"kept", 0).map(|e| &e.value),
            Some(&Value::string("1"))
        );
        assert_eq!(
            v.db(7).get(b"kept", 0).map(|e| &e.value),
            Some(&Value::string("2"))
        );
    }

    #[test]
    fn a_savepoint_past_its_key_records_saves_the_database_whole() {
        let mut v = Version::new(1);
        put(&mut v, 0, "k0", "before");
        let before = contents(&v);
        v.set_savepoint();
        for i in 0..UNDO_MAX + 8 {
            put(&mut v, 0, &format!("k{i}"), "after");
        }
        assert!(v.db(0).undo.as_ref().is_some_and(|u| u.whole.is_some()));
        v.rollback();
        assert_eq!(contents(&v), before);
    }

    #[test]
    fn a_clone_does_not_carry_the_savepoint() {
        let mut v = Version::new(2);
        v.set_savepoint();
        put(&mut v, 0, "a", "1");
        let mut c = v.clone();
        c.rollback();
        assert!(c.db(0).get(b"a", 0).is_some());
        v.rollback();
        assert!(v.db(0).get(b"a", 0).is_none());
    }

    #[test]
    fn expiry_is_lazy_on_read_and_applied_on_write() {
        let mut db = Db::default();
        let mut e = Entry::new(Value::string("v"));
        e.expire = 100;
        db.insert("k".into(), e);
        assert_eq!(db.expires_len(), 1);
        assert!(db.get(b"k", 99).is_some());
        assert!(db.get(b"k", 100).is_none());
        assert_eq!(db.len(), 1, "a read does not delete");
        assert!(db.get_mut(b"k", 100).is_none());
        assert_eq!((db.len(), db.expires_len()), (0, 0));
    }

    #[test]
    fn unlog_and_quiet_writes_leave_no_record() {
        let mut v = Version::new(1);
        v.db_mut(0)
            .insert("a".into(), Entry::new(Value::string("1")));
        v.log_writes();
        let db = v.db_mut(0);
        assert!(db.get_mut(b"a", 0).is_some());
        db.unlog(b"b");
        db.unlog(b"a");
        assert!(db.get_mut_quiet(b"a", 0).is_some());
        db.insert("b".into(), Entry::new(Value::string("1")));
        assert!(db.get_mut(b"b", 0).is_some());
        db.unlog(b"b");
        db.remove(b"b");
        db.unlog(b"b");
        let log = v.take_writes().unwrap();
        let keys: Vec<(&[u8], bool)> = log.keys.iter().map(|(_, k, e)| (&k[..], *e)).collect();
        assert_eq!(keys, [(&b"b"[..], true), (b"b", false)]);
    }

    #[test]
    fn write_log_records_changes_only_while_on() {
        let mut v = Version::new(4);
        v.db_mut(0)
            .insert("a".into(), Entry::new(Value::string("1")));
        assert!(v.take_writes().is_none());
        v.log_writes();
        assert!(v.logging());
        v.db_mut(0)
            .insert("b".into(), Entry::new(Value::string("1")));
        v.db_mut(1).remove(b"missing");
        v.db_mut(0).remove(b"a");
        assert!(v.db_mut(0).get_mut(b"b", 0).is_some());
        v.flush(2);
        v.swap(0, 3);
        let log = v.take_writes().unwrap();
        let keys: Vec<(usize, &[u8], bool)> =
            log.keys.iter().map(|(d, k, e)| (*d, &k[..], *e)).collect();
        assert_eq!(
            keys,
            [(0, &b"b"[..], true), (0, b"a", false), (0, b"b", true)]
        );
        assert_eq!(log.replaced.len(), 3);
        assert_eq!((log.replaced[1].db, log.replaced[2].db), (0, 3));
        assert!(log.replaced[1].before.get_raw(b"b").is_some());
        assert!(log.replaced[2]
            .after
            .as_ref()
            .unwrap()
            .get_raw(b"b")
            .is_some());
        assert!(!v.logging());
        v.log_writes();
        v.db_mut(1)
            .insert("c".into(), Entry::new(Value::string("1")));
        assert_eq!(v.unseen_writes().unwrap().keys.len(), 1);
        assert_eq!(v.unseen_writes().unwrap().keys.len(), 0);
        v.db_mut(1).remove(b"c");
        assert_eq!(v.unseen_writes().unwrap().keys.len(), 1);
        assert_eq!(v.take_writes().unwrap().keys.len(), 2);
        v.db_mut(3).remove(b"b");
        assert!(v.take_writes().is_none());
    }

    #[test]
    fn insert_without_expiry_clears_index() {
        let mut db = Db::default();
        let mut e = Entry::new(Value::string("v"));
        e.expire = 100;
        db.insert("k".into(), e);
        db.insert("k".into(), Entry::new(Value::string("w")));
        assert_eq!(db.expires_len(), 0);
        assert!(db.set_expire(b"k", 5));
        assert_eq!(db.expires_len(), 1);
        assert!(db.set_expire(b"k", 0));
        assert_eq!(db.expires_len(), 0);
        assert!(!db.set_expire(b"nope", 5));
    }

    #[test]
    fn expire_if_needed_deletes_only_expired() {
        let mut db = Db::default();
        let mut e = Entry::new(Value::string("v"));
        e.expire = 100;
        db.insert("k".into(), e);
        db.insert("p".into(), Entry::new(Value::string("v")));
        assert!(!db.expire_if_needed(b"k", 99));
        assert!(!db.expire_if_needed(b"p", 1000));
        assert!(!db.expire_if_needed(b"nope", 1000));
        assert!(db.expire_if_needed(b"k", 100));
        assert_eq!((db.len(), db.expires_len()), (1, 0));
    }

    fn scan_all(db: &Db, count: usize, now: Millis) -> (Vec<Vec<u8>>, usize) {
        let mut seen = Vec::new();
        let mut cursor = 0;
        let mut steps = 0;
        loop {
            cursor = db.scan(cursor, count, now, |k, _| seen.push(k.to_vec()));
            steps += 1;
            if cursor == 0 {
                return (seen, steps);
            }
        }
    }

    #[test]
    fn scan_visits_every_live_key_once_when_unchanged() {
        let mut db = Db::default();
        for i in 0..100 {
            let mut e = Entry::new(Value::string("v"));
            if i % 10 == 0 {
                e.expire = 50;
            }
            db.insert(format!("k{i}").as_str().into(), e);
        }
        for count in [1, 7, 10, 1000] {
            let (mut seen, steps) = scan_all(&db, count, 60);
            seen.sort();
            let mut want: Vec<Vec<u8>> = (0..100)
                .filter(|i| i % 10 != 0)
                .map(|i| format!("k{i}").into_bytes())
                .collect();
            want.sort();
            assert_eq!(seen, want, "count {count}");
            assert_eq!(steps, 100usize.div_ceil(count), "count {count}");
        }
        assert_eq!(Db::default().scan(0, 10, 0, |_, _| panic!()), 0);
    }

    #[test]
    fn scan_cursor_survives_changes() {
        let mut db = Db::default();
        for i in 0..50 {
            db.insert(
                format!("old{i}").as_str().into(),
                Entry::new(Value::string("v")),
            );
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            cursor = db.scan(cursor, 3, 0, |k, _| {
                seen.insert(k.to_vec());
            });
            // Churn between steps: add new keys, remove some transient ones.
            for j in 0..5 {
                db.insert(
                    format!("new{round}-{j}").as_str().into(),
                    Entry::new(Value::string("v")),
                );
            }
            db.remove(format!("new{}-0", round.max(1) - 1).as_bytes());
            round += 1;
            if cursor == 0 {
                break;
            }
        }
        for i in 0..50 {
            assert!(seen.contains(format!("old{i}").as_bytes()), "old{i} missed");
        }
    }

    /// A change made to a version in the savepoint model test.
    #[derive(Clone, Debug)]
    enum Op {
        Set(usize, u8, u8, Millis),
        Del(usize, u8),
        Expire(usize, u8, Millis),
        Append(usize, u8),
        ExpireIfNeeded(usize, u8, Millis),
        Flush(usize),
        Swap(usize, usize),
    }

    /// A change; with `whole`, FLUSHDB and SWAPDB too (which save a
    /// database whole, so the key records seldom fill up).
    fn op(whole: bool) -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        // 48 keys, most changes in database 0: without `whole` it often
        // passes `UNDO_MAX` and is saved whole.
        let db = prop_oneof![6 => Just(0usize), 1 => 1..3usize];
        let key = 0..48u8;
        let w = u32::from(whole);
        prop_oneof![
            8 => (db.clone(), key.clone(), any::<u8>(), prop_oneof![Just(0), 1..60u64])
                .prop_map(|(d, k, v, t)| Op::Set(d, k, v, t)),
            3 => (db.clone(), key.clone()).prop_map(|(d, k)| Op::Del(d, k)),
            3 => (db.clone(), key.clone(), prop_oneof![Just(0), 1..60u64])
                .prop_map(|(d, k, t)| Op::Expire(d, k, t)),
            4 => (db.clone(), key.clone()).prop_map(|(d, k)| Op::Append(d, k)),
            2 => (db.clone(), key, 0..60u64).prop_map(|(d, k, t)| Op::ExpireIfNeeded(d, k, t)),
            w => db.clone().prop_map(Op::Flush),
            w => (db.clone(), db).prop_map(|(a, b)| Op::Swap(a, b)),
        ]
    }

    fn apply(v: &mut Version, op: &Op) {
        let key = |k: u8| format!("key{k}");
        match *op {
            Op::Set(d, k, val, t) => {
                let mut e = Entry::new(Value::string(vec![val]));
                e.expire = t;
                v.db_mut(d).insert(key(k).as_str().into(), e);
            }
            Op::Del(d, k) => {
                v.db_mut(d).remove(key(k).as_bytes());
            }
            Op::Expire(d, k, t) => {
                v.db_mut(d).set_expire(key(k).as_bytes(), t);
            }
            Op::Append(d, k) => {
                if let Some(Value::Str { bytes, raw }) = v
                    .db_mut(d)
                    .get_mut(key(k).as_bytes(), 30)
                    .map(|e| &mut e.value)
                {
                    let mut b = bytes.to_vec();
                    b.push(b'+');
                    *bytes = b.into();
                    *raw = true;
                }
            }
            Op::ExpireIfNeeded(d, k, now) => {
                v.db_mut(d).expire_if_needed(key(k).as_bytes(), now);
            }
            Op::Flush(d) => v.flush(d),
            Op::Swap(a, b) => v.swap(a, b),
        }
    }

    /// Everything a rollback must put back: entries with their expiry, the
    /// expiry index, the logs.
    #[allow(clippy::type_complexity)]
    fn state(
        v: &Version,
    ) -> Vec<(
        Vec<(Vec<u8>, Value, Millis)>,
        Vec<(Vec<u8>, Millis)>,
        Option<Vec<(SmallBytes, bool)>>,
        Option<Vec<(SmallBytes, KeyEvent)>>,
        usize,
    )> {
        v.dbs()
            .map(|db| {
                let mut kv: Vec<_> = db
                    .keys
                    .iter()
                    .map(|(k, e)| (k.to_vec(), e.value.clone(), e.expire))
                    .collect();
                kv.sort_by(|a, b| a.0.cmp(&b.0));
                let mut x: Vec<_> = db.expires.iter().map(|(k, t)| (k.to_vec(), *t)).collect();
                x.sort();
                (kv, x, db.written.clone(), db.events.clone(), db.seen)
            })
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn a_savepoint_puts_back_exactly_what_changed(
            before in proptest::collection::vec(op(true), 0..60),
            after in proptest::prop_oneof![
                proptest::collection::vec(op(true), 0..60),
                proptest::collection::vec(op(false), 0..120),
            ],
            logs in 0..3u8,
            release in proptest::bool::ANY,
        ) {
            let mut v = Version::new(3);
            if logs & 1 == 1 {
                v.log_writes();
            }
            if logs & 2 == 2 {
                v.log_key_events();
            }
            for op in &before {
                apply(&mut v, op);
            }
            let saved = state(&v);
            let mut plain = v.clone();
            v.set_savepoint();
            for op in &after {
                apply(&mut v, op);
                apply(&mut plain, op);
            }
            let replaced = v.replaced.as_ref().map(Vec::len);
            if release {
                v.release_savepoint();
                proptest::prop_assert_eq!(state(&v), state(&plain));
                proptest::prop_assert_eq!(replaced, plain.replaced.as_ref().map(Vec::len));
            } else {
                v.rollback();
                proptest::prop_assert_eq!(state(&v), saved);
            }
            proptest::prop_assert!(v.dbs().all(|d| d.undo.is_none()));
        }
    }
}
