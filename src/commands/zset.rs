//! Sorted-set commands, part one: the shared plumbing (lookups, score
//! parsing, limits, reply helpers) and the single-member commands ZADD,
//! ZINCRBY, ZREM, ZCARD, ZSCORE, ZMSCORE, ZRANK, ZREVRANK, ZCOUNT,
//! ZLEXCOUNT. Ranges are in `zset_range.rs`, pops, random picks and ZSCAN
//! in `zset_pop.rs`, the multi-key algebra in `zset_ops.rs`, geo commands
//! in `geo.rs`.

use ferrous_storage::ostree::Item;
use ferrous_storage::zset::{Limits, ZSet};
use ferrous_storage::{Entry, SmallBytes, Value, Version};

use super::keyspec::*;
use super::zset_range::{parse_lex_range, parse_score_range};
use super::{events, is, Ctx, Handler::*};
use crate::cmd;
use crate::errors;

/// The single-member sorted-set commands.
pub static COMMANDS: &[super::CommandSpec] = &[
    cmd!("zadd", -4, [WRITE, DENYOOM, FAST], (1, 1, 1), Write(zadd), "sorted-set",
        "Add one or more members to a sorted set, or update its score if it already exists", "1.2.0",
        "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
        acl: [], tips: [],
        ks: [ks_range(RW | UPDATE, 1, 0, 1, 0)], subs: &[]),
    cmd!("zincrby", 4, [WRITE, DENYOOM, FAST], (1, 1, 1), Write(zincrby), "sorted-set",
        "Increment the score of a member in a sorted set", "1.2.0",
        "O(log(N)) where N is the number of elements in the sorted set.",
        acl: [], tips: [],
        ks: [ks_range(RW | ACCESS | UPDATE, 1, 0, 1, 0)], subs: &[]),
    cmd!("zrem", -3, [WRITE, FAST], (1, 1, 1), Write(zrem), "sorted-set",
        "Remove one or more members from a sorted set", "1.2.0",
        "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.",
        acl: [], tips: [],
        ks: [ks_range(RW | DELETE, 1, 0, 1, 0)], subs: &[]),
    cmd!("zcard", 2, [READONLY, FAST], (1, 1, 1), Read(zcard), "sorted-set",
        "Get the number of members in a sorted set", "1.2.0",
        "O(1)",
        acl: [], tips: [],
        ks: [ks_range(RO, 1, 0, 1, 0)], subs: &[]),
    cmd!("zscore", 3, [READONLY, FAST], (1, 1, 1), Read(zscore), "sorted-set",
        "Get the score associated with the given member in a sorted set", "1.2.0",
        "O(1)",
        acl: [], tips: [],
        ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("zmscore", -3, [READONLY, FAST], (1, 1, 1), Read(zmscore), "sorted-set",
        "Get the score associated with the given members in a sorted set", "6.2.0",
        "O(N) where N is the number of members being requested.",
        acl: [], tips: [],
        ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("zrank", 3, [READONLY, FAST], (1, 1, 1), Read(zrank), "sorted-set",
        "Determine the index of a member in a sorted set", "2.0.0",
        "O(log(N))",
        acl: [], tips: [],
        ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("zrevrank", 3, [READONLY, FAST], (1, 1, 1), Read(zrevrank), "sorted-set",
        "Determine the index of a member in a sorted set, with scores ordered from high to low", "2.0.0",
        "O(log(N))",
        acl: [], tips: [],
        ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("zcount", 4, [READONLY, FAST], (1, 1, 1), Read(zcount), "sorted-set",
        "Count the members in a sorted set with scores within the given values", "2.0.0",
        "O(log(N)) with N being the number of elements in the sorted set.",
        acl: [], tips: [],
        ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("zlexcount", 4, [READONLY, FAST], (1, 1, 1), Read(zlexcount), "sorted-set",
        "Count the number of members in a sorted set between a given lexicographical range", "2.8.9",
        "O(log(N)) with N being the number of elements in the sorted set.",
        acl: [], tips: [],
        ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
];

/// `ERR resulting score is not a number (NaN)`.
pub const NAN_SCORE: &str = "ERR resulting score is not a number (NaN)";

/// The `zset-max-listpack-*` limits in force.
pub fn limits(ctx: &Ctx<'_>) -> Limits {
    let c = &ctx.srv.config;
    Limits {
        entries: c.int(crate::int_param!("zset-max-listpack-entries")).max(0) as usize,
        value: c.int(crate::int_param!("zset-max-listpack-value")).max(0) as usize,
    }
}

/// Parses a score like Redis's `getDoubleFromObject`: the whole string
/// must be a number (`inf`, `-inf` and friends included), no leading space,
/// no overflow to infinity, no underflow to zero, never NaN.
pub fn parse_score(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?;
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    let v = parse_c_double(s)?;
    if v.is_nan() {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    if v.is_infinite() && !lower.contains("inf") {
        return None; // ERANGE overflow
    }
    if v == 0.0 && mantissa_nonzero(&lower) {
        return None; // ERANGE underflow to zero
    }
    Some(v)
}

/// Whether the mantissa of a decimal float has a non-zero digit.
fn mantissa_nonzero(lower: &str) -> bool {
    let m = lower.split('e').next().unwrap_or("");
    m.bytes().any(|c| (b'1'..=b'9').contains(&c))
}

/// Parses a whole string the way C's `strtod` accepts it (decimal forms,
/// `inf`/`infinity`/`nan` in any case, hexadecimal `0x1.8p3`, a sign),
/// returning `None` if any character is left over.
pub fn parse_c_double(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        let v = parse_hex_double(hex)?;
        return Some(if s.starts_with('-') { -v } else { v });
    }
    let ok_word = ["inf", "infinity", "nan"]
        .iter()
        .any(|w| body.eq_ignore_ascii_case(w));
    if !ok_word
        && !body
            .bytes()
            .all(|c| c.is_ascii_digit() || b".eE+-".contains(&c))
    {
        return None;
    }
    s.parse::<f64>().ok()
}

/// The digits of a C hexadecimal float after `0x`: `h[.h][p[±]d]`.
fn parse_hex_double(s: &str) -> Option<f64> {
    let (mant, exp) = match s.find(['p', 'P']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    if let Some(e) = exp {
        let e: i32 = e.parse().ok()?;
        v *= 2f64.powi(e);
    }
    Some(v)
}

/// The sorted set at `key` for a read command, counted in the keyspace
/// statistics; `Err` is the WRONGTYPE reply.
pub fn zset_read<'v>(
    ctx: &Ctx<'_>,
    v: &'v Version,
    key: &[u8],
) -> Result<Option<&'v ZSet>, &'static str> {
    let r = match v.db(ctx.db()).get(key, ctx.now) {
        None => Ok(None),
        Some(Entry {
            value: Value::ZSet(z),
            ..
        }) => Ok(Some(z)),
        Some(_) => Err(errors::WRONGTYPE),
    };
    ctx.lookup(!matches!(r, Ok(None)));
    r
}

/// Moves the sorted set at `key` out of the version for modification
/// (leaving an empty one in its place, so no refcount is bumped and owned
/// nodes are changed in place); give it back with [`put_zset`].
pub fn take_zset(ctx: &Ctx<'_>, v: &mut Version, key: &[u8]) -> Result<Option<ZSet>, &'static str> {
    let db = v.db_mut(ctx.db());
    let r = match db.get_mut(key, ctx.now) {
        None => Ok(None),
        Some(Entry {
            value: Value::ZSet(z),
            ..
        }) => Ok(Some(std::mem::take(z))),
        Some(_) => Err(errors::WRONGTYPE),
    };
    if r.is_err() {
        // A key of another type is not recorded as written.
        db.unlog(key);
    }
    r
}

/// Stores `z` at `key` (keeping the key's TTL if it exists), or deletes the
/// key when `z` is empty. Returns whether the key was deleted. `changed`
/// false (nothing was added, updated or removed) takes back the write-log
/// record of [`take_zset`], so WATCH and tracking see no change, as in Redis.
pub fn put_zset(ctx: &mut Ctx<'_>, v: &mut Version, key: &[u8], z: ZSet, changed: bool) -> bool {
    let db = v.db_mut(ctx.db());
    if z.is_empty() {
        return db.remove(key).is_some();
    }
    // `take_zset` already recorded the write of an existing key.
    match db.get_mut_quiet(key, ctx.now) {
        Some(e) => e.value = Value::ZSet(z),
        None => {
            db.insert(SmallBytes::from(key), Entry::new(Value::ZSet(z)));
        }
    }
    if !changed {
        db.unlog(key);
    }
    false
}

/// Replaces whatever is at `key` with `z` (no TTL), or deletes the key when
/// `z` is empty; notifies `event` or `del` like Redis's store commands.
/// Returns the stored cardinality.
pub fn store_zset(
    ctx: &mut Ctx<'_>,
    v: &mut Version,
    key: &[u8],
    mut z: ZSet,
    event: &'static str,
) -> usize {
    let n = z.len();
    let db = v.db_mut(ctx.db());
    if n == 0 {
        if db.remove_live(key, ctx.now).is_some() {
            ctx.notify(events::GENERIC, "del", key);
            ctx.dirty += 1;
        }
        return 0;
    }
    let lim = limits(ctx);
    z.shrink_if_fits(lim);
    db.insert(SmallBytes::from(key), Entry::new(Value::ZSet(z)));
    ctx.notify(events::ZSET, event, key);
    ctx.key_ready(key);
    ctx.dirty += 1;
    n
}

/// Writes `items` as a range reply: members, or with scores member/score
/// pairs (flat in RESP2, two-element arrays in RESP3).
pub fn reply_items<'a>(
    ctx: &mut Ctx<'_>,
    n: usize,
    items: impl Iterator<Item = &'a Item>,
    withscores: bool,
) {
    let out = &mut *ctx.out;
    if withscores && !out.resp3 {
        out.array(2 * n);
    } else {
        out.array(n);
    }
    for it in items.take(n) {
        if withscores {
            if out.resp3 {
                out.array(2);
            }
            out.bulk(&it.member);
            out.double(it.score);
        } else {
            out.bulk(&it.member);
        }
    }
}

/// Options of ZADD.
#[derive(Default)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

fn zadd(ctx: &mut Ctx<'_>, v: &mut Version) {
    let args = ctx.args;
    let mut f = AddFlags::default();
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if is(a, "nx") {
            f.nx = true;
        } else if is(a, "xx") {
            f.xx = true;
        } else if is(a, "gt") {
            f.gt = true;
        } else if is(a, "lt") {
            f.lt = true;
        } else if is(a, "ch") {
            f.ch = true;
        } else if is(a, "incr") {
            f.incr = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = &args[i..];
    if rest.is_empty() || !rest.len().is_multiple_of(2) {
        return ctx.err(errors::SYNTAX);
    }
    if f.nx && f.xx {
        return ctx.err("ERR XX and NX options at the same time are not compatible");
    }
    if [f.gt, f.lt, f.nx].iter().filter(|&&b| b).count() > 1 {
        return ctx.err("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if f.incr && rest.len() > 2 {
        return ctx.err("ERR INCR option supports a single increment-element pair");
    }
    let mut pairs = Vec::with_capacity(rest.len() / 2);
    for p in rest.chunks(2) {
        match parse_score(&p[0]) {
            Some(s) => pairs.push((s, &p[1][..])),
            None => return ctx.err(errors::NOT_FLOAT),
        }
    }
    add_generic(ctx, v, &f, &pairs, if f.incr { "zincr" } else { "zadd" });
}

fn zincrby(ctx: &mut Ctx<'_>, v: &mut Version) {
    let Some(s) = parse_score(&ctx.args[2]) else {
        return ctx.err(errors::NOT_FLOAT);
    };
    let f = AddFlags {
        incr: true,
        ..Default::default()
    };
    let member = ctx.args[3].clone();
    add_generic(ctx, v, &f, &[(s, &member[..])], "zincr");
}

/// The body of ZADD/ZINCRBY once arguments are valid.
fn add_generic(
    ctx: &mut Ctx<'_>,
    v: &mut Version,
    f: &AddFlags,
    pairs: &[(f64, &[u8])],
    event: &'static str,
) {
    let key = ctx.args[1].clone();
    let lim = limits(ctx);
    let existing = match take_zset(ctx, v, &key) {
        Ok(z) => z,
        Err(e) => return ctx.err(e),
    };
    let mut z = match existing {
        Some(z) => z,
        None if f.xx => {
            return if f.incr {
                ctx.out.null()
            } else {
                ctx.out.int(0)
            };
        }
        None => ZSet::with_hint(1, pairs[0].1.len(), lim),
    };
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut incr_result = None;
    let mut nan = false;
    for &(score, member) in pairs {
        let cur = z.score(member);
        match cur {
            Some(old) => {
                if f.nx {
                    continue;
                }
                let mut new = score;
                if f.incr {
                    new = old + score;
                    if new.is_nan() {
                        nan = true;
                        break;
                    }
                }
                if (f.lt && new >= old) || (f.gt && new <= old) {
                    continue;
                }
                incr_result = Some(new);
                processed += 1;
                if new != old {
                    z.insert(member, new, lim);
                    updated += 1;
                }
            }
            None => {
                if f.xx {
                    continue;
                }
                z.insert(member, score, lim);
                incr_result = Some(score);
                added += 1;
                processed += 1;
            }
        }
    }
    let _ = processed;
    put_zset(ctx, v, &key, z, added + updated > 0);
    if nan {
        return ctx.err(NAN_SCORE);
    }
    if added + updated > 0 {
        ctx.notify(events::ZSET, event, &key);
        ctx.key_ready(&key);
        ctx.dirty += (added + updated) as u64;
    }
    if f.incr {
        match incr_result {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    } else {
        ctx.out.int(if f.ch { added + updated } else { added });
    }
}

fn zrem(ctx: &mut Ctx<'_>, v: &mut Version) {
    let key = ctx.args[1].clone();
    let mut z = match take_zset(ctx, v, &key) {
        Ok(Some(z)) => z,
        Ok(None) => return ctx.out.int(0),
        Err(e) => return ctx.err(e),
    };
    let mut n = 0;
    for m in &ctx.args[2..] {
        if z.remove(m).is_some() {
            n += 1;
            if z.is_empty() {
                break;
            }
        }
    }
    let deleted = put_zset(ctx, v, &key, z, n > 0);
    if n > 0 {
        ctx.notify(events::ZSET, "zrem", &key);
        if deleted {
            ctx.notify(events::GENERIC, "del", &key);
        }
        ctx.dirty += n as u64;
    }
    ctx.out.int(n);
}

fn zcard(ctx: &mut Ctx<'_>, v: &Version) {
    match zset_read(ctx, v, &ctx.args[1]) {
        Ok(z) => ctx.out.int(z.map_or(0, |z| z.len() as i64)),
        Err(e) => ctx.err(e),
    }
}

fn zscore(ctx: &mut Ctx<'_>, v: &Version) {
    match zset_read(ctx, v, &ctx.args[1]) {
        Ok(z) => match z.and_then(|z| z.score(&ctx.args[2])) {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        },
        Err(e) => ctx.err(e),
    }
}

fn zmscore(ctx: &mut Ctx<'_>, v: &Version) {
    let z = match zset_read(ctx, v, &ctx.args[1]) {
        Ok(z) => z,
        Err(e) => return ctx.err(e),
    };
    ctx.out.array(ctx.args.len() - 2);
    for m in &ctx.args[2..] {
        match z.and_then(|z| z.score(m)) {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    }
}

fn rank_generic(ctx: &mut Ctx<'_>, v: &Version, rev: bool) {
    let z = match zset_read(ctx, v, &ctx.args[1]) {
        Ok(Some(z)) => z,
        Ok(None) => return ctx.out.null(),
        Err(e) => return ctx.err(e),
    };
    match z.rank(&ctx.args[2]) {
        Some((r, _)) => ctx.out.int(if rev { z.len() - 1 - r } else { r } as i64),
        None => ctx.out.null(),
    }
}

fn zrank(ctx: &mut Ctx<'_>, v: &Version) {
    rank_generic(ctx, v, false)
}

fn zrevrank(ctx: &mut Ctx<'_>, v: &Version) {
    rank_generic(ctx, v, true)
}

fn zcount(ctx: &mut Ctx<'_>, v: &Version) {
    let Some(r) = parse_score_range(&ctx.args[2], &ctx.args[3]) else {
        return ctx.err(super::zset_range::NOT_FLOAT_RANGE);
    };
    match zset_read(ctx, v, &ctx.args[1]) {
        Ok(z) => ctx.out.int(z.map_or(0, |z| r.ranks(z).len()) as i64),
        Err(e) => ctx.err(e),
    }
}

fn zlexcount(ctx: &mut Ctx<'_>, v: &Version) {
    let Some(r) = parse_lex_range(&ctx.args[2], &ctx.args[3]) else {
        return ctx.err(super::zset_range::NOT_LEX_RANGE);
    };
    match zset_read(ctx, v, &ctx.args[1]) {
        Ok(z) => ctx.out.int(z.map_or(0, |z| r.ranks(z).len()) as i64),
        Err(e) => ctx.err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_parse_like_strtod() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"+Infinity"), Some(f64::INFINITY));
        assert_eq!(parse_score(b".5"), Some(0.5));
        assert_eq!(parse_score(b"1e-400"), None);
        assert_eq!(parse_score(b"1e400"), None);
        assert_eq!(parse_score(b"0e5"), Some(0.0));
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        assert_eq!(parse_score(b"-0x1.8p1"), Some(-3.0));
        for bad in [&b"nan"[..], b"", b" 1", b"1 ", b"1x", b"0x", b"--1"] {
            assert_eq!(parse_score(bad), None, "{:?}", bad);
        }
    }
}
