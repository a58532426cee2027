//! INFO commandstats and errorstats against a real redis-server: after the
//! same commands, both report the same commands with the same call, rejected
//! and failed counts, and the same error codes and counts (timings and line
//! order legitimately differ and are left out).

mod common;

use std::collections::BTreeMap;

use common::{Ferrous, Raw, Redis};

/// Parses `INFO <section>` into name -> fields without usec timings.
fn stats(c: &mut Raw, section: &str) -> BTreeMap<String, String> {
    let reply = c.cmd(&["INFO", section]);
    let text = String::from_utf8_lossy(&reply).into_owned();
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.starts_with("cmdstat_") || k.starts_with("errorstat_"))
        .map(|(k, v)| {
            let fields: Vec<&str> = v.split(',').filter(|f| !f.starts_with("usec")).collect();
            (k.to_string(), fields.join(","))
        })
        .collect()
}

#[test]
fn commandstats_and_errorstats_match_redis() {
    let Some(redis) = Redis::start(&[]) else {
        return;
    };
    let f = Ferrous::start(&[]);
    let script: &[&[&str]] = &[
        &["CONFIG", "RESETSTAT"],
        &["SET", "a", "1"],
        &["GET", "a"],
        &["GET", "a", "b"],
        &["INCR", "a"],
        &["SET", "s", "x"],
        &["INCR", "s"],
        &["NOSUCH"],
        &["CLIENT", "ID"],
        &["CLIENT", "ID", "x"],
        &["SETBIT", "s", "-1", "1"],
        &["EXPIRE", "s", "10", "NX", "XX"],
        &["OBJECT", "FREQ", "s"],
        &["DEL", "a", "s"],
    ];
    let mut r = redis.client();
    let mut c = f.client();
    for cmd in script {
        let want = r.cmd(cmd);
        let got = c.cmd(cmd);
        if cmd[0] != "CLIENT" {
            assert_eq!(common::show(&want), common::show(&got), "{cmd:?}");
        }
    }
    let want = stats(&mut r, "commandstats");
    assert_eq!(want, stats(&mut c, "commandstats"));
    assert_eq!(
        want.get("cmdstat_get").map(String::as_str),
        Some("calls=1,rejected_calls=1,failed_calls=0")
    );
    let want = stats(&mut r, "errorstats");
    assert_eq!(want, stats(&mut c, "errorstats"));
    assert!(want.contains_key("errorstat_ERR"), "{want:?}");
}
