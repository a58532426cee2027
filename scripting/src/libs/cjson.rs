//! `cjson` (lua-cjson 2.1.0 as bundled by Redis): JSON encode/decode with
//! its exact output (key order from `next`, `%.14g` numbers, `\/` escapes,
//! empty tables as `{}`) and its error messages.

use mlua::{LightUserData, Lua, MultiValue, Table, Value};

const MAX_DEPTH: usize = 1000;
const SPARSE_RATIO: i64 = 2;
const SPARSE_SAFE: i64 = 10;

fn err(msg: String) -> mlua::Error {
    mlua::Error::runtime(msg)
}

fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

fn push_number(out: &mut Vec<u8>, n: f64) -> mlua::Result<()> {
    if !n.is_finite() {
        return Err(err("Cannot serialise number: must not be NaN or Inf".into()));
    }
    out.extend_from_slice(crate::convert::fmt_g(n, 14).as_bytes());
    Ok(())
}

fn push_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            8 => out.extend_from_slice(b"\\b"),
            9 => out.extend_from_slice(b"\\t"),
            10 => out.extend_from_slice(b"\\n"),
            12 => out.extend_from_slice(b"\\f"),
            13 => out.extend_from_slice(b"\\r"),
            c if c < 32 || c == 127 => {
                out.extend_from_slice(format!("\\u{:04x}", c).as_bytes());
            }
            c => out.push(c),
        }
    }
    out.push(b'"');
}

/// The array length lua-cjson would use, or `None` for an object.
fn array_len(t: &Table) -> mlua::Result<Option<i64>> {
    let mut max = 0i64;
    let mut items = 0i64;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let n = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if n < 1.0 || n.floor() != n {
            return Ok(None);
        }
        max = max.max(n as i64);
        items += 1;
    }
    if max > items.saturating_mul(SPARSE_RATIO) && max > SPARSE_SAFE {
        return Err(err(
            "Cannot serialise table: excessively sparse array".into()
        ));
    }
    Ok(Some(max))
}

fn encode_value(out: &mut Vec<u8>, v: &Value, depth: usize) -> mlua::Result<()> {
    // Nesting up to 1000 levels: grow the stack rather than overflow it.
    stacker::maybe_grow(64 * 1024, 1024 * 1024, || encode_inner(out, v, depth))
}

fn encode_inner(out: &mut Vec<u8>, v: &Value, depth: usize) -> mlua::Result<()> {
    match v {
        Value::String(s) => push_string(out, &s.as_bytes()),
        Value::Integer(i) => push_number(out, *i as f64)?,
        Value::Number(n) => push_number(out, *n)?,
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Table(t) => {
            let depth = depth + 1;
            if depth > MAX_DEPTH {
                return Err(err(format!(
                    "Cannot serialise, excessive nesting ({depth})"
                )));
            }
            match array_len(t)? {
                Some(n) if n > 0 => {
                    out.push(b'[');
                    for i in 1..=n {
                        if i > 1 {
                            out.push(b',');
                        }
                        encode_value(out, &t.raw_get::<Value>(i)?, depth)?;
                    }
                    out.push(b']');
                }
                _ => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in t.pairs::<Value, Value>() {
                        let (k, v) = pair?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &k {
                            Value::String(s) => push_string(out, &s.as_bytes()),
                            Value::Integer(i) => {
                                out.push(b'"');
                                push_number(out, *i as f64)?;
                                out.push(b'"');
                            }
                            Value::Number(n) => {
                                out.push(b'"');
                                push_number(out, *n)?;
                                out.push(b'"');
                            }
                            other => {
                                return Err(err(format!(
                                    "Cannot serialise {}: table key must be a number or string",
                                    other.type_name()
                                )))
                            }
                        }
                        out.push(b':');
                        encode_value(out, &v, depth)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => {
            return Err(err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            )))
        }
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str(Vec<u8>),
    Num(f64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Tok {
    fn name(&self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str(_) => "T_STRING",
            Tok::Num(_) => "T_NUMBER",
            Tok::Bool(_) => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(e) => e,
        }
    }
}

struct Parser<'a> {
    data: &'a [u8],
    pos: usize,
    depth: usize,
}

/// C's `strtod` on a prefix of `s`: the value and the bytes consumed.
pub(crate) fn strtod(s: &[u8]) -> Option<(f64, usize)> {
    let mut i = 0;
    let neg = match s.first() {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let sign = if neg { -1.0 } else { 1.0 };
    let rest = &s[i..];
    let lower: Vec<u8> = rest
        .iter()
        .take(8)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if lower.starts_with(b"infinity") {
        return Some((sign * f64::INFINITY, i + 8));
    }
    if lower.starts_with(b"inf") {
        return Some((sign * f64::INFINITY, i + 3));
    }
    if lower.starts_with(b"nan") {
        return Some((f64::NAN, i + 3));
    }
    if lower.starts_with(b"0x") && rest.get(2).is_some_and(|c| c.is_ascii_hexdigit()) {
        let mut j = 2;
        let mut v = 0f64;
        while let Some(d) = rest.get(j).and_then(|c| (*c as char).to_digit(16)) {
            v = v * 16.0 + d as f64;
            j += 1;
        }
        return Some((sign * v, i + j));
    }
    let mut j = 0;
    let digits = |j: &mut usize| {
        let s0 = *j;
        while rest.get(*j).is_some_and(|c| c.is_ascii_digit()) {
            *j += 1;
        }
        *j - s0
    };
    let mut nd = digits(&mut j);
    if rest.get(j) == Some(&b'.') {
        let mut k = j + 1;
        let frac = digits(&mut k);
        if nd + frac > 0 {
            nd += frac;
            j = k;
        }
    }
    if nd == 0 {
        return None;
    }
    if matches!(rest.get(j), Some(b'e') | Some(b'E')) {
        let mut k = j + 1;
        if matches!(rest.get(k), Some(b'+') | Some(b'-')) {
            k += 1;
        }
        if digits(&mut k) > 0 {
            j = k;
        }
    }
    let text = std::str::from_utf8(&rest[..j]).ok()?;
    let v: f64 = text.parse().ok()?;
    Some((sign * v, i + j))
}

impl Parser<'_> {
    fn at(&self, i: usize) -> u8 {
        // A NUL byte ends the text, as in C.
        self.data.get(i).copied().unwrap_or(0)
    }

    fn invalid_number_form(&self) -> bool {
        let mut p = self.pos;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return c2 | 0x20 == b'x' || c2.is_ascii_digit();
        } else if c <= b'9' {
            return false;
        }
        let l: Vec<u8> = (0..3)
            .map(|k| self.at(p + k).to_ascii_lowercase())
            .collect();
        l == b"inf" || l == b"nan"
    }

    /// The next token and its 0-based start (for errors: where it failed).
    fn next(&mut self) -> (Tok, usize) {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let start = self.pos;
        let c = self.at(self.pos);
        let simple = match c {
            0 => Some(Tok::End),
            b'{' => Some(Tok::ObjBegin),
            b'}' => Some(Tok::ObjEnd),
            b'[' => Some(Tok::ArrBegin),
            b']' => Some(Tok::ArrEnd),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            _ => None,
        };
        if let Some(t) = simple {
            if t != Tok::End {
                self.pos += 1;
            }
            return (t, start);
        }
        if c == b'"' {
            return self.string();
        }
        let rest = &self.data[self.pos.min(self.data.len())..];
        let rest = match rest.iter().position(|&b| b == 0) {
            Some(n) => &rest[..n],
            None => rest,
        };
        if c == b'-' || c.is_ascii_digit() {
            return self.number(rest);
        }
        for (word, tok) in [
            (&b"true"[..], Tok::Bool(true)),
            (b"false", Tok::Bool(false)),
            (b"null", Tok::Null),
        ] {
            if rest.starts_with(word) {
                self.pos += word.len();
                return (tok, start);
            }
        }
        if matches!(c, b'i' | b'I' | b'n' | b'N' | b'+') && self.invalid_number_form() {
            return self.number(rest);
        }
        (Tok::Error("invalid token"), start)
    }

    fn number(&mut self, rest: &[u8]) -> (Tok, usize) {
        let start = self.pos;
        match strtod(rest) {
            Some((v, n)) => {
                self.pos += n;
                (Tok::Num(v), start)
            }
            None => (Tok::Error("invalid number"), start),
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let mut v = 0;
        for k in 0..4 {
            v = v * 16 + (self.at(at + k) as char).to_digit(16)?;
        }
        Some(v)
    }

    fn string(&mut self) -> (Tok, usize) {
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let c = self.at(self.pos);
            match c {
                b'"' => {
                    self.pos += 1;
                    return (Tok::Str(out), start);
                }
                0 => return (Tok::Error("unexpected end of string"), self.pos),
                b'\\' => {
                    let e = self.at(self.pos + 1);
                    let simple = match e {
                        b'"' => Some(b'"'),
                        b'\\' => Some(b'\\'),
                        b'/' => Some(b'/'),
                        b'b' => Some(8),
                        b'f' => Some(12),
                        b'n' => Some(b'\n'),
                        b'r' => Some(b'\r'),
                        b't' => Some(b'\t'),
                        _ => None,
                    };
                    if let Some(ch) = simple {
                        out.push(ch);
                        self.pos += 2;
                    } else if e == b'u' {
                        match self.unicode() {
                            Some((cp, len)) => {
                                let ch = char::from_u32(cp).unwrap_or('\u{fffd}');
                                let mut buf = [0u8; 4];
                                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                                self.pos += len;
                            }
                            None => return (Tok::Error("invalid unicode escape code"), self.pos),
                        }
                    } else {
                        return (Tok::Error("invalid escape code"), self.pos);
                    }
                }
                c => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// A `\uXXXX` escape (with its surrogate pair): code point and length.
    fn unicode(&self) -> Option<(u32, usize)> {
        let hi = self.hex4(self.pos + 2)?;
        if (0xdc00..=0xdfff).contains(&hi) {
            return None;
        }
        if (0xd800..=0xdbff).contains(&hi) {
            if self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return None;
            }
            let lo = self.hex4(self.pos + 8)?;
            if !(0xdc00..=0xdfff).contains(&lo) {
                return None;
            }
            return Some((((hi & 0x3ff) << 10 | (lo & 0x3ff)) + 0x10000, 12));
        }
        Some((hi, 6))
    }

    fn fail(&self, expected: &str, tok: &Tok, at: usize) -> mlua::Error {
        err(format!(
            "Expected {expected} but found {} at character {}",
            tok.name(),
            at + 1
        ))
    }

    fn value(&mut self, lua: &Lua, tok: Tok, at: usize) -> mlua::Result<Value> {
        stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.value_inner(lua, tok, at))
    }

    fn value_inner(&mut self, lua: &Lua, tok: Tok, at: usize) -> mlua::Result<Value> {
        Ok(match tok {
            Tok::Str(s) => Value::String(lua.create_string(&s)?),
            Tok::Num(n) => Value::Number(n),
            Tok::Bool(b) => Value::Boolean(b),
            Tok::Null => null(),
            Tok::ObjBegin => self.object(lua, at)?,
            Tok::ArrBegin => self.array(lua, at)?,
            other => return Err(self.fail("value", &other, at)),
        })
    }

    fn enter(&mut self, at: usize) -> mlua::Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth,
                at + 1
            )));
        }
        Ok(())
    }

    fn object(&mut self, lua: &Lua, at: usize) -> mlua::Result<Value> {
        self.enter(at)?;
        let t = lua.create_table()?;
        let (mut tok, mut pos) = self.next();
        if tok == Tok::ObjEnd {
            self.depth -= 1;
            return Ok(Value::Table(t));
        }
        loop {
            let Tok::Str(key) = tok else {
                return Err(self.fail("object key string", &tok, pos));
            };
            let (colon, cpos) = self.next();
            if colon != Tok::Colon {
                return Err(self.fail("colon", &colon, cpos));
            }
            let (vt, vpos) = self.next();
            let v = self.value(lua, vt, vpos)?;
            t.raw_set(lua.create_string(&key)?, v)?;
            let (sep, spos) = self.next();
            match sep {
                Tok::ObjEnd => break,
                Tok::Comma => {}
                other => return Err(self.fail("comma or object end", &other, spos)),
            }
            (tok, pos) = self.next();
        }
        self.depth -= 1;
        Ok(Value::Table(t))
    }

    fn array(&mut self, lua: &Lua, at: usize) -> mlua::Result<Value> {
        self.enter(at)?;
        let t = lua.create_table()?;
        let (mut tok, mut pos) = self.next();
        if tok == Tok::ArrEnd {
            self.depth -= 1;
            return Ok(Value::Table(t));
        }
        let mut i = 1;
        loop {
            let v = self.value(lua, tok, pos)?;
            t.raw_set(i, v)?;
            i += 1;
            let (sep, spos) = self.next();
            match sep {
                Tok::ArrEnd => break,
                Tok::Comma => {}
                other => return Err(self.fail("comma or array end", &other, spos)),
            }
            (tok, pos) = self.next();
        }
        self.depth -= 1;
        Ok(Value::Table(t))
    }
}

fn one_arg(args: &MultiValue, name: &str) -> mlua::Result<Value> {
    if args.len() != 1 {
        return Err(err(format!(
            "bad argument #1 to '{name}' (expected 1 argument)"
        )));
    }
    Ok(args.front().cloned().unwrap_or(Value::Nil))
}

fn encode(lua: &Lua, args: MultiValue) -> mlua::Result<mlua::LuaString> {
    let v = one_arg(&args, "encode")?;
    let mut out = Vec::new();
    encode_value(&mut out, &v, 0)?;
    lua.create_string(&out)
}

fn decode(lua: &Lua, args: MultiValue) -> mlua::Result<Value> {
    let v = one_arg(&args, "decode")?;
    let text: Vec<u8> = match &v {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Integer(i) => i.to_string().into_bytes(),
        Value::Number(n) => crate::convert::fmt_g(*n, 14).into_bytes(),
        other => {
            return Err(err(format!(
                "bad argument #1 to 'decode' (string expected, got {})",
                other.type_name()
            )))
        }
    };
    let mut p = Parser {
        data: &text,
        pos: 0,
        depth: 0,
    };
    let (tok, at) = p.next();
    let v = p.value(lua, tok, at)?;
    let (end, epos) = p.next();
    if end != Tok::End {
        return Err(p.fail("the end", &end, epos));
    }
    Ok(v)
}

fn fill(lua: &Lua, t: &Table) -> mlua::Result<()> {
    t.set("encode", lua.create_function(encode)?)?;
    t.set("decode", lua.create_function(decode)?)?;
    // Configuration functions: Ferrous keeps lua-cjson's defaults and
    // answers with them (settings are accepted and ignored).
    t.set(
        "encode_keep_buffer",
        lua.create_function(|_, _: MultiValue| Ok(true))?,
    )?;
    t.set(
        "encode_max_depth",
        lua.create_function(|_, _: MultiValue| Ok(MAX_DEPTH))?,
    )?;
    t.set(
        "decode_max_depth",
        lua.create_function(|_, _: MultiValue| Ok(MAX_DEPTH))?,
    )?;
    t.set(
        "encode_number_precision",
        lua.create_function(|_, _: MultiValue| Ok(14))?,
    )?;
    t.set(
        "encode_sparse_array",
        lua.create_function(|_, _: MultiValue| Ok((false, SPARSE_RATIO, SPARSE_SAFE)))?,
    )?;
    t.set(
        "encode_invalid_numbers",
        lua.create_function(|_, _: MultiValue| Ok(false))?,
    )?;
    t.set(
        "decode_invalid_numbers",
        lua.create_function(|_, _: MultiValue| Ok(true))?,
    )?;
    t.set("null", null())?;
    t.set("_NAME", "cjson")?;
    t.set("_VERSION", "2.1.0")?;
    Ok(())
}

/// The library table.
pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    fill(lua, &t)?;
    t.set(
        "new",
        lua.create_function(|lua, _: MultiValue| {
            let t = lua.create_table()?;
            fill(lua, &t)?;
            Ok(t)
        })?,
    )?;
    Ok(t)
}
