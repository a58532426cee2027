//! A software model of the x86 80-bit `long double` for INCRBYFLOAT.
//!
//! Redis parses INCRBYFLOAT operands with `strtold`, adds them in `long
//! double` precision (64-bit significand on x86-64) and prints the sum with
//! `%.17Lf`. An `f64` gives different digits (`10.5 + 0.1` must print
//! `10.6`), so this module reproduces the three steps exactly: correctly
//! rounded parsing (decimal, hex, `inf`), round-to-nearest-even addition,
//! and exact fixed-point printing. It is built on a tiny unsigned bignum
//! because every step needs exact arithmetic on numbers of up to ~33k bits.

use std::cmp::Ordering;

/// Longest operand `string2ld` accepts (its buffer is 5 KiB with a NUL).
const MAX_CHARS: usize = 5 * 1024;
/// Smallest exponent of the unit in the last place (subnormal minimum 2^-16445).
const MIN_EXP: i64 = -16445;
/// A value is infinite once it reaches 2^16384.
const MAX_BITS: i64 = 16384;

/// A finite or infinite `long double`: `(-1)^neg * mant * 2^exp`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LongDouble {
    neg: bool,
    /// Significand; 0 for zero. Infinite when `inf`.
    mant: u64,
    exp: i64,
    inf: bool,
}

/// Arbitrary-size unsigned integer, little-endian 64-bit limbs, no trailing zeros.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Big(Vec<u64>);

impl Big {
    fn from_u64(v: u64) -> Big {
        let mut b = Big(vec![v]);
        b.trim();
        b
    }
    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }
    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }
    fn bits(&self) -> i64 {
        match self.0.last() {
            None => 0,
            Some(&top) => self.0.len() as i64 * 64 - top.leading_zeros() as i64,
        }
    }
    fn mul_add_small(&mut self, m: u64, a: u64) {
        let mut carry = a as u128;
        for l in &mut self.0 {
            let v = *l as u128 * m as u128 + carry;
            *l = v as u64;
            carry = v >> 64;
        }
        if carry != 0 {
            self.0.push(carry as u64);
        }
        self.trim();
    }
    fn mul_pow10(&mut self, n: u32) {
        let mut left = n;
        while left > 0 {
            let step = left.min(19);
            self.mul_add_small(10u64.pow(step), 0);
            left -= step;
        }
    }
    fn pow10(n: u32) -> Big {
        let mut b = Big::from_u64(1);
        b.mul_pow10(n);
        b
    }
    fn shl(&self, n: i64) -> Big {
        if self.is_zero() || n <= 0 {
            return self.clone();
        }
        let (limbs, bits) = ((n / 64) as usize, (n % 64) as u32);
        let mut v = vec![0u64; limbs];
        let mut carry = 0u64;
        for &l in &self.0 {
            if bits == 0 {
                v.push(l);
            } else {
                v.push((l << bits) | carry);
                carry = l >> (64 - bits);
            }
        }
        if carry != 0 {
            v.push(carry);
        }
        let mut b = Big(v);
        b.trim();
        b
    }
    /// `self >> n`, and whether any bit shifted out was set.
    fn shr(&self, n: i64) -> (Big, bool) {
        if n <= 0 {
            return (self.clone(), false);
        }
        let (limbs, bits) = ((n / 64) as usize, (n % 64) as u32);
        if limbs >= self.0.len() {
            return (Big::default(), !self.is_zero());
        }
        let mut lost = self.0[..limbs].iter().any(|&l| l != 0);
        if bits != 0 {
            lost |= self.0[limbs] & ((1u64 << bits) - 1) != 0;
        }
        let src = &self.0[limbs..];
        let mut v = Vec::with_capacity(src.len());
        for (i, &l) in src.iter().enumerate() {
            if bits == 0 {
                v.push(l);
            } else {
                let hi = src.get(i + 1).map_or(0, |&h| h << (64 - bits));
                v.push((l >> bits) | hi);
            }
        }
        let mut b = Big(v);
        b.trim();
        (b, lost)
    }
    fn cmp(&self, o: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&o.0.len())
            .then_with(|| self.0.iter().rev().cmp(o.0.iter().rev()))
    }
    /// `self -= o`; requires `self >= o`.
    fn sub(&mut self, o: &Big) {
        let mut borrow = 0u64;
        for (i, l) in self.0.iter_mut().enumerate() {
            let r = o.0.get(i).copied().unwrap_or(0);
            let (a, b1) = l.overflowing_sub(r);
            let (a, b2) = a.overflowing_sub(borrow);
            *l = a;
            borrow = (b1 || b2) as u64;
        }
        self.trim();
    }
    fn add(&self, o: &Big) -> Big {
        let n = self.0.len().max(o.0.len());
        let mut v = Vec::with_capacity(n + 1);
        let mut carry = 0u128;
        for i in 0..n {
            let s = self.0.get(i).copied().unwrap_or(0) as u128
                + o.0.get(i).copied().unwrap_or(0) as u128
                + carry;
            v.push(s as u64);
            carry = s >> 64;
        }
        v.push(carry as u64);
        let mut b = Big(v);
        b.trim();
        b
    }
    fn low_u64(&self) -> u64 {
        self.0.first().copied().unwrap_or(0)
    }
    /// Quotient (small enough for a u128) and whether there is a remainder.
    fn div_small_quotient(mut num: Big, den: &Big) -> (u128, bool) {
        let span = num.bits() - den.bits();
        let mut q = 0u128;
        let mut k = span.clamp(0, 127);
        loop {
            let d = den.shl(k);
            if num.cmp(&d) != Ordering::Less {
                num.sub(&d);
                q |= 1u128 << k;
            }
            if k == 0 {
                break;
            }
            k -= 1;
        }
        (q, !num.is_zero())
    }
    /// Decimal digits.
    fn to_decimal(&self) -> String {
        if self.is_zero() {
            return "0".into();
        }
        let mut limbs = self.0.clone();
        let mut chunks = Vec::new();
        const BASE: u64 = 1_000_000_000_000_000_000;
        while !limbs.is_empty() {
            let mut rem = 0u128;
            for l in limbs.iter_mut().rev() {
                let cur = (rem << 64) | *l as u128;
                *l = (cur / BASE as u128) as u64;
                rem = cur % BASE as u128;
            }
            while limbs.last() == Some(&0) {
                limbs.pop();
            }
            chunks.push(rem as u64);
        }
        let mut s = chunks.last().map_or(String::new(), |c| c.to_string());
        for c in chunks.iter().rev().skip(1) {
            s.push_str(&format!("{c:018}"));
        }
        s
    }
}

/// Rounds `num * 2^shift / den` to a `long double` (round to nearest even).
fn round(neg: bool, num: &Big, shift: i64, den: &Big) -> LongDouble {
    if num.is_zero() {
        return LongDouble::zero(neg);
    }
    // Choose the unit `2^exp` so the quotient has 65..67 bits (64 + round bit).
    let mag = num.bits() + shift - den.bits();
    let exp = (mag - 66).max(MIN_EXP - 1);
    if mag > MAX_BITS + 2 {
        return LongDouble::infinity(neg);
    }
    let s = shift - exp;
    let (q, sticky) = if s >= 0 {
        Big::div_small_quotient(num.shl(s), den)
    } else {
        let (n, lost) = num.shr(-s);
        let (q, r) = Big::div_small_quotient(n, den);
        (q, r || lost)
    };
    let mut q = q;
    let mut sticky = sticky;
    let mut exp = exp;
    // Keep 65 bits (the significand plus a round bit) but never go below the
    // subnormal unit.
    let qbits = 128 - q.leading_zeros() as i64;
    let excess = (qbits - 65).max(MIN_EXP - 1 - exp).max(0);
    if excess > 0 {
        if excess >= 128 {
            sticky |= q != 0;
            q = 0;
        } else {
            sticky |= q & ((1u128 << excess) - 1) != 0;
            q >>= excess;
        }
        exp += excess;
    }
    let round_bit = q & 1 == 1;
    let mut m = q >> 1;
    exp += 1;
    if round_bit && (sticky || m & 1 == 1) {
        m += 1;
    }
    if m >> 64 != 0 {
        m >>= 1;
        exp += 1;
    }
    let m = m as u64;
    if m == 0 {
        return LongDouble::zero(neg);
    }
    if exp + (64 - m.leading_zeros() as i64) > MAX_BITS {
        return LongDouble::infinity(neg);
    }
    LongDouble {
        neg,
        mant: m,
        exp,
        inf: false,
    }
}

impl LongDouble {
    fn zero(neg: bool) -> LongDouble {
        LongDouble {
            neg,
            mant: 0,
            exp: 0,
            inf: false,
        }
    }
    fn infinity(neg: bool) -> LongDouble {
        LongDouble {
            neg,
            mant: 0,
            exp: 0,
            inf: true,
        }
    }

    /// The nearest `f64` (infinite beyond its range), for callers that only
    /// need the magnitude (blocking timeouts).
    pub fn to_f64(self) -> f64 {
        let sign = if self.neg { -1.0 } else { 1.0 };
        if self.inf {
            return sign * f64::INFINITY;
        }
        if self.mant == 0 {
            return 0.0;
        }
        // powi saturates to inf/0 outside f64's range, as wanted.
        let e = self.exp.clamp(-3000, 3000) as i32;
        sign * (self.mant as f64) * 2f64.powi(e)
    }

    /// Whether the value is infinite.
    pub fn is_infinite(&self) -> bool {
        self.inf
    }

    /// Parses like Redis's `string2ld`: the whole input must be a `strtold`
    /// number (no leading space, no NaN), and overflow to infinity or
    /// underflow to zero is rejected. A literal `inf` is accepted.
    pub fn parse(s: &[u8]) -> Option<LongDouble> {
        if s.is_empty() || s.len() >= MAX_CHARS || s.contains(&0) {
            return None;
        }
        let (neg, body) = match s[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(LongDouble::infinity(neg));
        }
        let (exact_zero, v) =
            if body.len() > 2 && (body.starts_with(b"0x") || body.starts_with(b"0X")) {
                parse_hex(neg, &body[2..])?
            } else {
                parse_dec(neg, body)?
            };
        if v.inf || (v.mant == 0 && !exact_zero) {
            return None; // ERANGE
        }
        Some(v)
    }

    /// `self + o`, rounded to nearest even.
    pub fn add(self, o: LongDouble) -> LongDouble {
        if self.inf || o.inf {
            // inf - inf is NaN; callers reject both the same way.
            return LongDouble::infinity(if self.inf { self.neg } else { o.neg });
        }
        if self.mant == 0 {
            return if o.mant == 0 {
                LongDouble::zero(self.neg && o.neg)
            } else {
                o
            };
        }
        if o.mant == 0 {
            return self;
        }
        let base = self.exp.min(o.exp);
        let a = Big::from_u64(self.mant).shl(self.exp - base);
        let b = Big::from_u64(o.mant).shl(o.exp - base);
        let one = Big::from_u64(1);
        if self.neg == o.neg {
            return round(self.neg, &a.add(&b), base, &one);
        }
        match a.cmp(&b) {
            Ordering::Equal => LongDouble::zero(false),
            Ordering::Greater => {
                let mut d = a;
                d.sub(&b);
                round(self.neg, &d, base, &one)
            }
            Ordering::Less => {
                let mut d = b;
                d.sub(&a);
                round(o.neg, &d, base, &one)
            }
        }
    }

    /// Formats like `printf("%.17Lf")` followed by Redis's trimming of
    /// trailing zeros (and of the dot), with `-0` shown as `0`.
    pub fn to_human(self) -> String {
        let mut s = String::new();
        if self.neg {
            s.push('-');
        }
        if self.inf {
            s.push_str("inf");
            return s;
        }
        let m = Big::from_u64(self.mant);
        if self.exp >= 0 {
            s.push_str(&m.shl(self.exp).to_decimal());
        } else {
            let scaled = {
                let mut b = m;
                b.mul_add_small(100_000_000_000_000_000, 0);
                b
            };
            let (q, _) = scaled.shr(-self.exp);
            // Round half to even on the 17th decimal, as glibc does.
            let (q2, lost) = scaled.shr(-self.exp - 1);
            let half = q2.low_u64() & 1 == 1;
            let mut q = q;
            if half && (lost || q.low_u64() & 1 == 1) {
                q = q.add(&Big::from_u64(1));
            }
            let digits = q.to_decimal();
            let digits = format!("{digits:0>18}");
            let (int, frac) = digits.split_at(digits.len() - 17);
            s.push_str(int);
            let frac = frac.trim_end_matches('0');
            if !frac.is_empty() {
                s.push('.');
                s.push_str(frac);
            }
        }
        if s == "-0" {
            s = "0".into();
        }
        s
    }
}

/// Decimal `strtold` syntax: digits, optional `.digits`, optional exponent.
/// Returns whether the digits were all zero, and the rounded value.
fn parse_dec(neg: bool, b: &[u8]) -> Option<(bool, LongDouble)> {
    let mut i = 0;
    let mut digits = Vec::new();
    let mut scale: i64 = 0;
    let mut any = false;
    while i < b.len() && b[i].is_ascii_digit() {
        digits.push(b[i] - b'0');
        any = true;
        i += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            digits.push(b[i] - b'0');
            scale -= 1;
            any = true;
            i += 1;
        }
    }
    if !any {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        scale = scale.saturating_add(parse_exp(&b[i + 1..])?);
        i = b.len();
    }
    if i != b.len() {
        return None;
    }
    let first = digits.iter().position(|&d| d != 0);
    let Some(first) = first else {
        return Some((true, LongDouble::zero(neg)));
    };
    let digits = &digits[first..];
    let n = digits.len() as i64;
    // Values far outside the range need no exact arithmetic.
    if n - 1 + scale > 4933 {
        return Some((false, LongDouble::infinity(neg)));
    }
    if n + scale < -4952 {
        return Some((false, LongDouble::zero(neg)));
    }
    let mut d = Big::default();
    for &c in digits {
        d.mul_add_small(10, c as u64);
    }
    let v = if scale >= 0 {
        d.mul_pow10(scale as u32);
        round(neg, &d, 0, &Big::from_u64(1))
    } else {
        round(neg, &d, 0, &Big::pow10((-scale) as u32))
    };
    Some((false, v))
}

/// Hex `strtold` syntax after `0x`: hex digits, optional `.hexdigits`,
/// optional `p` binary exponent.
fn parse_hex(neg: bool, b: &[u8]) -> Option<(bool, LongDouble)> {
    let mut i = 0;
    let mut m = Big::default();
    let mut shift: i64 = 0;
    let mut any = false;
    let hex = |c: u8| (c as char).to_digit(16);
    while i < b.len() && hex(b[i]).is_some() {
        m.mul_add_small(16, hex(b[i]).unwrap_or(0) as u64);
        any = true;
        i += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && hex(b[i]).is_some() {
            m.mul_add_small(16, hex(b[i]).unwrap_or(0) as u64);
            shift -= 4;
            any = true;
            i += 1;
        }
    }
    if !any {
        return None;
    }
    if i < b.len() && (b[i] == b'p' || b[i] == b'P') {
        shift = shift.saturating_add(parse_exp(&b[i + 1..])?);
        i = b.len();
    }
    if i != b.len() {
        return None;
    }
    if m.is_zero() {
        return Some((true, LongDouble::zero(neg)));
    }
    let mag = m.bits() + shift;
    if mag > MAX_BITS + 2 {
        return Some((false, LongDouble::infinity(neg)));
    }
    if mag < MIN_EXP - 2 {
        return Some((false, LongDouble::zero(neg)));
    }
    Some((false, round(neg, &m, shift, &Big::from_u64(1))))
}

/// A signed decimal exponent, saturated far beyond any meaningful range.
fn parse_exp(b: &[u8]) -> Option<i64> {
    let (neg, d) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if d.is_empty() || !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for &c in d {
        v = (v * 10 + (c - b'0') as i64).min(1 << 40);
    }
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(a: &str, b: &str) -> String {
        let a = LongDouble::parse(a.as_bytes()).unwrap();
        let b = LongDouble::parse(b.as_bytes()).unwrap();
        a.add(b).to_human()
    }

    #[test]
    fn sums_print_like_redis() {
        assert_eq!(sum("10.5", "0.1"), "10.6");
        assert_eq!(sum("0.1", "0.2"), "0.3");
        assert_eq!(sum("5", ".5"), "5.5");
        assert_eq!(sum("0", "-0"), "0");
        assert_eq!(sum("0", "-0.000000000000000001"), "0");
        assert_eq!(sum("0x1p3", "0"), "8");
        assert_eq!(sum("1e20", "0.3"), "100000000000000000000");
        assert_eq!(
            sum("1e308", "1e308"),
            "199999999999999999993371759311691291321120199694831134415594095989843469737676123744200253843777078640893494450108026446304269499187921167194841628860392837535918200039206381557326219209014213335878306791577877829121087126122536729803237260434173178506889763247582601711514636284849020905456510092687857156096"
        );
    }

    #[test]
    fn range_limits() {
        for bad in [
            "1e5000",
            "1e-5000",
            "1e-4951",
            "0x1p-16446",
            "nan",
            " 1",
            "1 ",
            "",
            "0x",
            "1e",
            "-.e1",
        ] {
            assert!(LongDouble::parse(bad.as_bytes()).is_none(), "{bad}");
        }
        assert!(LongDouble::parse(b"1e-4950").is_some());
        assert!(LongDouble::parse(b"0x1p-16445").is_some());
        assert!(LongDouble::parse(b"0e99999").is_some());
        assert!(LongDouble::parse(b"inf").unwrap().is_infinite());
        assert!(LongDouble::parse(b"1.18973149535723176502e+4932").is_some());
        assert!(LongDouble::parse(b"1.18973149535723176508e+4932").is_none());
    }
}
