//! Client state: what a connection keeps for itself ([`Client`]) and what
//! other connections may see or change ([`ClientInfo`], in the registry that
//! CLIENT LIST / KILL / INFO read).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::{mpsc, Notify};

/// CLIENT REPLY mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMode {
    /// Replies are sent.
    On,
    /// No replies until CLIENT REPLY ON.
    Off,
    /// The next command's reply is dropped.
    SkipNext,
}

/// The part of a client visible to other connections.
pub struct ClientInfo {
    /// Unique, increasing id (CLIENT ID).
    pub id: u64,
    /// Peer address `ip:port`.
    pub addr: String,
    /// Local address `ip:port`.
    pub laddr: String,
    /// Socket file descriptor (CLIENT LIST `fd=`).
    pub fd: i64,
    /// Creation time, ms since the epoch.
    pub created_ms: u64,
    /// Last command time, ms since the epoch.
    pub last_interaction_ms: AtomicU64,
    /// CLIENT SETNAME.
    pub name: Mutex<Option<Bytes>>,
    /// Selected database.
    pub db: AtomicUsize,
    /// Protocol version (2 or 3).
    pub resp: AtomicU8,
    /// Last command: its slot in the command table plus one (0: none yet);
    /// the full name is `commands::table().named[slot].0`.
    pub last_cmd: AtomicUsize,
    /// Set by CLIENT KILL; the connection closes on the next wake-up.
    pub killed: AtomicBool,
    /// Wakes the connection when killed.
    pub kill_notify: Notify,
    /// The client is a MONITOR.
    pub monitor: AtomicBool,
    /// CLIENT NO-EVICT.
    pub no_evict: AtomicBool,
    /// Blocked in a blocking command (CLIENT LIST flag `b`).
    pub blocked: AtomicBool,
    /// Messages pushed to this client from elsewhere (MONITOR, pub/sub);
    /// send through `crate::pubsub::push` so they count as output buffer.
    pub push: mpsc::UnboundedSender<Bytes>,
    /// Commands queued since MULTI, -1 outside MULTI (CLIENT LIST `multi=`).
    pub multi: std::sync::atomic::AtomicI64,
    /// CLIENT TRACKING as CLIENT LIST shows it: flag bits (1 `t`, 2 `B`,
    /// 4 `R`) and the redirect id (-1: not tracking).
    pub tracking: crate::tracking::TrackingInfo,
    /// A watched key changed (CLIENT LIST flag `d`); shared with the
    /// transaction state.
    pub dirty_cas: std::sync::Arc<AtomicBool>,
    /// Pub/Sub counts and output-buffer accounting.
    pub sub: crate::pubsub::SubInfo,
}

impl ClientInfo {
    /// Marks the client killed and wakes its connection: through
    /// `kill_notify` while it writes or blocks, through an empty message on
    /// its push channel while it waits for a request (the channel is polled
    /// there anyway; a `Notify` would be registered and dropped per request).
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.kill_notify.notify_one();
        self.wake();
    }

    /// Wakes the connection if it waits for a request, so it looks at the
    /// killed flag and the shutdown signal.
    pub fn wake(&self) {
        let _ = self.push.send(Bytes::new());
    }
}

/// Connection-private client state.
pub struct Client {
    /// Shared part.
    pub info: Arc<ClientInfo>,
    /// Selected database (mirrored into `info.db`).
    pub db: usize,
    /// Passed AUTH (or no password is needed).
    pub authed: bool,
    /// CLIENT REPLY state.
    pub reply_mode: ReplyMode,
    /// MULTI queue and watched keys.
    pub tx: crate::multi::ClientTx,
    /// Pub/Sub subscriptions.
    pub subs: crate::pubsub::ClientSubs,
    /// Keyspace events waiting for the commit of the batch.
    pub events: crate::notify::Pending,
    /// CLIENT TRACKING on, and CLIENT CACHING's flag.
    pub caching: crate::tracking::ClientCaching,
    /// Made by [`Client::detached`]: the command runs outside the client's
    /// connection (a script's `redis.call`, or a blocked command served).
    pub detached: bool,
}

impl Client {
    /// Client state for running a command on behalf of client `info`
    /// outside its connection (a blocked client served by a writer, a
    /// script's `redis.call`): authenticated, replies on, no MULTI,
    /// subscriptions or tracking of its own.
    pub fn detached(info: Arc<ClientInfo>, db: usize) -> Client {
        Client {
            tx: crate::multi::ClientTx::new(info.dirty_cas.clone()),
            info,
            db,
            authed: true,
            reply_mode: ReplyMode::On,
            subs: Default::default(),
            events: Default::default(),
            caching: Default::default(),
            detached: true,
        }
    }

    /// Selects database `db`.
    pub fn select(&mut self, db: usize) {
        self.db = db;
        self.info.db.store(db, Ordering::Relaxed);
    }
}

/// All connected clients, by id.
#[derive(Default)]
pub struct Registry {
    clients: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
    next_id: AtomicU64,
    /// Number of MONITOR clients, checked on the hot path before any work.
    pub monitors: AtomicUsize,
}

impl Registry {
    /// A fresh client id.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }
    /// Registers a client.
    pub fn add(&self, c: Arc<ClientInfo>) {
        self.lock().insert(c.id, c);
    }
    /// Unregisters a client.
    pub fn remove(&self, id: u64) {
        if let Some(c) = self.lock().remove(&id) {
            if c.monitor.load(Ordering::Relaxed) {
                self.monitors.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
    /// Number of connected clients.
    pub fn len(&self) -> usize {
        self.lock().len()
    }
    /// Whether no client is connected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// A snapshot of all clients, by id.
    pub fn all(&self) -> Vec<Arc<ClientInfo>> {
        self.lock().values().cloned().collect()
    }
    /// One client.
    pub fn get(&self, id: u64) -> Option<Arc<ClientInfo>> {
        self.lock().get(&id).cloned()
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<ClientInfo>>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }
}
