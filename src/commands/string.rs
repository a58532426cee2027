//! String commands: GET, SET and family (SETNX, SETEX, PSETEX, GETSET,
//! GETDEL, GETEX, MGET, MSET, MSETNX), APPEND, STRLEN, ranges (GETRANGE,
//! SUBSTR, SETRANGE) and LCS. Counters live in `counter.rs`, bit operations
//! in `bitmap.rs`.

use ferrous_storage::value::WrongType;
use ferrous_storage::{Entry, Millis, SmallBytes, Value, Version};

use super::keyspec::*;
use super::{events, int_arg, is, Ctx, Handler::*};
use crate::cmd;
use crate::errors;

/// The string commands.
pub static COMMANDS: &[super::CommandSpec] = &[
    cmd!("get", 2, [READONLY, FAST], (1, 1, 1), Read(get), "string",
        "Get the value of a key", "1.0.0", "O(1)", acl: [],
        tips: [], ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("set", -3, [WRITE, DENYOOM], (1, 1, 1), Write(set), "string",
        "Set the string value of a key", "1.0.0", "O(1)", acl: [],
        tips: [],
        ks: [ks_range(RW | ACCESS | UPDATE | VARIABLE_FLAGS, 1, 0, 1, 0)
            .notes("RW and ACCESS due to the optional `GET` argument")], subs: &[]),
    cmd!("setnx", 3, [WRITE, DENYOOM, FAST], (1, 1, 1), Write(setnx), "string",
        "Set the value of a key, only if the key does not exist", "1.0.0", "O(1)",
        acl: [],
        tips: [], ks: [ks_range(OW | INSERT, 1, 0, 1, 0)], subs: &[]),
    cmd!("setex", 4, [WRITE, DENYOOM], (1, 1, 1), Write(setex), "string",
        "Set the value and expiration of a key", "2.0.0", "O(1)", acl: [],
        tips: [], ks: [ks_range(OW | UPDATE, 1, 0, 1, 0)], subs: &[]),
    cmd!("psetex", 4, [WRITE, DENYOOM], (1, 1, 1), Write(psetex), "string",
        "Set the value and expiration in milliseconds of a key", "2.6.0", "O(1)",
        acl: [],
        tips: [], ks: [ks_range(OW | UPDATE, 1, 0, 1, 0)], subs: &[]),
    cmd!("getset", 3, [WRITE, DENYOOM, FAST], (1, 1, 1), Write(getset), "string",
        "Set the string value of a key and return its old value", "1.0.0", "O(1)",
        acl: [],
        tips: [], ks: [ks_range(RW | ACCESS | UPDATE, 1, 0, 1, 0)], subs: &[]),
    cmd!("getdel", 2, [WRITE, FAST], (1, 1, 1), Write(getdel), "string",
        "Get the value of a key and delete the key", "6.2.0", "O(1)", acl: [],
        tips: [], ks: [ks_range(RW | ACCESS | DELETE, 1, 0, 1, 0)], subs: &[]),
    cmd!("getex", -2, [WRITE, FAST], (1, 1, 1), Write(getex), "string",
        "Get the value of a key and optionally set its expiration", "6.2.0", "O(1)",
        acl: [],
        tips: [],
        ks: [ks_range(RW | ACCESS | UPDATE, 1, 0, 1, 0)
            .notes("RW and UPDATE because it changes the TTL")], subs: &[]),
    cmd!("mget", -2, [READONLY, FAST], (1, -1, 1), Read(mget), "string",
        "Get the values of all the given keys", "1.0.0",
        "O(N) where N is the number of keys to retrieve.", acl: [],
        tips: ["request_policy:multi_shard"], ks: [ks_range(RO | ACCESS, 1, -1, 1, 0)], subs: &[]),
    cmd!("mset", -3, [WRITE, DENYOOM], (1, -1, 2), Write(mset), "string",
        "Set multiple keys to multiple values", "1.0.1",
        "O(N) where N is the number of keys to set.", acl: [],
        tips: ["request_policy:multi_shard", "response_policy:all_succeeded"],
        ks: [ks_range(OW | UPDATE, 1, -1, 2, 0)], subs: &[]),
    cmd!("msetnx", -3, [WRITE, DENYOOM], (1, -1, 2), Write(msetnx), "string",
        "Set multiple keys to multiple values, only if none of the keys exist", "1.0.1",
        "O(N) where N is the number of keys to set.", acl: [],
        tips: ["request_policy:multi_shard", "response_policy:agg_min"],
        ks: [ks_range(OW | INSERT, 1, -1, 2, 0)], subs: &[]),
    cmd!("append", 3, [WRITE, DENYOOM, FAST], (1, 1, 1), Write(append), "string",
        "Append a value to a key", "2.0.0",
        "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.",
        acl: [],
        tips: [], ks: [ks_range(RW | INSERT, 1, 0, 1, 0)], subs: &[]),
    cmd!("strlen", 2, [READONLY, FAST], (1, 1, 1), Read(strlen), "string",
        "Get the length of the value stored in a key", "2.2.0", "O(1)", acl: [],
        tips: [], ks: [ks_range(RO, 1, 0, 1, 0)], subs: &[]),
    cmd!("getrange", 4, [READONLY], (1, 1, 1), Read(getrange), "string",
        "Get a substring of the string stored at a key", "2.4.0", 
        "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.",
        acl: [],
        tips: [], ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("substr", 4, [READONLY], (1, 1, 1), Read(getrange), "string",
        "Get a substring of the string stored at a key", "1.0.0", 
        "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.",
        acl: [],
        tips: [], ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("setrange", 4, [WRITE, DENYOOM], (1, 1, 1), Write(setrange), "string",
        "Overwrite part of a string at key starting at the specified offset", "2.2.0",
        "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.",
        acl: [],
        tips: [], ks: [ks_range(RW | UPDATE, 1, 0, 1, 0)], subs: &[]),
    cmd!("lcs", -3, [READONLY], (1, 2, 1), Read(lcs), "string",
        "Find longest common substring", "7.0.0",
        "O(N*M) where N and M are the lengths of s1 and s2, respectively", acl: [],
        tips: [], ks: [ks_range(RO | ACCESS, 1, 1, 1, 0)], subs: &[]),
];

/// The string at `key` for a read command, counted in the statistics;
/// `Err` carries the WRONGTYPE reply.
pub fn lookup_string_read<'v>(
    ctx: &Ctx<'_>,
    v: &'v Version,
    key: &[u8],
) -> Result<Option<&'v [u8]>, &'static str> {
    let r = get_string(ctx, v, key);
    ctx.lookup(matches!(r, Ok(Some(_))) || r.is_err());
    r.map_err(|WrongType| errors::WRONGTYPE)
}

/// The string at `key` for a write command (not counted in the statistics).
pub fn lookup_string_mut<'v>(
    ctx: &Ctx<'_>,
    v: &'v Version,
    key: &[u8],
) -> Result<Option<&'v [u8]>, &'static str> {
    get_string(ctx, v, key).map_err(|WrongType| errors::WRONGTYPE)
}

/// Stores `value` at `key` keeping the key's TTL (as an in-place change
/// does in Redis) and counts one dirty key.
pub fn put_string(ctx: &mut Ctx<'_>, v: &mut Version, key: &[u8], value: Value) {
    let db = v.db_mut(ctx.db());
    match db.get_mut(key, ctx.now) {
        Some(e) => e.value = value,
        None => {
            db.insert(SmallBytes::from(key), Entry::new(value));
        }
    }
    ctx.dirty += 1;
}

/// Whether a string of `len` bytes fits under `proto-max-bulk-len`.
pub fn check_string_len(ctx: &Ctx<'_>, len: u64) -> Result<(), &'static str> {
    if len > ctx.max_bulk_len() {
        Err(errors::STRING_TOO_LONG)
    } else {
        Ok(())
    }
}

/// The string stored at `key`, `Ok(None)` if absent, `Err` on wrong type.
pub fn get_string<'v>(
    ctx: &Ctx<'_>,
    v: &'v Version,
    key: &[u8],
) -> Result<Option<&'v [u8]>, WrongType> {
    match v.db(ctx.db()).get(key, ctx.now) {
        None => Ok(None),
        Some(Entry {
            value: Value::Str { bytes, .. },
            ..
        }) => Ok(Some(bytes)),
        #[allow(unreachable_patterns)]
        Some(_) => Err(WrongType),
    }
}

fn get(ctx: &mut Ctx<'_>, v: &Version) {
    let key = &ctx.args[1];
    match lookup_string_read(ctx, v, key) {
        Ok(Some(b)) => ctx.out.bulk(b),
        Ok(None) => ctx.out.null(),
        Err(e) => ctx.err(e),
    }
}

/// Options shared by SET and its relatives.
#[derive(Default)]
struct SetOpts {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    /// Absolute expiry in ms, 0 for none.
    expire: u64,
}

/// The expiry options SET and GETEX share: `EX`, `PX`, `EXAT`, `PXAT`.
const UNITS: [(&str, bool, bool); 4] = [
    ("ex", true, false),
    ("px", false, false),
    ("exat", true, true),
    ("pxat", false, true),
];

/// Which expiry option `a` is (index into [`UNITS`]).
fn unit_of(a: &[u8]) -> Option<usize> {
    UNITS.iter().position(|(n, _, _)| is(a, n))
}

/// An absolute expiry from the amount of expiry option `unit`, validated
/// like Redis (`ERR invalid expire time in '<cmd>' command`).
fn expire_at(ctx: &Ctx<'_>, unit: usize, amount: &[u8], cmd: &str) -> Result<Millis, String> {
    let (_, secs, absolute) = UNITS[unit];
    let n = int_arg(amount).map_err(String::from)?;
    if n <= 0 || (secs && n > i64::MAX / 1000) {
        return Err(errors::invalid_expire(cmd));
    }
    let ms = if secs { n * 1000 } else { n };
    if absolute {
        return Ok(ms as Millis);
    }
    ms.checked_add(ctx.now as i64)
        .map(|t| t as Millis)
        .ok_or_else(|| errors::invalid_expire(cmd))
}

/// Parses SET's options (from argument 3 on) like Redis 7.0: an option may
/// repeat, but NX/XX and the expiry options exclude each other.
fn parse_set_opts(ctx: &Ctx<'_>) -> Result<SetOpts, String> {
    let args = ctx.args;
    let mut o = SetOpts::default();
    let mut unit: Option<usize> = None;
    let mut i = 3;
    while i < args.len() {
        let a = &args[i];
        let next = args.get(i + 1);
        let u = unit_of(a);
        if is(a, "nx") && !o.xx {
            o.nx = true;
        } else if is(a, "xx") && !o.nx {
            o.xx = true;
        } else if is(a, "get") {
            o.get = true;
        } else if is(a, "keepttl") && unit.is_none() {
            o.keep_ttl = true;
        } else if let (Some(u), Some(amount)) = (u, next) {
            if o.keep_ttl || unit.is_some_and(|p| p != u) {
                return Err(errors::SYNTAX.into());
            }
            unit = Some(u);
            o.expire = expire_at(ctx, u, amount, "set")?;
            i += 1;
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    Ok(o)
}

fn set(ctx: &mut Ctx<'_>, v: &mut Version) {
    let o = match parse_set_opts(ctx) {
        Ok(o) => o,
        Err(e) => return ctx.err(&e),
    };
    let key = &ctx.args[1];
    let db = ctx.db();
    // A plain SET does not need the old value: skip the lookup (the insert
    // below walks the trie anyway).
    let found = if o.get || o.nx || o.xx {
        v.db(db).get(key, ctx.now)
    } else {
        None
    };
    if o.get {
        ctx.lookup(found.is_some());
    }
    let exists = match found {
        None => false,
        Some(e) => {
            if o.get {
                match &e.value {
                    Value::Str { bytes, .. } => ctx.out.bulk(bytes),
                    #[allow(unreachable_patterns)]
                    _ => return ctx.err(errors::WRONGTYPE),
                }
            }
            true
        }
    };
    if o.get && !exists {
        ctx.out.null();
    }
    if (o.nx && exists) || (o.xx && !exists) {
        if !o.get {
            ctx.out.null();
        }
        return;
    }
    let mut entry = Entry::new(Value::string(&ctx.args[2][..]));
    entry.expire = o.expire;
    v.db_mut(db).set(key, entry, o.keep_ttl, ctx.now);
    ctx.dirty += 1;
    ctx.notify(events::STRING, "set", key);
    if o.expire != 0 {
        ctx.notify(events::GENERIC, "expire", key);
    }
    if !o.get {
        ctx.out.ok();
    }
}

fn setnx(ctx: &mut Ctx<'_>, v: &mut Version) {
    let key = &ctx.args[1];
    if v.db(ctx.db()).get(key, ctx.now).is_some() {
        return ctx.out.int(0);
    }
    let entry = Entry::new(Value::string(&ctx.args[2][..]));
    v.db_mut(ctx.db()).insert(SmallBytes::from(&key[..]), entry);
    ctx.dirty += 1;
    ctx.notify(events::STRING, "set", key);
    ctx.out.int(1);
}

fn setex_generic(ctx: &mut Ctx<'_>, v: &mut Version, unit: usize, cmd: &str) {
    let expire = match expire_at(ctx, unit, &ctx.args[2], cmd) {
        Ok(t) => t,
        Err(e) => return ctx.err(&e),
    };
    let mut entry = Entry::new(Value::string(&ctx.args[3][..]));
    entry.expire = expire;
    v.db_mut(ctx.db())
        .insert(SmallBytes::from(&ctx.args[1][..]), entry);
    ctx.dirty += 1;
    ctx.notify(events::STRING, "set", &ctx.args[1]);
    ctx.notify(events::GENERIC, "expire", &ctx.args[1]);
    ctx.out.ok();
}

fn setex(ctx: &mut Ctx<'_>, v: &mut Version) {
    setex_generic(ctx, v, 0, "setex")
}

fn psetex(ctx: &mut Ctx<'_>, v: &mut Version) {
    setex_generic(ctx, v, 1, "psetex")
}

fn getset(ctx: &mut Ctx<'_>, v: &mut Version) {
    let key = &ctx.args[1];
    match lookup_string_read(ctx, v, key) {
        Ok(Some(b)) => ctx.out.bulk(b),
        Ok(None) => ctx.out.null(),
        Err(e) => return ctx.err(e),
    }
    let entry = Entry::new(Value::string(&ctx.args[2][..]));
    v.db_mut(ctx.db()).insert(SmallBytes::from(&key[..]), entry);
    ctx.dirty += 1;
    ctx.notify(events::STRING, "set", key);
}

fn getdel(ctx: &mut Ctx<'_>, v: &mut Version) {
    let key = &ctx.args[1];
    match lookup_string_read(ctx, v, key) {
        Ok(Some(b)) => ctx.out.bulk(b),
        Ok(None) => return ctx.out.null(),
        Err(e) => return ctx.err(e),
    }
    v.db_mut(ctx.db()).remove(key);
    ctx.dirty += 1;
    ctx.notify(events::GENERIC, "del", key);
}

fn getex(ctx: &mut Ctx<'_>, v: &mut Version) {
    let args = ctx.args;
    // The expiry option and the index of its amount; validated only once
    // the key is known to exist.
    let mut unit: Option<(usize, usize)> = None;
    let mut persist = false;
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        match unit_of(a) {
            Some(u) if !persist && unit.is_none_or(|(p, _)| p == u) && i + 1 < args.len() => {
                unit = Some((u, i + 1));
                i += 2;
            }
            _ if is(a, "persist") && unit.is_none() => {
                persist = true;
                i += 1;
            }
            _ => return ctx.err(errors::SYNTAX),
        }
    }
    let key = &args[1];
    let value = match lookup_string_read(ctx, v, key) {
        Ok(Some(b)) => b,
        Ok(None) => return ctx.out.null(),
        Err(e) => return ctx.err(e),
    };
    let expire = match unit.map(|(u, at)| expire_at(ctx, u, &args[at], "getex")) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => return ctx.err(&e),
    };
    ctx.out.bulk(value);
    let db = v.db_mut(ctx.db());
    match expire {
        // A time already past deletes the key, as Redis does.
        Some(t) if t <= ctx.now => {
            db.remove(key);
            ctx.dirty += 1;
            ctx.notify(events::GENERIC, "del", key);
        }
        Some(t) => {
            db.set_expire(key, t);
            ctx.dirty += 1;
            ctx.notify(events::GENERIC, "expire", key);
        }
        None if persist && db.get(key, ctx.now).is_some_and(|e| e.expire != 0) => {
            db.set_expire(key, 0);
            ctx.dirty += 1;
            ctx.notify(events::GENERIC, "persist", key);
        }
        None => {}
    }
}

fn mget(ctx: &mut Ctx<'_>, v: &Version) {
    ctx.out.array(ctx.args.len() - 1);
    for key in &ctx.args[1..] {
        match v.db(ctx.db()).get(key, ctx.now) {
            Some(Entry {
                value: Value::Str { bytes, .. },
                ..
            }) => {
                ctx.lookup(true);
                ctx.out.bulk(bytes)
            }
            #[allow(unreachable_patterns)]
            Some(_) => {
                ctx.lookup(true);
                ctx.out.null()
            }
            None => {
                ctx.lookup(false);
                ctx.out.null()
            }
        }
    }
}

/// MSET and MSETNX need key/value pairs.
fn pairs_ok(ctx: &mut Ctx<'_>, name: &str) -> bool {
    if ctx.args.len().is_multiple_of(2) {
        ctx.err(&format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
        return false;
    }
    true
}

fn mset_all(ctx: &mut Ctx<'_>, v: &mut Version) {
    let db = ctx.db();
    for kv in ctx.args[1..].chunks_exact(2) {
        v.db_mut(db).insert(
            SmallBytes::from(&kv[0][..]),
            Entry::new(Value::string(&kv[1][..])),
        );
        // A `new` event goes right before its key's `set`.
        if crate::notify::wants_expired(ctx.srv) {
            ctx.client.events.at = ctx.out.mark();
            crate::notify::queue_key_events(ctx.srv, &mut ctx.client.events, v);
        }
        ctx.notify(events::STRING, "set", &kv[0]);
    }
    ctx.dirty += (ctx.args.len() / 2) as u64;
}

fn mset(ctx: &mut Ctx<'_>, v: &mut Version) {
    if pairs_ok(ctx, "mset") {
        mset_all(ctx, v);
        ctx.out.ok();
    }
}

fn msetnx(ctx: &mut Ctx<'_>, v: &mut Version) {
    if !pairs_ok(ctx, "msetnx") {
        return;
    }
    let db = v.db(ctx.db());
    if ctx.args[1..]
        .chunks_exact(2)
        .any(|kv| db.get(&kv[0], ctx.now).is_some())
    {
        return ctx.out.int(0);
    }
    mset_all(ctx, v);
    ctx.out.int(1);
}

fn append(ctx: &mut Ctx<'_>, v: &mut Version) {
    let key = &ctx.args[1];
    let add = &ctx.args[2];
    let value = match lookup_string_mut(ctx, v, key) {
        Err(e) => return ctx.err(e),
        // A new key holds the argument as SET would store it.
        Ok(None) => Value::string(&add[..]),
        Ok(Some(old)) => {
            if let Err(e) = check_string_len(ctx, old.len() as u64 + add.len() as u64) {
                return ctx.err(e);
            }
            let mut b = Vec::with_capacity(old.len() + add.len());
            b.extend_from_slice(old);
            b.extend_from_slice(add);
            Value::raw_string(b)
        }
    };
    let len = match &value {
        Value::Str { bytes, .. } => bytes.len() as i64,
        _ => 0,
    };
    put_string(ctx, v, key, value);
    ctx.notify(events::STRING, "append", key);
    ctx.out.int(len);
}

fn strlen(ctx: &mut Ctx<'_>, v: &Version) {
    match lookup_string_read(ctx, v, &ctx.args[1]) {
        Ok(b) => ctx.out.int(b.map_or(0, |b| b.len() as i64)),
        Err(e) => ctx.err(e),
    }
}

fn getrange(ctx: &mut Ctx<'_>, v: &Version) {
    let (start, end) = match (int_arg(&ctx.args[2]), int_arg(&ctx.args[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return ctx.err(e),
    };
    let s = match lookup_string_read(ctx, v, &ctx.args[1]) {
        Ok(s) => s.unwrap_or_default(),
        Err(e) => return ctx.err(e),
    };
    ctx.out.bulk(byte_range(s, start, end));
}

/// GETRANGE's view of `s` between the inclusive indexes `start` and `end`
/// (negative ones count from the end).
fn byte_range(s: &[u8], start: i64, end: i64) -> &[u8] {
    if start < 0 && end < 0 && start > end {
        return &[];
    }
    let len = s.len() as i64;
    let fix = |i: i64| if i < 0 { (len + i).max(0) } else { i };
    let (start, end) = (fix(start), fix(end).min(len - 1));
    if len == 0 || start > end {
        return &[];
    }
    &s[start as usize..=end as usize]
}

fn setrange(ctx: &mut Ctx<'_>, v: &mut Version) {
    let key = &ctx.args[1];
    let patch = &ctx.args[3];
    let offset = match int_arg(&ctx.args[2]) {
        Ok(n) if n < 0 => return ctx.err("ERR offset is out of range"),
        Ok(n) => n as u64,
        Err(e) => return ctx.err(e),
    };
    let old = match lookup_string_mut(ctx, v, key) {
        Err(e) => return ctx.err(e),
        Ok(old) => old,
    };
    // An empty patch changes nothing and creates nothing.
    if patch.is_empty() {
        return ctx.out.int(old.map_or(0, |o| o.len() as i64));
    }
    let end = offset + patch.len() as u64;
    if let Err(e) = check_string_len(ctx, end) {
        return ctx.err(e);
    }
    let old = old.unwrap_or_default();
    let (offset, end) = (offset as usize, end as usize);
    let mut b = Vec::with_capacity(old.len().max(end));
    b.extend_from_slice(old);
    if b.len() < end {
        b.resize(end, 0);
    }
    b[offset..end].copy_from_slice(patch);
    let len = b.len() as i64;
    put_string(ctx, v, key, Value::raw_string(b));
    ctx.notify(events::STRING, "setrange", key);
    ctx.out.int(len);
}

fn lcs(ctx: &mut Ctx<'_>, v: &Version) {
    let args = ctx.args;
    let mut texts: [&[u8]; 2] = [&[], &[]];
    for (t, key) in texts.iter_mut().zip(&args[1..3]) {
        match get_string(ctx, v, key) {
            Ok(s) => {
                ctx.lookup(s.is_some());
                *t = s.unwrap_or_default();
            }
            Err(WrongType) => {
                ctx.lookup(true);
                return ctx.err("ERR The specified keys must contain string values");
            }
        }
    }
    let (mut len_only, mut idx, mut with_len, mut min_len) = (false, false, false, 0i64);
    let mut i = 3;
    while i < args.len() {
        let a = &args[i];
        if is(a, "idx") {
            idx = true;
        } else if is(a, "len") {
            len_only = true;
        } else if is(a, "withmatchlen") {
            with_len = true;
        } else if is(a, "minmatchlen") && i + 1 < args.len() {
            match int_arg(&args[i + 1]) {
                Ok(n) => min_len = n.max(0),
                Err(e) => return ctx.err(e),
            }
            i += 1;
        } else {
            return ctx.err(errors::SYNTAX);
        }
        i += 1;
    }
    if len_only && idx {
        return ctx.err("ERR If you want both the length and indexes, please just use IDX.");
    }
    let [a, b] = texts;
    let cells = (a.len() as u64 + 1).saturating_mul(b.len() as u64 + 1);
    let max = ctx.max_bulk_len();
    if a.len() as u64 >= u32::MAX as u64 - 1 || b.len() as u64 >= u32::MAX as u64 - 1 {
        return ctx.err("ERR String too long for LCS");
    }
    if cells.saturating_mul(4) > max {
        return ctx
            .err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
    }
    let pairs = lcs_pairs(a, b);
    if len_only {
        return ctx.out.int(pairs.len() as i64);
    }
    if !idx {
        let s: Vec<u8> = pairs.iter().rev().map(|&(i, _)| a[i]).collect();
        return ctx.out.bulk(&s);
    }
    // Matched pairs come from the end backwards; a run is a stretch of
    // pairs adjacent in both strings.
    let mut runs: Vec<((usize, usize), (usize, usize))> = Vec::new();
    for &(i, j) in &pairs {
        match runs.last_mut() {
            Some(((a0, _), (b0, _))) if *a0 == i + 1 && *b0 == j + 1 => {
                *a0 = i;
                *b0 = j;
            }
            _ => runs.push(((i, i), (j, j))),
        }
    }
    runs.retain(|((a0, a1), _)| (a1 - a0 + 1) as i64 >= min_len);
    ctx.out.map(2);
    ctx.out.bulk(b"matches");
    ctx.out.array(runs.len());
    for ((a0, a1), (b0, b1)) in runs {
        ctx.out.array(if with_len { 3 } else { 2 });
        for (x, y) in [(a0, a1), (b0, b1)] {
            ctx.out.array(2);
            ctx.out.int(x as i64);
            ctx.out.int(y as i64);
        }
        if with_len {
            ctx.out.int((a1 - a0 + 1) as i64);
        }
    }
    ctx.out.bulk(b"len");
    ctx.out.int(pairs.len() as i64);
}

/// The index pairs of one longest common subsequence of `a` and `b`, from
/// the end backwards (the path Redis reports: on a tie it drops a byte of `b`).
fn lcs_pairs(a: &[u8], b: &[u8]) -> Vec<(usize, usize)> {
    let w = b.len() + 1;
    let mut t = vec![0u32; (a.len() + 1) * w];
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            t[i * w + j] = if a[i - 1] == b[j - 1] {
                t[(i - 1) * w + j - 1] + 1
            } else {
                t[(i - 1) * w + j].max(t[i * w + j - 1])
            };
        }
    }
    let mut out = Vec::with_capacity(t[a.len() * w + b.len()] as usize);
    let (mut i, mut j) = (a.len(), b.len());
    while i > 0 && j > 0 {
        if a[i - 1] == b[j - 1] {
            out.push((i - 1, j - 1));
            i -= 1;
            j -= 1;
        } else if t[(i - 1) * w + j] > t[i * w + j - 1] {
            i -= 1;
        } else {
            j -= 1;
        }
    }
    out
}
