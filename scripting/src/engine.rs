//! The Lua VM: creation and sandbox, compiling scripts by SHA1, running one
//! with KEYS/ARGV against a [`Host`], and turning its result or error into a
//! [`Reply`] or a Redis-formatted error message.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use mlua::{
    chunk::ChunkMode, Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, VmState,
};

use crate::api::*;
use crate::convert::lua_to_reply;
use crate::reply::Reply;

/// What a script may ask of the server. The server implements it on top of
/// its command table and the script's private version.
pub trait Host {
    /// Runs one command (`args[0]` is its name). `resp3`: encode the reply as
    /// for a RESP3 client (the script called `redis.setresp(3)`). Refusals
    /// (unknown command, wrong arity, not allowed from scripts, writes from
    /// a read-only script) are returned as `Reply::Error` with Redis's text.
    fn call(&mut self, args: &[&[u8]], resp3: bool) -> Reply;
    /// `redis.log(level, msg)`; `level` is 0 (debug) to 3 (warning).
    fn log(&mut self, level: i64, msg: &[u8]);
    /// `redis.acl_check_cmd`: `Ok(allowed)`, or `Err(message)` when the
    /// command is unknown or the arguments are wrong.
    fn acl_check(&mut self, args: &[&[u8]]) -> Result<bool, String>;
    /// Whether the server asked this run to stop (SCRIPT KILL through the
    /// write transaction of a script that holds the GIL). Polled by the
    /// instruction hook, so it must be cheap. Scripts without such a signal
    /// are killed through [`Control::kill`] instead.
    fn killed(&self) -> bool {
        false
    }
    /// Called by the instruction hook (every 1000 VM instructions)
    /// just before the kill check. The server uses it to notice a script
    /// that runs long and move its other work off the script's thread.
    fn on_hook(&mut self) {}
}

/// Whether the script running on `lua` was killed: its VM's switch or its
/// host's signal.
fn is_killed(lua: &Lua, ctl: &Control) -> bool {
    ctl.kill.load(Ordering::Relaxed)
        || crate::api::with_host(lua, |h, _| h.killed()).unwrap_or(false)
}

/// The instruction hook: lets the host look at the clock, then checks the
/// kill switches.
fn hook_tick(lua: &Lua, ctl: &Control) -> bool {
    ctl.kill.load(Ordering::Relaxed)
        || crate::api::with_host(lua, |h, _| {
            h.on_hook();
            h.killed()
        })
        .unwrap_or(false)
}

/// Switches shared between a running script and other threads.
#[derive(Default, Debug)]
pub struct Control {
    /// Set by SCRIPT KILL (or shutdown): the script dies at its next hook.
    pub kill: AtomicBool,
}

/// How a script run ended.
#[derive(Debug)]
pub enum Outcome {
    /// It returned: the reply to send (possibly an error reply the script
    /// returned as a value). Its writes are committed.
    Return(Reply),
    /// It raised (runtime error, failed `redis.call`, kill, out of memory):
    /// the full error text to send. Its writes are dropped.
    Raise(String),
}

/// Options of one run.
pub struct RunOpts<'a> {
    /// SHA1 of the body, for error messages and the compiled-function cache.
    pub sha: &'a str,
    /// The script source (shebang line included).
    pub body: &'a [u8],
    /// KEYS.
    pub keys: &'a [&'a [u8]],
    /// ARGV.
    pub argv: &'a [&'a [u8]],
    /// The calling client speaks RESP3 (affects booleans, maps, … in the
    /// final reply conversion).
    pub client_resp3: bool,
}

/// The per-run state the Rust primitives reach: owned by the [`Engine`]
/// (boxed, so its address is stable), found by `redis.call` through its C
/// closure's upvalue and by the other primitives through the VM's app data
/// ([`StatePtr`]). Cells: the run and the primitives it calls share it.
pub(crate) struct RunState {
    pub(crate) host: Cell<Option<HostPtr>>,
    pub(crate) resp3: Cell<bool>,
    pub(crate) err_line: Cell<Option<usize>>,
    /// Chunk name of user code (`@user_script` or `@user_function`).
    pub(crate) chunk: Cell<&'static str>,
}

/// The VM's app data: where its [`RunState`] lives.
pub(crate) struct StatePtr(pub(crate) *const RunState);
// SAFETY: the state is owned by the Engine that owns the VM and is only
// used by whoever runs that VM.
unsafe impl Send for StatePtr {}

/// The run state of the VM `lua`.
pub(crate) fn run_state(lua: &Lua) -> Option<&RunState> {
    let p = lua.app_data_ref::<StatePtr>()?.0;
    // SAFETY: the Engine keeps the box alive as long as its VM (the VM is
    // dropped first, see the field order of `Engine`).
    Some(unsafe { &*p })
}

/// A function registered by a library (FUNCTION LOAD).
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionDef {
    /// Its name, as registered.
    pub name: String,
    /// Its flags (`no-writes`, …), in registration order.
    pub flags: Vec<String>,
    /// Its description, if given.
    pub description: Option<Vec<u8>>,
}

struct LoadedLib {
    generation: u64,
    funcs: HashMap<String, Function>,
}

#[derive(Clone, Copy)]
pub(crate) struct HostPtr(pub(crate) *mut (dyn Host + 'static));
// SAFETY: the pointer is only dereferenced on the thread running the script,
// while `Engine::run` (which borrowed the host) is on the stack.
unsafe impl Send for HostPtr {}

/// How many VM instructions run between two checks of the kill switch
/// (and two calls of [`Host::on_hook`]).
const HOOK_EVERY: u32 = 1000;

/// One Lua VM with the sandbox and a cache of compiled scripts.
pub struct Engine {
    lua: Lua,
    /// Calls a FUNCTION library's function under the error handler.
    runner: Function,
    /// Registry slot of the sandbox's error handler (records the error line).
    handler_ref: std::os::raw::c_int,
    /// Registry slot of the [`enter_script`] closure.
    enter_ref: std::os::raw::c_int,
    loader: Function,
    libs: HashMap<String, LoadedLib>,
    compiled: crate::ShaMap<Function>,
    ctl: Arc<Control>,
    /// After `lua`: dropped after the VM whose primitives point to it.
    state: Box<RunState>,
    generation: u64,
    /// The heap cap last set (0: none).
    memory_limit: usize,
}

/// Lua's "5.1.5" as Redis reports its own version in scripts.
fn version_num(v: &str) -> i64 {
    let mut n = 0;
    for p in v.split('.').take(3) {
        n = n * 256 + p.parse::<i64>().unwrap_or(0);
    }
    n
}

impl Engine {
    /// Changes the heap cap (bytes, at least what is in use; 0: none).
    pub fn set_memory_limit(&mut self, limit: usize) {
        if limit != self.memory_limit {
            let _ = self.lua.set_memory_limit(limit);
            self.memory_limit = limit;
        }
    }

    /// A fresh VM. `redis_version` is what `redis.REDIS_VERSION` shows;
    /// `memory_limit` caps the VM's heap in bytes (0: none).
    pub fn new(redis_version: &str, memory_limit: usize) -> mlua::Result<Engine> {
        let lua = Lua::new_with(
            StdLib::STRING | StdLib::TABLE | StdLib::MATH,
            LuaOptions::new(),
        )?;
        let ctl = Arc::new(Control::default());
        let state = Box::new(RunState {
            host: Cell::new(None),
            resp3: Cell::new(false),
            err_line: Cell::new(None),
            chunk: Cell::new("@user_script"),
        });
        let state_ptr: *const RunState = &*state;
        lua.set_app_data(StatePtr(state_ptr));
        let p = lua.create_table()?;
        // Each API function is a Rust implementation returning (ok, value)
        // behind a C trampoline that raises the error: a C function keeps
        // the caller's frame even in `return redis.call(...)` (a Lua
        // wrapper would be tail-called and hide the script's line).
        let apis: [(&str, &std::ffi::CStr, ApiFn, mlua::ffi::lua_CFunction); 6] = [
            ("call", c"ferrous.call", api_call, fast_call),
            ("setresp", c"ferrous.setresp", api_setresp, tramp_setresp),
            ("sha1hex", c"ferrous.sha1hex", api_sha1hex, tramp_sha1hex),
            ("log", c"ferrous.log", api_log, tramp_log),
            (
                "set_repl",
                c"ferrous.set_repl",
                api_set_repl,
                tramp_set_repl,
            ),
            (
                "acl_check_cmd",
                c"ferrous.acl_check_cmd",
                api_acl_check,
                tramp_acl_check,
            ),
        ];
        let c_api = lua.create_table()?;
        for (name, key, imp, tramp) in apis {
            let f = lua.create_function(imp)?;
            p.set(name, f.clone())?;
            lua.set_named_registry_value(key.to_str().unwrap_or_default(), f)?;
            // SAFETY: the trampolines only use the Lua C API on their own
            // stack and hold no Rust values with destructors across
            // `lua_error`.
            let cf = if name == "call" {
                // `redis.call` finds the run state and its reply pusher in
                // its upvalues, without a lookup per call.
                // SAFETY: pushes a closure; nothing to drop.
                unsafe {
                    lua.exec_raw::<Function>((), |l| {
                        mlua::ffi::lua_pushlightuserdata(l, state_ptr as *mut std::ffi::c_void);
                        mlua::ffi::lua_pushcfunction(l, push_job);
                        mlua::ffi::lua_pushcclosure(l, tramp, 2);
                    })?
                }
            } else {
                unsafe { lua.create_c_function(tramp)? }
            };
            c_api.set(name, cf)?;
        }
        p.set("c", c_api)?;
        p.set("where", lua.create_function(api_where)?)?;
        let c = ctl.clone();
        p.set(
            "killed",
            lua.create_function(move |lua, ()| Ok(is_killed(lua, &c)))?,
        )?;
        p.set("version", redis_version)?;
        p.set("version_num", version_num(redis_version))?;
        p.set("bit", crate::libs::bit::open(&lua)?)?;
        p.set("cjson", crate::libs::cjson::open(&lua)?)?;
        p.set("struct", crate::libs::structlib::open(&lua)?)?;
        p.set("cmsgpack", crate::libs::msgpack::open(&lua)?)?;
        let (globals, runner, mkerr, loader, handler): (
            Table,
            Function,
            Function,
            Function,
            Function,
        ) = lua
            .load(include_str!("sandbox.lua"))
            .set_name("=sandbox")
            .call(p)?;
        lua.set_named_registry_value("ferrous.mkerr", mkerr)?;
        // The error handler and `enter_script` (its upvalues: the real
        // globals, the two names it sets there and the two tables it reuses
        // for them) as registry slots, which a run pushes with one
        // `lua_rawgeti` each.
        let (mut handler_ref, mut enter_ref) = (0, 0);
        // SAFETY: runs in mlua's protected call; pushes and pops only its
        // own values.
        unsafe {
            lua.exec_raw::<()>((globals, handler), |l| {
                use mlua::ffi;
                handler_ref = ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX);
                ffi::lua_pushstring(l, c"KEYS".as_ptr());
                ffi::lua_pushstring(l, c"ARGV".as_ptr());
                ffi::lua_createtable(l, 4, 0);
                ffi::lua_createtable(l, 4, 0);
                ffi::lua_pushcclosure(l, enter_script, 5);
                enter_ref = ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX);
            })?;
        }
        let c = ctl.clone();
        lua.set_global_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |lua, _| {
                if hook_tick(lua, &c) {
                    Err(mlua::Error::runtime(
                        "Script killed by user with SCRIPT KILL...",
                    ))
                } else {
                    Ok(VmState::Continue)
                }
            },
        )?;
        if memory_limit > 0 {
            lua.set_memory_limit(memory_limit)?;
        }
        Ok(Engine {
            lua,
            runner,
            handler_ref,
            enter_ref,
            loader,
            libs: HashMap::new(),
            compiled: Default::default(),
            ctl,
            state,
            generation: 0,
            memory_limit,
        })
    }

    /// The kill switch of this VM.
    pub fn control(&self) -> Arc<Control> {
        self.ctl.clone()
    }

    /// Drops compiled scripts when the cache generation moved (SCRIPT FLUSH).
    pub fn sync_generation(&mut self, generation: u64) {
        if generation != self.generation {
            self.compiled.clear();
            self.generation = generation;
            self.libs.clear();
            let _ = self.lua.gc_collect();
        }
    }

    /// Bytes of Lua heap in use.
    pub fn used_memory(&self) -> usize {
        self.lua.used_memory()
    }

    /// Compiles `body` (checking its syntax), caching the function under `sha`.
    /// On failure returns Redis's full error text.
    pub fn compile(&mut self, sha: &str, body: &[u8]) -> Result<Function, String> {
        let key = crate::sha_key(sha.as_bytes());
        if let Some(f) = key.as_ref().and_then(|k| self.compiled.get(k)) {
            return Ok(f.clone());
        }
        let src = strip_shebang(body);
        let f = self
            .lua
            .load(&src[..])
            .set_name("@user_script")
            .set_mode(ChunkMode::Text)
            .into_function()
            .map_err(|e| {
                let msg = match &e {
                    mlua::Error::SyntaxError { message, .. } => message.clone(),
                    mlua::Error::MemoryError(m) => m.clone(),
                    other => other.to_string(),
                };
                format!("ERR Error compiling script (new function): {msg}")
            })?;
        if let Some(k) = key {
            self.compiled.insert(k, f.clone());
        }
        Ok(f)
    }

    /// Runs a script. The caller has already compiled it or gets the compile
    /// error here.
    pub fn run(&mut self, opts: &RunOpts<'_>, host: &mut dyn Host) -> Outcome {
        // The cached function is called by reference: a clone would take
        // and release a registry reference per run.
        let key = crate::sha_key(opts.sha.as_bytes());
        let owned;
        let f = match key.as_ref().and_then(|k| self.compiled.get(k)) {
            Some(f) => f,
            None => {
                owned = match self.compile(opts.sha, opts.body) {
                    Ok(f) => f,
                    Err(e) => return Outcome::Raise(e),
                };
                &owned
            }
        };
        let job = ArgsJob {
            keys: opts.keys,
            argv: opts.argv,
            done: std::cell::Cell::new(false),
        };
        self.exec(f, Callee::Script(&job), opts.sha, "@user_script", host)
    }

    /// Loads (or reloads) library `lib` at `generation` into this VM and
    /// returns the functions it registered, or Redis's error text.
    pub fn load_library(
        &mut self,
        lib: &str,
        generation: u64,
        code: &[u8],
    ) -> Result<Vec<FunctionDef>, String> {
        let src = strip_shebang(code);
        let f = self
            .lua
            .load(&src[..])
            .set_name("@user_function")
            .set_mode(ChunkMode::Text)
            .into_function()
            .map_err(|e| {
                let msg = match &e {
                    mlua::Error::SyntaxError { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                format!("ERR Error compiling function: {msg}")
            })?;
        let (ok, res): (bool, Value) = self
            .loader
            .call(f)
            .map_err(|e| format!("ERR Error registering functions: ERR {}", root_message(&e)))?;
        if !ok {
            let msg = match &res {
                Value::Table(t) => match t.raw_get::<Value>("err") {
                    Ok(Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
                    _ => "ERR unknown error".into(),
                },
                Value::String(s) => format!("ERR {}", String::from_utf8_lossy(&s.as_bytes())),
                Value::Error(e) => format!("ERR {}", root_message(e)),
                _ => "ERR unknown error".into(),
            };
            let _ = self.lua.gc_collect();
            return Err(format!("ERR Error registering functions: {msg}"));
        }
        let Value::Table(list) = res else {
            return Err("ERR No functions registered".into());
        };
        let mut defs = Vec::new();
        let mut funcs = HashMap::new();
        for entry in list.sequence_values::<Table>() {
            let entry = entry.map_err(|e| format!("ERR {e}"))?;
            let name: String = entry.get("name").map_err(|e| format!("ERR {e}"))?;
            let cb: Function = entry.get("cb").map_err(|e| format!("ERR {e}"))?;
            let flags: Vec<String> = entry.get("flags").map_err(|e| format!("ERR {e}"))?;
            let description: Option<mlua::LuaString> =
                entry.get("desc").map_err(|e| format!("ERR {e}"))?;
            funcs.insert(name.to_ascii_lowercase(), cb);
            defs.push(FunctionDef {
                name,
                flags,
                description: description.map(|d| d.as_bytes().to_vec()),
            });
        }
        if defs.is_empty() {
            return Err("ERR No functions registered".into());
        }
        self.libs
            .insert(lib.to_string(), LoadedLib { generation, funcs });
        Ok(defs)
    }

    /// Drops library `lib` from this VM.
    pub fn unload_library(&mut self, lib: &str) {
        self.libs.remove(lib);
    }

    /// Calls function `fname` of library `lib` (loading the library into
    /// this VM first if it has not this `generation` of it).
    #[allow(clippy::too_many_arguments)]
    pub fn call_function(
        &mut self,
        lib: &str,
        generation: u64,
        code: &[u8],
        fname: &str,
        keys: &[&[u8]],
        argv: &[&[u8]],
        host: &mut dyn Host,
    ) -> Outcome {
        if self
            .libs
            .get(lib)
            .is_none_or(|l| l.generation != generation)
        {
            if let Err(e) = self.load_library(lib, generation, code) {
                return Outcome::Raise(e);
            }
        }
        let Some(f) = self
            .libs
            .get(lib)
            .and_then(|l| l.funcs.get(&fname.to_ascii_lowercase()))
            .cloned()
        else {
            return Outcome::Raise("ERR Function not found".into());
        };
        let tables = (|| -> mlua::Result<(Table, Table)> {
            let k = self.lua.create_table_with_capacity(keys.len(), 0)?;
            for (i, x) in keys.iter().enumerate() {
                k.raw_set(i + 1, self.lua.create_string(x)?)?;
            }
            let a = self.lua.create_table_with_capacity(argv.len(), 0)?;
            for (i, x) in argv.iter().enumerate() {
                a.raw_set(i + 1, self.lua.create_string(x)?)?;
            }
            Ok((k, a))
        })();
        match tables {
            Ok((k, a)) => self.exec(&f, Callee::Function(k, a), fname, "@user_function", host),
            Err(e) => Outcome::Raise(format!("ERR {e}")),
        }
    }

    fn exec(
        &self,
        f: &Function,
        args: Callee<'_>,
        label: &str,
        chunk: &'static str,
        host: &mut dyn Host,
    ) -> Outcome {
        self.ctl.kill.store(false, Ordering::Relaxed);
        // SAFETY: the pointer is cleared below before `host`'s borrow ends.
        let ptr: *mut (dyn Host + '_) = host;
        let ptr: *mut (dyn Host + 'static) = unsafe { std::mem::transmute(ptr) };
        let st = &*self.state;
        st.host.set(Some(HostPtr(ptr)));
        st.resp3.set(false);
        st.err_line.set(None);
        st.chunk.set(chunk);
        // xpcall's status and the script's first value (a script's further
        // values are dropped, as Redis does): no MultiValue vector per run.
        let res: mlua::Result<(Value, Value)> = match &args {
            Callee::Function(k, a) => self.runner.call((f, k, a)),
            Callee::Script(job) => self.call_script(f, job),
        };
        // The host pointer is cleared before `host` is used again.
        st.host.set(None);
        let (line, script_resp3) = (st.err_line.get(), st.resp3.get());
        let killed = self.ctl.kill.load(Ordering::Relaxed) || host.killed();
        if let Callee::Script(job) = &args {
            if !job.done.get() {
                // Setting KEYS and ARGV failed (out of memory): the script
                // did not start.
                let why = match &res {
                    Ok((_, Value::String(s))) => s.to_string_lossy(),
                    Ok((_, v)) => format!("{v:?}"),
                    Err(e) => e.to_string(),
                };
                return Outcome::Raise(format!("ERR {why}"));
            }
        }
        let outcome = self.finish(label, chunk, res, killed, line, script_resp3);
        // Between scripts the heap is left to Lua's incremental collector,
        // which steps as the scripts allocate. (Redis adds an explicit
        // LUA_GCSTEP every 50 runs; in Lua 5.1 that pays off ~50 KB of
        // debt, i.e. a near-full cycle over the sandbox's heap every 50
        // scripts: ~6% of a short script's cost, for garbage the collector
        // reclaims anyway.) After a failure (perhaps out of memory) reclaim
        // everything.
        if matches!(outcome, Outcome::Raise(_)) {
            let _ = self.lua.gc_collect();
        }
        outcome
    }

    /// Calls the EVAL script `f` straight on the VM's stack: one
    /// `lua_pcall` of [`enter_script`] (which sets KEYS and ARGV, then calls
    /// `f`) under the sandbox's error handler, with no Lua frame, `xpcall`
    /// or generic mlua call around it. Returns what `xpcall` would: (true,
    /// the script's first value) or (false, the error value).
    fn call_script(&self, f: &Function, job: &ArgsJob<'_>) -> mlua::Result<(Value, Value)> {
        use mlua::ffi;
        self.lua.exec_raw_lua(|raw| {
            // SAFETY: four slots are checked for before the pushes; the
            // stack is put back to `top` on every path; `job` outlives
            // the call (the caller's frame holds it).
            unsafe {
                let l = raw.state();
                let top = ffi::lua_gettop(l);
                if ffi::lua_checkstack(l, 4) == 0 {
                    return Err(mlua::Error::StackError);
                }
                ffi::lua_rawgeti(l, ffi::LUA_REGISTRYINDEX, self.handler_ref as _);
                ffi::lua_rawgeti(l, ffi::LUA_REGISTRYINDEX, self.enter_ref as _);
                if let Err(e) = raw.push(f) {
                    ffi::lua_settop(l, top);
                    return Err(e);
                }
                ffi::lua_pushlightuserdata(l, job as *const ArgsJob<'_> as *mut std::ffi::c_void);
                let status = ffi::lua_pcall(l, 2, 1, top + 1);
                let v = raw.pop::<Value>();
                ffi::lua_settop(l, top);
                Ok((Value::Boolean(status == 0), v?))
            }
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        label: &str,
        chunk: &str,
        res: mlua::Result<(Value, Value)>,
        killed: bool,
        line: Option<usize>,
        script_resp3: bool,
    ) -> Outcome {
        // Only errors carry it: not formatted for a script that returns.
        let suffix = || match line {
            Some(l) => format!(" script: {label}, on {chunk}:{l}."),
            None => format!(" script: {label}"),
        };
        let (status, first) = match res {
            Ok(v) => v,
            Err(e) => {
                let msg = match e {
                    mlua::Error::MemoryError(_) => "ERR Lua script ran out of memory".to_string(),
                    other => format!("ERR {other}"),
                };
                return Outcome::Raise(format!("{msg}{}", suffix()));
            }
        };
        let ok = matches!(status, Value::Boolean(true));
        if killed {
            return Outcome::Raise(format!(
                "ERR Script killed by user with SCRIPT KILL...{}",
                suffix()
            ));
        }
        if ok {
            // Booleans follow the script's protocol (redis.setresp), as in Redis.
            return Outcome::Return(lua_to_reply(&first, script_resp3, 0));
        }
        let msg = match &first {
            Value::Table(t) => match t.raw_get::<Value>("err") {
                Ok(Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
                _ => "ERR unknown error".to_string(),
            },
            Value::String(s) => format!("ERR {}", String::from_utf8_lossy(&s.as_bytes())),
            Value::Integer(n) => format!("ERR {n}"),
            Value::Number(n) => format!("ERR {}", crate::convert::fmt_lua_number(*n)),
            Value::Error(e) => {
                if matches!(**e, mlua::Error::MemoryError(_)) {
                    "ERR Lua script ran out of memory".to_string()
                } else {
                    // Like luaL_error in a C library function: the position
                    // is the calling script line.
                    match line {
                        Some(l) => format!(
                            "ERR {}:{l}: {}",
                            chunk.trim_start_matches('@'),
                            root_message(e)
                        ),
                        None => format!("ERR {}", root_message(e)),
                    }
                }
            }
            _ => "ERR unknown error".to_string(),
        };
        Outcome::Raise(format!("{msg}{}", suffix()))
    }
}

/// What a run calls: an EVAL script, whose KEYS and ARGV [`enter_script`]
/// sets inside the run's protected call, or a function with its two
/// tables.
enum Callee<'a> {
    Script(&'a ArgsJob<'a>),
    Function(Table, Table),
}

/// KEYS and ARGV of a script, handed to [`enter_script`] as a light userdata.
struct ArgsJob<'a> {
    keys: &'a [&'a [u8]],
    argv: &'a [&'a [u8]],
    /// Set once both globals are set: an error before is a failure to
    /// start the script, not the script's.
    done: std::cell::Cell<bool>,
}

/// Most entries a reused `KEYS`/`ARGV` table is cleared of; a bigger one
/// (or one given a metatable) is replaced by a new table instead, so a
/// script that filled it cannot make later runs slow or keep its memory.
const SEQ_REUSE_MAX: usize = 64;

/// Makes the table in C-closure upvalue `up` hold exactly `items` (1..n),
/// pushes it. The table is the one the last run had, emptied of whatever
/// that run left in it (a script may add to its `KEYS` and `ARGV`), or a
/// new one: a run then allocates no tables and leaves none for the
/// collector.
///
/// # Safety
/// `l` must be a valid state running a C closure with upvalue `up`, with 4
/// free stack slots, inside a protected call (allocations may raise).
unsafe fn reuse_seq(l: *mut mlua::ffi::lua_State, up: std::os::raw::c_int, items: &[&[u8]]) {
    use mlua::ffi;
    let t = ffi::lua_upvalueindex(up);
    let mut fresh = items.len() > SEQ_REUSE_MAX || ffi::lua_type(l, t) != ffi::LUA_TTABLE;
    if !fresh && ffi::lua_getmetatable(l, t) != 0 {
        ffi::lua_pop(l, 1);
        fresh = true;
    }
    if !fresh {
        // Clearing fields while traversing is allowed (Lua manual,
        // `lua_next`).
        let mut cleared = 0;
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, t) != 0 {
            cleared += 1;
            if cleared > SEQ_REUSE_MAX {
                ffi::lua_pop(l, 2);
                fresh = true;
                break;
            }
            ffi::lua_pop(l, 1);
            ffi::lua_pushvalue(l, -1);
            ffi::lua_pushnil(l);
            ffi::lua_rawset(l, t);
        }
    }
    if fresh {
        ffi::lua_createtable(l, items.len() as _, 0);
        ffi::lua_replace(l, t);
    }
    for (i, x) in items.iter().enumerate() {
        ffi::lua_pushlstring(l, x.as_ptr() as *const _, x.len());
        ffi::lua_rawseti(l, t, (i + 1) as _);
    }
    ffi::lua_pushvalue(l, t);
}

/// `enter(f, job)`, the C closure an EVAL run calls in protected mode (see
/// [`Engine::call_script`]): sets `KEYS` and `ARGV` in the real globals
/// (upvalue 1; the names are upvalues 2 and 3, so nothing is interned per
/// run; the tables, reused from run to run, upvalues 4 and 5) from the
/// [`ArgsJob`] `job` points to, then calls the script `f` and returns its
/// first value. Raw C API: a memory error unwinds through no Rust value
/// with a destructor.
unsafe extern "C-unwind" fn enter_script(l: *mut mlua::ffi::lua_State) -> std::os::raw::c_int {
    use mlua::ffi;
    let job = ffi::lua_touserdata(l, 2) as *const ArgsJob<'_>;
    if job.is_null() || ffi::lua_type(l, 1) != ffi::LUA_TFUNCTION {
        return 0;
    }
    let job = &*job;
    // A name and `reuse_seq`'s 4 need 5 slots beyond the arguments, within
    // LUA_MINSTACK.
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(2));
    reuse_seq(l, 4, job.keys);
    ffi::lua_rawset(l, ffi::lua_upvalueindex(1));
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(3));
    reuse_seq(l, 5, job.argv);
    ffi::lua_rawset(l, ffi::lua_upvalueindex(1));
    job.done.set(true);
    ffi::lua_settop(l, 1);
    ffi::lua_call(l, 0, 1);
    1
}

/// The innermost message of an mlua error (without callback tracebacks).
fn root_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::CallbackError { cause, .. } => root_message(cause),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::MemoryError(m) => m.clone(),
        other => other.to_string(),
    }
}

/// Redis keeps the line count but hides the `#!lua …` line from Lua.
fn strip_shebang(body: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if body.starts_with(b"#!") {
        let nl = body.iter().position(|&c| c == b'\n').unwrap_or(body.len());
        let mut v = Vec::with_capacity(body.len() - nl);
        v.extend_from_slice(&body[nl..]);
        std::borrow::Cow::Owned(v)
    } else {
        std::borrow::Cow::Borrowed(body)
    }
}
