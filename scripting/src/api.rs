//! The Rust side of the `redis.*` API: the primitives the sandbox wires
//! into `redis.call`, `redis.setresp`, …, and the C trampolines that raise
//! their errors from a C frame (so `return redis.call(...)` keeps the
//! script's line in error messages, as in Redis).

use mlua::{Lua, MultiValue, Value};

use crate::convert::reply_to_lua;
use crate::engine::{Host, RunState};
use crate::reply::Reply;

pub(crate) fn with_host<R>(lua: &Lua, f: impl FnOnce(&mut dyn Host, bool) -> R) -> Option<R> {
    let (ptr, resp3) = {
        let st = lua.app_data_ref::<RunState>()?;
        (st.host.as_ref()?.0, st.resp3)
    };
    // SAFETY: set by `Engine::run` for the duration of the script, on this
    // thread; the app-data borrow is released before the host runs.
    let host = unsafe { &mut *ptr };
    Some(f(host, resp3))
}

/// A Lua number as Redis passes it to commands (`%.17g`).
fn arg_bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Integer(n) => Some(n.to_string().into_bytes()),
        Value::Number(n) => Some(crate::convert::fmt_g17(*n).into_bytes()),
        _ => None,
    }
}

/// The shape of every primitive: `(true, value)` or `(false, message)`.
pub(crate) type ApiFn = fn(&Lua, MultiValue) -> mlua::Result<(bool, Value)>;

macro_rules! trampoline {
    ($name:ident, $key:literal) => {
        pub(crate) unsafe extern "C-unwind" fn $name(
            l: *mut mlua::ffi::lua_State,
        ) -> std::os::raw::c_int {
            use mlua::ffi;
            let n = ffi::lua_gettop(l);
            ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, $key.as_ptr());
            ffi::lua_insert(l, 1);
            ffi::lua_call(l, n, 2);
            if ffi::lua_toboolean(l, -2) != 0 {
                return 1;
            }
            ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, c"ferrous.mkerr".as_ptr());
            ffi::lua_insert(l, -2);
            ffi::lua_call(l, 1, 1);
            ffi::lua_error(l)
        }
    };
}
trampoline!(tramp_call, c"ferrous.call");
trampoline!(tramp_setresp, c"ferrous.setresp");
trampoline!(tramp_sha1hex, c"ferrous.sha1hex");
trampoline!(tramp_log, c"ferrous.log");
trampoline!(tramp_set_repl, c"ferrous.set_repl");
trampoline!(tramp_acl_check, c"ferrous.acl_check_cmd");

pub(crate) fn api_call(lua: &Lua, args: MultiValue) -> mlua::Result<(bool, Value)> {
    let rest: Vec<Value> = args.into_iter().collect();
    let err = |m: &str| Ok((false, Value::String(lua.create_string(m)?)));
    if rest.is_empty() {
        return err("ERR Please specify at least one argument for this redis lib call");
    }
    let mut argv = Vec::with_capacity(rest.len());
    for v in &rest {
        match arg_bytes(v) {
            Some(b) => argv.push(b),
            None => return err("ERR Lua redis lib command arguments must be strings or integers"),
        }
    }
    let refs: Vec<&[u8]> = argv.iter().map(|v| v.as_slice()).collect();
    let Some((reply, resp3)) = with_host(lua, |h, resp3| (h.call(&refs, resp3), resp3)) else {
        return err("ERR redis.call is only available while a script runs");
    };
    match reply {
        Reply::Error(e) => Ok((false, Value::String(lua.create_string(&e)?))),
        r => Ok((true, reply_to_lua(lua, &r, resp3)?)),
    }
}

fn fail(lua: &Lua, m: &str) -> mlua::Result<(bool, Value)> {
    Ok((false, Value::String(lua.create_string(m)?)))
}

pub(crate) fn api_setresp(lua: &Lua, args: MultiValue) -> mlua::Result<(bool, Value)> {
    if args.len() != 1 {
        return fail(lua, "ERR redis.setresp() requires one argument.");
    }
    let n = match args.front() {
        Some(Value::Integer(n)) => *n,
        Some(Value::Number(n)) => *n as i64,
        Some(Value::String(s)) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0),
        _ => 0,
    };
    if n != 2 && n != 3 {
        return fail(lua, "ERR RESP version must be 2 or 3.");
    }
    if let Some(mut st) = lua.app_data_mut::<RunState>() {
        st.resp3 = n == 3;
    }
    Ok((true, Value::Nil))
}

pub(crate) fn api_sha1hex(lua: &Lua, args: MultiValue) -> mlua::Result<(bool, Value)> {
    if args.len() != 1 {
        return fail(lua, "ERR wrong number of arguments");
    }
    let b = match args.front() {
        Some(v) => arg_bytes(v).unwrap_or_default(),
        None => vec![],
    };
    Ok((true, Value::String(lua.create_string(crate::sha1_hex(&b))?)))
}

pub(crate) fn api_log(lua: &Lua, args: MultiValue) -> mlua::Result<(bool, Value)> {
    if args.len() < 2 {
        return fail(lua, "ERR redis.log() requires two arguments or more.");
    }
    let level = match args.front() {
        Some(Value::Integer(n)) => *n,
        Some(Value::Number(n)) => *n as i64,
        _ => return fail(lua, "ERR First argument must be a number (log level)."),
    };
    if !(0..=3).contains(&level) {
        return fail(lua, "ERR Invalid debug level.");
    }
    let mut msg = Vec::new();
    for (i, v) in args.iter().skip(1).enumerate() {
        if i > 0 {
            msg.push(b' ');
        }
        if let Some(b) = arg_bytes(v) {
            msg.extend_from_slice(&b);
        }
    }
    with_host(lua, |h, _| h.log(level, &msg));
    Ok((true, Value::Nil))
}

pub(crate) fn api_set_repl(lua: &Lua, args: MultiValue) -> mlua::Result<(bool, Value)> {
    if args.len() != 1 {
        return fail(lua, "ERR redis.set_repl() requires one argument.");
    }
    let n = match args.front() {
        Some(Value::Integer(n)) => *n,
        Some(Value::Number(n)) => *n as i64,
        _ => -1,
    };
    if !(0..=3).contains(&n) {
        return fail(
            lua,
            "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
        );
    }
    Ok((true, Value::Nil))
}

pub(crate) fn api_acl_check(lua: &Lua, args: MultiValue) -> mlua::Result<(bool, Value)> {
    if args.is_empty() {
        return fail(
            lua,
            "ERR Please specify at least one argument for this redis lib call",
        );
    }
    let mut argv = Vec::new();
    for v in args.iter() {
        match arg_bytes(v) {
            Some(b) => argv.push(b),
            None => {
                return fail(
                    lua,
                    "ERR Lua redis lib command arguments must be strings or integers",
                )
            }
        }
    }
    let refs: Vec<&[u8]> = argv.iter().map(|v| v.as_slice()).collect();
    match with_host(lua, |h, _| h.acl_check(&refs)) {
        Some(Ok(b)) => Ok((true, Value::Boolean(b))),
        Some(Err(m)) => fail(lua, &m),
        None => Ok((true, Value::Boolean(true))),
    }
}

/// Called by the error handler before the stack unwinds: records the line
/// of the innermost frame of the user's script.
pub(crate) fn api_where(lua: &Lua, _: ()) -> mlua::Result<()> {
    let chunk = lua
        .app_data_ref::<RunState>()
        .map_or("@user_script", |s| s.chunk);
    let mut line = None;
    for level in 0..256 {
        let Some(found) = lua.inspect_stack(level, |d| {
            let src = d.source();
            let is_user = src.source.as_deref() == Some(chunk);
            (is_user, d.current_line())
        }) else {
            break;
        };
        if let (true, Some(l)) = found {
            line = Some(l);
            break;
        }
    }
    if let Some(mut st) = lua.app_data_mut::<RunState>() {
        st.err_line = line;
    }
    Ok(())
}
