//! Smoke tests with the real command-line tools: `redis-cli` (plain commands,
//! `--pipe` mass insertion, `--scan --pattern`, `-3`) and `redis-benchmark`
//! against an in-process Ferrous. In CI the tools must exist; outside CI the
//! tests skip loudly without them.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::Ferrous;

fn tool(name: &str) -> Option<std::path::PathBuf> {
    let t = common::which(name);
    if t.is_none() {
        if common::in_ci() {
            panic!("{name} is required in CI (apt-get install redis-tools)");
        }
        eprintln!("\n!!!!! SKIPPING: {name} not installed !!!!!\n");
    }
    t
}

fn cli(port: u16, args: &[&str]) -> String {
    let cli = common::which("redis-cli").unwrap();
    let out = Command::new(cli)
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "redis-cli {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn redis_cli_commands_and_resp3() {
    let Some(_) = tool("redis-cli") else { return };
    let f = Ferrous::start(&[]);
    assert_eq!(cli(f.port, &["PING"]), "PONG\n");
    assert_eq!(cli(f.port, &["SET", "greeting", "hello world"]), "OK\n");
    assert_eq!(cli(f.port, &["GET", "greeting"]), "hello world\n");
    assert_eq!(cli(f.port, &["GET", "nothing"]), "\n");
    assert_eq!(cli(f.port, &["--no-raw", "GET", "nothing"]), "(nil)\n");
    assert_eq!(cli(f.port, &["INCR", "counter"]), "1\n");
    assert_eq!(
        cli(f.port, &["NOSUCH"]).trim_end(),
        "ERR unknown command 'NOSUCH', with args beginning with:"
    );
    let resp3 = cli(f.port, &["-3", "--no-raw", "HELLO", "3"]);
    assert!(resp3.contains("\"proto\" => (integer) 3"), "{resp3}");
    assert_eq!(
        cli(f.port, &["-3", "--no-raw", "GET", "nothing"]),
        "(nil)\n"
    );
}

#[test]
fn redis_cli_pipe_mass_insert_and_scan() {
    let Some(cli_path) = tool("redis-cli") else {
        return;
    };
    let f = Ferrous::start(&[]);
    let mut input = Vec::new();
    for i in 0..100_000 {
        input.extend(common::encode(&[
            b"SET",
            format!("mass:{i}").as_bytes(),
            format!("value-{i}").as_bytes(),
        ]));
    }
    let mut child = Command::new(&cli_path)
        .args(["-p", &f.port.to_string(), "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("errors: 0, replies: 100000"), "{text}");
    assert_eq!(cli(f.port, &["DBSIZE"]), "100000\n");
    assert_eq!(cli(f.port, &["GET", "mass:99999"]), "value-99999\n");
    cli(f.port, &["SET", "other", "x"]);
    let scanned = cli(f.port, &["--scan", "--pattern", "mass:1234*"]);
    let mut keys: Vec<&str> = scanned.lines().collect();
    keys.sort();
    let mut want: Vec<String> = (0..100_000)
        .map(|i| format!("mass:{i}"))
        .filter(|k| k.starts_with("mass:1234"))
        .collect();
    want.sort();
    assert_eq!(keys, want);
}

#[test]
fn redis_benchmark_runs_clean() {
    let Some(bench) = tool("redis-benchmark") else {
        return;
    };
    let f = Ferrous::start(&[]);
    let out = Command::new(bench)
        .args([
            "-p",
            &f.port.to_string(),
            "-t",
            "set,get",
            "-n",
            "10000",
            "-q",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}{err}");
    assert!(
        text.contains("SET:") && text.contains("GET:"),
        "{text}{err}"
    );
    assert!(!err.to_lowercase().contains("error"), "{err}");
    assert_eq!(
        cli(f.port, &["DBSIZE"]),
        "1\n",
        "redis-benchmark uses one key by default"
    );
}
