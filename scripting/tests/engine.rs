//! Engine tests against a mock host: sandbox, conversions, errors, kill,
//! memory limit, and the patched parser.

use ferrous_scripting::{sha1_hex, Engine, Host, Outcome, Reply, RunOpts};

struct Mock {
    calls: Vec<Vec<Vec<u8>>>,
}

impl Host for Mock {
    fn call(&mut self, args: &[&[u8]], _resp3: bool) -> Reply {
        self.calls.push(args.iter().map(|a| a.to_vec()).collect());
        match args[0] {
            b"echo" => Reply::Bulk(args[1].to_vec()),
            b"ping" => Reply::Status(b"PONG".to_vec()),
            b"nil" => Reply::Nil,
            b"arr" => Reply::Array(vec![
                Reply::Int(1),
                Reply::Bulk(b"a\0\xff".to_vec()),
                Reply::Nil,
            ]),
            _ => Reply::Error(b"ERR Unknown Redis command called from script".to_vec()),
        }
    }
    fn log(&mut self, _level: i64, _msg: &[u8]) {}
    fn acl_check(&mut self, _args: &[&[u8]]) -> Result<bool, String> {
        Ok(true)
    }
}

fn run(e: &mut Engine, body: &str, keys: &[&[u8]], argv: &[&[u8]]) -> Outcome {
    let sha = sha1_hex(body.as_bytes());
    let mut h = Mock { calls: vec![] };
    e.run(
        &RunOpts {
            sha: &sha,
            body: body.as_bytes(),
            keys,
            argv,
            client_resp3: false,
        },
        &mut h,
    )
}

fn ok(e: &mut Engine, body: &str) -> Reply {
    match run(e, body, &[], &[]) {
        Outcome::Return(r) => r,
        Outcome::Raise(m) => panic!("{body}: raised {m}"),
    }
}

fn raise(e: &mut Engine, body: &str) -> String {
    match run(e, body, &[], &[]) {
        Outcome::Return(r) => panic!("{body}: returned {r:?}"),
        Outcome::Raise(m) => m,
    }
}

#[test]
fn basics_and_sandbox() {
    let mut e = Engine::new("7.0.15", 0).unwrap();
    assert_eq!(ok(&mut e, "return 1"), Reply::Int(1));
    assert_eq!(ok(&mut e, "return 3.99"), Reply::Int(3));
    assert_eq!(
        ok(&mut e, "return {1,2,nil,3}"),
        Reply::Array(vec![Reply::Int(1), Reply::Int(2)])
    );
    assert_eq!(
        ok(&mut e, "return redis.call('echo', 'x')"),
        Reply::Bulk(b"x".to_vec())
    );
    assert_eq!(
        ok(&mut e, "return redis.call('ping')"),
        Reply::Status(b"PONG".to_vec())
    );
    assert_eq!(
        ok(&mut e, "return type(redis.call('nil'))"),
        Reply::Bulk(b"boolean".to_vec())
    );
    let m = raise(&mut e, "return x");
    assert!(m.starts_with("ERR user_script:1: Script attempted to access nonexistent global variable 'x' script: "), "{m}");
    assert!(m.ends_with(", on @user_script:1."), "{m}");
    let m = raise(&mut e, "x = 1");
    assert!(
        m.starts_with("ERR user_script:1: Attempt to modify a readonly table script:"),
        "{m}"
    );
    let m = raise(&mut e, "\nredis.call('nosuch')");
    assert!(
        m.starts_with("ERR Unknown Redis command called from script script: "),
        "{m}"
    );
    assert!(m.ends_with("on @user_script:2."), "{m}");
    assert_eq!(
        ok(&mut e, "local ok, e = pcall(redis.call, 'nosuch') return e"),
        Reply::Bulk(b"ERR Unknown Redis command called from script".to_vec())
    );
    let m = raise(&mut e, "rawset(_G, 'x', 1)");
    assert!(
        m.starts_with("ERR Attempt to modify a readonly table script:"),
        "{m}"
    );
    let m = raise(&mut e, "setmetatable(_G, nil)");
    assert!(
        m.starts_with("ERR Attempt to modify a readonly table script:"),
        "{m}"
    );
    let m = raise(&mut e, "redis.call = nil");
    assert!(
        m.starts_with("ERR user_script:1: Attempt to modify a readonly table"),
        "{m}"
    );
    let m = raise(&mut e, "getmetatable('').__index = nil");
    assert!(m.contains("Attempt to modify a readonly table"), "{m}");
    for g in [
        "os", "io", "debug", "require", "loadfile", "dofile", "getfenv", "setfenv", "print",
    ] {
        let m = raise(&mut e, &format!("return {g}"));
        assert!(
            m.contains(&format!("nonexistent global variable '{g}'")),
            "{m}"
        );
    }
    assert_eq!(
        ok(
            &mut e,
            "return loadstring(string.dump(function() return 1 end))"
        ),
        Reply::Nil
    );
    assert_eq!(ok(&mut e, "return loadstring('return 5')()"), Reply::Int(5));
    let m = raise(&mut e, "loadstring('y = 1')()");
    assert!(m.contains("Attempt to modify a readonly table"), "{m}");
    let m = raise(
        &mut e,
        "local function f(n) return f(n+1)+1 end return f(1)",
    );
    assert!(m.contains("stack overflow"), "{m}");
    assert_eq!(
        ok(&mut e, "return bit.tohex(bit.band(0xff, 0x0f))"),
        Reply::Bulk(b"0000000f".to_vec())
    );
    assert_eq!(
        ok(&mut e, "return redis.sha1hex('')"),
        Reply::Bulk(b"da39a3ee5e6b4b0d3255bfef95601890afd80709".to_vec())
    );
}

#[test]
fn keys_argv_binary_safe() {
    let mut e = Engine::new("7.0.15", 0).unwrap();
    let r = run(
        &mut e,
        "return {KEYS[1], ARGV[1], #KEYS, #ARGV}",
        &[b"k\0\xff"],
        &[b"\xff\x00v", b"2"],
    );
    match r {
        Outcome::Return(r) => assert_eq!(
            r,
            Reply::Array(vec![
                Reply::Bulk(b"k\0\xff".to_vec()),
                Reply::Bulk(b"\xff\x00v".to_vec()),
                Reply::Int(1),
                Reply::Int(2)
            ])
        ),
        Outcome::Raise(m) => panic!("{m}"),
    }
    assert_eq!(
        ok(&mut e, "return redis.call('arr')"),
        Reply::Array(vec![
            Reply::Int(1),
            Reply::Bulk(b"a\0\xff".to_vec()),
            Reply::Nil
        ])
    );
}

#[test]
fn kill_stops_pcall_loops() {
    let mut e = Engine::new("7.0.15", 0).unwrap();
    let ctl = e.control();
    let t = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(200));
        ctl.kill.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let m = raise(
        &mut e,
        "while true do pcall(function() while true do end end) end",
    );
    t.join().unwrap();
    assert!(
        m.starts_with("ERR Script killed by user with SCRIPT KILL... script: "),
        "{m}"
    );
    // The VM is usable afterwards.
    assert_eq!(ok(&mut e, "return 2"), Reply::Int(2));
}

#[test]
fn memory_limit_raises_and_recovers() {
    let mut e = Engine::new("7.0.15", 16 << 20).unwrap();
    let m = raise(
        &mut e,
        "local t = {} for i = 1, 1e8 do t[i] = string.rep('x', 100) .. i end",
    );
    assert!(m.contains("memory"), "{m}");
    assert_eq!(ok(&mut e, "return 3"), Reply::Int(3));
    let r = ok(&mut e, "local ok = pcall(string.rep, 'x', 2^31) return 1");
    assert_eq!(r, Reply::Int(1));
}

/// CVE-2025-49844: parsing with aggressive GC must not touch a freed chunk
/// name. Without the patch this is a use-after-free (caught by sanitizers,
/// and often by the allocator); with it, it is just slow.
#[test]
fn parser_chunk_name_is_anchored() {
    assert!(ferrous_scripting::LUA_PATCHES.contains("cve-2025-49844"));
    let mut e = Engine::new("7.0.15", 0).unwrap();
    let body = "collectgarbage('setpause', 0) collectgarbage('setstepmul', 1000000)
        for i = 1, 300 do
          local src = 'local t = {} ' .. string.rep('t[#t+1] = \"' .. i .. '\" .. \"x\" ', 50) .. ' return #t'
          local f = loadstring(src, 'chunk' .. i .. string.rep('n', 40))
          assert(f() == 50)
        end
        collectgarbage('setpause', 200) collectgarbage('setstepmul', 200)
        return 1";
    assert_eq!(ok(&mut e, body), Reply::Int(1));
}

/// CVE-2025-46817: extreme `unpack` ranges fail cleanly.
#[test]
fn unpack_extreme_ranges() {
    assert!(ferrous_scripting::LUA_PATCHES.contains("cve-2025-46817"));
    let mut e = Engine::new("7.0.15", 0).unwrap();
    for body in [
        "return {pcall(unpack, {}, -2147483648, 2147483647)}",
        "return {pcall(unpack, {}, 0, 2147483647)}",
        "return {pcall(unpack, {}, -2147483647, 2147483647)}",
    ] {
        assert_eq!(
            ok(&mut e, body),
            Reply::Array(vec![
                Reply::Nil,
                Reply::Bulk(b"too many results to unpack".to_vec())
            ]),
            "{body}"
        );
    }
    assert_eq!(
        ok(&mut e, "return {unpack({1, 2, 3}, 2147483646, 2147483647)}"),
        Reply::Array(vec![])
    );
    assert_eq!(
        ok(&mut e, "return {unpack({1, 2, 3}, 2)}"),
        Reply::Array(vec![Reply::Int(2), Reply::Int(3)])
    );
}

/// The kill switch reaches loops inside coroutines too (the hook is global).
#[test]
fn kill_reaches_coroutines() {
    let mut e = Engine::new("7.0.15", 0).unwrap();
    let ctl = e.control();
    let t = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(200));
        ctl.kill.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let m = raise(
        &mut e,
        "local co = coroutine.wrap(function() while true do pcall(function() while true do end end) end end) co()",
    );
    t.join().unwrap();
    assert!(
        m.starts_with("ERR Script killed by user with SCRIPT KILL..."),
        "{m}"
    );
    assert_eq!(ok(&mut e, "return 2"), Reply::Int(2));
}

/// Without explicit GC steps between runs, Lua's incremental collector
/// alone keeps the heap bounded: scripts that each leave garbage behind
/// (tables, strings) run many times and the heap stays small.
#[test]
fn heap_stays_bounded_without_explicit_gc() {
    let mut e = Engine::new("7.0.15", 0).expect("vm");
    let body = "local t = {} for i = 1, 200 do t[i] = 'item' .. i .. ARGV[1] end return #t";
    let start = e.used_memory();
    let mut peak = 0;
    for i in 0..5000 {
        let arg = i.to_string();
        match run(&mut e, body, &[], &[arg.as_bytes()]) {
            Outcome::Return(Reply::Int(200)) => {}
            other => panic!("{other:?}"),
        }
        peak = peak.max(e.used_memory());
    }
    // 5000 runs leave ~50 MB of garbage in all; the collector keeps the heap
    // within a small multiple of what is live.
    assert!(peak < start + (4 << 20), "start {start} peak {peak}");
    // A script that returns the heap size sees it collected too.
    let _ = ok(&mut e, "collectgarbage('collect') return 1");
    assert!(
        e.used_memory() < start + (256 << 10),
        "after collect {}",
        e.used_memory()
    );
}

/// KEYS and ARGV are set inside the runner's protected call: arguments too
/// big for the heap cap fail the run before the script starts, with the
/// mlua error text and no script suffix, and the VM runs the next script.
#[test]
fn keys_argv_over_memory_limit() {
    let mut e = Engine::new("7.0.15", 2 << 20).expect("vm");
    let big = vec![b'x'; 4 << 20];
    let m = match run(&mut e, "return #ARGV[1]", &[b"k"], &[&big]) {
        Outcome::Raise(m) => m,
        other => panic!("{other:?}"),
    };
    assert!(m.starts_with("ERR ") && m.contains("memory"), "{m}");
    assert!(!m.contains("script:"), "{m}");
    match run(&mut e, "return {KEYS[1], #ARGV}", &[b"a"], &[b"b", b"c"]) {
        Outcome::Return(Reply::Array(v)) => {
            assert_eq!(v, vec![Reply::Bulk(b"a".to_vec()), Reply::Int(2)])
        }
        other => panic!("{other:?}"),
    }
}

/// `redis.call` arguments: strings and numbers (integers as integers,
/// others as %.17g), few (listed on the stack) or many (on the heap).
#[test]
fn call_arguments_few_and_many() {
    let mut e = Engine::new("7.0.15", 0).expect("vm");
    for n in [1usize, 2, 11, 12, 13, 40] {
        let body = format!(
            "local t = {{'echo'}} for i = 2, {n} do if i % 2 == 0 then t[i] = i else t[i] = 's' .. i end end t[{n} + 1] = 0.5 return redis.call(unpack(t))"
        );
        let sha = sha1_hex(body.as_bytes());
        let mut h = Mock { calls: vec![] };
        let out = e.run(
            &RunOpts {
                sha: &sha,
                body: body.as_bytes(),
                keys: &[],
                argv: &[],
                client_resp3: false,
            },
            &mut h,
        );
        assert!(matches!(out, Outcome::Return(_)), "{out:?}");
        let mut want: Vec<Vec<u8>> = vec![b"echo".to_vec()];
        for i in 2..=n {
            want.push(
                if i % 2 == 0 {
                    i.to_string()
                } else {
                    format!("s{i}")
                }
                .into_bytes(),
            );
        }
        want.push(b"0.5".to_vec());
        assert_eq!(h.calls, vec![want], "n = {n}");
    }
}
