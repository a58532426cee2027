//! Values stored under keys, and the entry that wraps a value with its expiry.

use crate::{Millis, SmallBytes};

/// A value of one of Redis's types (HyperLogLogs are strings, geo sets are
/// sorted sets, as in Redis). Each collection is a persistent structure so cloning a version never copies one.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string. `raw` records that it was modified in place (APPEND,
    /// SETRANGE, SETBIT…), which makes Redis report the `raw` encoding.
    Str { bytes: SmallBytes, raw: bool },
    /// A list.
    List(crate::list::List),
    /// A hash.
    Hash(crate::hash::Hash),
    /// A set.
    Set(crate::set::Set),
    /// A sorted set.
    ZSet(crate::zset::ZSet),
    /// A stream.
    Stream(crate::stream::Stream),
}

// Values sit inside every trie entry: keep them small.
const _: () = assert!(std::mem::size_of::<Value>() <= 32);

impl Value {
    /// A string value as SET would create it.
    pub fn string(bytes: impl Into<SmallBytes>) -> Value {
        Value::Str {
            bytes: bytes.into(),
            raw: false,
        }
    }

    /// A string modified in place (APPEND, SETRANGE, SETBIT…), which Redis
    /// reports with the `raw` encoding.
    pub fn raw_string(bytes: impl Into<SmallBytes>) -> Value {
        Value::Str {
            bytes: bytes.into(),
            raw: true,
        }
    }

    /// The type name reported by TYPE.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str { .. } => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// The encoding Redis would report for this value (OBJECT ENCODING).
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str { bytes, raw } => {
                if !raw && bytes.len() <= 20 && is_canonical_i64(bytes) {
                    "int"
                } else if *raw || bytes.len() > 44 {
                    "raw"
                } else {
                    "embstr"
                }
            }
            Value::List(l) => l.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(s) => s.encoding(),
        }
    }
}

/// Two-digit groups "00".."99", for [`fmt_i64`].
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Decimal text of `n`, written at the end of `buf` (two digits per
/// division: integer replies and INCR results are formatted on hot paths).
pub fn fmt_i64(buf: &mut [u8; 20], n: i64) -> &[u8] {
    let mut u = n.unsigned_abs();
    let mut i = buf.len();
    while u >= 100 {
        let d = (u % 100) as usize * 2;
        u /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[d..d + 2]);
    }
    if u >= 10 {
        let d = u as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[d..d + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + u as u8;
    }
    if n < 0 {
        // u64's 20 digits never meet a sign: i64::MIN has 19.
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// Whether `b` is the canonical decimal form of an i64 (as Redis's string2ll).
pub fn is_canonical_i64(b: &[u8]) -> bool {
    parse_i64(b).is_some()
}

/// Parses `b` as Redis's `string2ll` does: optional `-`, no leading zeros, no
/// spaces or `+`, within i64 range.
pub fn parse_i64(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    if b == b"0" {
        return Some(0);
    }
    let (neg, digits) = match b[0] {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

/// The key holds a value of another type than the operation needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WrongType;

/// A value plus its expiry time and last write time.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The value.
    pub value: Value,
    /// Absolute expiry time in ms since the epoch; 0 means no expiry. Change it
    /// only through [`crate::Db`] so the expiry index stays in step.
    pub expire: Millis,
}

impl Entry {
    /// An entry without expiry.
    pub fn new(value: Value) -> Entry {
        Entry { value, expire: 0 }
    }

    /// Whether the entry is expired at `now`.
    #[inline]
    pub fn is_expired(&self, now: Millis) -> bool {
        self.expire != 0 && self.expire <= now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fmt_i64_matches_to_string() {
        let mut cases = vec![0, 1, -1, 9, 10, 99, 100, 101, -100, i64::MAX, i64::MIN];
        let mut p: i64 = 1;
        while let Some(q) = p.checked_mul(10) {
            cases.extend([p - 1, p, p + 1, -p, -(p - 1), q / 2 + 7]);
            p = q;
        }
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push(x as i64);
            cases.push((x >> (x % 63)) as i64);
        }
        for n in cases {
            assert_eq!(fmt_i64(&mut [0; 20], n), n.to_string().as_bytes(), "{n}");
        }
    }

    #[test]
    fn parse_i64_matches_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b"9223372036854775808"[..],
            b"01",
            b"-0",
            b"+1",
            b" 1",
            b"",
            b"-",
            b"1a",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn string_encodings() {
        assert_eq!(Value::string("123").encoding(), "int");
        assert_eq!(Value::string("hello").encoding(), "embstr");
        assert_eq!(Value::string(vec![b'x'; 45]).encoding(), "raw");
    }
}
