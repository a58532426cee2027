//! `ferrous-server`: runs Ferrous like `redis-server` — an optional config
//! file first, then `--name value` overrides, defaults embedded.

use tracing_subscriber::EnvFilter;

// mimalloc: the engine frees whole path copies at once when an old version is
// retired; glibc malloc pays for that in consolidation (write path at 1M keys:
// 8.3 µs with glibc, 2.5 µs with mimalloc, see docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-v" || a == "--version") {
        println!(
            "Ferrous server v={} (Redis {} compatible)",
            ferrous::FERROUS_VERSION,
            ferrous::REDIS_VERSION
        );
        return;
    }
    let config = match ferrous::config::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("\n*** FATAL CONFIG FILE ERROR ***\n{e}");
            std::process::exit(1);
        }
    };
    let level = match config.get("loglevel").as_str() {
        "debug" => "debug",
        "verbose" => "info",
        "warning" => "warn",
        _ => "info",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
    if config.get_bool("disable-thp") {
        disable_thp_if_always();
    }
    // `io-threads` (as in redis.conf) sets the runtime's worker threads. The
    // default, 1, is fastest on small machines where the clients share the
    // cores (measured with redis-benchmark on 2 cores: 1 worker 76k SET/s at
    // -P 1, 2 workers 69k); writers never block a worker (they wait for the GIL
    // asynchronously), so one worker still serves reads during a long write.
    let workers = config.get_i64("io-threads").clamp(1, 128) as usize;
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    rt.block_on(async move {
        let running = match ferrous::server::start(config).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("could not bind: {e}");
                std::process::exit(1);
            }
        };
        tracing::info!(
            "Ferrous {} (Redis {} compatible) started: port={} pid={}",
            ferrous::FERROUS_VERSION,
            ferrous::REDIS_VERSION,
            running.addr.port(),
            std::process::id()
        );
        tracing::info!("Ready to accept connections tcp");
        let srv = running.server.clone();
        tokio::spawn(async move {
            wait_signal().await;
            tracing::warn!("Received shutdown signal, scheduling shutdown...");
            srv.request_shutdown();
        });
        let _ = running.done.await;
        tracing::warn!("Ferrous is now ready to exit, bye bye...");
    });
}

async fn wait_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `disable-thp yes` (the default), as redis-server: when the kernel gives
/// every anonymous mapping transparent huge pages (mode `always`), turn them
/// off for this process. In `madvise` mode nothing changes: only what the
/// allocator asks huge pages for gets them, and a large keyspace's random
/// walks gain from their TLB reach (docs/performance.md, session 18).
fn disable_thp_if_always() {
    let mode =
        std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    if !mode.contains("[always]") {
        return;
    }
    // SAFETY: PR_SET_THP_DISABLE takes only integer arguments and changes
    // nothing but the process's huge-page policy.
    let r = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    if r == 0 {
        tracing::info!("transparent huge pages disabled for this process (disable-thp yes)");
    } else {
        tracing::warn!(
            "could not disable transparent huge pages: {}",
            std::io::Error::last_os_error()
        );
    }
}
