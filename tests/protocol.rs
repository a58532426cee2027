//! Protocol-level integration tests: pipelining, inline commands, protocol
//! errors and their connection closing, limits, RESP3 via HELLO, and that the
//! server keeps serving after bad input. Where Redis can be asked, the raw
//! bytes are compared with a real redis-server.

mod common;

use common::{Ferrous, Raw, Redis};

/// Sends `input` unframed to both servers and returns everything each wrote
/// back until it closed the connection or went quiet.
fn exchange(port: u16, input: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_millis(500)))
        .unwrap();
    s.write_all(input).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => {
                out.extend_from_slice(b"<EOF>");
                break;
            }
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    out
}

fn compare(input: &[u8]) {
    let Some(redis) = Redis::start(&[]) else {
        return;
    };
    let f = Ferrous::start(&[]);
    let want = exchange(redis.port, input);
    let got = exchange(f.port, input);
    assert_eq!(
        common::show(&want),
        common::show(&got),
        "input: {}",
        common::show(input)
    );
}

#[test]
fn pipelined_mixed_inline_and_multibulk() {
    compare(b"PING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\nGET k\r\n\r\n  \r\nset \"a b\" 'c d'\r\nget \"a b\"\r\n*0\r\n*-1\r\nECHO \"\\x41\\n\"\r\nINCR k\r\n");
}

#[test]
fn protocol_errors_close_after_reply() {
    compare(b"PING\r\n*1\r\n+PING\r\nPING\r\n");
    compare(b"*abc\r\nPING\r\n");
    compare(b"*1\r\n$abc\r\nPING\r\n");
    compare(b"*1\r\n$-5\r\n");
    compare(b"SET k \"unbalanced\r\nPING\r\n");
    compare(b"SET k \"a\"b\r\n");
    compare(b"*1\r\n$600000000\r\n");
    compare(b"*3000000000\r\n");
}

#[test]
fn too_big_inline_and_count_strings() {
    let mut big = vec![b'a'; 70 * 1024];
    compare(&big);
    big[0] = b'*';
    compare(&big);
    let mut bulk = b"*1\r\n$".to_vec();
    bulk.extend(std::iter::repeat_n(b'1', 70 * 1024));
    compare(&bulk);
}

#[test]
fn unauthenticated_limits() {
    let Some(redis) = Redis::start(&["--requirepass", "pw"]) else {
        return;
    };
    let f = Ferrous::start(&[("requirepass", "pw")]);
    for input in [
        &b"*20\r\n"[..],
        b"*2\r\n$4\r\nAUTH\r\n$20000\r\n",
        b"GET k\r\nAUTH pw\r\nGET k\r\n*20\r\n",
        b"AUTH wrong\r\nAUTH pw\r\nSET k v\r\nGET k\r\n",
    ] {
        assert_eq!(
            common::show(&exchange(redis.port, input)),
            common::show(&exchange(f.port, input)),
            "input: {}",
            common::show(input)
        );
    }
}

#[test]
fn bulk_split_across_reads_and_large_values() {
    let f = Ferrous::start(&[]);
    let mut c = f.client();
    let big = vec![b'x'; 3 * 1024 * 1024 + 7];
    let req = common::encode(&[b"SET", b"big", &big]);
    // Dribble the request in small pieces.
    for chunk in req.chunks(100_003) {
        c.send_raw(chunk);
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(c.read_reply(), b"+OK\r\n");
    let reply = c.cmd(&["GET", "big"]);
    assert_eq!(
        reply.len(),
        big.len() + format!("${}\r\n\r\n", big.len()).len()
    );
    assert_eq!(
        c.cmd(&["STRLEN", "big"]),
        format!(":{}\r\n", big.len()).into_bytes()
    );
}

#[test]
fn deep_pipeline_replies_in_order() {
    let f = Ferrous::start(&[]);
    let mut c = f.client();
    let mut req = Vec::new();
    for i in 0..10_000 {
        req.extend(common::encode(&[
            b"SET",
            format!("k{i}").as_bytes(),
            format!("{i}").as_bytes(),
        ]));
        req.extend(common::encode(&[b"GET", format!("k{i}").as_bytes()]));
    }
    c.send_raw(&req);
    for i in 0..10_000 {
        assert_eq!(c.read_reply(), b"+OK\r\n");
        let v = format!("{i}");
        assert_eq!(
            c.read_reply(),
            format!("${}\r\n{}\r\n", v.len(), v).into_bytes()
        );
    }
    assert_eq!(c.cmd(&["DBSIZE"]), b":10000\r\n");
}

#[test]
fn resp3_hello_and_nulls() {
    let Some(redis) = Redis::start(&[]) else {
        return;
    };
    let f = Ferrous::start(&[]);
    for port in [redis.port, f.port] {
        let _ = port;
    }
    let mut r = redis.client();
    let mut c = f.client();
    for cmd in [
        &["HELLO", "3"][..],
        &["GET", "missing"],
        &["SET", "k", "v"],
        &["SET", "k", "v", "NX"],
        &["CONFIG", "GET", "maxclients"],
        &["HELLO", "2"],
        &["GET", "missing"],
        &["HELLO", "3", "SETNAME", "x"],
        &["CLIENT", "GETNAME"],
    ] {
        let want = r.cmd(cmd);
        let got = c.cmd(cmd);
        // HELLO's id field differs; compare everything else.
        if cmd[0] == "HELLO" {
            let strip = |b: &[u8]| {
                let s = String::from_utf8_lossy(b).into_owned();
                let i = s.find("$2\r\nid\r\n:").unwrap();
                let j = s[i + 9..].find("\r\n").unwrap() + i + 9;
                format!("{}{}", &s[..i], &s[j..])
            };
            assert_eq!(strip(&want), strip(&got));
        } else {
            assert_eq!(common::show(&want), common::show(&got), "{cmd:?}");
        }
    }
}

#[test]
fn server_keeps_serving_after_garbage() {
    let f = Ferrous::start(&[]);
    for input in [
        &b"\x00\x01\x02\xff\r\n"[..],
        b"*\r\n",
        b"$5\r\nhello\r\n",
        b"*1\r\n$1\r\n",
        b"*2\r\n$3\r\nGET\r\n:1\r\n",
        b"\"\r\n",
    ] {
        let _ = exchange(f.port, input);
    }
    let mut c = Raw::connect(f.port);
    assert_eq!(c.cmd(&["PING"]), b"+PONG\r\n");
}
