//! SORT and SORT_RO: sorting the elements of a list, set or sorted set,
//! numerically or lexicographically, by the elements themselves or by
//! external keys (`BY pattern`), with LIMIT, GET patterns, DESC and, for
//! SORT, STORE into a list.
//!
//! Ordering follows Redis 7.0: numeric ties are broken by comparing the
//! elements as byte strings; `BY` a pattern without `*` skips sorting
//! (lists and sorted sets keep their order, reversed by DESC); a set with
//! `BY nosort` and STORE, or inside a script, is sorted lexicographically so
//! the result is deterministic. Lexicographic comparison is byte order up to the first
//! NUL (Redis uses `strcoll`, the same in the C locale), or of the whole
//! strings with STORE.

use std::cmp::Ordering;

use bytes::Bytes;
use ferrous_storage::list::List;
use ferrous_storage::{Entry, SmallBytes, Value, Version};

use super::keyspec::*;
use super::{events, is, Ctx, Handler::*};
use crate::cmd;
use crate::errors;

/// SORT and SORT_RO.
pub static COMMANDS: &[super::CommandSpec] = &[
    cmd!("sort", -2, [WRITE, DENYOOM, MOVABLEKEYS], (1, 1, 1), Write(sort), "generic",
        "Sort the elements in a list, set or sorted set", "1.0.0",
        "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).",
        acl: ["-@keyspace", "@set", "@sortedset", "@list", "@dangerous"], tips: [],
        ks: [ks_range(RO | ACCESS, 1, 0, 1, 0),
            ks(RO | ACCESS, BeginSearch::Unknown, FindKeys::Unknown)
                .notes("For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort"),
            ks(OW | UPDATE, BeginSearch::Unknown, FindKeys::Unknown)
                .notes("For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array")],
        subs: &[]),
    cmd!("sort_ro", -2, [READONLY, MOVABLEKEYS], (1, 1, 1), Read(sort_ro), "generic",
        "Sort the elements in a list, set or sorted set. Read-only variant of SORT.", "7.0.0",
        "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).",
        acl: ["-@keyspace", "@set", "@sortedset", "@list", "@dangerous"], tips: [],
        ks: [ks_range(RO | ACCESS, 1, 0, 1, 0),
            ks(RO | ACCESS, BeginSearch::Unknown, FindKeys::Unknown)
                .notes("For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort")],
        subs: &[]),
];

const NOT_DOUBLE: &str = "ERR One or more scores can't be converted into double";

/// The parsed options.
struct Opts<'a> {
    desc: bool,
    alpha: bool,
    limit: Option<(i64, i64)>,
    by: Option<&'a [u8]>,
    dontsort: bool,
    gets: Vec<&'a [u8]>,
    store: Option<&'a Bytes>,
}

fn parse(args: &[Bytes], read_only: bool) -> Result<Opts<'_>, &'static str> {
    let mut o = Opts {
        desc: false,
        alpha: false,
        limit: None,
        by: None,
        dontsort: false,
        gets: Vec::new(),
        store: None,
    };
    let mut j = 2;
    while j < args.len() {
        let a = &args[j];
        let left = args.len() - j - 1;
        if is(a, "asc") {
            o.desc = false;
        } else if is(a, "desc") {
            o.desc = true;
        } else if is(a, "alpha") {
            o.alpha = true;
        } else if is(a, "limit") && left >= 2 {
            let (Ok(s), Ok(c)) = (super::int_arg(&args[j + 1]), super::int_arg(&args[j + 2]))
            else {
                return Err(errors::NOT_INTEGER);
            };
            o.limit = Some((s, c));
            j += 2;
        } else if is(a, "store") && left >= 1 && !read_only {
            o.store = Some(&args[j + 1]);
            j += 1;
        } else if is(a, "by") && left >= 1 {
            let p = &args[j + 1][..];
            // A pattern without `*` names one fixed key: nothing to sort by.
            o.dontsort = !super::cut_at_nul(p).contains(&b'*');
            o.by = Some(p);
            j += 1;
        } else if is(a, "get") && left >= 1 {
            o.gets.push(&args[j + 1]);
            j += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

/// What the key to sort holds.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    List,
    Set,
    ZSet,
}

/// The elements of the value to sort, in its native order.
fn elements(value: &Value) -> Result<(Kind, Vec<SmallBytes>), &'static str> {
    match value {
        Value::List(l) => Ok((Kind::List, l.iter().map(SmallBytes::from).collect())),
        Value::Set(s) => Ok((Kind::Set, set_members(s))),
        Value::ZSet(z) => Ok((Kind::ZSet, zset_members(z))),
        _ => Err(errors::WRONGTYPE),
    }
}

/// The members of a set, in iteration order (ascending for an intset).
fn set_members(s: &ferrous_storage::set::Set) -> Vec<SmallBytes> {
    s.iter().map(|m| m.to_bytes()).collect()
}

/// The members of a sorted set by ascending score (then member).
fn zset_members(z: &ferrous_storage::zset::ZSet) -> Vec<SmallBytes> {
    z.tree().iter().map(|it| it.member.clone()).collect()
}

/// Field `field` of hash `h` (for `BY`/`GET` patterns with `->field`).
fn hash_field<'v>(h: &'v ferrous_storage::hash::Hash, field: &[u8]) -> Option<&'v [u8]> {
    h.get(field)
}

/// Redis's `lookupKeyByPattern`: `#` is the element itself; otherwise the
/// first `*` is replaced by the element, and `key->field` reads a hash field.
fn by_pattern<'v>(
    ctx: &Ctx<'_>,
    v: &'v Version,
    pattern: &[u8],
    elem: &'v [u8],
) -> Option<&'v [u8]> {
    if pattern == b"#" {
        return Some(elem);
    }
    // C string functions: the searches stop at a NUL byte.
    let c = super::cut_at_nul(pattern);
    let star = c.iter().position(|&b| b == b'*')?;
    let arrow = c[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|i| star + 1 + i)
        .filter(|&f| c.get(f + 2).is_some_and(|&b| b != 0));
    let (key_end, field) = match arrow {
        Some(f) => (f, Some(&pattern[f + 2..])),
        None => (pattern.len(), None),
    };
    let mut key = Vec::with_capacity(key_end + elem.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(&pattern[star + 1..key_end]);
    let e = v.db(ctx.db()).get(&key, ctx.now);
    ctx.lookup(e.is_some());
    match (e.map(|e: &Entry| &e.value), field) {
        (Some(Value::Str { bytes, .. }), None) => Some(bytes.as_slice()),
        (Some(Value::Hash(h)), Some(f)) => hash_field(h, f),
        _ => None,
    }
}

/// C's `strtod` as SORT uses it: the whole string must parse, out-of-range
/// (overflow or underflow) and NaN are errors; the empty string is 0.
fn score_of(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?;
    let t = s.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    if t.is_empty() {
        // strtod converts nothing: only the empty string ends right there.
        return s.is_empty().then_some(0.0);
    }
    let lower = t.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    let literal_inf = body == "inf" || body == "infinity";
    if !literal_inf
        && !body
            .bytes()
            .all(|c| c.is_ascii_digit() || c == b'.' || c == b'e' || c == b'+' || c == b'-')
    {
        return None;
    }
    let x: f64 = t.parse().ok()?;
    if x.is_nan() || (x.is_infinite() && !literal_inf) {
        return None;
    }
    // Underflow: a nonzero mantissa that became 0 (strtod sets ERANGE).
    if x == 0.0 {
        let mant = body.split('e').next().unwrap_or("");
        if mant.bytes().any(|c| (b'1'..=b'9').contains(&c)) {
            return None;
        }
    }
    Some(x)
}

/// One element to sort with its sort key.
struct Item {
    elem: SmallBytes,
    score: f64,
    by: Option<SmallBytes>,
}

/// Runs the sort and returns the output rows (one per GET pattern per
/// element, or the elements), `None` standing for a missing GET value.
fn run(
    ctx: &Ctx<'_>,
    v: &Version,
    o: &mut Opts<'_>,
) -> Result<Vec<Option<SmallBytes>>, &'static str> {
    let key = &ctx.args[1];
    let entry = v.db(ctx.db()).get(key, ctx.now);
    ctx.lookup(entry.is_some());
    let (kind, elems) = match entry {
        None => (Kind::List, Vec::new()),
        Some(e) => elements(&e.value)?,
    };
    // SORT never blocks, so a detached client is a script's `redis.call`:
    // Redis sorts a set there too, so that scripts stay deterministic.
    if o.dontsort && kind == Kind::Set && (o.store.is_some() || ctx.client.detached) {
        o.dontsort = false;
        o.alpha = true;
        o.by = None;
    }
    let len = elems.len() as i64;
    let (mut start, mut end) = match o.limit {
        Some((s, c)) => {
            let s = s.max(0);
            let e = if c < 0 {
                len - 1
            } else {
                s.saturating_add(c).saturating_sub(1)
            };
            (s, e)
        }
        None => (0, len - 1),
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    let mut items: Vec<Item> = elems
        .into_iter()
        .map(|elem| Item {
            elem,
            score: 0.0,
            by: None,
        })
        .collect();
    if o.dontsort {
        if o.desc && kind != Kind::Set {
            items.reverse();
        }
    } else {
        for it in items.iter_mut() {
            let byval: Option<&[u8]> = match o.by {
                Some(p) => by_pattern(ctx, v, p, &it.elem),
                None => Some(&it.elem),
            };
            if o.alpha {
                if o.by.is_some() {
                    it.by = byval.map(SmallBytes::from);
                }
            } else if let Some(b) = byval {
                it.score = score_of(b).ok_or(NOT_DOUBLE)?;
            }
        }
        let alpha = o.alpha;
        let by = o.by.is_some();
        let desc = o.desc;
        // Without STORE Redis compares with strcoll, which stops at a NUL
        // byte; with STORE it compares the whole strings.
        let store = o.store.is_some();
        let text_cmp = |x: &[u8], y: &[u8]| {
            if store {
                x.cmp(y)
            } else {
                super::cut_at_nul(x).cmp(super::cut_at_nul(y))
            }
        };
        // A stable sort: Redis's sort of small arrays keeps equal items in
        // place too.
        items.sort_by(|a, b| {
            let c = if !alpha {
                a.score
                    .partial_cmp(&b.score)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| a.elem.as_slice().cmp(b.elem.as_slice()))
            } else if by {
                match (&a.by, &b.by) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (Some(x), Some(y)) => text_cmp(x, y),
                }
            } else {
                text_cmp(&a.elem, &b.elem)
            };
            if desc {
                c.reverse()
            } else {
                c
            }
        });
    }
    let mut out = Vec::new();
    if end < start || start < 0 {
        return Ok(out);
    }
    for it in &items[start as usize..=end as usize] {
        if o.gets.is_empty() {
            out.push(Some(it.elem.clone()));
        } else {
            for g in &o.gets {
                out.push(by_pattern(ctx, v, g, &it.elem).map(SmallBytes::from));
            }
        }
    }
    Ok(out)
}

fn reply(ctx: &mut Ctx<'_>, rows: &[Option<SmallBytes>]) {
    ctx.out.array(rows.len());
    for r in rows {
        match r {
            Some(b) => ctx.out.bulk(b),
            None => ctx.out.null(),
        }
    }
}

fn sort_ro(ctx: &mut Ctx<'_>, v: &Version) {
    let mut o = match parse(ctx.args, true) {
        Ok(o) => o,
        Err(e) => return ctx.err(e),
    };
    match run(ctx, v, &mut o) {
        Ok(rows) => reply(ctx, &rows),
        Err(e) => ctx.err(e),
    }
}

fn sort(ctx: &mut Ctx<'_>, v: &mut Version) {
    let args = ctx.args;
    let mut o = match parse(args, false) {
        Ok(o) => o,
        Err(e) => return ctx.err(e),
    };
    // Redis converts a listpack sorted set to a skiplist before sorting it
    // (visible in OBJECT ENCODING), without that counting as a write.
    if let Some(Entry {
        value: Value::ZSet(z),
        ..
    }) = v.db_mut(ctx.db()).get_mut_quiet(&args[1], ctx.now)
    {
        z.convert_to_skiplist();
    }
    let rows = match run(ctx, v, &mut o) {
        Ok(rows) => rows,
        Err(e) => return ctx.err(e),
    };
    let Some(dst) = o.store else {
        return reply(ctx, &rows);
    };
    let n = rows.len();
    let db = v.db_mut(ctx.db());
    if n > 0 {
        let existed = db.get(dst, ctx.now).is_some();
        let list = List::from_items(rows.into_iter().map(Option::unwrap_or_default));
        db.set(dst, Entry::new(Value::List(list)), false, ctx.now);
        ctx.dirty += n as u64;
        if !existed {
            ctx.key_ready(dst);
        }
        ctx.notify(events::LIST, "sortstore", dst);
    } else if db.remove_live(dst, ctx.now).is_some() {
        ctx.dirty += 1;
        ctx.notify(events::GENERIC, "del", dst);
    }
    ctx.out.int(n as i64);
}

/// SORT's keys for COMMAND GETKEYS (Redis's `sortGetKeys`): the sorted key
/// and the last STORE destination, skipping LIMIT/GET/BY arguments.
pub fn sort_keys(args: &[Bytes]) -> Vec<Bytes> {
    let mut keys = vec![args[1].clone()];
    let mut store = None;
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if is(a, "limit") {
            i += 2;
        } else if is(a, "get") || is(a, "by") {
            i += 1;
        } else if is(a, "store") && i + 1 < args.len() {
            store = Some(args[i + 1].clone());
        }
        i += 1;
    }
    keys.extend(store);
    keys
}
