//! Failed-login throttling per peer address.
//!
//! A peer may fail to log in [`MAX_FAILURES`] times within [`WINDOW`];
//! after that every attempt from it, right or wrong, is refused until its
//! oldest failure is older than the window. Successful logins do not clear
//! the record, so guessing cannot be interleaved with a known password.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Failed logins a peer may have within [`WINDOW`], by default.
pub const MAX_FAILURES: usize = 10;
/// The window failures are counted in.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Peers remembered at most; the oldest records are dropped beyond it.
const MAX_PEERS: usize = 100_000;

/// Failed logins per peer.
#[derive(Debug)]
pub struct Throttle {
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
    limit: AtomicUsize,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle {
            failures: Mutex::default(),
            limit: AtomicUsize::new(MAX_FAILURES),
        }
    }
}

impl Throttle {
    /// Sets the failures a peer may have within [`WINDOW`]; 0 turns
    /// throttling off.
    pub fn set_limit(&self, failures: usize) {
        self.limit.store(failures, Ordering::Relaxed);
    }

    fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    /// `Err(wait)` while `peer` must wait before trying again.
    pub fn check(&self, peer: IpAddr) -> Result<(), Duration> {
        self.check_at(peer, Instant::now())
    }

    fn check_at(&self, peer: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut failures = self.failures.lock().expect("throttle lock");
        let Some(times) = failures.get_mut(&peer) else {
            return Ok(());
        };
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            times.pop_front();
        }
        if times.is_empty() {
            failures.remove(&peer);
            return Ok(());
        }
        let limit = self.limit();
        if limit > 0 && times.len() >= limit {
            let oldest = *times.front().expect("not empty");
            return Err(WINDOW.saturating_sub(now.duration_since(oldest)));
        }
        Ok(())
    }

    /// Records a failed login from `peer`.
    pub fn failed(&self, peer: IpAddr) {
        self.failed_at(peer, Instant::now());
    }

    fn failed_at(&self, peer: IpAddr, now: Instant) {
        let limit = self.limit();
        if limit == 0 {
            return;
        }
        let mut failures = self.failures.lock().expect("throttle lock");
        if failures.len() >= MAX_PEERS && !failures.contains_key(&peer) {
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < WINDOW)
            });
            if failures.len() >= MAX_PEERS {
                return;
            }
        }
        let times = failures.entry(peer).or_default();
        times.push_back(now);
        while times.len() > limit {
            times.pop_front();
        }
    }
}

#[cfg(test)]
mod tests;
