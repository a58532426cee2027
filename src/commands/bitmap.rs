//! Bitmap commands on strings: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP,
//! BITFIELD, BITFIELD_RO.
//!
//! Bit 0 is the most significant bit of byte 0. Writes that reach past the
//! end of the string grow it with zero bytes (never beyond
//! `proto-max-bulk-len`) and leave a `raw` string, as Redis does.

use ferrous_storage::{Entry, SmallBytes, Value, Version};

use super::keyspec::*;
use super::string::{get_string, lookup_string_mut, lookup_string_read, put_string};
use super::{int_arg, is, Ctx, Handler::*};
use crate::cmd;
use crate::errors;

/// The bitmap commands.
pub static COMMANDS: &[super::CommandSpec] = &[
    cmd!("setbit", 4, [WRITE, DENYOOM], (1, 1, 1), Write(setbit), "bitmap",
        "Sets or clears the bit at offset in the string value stored at key", "2.2.0", "O(1)",
        acl: [],
        tips: [], ks: [ks_range(RW | ACCESS | UPDATE, 1, 0, 1, 0)], subs: &[]),
    cmd!("getbit", 3, [READONLY, FAST], (1, 1, 1), Read(getbit), "bitmap",
        "Returns the bit value at offset in the string value stored at key", "2.2.0", "O(1)",
        acl: [],
        tips: [], ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("bitcount", -2, [READONLY], (1, 1, 1), Read(bitcount), "bitmap",
        "Count set bits in a string", "2.6.0", "O(N)", acl: [],
        tips: [], ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("bitpos", -3, [READONLY], (1, 1, 1), Read(bitpos), "bitmap",
        "Find first bit set or clear in a string", "2.8.7", "O(N)", acl: [],
        tips: [], ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("bitop", -4, [WRITE, DENYOOM], (2, -1, 1), Write(bitop), "bitmap",
        "Perform bitwise operations between strings", "2.6.0", "O(N)", acl: [],
        tips: [],
        ks: [ks_range(OW | UPDATE, 2, 0, 1, 0),
            ks_range(RO | ACCESS, 3, -1, 1, 0)], subs: &[]),
    cmd!("bitfield", -2, [WRITE, DENYOOM], (1, 1, 1), Write(bitfield), "bitmap",
        "Perform arbitrary bitfield integer operations on strings", "3.2.0",
        "O(1) for each subcommand specified", acl: [],
        tips: [],
        ks: [ks_range(RW | ACCESS | UPDATE | VARIABLE_FLAGS, 1, 0, 1, 0)
            .notes("This command allows both access and modification of the key")], subs: &[]),
    cmd!("bitfield_ro", -2, [READONLY, FAST], (1, 1, 1), Read(bitfield_ro), "bitmap",
        "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
        "6.0.0", "O(1) for each subcommand specified", acl: [],
        tips: [], ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
];

/// Parses a bit offset; with `hash`, `#N` means N times `bits`. Offsets
/// whose byte lies at or past `proto-max-bulk-len` are refused.
fn bit_offset(ctx: &Ctx<'_>, arg: &[u8], hash: bool, bits: u32) -> Result<u64, &'static str> {
    let (mul, digits) = match arg.split_first() {
        Some((b'#', rest)) if hash => (true, rest),
        _ => (false, arg),
    };
    let mut n = int_arg(digits).map_err(|_| errors::BIT_OFFSET)?;
    if mul {
        // Redis multiplies in 64-bit two's complement; a wrapped product is
        // then judged like any other offset.
        n = n.wrapping_mul(bits as i64);
    }
    if n < 0 || (n >> 3) as u64 >= ctx.max_bulk_len() {
        return Err(errors::BIT_OFFSET);
    }
    Ok(n as u64)
}

/// The bytes of `s` with room for bit `last_bit`, grown with zeros.
/// [`bit_offset`] has bounded the offset, so this stays within
/// `proto-max-bulk-len` plus the 8 bytes a 64-bit field may reach past it
/// (Redis allows exactly that much).
fn grown(s: &[u8], last_bit: u64) -> Vec<u8> {
    let need = (last_bit / 8 + 1) as usize;
    let mut b = Vec::with_capacity(s.len().max(need));
    b.extend_from_slice(s);
    if b.len() < need {
        b.resize(need, 0);
    }
    b
}

fn bit_at(s: &[u8], bit: u64) -> u8 {
    match s.get((bit / 8) as usize) {
        Some(&byte) => (byte >> (7 - (bit % 8))) & 1,
        None => 0,
    }
}

fn setbit(ctx: &mut Ctx<'_>, v: &mut Version) {
    let offset = match bit_offset(ctx, &ctx.args[2], false, 1) {
        Ok(o) => o,
        Err(e) => return ctx.err(e),
    };
    let on = match int_arg(&ctx.args[3]) {
        Ok(b @ (0 | 1)) => b as u8,
        _ => return ctx.err(errors::BIT_VALUE),
    };
    let key = &ctx.args[1];
    let (mut b, before) = match lookup_string_mut(ctx, v, key) {
        Ok(s) => (grown(s.unwrap_or_default(), offset), s.map(|s| s.len())),
        Err(e) => return ctx.err(e),
    };
    let old = bit_at(&b, offset);
    let mask = 1u8 << (7 - (offset % 8));
    let byte = &mut b[(offset / 8) as usize];
    *byte = (*byte & !mask) | (on * mask);
    // Redis announces only a new key, a grown string or a flipped bit.
    let changed = before != Some(b.len()) || old != on;
    put_string(ctx, v, key, Value::raw_string(b));
    if changed {
        ctx.notify(super::events::STRING, "setbit", key);
    } else {
        // Converted to raw, but not signalled as modified.
        v.db_mut(ctx.db()).unlog(key);
    }
    ctx.out.int(old as i64);
}

fn getbit(ctx: &mut Ctx<'_>, v: &Version) {
    let offset = match bit_offset(ctx, &ctx.args[2], false, 1) {
        Ok(o) => o,
        Err(e) => return ctx.err(e),
    };
    match lookup_string_read(ctx, v, &ctx.args[1]) {
        Ok(s) => ctx.out.int(bit_at(s.unwrap_or_default(), offset) as i64),
        Err(e) => ctx.err(e),
    }
}

/// Resolves a BITCOUNT/BITPOS range (negative indexes count from the end)
/// in bits (`unit_bits`) or bytes to an inclusive bit range, `None` if empty.
/// BITCOUNT (`neg_empty`) treats two negative indexes with start > end as
/// an empty range before clamping; BITPOS clamps them first.
fn bit_range(
    len: u64,
    start: i64,
    end: i64,
    unit_bits: bool,
    neg_empty: bool,
) -> Option<(u64, u64)> {
    let total = if unit_bits {
        len as i64 * 8
    } else {
        len as i64
    };
    if neg_empty && start < 0 && end < 0 && start > end {
        return None;
    }
    let fix = |i: i64| if i < 0 { (total + i).max(0) } else { i };
    let (start, end) = (fix(start), fix(end).min(total - 1));
    if start > end || total == 0 {
        return None;
    }
    let (s, e) = (start as u64, end as u64);
    Some(if unit_bits {
        (s, e)
    } else {
        (s * 8, e * 8 + 7)
    })
}

/// Parses the optional `BYTE|BIT` argument at `i`.
fn unit_arg(ctx: &Ctx<'_>, i: usize) -> Result<bool, &'static str> {
    match ctx.args.get(i) {
        None => Ok(false),
        Some(a) if is(a, "byte") => Ok(false),
        Some(a) if is(a, "bit") => Ok(true),
        Some(_) => Err(errors::SYNTAX),
    }
}

/// Set bits of `s` within the inclusive bit range.
fn count_bits(s: &[u8], (first, last): (u64, u64)) -> u64 {
    let (fb, lb) = ((first / 8) as usize, (last / 8) as usize);
    let mut n: u64 = s[fb..=lb].iter().map(|b| b.count_ones() as u64).sum();
    // Take back the bits of the edge bytes that lie outside the range.
    let head = s[fb] & !(0xffu8 >> (first % 8));
    let tail = s[lb] & (0x7fu8 >> (last % 8));
    n -= (head.count_ones() + tail.count_ones()) as u64;
    n
}

fn bitcount(ctx: &mut Ctx<'_>, v: &Version) {
    let s = match lookup_string_read(ctx, v, &ctx.args[1]) {
        Ok(Some(s)) => s,
        Ok(None) => return ctx.out.int(0),
        Err(e) => return ctx.err(e),
    };
    let range = match ctx.args.len() {
        2 => bit_range(s.len() as u64, 0, -1, false, true),
        4 | 5 => {
            let (start, end) = match (int_arg(&ctx.args[2]), int_arg(&ctx.args[3])) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(e), _) | (_, Err(e)) => return ctx.err(e),
            };
            match unit_arg(ctx, 4) {
                Ok(bits) => bit_range(s.len() as u64, start, end, bits, true),
                Err(e) => return ctx.err(e),
            }
        }
        _ => return ctx.err(errors::SYNTAX),
    };
    ctx.out.int(range.map_or(0, |r| count_bits(s, r)) as i64);
}

fn bitpos(ctx: &mut Ctx<'_>, v: &Version) {
    let want = match int_arg(&ctx.args[2]) {
        Ok(b @ (0 | 1)) => b as u8,
        Ok(_) => return ctx.err("ERR The bit argument must be 1 or 0."),
        Err(e) => return ctx.err(e),
    };
    let s = match lookup_string_read(ctx, v, &ctx.args[1]) {
        Ok(Some(s)) => s,
        Ok(None) => return ctx.out.int(if want == 1 { -1 } else { 0 }),
        Err(e) => return ctx.err(e),
    };
    let argc = ctx.args.len();
    if argc > 6 {
        return ctx.err(errors::SYNTAX);
    }
    let start = match ctx.args.get(3).map(|a| int_arg(a)) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(e)) => return ctx.err(e),
    };
    let unit_bits = match unit_arg(ctx, 5) {
        Ok(b) => b,
        Err(e) => return ctx.err(e),
    };
    let end_given = argc >= 5;
    let end = match ctx.args.get(4).map(|a| int_arg(a)) {
        None => -1,
        Some(Ok(n)) => n,
        Some(Err(e)) => return ctx.err(e),
    };
    let Some((first, last)) = bit_range(s.len() as u64, start, end, unit_bits, false) else {
        return ctx.out.int(-1);
    };
    let found = find_bit(s, want, first, last);
    let pos = match found {
        Some(p) => p as i64,
        // Without an explicit end, a string is as if padded with zero bits.
        None if want == 0 && !end_given => last as i64 + 1,
        None => -1,
    };
    ctx.out.int(pos);
}

/// The first bit equal to `want` in the inclusive bit range.
fn find_bit(s: &[u8], want: u8, first: u64, last: u64) -> Option<u64> {
    let skip = if want == 1 { 0x00 } else { 0xff };
    let mut bit = first;
    while bit <= last {
        if bit.is_multiple_of(8) && bit + 7 <= last && s[(bit / 8) as usize] == skip {
            bit += 8;
            continue;
        }
        if bit_at(s, bit) == want {
            return Some(bit);
        }
        bit += 1;
    }
    None
}

fn bitop(ctx: &mut Ctx<'_>, v: &mut Version) {
    #[derive(Clone, Copy, PartialEq)]
    enum Op {
        And,
        Or,
        Xor,
        Not,
    }
    let op = match &ctx.args[1] {
        a if is(a, "and") => Op::And,
        a if is(a, "or") => Op::Or,
        a if is(a, "xor") => Op::Xor,
        a if is(a, "not") => Op::Not,
        _ => return ctx.err(errors::SYNTAX),
    };
    let srcs = &ctx.args[3..];
    if op == Op::Not && srcs.len() != 1 {
        return ctx.err("ERR BITOP NOT must be called with a single source key.");
    }
    let mut inputs: Vec<&[u8]> = Vec::with_capacity(srcs.len());
    for k in srcs {
        match get_string(ctx, v, k) {
            Ok(s) => {
                ctx.lookup(s.is_some());
                inputs.push(s.unwrap_or_default());
            }
            Err(_) => {
                ctx.lookup(true);
                return ctx.err(errors::WRONGTYPE);
            }
        }
    }
    let len = inputs.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![0u8; len];
    for (i, o) in out.iter_mut().enumerate() {
        let mut bytes = inputs.iter().map(|s| s.get(i).copied().unwrap_or(0));
        let first = bytes.next().unwrap_or(0);
        *o = match op {
            Op::And => bytes.fold(first, |a, b| a & b),
            Op::Or => bytes.fold(first, |a, b| a | b),
            Op::Xor => bytes.fold(first, |a, b| a ^ b),
            Op::Not => !first,
        };
    }
    let dest = &ctx.args[2];
    let db = v.db_mut(ctx.db());
    if len == 0 {
        if db.remove_live(dest, ctx.now).is_some() {
            ctx.dirty += 1;
            ctx.notify(super::events::GENERIC, "del", dest);
        }
    } else {
        let value = Value::raw_string(out);
        db.insert(SmallBytes::from(&dest[..]), Entry::new(value));
        ctx.dirty += 1;
        ctx.notify(super::events::STRING, "set", dest);
    }
    ctx.out.int(len as i64);
}

/// What BITFIELD does when a write leaves the type's range.
#[derive(Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq)]
enum FieldOp {
    Get,
    Set(i64),
    IncrBy(i64),
}

/// One parsed BITFIELD operation.
struct Field {
    op: FieldOp,
    signed: bool,
    bits: u32,
    offset: u64,
    overflow: Overflow,
}

/// Parses `i<n>` / `u<n>` (i1..i64, u1..u63).
fn field_type(arg: &[u8]) -> Result<(bool, u32), &'static str> {
    const BAD: &str = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
    let (signed, digits) = match arg.split_first() {
        Some((b'i', d)) => (true, d),
        Some((b'u', d)) => (false, d),
        _ => return Err(BAD),
    };
    match int_arg(digits) {
        Ok(n) if n >= 1 && (n <= 63 || (signed && n == 64)) => Ok((signed, n as u32)),
        _ => Err(BAD),
    }
}

fn parse_fields(ctx: &Ctx<'_>, read_only: bool) -> Result<Vec<Field>, &'static str> {
    let args = ctx.args;
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut i = 2;
    while i < args.len() {
        let left = args.len() - i - 1;
        let a = &args[i];
        if is(a, "overflow") && left >= 1 {
            overflow = match &args[i + 1] {
                o if is(o, "wrap") => Overflow::Wrap,
                o if is(o, "sat") => Overflow::Sat,
                o if is(o, "fail") => Overflow::Fail,
                _ => return Err("ERR Invalid OVERFLOW type specified"),
            };
            i += 2;
            continue;
        }
        let (is_get, is_set, is_incr) = (
            is(a, "get") && left >= 2,
            is(a, "set") && left >= 3,
            is(a, "incrby") && left >= 3,
        );
        if !(is_get || is_set || is_incr) {
            return Err(errors::SYNTAX);
        }
        let (signed, bits) = field_type(&args[i + 1])?;
        let offset = bit_offset(ctx, &args[i + 2], true, bits)?;
        let op = if is_get {
            FieldOp::Get
        } else {
            let n = int_arg(&args[i + 3])?;
            if is_set {
                FieldOp::Set(n)
            } else {
                FieldOp::IncrBy(n)
            }
        };
        if read_only && op != FieldOp::Get {
            return Err("ERR BITFIELD_RO only supports the GET subcommand");
        }
        fields.push(Field {
            op,
            signed,
            bits,
            offset,
            overflow,
        });
        i += if is_get { 3 } else { 4 };
    }
    Ok(fields)
}

/// Reads `bits` bits at `offset` as an unsigned number (missing bytes are 0).
fn read_bits(s: &[u8], offset: u64, bits: u32) -> u64 {
    (0..bits as u64).fold(0u64, |acc, k| (acc << 1) | bit_at(s, offset + k) as u64)
}

fn write_bits(s: &mut [u8], offset: u64, bits: u32, value: u64) {
    for k in 0..bits as u64 {
        let bit = offset + k;
        let on = ((value >> (bits as u64 - 1 - k)) & 1) as u8;
        let mask = 1u8 << (7 - (bit % 8));
        if let Some(byte) = s.get_mut((bit / 8) as usize) {
            *byte = (*byte & !mask) | (on * mask);
        }
    }
}

impl Field {
    /// The stored value of this field, sign-extended for signed types.
    fn get(&self, s: &[u8]) -> i128 {
        let raw = read_bits(s, self.offset, self.bits);
        if self.signed && self.bits < 64 && raw >> (self.bits - 1) & 1 == 1 {
            raw as i128 - (1i128 << self.bits)
        } else if self.signed {
            raw as i64 as i128
        } else {
            raw as i128
        }
    }

    /// Fits `value + incr` into the type per the overflow policy; `None`
    /// when FAIL refuses it.
    fn fit(&self, value: i128, incr: i64) -> Option<i128> {
        let (min, max) = if self.signed {
            (-(1i128 << (self.bits - 1)), (1i128 << (self.bits - 1)) - 1)
        } else {
            (0, (1i128 << self.bits) - 1)
        };
        let x = value + incr as i128;
        if (min..=max).contains(&x) {
            return Some(x);
        }
        let up = if self.signed {
            // Redis decides the direction with 64-bit differences that may
            // wrap: a SET of a very negative value to a narrow signed field
            // counts as overflowing upwards, so SAT stores the maximum.
            let (v, lo, hi) = (value as i64, min as i64, max as i64);
            let max_incr = hi.wrapping_sub(v);
            let min_incr = lo.wrapping_sub(v);
            let narrow = self.bits != 64;
            let up =
                v > hi || (narrow && incr > max_incr) || (v >= 0 && incr > 0 && incr > max_incr);
            let down =
                v < lo || (narrow && incr < min_incr) || (v < 0 && incr < 0 && incr < min_incr);
            up || !down
        } else {
            x > max
        };
        match self.overflow {
            Overflow::Fail => None,
            Overflow::Sat => Some(if up { max } else { min }),
            Overflow::Wrap => {
                let m = x.rem_euclid(1i128 << self.bits);
                Some(if m > max { m - (1i128 << self.bits) } else { m })
            }
        }
    }
}

/// Runs the fields against `s` (grown already when there are writes),
/// writing one reply per field; returns whether a write counts as a change:
/// like Redis, one that was applied (not refused by OVERFLOW FAIL) to a
/// string just created or grown (`grew`), or that changed the value.
fn run_fields(ctx: &mut Ctx<'_>, fields: &[Field], s: &mut [u8], grew: bool) -> bool {
    let mut changed = false;
    ctx.out.array(fields.len());
    for f in fields {
        let old = f.get(s);
        let (new, reply) = match f.op {
            FieldOp::Get => {
                ctx.out.int(old as i64);
                continue;
            }
            // SET takes the argument as the field's bit pattern for
            // unsigned types, so -1 is past the top for u8.
            FieldOp::Set(n) => {
                let x = if f.signed {
                    n as i128
                } else {
                    n as u64 as i128
                };
                (f.fit(x, 0), old)
            }
            FieldOp::IncrBy(n) => {
                let new = f.fit(old, n);
                (new, new.unwrap_or(0))
            }
        };
        match new {
            Some(x) => {
                write_bits(s, f.offset, f.bits, x as u64);
                changed |= grew || x != old;
                ctx.out.int(reply as i64);
            }
            None => ctx.out.null(),
        }
    }
    changed
}

fn bitfield(ctx: &mut Ctx<'_>, v: &mut Version) {
    let fields = match parse_fields(ctx, false) {
        Ok(f) => f,
        Err(e) => return ctx.err(e),
    };
    let key = &ctx.args[1];
    let last_write = fields
        .iter()
        .filter(|f| f.op != FieldOp::Get)
        .map(|f| f.offset + f.bits as u64 - 1)
        .max();
    let Some(last_bit) = last_write else {
        // Only reads: the key is neither created nor touched.
        return read_fields(ctx, v, &fields);
    };
    let (mut b, before) = match lookup_string_mut(ctx, v, key) {
        Err(e) => return ctx.err(e),
        Ok(s) => (grown(s.unwrap_or_default(), last_bit), s.map(|s| s.len())),
    };
    // Redis grows (or creates) the string before running the operations,
    // so even a write refused by OVERFLOW FAIL leaves it grown, and always
    // stores it raw (an integer-encoded string is converted); the key is
    // signalled only when a write counted as a change.
    let grew = before != Some(b.len());
    let changed = run_fields(ctx, &fields, &mut b, grew);
    put_string(ctx, v, key, Value::raw_string(b));
    if changed {
        ctx.notify(super::events::STRING, "setbit", key);
    } else {
        v.db_mut(ctx.db()).unlog(key);
    }
}

/// Answers a BITFIELD made only of GETs (and OVERFLOWs) without copying.
fn read_fields(ctx: &mut Ctx<'_>, v: &Version, fields: &[Field]) {
    match lookup_string_read(ctx, v, &ctx.args[1]) {
        Ok(s) => {
            let s = s.unwrap_or_default();
            ctx.out.array(fields.len());
            for f in fields {
                ctx.out.int(f.get(s) as i64);
            }
        }
        Err(e) => ctx.err(e),
    }
}

fn bitfield_ro(ctx: &mut Ctx<'_>, v: &Version) {
    let fields = match parse_fields(ctx, true) {
        Ok(f) => f,
        Err(e) => return ctx.err(e),
    };
    read_fields(ctx, v, &fields);
}
