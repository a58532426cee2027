//! The server side of scripting: the script cache, the pool of Lua VMs, the
//! registry of running scripts (which kind runs: BUSY text, SCRIPT KILL vs
//! FUNCTION KILL, FUNCTION STATS), and [`ScriptHost`], the
//! [`Host`] through which a script's `redis.call` reaches the command table
//! on the script's private version.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrous_scripting::{sha_key, Control, Engine, FunctionDef, Host, Reply, ShaMap};
use ferrous_storage::{KillSignal, Millis, Store, Version};

use crate::client::{Client, ClientInfo};
use crate::clock::Stamp;
use crate::commands::{self, flags, Ctx, Handler, Lookups};
use crate::reply::ReplyBuf;
use crate::server::Server;

/// The configured heap cap of a Lua VM (`lua-memory-limit`).
pub fn memory_limit(srv: &Server) -> usize {
    srv.config
        .hot
        .lua_memory_limit
        .load(std::sync::atomic::Ordering::Relaxed)
        .max(1 << 20) as usize
}

/// A script in execution.
struct Running {
    id: u64,
    ctl: Arc<Control>,
    /// When a function started (FUNCTION STATS); not read for EVAL scripts.
    started: Option<Instant>,
    /// Holds the GIL and has marked its write transaction
    /// (`ScriptSlot::script_started`): other writers may get -BUSY and
    /// SCRIPT KILL goes through the store. False for scripts on snapshots.
    writer: bool,
    /// A function (FCALL): its name and the command line; None for EVAL
    /// scripts.
    function: Option<(String, Vec<Bytes>)>,
}

/// A library loaded with FUNCTION LOAD.
#[derive(Clone)]
pub struct Library {
    /// Its name.
    pub name: String,
    /// Its code (shebang included).
    pub code: Bytes,
    /// Changes at every (re)load, so VMs know to reload it.
    pub generation: u64,
    /// Its functions.
    pub functions: Vec<FunctionDef>,
}

/// All libraries and the index of their functions.
#[derive(Default)]
pub struct Libraries {
    /// By library name.
    pub libs: std::collections::BTreeMap<String, Library>,
    /// Lower-case function name → library name.
    pub by_function: HashMap<String, String>,
}

/// A script in the EVAL cache.
pub struct CachedScript {
    /// Its id (lower-case hex).
    pub sha: Box<str>,
    /// Its source (shebang line included).
    pub body: Bytes,
    /// Its shebang declares `flags=no-writes` (parsed once, when cached:
    /// only scripts with a valid shebang get there).
    pub no_writes: bool,
}

/// Process-wide scripting state (one per server).
#[derive(Default)]
pub struct Scripting {
    cache: Mutex<ShaMap<Arc<CachedScript>>>,
    /// Whether a `no-writes` script may be cached (set and cleared under
    /// the cache lock): without one, EVALSHA need not look its script up
    /// twice to learn whether it runs on a snapshot.
    no_writes_cached: AtomicBool,
    generation: AtomicU64,
    /// Boxed: a run takes its VM out and puts it back, a pointer move.
    #[allow(clippy::vec_box)]
    pool: Mutex<Vec<Box<Vm>>>,
    running: Mutex<Vec<Running>>,
    next_run: AtomicU64,
    /// FUNCTION libraries.
    pub libraries: Mutex<Libraries>,
    lib_generation: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Scripting {
    /// The script cached under `sha` (lower-case hex).
    pub fn get(&self, sha: &str) -> Option<Arc<CachedScript>> {
        self.get_sha(sha.as_bytes())
    }

    /// The script cached under `sha` as a client sent it (any case),
    /// without allocating: EVALSHA's lookup.
    pub fn get_sha(&self, sha: &[u8]) -> Option<Arc<CachedScript>> {
        let key = sha_key(sha)?;
        lock(&self.cache).get(&key).cloned()
    }

    /// Caches `body` (whose shebang is valid) under `sha`.
    pub fn insert(&self, sha: &str, body: Bytes, no_writes: bool) {
        if let Some(key) = sha_key(sha.as_bytes()) {
            let mut cache = lock(&self.cache);
            if no_writes {
                self.no_writes_cached.store(true, Ordering::Relaxed);
            }
            cache.insert(
                key,
                Arc::new(CachedScript {
                    sha: sha.into(),
                    body,
                    no_writes,
                }),
            );
        }
    }

    /// Number of cached scripts.
    pub fn len(&self) -> usize {
        lock(&self.cache).len()
    }

    /// Whether no script is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether some cached script may be `no-writes` (false: none is).
    pub fn maybe_no_writes(&self) -> bool {
        self.no_writes_cached.load(Ordering::Relaxed)
    }

    /// SCRIPT FLUSH: forgets every script; VMs drop their compiled copies.
    pub fn flush(&self) {
        {
            let mut cache = lock(&self.cache);
            cache.clear();
            self.no_writes_cached.store(false, Ordering::Relaxed);
        }
        self.generation.fetch_add(1, Ordering::SeqCst);
        lock(&self.pool).clear();
    }

    /// A VM for one run (from the pool, or a new one), its heap capped at
    /// `memory_limit` bytes (`lua-memory-limit`, see [`memory_limit`]).
    pub fn take_engine(&self, memory_limit: usize) -> Result<Box<Vm>, String> {
        let vm = lock(&self.pool).pop();
        let mut vm = match vm {
            Some(vm) => vm,
            None => Box::new(Vm {
                engine: Engine::new(crate::REDIS_VERSION, memory_limit)
                    .map_err(|e| format!("ERR Error creating the Lua VM: {e}"))?,
                scratch: CallScratch::default(),
            }),
        };
        vm.engine.set_memory_limit(memory_limit);
        vm.engine
            .sync_generation(self.generation.load(Ordering::SeqCst));
        Ok(vm)
    }

    /// Returns a VM to the pool.
    pub fn give_back(&self, vm: Box<Vm>) {
        let mut p = lock(&self.pool);
        if p.len() < 8 {
            p.push(vm);
        }
    }

    /// Registers a script as running; the id unregisters it.
    pub fn start(
        &self,
        ctl: Arc<Control>,
        writer: bool,
        function: Option<(String, Vec<Bytes>)>,
    ) -> u64 {
        let id = self.next_run.fetch_add(1, Ordering::Relaxed);
        lock(&self.running).push(Running {
            id,
            ctl,
            started: function.as_ref().map(|_| Instant::now()),
            writer,
            function,
        });
        id
    }

    /// SCRIPT KILL (`functions` false) or FUNCTION KILL (true): kills the
    /// running scripts of that kind. `Err` carries Redis's reply when none
    /// runs (`-NOTBUSY`) or only the other kind does (`-BUSY …`).
    ///
    /// The script holding the GIL is killed through the store
    /// ([`ferrous_storage::Store::request_kill`], false: it has just ended);
    /// scripts on snapshots (read-only) through their VM's switch. The
    /// registry lock is held throughout: a GIL script registers before it
    /// marks its transaction and unregisters after clearing the mark, so
    /// the kill cannot land on a script of the other kind.
    pub fn kill_kind(&self, store: &Store<Version>, functions: bool) -> Result<(), &'static str> {
        let r = lock(&self.running);
        let mut any = false;
        if r.iter()
            .any(|s| s.writer && s.function.is_some() == functions)
        {
            any = store.request_kill();
        }
        for s in r
            .iter()
            .filter(|s| !s.writer && s.function.is_some() == functions)
        {
            s.ctl.kill.store(true, Ordering::SeqCst);
            any = true;
        }
        if any {
            Ok(())
        } else if !r.iter().any(|s| s.function.is_some() != functions) {
            Err("NOTBUSY No scripts in execution right now.")
        } else if functions {
            Err(BUSY_SCRIPT)
        } else {
            Err(BUSY_FUNCTION)
        }
    }

    /// The running function, for FUNCTION STATS: name, command, elapsed ms.
    pub fn running_function(&self) -> Option<(String, Vec<Bytes>, u128)> {
        lock(&self.running).iter().find_map(|r| {
            r.function.as_ref().map(|(n, c)| {
                let ms = r.started.map_or(0, |t| t.elapsed().as_millis());
                (n.clone(), c.clone(), ms)
            })
        })
    }

    /// Figures for INFO memory: Lua heap of the idle VMs, cached scripts
    /// and the bytes of their bodies, libraries, functions.
    pub fn info(&self) -> ScriptingInfo {
        let lua = lock(&self.pool)
            .iter()
            .map(|vm| vm.engine.used_memory())
            .sum();
        let (scripts, script_bytes) = {
            let c = lock(&self.cache);
            (c.len(), c.values().map(|b| b.body.len()).sum())
        };
        let libs = lock(&self.libraries);
        ScriptingInfo {
            lua_memory: lua,
            scripts,
            script_bytes,
            libraries: libs.libs.len(),
            functions: libs.libs.values().map(|l| l.functions.len()).sum(),
        }
    }

    /// A new library generation number.
    pub fn next_lib_generation(&self) -> u64 {
        self.lib_generation.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Unregisters a finished script.
    pub fn end(&self, id: u64) {
        lock(&self.running).retain(|r| r.id != id);
    }

    /// Shutdown: kills every running script. Returns whether there was one.
    pub fn kill_all(&self, store: &Store<Version>) -> bool {
        let r = lock(&self.running);
        let mut any = store.request_kill();
        for s in r.iter().filter(|s| !s.writer) {
            s.ctl.kill.store(true, Ordering::SeqCst);
            any = true;
        }
        any
    }

    /// The -BUSY reply for a writer refused because a script holds the GIL
    /// past `busy-reply-threshold` (the decision is the store's,
    /// [`ferrous_storage::Store::begin_or_busy`]; this only names the kind of
    /// script, which may have just ended: then EVAL's text).
    pub fn busy_reply(&self) -> &'static str {
        let r = lock(&self.running);
        match r.iter().find(|s| s.writer) {
            Some(s) if s.function.is_some() => BUSY_FUNCTION,
            _ => BUSY_SCRIPT,
        }
    }
}

/// `-BUSY` while an EVAL script runs.
pub const BUSY_SCRIPT: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// `-BUSY` while a function runs.
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// Scripting figures for INFO.
pub struct ScriptingInfo {
    /// Bytes of Lua heap in the VM pool.
    pub lua_memory: usize,
    /// Scripts in the EVAL cache.
    pub scripts: usize,
    /// Bytes of their bodies.
    pub script_bytes: usize,
    /// FUNCTION libraries.
    pub libraries: usize,
    /// Functions in them.
    pub functions: usize,
}

/// The keyspace a script works on.
pub enum VersionRef<'a> {
    /// A read-only script's snapshot.
    Ro(&'a Version),
    /// A write script's private version (under the GIL).
    Rw(&'a mut Version),
}

/// [`Host`] for one script run.
pub struct ScriptHost<'a> {
    /// The server.
    pub srv: &'a Server,
    /// The calling client.
    pub info: Arc<ClientInfo>,
    /// The script's own selected database (SELECT inside a script stays there).
    pub db: usize,
    /// The keyspace.
    pub version: VersionRef<'a>,
    /// The script's clock (Redis freezes time for a script).
    pub now: Millis,
    /// Keys changed.
    pub dirty: u64,
    /// Keyspace hits and misses.
    pub lookups: Lookups,
    /// Keyspace events of the script's commands, handed to the caller when
    /// the script commits and dropped when it raises.
    pub events: crate::notify::Pending,
    /// SCRIPT KILL for a script holding the GIL (the store's kill flag, as
    /// its write transaction sees it); None for scripts on snapshots, which
    /// are killed through their VM's `Control`.
    pub kill: Option<KillSignal<'a>>,
    /// Moves the runtime's other work off this thread once the script has
    /// run for a while (see [`Offload`]).
    pub offload: Offload,
    /// Whether the rollback point is set: at the script's first write
    /// command the version starts a savepoint ([`Version::set_savepoint`]:
    /// each key's entry is recorded before its first change), rolled back
    /// if the script raises. Taken lazily, so a script that only reads pays
    /// nothing for it.
    pub saved: bool,
    /// Buffers reused by every `redis.call` of the run (the VM's, see
    /// [`Vm::scratch`]).
    pub scratch: CallScratch,
}

/// A pooled Lua VM and what the `redis.call`s of its runs reuse.
pub struct Vm {
    /// The VM.
    pub engine: Engine,
    /// Kept from run to run: a script's first `redis.call` then allocates
    /// no client, reply buffer or argument vector.
    pub scratch: CallScratch,
}

/// Ends a script's savepoint (see [`ScriptHost::saved`]): keeps its writes
/// when it returned, puts the keyspace back when it raised.
pub fn end_savepoint(version: VersionRef<'_>, saved: bool, raised: bool) {
    if let (VersionRef::Rw(v), true) = (version, saved) {
        if raised {
            v.rollback();
        } else {
            v.release_savepoint();
        }
    }
}

/// Calls whose arguments are bigger get a buffer of their own: the VM keeps
/// only small ones (a slice a command kept would pin the whole buffer).
const ARGS_KEEP: usize = 16 * 1024;

/// What each `redis.call` reuses instead of allocating again.
#[derive(Default)]
pub struct CallScratch {
    /// The command's arguments (slices of `args`).
    argv: Vec<Bytes>,
    /// The bytes of a call's arguments, reused from call to call (calls up
    /// to [`ARGS_KEEP`] bytes).
    args: bytes::BytesMut,
    /// The detached client the commands run as (made on the first call,
    /// remade when a run for another client reuses it).
    client: Option<Box<Client>>,
    /// The commands' reply buffer (made on the first call).
    out: Option<Box<ReplyBuf>>,
    /// The last command name looked up and what it resolved to: scripts
    /// mostly call the same few commands, and comparing a name is cheaper
    /// than the table lookup.
    last: Option<(Bytes, &'static commands::CommandSpec)>,
    /// The run's command statistics not yet added to the server's (added
    /// by [`ScriptHost::take_scratch`] at the end of the run).
    tally: crate::cmdstats::Tally,
}

/// How long a script runs on its connection's runtime thread before the
/// runtime's other work (other connections) is moved to another thread, in
/// microseconds of its steps (see [`STEP_MAX_US`]).
const INLINE_BUDGET_US: u64 = 1000;

/// The most one step of a run (from one clock check to the next: a
/// `redis.call`, the Lua code between two checks) counts towards
/// [`INLINE_BUDGET_US`]. Checks come every few microseconds of a run's own
/// work (the hook's 1000 Lua instructions, each call); a longer gap is a
/// slow command or, mostly, the thread being preempted — on a small
/// machine shared with the clients, preempted for a few milliseconds now
/// and then. Counted whole, one such gap sent a ten-call script (~5 µs)
/// through a hand-over (measured: thousands per 200,000 runs at -P 1, a
/// thread switch or two each); capped, a run needs five slow steps.
const STEP_MAX_US: u64 = 200;

/// A script runs inline on its connection's task: most scripts take a few
/// microseconds, and handing the runtime thread over for each one (what
/// `tokio::task::block_in_place` around the whole run did) cost two thread
/// switches per script. Once a run passes [`INLINE_BUDGET_US`] (checked
/// from the Lua instruction hook and around each `redis.call`),
/// [`Offload::check`] calls `block_in_place` from inside the running
/// script: the runtime's worker core goes to another thread, which then
/// serves the other clients (BUSY replies, snapshot reads, SCRIPT KILL)
/// while this thread finishes the script and afterwards leaves the runtime,
/// as after any `block_in_place` whose core was taken.
#[derive(Default)]
pub struct Offload {
    state: Budget,
}

/// Where a run's [`Offload`] budget stands.
#[derive(Default)]
enum Budget {
    /// Not started: it starts at the run's first clock reading (its first
    /// `redis.call` or hook tick). The run's Lua code before it is not
    /// counted, which spares a clock reading per run and delays a
    /// hand-over by at most one hook interval ([`ferrous_scripting`]'s
    /// 1000 instructions).
    #[default]
    Unstarted,
    /// Counting: the last check, the microseconds counted so far, and the
    /// count at which to try to hand the runtime over.
    Counting { last: Stamp, spent: u64, due: u64 },
    /// Never: the runtime has been handed over (or there is none).
    Done,
}

impl Offload {
    /// Hands the runtime over if the script has run past the budget.
    pub fn check(&mut self) {
        if !matches!(self.state, Budget::Done) {
            self.check_at(crate::clock::now());
        }
    }

    /// [`Offload::check`] with the time already read (the first one starts
    /// the budget).
    pub fn check_at(&mut self, now: Stamp) {
        match &mut self.state {
            Budget::Unstarted => {
                self.state = Budget::Counting {
                    last: now,
                    spent: 0,
                    due: INLINE_BUDGET_US,
                }
            }
            Budget::Counting { last, spent, due } => {
                *spent += now.micros_since(*last).min(STEP_MAX_US);
                *last = now;
                if *spent >= *due {
                    if hand_off_runtime() {
                        self.state = Budget::Done;
                    } else {
                        // The other thread did not show up in time: try
                        // again later.
                        *due = *spent + 4 * INLINE_BUDGET_US;
                    }
                }
            }
            Budget::Done => {}
        }
    }
}

/// Moves the runtime's worker core from this thread to another one while
/// the caller goes on running its script. Returns whether another thread
/// has taken the runtime (or this is no multi-threaded runtime worker, so
/// there is nothing to hand over).
fn hand_off_runtime() -> bool {
    use tokio::runtime::{Handle, RuntimeFlavor};
    let Ok(handle) = Handle::try_current() else {
        return true;
    };
    if handle.runtime_flavor() != RuntimeFlavor::MultiThread {
        return true;
    }
    let taken = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let me = std::thread::current();
    tokio::task::block_in_place(|| {
        // `block_in_place` has put the core up for another thread; a task
        // spawned now can only run there. Once it has run, that thread owns
        // the core and will not give it back when this closure returns.
        let flag = taken.clone();
        handle.spawn(async move {
            flag.store(true, Ordering::Release);
            me.unpark();
        });
        let deadline = Instant::now() + Duration::from_millis(50);
        while !taken.load(Ordering::Acquire) {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            std::thread::park_timeout(deadline - now);
        }
    });
    taken.load(Ordering::Acquire)
}

const UNKNOWN: &[u8] = b"ERR Unknown Redis command called from script";
const WRONG_ARGS: &[u8] = b"ERR Wrong number of args calling Redis command from script";
const NOT_ALLOWED: &[u8] = b"ERR This Redis command is not allowed from script";
const RO_WRITE: &[u8] = b"ERR Write commands are not allowed from read-only scripts.";

impl ScriptHost<'_> {
    /// At the end of a run: adds the run's command statistics to the
    /// server's and hands back the scratch for the VM to keep.
    pub fn take_scratch(&mut self) -> CallScratch {
        self.srv.cmdstats.flush(&mut self.scratch.tally);
        std::mem::take(&mut self.scratch)
    }

    fn resolve(&mut self, argv: &[Bytes]) -> Result<&'static commands::CommandSpec, &'static [u8]> {
        let spec = match &self.scratch.last {
            Some((name, spec)) if name.eq_ignore_ascii_case(&argv[0]) => *spec,
            _ => {
                let spec = commands::table().get(&argv[0]).ok_or(UNKNOWN)?;
                self.scratch.last = Some((Bytes::copy_from_slice(&argv[0]), spec));
                spec
            }
        };
        if !commands::arity_ok(spec.arity, argv.len()) {
            return Err(WRONG_ARGS);
        }
        let spec = match spec.handler {
            Handler::Container => match argv.get(1) {
                None => spec,
                Some(name) => {
                    let sub = commands::subcommand(spec, name).ok_or(UNKNOWN)?;
                    if !commands::arity_ok(sub.arity, argv.len()) {
                        return Err(WRONG_ARGS);
                    }
                    sub
                }
            },
            _ => spec,
        };
        if spec.has(flags::NOSCRIPT) {
            return Err(NOT_ALLOWED);
        }
        let writes = matches!(spec.handler, Handler::Write(_)) || spec.has(flags::WRITE);
        if writes && matches!(self.version, VersionRef::Ro(_)) {
            return Err(RO_WRITE);
        }
        Ok(spec)
    }

    /// Shows a command called by the script to MONITOR clients (`[db lua]`).
    fn monitor(&self, spec: &commands::CommandSpec, argv: &[Bytes]) {
        if self.srv.clients.monitors.load(Ordering::Relaxed) > 0
            && !spec.has(flags::SKIP_MONITOR | flags::ADMIN)
        {
            crate::exec::feed_monitors_as(self.srv, self.db, "lua", argv);
        }
    }

    fn select(&mut self, arg: &[u8]) -> Reply {
        let n = match commands::int_arg(arg) {
            Ok(n) => n,
            Err(e) => return Reply::Error(e.as_bytes().to_vec()),
        };
        let dbs = match &self.version {
            VersionRef::Ro(v) => v.num_dbs(),
            VersionRef::Rw(v) => v.num_dbs(),
        };
        if n < 0 || n as usize >= dbs {
            return Reply::Error(crate::errors::DB_INDEX.as_bytes().to_vec());
        }
        self.db = n as usize;
        Reply::Status(b"OK".to_vec())
    }
}

impl Host for ScriptHost<'_> {
    fn call(&mut self, args: &[&[u8]], resp3: bool) -> Reply {
        // One copy of all the arguments, each then split off on its own (one
        // count increment per argument). Up to ARGS_KEEP bytes the buffer is
        // the VM's: once the previous calls' slices are gone, `reserve` takes
        // their space back, so a call allocates nothing (a command that kept
        // a slice makes it allocate a fresh one).
        let total: usize = args.iter().map(|a| a.len()).sum();
        let mut big = bytes::BytesMut::new();
        let buf = if total > ARGS_KEEP {
            &mut big
        } else {
            &mut self.scratch.args
        };
        buf.reserve(total);
        for a in args {
            buf.extend_from_slice(a);
        }
        let mut argv = std::mem::take(&mut self.scratch.argv);
        argv.clear();
        for a in args {
            argv.push(buf.split_to(a.len()).freeze());
        }
        let reply = self.run_call(&argv, resp3);
        argv.clear();
        self.scratch.argv = argv;
        reply
    }

    fn log(&mut self, level: i64, msg: &[u8]) {
        let m = String::from_utf8_lossy(msg);
        match level {
            0 => tracing::debug!("{m}"),
            1 => tracing::info!("{m}"),
            2 => tracing::info!("{m}"),
            _ => tracing::warn!("{m}"),
        }
    }

    fn acl_check(&mut self, args: &[&[u8]]) -> Result<bool, String> {
        let argv: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
        match commands::table().get(&argv[0]) {
            None => Err("ERR Invalid command passed to redis.acl_check_cmd()".into()),
            // There is only the default user, who may run everything.
            Some(_) => Ok(true),
        }
    }

    fn killed(&self) -> bool {
        self.kill.is_some_and(|k| k.requested())
    }

    fn on_hook(&mut self) {
        self.offload.check();
    }
}

impl ScriptHost<'_> {
    /// `redis.call` with the arguments as a command line.
    fn run_call(&mut self, argv: &[Bytes], resp3: bool) -> Reply {
        let spec = match self.resolve(argv) {
            Ok(s) => s,
            Err(e) => return Reply::Error(e.to_vec()),
        };
        let slot = commands::table().slot(spec);
        if spec.name == "select" && argv.len() == 2 {
            let r = self.select(&argv[1]);
            self.monitor(spec, argv);
            return r;
        }
        // The client is reused from call to call; what a command may have
        // changed in it is put back (scripts cannot MULTI, WATCH,
        // subscribe or change reply modes).
        // Both are used in place (they are big: moving them costs copies).
        let client = match &mut self.scratch.client {
            Some(c) if Arc::ptr_eq(&c.info, &self.info) => {
                c.db = self.db;
                c.authed = true;
                c.reply_mode = crate::client::ReplyMode::On;
                c
            }
            slot => slot.insert(Box::new(Client::detached(self.info.clone(), self.db))),
        };
        let out = self
            .scratch
            .out
            .get_or_insert_with(|| Box::new(ReplyBuf::new(resp3)));
        out.buf.clear();
        out.errors = 0;
        out.error_codes.clear();
        out.resp3 = resp3;
        let lookups = std::mem::take(&mut self.lookups);
        let mut ctx = Ctx {
            srv: self.srv,
            client: &mut *client,
            out: &mut *out,
            args: argv,
            now: self.now,
            dirty: 0,
            action: None,
            lookups,
            no_block: true,
            gil: None,
        };
        if let (Handler::Write(_), VersionRef::Rw(v), false) =
            (spec.handler, &mut self.version, self.saved)
        {
            v.set_savepoint();
            self.saved = true;
        }
        if let Some(s) = slot {
            self.srv.cmdstats.before(&mut self.scratch.tally, spec, s);
        }
        let started = crate::clock::now();
        self.offload.check_at(started);
        match (spec.handler, &mut self.version) {
            (Handler::Read(f), VersionRef::Ro(v)) => f(&mut ctx, v),
            (Handler::Read(f), VersionRef::Rw(v)) => f(&mut ctx, v),
            (Handler::Write(f), VersionRef::Rw(v)) => f(&mut ctx, v),
            (Handler::Write(_), VersionRef::Ro(_)) => ctx
                .out
                .error(std::str::from_utf8(RO_WRITE).unwrap_or("ERR")),
            (Handler::Conn(f), _) => f(&mut ctx),
            (Handler::Container, _) => commands::command::bare_container(spec, &mut ctx),
        }
        let Ctx { dirty, lookups, .. } = ctx;
        self.dirty += dirty;
        self.lookups = lookups;
        // Published with the caller's batch if the script commits.
        self.events.append(&mut client.events);
        let ended = crate::clock::now();
        if let Some(slot) = slot {
            let usec = ended.micros_since(started);
            self.srv
                .cmdstats
                .call(&mut self.scratch.tally, slot, usec, out.errors > 0);
        }
        let reply = match Reply::parse_first(&out.buf) {
            Some(r) => r,
            None => Reply::Error(b"ERR internal error: unreadable reply".to_vec()),
        };
        self.monitor(spec, argv);
        // A script of few instructions but slow commands meets the hook rarely.
        self.offload.check_at(ended);
        reply
    }
}

/// Writes a script's reply for the client.
pub fn write_reply(out: &mut ReplyBuf, r: &Reply) {
    match r {
        Reply::Status(s) => out.status(&String::from_utf8_lossy(s)),
        Reply::Error(e) => out.error(&String::from_utf8_lossy(e)),
        Reply::Int(n) => out.int(*n),
        Reply::Bulk(b) => out.bulk(b),
        Reply::Nil => out.null(),
        Reply::Array(items) => {
            out.array(items.len());
            for it in items {
                write_reply(out, it);
            }
        }
        Reply::Map(pairs) => {
            out.map(pairs.len());
            for (k, v) in pairs {
                write_reply(out, k);
                write_reply(out, v);
            }
        }
        Reply::Set(items) => {
            out.set(items.len());
            for it in items {
                write_reply(out, it);
            }
        }
        Reply::Double(d) => out.double(*d),
        Reply::Bool(b) => out.boolean(*b),
        Reply::BigNumber(n) => {
            if out.resp3 {
                out.raw(b"(");
                out.raw(n);
                out.raw(b"\r\n");
            } else {
                out.bulk(n);
            }
        }
        Reply::Verbatim(f, s) => out.verbatim(&String::from_utf8_lossy(f), s),
    }
}
