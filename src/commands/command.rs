//! COMMAND and its subcommands, generated from the command table.

use super::{Ctx, Handler::*};
use crate::cmd;

/// The COMMAND command.
pub static COMMANDS: &[super::CommandSpec] = &[cmd!("command", -1, [LOADING, STALE], (0, 0, 0),
    Conn(command), "server", "Get array of Redis command details", "2.8.13",
    "O(N) where N is the total number of Redis commands", acl: ["@connection"], subs: &[])];

fn command(ctx: &mut Ctx<'_>) {
    ctx.out.int(super::table().all.len() as i64);
}
