//! Request parsing: RESP multibulk and inline (telnet-style) commands.
//!
//! Mirrors Redis's `processMultibulkBuffer` / `processInlineBuffer`: the same
//! limits and the same `Protocol error: ...` texts. A protocol error is sent
//! to the client and the connection is closed after the reply, as Redis does.

use bytes::{Buf, Bytes, BytesMut};

/// Longest inline request or length line accepted without a newline.
pub const INLINE_MAX: usize = 64 * 1024;
/// Largest multibulk count accepted (Redis: INT_MAX).
pub const MULTIBULK_MAX: i64 = i32::MAX as i64;
/// Limits applied to clients that have not authenticated yet.
pub const UNAUTH_MULTIBULK_MAX: i64 = 10;
/// Largest bulk accepted from a client that has not authenticated.
pub const UNAUTH_BULK_MAX: i64 = 16384;

/// One parsing outcome.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    /// A complete command (possibly empty: an empty inline line or `*0`).
    Command(Vec<Bytes>),
    /// More bytes are needed.
    Incomplete,
    /// A protocol error: reply `-ERR Protocol error: <msg>` and close.
    Error(&'static str),
}

/// Incremental parser state kept across reads (so a huge bulk is not
/// re-scanned on every read).
#[derive(Default)]
pub struct Parser {
    /// Arguments parsed so far for the multibulk in progress.
    args: Vec<Bytes>,
    /// Arguments still to read for the multibulk in progress (0 = none).
    remaining: usize,
    /// Emptied argument vectors of commands already run (see
    /// [`Parser::recycle`]), reused so parsing a command allocates nothing.
    spare: Vec<Vec<Bytes>>,
}

/// Most argument vectors [`Parser::recycle`] keeps, and the largest
/// capacity it keeps one with.
const SPARE_MAX: usize = 64;
const SPARE_ARGS_MAX: usize = 64;

impl Parser {
    /// Parses one command from the front of `buf`, consuming its bytes.
    /// `max_bulk` is `proto-max-bulk-len`; `authed` selects the stricter
    /// limits Redis applies before authentication.
    pub fn parse(&mut self, buf: &mut BytesMut, max_bulk: i64, authed: bool) -> Parsed {
        if self.remaining == 0 {
            if buf.is_empty() {
                return Parsed::Incomplete;
            }
            if buf[0] != b'*' {
                return parse_inline(buf);
            }
            let Some(nl) = find_crlf(buf) else {
                if buf.len() > INLINE_MAX {
                    return Parsed::Error("too big mbulk count string");
                }
                return Parsed::Incomplete;
            };
            let n = parse_len(&buf[1..nl]);
            let n = match n {
                Some(n) if n <= MULTIBULK_MAX => n,
                _ => return Parsed::Error("invalid multibulk length"),
            };
            if !authed && n > UNAUTH_MULTIBULK_MAX {
                return Parsed::Error("unauthenticated multibulk length");
            }
            buf.advance(nl + 2);
            if n <= 0 {
                return Parsed::Command(Vec::new());
            }
            self.remaining = n as usize;
            // Do not trust the count for preallocation beyond a sane amount.
            let cap = (n as usize).min(1024);
            self.args = match self.spare.pop() {
                Some(mut v) => {
                    v.reserve(cap);
                    v
                }
                None => Vec::with_capacity(cap),
            };
        }
        while self.remaining > 0 {
            if buf.is_empty() {
                return Parsed::Incomplete;
            }
            if buf[0] != b'$' {
                return Parsed::Error(expected_dollar(buf[0]));
            }
            let Some(nl) = find_crlf(buf) else {
                if buf.len() > INLINE_MAX {
                    return Parsed::Error("too big bulk count string");
                }
                return Parsed::Incomplete;
            };
            let len = match parse_len(&buf[1..nl]) {
                Some(l) if l >= 0 && l <= max_bulk => l,
                _ => return Parsed::Error("invalid bulk length"),
            };
            if !authed && len > UNAUTH_BULK_MAX {
                return Parsed::Error("unauthenticated bulk length");
            }
            let len = len as usize;
            let need = nl + 2 + len + 2;
            if buf.len() < need {
                // Make room once for a big argument instead of growing in steps.
                if buf.capacity() < need {
                    buf.reserve(need - buf.len());
                }
                return Parsed::Incomplete;
            }
            // `advance` moves a pointer; only the argument itself becomes a
            // (refcounted) `Bytes`.
            buf.advance(nl + 2);
            let arg = buf.split_to(len).freeze();
            buf.advance(2);
            self.args.push(arg);
            self.remaining -= 1;
        }
        Parsed::Command(std::mem::take(&mut self.args))
    }

    /// Takes back the argument vectors of `cmds` (commands already run,
    /// leaving `cmds` empty) for later commands to be parsed into.
    pub fn recycle(&mut self, cmds: &mut Vec<Vec<Bytes>>) {
        for mut v in cmds.drain(..) {
            if self.spare.len() < SPARE_MAX && v.capacity() <= SPARE_ARGS_MAX {
                v.clear();
                self.spare.push(v);
            }
        }
    }
}

/// Redis prints the unexpected byte with `%c`; keep a static text per byte class.
fn expected_dollar(c: u8) -> &'static str {
    // Build the message table lazily: one entry per byte value.
    static TABLE: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    let t = TABLE.get_or_init(|| {
        (0u16..256)
            .map(|b| {
                let s = format!("expected '$', got '{}'", b as u8 as char);
                &*Box::leak(s.into_boxed_str())
            })
            .collect()
    });
    t[c as usize]
}

/// Position of the `\r` ending a length line, once the byte after it (taken
/// as `\n` without checking, like Redis) has arrived.
fn find_crlf(buf: &[u8]) -> Option<usize> {
    let nl = memchr(b'\r', buf)?;
    (nl + 1 < buf.len()).then_some(nl)
}

fn memchr(c: u8, b: &[u8]) -> Option<usize> {
    b.iter().position(|&x| x == c)
}

/// Parses a length the way Redis's `string2ll` does.
fn parse_len(b: &[u8]) -> Option<i64> {
    ferrous_storage::value::parse_i64(b)
}

fn parse_inline(buf: &mut BytesMut) -> Parsed {
    let Some(nl) = memchr(b'\n', buf) else {
        if buf.len() > INLINE_MAX {
            return Parsed::Error("too big inline request");
        }
        return Parsed::Incomplete;
    };
    let line = buf.split_to(nl + 1);
    let mut end = nl;
    if end > 0 && line[end - 1] == b'\r' {
        end -= 1;
    }
    match split_args(&line[..end]) {
        Some(args) => Parsed::Command(args.into_iter().map(Bytes::from).collect()),
        None => Parsed::Error("unbalanced quotes in request"),
    }
}

/// Splits an inline line like Redis's `sdssplitargs`: whitespace separated,
/// "double quotes" with C escapes and \xHH, 'single quotes' with \' only.
/// Returns `None` for unbalanced quotes or a closing quote not followed by a
/// space.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Some(args);
        }
        let mut cur = Vec::new();
        let mut inq = false;
        let mut insq = false;
        loop {
            if inq {
                if i >= n {
                    return None;
                }
                if line[i] == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && line[i + 2].is_ascii_hexdigit()
                    && line[i + 3].is_ascii_hexdigit()
                {
                    cur.push(hex(line[i + 2]) * 16 + hex(line[i + 3]));
                    i += 3;
                } else if line[i] == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        c => c,
                    });
                } else if line[i] == b'"' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(line[i]);
                }
            } else if insq {
                if i >= n {
                    return None;
                }
                if line[i] == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if line[i] == b'\'' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(line[i]);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' | b'\0' => {
                        i += 1;
                        break;
                    }
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        args.push(cur);
    }
}

fn hex(c: u8) -> u8 {
    (c as char).to_digit(16).unwrap_or(0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Vec<Parsed> {
        let mut p = Parser::default();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        loop {
            match p.parse(&mut buf, 512 << 20, true) {
                Parsed::Incomplete => return out,
                e @ Parsed::Error(_) => {
                    out.push(e);
                    return out;
                }
                c => out.push(c),
            }
        }
    }

    fn cmd(args: &[&str]) -> Parsed {
        Parsed::Command(
            args.iter()
                .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                .collect(),
        )
    }

    #[test]
    fn recycled_argument_vectors_carry_nothing_over() {
        let mut p = Parser::default();
        let mut buf = BytesMut::from(&b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"[..]);
        let Parsed::Command(first) = p.parse(&mut buf, 512 << 20, true) else {
            panic!("not parsed");
        };
        let mut cmds = vec![first];
        p.recycle(&mut cmds);
        assert!(cmds.is_empty());
        assert_eq!(p.spare.len(), 1);
        // The next command (in two reads) is parsed into the recycled vector.
        buf.extend_from_slice(b"*2\r\n$3\r\nGET\r\n");
        assert_eq!(p.parse(&mut buf, 512 << 20, true), Parsed::Incomplete);
        assert!(p.spare.is_empty());
        buf.extend_from_slice(b"$2\r\nk2\r\n");
        assert_eq!(p.parse(&mut buf, 512 << 20, true), cmd(&["GET", "k2"]));
        // Oversized vectors are not kept.
        p.recycle(&mut vec![Vec::with_capacity(SPARE_ARGS_MAX + 1)]);
        assert!(p.spare.is_empty());
    }

    #[test]
    fn multibulk_and_inline_pipeline() {
        let got = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\nset a \"b c\"\n*0\r\n");
        assert_eq!(
            got,
            vec![
                cmd(&["GET", "k"]),
                cmd(&["PING"]),
                cmd(&["set", "a", "b c"]),
                cmd(&[])
            ]
        );
    }

    #[test]
    fn incremental_bulk() {
        let mut p = Parser::default();
        let mut buf = BytesMut::from(&b"*1\r\n$5\r\nhel"[..]);
        assert_eq!(p.parse(&mut buf, 100, true), Parsed::Incomplete);
        buf.extend_from_slice(b"lo\r\n");
        assert_eq!(p.parse(&mut buf, 100, true), cmd(&["hello"]));
    }

    #[test]
    fn protocol_errors() {
        assert_eq!(
            parse_all(b"*x\r\n"),
            vec![Parsed::Error("invalid multibulk length")]
        );
        assert_eq!(
            parse_all(b"*1\r\n+x\r\n"),
            vec![Parsed::Error("expected '$', got '+'")]
        );
        assert_eq!(
            parse_all(b"*1\r\n$-1\r\n"),
            vec![Parsed::Error("invalid bulk length")]
        );
        assert_eq!(
            parse_all(b"set \"a\"b\r\n"),
            vec![Parsed::Error("unbalanced quotes in request")]
        );
        assert_eq!(
            parse_all(&vec![b'a'; INLINE_MAX + 1]),
            vec![Parsed::Error("too big inline request")]
        );
    }

    #[test]
    fn split_args_escapes() {
        assert_eq!(
            split_args(br#"a "\x41\n" 'it\'s'"#).unwrap(),
            vec![b"a".to_vec(), b"A\n".to_vec(), b"it's".to_vec()]
        );
        assert!(split_args(b"\"open").is_none());
    }
}
