//! Keyspace notifications and WATCH around blocked clients, compared with a
//! real redis-server: a subscriber records every keyevent pushed while a
//! blocked BLPOP/BLMOVE/BLMPOP/BZPOPMIN/BZMPOP/XREADGROUP is served by a
//! write from another connection, and a watcher's EXEC shows whether the
//! serving pop counts as a change of the watched key. Each scenario runs
//! against both servers; the transcripts must be equal (`SHOW_LOG=1` with
//! `--nocapture` prints redis-server's transcript).

mod common;

use common::{compare_logs as compare, settle, Log, Raw};

/// A connection subscribed to every keyevent of db 0, notifications on.
fn subscriber(port: u16, log: &mut Log) -> Raw {
    let mut c = Raw::connect(port);
    log.cmd(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    log.cmd(&mut c, &["PSUBSCRIBE", "__keyevent@0__:*"]);
    c
}

/// Runs `block` on a fresh connection, lets it block, then runs `write` on
/// another; records the events, the blocked client's reply, and the EXEC of
/// a client that watched `watched` before the write.
fn served(
    log: &mut Log,
    port: u16,
    setup: &[&[&str]],
    block: &[&str],
    write: &[&str],
    watched: &str,
) {
    let mut sub = subscriber(port, log);
    let mut p = Raw::connect(port);
    let mut w = Raw::connect(port);
    let mut b = Raw::connect(port);
    for s in setup {
        log.cmd(&mut p, s);
    }
    log.events(&mut sub);
    log.cmd(&mut w, &["WATCH", watched]);
    b.send_str(block);
    settle();
    log.cmd(&mut p, write);
    log.poll(&mut b, 2000);
    log.events(&mut sub);
    log.cmd(&mut w, &["MULTI"]);
    log.cmd(&mut w, &["PING"]);
    log.cmd(&mut w, &["EXEC"]);
    log.cmd(&mut p, &["FLUSHALL"]);
    log.events(&mut sub);
}

#[test]
fn blpop_served_by_push() {
    compare("blpop", |port, log| {
        served(
            log,
            port,
            &[],
            &["BLPOP", "l", "0"],
            &["RPUSH", "l", "a"],
            "l",
        );
        served(
            log,
            port,
            &[],
            &["BRPOP", "l", "0"],
            &["RPUSH", "l", "a", "b"],
            "l",
        );
        served(
            log,
            port,
            &[],
            &["BLMPOP", "0", "1", "l", "LEFT", "COUNT", "5"],
            &["LPUSH", "l", "a", "b"],
            "l",
        );
    });
}

#[test]
fn blmove_served_by_push() {
    compare("blmove", |port, log| {
        served(
            log,
            port,
            &[],
            &["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"],
            &["RPUSH", "src", "a"],
            "dst",
        );
        served(
            log,
            port,
            &[],
            &["BRPOPLPUSH", "src", "src", "0"],
            &["RPUSH", "src", "a"],
            "src",
        );
        served(
            log,
            port,
            &[&["RPUSH", "dst", "x"]],
            &["BLMOVE", "src", "dst", "RIGHT", "LEFT", "0"],
            &["RPUSH", "src", "a", "b"],
            "dst",
        );
    });
}

#[test]
fn bzpop_served_by_zadd() {
    compare("bzpop", |port, log| {
        served(
            log,
            port,
            &[],
            &["BZPOPMIN", "z", "0"],
            &["ZADD", "z", "1", "a"],
            "z",
        );
        served(
            log,
            port,
            &[],
            &["BZPOPMAX", "z", "0"],
            &["ZADD", "z", "1", "a", "2", "b"],
            "z",
        );
        served(
            log,
            port,
            &[],
            &["BZMPOP", "0", "1", "z", "MIN", "COUNT", "3"],
            &["ZADD", "z", "1", "a", "2", "b"],
            "z",
        );
        // A ZADD that changes nothing serves nobody and touches nothing.
        served(
            log,
            port,
            &[&["SET", "other", "x"]],
            &["BZPOPMIN", "other2", "0.3"],
            &["ZADD", "z", "1", "a"],
            "z",
        );
    });
}

#[test]
fn xreadgroup_served_by_xadd() {
    compare("xreadgroup", |port, log| {
        served(
            log,
            port,
            &[&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]],
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c",
                "BLOCK",
                "0",
                "STREAMS",
                "s",
                ">",
            ],
            &["XADD", "s", "1-1", "f", "v"],
            "s",
        );
        served(
            log,
            port,
            &[&["XADD", "s", "1-1", "f", "v"]],
            &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
            &["XADD", "s", "2-1", "f", "v"],
            "s",
        );
    });
}

#[test]
fn served_pop_inside_multi() {
    compare("multi", |port, log| {
        let mut sub = subscriber(port, log);
        let mut p = Raw::connect(port);
        let mut b = Raw::connect(port);
        b.send_str(&["BLPOP", "l", "0"]);
        settle();
        // The waiter is served after EXEC: it sees the list as EXEC left it.
        log.cmd(&mut p, &["MULTI"]);
        log.cmd(&mut p, &["RPUSH", "l", "a", "b"]);
        log.cmd(&mut p, &["LPOP", "l"]);
        log.cmd(&mut p, &["EXEC"]);
        log.poll(&mut b, 2000);
        log.events(&mut sub);
        log.cmd(&mut p, &["LRANGE", "l", "0", "-1"]);
        // Emptied again within the transaction: nobody is served.
        b.send_str(&["BLPOP", "l", "0.3"]);
        settle();
        log.cmd(&mut p, &["MULTI"]);
        log.cmd(&mut p, &["RPUSH", "l", "x"]);
        log.cmd(&mut p, &["DEL", "l"]);
        log.cmd(&mut p, &["EXEC"]);
        log.poll(&mut b, 2000);
        log.events(&mut sub);
    });
}
