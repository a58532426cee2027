//! Configuration: the table of known parameters with their defaults, parsing
//! of a redis.conf-style file and `--name value` flags, and CONFIG GET/SET
//! validation with Redis's messages.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::RwLock;

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
    p(
        "proto-max-bulk-len",
        "536870912",
        Kind::Mem(1 << 20, i64::MAX),
        true,
    ),
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
    p("pidfile", "", Kind::Str, false),
    p("active-expire-effort", "1", Kind::Int(1, 10), true),
    p("lazyfree-lazy-user-flush", "no", YES, true),
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
];

/// Looks a parameter up by name or alias, case-insensitively.
pub fn param(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| {
        p.name.eq_ignore_ascii_case(name) || p.alias.is_some_and(|a| a.eq_ignore_ascii_case(name))
    })
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
        };
        c.refresh_hot();
        c
    }
}

impl Config {
    fn refresh_hot(&self) {
        let h = &self.hot;
        h.proto_max_bulk_len
            .store(self.get_i64("proto-max-bulk-len"), Ordering::Relaxed);
        h.query_buffer_limit
            .store(self.get_i64("client-query-buffer-limit"), Ordering::Relaxed);
        h.timeout.store(self.get_i64("timeout"), Ordering::Relaxed);
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
        self.get(name).parse().unwrap_or(0)
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
        self.values
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(p.name, v);
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
            values.insert(n, clamp_startup(n, v));
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
                    out.insert(name, values.get(p.name).cloned().unwrap_or_default());
                }
            }
        }
        for p in PARAMS {
            for name in std::iter::once(p.name).chain(p.alias) {
                if patterns.iter().any(|pat| {
                    pat.iter().any(|c| matches!(c, b'*' | b'?' | b'[' | b'\\'))
                        && crate::glob::matches(pat, name.as_bytes(), true)
                }) {
                    out.insert(
                        name.to_string(),
                        values.get(p.name).cloned().unwrap_or_default(),
                    );
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

/// Parses the command line like redis-server: an optional config file path
/// first, then `--name value...` pairs (values up to the next `--name`).
pub fn from_args(args: &[String]) -> Result<Config, String> {
    let cfg = Config::default();
    let mut rest = args;
    if let Some(first) = rest.first() {
        if !first.starts_with("--") {
            let text = std::fs::read_to_string(first)
                .map_err(|e| format!("Fatal error, can't open config file '{first}': {e}"))?;
            cfg.load_text(&text)?;
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
    fn memory_units() {
        assert_eq!(parse_memory("512mb"), Some(512 << 20));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("1x"), None);
    }
}
