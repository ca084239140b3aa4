//! Background work on every table of a store: flushing buffers by their
//! flush policies, and forgetting expired idempotency keys.

use std::sync::Weak;
use std::time::{Duration, Instant};

use crate::store::Store;

/// How often buffers are checked against their policies.
const TICK: Duration = Duration::from_millis(100);
/// How often expired idempotency keys are forgotten.
const EXPIRE_KEYS: Duration = Duration::from_secs(60);
/// How long a table whose flush failed waits before the next attempt.
const RETRY: Duration = Duration::from_secs(5);

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
            match handle.flush().await {
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
