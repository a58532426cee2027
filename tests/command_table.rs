//! Lints the command table and compares every command's metadata with a
//! real redis-server's `COMMAND INFO` and `COMMAND DOCS`.

mod common;

use std::collections::HashSet;

use ferrous::commands::command::acl_categories;
use ferrous::commands::{flags, table, CommandSpec};

/// Every spec with its full name.
fn all() -> Vec<(String, &'static CommandSpec)> {
    let mut v = Vec::new();
    for c in &table().all {
        v.push((c.name.to_string(), *c));
        for s in c.subcommands {
            v.push((format!("{}|{}", c.name, s.name), s));
        }
    }
    v
}

#[test]
fn table_lint() {
    let mut seen = HashSet::new();
    for (name, spec) in all() {
        assert!(seen.insert(name.clone()), "duplicate command {name}");
        assert_eq!(
            name,
            name.to_ascii_lowercase(),
            "{name}: names are lower case"
        );
        assert!(
            !(spec.has(flags::WRITE) && spec.has(flags::READONLY)),
            "{name}: write and readonly"
        );
        let (first, last, step) = spec.keys;
        if first == 0 {
            assert_eq!((last, step), (0, 0), "{name}: keys without a first key");
        } else {
            assert!(first > 0 && step > 0, "{name}: bad key positions");
            let min_argc = spec.arity.unsigned_abs() as i32;
            assert!(
                first < min_argc || spec.has(flags::MOVABLEKEYS),
                "{name}: first key beyond arity"
            );
            if last > 0 {
                assert!(last >= first, "{name}: last key before first");
                assert!(
                    spec.arity < 0 || last < spec.arity,
                    "{name}: last key beyond arity"
                );
            }
        }
        if first > 0 {
            assert!(!spec.key_specs.is_empty(), "{name}: keys without key specs");
        } else if !spec.has(flags::MOVABLEKEYS) {
            // Commands with a key count (SINTERCARD, ZUNION…) report no legacy key range.
            assert!(spec.key_specs.is_empty(), "{name}: key specs without keys");
        }
        if !spec.subcommands.is_empty() {
            assert!(
                matches!(spec.handler, ferrous::commands::Handler::Container),
                "{name}: subcommands need a container"
            );
        }
        assert!(
            !spec.summary.is_empty() && !spec.since.is_empty(),
            "{name}: docs missing"
        );
        for a in spec.acl {
            let cat = a.trim_start_matches('-').trim_start_matches('@');
            assert!(
                ferrous::commands::command::ACL_CATEGORIES.contains(&cat),
                "{name}: unknown ACL category {a}"
            );
        }
    }
}

/// A minimal RESP2 value for comparing parsed replies.
#[derive(Debug, Clone, PartialEq)]
enum V {
    S(String),
    I(i64),
    A(Vec<V>),
    Nil,
}

fn parse(b: &[u8], i: &mut usize) -> V {
    let end = b[*i..].windows(2).position(|w| w == b"\r\n").unwrap() + *i;
    let line = String::from_utf8_lossy(&b[*i + 1..end]).into_owned();
    let t = b[*i];
    *i = end + 2;
    match t {
        b'+' | b'-' => V::S(line),
        b':' => V::I(line.parse().unwrap()),
        b'$' => {
            let n: i64 = line.parse().unwrap();
            if n < 0 {
                return V::Nil;
            }
            let s = String::from_utf8_lossy(&b[*i..*i + n as usize]).into_owned();
            *i += n as usize + 2;
            V::S(s)
        }
        b'*' => {
            let n: i64 = line.parse().unwrap();
            if n < 0 {
                return V::Nil;
            }
            V::A((0..n).map(|_| parse(b, i)).collect())
        }
        _ => panic!("unexpected reply type {}", t as char),
    }
}

fn query(c: &mut common::Raw, args: &[&str]) -> V {
    let raw = c.cmd(args);
    parse(&raw, &mut 0)
}

fn strings(v: &V) -> Vec<String> {
    match v {
        V::A(items) => items
            .iter()
            .map(|x| match x {
                V::S(s) => s.clone(),
                other => format!("{other:?}"),
            })
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

#[test]
fn table_matches_redis() {
    let Some(redis) = common::Redis::start(&[]) else {
        return;
    };
    let mut r = redis.client();
    let mut problems = Vec::new();
    for (name, spec) in all() {
        let info = query(&mut r, &["COMMAND", "INFO", &name]);
        let V::A(outer) = info else { panic!() };
        let Some(V::A(e)) = outer.first() else {
            problems.push(format!("{name}: unknown to redis"));
            continue;
        };
        let arity = match e[1] {
            V::I(n) => n,
            _ => 0,
        };
        if arity != spec.arity as i64 {
            problems.push(format!("{name}: arity {} vs redis {arity}", spec.arity));
        }
        let want_flags = strings(&e[2]);
        let got_flags: Vec<String> = flags::NAMES
            .iter()
            .filter(|(f, _)| spec.has(*f))
            .map(|(_, n)| n.to_string())
            .collect();
        if want_flags != got_flags {
            problems.push(format!(
                "{name}: flags {got_flags:?} vs redis {want_flags:?}"
            ));
        }
        let keys = (e[3].clone(), e[4].clone(), e[5].clone());
        let ours = (
            V::I(spec.keys.0 as i64),
            V::I(spec.keys.1 as i64),
            V::I(spec.keys.2 as i64),
        );
        if keys != ours {
            problems.push(format!("{name}: keys {ours:?} vs redis {keys:?}"));
        }
        let want_cats = strings(&e[6]);
        let got_cats: Vec<String> = acl_categories(spec)
            .iter()
            .map(|c| format!("@{c}"))
            .collect();
        if want_cats != got_cats {
            problems.push(format!("{name}: acl {got_cats:?} vs redis {want_cats:?}"));
        }
        let subs: HashSet<String> = match &e[9] {
            V::A(s) => s
                .iter()
                .filter_map(|x| match x {
                    V::A(d) => match &d[0] {
                        V::S(n) => Some(n.clone()),
                        _ => None,
                    },
                    _ => None,
                })
                .collect(),
            _ => HashSet::new(),
        };
        for s in spec.subcommands {
            let full = format!("{name}|{}", s.name);
            if !subs.contains(&full) {
                problems.push(format!("{full}: not a redis subcommand"));
            }
        }
        // Documentation fields.
        let docs = query(&mut r, &["COMMAND", "DOCS", &name]);
        if let V::A(d) = docs {
            if let Some(V::A(fields)) = d.get(1) {
                let get = |k: &str| {
                    fields
                        .chunks(2)
                        .find(|p| p[0] == V::S(k.into()))
                        .map(|p| p[1].clone())
                };
                for (k, ours) in [
                    ("summary", spec.summary),
                    ("since", spec.since),
                    ("group", spec.group),
                    ("complexity", spec.complexity),
                ] {
                    let want = get(k).unwrap_or(V::S(String::new()));
                    if want != V::S(ours.to_string()) {
                        problems.push(format!("{name}: {k} {ours:?} vs redis {want:?}"));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "mismatches:\n{}", problems.join("\n"));
}

#[test]
fn command_count_and_list_come_from_the_table() {
    let f = common::Ferrous::start(&[]);
    let mut c = f.client();
    let count = c.cmd(&["COMMAND", "COUNT"]);
    assert_eq!(count, format!(":{}\r\n", table().all.len()).into_bytes());
    let list = parse(&c.cmd(&["COMMAND", "LIST"]), &mut 0);
    assert_eq!(strings(&list).len(), all().len());
    let all_info = parse(&c.cmd(&["COMMAND"]), &mut 0);
    let V::A(items) = all_info else { panic!() };
    assert_eq!(items.len(), table().all.len());
    let docs = parse(&c.cmd(&["COMMAND", "DOCS"]), &mut 0);
    let V::A(d) = docs else { panic!() };
    assert_eq!(d.len(), 2 * table().all.len());
    let cat = parse(
        &c.cmd(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", "dangerous"]),
        &mut 0,
    );
    let names = strings(&cat);
    assert!(names.contains(&"flushall".to_string()) && names.contains(&"client|kill".to_string()));
}

/// The end of the RESP2/RESP3 value starting at `i` in `b`.
fn skip(b: &[u8], i: usize) -> usize {
    let end = b[i..].windows(2).position(|w| w == b"\r\n").unwrap() + i;
    let n = || -> i64 {
        std::str::from_utf8(&b[i + 1..end])
            .unwrap()
            .parse()
            .unwrap()
    };
    match b[i] {
        b'$' | b'=' | b'!' => {
            let n = n();
            if n < 0 {
                end + 2
            } else {
                end + 2 + n as usize + 2
            }
        }
        b'*' | b'~' | b'>' | b'%' => {
            let count = n().max(0) * if b[i] == b'%' { 2 } else { 1 };
            (0..count).fold(end + 2, |j, _| skip(b, j))
        }
        _ => end + 2,
    }
}

/// `COMMAND INFO <name>` of a container without its 10th element (the
/// subcommands, which Redis lists in a per-process random order; each is
/// compared on its own under its full name).
fn without_subcommands(reply: &[u8]) -> Vec<u8> {
    // `*1\r\n*10\r\n` then the 10 fields: keep the headers and 9 fields.
    let line_end =
        |from: usize| reply[from..].windows(2).position(|w| w == b"\r\n").unwrap() + from + 2;
    let mut j = line_end(line_end(0));
    for _ in 0..9 {
        j = skip(reply, j);
    }
    reply[..j].to_vec()
}

/// Every command and subcommand's `COMMAND INFO` is byte-identical to
/// Redis's, in RESP2 and RESP3: tips and key specs included.
#[test]
fn command_info_bytes_match_redis() {
    let Some(redis) = common::Redis::start(&[]) else {
        return;
    };
    let f = common::Ferrous::start(&[]);
    let mut problems = Vec::new();
    for proto in ["2", "3"] {
        let mut r = redis.client();
        let mut c = f.client();
        r.cmd(&["HELLO", proto]);
        c.cmd(&["HELLO", proto]);
        for (name, spec) in all() {
            let mut want = r.cmd(&["COMMAND", "INFO", &name]);
            let mut got = c.cmd(&["COMMAND", "INFO", &name]);
            if !spec.subcommands.is_empty() {
                want = without_subcommands(&want);
                got = without_subcommands(&got);
            }
            if want != got {
                problems.push(format!(
                    "RESP{proto} {name}:\n  ferrous {}\n  redis   {}",
                    common::show(&got),
                    common::show(&want)
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} mismatches:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// COMMAND GETKEYS and GETKEYSANDFLAGS, answered from the key specs, agree
/// with Redis on command lines of every command we have.
#[test]
fn getkeys_match_redis() {
    let Some(redis) = common::Redis::start(&[]) else {
        return;
    };
    let f = common::Ferrous::start(&[]);
    let mut r = redis.client();
    let mut c = f.client();
    let mut problems = Vec::new();
    for (name, spec) in all() {
        if !spec.subcommands.is_empty() {
            continue;
        }
        // Enough arguments for the arity, then some more for variadic ones.
        let words: Vec<String> = name.split('|').map(str::to_string).collect();
        let min = spec.arity.unsigned_abs() as usize;
        for extra in [0usize, 1, 2, 3] {
            if spec.arity > 0 && extra > 0 {
                break;
            }
            let mut args = vec!["COMMAND".to_string(), "GETKEYS".to_string()];
            args.extend(words.iter().cloned());
            let n = (min + extra).saturating_sub(words.len());
            args.extend((0..n).map(|i| format!("a{i}")));
            for sub in ["GETKEYS", "GETKEYSANDFLAGS"] {
                args[1] = sub.to_string();
                let a: Vec<&str> = args.iter().map(String::as_str).collect();
                let (want, got) = (r.cmd(&a), c.cmd(&a));
                if want != got {
                    problems.push(format!(
                        "{sub} {}: ferrous {} redis {}",
                        args[2..].join(" "),
                        common::show(&got),
                        common::show(&want)
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "mismatches:\n{}", problems.join("\n"));
}

/// The byte ranges of the `n` values that start at `i`.
fn items(b: &[u8], mut i: usize, n: usize) -> Vec<(usize, usize)> {
    (0..n)
        .map(|_| {
            let start = i;
            i = skip(b, i);
            (start, i)
        })
        .collect()
}

/// The number of pairs in the map header at `i` (RESP3 `%n`, or RESP2 `*2n`),
/// and where its body starts.
fn header(b: &[u8], i: usize) -> (usize, usize) {
    let end = b[i..].windows(2).position(|w| w == b"\r\n").unwrap() + i;
    let n: usize = std::str::from_utf8(&b[i + 1..end])
        .unwrap()
        .parse()
        .unwrap();
    match b[i] {
        b'%' => (n, end + 2),
        _ => (n / 2, end + 2),
    }
}

/// The (key, value) byte pairs of the documentation map at `i`.
fn doc_fields(b: &[u8], i: usize) -> Vec<(String, &[u8], &[u8])> {
    let (pairs, body) = header(b, i);
    let raw = items(b, body, pairs * 2);
    raw.chunks(2)
        .map(|kv| {
            let key = parse(&b[kv[0].0..kv[0].1], &mut 0);
            let V::S(key) = key else { panic!("bad key") };
            (key, &b[kv[0].0..kv[0].1], &b[kv[1].0..kv[1].1])
        })
        .collect()
}

/// A `COMMAND DOCS <name>` reply without the value of its `subcommands`
/// field: Redis prints them in a per-process random order, and our table may
/// lack some; each subcommand is compared on its own under its full name.
fn docs_without_subcommands(reply: &[u8]) -> Vec<u8> {
    // `*2`/`%1`, the name, then the documentation map.
    let (_, body) = header(reply, 0);
    let map_at = skip(reply, body);
    let (_, fields_at) = header(reply, map_at);
    let mut out = reply[..fields_at].to_vec();
    for (key, k, v) in doc_fields(reply, map_at) {
        out.extend_from_slice(k);
        if key != "subcommands" {
            out.extend_from_slice(v);
        }
    }
    out
}

/// Every command and subcommand's `COMMAND DOCS` is byte-identical to
/// Redis's, in RESP2 and RESP3: arguments, history and deprecation included.
#[test]
fn command_docs_bytes_match_redis() {
    let Some(redis) = common::Redis::start(&[]) else {
        return;
    };
    let f = common::Ferrous::start(&[]);
    let mut problems = Vec::new();
    for proto in ["2", "3"] {
        let mut r = redis.client();
        let mut c = f.client();
        r.cmd(&["HELLO", proto]);
        c.cmd(&["HELLO", proto]);
        for (name, _) in all() {
            let want = docs_without_subcommands(&r.cmd(&["COMMAND", "DOCS", &name]));
            let got = docs_without_subcommands(&c.cmd(&["COMMAND", "DOCS", &name]));
            if want != got {
                problems.push(format!(
                    "RESP{proto} {name}:\n  ferrous {}\n  redis   {}",
                    common::show(&got),
                    common::show(&want)
                ));
            }
        }
        // Several names at once, an unknown one skipped, as Redis does.
        let a = ["COMMAND", "DOCS", "get", "nosuchcommand", "GETSET"];
        let (want, got) = (r.cmd(&a), c.cmd(&a));
        if want != got {
            problems.push(format!("RESP{proto} {a:?}: {}", common::show(&got)));
        }
    }
    assert!(
        problems.is_empty(),
        "{} mismatches:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The generated documentation data reproduces Redis's reply for every
/// command Redis has — also those not in our table yet — so commands added
/// later are documented as soon as they are in the table.
#[test]
fn docs_data_covers_every_redis_command() {
    use ferrous::commands::command::docs_args;
    let Some(redis) = common::Redis::start(&[]) else {
        return;
    };
    let mut problems = Vec::new();
    for proto in [false, true] {
        let mut r = redis.client();
        r.cmd(&["HELLO", if proto { "3" } else { "2" }]);
        let names = strings(&parse(&r.cmd(&["COMMAND", "LIST"]), &mut 0));
        assert!(names.len() > 300, "COMMAND LIST too short");
        for name in names {
            let reply = r.cmd(&["COMMAND", "DOCS", &name]);
            let (_, body) = header(&reply, 0);
            let map_at = skip(&reply, body);
            let mut want = Vec::new();
            for (key, k, v) in doc_fields(&reply, map_at) {
                if !["summary", "since", "group", "complexity", "subcommands"]
                    .contains(&key.as_str())
                {
                    want.extend_from_slice(k);
                    want.extend_from_slice(v);
                }
            }
            let mut out = ferrous::reply::ReplyBuf::new(proto);
            docs_args::write(&mut out, &name);
            if out.buf != want {
                problems.push(format!(
                    "resp3={proto} {name}:\n  data  {}\n  redis {}",
                    common::show(&out.buf),
                    common::show(&want)
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} mismatches:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
