//! Keyspace notifications: `notify-keyspace-events` parsing and its
//! canonical form, the per-client queue that [`crate::commands::Ctx::notify`]
//! fills, and publishing `__keyspace@<db>__:<key>` /
//! `__keyevent@<db>__:<event>` messages once the command's write
//! transaction has been published.
//!
//! Events wait in the client until its batch commits (a rolled-back
//! transaction's events are dropped with [`Pending::truncate`]). Commits
//! that carry events publish them under a small ordering lock taken after
//! the GIL, so subscribers see events in commit order.

use std::sync::atomic::Ordering;
use std::sync::Mutex;

use bytes::Bytes;
use ferrous_storage::{KeyEvent, Version};

use crate::commands::events::*;
use crate::reply::ReplyBuf;
use crate::server::Server;

/// `K`: publish on `__keyspace@<db>__:<key>`.
pub const KEYSPACE: u32 = 1 << 11;
/// `E`: publish on `__keyevent@<db>__:<event>`.
pub const KEYEVENT: u32 = 1 << 12;
/// `d`: module key type events.
pub const MODULE: u32 = 1 << 13;
/// `A`: every class but key misses and new keys.
pub const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// The letters in the order Redis prints them (after `A`, before `K`).
const LETTERS: &[(u8, u32)] = &[
    (b'g', GENERIC),
    (b'$', STRING),
    (b'l', LIST),
    (b's', SET),
    (b'h', HASH),
    (b'z', ZSET),
    (b'x', EXPIRED),
    (b'e', EVICTED),
    (b't', STREAM),
    (b'd', MODULE),
    (b'n', NEW),
];

/// Parses a `notify-keyspace-events` value, or `None` on an unknown letter.
pub fn parse(s: &[u8]) -> Option<u32> {
    let mut flags = 0;
    for &c in s {
        flags |= match c {
            b'A' => ALL,
            b'K' => KEYSPACE,
            b'E' => KEYEVENT,
            b'm' => KEY_MISS,
            c => LETTERS.iter().find(|(l, _)| *l == c)?.1,
        };
    }
    Some(flags)
}

/// The form CONFIG GET shows (like Redis, `n` is not shown next to `A`).
pub fn canonical(flags: u32) -> String {
    let mut s = String::new();
    if flags & ALL == ALL {
        s.push('A');
    } else {
        for (l, f) in LETTERS {
            if flags & f != 0 {
                s.push(*l as char);
            }
        }
    }
    if flags & KEYSPACE != 0 {
        s.push('K');
    }
    if flags & KEYEVENT != 0 {
        s.push('E');
    }
    if flags & KEY_MISS != 0 {
        s.push('m');
    }
    s
}

/// The stored form: the canonical one, plus a trailing `n` where the
/// canonical form hides it (so the flag survives a round trip).
pub fn stored(flags: u32) -> String {
    let mut s = canonical(flags);
    if flags & ALL == ALL && flags & NEW != 0 {
        s.push('n');
    }
    s
}

/// What CONFIG GET shows for a stored value.
pub fn shown(stored: &str) -> String {
    parse(stored.as_bytes()).map_or_else(|| stored.to_string(), canonical)
}

/// The configured flags (from the hot copy of the configuration).
#[inline]
pub fn flags(srv: &Server) -> u32 {
    srv.config.hot.notify_flags.load(Ordering::Relaxed) as u32
}

/// Whether `expired` or `new` events are wanted (write transactions then
/// keep the key event log, see `ferrous_storage::version`).
#[inline]
pub fn wants_expired(srv: &Server) -> bool {
    let f = flags(srv);
    f & (EXPIRED | NEW) != 0 && f & (KEYSPACE | KEYEVENT) != 0
}

/// Queues the events the database recorded itself (a multi-key command
/// calls it between keys so `new` and its own events interleave as in Redis).
pub fn queue_key_events(srv: &Server, p: &mut Pending, v: &mut Version) {
    for (db, key, e) in v.take_key_events() {
        match e {
            KeyEvent::Expired => queue(srv, p, EXPIRED, "expired", &key, db),
            KeyEvent::New => queue(srv, p, NEW, "new", &key, db),
        }
    }
}

/// One keyspace event waiting for its commit.
pub struct Event {
    event: &'static str,
    key: Bytes,
    db: usize,
    /// Where the client's reply stream was when it happened: a message for
    /// the client itself is spliced in there, as Redis would have sent it.
    at: usize,
}

/// A client's events not yet published.
#[derive(Default)]
pub struct Pending {
    events: Vec<Event>,
    /// The client's reply-buffer position for the next queued event.
    pub at: usize,
}

impl Pending {
    /// Number of events waiting (a mark for [`Pending::truncate`]).
    pub fn len(&self) -> usize {
        self.events.len()
    }
    /// Whether none is waiting.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
    /// Moves `other`'s events to the end of these, as if they had happened
    /// at this client's current reply position (events of commands run on
    /// the client's behalf: a script's `redis.call`s, a served blocked client).
    pub fn append(&mut self, other: &mut Pending) {
        if other.events.is_empty() {
            return;
        }
        let at = self.at;
        self.events
            .extend(other.events.drain(..).map(|e| Event { at, ..e }));
    }
    /// Drops the events queued after `mark` (their work was rolled back).
    pub fn truncate(&mut self, mark: usize) {
        self.events.truncate(mark);
    }
}

/// Queues event `event` of `class` for `key` of `db` if the configuration
/// asks for it.
#[inline]
pub fn queue(
    srv: &Server,
    p: &mut Pending,
    class: u32,
    event: &'static str,
    key: &[u8],
    db: usize,
) {
    let f = flags(srv);
    if f & class == 0 || f & (KEYSPACE | KEYEVENT) == 0 {
        return;
    }
    p.events.push(Event {
        event,
        key: Bytes::copy_from_slice(key),
        db,
        at: p.at,
    });
}

/// After a write command on `v`: queues `expired` and `new` events for the
/// keys it deleted as expired or created, before the command's own events
/// (queued from `mark` on), as Redis announces them when the key is looked
/// up or added, before the command's own event.
fn after_write(srv: &Server, p: &mut Pending, v: &mut Version, mark: usize) {
    let recorded = v.take_key_events();
    if recorded.is_empty() {
        return;
    }
    let own = p.events.split_off(mark.min(p.events.len()));
    if let Some(first) = own.first() {
        p.at = first.at;
    }
    for (db, key, e) in recorded {
        match e {
            KeyEvent::Expired => queue(srv, p, EXPIRED, "expired", &key, db),
            KeyEvent::New => queue(srv, p, NEW, "new", &key, db),
        }
    }
    p.events.extend(own);
}

/// Before write command `spec` runs: deletes its keys that have expired,
/// announcing each with an `expired` event, as Redis's lookup for a write
/// does (called only while `expired` events are wanted).
fn expire_keys_of(
    srv: &Server,
    p: &mut Pending,
    spec: &crate::commands::CommandSpec,
    args: &[Bytes],
    v: &mut Version,
    db: usize,
    now: ferrous_storage::Millis,
) {
    if !spec.has(crate::commands::flags::WRITE) {
        return;
    }
    let (first, last, step) = spec.keys;
    if first <= 0 || step <= 0 {
        return;
    }
    let argc = args.len() as i32;
    let last = if last < 0 {
        argc + last
    } else {
        last.min(argc - 1)
    };
    let mut i = first;
    while i <= last {
        if let Some(k) = args.get(i as usize) {
            if v.db_mut(db).expire_if_needed(k, now) {
                srv.stats.expired_keys.fetch_add(1, Ordering::Relaxed);
            }
        }
        i += step;
    }
    queue_key_events(srv, p, v);
}

/// The key arguments of `spec` (legacy positions) absent from `v` at
/// `now`: the candidates for `keymiss` events of the command about to run.
fn absent_keys(
    spec: &crate::commands::CommandSpec,
    args: &[Bytes],
    v: &Version,
    db: usize,
    now: ferrous_storage::Millis,
) -> Vec<Bytes> {
    let (first, last, step) = spec.keys;
    let mut out = Vec::new();
    if first <= 0 || step <= 0 {
        return out;
    }
    let argc = args.len() as i32;
    let last = if last < 0 {
        argc + last
    } else {
        last.min(argc - 1)
    };
    let mut i = first;
    while i <= last {
        if let Some(k) = args.get(i as usize) {
            if v.db(db).get(k, now).is_none() {
                out.push(k.clone());
            }
        }
        i += step;
    }
    out
}

/// Queues `keymiss` events for the first `misses` of `absent` (the keys a
/// command looked up in vain, counted by its keyspace-miss statistics).
/// They go before the events the command queued from `mark` on.
fn keymiss(srv: &Server, p: &mut Pending, absent: &[Bytes], misses: u64, db: usize, mark: usize) {
    let own = p.events.split_off(mark.min(p.events.len()));
    for k in absent.iter().take(misses as usize) {
        queue(srv, p, KEY_MISS, "keymiss", k, db);
    }
    p.events.extend(own);
}

/// What [`before`] noted about a command, for [`after`].
pub struct Around {
    events: usize,
    misses: u64,
    absent: Vec<Bytes>,
    at: usize,
}

/// Before a command runs (on `v`, the open write transaction, if any):
/// deletes and announces its expired keys (writes only) and notes what
/// [`after`] needs. `None` (one atomic load) when no event is wanted.
pub fn before(
    ctx: &mut crate::commands::Ctx<'_>,
    spec: &crate::commands::CommandSpec,
    args: &[Bytes],
    mut v: Option<&mut Version>,
) -> Option<Around> {
    let srv = ctx.srv;
    let f = flags(srv);
    if f & (KEYSPACE | KEYEVENT) == 0 {
        return None;
    }
    let at = ctx.out.mark();
    let (db, now) = (ctx.client.db, ctx.now);
    let write = matches!(spec.handler, crate::commands::Handler::Write(_));
    if let (true, Some(v)) = (write && f & (EXPIRED | NEW) != 0, v.as_deref_mut()) {
        ctx.client.events.at = at;
        expire_keys_of(srv, &mut ctx.client.events, spec, args, v, db, now);
    }
    let absent = if f & KEY_MISS != 0 && spec.keys.0 > 0 {
        match v.as_deref() {
            Some(v) => absent_keys(spec, args, v, db, now),
            None => srv.store.read(|v| absent_keys(spec, args, v, db, now)),
        }
    } else {
        Vec::new()
    };
    Some(Around {
        events: ctx.client.events.len(),
        misses: ctx.lookups.misses.get(),
        absent,
        at,
    })
}

/// After the command: queues the `expired`/`new` events the database
/// recorded and the `keymiss` events, before the command's own events.
pub fn after(
    ctx: &mut crate::commands::Ctx<'_>,
    spec: &crate::commands::CommandSpec,
    v: Option<&mut Version>,
    around: Option<Around>,
) {
    let Some(a) = around else {
        return;
    };
    let srv = ctx.srv;
    let write = matches!(spec.handler, crate::commands::Handler::Write(_));
    if let (true, Some(v)) = (write && wants_expired(srv), v) {
        ctx.client.events.at = a.at;
        after_write(srv, &mut ctx.client.events, v, a.events);
    }
    let misses = ctx.lookups.misses.get().saturating_sub(a.misses);
    if misses > 0 && !a.absent.is_empty() {
        ctx.client.events.at = a.at;
        let db = ctx.client.db;
        keymiss(srv, &mut ctx.client.events, &a.absent, misses, db, a.events);
    }
}

/// Serialises "commit, then publish its events" across writers.
#[derive(Default)]
pub struct Order(Mutex<()>);

impl Order {
    /// Holds the publishing order while `f` runs.
    pub fn hold<R>(&self, f: impl FnOnce() -> R) -> R {
        let _g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f()
    }
}

/// Publishes `events` (a message for client `me` goes to its `out`).
pub fn publish(srv: &Server, p: &mut Pending, mut me: Option<(u64, &mut ReplyBuf)>) {
    let f = flags(srv);
    // Messages for the client itself, spliced into its replies afterwards.
    let mut own = me.as_ref().map(|(_, out)| ReplyBuf::new(out.resp3));
    let id = me.as_ref().map(|(id, _)| *id);
    let mut splices = Vec::new();
    for e in p.events.drain(..) {
        let before = own.as_ref().map_or(0, |o| o.buf.len());
        if f & KEYSPACE != 0 {
            let mut ch = format!("__keyspace@{}__:", e.db).into_bytes();
            ch.extend_from_slice(&e.key);
            let me = id.zip(own.as_mut());
            srv.pubsub.publish(srv, &ch, e.event.as_bytes(), false, me);
        }
        if f & KEYEVENT != 0 {
            let ch = format!("__keyevent@{}__:{}", e.db, e.event);
            let me = id.zip(own.as_mut());
            srv.pubsub.publish(srv, ch.as_bytes(), &e.key, false, me);
        }
        let after = own.as_ref().map_or(0, |o| o.buf.len());
        if after > before {
            splices.push((e.at, before..after));
        }
    }
    if let (Some((_, out)), Some(own)) = (me.as_mut(), own) {
        // In position order (stable: same-place messages keep their order),
        // each insertion shifting the later ones.
        splices.sort_by_key(|(at, _)| *at);
        let mut shift = 0;
        for (at, range) in splices {
            let pos = (at + shift).min(out.buf.len());
            let len = range.len();
            out.buf.splice(pos..pos, own.buf[range].iter().copied());
            shift += len;
        }
    }
}

/// Publishes a client's pending events (after its commit, or at the end of
/// a batch for events of commands that wrote nothing).
pub fn flush(srv: &Server, p: &mut Pending, me: Option<(u64, &mut ReplyBuf)>) {
    if p.events.is_empty() {
        return;
    }
    srv.notify_order.hold(|| publish(srv, p, me));
}

/// Publishes `expired` events for keys the active expiry cycle deleted.
pub fn expired_by_cycle(srv: &Server, keys: &[(usize, ferrous_storage::SmallBytes)]) {
    let mut p = Pending::default();
    for (db, k) in keys {
        queue(srv, &mut p, EXPIRED, "expired", k, *db);
    }
    publish(srv, &mut p, None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip_like_redis() {
        let c = |s: &str| canonical(parse(s.as_bytes()).unwrap());
        assert_eq!(c("KEA"), "AKE");
        assert_eq!(c("Kg$lshzxetmdn"), "AKm");
        assert_eq!(c("Kgnd"), "gdnK");
        assert_eq!(c("Knm"), "nKm");
        assert_eq!(c(""), "");
        assert!(parse(b"Kq").is_none());
        assert!(parse(b"K E").is_none());
        // `n` next to `A` is hidden by CONFIG GET but kept.
        let f = parse(b"KEAn").unwrap();
        assert_eq!(stored(f), "AKEn");
        assert_eq!(shown(&stored(f)), "AKE");
        assert_eq!(parse(stored(f).as_bytes()), Some(f));
    }
}
