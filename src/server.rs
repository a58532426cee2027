//! The process-wide server state and the listener: accepting connections,
//! `maxclients`, protected mode, signals, the active expiry cycle, shutdown.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferrous_storage::{Millis, Store, Version};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

use crate::client::Registry;
use crate::config::Config;

/// Server statistics for INFO.
#[derive(Default)]
pub struct Stats {
    pub connections_received: AtomicU64,
    pub commands_processed: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub expired_keys: AtomicU64,
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    pub error_replies: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    /// Changes since the last save (`rdb_changes_since_last_save`).
    pub dirty: AtomicU64,
}

/// Everything shared by all connections.
pub struct Server {
    /// The keyspace.
    pub store: Store<Version>,
    /// Live configuration.
    pub config: Config,
    /// Connected clients.
    pub clients: Registry,
    /// Counters.
    pub stats: Stats,
    /// Per-command and per-error counters (INFO commandstats / errorstats).
    pub cmdstats: crate::cmdstats::CommandStats,
    /// Start time, ms since the epoch.
    pub start_ms: Millis,
    /// 40 hex characters, new each start.
    pub run_id: String,
    /// The port actually bound.
    pub port: AtomicUsize,
    /// Active expiry on (DEBUG SET-ACTIVE-EXPIRE).
    pub active_expire: AtomicBool,
    /// Time of the last successful save, seconds since the epoch.
    pub last_save: AtomicU64,
    /// Set once to stop everything.
    pub shutdown: watch::Sender<bool>,
    /// CLIENT PAUSE: end time (ms) and whether only writes are paused.
    pub pause_until: AtomicU64,
    /// CLIENT PAUSE WRITE rather than ALL.
    pub pause_writes_only: AtomicBool,
    /// Woken when the pause ends early (CLIENT UNPAUSE).
    pub unpause: Notify,
    /// The busy poller's sleep state (`busy-poll-us`).
    pub busy_poll: crate::busy_poll::BusyPoll,
    /// Clients blocked in BLPOP, BZPOPMIN, XREAD BLOCK, …
    pub blocking: crate::blocking::Blocking,
    /// Script cache, Lua VMs and running scripts.
    pub scripting: crate::script_host::Scripting,
    /// Keys watched by clients (WATCH).
    pub watches: crate::multi::Watches,
    /// Pub/Sub subscribers.
    pub pubsub: crate::pubsub::PubSub,
    /// Client-side caching (CLIENT TRACKING).
    pub tracking: crate::tracking::Tracking,
    /// Keeps keyspace events in commit order.
    pub notify_order: crate::notify::Order,
    gil_waiters: AtomicUsize,
    gil_free: Notify,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Microseconds since the Unix epoch.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// A fast thread-local pseudo-random number (xorshift64*), not for secrets.
pub fn rand_u64() -> u64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(now_us() ^ (std::process::id() as u64) << 32 | 1);
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

impl Server {
    /// A server with configuration `config` and empty databases.
    pub fn new(config: Config) -> Server {
        let dbs = config.get_i64("databases").max(1) as usize;
        let tracking = config.hot.latency_tracking.clone();
        let run_id = (0..40)
            .map(|_| char::from_digit((rand_u64() % 16) as u32, 16).unwrap_or('0'))
            .collect();
        Server {
            store: Store::with_reaper(
                Version::new(dbs),
                "ferrous-reaper",
                config.hot.lazy_server_del.clone(),
            ),
            config,
            clients: Registry::default(),
            stats: Stats::default(),
            cmdstats: crate::cmdstats::CommandStats::new(tracking),
            start_ms: now_ms(),
            run_id,
            port: AtomicUsize::new(0),
            active_expire: AtomicBool::new(true),
            last_save: AtomicU64::new(now_ms() / 1000),
            shutdown: watch::channel(false).0,
            pause_until: AtomicU64::new(0),
            pause_writes_only: AtomicBool::new(false),
            unpause: Notify::new(),
            busy_poll: Default::default(),
            blocking: Default::default(),
            scripting: Default::default(),
            watches: Default::default(),
            pubsub: Default::default(),
            notify_order: Default::default(),
            tracking: Default::default(),
            gil_waiters: AtomicUsize::new(0),
            gil_free: Notify::new(),
        }
    }

    /// Number of databases.
    pub fn num_dbs(&self) -> usize {
        self.store.read(|v| v.num_dbs())
    }

    /// Removes client `id` from the registries other connections look at by
    /// id (blocked keys, tracking, the client list). Idempotent. Its
    /// subscriptions and WATCH state are the caller's: the connection drops
    /// them from its own lists, CLIENT KILL scans for them.
    pub fn unregister_client(&self, id: u64) {
        self.blocking.forget(id);
        self.tracking.remove(id);
        self.clients.remove(id);
    }

    /// Tells writers waiting for the GIL that it was released.
    pub fn gil_released(&self) {
        if self.gil_waiters.load(Ordering::SeqCst) > 0 {
            self.gil_free.notify_waiters();
        }
    }

    /// Waits until the GIL looks free (the caller then tries again).
    pub async fn wait_gil(&self) {
        self.gil_waiters.fetch_add(1, Ordering::SeqCst);
        let notified = self.gil_free.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.store.gil_busy() {
            // The timeout is a safety net only; the notify is the real wake-up.
            let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
        }
        self.gil_waiters.fetch_sub(1, Ordering::SeqCst);
    }

    /// Asks every task to stop.
    pub fn request_shutdown(&self) {
        let _ = self.shutdown.send(true);
        // Connections waiting for a request see the signal when woken
        // (those that register later see it before they wait).
        for c in self.clients.all() {
            c.wake();
        }
    }

    /// One round of the active expiry cycle: samples keys with an expiry in
    /// every database and deletes the expired ones in one write transaction.
    /// Returns the number of keys deleted.
    pub fn active_expire_cycle(&self) -> usize {
        let now = now_ms();
        let mut total = 0;
        let deadline = std::time::Instant::now() + Duration::from_millis(25);
        loop {
            let victims: Vec<(usize, ferrous_storage::SmallBytes)> = self.store.read(|v| {
                let mut out = Vec::new();
                for (i, db) in v.dbs().enumerate() {
                    for _ in 0..20.min(db.expires_len()) {
                        if let Some((k, t)) = db.random_expiring(rand_u64()) {
                            if t <= now && !out.iter().any(|(j, x)| *j == i && x == k) {
                                out.push((i, k.clone()));
                            }
                        }
                    }
                }
                out
            });
            if victims.is_empty() {
                return total;
            }
            let Some(mut tx) = self.store.try_begin() else {
                return total;
            };
            // Deletions by expiry are modifications for WATCH and client
            // tracking, as Redis signals them.
            crate::multi::log_for_watchers(self, &mut tx);
            let mut gone = Vec::new();
            for (i, k) in victims.iter() {
                if tx.db(*i).get_raw(k).is_some_and(|e| e.is_expired(now)) {
                    tx.db_mut(*i).remove(k);
                    gone.push((*i, k.clone()));
                }
            }
            let n = gone.len();
            let log = crate::multi::take_write_log(self, &mut tx, Some(now));
            if crate::notify::wants_expired(self) && n > 0 {
                self.notify_order.hold(|| {
                    tx.commit();
                    crate::notify::expired_by_cycle(self, &gone);
                });
            } else {
                tx.commit();
            }
            self.gil_released();
            crate::multi::invalidate_tracked(self, log, 0);
            self.stats
                .expired_keys
                .fetch_add(n as u64, Ordering::Relaxed);
            total += n;
            // Keep going while many sampled keys were expired, like Redis.
            if n * 4 < victims.len() * 3 || std::time::Instant::now() > deadline {
                return total;
            }
        }
    }
}

/// A running server: its address and a way to stop it.
pub struct Running {
    /// The bound address.
    pub addr: SocketAddr,
    /// The shared state.
    pub server: Arc<Server>,
    /// Finishes when the accept loop has stopped.
    pub done: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops the server and waits for the accept loop to end.
    pub async fn stop(self) {
        self.server.request_shutdown();
        let _ = self.done.await;
    }
}

/// Binds the configured address and starts serving in the background.
pub async fn start(config: Config) -> std::io::Result<Running> {
    // Measure the command clock's rate before the first command is timed.
    crate::clock::init();
    let bind = config.get("bind");
    let bind = bind
        .split_whitespace()
        .next()
        .unwrap_or("127.0.0.1")
        .to_string();
    let bind = bind.trim_start_matches('-').to_string();
    let port = config.get_i64("port");
    let listener = TcpListener::bind((bind.as_str(), port as u16)).await?;
    let addr = listener.local_addr()?;
    let server = Arc::new(Server::new(config));
    server.port.store(addr.port() as usize, Ordering::Relaxed);
    let srv = server.clone();
    let done = tokio::spawn(async move { accept_loop(srv, listener).await });
    let srv = server.clone();
    tokio::spawn(async move { expire_loop(srv).await });
    let srv = server.clone();
    tokio::spawn(async move {
        let mut stop = srv.shutdown.subscribe();
        let window = || srv.config.int(crate::int_param!("busy-poll-us")).max(0) as u64;
        let pct = || {
            srv.config
                .int(crate::int_param!("busy-poll-contention-pct"))
                .clamp(0, 100) as u64
        };
        tokio::select! {
            _ = srv.busy_poll.run(&srv.stats.net_input_bytes, window, pct) => {}
            _ = stop.changed() => {}
        }
    });
    Ok(Running { addr, server, done })
}

async fn accept_loop(srv: Arc<Server>, listener: TcpListener) {
    let mut stop = srv.shutdown.subscribe();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((sock, peer)) => {
                    let srv = srv.clone();
                    tokio::spawn(async move { crate::connection::serve(srv, sock, peer).await });
                }
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = stop.changed() => return,
        }
    }
}

async fn expire_loop(srv: Arc<Server>) {
    let mut stop = srv.shutdown.subscribe();
    loop {
        let hz = srv.config.get_i64("hz").clamp(1, 500) as u64;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(1000 / hz)) => {}
            _ = stop.changed() => return,
        }
        if srv.active_expire.load(Ordering::Relaxed) {
            srv.active_expire_cycle();
        }
    }
}
