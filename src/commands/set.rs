//! Set commands: SADD, SREM, membership (SISMEMBER, SMISMEMBER), SMEMBERS,
//! SCARD, random picks (SPOP, SRANDMEMBER), SMOVE, the algebra (SINTER,
//! SINTERCARD, SUNION, SDIFF and their STORE forms) and SSCAN. The value
//! representation lives in `ferrous_storage::set`.

use ferrous_storage::hash::UNIFORM_PICK_MAX;
use ferrous_storage::set::{Member, Set};
use ferrous_storage::{Entry, SmallBytes, Value, Version};

use super::hash::{delete_if_empty, sample_distinct, scan_header, scan_opts, MAX_RANDOM_REPLY};
use super::keys::{expire_if_needed, parse_cursor};
use super::keyspec::*;
use super::{events, int_arg, is, Ctx, Handler::*};
use crate::{cmd, errors, glob};

/// The set commands.
pub static COMMANDS: &[super::CommandSpec] = &[
    cmd!("sadd", -3, [WRITE, DENYOOM, FAST], (1, 1, 1), Write(sadd), "set",
        "Add one or more members to a set", "1.0.0",
        "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", acl: [],
        tips: [], ks: [ks_range(RW | INSERT, 1, 0, 1, 0)], subs: &[]),
    cmd!("srem", -3, [WRITE, FAST], (1, 1, 1), Write(srem), "set",
        "Remove one or more members from a set", "1.0.0",
        "O(N) where N is the number of members to be removed.", acl: [],
        tips: [], ks: [ks_range(RW | DELETE, 1, 0, 1, 0)], subs: &[]),
    cmd!("sismember", 3, [READONLY, FAST], (1, 1, 1), Read(sismember), "set",
        "Determine if a given value is a member of a set", "1.0.0",
        "O(1)", acl: [],
        tips: [], ks: [ks_range(RO, 1, 0, 1, 0)], subs: &[]),
    cmd!("smismember", -3, [READONLY, FAST], (1, 1, 1), Read(smismember), "set",
        "Returns the membership associated with the given elements for a set", "6.2.0",
        "O(N) where N is the number of elements being checked for membership", acl: [],
        tips: [], ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("smembers", 2, [READONLY], (1, 1, 1), Read(smembers), "set",
        "Get all the members in a set", "1.0.0",
        "O(N) where N is the set cardinality.", acl: [],
        tips: ["nondeterministic_output_order"], ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("scard", 2, [READONLY, FAST], (1, 1, 1), Read(scard), "set",
        "Get the number of members in a set", "1.0.0",
        "O(1)", acl: [],
        tips: [], ks: [ks_range(RO, 1, 0, 1, 0)], subs: &[]),
    cmd!("spop", -2, [WRITE, FAST], (1, 1, 1), Write(spop), "set",
        "Remove and return one or multiple random members from a set", "1.0.0",
        "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.", acl: [],
        tips: ["nondeterministic_output"], ks: [ks_range(RW | ACCESS | DELETE, 1, 0, 1, 0)], subs: &[]),
    cmd!("srandmember", -2, [READONLY], (1, 1, 1), Read(srandmember), "set",
        "Get one or multiple random members from a set", "1.0.0",
        "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.", acl: [],
        tips: ["nondeterministic_output"], ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("smove", 4, [WRITE, FAST], (1, 2, 1), Write(smove), "set",
        "Move a member from one set to another", "1.0.0",
        "O(1)", acl: [],
        tips: [], ks: [ks_range(RW | ACCESS | DELETE, 1, 0, 1, 0), ks_range(RW | INSERT, 2, 0, 1, 0)], subs: &[]),
    cmd!("sinter", -2, [READONLY], (1, -1, 1), Read(sinter), "set",
        "Intersect multiple sets", "1.0.0",
        "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", acl: [],
        tips: ["nondeterministic_output_order"], ks: [ks_range(RO | ACCESS, 1, -1, 1, 0)], subs: &[]),
    cmd!("sintercard", -3, [READONLY, MOVABLEKEYS], (0, 0, 0), Read(sintercard), "set",
        "Intersect multiple sets and return the cardinality of the result", "7.0.0",
        "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", acl: [],
        tips: [], ks: [ks_keynum(RO | ACCESS, 1, 0, 1, 1)], subs: &[]),
    cmd!("sinterstore", -3, [WRITE, DENYOOM], (1, -1, 1), Write(sinterstore), "set",
        "Intersect multiple sets and store the resulting set in a key", "1.0.0",
        "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", acl: [],
        tips: [], ks: [ks_range(RW | UPDATE, 1, 0, 1, 0), ks_range(RO | ACCESS, 2, -1, 1, 0)], subs: &[]),
    cmd!("sunion", -2, [READONLY], (1, -1, 1), Read(sunion), "set",
        "Add multiple sets", "1.0.0",
        "O(N) where N is the total number of elements in all given sets.", acl: [],
        tips: ["nondeterministic_output_order"], ks: [ks_range(RO | ACCESS, 1, -1, 1, 0)], subs: &[]),
    cmd!("sunionstore", -3, [WRITE, DENYOOM], (1, -1, 1), Write(sunionstore), "set",
        "Add multiple sets and store the resulting set in a key", "1.0.0",
        "O(N) where N is the total number of elements in all given sets.", acl: [],
        tips: [], ks: [ks_range(OW | UPDATE, 1, 0, 1, 0), ks_range(RO | ACCESS, 2, -1, 1, 0)], subs: &[]),
    cmd!("sdiff", -2, [READONLY], (1, -1, 1), Read(sdiff), "set",
        "Subtract multiple sets", "1.0.0",
        "O(N) where N is the total number of elements in all given sets.", acl: [],
        tips: ["nondeterministic_output_order"], ks: [ks_range(RO | ACCESS, 1, -1, 1, 0)], subs: &[]),
    cmd!("sdiffstore", -3, [WRITE, DENYOOM], (1, -1, 1), Write(sdiffstore), "set",
        "Subtract multiple sets and store the resulting set in a key", "1.0.0",
        "O(N) where N is the total number of elements in all given sets.", acl: [],
        tips: [], ks: [ks_range(OW | UPDATE, 1, 0, 1, 0), ks_range(RO | ACCESS, 2, -1, 1, 0)], subs: &[]),
    cmd!("sscan", -3, [READONLY], (1, 1, 1), Read(sscan), "set",
        "Incrementally iterate Set elements", "2.8.0",
        "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..", acl: [],
        tips: ["nondeterministic_output"], ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
];

/// `set-max-intset-entries` from the configuration.
fn max_intset(ctx: &Ctx<'_>) -> usize {
    usize::try_from(
        ctx.srv
            .config
            .int(crate::int_param!("set-max-intset-entries")),
    )
    .unwrap_or(0)
}

/// The set at `key` for a read command, counted in the statistics; `Err`
/// carries the WRONGTYPE reply.
fn read_set<'v>(
    ctx: &Ctx<'_>,
    v: &'v Version,
    key: &[u8],
) -> Result<Option<&'v Set>, &'static str> {
    let e = v.db(ctx.db()).get(key, ctx.now);
    ctx.lookup(e.is_some());
    match e.map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => Err(errors::WRONGTYPE),
    }
}

/// Deletes `key` if expired and checks its type for a write command.
/// Returns the set there, if any (read only: nothing is copied yet).
fn check_write<'v>(
    ctx: &Ctx<'_>,
    v: &'v mut Version,
    key: &[u8],
) -> Result<Option<&'v Set>, &'static str> {
    let db = v.db_mut(ctx.db());
    expire_if_needed(ctx, db, key);
    match db.get(key, ctx.now).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => Err(errors::WRONGTYPE),
    }
}

/// The set at `key` for modification; the caller checked it exists.
fn set_mut<'v>(ctx: &Ctx<'_>, v: &'v mut Version, key: &[u8]) -> Option<&'v mut Set> {
    match v
        .db_mut(ctx.db())
        .get_mut(key, ctx.now)
        .map(|e| &mut e.value)
    {
        Some(Value::Set(s)) => Some(s),
        _ => None,
    }
}

/// Writes `m` as a bulk string.
fn bulk_member(out: &mut crate::reply::ReplyBuf, m: Member<'_>) {
    m.with(|b| out.bulk(b));
}

fn sadd(ctx: &mut Ctx<'_>, v: &mut Version) {
    let args = ctx.args;
    let key = &args[1];
    match check_write(ctx, v, key) {
        Err(e) => return ctx.err(e),
        // Members all present: nothing changes (no event, no dirty, as in
        // Redis), so the set and the key's trie path are not copied.
        Ok(Some(s)) if args[2..].iter().all(|m| s.contains(m)) => return ctx.out.int(0),
        Ok(Some(_)) => {}
        Ok(None) => {
            let mut s = Set::new();
            if ferrous_storage::value::parse_i64(&args[2]).is_none() {
                // Redis creates a hashtable at once when the first member is not an integer.
                s.convert_to_table();
            }
            v.db_mut(ctx.db())
                .insert(SmallBytes::from(&key[..]), Entry::new(Value::Set(s)));
        }
    }
    let max = max_intset(ctx);
    let Some(s) = set_mut(ctx, v, key) else {
        return ctx.err(errors::WRONGTYPE);
    };
    let mut added = 0;
    for m in &args[2..] {
        added += s.add(m, max) as i64;
    }
    if added > 0 {
        ctx.notify(events::SET, "sadd", key);
    } else {
        v.db_mut(ctx.db()).unlog(key);
    }
    ctx.dirty += added as u64;
    ctx.out.int(added);
}

fn srem(ctx: &mut Ctx<'_>, v: &mut Version) {
    let args = ctx.args;
    let key = &args[1];
    match check_write(ctx, v, key).map(|s| s.is_some()) {
        Err(e) => return ctx.err(e),
        Ok(false) => return ctx.out.int(0),
        Ok(true) => {}
    }
    let Some(s) = set_mut(ctx, v, key) else {
        return ctx.out.int(0);
    };
    let mut n = 0;
    for m in &args[2..] {
        n += s.remove(m) as i64;
        if s.is_empty() {
            break;
        }
    }
    let empty = s.is_empty();
    if n > 0 {
        ctx.notify(events::SET, "srem", key);
        delete_if_empty(ctx, v, key, empty);
        ctx.dirty += n as u64;
    } else {
        v.db_mut(ctx.db()).unlog(key);
    }
    ctx.out.int(n);
}

fn sismember(ctx: &mut Ctx<'_>, v: &Version) {
    match read_set(ctx, v, &ctx.args[1]) {
        Err(e) => ctx.err(e),
        Ok(s) => ctx
            .out
            .int(s.is_some_and(|s| s.contains(&ctx.args[2])) as i64),
    }
}

fn smismember(ctx: &mut Ctx<'_>, v: &Version) {
    let s = match read_set(ctx, v, &ctx.args[1]) {
        Err(e) => return ctx.err(e),
        Ok(s) => s,
    };
    let ms = &ctx.args[2..];
    ctx.out.array(ms.len());
    for m in ms {
        ctx.out.int(s.is_some_and(|s| s.contains(m)) as i64);
    }
}

/// Replies with every member of `s` as a set (an array in RESP2).
fn reply_members(ctx: &mut Ctx<'_>, s: Option<&Set>) {
    ctx.out.set(s.map_or(0, |s| s.len()));
    for m in s.into_iter().flat_map(|s| s.iter()) {
        bulk_member(ctx.out, m);
    }
}

fn smembers(ctx: &mut Ctx<'_>, v: &Version) {
    match read_set(ctx, v, &ctx.args[1]) {
        Err(e) => ctx.err(e),
        Ok(s) => reply_members(ctx, s),
    }
}

fn scard(ctx: &mut Ctx<'_>, v: &Version) {
    match read_set(ctx, v, &ctx.args[1]) {
        Err(e) => ctx.err(e),
        Ok(s) => ctx.out.int(s.map_or(0, |s| s.len() as i64)),
    }
}

/// Redis's message for a count of `i64::MIN`, which cannot be negated.
const COUNT_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

fn spop(ctx: &mut Ctx<'_>, v: &mut Version) {
    let args = ctx.args;
    let key = &args[1];
    if args.len() > 3 {
        return ctx.err(errors::SYNTAX);
    }
    let count = match args.get(2) {
        None => None,
        Some(a) => match int_arg(a) {
            Ok(n) if n >= 0 => Some(n as u64),
            _ => return ctx.err("ERR value is out of range, must be positive"),
        },
    };
    match check_write(ctx, v, key).map(|s| s.is_some()) {
        Err(e) => return ctx.err(e),
        Ok(false) => {
            return match count {
                None => ctx.out.null(),
                Some(_) => ctx.out.set(0),
            }
        }
        Ok(true) => {}
    }
    let Some(s) = set_mut(ctx, v, key) else {
        return ctx.out.null();
    };
    let len = s.len() as u64;
    let Some(count) = count else {
        let Some(m) = s.pick(crate::server::rand_u64()).map(|m| m.to_bytes()) else {
            return ctx.out.null();
        };
        s.remove(&m);
        let empty = s.is_empty();
        ctx.notify(events::SET, "spop", key);
        delete_if_empty(ctx, v, key, empty);
        ctx.dirty += 1;
        return ctx.out.bulk(&m);
    };
    if count == 0 {
        v.db_mut(ctx.db()).unlog(key);
        return ctx.out.set(0);
    }
    if count >= len {
        let all = s.clone();
        reply_members(ctx, Some(&all));
        ctx.notify(events::SET, "spop", key);
        delete_if_empty(ctx, v, key, true);
        ctx.dirty += 1;
        return;
    }
    let picked = pick_distinct(s, count);
    for m in &picked {
        s.remove(m);
    }
    ctx.out.set(picked.len());
    for m in &picked {
        ctx.out.bulk(m);
    }
    ctx.notify(events::SET, "spop", key);
    ctx.dirty += 1;
}

/// `count` distinct members of `s` (count < len) chosen at random.
fn pick_distinct(s: &Set, count: u64) -> Vec<SmallBytes> {
    sample_distinct(
        s.len() as u64,
        count,
        !s.is_intset(),
        |r| s.pick(r),
        s.iter(),
    )
    .into_iter()
    .map(|m| m.to_bytes())
    .collect()
}

fn srandmember(ctx: &mut Ctx<'_>, v: &Version) {
    let args = ctx.args;
    if args.len() > 3 {
        return ctx.err(errors::SYNTAX);
    }
    let count = match args.get(2).map(|a| int_arg(a)) {
        None => None,
        Some(Err(e)) => return ctx.err(e),
        Some(Ok(i64::MIN)) => return ctx.err(COUNT_RANGE),
        Some(Ok(n)) => Some(n),
    };
    let s = match read_set(ctx, v, &args[1]) {
        Err(e) => return ctx.err(e),
        Ok(s) => s,
    };
    let Some(count) = count else {
        match s.and_then(|s| s.pick(crate::server::rand_u64())) {
            Some(m) => bulk_member(ctx.out, m),
            None => ctx.out.null(),
        }
        return;
    };
    let Some(s) = s else {
        return ctx.out.array(0);
    };
    if count < 0 {
        let n = count.unsigned_abs();
        if n > MAX_RANDOM_REPLY {
            return ctx.err("ERR value is out of range");
        }
        ctx.out.array(n as usize);
        let len = s.len() as u64;
        let small: Vec<Member<'_>> = if s.len() <= UNIFORM_PICK_MAX {
            s.iter().collect()
        } else {
            Vec::new()
        };
        for _ in 0..n {
            let r = crate::server::rand_u64();
            let m = if small.is_empty() {
                s.pick(r)
            } else {
                small.get((r % len) as usize).copied()
            };
            if let Some(m) = m {
                bulk_member(ctx.out, m);
            }
        }
        return;
    }
    let count = count as u64;
    if count >= s.len() as u64 {
        // An array here, unlike SMEMBERS, even in RESP3.
        ctx.out.array(s.len());
        for m in s.iter() {
            bulk_member(ctx.out, m);
        }
        return;
    }
    let picked = pick_distinct(s, count);
    ctx.out.array(picked.len());
    for m in &picked {
        ctx.out.bulk(m);
    }
}

fn smove(ctx: &mut Ctx<'_>, v: &mut Version) {
    let args = ctx.args;
    let (src, dst, m) = (&args[1], &args[2], &args[3]);
    let src_ok = check_write(ctx, v, src).map(|s| s.is_some());
    let dst_ok = check_write(ctx, v, dst).map(|s| s.is_some());
    let (src_exists, dst_exists) = match (src_ok, dst_ok) {
        (Ok(false), _) => return ctx.out.int(0),
        (Err(e), _) | (_, Err(e)) => return ctx.err(e),
        (Ok(a), Ok(b)) => (a, b),
    };
    debug_assert!(src_exists);
    if src == dst {
        let here = v
            .db(ctx.db())
            .get(src, ctx.now)
            .is_some_and(|e| matches!(&e.value, Value::Set(s) if s.contains(m)));
        return ctx.out.int(here as i64);
    }
    let Some(s) = set_mut(ctx, v, src) else {
        return ctx.out.int(0);
    };
    if !s.remove(m) {
        v.db_mut(ctx.db()).unlog(src);
        return ctx.out.int(0);
    }
    let empty = s.is_empty();
    ctx.notify(events::SET, "srem", src);
    delete_if_empty(ctx, v, src, empty);
    if !dst_exists {
        let mut s = Set::new();
        if ferrous_storage::value::parse_i64(m).is_none() {
            s.convert_to_table();
        }
        v.db_mut(ctx.db())
            .insert(SmallBytes::from(&dst[..]), Entry::new(Value::Set(s)));
    }
    let max = max_intset(ctx);
    ctx.dirty += 1;
    if let Some(d) = set_mut(ctx, v, dst) {
        if d.add(m, max) {
            ctx.dirty += 1;
            ctx.notify(events::SET, "sadd", dst);
        } else {
            v.db_mut(ctx.db()).unlog(dst);
        }
    }
    ctx.out.int(1);
}

/// The set operations.
#[derive(Clone, Copy, PartialEq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// The sets named by `keys` (`None` for missing keys), or the WRONGTYPE
/// error if any key holds another type.
fn sources<'v>(
    ctx: &Ctx<'_>,
    v: &'v Version,
    keys: &[bytes::Bytes],
) -> Result<Vec<Option<&'v Set>>, &'static str> {
    keys.iter().map(|k| read_set(ctx, v, k)).collect()
}

/// The members of `op` applied to `sets`: for an intersection, in the
/// iteration order of the smallest set (as Redis replies); otherwise as a
/// new set built the way Redis builds its result.
fn compute(ctx: &Ctx<'_>, op: Op, sets: &[Option<&Set>]) -> Set {
    let max = max_intset(ctx);
    let mut out = Set::new();
    match op {
        Op::Inter => {
            if sets.iter().any(|s| s.is_none()) {
                return out;
            }
            let mut by_size: Vec<&Set> = sets.iter().flatten().copied().collect();
            by_size.sort_by_key(|s| s.len());
            let Some((first, rest)) = by_size.split_first() else {
                return out;
            };
            for m in first.iter() {
                if m.with(|b| rest.iter().all(|s| s.contains(b))) {
                    m.with(|b| out.add(b, max));
                }
            }
        }
        Op::Union => {
            for s in sets.iter().flatten() {
                for m in s.iter() {
                    m.with(|b| out.add(b, max));
                }
            }
        }
        Op::Diff => {
            let Some(Some(first)) = sets.first() else {
                return out;
            };
            for m in first.iter() {
                if m.with(|b| !sets[1..].iter().flatten().any(|s| s.contains(b))) {
                    m.with(|b| out.add(b, max));
                }
            }
        }
    }
    out
}

/// The members of the intersection in Redis's reply order (the smallest
/// set's iteration order).
fn inter_members(sets: &[Option<&Set>]) -> Vec<SmallBytes> {
    if sets.iter().any(|s| s.is_none()) {
        return Vec::new();
    }
    let mut by_size: Vec<&Set> = sets.iter().flatten().copied().collect();
    by_size.sort_by_key(|s| s.len());
    let Some((first, rest)) = by_size.split_first() else {
        return Vec::new();
    };
    first
        .iter()
        .filter(|m| m.with(|b| rest.iter().all(|s| s.contains(b))))
        .map(|m| m.to_bytes())
        .collect()
}

/// SINTER, SUNION, SDIFF: keys from argv[1].
fn algebra(ctx: &mut Ctx<'_>, v: &Version, op: Op) {
    let sets = match sources(ctx, v, &ctx.args[1..]) {
        Ok(s) => s,
        Err(e) => return ctx.err(e),
    };
    if op == Op::Inter {
        let ms = inter_members(&sets);
        ctx.out.set(ms.len());
        for m in &ms {
            ctx.out.bulk(m);
        }
        return;
    }
    let r = compute(ctx, op, &sets);
    reply_members(ctx, Some(&r));
}

fn sinter(ctx: &mut Ctx<'_>, v: &Version) {
    algebra(ctx, v, Op::Inter)
}

fn sunion(ctx: &mut Ctx<'_>, v: &Version) {
    algebra(ctx, v, Op::Union)
}

fn sdiff(ctx: &mut Ctx<'_>, v: &Version) {
    algebra(ctx, v, Op::Diff)
}

/// SINTERSTORE, SUNIONSTORE, SDIFFSTORE: destination argv[1], keys after.
fn algebra_store(ctx: &mut Ctx<'_>, v: &mut Version, op: Op, event: &'static str) {
    let args = ctx.args;
    let dst = &args[1];
    for k in &args[2..] {
        expire_if_needed(ctx, v.db_mut(ctx.db()), k);
    }
    let r = {
        let sets = match sources(ctx, v, &args[2..]) {
            Ok(s) => s,
            Err(e) => return ctx.err(e),
        };
        compute(ctx, op, &sets)
    };
    let db = v.db_mut(ctx.db());
    let n = r.len();
    if n == 0 {
        if db.remove_live(dst, ctx.now).is_some() {
            ctx.notify(events::GENERIC, "del", dst);
            ctx.dirty += 1;
        }
    } else {
        db.remove(dst);
        db.insert(SmallBytes::from(&dst[..]), Entry::new(Value::Set(r)));
        ctx.notify(events::SET, event, dst);
        ctx.dirty += 1;
    }
    ctx.out.int(n as i64);
}

fn sinterstore(ctx: &mut Ctx<'_>, v: &mut Version) {
    algebra_store(ctx, v, Op::Inter, "sinterstore")
}

fn sunionstore(ctx: &mut Ctx<'_>, v: &mut Version) {
    algebra_store(ctx, v, Op::Union, "sunionstore")
}

fn sdiffstore(ctx: &mut Ctx<'_>, v: &mut Version) {
    algebra_store(ctx, v, Op::Diff, "sdiffstore")
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit].
fn sintercard(ctx: &mut Ctx<'_>, v: &Version) {
    let args = ctx.args;
    let numkeys = match int_arg(&args[1]) {
        Ok(n) if n > 0 => n as u64,
        Ok(_) => return ctx.err("ERR numkeys should be greater than 0"),
        Err(_) => return ctx.err("ERR numkeys should be greater than 0"),
    };
    if numkeys > (args.len() - 2) as u64 {
        return ctx.err("ERR Number of keys can't be greater than number of args");
    }
    let keys_end = 2 + numkeys as usize;
    let mut limit: u64 = 0;
    let mut i = keys_end;
    while i < args.len() {
        if is(&args[i], "limit") && i + 1 < args.len() {
            limit = match int_arg(&args[i + 1]) {
                Ok(n) if n >= 0 => n as u64,
                _ => return ctx.err("ERR LIMIT can't be negative"),
            };
            i += 2;
        } else {
            return ctx.err(errors::SYNTAX);
        }
    }
    let sets = match sources(ctx, v, &args[2..keys_end]) {
        Ok(s) => s,
        Err(e) => return ctx.err(e),
    };
    if sets.iter().any(|s| s.is_none()) {
        return ctx.out.int(0);
    }
    let mut by_size: Vec<&Set> = sets.iter().flatten().copied().collect();
    by_size.sort_by_key(|s| s.len());
    let mut n: u64 = 0;
    if let Some((first, rest)) = by_size.split_first() {
        for m in first.iter() {
            if m.with(|b| rest.iter().all(|s| s.contains(b))) {
                n += 1;
                if limit != 0 && n >= limit {
                    break;
                }
            }
        }
    }
    ctx.out.int(n as i64);
}

fn sscan(ctx: &mut Ctx<'_>, v: &Version) {
    let args = ctx.args;
    let Some(cursor) = parse_cursor(&args[2]) else {
        return ctx.err(errors::INVALID_CURSOR);
    };
    let s = match read_set(ctx, v, &args[1]) {
        Err(e) => return ctx.err(e),
        Ok(None) => return scan_header(ctx, 0, 0),
        Ok(Some(s)) => s,
    };
    let o = match scan_opts(args) {
        Ok(o) => o,
        Err(e) => return ctx.err(e),
    };
    let mut found: Vec<Member<'_>> = Vec::new();
    let next = s.scan(cursor, o.count, |m| {
        if o.pattern
            .is_none_or(|p| m.with(|b| glob::matches(p, b, false)))
        {
            found.push(m);
        }
    });
    scan_header(ctx, next, found.len());
    for m in found {
        bulk_member(ctx.out, m);
    }
}
