//! FUNCTION (LOAD, DELETE, FLUSH, LIST, STATS, KILL, HELP) and FCALL /
//! FCALL_RO. Libraries live in `crate::script_host::Scripting::libraries`;
//! each Lua VM loads a library lazily the first time it runs one of its
//! functions. FCALL runs like EVAL: on the private version, rolled back when
//! the function raises.

use bytes::Bytes;
use ferrous_scripting::Outcome;
use ferrous_storage::Version;

use super::keyspec::*;
use super::{int_arg, is, Ctx, Handler::*};
use crate::cmd;
use crate::script_host::{write_reply, Library, ScriptHost, VersionRef};

/// FCALL, FCALL_RO and FUNCTION.
#[rustfmt::skip]
pub static COMMANDS: &[super::CommandSpec] = &[
    cmd!("fcall", -3, [NOSCRIPT, STALE, SKIP_MONITOR, NO_MANDATORY_KEYS, MOVABLEKEYS], (0, 0, 0),
        Write(fcall), "scripting", "Invoke a function", "7.0.0",
        "Depends on the function that is executed.", acl: [], tips: [],
        ks: [ks_keynum(RW | ACCESS | UPDATE, 2, 0, 1, 1)
            .notes("We cannot tell how the keys will be used so we assume the worst, RW and UPDATE")],
        subs: &[]),
    cmd!("fcall_ro", -3, [READONLY, NOSCRIPT, STALE, SKIP_MONITOR, NO_MANDATORY_KEYS, MOVABLEKEYS],
        (0, 0, 0), Read(fcall_ro), "scripting", "Invoke a read-only function", "7.0.0",
        "Depends on the function that is executed.", acl: [], tips: [],
        ks: [ks_keynum(RO | ACCESS, 2, 0, 1, 1)
            .notes("We cannot tell how the keys will be used so we assume the worst, RO and ACCESS")],
        subs: &[]),
    cmd!("function", -2, [], (0, 0, 0), Container, "scripting",
        "A container for function commands", "7.0.0", "Depends on subcommand.",
        acl: [], tips: [], ks: [], subs: FUNCTION_SUBCOMMANDS),
];

#[rustfmt::skip]
static FUNCTION_SUBCOMMANDS: &[super::CommandSpec] = &[
    cmd!("kill", 2, [NOSCRIPT, ALLOW_BUSY], (0, 0, 0), Conn(function_kill), "scripting",
        "Kill the function currently in execution.", "7.0.0", "O(1)", acl: [],
        tips: ["request_policy:all_shards", "response_policy:one_succeeded"], ks: [], subs: &[]),
    cmd!("load", -3, [WRITE, DENYOOM, NOSCRIPT], (0, 0, 0), Conn(function_load), "scripting",
        "Create a function with the given arguments (name, code, description)", "7.0.0",
        "O(1) (considering compilation time is redundant)", acl: [],
        tips: ["request_policy:all_shards", "response_policy:all_succeeded"], ks: [], subs: &[]),
    cmd!("flush", -2, [WRITE, NOSCRIPT], (0, 0, 0), Conn(function_flush), "scripting",
        "Deleting all functions", "7.0.0", "O(N) where N is the number of functions deleted",
        acl: [], tips: ["request_policy:all_shards", "response_policy:all_succeeded"], ks: [],
        subs: &[]),
    cmd!("delete", 3, [WRITE, NOSCRIPT], (0, 0, 0), Conn(function_delete), "scripting",
        "Delete a function by name", "7.0.0", "O(1)", acl: [],
        tips: ["request_policy:all_shards", "response_policy:all_succeeded"], ks: [], subs: &[]),
    cmd!("list", -2, [NOSCRIPT], (0, 0, 0), Conn(function_list), "scripting",
        "List information about all the functions", "7.0.0",
        "O(N) where N is the number of functions", acl: [],
        tips: ["nondeterministic_output_order"], ks: [], subs: &[]),
    cmd!("stats", 2, [NOSCRIPT, ALLOW_BUSY], (0, 0, 0), Conn(function_stats), "scripting",
        "Return information about the function currently running (name, description, duration)",
        "7.0.0", "O(1)", acl: [],
        tips: ["nondeterministic_output", "request_policy:all_shards", "response_policy:special"],
        ks: [], subs: &[]),
    cmd!("dump", 2, [NOSCRIPT], (0, 0, 0), Conn(function_dump), "scripting",
        "Dump all functions into a serialized binary payload", "7.0.0",
        "O(N) where N is the number of functions", acl: [], tips: [], ks: [], subs: &[]),
    cmd!("restore", -3, [WRITE, DENYOOM, NOSCRIPT], (0, 0, 0), Conn(function_restore),
        "scripting", "Restore all the functions on the given payload", "7.0.0",
        "O(N) where N is the number of functions on the payload", acl: [],
        tips: ["request_policy:all_shards", "response_policy:all_succeeded"], ks: [], subs: &[]),
    cmd!("help", 2, [LOADING, STALE], (0, 0, 0), Conn(function_help), "scripting",
        "Show helpful text about the different subcommands", "7.0.0", "O(1)", acl: [],
        tips: [], ks: [], subs: &[]),
];

fn fcall(ctx: &mut Ctx<'_>, v: &mut Version) {
    run(ctx, VersionRef::Rw(v), false);
}

/// Whether function `name` has the `no-writes` flag (FCALL then runs it on
/// a snapshot without the GIL).
pub fn is_no_writes(srv: &crate::server::Server, name: &[u8]) -> bool {
    let name = String::from_utf8_lossy(name).to_ascii_lowercase();
    let libs = srv
        .scripting
        .libraries
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    libs.by_function
        .get(&name)
        .and_then(|l| libs.libs.get(l))
        .and_then(|l| {
            l.functions
                .iter()
                .find(|f| f.name.eq_ignore_ascii_case(&name))
        })
        .is_some_and(|f| f.flags.iter().any(|x| x == "no-writes"))
}

/// FCALL of a `no-writes` function on a snapshot.
pub fn fcall_snapshot(ctx: &mut Ctx<'_>, v: &Version) {
    run(ctx, VersionRef::Ro(v), false);
}

fn fcall_ro(ctx: &mut Ctx<'_>, v: &Version) {
    run(ctx, VersionRef::Ro(v), true);
}

fn run(ctx: &mut Ctx<'_>, version: VersionRef<'_>, ro_command: bool) {
    let scripting = &ctx.srv.scripting;
    let fname = String::from_utf8_lossy(&ctx.args[1]).into_owned();
    let found = {
        let libs = scripting
            .libraries
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        libs.by_function
            .get(&fname.to_ascii_lowercase())
            .and_then(|l| libs.libs.get(l))
            .cloned()
    };
    let Some(lib) = found else {
        return ctx.err("ERR Function not found");
    };
    let Some(def) = lib
        .functions
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(&fname))
    else {
        return ctx.err("ERR Function not found");
    };
    let no_writes = def.flags.iter().any(|f| f == "no-writes");
    if ro_command && !no_writes {
        return ctx.err("ERR Can not execute a script with write flag using *_ro command.");
    }
    let Ok(numkeys) = int_arg(&ctx.args[2]) else {
        return ctx.err("ERR Bad number of keys provided");
    };
    if numkeys < 0 {
        return ctx.err("ERR Number of keys can't be negative");
    }
    if numkeys as u64 > (ctx.args.len() - 3) as u64 {
        return ctx.err("ERR Number of keys can't be greater than number of args");
    }
    let version = match version {
        VersionRef::Rw(v) if no_writes => VersionRef::Ro(v),
        other => other,
    };
    // A script given the transaction's slot holds the GIL: it marks itself
    // there for BUSY and SCRIPT KILL (see `Scripting::kill_kind`).
    let writer = ctx.gil.is_some();
    let name = def.name.clone();
    let mut vm = match scripting.take_engine(crate::script_host::memory_limit(ctx.srv)) {
        Ok(e) => e,
        Err(e) => return ctx.err(&e),
    };
    let n = numkeys as usize;
    let keys: Vec<&[u8]> = ctx.args[3..3 + n].iter().map(|a| &a[..]).collect();
    let argv: Vec<&[u8]> = ctx.args[3 + n..].iter().map(|a| &a[..]).collect();
    let mut host = ScriptHost {
        srv: ctx.srv,
        info: ctx.client.info.clone(),
        db: ctx.client.db,
        version,
        now: ctx.now,
        dirty: 0,
        lookups: std::mem::take(&mut ctx.lookups),
        events: Default::default(),
        kill: None,
        offload: Default::default(),
        saved: false,
        scratch: std::mem::take(&mut vm.scratch),
    };
    let run_id = scripting.start(
        vm.engine.control(),
        writer,
        Some((name.clone(), ctx.args.to_vec())),
    );
    if let Some(g) = ctx.gil.as_mut() {
        g.script_started(crate::server::now_ms());
        host.kill = Some(g.kill_signal());
    }
    // Inline: `host.offload` frees the runtime if the function runs long.
    let outcome = vm.engine.call_function(
        &lib.name,
        lib.generation,
        &lib.code,
        &name,
        &keys,
        &argv,
        &mut host,
    );
    // Unmark before unregistering (the order `kill_kind` relies on).
    if let Some(g) = ctx.gil.as_mut() {
        g.script_finished();
    }
    scripting.end(run_id);
    vm.scratch = host.take_scratch();
    scripting.give_back(vm);
    let ScriptHost {
        version,
        dirty,
        lookups,
        mut events,
        saved,
        ..
    } = host;
    ctx.lookups = lookups;
    crate::script_host::end_savepoint(version, saved, matches!(outcome, Outcome::Raise(_)));
    match outcome {
        Outcome::Return(r) => {
            ctx.dirty += dirty;
            ctx.client.events.append(&mut events);
            write_reply(ctx.out, &r);
        }
        Outcome::Raise(msg) => {
            ctx.err(&msg);
        }
    }
}

const NAME_RULE: &str = "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// Parses `#!lua name=<lib>`: the library name or Redis's error.
fn library_name(code: &[u8]) -> Result<String, String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let end = code.iter().position(|&c| c == b'\n').unwrap_or(code.len());
    let line = String::from_utf8_lossy(&code[2..end]).into_owned();
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("ERR Engine '{engine}' not found"));
    }
    let mut name = None;
    for p in parts {
        match p.strip_prefix("name=") {
            Some(n) => {
                if name.is_some() {
                    return Err(
                        "ERR Invalid metadata value, name argument was given multiple times".into(),
                    );
                }
                name = Some(n.to_string());
            }
            None => return Err(format!("ERR Invalid metadata value given: {p}")),
        }
    }
    let name = name.ok_or("ERR Library name was not given")?;
    if name.is_empty() || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
        return Err(NAME_RULE.into());
    }
    Ok(name)
}

fn function_load(ctx: &mut Ctx<'_>) {
    let n = ctx.args.len();
    let mut replace = false;
    for a in &ctx.args[2..n - 1] {
        if is(a, "replace") {
            replace = true;
        } else {
            let s = String::from_utf8_lossy(a).into_owned();
            return ctx.err(&format!("ERR Unknown option given: {s}"));
        }
    }
    let code: Bytes = ctx.args[n - 1].clone();
    match load_library(ctx.srv, code, replace) {
        Ok(name) => ctx.out.bulk(name.as_bytes()),
        Err(e) => ctx.err(&e),
    }
}

/// Loads a library (FUNCTION LOAD): checks, registers, returns its name.
pub fn load_library(
    srv: &crate::server::Server,
    code: Bytes,
    replace: bool,
) -> Result<String, String> {
    let name = library_name(&code)?;
    {
        let libs = srv
            .scripting
            .libraries
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if libs.libs.contains_key(&name) && !replace {
            return Err(format!("ERR Library '{name}' already exists"));
        }
    }
    let lib = compile_library(srv, name.clone(), code)?;
    let mut libs = srv
        .scripting
        .libraries
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    install(&mut libs, lib)?;
    Ok(name)
}

/// Runs a library's code once to learn its functions.
fn compile_library(
    srv: &crate::server::Server,
    name: String,
    code: Bytes,
) -> Result<Library, String> {
    let scripting = &srv.scripting;
    let generation = scripting.next_lib_generation();
    let mut vm = scripting.take_engine(crate::script_host::memory_limit(srv))?;
    let defs = off_load(|| vm.engine.load_library(&name, generation, &code));
    scripting.give_back(vm);
    Ok(Library {
        name,
        code,
        generation,
        functions: defs?,
    })
}

/// Adds `lib` to `libs`, replacing a library of the same name; fails if one
/// of its functions belongs to another library.
fn install(libs: &mut crate::script_host::Libraries, lib: Library) -> Result<(), String> {
    for d in &lib.functions {
        if let Some(owner) = libs.by_function.get(&d.name.to_ascii_lowercase()) {
            if *owner != lib.name {
                return Err(format!("ERR Function {} already exists", d.name));
            }
        }
    }
    if let Some(old) = libs.libs.remove(&lib.name) {
        for f in &old.functions {
            libs.by_function.remove(&f.name.to_ascii_lowercase());
        }
    }
    for d in &lib.functions {
        libs.by_function
            .insert(d.name.to_ascii_lowercase(), lib.name.clone());
    }
    libs.libs.insert(lib.name.clone(), lib);
    Ok(())
}

fn function_dump(ctx: &mut Ctx<'_>) {
    let payload = {
        let libs = ctx
            .srv
            .scripting
            .libraries
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        super::function_dump::dump(libs.libs.values().map(|l| &l.code[..]))
    };
    ctx.out.bulk(&payload);
}

fn function_restore(ctx: &mut Ctx<'_>) {
    if ctx.args.len() > 4 {
        let sub = String::from_utf8_lossy(&ctx.args[1]).into_owned();
        return ctx.err(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try FUNCTION HELP."
        ));
    }
    #[derive(PartialEq)]
    enum Policy {
        Flush,
        Append,
        Replace,
    }
    let policy =
        match ctx.args.get(3) {
            None => Policy::Append,
            Some(p) if is(p, "flush") => Policy::Flush,
            Some(p) if is(p, "append") => Policy::Append,
            Some(p) if is(p, "replace") => Policy::Replace,
            Some(_) => return ctx.err(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ),
        };
    use super::function_dump::RestoreError;
    let codes = match super::function_dump::parse(&ctx.args[2]) {
        Ok(c) => c,
        Err(RestoreError::Footer) => {
            return ctx.err("ERR DUMP payload version or checksum are wrong")
        }
        Err(RestoreError::NotFunction) => return ctx.err("ERR given type is not a function"),
        Err(RestoreError::Malformed) => return ctx.err("ERR Bad data format"),
    };
    let mut loaded = Vec::new();
    for code in codes {
        let code = Bytes::from(code);
        let name = match library_name(&code) {
            Ok(n) => n,
            Err(e) => return ctx.err(&e),
        };
        match compile_library(ctx.srv, name, code) {
            Ok(l) => loaded.push(l),
            Err(e) => return ctx.err(&e),
        }
    }
    let mut libs = ctx
        .srv
        .scripting
        .libraries
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    // All or nothing: work on a copy, swap it in at the end.
    let mut next = crate::script_host::Libraries::default();
    if policy != Policy::Flush {
        next.libs = libs.libs.clone();
        next.by_function = libs.by_function.clone();
    }
    for lib in loaded {
        if policy == Policy::Append && next.libs.contains_key(&lib.name) {
            let msg = format!("ERR Library {} already exists", lib.name);
            drop(libs);
            return ctx.err(&msg);
        }
        if let Err(e) = install(&mut next, lib) {
            drop(libs);
            return ctx.err(&e);
        }
    }
    *libs = next;
    drop(libs);
    ctx.out.ok();
}

fn off_load<R>(f: impl FnOnce() -> R) -> R {
    super::scripting::off_runtime(f)
}

fn function_delete(ctx: &mut Ctx<'_>) {
    let name = String::from_utf8_lossy(&ctx.args[2]).into_owned();
    let mut libs = ctx
        .srv
        .scripting
        .libraries
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    match libs.libs.remove(&name) {
        Some(old) => {
            for f in &old.functions {
                libs.by_function.remove(&f.name.to_ascii_lowercase());
            }
            drop(libs);
            ctx.out.ok();
        }
        None => {
            drop(libs);
            ctx.err("ERR Library not found");
        }
    }
}

fn function_flush(ctx: &mut Ctx<'_>) {
    if ctx.args.len() > 3
        || (ctx.args.len() == 3 && !is(&ctx.args[2], "sync") && !is(&ctx.args[2], "async"))
    {
        return ctx.err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
    }
    let mut libs = ctx
        .srv
        .scripting
        .libraries
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    libs.libs.clear();
    libs.by_function.clear();
    drop(libs);
    ctx.out.ok();
}

fn function_list(ctx: &mut Ctx<'_>) {
    let mut pattern: Option<Bytes> = None;
    let mut with_code = false;
    let mut i = 2;
    while i < ctx.args.len() {
        let a = &ctx.args[i];
        if is(a, "withcode") {
            with_code = true;
        } else if is(a, "libraryname") {
            match ctx.args.get(i + 1) {
                Some(p) => pattern = Some(p.clone()),
                None => return ctx.err("ERR library name argument was not given"),
            }
            i += 1;
        } else {
            let s = String::from_utf8_lossy(a).into_owned();
            return ctx.err(&format!("ERR Unknown argument {s}"));
        }
        i += 1;
    }
    let libs: Vec<Library> = {
        let l = ctx
            .srv
            .scripting
            .libraries
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        l.libs
            .values()
            .filter(|lib| {
                pattern
                    .as_ref()
                    .is_none_or(|p| crate::glob::matches(p, lib.name.as_bytes(), false))
            })
            .cloned()
            .collect()
    };
    let out = &mut *ctx.out;
    out.array(libs.len());
    for lib in &libs {
        out.map(if with_code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(lib.name.as_bytes());
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        out.array(lib.functions.len());
        for f in &lib.functions {
            out.map(3);
            out.bulk(b"name");
            out.bulk(f.name.as_bytes());
            out.bulk(b"description");
            match &f.description {
                Some(d) => out.bulk(d),
                None => out.null(),
            }
            out.bulk(b"flags");
            out.set(f.flags.len());
            for fl in &f.flags {
                out.status(fl);
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(&lib.code);
        }
    }
}

fn function_stats(ctx: &mut Ctx<'_>) {
    let (nlibs, nfuncs) = {
        let l = ctx
            .srv
            .scripting
            .libraries
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        (
            l.libs.len(),
            l.libs.values().map(|x| x.functions.len()).sum::<usize>(),
        )
    };
    let running = ctx.srv.scripting.running_function();
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"running_script");
    match running {
        Some((name, command, ms)) => {
            out.map(3);
            out.bulk(b"name");
            out.bulk(name.as_bytes());
            out.bulk(b"command");
            out.array(command.len());
            for a in &command {
                out.bulk(a);
            }
            out.bulk(b"duration_ms");
            out.int(ms as i64);
        }
        None => out.null(),
    }
    out.bulk(b"engines");
    out.map(1);
    out.bulk(b"LUA");
    out.map(2);
    out.bulk(b"libraries_count");
    out.int(nlibs as i64);
    out.bulk(b"functions_count");
    out.int(nfuncs as i64);
}

fn function_kill(ctx: &mut Ctx<'_>) {
    match ctx.srv.scripting.kill_kind(&ctx.srv.store, true) {
        Ok(()) => ctx.out.ok(),
        Err(e) => ctx.err(e),
    }
}

const FUNCTION_HELP: &[&str] = &[
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
];

fn function_help(ctx: &mut Ctx<'_>) {
    super::command::help_reply(ctx, "FUNCTION", FUNCTION_HELP);
}
