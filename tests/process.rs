//! Tests of the `ferrous-server` binary as a process: flags and config file,
//! the startup banner, graceful shutdown on SIGTERM/SIGINT and SHUTDOWN, and a
//! clear error for a bad configuration.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::{spawn, spawn_on_free_port, Proc};

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
        let (mut p, port) = spawn_on_free_port(|port| {
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
    let (mut p, port) = spawn_on_free_port(|port| {
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
    let (_p, port) = spawn_on_free_port(|port| {
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
