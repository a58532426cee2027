//! String commands: GET, SET and family, counters, ranges.

use ferrous_storage::value::WrongType;
use ferrous_storage::{Entry, Value, Version};

use super::{int_arg, is, Ctx, Handler::*};
use crate::cmd;
use crate::errors;

/// The string commands.
pub static COMMANDS: &[super::CommandSpec] = &[
    cmd!("get", 2, [READONLY, FAST], (1, 1, 1), Read(get), "string",
        "Get the value of a key", "1.0.0", "O(1)", acl: [], subs: &[]),
    cmd!("set", -3, [WRITE, DENYOOM], (1, 1, 1), Write(set), "string",
        "Set the string value of a key", "1.0.0", "O(1)", acl: [], subs: &[]),
];

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
    match get_string(ctx, v, key) {
        Ok(Some(b)) => {
            ctx.srv
                .stats
                .keyspace_hits
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            ctx.out.bulk(b)
        }
        Ok(None) => {
            ctx.srv
                .stats
                .keyspace_misses
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            ctx.out.null()
        }
        Err(WrongType) => ctx.err(errors::WRONGTYPE),
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

/// Parses SET's options (from argument 3 on) like Redis 7.0.
fn parse_set_opts(ctx: &Ctx<'_>) -> Result<SetOpts, String> {
    let args = ctx.args;
    let mut o = SetOpts::default();
    let mut unit_seen = false;
    let mut i = 3;
    while i < args.len() {
        let a = &args[i];
        let next = args.get(i + 1);
        if is(a, "nx") && !o.xx {
            o.nx = true;
        } else if is(a, "xx") && !o.nx {
            o.xx = true;
        } else if is(a, "get") {
            o.get = true;
        } else if is(a, "keepttl") && !unit_seen {
            o.keep_ttl = true;
            unit_seen = true;
        } else if (is(a, "ex") || is(a, "px") || is(a, "exat") || is(a, "pxat"))
            && !unit_seen
            && next.is_some()
        {
            unit_seen = true;
            let n = int_arg(next.map(|b| &b[..]).unwrap_or_default()).map_err(String::from)?;
            let secs = is(a, "ex") || is(a, "exat");
            if n <= 0 || (secs && n > i64::MAX / 1000) {
                return Err(errors::invalid_expire("set"));
            }
            let mut ms = if secs { n * 1000 } else { n };
            if is(a, "ex") || is(a, "px") {
                ms = ms
                    .checked_add(ctx.now as i64)
                    .ok_or_else(|| errors::invalid_expire("set"))?;
            }
            o.expire = ms as u64;
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
    let exists = match v.db(db).get(key, ctx.now) {
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
    if !o.get {
        ctx.out.ok();
    }
}
