//! Sorted-set commands, part three: the pops (ZPOPMIN, ZPOPMAX, ZMPOP and
//! the blocking BZPOPMIN, BZPOPMAX, BZMPOP on `crate::blocking`),
//! ZRANDMEMBER and ZSCAN.

use bytes::Bytes;
use ferrous_storage::ostree::Item;
use ferrous_storage::Version;

use super::keyspec::*;
use super::zset::{put_zset, reply_items, take_zset, zset_read};
use super::{events, int_arg, is, Ctx, Handler::*};
use crate::blocking::{self, OnTimeout};
use crate::cmd;
use crate::errors;
use crate::glob;

/// The pop, random and scan commands.
pub static COMMANDS: &[super::CommandSpec] = &[
    cmd!("zpopmin", -2, [WRITE, FAST], (1, 1, 1), Write(zpopmin), "sorted-set",
        "Remove and return members with the lowest scores in a sorted set", "5.0.0",
        "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
        acl: [], tips: [],
        ks: [ks_range(RW | ACCESS | DELETE, 1, 0, 1, 0)], subs: &[]),
    cmd!("zpopmax", -2, [WRITE, FAST], (1, 1, 1), Write(zpopmax), "sorted-set",
        "Remove and return members with the highest scores in a sorted set", "5.0.0",
        "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
        acl: [], tips: [],
        ks: [ks_range(RW | ACCESS | DELETE, 1, 0, 1, 0)], subs: &[]),
    cmd!("zmpop", -4, [WRITE, MOVABLEKEYS], (0, 0, 0), Write(zmpop), "sorted-set",
        "Remove and return members with scores in a sorted set", "7.0.0",
        "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
        acl: [], tips: [],
        ks: [ks_keynum(RW | ACCESS | DELETE, 1, 0, 1, 1)], subs: &[]),
    cmd!("zrandmember", -2, [READONLY], (1, 1, 1), Read(zrandmember), "sorted-set",
        "Get one or multiple random elements from a sorted set", "6.2.0",
        "O(N) where N is the number of elements returned",
        acl: [], tips: ["nondeterministic_output"],
        ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("zscan", -3, [READONLY], (1, 1, 1), Read(zscan), "sorted-set",
        "Incrementally iterate sorted sets elements and associated scores", "2.8.0",
        "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
        acl: [], tips: ["nondeterministic_output"],
        ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("bzpopmin", -3, [WRITE, NOSCRIPT, BLOCKING, FAST], (1, -2, 1), Write(bzpopmin), "sorted-set",
        "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", "5.0.0",
        "O(log(N)) with N being the number of elements in the sorted set.",
        acl: [], tips: [],
        ks: [ks_range(RW | ACCESS | DELETE, 1, -2, 1, 0)], subs: &[]),
    cmd!("bzpopmax", -3, [WRITE, NOSCRIPT, BLOCKING, FAST], (1, -2, 1), Write(bzpopmax), "sorted-set",
        "Remove and return the member with the highest score from one or more sorted sets, or block until one is available", "5.0.0",
        "O(log(N)) with N being the number of elements in the sorted set.",
        acl: [], tips: [],
        ks: [ks_range(RW | ACCESS | DELETE, 1, -2, 1, 0)], subs: &[]),
    cmd!("bzmpop", -5, [WRITE, BLOCKING, MOVABLEKEYS], (0, 0, 0), Write(bzmpop), "sorted-set",
        "Remove and return members with scores in a sorted set or block until one is available", "7.0.0",
        "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
        acl: [], tips: [],
        ks: [ks_keynum(RW | ACCESS | DELETE, 2, 0, 1, 1)], subs: &[]),
];

/// Pops up to `count` items from the low (`max` false) or high end of the
/// sorted set at `key`, deleting the key when emptied and notifying.
/// Returns `None` if the key is absent, `Err` on a wrong type.
pub fn pop_items(
    ctx: &mut Ctx<'_>,
    v: &mut Version,
    key: &[u8],
    max: bool,
    count: usize,
) -> Result<Option<Vec<Item>>, &'static str> {
    let Some(mut z) = take_zset(ctx, v, key)? else {
        return Ok(None);
    };
    let n = count.min(z.len());
    let mut popped = Vec::with_capacity(n);
    for _ in 0..n {
        let it = if max {
            z.tree().last()
        } else {
            z.tree().first()
        };
        let Some(it) = it.cloned() else { break };
        z.remove(&it.member);
        popped.push(it);
    }
    let deleted = put_zset(ctx, v, key, z, !popped.is_empty());
    if !popped.is_empty() {
        ctx.notify(events::ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
        if deleted {
            ctx.notify(events::GENERIC, "del", key);
        }
        ctx.dirty += popped.len() as u64;
    }
    Ok(Some(popped))
}

/// Writes popped items as `[[member, score], …]` (ZMPOP and BZMPOP: nested
/// in both protocols).
pub fn reply_pairs(ctx: &mut Ctx<'_>, items: &[Item]) {
    ctx.out.array(items.len());
    for it in items {
        ctx.out.array(2);
        ctx.out.bulk(&it.member);
        ctx.out.double(it.score);
    }
}

fn pop_generic(ctx: &mut Ctx<'_>, v: &mut Version, max: bool) {
    let args = ctx.args;
    if args.len() > 3 {
        return ctx.err(errors::SYNTAX);
    }
    let count = match args.get(2) {
        None => None,
        Some(a) => match int_arg(a) {
            Ok(n) if n >= 0 => Some(n as usize),
            _ => return ctx.err("ERR value is out of range, must be positive"),
        },
    };
    let key = args[1].clone();
    let popped = match pop_items(ctx, v, &key, max, count.unwrap_or(1)) {
        Ok(p) => p.unwrap_or_default(),
        Err(e) => return ctx.err(e),
    };
    if count.is_none() {
        ctx.out.array(2 * popped.len());
        for it in &popped {
            ctx.out.bulk(&it.member);
            ctx.out.double(it.score);
        }
    } else {
        reply_items(ctx, popped.len(), popped.iter(), true);
    }
}

fn zpopmin(ctx: &mut Ctx<'_>, v: &mut Version) {
    pop_generic(ctx, v, false)
}

fn zpopmax(ctx: &mut Ctx<'_>, v: &mut Version) {
    pop_generic(ctx, v, true)
}

/// Parsed arguments of ZMPOP / BZMPOP.
pub struct MpopArgs {
    /// The keys, in order.
    pub keys: Vec<Bytes>,
    /// MAX rather than MIN.
    pub max: bool,
    /// COUNT (1 by default).
    pub count: usize,
}

/// Parses `numkeys key… MIN|MAX [COUNT n]` starting at argument `at`.
pub fn parse_mpop(args: &[Bytes], at: usize) -> Result<MpopArgs, &'static str> {
    let numkeys = int_arg(&args[at]).unwrap_or(0);
    if numkeys <= 0 {
        return Err("ERR numkeys should be greater than 0");
    }
    let numkeys = numkeys as u64;
    let first = at + 1;
    if numkeys > (args.len() - first) as u64 {
        return Err(errors::SYNTAX);
    }
    let where_at = first + numkeys as usize;
    let Some(w) = args.get(where_at) else {
        return Err(errors::SYNTAX);
    };
    let max = if is(w, "min") {
        false
    } else if is(w, "max") {
        true
    } else {
        return Err(errors::SYNTAX);
    };
    let mut count = None;
    let mut j = where_at + 1;
    while j < args.len() {
        if count.is_none() && is(&args[j], "count") && j + 1 < args.len() {
            let n = int_arg(&args[j + 1]).unwrap_or(0);
            if n <= 0 {
                return Err("ERR count should be greater than 0");
            }
            count = Some(n as usize);
            j += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    Ok(MpopArgs {
        keys: args[first..where_at].to_vec(),
        max,
        count: count.unwrap_or(1),
    })
}

/// Pops from the first non-empty key of `m`, writing ZMPOP's reply; returns
/// false (writing nothing) when every key is empty.
pub fn mpop_first(ctx: &mut Ctx<'_>, v: &mut Version, m: &MpopArgs) -> Result<bool, &'static str> {
    for k in &m.keys {
        if let Some(items) = pop_items(ctx, v, k, m.max, m.count)? {
            if items.is_empty() {
                continue;
            }
            ctx.out.array(2);
            ctx.out.bulk(k);
            reply_pairs(ctx, &items);
            return Ok(true);
        }
    }
    Ok(false)
}

fn zmpop(ctx: &mut Ctx<'_>, v: &mut Version) {
    let m = match parse_mpop(ctx.args, 1) {
        Ok(m) => m,
        Err(e) => return ctx.err(e),
    };
    match mpop_first(ctx, v, &m) {
        Ok(true) => {}
        Ok(false) => ctx.out.null_array(),
        Err(e) => ctx.err(e),
    }
}

fn zrandmember(ctx: &mut Ctx<'_>, v: &Version) {
    let args = ctx.args;
    if args.len() > 4 || (args.len() == 4 && !is(&args[3], "withscores")) {
        return ctx.err(errors::SYNTAX);
    }
    let withscores = args.len() == 4;
    let count = match args.get(2) {
        None => None,
        Some(a) => match int_arg(a) {
            Ok(i64::MIN) => {
                return ctx.err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
            }
            Ok(n) => Some(n),
            Err(e) => return ctx.err(e),
        },
    };
    let z = match zset_read(ctx, v, &args[1]) {
        Ok(Some(z)) => z,
        Ok(None) => {
            return if count.is_some() {
                ctx.out.array(0)
            } else {
                ctx.out.null()
            };
        }
        Err(e) => return ctx.err(e),
    };
    let n = z.len();
    let pick = || crate::server::rand_u64() as usize % n.max(1);
    let Some(count) = count else {
        if let Some(it) = z.get(pick()) {
            ctx.out.bulk(&it.member);
        }
        return;
    };
    if count == 0 || n == 0 {
        return ctx.out.array(0);
    }
    let chosen: Vec<&Item> = if count < 0 {
        // Redis would try to build any size and run out of memory.
        if count.unsigned_abs() > super::hash::MAX_RANDOM_REPLY {
            return ctx.err("ERR value is out of range");
        }
        (0..count.unsigned_abs())
            .filter_map(|_| z.get(pick()))
            .collect()
    } else if count as u64 >= n as u64 {
        // The whole set; Redis 7.0 walks it from the highest score down.
        z.tree().iter_rev_from(n - 1).collect()
    } else {
        let count = count as usize;
        let mut ranks = std::collections::BTreeSet::new();
        if count * 3 > n {
            // Dense: drop random ranks until `count` remain.
            let mut keep: Vec<usize> = (0..n).collect();
            while keep.len() > count {
                let i = crate::server::rand_u64() as usize % keep.len();
                keep.swap_remove(i);
            }
            ranks.extend(keep);
        } else {
            while ranks.len() < count {
                ranks.insert(pick());
            }
        }
        ranks.into_iter().filter_map(|r| z.get(r)).collect()
    };
    reply_items(ctx, chosen.len(), chosen.into_iter(), withscores);
}

fn zscan(ctx: &mut Ctx<'_>, v: &Version) {
    let args = ctx.args;
    let Some(cursor) = super::keys::parse_cursor(&args[2]) else {
        return ctx.err(errors::INVALID_CURSOR);
    };
    let z = match zset_read(ctx, v, &args[1]) {
        Ok(Some(z)) => z,
        Ok(None) => {
            ctx.out.array(2);
            ctx.out.bulk(b"0");
            return ctx.out.array(0);
        }
        Err(e) => return ctx.err(e),
    };
    let mut count: i64 = 10;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 3;
    while i < args.len() {
        let Some(val) = args.get(i + 1) else {
            return ctx.err(errors::SYNTAX);
        };
        if is(&args[i], "count") {
            count = match int_arg(val) {
                Ok(n) => n,
                Err(e) => return ctx.err(e),
            };
            if count < 1 {
                return ctx.err(errors::SYNTAX);
            }
        } else if is(&args[i], "match") {
            pattern = (&val[..] != b"*").then_some(&val[..]);
        } else {
            return ctx.err(errors::SYNTAX);
        }
        i += 2;
    }
    let mut found: Vec<(Vec<u8>, f64)> = Vec::new();
    let next = match z.dict() {
        // A listpack is returned whole in one step, in order, like Redis.
        None => {
            found.extend(z.tree().iter().map(|it| (it.member.to_vec(), it.score)));
            0
        }
        Some(d) => {
            let count = usize::try_from(count).unwrap_or(usize::MAX);
            d.scan(cursor, count, |k, s| found.push((k.to_vec(), *s)))
        }
    };
    if let Some(p) = pattern {
        found.retain(|(m, _)| glob::matches(p, m, false));
    }
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(2 * found.len());
    for (m, s) in found {
        ctx.out.bulk(&m);
        ctx.out.bulk(crate::reply::fmt_double(s).as_bytes());
    }
}

/// BZPOPMIN / BZPOPMAX: `key… timeout`, replying `[key, member, score]`.
fn bzpop(ctx: &mut Ctx<'_>, v: &mut Version, max: bool) {
    let args = ctx.args;
    let deadline = match blocking::parse_timeout(&args[args.len() - 1], ctx.now) {
        Ok(d) => d,
        Err(e) => return ctx.err(e),
    };
    let keys = &args[1..args.len() - 1];
    for key in keys {
        match pop_items(ctx, v, key, max, 1) {
            Ok(Some(items)) => {
                if let Some(it) = items.first() {
                    ctx.out.array(3);
                    ctx.out.bulk(key);
                    ctx.out.bulk(&it.member);
                    ctx.out.double(it.score);
                    return;
                }
            }
            Ok(None) => {}
            // A waiter whose key changed type keeps waiting (Redis 7.0).
            Err(e) if !blocking::is_rerun(ctx) => return ctx.err(e),
            Err(_) => {}
        }
    }
    blocking::block(ctx, keys, deadline, OnTimeout::NullArray);
}

fn bzpopmin(ctx: &mut Ctx<'_>, v: &mut Version) {
    bzpop(ctx, v, false)
}

fn bzpopmax(ctx: &mut Ctx<'_>, v: &mut Version) {
    bzpop(ctx, v, true)
}

fn bzmpop(ctx: &mut Ctx<'_>, v: &mut Version) {
    let deadline = match blocking::parse_timeout(&ctx.args[1], ctx.now) {
        Ok(d) => d,
        Err(e) => return ctx.err(e),
    };
    let m = match parse_mpop(ctx.args, 2) {
        Ok(m) => m,
        Err(e) => return ctx.err(e),
    };
    match mpop_first(ctx, v, &m) {
        Ok(true) => {}
        Ok(false) => blocking::block(ctx, &m.keys, deadline, OnTimeout::NullArray),
        Err(_) if blocking::is_rerun(ctx) => {
            blocking::block(ctx, &m.keys, deadline, OnTimeout::NullArray)
        }
        Err(e) => ctx.err(e),
    }
}
