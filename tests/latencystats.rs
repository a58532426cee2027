//! INFO latencystats: per-command latency percentiles. The values depend on
//! timing, so the tests check the shape against a real redis-server (same
//! command names and percentile labels after the same commands) and the
//! effects of the configuration and CONFIG RESETSTAT.

mod common;

use std::collections::BTreeMap;

use common::{Ferrous, Raw, Redis};

/// `INFO latencystats` as command name -> percentile values (label, value).
fn latency(c: &mut Raw) -> BTreeMap<String, Vec<(String, String)>> {
    let reply = c.cmd(&["INFO", "latencystats"]);
    let text = String::from_utf8_lossy(&reply).into_owned();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with('$'));
    assert_eq!(lines.next(), Some("# Latencystats"));
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            let name = k.strip_prefix("latency_percentiles_usec_").unwrap();
            let fields = v
                .split(',')
                .filter(|f| !f.is_empty())
                .map(|f| {
                    let (p, val) = f.split_once('=').unwrap();
                    (p.to_string(), val.to_string())
                })
                .collect();
            (name.to_string(), fields)
        })
        .collect()
}

/// Drops the values, keeping command names and percentile labels.
fn shape(m: &BTreeMap<String, Vec<(String, String)>>) -> BTreeMap<String, Vec<String>> {
    m.iter()
        .map(|(k, v)| (k.clone(), v.iter().map(|(p, _)| p.clone()).collect()))
        .collect()
}

/// A value is microseconds with three decimals, like `2.007`.
fn check_values(m: &BTreeMap<String, Vec<(String, String)>>) {
    for (name, fields) in m {
        let mut last = 0.0;
        for (p, v) in fields {
            let (int, frac) = v
                .split_once('.')
                .unwrap_or_else(|| panic!("{name} {p}={v}"));
            assert!(
                int.bytes().all(|c| c.is_ascii_digit()) && frac.len() == 3,
                "{v}"
            );
            let x: f64 = v.parse().unwrap();
            assert!(x > 0.0, "{name} {p}={v}");
            // The default percentiles are increasing, so are their values.
            assert!(x >= last, "{name}: {fields:?}");
            last = x;
        }
    }
}

fn run(c: &mut Raw, script: &[&[&str]]) {
    for cmd in script {
        c.cmd(cmd);
    }
}

const SCRIPT: &[&[&str]] = &[
    &["SET", "a", "1"],
    &["GET", "a"],
    &["GET", "nokey"],
    &["INCR", "a"],
    &["CLIENT", "GETNAME"],
    &["HSET", "h", "f", "v"],
    &["GET"],
    &["INCR", "h"],
];

#[test]
fn latencystats_shape_matches_redis() {
    let Some(redis) = Redis::start(&[]) else {
        return;
    };
    let f = Ferrous::start(&[]);
    let (mut r, mut c) = (redis.client(), f.client());
    for conn in [&mut r, &mut c] {
        run(conn, &[&["CONFIG", "RESETSTAT"]]);
        run(conn, SCRIPT);
    }
    let (want, got) = (latency(&mut r), latency(&mut c));
    check_values(&got);
    assert_eq!(shape(&got), shape(&want));
    assert!(got.contains_key("get") && got.contains_key("client|getname"));
    // Other percentiles, then none at all.
    for ps in ["0 33.333 100", ""] {
        for conn in [&mut r, &mut c] {
            run(
                conn,
                &[&["CONFIG", "SET", "latency-tracking-info-percentiles", ps]],
            );
        }
        let (want, got) = (latency(&mut r), latency(&mut c));
        assert_eq!(shape(&got), shape(&want), "percentiles {ps:?}");
    }
    // Off: the section is empty, and nothing is recorded meanwhile.
    for conn in [&mut r, &mut c] {
        run(
            conn,
            &[
                &["CONFIG", "SET", "latency-tracking-info-percentiles", "50"],
                &["CONFIG", "SET", "latency-tracking", "no"],
                &["SADD", "s", "m"],
            ],
        );
    }
    assert!(latency(&mut c).is_empty() && latency(&mut r).is_empty());
    for conn in [&mut r, &mut c] {
        run(conn, &[&["CONFIG", "SET", "latency-tracking", "yes"]]);
    }
    let (want, got) = (latency(&mut r), latency(&mut c));
    assert!(!got.contains_key("sadd"));
    assert_eq!(shape(&got), shape(&want));
    // RESETSTAT forgets everything but itself.
    for conn in [&mut r, &mut c] {
        run(conn, &[&["CONFIG", "RESETSTAT"]]);
    }
    let (want, got) = (latency(&mut r), latency(&mut c));
    assert_eq!(got.keys().collect::<Vec<_>>(), ["config|resetstat"]);
    assert_eq!(shape(&got), shape(&want));
}

/// The section is in `INFO all` / `everything` but not in the default INFO.
#[test]
fn latencystats_section_selection() {
    let f = Ferrous::start(&[]);
    let mut c = f.client();
    c.cmd(&["GET", "x"]);
    let has = |reply: Vec<u8>| {
        let t = String::from_utf8_lossy(&reply).into_owned();
        (
            t.contains("# Latencystats"),
            t.contains("latency_percentiles_usec_get:p50="),
        )
    };
    assert_eq!(has(c.cmd(&["INFO"])), (false, false));
    assert_eq!(has(c.cmd(&["INFO", "all"])), (true, true));
    assert_eq!(has(c.cmd(&["INFO", "everything"])), (true, true));
    assert_eq!(has(c.cmd(&["INFO", "LATENCYSTATS"])), (true, true));
}

/// Percentiles of many calls of one command are quantized like Redis's
/// HdrHistogram: every value ends in the last nanosecond of its bucket.
#[test]
fn latency_values_are_bucket_ends() {
    let f = Ferrous::start(&[("latency-tracking-info-percentiles", "0 50 100")]);
    let mut c = f.client();
    for i in 0..200 {
        c.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    let m = latency(&mut c);
    let set = &m["set"];
    let ns: Vec<u64> = set
        .iter()
        .map(|(_, v)| (v.parse::<f64>().unwrap() * 1000.0).round() as u64)
        .collect();
    assert!(ns[0] <= ns[1] && ns[1] <= ns[2], "{set:?}");
    // p0 is a bucket start, p50 and p100 bucket ends: below 256 ns buckets
    // are one wide; above, a power of two.
    for (i, v) in ns.iter().enumerate() {
        let width = 1u64 << (64 - (v | 255).leading_zeros()).saturating_sub(8);
        let end = if i == 0 { *v } else { v + 1 };
        assert_eq!(end % width, 0, "{set:?}");
    }
}
