//! List commands: pushes, pops (with counts, LMPOP), LLEN, LRANGE, LINDEX,
//! LSET, LINSERT, LREM, LTRIM, LPOS, LMOVE/RPOPLPUSH and the blocking forms
//! BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP (built on `crate::blocking`).
//! SORT lives in `sort.rs`.

use bytes::Bytes;
use ferrous_storage::list::{End, List};
use ferrous_storage::{Entry, SmallBytes, Value, Version};

use super::keyspec::*;
use super::{events, int_arg, is, Ctx, Handler::*};
use crate::blocking::{self, OnTimeout};
use crate::cmd;
use crate::errors;

/// The list commands.
pub static COMMANDS: &[super::CommandSpec] = &[
    cmd!("lpush", -3, [WRITE, DENYOOM, FAST], (1, 1, 1), Write(lpush), "list",
        "Prepend one or multiple elements to a list", "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", acl: [],
        tips: [], ks: [ks_range(RW | INSERT, 1, 0, 1, 0)], subs: &[]),
    cmd!("rpush", -3, [WRITE, DENYOOM, FAST], (1, 1, 1), Write(rpush), "list",
        "Append one or multiple elements to a list", "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", acl: [],
        tips: [], ks: [ks_range(RW | INSERT, 1, 0, 1, 0)], subs: &[]),
    cmd!("lpushx", -3, [WRITE, DENYOOM, FAST], (1, 1, 1), Write(lpushx), "list",
        "Prepend an element to a list, only if the list exists", "2.2.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        acl: [], tips: [], ks: [ks_range(RW | INSERT, 1, 0, 1, 0)], subs: &[]),
    cmd!("rpushx", -3, [WRITE, DENYOOM, FAST], (1, 1, 1), Write(rpushx), "list",
        "Append an element to a list, only if the list exists", "2.2.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        acl: [], tips: [], ks: [ks_range(RW | INSERT, 1, 0, 1, 0)], subs: &[]),
    cmd!("lpop", -2, [WRITE, FAST], (1, 1, 1), Write(lpop), "list",
        "Remove and get the first elements in a list", "1.0.0",
        "O(N) where N is the number of elements returned", acl: [],
        tips: [], ks: [ks_range(RW | ACCESS | DELETE, 1, 0, 1, 0)], subs: &[]),
    cmd!("rpop", -2, [WRITE, FAST], (1, 1, 1), Write(rpop), "list",
        "Remove and get the last elements in a list", "1.0.0",
        "O(N) where N is the number of elements returned", acl: [],
        tips: [], ks: [ks_range(RW | ACCESS | DELETE, 1, 0, 1, 0)], subs: &[]),
    cmd!("llen", 2, [READONLY, FAST], (1, 1, 1), Read(llen), "list",
        "Get the length of a list", "1.0.0", "O(1)", acl: [],
        tips: [], ks: [ks_range(RO, 1, 0, 1, 0)], subs: &[]),
    cmd!("lrange", 4, [READONLY], (1, 1, 1), Read(lrange), "list",
        "Get a range of elements from a list", "1.0.0",
        "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.",
        acl: [], tips: [], ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("lindex", 3, [READONLY], (1, 1, 1), Read(lindex), "list",
        "Get an element from a list by its index", "1.0.0",
        "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).",
        acl: [], tips: [], ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("lset", 4, [WRITE, DENYOOM], (1, 1, 1), Write(lset), "list",
        "Set the value of an element in a list by its index", "1.0.0",
        "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).",
        acl: [], tips: [], ks: [ks_range(RW | UPDATE, 1, 0, 1, 0)], subs: &[]),
    cmd!("linsert", 5, [WRITE, DENYOOM], (1, 1, 1), Write(linsert), "list",
        "Insert an element before or after another element in a list", "2.2.0",
        "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).",
        acl: [], tips: [], ks: [ks_range(RW | INSERT, 1, 0, 1, 0)], subs: &[]),
    cmd!("lrem", 4, [WRITE], (1, 1, 1), Write(lrem), "list",
        "Remove elements from a list", "1.0.0",
        "O(N+M) where N is the length of the list and M is the number of elements removed.",
        acl: [], tips: [], ks: [ks_range(RW | DELETE, 1, 0, 1, 0)], subs: &[]),
    cmd!("ltrim", 4, [WRITE], (1, 1, 1), Write(ltrim), "list",
        "Trim a list to the specified range", "1.0.0",
        "O(N) where N is the number of elements to be removed by the operation.",
        acl: [], tips: [], ks: [ks_range(RW | DELETE, 1, 0, 1, 0)], subs: &[]),
    cmd!("lpos", -3, [READONLY], (1, 1, 1), Read(lpos), "list",
        "Return the index of matching elements on a list", "6.0.6",
        "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.",
        acl: [], tips: [], ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("lmove", 5, [WRITE, DENYOOM], (1, 2, 1), Write(lmove), "list",
        "Pop an element from a list, push it to another list and return it", "6.2.0", "O(1)",
        acl: [], tips: [],
        ks: [ks_range(RW | ACCESS | DELETE, 1, 0, 1, 0), ks_range(RW | INSERT, 2, 0, 1, 0)],
        subs: &[]),
    cmd!("rpoplpush", 3, [WRITE, DENYOOM], (1, 2, 1), Write(rpoplpush), "list",
        "Remove the last element in a list, prepend it to another list and return it",
        "1.2.0", "O(1)", acl: [], tips: [],
        ks: [ks_range(RW | ACCESS | DELETE, 1, 0, 1, 0), ks_range(RW | INSERT, 2, 0, 1, 0)],
        subs: &[]),
    cmd!("lmpop", -4, [WRITE, MOVABLEKEYS], (0, 0, 0), Write(lmpop), "list",
        "Pop elements from a list", "7.0.0",
        "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
        acl: [], tips: [], ks: [ks_keynum(RW | ACCESS | DELETE, 1, 0, 1, 1)], subs: &[]),
    cmd!("blpop", -3, [WRITE, NOSCRIPT, BLOCKING], (1, -2, 1), Write(blpop), "list",
        "Remove and get the first element in a list, or block until one is available",
        "2.0.0", "O(N) where N is the number of provided keys.", acl: [], tips: [],
        ks: [ks_range(RW | ACCESS | DELETE, 1, -2, 1, 0)], subs: &[]),
    cmd!("brpop", -3, [WRITE, NOSCRIPT, BLOCKING], (1, -2, 1), Write(brpop), "list",
        "Remove and get the last element in a list, or block until one is available",
        "2.0.0", "O(N) where N is the number of provided keys.", acl: [], tips: [],
        ks: [ks_range(RW | ACCESS | DELETE, 1, -2, 1, 0)], subs: &[]),
    cmd!("blmove", 6, [WRITE, DENYOOM, NOSCRIPT, BLOCKING], (1, 2, 1), Write(blmove), "list",
        "Pop an element from a list, push it to another list and return it; or block until one is available",
        "6.2.0", "O(1)", acl: [], tips: [],
        ks: [ks_range(RW | ACCESS | DELETE, 1, 0, 1, 0), ks_range(RW | INSERT, 2, 0, 1, 0)],
        subs: &[]),
    cmd!("brpoplpush", 4, [WRITE, DENYOOM, NOSCRIPT, BLOCKING], (1, 2, 1), Write(brpoplpush),
        "list",
        "Pop an element from a list, push it to another list and return it; or block until one is available",
        "2.2.0", "O(1)", acl: [], tips: [],
        ks: [ks_range(RW | ACCESS | DELETE, 1, 0, 1, 0), ks_range(RW | INSERT, 2, 0, 1, 0)],
        subs: &[]),
    cmd!("blmpop", -5, [WRITE, BLOCKING, MOVABLEKEYS], (0, 0, 0), Write(blmpop), "list",
        "Pop elements from a list, or block until one is available", "7.0.0",
        "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
        acl: [], tips: [], ks: [ks_keynum(RW | ACCESS | DELETE, 2, 0, 1, 1)], subs: &[]),
];

const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";

/// The list at `key`: `Ok(None)` when absent, `Err` (WRONGTYPE) for another type.
pub fn get_list<'v>(
    ctx: &Ctx<'_>,
    v: &'v Version,
    key: &[u8],
) -> Result<Option<&'v List>, &'static str> {
    match v.db(ctx.db()).get(key, ctx.now) {
        None => Ok(None),
        Some(Entry {
            value: Value::List(l),
            ..
        }) => Ok(Some(l)),
        Some(_) => Err(errors::WRONGTYPE),
    }
}

/// [`get_list`] counted in the keyspace hit/miss statistics (read commands).
fn read_list<'v>(
    ctx: &Ctx<'_>,
    v: &'v Version,
    key: &[u8],
) -> Result<Option<&'v List>, &'static str> {
    let r = get_list(ctx, v, key);
    ctx.lookup(!matches!(r, Ok(None)));
    r
}

/// The list at `key`, mutable.
fn list_mut<'v>(
    ctx: &Ctx<'_>,
    v: &'v mut Version,
    key: &[u8],
) -> Result<Option<&'v mut List>, &'static str> {
    let db = v.db_mut(ctx.db());
    let e = db.get_mut_typed(key, ctx.now, |v| matches!(v, Value::List(_)));
    match e.map_err(|_| errors::WRONGTYPE)? {
        None => Ok(None),
        Some(Entry {
            value: Value::List(l),
            ..
        }) => Ok(Some(l)),
        Some(_) => Err(errors::WRONGTYPE),
    }
}

/// Deletes `key` if its list became empty, with the `del` event, as Redis
/// does after every removal.
fn drop_if_empty(ctx: &mut Ctx<'_>, v: &mut Version, key: &[u8]) {
    let empty = matches!(get_list(ctx, v, key), Ok(Some(l)) if l.is_empty());
    if empty {
        v.db_mut(ctx.db()).remove(key);
        ctx.notify(events::GENERIC, "del", key);
    }
}

fn end_name(end: End, push: bool) -> &'static str {
    match (end, push) {
        (End::Left, true) => "lpush",
        (End::Right, true) => "rpush",
        (End::Left, false) => "lpop",
        (End::Right, false) => "rpop",
    }
}

/// Pushes `elems` at `end` of the list at `key` (created unless `only_if_exists`);
/// returns the new length (0 when absent and `only_if_exists`).
pub fn push_elems(
    ctx: &mut Ctx<'_>,
    v: &mut Version,
    key: &[u8],
    elems: &[Bytes],
    end: End,
    only_if_exists: bool,
) -> Result<usize, &'static str> {
    let len = match list_mut(ctx, v, key)? {
        Some(l) => {
            for e in elems {
                l.push(end, e);
            }
            l.len()
        }
        None if only_if_exists => return Ok(0),
        None => {
            let mut l = List::new();
            for e in elems {
                l.push(end, e);
            }
            let n = l.len();
            v.db_mut(ctx.db())
                .insert(SmallBytes::from(key), Entry::new(Value::List(l)));
            n
        }
    };
    ctx.dirty += elems.len() as u64;
    ctx.key_ready(key);
    ctx.notify(events::LIST, end_name(end, true), key);
    Ok(len)
}

fn push_cmd(ctx: &mut Ctx<'_>, v: &mut Version, end: End, only_if_exists: bool) {
    let args = ctx.args;
    match push_elems(ctx, v, &args[1], &args[2..], end, only_if_exists) {
        Ok(n) => ctx.out.int(n as i64),
        Err(e) => ctx.err(e),
    }
}

fn lpush(ctx: &mut Ctx<'_>, v: &mut Version) {
    push_cmd(ctx, v, End::Left, false)
}
fn rpush(ctx: &mut Ctx<'_>, v: &mut Version) {
    push_cmd(ctx, v, End::Right, false)
}
fn lpushx(ctx: &mut Ctx<'_>, v: &mut Version) {
    push_cmd(ctx, v, End::Left, true)
}
fn rpushx(ctx: &mut Ctx<'_>, v: &mut Version) {
    push_cmd(ctx, v, End::Right, true)
}

/// Pops up to `count` elements from `end` of the list at `key` (which must
/// exist and be a list), with the pop event and the `del` event if emptied.
fn pop_elems(
    ctx: &mut Ctx<'_>,
    v: &mut Version,
    key: &[u8],
    end: End,
    count: usize,
) -> Vec<SmallBytes> {
    let mut out = Vec::new();
    let mut found = false;
    if let Ok(Some(l)) = list_mut(ctx, v, key) {
        found = true;
        let n = count.min(l.len());
        out.reserve(n);
        for _ in 0..n {
            if let Some(e) = l.pop(end) {
                out.push(e);
            }
        }
    }
    if !out.is_empty() {
        ctx.dirty += out.len() as u64;
        ctx.notify(events::LIST, end_name(end, false), key);
        drop_if_empty(ctx, v, key);
    } else if found {
        // Nothing popped (COUNT 0): the key is not signalled as modified.
        v.db_mut(ctx.db()).unlog(key);
    }
    out
}

fn pop_cmd(ctx: &mut Ctx<'_>, v: &mut Version, end: End) {
    let args = ctx.args;
    if args.len() > 3 {
        return ctx.err(&format!(
            "ERR wrong number of arguments for '{}' command",
            if end == End::Left { "lpop" } else { "rpop" }
        ));
    }
    let count = match args.get(2) {
        None => None,
        Some(a) => match int_arg(a) {
            Ok(n) if n >= 0 => Some(n as usize),
            _ => return ctx.err(MUST_BE_POSITIVE),
        },
    };
    let key = &args[1];
    match get_list(ctx, v, key) {
        Err(e) => return ctx.err(e),
        Ok(None) => {
            return if count.is_some() {
                ctx.out.null_array()
            } else {
                ctx.out.null()
            };
        }
        Ok(Some(_)) => {}
    }
    match count {
        None => {
            let e = pop_elems(ctx, v, key, end, 1);
            match e.first() {
                Some(e) => ctx.out.bulk(e),
                None => ctx.out.null(),
            }
        }
        Some(n) => {
            let e = pop_elems(ctx, v, key, end, n);
            ctx.out.array(e.len());
            for x in &e {
                ctx.out.bulk(x);
            }
        }
    }
}

fn lpop(ctx: &mut Ctx<'_>, v: &mut Version) {
    pop_cmd(ctx, v, End::Left)
}
fn rpop(ctx: &mut Ctx<'_>, v: &mut Version) {
    pop_cmd(ctx, v, End::Right)
}

fn llen(ctx: &mut Ctx<'_>, v: &Version) {
    match read_list(ctx, v, &ctx.args[1]) {
        Ok(l) => ctx.out.int(l.map_or(0, |l| l.len()) as i64),
        Err(e) => ctx.err(e),
    }
}

/// Redis's start/stop normalisation: the half-open range they select in a
/// list of `len` elements (empty when out of range).
pub fn range_of(start: i64, stop: i64, len: usize) -> (usize, usize) {
    let len = len as i64;
    let mut start = if start < 0 {
        start.saturating_add(len)
    } else {
        start
    };
    let mut stop = if stop < 0 {
        stop.saturating_add(len)
    } else {
        stop
    };
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= len {
        return (0, 0);
    }
    if stop >= len {
        stop = len - 1;
    }
    (start as usize, stop as usize + 1)
}

fn lrange(ctx: &mut Ctx<'_>, v: &Version) {
    let args = ctx.args;
    let (start, stop) = match (int_arg(&args[2]), int_arg(&args[3])) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return ctx.err(errors::NOT_INTEGER),
    };
    match read_list(ctx, v, &args[1]) {
        Err(e) => ctx.err(e),
        Ok(None) => ctx.out.array(0),
        Ok(Some(l)) => {
            let (a, b) = range_of(start, stop, l.len());
            ctx.out.array(b - a);
            for e in l.range(a, b) {
                ctx.out.bulk(e);
            }
        }
    }
}

/// The position `index` (negative from the tail) names in a list of `len`.
fn index_of(index: i64, len: usize) -> Option<usize> {
    let i = if index < 0 {
        index.checked_add(len as i64)?
    } else {
        index
    };
    (i >= 0 && (i as u64) < len as u64).then_some(i as usize)
}

fn lindex(ctx: &mut Ctx<'_>, v: &Version) {
    let args = ctx.args;
    let l = match read_list(ctx, v, &args[1]) {
        Err(e) => return ctx.err(e),
        Ok(None) => return ctx.out.null(),
        Ok(Some(l)) => l,
    };
    let Ok(index) = int_arg(&args[2]) else {
        return ctx.err(errors::NOT_INTEGER);
    };
    match index_of(index, l.len()).and_then(|i| l.get(i)) {
        Some(e) => ctx.out.bulk(e),
        None => ctx.out.null(),
    }
}

fn lset(ctx: &mut Ctx<'_>, v: &mut Version) {
    let args = ctx.args;
    let key = &args[1];
    let l = match list_mut(ctx, v, key) {
        Err(e) => return ctx.err(e),
        Ok(None) => return ctx.err(errors::NO_SUCH_KEY),
        Ok(Some(l)) => l,
    };
    let Some(i) = int_arg(&args[2]).ok().map(|index| index_of(index, l.len())) else {
        v.db_mut(ctx.db()).unlog(key);
        return ctx.err(errors::NOT_INTEGER);
    };
    match i {
        Some(i) => {
            l.set(i, &args[3]);
            ctx.dirty += 1;
            ctx.out.ok();
            ctx.notify(events::LIST, "lset", key);
        }
        None => {
            v.db_mut(ctx.db()).unlog(key);
            ctx.err("ERR index out of range")
        }
    }
}

fn linsert(ctx: &mut Ctx<'_>, v: &mut Version) {
    let args = ctx.args;
    let after = if is(&args[2], "after") {
        true
    } else if is(&args[2], "before") {
        false
    } else {
        return ctx.err(errors::SYNTAX);
    };
    let key = &args[1];
    let l = match list_mut(ctx, v, key) {
        Err(e) => return ctx.err(e),
        Ok(None) => return ctx.out.int(0),
        Ok(Some(l)) => l,
    };
    let Some(pos) = l.iter().position(|e| e == &args[3][..]) else {
        v.db_mut(ctx.db()).unlog(key);
        return ctx.out.int(-1);
    };
    l.insert(pos + after as usize, &args[4]);
    let n = l.len();
    ctx.dirty += 1;
    ctx.out.int(n as i64);
    ctx.notify(events::LIST, "linsert", key);
}

fn lrem(ctx: &mut Ctx<'_>, v: &mut Version) {
    let args = ctx.args;
    let Ok(count) = int_arg(&args[2]) else {
        return ctx.err(errors::NOT_INTEGER);
    };
    let key = &args[1];
    let l = match list_mut(ctx, v, key) {
        Err(e) => return ctx.err(e),
        Ok(None) => return ctx.out.int(0),
        Ok(Some(l)) => l,
    };
    let n = l.remove_eq(
        &args[3],
        count.unsigned_abs().min(usize::MAX as u64) as usize,
        count < 0,
    );
    ctx.out.int(n as i64);
    if n > 0 {
        ctx.dirty += n as u64;
        ctx.notify(events::LIST, "lrem", key);
        drop_if_empty(ctx, v, key);
    } else {
        v.db_mut(ctx.db()).unlog(key);
    }
}

fn ltrim(ctx: &mut Ctx<'_>, v: &mut Version) {
    let args = ctx.args;
    let (start, stop) = match (int_arg(&args[2]), int_arg(&args[3])) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return ctx.err(errors::NOT_INTEGER),
    };
    let key = &args[1];
    let l = match list_mut(ctx, v, key) {
        Err(e) => return ctx.err(e),
        Ok(None) => return ctx.out.ok(),
        Ok(Some(l)) => l,
    };
    let len = l.len();
    let (a, b) = range_of(start, stop, len);
    l.keep_range(a, b);
    ctx.dirty += (len - (b - a)) as u64;
    ctx.out.ok();
    ctx.notify(events::LIST, "ltrim", key);
    drop_if_empty(ctx, v, key);
}

fn lpos(ctx: &mut Ctx<'_>, v: &Version) {
    let args = ctx.args;
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut i = 3;
    while i < args.len() {
        let Some(val) = args.get(i + 1) else {
            return ctx.err(errors::SYNTAX);
        };
        let Ok(n) = int_arg(val) else {
            return ctx.err(errors::NOT_INTEGER);
        };
        if is(&args[i], "rank") {
            if n == 0 {
                return ctx.err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list");
            }
            rank = n;
        } else if is(&args[i], "count") {
            if n < 0 {
                return ctx.err("ERR COUNT can't be negative");
            }
            count = Some(n);
        } else if is(&args[i], "maxlen") {
            if n < 0 {
                return ctx.err("ERR MAXLEN can't be negative");
            }
            maxlen = n;
        } else {
            return ctx.err(errors::SYNTAX);
        }
        i += 2;
    }
    let l = match read_list(ctx, v, &args[1]) {
        Err(e) => return ctx.err(e),
        Ok(None) => {
            return if count.is_some() {
                ctx.out.array(0)
            } else {
                ctx.out.null()
            };
        }
        Ok(Some(l)) => l,
    };
    let from_tail = rank < 0;
    // Like Redis, the most negative rank wraps to itself: any match counts.
    let rank = if from_tail { rank.wrapping_neg() } else { rank };
    let len = l.len();
    let limit = if maxlen == 0 {
        len
    } else {
        (maxlen as u64).min(len as u64) as usize
    };
    let elem = &args[2][..];
    let mut found: Vec<usize> = Vec::new();
    let mut matches: i64 = 0;
    let mut visit = |idx: usize, e: &[u8]| -> bool {
        if e != elem {
            return true;
        }
        matches += 1;
        if matches >= rank {
            found.push(idx);
            match count {
                None => return false,
                // Redis's test, wrapping like its C arithmetic does for the
                // most negative rank (which then collects every match).
                Some(c) => {
                    if c != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= c {
                        return false;
                    }
                }
            }
        }
        true
    };
    if from_tail {
        for (k, e) in l.iter().rev().take(limit).enumerate() {
            if !visit(len - 1 - k, e) {
                break;
            }
        }
    } else {
        for (k, e) in l.iter().take(limit).enumerate() {
            if !visit(k, e) {
                break;
            }
        }
    }
    match count {
        None => match found.first() {
            Some(&i) => ctx.out.int(i as i64),
            None => ctx.out.null(),
        },
        Some(_) => {
            ctx.out.array(found.len());
            for i in found {
                ctx.out.int(i as i64);
            }
        }
    }
}

fn parse_end(b: &[u8]) -> Option<End> {
    if is(b, "left") {
        Some(End::Left)
    } else if is(b, "right") {
        Some(End::Right)
    } else {
        None
    }
}

/// LMOVE's core: pops from `from` of `src` and pushes at `to` of `dst`.
/// `Ok(None)` when `src` is empty; WRONGTYPE when either key is not a list
/// (checked before anything changes).
fn move_elem(
    ctx: &mut Ctx<'_>,
    v: &mut Version,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
) -> Result<Option<SmallBytes>, &'static str> {
    if get_list(ctx, v, src)?.is_none() {
        return Ok(None);
    }
    get_list(ctx, v, dst)?;
    let Some(e) = list_mut(ctx, v, src)?.and_then(|l| l.pop(from)) else {
        return Ok(None);
    };
    // Redis's order: the push (and its event), then the pop's event, then
    // the source's deletion if it became empty (after the push, so a
    // rotation of a one-element list keeps it).
    push_elems(ctx, v, dst, &[Bytes::copy_from_slice(&e)], to, false)?;
    ctx.notify(events::LIST, end_name(from, false), src);
    drop_if_empty(ctx, v, src);
    Ok(Some(e))
}

fn lmove_generic(ctx: &mut Ctx<'_>, v: &mut Version, from: End, to: End) {
    let args = ctx.args;
    match move_elem(ctx, v, &args[1], &args[2], from, to) {
        Ok(Some(e)) => ctx.out.bulk(&e),
        Ok(None) => ctx.out.null(),
        Err(e) => ctx.err(e),
    }
}

fn lmove(ctx: &mut Ctx<'_>, v: &mut Version) {
    let args = ctx.args;
    let (Some(from), Some(to)) = (parse_end(&args[3]), parse_end(&args[4])) else {
        return ctx.err(errors::SYNTAX);
    };
    lmove_generic(ctx, v, from, to)
}

fn rpoplpush(ctx: &mut Ctx<'_>, v: &mut Version) {
    lmove_generic(ctx, v, End::Right, End::Left)
}

/// The parsed arguments of LMPOP/BLMPOP after `numkeys`.
struct MpopArgs<'a> {
    keys: &'a [Bytes],
    end: End,
    count: usize,
}

/// Parses `numkeys key... LEFT|RIGHT [COUNT n]` starting at `args[0]`.
fn parse_mpop(args: &[Bytes]) -> Result<MpopArgs<'_>, &'static str> {
    const NUMKEYS: &str = "ERR numkeys should be greater than 0";
    let numkeys = match int_arg(&args[0]) {
        Ok(n) if n > 0 => n as u64,
        _ => return Err(NUMKEYS),
    };
    let rest = &args[1..];
    if numkeys >= rest.len() as u64 {
        return Err(errors::SYNTAX);
    }
    let nk = numkeys as usize;
    let keys = &rest[..nk];
    let Some(end) = parse_end(&rest[nk]) else {
        return Err(errors::SYNTAX);
    };
    let mut count = 1usize;
    let opts = &rest[nk + 1..];
    match opts {
        [] => {}
        [c, n] if is(c, "count") => match int_arg(n) {
            Ok(n) if n > 0 => count = n as usize,
            _ => return Err("ERR count should be greater than 0"),
        },
        _ => return Err(errors::SYNTAX),
    }
    Ok(MpopArgs { keys, end, count })
}

/// Pops from the first non-empty list of `keys` and writes `[key, [elems]]`;
/// false when all are empty. A wrong-type key is an error the first time,
/// skipped when re-run for a blocked client (Redis 7.0 keeps it blocked).
fn mpop_from(ctx: &mut Ctx<'_>, v: &mut Version, m: &MpopArgs<'_>) -> Result<bool, &'static str> {
    for key in &blocking::keys_to_serve(ctx, m.keys) {
        match get_list(ctx, v, key) {
            Ok(Some(_)) => {
                let e = pop_elems(ctx, v, key, m.end, m.count);
                ctx.out.array(2);
                ctx.out.bulk(key);
                ctx.out.array(e.len());
                for x in &e {
                    ctx.out.bulk(x);
                }
                return Ok(true);
            }
            Ok(None) => {}
            Err(e) if !blocking::is_rerun(ctx) => return Err(e),
            Err(_) => {}
        }
    }
    Ok(false)
}

fn lmpop(ctx: &mut Ctx<'_>, v: &mut Version) {
    let m = match parse_mpop(&ctx.args[1..]) {
        Ok(m) => m,
        Err(e) => return ctx.err(e),
    };
    match mpop_from(ctx, v, &m) {
        Ok(true) => {}
        Ok(false) => ctx.out.null_array(),
        Err(e) => ctx.err(e),
    }
}

fn blmpop(ctx: &mut Ctx<'_>, v: &mut Version) {
    let args = ctx.args;
    let deadline = match blocking::parse_timeout(&args[1], ctx.now) {
        Ok(d) => d,
        Err(e) => return ctx.err(e),
    };
    let m = match parse_mpop(&args[2..]) {
        Ok(m) => m,
        Err(e) => return ctx.err(e),
    };
    match mpop_from(ctx, v, &m) {
        Ok(true) => {}
        Ok(false) => blocking::block(ctx, m.keys, deadline, OnTimeout::NullArray),
        Err(e) => ctx.err(e),
    }
}

fn bpop(ctx: &mut Ctx<'_>, v: &mut Version, end: End) {
    let args = ctx.args;
    let deadline = match blocking::parse_timeout(&args[args.len() - 1], ctx.now) {
        Ok(d) => d,
        Err(e) => return ctx.err(e),
    };
    let keys = &args[1..args.len() - 1];
    for key in &blocking::keys_to_serve(ctx, keys) {
        match get_list(ctx, v, key) {
            Ok(Some(_)) => {
                let e = pop_elems(ctx, v, key, end, 1);
                if let Some(e) = e.first() {
                    ctx.out.array(2);
                    ctx.out.bulk(key);
                    ctx.out.bulk(e);
                    return;
                }
            }
            Ok(None) => {}
            Err(e) if !blocking::is_rerun(ctx) => return ctx.err(e),
            Err(_) => {}
        }
    }
    blocking::block(ctx, keys, deadline, OnTimeout::NullArray);
}

fn blpop(ctx: &mut Ctx<'_>, v: &mut Version) {
    bpop(ctx, v, End::Left)
}
fn brpop(ctx: &mut Ctx<'_>, v: &mut Version) {
    bpop(ctx, v, End::Right)
}

fn bmove(ctx: &mut Ctx<'_>, v: &mut Version, from: End, to: End, timeout: &[u8]) {
    let args = ctx.args;
    let deadline = match blocking::parse_timeout(timeout, ctx.now) {
        Ok(d) => d,
        Err(e) => return ctx.err(e),
    };
    let (src, dst) = (&args[1], &args[2]);
    // A source that changed type keeps a blocked client waiting (Redis
    // 7.0); a destination of the wrong type is reported to it.
    if blocking::is_rerun(ctx) && get_list(ctx, v, src).is_err() {
        return blocking::block(ctx, &args[1..2], deadline, OnTimeout::NullBulk);
    }
    match move_elem(ctx, v, src, dst, from, to) {
        Ok(Some(e)) => ctx.out.bulk(&e),
        Ok(None) => blocking::block(ctx, &args[1..2], deadline, OnTimeout::NullBulk),
        Err(e) => ctx.err(e),
    }
}

fn blmove(ctx: &mut Ctx<'_>, v: &mut Version) {
    let args = ctx.args;
    let (Some(from), Some(to)) = (parse_end(&args[3]), parse_end(&args[4])) else {
        return ctx.err(errors::SYNTAX);
    };
    bmove(ctx, v, from, to, &args[5])
}

fn brpoplpush(ctx: &mut Ctx<'_>, v: &mut Version) {
    let args = ctx.args;
    bmove(ctx, v, End::Right, End::Left, &args[3])
}
