//! Expiry commands: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (with NX, XX, GT,
//! LT), TTL, PTTL, EXPIRETIME, PEXPIRETIME and PERSIST.
//!
//! Expiry times are absolute milliseconds since the epoch, kept on the entry
//! (0 meaning none) and in the database's expiry index through `Db`.

use ferrous_storage::Version;

use super::keys::expire_if_needed;
use super::keyspec::*;
use super::{cut_at_nul, events, int_arg, is, Ctx, Handler::*};
use crate::cmd;
use crate::errors;

/// The expiry commands.
pub static COMMANDS: &[super::CommandSpec] = &[
    cmd!("expire", -3, [WRITE, FAST], (1, 1, 1), Write(expire), "generic",
        "Set a key's time to live in seconds", "1.0.0", "O(1)", acl: [],
        tips: [], ks: [ks_range(RW | UPDATE, 1, 0, 1, 0)], subs: &[]),
    cmd!("pexpire", -3, [WRITE, FAST], (1, 1, 1), Write(pexpire), "generic",
        "Set a key's time to live in milliseconds", "2.6.0", "O(1)", acl: [],
        tips: [], ks: [ks_range(RW | UPDATE, 1, 0, 1, 0)], subs: &[]),
    cmd!("expireat", -3, [WRITE, FAST], (1, 1, 1), Write(expireat), "generic",
        "Set the expiration for a key as a UNIX timestamp", "1.2.0", "O(1)",
        acl: [],
        tips: [], ks: [ks_range(RW | UPDATE, 1, 0, 1, 0)], subs: &[]),
    cmd!("pexpireat", -3, [WRITE, FAST], (1, 1, 1), Write(pexpireat), "generic",
        "Set the expiration for a key as a UNIX timestamp specified in milliseconds", "2.6.0",
        "O(1)", acl: [],
        tips: [], ks: [ks_range(RW | UPDATE, 1, 0, 1, 0)], subs: &[]),
    cmd!("ttl", 2, [READONLY, FAST], (1, 1, 1), Read(ttl), "generic",
        "Get the time to live for a key in seconds", "1.0.0", "O(1)", acl: [],
        tips: ["nondeterministic_output"], ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("pttl", 2, [READONLY, FAST], (1, 1, 1), Read(pttl), "generic",
        "Get the time to live for a key in milliseconds", "2.6.0", "O(1)", acl: [],
        tips: ["nondeterministic_output"], ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("expiretime", 2, [READONLY, FAST], (1, 1, 1), Read(expiretime), "generic",
        "Get the expiration Unix timestamp for a key", "7.0.0", "O(1)", acl: [],
        tips: [], ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("pexpiretime", 2, [READONLY, FAST], (1, 1, 1), Read(pexpiretime), "generic",
        "Get the expiration Unix timestamp for a key in milliseconds", "7.0.0", "O(1)",
        acl: [],
        tips: [], ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("persist", 2, [WRITE, FAST], (1, 1, 1), Write(persist), "generic",
        "Remove the expiration from a key", "2.2.0", "O(1)", acl: [],
        tips: [], ks: [ks_range(RW | UPDATE, 1, 0, 1, 0)], subs: &[]),
];

fn expire(ctx: &mut Ctx<'_>, v: &mut Version) {
    expire_generic(ctx, v, "expire", true, true);
}

fn pexpire(ctx: &mut Ctx<'_>, v: &mut Version) {
    expire_generic(ctx, v, "pexpire", false, true);
}

fn expireat(ctx: &mut Ctx<'_>, v: &mut Version) {
    expire_generic(ctx, v, "expireat", true, false);
}

fn pexpireat(ctx: &mut Ctx<'_>, v: &mut Version) {
    expire_generic(ctx, v, "pexpireat", false, false);
}

/// The NX / XX / GT / LT condition of the EXPIRE family.
#[derive(Default)]
struct Cond {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl Cond {
    /// Parses the options after the time, checking their conflicts after
    /// all of them are read, as Redis does.
    fn parse(args: &[bytes::Bytes]) -> Result<Cond, String> {
        let mut c = Cond::default();
        for a in args {
            if is(a, "nx") {
                c.nx = true;
            } else if is(a, "xx") {
                c.xx = true;
            } else if is(a, "gt") {
                c.gt = true;
            } else if is(a, "lt") {
                c.lt = true;
            } else {
                let opt = String::from_utf8_lossy(cut_at_nul(a));
                return Err(format!("ERR Unsupported option {opt}"));
            }
        }
        if c.nx && (c.xx || c.gt || c.lt) {
            return Err(
                "ERR NX and XX, GT or LT options at the same time are not compatible".into(),
            );
        }
        if c.gt && c.lt {
            return Err("ERR GT and LT options at the same time are not compatible".into());
        }
        Ok(c)
    }

    /// Whether the new absolute expiry `when` may replace `current` (0 for
    /// none). A key without a TTL counts as an infinite TTL for GT and LT.
    fn allows(&self, current: u64, when: i64) -> bool {
        let (cur, when) = (i128::from(current), i128::from(when));
        let none = current == 0;
        !((self.nx && !none)
            || (self.xx && none)
            || (self.gt && (none || when <= cur))
            || (self.lt && !none && when >= cur))
    }
}

/// EXPIRE and friends: `secs` when the argument is in seconds, `relative`
/// when it is a TTL rather than a timestamp. A time already past deletes
/// the key (and still replies 1).
fn expire_generic(ctx: &mut Ctx<'_>, v: &mut Version, name: &str, secs: bool, relative: bool) {
    let args = ctx.args;
    let cond = match Cond::parse(&args[3..]) {
        Ok(c) => c,
        Err(e) => return ctx.err(&e),
    };
    let mut when = match int_arg(&args[2]) {
        Ok(n) => n,
        Err(e) => return ctx.err(e),
    };
    let bad = || errors::invalid_expire(name);
    if secs {
        match when.checked_mul(1000) {
            Some(ms) => when = ms,
            None => return ctx.err(&bad()),
        }
    }
    if relative {
        match i64::try_from(ctx.now)
            .ok()
            .and_then(|now| when.checked_add(now))
        {
            Some(t) => when = t,
            None => return ctx.err(&bad()),
        }
    }
    let key = &args[1];
    let db = v.db_mut(ctx.db());
    expire_if_needed(ctx, db, key);
    let Some(current) = db.get(key, ctx.now).map(|e| e.expire) else {
        return ctx.out.int(0);
    };
    if !cond.allows(current, when) {
        return ctx.out.int(0);
    }
    match u64::try_from(when) {
        Ok(t) if t > ctx.now => {
            db.set_expire(key, t);
            ctx.notify(events::GENERIC, "expire", key);
        }
        _ => {
            db.remove(key);
            ctx.notify(events::GENERIC, "del", key);
        }
    }
    ctx.dirty += 1;
    ctx.out.int(1);
}

fn ttl(ctx: &mut Ctx<'_>, v: &Version) {
    ttl_generic(ctx, v, false, false);
}

fn pttl(ctx: &mut Ctx<'_>, v: &Version) {
    ttl_generic(ctx, v, true, false);
}

fn expiretime(ctx: &mut Ctx<'_>, v: &Version) {
    ttl_generic(ctx, v, false, true);
}

fn pexpiretime(ctx: &mut Ctx<'_>, v: &Version) {
    ttl_generic(ctx, v, true, true);
}

/// TTL and friends: -2 for a missing key, -1 for a key without expiry, else
/// the remaining time (`absolute`: the expiry time) in ms or rounded seconds.
fn ttl_generic(ctx: &mut Ctx<'_>, v: &Version, ms: bool, absolute: bool) {
    let e = v.db(ctx.db()).get(&ctx.args[1], ctx.now);
    ctx.lookup(e.is_some());
    let reply = match e {
        None => -2,
        Some(e) if e.expire == 0 => -1,
        Some(e) => {
            let t = if absolute {
                i128::from(e.expire)
            } else {
                i128::from(e.expire.saturating_sub(ctx.now))
            };
            let t = if ms { t } else { (t + 500) / 1000 };
            i64::try_from(t).unwrap_or(i64::MAX)
        }
    };
    ctx.out.int(reply);
}

fn persist(ctx: &mut Ctx<'_>, v: &mut Version) {
    let key = &ctx.args[1];
    let db = v.db_mut(ctx.db());
    expire_if_needed(ctx, db, key);
    match db.get(key, ctx.now) {
        Some(e) if e.expire != 0 => {
            db.set_expire(key, 0);
            ctx.dirty += 1;
            ctx.notify(events::GENERIC, "persist", key);
            ctx.out.int(1);
        }
        _ => ctx.out.int(0),
    }
}

#[cfg(test)]
mod tests {
    use super::Cond;

    #[test]
    fn conditions() {
        let c = |nx, xx, gt, lt| Cond { nx, xx, gt, lt };
        assert!(c(true, false, false, false).allows(0, 5));
        assert!(!c(true, false, false, false).allows(10, 5));
        assert!(!c(false, true, false, false).allows(0, 5));
        assert!(c(false, true, false, false).allows(10, 5));
        assert!(
            !c(false, false, true, false).allows(0, 5),
            "GT: none is infinite"
        );
        assert!(!c(false, false, true, false).allows(10, 10));
        assert!(c(false, false, true, false).allows(10, 11));
        assert!(
            c(false, false, false, true).allows(0, 5),
            "LT: none is infinite"
        );
        assert!(!c(false, false, false, true).allows(10, 10));
        assert!(c(false, false, false, true).allows(10, -3));
    }
}
