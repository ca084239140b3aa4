//! Who is connected and what they ran: the sessions open now and the last
//! statements, for `system.sessions` and `system.queries`.
//!
//! A session is registered when a PG wire login succeeds (and for the span
//! of each HTTP SQL request) and leaves when its [`SessionGuard`] drops.
//! Statement text is kept as the SQL layer masks it (no passwords).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::Identity;

/// Statements kept in `system.queries`.
pub const RECENT_QUERIES: usize = 1000;

/// An open session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Its number, unique while the server runs.
    pub id: u64,
    /// Who.
    pub who: Identity,
    /// When it started (RFC 3339).
    pub started: String,
    /// The statement running now, if one is.
    pub query: Option<String>,
    /// When that statement started (RFC 3339).
    pub query_started: Option<String>,
}

/// A finished statement.
#[derive(Debug, Clone)]
pub struct Query {
    /// The session that ran it.
    pub session: u64,
    /// Who.
    pub who: Identity,
    /// When it started (RFC 3339).
    pub started: String,
    /// How long it took, in milliseconds.
    pub duration_ms: f64,
    /// Its text, passwords masked.
    pub statement: String,
    /// `ok`, or the SQLSTATE it failed with.
    pub status: String,
}

#[derive(Debug, Default)]
struct Inner {
    sessions: BTreeMap<u64, Session>,
    queries: VecDeque<Query>,
}

/// The registry of sessions and recent statements.
#[derive(Debug, Default)]
pub struct Activity {
    next: AtomicU64,
    inner: Mutex<Inner>,
}

/// Keeps a session registered; dropping it ends the session.
#[derive(Debug)]
pub struct SessionGuard {
    activity: Arc<Activity>,
    id: u64,
}

/// A statement in progress; [`Running::finish`] records it.
#[derive(Debug)]
pub struct Running {
    activity: Arc<Activity>,
    session: u64,
    started: Instant,
    started_at: String,
    statement: String,
}

impl Activity {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("activity lock")
    }

    /// Registers a session of `who`.
    pub fn open(self: &Arc<Self>, who: Identity) -> SessionGuard {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.lock().sessions.insert(
            id,
            Session {
                id,
                who,
                started: crate::audit::now(),
                query: None,
                query_started: None,
            },
        );
        SessionGuard {
            activity: self.clone(),
            id,
        }
    }

    /// The sessions open now.
    pub fn sessions(&self) -> Vec<Session> {
        self.lock().sessions.values().cloned().collect()
    }

    /// The last [`RECENT_QUERIES`] statements, oldest first.
    pub fn queries(&self) -> Vec<Query> {
        self.lock().queries.iter().cloned().collect()
    }
}

impl SessionGuard {
    /// The session's number.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Marks `statement` as running in this session.
    pub fn begin(&self, statement: String) -> Running {
        let started_at = crate::audit::now();
        if let Some(s) = self.activity.lock().sessions.get_mut(&self.id) {
            s.query = Some(statement.clone());
            s.query_started = Some(started_at.clone());
        }
        Running {
            activity: self.activity.clone(),
            session: self.id,
            started: Instant::now(),
            started_at,
            statement,
        }
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.activity.lock().sessions.remove(&self.id);
    }
}

impl Running {
    /// Records the statement as finished with `status` (`ok` or a
    /// SQLSTATE).
    pub fn finish(self, status: &str) {
        let mut inner = self.activity.lock();
        let Some(session) = inner.sessions.get_mut(&self.session) else {
            return;
        };
        session.query = None;
        session.query_started = None;
        let who = session.who.clone();
        if inner.queries.len() >= RECENT_QUERIES {
            inner.queries.pop_front();
        }
        inner.queries.push_back(Query {
            session: self.session,
            who,
            started: self.started_at,
            duration_ms: self.started.elapsed().as_secs_f64() * 1000.0,
            statement: self.statement,
            status: status.to_string(),
        });
    }
}

#[cfg(test)]
mod tests;
