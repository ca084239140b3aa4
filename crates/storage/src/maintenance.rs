//! Background work on every table of a store: flushing buffers by their
//! flush policies and forgetting expired idempotency keys ([`run`]), and
//! compaction, snapshot expiry and orphan-file cleanup ([`run_compaction`]),
//! in a task of its own so a long compaction never holds up a flush.
//!
//! Each runs on a thread of its own, off the runtime that serves clients:
//! encoding Parquet and sorting are seconds of CPU that would otherwise
//! delay the acknowledgements queued behind them. Compaction runs at a
//! lower CPU priority still, since it can always wait.

use std::sync::Weak;
use std::time::{Duration, Instant};

use crate::store::Store;

/// How often buffers are checked against their policies.
const TICK: Duration = Duration::from_millis(100);
/// How often expired idempotency keys are forgotten.
const EXPIRE_KEYS: Duration = Duration::from_secs(60);
/// How long a table whose flush failed waits before the next attempt.
const RETRY: Duration = Duration::from_secs(5);
/// How often tables whose snapshot changed are checked for compaction.
const COMPACT_TICK: Duration = Duration::from_secs(2);
/// How often tables are checked for snapshots to expire.
const EXPIRE_EVERY: Duration = Duration::from_secs(60);
/// How often every table is checked for orphan files.
const ORPHANS_EVERY: Duration = Duration::from_secs(3600);

/// Starts the flusher and the compactor on threads of their own.
pub(crate) fn start(store: &std::sync::Arc<Store>) {
    let weak = std::sync::Arc::downgrade(store);
    spawn_thread("floe-flush", 0, run(weak.clone()));
    spawn_thread("floe-compact", COMPACT_NICE, run_compaction(weak));
}

/// The CPU priority (nice value) of compaction, relative to the process.
const COMPACT_NICE: i32 = 10;

/// Runs `work` on a new thread with its own single-threaded runtime, at
/// `nice` more than the process's nice value.
fn spawn_thread(
    name: &str,
    nice: i32,
    work: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let spawned = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            if nice != 0 {
                lower_priority(nice);
            }
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(work),
                Err(e) => tracing::error!(error = %e, "background maintenance could not start"),
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, thread = name, "background maintenance could not start");
    }
}

/// Raises the calling thread's nice value by `by` (on Linux a nice value
/// belongs to a thread; threads it starts inherit it).
fn lower_priority(by: i32) {
    // SAFETY: getpriority and setpriority only read and write the
    // scheduling priority of the calling thread (`who` 0); no memory is shared.
    unsafe {
        let current = libc::getpriority(libc::PRIO_PROCESS, 0);
        if libc::setpriority(libc::PRIO_PROCESS, 0, current + by) != 0 {
            tracing::debug!("could not lower the priority of background compaction");
        }
    }
}

/// Runs until the store is dropped.
pub(crate) async fn run(store: Weak<Store>) {
    let mut failed: std::collections::HashMap<String, Instant> = Default::default();
    let mut expired = Instant::now();
    loop {
        let Some(s) = store.upgrade() else { return };
        if expired.elapsed() >= EXPIRE_KEYS {
            expired = Instant::now();
            if let Err(e) = s.expire_keys().await {
                tracing::warn!(error = %e, "expiring idempotency keys failed");
            }
        }
        let ingest = s.ingest().clone();
        let notified = ingest.flush_now.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let defaults = s.limits().flush;
        let pressure = s.buffered_bytes() > s.limits().max_buffer_bytes / 2
            || s.wal_bytes() > s.limits().max_wal_bytes / 2;
        for handle in s.all_tables() {
            let stats = handle.buffer_stats();
            let Some(oldest) = stats.oldest else { continue };
            let name = handle.ident().to_string();
            if failed.get(&name).is_some_and(|at| at.elapsed() < RETRY) {
                continue;
            }
            let policy = handle.flush_policy(defaults);
            let due = pressure
                || stats.rows >= policy.max_rows
                || stats.bytes >= policy.max_bytes
                || oldest.elapsed() >= policy.interval;
            if !due {
                continue;
            }
            // A table a change holds is flushed on a later tick.
            let Some(outcome) = handle.try_flush().await else {
                continue;
            };
            handle.record_outcome("flush", &outcome);
            match outcome {
                Ok(_) => {
                    failed.remove(&name);
                }
                Err(e) => {
                    tracing::error!(table = %name, error = %e,
                        "flushing buffered rows failed; they stay buffered and in the write-ahead log");
                    failed.insert(name, Instant::now());
                }
            }
        }
        drop(s);
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep(TICK) => {}
        }
    }
}

/// Compacts, expires and cleans up every table, until the store is dropped.
pub(crate) async fn run_compaction(store: Weak<Store>) {
    // The snapshot each table was last checked for compaction at.
    let mut checked: std::collections::HashMap<String, Option<i64>> = Default::default();
    let mut expired_at = Instant::now();
    // The first orphan check comes a minute after start, for what a crash left.
    let mut orphans_at = Instant::now()
        .checked_sub(ORPHANS_EVERY - EXPIRE_EVERY)
        .unwrap_or_else(Instant::now);
    loop {
        tokio::time::sleep(COMPACT_TICK).await;
        let Some(s) = store.upgrade() else { return };
        let tables = s.all_tables();
        drop(s);
        for handle in &tables {
            let name = handle.ident().to_string();
            let snapshot = handle.table().metadata().current_snapshot_id();
            if checked.get(&name) == Some(&snapshot) {
                continue;
            }
            let outcome = handle.compact(false).await;
            handle.record_outcome("compaction", &outcome);
            if let Err(e) = &outcome {
                tracing::error!(table = %name, error = %e,
                    "compaction failed; it is tried again after the next commit");
            }
            checked.insert(name, snapshot);
        }
        let expire = expired_at.elapsed() >= EXPIRE_EVERY;
        let orphans = orphans_at.elapsed() >= ORPHANS_EVERY;
        if expire {
            expired_at = Instant::now();
        }
        if orphans {
            orphans_at = Instant::now();
        }
        for handle in &tables {
            let due = orphans || (expire && handle.has_expired_snapshots());
            if !due {
                continue;
            }
            let outcome = handle.vacuum(orphans).await;
            handle.record_outcome("vacuum", &outcome);
            if let Err(e) = outcome {
                tracing::error!(table = %handle.ident(), error = %e, "vacuum failed; will retry");
            }
        }
    }
}
