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

/// The counts INFO commandstats shows in `reply` (a bulk or a script's
/// string), without timings, for the lines of `names`.
fn counts_in(reply: &[u8], names: &[&str]) -> Vec<String> {
    let text = String::from_utf8_lossy(reply);
    names
        .iter()
        .map(|n| {
            text.lines()
                .find(|l| l.starts_with(&format!("cmdstat_{n}:")))
                .map_or(format!("{n}: none"), |l| {
                    let f: Vec<&str> = l.split(',').filter(|f| !f.starts_with("usec")).collect();
                    f.join(",")
                })
        })
        .collect()
}

/// Statistics are counted per run of the same command and added in one go:
/// INFO in the same pipeline, in MULTI and from a script must still count
/// every call before it, its own earlier calls included, as redis-server's
/// do.
#[test]
fn info_sees_every_earlier_call_in_pipelines_transactions_and_scripts() {
    let Some(redis) = Redis::start(&[]) else {
        return;
    };
    let f = Ferrous::start(&[]);
    let names = ["get", "info", "exec", "eval", "incr", "set"];
    let script = "redis.call('get', 'a'); redis.call('get', 'a'); \
                  redis.call('incr', 'n'); local x = redis.call('info', 'commandstats'); \
                  redis.call('info', 'commandstats'); \
                  return {x, redis.call('info', 'commandstats')}";
    let steps: &[&[&str]] = &[
        &["CONFIG", "RESETSTAT"],
        &["SET", "a", "1"],
        &["GET", "a"],
        &["GET", "a"],
        &["INFO", "commandstats"],
        &["INFO", "commandstats"],
        &["MULTI"],
        &["GET", "a"],
        &["GET", "a"],
        &["INFO", "commandstats"],
        &["INFO", "commandstats"],
        &["INCR", "n"],
        &["EXEC"],
        &["EVAL", script, "0"],
        &["GET", "a"],
        &["INFO", "commandstats"],
    ];
    let mut pipeline = Vec::new();
    for s in steps {
        let args: Vec<&[u8]> = s.iter().map(|a| a.as_bytes()).collect();
        pipeline.extend(common::encode(&args));
    }
    let mut replies = Vec::new();
    for mut c in [redis.client(), f.client()] {
        // One write: Ferrous parses and runs it as one batch.
        c.send_raw(&pipeline);
        let got: Vec<Vec<u8>> = steps.iter().map(|_| c.read_reply()).collect();
        replies.push(got);
    }
    let (want, got) = (&replies[0], &replies[1]);
    let mut compared = 0;
    for (i, s) in steps.iter().enumerate() {
        if s[0] == "INFO" || s[0] == "EXEC" || s[0] == "EVAL" {
            assert_eq!(
                counts_in(&want[i], &names),
                counts_in(&got[i], &names),
                "reply {i} to {s:?}"
            );
            compared += 1;
        } else {
            assert_eq!(common::show(&want[i]), common::show(&got[i]), "{s:?}");
        }
    }
    // Five INFOs (two queued), EXEC, EVAL.
    assert_eq!(compared, 7);
    // The replies that carry several INFO texts (EXEC's, the script's):
    // compare each part.
    for i in [12, 13] {
        let (w, g) = (
            String::from_utf8_lossy(&want[i]),
            String::from_utf8_lossy(&got[i]),
        );
        let parts = |t: &str| -> Vec<Vec<String>> {
            t.split("# Commandstats")
                .skip(1)
                .map(|p| counts_in(p.as_bytes(), &names))
                .collect()
        };
        assert_eq!(parts(&w), parts(&g), "reply {i}");
        assert!(parts(&w).len() >= 2, "{w}");
    }
}
