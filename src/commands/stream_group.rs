//! Consumer group commands: XGROUP (CREATE, SETID, DESTROY,
//! CREATECONSUMER, DELCONSUMER, HELP), XREADGROUP and XACK. The pending
//! entries list commands (XPENDING, XCLAIM, XAUTOCLAIM) are in
//! `stream_claim.rs`.

use std::sync::Arc;

use ferrous_storage::stream::{Consumer, Group, Pending, StreamData, StreamId};
use ferrous_storage::{SmallBytes, Version};

use super::keyspec::*;
use super::stream::{
    create_stream, parse_id_ext, parse_read_args, parse_strict_id, stream_mut_quiet, stream_read,
    write_served, Served,
};
use super::{events, int_arg, is, Ctx, Handler::*};
use crate::cmd;
use crate::errors;

/// The consumer group commands.
pub static COMMANDS: &[super::CommandSpec] = &[
    cmd!("xgroup", -2, [], (0, 0, 0), Container, "stream",
        "A container for consumer groups commands", "5.0.0", "Depends on subcommand.",
        acl: [], tips: [], ks: [], subs: XGROUP_SUBCOMMANDS),
    cmd!("xreadgroup", -7, [WRITE, BLOCKING, MOVABLEKEYS], (0, 0, 0), Write(xreadgroup), "stream",
        "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.", "5.0.0",
        "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data.",
        acl: [], tips: [], ks: [ks_keyword(RO | ACCESS, "STREAMS", 4, -1, 1, 2)], subs: &[]),
    cmd!("xack", -4, [WRITE, FAST], (1, 1, 1), Write(xack), "stream",
        "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.", "5.0.0",
        "O(1) for each message ID processed.",
        acl: [], tips: [], ks: [ks_range(RW | UPDATE, 1, 0, 1, 0)], subs: &[]),
];

static XGROUP_SUBCOMMANDS: &[super::CommandSpec] = &[
    cmd!("delconsumer", 5, [WRITE], (2, 2, 1), Write(xgroup), "stream",
        "Delete a consumer from a consumer group.", "5.0.0", "O(1)",
        acl: [], tips: [], ks: [ks_range(RW | DELETE, 2, 0, 1, 0)], subs: &[]),
    cmd!("destroy", 4, [WRITE], (2, 2, 1), Write(xgroup), "stream",
        "Destroy a consumer group.", "5.0.0",
        "O(N) where N is the number of entries in the group's pending entries list (PEL).",
        acl: [], tips: [], ks: [ks_range(RW | DELETE, 2, 0, 1, 0)], subs: &[]),
    cmd!("create", -5, [WRITE, DENYOOM], (2, 2, 1), Write(xgroup), "stream",
        "Create a consumer group.", "5.0.0", "O(1)",
        acl: [], tips: [], ks: [ks_range(RW | INSERT, 2, 0, 1, 0)], subs: &[]),
    cmd!("help", 2, [LOADING, STALE], (0, 0, 0), Conn(xgroup_help), "stream",
        "Show helpful text about the different subcommands", "5.0.0", "O(1)",
        acl: [], tips: [], ks: [], subs: &[]),
    cmd!("createconsumer", 5, [WRITE, DENYOOM], (2, 2, 1), Write(xgroup), "stream",
        "Create a consumer in a consumer group.", "6.2.0", "O(1)",
        acl: [], tips: [], ks: [ks_range(RW | INSERT, 2, 0, 1, 0)], subs: &[]),
    cmd!("setid", -5, [WRITE], (2, 2, 1), Write(xgroup), "stream",
        "Set a consumer group to an arbitrary last delivered ID value.", "5.0.0", "O(1)",
        acl: [], tips: [], ks: [ks_range(RW | UPDATE, 2, 0, 1, 0)], subs: &[]),
];

pub(super) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(super::cut_at_nul(b)).into_owned()
}

/// `NOGROUP No such key '<key>' or consumer group '<group>'`.
pub(super) fn nogroup(key: &[u8], group: &[u8]) -> String {
    format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        lossy(key),
        lossy(group)
    )
}

/// Creates consumer `name` in `g` if missing (announcing it); returns
/// whether it was created.
fn ensure_consumer(ctx: &mut Ctx<'_>, g: &mut Group, name: &[u8], key: &[u8]) -> bool {
    if g.consumers.contains_key(name) {
        return false;
    }
    g.consumers.insert(
        SmallBytes::from(name),
        Consumer {
            seen_time: ctx.now,
            ..Consumer::default()
        },
    );
    ctx.notify(events::STREAM, "xgroup-createconsumer", key);
    true
}

fn xgroup_help(ctx: &mut Ctx<'_>) {
    super::command::help_reply(
        ctx,
        "XGROUP",
        &[
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
        ],
    );
}

/// Redis's reply to bad arguments of an XGROUP subcommand.
fn sub_syntax(sub: &[u8]) -> String {
    format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try XGROUP HELP.",
        lossy(sub)
    )
}

fn parse_entries_read(a: &[u8]) -> Result<i64, &'static str> {
    let n = int_arg(a)?;
    if n < 0 && n != -1 {
        return Err("ERR value for ENTRIESREAD must be positive or -1");
    }
    Ok(n)
}

/// XGROUP CREATE / SETID / DESTROY / CREATECONSUMER / DELCONSUMER.
fn xgroup(ctx: &mut Ctx<'_>, v: &mut Version) {
    let args = ctx.args;
    let sub = args[1].to_ascii_lowercase();
    let (key, gname) = (args[2].clone(), args[3].clone());
    let mut mkstream = false;
    let mut entries_read: i64 = -1;
    if sub == b"create" || sub == b"setid" {
        let mut i = 5;
        while i < args.len() {
            if sub == b"create" && is(&args[i], "mkstream") {
                mkstream = true;
            } else if is(&args[i], "entriesread") && i + 1 < args.len() {
                match parse_entries_read(&args[i + 1]) {
                    Ok(n) => entries_read = n,
                    Err(e) => return ctx.err(e),
                }
                i += 1;
            } else {
                return ctx.err(&sub_syntax(&args[1]));
            }
            i += 1;
        }
    }
    let exists = match stream_mut_quiet(ctx, v, &key) {
        Err(e) => return ctx.err(e),
        Ok(s) => s.is_some(),
    };
    if !exists && !mkstream {
        return ctx.err("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.");
    }
    // Redis checks the argument count only once the key is known to exist.
    let n = args.len();
    if (sub == b"create" && !(5..=8).contains(&n)) || (sub == b"setid" && n != 5 && n != 7) {
        return ctx.err(&sub_syntax(&args[1]));
    }
    if sub == b"create" {
        let last = match stream_mut_quiet(ctx, v, &key) {
            Ok(Some(s)) => s.last_id,
            _ => StreamId::MIN,
        };
        let id = if &args[4][..] == b"$" {
            last
        } else {
            match parse_strict_id(&args[4]) {
                Ok(id) => id,
                Err(e) => return ctx.err(e),
            }
        };
        let s: &mut StreamData = match stream_mut_quiet(ctx, v, &key) {
            Ok(Some(s)) => s,
            _ => match create_stream(ctx, v, &key) {
                Some(s) => s,
                None => return,
            },
        };
        if s.groups.contains_key(&gname[..]) {
            return ctx.err("BUSYGROUP Consumer Group name already exists");
        }
        s.groups.insert(
            SmallBytes::from(&gname[..]),
            Group {
                last_id: id,
                entries_read,
                ..Group::default()
            },
        );
        ctx.dirty += 1;
        ctx.notify(events::STREAM, "xgroup-create", &key);
        return ctx.out.ok();
    }
    let Ok(Some(s)) = stream_mut_quiet(ctx, v, &key) else {
        return ctx.err(errors::NO_SUCH_KEY);
    };
    let last = s.last_id;
    let has_group = s.groups.contains_key(&gname[..]);
    if !has_group && sub != b"destroy" {
        return ctx.err(&format!(
            "NOGROUP No such consumer group '{}' for key name '{}'",
            lossy(&gname),
            lossy(&key)
        ));
    }
    match &sub[..] {
        b"setid" => {
            let id = if &args[4][..] == b"$" {
                last
            } else {
                match parse_id_ext(&args[4], 0, false, false) {
                    Ok((id, _)) => id,
                    Err(e) => return ctx.err(e),
                }
            };
            if let Some(g) = s.groups.get_mut(&gname[..]) {
                g.last_id = id;
                g.entries_read = entries_read;
            }
            ctx.dirty += 1;
            ctx.notify(events::STREAM, "xgroup-setid", &key);
            ctx.out.ok();
        }
        b"destroy" => {
            if s.groups.remove(&gname[..]).is_some() {
                ctx.dirty += 1;
                ctx.notify(events::STREAM, "xgroup-destroy", &key);
                ctx.key_ready(&key);
                ctx.out.int(1);
            } else {
                ctx.out.int(0);
            }
        }
        b"createconsumer" => {
            let cname = args[4].clone();
            let mut g = s.groups.get(&gname[..]).cloned().unwrap_or_default();
            let created = ensure_consumer(ctx, &mut g, &cname, &key);
            if created {
                if let Ok(Some(s)) = stream_mut_quiet(ctx, v, &key) {
                    s.groups.insert(SmallBytes::from(&gname[..]), g);
                }
                ctx.dirty += 1;
            }
            ctx.out.int(created as i64);
        }
        _ => {
            // delconsumer
            let mut pending = 0;
            if let Some(g) = s.groups.get_mut(&gname[..]) {
                if let Some(c) = g.consumers.remove(&args[4][..]) {
                    pending = c.pel.len();
                    for id in c.pel.iter() {
                        g.pel.remove(id);
                    }
                    ctx.dirty += 1;
                    ctx.notify(events::STREAM, "xgroup-delconsumer", &key);
                }
            }
            ctx.out.int(pending as i64);
        }
    }
}

fn xreadgroup(ctx: &mut Ctx<'_>, v: &mut Version) {
    let r = match parse_read_args(ctx, true) {
        Ok(r) => r,
        Err(e) => return ctx.err(&e),
    };
    let args = ctx.args;
    let Some((gname, cname)) = r.group.clone() else {
        return;
    };
    // Validate every stream, group and id before changing anything.
    let rerun = crate::blocking::is_rerun(ctx);
    let mut ids = Vec::with_capacity(r.nstreams);
    for i in 0..r.nstreams {
        let key = &args[r.streams_at + i];
        let s = match stream_read(ctx, v, key) {
            Ok(Some(s)) => Some(s),
            // A blocked client whose stream went away (or changed type).
            Ok(None) | Err(_) if rerun => {
                return ctx.err("UNBLOCKED the stream key no longer exists")
            }
            Ok(s) => s,
            Err(e) => return ctx.err(e),
        };
        if rerun && s.is_some_and(|s| !s.groups.contains_key(&gname[..])) {
            return ctx
                .err("NOGROUP the consumer group this client was blocked on no longer exists");
        }
        if s.is_none_or(|s| !s.groups.contains_key(&gname[..])) {
            return ctx.err(&format!(
                "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                lossy(key),
                lossy(&gname)
            ));
        }
        let a = &args[r.streams_at + r.nstreams + i];
        if &a[..] == b"$" {
            return ctx.err("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.");
        } else if &a[..] == b">" {
            ids.push(None);
        } else {
            match parse_strict_id(a) {
                Ok(id) => ids.push(Some(id)),
                Err(e) => return ctx.err(e),
            }
        }
    }
    let now = ctx.now;
    let mut served: Vec<Served> = Vec::new();
    for (i, want) in ids.into_iter().enumerate() {
        let key = args[r.streams_at + i].clone();
        // Redis looks each key up a second time here (keyspace statistics).
        let _ = stream_read(ctx, v, &key);
        let Ok(Some(s)) = stream_mut_quiet(ctx, v, &key) else {
            continue;
        };
        let Some(mut g) = s.groups.get(&gname[..]).cloned() else {
            continue;
        };
        let data: &StreamData = s;
        let top = data.last_entry().map(|(id, _)| *id);
        let (history, start) = match want {
            Some(id) => (true, id),
            None => match top {
                Some(t) if t > g.last_id => (false, g.last_id),
                _ => (false, StreamId::MAX),
            },
        };
        let serve = history || start != StreamId::MAX;
        let mut items = Vec::new();
        if serve {
            let limit = if r.count == 0 { usize::MAX } else { r.count };
            let from = start.incr();
            if history {
                let c = g.consumers.get(&cname[..]);
                let pel: Vec<StreamId> = match (c, from) {
                    (Some(c), Some(from)) => c.pel.range(from..).take(limit).copied().collect(),
                    _ => Vec::new(),
                };
                for id in pel {
                    match data.entries.get(&id) {
                        Some(f) => {
                            items.push((id, Some(Arc::clone(f))));
                            if let Some(p) = g.pel.get_mut(&id) {
                                p.delivery_time = now;
                                p.delivery_count += 1;
                            }
                        }
                        None => items.push((id, None)),
                    }
                }
            } else if let Some(from) = from {
                for (id, f) in data.range(from, StreamId::MAX, false).take(limit) {
                    items.push((*id, Some(Arc::clone(f))));
                }
            }
        }
        if !serve {
            // Redis creates the consumer only when it serves it.
            continue;
        }
        // Delivering new entries moves the group forward and fills the PELs.
        ensure_consumer(ctx, &mut g, &cname, &key);
        if let Some(c) = g.consumers.get_mut(&cname[..]) {
            c.seen_time = now;
        }
        let Ok(Some(s)) = stream_mut_quiet(ctx, v, &key) else {
            continue;
        };
        if !history {
            for (id, _) in &items {
                if *id > g.last_id {
                    if g.entries_read != -1 && !s.has_tombstones_from(*id) {
                        g.entries_read = g.entries_read.saturating_add(1);
                    } else if s.entries_added != 0 {
                        g.entries_read = s
                            .distance_from_first_ever(*id)
                            .map(|n| n as i64)
                            .unwrap_or(-1);
                    }
                    g.last_id = *id;
                }
                if !r.noack {
                    if g.pel.contains_key(id) {
                        if let Some(p) = g.pel.get_mut(id) {
                            p.delivery_time = now;
                            p.delivery_count = 1;
                        }
                        g.reassign(*id, &cname);
                    } else {
                        g.pel.insert(
                            *id,
                            Pending {
                                delivery_time: now,
                                delivery_count: 1,
                                consumer: SmallBytes::from(&cname[..]),
                            },
                        );
                        if let Some(c) = g.consumers.get_mut(&cname[..]) {
                            c.pel.insert(*id);
                        }
                    }
                }
            }
        }
        s.groups.insert(SmallBytes::from(&gname[..]), g);
        ctx.dirty += 1;
        served.push((i, items));
    }
    if served.is_empty() {
        let Some(deadline) = r.block else {
            return ctx.out.null_array();
        };
        let keys = &args[r.streams_at..r.streams_at + r.nstreams];
        return crate::blocking::block(ctx, keys, deadline, crate::blocking::OnTimeout::NullArray);
    }
    write_served(ctx, r.streams_at, &served);
}

fn xack(ctx: &mut Ctx<'_>, v: &mut Version) {
    let args = ctx.args;
    let key = args[1].clone();
    let exists = match stream_read(ctx, v, &key) {
        Err(e) => return ctx.err(e),
        Ok(s) => s.is_some_and(|s| s.groups.contains_key(&args[2][..])),
    };
    // Redis 7.0 answers 0 for a missing key or group before parsing ids.
    if !exists {
        return ctx.out.int(0);
    }
    let mut ids = Vec::with_capacity(args.len() - 3);
    for a in &args[3..] {
        match parse_strict_id(a) {
            Ok(id) => ids.push(id),
            Err(e) => return ctx.err(e),
        }
    }
    let mut acked = 0;
    if let Ok(Some(s)) = stream_mut_quiet(ctx, v, &key) {
        if let Some(g) = s.groups.get_mut(&args[2][..]) {
            for id in ids {
                if g.ack(id) {
                    acked += 1;
                }
            }
        }
    }
    ctx.dirty += acked;
    ctx.out.int(acked as i64);
}
