//! Generic key commands: DEL, UNLINK, EXISTS, TYPE, TOUCH, KEYS, SCAN,
//! RANDOMKEY, RENAME, RENAMENX, MOVE, COPY and the OBJECT container.
//! The expiry commands live in `expire.rs`.

use std::sync::atomic::Ordering;

use ferrous_storage::value::parse_i64;
use ferrous_storage::{Db, SmallBytes, Value, Version};

use super::keyspec::*;
use super::{cut_at_nul, int_arg, is, Ctx, Handler::*};
use crate::cmd;
use crate::errors;
use crate::glob;

/// The generic key commands.
pub static COMMANDS: &[super::CommandSpec] = &[
    cmd!("del", -2, [WRITE], (1, -1, 1), Write(del), "generic",
        "Delete a key", "1.0.0",
        "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).",
        acl: [],
        tips: ["request_policy:multi_shard", "response_policy:agg_sum"],
        ks: [ks_range(RM | DELETE, 1, -1, 1, 0)], subs: &[]),
    cmd!("unlink", -2, [WRITE, FAST], (1, -1, 1), Write(del), "generic",
        "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
        "4.0.0",
        "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.",
        acl: [],
        tips: ["request_policy:multi_shard", "response_policy:agg_sum"],
        ks: [ks_range(RM | DELETE, 1, -1, 1, 0)], subs: &[]),
    cmd!("exists", -2, [READONLY, FAST], (1, -1, 1), Read(exists), "generic",
        "Determine if a key exists", "1.0.0", "O(N) where N is the number of keys to check.",
        acl: [],
        tips: ["request_policy:multi_shard", "response_policy:agg_sum"],
        ks: [ks_range(RO, 1, -1, 1, 0)], subs: &[]),
    cmd!("type", 2, [READONLY, FAST], (1, 1, 1), Read(type_), "generic",
        "Determine the type stored at key", "1.0.0", "O(1)", acl: [],
        tips: [], ks: [ks_range(RO, 1, 0, 1, 0)], subs: &[]),
    cmd!("touch", -2, [READONLY, FAST], (1, -1, 1), Read(exists), "generic",
        "Alters the last access time of a key(s). Returns the number of existing keys specified.",
        "3.2.1", "O(N) where N is the number of keys that will be touched.",
        acl: [],
        tips: ["request_policy:multi_shard", "response_policy:agg_sum"],
        ks: [ks_range(RO, 1, -1, 1, 0)], subs: &[]),
    cmd!("keys", 2, [READONLY], (0, 0, 0), Read(keys), "generic",
        "Find all keys matching the given pattern", "1.0.0",
        "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.",
        acl: ["@dangerous"],
        tips: ["request_policy:all_shards", "nondeterministic_output_order"], ks: [], subs: &[]),
    cmd!("scan", -2, [READONLY], (0, 0, 0), Read(scan), "generic",
        "Incrementally iterate the keys space", "2.8.0",
        "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        acl: [], tips: ["nondeterministic_output", "request_policy:special"], ks: [], subs: &[]),
    cmd!("randomkey", 1, [READONLY], (0, 0, 0), Read(randomkey), "generic",
        "Return a random key from the keyspace", "1.0.0", "O(1)", acl: [],
        tips: ["request_policy:all_shards", "nondeterministic_output"], ks: [], subs: &[]),
    cmd!("rename", 3, [WRITE], (1, 2, 1), Write(rename), "generic",
        "Rename a key", "1.0.0", "O(1)", acl: [],
        tips: [],
        ks: [ks_range(RW | ACCESS | DELETE, 1, 0, 1, 0),
            ks_range(OW | UPDATE, 2, 0, 1, 0)], subs: &[]),
    cmd!("renamenx", 3, [WRITE, FAST], (1, 2, 1), Write(renamenx), "generic",
        "Rename a key, only if the new key does not exist", "1.0.0", "O(1)",
        acl: [],
        tips: [],
        ks: [ks_range(RW | ACCESS | DELETE, 1, 0, 1, 0),
            ks_range(OW | INSERT, 2, 0, 1, 0)], subs: &[]),
    cmd!("move", 3, [WRITE, FAST], (1, 1, 1), Write(move_), "generic",
        "Move a key to another database", "1.0.0", "O(1)", acl: [],
        tips: [], ks: [ks_range(RW | ACCESS | UPDATE, 1, 0, 1, 0)], subs: &[]),
    cmd!("copy", -3, [WRITE, DENYOOM], (1, 2, 1), Write(copy), "generic",
        "Copy a key", "6.2.0",
        "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.",
        acl: [],
        tips: [],
        ks: [ks_range(RO | ACCESS, 1, 0, 1, 0),
            ks_range(OW | UPDATE, 2, 0, 1, 0)], subs: &[]),
    cmd!("object", -2, [], (0, 0, 0), Container, "generic",
        "A container for object introspection commands", "2.2.3", "Depends on subcommand.",
        acl: [], tips: [], ks: [], subs: OBJECT_SUBCOMMANDS),
];

static OBJECT_SUBCOMMANDS: &[super::CommandSpec] = &[
    cmd!("encoding", 3, [READONLY], (2, 2, 1), Read(object_encoding), "generic",
        "Inspect the internal encoding of a Redis object", "2.2.3", "O(1)", acl: [],
        tips: ["nondeterministic_output"], ks: [ks_range(RO, 2, 0, 1, 0)], subs: &[]),
    cmd!("refcount", 3, [READONLY], (2, 2, 1), Read(object_refcount), "generic",
        "Get the number of references to the value of the key", "2.2.3", "O(1)",
        acl: [],
        tips: ["nondeterministic_output"], ks: [ks_range(RO, 2, 0, 1, 0)], subs: &[]),
    cmd!("idletime", 3, [READONLY], (2, 2, 1), Read(object_idletime), "generic",
        "Get the time since a Redis object was last accessed", "2.2.3", "O(1)",
        acl: [],
        tips: ["nondeterministic_output"], ks: [ks_range(RO, 2, 0, 1, 0)], subs: &[]),
    cmd!("freq", 3, [READONLY], (2, 2, 1), Read(object_freq), "generic",
        "Get the logarithmic access frequency counter of a Redis object", "4.0.0", "O(1)",
        acl: [],
        tips: ["nondeterministic_output"], ks: [ks_range(RO, 2, 0, 1, 0)], subs: &[]),
    cmd!("help", 2, [LOADING, STALE], (0, 0, 0), Conn(object_help), "generic",
        "Show helpful text about the different subcommands", "6.2.0", "O(1)",
        acl: [], tips: [], ks: [], subs: &[]),
];

/// Deletes `key` from `db` if it is expired, as a write that meets it does,
/// counting it in `expired_keys`.
pub(super) fn expire_if_needed(ctx: &Ctx<'_>, db: &mut Db, key: &[u8]) {
    if db.expire_if_needed(key, ctx.now) {
        ctx.srv.stats.expired_keys.fetch_add(1, Ordering::Relaxed);
    }
}

/// DEL and UNLINK (freeing is cheap here: a persistent value is dropped when
/// its last version goes, so there is nothing to hand to another thread).
fn del(ctx: &mut Ctx<'_>, v: &mut Version) {
    let db = ctx.db();
    let mut n = 0;
    for k in &ctx.args[1..] {
        if let Some(e) = v.db_mut(db).remove_live(k, ctx.now) {
            n += 1;
            // Clients blocked in XREADGROUP on a deleted stream get an error.
            if matches!(e.value, ferrous_storage::Value::Stream(_)) {
                ctx.key_ready(k);
            }
        }
    }
    ctx.dirty += n as u64;
    ctx.out.int(n);
}

/// EXISTS and TOUCH: how many of the keys exist (repeated keys count again).
/// TOUCH has nothing more to do: access times are not tracked.
fn exists(ctx: &mut Ctx<'_>, v: &Version) {
    let db = v.db(ctx.db());
    let mut n = 0;
    for k in &ctx.args[1..] {
        let found = db.get(k, ctx.now).is_some();
        ctx.lookup(found);
        n += found as i64;
    }
    ctx.out.int(n);
}

fn type_(ctx: &mut Ctx<'_>, v: &Version) {
    let e = v.db(ctx.db()).get(&ctx.args[1], ctx.now);
    ctx.lookup(e.is_some());
    ctx.out.status(e.map_or("none", |e| e.value.type_name()));
}

fn keys(ctx: &mut Ctx<'_>, v: &Version) {
    let pat = &ctx.args[1][..];
    let all = pat == b"*";
    let found: Vec<&SmallBytes> = v
        .db(ctx.db())
        .iter()
        .filter(|(k, e)| !e.is_expired(ctx.now) && (all || glob::matches(pat, k, false)))
        .map(|(k, _)| k)
        .collect();
    ctx.out.array(found.len());
    for k in found {
        ctx.out.bulk(k);
    }
}

/// Parses a SCAN cursor the way Redis does with `strtoul`: an optional sign,
/// decimal digits, nothing else (no leading space); a negative number wraps
/// around; the text ends at the first NUL byte, and an empty one is 0.
pub fn parse_cursor(arg: &[u8]) -> Option<u64> {
    let b = cut_at_nul(arg);
    let (neg, digits) = match b.first() {
        None => return Some(0),
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        Some(_) => (false, b),
    };
    if digits.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(if neg { n.wrapping_neg() } else { n })
}

/// SCAN's cursor is the hash of the next entry to visit (see [`Db::scan`]).
fn scan(ctx: &mut Ctx<'_>, v: &Version) {
    let args = ctx.args;
    let Some(cursor) = parse_cursor(&args[1]) else {
        return ctx.err(errors::INVALID_CURSOR);
    };
    let mut count: i64 = 10;
    let mut pattern: Option<&[u8]> = None;
    let mut type_name: Option<&[u8]> = None;
    let mut i = 2;
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
        } else if is(&args[i], "type") {
            type_name = Some(&val[..]);
        } else {
            return ctx.err(errors::SYNTAX);
        }
        i += 2;
    }
    let mut found: Vec<&SmallBytes> = Vec::new();
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    let next = v.db(ctx.db()).scan(cursor, count, ctx.now, |k, e| {
        let type_ok =
            type_name.is_none_or(|t| t.eq_ignore_ascii_case(e.value.type_name().as_bytes()));
        if type_ok && pattern.is_none_or(|p| glob::matches(p, k, false)) {
            found.push(k);
        }
    });
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(found.len());
    for k in found {
        ctx.out.bulk(k);
    }
}

fn randomkey(ctx: &mut Ctx<'_>, v: &Version) {
    match v.db(ctx.db()).random_key(crate::server::rand_u64, ctx.now) {
        Some(k) => ctx.out.bulk(k),
        None => ctx.out.null(),
    }
}

fn rename(ctx: &mut Ctx<'_>, v: &mut Version) {
    rename_generic(ctx, v, false);
}

fn renamenx(ctx: &mut Ctx<'_>, v: &mut Version) {
    rename_generic(ctx, v, true);
}

/// RENAME and RENAMENX. The entry moves whole, so the TTL goes with it; a
/// destination that is overwritten loses its own TTL.
fn rename_generic(ctx: &mut Ctx<'_>, v: &mut Version, nx: bool) {
    let (src, dst) = (&ctx.args[1], &ctx.args[2]);
    let db = v.db_mut(ctx.db());
    expire_if_needed(ctx, db, src);
    if db.get(src, ctx.now).is_none() {
        return ctx.err(errors::NO_SUCH_KEY);
    }
    if src == dst {
        return if nx { ctx.out.int(0) } else { ctx.out.ok() };
    }
    expire_if_needed(ctx, db, dst);
    if nx && db.get(dst, ctx.now).is_some() {
        return ctx.out.int(0);
    }
    if let Some(e) = db.remove(src) {
        db.insert(SmallBytes::from(&dst[..]), e);
    }
    ctx.dirty += 1;
    if nx {
        ctx.out.int(1)
    } else {
        ctx.out.ok()
    }
}

/// Parses a database index like Redis's `getIntFromObjectOrReply` followed
/// by a range check against the configured number of databases.
fn db_index(arg: &[u8], num_dbs: usize) -> Result<usize, &'static str> {
    let n = int_arg(arg)?;
    if i32::try_from(n).is_err() {
        return Err(errors::INT_RANGE);
    }
    usize::try_from(n)
        .ok()
        .filter(|&i| i < num_dbs)
        .ok_or(errors::DB_INDEX)
}

/// MOVE: the entry (and its TTL) goes to the other database unless the key
/// already exists there.
fn move_(ctx: &mut Ctx<'_>, v: &mut Version) {
    let key = &ctx.args[1];
    let to = match db_index(&ctx.args[2], v.num_dbs()) {
        Ok(i) => i,
        Err(e) => return ctx.err(e),
    };
    let from = ctx.db();
    if from == to {
        return ctx.err(errors::SAME_OBJECT);
    }
    expire_if_needed(ctx, v.db_mut(from), key);
    if v.db(from).get(key, ctx.now).is_none() {
        return ctx.out.int(0);
    }
    expire_if_needed(ctx, v.db_mut(to), key);
    if v.db(to).get(key, ctx.now).is_some() {
        return ctx.out.int(0);
    }
    if let Some(e) = v.db_mut(from).remove(key) {
        v.db_mut(to).insert(SmallBytes::from(&key[..]), e);
    }
    ctx.dirty += 1;
    ctx.out.int(1);
}

/// COPY source destination [DB index] [REPLACE]: the copy shares the
/// persistent value and gets the same TTL.
fn copy(ctx: &mut Ctx<'_>, v: &mut Version) {
    let args = ctx.args;
    let (src, dst) = (&args[1], &args[2]);
    let from = ctx.db();
    let mut to = from;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if is(&args[i], "replace") {
            replace = true;
        } else if is(&args[i], "db") && i + 1 < args.len() {
            to = match db_index(&args[i + 1], v.num_dbs()) {
                Ok(n) => n,
                Err(e) => return ctx.err(e),
            };
            i += 1;
        } else {
            return ctx.err(errors::SYNTAX);
        }
        i += 1;
    }
    if from == to && src == dst {
        return ctx.err(errors::SAME_OBJECT);
    }
    expire_if_needed(ctx, v.db_mut(from), src);
    let Some(entry) = v.db(from).get(src, ctx.now).cloned() else {
        ctx.lookup(false);
        return ctx.out.int(0);
    };
    ctx.lookup(true);
    expire_if_needed(ctx, v.db_mut(to), dst);
    if v.db(to).get(dst, ctx.now).is_some() && !replace {
        return ctx.out.int(0);
    }
    v.db_mut(to).insert(SmallBytes::from(&dst[..]), entry);
    ctx.dirty += 1;
    ctx.out.int(1);
}

/// The value at the OBJECT subcommand's key, counting the lookup; replies
/// null and returns `None` when the key is missing.
fn object_value<'v>(ctx: &mut Ctx<'_>, v: &'v Version) -> Option<&'v Value> {
    let e = v.db(ctx.db()).get(&ctx.args[2], ctx.now);
    ctx.lookup(e.is_some());
    if e.is_none() {
        ctx.out.null();
    }
    e.map(|e| &e.value)
}

fn object_encoding(ctx: &mut Ctx<'_>, v: &Version) {
    if let Some(val) = object_value(ctx, v) {
        ctx.out.bulk(val.encoding().as_bytes());
    }
}

/// Redis shares the integers 0..10000 between keys (with a refcount pinned
/// at `INT_MAX`) unless an LRU/LFU policy with a memory limit needs a
/// per-object access time; everything else has one reference.
fn object_refcount(ctx: &mut Ctx<'_>, v: &Version) {
    let Some(val) = object_value(ctx, v) else {
        return;
    };
    let shared = match val {
        Value::Str { bytes, .. } => {
            val.encoding() == "int"
                && parse_i64(bytes).is_some_and(|n| (0..10_000).contains(&n))
                && !evicts_by_access(ctx)
        }
        #[allow(unreachable_patterns)]
        _ => false,
    };
    ctx.out.int(if shared { i32::MAX as i64 } else { 1 });
}

/// Whether a memory limit is set with an LRU or LFU eviction policy.
fn evicts_by_access(ctx: &Ctx<'_>) -> bool {
    let policy = ctx.srv.config.get("maxmemory-policy");
    ctx.srv.config.get_i64("maxmemory") != 0 && (policy.contains("lru") || policy.contains("lfu"))
}

fn lfu_policy(ctx: &Ctx<'_>) -> bool {
    ctx.srv.config.get("maxmemory-policy").contains("lfu")
}

/// Ferrous never writes on the read path, so access times are not tracked:
/// the idle time is always 0 (a documented difference).
fn object_idletime(ctx: &mut Ctx<'_>, v: &Version) {
    if object_value(ctx, v).is_none() {
        return;
    }
    if lfu_policy(ctx) {
        return ctx.err("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
    }
    ctx.out.int(0);
}

/// Access frequencies are not tracked either: 0 under an LFU policy.
fn object_freq(ctx: &mut Ctx<'_>, v: &Version) {
    if object_value(ctx, v).is_none() {
        return;
    }
    if !lfu_policy(ctx) {
        return ctx.err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.");
    }
    ctx.out.int(0);
}

fn object_help(ctx: &mut Ctx<'_>) {
    const HELP: &[&str] = &[
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.array(HELP.len());
    for line in HELP {
        ctx.out.status(line);
    }
}

#[cfg(test)]
mod tests {
    use super::parse_cursor;

    #[test]
    fn cursor_parses_like_strtoul() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"+12"), Some(12));
        assert_eq!(parse_cursor(b"012"), Some(12));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"7\x00junk"), Some(7));
        for bad in [
            &b"18446744073709551616"[..],
            b" 1",
            b"1 ",
            b"-",
            b"+",
            b"abc",
            b"1.5",
            b"--1",
        ] {
            assert_eq!(parse_cursor(bad), None, "{:?}", bad);
        }
    }
}
