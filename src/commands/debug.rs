//! DEBUG: the subcommands tools and tests use (SLEEP, OBJECT,
//! SET-ACTIVE-EXPIRE, ERROR, LOG, HELP), gated by `enable-debug-command`.

use std::sync::atomic::Ordering;
use std::time::Duration;

use ferrous_storage::Value;

use super::{is, Action, Ctx};
use crate::errors;

const NOT_ALLOWED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

/// Whether the calling client may run DEBUG (`enable-debug-command`).
fn allowed(ctx: &Ctx<'_>) -> bool {
    match ctx.srv.config.get("enable-debug-command").as_str() {
        "yes" => true,
        "local" => ctx
            .client
            .info
            .addr
            .parse::<std::net::SocketAddr>()
            .is_ok_and(|a| a.ip().is_loopback()),
        _ => false,
    }
}

/// C's `atof`/`atoi` leniency: a leading number, else 0.
fn lenient_f64(b: &[u8]) -> f64 {
    let s = String::from_utf8_lossy(b);
    let s = s.trim_start();
    let end = s
        .char_indices()
        .take_while(|(i, c)| {
            c.is_ascii_digit() || *c == '.' || (*i == 0 && (*c == '-' || *c == '+'))
        })
        .map(|(i, c)| i + c.len_utf8())
        .last()
        .unwrap_or(0);
    s[..end].parse().unwrap_or(0.0)
}

/// The DEBUG command.
pub fn debug(ctx: &mut Ctx<'_>) {
    if !allowed(ctx) {
        return ctx.err(NOT_ALLOWED);
    }
    let args = ctx.args;
    let sub = &args[1];
    let n = args.len();
    if is(sub, "help") && n == 2 {
        super::command::help_reply(ctx, "DEBUG", HELP);
    } else if is(sub, "sleep") && n == 3 {
        let secs = lenient_f64(&args[2]);
        ctx.out.ok();
        if secs.is_finite() && secs > 0.0 {
            // Capped so a typo cannot park a connection for ever.
            let d = Duration::from_secs_f64(secs.min(86_400.0 * 365.0));
            ctx.action = Some(Action::Sleep(d));
        }
    } else if is(sub, "set-active-expire") && n == 3 {
        let on = lenient_f64(&args[2]) as i64 != 0;
        ctx.srv.active_expire.store(on, Ordering::Relaxed);
        ctx.out.ok();
    } else if is(sub, "object") && n == 3 {
        object(ctx);
    } else if is(sub, "error") && n == 3 {
        let msg = String::from_utf8_lossy(&args[2]).into_owned();
        ctx.err(&msg);
    } else if is(sub, "log") && n == 3 {
        tracing::warn!("DEBUG LOG: {}", String::from_utf8_lossy(&args[2]));
        ctx.out.ok();
    } else {
        let s = String::from_utf8_lossy(super::cut_at_nul(sub)).into_owned();
        ctx.err(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{s}'. Try DEBUG HELP."
        ));
    }
}

/// Length of a length prefix in an RDB file.
fn rdb_len_size(n: usize) -> usize {
    if n < 64 {
        1
    } else if n < 16384 {
        2
    } else {
        5
    }
}

fn object(ctx: &mut Ctx<'_>) {
    let key = ctx.args[2].clone();
    let db = ctx.db();
    let now = ctx.now;
    let line = ctx.srv.store.read(|v| {
        v.db(db).get(&key, now).map(|e| {
            let encoding = e.value.encoding();
            let serialized = match &e.value {
                Value::Str { bytes, .. } => {
                    match ferrous_storage::value::parse_i64(bytes) {
                        Some(i) if ferrous_storage::value::is_canonical_i64(bytes) => {
                            if i8::try_from(i).is_ok() {
                                2
                            } else if i16::try_from(i).is_ok() {
                                3
                            } else if i32::try_from(i).is_ok() {
                                5
                            } else {
                                rdb_len_size(bytes.len()) + bytes.len()
                            }
                        }
                        _ => rdb_len_size(bytes.len()) + bytes.len(),
                    }
                }
                #[allow(unreachable_patterns)]
                _ => 0,
            };
            let addr = e as *const _ as usize;
            format!(
                "Value at:0x{addr:x} refcount:1 encoding:{encoding} serializedlength:{serialized} lru:0 lru_seconds_idle:0"
            )
        })
    });
    match line {
        Some(l) => ctx.out.status(&l),
        None => ctx.err(errors::NO_SUCH_KEY),
    }
}

/// DEBUG HELP's body, as Redis 7.0 prints it.
const HELP: &[&str] = &[
    "AOF-FLUSH-SLEEP <microsec>",
    "    Server will sleep before flushing the AOF, this is used for testing.",
    "ASSERT",
    "    Crash by assertion failed.",
    "CHANGE-REPL-ID",
    "    Change the replication IDs of the instance.",
    "    Dangerous: should be used only for testing the replication subsystem.",
    "CONFIG-REWRITE-FORCE-ALL",
    "    Like CONFIG REWRITE but writes all configuration options, including",
    "    keywords not listed in original configuration file or default values.",
    "CRASH-AND-RECOVER [<milliseconds>]",
    "    Hard crash and restart after a <milliseconds> delay (default 0).",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "LEAK <string>",
    "    Create a memory leak of the input string.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "HTSTATS <dbid>",
    "    Return hash table statistics of the specified Redis database.",
    "HTSTATS-KEY <key>",
    "    Like HTSTATS but for the hash table stored at <key>'s value.",
    "LOADAOF",
    "    Flush the AOF buffers on disk and reload the AOF in memory.",
    "REPLICATE <string>",
    "    Replicates the provided string to replicas, allowing data divergence.",
    "MALLCTL <key> [<val>]",
    "    Get or set a malloc tuning integer.",
    "MALLCTL-STR <key> [<val>]",
    "    Get or set a malloc tuning string.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "DROP-CLUSTER-PACKET-FILTER <packet-type>",
    "    Drop all packets that match the filtered type. Set to -1 allow all packets.",
    "OOM",
    "    Crash the server simulating an out-of-memory error.",
    "PANIC",
    "    Crash the server simulating a panic.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: conflicting keys will be loaded from RDB.",
    "    * NOFLUSH: the existing database will not be removed before load, but",
    "      conflicting keys will generate an exception and kill the server.",
    "    * NOSAVE: the database will be loaded from an existing RDB file.",
    "    Examples:",
    "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
    "      the database.",
    "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
    "      existing RDB file.",
    "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
    "      file to the database.",
    "RESTART [<milliseconds>]",
    "    Graceful restart: save config, db, restart after a <milliseconds> delay (default 0).",
    "SDSLEN <key>",
    "    Show low level SDS string info representing `key` and value.",
    "SEGFAULT",
    "    Crash the server with sigsegv.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Sets the threshold for elements to be inserted as plain vs packed nodes",
    "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
    "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
    "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "STRINGMATCH-TEST",
    "    Run a fuzz tester against the stringmatchlen() function.",
    "STRUCTSIZE",
    "    Return the size of different Redis core C structures.",
    "LISTPACK <key>",
    "    Show low level info about the listpack encoding of <key>.",
    "QUICKLIST <key> [<0|1>]",
    "    Show low level info about the quicklist encoding of <key>.",
    "    The optional argument (0 by default) sets the level of detail",
    "CLIENT-EVICTION",
    "    Show low level client eviction pools info (maxmemory-clients).",
    "PAUSE-CRON <0|1>",
    "    Stop periodic cron job processing.",
    "REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
    "    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
    "    In case NEVER is provided the last observed peak will never be reset",
    "    In case RESET is provided the peak reset time will be restored to the default value",
    "REPLYBUFFER RESIZING <0|1>",
    "    Enable or disable the reply buffer resize cron job",
    "CLUSTERLINK KILL <to|from|all> <node-id>",
    "    Kills the link based on the direction to/from (both) with the provided node.",
];
