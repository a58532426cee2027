//! Server commands: DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, INFO, CONFIG, TIME,
//! LASTSAVE, MONITOR, SHUTDOWN. DEBUG lives in `debug.rs`, INFO's text in
//! `crate::info`.

use std::sync::atomic::Ordering;

use ferrous_storage::Version;

use super::{int_arg, is, Action, Ctx, Handler::*};
use crate::cmd;
use crate::errors;

/// The server commands.
pub static COMMANDS: &[super::CommandSpec] = &[
    cmd!("dbsize", 1, [READONLY, FAST], (0, 0, 0), Read(dbsize), "server",
        "Return the number of keys in the selected database", "1.0.0", "O(1)",
        acl: ["@keyspace"],
        tips: ["request_policy:all_shards", "response_policy:agg_sum"], ks: [], subs: &[]),
    cmd!("flushdb", -1, [WRITE], (0, 0, 0), Write(flushdb), "server",
        "Remove all keys from the current database", "1.0.0",
        "O(N) where N is the number of keys in the selected database",
        acl: ["@keyspace", "@dangerous"],
        tips: ["request_policy:all_shards", "response_policy:all_succeeded"], ks: [], subs: &[]),
    cmd!("flushall", -1, [WRITE], (0, 0, 0), Write(flushall), "server",
        "Remove all keys from all databases", "1.0.0",
        "O(N) where N is the total number of keys in all databases",
        acl: ["@keyspace", "@dangerous"],
        tips: ["request_policy:all_shards", "response_policy:all_succeeded"], ks: [], subs: &[]),
    cmd!("swapdb", 3, [WRITE, FAST], (0, 0, 0), Write(swapdb), "server",
        "Swaps two Redis databases", "4.0.0",
        "O(N) where N is the count of clients watching or blocking on keys from both databases.",
        acl: ["@keyspace", "@dangerous"], tips: [], ks: [], subs: &[]),
    cmd!("info", -1, [LOADING, STALE], (0, 0, 0), Conn(info), "server",
        "Get information and statistics about the server", "1.0.0", "O(1)",
        acl: ["@dangerous"],
        tips: ["nondeterministic_output", "request_policy:all_shards", "response_policy:special"], ks: [],
        subs: &[]),
    cmd!("time", 1, [LOADING, STALE, FAST], (0, 0, 0), Conn(time), "server",
        "Return the current server time", "2.6.0", "O(1)", acl: [],
        tips: ["nondeterministic_output"], ks: [], subs: &[]),
    cmd!("lastsave", 1, [LOADING, STALE, FAST], (0, 0, 0), Conn(lastsave), "server",
        "Get the UNIX time stamp of the last successful save to disk", "1.0.0", "O(1)",
        acl: ["@admin", "@dangerous"], tips: ["nondeterministic_output"], ks: [], subs: &[]),
    cmd!("monitor", 1, [ADMIN, NOSCRIPT, LOADING, STALE], (0, 0, 0), Conn(monitor), "server",
        "Listen for all requests received by the server in real time", "1.0.0", "",
        acl: [], tips: [], ks: [], subs: &[]),
    cmd!("debug", -2, [ADMIN, NOSCRIPT, LOADING, STALE], (0, 0, 0), Conn(super::debug::debug),
        "server", "A container for debugging commands", "1.0.0", "Depends on subcommand.",
        acl: [], tips: [], ks: [], subs: &[]),
    cmd!("shutdown", -1, [ADMIN, NOSCRIPT, LOADING, STALE, NO_MULTI,
        ALLOW_BUSY], (0, 0, 0), Conn(shutdown), "server",
        "Synchronously save the dataset to disk and then shut down the server", "1.0.0",
        "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
        acl: [], tips: [], ks: [], subs: &[]),
    cmd!("config", -2, [], (0, 0, 0), Container, "server",
        "A container for server configuration commands", "2.0.0", "Depends on subcommand.",
        acl: [], tips: [], ks: [], subs: CONFIG_SUBCOMMANDS),
];

static CONFIG_SUBCOMMANDS: &[super::CommandSpec] = &[
    cmd!("get", -3, [ADMIN, NOSCRIPT, LOADING, STALE], (0, 0, 0), Conn(config_get), "server",
        "Get the values of configuration parameters", "2.0.0",
        "O(N) when N is the number of configuration parameters provided", acl: [],
        tips: [], ks: [], subs: &[]),
    cmd!("set", -4, [ADMIN, NOSCRIPT, LOADING, STALE], (0, 0, 0), Conn(config_set), "server",
        "Set configuration parameters to the given values", "2.0.0",
        "O(N) when N is the number of configuration parameters provided", acl: [],
        tips: ["request_policy:all_nodes", "response_policy:all_succeeded"], ks: [], subs: &[]),
    cmd!("rewrite", 2, [ADMIN, NOSCRIPT, LOADING, STALE], (0, 0, 0), Conn(config_rewrite),
        "server", "Rewrite the configuration file with the in memory configuration", "2.8.0",
        "O(1)", acl: [], tips: [], ks: [], subs: &[]),
    cmd!("resetstat", 2, [ADMIN, NOSCRIPT, LOADING, STALE], (0, 0, 0), Conn(config_resetstat),
        "server", "Reset the stats returned by INFO", "2.0.0", "O(1)", acl: [],
        tips: [], ks: [], subs: &[]),
    cmd!("help", 2, [LOADING, STALE], (0, 0, 0), Conn(config_help), "server",
        "Show helpful text about the different subcommands", "5.0.0", "O(1)",
        acl: [], tips: [], ks: [], subs: &[]),
];

fn dbsize(ctx: &mut Ctx<'_>, v: &Version) {
    ctx.out.int(v.db(ctx.db()).len() as i64);
}

/// Parses the optional ASYNC|SYNC argument of FLUSHDB/FLUSHALL.
fn flush_mode_ok(ctx: &mut Ctx<'_>) -> bool {
    match ctx.args.len() {
        1 => true,
        2 if is(&ctx.args[1], "async") || is(&ctx.args[1], "sync") => true,
        _ => {
            ctx.err(errors::SYNTAX);
            false
        }
    }
}

fn flushdb(ctx: &mut Ctx<'_>, v: &mut Version) {
    if !flush_mode_ok(ctx) {
        return;
    }
    let db = ctx.db();
    ctx.dirty += v.db(db).len() as u64;
    v.flush(db);
    ctx.out.ok();
}

fn flushall(ctx: &mut Ctx<'_>, v: &mut Version) {
    if !flush_mode_ok(ctx) {
        return;
    }
    ctx.dirty += v.dbs().map(|d| d.len() as u64).sum::<u64>();
    v.flush_all();
    ctx.out.ok();
}

fn swapdb(ctx: &mut Ctx<'_>, v: &mut Version) {
    let n = v.num_dbs() as i64;
    let Ok(a) = int_arg(&ctx.args[1]) else {
        return ctx.err("ERR invalid first DB index");
    };
    let Ok(b) = int_arg(&ctx.args[2]) else {
        return ctx.err("ERR invalid second DB index");
    };
    if a < 0 || a >= n || b < 0 || b >= n {
        return ctx.err(errors::DB_INDEX);
    }
    if a != b {
        v.swap(a as usize, b as usize);
        ctx.dirty += 1;
        // Clients blocked in either database may now find their keys.
        ctx.srv.blocking.signal_db(a as usize);
        ctx.srv.blocking.signal_db(b as usize);
    }
    ctx.out.ok();
}

fn info(ctx: &mut Ctx<'_>) {
    let sections: Vec<String> = ctx.args[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let text = crate::info::render(ctx.srv, &sections);
    ctx.out.verbatim("txt", text.as_bytes());
}

fn time(ctx: &mut Ctx<'_>) {
    let us = crate::server::now_us();
    ctx.out.array(2);
    ctx.out.bulk((us / 1_000_000).to_string().as_bytes());
    ctx.out.bulk((us % 1_000_000).to_string().as_bytes());
}

fn lastsave(ctx: &mut Ctx<'_>) {
    ctx.out
        .int(ctx.srv.last_save.load(Ordering::Relaxed) as i64);
}

fn monitor(ctx: &mut Ctx<'_>) {
    // A second MONITOR is ignored without a reply, as in Redis.
    if ctx.client.info.monitor.swap(true, Ordering::Relaxed) {
        return;
    }
    ctx.srv.clients.monitors.fetch_add(1, Ordering::Relaxed);
    ctx.out.ok();
}

fn shutdown(ctx: &mut Ctx<'_>) {
    let (mut nosave, mut save, mut abort, mut other) = (false, false, false, false);
    for a in &ctx.args[1..] {
        if is(a, "nosave") {
            nosave = true;
        } else if is(a, "save") {
            save = true;
        } else if is(a, "now") || is(a, "force") {
            other = true;
        } else if is(a, "abort") {
            abort = true;
        } else {
            return ctx.err(errors::SYNTAX);
        }
    }
    if (abort && (nosave || save || other)) || (nosave && save) {
        return ctx.err(errors::SYNTAX);
    }
    if abort {
        // Shutdown is immediate here, so there is never one to abort.
        return ctx.err("ERR No shutdown in progress.");
    }
    tracing::warn!("User requested shutdown...");
    ctx.action = Some(Action::Shutdown);
}

fn config_get(ctx: &mut Ctx<'_>) {
    let pats: Vec<&[u8]> = ctx.args[2..].iter().map(|a| &a[..]).collect();
    let pairs = ctx.srv.config.matching(&pats);
    ctx.out.map(pairs.len());
    for (k, v) in pairs {
        ctx.out.bulk(k.as_bytes());
        ctx.out.bulk(v.as_bytes());
    }
}

fn config_set(ctx: &mut Ctx<'_>) {
    let args = &ctx.args[2..];
    if !args.len().is_multiple_of(2) {
        return ctx.err(errors::SYNTAX);
    }
    let pairs: Vec<(String, String)> = args
        .chunks(2)
        .map(|p| {
            (
                String::from_utf8_lossy(&p[0]).into_owned(),
                String::from_utf8_lossy(&p[1]).into_owned(),
            )
        })
        .collect();
    match ctx.srv.config.set_many(&pairs) {
        Ok(()) => ctx.out.ok(),
        Err(e) => ctx.err(&e),
    }
}

fn config_rewrite(ctx: &mut Ctx<'_>) {
    match ctx.srv.config.rewrite() {
        Ok(()) => ctx.out.ok(),
        Err(e) => ctx.err(&e),
    }
}

fn config_resetstat(ctx: &mut Ctx<'_>) {
    ctx.srv.cmdstats.reset();
    let st = &ctx.srv.stats;
    for a in [
        &st.connections_received,
        &st.commands_processed,
        &st.rejected_connections,
        &st.expired_keys,
        &st.keyspace_hits,
        &st.keyspace_misses,
        &st.error_replies,
        &st.net_input_bytes,
        &st.net_output_bytes,
    ] {
        a.store(0, Ordering::Relaxed);
    }
    ctx.out.ok();
}

fn config_help(ctx: &mut Ctx<'_>) {
    super::command::help_reply(
        ctx,
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
}
