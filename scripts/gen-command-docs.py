#!/usr/bin/env python3
"""Regenerates src/commands/docs_args.txt from a real redis-server.

COMMAND DOCS takes each command's summary, since, group and complexity from
the command table (src/commands); the rest of Redis's documentation reply
(doc_flags, deprecated_since, replaced_by, history and arguments) comes from
docs_args.txt, which this script writes from the `COMMAND DOCS` reply of the
real server, for every command and subcommand that server knows.

Usage (from anywhere):

    scripts/gen-command-docs.py                 # starts redis-server itself
    scripts/gen-command-docs.py --port 7100     # asks a running server

Without --port it starts `redis-server` (from PATH) on a private unix socket
and stops it afterwards. The output is deterministic (commands sorted by
name), so a rerun against the same Redis version changes nothing.

File format (parsed by src/commands/docs_args.rs):
- `#` lines are comments; a line without indentation names a command
  (`set`, `client|list`); the indented lines below it are its fields, in the
  order Redis replies them:
    doc_flags <flag>,<flag>        deprecated_since <version>
    replaced_by <text to end of line>
    history <version> <text to end of line>
    arg <field>=<value> ...        (one argument; its sub-arguments follow,
                                    indented two more spaces)
- An argument's fields keep Redis's order; `flags` is a comma-separated set,
  `key_spec_index` an integer, anything else a string; `""` is the empty
  string. Values never contain spaces (the script checks).
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "src", "commands", "docs_args.txt")
# Fields COMMAND DOCS takes from the command table, or renders itself.
FROM_TABLE = ("summary", "since", "group", "complexity", "subcommands")


class Conn:
    """A minimal RESP3 client: values come back as (type char, payload)."""

    def __init__(self, sock):
        self.sock = sock
        self.f = sock.makefile("rb")

    def call(self, *args):
        parts = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a.encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(parts))
        return self.read()

    def read(self):
        line = self.f.readline()[:-2]
        t, rest = chr(line[0]), line[1:]
        if t in "+-":
            return (t, rest.decode())
        if t == ":":
            return (t, int(rest))
        if t in "$=":
            data = self.f.read(int(rest) + 2)[:-2]
            return (t, data.decode())
        if t in "*~":
            return (t, [self.read() for _ in range(int(rest))])
        if t == "%":
            return (t, [(self.read(), self.read()) for _ in range(int(rest))])
        raise ValueError("unexpected RESP type " + t)


def word(v):
    """One value of an `arg` line."""
    if v == "":
        return '""'
    if any(c.isspace() for c in v) or v.startswith('"'):
        sys.exit("value with spaces or quotes, extend the format: %r" % v)
    return v


def line_text(v):
    """A rest-of-line value."""
    if "\n" in v or "\r" in v or v != v.strip() or v == "":
        sys.exit("text the format cannot hold: %r" % v)
    return v


def write_args(out, args, depth):
    assert args[0] == "*", args
    for a in args[1]:
        assert a[0] == "%", a
        fields, subs = [], None
        for (k, v) in a[1]:
            key = k[1]
            if key == "arguments":
                subs = v
            elif key == "flags":
                assert v[0] == "~" and all(x[0] == "+" for x in v[1]), v
                fields.append("flags=" + ",".join(x[1] for x in v[1]))
            elif key == "key_spec_index":
                assert v[0] == ":", v
                fields.append("key_spec_index=%d" % v[1])
            else:
                assert v[0] == "$", (key, v)
                fields.append(key + "=" + word(v[1]))
            # Sub-arguments are always the last field, as we render them.
            assert subs is None or key == "arguments", a
        out.append("  " * depth + "arg " + " ".join(fields))
        if subs is not None:
            write_args(out, subs, depth + 1)


def write_command(name, doc, entries):
    lines = [name]
    for (k, v) in doc[1]:
        key = k[1]
        if key in FROM_TABLE:
            if key == "subcommands":
                for (sub, subdoc) in v[1]:
                    write_command(sub[1], subdoc, entries)
            continue
        if key == "doc_flags":
            assert v[0] == "~" and all(x[0] == "+" for x in v[1]), v
            lines.append("  doc_flags " + ",".join(x[1] for x in v[1]))
        elif key in ("deprecated_since", "replaced_by"):
            lines.append("  %s %s" % (key, line_text(v[1])))
        elif key == "history":
            assert v[0] == "~", v
            for h in v[1]:
                (ver, text) = [x[1] for x in h[1]]
                lines.append("  history %s %s" % (word(ver), line_text(text)))
        elif key == "arguments":
            write_args(lines, v, 1)
        else:
            sys.exit("unknown COMMAND DOCS field %r of %s" % (key, name))
    entries[name] = lines


def generate(conn):
    conn.call("HELLO", "3")
    info = conn.call("INFO", "server")[1]
    version = next(
        l.split(":", 1)[1] for l in info.splitlines() if l.startswith("redis_version:")
    )
    docs = conn.call("COMMAND", "DOCS")
    entries = {}
    for (name, doc) in docs[1]:
        write_command(name[1], doc, entries)
    out = [
        "# Generated by scripts/gen-command-docs.py from redis-server %s's COMMAND DOCS:" % version,
        "# the documentation fields not in the command table, per command. Do not edit;",
        "# the format is described in the script.",
    ]
    for name in sorted(entries):
        out.extend(entries[name])
    return "\n".join(out) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, help="ask a redis-server already running here")
    p.add_argument("--out", default=OUT, help="where to write (default: %(default)s)")
    a = p.parse_args()
    if a.port:
        text = generate(Conn(socket.create_connection(("127.0.0.1", a.port))))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "redis.sock")
            server = subprocess.Popen(
                ["redis-server", "--port", "0", "--unixsocket", path, "--save", "",
                 "--appendonly", "no", "--dir", tmp],
                stdout=subprocess.DEVNULL,
            )
            try:
                for _ in range(100):
                    if os.path.exists(path):
                        break
                    time.sleep(0.05)
                s = socket.socket(socket.AF_UNIX)
                s.connect(path)
                text = generate(Conn(s))
            finally:
                server.terminate()
                server.wait()
    with open(a.out, "w") as f:
        f.write(text)
    print("wrote %s (%d lines)" % (a.out, text.count("\n")))


if __name__ == "__main__":
    main()
