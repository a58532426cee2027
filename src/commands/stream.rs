//! Stream commands without consumer groups: XADD, XLEN, XRANGE, XREVRANGE,
//! XDEL, XTRIM, XREAD, XSETID, plus the id parsing and entry replies every
//! stream command shares. Consumer groups live in `stream_group.rs`,
//! XINFO in `stream_info.rs`.

use std::sync::Arc;

use bytes::Bytes;
use ferrous_storage::stream::{Fields, NodeLimits, Stream, StreamData, StreamId, TrimTo};
use ferrous_storage::{Entry, Millis, SmallBytes, Value, Version};

use super::keyspec::*;
use super::{events, int_arg, is, Ctx, Handler::*};
use crate::cmd;
use crate::errors;
use crate::reply::ReplyBuf;

/// An id argument that does not parse.
pub const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

/// The stream commands without groups.
pub static COMMANDS: &[super::CommandSpec] = &[
    cmd!("xadd", -5, [WRITE, DENYOOM, FAST], (1, 1, 1), Write(xadd), "stream",
        "Appends a new entry to a stream", "5.0.0",
        "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted.",
        acl: [], tips: ["nondeterministic_output"],
        ks: [ks_range(RW | UPDATE, 1, 0, 1, 0)
            .notes("UPDATE instead of INSERT because of the optional trimming feature")], subs: &[]),
    cmd!("xlen", 2, [READONLY, FAST], (1, 1, 1), Read(xlen), "stream",
        "Return the number of entries in a stream", "5.0.0", "O(1)",
        acl: [], tips: [], ks: [ks_range(RO, 1, 0, 1, 0)], subs: &[]),
    cmd!("xrange", -4, [READONLY], (1, 1, 1), Read(xrange), "stream",
        "Return a range of elements in a stream, with IDs matching the specified IDs interval", "5.0.0",
        "O(N) with N being the number of elements being returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).",
        acl: [], tips: [], ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("xrevrange", -4, [READONLY], (1, 1, 1), Read(xrevrange), "stream",
        "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE", "5.0.0",
        "O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).",
        acl: [], tips: [], ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("xdel", -3, [WRITE, FAST], (1, 1, 1), Write(xdel), "stream",
        "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.", "5.0.0",
        "O(1) for each single item to delete in the stream, regardless of the stream size.",
        acl: [], tips: [], ks: [ks_range(RW | DELETE, 1, 0, 1, 0)], subs: &[]),
    cmd!("xtrim", -4, [WRITE], (1, 1, 1), Write(xtrim), "stream",
        "Trims the stream to (approximately if '~' is passed) a certain size", "5.0.0",
        "O(N), with N being the number of evicted entries. Constant times are very small however, since entries are organized in macro nodes containing multiple entries that can be released with a single deallocation.",
        acl: [], tips: ["nondeterministic_output"],
        ks: [ks_range(RW | DELETE, 1, 0, 1, 0)], subs: &[]),
    cmd!("xread", -4, [READONLY, BLOCKING, MOVABLEKEYS], (0, 0, 0), Write(xread), "stream",
        "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.", "5.0.0",
        "For each stream mentioned: O(N) with N being the number of elements being returned, it means that XREAD-ing with a fixed COUNT is O(1). Note that when the BLOCK option is used, XADD will pay O(M) time in order to serve the M clients blocked on the stream getting new data.",
        acl: [], tips: [], ks: [ks_keyword(RO | ACCESS, "STREAMS", 1, -1, 1, 2)], subs: &[]),
    cmd!("xsetid", -3, [WRITE, DENYOOM, FAST], (1, 1, 1), Write(xsetid), "stream",
        "An internal command for replicating stream values", "5.0.0", "O(1)",
        acl: [], tips: [], ks: [ks_range(RW | UPDATE, 1, 0, 1, 0)], subs: &[]),
];

/// `strtoull` as Redis's `string2ull` falls back to it: optional leading
/// spaces and sign (a minus negates modulo 2^64), decimal digits only.
fn strtoull(s: &[u8]) -> Option<u64> {
    if let Some(v) = ferrous_storage::value::parse_i64(s) {
        return (v >= 0).then_some(v as u64);
    }
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let digits = &s[i..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Parses a stream id like Redis: `-`/`+` (unless `strict`), `ms` (the
/// sequence is `missing_seq`), `ms-seq`, and with `allow_star` `ms-*`
/// (returned with `seq_given` false). C string semantics: a NUL ends it.
pub fn parse_id_ext(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    allow_star: bool,
) -> Result<(StreamId, bool), &'static str> {
    if arg.len() > 127 {
        return Err(INVALID_ID);
    }
    let s = super::cut_at_nul(arg);
    if s == b"-" || s == b"+" {
        if strict {
            return Err(INVALID_ID);
        }
        return Ok((
            if s == b"-" {
                StreamId::MIN
            } else {
                StreamId::MAX
            },
            true,
        ));
    }
    let (ms_part, seq_part) = match s.iter().position(|&c| c == b'-') {
        Some(d) => (&s[..d], Some(&s[d + 1..])),
        None => (s, None),
    };
    let ms = strtoull(ms_part).ok_or(INVALID_ID)?;
    match seq_part {
        None => Ok((StreamId::new(ms, missing_seq), true)),
        Some(b"*") if allow_star => Ok((StreamId::new(ms, 0), false)),
        Some(p) => Ok((StreamId::new(ms, strtoull(p).ok_or(INVALID_ID)?), true)),
    }
}

/// A strict id (no `-`/`+`), missing sequence 0.
pub fn parse_strict_id(arg: &[u8]) -> Result<StreamId, &'static str> {
    parse_id_ext(arg, 0, true, false).map(|(id, _)| id)
}

/// An interval bound: `(` makes it exclusive (then strict). Returns the
/// id and whether it is exclusive.
pub fn parse_interval_id(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), &'static str> {
    if arg.len() > 1 && arg[0] == b'(' {
        Ok((parse_id_ext(&arg[1..], missing_seq, true, false)?.0, true))
    } else {
        Ok((parse_id_ext(arg, missing_seq, false, false)?.0, false))
    }
}

/// The inclusive start of an interval given as an argument.
pub fn interval_start(arg: &[u8]) -> Result<StreamId, &'static str> {
    let (id, ex) = parse_interval_id(arg, 0)?;
    if ex {
        return id.incr().ok_or("ERR invalid start ID for the interval");
    }
    Ok(id)
}

/// The inclusive end of an interval given as an argument.
pub fn interval_end(arg: &[u8]) -> Result<StreamId, &'static str> {
    let (id, ex) = parse_interval_id(arg, u64::MAX)?;
    if ex {
        return id.decr().ok_or("ERR invalid end ID for the interval");
    }
    Ok(id)
}

/// Writes an id as a bulk string.
pub fn write_id(out: &mut ReplyBuf, id: StreamId) {
    out.bulk(id.to_text().as_bytes());
}

/// Writes one entry: `[id, [field, value, …]]`.
pub fn write_entry(out: &mut ReplyBuf, id: StreamId, fields: &Fields) {
    out.array(2);
    write_id(out, id);
    out.array(fields.len());
    for f in fields.iter() {
        out.bulk(f);
    }
}

/// The stream at `key` for a read command (counted in the statistics).
pub fn stream_read<'v>(
    ctx: &Ctx<'_>,
    v: &'v Version,
    key: &[u8],
) -> Result<Option<&'v Stream>, &'static str> {
    let r = match v.db(ctx.db()).get(key, ctx.now) {
        None => Ok(None),
        Some(Entry {
            value: Value::Stream(s),
            ..
        }) => Ok(Some(s)),
        Some(_) => Err(errors::WRONGTYPE),
    };
    ctx.lookup(!matches!(r, Ok(None)));
    r
}

/// The stream at `key` for a write command.
pub fn stream_mut<'v>(
    ctx: &Ctx<'_>,
    v: &'v mut Version,
    key: &[u8],
) -> Result<Option<&'v mut StreamData>, &'static str> {
    let db = v.db_mut(ctx.db());
    let e = db.get_mut_typed(key, ctx.now, |v| matches!(v, Value::Stream(_)));
    match e.map_err(|_| errors::WRONGTYPE)? {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::Stream(s) => Ok(Some(s.data_mut())),
            _ => Err(errors::WRONGTYPE),
        },
    }
}

/// The stream at `key` for a write that Redis does not signal as a key
/// modification (consumer group changes, XSETID, the lookup before parsing
/// in XDEL): WATCH and client tracking do not see it.
pub fn stream_mut_quiet<'v>(
    ctx: &Ctx<'_>,
    v: &'v mut Version,
    key: &[u8],
) -> Result<Option<&'v mut StreamData>, &'static str> {
    match v.db_mut(ctx.db()).get_mut_quiet(key, ctx.now) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::Stream(s) => Ok(Some(s.data_mut())),
            _ => Err(errors::WRONGTYPE),
        },
    }
}

/// Creates an empty stream at `key` and returns it (`None` cannot happen:
/// the key was just inserted; callers simply stop then).
pub fn create_stream<'v>(
    ctx: &Ctx<'_>,
    v: &'v mut Version,
    key: &[u8],
) -> Option<&'v mut StreamData> {
    let db = v.db_mut(ctx.db());
    db.insert(
        SmallBytes::from(key),
        Entry::new(Value::Stream(Stream::default())),
    );
    match db.get_mut(key, ctx.now).map(|e| &mut e.value) {
        Some(Value::Stream(s)) => Some(s.data_mut()),
        _ => None,
    }
}

fn node_limits(ctx: &Ctx<'_>) -> NodeLimits {
    let c = &ctx.srv.config;
    NodeLimits {
        max_entries: c.int(crate::int_param!("stream-node-max-entries")).max(0) as u64,
        max_bytes: c.int(crate::int_param!("stream-node-max-bytes")).max(0) as u64,
    }
}

/// XADD / XTRIM options.
#[derive(Default)]
struct TrimArgs {
    to: Option<TrimTo>,
    approx: bool,
    limit: i64,
    nomkstream: bool,
    id: Option<(StreamId, bool)>,
}

/// Parses the options of XADD (`xadd`, returns the index of the id or of
/// the first field) or XTRIM.
fn parse_trim_args(ctx: &Ctx<'_>, xadd: bool) -> Result<(TrimArgs, usize), &'static str> {
    let args = ctx.args;
    let mut a = TrimArgs::default();
    let mut limit_given = false;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = &args[i][..];
        if xadd && opt == b"*" {
            break;
        } else if (is(opt, "maxlen") || is(opt, "minid")) && more > 0 {
            if a.to.is_some() {
                return Err(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                );
            }
            a.approx = false;
            let next = &args[i + 1][..];
            if more >= 2 && next == b"~" {
                a.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            let v = &args[i + 1];
            if is(opt, "maxlen") {
                let n = int_arg(v)?;
                if n < 0 {
                    return Err("ERR The MAXLEN argument must be >= 0.");
                }
                a.to = Some(TrimTo::MaxLen(n as u64));
            } else {
                a.to = Some(TrimTo::MinId(parse_strict_id(v)?));
            }
            i += 1;
        } else if is(opt, "limit") && more > 0 {
            a.limit = int_arg(&args[i + 1])?;
            if a.limit < 0 {
                return Err("ERR The LIMIT argument must be >= 0.");
            }
            limit_given = true;
            i += 1;
        } else if xadd && is(opt, "nomkstream") {
            a.nomkstream = true;
        } else if xadd {
            a.id = Some(parse_id_ext(opt, 0, true, true)?);
            break;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    if a.limit != 0 && a.to.is_none() {
        return Err(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        );
    }
    if !xadd && a.to.is_none() {
        return Err("ERR syntax error, XTRIM must be called with a trimming strategy");
    }
    if limit_given {
        if !a.approx {
            return Err("ERR syntax error, LIMIT cannot be used without the special ~ option");
        }
    } else if a.approx {
        let per_node = node_limits(ctx).max_entries as i64;
        a.limit = per_node.saturating_mul(100);
        if a.limit <= 0 || a.limit > 1_000_000 {
            a.limit = 10_000;
        }
    } else {
        a.limit = 0;
    }
    Ok((a, i))
}

fn xadd(ctx: &mut Ctx<'_>, v: &mut Version) {
    let (a, idpos) = match parse_trim_args(ctx, true) {
        Ok(r) => r,
        Err(e) => return ctx.err(e),
    };
    let field_pos = idpos + 1;
    let nfields = ctx.args.len().saturating_sub(field_pos);
    if nfields < 2 || !nfields.is_multiple_of(2) {
        return ctx.err("ERR wrong number of arguments for 'xadd' command");
    }
    if let Some((id, true)) = a.id {
        if id == StreamId::MIN {
            return ctx.err("ERR The ID specified in XADD must be greater than 0-0");
        }
    }
    let key = ctx.args[1].clone();
    let limits = node_limits(ctx);
    let now = ctx.now;
    let s = match stream_mut(ctx, v, &key) {
        Err(e) => return ctx.err(e),
        Ok(Some(s)) => s,
        Ok(None) if a.nomkstream => return ctx.out.null(),
        Ok(None) => match create_stream(ctx, v, &key) {
            Some(s) => s,
            None => return,
        },
    };
    if s.last_id == StreamId::MAX {
        v.db_mut(ctx.db()).unlog(&key);
        return ctx
            .err("ERR The stream has exhausted the last possible ID, unable to add more items");
    }
    let id = match a.id {
        Some((id, true)) => Some(id),
        Some((id, false)) => {
            if s.last_id.ms == id.ms {
                if s.last_id.seq == u64::MAX {
                    None
                } else {
                    Some(StreamId::new(id.ms, s.last_id.seq + 1))
                }
            } else {
                Some(id)
            }
        }
        None => {
            if now > s.last_id.ms {
                Some(StreamId::new(now, 0))
            } else {
                s.last_id.incr()
            }
        }
    };
    let Some(id) = id.filter(|id| *id > s.last_id) else {
        v.db_mut(ctx.db()).unlog(&key);
        return ctx.err(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item",
        );
    };
    let fields: Fields = ctx.args[field_pos..]
        .iter()
        .map(|b| SmallBytes::from(&b[..]))
        .collect::<Vec<_>>()
        .into();
    s.append(id, fields, limits);
    let trimmed = match a.to {
        Some(to) => s.trim(to, a.approx, a.limit as u64),
        None => 0,
    };
    write_id(ctx.out, id);
    ctx.dirty += 1;
    ctx.notify(events::STREAM, "xadd", &key);
    if trimmed > 0 {
        ctx.notify(events::STREAM, "xtrim", &key);
    }
    ctx.key_ready(&key);
}

fn xtrim(ctx: &mut Ctx<'_>, v: &mut Version) {
    let (a, _) = match parse_trim_args(ctx, false) {
        Ok(r) => r,
        Err(e) => return ctx.err(e),
    };
    let key = ctx.args[1].clone();
    let s = match stream_mut(ctx, v, &key) {
        Err(e) => return ctx.err(e),
        Ok(None) => return ctx.out.int(0),
        Ok(Some(s)) => s,
    };
    let Some(to) = a.to else {
        v.db_mut(ctx.db()).unlog(&key);
        return ctx.out.int(0);
    };
    let n = s.trim(to, a.approx, a.limit as u64);
    if n > 0 {
        ctx.dirty += n;
        ctx.notify(events::STREAM, "xtrim", &key);
    } else {
        v.db_mut(ctx.db()).unlog(&key);
    }
    ctx.out.int(n as i64);
}

fn xlen(ctx: &mut Ctx<'_>, v: &Version) {
    match stream_read(ctx, v, &ctx.args[1]) {
        Err(e) => ctx.err(e),
        Ok(None) => ctx.out.int(0),
        Ok(Some(s)) => ctx.out.int(s.len() as i64),
    }
}

fn xrange(ctx: &mut Ctx<'_>, v: &Version) {
    range_generic(ctx, v, false);
}

fn xrevrange(ctx: &mut Ctx<'_>, v: &Version) {
    range_generic(ctx, v, true);
}

fn range_generic(ctx: &mut Ctx<'_>, v: &Version, rev: bool) {
    let args = ctx.args;
    let (sa, ea) = if rev {
        (&args[3], &args[2])
    } else {
        (&args[2], &args[3])
    };
    let start = match interval_start(sa) {
        Ok(id) => id,
        Err(e) => return ctx.err(e),
    };
    let end = match interval_end(ea) {
        Ok(id) => id,
        Err(e) => return ctx.err(e),
    };
    let mut count: i64 = -1;
    let mut j = 4;
    while j < args.len() {
        if is(&args[j], "count") && j + 1 < args.len() {
            match int_arg(&args[j + 1]) {
                Ok(n) => count = n.max(0),
                Err(e) => return ctx.err(e),
            }
            j += 2;
        } else {
            return ctx.err(errors::SYNTAX);
        }
    }
    let s = match stream_read(ctx, v, &args[1]) {
        Err(e) => return ctx.err(e),
        Ok(None) => return ctx.out.array(0),
        Ok(Some(s)) => s,
    };
    if count == 0 {
        return ctx.out.null_array();
    }
    let limit = if count < 0 {
        usize::MAX
    } else {
        count as usize
    };
    let items: Vec<_> = s.range(start, end, rev).take(limit).collect();
    ctx.out.array(items.len());
    for (id, f) in items {
        write_entry(ctx.out, *id, f);
    }
}

fn xdel(ctx: &mut Ctx<'_>, v: &mut Version) {
    // Redis 7.0 looks the key up before parsing the ids.
    let key = ctx.args[1].clone();
    match stream_mut_quiet(ctx, v, &key) {
        Err(e) => return ctx.err(e),
        Ok(None) => return ctx.out.int(0),
        Ok(Some(_)) => {}
    }
    let mut ids = Vec::with_capacity(ctx.args.len() - 2);
    for a in &ctx.args[2..] {
        match parse_strict_id(a) {
            Ok(id) => ids.push(id),
            Err(e) => return ctx.err(e),
        }
    }
    let Ok(Some(s)) = stream_mut(ctx, v, &key) else {
        return;
    };
    let mut deleted = 0;
    for id in ids {
        if s.delete(id) {
            if id > s.max_deleted {
                s.max_deleted = id;
            }
            deleted += 1;
        }
    }
    if deleted > 0 {
        ctx.dirty += deleted;
        ctx.notify(events::STREAM, "xdel", &key);
    } else {
        v.db_mut(ctx.db()).unlog(&key);
    }
    ctx.out.int(deleted as i64);
}

fn xsetid(ctx: &mut Ctx<'_>, v: &mut Version) {
    let args = ctx.args;
    let id = match parse_strict_id(&args[2]) {
        Ok(id) => id,
        Err(e) => return ctx.err(e),
    };
    let mut entries_added: i64 = -1;
    let mut max_xdel = StreamId::MIN;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if is(&args[i], "entriesadded") && more > 0 {
            match int_arg(&args[i + 1]) {
                Ok(n) if n < 0 => return ctx.err("ERR entries_added must be positive"),
                Ok(n) => entries_added = n,
                Err(e) => return ctx.err(e),
            }
        } else if is(&args[i], "maxdeletedid") && more > 0 {
            match parse_strict_id(&args[i + 1]) {
                Ok(m) if id < m => {
                    return ctx.err(
                        "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                    )
                }
                Ok(m) => max_xdel = m,
                Err(e) => return ctx.err(e),
            }
        } else {
            return ctx.err(errors::SYNTAX);
        }
        i += 2;
    }
    let key = args[1].clone();
    // Redis 7.0's XSETID does not signal the key as modified.
    let s = match stream_mut_quiet(ctx, v, &key) {
        Err(e) => return ctx.err(e),
        Ok(None) => return ctx.err(errors::NO_SUCH_KEY),
        Ok(Some(s)) => s,
    };
    if let Some((top, _)) = s.last_entry() {
        if id < *top {
            return ctx
                .err("ERR The ID specified in XSETID is smaller than the target stream top item");
        }
        if entries_added != -1 && s.len() as u64 > entries_added as u64 {
            return ctx.err(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            );
        }
    }
    s.last_id = id;
    if entries_added != -1 {
        s.entries_added = entries_added as u64;
    }
    if max_xdel != StreamId::MIN {
        s.max_deleted = max_xdel;
    }
    ctx.dirty += 1;
    ctx.notify(events::STREAM, "xsetid", &key);
    ctx.out.ok();
}

/// Parsed XREAD / XREADGROUP arguments.
pub struct ReadArgs {
    /// COUNT (0: unlimited).
    pub count: usize,
    /// BLOCK deadline (absolute ms, 0 = forever), if given.
    pub block: Option<Millis>,
    /// Index of the first key.
    pub streams_at: usize,
    /// Number of streams.
    pub nstreams: usize,
    /// GROUP name and consumer.
    pub group: Option<(Bytes, Bytes)>,
    /// NOACK.
    pub noack: bool,
}

/// Parses the options shared by XREAD and XREADGROUP.
pub fn parse_read_args(ctx: &Ctx<'_>, group_cmd: bool) -> Result<ReadArgs, String> {
    let args = ctx.args;
    let mut r = ReadArgs {
        count: 0,
        block: None,
        streams_at: 0,
        nstreams: 0,
        group: None,
        noack: false,
    };
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let o = &args[i][..];
        if is(o, "block") && more > 0 {
            i += 1;
            r.block = Some(crate::blocking::parse_timeout_ms(&args[i], ctx.now)?);
        } else if is(o, "count") && more > 0 {
            i += 1;
            r.count = int_arg(&args[i])?.max(0) as usize;
        } else if is(o, "streams") && more > 0 {
            r.streams_at = i + 1;
            let n = args.len() - r.streams_at;
            if !n.is_multiple_of(2) {
                return Err("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.".into());
            }
            r.nstreams = n / 2;
            break;
        } else if is(o, "group") && more >= 2 {
            if !group_cmd {
                return Err(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead."
                        .into(),
                );
            }
            r.group = Some((args[i + 1].clone(), args[i + 2].clone()));
            i += 2;
        } else if is(o, "noack") {
            if !group_cmd {
                return Err(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead."
                        .into(),
                );
            }
            r.noack = true;
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    if r.streams_at == 0 {
        return Err(errors::SYNTAX.into());
    }
    if group_cmd && r.group.is_none() {
        return Err("ERR Missing GROUP option for XREADGROUP".into());
    }
    Ok(r)
}

/// XREAD is a write-handler command only so that it can block (the
/// blocking framework registers waiters under the GIL); it never writes.
fn xread(ctx: &mut Ctx<'_>, v: &mut Version) {
    let v: &Version = v;
    let r = match parse_read_args(ctx, false) {
        Ok(r) => r,
        Err(e) => return ctx.err(&e),
    };
    let args = ctx.args;
    let rerun = crate::blocking::is_rerun(ctx);
    let mut ids = Vec::with_capacity(r.nstreams);
    for i in 0..r.nstreams {
        let key = &args[r.streams_at + i];
        let s = match stream_read(ctx, v, key) {
            Ok(s) => s,
            // A waiter whose key changed type stays blocked, as in Redis.
            Err(_) if rerun => None,
            Err(e) => return ctx.err(e),
        };
        let a = &args[r.streams_at + r.nstreams + i];
        if &a[..] == b"$" {
            ids.push(s.map(|s| s.last_id).unwrap_or_default());
        } else if &a[..] == b">" {
            return ctx.err("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.");
        } else {
            match parse_strict_id(a) {
                Ok(id) => ids.push(id),
                Err(e) => return ctx.err(e),
            }
        }
    }
    let mut served: Vec<Served> = Vec::new();
    for (i, gt) in ids.iter().enumerate() {
        let key = &args[r.streams_at + i];
        let Ok(Some(s)) = stream_read(ctx, v, key) else {
            continue;
        };
        let Some((last, _)) = s.last_entry() else {
            continue;
        };
        if *last <= *gt {
            continue;
        }
        let Some(start) = gt.incr() else { continue };
        let limit = if r.count == 0 { usize::MAX } else { r.count };
        let items = s
            .range(start, StreamId::MAX, false)
            .take(limit)
            .map(|(id, f)| (*id, Some(Arc::clone(f))))
            .collect();
        served.push((i, items));
    }
    if served.is_empty() {
        let Some(deadline) = r.block else {
            return ctx.out.null_array();
        };
        // Block with `$` resolved: later entries are what the client waits for.
        let mut stored = args.to_vec();
        for (i, id) in ids.iter().enumerate() {
            stored[r.streams_at + r.nstreams + i] = Bytes::from(id.to_text());
        }
        let keys = &args[r.streams_at..r.streams_at + r.nstreams];
        return crate::blocking::block_with_args(
            ctx,
            keys,
            deadline,
            crate::blocking::OnTimeout::NullArray,
            stored,
        );
    }
    write_served(ctx, r.streams_at, &served);
}

/// Writes the reply of XREAD / XREADGROUP: per served stream, its key and
/// entries (a map in RESP3). `None` fields are entries gone from the stream.
pub fn write_served(ctx: &mut Ctx<'_>, streams_at: usize, served: &[Served]) {
    let resp3 = ctx.out.resp3;
    if resp3 {
        ctx.out.map(served.len());
    } else {
        ctx.out.array(served.len());
    }
    for (i, items) in served {
        if !resp3 {
            ctx.out.array(2);
        }
        ctx.out.bulk(&ctx.args[streams_at + i]);
        ctx.out.array(items.len());
        for (id, f) in items {
            match f {
                Some(f) => write_entry(ctx.out, *id, f),
                None => {
                    ctx.out.array(2);
                    write_id(ctx.out, *id);
                    ctx.out.null_array();
                }
            }
        }
    }
}

/// One stream served by XREAD / XREADGROUP: its index among the keys and
/// its entries (`None`: a pending entry no longer in the stream).
pub type Served = (usize, Vec<(StreamId, Option<Fields>)>);
