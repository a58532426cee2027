//! CLIENT LIST, CLIENT INFO and CLIENT KILL: describing and selecting
//! connections from the client registry.

use std::sync::atomic::Ordering;

use super::{int_arg, is, Action, Ctx};
use crate::client::ClientInfo;
use crate::errors;
use crate::server::now_ms;

/// Client types as CLIENT LIST / KILL TYPE name them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Replica,
    Master,
    PubSub,
}

fn parse_type(b: &[u8]) -> Option<ClientType> {
    Some(if is(b, "normal") {
        ClientType::Normal
    } else if is(b, "slave") || is(b, "replica") {
        ClientType::Replica
    } else if is(b, "master") {
        ClientType::Master
    } else if is(b, "pubsub") {
        ClientType::PubSub
    } else {
        return None;
    })
}

fn unknown_type(b: &[u8]) -> String {
    format!(
        "ERR Unknown client type '{}'",
        String::from_utf8_lossy(super::cut_at_nul(b))
    )
}

/// A client with subscriptions is of type pubsub; every other one is
/// normal until replication exists (a MONITOR is "normal" in Redis too).
fn type_of(c: &ClientInfo) -> ClientType {
    if c.sub.active() {
        ClientType::PubSub
    } else {
        ClientType::Normal
    }
}

/// One CLIENT LIST line (without the newline), fields in Redis 7.0's order.
/// Buffer sizes Ferrous does not track are reported as 0.
pub fn describe(c: &ClientInfo) -> String {
    let now = now_ms();
    let name = c
        .name
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .map(|n| String::from_utf8_lossy(&n).into_owned())
        .unwrap_or_default();
    let mut flags = String::new();
    if c.monitor.load(Ordering::Relaxed) {
        flags.push('O');
    }
    if c.sub.active() {
        flags.push('P');
    }
    let multi = c.multi.load(Ordering::Relaxed);
    if multi >= 0 {
        flags.push('x');
    }
    if c.blocked.load(Ordering::Relaxed) {
        flags.push('b');
    }
    let tracking = c.tracking.flags.load(Ordering::Relaxed);
    for (bit, f) in [(1, 't'), (4, 'R'), (2, 'B')] {
        if tracking & bit != 0 {
            flags.push(f);
        }
    }
    if c.dirty_cas.load(Ordering::Relaxed) {
        flags.push('d');
    }
    if c.no_evict.load(Ordering::Relaxed) {
        flags.push('e');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    let cmd = match c.last_cmd.load(Ordering::Relaxed).checked_sub(1) {
        Some(slot) => crate::commands::table()
            .named
            .get(slot)
            .map_or("NULL", |(n, _)| n.as_str()),
        None => "NULL",
    };
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} \
         multi={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 \
         tot-mem=0 events=r cmd={} user=default redir={} resp={}",
        c.id,
        c.addr,
        c.laddr,
        c.fd,
        name,
        now.saturating_sub(c.created_ms) / 1000,
        now.saturating_sub(c.last_interaction_ms.load(Ordering::Relaxed)) / 1000,
        flags,
        c.db.load(Ordering::Relaxed),
        c.sub.count(crate::pubsub::Kind::Channel),
        c.sub.count(crate::pubsub::Kind::Pattern),
        c.sub.count(crate::pubsub::Kind::Shard),
        multi,
        cmd,
        c.tracking.redir.load(Ordering::Relaxed),
        c.resp.load(Ordering::Relaxed),
    )
}

/// CLIENT LIST [TYPE type | ID id...].
pub fn list(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let all = ctx.srv.clients.all();
    let chosen: Vec<_> = if args.len() == 2 {
        all
    } else if args.len() == 4 && is(&args[2], "type") {
        let Some(t) = parse_type(&args[3]) else {
            return ctx.err(&unknown_type(&args[3]));
        };
        all.into_iter().filter(|c| type_of(c) == t).collect()
    } else if args.len() >= 4 && is(&args[2], "id") {
        let mut ids = Vec::new();
        for a in &args[3..] {
            match int_arg(a) {
                Ok(n) => ids.push(n as u64),
                Err(_) => return ctx.err("ERR Invalid client ID"),
            }
        }
        // Listed in the order the ids were given, each once per mention.
        ids.iter()
            .filter_map(|id| ctx.srv.clients.get(*id))
            .collect()
    } else {
        return ctx.err(errors::SYNTAX);
    };
    let mut text = String::new();
    for c in chosen {
        text.push_str(&describe(&c));
        text.push('\n');
    }
    ctx.out.verbatim("txt", text.as_bytes());
}

/// CLIENT INFO: the caller's own line.
pub fn info(ctx: &mut Ctx<'_>) {
    let mut line = describe(&ctx.client.info);
    line.push('\n');
    ctx.out.verbatim("txt", line.as_bytes());
}

/// What CLIENT KILL's filters select.
#[derive(Default)]
struct Filter {
    id: Option<u64>,
    ctype: Option<ClientType>,
    addr: Option<String>,
    laddr: Option<String>,
    skipme: bool,
}

impl Filter {
    fn matches(&self, c: &ClientInfo, me: u64) -> bool {
        !(self.skipme && c.id == me)
            && self.id.is_none_or(|id| id == c.id)
            && self.ctype.is_none_or(|t| t == type_of(c))
            && self.addr.as_ref().is_none_or(|a| *a == c.addr)
            && self.laddr.as_ref().is_none_or(|a| *a == c.laddr)
    }
}

/// CLIENT KILL addr | CLIENT KILL <filter> <value> ...
pub fn kill(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let me = ctx.client.info.id;
    if args.len() == 3 {
        // The old form: one address, an error when nobody matches.
        let addr = String::from_utf8_lossy(&args[2]).into_owned();
        let Some(c) = ctx.srv.clients.all().into_iter().find(|c| c.addr == addr) else {
            return ctx.err("ERR No such client");
        };
        ctx.out.ok();
        kill_one(ctx, &c);
        return;
    }
    let mut f = Filter {
        skipme: true,
        ..Filter::default()
    };
    let mut i = 2;
    while i < args.len() {
        let Some(val) = args.get(i + 1) else {
            return ctx.err(errors::SYNTAX);
        };
        let opt = &args[i];
        if is(opt, "id") {
            match int_arg(val) {
                Ok(n) if n > 0 => f.id = Some(n as u64),
                _ => return ctx.err("ERR client-id should be greater than 0"),
            }
        } else if is(opt, "type") {
            match parse_type(val) {
                Some(t) => f.ctype = Some(t),
                None => return ctx.err(&unknown_type(val)),
            }
        } else if is(opt, "addr") {
            f.addr = Some(String::from_utf8_lossy(val).into_owned());
        } else if is(opt, "laddr") {
            f.laddr = Some(String::from_utf8_lossy(val).into_owned());
        } else if is(opt, "user") {
            // Only the default user exists until ACLs do.
            if &val[..] != b"default" {
                return ctx.err(&format!(
                    "ERR No such user '{}'",
                    String::from_utf8_lossy(super::cut_at_nul(val))
                ));
            }
        } else if is(opt, "skipme") {
            if is(val, "yes") {
                f.skipme = true;
            } else if is(val, "no") {
                f.skipme = false;
            } else {
                return ctx.err(errors::SYNTAX);
            }
        } else {
            return ctx.err(errors::SYNTAX);
        }
        i += 2;
    }
    let victims: Vec<_> = ctx
        .srv
        .clients
        .all()
        .into_iter()
        .filter(|c| f.matches(c, me))
        .collect();
    ctx.out.int(victims.len() as i64);
    for c in victims {
        kill_one(ctx, &c);
    }
}

/// Closes `c`: the caller after its reply is written, others at once.
fn kill_one(ctx: &mut Ctx<'_>, c: &ClientInfo) {
    if c.id == ctx.client.info.id {
        ctx.action = Some(Action::Close);
    } else {
        c.kill();
        // Redis frees another client at once: after this reply it is in no
        // list, holds no subscription, waits on no key. The victim's
        // connection task ends on its own and finds these already done.
        ctx.srv.pubsub.forget_client(c);
        ctx.srv.unregister_client(c.id);
    }
}
