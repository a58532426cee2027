//! `cmsgpack` (lua-cmsgpack 0.4.0 as bundled by Redis): MessagePack
//! pack/unpack with its exact choices (float32 when lossless, str8, arrays
//! only for tables without holes, nil past 16 levels of nesting).

use mlua::{Lua, MultiValue, Table, Value};

const MAX_NESTING: usize = 16;

fn err(msg: String) -> mlua::Error {
    mlua::Error::runtime(msg)
}

fn is_int64(x: f64) -> bool {
    x.is_finite()
        && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&x)
        && x.trunc() == x
}

fn put_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn put_number(out: &mut Vec<u8>, x: f64) {
    if is_int64(x) {
        put_int(out, x as i64);
    } else {
        let f = x as f32;
        if f as f64 == x {
            out.push(0xca);
            out.extend_from_slice(&f.to_be_bytes());
        } else {
            out.push(0xcb);
            out.extend_from_slice(&x.to_be_bytes());
        }
    }
}

fn put_len(out: &mut Vec<u8>, n: usize, fix: u8, fix_max: usize, codes: [u8; 3]) {
    if n <= fix_max {
        out.push(fix | n as u8);
    } else if codes[0] != 0 && n <= 0xff {
        out.extend_from_slice(&[codes[0], n as u8]);
    } else if n <= 0xffff {
        out.push(codes[1]);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(codes[2]);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// Array length if `t` is a sequence 1..n without holes.
fn array_len(t: &Table) -> mlua::Result<Option<usize>> {
    let mut count = 0usize;
    let mut max = 0f64;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let n = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if n <= 0.0 || n.trunc() != n {
            return Ok(None);
        }
        max = max.max(n);
        count += 1;
    }
    Ok(if max == count as f64 {
        Some(count)
    } else {
        None
    })
}

fn encode(out: &mut Vec<u8>, v: &Value, level: usize) -> mlua::Result<()> {
    stacker::maybe_grow(64 * 1024, 1024 * 1024, || encode_inner(out, v, level))
}

fn encode_inner(out: &mut Vec<u8>, v: &Value, level: usize) -> mlua::Result<()> {
    match v {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => put_number(out, *i as f64),
        Value::Number(n) => put_number(out, *n),
        Value::String(s) => {
            let b = s.as_bytes();
            put_len(out, b.len(), 0xa0, 31, [0xd9, 0xda, 0xdb]);
            out.extend_from_slice(&b);
        }
        Value::Table(t) if level < MAX_NESTING => match array_len(t)? {
            Some(n) => {
                put_len(out, n, 0x90, 15, [0, 0xdc, 0xdd]);
                for i in 1..=n {
                    encode(out, &t.raw_get::<Value>(i)?, level + 1)?;
                }
            }
            None => {
                let pairs: Vec<(Value, Value)> =
                    t.pairs::<Value, Value>().collect::<mlua::Result<_>>()?;
                put_len(out, pairs.len(), 0x80, 15, [0, 0xde, 0xdf]);
                for (k, v) in &pairs {
                    encode(out, k, level + 1)?;
                    encode(out, v, level + 1)?;
                }
            }
        },
        _ => out.push(0xc0),
    }
    Ok(())
}

struct Dec<'a> {
    data: &'a [u8],
    pos: usize,
    depth: usize,
}

/// lua-cmsgpack runs out of Lua stack at this nesting depth.
const MAX_DECODE_DEPTH: usize = 4000;

const MISSING: &str = "Missing bytes in input.";
const BAD: &str = "Bad data format in input.";

impl Dec<'_> {
    fn take(&mut self, n: usize) -> mlua::Result<&[u8]> {
        let end = self.pos.checked_add(n).ok_or_else(|| err(MISSING.into()))?;
        let s = self
            .data
            .get(self.pos..end)
            .ok_or_else(|| err(MISSING.into()))?;
        self.pos = end;
        Ok(s)
    }
    fn uint(&mut self, n: usize) -> mlua::Result<u64> {
        Ok(self.take(n)?.iter().fold(0u64, |a, &b| a << 8 | b as u64))
    }

    fn value(&mut self, lua: &Lua) -> mlua::Result<Value> {
        stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.value_inner(lua))
    }

    fn value_inner(&mut self, lua: &Lua) -> mlua::Result<Value> {
        let c = self.take(1)?[0];
        let num = |x: f64| Ok(Value::Number(x));
        match c {
            0x00..=0x7f => num(c as f64),
            0xe0..=0xff => num(c as i8 as f64),
            0x80..=0x8f => self.map(lua, (c & 0x0f) as usize),
            0x90..=0x9f => self.array(lua, (c & 0x0f) as usize),
            0xa0..=0xbf => self.string(lua, (c & 0x1f) as usize),
            0xc0 => Ok(Value::Nil),
            0xc2 => Ok(Value::Boolean(false)),
            0xc3 => Ok(Value::Boolean(true)),
            0xca => num(f32::from_bits(self.uint(4)? as u32) as f64),
            0xcb => num(f64::from_bits(self.uint(8)?)),
            0xcc => num(self.uint(1)? as f64),
            0xcd => num(self.uint(2)? as f64),
            0xce => num(self.uint(4)? as f64),
            0xcf => num(self.uint(8)? as i64 as f64),
            0xd0 => num(self.uint(1)? as u8 as i8 as f64),
            0xd1 => num(self.uint(2)? as u16 as i16 as f64),
            0xd2 => num(self.uint(4)? as u32 as i32 as f64),
            0xd3 => num(self.uint(8)? as i64 as f64),
            0xd9 => {
                let n = self.uint(1)? as usize;
                self.string(lua, n)
            }
            0xda => {
                let n = self.uint(2)? as usize;
                self.string(lua, n)
            }
            0xdb => {
                let n = self.uint(4)? as usize;
                self.string(lua, n)
            }
            0xdc => {
                let n = self.uint(2)? as usize;
                self.array(lua, n)
            }
            0xdd => {
                let n = self.uint(4)? as usize;
                self.array(lua, n)
            }
            0xde => {
                let n = self.uint(2)? as usize;
                self.map(lua, n)
            }
            0xdf => {
                let n = self.uint(4)? as usize;
                self.map(lua, n)
            }
            _ => Err(err(BAD.into())),
        }
    }

    fn string(&mut self, lua: &Lua, n: usize) -> mlua::Result<Value> {
        let s = self.take(n)?;
        Ok(Value::String(lua.create_string(s)?))
    }

    fn enter(&mut self, what: &str) -> mlua::Result<()> {
        self.depth += 1;
        if self.depth >= MAX_DECODE_DEPTH {
            return Err(err(format!("stack overflow (in function {what})")));
        }
        Ok(())
    }

    fn array(&mut self, lua: &Lua, n: usize) -> mlua::Result<Value> {
        self.enter("mp_decode_to_lua_array")?;
        let t = lua.create_table()?;
        for i in 1..=n {
            let v = self.value(lua)?;
            t.raw_set(i, v)?;
        }
        self.depth -= 1;
        Ok(Value::Table(t))
    }

    fn map(&mut self, lua: &Lua, n: usize) -> mlua::Result<Value> {
        self.enter("mp_decode_to_lua_hash")?;
        let t = lua.create_table()?;
        for _ in 0..n {
            let k = self.value(lua)?;
            let v = self.value(lua)?;
            if !k.is_nil() {
                t.raw_set(k, v)?;
            }
        }
        self.depth -= 1;
        Ok(Value::Table(t))
    }
}

fn data_arg(args: &MultiValue, fname: &str) -> mlua::Result<Vec<u8>> {
    match args.front() {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(Value::Integer(i)) => Ok(i.to_string().into_bytes()),
        Some(Value::Number(n)) => Ok(crate::convert::fmt_g(*n, 14).into_bytes()),
        other => Err(err(format!(
            "bad argument #1 to '{fname}' (string expected, got {})",
            other.map_or("no value", |v| v.type_name())
        ))),
    }
}

fn int_arg(args: &MultiValue, i: usize) -> i64 {
    match args.get(i) {
        Some(Value::Integer(n)) => *n,
        Some(Value::Number(n)) => *n as i64,
        Some(Value::String(s)) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0),
        _ => 0,
    }
}

/// Decodes up to `limit` values (0: all) from `offset`; returns the offset
/// after them (-1 at the end of the input) and the values.
fn unpack_full(lua: &Lua, data: &[u8], limit: i64, offset: i64) -> mlua::Result<MultiValue> {
    if offset < 0 || limit < 0 {
        return Err(err(format!(
            "Invalid request to unpack with offset of {offset} and limit of {}.",
            data.len()
        )));
    }
    if offset as u64 > data.len() as u64 {
        return Err(err(format!(
            "Start offset {offset} greater than input length {}.",
            data.len()
        )));
    }
    let mut d = Dec {
        data,
        pos: offset as usize,
        depth: 0,
    };
    let mut out = Vec::new();
    while d.pos < data.len() && (limit == 0 || (out.len() as i64) < limit) {
        out.push(d.value(lua)?);
    }
    Ok(MultiValue::from_iter(out))
}

/// The library table.
pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "pack",
        lua.create_function(|lua, args: MultiValue| {
            if args.is_empty() {
                return Err(err(
                    "bad argument #0 to 'pack' (MessagePack pack needs input.)".into(),
                ));
            }
            let mut out = Vec::new();
            for v in args.iter() {
                encode(&mut out, v, 0)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    t.set(
        "unpack",
        lua.create_function(|lua, args: MultiValue| {
            let data = data_arg(&args, "unpack")?;
            unpack_full(lua, &data, 0, 0)
        })?,
    )?;
    for (name, fixed_limit) in [("unpack_one", Some(1)), ("unpack_limit", None)] {
        t.set(
            name,
            lua.create_function(move |lua, args: MultiValue| {
                let data = data_arg(&args, name)?;
                let (limit, offset) = match fixed_limit {
                    Some(l) => (l, int_arg(&args, 1)),
                    None => (int_arg(&args, 1), int_arg(&args, 2)),
                };
                let vals = unpack_full(lua, &data, limit, offset)?;
                // Without a limit lua-cmsgpack returns the values only.
                if limit == 0 {
                    return Ok(vals);
                }
                // The offset where decoding stopped, -1 at the end.
                let consumed: usize = {
                    let mut d = Dec {
                        data: &data,
                        pos: offset as usize,
                        depth: 0,
                    };
                    for _ in 0..vals.len() {
                        d.value(lua)?;
                    }
                    d.pos
                };
                let next = if consumed >= data.len() {
                    -1
                } else {
                    consumed as i64
                };
                let mut out = vec![Value::Integer(next)];
                out.extend(vals);
                Ok(MultiValue::from_iter(out))
            })?,
        )?;
    }
    t.set("_NAME", "cmsgpack")?;
    t.set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}
