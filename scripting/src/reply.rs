//! Command replies as a tree ([`Reply`]), the form in which the host hands a
//! command's result to Lua and Lua's return value goes back to the client,
//! plus a parser of RESP2/RESP3 reply bytes into that tree.

/// One reply, in RESP3 terms (RESP2 uses a subset).
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+text`.
    Status(Vec<u8>),
    /// `-CODE text`.
    Error(Vec<u8>),
    /// `:n`.
    Int(i64),
    /// `$n` bulk string.
    Bulk(Vec<u8>),
    /// `$-1` / `*-1` (RESP2) or `_` (RESP3).
    Nil,
    /// `*n`.
    Array(Vec<Reply>),
    /// `%n` (RESP3).
    Map(Vec<(Reply, Reply)>),
    /// `~n` (RESP3).
    Set(Vec<Reply>),
    /// `,d` (RESP3).
    Double(f64),
    /// `#t` / `#f` (RESP3).
    Bool(bool),
    /// `(digits` (RESP3).
    BigNumber(Vec<u8>),
    /// `=n fmt:text` (RESP3): format and text.
    Verbatim(Vec<u8>, Vec<u8>),
}

impl Reply {
    /// Parses every complete reply in `buf` (a command may write several,
    /// only the first counts for scripts). Returns `None` on malformed input.
    pub fn parse_all(buf: &[u8]) -> Option<Vec<Reply>> {
        let mut p = 0;
        let mut out = Vec::new();
        while p < buf.len() {
            out.push(parse(buf, &mut p, 0)?);
        }
        Some(out)
    }

    /// Parses the first reply in `buf` (the one a script sees from a
    /// command). Returns `None` on malformed input.
    pub fn parse_first(buf: &[u8]) -> Option<Reply> {
        parse(buf, &mut 0, 0)
    }
}

fn line<'a>(buf: &'a [u8], p: &mut usize) -> Option<&'a [u8]> {
    let rest = buf.get(*p..)?;
    let mut from = 0;
    let end = loop {
        let cr = from + rest.get(from..)?.iter().position(|&c| c == b'\r')?;
        if rest.get(cr + 1) == Some(&b'\n') {
            break cr;
        }
        from = cr + 1;
    };
    *p += end + 2;
    Some(&rest[..end])
}

/// A decimal integer as `str::parse::<i64>` reads it (optional sign,
/// digits, no overflow), straight from the bytes.
fn num(b: &[u8]) -> Option<i64> {
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        let d = i64::from(c - b'0');
        v = v.checked_mul(10)?;
        v = if neg {
            v.checked_sub(d)?
        } else {
            v.checked_add(d)?
        };
    }
    Some(v)
}

fn bytes(buf: &[u8], p: &mut usize, n: i64) -> Option<Vec<u8>> {
    let n = usize::try_from(n).ok()?;
    let v = buf.get(*p..p.checked_add(n)?)?.to_vec();
    *p += n + 2;
    Some(v)
}

fn parse(buf: &[u8], p: &mut usize, depth: usize) -> Option<Reply> {
    if depth > 1000 {
        return None;
    }
    let l = line(buf, p)?;
    let (&t, rest) = l.split_first()?;
    Some(match t {
        b'+' => Reply::Status(rest.to_vec()),
        b'-' => Reply::Error(rest.to_vec()),
        b':' => Reply::Int(num(rest)?),
        b'_' => Reply::Nil,
        b'#' => Reply::Bool(rest == b"t"),
        b',' => Reply::Double(parse_double(rest)?),
        b'(' => Reply::BigNumber(rest.to_vec()),
        b'$' | b'!' => {
            let n = num(rest)?;
            if n < 0 {
                Reply::Nil
            } else if t == b'!' {
                Reply::Error(bytes(buf, p, n)?)
            } else {
                Reply::Bulk(bytes(buf, p, n)?)
            }
        }
        b'=' => {
            let v = bytes(buf, p, num(rest)?)?;
            if v.len() >= 4 && v[3] == b':' {
                Reply::Verbatim(v[..3].to_vec(), v[4..].to_vec())
            } else {
                Reply::Bulk(v)
            }
        }
        b'*' | b'~' | b'>' => {
            let n = num(rest)?;
            if n < 0 {
                return Some(Reply::Nil);
            }
            let mut items = Vec::with_capacity((n as usize).min(1024));
            for _ in 0..n {
                items.push(parse(buf, p, depth + 1)?);
            }
            if t == b'~' {
                Reply::Set(items)
            } else {
                Reply::Array(items)
            }
        }
        b'%' | b'|' => {
            let n = num(rest)?;
            let mut items = Vec::with_capacity((n.max(0) as usize).min(1024));
            for _ in 0..n {
                let k = parse(buf, p, depth + 1)?;
                let v = parse(buf, p, depth + 1)?;
                items.push((k, v));
            }
            if t == b'|' {
                // An attribute precedes the real reply; scripts ignore it.
                return parse(buf, p, depth + 1);
            }
            Reply::Map(items)
        }
        _ => return None,
    })
}

fn parse_double(b: &[u8]) -> Option<f64> {
    match b {
        b"inf" => Some(f64::INFINITY),
        b"-inf" => Some(f64::NEG_INFINITY),
        b"nan" => Some(f64::NAN),
        _ => std::str::from_utf8(b).ok()?.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_resp3() {
        let r = Reply::parse_all(b"*2\r\n:1\r\n%1\r\n$1\r\na\r\n,1.5\r\n_\r\n").unwrap();
        assert_eq!(
            r,
            vec![
                Reply::Array(vec![
                    Reply::Int(1),
                    Reply::Map(vec![(Reply::Bulk(b"a".to_vec()), Reply::Double(1.5))])
                ]),
                Reply::Nil
            ]
        );
        assert!(Reply::parse_all(b"$5\r\nab").is_none());
    }

    #[test]
    fn num_reads_like_str_parse() {
        for s in [
            "0",
            "7",
            "-7",
            "+7",
            "-0",
            "",
            "-",
            "+",
            "12a",
            " 1",
            "1 ",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "00012",
            "--1",
            "+-1",
        ] {
            assert_eq!(num(s.as_bytes()), s.parse::<i64>().ok(), "{s:?}");
        }
    }
}
