//! COMMAND and its subcommands, generated from the command table: nothing
//! here lists commands by hand (tips and key specs included; COMMAND GETKEYS
//! reads the key specs). Also the ACL categories derived from a spec.

use bytes::Bytes;

use super::keyspec::{self, BeginSearch, FindKeys, KeySpec};

#[path = "docs_args.rs"]
pub mod docs_args;
use super::{flags, is, table, CommandSpec, Ctx, Handler::*};
use crate::cmd;
use crate::errors;
use crate::reply::ReplyBuf;

/// The COMMAND command.
pub static COMMANDS: &[CommandSpec] = &[cmd!("command", -1, [LOADING, STALE], (0, 0, 0),
    Container, "server", "Get array of Redis command details", "2.8.13",
    "O(N) where N is the total number of Redis commands", acl: ["@connection"],
    tips: ["nondeterministic_output_order"], ks: [], subs: COMMAND_SUBCOMMANDS)];

static COMMAND_SUBCOMMANDS: &[CommandSpec] = &[
    cmd!("count", 2, [LOADING, STALE], (0, 0, 0), Conn(command_count), "server",
        "Get total number of Redis commands", "2.8.13", "O(1)", acl: ["@connection"],
        tips: [], ks: [], subs: &[]),
    cmd!("info", -2, [LOADING, STALE], (0, 0, 0), Conn(command_info), "server",
        "Get array of specific Redis command details, or all when no argument is given.",
        "2.8.13", "O(N) where N is the number of commands to look up",
        acl: ["@connection"], tips: ["nondeterministic_output_order"], ks: [], subs: &[]),
    cmd!("docs", -2, [LOADING, STALE], (0, 0, 0), Conn(command_docs), "server",
        "Get array of specific Redis command documentation", "7.0.0",
        "O(N) where N is the number of commands to look up", acl: ["@connection"],
        tips: ["nondeterministic_output_order"], ks: [], subs: &[]),
    cmd!("list", -2, [LOADING, STALE], (0, 0, 0), Conn(command_list), "server",
        "Get an array of Redis command names", "7.0.0",
        "O(N) where N is the total number of Redis commands", acl: ["@connection"],
        tips: ["nondeterministic_output_order"], ks: [], subs: &[]),
    cmd!("getkeys", -4, [LOADING, STALE], (0, 0, 0), Conn(command_getkeys), "server",
        "Extract keys given a full Redis command", "2.8.13",
        "O(N) where N is the number of arguments to the command", acl: ["@connection"],
        tips: [], ks: [], subs: &[]),
    cmd!("getkeysandflags", -4, [LOADING, STALE], (0, 0, 0), Conn(command_getkeysandflags),
        "server", "Extract keys and access flags given a full Redis command", "7.0.0",
        "O(N) where N is the number of arguments to the command", acl: ["@connection"],
        tips: [], ks: [], subs: &[]),
    cmd!("help", 2, [LOADING, STALE], (0, 0, 0), Conn(command_help), "server",
        "Show helpful text about the different subcommands", "5.0.0", "O(1)",
        acl: ["@connection"], tips: [], ks: [], subs: &[]),
];

/// ACL category names in the order Redis prints them.
pub const ACL_CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// The category a documentation group implies for its (non-container)
/// commands, as Redis's command definitions have it.
fn group_category(group: &str) -> Option<&'static str> {
    Some(match group {
        "generic" => "keyspace",
        "string" => "string",
        "list" => "list",
        "set" => "set",
        "sorted-set" => "sortedset",
        "hash" => "hash",
        "pubsub" => "pubsub",
        "transactions" => "transaction",
        "connection" => "connection",
        "scripting" => "scripting",
        "hyperloglog" => "hyperloglog",
        "geo" => "geo",
        "stream" => "stream",
        "bitmap" => "bitmap",
        _ => return None,
    })
}

/// A spec's ACL categories, in Redis's order (without the `@`).
///
/// Derived like Redis: `write`→write, `readonly`→read (not for scripting
/// commands), `admin`→admin+dangerous, `pubsub`→pubsub, `fast`→fast else
/// slow, `blocking`→blocking, plus the group's category for commands that are
/// not containers, plus the spec's `acl` extras. An extra written `-@cat`
/// removes a derived category (SORT is `generic` but not `@keyspace`).
pub fn acl_categories(spec: &CommandSpec) -> Vec<&'static str> {
    let mut set: Vec<&'static str> = Vec::new();
    let scripting = spec.group == "scripting" || spec.acl.contains(&"@scripting");
    if spec.has(flags::WRITE) {
        set.push("write");
    }
    if spec.has(flags::READONLY) && !scripting {
        set.push("read");
    }
    if spec.has(flags::ADMIN) {
        set.push("admin");
        set.push("dangerous");
    }
    if spec.has(flags::PUBSUB) {
        set.push("pubsub");
    }
    if spec.has(flags::FAST) {
        set.push("fast");
    } else {
        set.push("slow");
    }
    if spec.has(flags::BLOCKING) {
        set.push("blocking");
    }
    if spec.subcommands.is_empty() {
        if let Some(c) = group_category(spec.group) {
            set.push(c);
        }
    }
    for extra in spec.acl {
        if let Some(c) = extra.strip_prefix("-@") {
            set.retain(|x| *x != c);
        } else if let Some(c) = extra.strip_prefix('@') {
            if let Some(known) = ACL_CATEGORIES.iter().find(|k| **k == c) {
                set.push(known);
            }
        }
    }
    ACL_CATEGORIES
        .iter()
        .copied()
        .filter(|c| set.contains(c))
        .collect()
}

/// Looks up `name` or `container|sub`, case-insensitively.
fn lookup(name: &[u8]) -> Option<(String, &'static CommandSpec)> {
    let lower = name.to_ascii_lowercase();
    match lower.iter().position(|&c| c == b'|') {
        None => table().get(&lower).map(|c| (c.name.to_string(), c)),
        Some(i) => {
            let parent = table().get(&lower[..i])?;
            let sub = super::subcommand(parent, &lower[i + 1..])?;
            Some((format!("{}|{}", parent.name, sub.name), sub))
        }
    }
}

fn command_count(ctx: &mut Ctx<'_>) {
    ctx.out.int(table().all.len() as i64);
}

/// Writes one command's COMMAND INFO entry.
fn write_info(ctx: &mut Ctx<'_>, name: &str, spec: &'static CommandSpec) {
    let out = &mut *ctx.out;
    out.array(10);
    out.bulk(name.as_bytes());
    out.int(spec.arity as i64);
    let fl: Vec<&str> = flags::NAMES
        .iter()
        .filter(|(f, _)| spec.has(*f))
        .map(|(_, n)| *n)
        .collect();
    out.set(fl.len());
    for f in fl {
        out.status(f);
    }
    out.int(spec.keys.0 as i64);
    out.int(spec.keys.1 as i64);
    out.int(spec.keys.2 as i64);
    let cats = acl_categories(spec);
    out.set(cats.len());
    for c in cats {
        out.status(&format!("@{c}"));
    }
    out.set(spec.tips.len());
    for t in spec.tips {
        out.bulk(t.as_bytes());
    }
    out.set(spec.key_specs.len());
    for ks in spec.key_specs {
        write_key_spec(out, ks);
    }
    if spec.subcommands.is_empty() {
        out.set(0);
    } else {
        out.array(spec.subcommands.len());
        for s in spec.subcommands {
            write_info(ctx, &format!("{name}|{}", s.name), s);
        }
    }
}

/// Writes one key specification as Redis lays it out in COMMAND INFO:
/// `notes` (only when present), `flags`, `begin_search`, `find_keys`.
fn write_key_spec(out: &mut ReplyBuf, ks: &KeySpec) {
    out.map(3 + !ks.notes.is_empty() as usize);
    if !ks.notes.is_empty() {
        out.bulk(b"notes");
        out.bulk(ks.notes.as_bytes());
    }
    out.bulk(b"flags");
    let names: Vec<&str> = keyspec::NAMES
        .iter()
        .filter(|(f, _)| ks.flags & f != 0)
        .map(|(_, n)| *n)
        .collect();
    out.set(names.len());
    for n in names {
        out.status(n);
    }
    out.bulk(b"begin_search");
    out.map(2);
    out.bulk(b"type");
    match ks.begin {
        BeginSearch::Unknown => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map(0);
        }
        BeginSearch::Index(i) => {
            out.bulk(b"index");
            out.bulk(b"spec");
            out.map(1);
            out.bulk(b"index");
            out.int(i as i64);
        }
        BeginSearch::Keyword { keyword, startfrom } => {
            out.bulk(b"keyword");
            out.bulk(b"spec");
            out.map(2);
            out.bulk(b"keyword");
            out.bulk(keyword.as_bytes());
            out.bulk(b"startfrom");
            out.int(startfrom as i64);
        }
    }
    out.bulk(b"find_keys");
    out.map(2);
    out.bulk(b"type");
    let (kind, fields): (&[u8], [(&[u8], i32); 3]) = match ks.find {
        FindKeys::Unknown => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map(0);
            return;
        }
        FindKeys::Range {
            lastkey,
            keystep,
            limit,
        } => (
            b"range",
            [
                (b"lastkey", lastkey),
                (b"keystep", keystep),
                (b"limit", limit),
            ],
        ),
        FindKeys::Keynum {
            keynumidx,
            firstkey,
            keystep,
        } => (
            b"keynum",
            [
                (b"keynumidx", keynumidx),
                (b"firstkey", firstkey),
                (b"keystep", keystep),
            ],
        ),
    };
    out.bulk(kind);
    out.bulk(b"spec");
    out.map(3);
    for (k, v) in fields {
        out.bulk(k);
        out.int(v as i64);
    }
}

fn command_info(ctx: &mut Ctx<'_>) {
    if ctx.args.len() == 2 {
        let all = &table().all;
        ctx.out.array(all.len());
        for c in all {
            write_info(ctx, c.name, c);
        }
        return;
    }
    let args = ctx.args;
    ctx.out.array(args.len() - 2);
    for a in &args[2..] {
        match lookup(a) {
            Some((name, spec)) => write_info(ctx, &name, spec),
            None => ctx.out.null(),
        }
    }
}

/// Writes one command's COMMAND DOCS map (without the name).
fn write_docs(ctx: &mut Ctx<'_>, name: &str, spec: &'static CommandSpec) {
    let subs = !spec.subcommands.is_empty();
    // MONITOR has no documented complexity: the field is left out.
    let fields: Vec<(&str, &str)> = [
        ("summary", spec.summary),
        ("since", spec.since),
        ("group", spec.group),
        ("complexity", spec.complexity),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .collect();
    let extra = docs_args::fields(name).len();
    ctx.out.map(fields.len() + extra + subs as usize);
    for (k, v) in fields {
        ctx.out.bulk(k.as_bytes());
        ctx.out.bulk(v.as_bytes());
    }
    // doc_flags, deprecation, history and arguments: from the generated data.
    docs_args::write(ctx.out, name);
    if subs {
        ctx.out.bulk(b"subcommands");
        ctx.out.map(spec.subcommands.len());
        for s in spec.subcommands {
            let full = format!("{name}|{}", s.name);
            ctx.out.bulk(full.as_bytes());
            write_docs(ctx, &full, s);
        }
    }
}

fn command_docs(ctx: &mut Ctx<'_>) {
    let found: Vec<(String, &'static CommandSpec)> = if ctx.args.len() == 2 {
        table()
            .all
            .iter()
            .map(|c| (c.name.to_string(), *c))
            .collect()
    } else {
        ctx.args[2..].iter().filter_map(|a| lookup(a)).collect()
    };
    ctx.out.map(found.len());
    for (name, spec) in found {
        ctx.out.bulk(name.as_bytes());
        write_docs(ctx, &name, spec);
    }
}

fn command_list(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let all = &table().named;
    let names: Vec<&str> = match args.len() {
        2 => all.iter().map(|(n, _)| n.as_str()).collect(),
        5 if is(&args[2], "filterby") => {
            let val = &args[4];
            if is(&args[3], "module") {
                // No modules: nothing belongs to one.
                Vec::new()
            } else if is(&args[3], "aclcat") {
                let cat = String::from_utf8_lossy(val).to_ascii_lowercase();
                all.iter()
                    .filter(|(_, s)| acl_categories(s).contains(&cat.as_str()))
                    .map(|(n, _)| n.as_str())
                    .collect()
            } else if is(&args[3], "pattern") {
                all.iter()
                    .filter(|(n, _)| crate::glob::matches(val, n.as_bytes(), true))
                    .map(|(n, _)| n.as_str())
                    .collect()
            } else {
                return ctx.err(errors::SYNTAX);
            }
        }
        _ => return ctx.err(errors::SYNTAX),
    };
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
}

/// The keys of `args` (a full command line), found with its key
/// specifications, or Redis's error text.
pub fn get_keys(args: &[Bytes]) -> Result<Vec<Bytes>, &'static str> {
    Ok(get_keys_and_flags(args)?
        .into_iter()
        .map(|(k, _)| k)
        .collect())
}

/// The keys of `args` with the key-spec flags (`keyspec::RO`, `ACCESS`…)
/// each is used with, as `COMMAND GETKEYSANDFLAGS` reports them, or Redis's
/// error text.
pub fn get_keys_and_flags(args: &[Bytes]) -> Result<Vec<(Bytes, u32)>, &'static str> {
    let Some(resolved) = lookup_for_args(args) else {
        return Err("ERR Invalid command specified");
    };
    if !super::arity_ok(resolved.arity, args.len()) {
        return Err("ERR Invalid number of arguments specified for command");
    }
    // Specs of things that are not keys (SPUBLISH's shard channel) are not
    // reported; a command with only those has no keys.
    let specs = || {
        resolved
            .key_specs
            .iter()
            .filter(|ks| ks.flags & keyspec::NOT_KEY == 0)
    };
    let mut keys = Vec::new();
    let mut bad_keynum = false;
    for ks in specs() {
        // A spec starting past the arguments (PFMERGE dst: its sources)
        // makes Redis reject the whole call.
        if let BeginSearch::Index(i) = ks.begin {
            if i as usize >= args.len() && ks.flags & keyspec::INCOMPLETE == 0 {
                return Err("ERR Invalid arguments specified for command");
            }
        }
        let flags = variable_flags(resolved, ks.flags, args);
        let pos = key_positions(ks, args);
        // A key count that cannot be used makes Redis fall back to the
        // command's own key finder, which then finds no key at all.
        bad_keynum |= pos.is_empty() && matches!(ks.find, FindKeys::Keynum { .. });
        for i in pos {
            keys.push((args[i].clone(), flags));
        }
    }
    if resolved.name == "sort" {
        if let Some(d) = sort_store(args) {
            let store_flags = resolved.key_specs.last().map_or(0, |ks| ks.flags);
            keys.push((args[d].clone(), store_flags));
        }
    }
    if bad_keynum && resolved.has(super::flags::MOVABLEKEYS) {
        keys.clear();
    }
    if keys.is_empty() {
        // Redis: "no key arguments" only for commands without key specs;
        // a keyed command whose arguments name none (LMPOP with a bad
        // numkeys) has invalid arguments.
        if specs().next().is_none() {
            return Err("ERR The command has no key arguments");
        }
        if resolved.has(super::flags::NO_MANDATORY_KEYS) {
            return Ok(keys);
        }
        return Err("ERR Invalid arguments specified for command");
    }
    Ok(keys)
}

/// SORT's destination: STORE may appear anywhere (its key spec is
/// "unknown"), so it is the argument after the last STORE, skipping the
/// arguments of LIMIT, BY and GET.
fn sort_store(args: &[Bytes]) -> Option<usize> {
    let mut i = 2;
    let mut dest = None;
    while i < args.len() {
        let a = &args[i];
        if is(a, "limit") {
            i += 2;
        } else if is(a, "get") || is(a, "by") {
            i += 1;
        } else if is(a, "store") && i + 1 < args.len() {
            dest = Some(i + 1);
            i += 1;
        }
        i += 1;
    }
    dest
}

/// The flags a key spec marked `variable_flags` has on this command line:
/// SET only reads the old value with GET, BITFIELD only writes with SET or
/// INCRBY (or a malformed operation).
fn variable_flags(spec: &CommandSpec, flags: u32, args: &[Bytes]) -> u32 {
    use keyspec::{ACCESS, OW, RO, RW, UPDATE, VARIABLE_FLAGS};
    if flags & VARIABLE_FLAGS == 0 {
        return flags;
    }
    match spec.name {
        "set" => {
            if args.iter().skip(3).any(|a| is(a, "get")) {
                RW | ACCESS | UPDATE
            } else {
                OW | UPDATE
            }
        }
        "bitfield" => {
            let mut i = 2;
            while i < args.len() {
                let rest = args.len() - i - 1;
                if is(&args[i], "get") && rest >= 2 {
                    i += 3;
                } else if is(&args[i], "overflow") && rest >= 1 {
                    i += 2;
                } else {
                    return RW | ACCESS | UPDATE;
                }
            }
            RO | ACCESS
        }
        _ => flags & !VARIABLE_FLAGS,
    }
}

/// The argument indexes one key spec designates in `args` (all below
/// `args.len()`); none when the spec cannot be applied to these arguments.
pub fn key_positions(ks: &KeySpec, args: &[Bytes]) -> Vec<usize> {
    let argc = args.len() as i64;
    let start = match ks.begin {
        BeginSearch::Unknown => return Vec::new(),
        BeginSearch::Index(i) => i as i64,
        BeginSearch::Keyword { keyword, startfrom } => {
            let from = startfrom as i64;
            let found = if from >= 0 {
                (from..argc).find(|&i| is(&args[i as usize], keyword))
            } else {
                (1..=argc + from)
                    .rev()
                    .find(|&i| is(&args[i as usize], keyword))
            };
            match found {
                Some(i) => i + 1,
                None => return Vec::new(),
            }
        }
    };
    if start <= 0 || start >= argc {
        return Vec::new();
    }
    let (first, last, step) = match ks.find {
        FindKeys::Unknown => return Vec::new(),
        FindKeys::Range {
            lastkey,
            keystep,
            limit,
        } => {
            let last = if lastkey >= 0 {
                start + lastkey as i64
            } else if limit > 1 {
                start + (argc - start) / limit as i64 + lastkey as i64
            } else {
                argc + lastkey as i64
            };
            (start, last, keystep as i64)
        }
        FindKeys::Keynum {
            keynumidx,
            firstkey,
            keystep,
        } => {
            let Some(n) = args
                .get((start + keynumidx as i64) as usize)
                .and_then(|a| ferrous_storage::value::parse_i64(a))
            else {
                return Vec::new();
            };
            let first = start + firstkey as i64;
            let Some(last) = n
                .checked_sub(1)
                .and_then(|k| k.checked_mul(keystep as i64))
                .and_then(|k| k.checked_add(first))
            else {
                return Vec::new();
            };
            (first, last, keystep as i64)
        }
    };
    if step <= 0 || last >= argc {
        return Vec::new();
    }
    (first..=last)
        .step_by(step as usize)
        .map(|i| i as usize)
        .collect()
}

/// The spec a full command line runs (descending into a container).
fn lookup_for_args(args: &[Bytes]) -> Option<&'static CommandSpec> {
    let spec = table().get(args.first()?)?;
    if spec.subcommands.is_empty() {
        return Some(spec);
    }
    match args.get(1) {
        Some(sub) => super::subcommand(spec, sub),
        None => Some(spec),
    }
}

fn command_getkeysandflags(ctx: &mut Ctx<'_>) {
    match get_keys_and_flags(&ctx.args[2..]) {
        Ok(keys) => {
            ctx.out.array(keys.len());
            for (k, f) in keys {
                ctx.out.array(2);
                ctx.out.bulk(&k);
                let names: Vec<&str> = keyspec::NAMES
                    .iter()
                    .filter(|(bit, _)| f & bit != 0)
                    .map(|(_, n)| *n)
                    .collect();
                ctx.out.set(names.len());
                for n in names {
                    ctx.out.status(n);
                }
            }
        }
        Err(e) => ctx.err(e),
    }
}

fn command_getkeys(ctx: &mut Ctx<'_>) {
    match get_keys(&ctx.args[2..]) {
        Ok(keys) => {
            ctx.out.array(keys.len());
            for k in keys {
                ctx.out.bulk(&k);
            }
        }
        Err(e) => ctx.err(e),
    }
}

/// Writes a HELP reply: the header line, the body, then the HELP entry.
pub fn help_reply(ctx: &mut Ctx<'_>, name: &str, lines: &[&str]) {
    ctx.out.array(lines.len() + 3);
    ctx.out.status(&format!(
        "{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for l in lines {
        ctx.out.status(l);
    }
    ctx.out.status("HELP");
    ctx.out.status("    Prints this help.");
}

fn command_help(ctx: &mut Ctx<'_>) {
    help_reply(
        ctx,
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    );
}

/// Bare `COMMAND`: the details of every command (a container dispatches
/// here when called without a subcommand).
pub fn command_all(ctx: &mut Ctx<'_>) {
    let all = &table().all;
    ctx.out.array(all.len());
    for c in all {
        write_info(ctx, c.name, c);
    }
}

/// Runs a container called without a subcommand (only COMMAND allows it).
pub fn bare_container(spec: &'static CommandSpec, ctx: &mut Ctx<'_>) {
    if spec.name == "command" {
        command_all(ctx);
    } else {
        ctx.err("ERR internal error: container command");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::keyspec::*;

    fn args(line: &str) -> Vec<Bytes> {
        line.split(' ')
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    /// The shapes no command of ours uses yet, laid out as Redis 7.0.15
    /// lays out GEORADIUS's STORE spec and ZUNIONSTORE's keynum spec.
    #[test]
    fn keyword_and_keynum_layout() {
        let keyword = ks_keyword(OW | UPDATE, "STORE", 6, 0, 1, 0);
        let keynum = ks_keynum(RO | ACCESS, 2, 0, 1, 1);
        let mut out = ReplyBuf::new(false);
        write_key_spec(&mut out, &keyword);
        write_key_spec(&mut out, &keynum);
        let want: &[u8] = b"*6\r\n$5\r\nflags\r\n*2\r\n+OW\r\n+update\r\n$12\r\nbegin_search\r\n\
*4\r\n$4\r\ntype\r\n$7\r\nkeyword\r\n$4\r\nspec\r\n*4\r\n$7\r\nkeyword\r\n$5\r\nSTORE\r\n\
$9\r\nstartfrom\r\n:6\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n\
*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n\
*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n\
$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:2\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n\
$6\r\nkeynum\r\n$4\r\nspec\r\n*6\r\n$9\r\nkeynumidx\r\n:0\r\n$8\r\nfirstkey\r\n:1\r\n\
$7\r\nkeystep\r\n:1\r\n";
        assert_eq!(out.buf, want);
        let unknown = ks(RO | ACCESS, BeginSearch::Unknown, FindKeys::Unknown).notes("why");
        let mut out = ReplyBuf::new(true);
        write_key_spec(&mut out, &unknown);
        let want: &[u8] = b"%4\r\n$5\r\nnotes\r\n$3\r\nwhy\r\n$5\r\nflags\r\n~2\r\n+RO\r\n\
+access\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$7\r\nunknown\r\n$4\r\nspec\r\n%0\r\n\
$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$7\r\nunknown\r\n$4\r\nspec\r\n%0\r\n";
        assert_eq!(out.buf, want);
    }

    /// Key positions of the other shapes, as Redis's COMMAND GETKEYS gives
    /// them for ZUNIONSTORE, XREAD and EVAL.
    #[test]
    fn keyword_keynum_positions() {
        let keynum = ks_keynum(RO | ACCESS, 2, 0, 1, 1);
        let a = args("zunionstore dst 2 a b weights 1 2");
        assert_eq!(key_positions(&keynum, &a), vec![3, 4]);
        let streams = ks_keyword(RO | ACCESS, "STREAMS", 1, -1, 1, 2);
        let a = args("xread count 1 streams k1 k2 0 0");
        assert_eq!(key_positions(&streams, &a), vec![4, 5]);
        let a = args("xread streams k1 k2 k3 0 0");
        assert_eq!(key_positions(&streams, &a), vec![2, 3]);
        let a = args("xread count 1");
        assert!(key_positions(&streams, &a).is_empty());
        let eval = ks_keynum(RW | ACCESS | UPDATE, 2, 0, 1, 1);
        assert_eq!(key_positions(&eval, &args("eval s 2 a b c")), vec![3, 4]);
        // A key count past the arguments or not a number finds nothing.
        assert!(key_positions(&eval, &args("eval s 9 a")).is_empty());
        assert!(key_positions(&eval, &args("eval s x a")).is_empty());
        assert!(key_positions(&eval, &args("eval s -5 a")).is_empty());
        // SORT's STORE, as Redis's COMMAND GETKEYS finds it.
        assert_eq!(sort_store(&args("sort a store b")), Some(3));
        assert_eq!(sort_store(&args("sort a store b STORE c")), Some(5));
        assert_eq!(sort_store(&args("sort a limit 0 1 2 store b")), Some(7));
        assert_eq!(sort_store(&args("sort a limit store b")), None);
        assert_eq!(sort_store(&args("sort a get store store c")), Some(5));
        assert_eq!(sort_store(&args("sort a by store")), None);
        assert_eq!(sort_store(&args("sort a store")), None);
        let back = ks_keyword(RW | ACCESS | DELETE, "KEYS", -2, -1, 1, 0);
        let a = args("migrate h p k 0 5 keys a b");
        assert_eq!(key_positions(&back, &a), vec![7, 8]);
    }
}
