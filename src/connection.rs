//! One client connection: read, parse every complete request in the buffer,
//! execute them in order, write all replies at once (pipelining). Also idle
//! `timeout`, kills, pushed messages (MONITOR) and shutdown.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify};

use crate::client::{Client, ClientInfo, ReplyMode};
use crate::commands::Action;
use crate::errors;
use crate::exec::{run_batch, Stop};
use crate::reply::ReplyBuf;
use crate::resp::{Parsed, Parser};
use crate::server::{now_ms, Server};

/// Serves one accepted socket until it closes.
pub async fn serve(srv: Arc<Server>, mut sock: TcpStream, peer: SocketAddr) {
    srv.stats
        .connections_received
        .fetch_add(1, Ordering::Relaxed);
    let maxclients = srv.config.get_i64("maxclients").max(1) as usize;
    if srv.clients.len() >= maxclients {
        srv.stats
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
        let _ = sock
            .write_all(format!("-{}\r\n", errors::MAX_CLIENTS).as_bytes())
            .await;
        return;
    }
    let needs_auth = !srv.config.get("requirepass").is_empty();
    if !needs_auth && !peer.ip().is_loopback() && srv.config.get_bool("protected-mode") {
        let _ = sock
            .write_all(format!("-{}\r\n", errors::PROTECTED).as_bytes())
            .await;
        return;
    }
    let _ = sock.set_nodelay(true);
    let laddr = sock.local_addr().map(|a| a.to_string()).unwrap_or_default();
    #[cfg(unix)]
    let fd = {
        use std::os::fd::AsRawFd;
        sock.as_raw_fd() as i64
    };
    #[cfg(not(unix))]
    let fd = -1;
    let (push_tx, mut push_rx) = mpsc::unbounded_channel::<Bytes>();
    let info = Arc::new(ClientInfo {
        id: srv.clients.next_id(),
        addr: peer.to_string(),
        laddr,
        fd,
        created_ms: now_ms(),
        last_interaction_ms: AtomicU64::new(now_ms()),
        name: Mutex::new(None),
        db: AtomicUsize::new(0),
        resp: AtomicU8::new(2),
        last_cmd: AtomicUsize::new(0),
        killed: AtomicBool::new(false),
        kill_notify: Notify::new(),
        monitor: AtomicBool::new(false),
        no_evict: AtomicBool::new(false),
        blocked: AtomicBool::new(false),
        push: push_tx,
        multi: std::sync::atomic::AtomicI64::new(-1),
        tracking: Default::default(),
        dirty_cas: Default::default(),
        sub: Default::default(),
    });
    srv.clients.add(info.clone());
    let mut client = Client {
        info: info.clone(),
        db: 0,
        authed: !needs_auth,
        reply_mode: ReplyMode::On,
        tx: crate::multi::ClientTx::new(info.dirty_cas.clone()),
        subs: Default::default(),
        events: Default::default(),
        caching: Default::default(),
        detached: false,
    };
    let result = run(&srv, &mut sock, &mut client, &mut push_rx).await;
    if let Err(e) = result {
        tracing::debug!("client {} closed: {e}", info.id);
    }
    release(&srv, &mut client);
}

/// Forgets the client everywhere the server registered it (blocked keys,
/// WATCH, subscriptions, tracking, the client list). Idempotent: run before
/// the last reply of a connection that is closing (QUIT), so that a peer that
/// has read that reply finds the client gone, as Redis frees a client right
/// after writing its last reply; and again when the connection ends.
fn release(srv: &Server, client: &mut Client) {
    crate::multi::reset(srv, client);
    srv.pubsub.drop_client(client);
    srv.unregister_client(client.info.id);
}

async fn run(
    srv: &Server,
    sock: &mut TcpStream,
    client: &mut Client,
    push_rx: &mut mpsc::UnboundedReceiver<Bytes>,
) -> std::io::Result<()> {
    let (mut rd, mut wr) = sock.split();
    let mut inbuf = BytesMut::with_capacity(16 * 1024);
    let mut parser = Parser::default();
    let mut out = ReplyBuf::new(false);
    let mut stop = srv.shutdown.subscribe();
    // A shutdown requested before this client registered; later ones change
    // the channel's version (`has_changed` below: an atomic load, where
    // `borrow` takes a read lock per request).
    if *stop.borrow() {
        return Ok(());
    }
    let mut cmds: Vec<Vec<Bytes>> = Vec::new();
    loop {
        // Parse every complete request already buffered.
        let max_bulk = srv.config.hot.proto_max_bulk_len.load(Ordering::Relaxed);
        let mut proto_error = None;
        // Before AUTH, Redis's stricter limits apply per request: parse one,
        // run it (it may be AUTH), then parse the next with the new state.
        let mut more = false;
        loop {
            match parser.parse(&mut inbuf, max_bulk, client.authed) {
                Parsed::Command(args) => {
                    cmds.push(args);
                    if !client.authed {
                        more = true;
                        break;
                    }
                }
                Parsed::Incomplete => break,
                Parsed::Error(e) => {
                    proto_error = Some(e);
                    break;
                }
            }
        }
        let mut close = false;
        if !cmds.is_empty() {
            // `run_batch` records the interaction time (CLIENT LIST idle=).
            let mut start = 0;
            loop {
                match run_batch(srv, client, &mut out, &cmds, start) {
                    None => break,
                    Some(Stop::WaitGil(i)) => {
                        // The GIL holder is not a script past
                        // busy-reply-threshold (those get -BUSY in
                        // `run_batch`): wait for it and try again.
                        srv.wait_gil().await;
                        start = i;
                    }
                    Some(Stop::Paused(i)) => {
                        flush(&mut wr, &mut out, srv).await?;
                        wait_unpause(srv).await;
                        start = i;
                    }
                    Some(Stop::Action(i, action)) => {
                        start = i + 1;
                        match action {
                            Action::Close => {
                                close = true;
                                break;
                            }
                            Action::Sleep(d) => {
                                flush(&mut wr, &mut out, srv).await?;
                                tokio::time::sleep(d).await;
                            }
                            Action::Shutdown => {
                                srv.scripting.kill_all(&srv.store);
                                srv.request_shutdown();
                                close = true;
                                break;
                            }
                            Action::Block => {
                                flush(&mut wr, &mut out, srv).await?;
                                let woken = crate::blocking::wait(
                                    srv, client, &mut rd, &mut inbuf, &mut stop,
                                )
                                .await?;
                                match woken {
                                    crate::blocking::Woken::Reply(r) => out.raw(&r),
                                    crate::blocking::Woken::Gone => return Ok(()),
                                }
                            }
                        }
                    }
                }
            }
            parser.recycle(&mut cmds);
        }
        if let Some(e) = proto_error {
            out.error(&format!("ERR Protocol error: {e}"));
            close = true;
        }
        // Let the other clients that are ready run their batches before
        // this reply is written, as Redis's event loop answers every ready
        // client and then writes all replies: the peer then wakes once per
        // round of writes, not once per write (on this 2-core VM a wake-up
        // of a sleeping peer costs the writer several µs of kernel time —
        // measured for EVALSHA at -c 50 -P 16, 0.9 → 0.55 µs of system time
        // per request).
        if close {
            release(srv, client);
        } else if !out.buf.is_empty() {
            tokio::task::yield_now().await;
        }
        // A killed client (say, a slow subscriber past its output limit)
        // must not stay stuck writing to a peer that does not read.
        // Biased: when the write completes at once (nearly always), the
        // kill notification is never polled, so never registered.
        tokio::select! {
            biased;
            r = flush(&mut wr, &mut out, srv) => r?,
            _ = client.info.kill_notify.notified() => return Ok(()),
        }
        if close || client.info.killed.load(Ordering::SeqCst) {
            return Ok(());
        }
        if more {
            continue;
        }
        let qlimit = srv
            .config
            .hot
            .query_buffer_limit
            .load(Ordering::Relaxed)
            .max(1024) as usize;
        if inbuf.len() > qlimit {
            tracing::warn!("closing client {}: query buffer limit", client.info.id);
            return Ok(());
        }
        let idle = srv.config.hot.timeout.load(Ordering::Relaxed);
        let idle_sleep = async {
            if idle > 0 && !client.info.monitor.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_secs(idle as u64)).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        if inbuf.capacity() - inbuf.len() < 4096 {
            inbuf.reserve(16 * 1024);
        }
        // CLIENT KILL and shutdown wake this wait through the push channel
        // (`ClientInfo::wake`); a shutdown requested before the wait is seen
        // here (the only other reader of the channel, a blocked command's
        // wait, ends the connection when it sees the change).
        if stop.has_changed().unwrap_or(true) {
            return Ok(());
        }
        tokio::select! {
            r = rd.read_buf(&mut inbuf) => {
                let n = r?;
                if n == 0 {
                    return Ok(());
                }
                // Sequentially consistent: the busy poller's wake-up test.
                srv.stats.net_input_bytes.fetch_add(n as u64, Ordering::SeqCst);
                srv.busy_poll.touched();
            }
            m = push_rx.recv() => {
                if client.info.killed.load(Ordering::SeqCst) || *stop.borrow() {
                    return Ok(());
                }
                if let Some(m) = m.filter(|m| !m.is_empty()) {
                    // Let the publishers that are ready run first (tokio
                    // would otherwise run this task right after each
                    // PUBLISH that woke it): one socket write then carries
                    // every message they sent, as Redis's one write per
                    // event-loop turn does.
                    tokio::task::yield_now().await;
                    // Take at most ~64 KB before writing, so what waits in
                    // the channel is what the output-buffer limit measures.
                    let mut n = m.len();
                    out.raw(&m);
                    while n < 64 * 1024 {
                        let Ok(m) = push_rx.try_recv() else { break };
                        n += m.len();
                        out.raw(&m);
                    }
                    crate::pubsub::taken(&client.info, n);
                }
            }
            _ = idle_sleep => return Ok(()),
        }
    }
}

/// Waits until the CLIENT PAUSE deadline passes or CLIENT UNPAUSE is called.
async fn wait_unpause(srv: &Server) {
    let notified = srv.unpause.notified();
    tokio::pin!(notified);
    notified.as_mut().enable();
    let until = srv.pause_until.load(Ordering::SeqCst);
    let left = until.saturating_sub(now_ms());
    if left > 0 {
        let _ = tokio::time::timeout(Duration::from_millis(left), notified).await;
    }
}

async fn flush(
    wr: &mut tokio::net::tcp::WriteHalf<'_>,
    out: &mut ReplyBuf,
    srv: &Server,
) -> std::io::Result<()> {
    if !out.buf.is_empty() {
        wr.write_all(&out.buf).await?;
        srv.stats
            .net_output_bytes
            .fetch_add(out.buf.len() as u64, Ordering::Relaxed);
        out.buf.clear();
        if out.buf.capacity() > 1 << 20 {
            out.buf.shrink_to(16 * 1024);
        }
    }
    Ok(())
}
