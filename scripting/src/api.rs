//! The Rust side of the `redis.*` API: the primitives the sandbox wires
//! into `redis.call`, `redis.setresp`, …, and the C trampolines that raise
//! their errors from a C frame (so `return redis.call(...)` keeps the
//! script's line in error messages, as in Redis).

use mlua::{Lua, MultiValue, Value};

use crate::convert::reply_to_lua;
use crate::engine::{run_state, Host, RunState};
use crate::reply::Reply;

pub(crate) fn with_host<R>(lua: &Lua, f: impl FnOnce(&mut dyn Host, bool) -> R) -> Option<R> {
    host_of(run_state(lua)?, f)
}

/// Runs `f` with the host of the run `st` belongs to, if one runs.
fn host_of<R>(st: &RunState, f: impl FnOnce(&mut dyn Host, bool) -> R) -> Option<R> {
    let ptr = st.host.get()?.0;
    // SAFETY: set by `Engine::exec` for the duration of the script, on this
    // thread, and cleared before the host's borrow ends.
    let host = unsafe { &mut *ptr };
    Some(f(host, st.resp3.get()))
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
    if let Some(st) = run_state(lua) {
        st.resp3.set(n == 3);
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
    let chunk = run_state(lua).map_or("@user_script", |s| s.chunk.get());
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
    if let Some(st) = run_state(lua) {
        st.err_line.set(line);
    }
    Ok(())
}

/// `redis.call` as a plain C function: the arguments are read straight off
/// the Lua stack and the reply is pushed straight onto it, without mlua's
/// callback machinery (a protected call per value once a memory limit is
/// set, and a registry reference per argument). Same results and errors as
/// [`api_call`], which `redis.pcall` still uses.
pub(crate) unsafe extern "C-unwind" fn fast_call(
    l: *mut mlua::ffi::lua_State,
) -> std::os::raw::c_int {
    use mlua::ffi;
    // Every Rust value of the call is dropped by the time `call_into`
    // returns, so raising the error below skips no destructor.
    if call_into(l) {
        return 1;
    }
    ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, c"ferrous.mkerr".as_ptr());
    ffi::lua_insert(l, -2);
    ffi::lua_call(l, 1, 1);
    ffi::lua_error(l)
}

/// What [`push_job`] pushes: a reply converted for Lua, or the bytes of an
/// error message as a plain string.
enum PushJob<'a> {
    Reply(&'a Reply, bool),
    Message(&'a [u8]),
}

/// Runs the command named by the arguments on the stack and leaves one
/// value on top: the reply as Lua sees it (true), or an error message for
/// `mkerr` (false).
unsafe fn call_into(l: *mut mlua::ffi::lua_State) -> bool {
    use mlua::ffi;
    let outcome = run_command(l);
    // Replies that become a number, a boolean or nil allocate nothing in
    // Lua and cannot raise (their few slots are within the LUA_MINSTACK a
    // C function gets): pushed directly, without the protected call below.
    if let Ok((r @ (Reply::Int(_) | Reply::Bool(_) | Reply::Nil), resp3)) = &outcome {
        push_reply(l, r, *resp3);
        return true;
    }
    let (job, ok) = match &outcome {
        Ok((Reply::Error(e), _)) => (PushJob::Message(e), false),
        Ok((r, resp3)) => (PushJob::Reply(r, *resp3), true),
        Err(msg) => (PushJob::Message(msg), false),
    };
    // Pushing allocates, which may raise a memory error: done in protected
    // mode by a function that only borrows the reply.
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(2));
    ffi::lua_pushlightuserdata(l, &job as *const PushJob<'_> as *mut std::ffi::c_void);
    let status = ffi::lua_pcall(l, 1, 1, 0);
    drop(outcome);
    if status == 0 {
        return ok;
    }
    // Converting the reply failed (out of memory): replace the error object.
    ffi::lua_pop(l, 1);
    ffi::lua_pushstring(l, c"ERR Lua script ran out of memory".as_ptr());
    false
}

/// The pusher [`call_into`] calls in protected mode (stored in the
/// second upvalue of `redis.call`): its argument is a `*const PushJob`.
pub(crate) unsafe extern "C-unwind" fn push_job(
    l: *mut mlua::ffi::lua_State,
) -> std::os::raw::c_int {
    use mlua::ffi;
    let job = &*(ffi::lua_touserdata(l, 1) as *const PushJob<'_>);
    match job {
        PushJob::Reply(r, resp3) => push_reply(l, r, *resp3),
        PushJob::Message(m) => push_bytes(l, m),
    }
    1
}

unsafe fn push_bytes(l: *mut mlua::ffi::lua_State, b: &[u8]) {
    mlua::ffi::lua_pushlstring(l, b.as_ptr() as *const _, b.len());
}

/// Opens `{key = <value pushed next>}`; [`close_single`] finishes it.
unsafe fn open_single(l: *mut mlua::ffi::lua_State, key: &std::ffi::CStr) {
    mlua::ffi::lua_createtable(l, 0, 1);
    mlua::ffi::lua_pushstring(l, key.as_ptr());
}

unsafe fn close_single(l: *mut mlua::ffi::lua_State) {
    mlua::ffi::lua_rawset(l, -3);
}

/// Pushes a reply converted as [`reply_to_lua`] does. Command replies nest
/// only a few levels, so plain recursion is fine; each level makes room
/// for its own few slots.
unsafe fn push_reply(l: *mut mlua::ffi::lua_State, r: &Reply, resp3: bool) {
    use mlua::ffi;
    if ffi::lua_checkstack(l, 4) == 0 {
        ffi::luaL_error(l, c"reply nested too deeply".as_ptr());
    }
    match r {
        Reply::Status(s) => {
            open_single(l, c"ok");
            push_bytes(l, s);
            close_single(l);
        }
        Reply::Error(e) => {
            open_single(l, c"err");
            push_bytes(l, e);
            close_single(l);
        }
        Reply::Int(n) => ffi::lua_pushinteger(l, *n as _),
        Reply::Bulk(b) => push_bytes(l, b),
        Reply::Nil => {
            if resp3 {
                ffi::lua_pushnil(l)
            } else {
                ffi::lua_pushboolean(l, 0)
            }
        }
        Reply::Array(items) => {
            ffi::lua_createtable(l, items.len() as _, 0);
            for (i, it) in items.iter().enumerate() {
                push_reply(l, it, resp3);
                ffi::lua_rawseti(l, -2, (i + 1) as _);
            }
        }
        Reply::Map(pairs) => {
            open_single(l, c"map");
            ffi::lua_createtable(l, 0, 0);
            for (k, v) in pairs {
                push_reply(l, k, resp3);
                push_reply(l, v, resp3);
                ffi::lua_rawset(l, -3);
            }
            close_single(l);
        }
        Reply::Set(items) => {
            open_single(l, c"set");
            ffi::lua_createtable(l, 0, 0);
            for it in items {
                push_reply(l, it, resp3);
                ffi::lua_pushboolean(l, 1);
                ffi::lua_rawset(l, -3);
            }
            close_single(l);
        }
        Reply::Double(d) => {
            open_single(l, c"double");
            ffi::lua_pushnumber(l, *d);
            close_single(l);
        }
        Reply::Bool(b) => ffi::lua_pushboolean(l, *b as _),
        Reply::BigNumber(n) => {
            open_single(l, c"big_number");
            push_bytes(l, n);
            close_single(l);
        }
        Reply::Verbatim(f, s) => {
            open_single(l, c"verbatim_string");
            ffi::lua_createtable(l, 0, 2);
            ffi::lua_pushstring(l, c"format".as_ptr());
            push_bytes(l, f);
            ffi::lua_rawset(l, -3);
            ffi::lua_pushstring(l, c"string".as_ptr());
            push_bytes(l, s);
            ffi::lua_rawset(l, -3);
            close_single(l);
        }
    }
}

/// Reads the arguments (strings, or numbers formatted as Redis does) and
/// runs the command through the host. Calls no Lua function that can raise.
unsafe fn run_command(l: *mut mlua::ffi::lua_State) -> Result<(Reply, bool), &'static [u8]> {
    use mlua::ffi;
    let n = ffi::lua_gettop(l);
    if n <= 0 {
        return Err(b"ERR Please specify at least one argument for this redis lib call");
    }
    // Numbers are formatted into `nums`; strings are borrowed from the
    // stack, where they stay until this call returns.
    // Up to INLINE arguments (nearly every call) are listed on the stack,
    // without allocating.
    const INLINE: usize = 12;
    let n = n as usize;
    let mut nums: Vec<u8> = Vec::new();
    let mut spans_inline = [(false, std::ptr::null::<u8>(), 0usize); INLINE];
    let mut spans_heap = Vec::new();
    let spans: &mut [(bool, *const u8, usize)] = if n <= INLINE {
        &mut spans_inline[..n]
    } else {
        spans_heap.resize(n, (false, std::ptr::null::<u8>(), 0usize));
        &mut spans_heap
    };
    for (i, span) in spans.iter_mut().enumerate() {
        let idx = (i + 1) as std::os::raw::c_int;
        match ffi::lua_type(l, idx) {
            ffi::LUA_TSTRING => {
                let mut len = 0usize;
                let p = ffi::lua_tolstring(l, idx, &mut len);
                *span = (false, p as *const u8, len);
            }
            ffi::LUA_TNUMBER => {
                let x = ffi::lua_tonumber(l, idx);
                let start = nums.len();
                match as_integer(x) {
                    Some(k) => {
                        let _ = std::io::Write::write_fmt(&mut nums, format_args!("{k}"));
                    }
                    None => nums.extend_from_slice(crate::convert::fmt_g17(x).as_bytes()),
                }
                *span = (true, start as *const u8, nums.len() - start);
            }
            _ => return Err(b"ERR Lua redis lib command arguments must be strings or integers"),
        }
    }
    let slice = |&(num, p, len): &(bool, *const u8, usize)| -> &[u8] {
        if num {
            &nums[p as usize..p as usize + len]
        } else if len == 0 {
            &[][..]
        } else {
            std::slice::from_raw_parts(p, len)
        }
    };
    let mut args_inline: [&[u8]; INLINE] = [&[]; INLINE];
    let args_heap: Vec<&[u8]>;
    let args: &[&[u8]] = if n <= INLINE {
        for (d, sp) in args_inline.iter_mut().zip(spans.iter()) {
            *d = slice(sp);
        }
        &args_inline[..n]
    } else {
        args_heap = spans.iter().map(slice).collect();
        &args_heap
    };
    // The run state is the upvalue of `redis.call`'s C closure.
    let st = ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)) as *const RunState;
    if st.is_null() {
        return Err(b"ERR redis.call is only available while a script runs");
    }
    match host_of(&*st, |h, resp3| (h.call(args, resp3), resp3)) {
        Some(r) => Ok(r),
        None => Err(b"ERR redis.call is only available while a script runs"),
    }
}

/// A Lua number that is an integer, as mlua would convert it.
fn as_integer(x: f64) -> Option<i64> {
    if !(-9223372036854775808.0..9223372036854775808.0).contains(&x) {
        return None;
    }
    let i = x as i64;
    ((i as f64).to_bits() == x.to_bits()).then_some(i)
}
