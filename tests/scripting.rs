//! Scripting behaviour beyond Redis (rollback, killing scripts that wrote,
//! readers during a busy script, read-only scripts in parallel) and a real
//! client's EVALSHA → NOSCRIPT → EVAL fallback.

mod common;

use std::time::{Duration, Instant};

use common::Ferrous;

const LOOP: &str = "redis.call('set', KEYS[1], 'new') while true do end";

#[test]
fn raised_error_rolls_back_every_write() {
    let f = Ferrous::start(&[]);
    let mut c = f.client();
    assert_eq!(c.cmd(&["SET", "b", "old"]), b"+OK\r\n");
    let r = c.cmd(&[
        "EVAL",
        "redis.call('set','a','1') redis.call('set','b','2') redis.call('incr','b2') error('x')",
        "0",
    ]);
    assert!(
        r.starts_with(b"-ERR user_script:1: x script: "),
        "{}",
        String::from_utf8_lossy(&r)
    );
    assert_eq!(c.cmd(&["GET", "a"]), b"$-1\r\n");
    assert_eq!(c.cmd(&["GET", "b"]), b"$3\r\nold\r\n");
    // A failing redis.call rolls back too, pcall'ed errors do not.
    let r = c.cmd(&[
        "EVAL",
        "redis.call('set','a','1') return redis.call('incr','b')",
        "0",
    ]);
    assert!(r.starts_with(b"-ERR value is not an integer"));
    assert_eq!(c.cmd(&["GET", "a"]), b"$-1\r\n");
    let r = c.cmd(&[
        "EVAL",
        "redis.call('set','a','1') return redis.pcall('incr','b')",
        "0",
    ]);
    assert!(r.starts_with(b"-ERR value is not an integer"));
    assert_eq!(c.cmd(&["GET", "a"]), b"$1\r\n1\r\n");
    // Earlier writes of the same pipeline are kept.
    c.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\np\r\n$1\r\n1\r\n*3\r\n$4\r\nEVAL\r\n$10\r\nerror('x')\r\n$1\r\n0\r\n");
    assert_eq!(c.read_reply(), b"+OK\r\n");
    assert!(c.read_reply().starts_with(b"-ERR"));
    assert_eq!(c.cmd(&["GET", "p"]), b"$1\r\n1\r\n");
}

/// The rollback point covers every database a script touches (SELECT, MOVE,
/// COPY DB, SWAPDB, FLUSHDB, FLUSHALL), including writes pipelined in the
/// same batch after a successful script.
#[test]
fn raised_error_rolls_back_every_database() {
    let f = Ferrous::start(&[]);
    let mut c = f.client();
    for (db, v) in [("0", "a0"), ("1", "a1"), ("2", "a2"), ("3", "a3")] {
        assert_eq!(c.cmd(&["SELECT", db]), b"+OK\r\n");
        assert_eq!(c.cmd(&["SET", "k", v]), b"+OK\r\n");
    }
    assert_eq!(c.cmd(&["SELECT", "0"]), b"+OK\r\n");
    let keys = |c: &mut common::Raw| {
        let mut all = Vec::new();
        for db in ["0", "1", "2", "3", "4"] {
            c.cmd(&["SELECT", db]);
            all.push(c.cmd(&["GET", "k"]));
            all.push(c.cmd(&["GET", "m"]));
        }
        c.cmd(&["SELECT", "0"]);
        all
    };
    let before = keys(&mut c);
    let scripts = [
        "redis.call('set','m','x') redis.call('move','m',4) error('e')",
        "redis.call('select',1) redis.call('set','k','changed') error('e')",
        "redis.call('swapdb',2,3) error('e')",
        "redis.call('copy','k','k','db',4) redis.call('select',2) redis.call('flushdb') error('e')",
        "redis.call('flushall') error('e')",
    ];
    for s in scripts {
        let r = c.cmd(&["EVAL", s, "0"]);
        assert!(
            r.starts_with(b"-ERR user_script:1: e"),
            "{s}: {}",
            String::from_utf8_lossy(&r)
        );
        assert_eq!(keys(&mut c), before, "{s}");
    }
    // A script that succeeds, then one that fails, in one pipeline: the
    // first keeps its writes, the second leaves none.
    c.send_str(&[
        "EVAL",
        "redis.call('select',3) return redis.call('set','m','kept')",
        "0",
    ]);
    c.send_str(&[
        "EVAL",
        "redis.call('select',3) redis.call('del','m') redis.call('flushall') error('e')",
        "0",
    ]);
    assert_eq!(c.read_reply(), b"+OK\r\n");
    assert!(c.read_reply().starts_with(b"-ERR"));
    assert_eq!(c.cmd(&["SELECT", "3"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "m"]), b"$4\r\nkept\r\n");
    assert_eq!(c.cmd(&["GET", "k"]), b"$2\r\na3\r\n");
}

#[test]
fn busy_script_readers_writers_kill() {
    let f = Ferrous::start(&[]);
    let mut a = f.client();
    let mut b = f.client();
    assert_eq!(b.cmd(&["SET", "k", "old"]), b"+OK\r\n");
    assert_eq!(
        b.cmd(&["CONFIG", "SET", "busy-reply-threshold", "200"]),
        b"+OK\r\n"
    );
    assert_eq!(
        b.cmd(&["SCRIPT", "KILL"]),
        b"-NOTBUSY No scripts in execution right now.\r\n"
    );
    let peek = b.cmd(&[
        "SCRIPT",
        "LOAD",
        "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])",
    ]);
    let peek = String::from_utf8_lossy(&peek[5..45]).into_owned();
    a.send(&[b"EVAL", LOOP.as_bytes(), b"1", b"k"]);
    std::thread::sleep(Duration::from_millis(400));
    // Readers answer from the committed version.
    let started = Instant::now();
    let mut reads = 0;
    while started.elapsed() < Duration::from_secs(3) {
        assert_eq!(b.cmd(&["GET", "k"]), b"$3\r\nold\r\n");
        reads += 1;
    }
    assert!(reads > 10, "only {reads} reads in 3 s");
    // Read-only scripts run beside the writer.
    assert_eq!(
        b.cmd(&["EVAL_RO", "return redis.call('get', KEYS[1])", "1", "k"]),
        b"$3\r\nold\r\n"
    );
    // So do EVALs and EVALSHAs of `no-writes` scripts, which take no GIL.
    assert_eq!(
        b.cmd(&[
            "EVAL",
            "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])",
            "1",
            "k"
        ]),
        b"$3\r\nold\r\n"
    );
    assert_eq!(b.cmd(&["EVALSHA", &peek, "1", "k"]), b"$3\r\nold\r\n");
    // Writers and other EVALs get -BUSY.
    let busy = b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
    assert_eq!(b.cmd(&["SET", "x", "1"]), busy);
    assert_eq!(b.cmd(&["EVAL", "return 1", "0"]), busy);
    // The kill works although the script wrote, and drops its write.
    let killed = Instant::now();
    assert_eq!(b.cmd(&["SCRIPT", "KILL"]), b"+OK\r\n");
    let r = a.read_reply();
    assert!(
        r.starts_with(b"-ERR Script killed by user with SCRIPT KILL... script: "),
        "{}",
        String::from_utf8_lossy(&r)
    );
    assert_eq!(b.cmd(&["SET", "x", "2"]), b"+OK\r\n");
    eprintln!("SCRIPT KILL to next write served: {:?}", killed.elapsed());
    assert_eq!(b.cmd(&["GET", "k"]), b"$3\r\nold\r\n");
    assert_eq!(a.cmd(&["GET", "x"]), b"$1\r\n2\r\n");
}

#[test]
fn writer_waits_before_threshold() {
    let f = Ferrous::start(&[]);
    let mut a = f.client();
    let mut b = f.client();
    // A script of ~300 ms under the default 5 s threshold: the writer waits.
    a.send(&[
        b"EVAL",
        b"local i = 0 while i < 3000000 do i = i + 1 end return redis.call('set','w','s')",
        b"0",
    ]);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(b.cmd(&["SET", "w", "b"]), b"+OK\r\n");
    assert_eq!(a.read_reply(), b"+OK\r\n");
    assert_eq!(b.cmd(&["GET", "w"]), b"$1\r\nb\r\n");
}

#[test]
fn memory_bombs_and_recursion_leave_server_healthy() {
    let f = Ferrous::start(&[]);
    let mut c = f.client();
    let r = c.cmd(&[
        "EVAL",
        "local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1e6) .. i end",
        "0",
    ]);
    assert!(r.starts_with(b"-ERR"), "{}", String::from_utf8_lossy(&r));
    let r = c.cmd(&[
        "EVAL",
        "local function f(n) return f(n+1)+1 end return f(1)",
        "0",
    ]);
    assert!(
        r.starts_with(b"-ERR user_script:1: stack overflow"),
        "{}",
        String::from_utf8_lossy(&r)
    );
    let r = c.cmd(&[
        "EVAL",
        "local s = string.rep('x', 2^20) for i = 1, 12 do s = s .. s end return #s",
        "0",
    ]);
    assert!(r.starts_with(b"-ERR"), "{}", String::from_utf8_lossy(&r));
    assert_eq!(c.cmd(&["EVAL", "return 1", "0"]), b":1\r\n");
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
}

/// `lua-memory-limit` caps each VM's heap: a script past it raises, its
/// writes are rolled back, and a smaller script then runs fine.
#[test]
fn lua_memory_limit_config() {
    let f = Ferrous::start(&[]);
    let mut c = f.client();
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "lua-memory-limit", "4mb"]),
        b"+OK\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "lua-memory-limit"]),
        b"*2\r\n$16\r\nlua-memory-limit\r\n$7\r\n4194304\r\n"
    );
    assert!(c
        .cmd(&["CONFIG", "SET", "lua-memory-limit", "1000"])
        .starts_with(b"-ERR"));
    // 8 MB of strings do not fit in 4 MB (they would under the default).
    let bomb = "redis.call('set', KEYS[1], 'written') \
                local t = {} for i = 1, 8 do t[i] = string.rep('x', 2^20) .. i end return #t";
    let r = c.cmd(&["EVAL", bomb, "1", "k"]);
    assert!(r.starts_with(b"-"), "{}", String::from_utf8_lossy(&r));
    assert_eq!(c.cmd(&["EXISTS", "k"]), b":0\r\n");
    assert_eq!(
        c.cmd(&["EVAL", "return #string.rep('x', 2^20)", "0"]),
        b":1048576\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "lua-memory-limit", "256mb"]),
        b"+OK\r\n"
    );
    assert_eq!(c.cmd(&["EVAL", bomb, "1", "k"]), b":8\r\n");
    assert_eq!(c.cmd(&["GET", "k"]), b"$7\r\nwritten\r\n");
}

#[test]
fn real_client_script_fallback() {
    let f = Ferrous::start(&[]);
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/", f.port)).unwrap();
    let mut con = client.get_connection().unwrap();
    let script = redis::Script::new("return redis.call('incr', KEYS[1])");
    // Not cached yet: EVALSHA gets NOSCRIPT and the client falls back to EVAL.
    let n: i64 = script.key("cnt").invoke(&mut con).unwrap();
    assert_eq!(n, 1);
    let n: i64 = script.key("cnt").invoke(&mut con).unwrap();
    assert_eq!(n, 2);
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut con).unwrap();
    let n: i64 = script.key("cnt").invoke(&mut con).unwrap();
    assert_eq!(n, 3);
}

#[test]
fn busy_function_kill_stats_and_rollback() {
    let f = Ferrous::start(&[]);
    let mut a = f.client();
    let mut b = f.client();
    let lib = "#!lua name=spin\n\
        redis.register_function('spin', function(keys) redis.call('set', keys[1], 'new') while true do end end)\n\
        redis.register_function{function_name='peek', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}";
    assert_eq!(b.cmd(&["FUNCTION", "LOAD", lib]), b"$4\r\nspin\r\n");
    assert_eq!(b.cmd(&["SET", "k", "old"]), b"+OK\r\n");
    assert_eq!(
        b.cmd(&["CONFIG", "SET", "busy-reply-threshold", "100"]),
        b"+OK\r\n"
    );
    a.send(&[b"FCALL", b"spin", b"1", b"k"]);
    std::thread::sleep(Duration::from_millis(400));
    let stats = b.cmd(&["FUNCTION", "STATS"]);
    let s = String::from_utf8_lossy(&stats);
    assert!(
        s.contains("$4\r\nspin\r\n$7\r\ncommand\r\n*4\r\n$5\r\nFCALL\r\n"),
        "{s}"
    );
    assert_eq!(b.cmd(&["GET", "k"]), b"$3\r\nold\r\n");
    assert_eq!(b.cmd(&["FCALL", "peek", "1", "k"]), b"$3\r\nold\r\n");
    assert_eq!(b.cmd(&["FCALL_RO", "peek", "1", "k"]), b"$3\r\nold\r\n");
    let busy = b"-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n";
    assert_eq!(b.cmd(&["SET", "x", "1"]), busy);
    assert_eq!(b.cmd(&["SCRIPT", "KILL"]), busy);
    assert_eq!(b.cmd(&["FUNCTION", "KILL"]), b"+OK\r\n");
    let r = a.read_reply();
    assert!(
        r.starts_with(
            b"-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2."
        ),
        "{}",
        String::from_utf8_lossy(&r)
    );
    assert_eq!(b.cmd(&["GET", "k"]), b"$3\r\nold\r\n");
    assert_eq!(
        b.cmd(&["FUNCTION", "KILL"]),
        b"-NOTBUSY No scripts in execution right now.\r\n"
    );
}

#[test]
fn client_pause_write_holds_write_scripts_only() {
    let f = Ferrous::start(&[]);
    let mut a = f.client();
    let mut b = f.client();
    assert_eq!(b.cmd(&["CLIENT", "PAUSE", "600", "WRITE"]), b"+OK\r\n");
    let t = Instant::now();
    assert_eq!(a.cmd(&["EVAL_RO", "return 1", "0"]), b":1\r\n");
    assert_eq!(
        a.cmd(&["EVAL", "#!lua flags=no-writes\nreturn 2", "0"]),
        b":2\r\n"
    );
    assert!(t.elapsed() < Duration::from_millis(400));
    assert_eq!(a.cmd(&["EVAL", "return 3", "0"]), b":3\r\n");
    assert!(
        t.elapsed() >= Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn shutdown_nosave_during_busy_script() {
    let f = Ferrous::start(&[]);
    let mut a = f.client();
    let mut b = f.client();
    assert_eq!(
        b.cmd(&["CONFIG", "SET", "busy-reply-threshold", "100"]),
        b"+OK\r\n"
    );
    a.send(&[b"EVAL", LOOP.as_bytes(), b"1", b"k"]);
    std::thread::sleep(Duration::from_millis(300));
    b.send(&[b"SHUTDOWN", b"NOSAVE"]);
    let t = Instant::now();
    // The script is killed and every connection closes.
    let _ = a.try_read_reply();
    assert!(b.try_read_reply().is_none());
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn monitor_shows_script_and_its_commands() {
    let f = Ferrous::start(&[]);
    let mut m = f.client();
    let mut c = f.client();
    assert_eq!(m.cmd(&["MONITOR"]), b"+OK\r\n");
    let script = "redis.call('set','k','v') redis.call('select', 2) return redis.call('get','k')";
    assert_eq!(c.cmd(&["EVAL", script, "0"]), b"$-1\r\n");
    let lines: Vec<String> = (0..4)
        .map(|_| String::from_utf8_lossy(&m.read_reply()).into_owned())
        .collect();
    assert!(lines[0].contains("\"EVAL\" \"redis.call("), "{lines:?}");
    assert!(
        lines[1].ends_with("[0 lua] \"set\" \"k\" \"v\"\r\n"),
        "{lines:?}"
    );
    assert!(
        lines[2].ends_with("[2 lua] \"select\" \"2\"\r\n"),
        "{lines:?}"
    );
    assert!(lines[3].ends_with("[2 lua] \"get\" \"k\"\r\n"), "{lines:?}");
}

/// Waits until the server reports `n` blocked clients.
fn wait_blocked(c: &mut common::Raw, n: usize) {
    let want = format!("blocked_clients:{n}\r\n");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !String::from_utf8_lossy(&c.cmd(&["INFO", "clients"])).contains(&want) {
        assert!(Instant::now() < deadline, "never saw {want}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A raising EVAL inside MULTI rolls back its own writes only: EXEC's other
/// commands stay, its slot carries the error, and a concurrent reader sees
/// every EXEC whole (never `a` without `c`, never the script's `b`).
#[test]
fn eval_in_multi_rolls_back_only_its_own_writes() {
    let f = Ferrous::start(&[]);
    let mut c = f.client();
    let port = f.port;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d = done.clone();
    let reader = std::thread::spawn(move || {
        let mut r = common::Raw::connect(port);
        let mut reads = 0u64;
        while !d.load(std::sync::atomic::Ordering::SeqCst) {
            let got = r.cmd(&["MGET", "a", "b", "c"]);
            let s = String::from_utf8_lossy(&got).into_owned();
            let parts: Vec<&str> = s.split("\r\n").collect();
            // *3, then a (2 lines or $-1), b, c.
            let mut vals = Vec::new();
            let mut i = 1;
            while vals.len() < 3 {
                if parts[i] == "$-1" {
                    vals.push(None);
                    i += 1;
                } else {
                    vals.push(Some(parts[i + 1].to_string()));
                    i += 2;
                }
            }
            assert_eq!(vals[0], vals[2], "partial EXEC seen: {s:?}");
            assert_eq!(vals[1], None, "rolled back script write seen: {s:?}");
            reads += 1;
        }
        reads
    });
    for g in 1..=5 {
        let g = g.to_string();
        assert_eq!(c.cmd(&["MULTI"]), b"+OK\r\n");
        assert_eq!(c.cmd(&["SET", "a", &g]), b"+QUEUED\r\n");
        assert_eq!(
            c.cmd(&[
                "EVAL",
                "redis.call('set','b',ARGV[1]) for i=1,300000 do end error('x')",
                "0",
                &g,
            ]),
            b"+QUEUED\r\n"
        );
        assert_eq!(c.cmd(&["SET", "c", &g]), b"+QUEUED\r\n");
        let r = c.cmd(&["EXEC"]);
        let s = String::from_utf8_lossy(&r).into_owned();
        assert!(
            s.starts_with("*3\r\n+OK\r\n-ERR user_script:1: x script: ")
                && s.ends_with("\r\n+OK\r\n"),
            "{s:?}"
        );
        assert_eq!(c.cmd(&["MGET", "a", "b", "c"]), {
            let mut e = format!("*3\r\n${}\r\n{g}\r\n$-1\r\n", g.len()).into_bytes();
            e.extend_from_slice(format!("${}\r\n{g}\r\n", g.len()).as_bytes());
            e
        });
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let reads = reader.join().unwrap();
    assert!(reads > 0);
}

/// A script that pushes to a key a client is blocked on and then raises
/// does not serve that client: the served re-run sees the rolled back
/// state. The next real push serves it.
#[test]
fn raising_script_does_not_serve_blocked_clients() {
    let f = Ferrous::start(&[]);
    let mut x = f.client();
    let mut y = f.client();
    x.send(&[b"BLPOP", b"q", b"0"]);
    wait_blocked(&mut y, 1);
    let r = y.cmd(&["EVAL", "redis.call('lpush','q','bogus') error('x')", "0"]);
    assert!(
        r.starts_with(b"-ERR user_script:1: x script: "),
        "{}",
        common::show(&r)
    );
    // The same inside a pipeline with other commands, and inside MULTI.
    y.send_raw(&common::encode(&[
        b"EVAL",
        b"redis.call('rpush','q','bogus2') error('y')",
        b"0",
    ]));
    y.send_raw(&common::encode(&[b"PING"]));
    assert!(y
        .read_reply()
        .starts_with(b"-ERR user_script:1: y script: "));
    assert_eq!(y.read_reply(), b"+PONG\r\n");
    assert_eq!(y.cmd(&["MULTI"]), b"+OK\r\n");
    y.cmd(&["EVAL", "redis.call('lpush','q','bogus3') error('z')", "0"]);
    let r = y.cmd(&["EXEC"]);
    assert!(
        r.starts_with(b"*1\r\n-ERR user_script:1: z script: "),
        "{}",
        common::show(&r)
    );
    assert_eq!(y.cmd(&["LLEN", "q"]), b":0\r\n");
    wait_blocked(&mut y, 1);
    assert_eq!(y.cmd(&["LPUSH", "q", "real"]), b":1\r\n");
    assert_eq!(x.read_reply(), b"*2\r\n$1\r\nq\r\n$4\r\nreal\r\n");
    assert_eq!(y.cmd(&["LLEN", "q"]), b":0\r\n");
}

/// WATCH is not touched by the writes of a script that raised (they were
/// rolled back with the version that logged them); a script that returns
/// does touch it.
#[test]
fn rolled_back_script_does_not_touch_watch() {
    let f = Ferrous::start(&[]);
    let mut w = f.client();
    let mut y = f.client();
    assert_eq!(w.cmd(&["SET", "k", "0"]), b"+OK\r\n");
    assert_eq!(w.cmd(&["WATCH", "k"]), b"+OK\r\n");
    let r = y.cmd(&["EVAL", "redis.call('set','k','x') error('e')", "0"]);
    assert!(r.starts_with(b"-ERR user_script:1: e script: "));
    assert_eq!(w.cmd(&["MULTI"]), b"+OK\r\n");
    assert_eq!(w.cmd(&["SET", "k", "mine"]), b"+QUEUED\r\n");
    assert_eq!(w.cmd(&["EXEC"]), b"*1\r\n+OK\r\n");
    assert_eq!(w.cmd(&["GET", "k"]), b"$4\r\nmine\r\n");
    // Raising inside the watcher's own pipeline, before MULTI, as well.
    assert_eq!(w.cmd(&["WATCH", "k"]), b"+OK\r\n");
    w.send_raw(&common::encode(&[
        b"EVAL",
        b"redis.call('del','k') error('e')",
        b"0",
    ]));
    w.send_raw(&common::encode(&[b"MULTI"]));
    w.send_raw(&common::encode(&[b"INCR", b"n"]));
    w.send_raw(&common::encode(&[b"EXEC"]));
    assert!(w
        .read_reply()
        .starts_with(b"-ERR user_script:1: e script: "));
    assert_eq!(w.read_reply(), b"+OK\r\n");
    assert_eq!(w.read_reply(), b"+QUEUED\r\n");
    assert_eq!(w.read_reply(), b"*1\r\n:1\r\n");
    // A script that succeeds is a write like any other.
    assert_eq!(w.cmd(&["WATCH", "k"]), b"+OK\r\n");
    assert_eq!(
        y.cmd(&["EVAL", "return redis.call('set','k','x')", "0"]),
        b"+OK\r\n"
    );
    assert_eq!(w.cmd(&["MULTI"]), b"+OK\r\n");
    assert_eq!(w.cmd(&["SET", "k", "late"]), b"+QUEUED\r\n");
    assert_eq!(w.cmd(&["EXEC"]), b"*-1\r\n");
    assert_eq!(w.cmd(&["GET", "k"]), b"$1\r\nx\r\n");
}

/// A long script inside EXEC marks EXEC's transaction: writers get -BUSY
/// past the threshold, SCRIPT KILL kills just that script (its slot gets the
/// error, EXEC's other commands stay), after which SCRIPT KILL says NOTBUSY
/// and writers go on. A read-only script (no GIL) is killed too.
#[test]
fn script_in_exec_busy_and_kill_and_read_only_kill() {
    let f = Ferrous::start(&[]);
    let mut a = f.client();
    let mut b = f.client();
    assert_eq!(
        b.cmd(&["CONFIG", "SET", "busy-reply-threshold", "100"]),
        b"+OK\r\n"
    );
    assert_eq!(a.cmd(&["MULTI"]), b"+OK\r\n");
    assert_eq!(a.cmd(&["SET", "a", "1"]), b"+QUEUED\r\n");
    assert_eq!(a.cmd(&["EVAL", LOOP, "1", "k"]), b"+QUEUED\r\n");
    assert_eq!(a.cmd(&["SET", "c", "1"]), b"+QUEUED\r\n");
    a.send(&[b"EXEC"]);
    std::thread::sleep(Duration::from_millis(300));
    let busy = b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
    assert_eq!(b.cmd(&["SET", "x", "1"]), busy);
    assert_eq!(b.cmd(&["GET", "a"]), b"$-1\r\n", "EXEC seen before its end");
    assert_eq!(b.cmd(&["SCRIPT", "KILL"]), b"+OK\r\n");
    let r = a.read_reply();
    let s = String::from_utf8_lossy(&r).into_owned();
    assert!(
        s.starts_with("*3\r\n+OK\r\n-ERR Script killed by user with SCRIPT KILL... script: ")
            && s.ends_with("\r\n+OK\r\n"),
        "{s:?}"
    );
    assert_eq!(
        b.cmd(&["SCRIPT", "KILL"]),
        b"-NOTBUSY No scripts in execution right now.\r\n"
    );
    assert_eq!(b.cmd(&["SET", "x", "2"]), b"+OK\r\n");
    assert_eq!(
        b.cmd(&["MGET", "a", "k", "c"]),
        b"*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n1\r\n"
    );
    // A read-only script holds no GIL: writers go on, and it is killed
    // through its VM's switch.
    a.send(&[b"EVAL_RO", b"while true do end", b"0"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(b.cmd(&["SET", "x", "3"]), b"+OK\r\n");
    assert_eq!(
        b.cmd(&["FUNCTION", "KILL"]),
        b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
    );
    assert_eq!(b.cmd(&["SCRIPT", "KILL"]), b"+OK\r\n");
    assert!(a
        .read_reply()
        .starts_with(b"-ERR Script killed by user with SCRIPT KILL... script: "));
    assert_eq!(
        b.cmd(&["SCRIPT", "KILL"]),
        b"-NOTBUSY No scripts in execution right now.\r\n"
    );
}

/// A VM keeps its `redis.call` client from run to run: scripts of clients
/// on different databases, alternating on the same VM, each read and write
/// their caller's database, and a script's SELECT stays within that script.
#[test]
fn scripts_of_alternating_clients_use_their_callers_database() {
    let f = Ferrous::start(&[]);
    let mut a = f.client();
    let mut b = f.client();
    assert_eq!(a.cmd(&["SELECT", "1"]), b"+OK\r\n");
    assert_eq!(a.cmd(&["SET", "k", "in1"]), b"+OK\r\n");
    assert_eq!(b.cmd(&["SET", "k", "in0"]), b"+OK\r\n");
    let script = "redis.call('incr', 'n') return redis.call('get', KEYS[1])";
    for round in 1..=3 {
        assert_eq!(a.cmd(&["EVAL", script, "1", "k"]), b"$3\r\nin1\r\n");
        assert_eq!(b.cmd(&["EVAL", script, "1", "k"]), b"$3\r\nin0\r\n");
        let n = format!(":{round}\r\n");
        assert_eq!(
            a.cmd(&["GET", "n"]),
            format!("${}\r\n{round}\r\n", 1).as_bytes()
        );
        assert_eq!(
            b.cmd(&["EVAL", "return redis.call('incrby', 'n', 0)", "0"]),
            n.as_bytes()
        );
    }
    // SELECT inside a script: later calls of that script go there, the
    // next script (same VM, other client) starts in its caller's database.
    let r = a.cmd(&[
        "EVAL",
        "redis.call('select', 2) redis.call('set', 'k', 'in2') return redis.call('get', 'k')",
        "0",
    ]);
    assert_eq!(r, b"$3\r\nin2\r\n");
    assert_eq!(
        b.cmd(&["EVAL", "return redis.call('get', 'k')", "0"]),
        b"$3\r\nin0\r\n"
    );
    assert_eq!(
        a.cmd(&["EVAL", "return redis.call('get', 'k')", "0"]),
        b"$3\r\nin1\r\n"
    );
}
