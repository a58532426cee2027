//! `struct` (Roberto Ierusalimschy's struct library as bundled by Redis):
//! `pack`, `unpack` and `size` with its format language and messages.

use mlua::{Lua, MultiValue, Table, Value};

const MAXINTSIZE: usize = 32;
const MAXALIGN: usize = 8;

fn err(msg: String) -> mlua::Error {
    mlua::Error::runtime(msg)
}

struct Fmt<'a> {
    f: &'a [u8],
    i: usize,
    little: bool,
    align: usize,
}

/// One format item: the option letter and its size.
impl Fmt<'_> {
    fn num(&mut self, default: usize) -> usize {
        if !self.f.get(self.i).is_some_and(|c| c.is_ascii_digit()) {
            return default;
        }
        let mut n = 0usize;
        while let Some(c) = self.f.get(self.i).filter(|c| c.is_ascii_digit()) {
            n = n.saturating_mul(10).saturating_add((c - b'0') as usize);
            self.i += 1;
        }
        n
    }

    /// The next data option (controls are applied here), or None at the end.
    fn next(&mut self, fname: &str) -> mlua::Result<Option<(u8, usize)>> {
        loop {
            let Some(&c) = self.f.get(self.i) else {
                return Ok(None);
            };
            self.i += 1;
            let size = match c {
                b' ' => continue,
                b'>' => {
                    self.little = false;
                    continue;
                }
                b'<' => {
                    self.little = true;
                    continue;
                }
                b'!' => {
                    let a = self.num(MAXALIGN);
                    if !a.is_power_of_two() {
                        return Err(err(format!(
                            "bad argument #1 to '{fname}' (alignment {a} is not a power of 2)"
                        )));
                    }
                    self.align = a;
                    continue;
                }
                b'b' | b'B' | b'x' => 1,
                b'h' | b'H' => 2,
                b'l' | b'L' | b'T' | b'd' => 8,
                b'f' => 4,
                b'c' => self.num(1),
                b'i' | b'I' => {
                    let n = self.num(4);
                    if n > MAXINTSIZE {
                        return Err(err(format!(
                            "integral size {n} is larger than limit of {MAXINTSIZE}"
                        )));
                    }
                    n
                }
                b's' => 0,
                other => {
                    return Err(err(format!(
                        "bad argument #1 to '{fname}' (invalid format option '{}')",
                        other as char
                    )))
                }
            };
            return Ok(Some((c, size)));
        }
    }

    fn pad(&self, len: usize, opt: u8, size: usize) -> usize {
        if size == 0 || opt == b'c' {
            return 0;
        }
        let size = size.min(self.align);
        (size - (len & (size - 1))) & (size - 1)
    }
}

fn fmt_of(args: &MultiValue, fname: &str) -> mlua::Result<Vec<u8>> {
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

fn check_number(args: &MultiValue, i: usize, fname: &str) -> mlua::Result<f64> {
    match args.get(i) {
        Some(Value::Integer(n)) => Ok(*n as f64),
        Some(Value::Number(n)) => Ok(*n),
        Some(Value::String(s)) => s
            .to_str()
            .ok()
            .and_then(|t| {
                crate::libs::cjson::strtod(t.trim().as_bytes())
                    .filter(|(_, n)| *n == t.trim().len())
            })
            .map(|(v, _)| v)
            .ok_or_else(|| {
                err(format!(
                    "bad argument #{} to '{fname}' (number expected, got string)",
                    i + 1
                ))
            }),
        other => Err(err(format!(
            "bad argument #{} to '{fname}' (number expected, got {})",
            i + 1,
            other.map_or("nil", |v| v.type_name())
        ))),
    }
}

fn check_string(args: &MultiValue, i: usize, fname: &str) -> mlua::Result<Vec<u8>> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(Value::Integer(n)) => Ok(n.to_string().into_bytes()),
        Some(Value::Number(n)) => Ok(crate::convert::fmt_g(*n, 14).into_bytes()),
        other => Err(err(format!(
            "bad argument #{} to '{fname}' (string expected, got {})",
            i + 1,
            other.map_or("nil", |v| v.type_name())
        ))),
    }
}

fn put_int(out: &mut Vec<u8>, n: f64, size: usize, little: bool) {
    let mut v: u64 = if n < 0.0 { n as i64 as u64 } else { n as u64 };
    let mut bytes = vec![0u8; size];
    for b in bytes.iter_mut() {
        *b = (v & 0xff) as u8;
        v = v.checked_shr(8).unwrap_or(0);
    }
    if !little {
        bytes.reverse();
    }
    out.extend_from_slice(&bytes);
}

fn pack(lua: &Lua, args: MultiValue) -> mlua::Result<mlua::LuaString> {
    let f = fmt_of(&args, "pack")?;
    let mut fmt = Fmt {
        f: &f,
        i: 0,
        little: true,
        align: 1,
    };
    let mut out = Vec::new();
    let mut arg = 1;
    while let Some((opt, size)) = fmt.next("pack")? {
        let pad = fmt.pad(out.len(), opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = check_number(&args, arg, "pack")?;
                arg += 1;
                put_int(&mut out, n, size, fmt.little);
            }
            b'x' => out.push(0),
            b'f' | b'd' => {
                let n = check_number(&args, arg, "pack")?;
                arg += 1;
                let mut b = if opt == b'f' {
                    (n as f32).to_le_bytes().to_vec()
                } else {
                    n.to_le_bytes().to_vec()
                };
                if !fmt.little {
                    b.reverse();
                }
                out.extend_from_slice(&b);
            }
            b'c' | b's' => {
                let s = check_string(&args, arg, "pack")?;
                let n = if opt == b's' || size == 0 {
                    s.len()
                } else {
                    size
                };
                if s.len() < n {
                    return Err(err(format!(
                        "bad argument #{} to 'pack' (string too short)",
                        arg + 2
                    )));
                }
                arg += 1;
                out.extend_from_slice(&s[..n]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => {}
        }
    }
    lua.create_string(&out)
}

fn unpack(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    let f = fmt_of(&args, "unpack")?;
    let data = check_string(&args, 1, "unpack")?;
    let start = match args.get(2) {
        None | Some(Value::Nil) => 1,
        Some(_) => check_number(&args, 2, "unpack")? as i64,
    };
    let mut pos = usize::try_from(start - 1)
        .map_err(|_| err("bad argument #3 to 'unpack' (offset must be 1 or greater)".into()))?;
    let mut fmt = Fmt {
        f: &f,
        i: 0,
        little: true,
        align: 1,
    };
    let mut out: Vec<Value> = Vec::new();
    let short = || err("bad argument #2 to 'unpack' (data string too short)".into());
    while let Some((opt, mut size)) = fmt.next("unpack")? {
        pos += fmt.pad(pos, opt, size);
        if (opt != b'c' || size != 0) && pos.checked_add(size).is_none_or(|e| e > data.len()) {
            return Err(short());
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let mut bytes = data[pos..pos + size].to_vec();
                if !fmt.little {
                    bytes.reverse();
                }
                let mut v: u64 = 0;
                for (k, b) in bytes.iter().enumerate().take(8) {
                    v |= (*b as u64) << (8 * k);
                }
                let signed = opt.is_ascii_lowercase();
                let n = if signed && size < 8 && size > 0 {
                    let mask = 1u64 << (size * 8 - 1);
                    ((v ^ mask).wrapping_sub(mask)) as i64 as f64
                } else if signed {
                    v as i64 as f64
                } else {
                    v as f64
                };
                out.push(Value::Number(n));
            }
            b'x' => {}
            b'f' => {
                let mut b = [0u8; 4];
                b.copy_from_slice(&data[pos..pos + 4]);
                if !fmt.little {
                    b.reverse();
                }
                out.push(Value::Number(f32::from_le_bytes(b) as f64));
            }
            b'd' => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&data[pos..pos + 8]);
                if !fmt.little {
                    b.reverse();
                }
                out.push(Value::Number(f64::from_le_bytes(b)));
            }
            b'c' => {
                if size == 0 {
                    let prev = match out.pop() {
                        Some(Value::Number(n)) => n,
                        Some(Value::Integer(n)) => n as f64,
                        _ => return Err(err("format 'c0' needs a previous size".into())),
                    };
                    size = prev.max(0.0) as usize;
                    if pos.checked_add(size).is_none_or(|e| e > data.len()) {
                        return Err(short());
                    }
                }
                out.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(e) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err(err("unfinished string in data".into()));
                };
                out.push(Value::String(lua.create_string(&data[pos..pos + e])?));
                size = e + 1;
            }
            _ => {}
        }
        pos += size;
    }
    out.push(Value::Integer(pos as i64 + 1));
    Ok(MultiValue::from_iter(out))
}

fn size(_: &Lua, args: MultiValue) -> mlua::Result<i64> {
    let f = fmt_of(&args, "size")?;
    let mut fmt = Fmt {
        f: &f,
        i: 0,
        little: true,
        align: 1,
    };
    let mut total = 0usize;
    while let Some((opt, size)) = fmt.next("size")? {
        if opt == b's' || (opt == b'c' && size == 0) {
            return Err(err(format!(
                "bad argument #1 to 'size' (option '{}' has no fixed size)",
                opt as char
            )));
        }
        total += fmt.pad(total, opt, size) + size;
    }
    Ok(total as i64)
}

/// The library table.
pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("pack", lua.create_function(pack)?)?;
    t.set("unpack", lua.create_function(unpack)?)?;
    t.set("size", lua.create_function(size)?)?;
    Ok(t)
}
