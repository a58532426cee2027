//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST.
//! The representation (Redis's exact `HYLL` strings) lives in
//! `ferrous_storage::hll`; HLLs are ordinary string values.

use ferrous_storage::hll::{self, Corrupt};
use ferrous_storage::{Value, Version};

use super::keyspec::*;
use super::string::{lookup_string_mut, lookup_string_read, put_string};
use super::{events, is, Ctx, Handler::*};
use crate::cmd;

/// A string that is not an HLL.
const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
/// A sparse HLL whose runs do not cover exactly 16384 registers.
const INVALIDOBJ: &str = "INVALIDOBJ Corrupted HLL object detected";

/// The HyperLogLog commands.
pub static COMMANDS: &[super::CommandSpec] = &[
    cmd!("pfadd", -2, [WRITE, DENYOOM, FAST], (1, 1, 1), Write(pfadd), "hyperloglog",
        "Adds the specified elements to the specified HyperLogLog.", "2.8.9",
        "O(1) to add every element.", acl: [],
        tips: [], ks: [ks_range(RW | INSERT, 1, 0, 1, 0)], subs: &[]),
    cmd!("pfcount", -2, [READONLY], (1, -1, 1), Write(pfcount), "hyperloglog",
        "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).",
        "2.8.9",
        "O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys.",
        acl: [], tips: [],
        ks: [ks_range(RW | ACCESS, 1, -1, 1, 0)
            .notes("RW because it may change the internal representation of the key, and propagate to replicas")],
        subs: &[]),
    cmd!("pfmerge", -2, [WRITE, DENYOOM], (1, -1, 1), Write(pfmerge), "hyperloglog",
        "Merge N different HyperLogLogs into a single one.", "2.8.9",
        "O(N) to merge N HyperLogLogs, but with high constant times.", acl: [],
        tips: [],
        ks: [ks_range(RW | ACCESS | INSERT, 1, 0, 1, 0), ks_range(RO | ACCESS, 2, -1, 1, 0)],
        subs: &[]),
    cmd!("pfdebug", 3, [WRITE, DENYOOM, ADMIN], (2, 2, 1), Write(pfdebug), "hyperloglog",
        "Internal commands for debugging HyperLogLog values", "2.8.9", "N/A", acl: [],
        tips: [], ks: [ks_range(RW | ACCESS, 2, 0, 1, 0)], subs: &[]),
    cmd!("pfselftest", 1, [ADMIN], (0, 0, 0), Conn(pfselftest), "hyperloglog",
        "An internal command for testing HyperLogLog values", "2.8.9", "N/A", acl: [],
        tips: [], ks: [], subs: &[]),
];

/// `hll-sparse-max-bytes`.
fn sparse_max(ctx: &Ctx<'_>) -> usize {
    ctx.srv
        .config
        .int(crate::int_param!("hll-sparse-max-bytes"))
        .max(0) as usize
}

/// The HLL bytes at `key` for modification: `Ok(None)` when absent, `Err`
/// with the reply for another type or a string that is not an HLL.
fn hll_mut(ctx: &Ctx<'_>, v: &Version, key: &[u8]) -> Result<Option<Vec<u8>>, &'static str> {
    match lookup_string_mut(ctx, v, key)? {
        None => Ok(None),
        Some(b) => {
            hll::validate(b).map_err(|_| NOT_HLL)?;
            Ok(Some(b.to_vec()))
        }
    }
}

/// Marks the string at `key` `raw` (no change counted): every HLL command
/// but PFCOUNT of several keys makes Redis unshare the value it looked at.
fn unshare(ctx: &Ctx<'_>, v: &mut Version, key: &[u8]) {
    let shared = matches!(
        v.db(ctx.db()).get(key, ctx.now),
        Some(ferrous_storage::Entry {
            value: Value::Str { raw: false, .. },
            ..
        })
    );
    if shared {
        if let Some(e) = v.db_mut(ctx.db()).get_mut(key, ctx.now) {
            if let Value::Str { raw, .. } = &mut e.value {
                *raw = true;
            }
        }
    }
}

/// Stores an HLL (Redis keeps every HLL it touched as a `raw` string).
fn store(ctx: &mut Ctx<'_>, v: &mut Version, key: &[u8], b: Vec<u8>) {
    put_string(ctx, v, key, Value::raw_string(b));
}

fn pfadd(ctx: &mut Ctx<'_>, v: &mut Version) {
    let key = ctx.args[1].clone();
    let (mut b, mut updated) = match hll_mut(ctx, v, &key) {
        Err(e) => return ctx.err(e),
        Ok(Some(b)) => {
            unshare(ctx, v, &key);
            (b, 0u64)
        }
        Ok(None) => (hll::new_sparse(), 1),
    };
    let max = sparse_max(ctx);
    for ele in &ctx.args[2..] {
        match hll::add(&mut b, ele, max) {
            Ok(changed) => updated += changed as u64,
            Err(Corrupt) => {
                // Redis changes the value in place, so the registers set
                // before the corrupt part stay set.
                let dirty = ctx.dirty;
                store(ctx, v, &key, b);
                ctx.dirty = dirty;
                return ctx.err(INVALIDOBJ);
            }
        }
    }
    if updated > 0 {
        hll::invalidate(&mut b);
        store(ctx, v, &key, b);
        ctx.dirty += updated - 1;
        ctx.notify(events::STRING, "pfadd", &key);
    }
    ctx.out.int((updated > 0) as i64);
}

fn pfcount(ctx: &mut Ctx<'_>, v: &mut Version) {
    if ctx.args.len() > 2 {
        let mut max = vec![0u8; hll::REGISTERS];
        for key in &ctx.args[1..] {
            let b = match lookup_string_read(ctx, v, key) {
                Err(e) => return ctx.err(e),
                Ok(None) => continue,
                Ok(Some(b)) => b,
            };
            if hll::validate(b).is_err() {
                return ctx.err(NOT_HLL);
            }
            if hll::merge_into(&mut max, b).is_err() {
                return ctx.err(INVALIDOBJ);
            }
        }
        return ctx.out.int(hll::count_registers(&max) as i64);
    }
    let key = ctx.args[1].clone();
    // Counted in the keyspace statistics like a read, as Redis does.
    let cached = match lookup_string_read(ctx, v, &key) {
        Err(e) => return ctx.err(e),
        Ok(None) => return ctx.out.int(0),
        Ok(Some(b)) if hll::validate(b).is_err() => return ctx.err(NOT_HLL),
        Ok(Some(b)) => hll::cached(b),
    };
    unshare(ctx, v, &key);
    if let Some(card) = cached {
        // The common case copies nothing.
        return ctx.out.int(card as i64);
    }
    let mut b = match hll_mut(ctx, v, &key) {
        Err(e) => return ctx.err(e),
        Ok(None) => return ctx.out.int(0),
        Ok(Some(b)) => b,
    };
    match hll::count(&b) {
        Ok(card) => {
            hll::set_cache(&mut b, card);
            store(ctx, v, &key, b);
            ctx.out.int(card as i64);
        }
        Err(Corrupt) => ctx.err(INVALIDOBJ),
    }
}

fn pfmerge(ctx: &mut Ctx<'_>, v: &mut Version) {
    let mut max = vec![0u8; hll::REGISTERS];
    let mut use_dense = false;
    for key in &ctx.args[1..] {
        let b = match lookup_string_read(ctx, v, key) {
            Err(e) => return ctx.err(e),
            Ok(None) => continue,
            Ok(Some(b)) => b,
        };
        if hll::validate(b).is_err() {
            return ctx.err(NOT_HLL);
        }
        use_dense |= !hll::is_sparse(b);
        if hll::merge_into(&mut max, b).is_err() {
            return ctx.err(INVALIDOBJ);
        }
    }
    let key = ctx.args[1].clone();
    let mut b = match hll_mut(ctx, v, &key) {
        Err(e) => return ctx.err(e),
        Ok(Some(b)) => b,
        Ok(None) => hll::new_sparse(),
    };
    // The sources were valid, so the destination (one of them, or new) is.
    if use_dense && hll::to_dense(&mut b).is_err() {
        return ctx.err(INVALIDOBJ);
    }
    let limit = sparse_max(ctx);
    for (i, &r) in max.iter().enumerate() {
        if r != 0 && hll::set_register(&mut b, i, r, limit).is_err() {
            return ctx.err(INVALIDOBJ);
        }
    }
    hll::invalidate(&mut b);
    store(ctx, v, &key, b);
    ctx.notify(events::STRING, "pfadd", &key);
    ctx.out.status("OK");
}

fn pfdebug(ctx: &mut Ctx<'_>, v: &mut Version) {
    let key = ctx.args[2].clone();
    let mut b = match hll_mut(ctx, v, &key) {
        Err(e) => return ctx.err(e),
        Ok(None) => return ctx.err("ERR The specified key does not exist"),
        Ok(Some(b)) => b,
    };
    unshare(ctx, v, &key);
    let sub = ctx.args[1].clone();
    if is(&sub, "getreg") {
        if hll::is_sparse(&b) {
            if hll::to_dense(&mut b).is_err() {
                return ctx.err(INVALIDOBJ);
            }
            store(ctx, v, &key, b.clone());
        }
        let Ok(regs) = hll::registers(&b) else {
            return ctx.err(INVALIDOBJ);
        };
        ctx.out.array(regs.len());
        for r in regs {
            ctx.out.int(r as i64);
        }
    } else if is(&sub, "decode") {
        if !hll::is_sparse(&b) {
            return ctx.err("ERR HLL encoding is not sparse");
        }
        ctx.out.bulk(hll::decode(&b).as_bytes());
    } else if is(&sub, "encoding") {
        ctx.out.status(if hll::is_sparse(&b) {
            "sparse"
        } else {
            "dense"
        });
    } else if is(&sub, "todense") {
        let converted = hll::is_sparse(&b);
        if converted {
            if hll::to_dense(&mut b).is_err() {
                return ctx.err(INVALIDOBJ);
            }
            store(ctx, v, &key, b);
        }
        ctx.out.int(converted as i64);
    } else {
        let name = String::from_utf8_lossy(super::cut_at_nul(&sub)).into_owned();
        ctx.err(&format!("ERR Unknown PFDEBUG subcommand '{name}'"));
    }
}

/// Checks the estimator on a few sets of known size (Redis runs a longer
/// randomized self test; an `OK` either way).
fn pfselftest(ctx: &mut Ctx<'_>) {
    let mut b = hll::new_sparse();
    let mut ok = true;
    for i in 0..10_000u32 {
        ok &= hll::add(&mut b, &i.to_le_bytes(), 3000).is_ok();
    }
    let est = hll::count(&b).unwrap_or(0) as f64;
    if !ok || (est - 10_000.0).abs() > 10_000.0 * 0.05 {
        return ctx.err("ERR TESTFAILED estimate too far from the true cardinality");
    }
    ctx.out.status("OK");
}
