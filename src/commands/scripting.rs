//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT.
//!
//! A write script runs on the private version of the batch's write
//! transaction (so it holds the GIL) and is atomic in the strong sense: when
//! it raises, the version is put back as it was before the script, so none
//! of its writes survive (Redis keeps them). Read-only scripts run on a
//! snapshot without the GIL. The Lua side lives in `ferrous-scripting`; the
//! cache, VM pool and host in `crate::script_host`.

use std::sync::Arc;

use bytes::Bytes;
use ferrous_scripting::{sha1_hex, Outcome, RunOpts};
use ferrous_storage::Version;

use super::keyspec::*;
use super::{int_arg, is, Ctx, Handler::*};
use crate::cmd;
use crate::script_host::{write_reply, ScriptHost, VersionRef};

/// The scripting commands.
#[rustfmt::skip]
pub static COMMANDS: &[super::CommandSpec] = &[
    cmd!("eval", -3, [NOSCRIPT, STALE, SKIP_MONITOR, NO_MANDATORY_KEYS, MOVABLEKEYS], (0, 0, 0),
        Write(eval), "scripting", "Execute a Lua script server side", "2.6.0",
        "Depends on the script that is executed.", acl: [], tips: [],
        ks: [ks_keynum(RW | ACCESS | UPDATE, 2, 0, 1, 1)
            .notes("We cannot tell how the keys will be used so we assume the worst, RW and UPDATE")],
        subs: &[]),
    cmd!("evalsha", -3, [NOSCRIPT, STALE, SKIP_MONITOR, NO_MANDATORY_KEYS, MOVABLEKEYS], (0, 0, 0),
        Write(evalsha), "scripting", "Execute a Lua script server side", "2.6.0",
        "Depends on the script that is executed.", acl: [], tips: [],
        ks: [ks_keynum(RW | ACCESS | UPDATE, 2, 0, 1, 1)], subs: &[]),
    cmd!("eval_ro", -3, [READONLY, NOSCRIPT, STALE, SKIP_MONITOR, NO_MANDATORY_KEYS, MOVABLEKEYS],
        (0, 0, 0), Read(eval_ro), "scripting", "Execute a read-only Lua script server side",
        "7.0.0", "Depends on the script that is executed.", acl: [], tips: [],
        ks: [ks_keynum(RO | ACCESS, 2, 0, 1, 1)
            .notes("We cannot tell how the keys will be used so we assume the worst, RO and ACCESS")],
        subs: &[]),
    cmd!("evalsha_ro", -3, [READONLY, NOSCRIPT, STALE, SKIP_MONITOR, NO_MANDATORY_KEYS, MOVABLEKEYS],
        (0, 0, 0), Read(evalsha_ro), "scripting", "Execute a read-only Lua script server side",
        "7.0.0", "Depends on the script that is executed.", acl: [], tips: [],
        ks: [ks_keynum(RO | ACCESS, 2, 0, 1, 1)], subs: &[]),
    cmd!("script", -2, [], (0, 0, 0), Container, "scripting",
        "A container for Lua scripts management commands", "2.6.0", "Depends on subcommand.",
        acl: [], tips: [], ks: [], subs: SCRIPT_SUBCOMMANDS),
];

#[rustfmt::skip]
static SCRIPT_SUBCOMMANDS: &[super::CommandSpec] = &[
    cmd!("load", 3, [NOSCRIPT, STALE], (0, 0, 0), Conn(script_load), "scripting",
        "Load the specified Lua script into the script cache.", "2.6.0",
        "O(N) with N being the length in bytes of the script body.", acl: [],
        tips: ["request_policy:all_nodes", "response_policy:all_succeeded"], ks: [], subs: &[]),
    cmd!("exists", -3, [NOSCRIPT], (0, 0, 0), Conn(script_exists), "scripting",
        "Check existence of scripts in the script cache.", "2.6.0",
        "O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation).",
        acl: [], tips: ["request_policy:all_shards", "response_policy:agg_logical_and"], ks: [],
        subs: &[]),
    cmd!("flush", -2, [NOSCRIPT], (0, 0, 0), Conn(script_flush), "scripting",
        "Remove all the scripts from the script cache.", "2.6.0",
        "O(N) with N being the number of scripts in cache", acl: [],
        tips: ["request_policy:all_nodes", "response_policy:all_succeeded"], ks: [], subs: &[]),
    cmd!("kill", 2, [NOSCRIPT, ALLOW_BUSY], (0, 0, 0), Conn(script_kill), "scripting",
        "Kill the script currently in execution.", "2.6.0", "O(1)", acl: [],
        tips: ["request_policy:all_shards", "response_policy:one_succeeded"], ks: [], subs: &[]),
    cmd!("debug", 3, [NOSCRIPT], (0, 0, 0), Conn(script_debug), "scripting",
        "Set the debug mode for executed scripts.", "3.2.0", "O(1)", acl: [], tips: [], ks: [],
        subs: &[]),
    cmd!("help", 2, [LOADING, STALE], (0, 0, 0), Conn(script_help), "scripting",
        "Show helpful text about the different subcommands", "5.0.0", "O(1)", acl: [],
        tips: [], ks: [], subs: &[]),
];

/// `-NOSCRIPT`.
pub const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";
fn eval(ctx: &mut Ctx<'_>, v: &mut Version) {
    run(ctx, VersionRef::Rw(v), false);
}
fn evalsha(ctx: &mut Ctx<'_>, v: &mut Version) {
    run(ctx, VersionRef::Rw(v), true);
}
/// Whether this EVAL/EVALSHA/FCALL line runs a `no-writes` script or function,
/// which the executor then runs on a snapshot without taking the GIL.
pub fn is_no_writes_eval(srv: &crate::server::Server, args: &[bytes::Bytes]) -> bool {
    if args.len() < 3 {
        return false;
    }
    let flagged = |body: &[u8]| matches!(shebang(body), Ok(Some(Shebang { no_writes: true })));
    if is(&args[0], "eval") {
        args[1].starts_with(b"#!") && flagged(&args[1])
    } else if is(&args[0], "fcall") {
        super::functions::is_no_writes(srv, &args[1])
    } else if is(&args[0], "evalsha") {
        // Most servers cache no `no-writes` script: then no lookup here
        // (EVALSHA's run looks the script up anyway).
        srv.scripting.maybe_no_writes()
            && srv.scripting.get_sha(&args[1]).is_some_and(|s| s.no_writes)
    } else {
        false
    }
}

/// EVAL/EVALSHA of a `no-writes` script on a snapshot (see
/// [`is_no_writes_eval`]).
pub fn eval_snapshot(ctx: &mut Ctx<'_>, v: &Version) {
    if is(&ctx.args[0], "fcall") {
        return super::functions::fcall_snapshot(ctx, v);
    }
    let by_sha = is(&ctx.args[0], "evalsha");
    run(ctx, VersionRef::Ro(v), by_sha);
}

fn eval_ro(ctx: &mut Ctx<'_>, v: &Version) {
    run(ctx, VersionRef::Ro(v), false);
}
fn evalsha_ro(ctx: &mut Ctx<'_>, v: &Version) {
    run(ctx, VersionRef::Ro(v), true);
}

/// What a `#!lua` shebang line asks for.
struct Shebang {
    no_writes: bool,
}

/// Parses the shebang of `body`, or Redis's error for a bad one.
fn shebang(body: &[u8]) -> Result<Option<Shebang>, String> {
    if !body.starts_with(b"#!") {
        return Ok(None);
    }
    let Some(end) = body.iter().position(|&c| c == b'\n') else {
        return Err("ERR Invalid script shebang".into());
    };
    let line = String::from_utf8_lossy(&body[2..end]).into_owned();
    let first = line.split(' ').next().unwrap_or("");
    if first != "lua" {
        return Err(format!(
            "ERR Unexpected engine in script shebang: #!{first}"
        ));
    }
    let parts = line.split(' ').skip(1).filter(|p| !p.is_empty());
    let mut sb = Shebang { no_writes: false };
    for p in parts {
        let Some(flags) = p.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {p}"));
        };
        for f in flags.split(',').filter(|f| !f.is_empty()) {
            match f {
                "no-writes" => sb.no_writes = true,
                "allow-oom" | "allow-stale" | "no-cluster" | "allow-cross-slot-keys" => {}
                other => return Err(format!("ERR Unexpected flag in script shebang: {other}")),
            }
        }
    }
    Ok(Some(sb))
}

/// The body of the script a run executes.
enum ScriptBody {
    /// EVALSHA: from the cache.
    Cached(Arc<crate::script_host::CachedScript>),
    /// EVAL: the argument.
    Given(Bytes),
}

fn run(ctx: &mut Ctx<'_>, version: VersionRef<'_>, by_sha: bool) {
    let numkeys = match int_arg(&ctx.args[2]) {
        Ok(n) => n,
        Err(e) => return ctx.err(e),
    };
    if numkeys < 0 {
        return ctx.err("ERR Number of keys can't be negative");
    }
    if numkeys as u64 > (ctx.args.len() - 3) as u64 {
        return ctx.err("ERR Number of keys can't be greater than number of args");
    }
    let scripting = &ctx.srv.scripting;
    // EVALSHA: the cached script, its shebang parsed when it was cached.
    // EVAL: the body given, its shebang parsed here.
    let mut sha_owned = String::new();
    let (body, no_writes) = if by_sha {
        let Some(script) = scripting.get_sha(&ctx.args[1]) else {
            return ctx.err(NOSCRIPT);
        };
        let no_writes = script.no_writes;
        (ScriptBody::Cached(script), no_writes)
    } else {
        let body = ctx.args[1].clone();
        let sb = match shebang(&body) {
            Ok(s) => s,
            Err(e) => return ctx.err(&e),
        };
        sha_owned = sha1_hex(&body);
        (
            ScriptBody::Given(body),
            matches!(sb, Some(Shebang { no_writes: true })),
        )
    };
    let (sha, body): (&str, &Bytes) = match &body {
        ScriptBody::Cached(s) => (&s.sha, &s.body),
        ScriptBody::Given(b) => (&sha_owned, b),
    };
    // A `no-writes` script run by EVAL still holds the GIL here, but may
    // not write.
    let version = match version {
        VersionRef::Rw(v) if no_writes => VersionRef::Ro(v),
        other => other,
    };
    // A script given the transaction's slot holds the GIL: it marks itself
    // there for BUSY and SCRIPT KILL (see `Scripting::kill_kind`).
    let writer = ctx.gil.is_some();
    let mut vm = match scripting.take_engine(crate::script_host::memory_limit(ctx.srv)) {
        Ok(e) => e,
        Err(e) => return ctx.err(&e),
    };
    if !by_sha {
        if let Err(e) = vm.engine.compile(sha, body) {
            scripting.give_back(vm);
            return ctx.err(&e);
        }
        if scripting.get(sha).is_none() {
            scripting.insert(sha, body.clone(), no_writes);
        }
    }
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
    let run_id = scripting.start(vm.engine.control(), writer, None);
    if let Some(g) = ctx.gil.as_mut() {
        g.script_started(crate::server::now_ms());
        host.kill = Some(g.kill_signal());
    }
    let opts = RunOpts {
        sha,
        body,
        keys: &keys,
        argv: &argv,
        client_resp3: ctx.out.resp3,
    };
    // Inline: `host.offload` frees the runtime if the script runs long.
    let outcome = vm.engine.run(&opts, &mut host);
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

/// Runs `f` (possibly long, e.g. FUNCTION LOAD running a library's code)
/// so that the tokio worker it is on can hand its other tasks to another
/// thread meanwhile. Script runs do not use it (see
/// [`crate::script_host::Offload`]).
pub(crate) fn off_runtime<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

fn script_load(ctx: &mut Ctx<'_>) {
    let body = ctx.args[2].clone();
    let sha = sha1_hex(&body);
    let scripting = &ctx.srv.scripting;
    if scripting.get(&sha).is_none() {
        let no_writes = match shebang(&body) {
            Ok(sb) => matches!(sb, Some(Shebang { no_writes: true })),
            Err(e) => return ctx.err(&e),
        };
        let mut vm = match scripting.take_engine(crate::script_host::memory_limit(ctx.srv)) {
            Ok(e) => e,
            Err(e) => return ctx.err(&e),
        };
        let r = vm.engine.compile(&sha, &body);
        scripting.give_back(vm);
        if let Err(e) = r {
            return ctx.err(&e);
        }
        scripting.insert(&sha, body, no_writes);
    }
    ctx.out.bulk(sha.as_bytes());
}

fn script_exists(ctx: &mut Ctx<'_>) {
    let n = ctx.args.len() - 2;
    ctx.out.array(n);
    for i in 0..n {
        let found = ctx.srv.scripting.get_sha(&ctx.args[2 + i]).is_some();
        ctx.out.int(found as i64);
    }
}

fn script_flush(ctx: &mut Ctx<'_>) {
    if ctx.args.len() > 3
        || (ctx.args.len() == 3 && !is(&ctx.args[2], "sync") && !is(&ctx.args[2], "async"))
    {
        return ctx.err("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
    }
    ctx.srv.scripting.flush();
    ctx.out.ok();
}

fn script_kill(ctx: &mut Ctx<'_>) {
    match ctx.srv.scripting.kill_kind(&ctx.srv.store, false) {
        Ok(()) => ctx.out.ok(),
        Err(e) => ctx.err(e),
    }
}

/// SCRIPT DEBUG: NO is accepted; the Lua debugger (YES/SYNC) is not
/// implemented.
fn script_debug(ctx: &mut Ctx<'_>) {
    let mode = &ctx.args[2];
    if is(mode, "no") {
        ctx.out.ok();
    } else if is(mode, "yes") || is(mode, "sync") {
        ctx.err("ERR SCRIPT DEBUG YES/SYNC is not supported: Ferrous has no Lua debugger");
    } else {
        ctx.err("ERR Use SCRIPT DEBUG YES/SYNC/NO");
    }
}

const SCRIPT_HELP: &[&str] = &[
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
];

fn script_help(ctx: &mut Ctx<'_>) {
    super::command::help_reply(ctx, "SCRIPT", SCRIPT_HELP);
}
