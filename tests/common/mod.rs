//! Shared test support: an in-process Ferrous on a free loopback port, a real
//! `redis-server` on another, a raw RESP client, and the differential runner
//! that replays case files against both and compares the replies byte for byte.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Ferrous running in-process on its own runtime; stopped on drop.
pub struct Ferrous {
    pub port: u16,
    running: Option<ferrous::server::Running>,
    rt: Option<tokio::runtime::Runtime>,
}

impl Ferrous {
    /// Starts with the given `--name value` style settings.
    pub fn start(settings: &[(&str, &str)]) -> Ferrous {
        let cfg = ferrous::config::Config::default();
        cfg.set_startup("port", "0").unwrap();
        cfg.set_startup("bind", "127.0.0.1").unwrap();
        cfg.set_startup("enable-debug-command", "yes").unwrap();
        for (k, v) in settings {
            cfg.set_startup(k, v).unwrap();
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let running = rt.block_on(ferrous::server::start(cfg)).unwrap();
        Ferrous {
            port: running.addr.port(),
            running: Some(running),
            rt: Some(rt),
        }
    }

    /// The shared server state.
    pub fn server(&self) -> &ferrous::server::Server {
        &self.running.as_ref().unwrap().server
    }

    /// A raw client connected to it.
    pub fn client(&self) -> Raw {
        Raw::connect(self.port)
    }
}

impl Drop for Ferrous {
    fn drop(&mut self) {
        if let (Some(rt), Some(r)) = (self.rt.take(), self.running.take()) {
            rt.block_on(r.stop());
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

/// A free loopback port, never the same one twice in this process: the kernel
/// readily hands the port just released to the next `bind(0)`, so two tests
/// asking at once would otherwise often get the same one.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    // Hold the listeners until a new port is found so the kernel moves on.
    let mut held = Vec::new();
    loop {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
        held.push(l);
    }
}

/// Whether tests run in CI, where skipping is not allowed.
pub fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| !v.is_empty() && v != "false" && v != "0")
        .unwrap_or(false)
}

/// A real redis-server child process; killed on drop.
pub struct Redis {
    pub port: u16,
    child: Child,
}

impl Redis {
    /// Starts `redis-server` on a free loopback port, or returns `None` (with
    /// a loud message) when it is not installed outside CI. In CI a missing
    /// redis-server fails the test.
    pub fn start(extra: &[&str]) -> Option<Redis> {
        let exe = which("redis-server");
        let Some(exe) = exe else {
            if in_ci() {
                panic!("redis-server is required in CI (apt-get install redis-server)");
            }
            eprintln!("\n!!!!! SKIPPING differential test: redis-server not installed !!!!!\n");
            return None;
        };
        for _ in 0..5 {
            let port = free_port();
            let mut cmd = Command::new(&exe);
            cmd.args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--enable-debug-command",
                "yes",
                "--daemonize",
                "no",
                "--logfile",
                "",
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
            let child = cmd.spawn().expect("spawn redis-server");
            let mut r = Redis { port, child };
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = r.child.try_wait() {
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    // Another test may have raced us to the port: make sure the
                    // server answering is our child.
                    // A child that lost the race exits at once on its failed bind.
                    std::thread::sleep(Duration::from_millis(100));
                    if !matches!(r.child.try_wait(), Ok(None)) {
                        break;
                    }
                    let info = r.client().cmd(&["INFO", "server"]);
                    let info = String::from_utf8_lossy(&info);
                    let pid = format!("process_id:{}\r\n", r.child.id());
                    if info.contains(&pid) || info.starts_with("-NOAUTH") {
                        return Some(r);
                    }
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = r.child.kill();
        }
        panic!("redis-server did not start");
    }

    pub fn client(&self) -> Raw {
        Raw::connect(self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Path of an executable on PATH.
pub fn which(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A blocking raw RESP client.
pub struct Raw {
    pub r: BufReader<TcpStream>,
}

impl Raw {
    pub fn connect(port: u16) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.set_nodelay(true).unwrap();
        Raw {
            r: BufReader::new(s),
        }
    }

    /// Sends raw bytes.
    pub fn send_raw(&mut self, b: &[u8]) {
        self.r.get_mut().write_all(b).unwrap();
    }

    /// Sends a command as a RESP multibulk.
    pub fn send(&mut self, args: &[&[u8]]) {
        self.send_raw(&encode(args));
    }

    /// Sends a command and reads one reply.
    pub fn cmd(&mut self, args: &[&str]) -> Vec<u8> {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.send(&a);
        self.read_reply()
    }

    /// This connection's CLIENT ID, as text.
    pub fn client_id(&mut self) -> String {
        let r = self.cmd(&["CLIENT", "ID"]);
        String::from_utf8_lossy(&r[1..r.len() - 2]).into_owned()
    }

    /// Reads exactly one RESP2/RESP3 reply, returning its raw bytes.
    pub fn read_reply(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.read_into(&mut out).expect("read reply");
        out
    }

    /// A reply if one arrives within `ms` milliseconds (None otherwise);
    /// the read timeout goes back to 20 s afterwards.
    pub fn poll(&mut self, ms: u64) -> Option<Vec<u8>> {
        let sock = self.r.get_ref();
        sock.set_read_timeout(Some(Duration::from_millis(ms)))
            .unwrap();
        let r = self.try_read_reply();
        self.r
            .get_ref()
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        r
    }

    /// Sends a command given as text arguments without reading the reply.
    pub fn send_str(&mut self, args: &[&str]) {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.send(&a);
    }

    /// Like `read_reply` but returns None on EOF/error.
    pub fn try_read_reply(&mut self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        self.read_into(&mut out).ok().map(|_| out)
    }

    fn read_into(&mut self, out: &mut Vec<u8>) -> std::io::Result<()> {
        let start = out.len();
        let n = self.r.read_until(b'\n', out)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "eof",
            ));
        }
        let line = out[start..].to_vec();
        let t = line[0];
        let num = || -> i64 {
            String::from_utf8_lossy(&line[1..line.len() - 2])
                .parse()
                .unwrap_or(-1)
        };
        match t {
            b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => {}
            b'$' | b'=' | b'!' => {
                let n = num();
                if n >= 0 {
                    let mut b = vec![0; n as usize + 2];
                    self.r.read_exact(&mut b)?;
                    out.extend_from_slice(&b);
                }
            }
            b'*' | b'~' | b'>' => {
                for _ in 0..num().max(0) {
                    self.read_into(out)?;
                }
            }
            b'%' | b'|' => {
                for _ in 0..num().max(0) * 2 {
                    self.read_into(out)?;
                }
                if t == b'|' {
                    self.read_into(out)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Encodes a command as a RESP multibulk.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

/// Shows bytes readably in assertion messages.
pub fn show(b: &[u8]) -> String {
    b.escape_ascii().to_string()
}

/// Runs a differential case file: every line is sent to Ferrous and to
/// redis-server and the raw replies must be equal.
///
/// Syntax, one item per line:
/// * `COMMAND args…` — inline syntax with "quotes" and \xHH escapes; the
///   replies must be byte-identical;
/// * `~ COMMAND …` — only the reply's type byte and, for errors, text must match
///   (for replies that legitimately differ: ids, times, random picks);
/// * `% COMMAND …` — the replies must be equal once the elements of every
///   aggregate (arrays, sets, maps by pair) are sorted: for collections whose
///   order Redis does not define (hashtable-encoded hashes and sets);
/// * `!sleep MS` — sleep on both sides;
/// * `!reconnect` — open fresh connections (after QUIT, errors that close);
/// * `!raw TEXT` — send TEXT (with \r\n escapes decoded) unframed and compare
///   one reply;
/// * `@N …` — (N = 2..9) run the rest of the line (a command, `~ …`, `!raw`
///   or `!read`) on a second, third… connection pair, opened on first use;
///   plain lines use connection 1;
/// * `!read` — send nothing and compare the next reply (a pushed message,
///   the second reply of a multi-channel SUBSCRIBE, …); `~ !read` compares
///   only its type and length (a message carrying a client id);
/// * `{id:M}` inside a command — replaced, on each side, by the CLIENT ID of
///   connection M (asked on first use, then remembered until `!reconnect`;
///   M must not be in RESP2 subscribed mode when first used);
/// * `# …` or blank — ignored.
///
/// Returns the number of compared commands.
pub fn run_case_file(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    let Some(redis) = Redis::start(&[]) else {
        return 0;
    };
    let ferrous = Ferrous::start(&[]);
    // Connection pairs by number; index 0 is connection 1.
    let mut conns: Vec<Option<(Raw, Raw)>> = vec![Some((redis.client(), ferrous.client()))];
    // Client ids by connection number, asked once (a connection may be
    // subscribed, or killed, when a later line names it again).
    let mut ids: std::collections::HashMap<usize, (String, String)> = Default::default();
    let mut cases = 0;
    for (lineno, line) in text.lines().enumerate() {
        let line = line.trim_end();
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let at = format!("{}:{}: {}", path.display(), lineno + 1, trimmed);
        if let Some(ms) = trimmed.strip_prefix("!sleep ") {
            std::thread::sleep(Duration::from_millis(ms.trim().parse().unwrap()));
            continue;
        }
        if trimmed == "!reconnect" {
            conns = vec![Some((redis.client(), ferrous.client()))];
            ids.clear();
            continue;
        }
        let (n, trimmed) = match trimmed.strip_prefix('@') {
            Some(rest) => {
                let (n, rest) = rest.split_once(' ').unwrap_or((rest, ""));
                let n: usize = n.parse().unwrap_or_else(|_| panic!("{at}: bad @N"));
                assert!((1..10).contains(&n), "{at}: @N must be 1..9");
                (n - 1, rest.trim_start())
            }
            None => (0, trimmed),
        };
        if conns.len() <= n {
            conns.resize_with(n + 1, || None);
        }
        // `{id:M}` stands for the CLIENT ID of connection M on each side.
        let (mut line_r, mut line_f) = (trimmed.to_string(), trimmed.to_string());
        while let Some(start) = line_r.find("{id:") {
            let end = start + line_r[start..].find('}').expect("closing }");
            let m: usize = line_r[start + 4..end].parse().expect("{id:M}");
            assert!((1..10).contains(&m), "{at}: {{id:M}} needs M in 1..9");
            if conns.len() < m {
                conns.resize_with(m, || None);
            }
            let (ir, i_f) = ids
                .entry(m)
                .or_insert_with(|| {
                    let (cr, cf) =
                        conns[m - 1].get_or_insert_with(|| (redis.client(), ferrous.client()));
                    (cr.client_id(), cf.client_id())
                })
                .clone();
            let pat = line_r[start..=end].to_string();
            line_r = line_r.replacen(&pat, &ir, 1);
            line_f = line_f.replacen(&pat, &i_f, 1);
        }
        let (r, f) = conns[n].get_or_insert_with(|| (redis.client(), ferrous.client()));
        if trimmed == "!read" || trimmed == "~ !read" {
            let want = r
                .try_read_reply()
                .unwrap_or_else(|| panic!("{at}: redis-server sent nothing to read"));
            let got = f.try_read_reply().unwrap_or_else(|| b"<closed>".to_vec());
            cases += 1;
            let shape = trimmed.starts_with('~');
            assert!(
                want == got || (shape && want.first() == got.first() && want.len() == got.len()),
                "{at}\n redis:   {}\n ferrous: {}",
                show(&want),
                show(&got)
            );
            continue;
        }
        // (shape only, unordered, bytes to send)
        let encode_line = |line: &str| -> (bool, bool, Vec<u8>) {
            let unordered = line.starts_with("% ");
            let (shape_only, raw, cmd) = if let Some(rest) = line.strip_prefix("~ ") {
                (true, false, rest)
            } else if let Some(rest) = line.strip_prefix("% ") {
                (false, false, rest)
            } else if let Some(rest) = line.strip_prefix("!raw ") {
                (false, true, rest)
            } else {
                (false, false, line)
            };
            let bytes = if raw {
                unescape(cmd)
            } else {
                let args = ferrous::resp::split_args(cmd.as_bytes())
                    .unwrap_or_else(|| panic!("{at}: bad quoting"));
                let a: Vec<&[u8]> = args.iter().map(|v| &v[..]).collect();
                encode(&a)
            };
            (shape_only, unordered, bytes)
        };
        let (shape_only, unordered, bytes_r) = encode_line(&line_r);
        let (_, _, bytes_f) = encode_line(&line_f);
        r.send_raw(&bytes_r);
        f.send_raw(&bytes_f);
        let mut want = r.try_read_reply().unwrap_or_else(|| b"<closed>".to_vec());
        let mut got = f.try_read_reply().unwrap_or_else(|| b"<closed>".to_vec());
        if unordered {
            want = sorted_reply(&want);
            got = sorted_reply(&got);
        }
        cases += 1;
        if shape_only {
            let same = want.first() == got.first() && (want.first() != Some(&b'-') || want == got);
            assert!(
                same,
                "{at}\n redis:   {}\n ferrous: {}",
                show(&want),
                show(&got)
            );
        } else {
            assert!(
                want == got,
                "{at}\n redis:   {}\n ferrous: {}",
                show(&want),
                show(&got)
            );
        }
    }
    cases
}

/// `reply` (one complete RESP2/RESP3 reply) with the elements of every
/// aggregate sorted (map and attribute entries as key-value pairs), so that
/// replies differing only in element order compare equal.
pub fn sorted_reply(reply: &[u8]) -> Vec<u8> {
    fn walk(b: &[u8], i: &mut usize) -> Vec<u8> {
        let start = *i;
        let Some(nl) = b[start..].windows(2).position(|w| w == b"\r\n") else {
            *i = b.len();
            return b[start..].to_vec();
        };
        let end = start + nl + 2;
        let mut out = b[start..end].to_vec();
        *i = end;
        let n: i64 = std::str::from_utf8(&b[start + 1..end - 2])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(-1);
        match b[start] {
            b'$' | b'=' | b'!' if n >= 0 => {
                let stop = (end + n as usize + 2).min(b.len());
                out.extend_from_slice(&b[end..stop]);
                *i = stop;
            }
            b'*' | b'~' | b'>' | b'%' | b'|' if n > 0 => {
                let per = if matches!(b[start], b'%' | b'|') {
                    2
                } else {
                    1
                };
                let mut items: Vec<Vec<u8>> = (0..n)
                    .map(|_| (0..per).flat_map(|_| walk(b, i)).collect())
                    .collect();
                items.sort();
                items.iter().for_each(|x| out.extend_from_slice(x));
            }
            _ => {}
        }
        out
    }
    walk(reply, &mut 0)
}

fn unescape(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b'\\' => out.push(b'\\'),
                b'x' if i + 3 < b.len() => {
                    out.push(u8::from_str_radix(&s[i + 2..i + 4], 16).unwrap());
                    i += 2;
                }
                c => out.push(c),
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// A transcript of what clients saw in one scenario, compared between
/// Ferrous and redis-server by the cross-connection tests (blocking
/// commands, notifications around them).
#[derive(Default, Debug, PartialEq)]
pub struct Log(pub Vec<String>);

impl Log {
    /// Runs `args` on `c` and records the reply.
    pub fn cmd(&mut self, c: &mut Raw, args: &[&str]) {
        let r = c.cmd(args);
        self.0.push(show(&r));
    }
    /// Records the next reply of `c`, or `<none>` if none comes within `ms`.
    pub fn poll(&mut self, c: &mut Raw, ms: u64) {
        let r = c.poll(ms);
        self.0.push(r.map_or("<none>".to_string(), |r| show(&r)));
    }
    /// Records a free-form observation.
    pub fn note(&mut self, s: impl Into<String>) {
        self.0.push(s.into());
    }
    /// Records every message pushed to `sub` until it is quiet.
    pub fn events(&mut self, sub: &mut Raw) {
        let mut got = Vec::new();
        while let Some(r) = sub.poll(150) {
            got.push(show(&r));
        }
        self.0.push(format!("events: [{}]", got.join(", ")));
    }
}

/// Lets the server register a blocked client before the next step.
pub fn settle() {
    std::thread::sleep(Duration::from_millis(50));
}

/// Runs `scenario` on Ferrous and on redis-server and compares the logs
/// (`SHOW_LOG=1` with `--nocapture` prints redis-server's).
pub fn compare_logs(name: &str, scenario: fn(u16, &mut Log)) {
    let f = Ferrous::start(&[]);
    let mut fl = Log::default();
    scenario(f.port, &mut fl);
    let Some(r) = Redis::start(&[]) else {
        return;
    };
    let mut rl = Log::default();
    scenario(r.port, &mut rl);
    if std::env::var("SHOW_LOG").is_ok() {
        eprintln!("{name}: {rl:#?}");
    }
    assert_eq!(fl, rl, "{name}: ferrous (left) and redis (right) differ");
}

// ---- the server binary as a process ----

/// The server process; killed on drop if still running.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the server binary with `args`, its output piped.
pub fn spawn(args: &[&str]) -> Proc {
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
            let mut c = Raw {
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
pub fn spawn_on_free_port(args: impl Fn(u16) -> Vec<String>) -> (Proc, u16) {
    for _ in 0..5 {
        let port = free_port();
        let a = args(port);
        let a: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
        let mut p = spawn(&a);
        if wait_ready(&mut p, port) {
            return (p, port);
        }
    }
    panic!("could not start the server on a free port");
}

/// CPU time (user + system) the process has used, in seconds.
pub fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the line.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}
