//! Connection commands: PING, ECHO, QUIT, SELECT, HELLO, AUTH, RESET and
//! the CLIENT container (its listing and killing live in `client_list.rs`).

use std::sync::atomic::Ordering;

use super::{client_list, int_arg, is, Action, Ctx, Handler::*};
use crate::client::ReplyMode;
use crate::cmd;
use crate::errors;

/// The connection commands.
pub static COMMANDS: &[super::CommandSpec] = &[
    cmd!("ping", -1, [FAST], (0, 0, 0), Conn(ping), "connection",
        "Ping the server", "1.0.0", "O(1)", acl: [],
        tips: ["request_policy:all_shards", "response_policy:all_succeeded"], ks: [], subs: &[]),
    cmd!("echo", 2, [LOADING, STALE, FAST], (0, 0, 0), Conn(echo), "connection",
        "Echo the given string", "1.0.0", "O(1)", acl: [], tips: [], ks: [], subs: &[]),
    cmd!("quit", -1, [ALLOW_BUSY, NOSCRIPT, LOADING, STALE, FAST, NO_AUTH], (0, 0, 0), Conn(quit),
        "connection", "Close the connection", "1.0.0", "O(1)", acl: [],
        tips: [], ks: [], subs: &[]),
    cmd!("select", 2, [LOADING, STALE, FAST], (0, 0, 0), Conn(select), "connection",
        "Change the selected database for the current connection", "1.0.0", "O(1)",
        acl: [], tips: [], ks: [], subs: &[]),
    cmd!("auth", -2, [NOSCRIPT, LOADING, STALE, FAST, NO_AUTH, ALLOW_BUSY], (0, 0, 0), Conn(auth), "connection",
        "Authenticate to the server", "1.0.0",
        "O(N) where N is the number of passwords defined for the user", acl: [],
        tips: [], ks: [], subs: &[]),
    cmd!("hello", -1, [NOSCRIPT, LOADING, STALE, FAST, NO_AUTH, ALLOW_BUSY], (0, 0, 0), Conn(hello), "connection",
        "Handshake with Redis", "6.0.0", "O(1)", acl: [], tips: [], ks: [], subs: &[]),
    cmd!("reset", 1, [NOSCRIPT, LOADING, STALE, FAST, NO_AUTH, ALLOW_BUSY], (0, 0, 0),
        Conn(reset), "connection", "Reset the connection", "6.2.0", "O(1)", acl: [],
        tips: [], ks: [], subs: &[]),
    cmd!("client", -2, [], (0, 0, 0), Container, "connection",
        "A container for client connection commands", "2.4.0", "Depends on subcommand.",
        acl: [], tips: [], ks: [], subs: CLIENT_SUBCOMMANDS),
];

static CLIENT_SUBCOMMANDS: &[super::CommandSpec] = &[
    cmd!("id", 2, [NOSCRIPT, LOADING, STALE], (0, 0, 0), Conn(client_id), "connection",
        "Returns the client ID for the current connection", "5.0.0", "O(1)", acl: [],
        tips: [], ks: [], subs: &[]),
    cmd!("getname", 2, [NOSCRIPT, LOADING, STALE], (0, 0, 0), Conn(client_getname),
        "connection", "Get the current connection name", "2.6.9", "O(1)", acl: [],
        tips: [], ks: [], subs: &[]),
    cmd!("setname", 3, [NOSCRIPT, LOADING, STALE], (0, 0, 0), Conn(client_setname),
        "connection", "Set the current connection name", "2.6.9", "O(1)", acl: [],
        tips: [], ks: [], subs: &[]),
    cmd!("reply", 3, [NOSCRIPT, LOADING, STALE], (0, 0, 0), Conn(client_reply), "connection",
        "Instruct the server whether to reply to commands", "3.2.0", "O(1)", acl: [],
        tips: [], ks: [], subs: &[]),
    cmd!("list", -2, [ADMIN, NOSCRIPT, LOADING, STALE], (0, 0, 0), Conn(client_list::list),
        "connection", "Get the list of client connections", "2.4.0",
        "O(N) where N is the number of client connections", acl: [],
        tips: ["nondeterministic_output"], ks: [], subs: &[]),
    cmd!("info", 2, [NOSCRIPT, LOADING, STALE], (0, 0, 0), Conn(client_list::info),
        "connection", "Returns information about the current client connection.", "6.2.0",
        "O(1)", acl: [], tips: ["nondeterministic_output"], ks: [], subs: &[]),
    cmd!("kill", -3, [ADMIN, NOSCRIPT, LOADING, STALE], (0, 0, 0), Conn(client_list::kill),
        "connection", "Kill the connection of a client", "2.4.0",
        "O(N) where N is the number of client connections", acl: [], tips: [], ks: [], subs: &[]),
    cmd!("pause", -3, [ADMIN, NOSCRIPT, LOADING, STALE], (0, 0, 0), Conn(client_pause),
        "connection", "Stop processing commands from clients for some time", "2.9.50", "O(1)",
        acl: [], tips: [], ks: [], subs: &[]),
    cmd!("unpause", 2, [ADMIN, NOSCRIPT, LOADING, STALE], (0, 0, 0), Conn(client_unpause),
        "connection", "Resume processing of clients that were paused", "6.2.0",
        "O(N) Where N is the number of paused clients", acl: [], tips: [], ks: [], subs: &[]),
    cmd!("no-evict", 3, [ADMIN, NOSCRIPT, LOADING, STALE], (0, 0, 0), Conn(client_no_evict),
        "connection", "Set client eviction mode for the current connection", "7.0.0", "O(1)",
        acl: [], tips: [], ks: [], subs: &[]),
    cmd!("getredir", 2, [NOSCRIPT, LOADING, STALE], (0, 0, 0), Conn(client_getredir),
        "connection", "Get tracking notifications redirection client ID if any", "6.0.0",
        "O(1)", acl: [], tips: [], ks: [], subs: &[]),
    cmd!("trackinginfo", 2, [NOSCRIPT, LOADING, STALE], (0, 0, 0), Conn(client_trackinginfo),
        "connection",
        "Return information about server assisted client side caching for the current connection",
        "6.2.0", "O(1)", acl: [], tips: [], ks: [], subs: &[]),
    cmd!("caching", 3, [NOSCRIPT, LOADING, STALE], (0, 0, 0), Conn(client_caching),
        "connection", "Instruct the server about tracking or not keys in the next request",
        "6.0.0", "O(1)", acl: [], tips: [], ks: [], subs: &[]),
    cmd!("unblock", -3, [ADMIN, NOSCRIPT, LOADING, STALE], (0, 0, 0), Conn(client_unblock),
        "connection",
        "Unblock a client blocked in a blocking command from a different connection", "5.0.0",
        "O(log N) where N is the number of client connections", acl: [],
        tips: [], ks: [], subs: &[]),
    cmd!("help", 2, [LOADING, STALE], (0, 0, 0), Conn(client_help), "connection",
        "Show helpful text about the different subcommands", "5.0.0", "O(1)",
        acl: [], tips: [], ks: [], subs: &[]),
];

fn ping(ctx: &mut Ctx<'_>) {
    match ctx.args.len() {
        1 => ctx.out.status("PONG"),
        2 => ctx.out.bulk(&ctx.args[1]),
        _ => ctx.err("ERR wrong number of arguments for 'ping' command"),
    }
}

fn echo(ctx: &mut Ctx<'_>) {
    ctx.out.bulk(&ctx.args[1]);
}

fn quit(ctx: &mut Ctx<'_>) {
    ctx.out.ok();
    ctx.action = Some(Action::Close);
}

fn select(ctx: &mut Ctx<'_>) {
    let n = match int_arg(&ctx.args[1]) {
        Ok(n) => n,
        Err(_) => return ctx.err(errors::NOT_INTEGER),
    };
    if n < 0 || n >= ctx.srv.num_dbs() as i64 {
        return ctx.err(errors::DB_INDEX);
    }
    ctx.client.select(n as usize);
    ctx.out.ok();
}

/// Checks a user/password pair against `requirepass` (only the default user
/// exists until the ACL issue).
fn check_password(ctx: &Ctx<'_>, user: &[u8], pass: &[u8]) -> bool {
    let required = ctx.srv.config.get("requirepass");
    user == b"default" && (required.is_empty() || required.as_bytes() == pass)
}

fn auth(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    if args.len() > 3 {
        return ctx.err(errors::SYNTAX);
    }
    let (user, pass) = if args.len() == 2 {
        if ctx.srv.config.get("requirepass").is_empty() {
            return ctx.err(errors::NO_PASSWORD);
        }
        (&b"default"[..], &args[1][..])
    } else {
        (&args[1][..], &args[2][..])
    };
    if check_password(ctx, user, pass) {
        ctx.client.authed = true;
        ctx.out.ok();
    } else {
        ctx.err(errors::WRONGPASS);
    }
}

fn hello(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let mut proto = if ctx.out.resp3 { 3 } else { 2 };
    if args.len() >= 2 {
        match int_arg(&args[1]) {
            Ok(n) if (2..=3).contains(&n) => proto = n,
            Ok(_) => return ctx.err("NOPROTO unsupported protocol version"),
            Err(_) => return ctx.err("ERR Protocol version is not an integer or out of range"),
        }
    }
    let mut i = 2;
    let mut setname = None;
    let mut creds = None;
    while i < args.len() {
        let more = args.len() - i - 1;
        if is(&args[i], "auth") && more >= 2 {
            creds = Some((&args[i + 1], &args[i + 2]));
            i += 3;
        } else if is(&args[i], "setname") && more >= 1 {
            setname = Some(&args[i + 1]);
            i += 2;
        } else {
            let opt = String::from_utf8_lossy(&args[i]).into_owned();
            return ctx.err(&format!("ERR Syntax error in HELLO option '{opt}'"));
        }
    }
    if let Some((u, p)) = creds {
        if !check_password(ctx, u, p) {
            return ctx.err(errors::WRONGPASS);
        }
        ctx.client.authed = true;
    }
    if !ctx.client.authed {
        return ctx.err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if let Some(name) = setname {
        if let Err(e) = validate_name(name) {
            return ctx.err(e);
        }
        set_name(ctx, name);
    }
    ctx.out.resp3 = proto == 3;
    ctx.client.info.resp.store(proto as u8, Ordering::Relaxed);
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(proto);
    out.bulk(b"id");
    out.int(ctx.client.info.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
}

fn reset(ctx: &mut Ctx<'_>) {
    ctx.client.select(0);
    ctx.client.reply_mode = ReplyMode::On;
    ctx.client.authed = ctx.srv.config.get("requirepass").is_empty();
    *ctx.client
        .info
        .name
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = None;
    if ctx.client.info.monitor.swap(false, Ordering::Relaxed) {
        ctx.srv.clients.monitors.fetch_sub(1, Ordering::Relaxed);
    }
    ctx.out.resp3 = false;
    ctx.client.info.resp.store(2, Ordering::Relaxed);
    ctx.out.status("RESET");
}

fn client_id(ctx: &mut Ctx<'_>) {
    ctx.out.int(ctx.client.info.id as i64);
}

fn client_getname(ctx: &mut Ctx<'_>) {
    let name = ctx
        .client
        .info
        .name
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    match name {
        Some(n) => ctx.out.bulk(&n),
        None => ctx.out.null(),
    }
}

/// Redis accepts names made of printable ASCII without spaces.
pub fn validate_name(name: &[u8]) -> Result<(), &'static str> {
    if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        Err("ERR Client names cannot contain spaces, newlines or special characters.")
    } else {
        Ok(())
    }
}

fn set_name(ctx: &mut Ctx<'_>, name: &bytes::Bytes) {
    *ctx.client
        .info
        .name
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = (!name.is_empty()).then(|| name.clone());
}

fn client_setname(ctx: &mut Ctx<'_>) {
    let name = &ctx.args[2];
    if let Err(e) = validate_name(name) {
        return ctx.err(e);
    }
    set_name(ctx, name);
    ctx.out.ok();
}

fn client_reply(ctx: &mut Ctx<'_>) {
    let a = &ctx.args[2];
    if is(a, "on") {
        ctx.client.reply_mode = ReplyMode::On;
        ctx.out.ok();
    } else if is(a, "off") {
        ctx.client.reply_mode = ReplyMode::Off;
    } else if is(a, "skip") {
        if ctx.client.reply_mode != ReplyMode::Off {
            ctx.client.reply_mode = ReplyMode::SkipNext;
        }
    } else {
        ctx.err(errors::SYNTAX);
    }
}

fn client_pause(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    if args.len() > 4 {
        return ctx.err(&bad_subcommand(&args[1]));
    }
    let ms = match int_arg(&args[2]) {
        Ok(n) if n < 0 => return ctx.err("ERR timeout is negative"),
        Ok(n) => n as u64,
        Err(_) => return ctx.err("ERR timeout is not an integer or out of range"),
    };
    let writes_only = match args.get(3) {
        None => false,
        Some(a) if is(a, "all") => false,
        Some(a) if is(a, "write") => true,
        Some(_) => return ctx.err("ERR CLIENT PAUSE mode must be WRITE or ALL"),
    };
    let srv = ctx.srv;
    let now = crate::server::now_ms();
    let end = now.saturating_add(ms);
    let current = srv.pause_until.load(Ordering::SeqCst);
    let active = current > now;
    // A running pause is only ever extended and widened (WRITE → ALL).
    let only = writes_only && (!active || srv.pause_writes_only.load(Ordering::SeqCst));
    srv.pause_writes_only.store(only, Ordering::SeqCst);
    srv.pause_until.store(
        if active { current.max(end) } else { end },
        Ordering::SeqCst,
    );
    ctx.out.ok();
}

fn client_unpause(ctx: &mut Ctx<'_>) {
    ctx.srv.pause_until.store(0, Ordering::SeqCst);
    ctx.srv.unpause.notify_waiters();
    ctx.out.ok();
}

fn client_no_evict(ctx: &mut Ctx<'_>) {
    let a = &ctx.args[2];
    let on = if is(a, "on") {
        true
    } else if is(a, "off") {
        false
    } else {
        return ctx.err(errors::SYNTAX);
    };
    ctx.client.info.no_evict.store(on, Ordering::Relaxed);
    ctx.out.ok();
}

fn client_getredir(ctx: &mut Ctx<'_>) {
    // Client-side caching is not supported: never tracking.
    ctx.out.int(-1);
}

fn client_trackinginfo(ctx: &mut Ctx<'_>) {
    let out = &mut *ctx.out;
    out.map(3);
    out.bulk(b"flags");
    out.set(1);
    out.bulk(b"off");
    out.bulk(b"redirect");
    out.int(-1);
    out.bulk(b"prefixes");
    out.array(0);
}

fn client_caching(ctx: &mut Ctx<'_>) {
    ctx.err("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled");
}

fn client_unblock(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    if args.len() > 4 {
        return ctx.err(&bad_subcommand(&args[1]));
    }
    let Ok(id) = int_arg(&args[2]) else {
        return ctx.err(errors::NOT_INTEGER);
    };
    let error = match args.get(3) {
        None => false,
        Some(a) if is(a, "timeout") => false,
        Some(a) if is(a, "error") => true,
        Some(_) => return ctx.err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
    };
    let done = id > 0 && ctx.srv.blocking.unblock(id as u64, error);
    ctx.out.int(done as i64);
}

/// CLIENT's reply to a subcommand given too many arguments.
pub fn bad_subcommand(sub: &[u8]) -> String {
    let sub = String::from_utf8_lossy(super::cut_at_nul(sub));
    format!("ERR unknown subcommand or wrong number of arguments for '{sub}'. Try CLIENT HELP.")
}

fn client_help(ctx: &mut Ctx<'_>) {
    super::command::help_reply(ctx, "CLIENT", CLIENT_HELP);
}

const CLIENT_HELP: &[&str] = &[
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
];
