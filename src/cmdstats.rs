//! Per-command and per-error statistics for `INFO commandstats` and
//! `INFO errorstats`, in Redis's formats.
//!
//! Every command and subcommand of the table has a slot ([`Table::slot`]), so
//! counting a call is a few relaxed atomic adds on that command's own
//! counters, with no lock on the hot path.
//!
//! [`Table::slot`]: crate::commands::Table::slot Error codes are rare
//! and go into a small locked map.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use crate::commands::{table, CommandSpec};

/// Counters of one command.
#[derive(Default)]
pub struct Counters {
    calls: AtomicU64,
    usec: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
}

/// The statistics of all commands and error codes; `slots` follows
/// [`crate::commands::Table::named`].
pub struct CommandStats {
    slots: Vec<(String, Counters)>,
    errors: Mutex<BTreeMap<String, u64>>,
}

impl Default for CommandStats {
    fn default() -> Self {
        CommandStats {
            slots: table()
                .named
                .iter()
                .map(|(n, _)| (n.clone(), Counters::default()))
                .collect(),
            errors: Mutex::new(BTreeMap::new()),
        }
    }
}

impl CommandStats {
    fn slot(&self, spec: &'static CommandSpec) -> Option<&Counters> {
        self.slots.get(table().slot(spec)?).map(|(_, c)| c)
    }

    /// Counts one executed call of the command in table slot `slot` that
    /// took `usec`, and whether it replied an error.
    pub fn call(&self, slot: usize, usec: u64, failed: bool) {
        if let Some((_, c)) = self.slots.get(slot) {
            c.calls.fetch_add(1, Relaxed);
            c.usec.fetch_add(usec, Relaxed);
            if failed {
                c.failed.fetch_add(1, Relaxed);
            }
        }
    }

    /// Counts a call refused before execution (arity, auth, pause…).
    pub fn rejected(&self, spec: &'static CommandSpec) {
        if let Some(c) = self.slot(spec) {
            c.rejected.fetch_add(1, Relaxed);
        }
    }

    /// Counts an error reply by its code (the first word: `ERR`, `WRONGTYPE`…).
    pub fn error(&self, msg: &str) {
        let code = msg.split(' ').next().unwrap_or("ERR");
        let mut e = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        // Redis caps the number of distinct codes it tracks at 128.
        if e.len() < 128 || e.contains_key(code) {
            *e.entry(code.to_string()).or_insert(0) += 1;
        }
    }

    /// Zeroes everything (CONFIG RESETSTAT).
    pub fn reset(&self) {
        for (_, c) in &self.slots {
            for a in [&c.calls, &c.usec, &c.rejected, &c.failed] {
                a.store(0, Relaxed);
            }
        }
        self.errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The `cmdstat_…` lines of INFO commandstats.
    pub fn write_commandstats(&self, out: &mut String) {
        for (name, c) in &self.slots {
            let (calls, usec) = (c.calls.load(Relaxed), c.usec.load(Relaxed));
            let (rejected, failed) = (c.rejected.load(Relaxed), c.failed.load(Relaxed));
            if calls == 0 && rejected == 0 && failed == 0 {
                continue;
            }
            let per = if calls == 0 {
                0.0
            } else {
                usec as f64 / calls as f64
            };
            let _ = write!(
                out,
                "cmdstat_{name}:calls={calls},usec={usec},usec_per_call={per:.2},rejected_calls={rejected},failed_calls={failed}\r\n"
            );
        }
    }

    /// The `errorstat_…` lines of INFO errorstats.
    pub fn write_errorstats(&self, out: &mut String) {
        let e = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        for (code, n) in e.iter() {
            let _ = write!(out, "errorstat_{code}:count={n}\r\n");
        }
    }
}
