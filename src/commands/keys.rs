//! Generic key commands: DEL, EXISTS, TYPE, KEYS, SCAN, RENAME, expiry, OBJECT…

use ferrous_storage::Version;

use super::{Ctx, Handler::*};
use crate::cmd;

/// The generic key commands.
pub static COMMANDS: &[super::CommandSpec] = &[
    cmd!("del", -2, [WRITE], (1, -1, 1), Write(del), "generic",
        "Delete a key", "1.0.0", "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).",
        acl: [], subs: &[]),
    cmd!("exists", -2, [READONLY, FAST], (1, -1, 1), Read(exists), "generic",
        "Determine if a key exists", "1.0.0", "O(N) where N is the number of keys to check.",
        acl: [], subs: &[]),
];

fn del(ctx: &mut Ctx<'_>, v: &mut Version) {
    let db = ctx.db();
    let mut n = 0;
    for k in &ctx.args[1..] {
        if v.db_mut(db).remove_live(k, ctx.now).is_some() {
            n += 1;
        }
    }
    ctx.dirty += n as u64;
    ctx.out.int(n);
}

fn exists(ctx: &mut Ctx<'_>, v: &Version) {
    let db = v.db(ctx.db());
    let n = ctx.args[1..]
        .iter()
        .filter(|k| db.get(k, ctx.now).is_some())
        .count();
    ctx.out.int(n as i64);
}
