//! Reply encoding: commands write RESP2 or RESP3 straight into the
//! connection's output buffer, so the hot path builds no reply tree.
//!
//! Every method picks the wire form of the client's protocol: a map is a flat
//! array in RESP2, a null is `$-1`/`*-1` in RESP2 and `_` in RESP3, a double is
//! a bulk string in RESP2, and so on.

/// The output buffer of one client plus its protocol version.
pub struct ReplyBuf {
    /// Encoded bytes waiting to be written.
    pub buf: Vec<u8>,
    /// RESP3 (`HELLO 3`) rather than RESP2.
    pub resp3: bool,
    /// Error replies written so far (for INFO stats).
    pub errors: u64,
    /// Codes of the error replies written since last drained (INFO errorstats).
    pub error_codes: Vec<String>,
}

impl ReplyBuf {
    /// An empty buffer.
    pub fn new(resp3: bool) -> ReplyBuf {
        ReplyBuf {
            buf: Vec::with_capacity(16 * 1024),
            resp3,
            errors: 0,
            error_codes: Vec::new(),
        }
    }

    fn header(&mut self, t: u8, n: i64) {
        self.buf.push(t);
        let mut b = itoa_buf();
        self.buf.extend_from_slice(fmt_i64(&mut b, n));
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `+OK`.
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// A simple string (status) reply.
    pub fn status(&mut self, s: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error reply; `msg` starts with its code (`ERR ...`, `WRONGTYPE ...`).
    /// Newlines are replaced by spaces, as Redis does, so the protocol holds.
    pub fn error(&mut self, msg: &str) {
        self.errors += 1;
        self.error_codes
            .push(msg.split(' ').next().unwrap_or("ERR").to_string());
        self.buf.push(b'-');
        let start = self.buf.len();
        self.buf.extend_from_slice(msg.as_bytes());
        for b in &mut self.buf[start..] {
            if *b == b'\r' || *b == b'\n' {
                *b = b' ';
            }
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An integer reply.
    pub fn int(&mut self, n: i64) {
        self.header(b':', n);
    }

    /// A bulk string reply.
    pub fn bulk(&mut self, b: &[u8]) {
        self.header(b'$', b.len() as i64);
        self.buf.extend_from_slice(b);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A null bulk (`$-1` / `_`).
    pub fn null(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"$-1\r\n");
        }
    }

    /// A null array (`*-1` / `_`).
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"*-1\r\n");
        }
    }

    /// An array header of `n` elements.
    pub fn array(&mut self, n: usize) {
        self.header(b'*', n as i64);
    }

    /// A map header of `n` pairs (a flat array of 2n in RESP2).
    pub fn map(&mut self, n: usize) {
        if self.resp3 {
            self.header(b'%', n as i64);
        } else {
            self.header(b'*', 2 * n as i64);
        }
    }

    /// A set header of `n` elements (an array in RESP2).
    pub fn set(&mut self, n: usize) {
        self.header(if self.resp3 { b'~' } else { b'*' }, n as i64);
    }

    /// A push header (RESP3) or an array header (RESP2).
    pub fn push(&mut self, n: usize) {
        self.header(if self.resp3 { b'>' } else { b'*' }, n as i64);
    }

    /// A boolean (`#t`/`#f` in RESP3, `:1`/`:0` in RESP2).
    pub fn boolean(&mut self, v: bool) {
        if self.resp3 {
            self.buf
                .extend_from_slice(if v { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(v as i64);
        }
    }

    /// A double, formatted as Redis 7.0 does (`%.17g`, `inf`, `-inf`).
    pub fn double(&mut self, d: f64) {
        let s = fmt_double(d);
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(s.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }

    /// A verbatim string (`=` with a 3-letter format in RESP3, bulk in RESP2).
    pub fn verbatim(&mut self, format: &str, text: &[u8]) {
        if self.resp3 {
            self.header(b'=', (text.len() + 4) as i64);
            self.buf.extend_from_slice(format.as_bytes());
            self.buf.push(b':');
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// Bytes already encoded (used to splice a nested reply).
    pub fn raw(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// Current length, to roll back a partially written reply.
    pub fn mark(&self) -> usize {
        self.buf.len()
    }

    /// Drops everything written after `mark`.
    pub fn truncate(&mut self, mark: usize) {
        self.buf.truncate(mark);
    }
}

type ItoaBuf = [u8; 20];

fn itoa_buf() -> ItoaBuf {
    [0; 20]
}

/// Formats `n` into `b`, returning the used tail.
pub use ferrous_storage::value::fmt_i64;

/// Formats like C's `printf("%.17g", d)`, Redis 7.0's double reply format.
pub fn fmt_double(d: f64) -> String {
    fmt_g(d, 17)
}

/// Formats like C's `%.<prec>g`.
pub fn fmt_g(d: f64, prec: usize) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let prec = prec.max(1);
    // Scientific form with prec significant digits tells the exponent.
    let sci = format!("{:.*e}", prec - 1, d);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= prec as i32 {
        let mant = trim_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{}{:02}", mant, sign, exp.unsigned_abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{:.*}", decimals, d)).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g17_matches_printf() {
        assert_eq!(fmt_double(1.5), "1.5");
        assert_eq!(fmt_double(0.1), "0.10000000000000001");
        assert_eq!(fmt_double(1e20), "1e+20");
        assert_eq!(fmt_double(123456789.0), "123456789");
        assert_eq!(fmt_double(1e-5), "1.0000000000000001e-05");
        assert_eq!(fmt_double(f64::INFINITY), "inf");
        assert_eq!(fmt_double(-3.0), "-3");
        assert_eq!(fmt_g(100000.0, 5), "1e+05");
    }

    #[test]
    fn ints() {
        let mut b = [0; 20];
        assert_eq!(fmt_i64(&mut b, i64::MIN), b"-9223372036854775808");
        assert_eq!(fmt_i64(&mut b, 0), b"0");
    }

    #[test]
    fn resp2_and_resp3_forms() {
        let mut r = ReplyBuf::new(false);
        r.map(1);
        r.null();
        r.boolean(true);
        assert_eq!(r.buf, b"*2\r\n$-1\r\n:1\r\n");
        let mut r = ReplyBuf::new(true);
        r.map(1);
        r.null();
        r.boolean(true);
        r.double(2.5);
        assert_eq!(r.buf, b"%1\r\n_\r\n#t\r\n,2.5\r\n");
    }
}
