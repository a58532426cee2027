//! Counters on string values: INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT.
//!
//! The value is read as a strict 64-bit integer (or, for INCRBYFLOAT, an
//! x87 `long double`) and written back as its canonical decimal string; the
//! key's TTL is kept.

use ferrous_storage::value::parse_i64;
use ferrous_storage::{Entry, SmallBytes, Value, Version};

use super::keyspec::*;
use super::longdouble::LongDouble;
use super::string::{lookup_string_mut, put_string};
use super::{int_arg, Ctx, Handler::*};
use crate::cmd;
use crate::errors;

/// The counter commands.
pub static COMMANDS: &[super::CommandSpec] = &[
    cmd!("incr", 2, [WRITE, DENYOOM, FAST], (1, 1, 1), Write(incr), "string",
        "Increment the integer value of a key by one", "1.0.0", "O(1)", acl: [],
        tips: [], ks: [ks_range(RW | ACCESS | UPDATE, 1, 0, 1, 0)], subs: &[]),
    cmd!("decr", 2, [WRITE, DENYOOM, FAST], (1, 1, 1), Write(decr), "string",
        "Decrement the integer value of a key by one", "1.0.0", "O(1)", acl: [],
        tips: [], ks: [ks_range(RW | ACCESS | UPDATE, 1, 0, 1, 0)], subs: &[]),
    cmd!("incrby", 3, [WRITE, DENYOOM, FAST], (1, 1, 1), Write(incrby), "string",
        "Increment the integer value of a key by the given amount", "1.0.0", "O(1)",
        acl: [],
        tips: [], ks: [ks_range(RW | ACCESS | UPDATE, 1, 0, 1, 0)], subs: &[]),
    cmd!("decrby", 3, [WRITE, DENYOOM, FAST], (1, 1, 1), Write(decrby), "string",
        "Decrement the integer value of a key by the given number", "1.0.0", "O(1)",
        acl: [],
        tips: [], ks: [ks_range(RW | ACCESS | UPDATE, 1, 0, 1, 0)], subs: &[]),
    cmd!("incrbyfloat", 3, [WRITE, DENYOOM, FAST], (1, 1, 1), Write(incrbyfloat), "string",
        "Increment the float value of a key by the given amount", "2.6.0", "O(1)",
        acl: [],
        tips: [], ks: [ks_range(RW | ACCESS | UPDATE, 1, 0, 1, 0)], subs: &[]),
];

/// The shared body of the integer counters: adds `by` to the value at argv[1].
fn incr_by(ctx: &mut Ctx<'_>, v: &mut Version, by: i64) {
    let key = &ctx.args[1];
    // One trie walk: the value is read and replaced through the same entry.
    let db = v.db_mut(ctx.db());
    let entry = match db.get_mut_typed(key, ctx.now, |v| matches!(v, Value::Str { .. })) {
        Err(_) => return ctx.err(errors::WRONGTYPE),
        Ok(e) => e,
    };
    let cur = match entry.as_ref().map(|e| &e.value) {
        None => 0,
        Some(Value::Str { bytes, .. }) => match parse_i64(bytes) {
            Some(n) => n,
            None => {
                // Nothing changed: the key is not signalled as written.
                db.unlog(key);
                return ctx.err(errors::NOT_INTEGER);
            }
        },
        Some(_) => return ctx.err(errors::WRONGTYPE),
    };
    let Some(new) = cur.checked_add(by) else {
        db.unlog(key);
        return ctx.err(errors::OVERFLOW);
    };
    let mut buf = [0u8; 20];
    let text = Value::string(crate::reply::fmt_i64(&mut buf, new));
    match entry {
        Some(e) => e.value = text,
        None => {
            db.insert(SmallBytes::from(&key[..]), Entry::new(text));
        }
    }
    ctx.dirty += 1;
    ctx.notify(super::events::STRING, "incrby", key);
    ctx.out.int(new);
}

fn incr(ctx: &mut Ctx<'_>, v: &mut Version) {
    incr_by(ctx, v, 1)
}

fn decr(ctx: &mut Ctx<'_>, v: &mut Version) {
    incr_by(ctx, v, -1)
}

fn incrby(ctx: &mut Ctx<'_>, v: &mut Version) {
    match int_arg(&ctx.args[2]) {
        Ok(n) => incr_by(ctx, v, n),
        Err(e) => ctx.err(e),
    }
}

fn decrby(ctx: &mut Ctx<'_>, v: &mut Version) {
    match int_arg(&ctx.args[2]) {
        // Negating i64::MIN is impossible, so Redis refuses it up front.
        Ok(i64::MIN) => ctx.err("ERR decrement would overflow"),
        Ok(n) => incr_by(ctx, v, -n),
        Err(e) => ctx.err(e),
    }
}

fn incrbyfloat(ctx: &mut Ctx<'_>, v: &mut Version) {
    let key = &ctx.args[1];
    let cur = match lookup_string_mut(ctx, v, key) {
        Err(e) => return ctx.err(e),
        Ok(None) => LongDouble::parse(b"0"),
        Ok(Some(b)) => LongDouble::parse(b),
    };
    let Some(cur) = cur else {
        return ctx.err(errors::NOT_FLOAT);
    };
    let Some(by) = LongDouble::parse(&ctx.args[2]) else {
        return ctx.err(errors::NOT_FLOAT);
    };
    let sum = cur.add(by);
    if sum.is_infinite() {
        return ctx.err("ERR increment would produce NaN or Infinity");
    }
    let text = sum.to_human();
    put_string(ctx, v, key, Value::string(text.as_bytes()));
    ctx.notify(super::events::STRING, "incrbyfloat", key);
    ctx.out.bulk(text.as_bytes());
}
