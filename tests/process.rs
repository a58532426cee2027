//! Tests of the `ferrous-server` binary as a process: flags and config file,
//! the startup banner, graceful shutdown on SIGTERM/SIGINT and SHUTDOWN, and a
//! clear error for a bad configuration.

mod common;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server process; killed on drop if still running.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str]) -> Proc {
    let child = Command::new(env!("CARGO_BIN_EXE_ferrous-server"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Proc(child)
}

/// Waits until the child answers on `port`; false if it exited first (lost the
/// port to another test) or if the answering server is not the child.
fn wait_ready(p: &mut Proc, port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if !matches!(p.0.try_wait(), Ok(None)) {
            return false;
        }
        if let Ok(s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let mut c = common::Raw {
                r: std::io::BufReader::new(s),
            };
            c.send(&[b"INFO", b"server"]);
            let Some(info) = c.try_read_reply() else {
                return false;
            };
            let pid = format!("process_id:{}\r\n", p.0.id());
            return String::from_utf8_lossy(&info).contains(&pid);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("server did not start on {port}");
}

/// Starts the server on a free port (`args` builds the arguments for a port),
/// retrying when another test grabbed the port first.
fn start(args: impl Fn(u16) -> Vec<String>) -> (Proc, u16) {
    for _ in 0..5 {
        let port = common::free_port();
        let a = args(port);
        let a: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
        let mut p = spawn(&a);
        if wait_ready(&mut p, port) {
            return (p, port);
        }
    }
    panic!("could not start the server on a free port");
}

fn wait_exit(p: &mut Proc) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(s) = p.0.try_wait().unwrap() {
            return s;
        }
        assert!(Instant::now() < deadline, "server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn output(p: &mut Proc) -> String {
    let mut s = String::new();
    if let Some(mut o) = p.0.stdout.take() {
        let _ = o.read_to_string(&mut s);
    }
    if let Some(mut e) = p.0.stderr.take() {
        let _ = e.read_to_string(&mut s);
    }
    s
}

#[test]
fn banner_and_sigterm_shutdown() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let (mut p, port) = start(|port| {
            vec![
                "--port".into(),
                port.to_string(),
                "--bind".into(),
                "127.0.0.1".into(),
            ]
        });
        let mut c = common::Raw::connect(port);
        assert_eq!(c.cmd(&["SET", "k", "v"]), b"+OK\r\n");
        unsafe { libc::kill(p.0.id() as i32, sig) };
        let status = wait_exit(&mut p);
        assert!(status.success(), "{status:?}");
        let log = output(&mut p);
        assert!(log.contains(&format!("port={port}")), "{log}");
        assert!(log.contains(&format!("pid={}", p.0.id())), "{log}");
        assert!(log.contains(env!("CARGO_PKG_VERSION")), "{log}");
    }
}

#[test]
fn config_file_then_flags() {
    let dir = std::env::temp_dir().join(format!("ferrous-conf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("redis.conf");
    let (mut p, port) = start(|port| {
        std::fs::write(
            &conf,
            format!("# test config\nport {port}\nbind 127.0.0.1\nmaxclients 7\ntimeout 100\n"),
        )
        .unwrap();
        vec![
            conf.to_str().unwrap().into(),
            "--timeout".into(),
            "5".into(),
            "--dir".into(),
            dir.to_str().unwrap().into(),
        ]
    });
    let mut c = common::Raw::connect(port);
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxclients"]),
        b"*2\r\n$10\r\nmaxclients\r\n$1\r\n7\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "timeout"]),
        b"*2\r\n$7\r\ntimeout\r\n$1\r\n5\r\n"
    );
    c.send(&[b"SHUTDOWN", b"NOSAVE"]);
    assert!(
        c.try_read_reply().is_none(),
        "SHUTDOWN closes without a reply"
    );
    assert!(wait_exit(&mut p).success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_config_is_a_clear_error() {
    let mut p = spawn(&["--no-such-option", "1"]);
    let status = wait_exit(&mut p);
    assert!(!status.success());
    let log = output(&mut p);
    assert!(log.contains("no-such-option"), "{log}");
    let mut p = spawn(&["/nonexistent/redis.conf"]);
    assert!(!wait_exit(&mut p).success());
    assert!(output(&mut p).contains("can't open config file"));
}

/// With the default single runtime worker, a script runs on its
/// connection's thread; once it runs long the runtime moves to another
/// thread, so other clients still read, get -BUSY and can kill it (EVAL and
/// FCALL alike), and short scripts keep working afterwards.
#[test]
fn long_script_on_one_worker_frees_the_runtime() {
    let (_p, port) = start(|port| {
        vec![
            "--port".into(),
            port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--io-threads".into(),
            "1".into(),
            "--busy-reply-threshold".into(),
            "200".into(),
        ]
    });
    let mut a = common::Raw::connect(port);
    let mut b = common::Raw::connect(port);
    assert_eq!(b.cmd(&["SET", "k", "old"]), b"+OK\r\n");
    let lib = "#!lua name=spin\nredis.register_function('spin', function(keys) \
               redis.call('set', keys[1], 'new') while true do end end)";
    assert_eq!(b.cmd(&["FUNCTION", "LOAD", lib]), b"$4\r\nspin\r\n");
    let runs: [(&[&[u8]], &str, &str); 2] = [
        (
            &[
                b"EVAL",
                b"redis.call('set', KEYS[1], 'new') while true do end",
                b"1",
                b"k",
            ],
            "SCRIPT",
            "-ERR Script killed by user with SCRIPT KILL...",
        ),
        (
            &[b"FCALL", b"spin", b"1", b"k"],
            "FUNCTION",
            "-ERR Script killed by user with SCRIPT KILL...",
        ),
    ];
    for (cmd, kill, reply) in runs {
        a.send(cmd);
        std::thread::sleep(Duration::from_millis(300));
        for _ in 0..20 {
            assert_eq!(b.cmd(&["GET", "k"]), b"$3\r\nold\r\n");
        }
        let busy = b.cmd(&["SET", "x", "1"]);
        assert!(
            busy.starts_with(b"-BUSY "),
            "{}",
            String::from_utf8_lossy(&busy)
        );
        assert_eq!(b.cmd(&[kill, "KILL"]), b"+OK\r\n");
        let r = a.read_reply();
        assert!(
            r.starts_with(reply.as_bytes()),
            "{}",
            String::from_utf8_lossy(&r)
        );
        assert_eq!(b.cmd(&["GET", "k"]), b"$3\r\nold\r\n");
        for i in 1..=50 {
            let want = format!(":{i}\r\n");
            let got = a.cmd(&["EVAL", "return redis.call('incr', KEYS[1])", "1", kill]);
            assert_eq!(got, want.as_bytes());
        }
    }
}

/// CPU time (user + system) the process has used, in seconds.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the line.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// `busy-poll-us`: after a read the worker keeps polling (it burns CPU) for
/// the window, then sleeps (an idle server uses none); 0 turns it off.
#[test]
fn busy_poller_spins_after_a_read_then_sleeps() {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI machines have 2 CPUs; the poller is off on one"
        );
        eprintln!("SKIPPED busy_poller_spins_after_a_read_then_sleeps: one CPU");
        return;
    }
    let (p, port) = start(|port| {
        vec![
            "--port".into(),
            port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--busy-poll-us".into(),
            "700000".into(),
        ]
    });
    let pid = p.0.id();
    let mut c = common::Raw::connect(port);
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "busy-poll-us"]),
        b"*2\r\n$12\r\nbusy-poll-us\r\n$6\r\n700000\r\n"
    );
    // Within the 0.7 s window after a read: spinning (a core's worth, less
    // what other tests running at the same time take).
    let t0 = cpu_secs(pid);
    std::thread::sleep(Duration::from_millis(400));
    let spun = cpu_secs(pid) - t0;
    assert!(spun >= 0.05, "{spun} s of CPU in the 0.4 s after a read");
    // Past the window: asleep.
    std::thread::sleep(Duration::from_millis(500));
    let t1 = cpu_secs(pid);
    std::thread::sleep(Duration::from_millis(1000));
    let idle = cpu_secs(pid) - t1;
    assert!(idle <= 0.05, "{idle} s of CPU while idle for 1 s");
    // Off: a read starts no spinning.
    assert_eq!(c.cmd(&["CONFIG", "SET", "busy-poll-us", "0"]), b"+OK\r\n");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    let t2 = cpu_secs(pid);
    std::thread::sleep(Duration::from_millis(300));
    let off = cpu_secs(pid) - t2;
    assert!(
        off <= 0.03,
        "{off} s of CPU in the 0.3 s after a read, poller off"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "busy-poll-us", "abc"]),
        &b"-ERR CONFIG SET failed (possibly related to argument 'busy-poll-us') - argument couldn't be parsed into an integer\r\n"[..]
    );
}
