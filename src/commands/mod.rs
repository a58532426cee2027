//! The command table — the single source of truth for every command — and
//! the dispatcher that reads it.
//!
//! Each group file (`string.rs`, `keys.rs`, …) declares a `COMMANDS` slice of
//! [`CommandSpec`]s next to its handlers. Dispatch, arity checks, `COMMAND`
//! and its subcommands, and later MULTI and scripting checks all read it.

pub mod bitmap;
pub mod client_list;
pub mod command;
pub mod connection;
pub mod counter;
pub mod debug;
pub mod expire;
pub mod function_dump;
pub mod functions;
pub mod geo;
mod geohash;
pub mod hash;
pub mod hll;
pub mod keys;
pub mod list;
pub(crate) mod longdouble;
pub mod multi;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod set;
pub mod sort;
pub mod stream;
pub mod stream_claim;
pub mod stream_group;
pub mod stream_info;
pub mod string;
pub mod zset;
pub mod zset_ops;
pub mod zset_pop;
pub mod zset_range;

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;
use ferrous_storage::{Millis, Version};

use crate::client::Client;
use crate::reply::ReplyBuf;
use crate::server::Server;

/// Command flags, as named in `COMMAND INFO`.
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const SKIP_SLOWLOG: u32 = 1 << 10;
    pub const FAST: u32 = 1 << 11;
    pub const NO_AUTH: u32 = 1 << 12;
    pub const MAY_REPLICATE: u32 = 1 << 13;
    pub const NO_MANDATORY_KEYS: u32 = 1 << 14;
    pub const NO_ASYNC_LOADING: u32 = 1 << 15;
    pub const NO_MULTI: u32 = 1 << 16;
    pub const MOVABLEKEYS: u32 = 1 << 17;
    pub const ALLOW_BUSY: u32 = 1 << 18;

    /// Flag names in the order Redis prints them.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLEKEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// Key specifications: where a command's keys are and what it does to them,
/// as `COMMAND INFO` reports them (its 9th element).
pub mod keyspec {
    /// Read-only access to the key's value.
    pub const RO: u32 = 1 << 0;
    /// Read and write.
    pub const RW: u32 = 1 << 1;
    /// Overwrite: the value is replaced without being read.
    pub const OW: u32 = 1 << 2;
    /// The key is removed.
    pub const RM: u32 = 1 << 3;
    /// User data of the value is returned or used.
    pub const ACCESS: u32 = 1 << 4;
    /// The value is updated.
    pub const UPDATE: u32 = 1 << 5;
    /// Data is added to the value.
    pub const INSERT: u32 = 1 << 6;
    /// Data is deleted from the value.
    pub const DELETE: u32 = 1 << 7;
    /// The argument is not really a key (only its hash slot matters).
    pub const NOT_KEY: u32 = 1 << 8;
    /// The spec may miss some keys.
    pub const INCOMPLETE: u32 = 1 << 9;
    /// The flags depend on the arguments.
    pub const VARIABLE_FLAGS: u32 = 1 << 10;

    /// Flag names in the order Redis prints them.
    pub const NAMES: &[(u32, &str)] = &[
        (RO, "RO"),
        (RW, "RW"),
        (OW, "OW"),
        (RM, "RM"),
        (ACCESS, "access"),
        (UPDATE, "update"),
        (INSERT, "insert"),
        (DELETE, "delete"),
        (NOT_KEY, "not_key"),
        (INCOMPLETE, "incomplete"),
        (VARIABLE_FLAGS, "variable_flags"),
    ];

    /// Where the search for the keys starts.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub enum BeginSearch {
        /// Cannot be told from the arguments.
        Unknown,
        /// At this argument index.
        Index(i32),
        /// After the first argument equal to `keyword` (case-insensitive),
        /// searched from `startfrom` (negative: backwards from the end).
        Keyword {
            /// The keyword.
            keyword: &'static str,
            /// Where the search starts.
            startfrom: i32,
        },
    }

    /// How the keys are found from the start.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub enum FindKeys {
        /// Cannot be told from the arguments.
        Unknown,
        /// Keys up to `lastkey` (relative to the start; negative counts from
        /// the end of the arguments), every `keystep`; with `lastkey` -1,
        /// a `limit` above 1 keeps only 1/limit of the remaining arguments.
        Range {
            /// Last key, relative to the start, or from the end when negative.
            lastkey: i32,
            /// Distance between keys.
            keystep: i32,
            /// Fraction divisor of the remaining arguments (0: none).
            limit: i32,
        },
        /// The number of keys is the argument at `keynumidx` (relative to the
        /// start); keys begin at `firstkey` (relative to the start).
        Keynum {
            /// Index of the key count, relative to the start.
            keynumidx: i32,
            /// First key, relative to the start.
            firstkey: i32,
            /// Distance between keys.
            keystep: i32,
        },
    }

    /// One key specification.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct KeySpec {
        /// Free text shown as `notes`; empty when there is none.
        pub notes: &'static str,
        /// Bitwise or of the flags above.
        pub flags: u32,
        /// Where the search begins.
        pub begin: BeginSearch,
        /// How the keys are found.
        pub find: FindKeys,
    }

    impl KeySpec {
        /// The same spec with `notes`.
        pub const fn notes(self, notes: &'static str) -> KeySpec {
            KeySpec { notes, ..self }
        }
    }

    /// A spec of any shape.
    pub const fn ks(flags: u32, begin: BeginSearch, find: FindKeys) -> KeySpec {
        KeySpec {
            notes: "",
            flags,
            begin,
            find,
        }
    }

    /// The common shape: keys from argument `index` up to `lastkey`, every `step`.
    pub const fn ks_range(flags: u32, index: i32, lastkey: i32, step: i32, limit: i32) -> KeySpec {
        ks(
            flags,
            BeginSearch::Index(index),
            FindKeys::Range {
                lastkey,
                keystep: step,
                limit,
            },
        )
    }

    /// Keys after `keyword` (searched from `startfrom`), up to `lastkey`.
    pub const fn ks_keyword(
        flags: u32,
        keyword: &'static str,
        startfrom: i32,
        lastkey: i32,
        step: i32,
        limit: i32,
    ) -> KeySpec {
        ks(
            flags,
            BeginSearch::Keyword { keyword, startfrom },
            FindKeys::Range {
                lastkey,
                keystep: step,
                limit,
            },
        )
    }

    /// A key count at `index + keynumidx`, keys from `index + firstkey`.
    pub const fn ks_keynum(
        flags: u32,
        index: i32,
        keynumidx: i32,
        firstkey: i32,
        step: i32,
    ) -> KeySpec {
        ks(
            flags,
            BeginSearch::Index(index),
            FindKeys::Keynum {
                keynumidx,
                firstkey,
                keystep: step,
            },
        )
    }
}

pub use keyspec::KeySpec;

/// Keyspace event classes: the letters of `notify-keyspace-events` a command
/// passes to [`Ctx::notify`] (`K`/`E` choose the channels, `A` is an alias).
pub mod events {
    /// `g`: generic commands (DEL, EXPIRE, RENAME, …).
    pub const GENERIC: u32 = 1 << 0;
    /// `$`: string commands.
    pub const STRING: u32 = 1 << 1;
    /// `l`: list commands.
    pub const LIST: u32 = 1 << 2;
    /// `s`: set commands.
    pub const SET: u32 = 1 << 3;
    /// `h`: hash commands.
    pub const HASH: u32 = 1 << 4;
    /// `z`: sorted set commands.
    pub const ZSET: u32 = 1 << 5;
    /// `x`: expired events.
    pub const EXPIRED: u32 = 1 << 6;
    /// `e`: evicted events.
    pub const EVICTED: u32 = 1 << 7;
    /// `t`: stream commands.
    pub const STREAM: u32 = 1 << 8;
    /// `m`: key miss events.
    pub const KEY_MISS: u32 = 1 << 9;
    /// `n`: new key events.
    pub const NEW: u32 = 1 << 10;
}

/// What a command does after its synchronous part, handled by the connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Close the connection after writing the replies (QUIT, CLIENT KILL of self).
    Close,
    /// Sleep this long before going on (DEBUG SLEEP).
    Sleep(std::time::Duration),
    /// Shut the server down.
    Shutdown,
    /// The command blocked the client (see `crate::blocking`): wait for its
    /// reply before running the client's next command.
    Block,
}

/// Everything a handler may touch besides the keyspace.
pub struct Ctx<'a> {
    /// Process-wide state.
    pub srv: &'a Server,
    /// The calling client.
    pub client: &'a mut Client,
    /// Where the reply goes.
    pub out: &'a mut ReplyBuf,
    /// The command's arguments, name included.
    pub args: &'a [Bytes],
    /// The command's clock, fixed for its whole execution.
    pub now: Millis,
    /// Keys changed by this command (for INFO and, later, persistence).
    pub dirty: u64,
    /// A follow-up for the connection.
    pub action: Option<Action>,
    /// Keyspace hits and misses counted by this command, added to the
    /// server's statistics once per batch (no shared cache line per command).
    pub lookups: Lookups,
    /// Set inside MULTI/EXEC and scripts: blocking commands must not block
    /// and answer as if their timeout had expired at once.
    pub no_block: bool,
    /// The script slot of the write transaction this command runs in, given
    /// only to commands that may run a script under the GIL (EVAL, EVALSHA,
    /// FCALL, EXEC; see `crate::exec::runs_scripts`): the script marks itself
    /// there (BUSY, SCRIPT KILL) and polls for a kill.
    pub gil: Option<ferrous_storage::ScriptSlot<'a>>,
}

/// Keyspace lookup counters of a batch (cells, so read paths holding `&Ctx`
/// can count).
#[derive(Default, Clone)]
pub struct Lookups {
    /// Lookups that found the key.
    pub hits: std::cell::Cell<u64>,
    /// Lookups that did not.
    pub misses: std::cell::Cell<u64>,
}

impl Ctx<'_> {
    /// The selected database index.
    #[inline]
    pub fn db(&self) -> usize {
        self.client.db
    }
    /// `proto-max-bulk-len`: the largest string a command may build.
    pub fn max_bulk_len(&self) -> u64 {
        self.srv
            .config
            .hot
            .proto_max_bulk_len
            .load(std::sync::atomic::Ordering::Relaxed)
            .max(0) as u64
    }

    /// Counts a key lookup in the keyspace hit/miss statistics.
    #[inline]
    pub fn lookup(&self, found: bool) {
        let c = if found {
            &self.lookups.hits
        } else {
            &self.lookups.misses
        };
        c.set(c.get() + 1);
    }
    /// Announces keyspace event `event` of class `class` (see [`events`])
    /// for `key` in the current database. Write commands call it after each
    /// change, with Redis's event names (`set`, `lpush`, `del`, `expire`, …).
    /// The event waits in the client until the command's transaction
    /// commits (`crate::notify`); `expired`, `new` and `keymiss` events are
    /// produced by the server itself, not by commands.
    pub fn notify(&mut self, class: u32, event: &'static str, key: &[u8]) {
        let db = self.db();
        self.notify_db(class, event, key, db);
    }

    /// [`Ctx::notify`] for a key of database `db` (MOVE, SWAPDB, …).
    pub fn notify_db(&mut self, class: u32, event: &'static str, key: &[u8], db: usize) {
        self.client.events.at = self.out.mark();
        crate::notify::queue(self.srv, &mut self.client.events, class, event, key, db);
    }

    /// Marks `key` of the current database as possibly able to serve
    /// clients blocked on it (a push to a list, ZADD, XADD, a RENAME or
    /// MOVE onto it, …). Blocked clients are served after the command.
    pub fn key_ready(&mut self, key: &[u8]) {
        let db = self.db();
        self.srv.blocking.signal(db, key);
    }

    /// [`Ctx::key_ready`] for a key of database `db` (MOVE, COPY … DB).
    pub fn key_ready_db(&mut self, key: &[u8], db: usize) {
        self.srv.blocking.signal(db, key);
    }

    /// Writes an error reply.
    pub fn err(&mut self, msg: &str) {
        self.out.error(msg);
    }
}

/// A read command: runs on a snapshot (or on the caller's open transaction).
pub type ReadFn = fn(&mut Ctx<'_>, &Version);
/// A write command: runs on the private version of a write transaction.
pub type WriteFn = fn(&mut Ctx<'_>, &mut Version);
/// A command that touches no keyspace (or reads it through `srv` itself).
pub type ConnFn = fn(&mut Ctx<'_>);

/// How a command is executed.
#[derive(Clone, Copy)]
pub enum Handler {
    /// See [`ReadFn`].
    Read(ReadFn),
    /// See [`WriteFn`].
    Write(WriteFn),
    /// See [`ConnFn`].
    Conn(ConnFn),
    /// A container of subcommands (CLIENT, CONFIG, …): dispatch on argument 1.
    Container,
}

/// One command's metadata and handler.
pub struct CommandSpec {
    /// Lower-case name (`client|list` style names are derived for subcommands).
    pub name: &'static str,
    /// Redis arity: exact count if positive, minimum count if negative.
    pub arity: i32,
    /// Bitwise or of [`flags`].
    pub flags: u32,
    /// Legacy key positions: first key, last key (negative counts from the
    /// end), step. All zero when the command takes no key.
    pub keys: (i32, i32, i32),
    /// The executor.
    pub handler: Handler,
    /// Documentation group (`string`, `generic`, `server`, `connection`, …).
    pub group: &'static str,
    /// One-line summary (COMMAND DOCS).
    pub summary: &'static str,
    /// First Redis version with the command.
    pub since: &'static str,
    /// Time complexity (COMMAND DOCS).
    pub complexity: &'static str,
    /// ACL categories beyond those derived from group and flags, e.g.
    /// `@dangerous`; `-@cat` removes a derived one (see `command::acl_categories`).
    pub acl: &'static [&'static str],
    /// Command tips (`nondeterministic_output`, `request_policy:…`), in
    /// Redis's order.
    pub tips: &'static [&'static str],
    /// Key specifications, in Redis's order.
    pub key_specs: &'static [KeySpec],
    /// Subcommands of a container command.
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    /// Whether the command has flag `f`.
    #[inline]
    pub fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }
}

/// Builds a [`CommandSpec`]; every field must be given.
#[macro_export]
macro_rules! cmd {
    ($name:literal, $arity:expr, [$($flag:ident),*], ($f:expr, $l:expr, $s:expr), $handler:expr,
     $group:literal, $summary:literal, $since:literal, $complexity:literal,
     acl: [$($acl:literal),*], tips: [$($tip:literal),*], ks: [$($ks:expr),*],
     subs: $subs:expr) => {
        $crate::commands::CommandSpec {
            name: $name,
            arity: $arity,
            flags: 0 $(| $crate::commands::flags::$flag)*,
            keys: ($f, $l, $s),
            handler: $handler,
            group: $group,
            summary: $summary,
            since: $since,
            complexity: $complexity,
            acl: &[$($acl),*],
            tips: &[$($tip),*],
            key_specs: &[$($ks),*],
            subcommands: $subs,
        }
    };
}

/// A fast hash for small trusted keys, where SipHash would dominate a
/// per-command lookup: FNV-1a for names (configuration parameters: short,
/// from our own tables), one multiply for the slot map's spec addresses.
#[derive(Default)]
pub struct NameHasher(u64);

impl std::hash::Hasher for NameHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    /// The slot map's keys (spec addresses): one multiply, high bits
    /// folded down so the low bits hashbrown indexes by vary.
    fn write_usize(&mut self, n: usize) {
        let h = (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 32);
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Longest command name [`Table::get`] looks up.
const NAME_MAX: usize = 32;

/// A name's bucket in [`Table::by_shape`]: its length and its first byte's
/// low five bits (the same for a letter's two cases). None when no command
/// can have that name.
fn shape(name: &[u8]) -> Option<usize> {
    let first = *name.first()?;
    (name.len() <= NAME_MAX).then_some(name.len() * 32 + (first & 31) as usize)
}

/// The table: every group's commands, by lower-case name.
pub struct Table {
    /// Top-level commands bucketed by [`shape`]: a lookup compares the two
    /// or three names of one bucket case-insensitively, with no hashing and
    /// no lower-cased copy of the name.
    by_shape: Vec<Vec<&'static CommandSpec>>,
    /// All top-level commands, in declaration order.
    pub all: Vec<&'static CommandSpec>,
    /// Every command and subcommand with its full name (`get`,
    /// `client|list`), subcommands after their container. A spec's position
    /// here is its slot (see [`Table::slot`]).
    pub named: Vec<(String, &'static CommandSpec)>,
    slots: HashMap<usize, usize, std::hash::BuildHasherDefault<NameHasher>>,
}

/// The command table.
pub fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| {
        let groups: &[&'static [CommandSpec]] = &[
            connection::COMMANDS,
            string::COMMANDS,
            counter::COMMANDS,
            bitmap::COMMANDS,
            hll::COMMANDS,
            stream::COMMANDS,
            stream_group::COMMANDS,
            stream_claim::COMMANDS,
            stream_info::COMMANDS,
            keys::COMMANDS,
            list::COMMANDS,
            sort::COMMANDS,
            expire::COMMANDS,
            server::COMMANDS,
            command::COMMANDS,
            zset::COMMANDS,
            zset_range::COMMANDS,
            zset_ops::COMMANDS,
            zset_pop::COMMANDS,
            geo::COMMANDS,
            hash::COMMANDS,
            set::COMMANDS,
            scripting::COMMANDS,
            functions::COMMANDS,
            multi::COMMANDS,
            pubsub::COMMANDS,
        ];
        let all: Vec<&'static CommandSpec> = groups.iter().flat_map(|g| g.iter()).collect();
        let mut by_shape = vec![Vec::new(); (NAME_MAX + 1) * 32];
        for c in &all {
            if let Some(i) = shape(c.name.as_bytes()) {
                by_shape[i].push(*c);
            }
        }
        let mut named = Vec::new();
        for c in &all {
            named.push((c.name.to_string(), *c));
            for s in c.subcommands {
                named.push((format!("{}|{}", c.name, s.name), s));
            }
        }
        let slots = named
            .iter()
            .enumerate()
            .map(|(i, (_, s))| (*s as *const CommandSpec as usize, i))
            .collect();
        Table {
            by_shape,
            all,
            named,
            slots,
        }
    })
}

impl Table {
    /// The position of `spec` in [`Table::named`] (table specs are statics,
    /// so their address identifies them).
    pub fn slot(&self, spec: &'static CommandSpec) -> Option<usize> {
        self.slots
            .get(&(spec as *const CommandSpec as usize))
            .copied()
    }

    /// Looks a command up by name, case-insensitively.
    pub fn get(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        self.by_shape[shape(name)?]
            .iter()
            .copied()
            .find(|c| c.name.as_bytes().eq_ignore_ascii_case(name))
    }
}

/// Finds a subcommand of `parent` case-insensitively.
pub fn subcommand(parent: &'static CommandSpec, name: &[u8]) -> Option<&'static CommandSpec> {
    parent
        .subcommands
        .iter()
        .find(|s| s.name.as_bytes().eq_ignore_ascii_case(name))
}

/// Whether `argc` satisfies `arity`.
#[inline]
pub fn arity_ok(arity: i32, argc: usize) -> bool {
    if arity >= 0 {
        argc == arity as usize
    } else {
        argc >= (-arity) as usize
    }
}

/// Redis's reply to an unknown command name.
pub fn unknown_command_error(args: &[Bytes]) -> String {
    let mut list = String::new();
    for a in &args[1..] {
        if list.len() >= 128 {
            break;
        }
        let room = 128 - list.len();
        let s = String::from_utf8_lossy(cut_at_nul(a));
        let s: String = s.chars().take(room).collect();
        list.push('\'');
        list.push_str(&s);
        list.push_str("' ");
    }
    let name = String::from_utf8_lossy(cut_at_nul(&args[0]));
    let name: String = name.chars().take(128).collect();
    format!("ERR unknown command '{name}', with args beginning with: {list}")
}

/// C's `%s` stops at the first NUL byte; Redis's messages inherit that.
pub fn cut_at_nul(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(i) => &b[..i],
        None => b,
    }
}

/// Resolves `args` to the spec to run (descending into subcommands), or
/// writes the error Redis gives and returns `None`.
pub fn resolve(args: &[Bytes], out: &mut ReplyBuf) -> Option<&'static CommandSpec> {
    let Some(spec) = table().get(&args[0]) else {
        out.error(&unknown_command_error(args));
        return None;
    };
    if !arity_ok(spec.arity, args.len()) {
        out.error(&format!(
            "ERR wrong number of arguments for '{}' command",
            spec.name
        ));
        return None;
    }
    if let Handler::Container = spec.handler {
        // Bare COMMAND (the only container of arity -1) runs the container.
        let Some(sub_name) = args.get(1) else {
            return Some(spec);
        };
        let Some(sub) = subcommand(spec, sub_name) else {
            let s = String::from_utf8_lossy(cut_at_nul(&args[1]));
            let s: String = s.chars().take(128).collect();
            out.error(&format!(
                "ERR unknown subcommand '{}'. Try {} HELP.",
                s,
                spec.name.to_ascii_uppercase()
            ));
            return None;
        };
        if !arity_ok(sub.arity, args.len()) {
            out.error(&format!(
                "ERR wrong number of arguments for '{}|{}' command",
                spec.name, sub.name
            ));
            return None;
        }
        return Some(sub);
    }
    Some(spec)
}

/// Parses an integer argument like Redis's `getLongLongFromObject`.
pub fn int_arg(b: &[u8]) -> Result<i64, &'static str> {
    ferrous_storage::value::parse_i64(b).ok_or(crate::errors::NOT_INTEGER)
}

/// Case-insensitive comparison of an argument with an option name.
#[inline]
pub fn is(arg: &[u8], opt: &str) -> bool {
    arg.eq_ignore_ascii_case(opt.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_found_by_its_name_in_any_case_and_nothing_else_is() {
        let t = table();
        for c in &t.all {
            let lower = c.name.as_bytes().to_vec();
            let upper = c.name.to_ascii_uppercase().into_bytes();
            let mixed: Vec<u8> = lower
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    if i % 2 == 0 {
                        b.to_ascii_uppercase()
                    } else {
                        *b
                    }
                })
                .collect();
            for name in [&lower, &upper, &mixed] {
                let found = t.get(name).map(|s| s.name);
                assert_eq!(found, Some(c.name), "{}", String::from_utf8_lossy(name));
            }
            // A name one byte longer or shorter, or with its last byte
            // changed, is another command or none.
            let mut longer = lower.clone();
            longer.push(b'x');
            let mut changed = lower.clone();
            *changed.last_mut().unwrap() ^= 0x01;
            for other in [&longer, &changed, &lower[..lower.len() - 1].to_vec()] {
                if let Some(s) = t.get(other) {
                    assert!(s.name.as_bytes().eq_ignore_ascii_case(other));
                }
            }
        }
        assert!(t.get(b"").is_none());
        assert!(t.get(&[b'g'; 40]).is_none());
        assert!(t.get(b"g\xffet").is_none());
        assert!(t.get(b"\x07et").is_none());
    }
}
