//! Sorted-set commands, part two: score and lex range syntax, the ZRANGE
//! family (ZRANGE, ZRANGESTORE, ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE,
//! ZRANGEBYLEX, ZREVRANGEBYLEX) and ZREMRANGEBYRANK/SCORE/LEX. Pops,
//! ZRANDMEMBER and ZSCAN are in `zset_pop.rs`.

use std::ops::Range;

use bytes::Bytes;
use ferrous_storage::ostree::Item;
use ferrous_storage::zset::ZSet;
use ferrous_storage::Version;

use super::keyspec::*;
use super::zset::{
    limits, parse_c_double, put_zset, reply_items, store_zset, take_zset, zset_read,
};
use super::{events, int_arg, is, Ctx, Handler::*};
use crate::cmd;
use crate::errors;

/// The range commands.
pub static COMMANDS: &[super::CommandSpec] = &[
    cmd!("zrange", -4, [READONLY], (1, 1, 1), Read(zrange), "sorted-set",
        "Return a range of members in a sorted set", "1.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
        acl: [], tips: [],
        ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("zrangestore", -5, [WRITE, DENYOOM], (1, 2, 1), Write(zrangestore), "sorted-set",
        "Store a range of members from sorted set into another key", "6.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.",
        acl: [], tips: [],
        ks: [ks_range(OW | UPDATE, 1, 0, 1, 0), ks_range(RO | ACCESS, 2, 0, 1, 0)], subs: &[]),
    cmd!("zrevrange", -4, [READONLY], (1, 1, 1), Read(zrevrange), "sorted-set",
        "Return a range of members in a sorted set, by index, with scores ordered from high to low", "1.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
        acl: [], tips: [],
        ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("zrangebyscore", -4, [READONLY], (1, 1, 1), Read(zrangebyscore), "sorted-set",
        "Return a range of members in a sorted set, by score", "1.0.5",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        acl: [], tips: [],
        ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("zrevrangebyscore", -4, [READONLY], (1, 1, 1), Read(zrevrangebyscore), "sorted-set",
        "Return a range of members in a sorted set, by score, with scores ordered from high to low", "2.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        acl: [], tips: [],
        ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("zrangebylex", -4, [READONLY], (1, 1, 1), Read(zrangebylex), "sorted-set",
        "Return a range of members in a sorted set, by lexicographical range", "2.8.9",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        acl: [], tips: [],
        ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("zrevrangebylex", -4, [READONLY], (1, 1, 1), Read(zrevrangebylex), "sorted-set",
        "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.", "2.8.9",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        acl: [], tips: [],
        ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("zremrangebyrank", 4, [WRITE], (1, 1, 1), Write(zremrangebyrank), "sorted-set",
        "Remove all members in a sorted set within the given indexes", "2.0.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        acl: [], tips: [],
        ks: [ks_range(RW | DELETE, 1, 0, 1, 0)], subs: &[]),
    cmd!("zremrangebyscore", 4, [WRITE], (1, 1, 1), Write(zremrangebyscore), "sorted-set",
        "Remove all members in a sorted set within the given scores", "1.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        acl: [], tips: [],
        ks: [ks_range(RW | DELETE, 1, 0, 1, 0)], subs: &[]),
    cmd!("zremrangebylex", 4, [WRITE], (1, 1, 1), Write(zremrangebylex), "sorted-set",
        "Remove all members in a sorted set between the given lexicographical range", "2.8.9",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        acl: [], tips: [],
        ks: [ks_range(RW | DELETE, 1, 0, 1, 0)], subs: &[]),
];

/// `ERR min or max is not a float`.
pub const NOT_FLOAT_RANGE: &str = "ERR min or max is not a float";
/// `ERR min or max not valid string range item`.
pub const NOT_LEX_RANGE: &str = "ERR min or max not valid string range item";

/// A score interval with open or closed ends.
#[derive(Clone, Copy, Debug)]
pub struct ScoreRange {
    min: f64,
    max: f64,
    minex: bool,
    maxex: bool,
}

/// One end of a score range as Redis's range parser reads it: an optional
/// `(`, then what `strtod` accepts (leading spaces, overflow to infinity;
/// an empty string is 0), never NaN.
fn parse_score_bound(b: &[u8]) -> Option<(f64, bool)> {
    let (ex, rest) = match b.first() {
        Some(b'(') => (true, &b[1..]),
        _ => (false, b),
    };
    if rest.is_empty() {
        return Some((0.0, ex));
    }
    let s = std::str::from_utf8(rest).ok()?;
    let t = s.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let v = parse_c_double(t).filter(|v| !v.is_nan())?;
    Some((v, ex))
}

/// Parses a `min max` score range.
pub fn parse_score_range(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
    let (min, minex) = parse_score_bound(min)?;
    let (max, maxex) = parse_score_bound(max)?;
    Some(ScoreRange {
        min,
        max,
        minex,
        maxex,
    })
}

impl ScoreRange {
    /// Whether `s` lies in the range.
    pub fn contains(&self, s: f64) -> bool {
        (if self.minex {
            s > self.min
        } else {
            s >= self.min
        }) && (if self.maxex {
            s < self.max
        } else {
            s <= self.max
        })
    }

    /// The ascending ranks of the items in the range.
    pub fn ranks(&self, z: &ZSet) -> Range<usize> {
        let t = z.tree();
        let lo = t.count_while(|x| {
            if self.minex {
                x.score <= self.min
            } else {
                x.score < self.min
            }
        });
        let hi = t.count_while(|x| {
            if self.maxex {
                x.score < self.max
            } else {
                x.score <= self.max
            }
        });
        lo..hi.max(lo)
    }
}

/// One end of a lex range.
#[derive(Clone, Debug)]
pub enum LexBound {
    /// `-`
    Min,
    /// `+`
    Max,
    /// `[member`
    Incl(Bytes),
    /// `(member`
    Excl(Bytes),
}

fn parse_lex_bound(b: &Bytes) -> Option<LexBound> {
    match b.first()? {
        b'+' if b.len() == 1 => Some(LexBound::Max),
        b'-' if b.len() == 1 => Some(LexBound::Min),
        b'[' => Some(LexBound::Incl(b.slice(1..))),
        b'(' => Some(LexBound::Excl(b.slice(1..))),
        _ => None,
    }
}

/// A lex interval.
#[derive(Clone, Debug)]
pub struct LexRange {
    min: LexBound,
    max: LexBound,
}

/// Parses a `min max` lex range.
pub fn parse_lex_range(min: &Bytes, max: &Bytes) -> Option<LexRange> {
    Some(LexRange {
        min: parse_lex_bound(min)?,
        max: parse_lex_bound(max)?,
    })
}

impl LexRange {
    fn below_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Incl(b) => m < &b[..],
            LexBound::Excl(b) => m <= &b[..],
        }
    }

    fn within_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Incl(b) => m <= &b[..],
            LexBound::Excl(b) => m < &b[..],
        }
    }

    /// Whether `m` lies in the range.
    pub fn contains(&self, m: &[u8]) -> bool {
        !self.below_min(m) && self.within_max(m)
    }

    /// The ascending ranks of the items in the range (members of equal
    /// score are in lex order, which is what lex ranges assume).
    pub fn ranks(&self, z: &ZSet) -> Range<usize> {
        let t = z.tree();
        let lo = t.count_while(|x| self.below_min(&x.member));
        let hi = t.count_while(|x| self.within_max(&x.member));
        lo..hi.max(lo)
    }
}

/// How a range command selects items.
#[derive(Clone, Debug)]
enum Kind {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

#[derive(Clone, Copy, PartialEq)]
enum Preset {
    Auto,
    Rank,
    Score,
    Lex,
}

/// A parsed range request.
struct RangeReq {
    kind: Kind,
    rev: bool,
    offset: i64,
    limit: i64,
    withscores: bool,
}

/// Normalizes Redis rank arguments against `n` items: the inclusive rank
/// interval, or `None` when empty.
pub fn rank_span(start: i64, end: i64, n: usize) -> Option<(usize, usize)> {
    let n = n as i64;
    let mut start = if start < 0 {
        n.saturating_add(start)
    } else {
        start
    };
    let mut end = if end < 0 { n.saturating_add(end) } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= n {
        return None;
    }
    if end >= n {
        end = n - 1;
    }
    Some((start as usize, end as usize))
}

impl RangeReq {
    /// The selected items: first rank, count, and whether to walk downwards.
    fn select(&self, z: &ZSet) -> (usize, usize) {
        let n = z.len();
        let span = match &self.kind {
            Kind::Rank(s, e) => {
                return match rank_span(*s, *e, n) {
                    None => (0, 0),
                    Some((s, e)) if self.rev => (n - 1 - s, e - s + 1),
                    Some((s, e)) => (s, e - s + 1),
                };
            }
            Kind::Score(r) => r.ranks(z),
            Kind::Lex(r) => r.ranks(z),
        };
        if self.offset < 0 || span.is_empty() {
            return (0, 0);
        }
        let total = span.len();
        let skip = (self.offset as u64).min(total as u64) as usize;
        let avail = total - skip;
        let count = if self.limit < 0 {
            avail
        } else {
            (self.limit as u64).min(avail as u64) as usize
        };
        if count == 0 {
            return (0, 0);
        }
        if self.rev {
            (span.end - 1 - skip, count)
        } else {
            (span.start + skip, count)
        }
    }

    fn items<'z>(&self, z: &'z ZSet) -> (usize, Box<dyn Iterator<Item = &'z Item> + 'z>) {
        let (start, count) = self.select(z);
        if count == 0 {
            return (0, Box::new(std::iter::empty()));
        }
        let t = z.tree();
        if self.rev {
            (count, Box::new(t.iter_rev_from(start).take(count)))
        } else {
            (count, Box::new(t.iter_from(start).take(count)))
        }
    }
}

/// Parses a range command whose source key is argument `key_at` (min and
/// max follow it, options after), like Redis's ZRANGE parser: option
/// errors, then LIMIT/WITHSCORES combinations, then the range itself.
fn parse_range(
    ctx: &Ctx<'_>,
    key_at: usize,
    store: bool,
    preset: Preset,
    rev: Option<bool>,
) -> Result<RangeReq, String> {
    let args = ctx.args;
    let mut kind = preset;
    let mut dir = rev;
    let (mut offset, mut limit, mut withscores) = (0i64, -1i64, false);
    let mut j = key_at + 3;
    while j < args.len() {
        let a = &args[j];
        let left = args.len() - j - 1;
        if !store && is(a, "withscores") {
            withscores = true;
        } else if is(a, "limit") && left >= 2 {
            offset = int_arg(&args[j + 1])?;
            limit = int_arg(&args[j + 2])?;
            j += 2;
        } else if dir.is_none() && is(a, "rev") {
            dir = Some(true);
        } else if kind == Preset::Auto && is(a, "bylex") {
            kind = Preset::Lex;
        } else if kind == Preset::Auto && is(a, "byscore") {
            kind = Preset::Score;
        } else {
            return Err(errors::SYNTAX.into());
        }
        j += 1;
    }
    if limit != -1 && matches!(kind, Preset::Auto | Preset::Rank) {
        return Err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
                .into(),
        );
    }
    if withscores && kind == Preset::Lex {
        return Err("ERR syntax error, WITHSCORES not supported in combination with BYLEX".into());
    }
    let rev = dir.unwrap_or(false);
    let (mut lo, mut hi) = (&args[key_at + 1], &args[key_at + 2]);
    if rev && matches!(kind, Preset::Score | Preset::Lex) {
        std::mem::swap(&mut lo, &mut hi);
    }
    let kind = match kind {
        Preset::Auto | Preset::Rank => Kind::Rank(int_arg(lo)?, int_arg(hi)?),
        Preset::Score => Kind::Score(parse_score_range(lo, hi).ok_or(NOT_FLOAT_RANGE)?),
        Preset::Lex => Kind::Lex(parse_lex_range(lo, hi).ok_or(NOT_LEX_RANGE)?),
    };
    Ok(RangeReq {
        kind,
        rev,
        offset,
        limit,
        withscores,
    })
}

fn range_generic(ctx: &mut Ctx<'_>, v: &Version, preset: Preset, rev: Option<bool>) {
    let req = match parse_range(ctx, 1, false, preset, rev) {
        Ok(r) => r,
        Err(e) => return ctx.err(&e),
    };
    let z = match zset_read(ctx, v, &ctx.args[1]) {
        Ok(Some(z)) => z,
        Ok(None) => return ctx.out.array(0),
        Err(e) => return ctx.err(e),
    };
    let (n, items) = req.items(z);
    reply_items(ctx, n, items, req.withscores);
}

fn zrange(ctx: &mut Ctx<'_>, v: &Version) {
    range_generic(ctx, v, Preset::Auto, None)
}

fn zrevrange(ctx: &mut Ctx<'_>, v: &Version) {
    range_generic(ctx, v, Preset::Rank, Some(true))
}

fn zrangebyscore(ctx: &mut Ctx<'_>, v: &Version) {
    range_generic(ctx, v, Preset::Score, Some(false))
}

fn zrevrangebyscore(ctx: &mut Ctx<'_>, v: &Version) {
    range_generic(ctx, v, Preset::Score, Some(true))
}

fn zrangebylex(ctx: &mut Ctx<'_>, v: &Version) {
    range_generic(ctx, v, Preset::Lex, Some(false))
}

fn zrevrangebylex(ctx: &mut Ctx<'_>, v: &Version) {
    range_generic(ctx, v, Preset::Lex, Some(true))
}

fn zrangestore(ctx: &mut Ctx<'_>, v: &mut Version) {
    let req = match parse_range(ctx, 2, true, Preset::Auto, None) {
        Ok(r) => r,
        Err(e) => return ctx.err(&e),
    };
    let src = match super::zset::zset_read(ctx, v, &ctx.args[2]) {
        Ok(z) => z,
        Err(e) => return ctx.err(e),
    };
    let lim = limits(ctx);
    let mut out = ZSet::with_hint(0, 0, lim);
    if let Some(z) = src {
        let (n, items) = req.items(z);
        out = ZSet::with_hint(n, 0, lim);
        for it in items {
            out.insert(&it.member, it.score, lim);
        }
    }
    let dst = ctx.args[1].clone();
    let n = store_zset(ctx, v, &dst, out, "zrangestore");
    ctx.out.int(n as i64);
}

fn remrange_generic(ctx: &mut Ctx<'_>, v: &mut Version, preset: Preset, event: &'static str) {
    let args = ctx.args;
    let kind = match preset {
        Preset::Score => parse_score_range(&args[2], &args[3])
            .map(Kind::Score)
            .ok_or(NOT_FLOAT_RANGE),
        Preset::Lex => parse_lex_range(&args[2], &args[3])
            .map(Kind::Lex)
            .ok_or(NOT_LEX_RANGE),
        _ => match (int_arg(&args[2]), int_arg(&args[3])) {
            (Ok(s), Ok(e)) => Ok(Kind::Rank(s, e)),
            (Err(e), _) | (_, Err(e)) => Err(e),
        },
    };
    let kind = match kind {
        Ok(k) => k,
        Err(e) => return ctx.err(e),
    };
    let key = args[1].clone();
    let mut z = match take_zset(ctx, v, &key) {
        Ok(Some(z)) => z,
        Ok(None) => return ctx.out.int(0),
        Err(e) => return ctx.err(e),
    };
    let req = RangeReq {
        kind,
        rev: false,
        offset: 0,
        limit: -1,
        withscores: false,
    };
    let (n, items) = req.items(&z);
    let doomed: Vec<Item> = items.cloned().collect();
    for it in &doomed {
        z.remove(&it.member);
    }
    let deleted = put_zset(ctx, v, &key, z, n > 0);
    if n > 0 {
        ctx.notify(events::ZSET, event, &key);
        if deleted {
            ctx.notify(events::GENERIC, "del", &key);
        }
        ctx.dirty += n as u64;
    }
    ctx.out.int(n as i64);
}

fn zremrangebyrank(ctx: &mut Ctx<'_>, v: &mut Version) {
    remrange_generic(ctx, v, Preset::Rank, "zremrangebyrank")
}

fn zremrangebyscore(ctx: &mut Ctx<'_>, v: &mut Version) {
    remrange_generic(ctx, v, Preset::Score, "zremrangebyscore")
}

fn zremrangebylex(ctx: &mut Ctx<'_>, v: &mut Version) {
    remrange_generic(ctx, v, Preset::Lex, "zremrangebylex")
}
