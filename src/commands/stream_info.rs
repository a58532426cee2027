//! XINFO: STREAM (with FULL), GROUPS, CONSUMERS and HELP.

use ferrous_storage::stream::{Group, StreamData, StreamId};
use ferrous_storage::Version;

use super::keyspec::*;
use super::stream::{stream_read, write_entry, write_id};
use super::{int_arg, is, Ctx, Handler::*};
use crate::cmd;
use crate::errors;

/// XINFO and its subcommands.
pub static COMMANDS: &[super::CommandSpec] = &[cmd!("xinfo", -2, [], (0, 0, 0), Container,
    "stream", "A container for stream introspection commands", "5.0.0",
    "Depends on subcommand.", acl: [], tips: [], ks: [], subs: XINFO_SUBCOMMANDS)];

static XINFO_SUBCOMMANDS: &[super::CommandSpec] = &[
    cmd!("stream", -3, [READONLY], (2, 2, 1), Read(xinfo_stream), "stream",
        "Get information about a stream", "5.0.0", "O(1)",
        acl: [], tips: [], ks: [ks_range(RO | ACCESS, 2, 0, 1, 0)], subs: &[]),
    cmd!("help", 2, [LOADING, STALE], (0, 0, 0), Conn(xinfo_help), "stream",
        "Show helpful text about the different subcommands", "5.0.0", "O(1)",
        acl: [], tips: [], ks: [], subs: &[]),
    cmd!("groups", 3, [READONLY], (2, 2, 1), Read(xinfo_groups), "stream",
        "List the consumer groups of a stream", "5.0.0", "O(1)",
        acl: [], tips: [], ks: [ks_range(RO | ACCESS, 2, 0, 1, 0)], subs: &[]),
    cmd!("consumers", 4, [READONLY], (2, 2, 1), Read(xinfo_consumers), "stream",
        "List the consumers in a consumer group", "5.0.0", "O(1)",
        acl: [], tips: ["nondeterministic_output"],
        ks: [ks_range(RO | ACCESS, 2, 0, 1, 0)], subs: &[]),
];

fn xinfo_help(ctx: &mut Ctx<'_>) {
    super::command::help_reply(
        ctx,
        "XINFO",
        &[
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
        ],
    );
}

/// The stream at argument 2, or the error Redis gives.
fn lookup<'v>(ctx: &mut Ctx<'_>, v: &'v Version) -> Option<&'v StreamData> {
    match stream_read(ctx, v, &ctx.args[2]) {
        Err(e) => {
            ctx.err(e);
            None
        }
        Ok(None) => {
            ctx.err(errors::NO_SUCH_KEY);
            None
        }
        Ok(Some(s)) => Some(s),
    }
}

fn entries_read(ctx: &mut Ctx<'_>, g: &Group) {
    if g.entries_read == -1 {
        ctx.out.null();
    } else {
        ctx.out.int(g.entries_read);
    }
}

fn lag(ctx: &mut Ctx<'_>, s: &StreamData, g: &Group) {
    match s.lag(g) {
        Some(n) => ctx.out.int(n),
        None => ctx.out.null(),
    }
}

fn xinfo_stream(ctx: &mut Ctx<'_>, v: &Version) {
    let Some(s) = lookup(ctx, v) else { return };
    let args = ctx.args;
    let mut full = false;
    let mut count: i64 = 10;
    let bad = format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try XINFO HELP.",
        String::from_utf8_lossy(super::cut_at_nul(&args[1]))
    );
    if args.len() > 3 {
        if !is(&args[3], "full") {
            return ctx.err(&bad);
        }
        full = true;
        if args.len() > 4 {
            if args.len() != 6 || !is(&args[4], "count") {
                return ctx.err(&bad);
            }
            match int_arg(&args[5]) {
                Ok(n) => count = if n < 0 { 10 } else { n },
                Err(e) => return ctx.err(e),
            }
        }
    }
    ctx.out.map(if full { 9 } else { 10 });
    ctx.out.bulk(b"length");
    ctx.out.int(s.len() as i64);
    ctx.out.bulk(b"radix-tree-keys");
    ctx.out.int(s.nodes.len() as i64);
    ctx.out.bulk(b"radix-tree-nodes");
    ctx.out.int(s.radix_tree_nodes() as i64);
    ctx.out.bulk(b"last-generated-id");
    write_id(ctx.out, s.last_id);
    ctx.out.bulk(b"max-deleted-entry-id");
    write_id(ctx.out, s.max_deleted);
    ctx.out.bulk(b"entries-added");
    ctx.out.int(s.entries_added as i64);
    ctx.out.bulk(b"recorded-first-entry-id");
    write_id(ctx.out, s.first_id);
    if !full {
        ctx.out.bulk(b"groups");
        ctx.out.int(s.groups.len() as i64);
        for (name, e) in [
            ("first-entry", s.first_entry()),
            ("last-entry", s.last_entry()),
        ] {
            ctx.out.bulk(name.as_bytes());
            match e {
                Some((id, f)) => write_entry(ctx.out, *id, f),
                None => ctx.out.null(),
            }
        }
        return;
    }
    let limit = if count == 0 {
        usize::MAX
    } else {
        count as usize
    };
    let entries: Vec<_> = s
        .range(StreamId::MIN, StreamId::MAX, false)
        .take(limit)
        .collect();
    ctx.out.bulk(b"entries");
    ctx.out.array(entries.len());
    for (id, f) in entries {
        write_entry(ctx.out, *id, f);
    }
    ctx.out.bulk(b"groups");
    ctx.out.array(s.groups.len());
    for (name, g) in s.groups.iter() {
        ctx.out.map(7);
        ctx.out.bulk(b"name");
        ctx.out.bulk(name);
        ctx.out.bulk(b"last-delivered-id");
        write_id(ctx.out, g.last_id);
        ctx.out.bulk(b"entries-read");
        entries_read(ctx, g);
        ctx.out.bulk(b"lag");
        lag(ctx, s, g);
        ctx.out.bulk(b"pel-count");
        ctx.out.int(g.pel.len() as i64);
        ctx.out.bulk(b"pending");
        let pel: Vec<_> = g.pel.iter().take(limit).collect();
        ctx.out.array(pel.len());
        for (id, p) in pel {
            ctx.out.array(4);
            write_id(ctx.out, *id);
            ctx.out.bulk(&p.consumer);
            ctx.out.int(p.delivery_time as i64);
            ctx.out.int(p.delivery_count as i64);
        }
        ctx.out.bulk(b"consumers");
        ctx.out.array(g.consumers.len());
        for (cname, c) in g.consumers.iter() {
            ctx.out.map(4);
            ctx.out.bulk(b"name");
            ctx.out.bulk(cname);
            ctx.out.bulk(b"seen-time");
            ctx.out.int(c.seen_time as i64);
            ctx.out.bulk(b"pel-count");
            ctx.out.int(c.pel.len() as i64);
            ctx.out.bulk(b"pending");
            let pel: Vec<_> = c.pel.iter().take(limit).collect();
            ctx.out.array(pel.len());
            for id in pel {
                ctx.out.array(3);
                write_id(ctx.out, *id);
                let (t, n) = g
                    .pel
                    .get(id)
                    .map(|p| (p.delivery_time as i64, p.delivery_count as i64))
                    .unwrap_or((0, 0));
                ctx.out.int(t);
                ctx.out.int(n);
            }
        }
    }
}

fn xinfo_groups(ctx: &mut Ctx<'_>, v: &Version) {
    let Some(s) = lookup(ctx, v) else { return };
    ctx.out.array(s.groups.len());
    for (name, g) in s.groups.iter() {
        ctx.out.map(6);
        ctx.out.bulk(b"name");
        ctx.out.bulk(name);
        ctx.out.bulk(b"consumers");
        ctx.out.int(g.consumers.len() as i64);
        ctx.out.bulk(b"pending");
        ctx.out.int(g.pel.len() as i64);
        ctx.out.bulk(b"last-delivered-id");
        write_id(ctx.out, g.last_id);
        ctx.out.bulk(b"entries-read");
        entries_read(ctx, g);
        ctx.out.bulk(b"lag");
        lag(ctx, s, g);
    }
}

fn xinfo_consumers(ctx: &mut Ctx<'_>, v: &Version) {
    let Some(s) = lookup(ctx, v) else { return };
    let args = ctx.args;
    let Some(g) = s.groups.get(&args[3][..]) else {
        return ctx.err(&format!(
            "NOGROUP No such consumer group '{}' for key name '{}'",
            String::from_utf8_lossy(super::cut_at_nul(&args[3])),
            String::from_utf8_lossy(super::cut_at_nul(&args[2]))
        ));
    };
    let now = ctx.now as i64;
    ctx.out.array(g.consumers.len());
    for (name, c) in g.consumers.iter() {
        ctx.out.map(3);
        ctx.out.bulk(b"name");
        ctx.out.bulk(name);
        ctx.out.bulk(b"pending");
        ctx.out.int(c.pel.len() as i64);
        ctx.out.bulk(b"idle");
        ctx.out.int((now - c.seen_time as i64).max(0));
    }
}
