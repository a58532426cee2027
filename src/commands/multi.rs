//! Transaction commands: MULTI, EXEC, DISCARD, WATCH, UNWATCH (the logic
//! lives in `crate::multi`).

use super::keyspec::{ks_range, RO};
use super::Handler::*;
use crate::cmd;
use crate::multi;

/// The transaction commands.
pub static COMMANDS: &[super::CommandSpec] = &[
    cmd!("multi", 1, [NOSCRIPT, LOADING, STALE, FAST, ALLOW_BUSY], (0, 0, 0), Conn(multi::multi),
        "transactions", "Mark the start of a transaction block", "1.2.0", "O(1)",
        acl: [], tips: [], ks: [], subs: &[]),
    cmd!("exec", 1, [NOSCRIPT, LOADING, STALE, SKIP_SLOWLOG], (0, 0, 0), Write(multi::exec),
        "transactions", "Execute all commands issued after MULTI", "1.2.0",
        "Depends on commands in the transaction", acl: [], tips: [], ks: [], subs: &[]),
    cmd!("discard", 1, [NOSCRIPT, LOADING, STALE, FAST, ALLOW_BUSY], (0, 0, 0),
        Conn(multi::discard), "transactions", "Discard all commands issued after MULTI", "2.0.0",
        "O(N), when N is the number of queued commands", acl: [], tips: [], ks: [], subs: &[]),
    cmd!("watch", -2, [NOSCRIPT, LOADING, STALE, FAST, ALLOW_BUSY], (1, -1, 1),
        Write(multi::watch), "transactions",
        "Watch the given keys to determine execution of the MULTI/EXEC block", "2.2.0",
        "O(1) for every key.", acl: [], tips: [], ks: [ks_range(RO, 1, -1, 1, 0)], subs: &[]),
    cmd!("unwatch", 1, [NOSCRIPT, LOADING, STALE, FAST, ALLOW_BUSY], (0, 0, 0),
        Conn(multi::unwatch), "transactions", "Forget about all watched keys", "2.2.0", "O(1)",
        acl: [], tips: [], ks: [], subs: &[]),
];
