//! The idempotency keys of one table: which requests were written, so a
//! retry with the same key writes nothing.
//!
//! A key is claimed before its request is written (of two requests with
//! one key, exactly one writes) and then held with the request's row count
//! for [`IDEMPOTENCY_RETENTION`]. While its rows are buffered the key is
//! in the write-ahead log with them; a flush commits it to the catalog in
//! the same SQLite transaction as the rows.
//!
//! Memory holds every key whose rows are not committed yet, and committed
//! keys up to a limit in bytes ([`crate::CacheLimits::idempotency`]);
//! beyond it the oldest committed keys are forgotten early. From then
//! until the last key forgotten early is past its retention, a key memory
//! does not hold is looked up in the catalog before it is written, so a
//! retry is recognized for the whole retention whatever the limit.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long idempotency keys are remembered.
pub const IDEMPOTENCY_RETENTION: Duration = Duration::from_secs(3600);

/// Bytes a key takes beyond its text in the map, roughly.
const MAP_OVERHEAD: u64 = 64;
/// Bytes a key takes beyond its text in the queue of committed keys, roughly.
const QUEUE_OVERHEAD: u64 = 48;

/// The state of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyState {
    /// A request with the key is being written.
    Pending,
    /// A request with the key was written: its row count, and when.
    Done { rows: u64, at: Instant },
}

/// What [`IdempotencyKeys::claim`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claim {
    /// The key was not held and is now claimed by the caller, who must
    /// end the claim with [`IdempotencyKeys::written`] or
    /// [`IdempotencyKeys::release`]. With `check_catalog`, committed keys
    /// were forgotten early and the catalog may hold this one.
    Claimed { check_catalog: bool },
    /// A request with the key was written, with this many rows.
    Duplicate(u64),
    /// A request with the key is being written.
    InUse,
}

/// The idempotency keys of one table; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct IdempotencyKeys {
    state: Mutex<Keys>,
}

#[derive(Debug, Default)]
struct Keys {
    by_key: HashMap<String, KeyState>,
    /// Committed keys in the order they were committed, with when each
    /// was written: the keys memory may forget early.
    committed: VecDeque<(String, Instant)>,
    /// Approximate bytes of `by_key` and `committed`.
    bytes: u64,
    /// When the newest key forgotten before its retention ended was written.
    forgotten: Option<Instant>,
}

impl Keys {
    fn set(&mut self, key: &str, state: KeyState) {
        if self.by_key.insert(key.to_string(), state).is_none() {
            self.bytes += key.len() as u64 + MAP_OVERHEAD;
        }
    }

    fn remove(&mut self, key: &str) {
        if self.by_key.remove(key).is_some() {
            self.bytes -= key.len() as u64 + MAP_OVERHEAD;
        }
    }

    /// Marks the key, written at `at`, as committed.
    fn enqueue(&mut self, key: &str, at: Instant) {
        self.committed.push_back((key.to_string(), at));
        self.bytes += key.len() as u64 + QUEUE_OVERHEAD;
    }

    /// Forgets the oldest committed keys until within `limit` bytes (or
    /// none is left; keys not committed yet are never forgotten).
    fn bound(&mut self, limit: u64) {
        while self.bytes > limit {
            let Some((key, at)) = self.committed.pop_front() else {
                break;
            };
            self.bytes -= key.len() as u64 + QUEUE_OVERHEAD;
            // The key may have expired since, and been used again.
            if matches!(self.by_key.get(&key), Some(KeyState::Done { at: held, .. }) if *held == at)
            {
                self.remove(&key);
                self.forgotten = Some(self.forgotten.map_or(at, |f| f.max(at)));
            }
        }
    }
}

impl IdempotencyKeys {
    fn keys(&self) -> MutexGuard<'_, Keys> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Looks `key` up and, if memory does not hold it, claims it: looked
    /// up and claimed under one lock, so of two requests with the same key
    /// exactly one writes.
    pub(crate) fn claim(&self, key: &str) -> Claim {
        let mut keys = self.keys();
        match keys.by_key.get(key) {
            Some(KeyState::Done { rows, .. }) => Claim::Duplicate(*rows),
            Some(KeyState::Pending) => Claim::InUse,
            None => {
                keys.set(key, KeyState::Pending);
                Claim::Claimed {
                    check_catalog: keys.forgotten.is_some(),
                }
            }
        }
    }

    /// The claimed key's request was written, with `rows` rows.
    pub(crate) fn written(&self, key: &str, rows: u64) {
        self.keys().set(
            key,
            KeyState::Done {
                rows,
                at: Instant::now(),
            },
        );
    }

    /// The claimed key's request was not written: the key is free again.
    pub(crate) fn release(&self, key: &str) {
        self.keys().remove(key);
    }

    /// Holds a key whose request was written `age` ago with `rows` rows
    /// and is committed (loaded from the catalog), within `limit` bytes of
    /// committed keys.
    pub(crate) fn remember_committed(&self, key: &str, rows: u64, age: Duration, limit: u64) {
        let at = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
        let mut keys = self.keys();
        keys.set(key, KeyState::Done { rows, at });
        keys.enqueue(key, at);
        keys.bound(limit);
    }

    /// Holds a key whose request's rows are buffered (replayed from the
    /// write-ahead log).
    pub(crate) fn restore(&self, key: &str, rows: u64) {
        self.written(key, rows);
    }

    /// The rows of requests with `keys` were committed, and the keys with
    /// them; committed keys beyond `limit` bytes are forgotten, oldest first.
    pub(crate) fn committed<'a>(&self, committed: impl IntoIterator<Item = &'a str>, limit: u64) {
        let mut keys = self.keys();
        for key in committed {
            if let Some(KeyState::Done { at, .. }) = keys.by_key.get(key).copied() {
                keys.enqueue(key, at);
            }
        }
        keys.bound(limit);
    }

    /// Forgets keys older than `retention`.
    pub(crate) fn expire(&self, retention: Duration) {
        let mut keys = self.keys();
        let keys = &mut *keys;
        let mut freed = 0;
        keys.by_key.retain(|key, state| {
            let keep = match state {
                KeyState::Pending => true,
                KeyState::Done { at, .. } => at.elapsed() < retention,
            };
            if !keep {
                freed += key.len() as u64 + MAP_OVERHEAD;
            }
            keep
        });
        keys.committed.retain(|(key, at)| {
            let keep = at.elapsed() < retention;
            if !keep {
                freed += key.len() as u64 + QUEUE_OVERHEAD;
            }
            keep
        });
        keys.bytes -= freed;
        if keys.forgotten.is_some_and(|at| at.elapsed() >= retention) {
            keys.forgotten = None;
        }
    }

    /// The keys held and their approximate bytes.
    pub(crate) fn usage(&self) -> (u64, u64) {
        let keys = self.keys();
        (keys.by_key.len() as u64, keys.bytes)
    }
}

#[cfg(test)]
mod tests;
