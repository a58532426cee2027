//! Conversions between command replies and Lua values, both ways, with
//! Redis's rules (RESP2 and RESP3), and C-style `%.<p>g` number formatting.

use mlua::{Lua, Table, Value};

use crate::reply::Reply;

/// Deepest table nesting converted to a reply.
const MAX_DEPTH: usize = 1000;

/// A command's reply as Lua sees it from `redis.call`; `resp3` is the
/// script's protocol (`redis.setresp`).
pub fn reply_to_lua(lua: &Lua, r: &Reply, resp3: bool) -> mlua::Result<Value> {
    stacker::maybe_grow(64 * 1024, 1024 * 1024, || reply_to_lua_inner(lua, r, resp3))
}

fn reply_to_lua_inner(lua: &Lua, r: &Reply, resp3: bool) -> mlua::Result<Value> {
    Ok(match r {
        Reply::Status(s) => single(lua, "ok", Value::String(lua.create_string(s)?))?,
        Reply::Error(e) => single(lua, "err", Value::String(lua.create_string(e)?))?,
        Reply::Int(n) => Value::Integer(*n),
        Reply::Bulk(b) => Value::String(lua.create_string(b)?),
        Reply::Nil => {
            if resp3 {
                Value::Nil
            } else {
                Value::Boolean(false)
            }
        }
        Reply::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, it) in items.iter().enumerate() {
                t.raw_set(i + 1, reply_to_lua(lua, it, resp3)?)?;
            }
            Value::Table(t)
        }
        Reply::Map(pairs) => {
            let m = lua.create_table()?;
            for (k, v) in pairs {
                m.raw_set(reply_to_lua(lua, k, resp3)?, reply_to_lua(lua, v, resp3)?)?;
            }
            single(lua, "map", Value::Table(m))?
        }
        Reply::Set(items) => {
            let s = lua.create_table()?;
            for it in items {
                s.raw_set(reply_to_lua(lua, it, resp3)?, true)?;
            }
            single(lua, "set", Value::Table(s))?
        }
        Reply::Double(d) => single(lua, "double", Value::Number(*d))?,
        Reply::Bool(b) => Value::Boolean(*b),
        Reply::BigNumber(n) => single(lua, "big_number", Value::String(lua.create_string(n)?))?,
        Reply::Verbatim(f, s) => {
            let v = lua.create_table()?;
            v.raw_set("format", lua.create_string(f)?)?;
            v.raw_set("string", lua.create_string(s)?)?;
            single(lua, "verbatim_string", Value::Table(v))?
        }
    })
}

fn single(lua: &Lua, k: &str, v: Value) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set(k, v)?;
    Ok(Value::Table(t))
}

/// A script's return value as the reply to its client.
pub fn lua_to_reply(v: &Value, script_resp3: bool, depth: usize) -> Reply {
    stacker::maybe_grow(64 * 1024, 1024 * 1024, || {
        lua_to_reply_inner(v, script_resp3, depth)
    })
}

fn lua_to_reply_inner(v: &Value, script_resp3: bool, depth: usize) -> Reply {
    match v {
        Value::Nil => Reply::Nil,
        Value::Boolean(b) => {
            if script_resp3 {
                Reply::Bool(*b)
            } else if *b {
                Reply::Int(1)
            } else {
                Reply::Nil
            }
        }
        Value::Integer(n) => Reply::Int(*n),
        Value::Number(n) => Reply::Int(*n as i64),
        Value::String(s) => Reply::Bulk(s.as_bytes().to_vec()),
        Value::Table(t) => {
            if depth >= MAX_DEPTH {
                return Reply::Error(b"ERR reached lua stack limit".to_vec());
            }
            table_to_reply(t, script_resp3, depth)
        }
        _ => Reply::Nil,
    }
}

fn table_to_reply(t: &Table, script_resp3: bool, depth: usize) -> Reply {
    if let Ok(Value::String(s)) = t.raw_get::<Value>("err") {
        return Reply::Error(s.as_bytes().to_vec());
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("ok") {
        return Reply::Status(s.as_bytes().to_vec());
    }
    match t.raw_get::<Value>("double") {
        Ok(Value::Number(d)) => return Reply::Double(d),
        Ok(Value::Integer(d)) => return Reply::Double(d as f64),
        _ => {}
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("big_number") {
        return Reply::BigNumber(s.as_bytes().to_vec());
    }
    if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
        let mut out = Vec::new();
        for (k, v) in m.pairs::<Value, Value>().flatten() {
            out.push((
                lua_to_reply(&k, script_resp3, depth + 1),
                lua_to_reply(&v, script_resp3, depth + 1),
            ));
        }
        return Reply::Map(out);
    }
    if let Ok(Value::Table(s)) = t.raw_get::<Value>("set") {
        let mut out = Vec::new();
        for (k, _) in s.pairs::<Value, Value>().flatten() {
            out.push(lua_to_reply(&k, script_resp3, depth + 1));
        }
        return Reply::Set(out);
    }
    if let Ok(Value::Table(v)) = t.raw_get::<Value>("verbatim_string") {
        if let (Ok(Value::String(f)), Ok(Value::String(s))) =
            (v.raw_get::<Value>("format"), v.raw_get::<Value>("string"))
        {
            return Reply::Verbatim(f.as_bytes().to_vec(), s.as_bytes().to_vec());
        }
    }
    let mut items = Vec::new();
    let mut i = 1;
    loop {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(lua_to_reply(&v, script_resp3, depth + 1)),
        }
        i += 1;
    }
    Reply::Array(items)
}

/// C's `printf("%.<prec>g", x)`.
pub fn fmt_g(x: f64, prec: usize) -> String {
    if x.is_nan() {
        return if x.is_sign_negative() { "-nan" } else { "nan" }.to_string();
    }
    if x.is_infinite() {
        return if x < 0.0 { "-inf" } else { "inf" }.to_string();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let prec = prec.max(1);
    let sci = format!("{:.*e}", prec - 1, x);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= prec as i32 {
        let mant = trim_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{x:.decimals$}")).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// `%.17g`: how Redis turns a Lua number into a command argument.
pub fn fmt_g17(x: f64) -> String {
    fmt_g(x, 17)
}

/// `%.14g`: Lua 5.1's own number to string conversion.
pub fn fmt_lua_number(x: f64) -> String {
    fmt_g(x, 14)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g_format_matches_c() {
        assert_eq!(fmt_g17(0.1), "0.10000000000000001");
        assert_eq!(fmt_g17(1.5), "1.5");
        assert_eq!(fmt_g17(1e20), "1e+20");
        assert_eq!(fmt_g17(-0.0), "-0");
        assert_eq!(fmt_g17(100.0), "100");
        assert_eq!(fmt_lua_number(0.1), "0.1");
        assert_eq!(fmt_lua_number(1e-5), "1e-05");
        assert_eq!(fmt_lua_number(123456789012345.0), "1.2345678901234e+14");
    }
}
