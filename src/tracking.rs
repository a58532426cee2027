//! Client-side caching support (CLIENT TRACKING): the table of keys read by
//! tracking clients, broadcast prefixes, and invalidation messages sent when
//! a write transaction that changed those keys commits.
//!
//! Changed keys come from the engine's write log (switched on while any
//! client tracks, see `crate::multi::begin`), so every command is covered.
//! Like Redis, the table ignores the database a key lives in, a key is
//! forgotten once invalidated, and FLUSHDB/FLUSHALL send a null
//! invalidation to every tracking client.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use ferrous_storage::WriteLog;

use crate::client::{Client, ClientInfo};
use crate::commands::{flags, is, CommandSpec, Ctx};
use crate::errors;
use crate::reply::ReplyBuf;
use crate::server::Server;

/// A tracking client's settings, as the writers need them.
struct Tracker {
    info: Arc<ClientInfo>,
    /// Client receiving the messages (0: the tracking client itself).
    redirect: u64,
    bcast: bool,
    prefixes: Vec<Bytes>,
    noloop: bool,
    optin: bool,
    optout: bool,
    /// The redirect target disappeared.
    broken: bool,
}

#[derive(Default)]
struct Inner {
    clients: HashMap<u64, Tracker>,
    /// Key → ids of the clients that may cache it.
    table: HashMap<Bytes, HashSet<u64>>,
}

/// The server's tracking state.
#[derive(Default)]
pub struct Tracking {
    inner: Mutex<Inner>,
    /// Number of tracking clients: zero keeps write logs off.
    clients: AtomicUsize,
}

/// What CLIENT LIST shows of a client's tracking.
pub struct TrackingInfo {
    /// Bits: 1 tracking (`t`), 2 BCAST (`B`), 4 broken redirect (`R`).
    pub flags: std::sync::atomic::AtomicU8,
    /// The redirect id, 0 for none, -1 when not tracking.
    pub redir: std::sync::atomic::AtomicI64,
}

impl Default for TrackingInfo {
    fn default() -> Self {
        TrackingInfo {
            flags: Default::default(),
            redir: std::sync::atomic::AtomicI64::new(-1),
        }
    }
}

/// The connection-private part: CLIENT CACHING's one-command flag.
#[derive(Default)]
pub struct ClientCaching {
    /// Whether tracking is on (mirrors the registry, read per command).
    pub on: bool,
    /// CLIENT CACHING yes/no given for the next command.
    pub caching: bool,
}

impl Tracking {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether any client tracks keys.
    #[inline]
    pub fn active(&self) -> bool {
        self.clients.load(Ordering::Relaxed) > 0
    }

    /// INFO figures: tracking clients, keys in the table, items (client
    /// entries) in the table, prefixes.
    pub fn figures(&self) -> (usize, usize, usize, usize) {
        let g = self.lock();
        let items = g.table.values().map(|s| s.len()).sum();
        let mut prefixes: HashSet<&Bytes> = HashSet::new();
        for t in g.clients.values() {
            prefixes.extend(t.prefixes.iter());
        }
        (g.clients.len(), g.table.len(), items, prefixes.len())
    }

    /// Forgets a client that stops tracking or disconnects.
    pub fn remove(&self, id: u64) {
        if let Some(t) = self.lock().clients.remove(&id) {
            self.clients.fetch_sub(1, Ordering::Relaxed);
            t.info.tracking.flags.store(0, Ordering::Relaxed);
            t.info.tracking.redir.store(-1, Ordering::Relaxed);
        }
    }

    /// After a read-only command of a tracking client: remembers its keys
    /// (unless OPTIN without CACHING yes, or OPTOUT with CACHING no).
    pub fn after_command(
        &self,
        client: &mut Client,
        spec: &'static CommandSpec,
        args: &[Bytes],
        in_exec: bool,
    ) {
        let given = client.caching.caching;
        // Like Redis, CLIENT subcommands, MULTI and the commands inside
        // EXEC keep the flag for the command after them.
        if !in_exec && !is(&args[0], "client") && !client.tx.in_multi() {
            client.caching.caching = false;
        }
        if !spec.has(flags::READONLY) {
            return;
        }
        let (first, last, step) = spec.keys;
        if first <= 0 || step <= 0 {
            return;
        }
        let id = client.info.id;
        let mut g = self.lock();
        let Some(t) = g.clients.get(&id) else {
            return;
        };
        if t.bcast || (t.optin && !given) || (t.optout && given) {
            return;
        }
        let argc = args.len() as i32;
        let last = if last < 0 {
            argc + last
        } else {
            last.min(argc - 1)
        };
        let mut i = first;
        while i <= last {
            if let Some(k) = args.get(i as usize) {
                g.table.entry(k.clone()).or_default().insert(id);
            }
            i += step;
        }
    }

    /// Sends the invalidations for what `log` changed, written by client
    /// `writer` (after the commit that published it).
    pub fn invalidate(&self, srv: &Server, log: &WriteLog, writer: u64) {
        let mut g = self.lock();
        if g.clients.is_empty() {
            return;
        }
        if log.replaced.iter().any(|r| r.after.is_none()) {
            // A flush: everyone drops everything.
            g.table.clear();
            let ids: Vec<u64> = g.clients.keys().copied().collect();
            for id in ids {
                send(srv, &mut g, id, None);
            }
        }
        // Broadcast: one message per prefix (in byte order, as Redis walks
        // its prefix tree) with the keys under it, to each client of it.
        let mut bcast: std::collections::BTreeMap<Bytes, Vec<Bytes>> = Default::default();
        let any_bcast = g.clients.values().any(|t| t.bcast);
        let mut seen: HashSet<&[u8]> = HashSet::new();
        for (_, key, _) in &log.keys {
            if !seen.insert(&key[..]) {
                continue;
            }
            if any_bcast {
                let mut prefixes: HashSet<&Bytes> = HashSet::new();
                for t in g.clients.values().filter(|t| t.bcast) {
                    prefixes.extend(t.prefixes.iter().filter(|p| key.starts_with(p)));
                }
                for p in prefixes {
                    bcast
                        .entry(p.clone())
                        .or_default()
                        .push(Bytes::copy_from_slice(key));
                }
            }
            let Some(ids) = g.table.remove(&key[..]) else {
                continue;
            };
            for id in ids {
                let Some(t) = g.clients.get(&id) else {
                    continue;
                };
                if t.bcast || (t.noloop && id == writer) {
                    continue;
                }
                send(srv, &mut g, id, Some(&[Bytes::copy_from_slice(key)]));
            }
        }
        for (prefix, keys) in bcast {
            let ids: Vec<u64> = g
                .clients
                .iter()
                .filter(|(id, t)| {
                    t.bcast && t.prefixes.contains(&prefix) && !(t.noloop && **id == writer)
                })
                .map(|(id, _)| *id)
                .collect();
            for id in ids {
                send(srv, &mut g, id, Some(&keys));
            }
        }
    }
}

/// Sends one invalidation message (`keys` None: a flush) for tracking
/// client `id`, to it or its redirect target.
fn send(srv: &Server, g: &mut Inner, id: u64, keys: Option<&[Bytes]>) {
    let Some(t) = g.clients.get_mut(&id) else {
        return;
    };
    let mut target = t.info.clone();
    let mut redirected = false;
    if t.redirect != 0 {
        match srv.clients.get(t.redirect) {
            Some(r) => {
                target = r;
                redirected = true;
            }
            None => {
                t.broken = true;
                t.info.tracking.flags.fetch_or(4, Ordering::Relaxed);
                if t.info.resp.load(Ordering::Relaxed) == 3 {
                    let mut r = ReplyBuf::new(true);
                    r.push(2);
                    r.bulk(b"tracking-redir-broken");
                    r.int(t.redirect as i64);
                    crate::pubsub::push(&t.info, Bytes::from(r.buf));
                }
                return;
            }
        }
    }
    let resp3 = target.resp.load(Ordering::Relaxed) == 3;
    let mut r = ReplyBuf::new(resp3);
    if resp3 {
        r.push(2);
        r.bulk(b"invalidate");
    } else if redirected && target.sub.active() {
        r.array(3);
        r.bulk(b"message");
        r.bulk(b"__redis__:invalidate");
    } else {
        return;
    }
    match keys {
        None => r.null(),
        Some(keys) => {
            r.array(keys.len());
            for k in keys {
                r.bulk(k);
            }
        }
    }
    crate::pubsub::push(&target, Bytes::from(r.buf));
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p]... [BCAST] [OPTIN]
/// [OPTOUT] [NOLOOP].
pub fn client_tracking(ctx: &mut Ctx<'_>) {
    let args = ctx.args;
    let mut redirect = 0u64;
    let mut prefixes: Vec<Bytes> = Vec::new();
    let (mut bcast, mut optin, mut optout, mut noloop) = (false, false, false, false);
    let mut i = 3;
    while i < args.len() {
        let more = i + 1 < args.len();
        let a = &args[i];
        if is(a, "redirect") && more {
            i += 1;
            if redirect != 0 {
                return ctx.err("ERR A client can only redirect to a single other client");
            }
            let id = match crate::commands::int_arg(&args[i]) {
                Ok(n) => n,
                Err(e) => return ctx.err(e),
            };
            if id <= 0 || ctx.srv.clients.get(id as u64).is_none() {
                return ctx.err("ERR The client ID you want redirect to does not exist");
            }
            redirect = id as u64;
        } else if is(a, "bcast") {
            bcast = true;
        } else if is(a, "optin") {
            optin = true;
        } else if is(a, "optout") {
            optout = true;
        } else if is(a, "noloop") {
            noloop = true;
        } else if is(a, "prefix") && more {
            i += 1;
            prefixes.push(args[i].clone());
        } else {
            return ctx.err(errors::SYNTAX);
        }
        i += 1;
    }
    let srv = ctx.srv;
    let id = ctx.client.info.id;
    if is(&args[2], "off") {
        srv.tracking.remove(id);
        ctx.client.caching = ClientCaching::default();
        return ctx.out.ok();
    }
    if !is(&args[2], "on") {
        return ctx.err(errors::SYNTAX);
    }
    let mut g = srv.tracking.lock();
    let existing = g.clients.get(&id);
    if !bcast && !prefixes.is_empty() {
        return ctx.err("ERR PREFIX option requires BCAST mode to be enabled");
    }
    if existing.is_some_and(|t| t.bcast != bcast) {
        return ctx.err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.");
    }
    if optin && optout {
        return ctx.err("ERR You can't specify both OPTIN mode and OPTOUT mode");
    }
    if existing.is_some_and(|t| (optin && t.optout) || (optout && t.optin)) {
        return ctx.err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.");
    }
    if bcast && (optin || optout) {
        return ctx.err("ERR OPTIN and OPTOUT are not compatible with BCAST");
    }
    let old_prefixes: &[Bytes] = existing.map_or(&[], |t| &t.prefixes);
    let overlap = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
    for (n, p) in prefixes.iter().enumerate() {
        if let Some(o) = old_prefixes.iter().find(|o| overlap(p, o) && *o != p) {
            return ctx.err(&format!(
                "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                String::from_utf8_lossy(p),
                String::from_utf8_lossy(o)
            ));
        }
        if let Some(o) = prefixes[n + 1..].iter().find(|o| overlap(p, o)) {
            return ctx.err(&format!(
                "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                String::from_utf8_lossy(p),
                String::from_utf8_lossy(o)
            ));
        }
    }
    let mut all = old_prefixes.to_vec();
    for p in prefixes {
        if !all.contains(&p) {
            all.push(p);
        }
    }
    if bcast && all.is_empty() {
        // BCAST without PREFIX: the empty prefix, every key.
        all.push(Bytes::new());
    }
    // Redis keeps them in a radix tree: listed in byte order.
    all.sort();
    let t = Tracker {
        info: ctx.client.info.clone(),
        redirect,
        bcast,
        prefixes: all,
        noloop,
        optin,
        optout,
        broken: false,
    };
    let info = &ctx.client.info.tracking;
    info.flags
        .store(1 | if bcast { 2 } else { 0 }, Ordering::Relaxed);
    info.redir.store(redirect as i64, Ordering::Relaxed);
    if g.clients.insert(id, t).is_none() {
        srv.tracking.clients.fetch_add(1, Ordering::Relaxed);
    }
    drop(g);
    ctx.client.caching.on = true;
    ctx.out.ok();
}

/// CLIENT CACHING YES|NO.
pub fn client_caching(ctx: &mut Ctx<'_>) {
    let id = ctx.client.info.id;
    let (optin, optout) = {
        let g = ctx.srv.tracking.lock();
        g.clients
            .get(&id)
            .map_or((false, false), |t| (t.optin, t.optout))
    };
    if !optin && !optout {
        return ctx.err("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled");
    }
    let a = &ctx.args[2];
    if is(a, "yes") {
        if !optin {
            return ctx.err(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            );
        }
    } else if is(a, "no") {
        if !optout {
            return ctx.err(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            );
        }
    } else {
        return ctx.err(errors::SYNTAX);
    }
    ctx.client.caching.caching = true;
    ctx.out.ok();
}

/// CLIENT GETREDIR: -1 when not tracking, else the redirect id (0: none).
pub fn client_getredir(ctx: &mut Ctx<'_>) {
    let id = ctx.client.info.id;
    let r = ctx
        .srv
        .tracking
        .lock()
        .clients
        .get(&id)
        .map_or(-1, |t| t.redirect as i64);
    ctx.out.int(r);
}

/// CLIENT TRACKINGINFO.
pub fn client_trackinginfo(ctx: &mut Ctx<'_>) {
    let id = ctx.client.info.id;
    let caching = ctx.client.caching.caching;
    let (flags, redirect, prefixes) = {
        let g = ctx.srv.tracking.lock();
        match g.clients.get(&id) {
            None => (vec!["off"], -1, Vec::new()),
            Some(t) => {
                let mut f = vec!["on"];
                if t.bcast {
                    f.push("bcast");
                }
                if t.optin {
                    f.push("optin");
                    if caching {
                        f.push("caching-yes");
                    }
                }
                if t.optout {
                    f.push("optout");
                    if caching {
                        f.push("caching-no");
                    }
                }
                if t.noloop {
                    f.push("noloop");
                }
                if t.broken {
                    f.push("broken_redirect");
                }
                (f, t.redirect as i64, t.prefixes.clone())
            }
        }
    };
    let out = &mut *ctx.out;
    out.map(3);
    out.bulk(b"flags");
    out.set(flags.len());
    for f in flags {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"redirect");
    out.int(redirect);
    out.bulk(b"prefixes");
    out.array(prefixes.len());
    for p in &prefixes {
        out.bulk(p);
    }
}
