//! Integration tests for connection management and server commands that a
//! case file cannot express: maxclients, idle timeout, requirepass, MONITOR,
//! CLIENT PAUSE / KILL / LIST with several connections.

mod common;

use std::time::{Duration, Instant};

use common::{show, Ferrous, Raw};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn maxclients_rejects_over_the_limit() {
    let f = Ferrous::start(&[("maxclients", "2")]);
    let mut a = f.client();
    let mut b = f.client();
    assert_eq!(a.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(b.cmd(&["PING"]), b"+PONG\r\n");
    let mut c = f.client();
    let r = c.try_read_reply().unwrap();
    assert_eq!(r, b"-ERR max number of clients reached\r\n", "{}", show(&r));
    assert!(
        c.try_read_reply().is_none(),
        "rejected connection is closed"
    );
    drop(a);
    std::thread::sleep(Duration::from_millis(100));
    let mut d = f.client();
    assert_eq!(d.cmd(&["PING"]), b"+PONG\r\n");
    let info = text(&d.cmd(&["INFO", "stats"]));
    assert!(info.contains("rejected_connections:1\r\n"), "{info}");
}

#[test]
fn idle_timeout_closes_connections() {
    let f = Ferrous::start(&[]);
    let mut a = f.client();
    assert_eq!(a.cmd(&["CONFIG", "SET", "timeout", "1"]), b"+OK\r\n");
    let mut idle = f.client();
    assert_eq!(idle.cmd(&["PING"]), b"+PONG\r\n");
    let start = Instant::now();
    assert!(
        idle.try_read_reply().is_none(),
        "idle client must be closed"
    );
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(800) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

#[test]
fn requirepass_auth_and_hello_auth() {
    let f = Ferrous::start(&[("requirepass", "s3cret")]);
    let mut c = f.client();
    assert_eq!(
        c.cmd(&["GET", "x"]),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(c.cmd(&["PING"]), b"-NOAUTH Authentication required.\r\n");
    assert_eq!(
        c.cmd(&["AUTH", "wrong"]),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(c.cmd(&["AUTH", "s3cret"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "x"]), b"$-1\r\n");

    let mut h = f.client();
    let r = h.cmd(&["HELLO", "3"]);
    assert!(
        text(&r).starts_with("-NOAUTH HELLO must be called"),
        "{}",
        show(&r)
    );
    let r = h.cmd(&["HELLO", "3", "AUTH", "default", "nope"]);
    assert!(text(&r).starts_with("-WRONGPASS"), "{}", show(&r));
    let r = h.cmd(&["HELLO", "3", "AUTH", "default", "s3cret"]);
    assert!(r.starts_with(b"%7\r\n"), "{}", show(&r));
    assert_eq!(h.cmd(&["PING"]), b"+PONG\r\n");
    // Changing the password at run time applies to new connections.
    assert_eq!(h.cmd(&["CONFIG", "SET", "requirepass", ""]), b"+OK\r\n");
    let mut n = f.client();
    assert_eq!(n.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn loopback_works_in_protected_mode() {
    let f = Ferrous::start(&[("protected-mode", "yes")]);
    let mut c = f.client();
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn monitor_sees_other_clients() {
    let f = Ferrous::start(&[]);
    let mut m = f.client();
    assert_eq!(m.cmd(&["MONITOR"]), b"+OK\r\n");
    let mut c = f.client();
    assert_eq!(c.cmd(&["SET", "k", "a\x00b"]), b"+OK\r\n");
    assert_eq!(c.cmd(&["CONFIG", "GET", "hz"]).first(), Some(&b'*'));
    assert_eq!(c.cmd(&["AUTH", "pw"]).first(), Some(&b'-'));
    assert_eq!(c.cmd(&["SELECT", "3"]), b"+OK\r\n");
    let line = text(&m.read_reply());
    // +<secs>.<usecs> [0 127.0.0.1:port] "SET" "k" "a\x00b"
    let re_ok = line.starts_with('+')
        && line.contains(" [0 127.0.0.1:")
        && line.ends_with("] \"SET\" \"k\" \"a\\x00b\"\r\n");
    assert!(re_ok, "{line:?}");
    let (ts, _) = line[1..].split_once(' ').unwrap();
    let (secs, usecs) = ts.split_once('.').unwrap();
    assert!(secs.parse::<u64>().is_ok() && usecs.len() == 6, "{ts}");
    // CONFIG (admin) is not shown; AUTH is redacted.
    let line = text(&m.read_reply());
    assert!(line.ends_with("] \"AUTH\" \"(redacted)\"\r\n"), "{line:?}");
    let line = text(&m.read_reply());
    assert!(
        line.contains("[3 127.0.0.1:") && line.ends_with("\"SELECT\" \"3\"\r\n"),
        "{line:?}"
    );
    let list = text(&c.cmd(&["CLIENT", "LIST"]));
    assert!(list.contains(" flags=O "), "{list}");
}

#[test]
fn client_pause_holds_other_clients() {
    let f = Ferrous::start(&[]);
    let mut a = f.client();
    let mut b = f.client();
    assert_eq!(a.cmd(&["CLIENT", "PAUSE", "400", "WRITE"]), b"+OK\r\n");
    let t = Instant::now();
    assert_eq!(b.cmd(&["GET", "x"]), b"$-1\r\n");
    assert!(
        t.elapsed() < Duration::from_millis(300),
        "reads pass a WRITE pause"
    );
    assert_eq!(b.cmd(&["SET", "x", "1"]), b"+OK\r\n");
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "writes wait: {:?}",
        t.elapsed()
    );

    assert_eq!(a.cmd(&["CLIENT", "PAUSE", "5000", "ALL"]), b"+OK\r\n");
    let t = Instant::now();
    b.send(&[b"PING"]);
    std::thread::sleep(Duration::from_millis(200));
    // CLIENT UNPAUSE from a third connection would wait too under ALL, so
    // the pause is ended from inside the server.
    f.server()
        .pause_until
        .store(0, std::sync::atomic::Ordering::SeqCst);
    f.server().unpause.notify_waiters();
    assert_eq!(b.read_reply(), b"+PONG\r\n");
    let e = t.elapsed();
    assert!(
        e >= Duration::from_millis(200) && e < Duration::from_secs(3),
        "{e:?}"
    );

    assert_eq!(a.cmd(&["CLIENT", "PAUSE", "5000", "WRITE"]), b"+OK\r\n");
    let t = Instant::now();
    b.send(&[b"SET", b"x", b"2"]);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(a.cmd(&["CLIENT", "UNPAUSE"]), b"+OK\r\n");
    assert_eq!(b.read_reply(), b"+OK\r\n");
    assert!(t.elapsed() < Duration::from_secs(3));
}

#[test]
fn client_kill_list_and_info() {
    let f = Ferrous::start(&[]);
    let mut a = f.client();
    let mut b = f.client();
    assert_eq!(b.cmd(&["CLIENT", "SETNAME", "victim"]), b"+OK\r\n");
    let id_b = text(&b.cmd(&["CLIENT", "ID"]));
    let id_b = id_b.trim_start_matches(':').trim().to_string();
    let info = text(&b.cmd(&["CLIENT", "INFO"]));
    let line = info.split_once("\r\n").unwrap().1;
    let fields: Vec<&str> = line
        .trim_end()
        .split(' ')
        .map(|kv| kv.split_once('=').unwrap().0)
        .collect();
    assert_eq!(
        fields.join(" "),
        "id addr laddr fd name age idle flags db sub psub ssub multi qbuf qbuf-free argv-mem \
         multi-mem rbs rbp obl oll omem tot-mem events cmd user redir resp"
    );
    assert!(
        line.contains(" name=victim ") && line.contains(" cmd=client|info "),
        "{line}"
    );
    let list = text(&a.cmd(&["CLIENT", "LIST", "ID", &id_b]));
    assert!(
        list.contains(&format!("id={id_b} ")) && list.matches("id=").count() == 1,
        "{list}"
    );
    let addr = line
        .split(' ')
        .find_map(|kv| kv.strip_prefix("addr="))
        .unwrap()
        .to_string();
    assert_eq!(a.cmd(&["CLIENT", "KILL", &addr]), b"+OK\r\n");
    assert!(b.try_read_reply().is_none(), "killed client is closed");
    assert_eq!(
        a.cmd(&["CLIENT", "KILL", &addr]),
        b"-ERR No such client\r\n"
    );
    // Filter form: SKIPME defaults to yes, NO kills the caller after its reply.
    let mut c = f.client();
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
    assert_eq!(a.cmd(&["CLIENT", "KILL", "TYPE", "normal"]), b":1\r\n");
    assert!(c.try_read_reply().is_none());
    assert_eq!(a.cmd(&["CLIENT", "KILL", "SKIPME", "no"]), b":1\r\n");
    assert!(a.try_read_reply().is_none());
    let mut d: Raw = f.client();
    assert_eq!(d.cmd(&["PING"]), b"+PONG\r\n");
}

#[test]
fn debug_requires_enable_debug_command() {
    let f = Ferrous::start(&[("enable-debug-command", "no")]);
    let mut c = f.client();
    let r = text(&c.cmd(&["DEBUG", "SLEEP", "0"]));
    assert!(r.starts_with("-ERR DEBUG command not allowed."), "{r}");
    let f = Ferrous::start(&[("enable-debug-command", "local")]);
    let mut c = f.client();
    assert_eq!(c.cmd(&["DEBUG", "SLEEP", "0"]), b"+OK\r\n");
}

#[test]
fn info_reports_real_numbers() {
    let f = Ferrous::start(&[]);
    let mut c = f.client();
    c.cmd(&["SET", "a", "1"]);
    let info = text(&c.cmd(&["INFO"]));
    for want in [
        "# Server\r\n",
        "redis_version:7.0.15\r\n",
        "# Clients\r\nconnected_clients:1\r\n",
        "# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n",
        "role:master\r\n",
    ] {
        assert!(info.contains(want), "missing {want:?}");
    }
    let rss: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory_rss:"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(rss > 1 << 20, "rss {rss}");
    assert!(!info.contains("# Commandstats"), "not in default");
    assert!(text(&c.cmd(&["INFO", "all"])).contains("# Commandstats"));
    let r = c.cmd(&["HELLO", "3"]);
    assert!(r.starts_with(b"%"));
    let ks = text(&c.cmd(&["INFO", "keyspace"]));
    assert!(
        ks.starts_with('=') && ks.contains("\r\ntxt:# Keyspace\r\ndb0:"),
        "{ks:?}"
    );
}

/// A client idle in its wait for a request is closed at once by CLIENT KILL
/// (its connection is woken through its push channel): the peer reads EOF,
/// not a timeout. Subscribers (whose push channel also carries messages)
/// too.
#[test]
fn client_kill_closes_idle_connections_at_once() {
    use std::io::{Read, Write};
    let f = Ferrous::start(&[]);
    let mut admin = f.client();
    for subscribe in [false, true] {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", f.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let cmd: &[u8] = if subscribe {
            b"*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n"
        } else {
            b"*2\r\n$6\r\nCLIENT\r\n$2\r\nID\r\n"
        };
        s.write_all(cmd).expect("write");
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).expect("reply");
        assert!(n > 0);
        let id = if subscribe {
            let r = admin.cmd(&["CLIENT", "LIST", "TYPE", "pubsub"]);
            let r = String::from_utf8_lossy(&r).into_owned();
            let at = r.find("id=").expect("a pubsub client") + 3;
            r[at..].split(' ').next().unwrap_or_default().to_string()
        } else {
            String::from_utf8_lossy(&buf[..n])
                .trim_start_matches(':')
                .trim()
                .to_string()
        };
        // The subscriber gets a message first: the channel still delivers.
        if subscribe {
            assert_eq!(admin.cmd(&["PUBLISH", "ch", "m"]), b":1\r\n");
            let n = s.read(&mut buf).expect("message");
            assert!(show(&buf[..n]).contains("message"), "{}", show(&buf[..n]));
        }
        let started = Instant::now();
        assert_eq!(admin.cmd(&["CLIENT", "KILL", "ID", &id]), b":1\r\n");
        let n = s.read(&mut buf).expect("EOF, not a timeout");
        assert_eq!(n, 0, "subscribe={subscribe}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

/// After `stop` every task of the server ends while the runtime lives on (an
/// embedding program's runtime): the accept loop, the expiry cycle and the
/// busy poller all let go of the shared state, so it is freed.
#[test]
fn stop_ends_every_server_task() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let cfg = ferrous::config::Config::default();
    cfg.set_startup("port", "0").unwrap();
    cfg.set_startup("bind", "127.0.0.1").unwrap();
    let running = rt.block_on(ferrous::server::start(cfg)).unwrap();
    let weak = std::sync::Arc::downgrade(&running.server);
    {
        let mut c = common::Raw::connect(running.addr.port());
        assert_eq!(c.cmd(&["SET", "k", "v"]), b"+OK\r\n");
    }
    rt.block_on(running.stop());
    let deadline = Instant::now() + Duration::from_secs(5);
    while weak.upgrade().is_some() {
        assert!(
            Instant::now() < deadline,
            "the server state is still held 5 s after stop"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(rt);
}
