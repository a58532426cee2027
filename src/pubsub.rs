//! Pub/Sub: the server's registry of channel, pattern and shard-channel
//! subscribers, each client's own subscriptions, message delivery through
//! the clients' push channels, and `client-output-buffer-limit pubsub`.
//!
//! Delivery: PUBLISH encodes a message once per protocol version and sends
//! the bytes to every subscriber's push channel (the connection writes them
//! between requests); a message for the publishing client itself goes
//! straight into its reply buffer, before the PUBLISH reply, as in Redis.
//! Bytes waiting in a push channel are counted per client; a subscriber past
//! the hard limit, or past the soft limit for longer than its seconds, is
//! disconnected like Redis does, so a slow reader cannot grow memory
//! without bound.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;

use crate::client::{Client, ClientInfo};
use crate::reply::ReplyBuf;
use crate::server::{now_ms, Server};

/// The three kinds of subscription.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// SUBSCRIBE.
    Channel,
    /// PSUBSCRIBE.
    Pattern,
    /// SSUBSCRIBE.
    Shard,
}

impl Kind {
    fn index(self) -> usize {
        self as usize
    }
    fn subscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"subscribe",
            Kind::Pattern => b"psubscribe",
            Kind::Shard => b"ssubscribe",
        }
    }
    fn unsubscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"unsubscribe",
            Kind::Pattern => b"punsubscribe",
            Kind::Shard => b"sunsubscribe",
        }
    }
}

/// What other connections may see of a client's pub/sub state.
#[derive(Default)]
pub struct SubInfo {
    /// Subscription counts by [`Kind`] (CLIENT LIST `sub`/`psub`/`ssub`).
    pub counts: [AtomicUsize; 3],
    /// Bytes pushed to the client and not yet taken by its connection.
    pub pending: AtomicUsize,
    /// When the client went past the soft limit (ms; 0: it is not).
    soft_since: AtomicU64,
}

impl SubInfo {
    /// Whether the client has any subscription (the `P` flag, type pubsub).
    pub fn active(&self) -> bool {
        self.counts.iter().any(|c| c.load(Ordering::Relaxed) > 0)
    }
    /// Count for one kind.
    pub fn count(&self, k: Kind) -> usize {
        self.counts[k.index()].load(Ordering::Relaxed)
    }
}

/// A client's own subscriptions, in subscription order.
#[derive(Default)]
pub struct ClientSubs {
    lists: [Vec<Bytes>; 3],
    sets: [HashSet<Bytes>; 3],
}

impl ClientSubs {
    /// Whether the client has any subscription.
    #[inline]
    pub fn active(&self) -> bool {
        self.lists.iter().any(|l| !l.is_empty())
    }
    fn len(&self, k: Kind) -> usize {
        self.lists[k.index()].len()
    }
}

type Subscribers = HashMap<Bytes, HashMap<u64, Arc<ClientInfo>>>;

/// The server's subscriber registry.
#[derive(Default)]
pub struct PubSub {
    maps: RwLock<[Subscribers; 3]>,
}

/// Encodes a pub/sub message with `parts` as a push (RESP3) or array.
fn frame(resp3: bool, parts: &[&[u8]]) -> Bytes {
    let mut r = ReplyBuf::new(resp3);
    r.buf = Vec::with_capacity(parts.iter().map(|p| p.len() + 16).sum::<usize>() + 8);
    r.push(parts.len());
    for p in parts {
        r.bulk(p);
    }
    Bytes::from(r.buf)
}

/// Sends pushed bytes to a client, counting them against its output buffer.
pub fn push(c: &ClientInfo, msg: Bytes) {
    c.sub.pending.fetch_add(msg.len(), Ordering::Relaxed);
    if c.push.send(msg).is_err() {
        c.sub.pending.store(0, Ordering::Relaxed);
    }
}

/// Called by the connection for pushed bytes it has taken.
pub fn taken(c: &ClientInfo, n: usize) {
    let _ = c
        .sub
        .pending
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
            Some(p.saturating_sub(n))
        });
}

/// Disconnects `c` if its pending bytes break the pubsub output limits.
fn check_limits(srv: &Server, c: &ClientInfo) {
    let used = c.sub.pending.load(Ordering::Relaxed) as i64;
    let h = &srv.config.hot;
    let hard = h.pubsub_hard.load(Ordering::Relaxed);
    let soft = h.pubsub_soft.load(Ordering::Relaxed);
    let mut close = hard > 0 && used >= hard;
    if soft > 0 && used >= soft {
        let now = now_ms();
        let since = c.sub.soft_since.load(Ordering::Relaxed);
        if since == 0 {
            c.sub.soft_since.store(now, Ordering::Relaxed);
        } else {
            let secs = h.pubsub_soft_secs.load(Ordering::Relaxed).max(0) as u64;
            if now.saturating_sub(since) > secs * 1000 {
                close = true;
            }
        }
    } else {
        c.sub.soft_since.store(0, Ordering::Relaxed);
    }
    if close && !c.killed.load(Ordering::Relaxed) {
        tracing::warn!(
            "Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.",
            c.id,
            c.addr
        );
        c.kill();
    }
}

impl PubSub {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, [Subscribers; 3]> {
        self.maps.read().unwrap_or_else(|e| e.into_inner())
    }
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, [Subscribers; 3]> {
        self.maps.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of channels (or patterns, shard channels) with subscribers.
    pub fn count(&self, k: Kind) -> usize {
        self.read()[k.index()].len()
    }

    /// Subscribers of channel `ch` of kind `k` (0 for patterns: use NUMPAT).
    pub fn numsub(&self, k: Kind, ch: &[u8]) -> usize {
        self.read()[k.index()].get(ch).map_or(0, |m| m.len())
    }

    /// Active channels of kind `k` matching `pattern` (all when `None`).
    pub fn channels(&self, k: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.read()[k.index()]
            .keys()
            .filter(|c| pattern.is_none_or(|p| crate::glob::matches(p, c, false)))
            .cloned()
            .collect()
    }

    /// Delivers `msg` on `ch` to channel and pattern subscribers (or shard
    /// subscribers when `shard`). A message for client `me` is written to
    /// `me_out` directly. Returns the number of receivers.
    pub fn publish(
        &self,
        srv: &Server,
        ch: &[u8],
        msg: &[u8],
        shard: bool,
        mut me: Option<(u64, &mut ReplyBuf)>,
    ) -> usize {
        let maps = self.read();
        let mut n = 0;
        let mut frames: [Option<Bytes>; 2] = [None, None];
        let mut send = |c: &Arc<ClientInfo>, frames: &mut [Option<Bytes>; 2], parts: &[&[u8]]| {
            let resp3 = c.resp.load(Ordering::Relaxed) == 3;
            if let Some((id, out)) = me.as_mut() {
                if *id == c.id {
                    out.push(parts.len());
                    for p in parts {
                        out.bulk(p);
                    }
                    return;
                }
            }
            if c.killed.load(Ordering::Relaxed) {
                return;
            }
            let f = frames[resp3 as usize].get_or_insert_with(|| frame(resp3, parts));
            push(c, f.clone());
            check_limits(srv, c);
        };
        let (kind, word): (Kind, &[u8]) = if shard {
            (Kind::Shard, b"smessage")
        } else {
            (Kind::Channel, b"message")
        };
        if let Some(subs) = maps[kind.index()].get(ch) {
            for c in subs.values() {
                send(c, &mut frames, &[word, ch, msg]);
                n += 1;
            }
        }
        if !shard {
            for (pat, subs) in &maps[Kind::Pattern.index()] {
                if !crate::glob::matches(pat, ch, false) {
                    continue;
                }
                let mut frames = [None, None];
                for c in subs.values() {
                    send(c, &mut frames, &[b"pmessage", pat, ch, msg]);
                    n += 1;
                }
            }
        }
        n
    }

    /// Subscribes `client` to `ch`; returns false if it already was.
    fn add(&self, k: Kind, client: &mut Client, ch: &Bytes) -> bool {
        let i = k.index();
        if !client.subs.sets[i].insert(ch.clone()) {
            return false;
        }
        client.subs.lists[i].push(ch.clone());
        client.info.sub.counts[i].fetch_add(1, Ordering::Relaxed);
        self.write()[i]
            .entry(ch.clone())
            .or_default()
            .insert(client.info.id, client.info.clone());
        true
    }

    /// Unsubscribes `client` from `ch`; returns false if it was not.
    fn remove(&self, k: Kind, client: &mut Client, ch: &[u8]) -> bool {
        let i = k.index();
        if !client.subs.sets[i].remove(ch) {
            return false;
        }
        client.subs.lists[i].retain(|c| c != ch);
        client.info.sub.counts[i].fetch_sub(1, Ordering::Relaxed);
        let mut maps = self.write();
        if let Some(m) = maps[i].get_mut(ch) {
            m.remove(&client.info.id);
            if m.is_empty() {
                maps[i].remove(ch);
            }
        }
        true
    }

    /// Removes client `c` from every channel and pattern, from another
    /// connection (CLIENT KILL: Redis frees the victim at once, so a PUBLISH
    /// after the kill's reply reaches no one). Scans the registry: a kill is
    /// rare. The victim's own `drop_client` later finds nothing left to do.
    pub fn forget_client(&self, c: &ClientInfo) {
        if !c.sub.active() {
            return;
        }
        let mut maps = self.write();
        for map in maps.iter_mut() {
            map.retain(|_, m| {
                m.remove(&c.id);
                !m.is_empty()
            });
        }
    }

    /// Drops every subscription of `client` (disconnect, RESET) quietly.
    pub fn drop_client(&self, client: &mut Client) {
        if !client.subs.active() {
            return;
        }
        let mut maps = self.write();
        for (i, map) in maps.iter_mut().enumerate() {
            for ch in client.subs.lists[i].drain(..) {
                if let Some(m) = map.get_mut(&ch) {
                    m.remove(&client.info.id);
                    if m.is_empty() {
                        map.remove(&ch);
                    }
                }
            }
            client.subs.sets[i].clear();
            client.info.sub.counts[i].store(0, Ordering::Relaxed);
        }
    }
}

/// The count Redis reports after a (un)subscription of kind `k`: channels
/// plus patterns, or shard channels alone.
fn reply_count(client: &Client, k: Kind) -> i64 {
    match k {
        Kind::Shard => client.subs.len(Kind::Shard) as i64,
        _ => (client.subs.len(Kind::Channel) + client.subs.len(Kind::Pattern)) as i64,
    }
}

fn confirm(out: &mut ReplyBuf, word: &[u8], ch: Option<&[u8]>, count: i64) {
    out.push(3);
    out.bulk(word);
    match ch {
        Some(c) => out.bulk(c),
        None => out.null(),
    }
    out.int(count);
}

/// SUBSCRIBE / PSUBSCRIBE / SSUBSCRIBE for every argument.
pub fn subscribe(srv: &Server, client: &mut Client, out: &mut ReplyBuf, k: Kind, args: &[Bytes]) {
    for ch in args {
        srv.pubsub.add(k, client, ch);
        let n = reply_count(client, k);
        confirm(out, k.subscribe_word(), Some(ch), n);
    }
}

/// UNSUBSCRIBE / PUNSUBSCRIBE / SUNSUBSCRIBE: from `args`, or from all
/// (one confirmation with a null channel when there is none).
pub fn unsubscribe(srv: &Server, client: &mut Client, out: &mut ReplyBuf, k: Kind, args: &[Bytes]) {
    let all: Vec<Bytes>;
    let list = if args.is_empty() {
        all = client.subs.lists[k.index()].clone();
        if all.is_empty() {
            let n = reply_count(client, k);
            confirm(out, k.unsubscribe_word(), None, n);
            return;
        }
        &all[..]
    } else {
        args
    };
    for ch in list {
        srv.pubsub.remove(k, client, ch);
        let n = reply_count(client, k);
        confirm(out, k.unsubscribe_word(), Some(ch), n);
    }
}

/// In RESP2, a client with subscriptions may only run these.
fn allowed_when_subscribed(name: &str) -> bool {
    matches!(
        name,
        "subscribe"
            | "ssubscribe"
            | "psubscribe"
            | "unsubscribe"
            | "sunsubscribe"
            | "punsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

/// Redis's refusal of `full_name` for a RESP2 client in subscribed mode, or
/// `None` if it may run.
#[inline]
pub fn refusal(client: &Client, resp3: bool, name: &str, full_name: &str) -> Option<String> {
    if resp3 || !client.subs.active() || allowed_when_subscribed(name) {
        return None;
    }
    Some(format!(
        "ERR Can't execute '{full_name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
    ))
}
