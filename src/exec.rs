//! Executing a batch of parsed commands for one client: table lookup, arity
//! and auth checks, and running each handler on a snapshot (reads) or inside
//! a write transaction (writes).
//!
//! Adaptive group commit: consecutive commands of one batch (one read of
//! pipelined requests) share a single write transaction, published once at
//! the end of the batch or before a command that must see committed state.
//! Replies are written only after that publish, so a client never sees a
//! reply for a write that is not yet visible to others.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use ferrous_storage::{GilWait, ScriptSlot, Version, WriteTxn};

use crate::client::{Client, ReplyMode};
use crate::commands::{self, flags, Action, CommandSpec, Ctx, Handler};
use crate::errors;
use crate::reply::ReplyBuf;
use crate::server::{now_ms, Server};

/// Why a batch stopped before its end.
pub enum Stop {
    /// The GIL is held by someone else: wait, then resume at this index.
    WaitGil(usize),
    /// A command asked for a follow-up; resume after this index.
    Action(usize, Action),
    /// CLIENT PAUSE holds this command: wait for the pause to end, then
    /// resume at this index.
    Paused(usize),
}

/// Whether a CLIENT PAUSE in effect holds `spec` (ALL: everything; WRITE:
/// writes and commands that may replicate).
fn paused_for(srv: &Server, cmd_flags: u32, script_write: bool) -> bool {
    let until = srv.pause_until.load(Ordering::SeqCst);
    if until == 0 || now_ms() >= until {
        return false;
    }
    !srv.pause_writes_only.load(Ordering::SeqCst)
        || cmd_flags & (flags::WRITE | flags::MAY_REPLICATE) != 0
        || script_write
}

/// Runs `cmds[start..]`, writing replies into `out`. Returns `None` when all
/// ran, or where and why it stopped.
pub fn run_batch(
    srv: &Server,
    client: &mut Client,
    out: &mut ReplyBuf,
    cmds: &[Vec<Bytes>],
    start: usize,
) -> Option<Stop> {
    let mut txn: Option<WriteTxn<'_, Version>> = None;
    let mut stop = None;
    // One clock reading and one statistics update per batch, not per command.
    let now = now_ms();
    client
        .info
        .last_interaction_ms
        .store(now, Ordering::Relaxed);
    let mut stats = BatchStats::default();
    // The end of one command's timing is the start of the next: one clock
    // reading per command for the command statistics.
    let mut clock = crate::clock::now();
    for (i, args) in cmds.iter().enumerate().skip(start) {
        if args.is_empty() {
            continue;
        }
        let mark = out.mark();
        let mode_before = client.reply_mode;
        let skip_reply = match client.reply_mode {
            ReplyMode::SkipNext => {
                client.reply_mode = ReplyMode::On;
                true
            }
            ReplyMode::Off => true,
            ReplyMode::On => false,
        };
        let Some(spec) = commands::resolve(args, out) else {
            srv.stats.error_replies.fetch_add(1, Ordering::Relaxed);
            count_rejected(srv, args);
            crate::multi::rejected(srv, client, out, args, mark);
            if skip_reply {
                out.truncate(mark);
            }
            continue;
        };
        if !client.authed && !spec.has(flags::NO_AUTH) {
            out.error(errors::NOAUTH);
            srv.stats.error_replies.fetch_add(1, Ordering::Relaxed);
            srv.cmdstats.rejected(spec);
            crate::multi::rejected(srv, client, out, args, mark);
            continue;
        }
        if client.subs.active() {
            let full = commands::table()
                .slot(spec)
                .map_or(spec.name, |s| commands::table().named[s].0.as_str());
            if let Some(e) = crate::pubsub::refusal(client, out.resp3, spec.name, full) {
                out.error(&e);
                srv.stats.error_replies.fetch_add(1, Ordering::Relaxed);
                srv.cmdstats.rejected(spec);
                crate::multi::rejected(srv, client, out, args, mark);
                continue;
            }
        }
        // As in Redis, a pause holds commands before they are queued, and
        // an EXEC whose queue writes.
        // Scripts count as writes unless they declare `no-writes`, as in Redis.
        let is_script = matches!(spec.name, "eval" | "evalsha" | "fcall");
        let no_writes_script = is_script && commands::scripting::is_no_writes_eval(srv, args);
        if paused_for(
            srv,
            crate::multi::pause_flags(client, spec),
            is_script && !no_writes_script,
        ) {
            client.reply_mode = mode_before;
            stop = Some(Stop::Paused(i));
            break;
        }
        if client.tx.in_multi() && crate::multi::queue(client, out, spec, args) {
            if skip_reply {
                out.truncate(mark);
            }
            continue;
        }
        // A `#!lua flags=no-writes` EVAL runs like a read, without the GIL.
        let snapshot_eval = no_writes_script;
        if let (Handler::Write(_), false) = (spec.handler, snapshot_eval) {
            if txn.is_none() {
                match crate::multi::begin(srv, now) {
                    Ok(t) => txn = Some(t),
                    // A script has held the GIL past busy-reply-threshold:
                    // this write is refused at once instead of waiting.
                    Err(GilWait::Busy) => {
                        out.error(srv.scripting.busy_reply());
                        srv.stats.error_replies.fetch_add(1, Ordering::Relaxed);
                        if skip_reply {
                            out.truncate(mark);
                        }
                        continue;
                    }
                    Err(GilWait::Wait) => {
                        out.truncate(mark);
                        stop = Some(Stop::WaitGil(i));
                        break;
                    }
                }
            }
        } else if let Handler::Conn(_) = spec.handler {
            // Connection and server commands see committed state and
            // up-to-date statistics only.
            if let Some(t) = txn.take() {
                crate::multi::commit(srv, t, client, out);
            }
            stats.flush(srv);
        }
        let errors_before = out.errors;
        let mut ctx = Ctx {
            srv,
            client: &mut *client,
            out: &mut *out,
            args,
            now,
            dirty: 0,
            action: None,
            lookups: std::mem::take(&mut stats.lookups),
            no_block: false,
            gil: None,
        };
        let slot = commands::table().slot(spec);
        if let Some(s) = slot {
            srv.cmdstats.before(&mut stats.tally, spec, s);
        }
        ctx.client
            .info
            .last_cmd
            .store(slot.map_or(0, |s| s + 1), Ordering::Relaxed);
        // Scripts are shown before the commands they call, as in Redis.
        if spec.group == "scripting"
            && spec.has(flags::SKIP_MONITOR)
            && srv.clients.monitors.load(Ordering::Relaxed) > 0
        {
            feed_monitors(srv, ctx.client, args);
        }
        let started = clock;
        let around = crate::notify::before(&mut ctx, spec, args, txn.as_deref_mut());
        if snapshot_eval {
            match &txn {
                Some(t) => commands::scripting::eval_snapshot(&mut ctx, t),
                None => srv
                    .store
                    .read(|v| commands::scripting::eval_snapshot(&mut ctx, v)),
            }
        } else {
            run_one(spec, &mut ctx, &mut txn);
        }
        crate::notify::after(&mut ctx, spec, txn.as_deref_mut(), around);
        if ctx.client.caching.on {
            srv.tracking.after_command(ctx.client, spec, args, false);
        }
        clock = crate::clock::now();
        let usec = clock.micros_since(started);
        // Serve clients blocked on keys this command made ready, before
        // the next command (Redis does it after each command).
        if srv.blocking.has_ready() {
            if let Some(t) = txn.as_mut() {
                crate::blocking::serve_ready(srv, t, now, &mut ctx.client.events);
            }
        }
        let Ctx {
            dirty,
            action,
            lookups,
            ..
        } = ctx;
        stats.lookups = lookups;
        stats.dirty += dirty;
        stats.processed += 1;
        let errs = out.errors - errors_before;
        if errs > 0 {
            srv.stats.error_replies.fetch_add(errs, Ordering::Relaxed);
        }
        if let Some(slot) = slot {
            srv.cmdstats.call(&mut stats.tally, slot, usec, errs > 0);
        }
        // CLIENT REPLY ON answers even though replies were off until now.
        if skip_reply && !(spec.name == "reply" && client.reply_mode == ReplyMode::On) {
            out.truncate(mark);
        }
        // Like Redis, admin commands are never shown to monitors.
        if srv.clients.monitors.load(Ordering::Relaxed) > 0
            && !spec.has(flags::SKIP_MONITOR | flags::ADMIN)
        {
            feed_monitors(srv, client, args);
        }
        if let Some(a) = action {
            stop = Some(Stop::Action(i, a));
            break;
        }
    }
    if let Some(t) = txn {
        crate::multi::commit(srv, t, client, out);
    }
    stats.flush(srv);
    crate::notify::flush(srv, &mut client.events, Some((client.info.id, out)));
    for code in out.error_codes.drain(..) {
        srv.cmdstats.error(&code);
    }
    stop
}

/// Counts a call refused by `resolve` (wrong arity) against its command.
fn count_rejected(srv: &Server, args: &[Bytes]) {
    let Some(spec) = commands::table().get(&args[0]) else {
        return;
    };
    match args.get(1).and_then(|a| commands::subcommand(spec, a)) {
        Some(sub) if matches!(spec.handler, Handler::Container) => srv.cmdstats.rejected(sub),
        _ => srv.cmdstats.rejected(spec),
    }
}

/// A batch's statistics, counted locally and added to the server's in one
/// go (at the end of the batch and before a command that reads them).
#[derive(Default)]
struct BatchStats {
    processed: u64,
    dirty: u64,
    lookups: commands::Lookups,
    tally: crate::cmdstats::Tally,
}

impl BatchStats {
    /// Adds the counters to the server statistics and zeroes them.
    fn flush(&mut self, srv: &Server) {
        srv.cmdstats.flush(&mut self.tally);
        let st = &srv.stats;
        if self.processed > 0 {
            st.commands_processed
                .fetch_add(self.processed, Ordering::Relaxed);
        }
        if self.dirty > 0 {
            st.dirty.fetch_add(self.dirty, Ordering::Relaxed);
        }
        let (hits, misses) = (self.lookups.hits.get(), self.lookups.misses.get());
        if hits > 0 {
            st.keyspace_hits.fetch_add(hits, Ordering::Relaxed);
        }
        if misses > 0 {
            st.keyspace_misses.fetch_add(misses, Ordering::Relaxed);
        }
        *self = BatchStats::default();
    }
}

fn run_one(spec: &'static CommandSpec, ctx: &mut Ctx<'_>, txn: &mut Option<WriteTxn<'_, Version>>) {
    match spec.handler {
        Handler::Read(f) => match txn {
            Some(t) => f(ctx, t),
            None => ctx.srv.store.read(|v| f(ctx, v)),
        },
        Handler::Write(f) => match txn {
            Some(t) if runs_scripts(spec) => {
                let (v, slot) = t.split();
                with_slot(ctx, slot, |c| f(c, v));
            }
            Some(t) => f(ctx, t),
            None => ctx.err("ERR internal error: write command without a transaction"),
        },
        Handler::Conn(f) => f(ctx),
        Handler::Container => commands::command::bare_container(spec, ctx),
    }
}

/// Whether `spec` may run a script under the GIL, and so gets the write
/// transaction's script slot in `Ctx::gil`.
fn runs_scripts(spec: &CommandSpec) -> bool {
    matches!(spec.name, "eval" | "evalsha" | "fcall" | "exec")
}

/// Runs `f` on a copy of `ctx` that carries the transaction's script slot.
fn with_slot(ctx: &mut Ctx<'_>, slot: ScriptSlot<'_>, f: impl FnOnce(&mut Ctx<'_>)) {
    let mut inner = Ctx {
        srv: ctx.srv,
        client: &mut *ctx.client,
        out: &mut *ctx.out,
        args: ctx.args,
        now: ctx.now,
        dirty: 0,
        action: None,
        lookups: std::mem::take(&mut ctx.lookups),
        no_block: ctx.no_block,
        gil: Some(slot),
    };
    f(&mut inner);
    let Ctx {
        dirty,
        action,
        lookups,
        ..
    } = inner;
    ctx.dirty += dirty;
    ctx.lookups = lookups;
    if action.is_some() {
        ctx.action = action;
    }
}

/// Sends the MONITOR line for a command to every monitoring client.
pub(crate) fn feed_monitors(srv: &Server, client: &Client, args: &[Bytes]) {
    feed_monitors_as(srv, client.db, &client.info.addr, args);
}

/// Sends a MONITOR line for a command run by `who` (a client address, or
/// `lua` for commands called by a script) in database `db`.
pub fn feed_monitors_as(srv: &Server, db: usize, who: &str, args: &[Bytes]) {
    let us = crate::server::now_us();
    let mut line = format!("+{}.{:06} [{} {}]", us / 1_000_000, us % 1_000_000, db, who);
    // AUTH's arguments and HELLO's credentials are redacted, as in Redis.
    let redact_from = if commands::is(&args[0], "auth") {
        1
    } else if commands::is(&args[0], "hello") {
        args.iter()
            .position(|a| commands::is(a, "auth"))
            .map_or(args.len(), |i| i + 1)
    } else {
        args.len()
    };
    for (i, a) in args.iter().enumerate() {
        line.push(' ');
        if i >= redact_from && !(commands::is(&args[0], "hello") && i > redact_from + 1) {
            line.push_str("\"(redacted)\"");
        } else {
            line.push_str(&repr(a));
        }
    }
    line.push_str("\r\n");
    let msg = Bytes::from(line);
    for c in srv.clients.all() {
        if c.monitor.load(Ordering::Relaxed) {
            crate::pubsub::push(&c, msg.clone());
        }
    }
}

/// Quotes bytes like Redis's `sdscatrepr`.
pub fn repr(b: &[u8]) -> String {
    let mut s = String::from("\"");
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            7 => s.push_str("\\a"),
            8 => s.push_str("\\b"),
            c if c.is_ascii_graphic() || c == b' ' => s.push(c as char),
            c => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    s
}
