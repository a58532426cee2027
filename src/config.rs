//! Configuration: the table of known parameters with their defaults, parsing
//! of a redis.conf-style file and `--name value` flags, CONFIG GET/SET
//! validation with Redis's messages, and CONFIG REWRITE of the file the
//! server was started with.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

/// The type of a parameter, which decides parsing and validation.
#[derive(Clone, Copy)]
pub enum Kind {
    /// `yes` / `no`.
    Bool,
    /// An integer in a range.
    Int(i64, i64),
    /// A byte count with optional unit (`512mb`) in a range, stored as
    /// plain bytes.
    Mem(i64, i64),
    /// Free text.
    Str,
    /// One of a fixed set of words.
    Enum(&'static [&'static str]),
}

/// One known parameter.
pub struct Param {
    /// Canonical name.
    pub name: &'static str,
    /// Alternative name (`lua-time-limit` for `busy-reply-threshold`).
    pub alias: Option<&'static str>,
    /// Default value, in canonical form.
    pub default: &'static str,
    /// Value type.
    pub kind: Kind,
    /// Whether CONFIG SET may change it.
    pub mutable: bool,
}

/// Parameters Redis 7.0 refuses to change at run time unless
/// `enable-protected-configs` is set (it is not, by default).
pub const PROTECTED: &[&str] = &["dir", "dbfilename"];

const MEM: Kind = Kind::Mem(0, i64::MAX);

const fn p(name: &'static str, default: &'static str, kind: Kind, mutable: bool) -> Param {
    Param {
        name,
        alias: None,
        default,
        kind,
        mutable,
    }
}

const YES: Kind = Kind::Bool;
const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning"];

/// Every parameter Ferrous knows.
pub static PARAMS: &[Param] = &[
    p("bind", "127.0.0.1", Kind::Str, false),
    p("port", "6379", Kind::Int(0, 65535), false),
    p("dir", ".", Kind::Str, true),
    p("databases", "16", Kind::Int(1, i32::MAX as i64), false),
    p("maxclients", "10000", Kind::Int(1, u32::MAX as i64), true),
    p("timeout", "0", Kind::Int(0, i32::MAX as i64), true),
    p("requirepass", "", Kind::Str, true),
    p("protected-mode", "yes", YES, true),
    p("loglevel", "notice", Kind::Enum(LOGLEVELS), true),
    p("logfile", "", Kind::Str, false),
    p("hz", "10", Kind::Int(0, i32::MAX as i64), true),
    p("latency-tracking", "yes", YES, true),
    p(
        "latency-tracking-info-percentiles",
        "50 99 99.9",
        Kind::Str,
        true,
    ),
    p(
        "proto-max-bulk-len",
        "536870912",
        Kind::Mem(1 << 20, i64::MAX),
        true,
    ),
    // Ferrous's own: the heap cap of each Lua VM (Redis has none). A script
    // that runs out raises, and its writes are rolled back.
    p(
        "lua-memory-limit",
        "268435456",
        Kind::Mem(1 << 20, i64::MAX),
        true,
    ),
    // Ferrous's own: microseconds the worker keeps polling for requests after
    // the last read before it sleeps (0 = never poll; see `busy_poll.rs`).
    p("busy-poll-us", "50", Kind::Int(0, 1_000_000), true),
    // Ferrous's own: the poller stops spinning for a while when its worker
    // waited for a CPU more than this percent of a sample (100 = never).
    p("busy-poll-contention-pct", "10", Kind::Int(0, 100), true),
    p(
        "client-query-buffer-limit",
        "1073741824",
        Kind::Mem(1 << 20, i64::MAX),
        true,
    ),
    Param {
        name: "busy-reply-threshold",
        alias: Some("lua-time-limit"),
        default: "5000",
        kind: Kind::Int(0, i64::MAX),
        mutable: true,
    },
    p(
        "enable-debug-command",
        "no",
        Kind::Enum(&["no", "yes", "local"]),
        false,
    ),
    p("save", "3600 1 300 100 60 10000", Kind::Str, true),
    p("appendonly", "no", YES, true),
    p(
        "appendfsync",
        "everysec",
        Kind::Enum(&["everysec", "always", "no"]),
        true,
    ),
    p("appendfilename", "appendonly.aof", Kind::Str, false),
    p("dbfilename", "dump.rdb", Kind::Str, true),
    p("maxmemory", "0", MEM, true),
    p(
        "maxmemory-policy",
        "noeviction",
        Kind::Enum(&[
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "noeviction",
        ]),
        true,
    ),
    p("notify-keyspace-events", "", Kind::Str, true),
    p("tcp-keepalive", "300", Kind::Int(0, i32::MAX as i64), true),
    p("tcp-backlog", "511", Kind::Int(0, i32::MAX as i64), false),
    p("daemonize", "no", YES, false),
    // Acted on at startup (src/main.rs): THP off for the process when the
    // kernel's mode is `always`, as redis-server does.
    p("disable-thp", "yes", YES, false),
    p("pidfile", "", Kind::Str, false),
    p("active-expire-effort", "1", Kind::Int(1, 10), true),
    p("lazyfree-lazy-user-flush", "no", YES, true),
    p("lazyfree-lazy-server-del", "no", YES, true),
    Param {
        name: "hash-max-listpack-entries",
        alias: Some("hash-max-ziplist-entries"),
        default: "512",
        kind: Kind::Int(0, i64::MAX),
        mutable: true,
    },
    Param {
        name: "hash-max-listpack-value",
        alias: Some("hash-max-ziplist-value"),
        default: "64",
        kind: Kind::Int(0, i64::MAX),
        mutable: true,
    },
    Param {
        name: "list-max-listpack-size",
        alias: Some("list-max-ziplist-size"),
        default: "-2",
        kind: Kind::Int(i32::MIN as i64, i32::MAX as i64),
        mutable: true,
    },
    p(
        "set-max-intset-entries",
        "512",
        Kind::Int(0, i64::MAX),
        true,
    ),
    Param {
        name: "zset-max-listpack-entries",
        alias: Some("zset-max-ziplist-entries"),
        default: "128",
        kind: Kind::Int(0, i64::MAX),
        mutable: true,
    },
    Param {
        name: "zset-max-listpack-value",
        alias: Some("zset-max-ziplist-value"),
        default: "64",
        kind: Kind::Int(0, i64::MAX),
        mutable: true,
    },
    p(
        "slowlog-log-slower-than",
        "10000",
        Kind::Int(-1, i64::MAX),
        true,
    ),
    p("slowlog-max-len", "128", Kind::Int(0, i64::MAX), true),
    p("io-threads", "1", Kind::Int(1, 128), false),
    p("hll-sparse-max-bytes", "3000", Kind::Mem(0, i64::MAX), true),
    p(
        "stream-node-max-bytes",
        "4096",
        Kind::Mem(0, i64::MAX),
        true,
    ),
    p(
        "stream-node-max-entries",
        "100",
        Kind::Int(0, i64::MAX),
        true,
    ),
    p(
        "client-output-buffer-limit",
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        Kind::Str,
        true,
    ),
];

/// Looks a parameter up by name or alias, case-insensitively.
pub fn param(name: &str) -> Option<&'static Param> {
    param_index(name).map(|i| &PARAMS[i])
}

/// The index of integer parameter `$name` for [`Config::int`], looked up
/// once per call site instead of once per call.
#[macro_export]
macro_rules! int_param {
    ($name:literal) => {{
        static INDEX: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();
        *INDEX.get_or_init(|| $crate::config::param_index($name))
    }};
}

/// The index in [`PARAMS`] of a parameter by name or alias, any case.
/// Commands read parameters by their canonical (lower-case) name on hot
/// paths, so that is one hash lookup; other spellings are lower-cased first.
pub fn param_index(name: &str) -> Option<usize> {
    type Index =
        HashMap<&'static str, usize, std::hash::BuildHasherDefault<crate::commands::NameHasher>>;
    static INDEX: std::sync::OnceLock<Index> = std::sync::OnceLock::new();
    let index = INDEX.get_or_init(|| {
        let mut m = Index::default();
        // The first parameter with a name or alias wins, as the former
        // linear search did.
        for (i, p) in PARAMS.iter().enumerate() {
            for n in std::iter::once(p.name).chain(p.alias) {
                m.entry(n).or_insert(i);
            }
        }
        m
    });
    if let Some(&i) = index.get(name) {
        return Some(i);
    }
    if name.bytes().any(|c| c.is_ascii_uppercase()) {
        return index.get(name.to_ascii_lowercase().as_str()).copied();
    }
    None
}

/// Parses `512mb`-style sizes like Redis's `memtoull`.
pub fn parse_memory(s: &str) -> Option<u64> {
    let s = s.to_ascii_lowercase();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '-')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    let n: u64 = num.parse().ok()?;
    n.checked_mul(mul)
}

/// `save`: pairs of seconds and changes, or empty.
fn validate_save(value: &str) -> Result<String, String> {
    let parts: Vec<&str> = value.split_whitespace().collect();
    let ok = parts.len().is_multiple_of(2)
        && parts
            .iter()
            .all(|p| ferrous_storage::value::parse_i64(p.as_bytes()).is_some_and(|n| n >= 0));
    if ok {
        Ok(parts.join(" "))
    } else {
        Err("Invalid save parameters".into())
    }
}

/// Parses a number like C's `strtod` as Redis's string-to-double does:
/// decimal or `0x` hexadecimal, the whole text, never NaN.
fn parse_strtod(s: &str) -> Option<f64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let v = if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        if hex.is_empty() || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        hex.bytes().fold(0.0, |acc, c| {
            acc * 16.0 + f64::from((c as char).to_digit(16).unwrap_or(0))
        })
    } else {
        // Rust accepts what strtod does for decimals, plus `inf`/`nan`
        // words, which strtod also takes.
        if body.starts_with(['+', '-']) {
            return None;
        }
        body.parse::<f64>().ok()?
    };
    if v.is_nan() {
        return None;
    }
    Some(if neg { -v } else { v })
}

/// `latency-tracking-info-percentiles`: space-separated numbers in
/// [0, 100], printed back with `%f` less trailing zeros.
pub fn parse_percentiles(value: &str) -> Result<Vec<f64>, String> {
    if value.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for w in value.split(' ') {
        let p = parse_strtod(w).ok_or("Invalid latency-tracking-info-percentiles parameters")?;
        if !(0.0..=100.0).contains(&p) {
            return Err(
                "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                    .into(),
            );
        }
        out.push(p);
    }
    Ok(out)
}

/// Validates `value` for `p`, returning its canonical form or Redis's reason.
pub fn validate(p: &Param, value: &str) -> Result<String, String> {
    match p.kind {
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            "yes" => Ok("yes".into()),
            "no" => Ok("no".into()),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Int(min, max) => {
            let n: i64 = match ferrous_storage::value::parse_i64(value.as_bytes()) {
                Some(n) => n,
                None => return Err("argument couldn't be parsed into an integer".into()),
            };
            if n < min || n > max {
                Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ))
            } else {
                Ok(n.to_string())
            }
        }
        Kind::Mem(min, max) => match parse_memory(value) {
            Some(n) if n > max as u64 || (n as i64) < min => Err(format!(
                "argument must be between {min} and {max} inclusive"
            )),
            Some(n) => Ok(n.to_string()),
            None => Err("argument must be a memory value".into()),
        },
        Kind::Str if p.name == "save" => validate_save(value),
        Kind::Str if p.name == "latency-tracking-info-percentiles" => {
            let ps = parse_percentiles(value)?;
            let words: Vec<String> = ps
                .into_iter()
                .map(crate::cmdstats::fmt_percentile)
                .collect();
            Ok(words.join(" "))
        }
        Kind::Str if p.name == "client-output-buffer-limit" => validate_obuf(value),
        Kind::Str if p.name == "notify-keyspace-events" => crate::notify::parse(value.as_bytes())
            .map(crate::notify::stored)
            .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
        Kind::Str => Ok(value.to_string()),
        Kind::Enum(words) => {
            let v = value.to_ascii_lowercase();
            if words.contains(&v.as_str()) {
                Ok(v)
            } else {
                Err(format!(
                    "argument(s) must be one of the following: {}",
                    words.join(", ")
                ))
            }
        }
    }
}

/// `client-output-buffer-limit`: groups of `class hard soft seconds`;
/// returns them with byte counts in plain form (merged into the current
/// value by [`merge`]).
fn validate_obuf(value: &str) -> Result<String, String> {
    let words: Vec<&str> = value.split_whitespace().collect();
    if !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut out = Vec::new();
    for g in words.chunks(4) {
        let class = match g[0].to_ascii_lowercase().as_str() {
            "normal" => "normal",
            "slave" | "replica" => "slave",
            "pubsub" => "pubsub",
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        let bad = || "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
        let hard = parse_memory(g[1]).ok_or_else(bad)?;
        let soft = parse_memory(g[2]).ok_or_else(bad)?;
        let secs = ferrous_storage::value::parse_i64(g[3].as_bytes())
            .filter(|n| *n >= 0)
            .ok_or_else(bad)?;
        out.push(format!("{class} {hard} {soft} {secs}"));
    }
    Ok(out.join(" "))
}

/// Combines a validated value with the current one where a parameter
/// sets only part of itself (`client-output-buffer-limit` classes).
fn merge(name: &str, old: Option<&String>, v: String) -> String {
    if name != "client-output-buffer-limit" {
        return v;
    }
    let old = old.map_or("", |s| s.as_str());
    let mut groups: Vec<Vec<String>> = old
        .split_whitespace()
        .collect::<Vec<_>>()
        .chunks(4)
        .map(|g| g.iter().map(|w| w.to_string()).collect())
        .collect();
    for g in v.split_whitespace().collect::<Vec<_>>().chunks(4) {
        let new: Vec<String> = g.iter().map(|w| w.to_string()).collect();
        match groups.iter_mut().find(|o| o.first() == new.first()) {
            Some(o) => *o = new,
            None => groups.push(new),
        }
    }
    groups
        .into_iter()
        .map(|g| g.join(" "))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A stored value as CONFIG GET shows it.
fn shown(name: &str, v: Option<&String>) -> String {
    let v = v.cloned().unwrap_or_default();
    if name == "notify-keyspace-events" {
        crate::notify::shown(&v)
    } else {
        v
    }
}

/// Values Redis accepts but silently limits (`hz` above 500).
fn clamp_startup(name: &str, v: String) -> String {
    match name {
        "hz" => v.parse::<i64>().map_or(v, |n| n.min(500).to_string()),
        _ => v,
    }
}

/// Live configuration values.
pub struct Config {
    values: RwLock<BTreeMap<&'static str, String>>,
    /// Values read on every request, mirrored here so the hot path takes no lock.
    pub hot: Hot,
    /// Every parameter's value as [`Config::get_i64`] parses it, by index in
    /// [`PARAMS`] (refreshed with `hot`): commands read limits such as
    /// `set-max-intset-entries` per call without a lock or an allocation.
    ints: Box<[AtomicI64]>,
    /// The config file the server was started with (absolute), if any.
    file: Option<PathBuf>,
}

/// Parsed copies of the parameters the connection loop reads per request.
#[derive(Default)]
pub struct Hot {
    /// `proto-max-bulk-len`.
    pub proto_max_bulk_len: AtomicI64,
    /// `client-query-buffer-limit`.
    pub query_buffer_limit: AtomicI64,
    /// `timeout` in seconds (0 = never).
    pub timeout: AtomicI64,
    /// `latency-tracking`, shared with the command statistics.
    pub latency_tracking: Arc<AtomicBool>,
    /// `client-output-buffer-limit` of the pubsub class: hard and soft
    /// limits in bytes (0 = none) and soft seconds.
    pub pubsub_hard: AtomicI64,
    /// See `pubsub_hard`.
    pub pubsub_soft: AtomicI64,
    /// See `pubsub_hard`.
    pub pubsub_soft_secs: AtomicI64,
    /// `notify-keyspace-events` as flag bits (see `crate::notify`).
    pub notify_flags: AtomicI64,
    /// `busy-reply-threshold` in ms (read at every write transaction).
    pub busy_reply_threshold: AtomicI64,
    /// `lua-memory-limit` in bytes.
    pub lua_memory_limit: AtomicI64,
    /// `lazyfree-lazy-server-del`: large retired versions are destroyed on
    /// the reaper thread (shared with the store, `Store::with_reaper`).
    pub lazy_server_del: Arc<AtomicBool>,
}

impl Default for Config {
    fn default() -> Self {
        let c = Config {
            values: RwLock::new(
                PARAMS
                    .iter()
                    .map(|p| (p.name, p.default.to_string()))
                    .collect(),
            ),
            hot: Hot::default(),
            ints: PARAMS.iter().map(|_| AtomicI64::new(0)).collect(),
            file: None,
        };
        c.refresh_hot();
        c
    }
}

impl Config {
    fn refresh_hot(&self) {
        {
            let v = self.values.read().unwrap_or_else(|e| e.into_inner());
            for (p, slot) in PARAMS.iter().zip(self.ints.iter()) {
                let n = v.get(p.name).and_then(|s| s.parse().ok()).unwrap_or(0);
                slot.store(n, Ordering::Relaxed);
            }
        }
        let h = &self.hot;
        h.proto_max_bulk_len
            .store(self.get_i64("proto-max-bulk-len"), Ordering::Relaxed);
        h.query_buffer_limit
            .store(self.get_i64("client-query-buffer-limit"), Ordering::Relaxed);
        h.timeout.store(self.get_i64("timeout"), Ordering::Relaxed);
        h.busy_reply_threshold
            .store(self.get_i64("busy-reply-threshold"), Ordering::Relaxed);
        h.lua_memory_limit
            .store(self.get_i64("lua-memory-limit"), Ordering::Relaxed);
        h.latency_tracking
            .store(self.get_bool("latency-tracking"), Ordering::Relaxed);
        h.lazy_server_del
            .store(self.get_bool("lazyfree-lazy-server-del"), Ordering::Relaxed);
        let nke = self.get("notify-keyspace-events");
        let nke = crate::notify::parse(nke.as_bytes()).unwrap_or(0);
        h.notify_flags.store(nke as i64, Ordering::Relaxed);
        let obuf = self.get("client-output-buffer-limit");
        let words: Vec<&str> = obuf.split_whitespace().collect();
        if let Some(i) = words.iter().position(|w| *w == "pubsub") {
            let num = |j: usize| words.get(i + j).and_then(|w| w.parse().ok()).unwrap_or(0);
            h.pubsub_hard.store(num(1), Ordering::Relaxed);
            h.pubsub_soft.store(num(2), Ordering::Relaxed);
            h.pubsub_soft_secs.store(num(3), Ordering::Relaxed);
        }
    }

    /// The value of a known parameter (canonical name).
    pub fn get(&self, name: &str) -> String {
        let v = self.values.read().unwrap_or_else(|e| e.into_inner());
        match param(name) {
            Some(p) => v.get(p.name).cloned().unwrap_or_default(),
            None => String::new(),
        }
    }

    /// The value of an integer parameter.
    pub fn get_i64(&self, name: &str) -> i64 {
        self.int(param_index(name))
    }

    /// The value of the integer parameter whose index [`int_param!`] found
    /// (0 for an unknown name): what commands read on every call.
    #[inline]
    pub fn int(&self, index: Option<usize>) -> i64 {
        index.map_or(0, |i| self.ints[i].load(Ordering::Relaxed))
    }

    /// Whether a boolean parameter is `yes`.
    pub fn get_bool(&self, name: &str) -> bool {
        self.get(name) == "yes"
    }

    /// Sets a parameter after validation, ignoring mutability (startup).
    pub fn set_startup(&self, name: &str, value: &str) -> Result<(), String> {
        let p = param(name)
            .ok_or_else(|| format!("Bad directive or wrong number of arguments: '{name}'"))?;
        let v = validate(p, value).map_err(|e| format!("'{}' {}", p.name, e))?;
        let v = clamp_startup(p.name, v);
        let mut values = self.values.write().unwrap_or_else(|e| e.into_inner());
        let v = merge(p.name, values.get(p.name), v);
        values.insert(p.name, v);
        drop(values);
        self.refresh_hot();
        Ok(())
    }

    /// Sets several parameters atomically (CONFIG SET): all or none. Like
    /// Redis, names are checked first (unknown, immutable, protected,
    /// duplicate), then values.
    pub fn set_many(&self, pairs: &[(String, String)]) -> Result<(), String> {
        let failed = |name: &str, why: &str| {
            format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
        };
        let mut found = Vec::new();
        for (i, (name, _)) in pairs.iter().enumerate() {
            let Some(p) = param(name) else {
                return Err(format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
                ));
            };
            if !p.mutable {
                return Err(failed(name, "can't set immutable config"));
            }
            if PROTECTED.contains(&p.name) {
                return Err(failed(name, "can't set protected config"));
            }
            // Redis compares the names as given, so an alias and its
            // canonical name are not duplicates.
            if pairs[..i].iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                return Err(failed(name, "duplicate parameter"));
            }
            found.push(p);
        }
        let mut staged = Vec::new();
        for (p, (name, value)) in found.into_iter().zip(pairs) {
            let v = validate(p, value).map_err(|e| failed(name, &e))?;
            staged.push((p.name, v));
        }
        let mut values = self.values.write().unwrap_or_else(|e| e.into_inner());
        for (n, v) in staged {
            let v = merge(n, values.get(n), clamp_startup(n, v));
            values.insert(n, v);
        }
        drop(values);
        self.refresh_hot();
        Ok(())
    }

    /// All `(name, value)` pairs whose name or alias matches a pattern.
    pub fn matching(&self, patterns: &[&[u8]]) -> Vec<(String, String)> {
        let values = self.values.read().unwrap_or_else(|e| e.into_inner());
        let mut out: BTreeMap<String, String> = BTreeMap::new();
        for pat in patterns {
            // A plain name is looked up directly and echoed as given.
            if !pat.iter().any(|c| matches!(c, b'*' | b'?' | b'[' | b'\\')) {
                let name = String::from_utf8_lossy(pat).into_owned();
                if let Some(p) = param(&name) {
                    out.insert(name, shown(p.name, values.get(p.name)));
                }
            }
        }
        for p in PARAMS {
            for name in std::iter::once(p.name).chain(p.alias) {
                if patterns.iter().any(|pat| {
                    pat.iter().any(|c| matches!(c, b'*' | b'?' | b'[' | b'\\'))
                        && crate::glob::matches(pat, name.as_bytes(), true)
                }) {
                    out.insert(name.to_string(), shown(p.name, values.get(p.name)));
                }
            }
        }
        out.into_iter().collect()
    }

    /// Applies a redis.conf-style text: `name value...` per line, `#` comments.
    pub fn load_text(&self, text: &str) -> Result<(), String> {
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let args = crate::resp::split_args(line.as_bytes())
                .ok_or_else(|| format!("line {}: unbalanced quotes", i + 1))?;
            let args: Vec<String> = args
                .into_iter()
                .map(|a| String::from_utf8_lossy(&a).into_owned())
                .collect();
            let (name, rest) = args.split_first().ok_or("empty line")?;
            self.set_startup(name, &rest.join(" "))
                .map_err(|e| format!("line {}: {}", i + 1, e))?;
        }
        Ok(())
    }
}

/// The line CONFIG REWRITE puts before the options it appends.
const REWRITE_MARKER: &str = "# Generated by CONFIG REWRITE";

/// Options Redis writes on every rewrite, even at their default.
const ALWAYS_WRITTEN: &[&str] = &["save", "dir", "latency-tracking-info-percentiles"];

/// A value quoted like Redis's `sdscatrepr`, as the config loader reads it.
fn repr(s: &str) -> String {
    let mut q = String::from("\"");
    for b in s.bytes() {
        match b {
            b'\\' => q.push_str("\\\\"),
            b'"' => q.push_str("\\\""),
            b'\n' => q.push_str("\\n"),
            b'\r' => q.push_str("\\r"),
            b'\t' => q.push_str("\\t"),
            0x07 => q.push_str("\\a"),
            0x08 => q.push_str("\\b"),
            0x20..=0x7e => q.push(b as char),
            _ => q.push_str(&format!("\\x{b:02x}")),
        }
    }
    q.push('"');
    q
}

/// A byte count in the largest unit that holds it exactly (`1gb`, `512mb`).
fn fmt_memory(v: &str) -> String {
    let Ok(n) = v.parse::<u64>() else {
        return v.to_string();
    };
    for (unit, size) in [("gb", 1u64 << 30), ("mb", 1 << 20), ("kb", 1 << 10)] {
        if n != 0 && n % size == 0 {
            return format!("{}{unit}", n / size);
        }
    }
    n.to_string()
}

/// The config-file lines that set `p` to `value`, as CONFIG REWRITE
/// writes them.
fn option_lines(p: &Param, value: &str) -> Vec<String> {
    let name = p.name;
    match (name, p.kind) {
        ("save", _) if value.is_empty() => vec![format!("save \"\"")],
        ("save", _) => {
            let words: Vec<&str> = value.split_whitespace().collect();
            words
                .chunks(2)
                .map(|pair| format!("save {}", pair.join(" ")))
                .collect()
        }
        ("dir", _) => {
            let abs = std::path::absolute(value).unwrap_or_else(|_| value.into());
            vec![format!("dir {}", repr(&abs.to_string_lossy()))]
        }
        ("bind", _) => vec![format!("bind {value}")],
        ("latency-tracking-info-percentiles", _) if value.is_empty() => {
            vec![format!("{name} \"\"")]
        }
        ("latency-tracking-info-percentiles", _) => vec![format!("{name} {value}")],
        (_, Kind::Str) => vec![format!("{name} {}", repr(value))],
        (_, Kind::Mem(..)) => vec![format!("{name} {}", fmt_memory(value))],
        _ => vec![format!("{name} {value}")],
    }
}

/// The text of a config file `old` rewritten to hold `values`, as Redis
/// does it: comments, blank lines and lines it does not know are kept; the
/// first line(s) of each option are updated in place (also when it is back
/// at its default) and its further lines blanked; options set away from
/// their default that the file lacks are appended after a blank line and
/// the "# Generated by CONFIG REWRITE" marker (written once).
fn rewrite_text(old: &str, values: &BTreeMap<&'static str, String>) -> String {
    let mut lines: Vec<String> = old.lines().map(|l| l.trim().to_string()).collect();
    let mut seen: HashMap<&'static str, Vec<usize>> = HashMap::new();
    for (i, l) in lines.iter().enumerate() {
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let Some(args) = crate::resp::split_args(l.as_bytes()) else {
            continue;
        };
        let Some(p) = args
            .first()
            .and_then(|n| param(&String::from_utf8_lossy(n)))
        else {
            continue;
        };
        seen.entry(p.name).or_default().push(i);
    }
    let mut appended = Vec::new();
    for p in PARAMS {
        let value = values.get(p.name).map_or(p.default, String::as_str);
        let mut new = option_lines(p, value).into_iter();
        match seen.get(p.name) {
            Some(at) => {
                for &i in at {
                    lines[i] = new.next().unwrap_or_default();
                }
                appended.extend(new);
            }
            None if value != p.default || ALWAYS_WRITTEN.contains(&p.name) => {
                appended.extend(new);
            }
            None => {}
        }
    }
    if !appended.is_empty() {
        lines.push(String::new());
        if !lines.iter().any(|l| l == REWRITE_MARKER) {
            lines.push(REWRITE_MARKER.to_string());
        }
        lines.extend(appended);
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

impl Config {
    /// The config file the server was started with, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// CONFIG REWRITE: writes the current values into the config file
    /// (through a temporary file renamed over it). Errors are Redis's reply.
    pub fn rewrite(&self) -> Result<(), String> {
        let Some(path) = &self.file else {
            return Err("ERR The server is running without a config file".into());
        };
        let fail = |e: std::io::Error| {
            // Redis prints strerror: drop Rust's " (os error N)".
            let msg = e.to_string();
            let msg = msg.split(" (os error").next().unwrap_or("").to_string();
            format!("ERR Rewriting config file: {msg}")
        };
        let old = match std::fs::read_to_string(path) {
            Ok(t) => t,
            // A file deleted meanwhile is written anew.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(fail(e)),
        };
        let text = {
            let values = self.values.read().unwrap_or_else(|e| e.into_inner());
            rewrite_text(&old, &values)
        };
        let mut tmp = path.clone().into_os_string();
        tmp.push(format!(".tmp-{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            if let Ok(meta) = std::fs::metadata(path) {
                f.set_permissions(meta.permissions())?;
            }
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            fail(e)
        })
    }
}

/// Parses the command line like redis-server: an optional config file path
/// first, then `--name value...` pairs (values up to the next `--name`).
pub fn from_args(args: &[String]) -> Result<Config, String> {
    let mut cfg = Config::default();
    let mut rest = args;
    if let Some(first) = rest.first() {
        if !first.starts_with("--") {
            let text = std::fs::read_to_string(first)
                .map_err(|e| format!("Fatal error, can't open config file '{first}': {e}"))?;
            cfg.load_text(&text)?;
            // Like Redis, remember it absolute: CONFIG REWRITE writes it back.
            cfg.file = Some(std::path::absolute(first).unwrap_or_else(|_| first.into()));
            rest = &rest[1..];
        }
    }
    let mut text = String::new();
    for a in rest {
        if let Some(name) = a.strip_prefix("--") {
            text.push('\n');
            text.push_str(name);
        } else {
            text.push(' ');
            text.push_str(&quote(a));
        }
    }
    cfg.load_text(&text)?;
    Ok(cfg)
}

fn quote(s: &str) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_and_file_forms() {
        let c = from_args(&["--port".into(), "7000".into(), "--save".into(), "".into()]).unwrap();
        assert_eq!(c.get("port"), "7000");
        assert_eq!(c.get("save"), "");
        assert!(from_args(&["--nonsense".into(), "1".into()]).is_err());
        c.load_text("# comment\nmaxclients 5\nlua-time-limit 100\n")
            .unwrap();
        assert_eq!(c.get("maxclients"), "5");
        assert_eq!(c.get("busy-reply-threshold"), "100");
    }

    #[test]
    fn percentiles_like_redis() {
        let p = param("latency-tracking-info-percentiles").unwrap();
        for (given, canonical) in [
            ("50 99 99.9", "50 99 99.9"),
            ("", ""),
            ("0x10 .5 5. +5 1.5e1", "16 0.5 5 5 15"),
            ("12.3456789 99.99999999 1e-10 -0", "12.345679 100 0 -0"),
        ] {
            assert_eq!(validate(p, given).unwrap(), canonical, "{given}");
        }
        let invalid = "Invalid latency-tracking-info-percentiles parameters";
        let range = "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]";
        for (given, err) in [
            ("abc", invalid),
            ("50 abc", invalid),
            (" 50", invalid),
            ("50  99", invalid),
            ("50,99", invalid),
            ("nan", invalid),
            ("--5", invalid),
            ("0x", invalid),
            ("101", range),
            ("-1", range),
            ("inf", range),
            ("100.0000000001", range),
        ] {
            assert_eq!(validate(p, given).unwrap_err(), err, "{given}");
        }
    }

    fn values(pairs: &[(&'static str, &str)]) -> BTreeMap<&'static str, String> {
        let mut v: BTreeMap<&'static str, String> = PARAMS
            .iter()
            .map(|p| (p.name, p.default.to_string()))
            .collect();
        for (k, val) in pairs {
            v.insert(k, val.to_string());
        }
        v
    }

    /// The layouts redis-server 7.0 writes for the same changes (appended
    /// options in our table's order; Redis's follows its hash table).
    #[test]
    fn rewrite_like_redis() {
        let old = "# my comment\nport 7101\nmaxclients 100\ntimeout 0\n\n# another comment\n\
                   hz 10\nsave \"\"\ndaemonize yes\n   # indented comment\nmaxclients 150\n\
                   loglevel notice\n";
        let v = values(&[
            ("port", "7101"),
            ("maxclients", "200"),
            ("save", ""),
            ("daemonize", "yes"),
            ("loglevel", "warning"),
            ("maxmemory", "1048576"),
            ("dir", "/tmp/rw"),
        ]);
        let want = "# my comment\nport 7101\nmaxclients 200\ntimeout 0\n\n# another comment\n\
                    hz 10\nsave \"\"\ndaemonize yes\n# indented comment\n\nloglevel warning\n\n\
                    # Generated by CONFIG REWRITE\ndir \"/tmp/rw\"\n\
                    latency-tracking-info-percentiles 50 99 99.9\nmaxmemory 1mb\n";
        assert_eq!(rewrite_text(old, &v), want);
        // Aliases and upper case are rewritten to the canonical name; a
        // default value replaces the line; save keeps one line per pair.
        let old = "port 7101\nMAXCLIENTS 100\nhash-max-ziplist-entries 100\ntimeout 5\n\
                   save 900 1\nsave 300 10\n";
        let v = values(&[
            ("port", "7101"),
            ("hash-max-listpack-entries", "200"),
            ("save", "100 1 200 2"),
            ("dir", "/d"),
            ("requirepass", "a\"b\\c\nd"),
            ("client-query-buffer-limit", "1536"),
        ]);
        let want = "port 7101\nmaxclients 10000\nhash-max-listpack-entries 200\ntimeout 0\n\
                    save 100 1\nsave 200 2\n\n# Generated by CONFIG REWRITE\ndir \"/d\"\n\
                    requirepass \"a\\\"b\\\\c\\nd\"\n\
                    latency-tracking-info-percentiles 50 99 99.9\nclient-query-buffer-limit 1536\n";
        assert_eq!(rewrite_text(old, &v), want);
        // An existing marker is not repeated; new options go at the end.
        let old = "port 1\n\n# Generated by CONFIG REWRITE\ntimeout 7\n# trailing\n";
        let v = values(&[("port", "1"), ("timeout", "7"), ("hz", "20")]);
        let got = rewrite_text(old, &v);
        let (kept, added) = got.split_at(got.find("\n\n").unwrap() + 2);
        let (kept2, added) = added.split_at(added.find("\n\n").unwrap() + 2);
        assert_eq!(kept, "port 1\n\n");
        assert_eq!(
            kept2,
            "# Generated by CONFIG REWRITE\ntimeout 7\n# trailing\n\n"
        );
        assert!(
            added.starts_with("dir \"") && added.contains("\nhz 20\n"),
            "{added}"
        );
        assert_eq!(got.matches(REWRITE_MARKER).count(), 1);
        // Rewriting the result changes nothing.
        assert_eq!(rewrite_text(&got, &v), got);
        // The text reads back to the same values.
        let c = Config::default();
        c.load_text(&rewrite_text(
            "",
            &values(&[("requirepass", "q\"\\\u{1}x")]),
        ))
        .unwrap();
        assert_eq!(c.get("requirepass"), "q\"\\\u{1}x");
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("512mb"), Some(512 << 20));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("1x"), None);
    }
}
