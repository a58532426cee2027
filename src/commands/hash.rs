//! Hash commands: HSET and family, HGET/HMGET/HGETALL/HKEYS/HVALS, HDEL,
//! counters (HINCRBY, HINCRBYFLOAT), HRANDFIELD and HSCAN. The value
//! representation lives in `ferrous_storage::hash`; this file parses
//! arguments and formats replies. SCAN-option parsing and random sampling
//! shared with the set commands live here too.

use ferrous_storage::hash::{Hash, HashLimits, UNIFORM_PICK_MAX};
use ferrous_storage::value::parse_i64;
use ferrous_storage::{Entry, SmallBytes, Value, Version};

use super::keys::{expire_if_needed, parse_cursor};
use super::keyspec::*;
use super::longdouble::LongDouble;
use super::{events, int_arg, is, Ctx, Handler::*};
use crate::{cmd, errors, glob};

/// The hash commands.
pub static COMMANDS: &[super::CommandSpec] = &[
    cmd!("hset", -4, [WRITE, DENYOOM, FAST], (1, 1, 1), Write(hset), "hash",
        "Set the string value of a hash field", "2.0.0",
        "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.", acl: [],
        tips: [], ks: [ks_range(RW | UPDATE, 1, 0, 1, 0)], subs: &[]),
    cmd!("hsetnx", 4, [WRITE, DENYOOM, FAST], (1, 1, 1), Write(hsetnx), "hash",
        "Set the value of a hash field, only if the field does not exist", "2.0.0",
        "O(1)", acl: [],
        tips: [], ks: [ks_range(RW | INSERT, 1, 0, 1, 0)], subs: &[]),
    cmd!("hget", 3, [READONLY, FAST], (1, 1, 1), Read(hget), "hash",
        "Get the value of a hash field", "2.0.0",
        "O(1)", acl: [],
        tips: [], ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("hmget", -3, [READONLY, FAST], (1, 1, 1), Read(hmget), "hash",
        "Get the values of all the given hash fields", "2.0.0",
        "O(N) where N is the number of fields being requested.", acl: [],
        tips: [], ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("hmset", -4, [WRITE, DENYOOM, FAST], (1, 1, 1), Write(hmset), "hash",
        "Set multiple hash fields to multiple values", "2.0.0",
        "O(N) where N is the number of fields being set.", acl: [],
        tips: [], ks: [ks_range(RW | UPDATE, 1, 0, 1, 0)], subs: &[]),
    cmd!("hgetall", 2, [READONLY], (1, 1, 1), Read(hgetall), "hash",
        "Get all the fields and values in a hash", "2.0.0",
        "O(N) where N is the size of the hash.", acl: [],
        tips: ["nondeterministic_output_order"], ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("hdel", -3, [WRITE, FAST], (1, 1, 1), Write(hdel), "hash",
        "Delete one or more hash fields", "2.0.0",
        "O(N) where N is the number of fields to be removed.", acl: [],
        tips: [], ks: [ks_range(RW | DELETE, 1, 0, 1, 0)], subs: &[]),
    cmd!("hlen", 2, [READONLY, FAST], (1, 1, 1), Read(hlen), "hash",
        "Get the number of fields in a hash", "2.0.0",
        "O(1)", acl: [],
        tips: [], ks: [ks_range(RO, 1, 0, 1, 0)], subs: &[]),
    cmd!("hexists", 3, [READONLY, FAST], (1, 1, 1), Read(hexists), "hash",
        "Determine if a hash field exists", "2.0.0",
        "O(1)", acl: [],
        tips: [], ks: [ks_range(RO, 1, 0, 1, 0)], subs: &[]),
    cmd!("hkeys", 2, [READONLY], (1, 1, 1), Read(hkeys), "hash",
        "Get all the fields in a hash", "2.0.0",
        "O(N) where N is the size of the hash.", acl: [],
        tips: ["nondeterministic_output_order"], ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("hvals", 2, [READONLY], (1, 1, 1), Read(hvals), "hash",
        "Get all the values in a hash", "2.0.0",
        "O(N) where N is the size of the hash.", acl: [],
        tips: ["nondeterministic_output_order"], ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("hincrby", 4, [WRITE, DENYOOM, FAST], (1, 1, 1), Write(hincrby), "hash",
        "Increment the integer value of a hash field by the given number", "2.0.0",
        "O(1)", acl: [],
        tips: [], ks: [ks_range(RW | ACCESS | UPDATE, 1, 0, 1, 0)], subs: &[]),
    cmd!("hincrbyfloat", 4, [WRITE, DENYOOM, FAST], (1, 1, 1), Write(hincrbyfloat), "hash",
        "Increment the float value of a hash field by the given amount", "2.6.0",
        "O(1)", acl: [],
        tips: [], ks: [ks_range(RW | ACCESS | UPDATE, 1, 0, 1, 0)], subs: &[]),
    cmd!("hstrlen", 3, [READONLY, FAST], (1, 1, 1), Read(hstrlen), "hash",
        "Get the length of the value of a hash field", "3.2.0",
        "O(1)", acl: [],
        tips: [], ks: [ks_range(RO, 1, 0, 1, 0)], subs: &[]),
    cmd!("hrandfield", -2, [READONLY], (1, 1, 1), Read(hrandfield), "hash",
        "Get one or multiple random fields from a hash", "6.2.0",
        "O(N) where N is the number of fields returned", acl: [],
        tips: ["nondeterministic_output"], ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("hscan", -3, [READONLY], (1, 1, 1), Read(hscan), "hash",
        "Incrementally iterate hash fields and associated values", "2.8.0",
        "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..", acl: [],
        tips: ["nondeterministic_output"], ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
];

/// The listpack thresholds from the configuration.
fn limits(ctx: &Ctx<'_>) -> HashLimits {
    let cfg = &ctx.srv.config;
    HashLimits {
        max_entries: usize::try_from(cfg.int(crate::int_param!("hash-max-listpack-entries")))
            .unwrap_or(0),
        max_value: usize::try_from(cfg.int(crate::int_param!("hash-max-listpack-value")))
            .unwrap_or(0),
    }
}

/// The hash at `key` for a read command, counted in the statistics; `Err`
/// carries the WRONGTYPE reply.
fn read_hash<'v>(
    ctx: &Ctx<'_>,
    v: &'v Version,
    key: &[u8],
) -> Result<Option<&'v Hash>, &'static str> {
    let e = v.db(ctx.db()).get(key, ctx.now);
    ctx.lookup(e.is_some());
    match e.map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(errors::WRONGTYPE),
    }
}

/// The hash at `key` for a write command (an expired key is deleted first):
/// `Ok(None)` when absent, `Err` with WRONGTYPE for another type.
fn write_hash<'v>(
    ctx: &Ctx<'_>,
    v: &'v mut Version,
    key: &[u8],
) -> Result<Option<&'v mut Hash>, &'static str> {
    let db = v.db_mut(ctx.db());
    expire_if_needed(ctx, db, key);
    let e = db.get_mut_typed(key, ctx.now, |v| matches!(v, Value::Hash(_)));
    match e.map_err(|_| errors::WRONGTYPE)?.map(|e| &mut e.value) {
        Some(Value::Hash(h)) => Ok(Some(h)),
        _ => Ok(None),
    }
}

/// The hash at `key` for a write command that first reads it (an expired
/// key is deleted); the key is not recorded as written.
fn peek_hash<'v>(
    ctx: &Ctx<'_>,
    v: &'v mut Version,
    key: &[u8],
) -> Result<Option<&'v Hash>, &'static str> {
    let db = v.db_mut(ctx.db());
    expire_if_needed(ctx, db, key);
    match db.get(key, ctx.now).map(|e| &e.value) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(errors::WRONGTYPE),
    }
}

/// The hash at `key` for a command that adds fields, created empty when
/// absent.
fn write_hash_or_create<'v>(
    ctx: &Ctx<'_>,
    v: &'v mut Version,
    key: &[u8],
) -> Result<&'v mut Hash, &'static str> {
    if write_hash(ctx, v, key)?.is_none() {
        let db = v.db_mut(ctx.db());
        db.insert(SmallBytes::from(key), Entry::new(Value::Hash(Hash::new())));
    }
    match write_hash(ctx, v, key)? {
        Some(h) => Ok(h),
        None => Err(errors::WRONGTYPE),
    }
}

/// Deletes `key` when its collection became empty, with the `del` event
/// Redis sends then.
pub(super) fn delete_if_empty(ctx: &mut Ctx<'_>, v: &mut Version, key: &[u8], empty: bool) {
    if empty {
        v.db_mut(ctx.db()).remove(key);
        ctx.notify(events::GENERIC, "del", key);
    }
}

/// HSET and HMSET: field/value pairs after the key. Returns the number of
/// new fields, or `None` after replying with an error.
fn hset_pairs(ctx: &mut Ctx<'_>, v: &mut Version) -> Option<i64> {
    let args = ctx.args;
    if !args.len().is_multiple_of(2) {
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        ctx.err(&format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
        return None;
    }
    let lim = limits(ctx);
    let h = match write_hash_or_create(ctx, v, &args[1]) {
        Ok(h) => h,
        Err(e) => {
            ctx.err(e);
            return None;
        }
    };
    h.convert_for_lengths(args[2..].iter().map(|a| &a[..]), lim);
    let mut added = 0;
    for p in args[2..].chunks_exact(2) {
        added += h.set(&p[0], &p[1], lim) as i64;
    }
    ctx.notify(events::HASH, "hset", &args[1]);
    ctx.dirty += (args.len() as u64 - 2) / 2;
    Some(added)
}

fn hset(ctx: &mut Ctx<'_>, v: &mut Version) {
    if let Some(n) = hset_pairs(ctx, v) {
        ctx.out.int(n);
    }
}

fn hmset(ctx: &mut Ctx<'_>, v: &mut Version) {
    if hset_pairs(ctx, v).is_some() {
        ctx.out.ok();
    }
}

fn hsetnx(ctx: &mut Ctx<'_>, v: &mut Version) {
    let args = ctx.args;
    let lim = limits(ctx);
    let present = match write_hash(ctx, v, &args[1]) {
        Err(e) => return ctx.err(e),
        Ok(h) => h.is_some_and(|h| h.contains(&args[2])),
    };
    if present {
        // Nothing changes: the key is not signalled as modified.
        v.db_mut(ctx.db()).unlog(&args[1]);
        return ctx.out.int(0);
    }
    let h = match write_hash_or_create(ctx, v, &args[1]) {
        Ok(h) => h,
        Err(e) => return ctx.err(e),
    };
    h.convert_for_lengths([&args[2][..], &args[3][..]], lim);
    h.set(&args[2], &args[3], lim);
    ctx.notify(events::HASH, "hset", &args[1]);
    ctx.dirty += 1;
    ctx.out.int(1);
}

fn hget(ctx: &mut Ctx<'_>, v: &Version) {
    match read_hash(ctx, v, &ctx.args[1]) {
        Err(e) => ctx.err(e),
        Ok(h) => match h.and_then(|h| h.get(&ctx.args[2])) {
            Some(val) => ctx.out.bulk(val),
            None => ctx.out.null(),
        },
    }
}

fn hmget(ctx: &mut Ctx<'_>, v: &Version) {
    let h = match read_hash(ctx, v, &ctx.args[1]) {
        Err(e) => return ctx.err(e),
        Ok(h) => h,
    };
    let fields = &ctx.args[2..];
    ctx.out.array(fields.len());
    for f in fields {
        match h.and_then(|h| h.get(f)) {
            Some(val) => ctx.out.bulk(val),
            None => ctx.out.null(),
        }
    }
}

/// What HGETALL, HKEYS and HVALS reply with.
#[derive(Clone, Copy, PartialEq)]
enum Parts {
    Both,
    Fields,
    Values,
}

fn reply_all(ctx: &mut Ctx<'_>, v: &Version, parts: Parts) {
    let h = match read_hash(ctx, v, &ctx.args[1]) {
        Err(e) => return ctx.err(e),
        Ok(h) => h,
    };
    let n = h.map_or(0, |h| h.len());
    if parts == Parts::Both {
        ctx.out.map(n);
    } else {
        ctx.out.array(n);
    }
    for (f, val) in h.into_iter().flat_map(|h| h.iter()) {
        if parts != Parts::Values {
            ctx.out.bulk(f);
        }
        if parts != Parts::Fields {
            ctx.out.bulk(val);
        }
    }
}

fn hgetall(ctx: &mut Ctx<'_>, v: &Version) {
    reply_all(ctx, v, Parts::Both)
}

fn hkeys(ctx: &mut Ctx<'_>, v: &Version) {
    reply_all(ctx, v, Parts::Fields)
}

fn hvals(ctx: &mut Ctx<'_>, v: &Version) {
    reply_all(ctx, v, Parts::Values)
}

fn hdel(ctx: &mut Ctx<'_>, v: &mut Version) {
    let args = ctx.args;
    let h = match write_hash(ctx, v, &args[1]) {
        Err(e) => return ctx.err(e),
        Ok(None) => return ctx.out.int(0),
        Ok(Some(h)) => h,
    };
    let mut n = 0;
    for f in &args[2..] {
        n += h.remove(f) as i64;
        if h.is_empty() {
            break;
        }
    }
    let empty = h.is_empty();
    if n > 0 {
        ctx.notify(events::HASH, "hdel", &args[1]);
        delete_if_empty(ctx, v, &args[1], empty);
        ctx.dirty += n as u64;
    } else {
        v.db_mut(ctx.db()).unlog(&args[1]);
    }
    ctx.out.int(n);
}

fn hlen(ctx: &mut Ctx<'_>, v: &Version) {
    match read_hash(ctx, v, &ctx.args[1]) {
        Err(e) => ctx.err(e),
        Ok(h) => ctx.out.int(h.map_or(0, |h| h.len() as i64)),
    }
}

fn hexists(ctx: &mut Ctx<'_>, v: &Version) {
    match read_hash(ctx, v, &ctx.args[1]) {
        Err(e) => ctx.err(e),
        Ok(h) => ctx
            .out
            .int(h.is_some_and(|h| h.contains(&ctx.args[2])) as i64),
    }
}

fn hstrlen(ctx: &mut Ctx<'_>, v: &Version) {
    match read_hash(ctx, v, &ctx.args[1]) {
        Err(e) => ctx.err(e),
        Ok(h) => {
            let len = h.and_then(|h| h.get(&ctx.args[2])).map_or(0, |x| x.len());
            ctx.out.int(len as i64)
        }
    }
}

/// Stores the counter result `text` in field argv[2] of the hash at argv[1].
fn store_counter(ctx: &mut Ctx<'_>, v: &mut Version, text: &[u8], event: &'static str) -> bool {
    let args = ctx.args;
    let lim = limits(ctx);
    let h = match write_hash_or_create(ctx, v, &args[1]) {
        Ok(h) => h,
        Err(e) => {
            ctx.err(e);
            return false;
        }
    };
    h.convert_for_lengths([&args[2][..], text], lim);
    h.set(&args[2], text, lim);
    ctx.notify(events::HASH, event, &args[1]);
    ctx.dirty += 1;
    true
}

fn hincrby(ctx: &mut Ctx<'_>, v: &mut Version) {
    let args = ctx.args;
    let by = match int_arg(&args[3]) {
        Ok(n) => n,
        Err(e) => return ctx.err(e),
    };
    let cur = match peek_hash(ctx, v, &args[1]) {
        Err(e) => return ctx.err(e),
        Ok(h) => match h.and_then(|h| h.get(&args[2])) {
            None => 0,
            Some(b) => match parse_i64(b) {
                Some(n) => n,
                None => return ctx.err("ERR hash value is not an integer"),
            },
        },
    };
    let Some(new) = cur.checked_add(by) else {
        return ctx.err(errors::OVERFLOW);
    };
    let mut buf = [0u8; 20];
    let text = crate::reply::fmt_i64(&mut buf, new).to_vec();
    if store_counter(ctx, v, &text, "hincrby") {
        ctx.out.int(new);
    }
}

fn hincrbyfloat(ctx: &mut Ctx<'_>, v: &mut Version) {
    let args = ctx.args;
    let Some(by) = LongDouble::parse(&args[3]) else {
        return ctx.err(errors::NOT_FLOAT);
    };
    if by.is_infinite() {
        return ctx.err("ERR value is NaN or Infinity");
    }
    let cur = match peek_hash(ctx, v, &args[1]) {
        Err(e) => return ctx.err(e),
        Ok(h) => match h.and_then(|h| h.get(&args[2])) {
            None => LongDouble::parse(b"0"),
            Some(b) => match LongDouble::parse(b) {
                Some(n) => Some(n),
                None => return ctx.err("ERR hash value is not a float"),
            },
        },
    };
    let Some(cur) = cur else {
        return ctx.err(errors::NOT_FLOAT);
    };
    let sum = cur.add(by);
    if sum.is_infinite() {
        return ctx.err("ERR increment would produce NaN or Infinity");
    }
    let text = sum.to_human();
    if store_counter(ctx, v, text.as_bytes(), "hincrbyfloat") {
        ctx.out.bulk(text.as_bytes());
    }
}

/// The largest random-sample reply with repetitions (negative count) that
/// is built; Redis would try any size and run out of memory.
pub(super) const MAX_RANDOM_REPLY: u64 = 1 << 24;

/// Draws `count` distinct indexes below `len` (count < len), in ascending
/// order, by a partial Fisher-Yates shuffle over the index range (sparse, so
/// huge lengths cost O(count)).
pub(super) fn distinct_indexes(len: u64, count: u64) -> Vec<u64> {
    use std::collections::HashMap;
    let mut swapped: HashMap<u64, u64> = HashMap::new();
    let mut out = Vec::with_capacity(count as usize);
    for i in 0..count {
        let j = i + crate::server::rand_u64() % (len - i);
        let vj = *swapped.get(&j).unwrap_or(&j);
        let vi = *swapped.get(&i).unwrap_or(&i);
        swapped.insert(j, vi);
        out.push(vj);
    }
    out.sort_unstable();
    out
}

/// HRANDFIELD key [count [WITHVALUES]].
fn hrandfield(ctx: &mut Ctx<'_>, v: &Version) {
    let args = ctx.args;
    if args.len() > 4 || (args.len() == 4 && !is(&args[3], "withvalues")) {
        return ctx.err(errors::SYNTAX);
    }
    let withvalues = args.len() == 4;
    let count = match args.get(2).map(|a| int_arg(a)) {
        None => None,
        Some(Err(e)) => return ctx.err(e),
        Some(Ok(n)) => {
            if n == i64::MIN {
                return ctx.err(
                    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                );
            }
            if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&n) {
                return ctx.err("ERR value is out of range");
            }
            Some(n)
        }
    };
    let h = match read_hash(ctx, v, &args[1]) {
        Err(e) => return ctx.err(e),
        Ok(h) => h,
    };
    let Some(count) = count else {
        match h.and_then(|h| h.pick(crate::server::rand_u64())) {
            Some((f, _)) => ctx.out.bulk(f),
            None => ctx.out.null(),
        }
        return;
    };
    let Some(h) = h else {
        return ctx.out.array(0);
    };
    let resp3_pairs = withvalues && ctx.out.resp3;
    let emit = |out: &mut crate::reply::ReplyBuf, f: &[u8], val: &[u8]| {
        if resp3_pairs {
            out.array(2);
        }
        out.bulk(f);
        if withvalues {
            out.bulk(val);
        }
    };
    let header = |out: &mut crate::reply::ReplyBuf, n: usize| {
        out.array(if withvalues && !resp3_pairs { 2 * n } else { n });
    };
    let len = h.len() as u64;
    if count < 0 {
        let n = count.unsigned_abs();
        if n > MAX_RANDOM_REPLY {
            return ctx.err("ERR value is out of range");
        }
        header(ctx.out, n as usize);
        let small: Vec<(&[u8], &[u8])> = if len as usize <= UNIFORM_PICK_MAX {
            h.iter().collect()
        } else {
            Vec::new()
        };
        for _ in 0..n {
            let r = crate::server::rand_u64();
            let pair = if small.is_empty() {
                h.pick(r)
            } else {
                small.get((r % len) as usize).copied()
            };
            if let Some((f, val)) = pair {
                emit(ctx.out, f, val);
            }
        }
        return;
    }
    let count = count as u64;
    if count >= len {
        header(ctx.out, len as usize);
        for (f, val) in h.iter() {
            emit(ctx.out, f, val);
        }
        return;
    }
    let sparse = !h.is_listpack() && len as usize > UNIFORM_PICK_MAX;
    let picks = sample_distinct(len, count, sparse, |r| h.pick(r), h.iter());
    header(ctx.out, picks.len());
    for (f, val) in picks {
        emit(ctx.out, f, val);
    }
}

/// `count` distinct elements (count < len) chosen at random. With `sparse`
/// (a hashtable, whose `pick` is O(log n)) and a small count, by repeated
/// picks; otherwise by choosing positions and walking `all` once, which
/// keeps iteration order (as Redis returns a listpack sample).
pub(super) fn sample_distinct<T: Copy + Eq + std::hash::Hash>(
    len: u64,
    count: u64,
    sparse: bool,
    pick: impl Fn(u64) -> Option<T>,
    all: impl Iterator<Item = T>,
) -> Vec<T> {
    if sparse && count.saturating_mul(3) <= len {
        let mut seen = std::collections::HashSet::with_capacity(count as usize);
        let mut out = Vec::with_capacity(count as usize);
        // `pick` is not quite uniform; give up on the (unlikely) long tail.
        let mut tries = count.saturating_mul(16).saturating_add(64);
        while (out.len() as u64) < count && tries > 0 {
            tries -= 1;
            if let Some(x) = pick(crate::server::rand_u64()) {
                if seen.insert(x) {
                    out.push(x);
                }
            }
        }
        if out.len() as u64 == count {
            return out;
        }
    }
    let picks = distinct_indexes(len, count);
    let mut next = picks.iter().peekable();
    let mut out = Vec::with_capacity(picks.len());
    for (i, x) in all.enumerate() {
        let Some(&&p) = next.peek() else { break };
        if p == i as u64 {
            out.push(x);
            next.next();
        }
    }
    out
}

/// Parsed `[MATCH pattern] [COUNT count]` options of HSCAN, SSCAN and ZSCAN.
pub(super) struct ScanOpts<'a> {
    /// The MATCH pattern, `None` for `*`.
    pub pattern: Option<&'a [u8]>,
    /// The COUNT hint.
    pub count: usize,
}

/// Parses the options after the cursor of a key SCAN (argv[3..]); `Err`
/// carries the error reply.
pub(super) fn scan_opts<'a>(args: &'a [bytes::Bytes]) -> Result<ScanOpts<'a>, &'static str> {
    let mut o = ScanOpts {
        pattern: None,
        count: 10,
    };
    let mut i = 3;
    while i < args.len() {
        let Some(val) = args.get(i + 1) else {
            return Err(errors::SYNTAX);
        };
        if is(&args[i], "count") {
            let n = int_arg(val)?;
            if n < 1 {
                return Err(errors::SYNTAX);
            }
            o.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if is(&args[i], "match") {
            o.pattern = (&val[..] != b"*").then_some(&val[..]);
        } else {
            return Err(errors::SYNTAX);
        }
        i += 2;
    }
    Ok(o)
}

/// Writes a SCAN reply header: the next cursor, then an array of `n`.
pub(super) fn scan_header(ctx: &mut Ctx<'_>, next: u64, n: usize) {
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(n);
}

fn hscan(ctx: &mut Ctx<'_>, v: &Version) {
    let args = ctx.args;
    let Some(cursor) = parse_cursor(&args[2]) else {
        return ctx.err(errors::INVALID_CURSOR);
    };
    let h = match read_hash(ctx, v, &args[1]) {
        Err(e) => return ctx.err(e),
        Ok(None) => return scan_header(ctx, 0, 0),
        Ok(Some(h)) => h,
    };
    let o = match scan_opts(args) {
        Ok(o) => o,
        Err(e) => return ctx.err(e),
    };
    let mut found: Vec<(&[u8], &[u8])> = Vec::new();
    let next = h.scan(cursor, o.count, |f, val| {
        if o.pattern.is_none_or(|p| glob::matches(p, f, false)) {
            found.push((f, val));
        }
    });
    scan_header(ctx, next, 2 * found.len());
    for (f, val) in found {
        ctx.out.bulk(f);
        ctx.out.bulk(val);
    }
}
