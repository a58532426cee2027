//! The text of INFO: sections with Redis 7.0's names, field names and
//! formats, so tools that parse Redis's INFO parse ours. Values Ferrous
//! does not track are reported as Redis reports an idle instance (0, ok).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use crate::server::{now_ms, now_us, Server};

/// Every section in Redis's order; `default` skips the stats-heavy ones.
const SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
];

const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];

/// Renders INFO for the requested (lower-case) section names.
pub fn render(srv: &Server, requested: &[String]) -> String {
    let wanted: Vec<&str> = if requested.is_empty() {
        DEFAULT.to_vec()
    } else {
        SECTIONS
            .iter()
            .copied()
            .filter(|s| {
                requested.iter().any(|r| {
                    r == s
                        || (r == "default" && DEFAULT.contains(s))
                        || r == "everything"
                        || (r == "all" && *s != "modules")
                })
            })
            .collect()
    };
    let mut out = String::new();
    for s in wanted {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        section(srv, s, &mut out);
    }
    out
}

/// Formats a byte count like Redis's `bytesToHuman`.
pub fn human(n: u64) -> String {
    let d = n as f64;
    const K: f64 = 1024.0;
    if d < K {
        format!("{n}B")
    } else if d < K * K {
        format!("{:.2}K", d / K)
    } else if d < K * K * K {
        format!("{:.2}M", d / (K * K))
    } else if d < K * K * K * K {
        format!("{:.2}G", d / (K * K * K))
    } else {
        format!("{:.2}T", d / (K * K * K * K))
    }
}

/// Resident set size from `/proc/self/statm`, in bytes.
pub fn rss_bytes() -> u64 {
    let page = page_size();
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * page)
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as u64
    } else {
        4096
    }
}

fn total_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb * 1024)
}

/// User and system CPU seconds of `who` (RUSAGE_SELF, RUSAGE_CHILDREN…).
fn cpu(who: libc::c_int) -> (String, String) {
    // SAFETY: getrusage writes into the zeroed struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::getrusage(who, &mut ru) } == 0;
    if !ok {
        return ("0.000000".into(), "0.000000".into());
    }
    let f = |t: libc::timeval| format!("{}.{:06}", t.tv_sec, t.tv_usec);
    (f(ru.ru_stime), f(ru.ru_utime))
}

fn os_name() -> String {
    // SAFETY: uname fills the zeroed struct we own.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return "Linux".into();
    }
    let field = |f: &[libc::c_char]| -> String {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!(
        "{} {} {}",
        field(&u.sysname),
        field(&u.release),
        field(&u.machine)
    )
}

fn section(srv: &Server, name: &str, out: &mut String) {
    let st = &srv.stats;
    let ld = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let title = match name {
        "cpu" => "CPU".to_string(),
        other => {
            let mut t = other.to_string();
            if let Some(f) = t.get_mut(0..1) {
                f.make_ascii_uppercase();
            }
            t
        }
    };
    let _ = write!(out, "# {title}\r\n");
    let mut kv = |k: &str, v: &dyn std::fmt::Display| {
        let _ = write!(out, "{k}:{v}\r\n");
    };
    match name {
        "server" => {
            let up = now_ms().saturating_sub(srv.start_ms) / 1000;
            kv("redis_version", &crate::REDIS_VERSION);
            kv("redis_git_sha1", &"00000000");
            kv("redis_git_dirty", &0);
            kv("redis_build_id", &"0");
            kv("redis_mode", &"standalone");
            kv("os", &os_name());
            kv("arch_bits", &(usize::BITS));
            kv("monotonic_clock", &"POSIX clock_gettime");
            kv("multiplexing_api", &"epoll");
            kv("atomicvar_api", &"c11-builtin");
            kv("gcc_version", &"0.0.0");
            kv("process_id", &std::process::id());
            kv("process_supervised", &"no");
            kv("run_id", &srv.run_id);
            kv("tcp_port", &srv.port.load(Ordering::Relaxed));
            kv("server_time_usec", &now_us());
            kv("uptime_in_seconds", &up);
            kv("uptime_in_days", &(up / 86400));
            kv("hz", &srv.config.get_i64("hz"));
            kv("configured_hz", &srv.config.get_i64("hz"));
            kv("lru_clock", &((now_ms() / 1000) & ((1 << 24) - 1)));
            let exe = std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            kv("executable", &exe);
            let file = srv.config.file().map(|f| f.display().to_string());
            kv("config_file", &file.unwrap_or_default());
            kv("io_threads_active", &0);
        }
        "clients" => {
            kv("connected_clients", &srv.clients.len());
            kv("cluster_connections", &0);
            kv("maxclients", &srv.config.get_i64("maxclients"));
            kv("client_recent_max_input_buffer", &0);
            kv("client_recent_max_output_buffer", &0);
            kv("blocked_clients", &srv.blocking.blocked_clients());
            kv("tracking_clients", &srv.tracking.figures().0);
            kv("clients_in_timeout_table", &srv.blocking.with_timeout());
        }
        "memory" => {
            let rss = rss_bytes();
            let total = total_memory();
            let maxmem = srv.config.get_i64("maxmemory").max(0) as u64;
            // No allocator statistics: the resident size stands in for
            // used memory, which is what it bounds anyway.
            kv("used_memory", &rss);
            kv("used_memory_human", &human(rss));
            kv("used_memory_rss", &rss);
            kv("used_memory_rss_human", &human(rss));
            kv("used_memory_peak", &rss);
            kv("used_memory_peak_human", &human(rss));
            kv("used_memory_peak_perc", &"100.00%");
            kv("used_memory_overhead", &0);
            kv("used_memory_startup", &0);
            kv("used_memory_dataset", &rss);
            kv("used_memory_dataset_perc", &"100.00%");
            kv("allocator_allocated", &rss);
            kv("allocator_active", &rss);
            kv("allocator_resident", &rss);
            kv("total_system_memory", &total);
            kv("total_system_memory_human", &human(total));
            let sc = srv.scripting.info();
            kv("used_memory_lua", &sc.lua_memory);
            kv("used_memory_vm_eval", &sc.lua_memory);
            kv("used_memory_lua_human", &human(sc.lua_memory as u64));
            kv("used_memory_scripts_eval", &sc.script_bytes);
            kv("number_of_cached_scripts", &sc.scripts);
            kv("number_of_functions", &sc.functions);
            kv("number_of_libraries", &sc.libraries);
            kv("used_memory_vm_functions", &0);
            kv("used_memory_vm_total", &0);
            kv("used_memory_vm_total_human", &"0B");
            kv("used_memory_functions", &0);
            kv("used_memory_scripts", &0);
            kv("used_memory_scripts_human", &"0B");
            kv("maxmemory", &maxmem);
            kv("maxmemory_human", &human(maxmem));
            kv("maxmemory_policy", &srv.config.get("maxmemory-policy"));
            kv("allocator_frag_ratio", &"1.00");
            kv("allocator_frag_bytes", &0);
            kv("allocator_rss_ratio", &"1.00");
            kv("allocator_rss_bytes", &0);
            kv("rss_overhead_ratio", &"1.00");
            kv("rss_overhead_bytes", &0);
            kv("mem_fragmentation_ratio", &"1.00");
            kv("mem_fragmentation_bytes", &0);
            kv("mem_not_counted_for_evict", &0);
            kv("mem_replication_backlog", &0);
            kv("mem_total_replication_buffers", &0);
            kv("mem_clients_slaves", &0);
            kv("mem_clients_normal", &0);
            kv("mem_cluster_links", &0);
            kv("mem_aof_buffer", &0);
            kv("mem_allocator", &"libc");
            kv("active_defrag_running", &0);
            kv("lazyfree_pending_objects", &0);
            kv("lazyfreed_objects", &0);
        }
        "persistence" => {
            kv("loading", &0);
            kv("async_loading", &0);
            kv("current_cow_peak", &0);
            kv("current_cow_size", &0);
            kv("current_cow_size_age", &0);
            kv("current_fork_perc", &"0.00");
            kv("current_save_keys_processed", &0);
            kv("current_save_keys_total", &0);
            kv("rdb_changes_since_last_save", &ld(&st.dirty));
            kv("rdb_bgsave_in_progress", &0);
            kv("rdb_last_save_time", &srv.last_save.load(Ordering::Relaxed));
            kv("rdb_last_bgsave_status", &"ok");
            kv("rdb_last_bgsave_time_sec", &-1);
            kv("rdb_current_bgsave_time_sec", &-1);
            kv("rdb_saves", &0);
            kv("rdb_last_cow_size", &0);
            kv("rdb_last_load_keys_expired", &0);
            kv("rdb_last_load_keys_loaded", &0);
            kv("aof_enabled", &(srv.config.get_bool("appendonly") as u8));
            kv("aof_rewrite_in_progress", &0);
            kv("aof_rewrite_scheduled", &0);
            kv("aof_last_rewrite_time_sec", &-1);
            kv("aof_current_rewrite_time_sec", &-1);
            kv("aof_last_bgrewrite_status", &"ok");
            kv("aof_rewrites", &0);
            kv("aof_rewrites_consecutive_failures", &0);
            kv("aof_last_write_status", &"ok");
            kv("aof_last_cow_size", &0);
            kv("module_fork_in_progress", &0);
            kv("module_fork_last_cow_size", &0);
        }
        "stats" => {
            kv("total_connections_received", &ld(&st.connections_received));
            kv("total_commands_processed", &ld(&st.commands_processed));
            kv("instantaneous_ops_per_sec", &0);
            kv("total_net_input_bytes", &ld(&st.net_input_bytes));
            kv("total_net_output_bytes", &ld(&st.net_output_bytes));
            kv("total_net_repl_input_bytes", &0);
            kv("total_net_repl_output_bytes", &0);
            kv("instantaneous_input_kbps", &"0.00");
            kv("instantaneous_output_kbps", &"0.00");
            kv("instantaneous_input_repl_kbps", &"0.00");
            kv("instantaneous_output_repl_kbps", &"0.00");
            kv("rejected_connections", &ld(&st.rejected_connections));
            kv("sync_full", &0);
            kv("sync_partial_ok", &0);
            kv("sync_partial_err", &0);
            kv("expired_keys", &ld(&st.expired_keys));
            kv("expired_stale_perc", &"0.00");
            kv("expired_time_cap_reached_count", &0);
            kv("expire_cycle_cpu_milliseconds", &0);
            kv("evicted_keys", &0);
            kv("evicted_clients", &0);
            kv("total_eviction_exceeded_time", &0);
            kv("current_eviction_exceeded_time", &0);
            kv("keyspace_hits", &ld(&st.keyspace_hits));
            kv("keyspace_misses", &ld(&st.keyspace_misses));
            let ps = &srv.pubsub;
            kv("pubsub_channels", &ps.count(crate::pubsub::Kind::Channel));
            kv("pubsub_patterns", &ps.count(crate::pubsub::Kind::Pattern));
            kv(
                "pubsubshard_channels",
                &ps.count(crate::pubsub::Kind::Shard),
            );
            kv("latest_fork_usec", &0);
            kv("total_forks", &0);
            kv("migrate_cached_sockets", &0);
            kv("slave_expires_tracked_keys", &0);
            kv("active_defrag_hits", &0);
            kv("active_defrag_misses", &0);
            kv("active_defrag_key_hits", &0);
            kv("active_defrag_key_misses", &0);
            kv("total_active_defrag_time", &0);
            kv("current_active_defrag_time", &0);
            let (_, keys, items, prefixes) = srv.tracking.figures();
            kv("tracking_total_keys", &keys);
            kv("tracking_total_items", &items);
            kv("tracking_total_prefixes", &prefixes);
            kv("unexpected_error_replies", &0);
            kv("total_error_replies", &ld(&st.error_replies));
            kv("dump_payload_sanitizations", &0);
            kv("total_reads_processed", &0);
            kv("total_writes_processed", &0);
            kv("io_threaded_reads_processed", &0);
            kv("io_threaded_writes_processed", &0);
            kv("reply_buffer_shrinks", &0);
            kv("reply_buffer_expands", &0);
        }
        "replication" => {
            kv("role", &"master");
            kv("connected_slaves", &0);
            kv("master_failover_state", &"no-failover");
            kv("master_replid", &srv.run_id);
            kv(
                "master_replid2",
                &"0000000000000000000000000000000000000000",
            );
            kv("master_repl_offset", &0);
            kv("second_repl_offset", &-1);
            kv("repl_backlog_active", &0);
            kv("repl_backlog_size", &1048576);
            kv("repl_backlog_first_byte_offset", &0);
            kv("repl_backlog_histlen", &0);
        }
        "cpu" => {
            let (sys, user) = cpu(libc::RUSAGE_SELF);
            let (csys, cuser) = cpu(libc::RUSAGE_CHILDREN);
            kv("used_cpu_sys", &sys);
            kv("used_cpu_user", &user);
            kv("used_cpu_sys_children", &csys);
            kv("used_cpu_user_children", &cuser);
            // Every thread serves clients; the process totals stand in.
            kv("used_cpu_sys_main_thread", &sys);
            kv("used_cpu_user_main_thread", &user);
        }
        "cluster" => kv("cluster_enabled", &0),
        "keyspace" => {
            let lines: Vec<String> = srv.store.read(|v| {
                v.dbs()
                    .enumerate()
                    .filter(|(_, db)| !db.is_empty())
                    .map(|(i, db)| {
                        format!(
                            "db{i}:keys={},expires={},avg_ttl=0",
                            db.len(),
                            db.expires_len()
                        )
                    })
                    .collect()
            });
            for l in lines {
                out.push_str(&l);
                out.push_str("\r\n");
            }
        }
        "commandstats" => srv.cmdstats.write_commandstats(out),
        "errorstats" => srv.cmdstats.write_errorstats(out),
        "latencystats" => {
            let ps = crate::config::parse_percentiles(
                &srv.config.get("latency-tracking-info-percentiles"),
            )
            .unwrap_or_default();
            srv.cmdstats.write_latencystats(out, &ps);
        }
        // modules: none loaded.
        _ => {}
    }
}
