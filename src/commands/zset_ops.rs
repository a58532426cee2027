//! Sorted-set algebra: ZUNION, ZINTER, ZDIFF (and their STORE forms, with
//! WEIGHTS and AGGREGATE) and ZINTERCARD. Inputs may be sorted sets or
//! plain sets (members score 1); missing keys are empty.

use std::borrow::Cow;
use std::collections::HashMap;

use ferrous_storage::ostree::cmp_key;
use ferrous_storage::zset::ZSet;
use ferrous_storage::{Entry, Value, Version};

use super::keyspec::*;
use super::zset::{limits, parse_score, reply_items, store_zset};
use super::{int_arg, is, Ctx, Handler::*};
use crate::cmd;
use crate::errors;

/// The multi-key sorted-set commands.
pub static COMMANDS: &[super::CommandSpec] = &[
    cmd!("zunion", -3, [READONLY, MOVABLEKEYS], (0, 0, 0), Read(zunion), "sorted-set",
        "Add multiple sorted sets", "6.2.0",
        "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
        acl: [], tips: [],
        ks: [ks_keynum(RO | ACCESS, 1, 0, 1, 1)], subs: &[]),
    cmd!("zunionstore", -4, [WRITE, DENYOOM, MOVABLEKEYS], (1, 1, 1), Write(zunionstore), "sorted-set",
        "Add multiple sorted sets and store the resulting sorted set in a new key", "2.0.0",
        "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
        acl: [], tips: [],
        ks: [ks_range(OW | UPDATE, 1, 0, 1, 0), ks_keynum(RO | ACCESS, 2, 0, 1, 1)], subs: &[]),
    cmd!("zinter", -3, [READONLY, MOVABLEKEYS], (0, 0, 0), Read(zinter), "sorted-set",
        "Intersect multiple sorted sets", "6.2.0",
        "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
        acl: [], tips: [],
        ks: [ks_keynum(RO | ACCESS, 1, 0, 1, 1)], subs: &[]),
    cmd!("zinterstore", -4, [WRITE, DENYOOM, MOVABLEKEYS], (1, 1, 1), Write(zinterstore), "sorted-set",
        "Intersect multiple sorted sets and store the resulting sorted set in a new key", "2.0.0",
        "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
        acl: [], tips: [],
        ks: [ks_range(OW | UPDATE, 1, 0, 1, 0), ks_keynum(RO | ACCESS, 2, 0, 1, 1)], subs: &[]),
    cmd!("zdiff", -3, [READONLY, MOVABLEKEYS], (0, 0, 0), Read(zdiff), "sorted-set",
        "Subtract multiple sorted sets", "6.2.0",
        "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
        acl: [], tips: [],
        ks: [ks_keynum(RO | ACCESS, 1, 0, 1, 1)], subs: &[]),
    cmd!("zdiffstore", -4, [WRITE, DENYOOM, MOVABLEKEYS], (1, 1, 1), Write(zdiffstore), "sorted-set",
        "Subtract multiple sorted sets and store the resulting sorted set in a new key", "6.2.0",
        "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
        acl: [], tips: [],
        ks: [ks_range(OW | UPDATE, 1, 0, 1, 0), ks_keynum(RO | ACCESS, 2, 0, 1, 1)], subs: &[]),
    cmd!("zintercard", -3, [READONLY, MOVABLEKEYS], (0, 0, 0), Read(zintercard), "sorted-set",
        "Intersect multiple sorted sets and return the cardinality of the result", "7.0.0",
        "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.",
        acl: [], tips: [],
        ks: [ks_keynum(RO | ACCESS, 1, 0, 1, 1)], subs: &[]),
];

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Agg {
    Sum,
    Min,
    Max,
}

/// One input of the algebra.
#[derive(Clone, Copy)]
enum Src<'a> {
    Empty,
    Z(&'a ZSet),
    /// A plain set: every member scores 1.
    Set(&'a ferrous_storage::set::Set),
}

impl<'a> Src<'a> {
    fn len(&self) -> usize {
        match self {
            Src::Empty => 0,
            Src::Z(z) => z.len(),
            Src::Set(s) => s.len(),
        }
    }

    fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            Src::Empty => None,
            Src::Z(z) => z.score(m),
            Src::Set(s) => s.contains(m).then_some(1.0),
        }
    }

    fn items(&self) -> Box<dyn Iterator<Item = (Cow<'a, [u8]>, f64)> + 'a> {
        match *self {
            Src::Empty => Box::new(std::iter::empty()),
            Src::Z(z) => Box::new(
                z.tree()
                    .iter()
                    .map(|it| (Cow::Borrowed(&it.member[..]), it.score)),
            ),
            Src::Set(s) => Box::new(s.iter().map(|m| {
                let b = match m {
                    ferrous_storage::set::Member::Bytes(b) => Cow::Borrowed(b),
                    other => Cow::Owned(other.to_bytes().to_vec()),
                };
                (b, 1.0)
            })),
        }
    }
}

/// The input at `key`: a sorted set, or a plain set whose members count
/// with score 1, or empty when missing. `Err` is WRONGTYPE.
fn source<'v>(ctx: &Ctx<'_>, v: &'v Version, key: &[u8]) -> Result<Src<'v>, &'static str> {
    let found = v.db(ctx.db()).get(key, ctx.now);
    ctx.lookup(found.is_some());
    match found {
        None => Ok(Src::Empty),
        Some(Entry {
            value: Value::ZSet(z),
            ..
        }) => Ok(Src::Z(z)),
        Some(Entry {
            value: Value::Set(s),
            ..
        }) => Ok(Src::Set(s)),
        Some(_) => Err(errors::WRONGTYPE),
    }
}

fn aggregate(agg: Agg, acc: &mut f64, v: f64) {
    match agg {
        Agg::Sum => {
            *acc += v;
            if acc.is_nan() {
                *acc = 0.0;
            }
        }
        // C comparisons: a NaN or an equal value keeps the accumulator.
        Agg::Min => {
            if v < *acc {
                *acc = v
            }
        }
        Agg::Max => {
            if v > *acc {
                *acc = v
            }
        }
    }
}

fn weighted(score: f64, w: f64) -> f64 {
    let s = score * w;
    if s.is_nan() {
        0.0
    } else {
        s
    }
}

/// Parsed ZUNION/ZINTER/ZDIFF arguments.
struct OpArgs<'v> {
    srcs: Vec<Src<'v>>,
    weights: Vec<f64>,
    agg: Agg,
    withscores: bool,
}

/// Parses `numkeys key… [WEIGHTS…] [AGGREGATE…] [WITHSCORES]` from argument
/// `at`, looking the keys up first (as Redis does, WRONGTYPE comes before
/// option errors).
fn parse_op<'v>(
    ctx: &Ctx<'_>,
    v: &'v Version,
    at: usize,
    op: Op,
    store: bool,
) -> Result<OpArgs<'v>, String> {
    let args = ctx.args;
    let name = std::str::from_utf8(&args[0])
        .unwrap_or("")
        .to_ascii_lowercase();
    let n = int_arg(&args[at])?;
    if n < 1 {
        return Err(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        ));
    }
    if n as u64 > (args.len() - at - 1) as u64 {
        return Err(errors::SYNTAX.into());
    }
    let n = n as usize;
    let mut srcs = Vec::with_capacity(n);
    for k in &args[at + 1..at + 1 + n] {
        srcs.push(source(ctx, v, k)?);
    }
    let mut o = OpArgs {
        srcs,
        weights: vec![1.0; n],
        agg: Agg::Sum,
        withscores: false,
    };
    let mut j = at + 1 + n;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = &args[j];
        if op != Op::Diff && left >= n && is(a, "weights") {
            for i in 0..n {
                o.weights[i] =
                    parse_score(&args[j + 1 + i]).ok_or("ERR weight value is not a float")?;
            }
            j += n;
        } else if op != Op::Diff && left >= 1 && is(a, "aggregate") {
            let w = &args[j + 1];
            o.agg = if is(w, "sum") {
                Agg::Sum
            } else if is(w, "min") {
                Agg::Min
            } else if is(w, "max") {
                Agg::Max
            } else {
                return Err(errors::SYNTAX.into());
            };
            j += 1;
        } else if !store && is(a, "withscores") {
            o.withscores = true;
        } else {
            return Err(errors::SYNTAX.into());
        }
        j += 1;
    }
    Ok(o)
}

/// Computes the result, sorted by (score, member).
fn compute<'v>(o: &OpArgs<'v>, op: Op) -> Vec<(f64, Cow<'v, [u8]>)> {
    // Smallest inputs first, as Redis does (it decides the summation order).
    let mut order: Vec<usize> = (0..o.srcs.len()).collect();
    if op != Op::Diff {
        order.sort_by_key(|&i| o.srcs[i].len());
    }
    let mut out: Vec<(f64, Cow<'v, [u8]>)> = Vec::new();
    match op {
        Op::Union => {
            let mut acc: HashMap<Cow<'v, [u8]>, f64> = HashMap::new();
            for &i in &order {
                let w = o.weights[i];
                for (m, s) in o.srcs[i].items() {
                    let s = weighted(s, w);
                    match acc.get_mut(&m) {
                        Some(a) => aggregate(o.agg, a, s),
                        None => {
                            acc.insert(m, s);
                        }
                    }
                }
            }
            out.extend(acc.into_iter().map(|(m, s)| (s, m)));
        }
        Op::Inter => {
            let first = order[0];
            'next: for (m, s) in o.srcs[first].items() {
                let mut score = weighted(s, o.weights[first]);
                for &i in &order[1..] {
                    match o.srcs[i].score(&m) {
                        // Unlike the first score, these products are not
                        // cleared of NaN before aggregating (Redis's order).
                        Some(s) => aggregate(o.agg, &mut score, s * o.weights[i]),
                        None => continue 'next,
                    }
                }
                out.push((score, m));
            }
        }
        Op::Diff => {
            'next: for (m, s) in o.srcs[0].items() {
                for src in &o.srcs[1..] {
                    if src.score(&m).is_some() {
                        continue 'next;
                    }
                }
                out.push((s, m));
            }
        }
    }
    out.sort_by(|a, b| cmp_key(a.0, &a.1, b.0, &b.1));
    out
}

fn op_read(ctx: &mut Ctx<'_>, v: &Version, op: Op) {
    let o = match parse_op(ctx, v, 1, op, false) {
        Ok(o) => o,
        Err(e) => return ctx.err(&e),
    };
    let res = compute(&o, op);
    let items: Vec<ferrous_storage::ostree::Item> = res
        .iter()
        .map(|(score, m)| ferrous_storage::ostree::Item {
            score: *score,
            member: m[..].into(),
        })
        .collect();
    reply_items(ctx, items.len(), items.iter(), o.withscores);
}

fn op_store(ctx: &mut Ctx<'_>, v: &mut Version, op: Op, event: &'static str) {
    let lim = limits(ctx);
    let z = {
        let o = match parse_op(ctx, v, 2, op, true) {
            Ok(o) => o,
            Err(e) => return ctx.err(&e),
        };
        let res = compute(&o, op);
        let mut z = ZSet::with_hint(res.len(), usize::MAX, lim);
        for (s, m) in res {
            z.insert(&m, s, lim);
        }
        z
    };
    let dst = ctx.args[1].clone();
    let n = store_zset(ctx, v, &dst, z, event);
    ctx.out.int(n as i64);
}

fn zunion(ctx: &mut Ctx<'_>, v: &Version) {
    op_read(ctx, v, Op::Union)
}

fn zinter(ctx: &mut Ctx<'_>, v: &Version) {
    op_read(ctx, v, Op::Inter)
}

fn zdiff(ctx: &mut Ctx<'_>, v: &Version) {
    op_read(ctx, v, Op::Diff)
}

fn zunionstore(ctx: &mut Ctx<'_>, v: &mut Version) {
    op_store(ctx, v, Op::Union, "zunionstore")
}

fn zinterstore(ctx: &mut Ctx<'_>, v: &mut Version) {
    op_store(ctx, v, Op::Inter, "zinterstore")
}

fn zdiffstore(ctx: &mut Ctx<'_>, v: &mut Version) {
    op_store(ctx, v, Op::Diff, "zdiffstore")
}

fn zintercard(ctx: &mut Ctx<'_>, v: &Version) {
    let args = ctx.args;
    let n = match int_arg(&args[1]) {
        Ok(n) => n,
        Err(e) => return ctx.err(e),
    };
    if n < 1 {
        return ctx.err("ERR at least 1 input key is needed for 'zintercard' command");
    }
    if n as u64 > (args.len() - 2) as u64 {
        return ctx.err(errors::SYNTAX);
    }
    let n = n as usize;
    let mut srcs = Vec::with_capacity(n);
    for k in &args[2..2 + n] {
        match source(ctx, v, k) {
            Ok(s) => srcs.push(s),
            Err(e) => return ctx.err(e),
        }
    }
    let mut limit = 0u64;
    let mut j = 2 + n;
    while j < args.len() {
        if is(&args[j], "limit") && j + 1 < args.len() {
            match int_arg(&args[j + 1]) {
                Ok(l) if l >= 0 => limit = l as u64,
                _ => return ctx.err("ERR LIMIT can't be negative"),
            }
            j += 2;
        } else {
            return ctx.err(errors::SYNTAX);
        }
    }
    srcs.sort_by_key(|s| s.len());
    let mut count = 0u64;
    'next: for (m, _) in srcs[0].items() {
        for s in &srcs[1..] {
            if s.score(&m).is_none() {
                continue 'next;
            }
        }
        count += 1;
        if limit != 0 && count >= limit {
            break;
        }
    }
    ctx.out.int(count as i64);
}
