//! Pub/Sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH and
//! the PUBSUB container (the registry lives in `crate::pubsub`).

use super::keyspec::{ks_range, NOT_KEY};
use super::{Ctx, Handler::*};
use crate::cmd;
use crate::pubsub::{self, Kind};

/// The pub/sub commands.
pub static COMMANDS: &[super::CommandSpec] = &[
    cmd!("subscribe", -2, [PUBSUB, NOSCRIPT, LOADING, STALE], (0, 0, 0), Conn(subscribe),
        "pubsub", "Listen for messages published to the given channels", "2.0.0",
        "O(N) where N is the number of channels to subscribe to.", acl: [], tips: [], ks: [],
        subs: &[]),
    cmd!("unsubscribe", -1, [PUBSUB, NOSCRIPT, LOADING, STALE], (0, 0, 0), Conn(unsubscribe),
        "pubsub", "Stop listening for messages posted to the given channels", "2.0.0",
        "O(N) where N is the number of clients already subscribed to a channel.", acl: [],
        tips: [], ks: [], subs: &[]),
    cmd!("psubscribe", -2, [PUBSUB, NOSCRIPT, LOADING, STALE], (0, 0, 0), Conn(psubscribe),
        "pubsub", "Listen for messages published to channels matching the given patterns",
        "2.0.0", "O(N) where N is the number of patterns the client is already subscribed to.",
        acl: [], tips: [], ks: [], subs: &[]),
    cmd!("punsubscribe", -1, [PUBSUB, NOSCRIPT, LOADING, STALE], (0, 0, 0), Conn(punsubscribe),
        "pubsub", "Stop listening for messages posted to channels matching the given patterns",
        "2.0.0",
        "O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total patterns subscribed in the system (by any client).",
        acl: [], tips: [], ks: [], subs: &[]),
    cmd!("publish", 3, [PUBSUB, LOADING, STALE, FAST], (0, 0, 0), Conn(publish),
        "pubsub", "Post a message to a channel", "2.0.0",
        "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).",
        acl: [], tips: [], ks: [], subs: &[]),
    cmd!("ssubscribe", -2, [PUBSUB, NOSCRIPT, LOADING, STALE], (1, -1, 1), Conn(ssubscribe),
        "pubsub", "Listen for messages published to the given shard channels", "7.0.0",
        "O(N) where N is the number of shard channels to subscribe to.", acl: [], tips: [],
        ks: [ks_range(NOT_KEY, 1, -1, 1, 0)], subs: &[]),
    cmd!("sunsubscribe", -1, [PUBSUB, NOSCRIPT, LOADING, STALE], (1, -1, 1), Conn(sunsubscribe),
        "pubsub", "Stop listening for messages posted to the given shard channels", "7.0.0",
        "O(N) where N is the number of clients already subscribed to a shard channel.",
        acl: [], tips: [], ks: [ks_range(NOT_KEY, 1, -1, 1, 0)], subs: &[]),
    cmd!("spublish", 3, [PUBSUB, LOADING, STALE, FAST], (1, 1, 1), Conn(spublish),
        "pubsub", "Post a message to a shard channel", "7.0.0",
        "O(N) where N is the number of clients subscribed to the receiving shard channel.",
        acl: [], tips: [], ks: [ks_range(NOT_KEY, 1, 0, 1, 0)], subs: &[]),
    cmd!("pubsub", -2, [], (0, 0, 0), Container, "pubsub", "A container for Pub/Sub commands",
        "2.8.0", "Depends on subcommand.", acl: [], tips: [], ks: [], subs: PUBSUB_SUBCOMMANDS),
];

static PUBSUB_SUBCOMMANDS: &[super::CommandSpec] = &[
    cmd!("numsub", -2, [PUBSUB, LOADING, STALE], (0, 0, 0), Conn(numsub), "pubsub",
        "Get the count of subscribers for channels", "2.8.0",
        "O(N) for the NUMSUB subcommand, where N is the number of requested channels",
        acl: [], tips: [], ks: [], subs: &[]),
    cmd!("channels", -2, [PUBSUB, LOADING, STALE], (0, 0, 0), Conn(channels), "pubsub",
        "List active channels", "2.8.0",
        "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)",
        acl: [], tips: [], ks: [], subs: &[]),
    cmd!("shardchannels", -2, [PUBSUB, LOADING, STALE], (0, 0, 0), Conn(shardchannels),
        "pubsub", "List active shard channels", "7.0.0",
        "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).",
        acl: [], tips: [], ks: [], subs: &[]),
    cmd!("numpat", 2, [PUBSUB, LOADING, STALE], (0, 0, 0), Conn(numpat), "pubsub",
        "Get the count of unique patterns pattern subscriptions", "2.8.0", "O(1)",
        acl: [], tips: [], ks: [], subs: &[]),
    cmd!("shardnumsub", -2, [PUBSUB, LOADING, STALE], (0, 0, 0), Conn(shardnumsub), "pubsub",
        "Get the count of subscribers for shard channels", "7.0.0",
        "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels",
        acl: [], tips: [], ks: [], subs: &[]),
    cmd!("help", 2, [LOADING, STALE], (0, 0, 0), Conn(help), "pubsub",
        "Show helpful text about the different subcommands", "6.2.0", "O(1)",
        acl: ["-@pubsub"], tips: [], ks: [], subs: &[]),
];

fn subscribe(ctx: &mut Ctx<'_>) {
    pubsub::subscribe(ctx.srv, ctx.client, ctx.out, Kind::Channel, &ctx.args[1..]);
}

fn psubscribe(ctx: &mut Ctx<'_>) {
    pubsub::subscribe(ctx.srv, ctx.client, ctx.out, Kind::Pattern, &ctx.args[1..]);
}

fn ssubscribe(ctx: &mut Ctx<'_>) {
    pubsub::subscribe(ctx.srv, ctx.client, ctx.out, Kind::Shard, &ctx.args[1..]);
}

fn unsubscribe(ctx: &mut Ctx<'_>) {
    pubsub::unsubscribe(ctx.srv, ctx.client, ctx.out, Kind::Channel, &ctx.args[1..]);
}

fn punsubscribe(ctx: &mut Ctx<'_>) {
    pubsub::unsubscribe(ctx.srv, ctx.client, ctx.out, Kind::Pattern, &ctx.args[1..]);
}

fn sunsubscribe(ctx: &mut Ctx<'_>) {
    pubsub::unsubscribe(ctx.srv, ctx.client, ctx.out, Kind::Shard, &ctx.args[1..]);
}

fn publish_kind(ctx: &mut Ctx<'_>, shard: bool) {
    let me = Some((ctx.client.info.id, &mut *ctx.out));
    let n = ctx
        .srv
        .pubsub
        .publish(ctx.srv, &ctx.args[1], &ctx.args[2], shard, me);
    ctx.out.int(n as i64);
}

fn publish(ctx: &mut Ctx<'_>) {
    publish_kind(ctx, false);
}

fn spublish(ctx: &mut Ctx<'_>) {
    publish_kind(ctx, true);
}

fn numsub_kind(ctx: &mut Ctx<'_>, k: Kind) {
    let chans = &ctx.args[2..];
    // A flat array even in RESP3, as Redis 7.0 answers.
    ctx.out.array(chans.len() * 2);
    for ch in chans {
        ctx.out.bulk(ch);
        ctx.out.int(ctx.srv.pubsub.numsub(k, ch) as i64);
    }
}

fn numsub(ctx: &mut Ctx<'_>) {
    numsub_kind(ctx, Kind::Channel);
}

fn shardnumsub(ctx: &mut Ctx<'_>) {
    numsub_kind(ctx, Kind::Shard);
}

fn channels_kind(ctx: &mut Ctx<'_>, k: Kind) {
    if ctx.args.len() > 3 {
        let name = String::from_utf8_lossy(super::cut_at_nul(&ctx.args[1])).into_owned();
        return ctx.err(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{name}'. Try PUBSUB HELP."
        ));
    }
    let list = ctx.srv.pubsub.channels(k, ctx.args.get(2).map(|p| &p[..]));
    ctx.out.array(list.len());
    for c in &list {
        ctx.out.bulk(c);
    }
}

fn channels(ctx: &mut Ctx<'_>) {
    channels_kind(ctx, Kind::Channel);
}

fn shardchannels(ctx: &mut Ctx<'_>) {
    channels_kind(ctx, Kind::Shard);
}

fn numpat(ctx: &mut Ctx<'_>) {
    ctx.out.int(ctx.srv.pubsub.count(Kind::Pattern) as i64);
}

fn help(ctx: &mut Ctx<'_>) {
    const LINES: &[&str] = &[
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.array(LINES.len());
    for l in LINES {
        ctx.out.status(l);
    }
}
