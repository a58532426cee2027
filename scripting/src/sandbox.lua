-- Runs once per VM, with the full global table, before any script.
-- Builds the redis.* API from the Rust primitives in `P`, removes what
-- scripts must not reach, and makes every global and library table
-- read-only through empty proxy tables, so nothing a script does survives
-- into the next one.
local P = ...
local G = _G
local error, type, tostring, select, setmetatable, rawset, pcall, xpcall, pairs, ipairs =
  error, type, tostring, select, setmetatable, rawset, pcall, xpcall, pairs, ipairs
local getmetatable, setfenv, loadstring, concat = getmetatable, setfenv, loadstring, table.concat
local sfind, ssub, sbyte = string.find, string.sub, string.byte

-- Errors raised by the redis.* API: tables carrying Redis's message; pcall
-- hands scripts the message itself, as Redis does.
local APIERR = setmetatable({}, {__mode = "k"})
local function mkerr(msg)
  local e = {err = msg}
  APIERR[e] = true
  return e
end

local redis = {}
local C, rcall = P.c, P.call
redis.call = C.call
redis.pcall = function(...)
  local ok, v = rcall(...)
  if not ok then return {err = v} end
  return v
end
redis.setresp = C.setresp
redis.sha1hex = C.sha1hex
redis.log = C.log
redis.set_repl = C.set_repl
redis.acl_check_cmd = C.acl_check_cmd
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() return nil end
redis.error_reply = function(...)
  local e = ...
  if select("#", ...) ~= 1 or type(e) ~= "string" then
    return {err = "ERR wrong number or type of arguments"}
  end
  if ssub(e, 1, 1) == "-" then e = ssub(e, 2) end
  if not sfind(e, " ", 1, true) then e = "ERR " .. e end
  return {err = e}
end
redis.status_reply = function(...)
  local s = ...
  if select("#", ...) ~= 1 or type(s) ~= "string" then
    return {err = "ERR wrong number or type of arguments"}
  end
  return {ok = s}
end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.REDIS_VERSION = P.version
redis.REDIS_VERSION_NUM = P.version_num
G.redis = redis
G.cjson = P.cjson
G.bit = P.bit
G.struct = P.struct
G.cmsgpack = P.cmsgpack

-- What Redis does not offer.
for _, name in ipairs({"dofile", "loadfile", "require", "module", "getfenv", "setfenv",
                       "newproxy", "print", "package", "os", "io", "debug"}) do
  rawset(G, name, nil)
end

-- Once a script is killed, pcall/xpcall must not swallow the kill.
local killed = P.killed
local function rethrow(ok, ...)
  if not ok then
    if killed() then error((...), 0) end
    local e = ...
    if type(e) == "table" and APIERR[e] then return false, e.err end
  end
  return ok, ...
end
G.pcall = function(...) return rethrow(pcall(...)) end
G.xpcall = function(f, h) return rethrow(xpcall(f, h)) end

-- Bytecode would bypass the parser's checks: refused, as in Redis.
G.loadstring = function(s, name)
  if type(s) == "string" and sbyte(s, 1) == 27 then return nil end
  return loadstring(s, name)
end
G.load = function(f, name)
  local parts = {}
  while true do
    local p = f()
    if p == nil or p == "" then break end
    if type(p) ~= "string" then return nil, "reader function must return a string" end
    parts[#parts + 1] = p
  end
  return G.loadstring(concat(parts), name)
end

-- Read-only proxies. FROZEN is what getmetatable() shows for them.
local RO = setmetatable({}, {__mode = "k"})
local function ro_err() error("Attempt to modify a readonly table", 2) end
local FROZEN = {}
setmetatable(FROZEN, {__newindex = ro_err, __metatable = FROZEN})
RO[FROZEN] = true
local function freeze(t)
  local p = setmetatable({}, {__index = t, __newindex = ro_err, __metatable = FROZEN})
  RO[p] = t
  return p
end
-- Iteration sees through a proxy to the table it guards.
local next, rawget = next, rawget
local function real(t)
  local r = RO[t]
  if type(r) == "table" then return r end
  return t
end
G.next = function(t, k) return next(real(t), k) end
G.pairs = function(t)
  if type(t) ~= "table" then return pairs(t) end
  return G.next, t, nil
end
local function inext(t, i)
  i = i + 1
  local v = rawget(real(t), i)
  if v ~= nil then return i, v end
end
G.ipairs = function(t)
  if type(t) ~= "table" then return ipairs(t) end
  return inext, t, 0
end
G.rawset = function(t, k, v)
  if RO[t] then error("Attempt to modify a readonly table", 0) end
  return rawset(t, k, v)
end
G.setmetatable = function(t, mt)
  if RO[t] then error("Attempt to modify a readonly table", 0) end
  return setmetatable(t, mt)
end
for _, name in ipairs({"string", "table", "math", "coroutine", "redis", "cjson", "bit",
                       "struct", "cmsgpack"}) do
  if G[name] then rawset(G, name, freeze(G[name])) end
end
rawset(getmetatable(""), "__metatable", FROZEN)

setmetatable(G, {
  __index = function(_, k)
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end,
  __metatable = FROZEN,
})
local env = freeze(G)
rawset(G, "_G", env)

-- FUNCTION LOAD: a library's code runs once in a tiny environment that only
-- offers redis.register_function, redis.log and constants; afterwards its
-- functions see the normal globals. One proxy serves both phases.
local LOADING, REG = false, nil
local function strict(t)
  return setmetatable({}, {
    __index = function(_, k)
      local v = rawget(t, k)
      if v == nil then
        error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
      end
      return v
    end,
    __newindex = ro_err, __metatable = FROZEN})
end
local FN_FLAGS = {["no-writes"] = true, ["allow-oom"] = true, ["allow-stale"] = true,
                  ["no-cluster"] = true, ["allow-cross-slot-keys"] = true}
local function reg_fail(m) error(mkerr("ERR " .. m), 0) end
local function register_function(...)
  local n = select("#", ...)
  local name, cb, flags, desc
  if n == 1 then
    local t = ...
    if type(t) ~= "table" then
      reg_fail("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).")
    end
    for k, v in next, t do
      if k == "function_name" then name = v
      elseif k == "callback" then cb = v
      elseif k == "flags" then flags = v
      elseif k == "description" then desc = v
      else reg_fail("unknown argument given to redis.register_function") end
    end
    if name == nil then reg_fail("redis.register_function must get a function name argument") end
    if cb == nil then reg_fail("redis.register_function must get a callback argument") end
  elseif n == 2 then
    name, cb = ...
    if type(cb) ~= "function" then
      reg_fail("second argument to redis.register_function must be a function")
    end
  else
    reg_fail("wrong number of arguments to redis.register_function")
  end
  if type(name) ~= "string" and type(name) ~= "number" then
    reg_fail("function_name argument given to redis.register_function must be a string")
  end
  name = tostring(name)
  if type(cb) ~= "function" then
    reg_fail("callback argument given to redis.register_function must be a function")
  end
  if flags ~= nil and type(flags) ~= "table" then
    reg_fail("flags argument to redis.register_function must be a table representing function flags")
  end
  local fl = {}
  if flags then
    for _, f in ipairs(flags) do
      if not FN_FLAGS[f] then reg_fail("unknown flag given") end
      fl[#fl + 1] = f
    end
  end
  if desc ~= nil then desc = tostring(desc) end
  if not sfind(name, "^[%w_]+$") then
    reg_fail("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long")
  end
  for _, r in ipairs(REG) do
    if r.name == name then reg_fail("Function already exists in the library") end
  end
  REG[#REG + 1] = {name = name, cb = cb, flags = fl, desc = desc}
end
local LOAD_G = {redis = strict({
  register_function = register_function, log = redis.log,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = P.version, REDIS_VERSION_NUM = P.version_num})}
local libenv = setmetatable({}, {
  __index = function(_, k)
    local v
    if LOADING then v = rawget(LOAD_G, k) else v = rawget(G, k) end
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
    end
    return v
  end,
  __newindex = ro_err, __metatable = FROZEN})
RO[libenv] = true
local function load_library(f)
  setfenv(f, libenv)
  REG, LOADING = {}, true
  local ok, e = pcall(f)
  LOADING = false
  local reg = REG
  REG = nil
  if not ok then return false, e end
  return true, reg
end

-- The runner: calls a script under an error handler that records where
-- the error happened (P.where) before the stack unwinds.
local where = P.where
local function handler(e)
  where()
  return e
end
-- A function (FCALL) gets its KEYS and ARGV tables as arguments. An EVAL
-- script is not run from here: `Engine::exec` calls it straight from Rust
-- under `handler` (see `enter_script` in engine.rs), with no Lua frame of
-- its own in between.
local function run(f, keys, args)
  return xpcall(function() return f(keys, args) end, handler)
end

-- From now on every chunk loaded gets the read-only view as its globals.
setfenv(0, env)
return G, run, mkerr, load_library, handler
