//! Blocking commands (BLPOP, BLMOVE, BZPOPMIN, XREAD BLOCK, …): the generic
//! framework every blocking command uses.
//!
//! # Model (Redis 7.0 semantics)
//!
//! A blocking command is a write command: it runs under the GIL inside the
//! batch's write transaction. When it can serve at once it replies as usual.
//! When it cannot, it calls [`block`], which
//! * inside MULTI/EXEC and scripts (`ctx.no_block`) writes the command's
//!   timeout reply at once;
//! * otherwise registers the client as a waiter on its keys and writes no
//!   reply; the batch stops there and the connection waits (without the GIL)
//!   for a reply, its timeout, CLIENT UNBLOCK, a kill or a disconnect.
//!
//! Registering under the GIL, in the same transaction that found the keys
//! empty, means no wake-up can be lost: every later writer sees the waiter.
//!
//! Writers call [`crate::commands::Ctx::key_ready`] for every key that may now
//! serve a waiter (a push, ZADD, XADD, …). After each write command,
//! [`serve_ready`] takes the ready keys in the order they were signalled and,
//! for each, re-runs the command of every client waiting on it, first
//! blocked first, on the writer's private version, as that client (its
//! stored arguments, database and protocol). A re-run that can serve writes
//! its reply, which is handed to the waiter only after the transaction
//! commits ([`commit`]); a re-run that still cannot serve calls [`block`]
//! again, which then just leaves the client waiting in its place. A served
//! waiter's own writes (BLMOVE pushing to its destination) signal further
//! keys, served in the same pass.
//!
//! # Writers outside the plain batch loop
//!
//! `exec::run_batch` calls [`serve_ready`] after every write command and
//! commits through [`commit`]. Code that runs commands on its own write
//! transaction (EXEC, EVAL) is covered when it runs as one write command of
//! the batch; if it ever commits by itself, it must call [`serve_ready`]
//! before and [`commit`] for the commit, and [`Blocking::discard_ready`]
//! when it aborts.
//!
//! # Writing a blocking command
//!
//! ```ignore
//! fn blpop(ctx: &mut Ctx<'_>, v: &mut Version) {
//!     let args = ctx.args;
//!     let deadline = match blocking::parse_timeout(&args[args.len() - 1], ctx.now) {
//!         Ok(d) => d,
//!         Err(e) => return ctx.err(e),
//!     };
//!     let keys = &args[1..args.len() - 1];
//!     // On a re-run, only the key that was signalled (Redis 7.0).
//!     for key in &blocking::keys_to_serve(ctx, keys) {
//!         // Redis 7.0 keeps a waiter blocked when its key changed type:
//!         // only the first run reports WRONGTYPE.
//!         match pop_from(ctx, v, key) {
//!             Found(reply) => return reply,
//!             WrongType if !blocking::is_rerun(ctx) => return ctx.err(errors::WRONGTYPE),
//!             _ => {}
//!         }
//!     }
//!     blocking::block(ctx, keys, deadline, OnTimeout::NullArray);
//! }
//! ```
//!
//! A command that blocks with a cursor-like argument (XREAD `$`) must store
//! the resolved arguments: it passes them to [`block_with_args`].
//!
//! # Locks
//!
//! Order: GIL, then the waiter table, then the ready-key list. [`serve_ready`]
//! holds the waiter table while re-running commands, so a timeout or
//! CLIENT UNBLOCK can never race with a waiter being served; the re-run
//! itself only touches the ready-key list (through `key_ready`) and atomics.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferrous_storage::{Millis, Version};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::oneshot;

use crate::client::{Client, ClientInfo};
use crate::commands::{self, Action, Ctx, Handler};
use crate::reply::ReplyBuf;
use crate::server::{now_ms, Server};

/// Error for a timeout below zero.
pub const TIMEOUT_NEGATIVE: &str = "ERR timeout is negative";
/// Error for a timeout in seconds that is not a number.
pub const TIMEOUT_NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
/// Error for a timeout in milliseconds that is not an integer (XREAD BLOCK).
pub const TIMEOUT_NOT_INTEGER: &str = "ERR timeout is not an integer or out of range";
/// What a client unblocked by `CLIENT UNBLOCK id ERROR` receives.
pub const UNBLOCKED: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";

/// What a blocking command replies at once when it may not block (inside
/// MULTI/EXEC and scripts). A client whose timeout expires (or CLIENT
/// UNBLOCK … TIMEOUT) always gets a null array, as Redis 7.0 answers every
/// blocking command then, BLMOVE included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnTimeout {
    /// A null array (`*-1`, RESP3 `_`): BLPOP, BRPOP, BLMPOP, BZPOPMIN,
    /// BZMPOP, XREAD, XREADGROUP.
    NullArray,
    /// A null bulk string (`$-1`, RESP3 `_`): BLMOVE, BRPOPLPUSH.
    NullBulk,
}

impl OnTimeout {
    fn write(self, out: &mut ReplyBuf) {
        match self {
            OnTimeout::NullArray => out.null_array(),
            OnTimeout::NullBulk => out.null(),
        }
    }
}

/// Parses a timeout in seconds (fractions allowed, `0` = forever) as Redis
/// does, into an absolute deadline in ms (0 = none).
pub fn parse_timeout(arg: &[u8], now: Millis) -> Result<Millis, &'static str> {
    let Some(v) = commands::longdouble::LongDouble::parse(arg) else {
        return Err(TIMEOUT_NOT_FLOAT);
    };
    // Redis multiplies by 1000 in long double and casts to long long: out of
    // range (or infinite) values become LLONG_MIN, hence "negative", and
    // -0.0001 truncates to 0, i.e. forever.
    let ms = v.mul_trunc_i64(1000);
    deadline(ms, now)
}

/// Parses a timeout in milliseconds (XREAD/XREADGROUP BLOCK) into an
/// absolute deadline in ms (0 = none).
pub fn parse_timeout_ms(arg: &[u8], now: Millis) -> Result<Millis, &'static str> {
    let ms = ferrous_storage::value::parse_i64(arg).ok_or(TIMEOUT_NOT_INTEGER)?;
    deadline(ms, now)
}

fn deadline(ms: i64, now: Millis) -> Result<Millis, &'static str> {
    if ms < 0 {
        return Err(TIMEOUT_NEGATIVE);
    }
    if ms == 0 {
        return Ok(0);
    }
    Ok(now.saturating_add(ms as u64))
}

/// Whether the running command is being re-run on behalf of a blocked
/// client (from [`serve_ready`]) rather than called by the client itself.
pub fn is_rerun(ctx: &Ctx<'_>) -> bool {
    ctx.srv.blocking.rerun_id.load(Ordering::SeqCst) == ctx.client.info.id
}

/// When re-run for a blocked client, the key being served: Redis 7.0
/// serves a waiter from the key that was signalled (BLPOP on several keys
/// pops from that one; XREAD replies with that stream only), so a re-run
/// should consider this key alone. `None` on a normal call.
pub fn served_key(ctx: &Ctx<'_>) -> Option<Bytes> {
    if !is_rerun(ctx) {
        return None;
    }
    ctx.srv
        .blocking
        .served_key
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

/// The keys a blocking command should look at: all of `keys` on a normal
/// call, only the served key on a re-run (see [`served_key`]).
pub fn keys_to_serve(ctx: &Ctx<'_>, keys: &[Bytes]) -> Vec<Bytes> {
    match served_key(ctx) {
        Some(k) => vec![k],
        None => keys.to_vec(),
    }
}

/// Blocks the calling client on `keys` until one of them is signalled ready
/// and the command, re-run, can serve; or until `deadline` (ms, 0 = never).
/// Writes no reply, except in MULTI/EXEC and scripts, where `on_timeout` is
/// written at once. The stored command is `ctx.args`.
pub fn block(ctx: &mut Ctx<'_>, keys: &[Bytes], deadline: Millis, on_timeout: OnTimeout) {
    let args = ctx.args.to_vec();
    block_with_args(ctx, keys, deadline, on_timeout, args);
}

/// [`block`] storing `args` as the command to re-run (for commands whose
/// arguments must be resolved once, such as XREAD's `$`).
pub fn block_with_args(
    ctx: &mut Ctx<'_>,
    keys: &[Bytes],
    deadline: Millis,
    on_timeout: OnTimeout,
    args: Vec<Bytes>,
) {
    let b = &ctx.srv.blocking;
    if ctx.no_block {
        on_timeout.write(ctx.out);
        return;
    }
    if is_rerun(ctx) {
        b.still_blocked.store(true, Ordering::SeqCst);
        return;
    }
    let mut timeout_reply = ReplyBuf::new(ctx.out.resp3);
    timeout_reply.null_array();
    let (tx, rx) = oneshot::channel();
    let id = ctx.client.info.id;
    let db = ctx.db();
    let mut w = b.waiters();
    for k in keys {
        let q = w.by_key.entry((db, k.clone())).or_default();
        // A key named twice (BLPOP k k 0) queues the client once.
        if !q.contains(&id) {
            q.push_back(id);
        }
    }
    let mut key_list: Vec<Bytes> = keys.to_vec();
    key_list.dedup();
    w.waiters.insert(
        id,
        Waiter {
            info: ctx.client.info.clone(),
            args,
            db,
            resp3: ctx.out.resp3,
            keys: key_list,
            timeout_reply: Bytes::from(timeout_reply.buf),
            tx,
            deadline,
        },
    );
    w.parked.insert(id, (rx, deadline));
    drop(w);
    b.count.fetch_add(1, Ordering::SeqCst);
    ctx.client.info.blocked.store(true, Ordering::SeqCst);
    ctx.action = Some(Action::Block);
}

/// A blocked client.
struct Waiter {
    info: Arc<ClientInfo>,
    args: Vec<Bytes>,
    db: usize,
    resp3: bool,
    keys: Vec<Bytes>,
    timeout_reply: Bytes,
    tx: oneshot::Sender<Bytes>,
    deadline: Millis,
}

#[derive(Default)]
struct Waiters {
    waiters: HashMap<u64, Waiter>,
    by_key: HashMap<(usize, Bytes), VecDeque<u64>>,
    /// The receiving end of a newly blocked client, until its connection
    /// picks it up ([`wait`]).
    parked: HashMap<u64, (oneshot::Receiver<Bytes>, Millis)>,
}

impl Waiters {
    /// Removes waiter `id` from the table and from its keys' queues.
    fn remove(&mut self, id: u64) -> Option<Waiter> {
        let w = self.waiters.remove(&id)?;
        for k in &w.keys {
            let slot = (w.db, k.clone());
            if let Some(q) = self.by_key.get_mut(&slot) {
                q.retain(|&x| x != id);
                if q.is_empty() {
                    self.by_key.remove(&slot);
                }
            }
        }
        Some(w)
    }
}

#[derive(Default)]
struct Ready {
    order: VecDeque<(usize, Bytes)>,
    set: HashSet<(usize, Bytes)>,
    /// Replies of waiters served in the open transaction, sent at commit.
    served: Vec<(oneshot::Sender<Bytes>, Bytes)>,
}

/// The blocked clients of a server and the keys signalled ready.
#[derive(Default)]
pub struct Blocking {
    waiters: Mutex<Waiters>,
    ready: Mutex<Ready>,
    count: AtomicUsize,
    has_ready: AtomicBool,
    rerun_id: AtomicU64,
    served_key: Mutex<Option<Bytes>>,
    still_blocked: AtomicBool,
}

impl Blocking {
    fn waiters(&self) -> MutexGuard<'_, Waiters> {
        self.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn ready(&self) -> MutexGuard<'_, Ready> {
        self.ready.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of blocked clients (INFO `blocked_clients`).
    pub fn blocked_clients(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Number of blocked clients with a timeout (INFO
    /// `clients_in_timeout_table`).
    pub fn with_timeout(&self) -> usize {
        if self.blocked_clients() == 0 {
            return 0;
        }
        self.waiters()
            .waiters
            .values()
            .filter(|w| w.deadline != 0)
            .count()
    }

    /// Records that `key` of database `db` may serve blocked clients (see
    /// [`crate::commands::Ctx::key_ready`]). Cheap when nobody is blocked.
    pub fn signal(&self, db: usize, key: &[u8]) {
        if self.count.load(Ordering::SeqCst) == 0 {
            return;
        }
        let slot = (db, Bytes::copy_from_slice(key));
        let mut r = self.ready();
        if r.set.insert(slot.clone()) {
            r.order.push_back(slot);
            self.has_ready.store(true, Ordering::SeqCst);
        }
    }

    /// Signals every key a client waits on in database `db` (SWAPDB).
    pub fn signal_db(&self, db: usize) {
        if self.count.load(Ordering::SeqCst) == 0 {
            return;
        }
        let keys: Vec<Bytes> = self
            .waiters()
            .by_key
            .keys()
            .filter(|(d, _)| *d == db)
            .map(|(_, k)| k.clone())
            .collect();
        for k in keys {
            self.signal(db, &k);
        }
    }

    /// Whether keys were signalled since the last [`serve_ready`].
    #[inline]
    pub fn has_ready(&self) -> bool {
        self.has_ready.load(Ordering::Relaxed)
    }

    /// Forgets the signalled keys (after an aborted transaction).
    pub fn discard_ready(&self) {
        let mut r = self.ready();
        r.order.clear();
        r.set.clear();
        self.has_ready.store(false, Ordering::SeqCst);
    }

    fn unblocked(&self, w: &Waiter) {
        self.count.fetch_sub(1, Ordering::SeqCst);
        w.info.blocked.store(false, Ordering::SeqCst);
    }

    /// CLIENT UNBLOCK: answers client `id` with its timeout reply, or with
    /// the UNBLOCKED error when `error`. False when it is not blocked.
    pub fn unblock(&self, id: u64, error: bool) -> bool {
        let mut w = self.waiters();
        let Some(waiter) = w.remove(id) else {
            return false;
        };
        drop(w);
        self.unblocked(&waiter);
        let reply = if error {
            let mut out = ReplyBuf::new(waiter.resp3);
            out.error(UNBLOCKED);
            Bytes::from(out.buf)
        } else {
            waiter.timeout_reply.clone()
        };
        let _ = waiter.tx.send(reply);
        true
    }

    /// Forgets client `id` (disconnected or killed while blocked).
    pub fn forget(&self, id: u64) {
        let mut w = self.waiters();
        w.parked.remove(&id);
        if let Some(waiter) = w.remove(id) {
            drop(w);
            self.unblocked(&waiter);
        }
    }

    /// The timeout of client `id` expired: its timeout reply, unless it was
    /// served or unblocked meanwhile (then the reply is on its channel).
    fn expire(&self, id: u64) -> Option<Bytes> {
        let mut w = self.waiters();
        let waiter = w.remove(id)?;
        drop(w);
        self.unblocked(&waiter);
        Some(waiter.timeout_reply)
    }
}

/// Serves the clients blocked on the keys signalled so far, on the open
/// transaction `v` (see the module doc). Called after every write command.
pub fn serve_ready(
    srv: &Server,
    v: &mut Version,
    now: Millis,
    events: &mut crate::notify::Pending,
) {
    let b = &srv.blocking;
    loop {
        let slot = {
            let mut r = b.ready();
            match r.order.pop_front() {
                Some(s) => {
                    r.set.remove(&s);
                    s
                }
                None => {
                    b.has_ready.store(false, Ordering::SeqCst);
                    return;
                }
            }
        };
        let mut w = b.waiters();
        let Some(ids) = w.by_key.get(&slot).cloned() else {
            continue;
        };
        for id in ids {
            let Some(waiter) = w.waiters.get(&id) else {
                continue;
            };
            let Some(spec) = commands::table().get(&waiter.args[0]) else {
                continue;
            };
            let Handler::Write(f) = spec.handler else {
                continue;
            };
            let mut client = Client::detached(waiter.info.clone(), waiter.db);
            let mut out = ReplyBuf::new(waiter.resp3);
            let args = waiter.args.clone();
            *b.served_key.lock().unwrap_or_else(|e| e.into_inner()) = Some(slot.1.clone());
            b.rerun_id.store(id, Ordering::SeqCst);
            b.still_blocked.store(false, Ordering::SeqCst);
            let mut ctx = Ctx {
                srv,
                client: &mut client,
                out: &mut out,
                args: &args,
                now,
                dirty: 0,
                action: None,
                lookups: Default::default(),
                no_block: false,
                gil: None,
            };
            f(&mut ctx, v);
            let dirty = ctx.dirty;
            // The served command's keyspace events go out with the writer's.
            events.append(&mut client.events);
            b.rerun_id.store(0, Ordering::SeqCst);
            *b.served_key.lock().unwrap_or_else(|e| e.into_inner()) = None;
            if dirty > 0 {
                srv.stats.dirty.fetch_add(dirty, Ordering::Relaxed);
            }
            if b.still_blocked.load(Ordering::SeqCst) {
                continue;
            }
            if out.errors > 0 {
                srv.stats
                    .error_replies
                    .fetch_add(out.errors, Ordering::Relaxed);
            }
            if let Some(waiter) = w.remove(id) {
                b.unblocked(&waiter);
                b.ready().served.push((waiter.tx, Bytes::from(out.buf)));
            }
        }
    }
}

/// Replies of the waiters served in the open transaction; hand them over
/// with [`deliver`] only after the transaction commits (never before their
/// effects are visible). `crate::multi::commit` does both around the swap.
pub struct Served(Vec<(oneshot::Sender<Bytes>, Bytes)>);

/// Takes the replies of waiters served in the transaction about to commit.
pub fn take_served(srv: &Server) -> Served {
    Served(std::mem::take(&mut srv.blocking.ready().served))
}

/// Sends served waiters their replies (after the commit).
pub fn deliver(served: Served) {
    for (tx, reply) in served.0 {
        let _ = tx.send(reply);
    }
}

/// How a blocked connection's wait ended.
pub enum Woken {
    /// The reply to write (served, timed out or unblocked).
    Reply(Bytes),
    /// The peer closed the connection, or it was killed or the server stops.
    Gone,
}

/// Waits, without the GIL, for the blocked client's reply: served by a
/// writer, its timeout, or CLIENT UNBLOCK. Keeps reading the socket into
/// `inbuf` meanwhile (like Redis) so a disconnect is seen; the caller then
/// calls [`Blocking::forget`] (done once per connection in
/// `connection::serve`).
pub async fn wait<R: AsyncRead + Unpin>(
    srv: &Server,
    client: &Client,
    rd: &mut R,
    inbuf: &mut BytesMut,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<Woken> {
    let id = client.info.id;
    let Some((mut rx, deadline)) = srv.blocking.waiters().parked.remove(&id) else {
        return Ok(Woken::Gone);
    };
    let sleep = async {
        if deadline == 0 {
            std::future::pending::<()>().await;
        } else {
            let left = deadline.saturating_sub(now_ms());
            tokio::time::sleep(Duration::from_millis(left)).await;
        }
    };
    tokio::pin!(sleep);
    loop {
        if inbuf.capacity() - inbuf.len() < 4096 {
            inbuf.reserve(16 * 1024);
        }
        tokio::select! {
            r = &mut rx => return Ok(match r {
                Ok(reply) => Woken::Reply(reply),
                Err(_) => Woken::Gone,
            }),
            _ = &mut sleep => {
                if let Some(reply) = srv.blocking.expire(id) {
                    return Ok(Woken::Reply(reply));
                }
                // Served or unblocked just now: the reply is on its way.
                return Ok(match rx.await {
                    Ok(reply) => Woken::Reply(reply),
                    Err(_) => Woken::Gone,
                });
            }
            r = rd.read_buf(inbuf) => {
                if r? == 0 {
                    return Ok(Woken::Gone);
                }
            }
            _ = client.info.kill_notify.notified() => return Ok(Woken::Gone),
            _ = stop.changed() => return Ok(Woken::Gone),
        }
    }
}
