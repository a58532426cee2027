//! Server commands: DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, INFO, CONFIG, TIME,
//! LASTSAVE, MONITOR, DEBUG, SHUTDOWN.

use ferrous_storage::Version;

use super::{is, Action, Ctx, Handler::*};
use crate::cmd;
use crate::errors;

/// The server commands.
pub static COMMANDS: &[super::CommandSpec] = &[
    cmd!("dbsize", 1, [READONLY, FAST], (0, 0, 0), Read(dbsize), "server",
        "Return the number of keys in the selected database", "1.0.0", "O(1)",
        acl: ["@keyspace"], subs: &[]),
    cmd!("flushdb", -1, [WRITE], (0, 0, 0), Write(flushdb), "server",
        "Remove all keys from the current database", "1.0.0",
        "O(N) where N is the number of keys in the selected database",
        acl: ["@keyspace", "@dangerous"], subs: &[]),
    cmd!("flushall", -1, [WRITE], (0, 0, 0), Write(flushall), "server",
        "Remove all keys from all databases", "1.0.0",
        "O(N) where N is the total number of keys in all databases",
        acl: ["@keyspace", "@dangerous"], subs: &[]),
    cmd!("shutdown", -1, [ADMIN, NOSCRIPT, LOADING, STALE, NO_MULTI,
        ALLOW_BUSY], (0, 0, 0), Conn(shutdown), "server",
        "Synchronously save the dataset to disk and then shut down the server", "1.0.0",
        "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
        acl: [], subs: &[]),
    cmd!("config", -2, [], (0, 0, 0), Container, "server",
        "A container for server configuration commands", "2.0.0", "Depends on subcommand.",
        acl: [], subs: CONFIG_SUBCOMMANDS),
];

static CONFIG_SUBCOMMANDS: &[super::CommandSpec] = &[
    cmd!("get", -3, [ADMIN, NOSCRIPT, LOADING, STALE], (0, 0, 0), Conn(config_get), "server",
        "Get the values of configuration parameters", "2.0.0",
        "O(N) when N is the number of configuration parameters provided", acl: [], subs: &[]),
    cmd!("set", -4, [ADMIN, NOSCRIPT, LOADING, STALE], (0, 0, 0), Conn(config_set), "server",
        "Set configuration parameters to the given values", "2.0.0",
        "O(N) when N is the number of configuration parameters provided", acl: [], subs: &[]),
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
    ctx.dirty += v.dbs().iter().map(|d| d.len() as u64).sum::<u64>();
    v.flush_all();
    ctx.out.ok();
}

fn shutdown(ctx: &mut Ctx<'_>) {
    for a in &ctx.args[1..] {
        if !(is(a, "nosave") || is(a, "save") || is(a, "now") || is(a, "force")) {
            return ctx.err(errors::SYNTAX);
        }
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
        return ctx.err("ERR wrong number of arguments for 'config|set' command");
    }
    let pairs: Vec<(String, String)> = args
        .chunks(2)
        .map(|p| {
            (
                String::from_utf8_lossy(&p[0]).to_ascii_lowercase(),
                String::from_utf8_lossy(&p[1]).into_owned(),
            )
        })
        .collect();
    match ctx.srv.config.set_many(&pairs) {
        Ok(()) => ctx.out.ok(),
        Err(e) => ctx.err(&e),
    }
}
