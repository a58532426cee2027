//! The documentation fields of `COMMAND DOCS` that the command table does not
//! hold: doc_flags, deprecated_since, replaced_by, history and arguments.
//!
//! They live in `docs_args.txt` (generated from the real redis-server by
//! `scripts/gen-command-docs.py`, format described there), keyed by full
//! command name, for every Redis command — so a command added to the table
//! later is documented without touching its `cmd!` spec. The file is parsed
//! once, borrowing every string from the embedded text.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::reply::ReplyBuf;

static TEXT: &str = include_str!("docs_args.txt");

/// One documentation field after summary/since/group/complexity.
#[derive(Debug)]
pub enum Field {
    /// `doc_flags`: a set of status names.
    DocFlags(Vec<&'static str>),
    /// `deprecated_since` / `replaced_by`: a name and a string.
    Text(&'static str, &'static str),
    /// `history`: (version, description) pairs.
    History(Vec<(&'static str, &'static str)>),
    /// `arguments`.
    Arguments(Vec<Arg>),
}

/// One argument: its fields in Redis's order, then its sub-arguments.
#[derive(Debug, Default)]
pub struct Arg {
    fields: Vec<(&'static str, &'static str)>,
    args: Vec<Arg>,
}

/// The extra documentation fields of every command, by full name
/// (`set`, `client|list`).
fn docs() -> &'static HashMap<&'static str, Vec<Field>> {
    static DOCS: OnceLock<HashMap<&'static str, Vec<Field>>> = OnceLock::new();
    DOCS.get_or_init(|| parse(TEXT))
}

/// The extra fields of `name` (empty for a command Redis documents without
/// any, or does not know).
pub fn fields(name: &str) -> &'static [Field] {
    docs().get(name).map(Vec::as_slice).unwrap_or(&[])
}

/// Every command name the data covers.
pub fn names() -> impl Iterator<Item = &'static str> {
    docs().keys().copied()
}

/// Parses the data file. Malformed lines are skipped (the file is
/// generated, and a test renders every entry against the real server).
fn parse(text: &'static str) -> HashMap<&'static str, Vec<Field>> {
    let mut map: HashMap<&'static str, Vec<Field>> = HashMap::new();
    let mut current: Option<&'static str> = None;
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let body = line.trim_start_matches(' ');
        let depth = (line.len() - body.len()) / 2;
        if depth == 0 {
            current = Some(body);
            map.entry(body).or_default();
            continue;
        }
        let Some(fields) = current.and_then(|c| map.get_mut(c)) else {
            continue;
        };
        let (key, rest) = body.split_once(' ').unwrap_or((body, ""));
        match key {
            "doc_flags" => fields.push(Field::DocFlags(rest.split(',').collect())),
            "history" => {
                let entry = rest.split_once(' ').unwrap_or((rest, ""));
                match fields.last_mut() {
                    Some(Field::History(h)) => h.push(entry),
                    _ => fields.push(Field::History(vec![entry])),
                }
            }
            "arg" => {
                let arg = Arg {
                    fields: rest
                        .split(' ')
                        .filter_map(|w| w.split_once('='))
                        .map(|(k, v)| (k, if v == "\"\"" { "" } else { v }))
                        .collect(),
                    args: Vec::new(),
                };
                if !matches!(fields.last(), Some(Field::Arguments(_))) {
                    fields.push(Field::Arguments(Vec::new()));
                }
                if let Some(Field::Arguments(args)) = fields.last_mut() {
                    push_arg(args, depth, arg);
                }
            }
            _ => fields.push(Field::Text(key, rest)),
        }
    }
    map
}

/// Adds an argument read at indentation `depth`: depth 1 is a top-level
/// argument, a deeper one belongs to the last argument one level up.
fn push_arg(list: &mut Vec<Arg>, depth: usize, arg: Arg) {
    if depth > 1 {
        if let Some(parent) = list.last_mut() {
            return push_arg(&mut parent.args, depth - 1, arg);
        }
    }
    list.push(arg);
}

/// Writes the fields of `name` as map entries (key, value pairs): the
/// caller's map header counts `fields(name).len()` of them.
pub fn write(out: &mut ReplyBuf, name: &str) {
    for f in fields(name) {
        match f {
            Field::DocFlags(flags) => {
                out.bulk(b"doc_flags");
                write_statuses(out, flags.iter().copied());
            }
            Field::Text(k, v) => {
                out.bulk(k.as_bytes());
                out.bulk(v.as_bytes());
            }
            Field::History(h) => {
                out.bulk(b"history");
                out.set(h.len());
                for (version, text) in h {
                    out.array(2);
                    out.bulk(version.as_bytes());
                    out.bulk(text.as_bytes());
                }
            }
            Field::Arguments(args) => {
                out.bulk(b"arguments");
                write_args(out, args);
            }
        }
    }
}

fn write_statuses<'a>(out: &mut ReplyBuf, items: impl ExactSizeIterator<Item = &'a str>) {
    out.set(items.len());
    for s in items {
        out.status(s);
    }
}

fn write_args(out: &mut ReplyBuf, args: &[Arg]) {
    out.array(args.len());
    for a in args {
        out.map(a.fields.len() + !a.args.is_empty() as usize);
        for (k, v) in &a.fields {
            out.bulk(k.as_bytes());
            match *k {
                "flags" => {
                    let flags: Vec<&str> = v.split(',').collect();
                    write_statuses(out, flags.into_iter());
                }
                "key_spec_index" => out.int(v.parse().unwrap_or(0)),
                _ => out.bulk(v.as_bytes()),
            }
        }
        if !a.args.is_empty() {
            out.bulk(b"arguments");
            write_args(out, &a.args);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_arguments_and_history() {
        let docs = parse(
            "# c\nx\n  doc_flags deprecated\n  replaced_by `Y` with `Z`\n  \
             history 1.0 First one.\n  history 2.0 Second.\n  \
             arg name=a type=oneof flags=optional,multiple\n    \
             arg name=b type=pure-token token=\"\"\n  arg name=k type=key key_spec_index=0\ny\n",
        );
        let x = &docs["x"];
        assert_eq!(x.len(), 4);
        assert!(matches!(&x[1], Field::Text("replaced_by", "`Y` with `Z`")));
        let Field::History(h) = &x[2] else { panic!() };
        assert_eq!(h, &[("1.0", "First one."), ("2.0", "Second.")]);
        let Field::Arguments(args) = &x[3] else {
            panic!()
        };
        assert_eq!(args.len(), 2);
        assert_eq!(args[0].args[0].fields[2], ("token", ""));
        assert!(docs["y"].is_empty());
        let mut out = ReplyBuf::new(true);
        out.map(x.len());
        for f in x {
            // Rendering goes through the global data; check the shape here.
            if let Field::Arguments(a) = f {
                write_args(&mut out, a);
            }
        }
        assert!(out
            .buf
            .starts_with(b"%4\r\n*2\r\n%4\r\n$4\r\nname\r\n$1\r\na\r\n"));
    }

    #[test]
    fn covers_every_redis_command() {
        // A sample across groups; the full check against a live server is in
        // tests/command_table.rs.
        for n in [
            "set",
            "client|list",
            "xadd",
            "geosearch",
            "function|restore",
        ] {
            assert!(docs().contains_key(n), "{n} missing");
        }
        assert!(names().count() >= 366);
    }
}
