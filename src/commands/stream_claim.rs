//! Pending entries list commands of consumer groups: XPENDING (summary and
//! extended forms), XCLAIM and XAUTOCLAIM.

use ferrous_storage::stream::{Consumer, Pending, StreamData, StreamId};
use ferrous_storage::{Millis, SmallBytes, Version};

use super::keyspec::*;
use super::stream::{
    interval_end, interval_start, parse_strict_id, stream_mut_quiet, stream_read, write_entry,
    write_id,
};
use super::stream_group::{lossy, nogroup};
use super::{events, int_arg, is, Ctx, Handler::*};
use crate::cmd;
use crate::errors;

/// XPENDING, XCLAIM, XAUTOCLAIM.
pub static COMMANDS: &[super::CommandSpec] = &[
    cmd!("xpending", -3, [READONLY], (1, 1, 1), Read(xpending), "stream",
        "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.", "5.0.0",
        "O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer.",
        acl: [], tips: ["nondeterministic_output"], ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("xclaim", -6, [WRITE, FAST], (1, 1, 1), Write(xclaim), "stream",
        "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.", "5.0.0",
        "O(log N) with N being the number of messages in the PEL of the consumer group.",
        acl: [], tips: ["nondeterministic_output"], ks: [ks_range(RW | UPDATE, 1, 0, 1, 0)], subs: &[]),
    cmd!("xautoclaim", -6, [WRITE, FAST], (1, 1, 1), Write(xautoclaim), "stream",
        "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.", "6.2.0",
        "O(1) if COUNT is small.",
        acl: [], tips: ["nondeterministic_output"], ks: [ks_range(RW | DELETE, 1, 0, 1, 0)], subs: &[]),
];

fn xpending(ctx: &mut Ctx<'_>, v: &Version) {
    let args = ctx.args;
    let justinfo = args.len() == 3;
    if args.len() != 3 && (args.len() < 6 || args.len() > 9) {
        return ctx.err(errors::SYNTAX);
    }
    let (mut minidle, mut count, mut start, mut end, mut consumer) =
        (0i64, 0i64, StreamId::MIN, StreamId::MAX, None);
    if args.len() >= 6 {
        let mut at = 3;
        if is(&args[3], "idle") {
            match int_arg(&args[4]) {
                Ok(n) => minidle = n,
                Err(e) => return ctx.err(e),
            }
            if args.len() < 8 {
                return ctx.err(errors::SYNTAX);
            }
            at += 2;
        }
        match int_arg(&args[at + 2]) {
            Ok(n) => count = n.max(0),
            Err(e) => return ctx.err(e),
        }
        match interval_start(&args[at]) {
            Ok(id) => start = id,
            Err(e) => return ctx.err(e),
        }
        match interval_end(&args[at + 1]) {
            Ok(id) => end = id,
            Err(e) => return ctx.err(e),
        }
        consumer = args.get(at + 3);
    }
    let s = match stream_read(ctx, v, &args[1]) {
        Err(e) => return ctx.err(e),
        Ok(s) => s,
    };
    let Some(g) = s.and_then(|s| s.groups.get(&args[2][..])) else {
        return ctx.err(&nogroup(&args[1], &args[2]));
    };
    if justinfo {
        ctx.out.array(4);
        ctx.out.int(g.pel.len() as i64);
        let (Some((first, _)), Some((last, _))) = (g.pel.get_min(), g.pel.get_max()) else {
            ctx.out.null();
            ctx.out.null();
            ctx.out.null_array();
            return;
        };
        write_id(ctx.out, *first);
        write_id(ctx.out, *last);
        let owners: Vec<_> = g
            .consumers
            .iter()
            .filter(|(_, c)| !c.pel.is_empty())
            .collect();
        ctx.out.array(owners.len());
        for (name, c) in owners {
            ctx.out.array(2);
            ctx.out.bulk(name);
            ctx.out.bulk(c.pel.len().to_string().as_bytes());
        }
        return;
    }
    let ids: Vec<StreamId> = match consumer {
        Some(name) => match g.consumers.get(&name[..]) {
            None => return ctx.out.array(0),
            Some(c) if start <= end => c.pel.range(start..=end).copied().collect(),
            Some(_) => Vec::new(),
        },
        None if start <= end => g.pel.range(start..=end).map(|(id, _)| *id).collect(),
        None => Vec::new(),
    };
    let now = ctx.now as i64;
    let mut rows = Vec::new();
    for id in ids {
        if count == 0 {
            break;
        }
        let Some(p) = g.pel.get(&id) else { continue };
        let idle = now - p.delivery_time as i64;
        if minidle != 0 && idle < minidle {
            continue;
        }
        count -= 1;
        rows.push((id, p, idle.max(0)));
    }
    ctx.out.array(rows.len());
    for (id, p, idle) in rows {
        ctx.out.array(4);
        write_id(ctx.out, id);
        ctx.out.bulk(&p.consumer);
        ctx.out.int(idle);
        ctx.out.int(p.delivery_count as i64);
    }
}

/// The entry `id` of a claim reply, or just its id.
fn claimed(ctx: &mut Ctx<'_>, s: &StreamData, id: StreamId, justid: bool) {
    if justid {
        write_id(ctx.out, id);
    } else if let Some(f) = s.entries.get(&id) {
        write_entry(ctx.out, id, f);
    }
}

fn xclaim(ctx: &mut Ctx<'_>, v: &mut Version) {
    let args = ctx.args;
    let key = args[1].clone();
    let gname = args[2].clone();
    let cname = args[3].clone();
    let ok = match stream_read(ctx, v, &key) {
        Err(e) => return ctx.err(e),
        Ok(s) => s.is_some_and(|s| s.groups.contains_key(&gname[..])),
    };
    if !ok {
        return ctx.err(&nogroup(&key, &gname));
    }
    let minidle = match int_arg(&args[4]) {
        Ok(n) => n.max(0),
        Err(_) => return ctx.err("ERR Invalid min-idle-time argument for XCLAIM"),
    };
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match parse_strict_id(&args[j]) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let now = ctx.now as i64;
    let (mut force, mut justid) = (false, false);
    let mut retrycount: i64 = -1;
    let mut delivery: i64 = -1;
    let mut last_id = StreamId::MIN;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = &args[j];
        if is(opt, "force") {
            force = true;
        } else if is(opt, "justid") {
            justid = true;
        } else if is(opt, "idle") && more > 0 {
            j += 1;
            match int_arg(&args[j]) {
                Ok(n) => delivery = now.wrapping_sub(n),
                Err(_) => return ctx.err("ERR Invalid IDLE option argument for XCLAIM"),
            }
        } else if is(opt, "time") && more > 0 {
            j += 1;
            match int_arg(&args[j]) {
                Ok(n) => delivery = n,
                Err(_) => return ctx.err("ERR Invalid TIME option argument for XCLAIM"),
            }
        } else if is(opt, "retrycount") && more > 0 {
            j += 1;
            match int_arg(&args[j]) {
                Ok(n) => retrycount = n,
                Err(_) => return ctx.err("ERR Invalid RETRYCOUNT option argument for XCLAIM"),
            }
        } else if is(opt, "lastid") && more > 0 {
            j += 1;
            match parse_strict_id(&args[j]) {
                Ok(id) => last_id = id,
                Err(e) => return ctx.err(e),
            }
        } else {
            return ctx.err(&format!("ERR Unrecognized XCLAIM option '{}'", lossy(opt)));
        }
        j += 1;
    }
    if delivery < 0 || delivery > now {
        delivery = now;
    }
    let Ok(Some(s)) = stream_mut_quiet(ctx, v, &key) else {
        return;
    };
    let Some(mut g) = s.groups.get(&gname[..]).cloned() else {
        return;
    };
    if last_id > g.last_id {
        g.last_id = last_id;
        ctx.dirty += 1;
    }
    let mut out_ids = Vec::new();
    let mut consumer_ready = false;
    let mut created = false;
    for id in ids {
        if !s.entries.contains_key(&id) {
            if g.ack(id) {
                ctx.dirty += 1;
            }
            continue;
        }
        let mut fresh = false;
        if force && !g.pel.contains_key(&id) {
            g.pel.insert(
                id,
                Pending {
                    delivery_time: ctx.now,
                    delivery_count: 1,
                    consumer: SmallBytes::default(),
                },
            );
            fresh = true;
        }
        let Some(p) = g.pel.get(&id) else { continue };
        if !fresh && minidle != 0 && now - (p.delivery_time as i64) < minidle {
            continue;
        }
        if !consumer_ready {
            if !g.consumers.contains_key(&cname[..]) {
                g.consumers.insert(
                    SmallBytes::from(&cname[..]),
                    Consumer {
                        seen_time: ctx.now,
                        ..Consumer::default()
                    },
                );
                created = true;
            }
            consumer_ready = true;
        }
        if let Some(p) = g.pel.get_mut(&id) {
            p.delivery_time = delivery as Millis;
            if retrycount >= 0 {
                p.delivery_count = retrycount as u64;
            } else if !justid {
                p.delivery_count += 1;
            }
        }
        g.reassign(id, &cname);
        if let Some(c) = g.consumers.get_mut(&cname[..]) {
            c.seen_time = ctx.now;
        }
        out_ids.push(id);
        ctx.dirty += 1;
    }
    s.groups.insert(SmallBytes::from(&gname[..]), g);
    if created {
        ctx.notify(events::STREAM, "xgroup-createconsumer", &key);
    }
    let Ok(Some(s)) = stream_mut_quiet(ctx, v, &key) else {
        return;
    };
    let s: &StreamData = s;
    let s = s.clone();
    ctx.out.array(out_ids.len());
    for id in out_ids {
        claimed(ctx, &s, id, justid);
    }
}

fn xautoclaim(ctx: &mut Ctx<'_>, v: &mut Version) {
    let args = ctx.args;
    let key = args[1].clone();
    let gname = args[2].clone();
    let cname = args[3].clone();
    // Redis 7.0 parses every argument before looking the key up.
    let minidle = match int_arg(&args[4]) {
        Ok(n) => n.max(0),
        Err(_) => return ctx.err("ERR Invalid min-idle-time argument for XAUTOCLAIM"),
    };
    let start = match interval_start(&args[5]) {
        Ok(id) => id,
        Err(e) => return ctx.err(e),
    };
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if is(&args[j], "count") && more > 0 {
            // Redis bounds COUNT so that COUNT * 10 attempts cannot overflow.
            match int_arg(&args[j + 1]) {
                Ok(n) if (1..=i64::MAX / 16).contains(&n) => count = n,
                _ => return ctx.err("ERR COUNT must be > 0"),
            }
            j += 1;
        } else if is(&args[j], "justid") {
            justid = true;
        } else {
            return ctx.err(errors::SYNTAX);
        }
        j += 1;
    }
    let ok = match stream_read(ctx, v, &key) {
        Err(e) => return ctx.err(e),
        Ok(s) => s.is_some_and(|s| s.groups.contains_key(&gname[..])),
    };
    if !ok {
        return ctx.err(&nogroup(&key, &gname));
    }
    let Ok(Some(s)) = stream_mut_quiet(ctx, v, &key) else {
        return;
    };
    let Some(mut g) = s.groups.get(&gname[..]).cloned() else {
        return;
    };
    let now = ctx.now;
    let mut attempts = count.saturating_mul(10);
    let mut claimed_ids = Vec::new();
    let mut deleted = Vec::new();
    let mut created = false;
    let mut cursor = Some(start);
    let mut exhausted = false;
    let mut consumer_ready = false;
    loop {
        if attempts == 0 || count == 0 {
            break;
        }
        attempts -= 1;
        let next = cursor.and_then(|c| {
            g.pel
                .range(c..)
                .next()
                .map(|(id, p)| (*id, p.delivery_time))
        });
        let Some((id, dt)) = next else {
            exhausted = true;
            break;
        };
        cursor = id.incr();
        if !s.entries.contains_key(&id) {
            g.ack(id);
            deleted.push(id);
            ctx.dirty += 1;
            count -= 1;
            continue;
        }
        if minidle != 0 && (now as i64 - dt as i64) < minidle {
            continue;
        }
        if !consumer_ready {
            if !g.consumers.contains_key(&cname[..]) {
                g.consumers.insert(
                    SmallBytes::from(&cname[..]),
                    Consumer {
                        seen_time: now,
                        ..Consumer::default()
                    },
                );
                created = true;
            }
            consumer_ready = true;
        }
        if let Some(p) = g.pel.get_mut(&id) {
            p.delivery_time = now;
            if !justid {
                p.delivery_count += 1;
            }
        }
        g.reassign(id, &cname);
        if let Some(c) = g.consumers.get_mut(&cname[..]) {
            c.seen_time = now;
        }
        claimed_ids.push(id);
        count -= 1;
        ctx.dirty += 1;
    }
    let next_cursor = if exhausted {
        StreamId::MIN
    } else {
        cursor
            .and_then(|c| g.pel.range(c..).next().map(|(id, _)| *id))
            .unwrap_or(StreamId::MIN)
    };
    s.groups.insert(SmallBytes::from(&gname[..]), g);
    let snapshot: StreamData = s.clone();
    if created {
        ctx.notify(events::STREAM, "xgroup-createconsumer", &key);
    }
    ctx.out.array(3);
    write_id(ctx.out, next_cursor);
    ctx.out.array(claimed_ids.len());
    for id in claimed_ids {
        claimed(ctx, &snapshot, id, justid);
    }
    ctx.out.array(deleted.len());
    for id in deleted {
        write_id(ctx.out, id);
    }
}
