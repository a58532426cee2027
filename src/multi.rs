//! Transactions: the MULTI queue of a client, the registry of watched keys,
//! and the write-transaction helpers that keep both in step with the engine.
//!
//! WATCH is checked on the engine, not by comparing values: while any client
//! watches a key, every write transaction runs with the version's write log
//! on (see `ferrous_storage::version`), and [`commit`] hands the log to
//! [`Watches::touch`] under the GIL before publishing. A touched key marks
//! its watchers dirty, so EXEC (which runs under the GIL too) sees every
//! change made by anyone since WATCH: commands, EXEC blocks, FLUSHDB,
//! FLUSHALL, SWAPDB, RENAME, MOVE and expiry deletions. Like Redis 7.0, a key
//! that was already expired when watched is not "changed" by its deletion,
//! and a watched key that expires before EXEC fails the transaction.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use ferrous_storage::{GilWait, Millis, Version, WriteLog, WriteTxn};

use crate::client::Client;
use crate::commands::{self, flags, CommandSpec, Ctx, Handler};
use crate::reply::ReplyBuf;
use crate::server::Server;

/// One client's watch on one key.
pub struct Watched {
    /// The client's "a watched key changed" flag (shared by all its watches).
    dirty: Arc<AtomicBool>,
    /// The key was logically expired when watched: its deletion is no change.
    expired: AtomicBool,
}

type KeyWatchers = HashMap<Bytes, Vec<Arc<Watched>>>;

/// Every watched key of the server, by database, with its watchers.
#[derive(Default)]
pub struct Watches {
    map: Mutex<BTreeMap<usize, KeyWatchers>>,
    /// Number of watched (db, key) pairs: zero means write logs stay off.
    keys: AtomicUsize,
}

impl Watches {
    /// Whether any client watches any key.
    #[inline]
    pub fn active(&self) -> bool {
        self.keys.load(Ordering::Relaxed) > 0
    }

    /// Number of watched keys (INFO `watching_clients`-style figures).
    pub fn len(&self) -> usize {
        self.keys.load(Ordering::Relaxed)
    }

    /// Whether no key is watched.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<usize, KeyWatchers>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add(&self, db: usize, key: Bytes, w: Arc<Watched>) {
        let mut map = self.lock();
        let list = map.entry(db).or_default().entry(key).or_default();
        if list.is_empty() {
            self.keys.fetch_add(1, Ordering::Relaxed);
        }
        list.push(w);
    }

    fn remove(&self, db: usize, key: &[u8], w: &Arc<Watched>) {
        let mut map = self.lock();
        let Some(keys) = map.get_mut(&db) else {
            return;
        };
        let Some(list) = keys.get_mut(key) else {
            return;
        };
        list.retain(|x| !Arc::ptr_eq(x, w));
        if list.is_empty() {
            keys.remove(key);
            self.keys.fetch_sub(1, Ordering::Relaxed);
            if keys.is_empty() {
                map.remove(&db);
            }
        }
    }

    /// Marks the watchers of every key in `log` dirty (called under the
    /// GIL, before the transaction that wrote `log` is published).
    pub fn touch(&self, log: &WriteLog, now: Millis) {
        let map = self.lock();
        if map.is_empty() {
            return;
        }
        for (db, key, exists) in &log.keys {
            let Some(list) = map.get(db).and_then(|m| m.get(&key[..])) else {
                continue;
            };
            for w in list {
                if w.expired.load(Ordering::Relaxed) && !exists {
                    // An expired key deleted: logically nothing changed.
                    w.expired.store(false, Ordering::Relaxed);
                } else {
                    w.dirty.store(true, Ordering::Relaxed);
                }
            }
        }
        for r in &log.replaced {
            let Some(keys) = map.get(&r.db) else {
                continue;
            };
            for (key, list) in keys {
                let before = r.before.get_raw(key).is_some();
                let after = r.after.as_ref().and_then(|a| a.get_raw(key));
                if !before && after.is_none() {
                    continue;
                }
                let after_expired = after.is_some_and(|e| e.is_expired(now));
                for w in list {
                    if w.expired.load(Ordering::Relaxed) {
                        if after.is_none() {
                            w.expired.store(false, Ordering::Relaxed);
                            continue;
                        }
                        if after_expired {
                            continue;
                        }
                    } else if !before && after_expired {
                        // Nothing replaced by a key that is already expired.
                        w.expired.store(true, Ordering::Relaxed);
                        continue;
                    }
                    w.dirty.store(true, Ordering::Relaxed);
                }
            }
        }
    }
}

/// A client's transaction state.
#[derive(Default)]
pub struct ClientTx {
    /// Commands queued since MULTI (`None`: not in MULTI).
    queue: Option<Vec<(&'static CommandSpec, Vec<Bytes>)>>,
    /// A command was refused while queueing: EXEC must abort.
    queue_error: bool,
    /// Set when a watched key changes.
    dirty: Arc<AtomicBool>,
    /// The client's watches.
    watched: Vec<(usize, Bytes, Arc<Watched>)>,
}

impl ClientTx {
    /// A transaction state whose dirty flag is `dirty` (shown by CLIENT LIST).
    pub fn new(dirty: Arc<AtomicBool>) -> ClientTx {
        // Not `..Default::default()`: that would allocate a flag only to
        // drop it.
        ClientTx {
            queue: None,
            queue_error: false,
            dirty,
            watched: Vec::new(),
        }
    }

    /// Whether the client is between MULTI and EXEC/DISCARD.
    #[inline]
    pub fn in_multi(&self) -> bool {
        self.queue.is_some()
    }

    /// Number of queued commands (CLIENT LIST `multi=`: -1 outside MULTI).
    pub fn queued(&self) -> i64 {
        self.queue.as_ref().map_or(-1, |q| q.len() as i64)
    }

    /// Number of watched keys (CLIENT LIST `watch=`).
    pub fn watching(&self) -> usize {
        self.watched.len()
    }
}

/// Opens a write transaction without waiting, with the write log on if
/// anyone watches a key. When the GIL is taken, says whether to wait for it
/// or to answer BUSY (a script has held it past `busy-reply-threshold`): the
/// decision of [`ferrous_storage::Store::begin_or_busy`], the code the loom
/// busy model checks. `now` is the caller's clock (`now_ms`), the same one
/// scripts mark their start with.
pub fn begin(srv: &Server, now: Millis) -> Result<WriteTxn<'_, Version>, GilWait> {
    let threshold = srv
        .config
        .hot
        .busy_reply_threshold
        .load(Ordering::Relaxed)
        .max(0) as u64;
    let mut t = srv.store.begin_or_busy(now, threshold)?;
    log_for_watchers(srv, &mut t);
    if crate::notify::wants_expired(srv) {
        t.log_key_events();
    }
    Ok(t)
}

/// Publishes `t`: touches watched keys it wrote, swaps it in, releases the
/// GIL, wakes writers waiting for it, hands blocked clients served in it
/// their replies, and publishes the keyspace events of
/// `client` (in commit order).
pub fn commit(srv: &Server, mut t: WriteTxn<'_, Version>, client: &mut Client, out: &mut ReplyBuf) {
    let served = crate::blocking::take_served(srv);
    let log = take_write_log(srv, &mut t, None);
    t.end_key_event_log();
    if client.events.is_empty() {
        t.commit();
    } else {
        let me = Some((client.info.id, out));
        srv.notify_order.hold(|| {
            t.commit();
            crate::notify::publish(srv, &mut client.events, me);
        });
    }
    srv.gil_released();
    crate::blocking::deliver(served);
    invalidate_tracked(srv, log, client.info.id);
}

/// Switches `t`'s write log on when WATCH or client tracking needs to know
/// which keys it changes.
pub fn log_for_watchers(srv: &Server, t: &mut WriteTxn<'_, Version>) {
    if srv.watches.active() || srv.tracking.active() {
        t.log_writes();
    }
}

/// Before `t` is published: touches the watched keys it wrote and takes its
/// write log (None when logging was off) for [`invalidate_tracked`].
/// `now` is the caller's clock, if it has read it (otherwise read here,
/// only when a watched key needs it).
pub fn take_write_log(
    srv: &Server,
    t: &mut WriteTxn<'_, Version>,
    now: Option<Millis>,
) -> Option<WriteLog> {
    if let Some(log) = t.unseen_writes() {
        srv.watches
            .touch(&log, now.unwrap_or_else(crate::server::now_ms));
    }
    t.take_writes()
}

/// After the publish: invalidates the tracked keys `log` records, on behalf
/// of client `by` (0: the server itself).
pub fn invalidate_tracked(srv: &Server, log: Option<WriteLog>, by: u64) {
    if let Some(log) = log.filter(|_| srv.tracking.active()) {
        srv.tracking.invalidate(srv, &log, by);
    }
}

/// The flags CLIENT PAUSE judges a command by: EXEC counts as writing when
/// its queue does.
pub fn pause_flags(client: &Client, spec: &CommandSpec) -> u32 {
    if spec.name != "exec" {
        return spec.flags;
    }
    client
        .tx
        .queue
        .iter()
        .flatten()
        .fold(spec.flags, |f, (s, _)| f | s.flags)
}

/// Commands that run at once inside MULTI instead of being queued.
fn runs_in_multi(spec: &CommandSpec) -> bool {
    matches!(
        spec.name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// Handles a command arriving while the client is in MULTI: refuses
/// `no-multi` commands (flagging the transaction) or queues it. Returns
/// false when the command must run now instead.
pub fn queue(
    client: &mut Client,
    out: &mut ReplyBuf,
    spec: &'static CommandSpec,
    args: &[Bytes],
) -> bool {
    if runs_in_multi(spec) {
        return false;
    }
    let Some(q) = client.tx.queue.as_mut() else {
        return false;
    };
    if spec.has(flags::NO_MULTI) {
        out.error("ERR Command not allowed inside a transaction");
        client.tx.queue_error = true;
        return true;
    }
    q.push((spec, args.to_vec()));
    client.info.multi.store(q.len() as i64, Ordering::Relaxed);
    out.status("QUEUED");
    true
}

/// Called after a command was refused before running (unknown, wrong
/// arity, NOAUTH, wrong context) with its error written after `mark`: a
/// refused EXEC aborts the transaction with Redis's EXECABORT form of the
/// error; any other refusal inside MULTI makes the coming EXEC abort.
pub fn rejected(
    srv: &Server,
    client: &mut Client,
    out: &mut ReplyBuf,
    args: &[Bytes],
    mark: usize,
) {
    if commands::is(&args[0], "exec") {
        let err = String::from_utf8_lossy(&out.buf[mark..]).into_owned();
        let err = err.trim_start_matches('-').trim_end();
        let err = err.strip_prefix("ERR ").unwrap_or(err).to_string();
        out.truncate(mark);
        out.errors = out.errors.saturating_sub(1);
        out.error_codes.pop();
        out.error(&format!(
            "EXECABORT Transaction discarded because of: {err}"
        ));
        discard_state(srv, client);
    } else if client.tx.in_multi() {
        client.tx.queue_error = true;
    }
}

/// Leaves MULTI and drops every watch.
fn discard_state(srv: &Server, client: &mut Client) {
    client.tx.queue = None;
    client.info.multi.store(-1, Ordering::Relaxed);
    client.tx.queue_error = false;
    unwatch_all(srv, client);
}

/// Drops every watch of `client` and clears its dirty flag.
pub fn unwatch_all(srv: &Server, client: &mut Client) {
    for (db, key, w) in client.tx.watched.drain(..) {
        srv.watches.remove(db, &key, &w);
    }
    client.tx.dirty.store(false, Ordering::Relaxed);
}

/// Forgets the transaction state of a client that disconnects or RESETs.
pub fn reset(srv: &Server, client: &mut Client) {
    discard_state(srv, client);
}

/// MULTI.
pub fn multi(ctx: &mut Ctx<'_>) {
    if ctx.client.tx.in_multi() {
        return ctx.err("ERR MULTI calls can not be nested");
    }
    ctx.client.tx.queue = Some(Vec::new());
    ctx.client.info.multi.store(0, Ordering::Relaxed);
    ctx.client.tx.queue_error = false;
    ctx.out.ok();
}

/// DISCARD.
pub fn discard(ctx: &mut Ctx<'_>) {
    if !ctx.client.tx.in_multi() {
        return ctx.err("ERR DISCARD without MULTI");
    }
    discard_state(ctx.srv, ctx.client);
    ctx.out.ok();
}

/// UNWATCH.
pub fn unwatch(ctx: &mut Ctx<'_>) {
    unwatch_all(ctx.srv, ctx.client);
    ctx.out.ok();
}

/// WATCH: runs under the GIL (a write handler) so no write can slip in
/// between reading a key's state and registering the watch.
pub fn watch(ctx: &mut Ctx<'_>, v: &mut Version) {
    if ctx.client.tx.in_multi() {
        return ctx.err("ERR WATCH inside MULTI is not allowed");
    }
    let db = ctx.db();
    for key in &ctx.args[1..] {
        if ctx
            .client
            .tx
            .watched
            .iter()
            .any(|(d, k, _)| *d == db && k == key)
        {
            continue;
        }
        let expired = v.db(db).get_raw(key).is_some_and(|e| e.is_expired(ctx.now));
        let w = Arc::new(Watched {
            dirty: ctx.client.tx.dirty.clone(),
            expired: AtomicBool::new(expired),
        });
        ctx.srv.watches.add(db, key.clone(), w.clone());
        ctx.client.tx.watched.push((db, key.clone(), w));
    }
    // This transaction's later writes (say a SET of the key in the same
    // pipeline) must be seen by the watch too.
    v.log_writes();
    ctx.out.ok();
}

/// Whether a watched key that was live when watched is expired now.
fn watched_key_expired(client: &Client, v: &Version, now: Millis) -> bool {
    client.tx.watched.iter().any(|(db, key, w)| {
        !w.expired.load(Ordering::Relaxed)
            && v.db(*db).get_raw(key).is_some_and(|e| e.is_expired(now))
    })
}

/// EXEC: runs the queue on the caller's write transaction `v`, so the
/// whole block is published by one swap with the rest of its batch; reads
/// inside see the block's own earlier writes.
pub fn exec(ctx: &mut Ctx<'_>, v: &mut Version) {
    let Some(queue) = ctx.client.tx.queue.take() else {
        return ctx.err("ERR EXEC without MULTI");
    };
    // Writes made earlier in this same transaction count as "since WATCH".
    if let Some(log) = v.unseen_writes() {
        ctx.srv.watches.touch(&log, ctx.now);
    }
    ctx.client.info.multi.store(-1, Ordering::Relaxed);
    let aborted = std::mem::take(&mut ctx.client.tx.queue_error);
    let dirty =
        ctx.client.tx.dirty.load(Ordering::Relaxed) || watched_key_expired(ctx.client, v, ctx.now);
    unwatch_all(ctx.srv, ctx.client);
    if aborted {
        return ctx.err("EXECABORT Transaction discarded because of previous errors.");
    }
    if dirty {
        return ctx.out.null_array();
    }
    ctx.out.array(queue.len());
    let table = commands::table();
    let mut tally = crate::cmdstats::Tally::default();
    for (spec, args) in &queue {
        let slot = table.slot(spec);
        if let Some(s) = slot {
            ctx.srv.cmdstats.before(&mut tally, spec, s);
        }
        let errors_before = ctx.out.errors;
        let around = crate::notify::before(ctx, spec, args, Some(v));
        let started = crate::clock::now();
        let mut inner = Ctx {
            srv: ctx.srv,
            client: &mut *ctx.client,
            out: &mut *ctx.out,
            args,
            now: ctx.now,
            dirty: 0,
            action: None,
            lookups: std::mem::take(&mut ctx.lookups),
            no_block: true,
            // A script queued in the block marks the EXEC's transaction.
            gil: ctx.gil.as_mut().map(|g| g.reborrow()),
        };
        match spec.handler {
            Handler::Read(f) => f(&mut inner, v),
            Handler::Write(f) => f(&mut inner, v),
            Handler::Conn(f) => f(&mut inner),
            Handler::Container => commands::command::bare_container(spec, &mut inner),
        }
        let Ctx {
            dirty,
            action,
            lookups,
            ..
        } = inner;
        ctx.lookups = lookups;
        ctx.dirty += dirty;
        crate::notify::after(ctx, spec, Some(v), around);
        if action.is_some() {
            ctx.action = action;
        }
        if ctx.client.caching.on {
            ctx.srv.tracking.after_command(ctx.client, spec, args, true);
        }
        // Monitors see each command of the block, then EXEC, as in Redis.
        if ctx.srv.clients.monitors.load(Ordering::Relaxed) > 0
            && !spec.has(flags::SKIP_MONITOR | flags::ADMIN)
        {
            crate::exec::feed_monitors(ctx.srv, ctx.client, args);
        }
        if let Some(slot) = slot {
            let failed = ctx.out.errors > errors_before;
            ctx.srv.cmdstats.call(
                &mut tally,
                slot,
                crate::clock::now().micros_since(started),
                failed,
            );
        }
    }
    ctx.srv.cmdstats.flush(&mut tally);
}
