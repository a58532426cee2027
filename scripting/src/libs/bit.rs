//! `bit` (LuaBitOp 1.0): 32-bit operations on Lua numbers.

use mlua::{Lua, MultiValue, Table, Value};

/// Lua number → 32-bit int the way LuaBitOp does (add 2^52+2^51 and take
/// the low word, i.e. round to nearest and wrap modulo 2^32).
fn tobit(v: &Value, pos: usize, fname: &str) -> mlua::Result<i32> {
    let n = match v {
        Value::Integer(i) => *i as f64,
        Value::Number(n) => *n,
        Value::String(s) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .ok_or_else(|| bad_arg(pos, fname, v))?,
        _ => return Err(bad_arg(pos, fname, v)),
    };
    let t = n + 6755399441055744.0;
    Ok(t.to_bits() as u32 as i32)
}

fn bad_arg(pos: usize, fname: &str, v: &Value) -> mlua::Error {
    let got = match v {
        Value::Nil => "no value".to_string(),
        other => other.type_name().to_string(),
    };
    mlua::Error::runtime(format!(
        "bad argument #{pos} to '{fname}' (number expected, got {got})"
    ))
}

fn arg(args: &MultiValue, i: usize, fname: &str) -> mlua::Result<i32> {
    tobit(args.get(i).unwrap_or(&Value::Nil), i + 1, fname)
}

fn num(x: i32) -> Value {
    Value::Number(x as f64)
}

/// The library table.
pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "tobit",
        lua.create_function(|_, a: MultiValue| Ok(num(arg(&a, 0, "tobit")?)))?,
    )?;
    t.set(
        "bnot",
        lua.create_function(|_, a: MultiValue| Ok(num(!arg(&a, 0, "bnot")?)))?,
    )?;
    t.set(
        "bswap",
        lua.create_function(|_, a: MultiValue| Ok(num(arg(&a, 0, "bswap")?.swap_bytes())))?,
    )?;
    fn fold(
        name: &'static str,
        f: fn(i32, i32) -> i32,
    ) -> impl Fn(&Lua, MultiValue) -> mlua::Result<Value> {
        move |_, a: MultiValue| {
            let mut acc = arg(&a, 0, name)?;
            for i in 1..a.len() {
                acc = f(acc, arg(&a, i, name)?);
            }
            Ok(num(acc))
        }
    }
    t.set("band", lua.create_function(fold("band", |a, b| a & b))?)?;
    t.set("bor", lua.create_function(fold("bor", |a, b| a | b))?)?;
    t.set("bxor", lua.create_function(fold("bxor", |a, b| a ^ b))?)?;
    fn shift(
        name: &'static str,
        f: fn(u32, u32) -> u32,
    ) -> impl Fn(&Lua, MultiValue) -> mlua::Result<Value> {
        move |_, a: MultiValue| {
            let x = arg(&a, 0, name)? as u32;
            let n = (arg(&a, 1, name)? as u32) & 31;
            Ok(num(f(x, n) as i32))
        }
    }
    t.set(
        "lshift",
        lua.create_function(shift("lshift", |x, n| x << n))?,
    )?;
    t.set(
        "rshift",
        lua.create_function(shift("rshift", |x, n| x >> n))?,
    )?;
    t.set(
        "arshift",
        lua.create_function(shift("arshift", |x, n| ((x as i32) >> n) as u32))?,
    )?;
    t.set(
        "rol",
        lua.create_function(shift("rol", |x, n| x.rotate_left(n)))?,
    )?;
    t.set(
        "ror",
        lua.create_function(shift("ror", |x, n| x.rotate_right(n)))?,
    )?;
    t.set(
        "tohex",
        lua.create_function(|lua, a: MultiValue| {
            let x = arg(&a, 0, "tohex")? as u32;
            let mut n = if a.len() > 1 { arg(&a, 1, "tohex")? } else { 8 };
            // i32::MIN cannot be negated (CVE-2024-31449 in the C library).
            if n == i32::MIN {
                n = i32::MIN + 1;
            }
            let upper = n < 0;
            if upper {
                n = -n;
            }
            let n = n.min(8) as usize;
            let digits = if upper {
                "0123456789ABCDEF"
            } else {
                "0123456789abcdef"
            }
            .as_bytes();
            let mut buf = vec![0u8; n];
            let mut v = x;
            for i in (0..n).rev() {
                buf[i] = digits[(v & 15) as usize];
                v >>= 4;
            }
            lua.create_string(&buf)
        })?,
    )?;
    Ok(t)
}
