//! A PostgreSQL connection's session once its login succeeded: who it is,
//! its entry in `system.sessions`, its activity for the idle-session
//! timeout, and the transaction-block rule every statement passes. Login
//! (`login.rs`) creates it; the query handlers (`pg.rs`) run statements in it.

use std::sync::Arc;

use datafusion_postgres::pgwire::api::ClientInfo;
use datafusion_postgres::pgwire::api::results::Response;
use datafusion_postgres::pgwire::error::{PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::response::TransactionStatus;
use floe_common::Status;
use floe_query::floe_auth::Identity;
use floe_query::floe_auth::activity::SessionGuard;
use floe_query::{Engine, Parsed};

use crate::errors::{pg_error, pg_fatal};

/// When a connection last finished a statement, and whether one runs.
#[derive(Debug)]
pub(crate) struct Liveness {
    since: std::time::Instant,
    /// Milliseconds from `since` to the last activity.
    last: std::sync::atomic::AtomicU64,
    pub(crate) running: std::sync::atomic::AtomicUsize,
}

impl Default for Liveness {
    fn default() -> Self {
        Liveness {
            since: std::time::Instant::now(),
            last: Default::default(),
            running: Default::default(),
        }
    }
}

impl Liveness {
    pub(crate) fn touch(&self) {
        use std::sync::atomic::Ordering;
        self.last
            .store(self.since.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    pub(crate) fn idle_for(&self) -> Option<std::time::Duration> {
        use std::sync::atomic::Ordering;
        if self.running.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let last = std::time::Duration::from_millis(self.last.load(Ordering::Relaxed));
        Some(self.since.elapsed().saturating_sub(last))
    }
}

/// An authenticated connection, kept in its session extensions (which SQL
/// cannot change) from the moment its login succeeds.
pub(crate) struct Session {
    /// Who logged in.
    pub(crate) identity: Identity,
    /// Its entry in `system.sessions`.
    pub(crate) activity: SessionGuard,
    /// Its activity, for the idle-session timeout.
    pub(crate) live: Arc<Liveness>,
}

impl Session {
    /// Runs `work` as this session, shown in `system.sessions` while it
    /// runs and recorded in `system.queries` when it ends.
    pub(crate) async fn track(
        &self,
        stmt: &Parsed,
        work: impl std::future::Future<Output = PgWireResult<Response>>,
    ) -> PgWireResult<Response> {
        use std::sync::atomic::Ordering;
        let running = self.activity.begin(stmt.text());
        self.live.running.fetch_add(1, Ordering::Relaxed);
        let result = Engine::run_as(self.identity.clone(), work).await;
        self.live.touch();
        self.live.running.fetch_sub(1, Ordering::Relaxed);
        running.finish(&outcome(&result));
        result
    }
}

/// `ok`, or the SQLSTATE a statement failed with.
fn outcome(result: &PgWireResult<Response>) -> String {
    match result {
        Ok(Response::Error(info)) => info.code.clone(),
        Ok(_) => "ok".into(),
        Err(PgWireError::UserError(info)) => info.code.clone(),
        Err(_) => Status::Internal.sqlstate().into(),
    }
}

/// Refuses a write inside the client's open transaction block: Floe
/// commits each statement on its own and could not roll it back.
pub(crate) fn refuse_write_in_block<C: ClientInfo + ?Sized>(
    client: &C,
    stmt: &Parsed,
) -> PgWireResult<()> {
    if client.transaction_status() == TransactionStatus::Transaction {
        floe_query::transaction::check_in_block(stmt).map_err(|e| pg_error(&e))?;
    }
    Ok(())
}

/// The session of an authenticated connection; a connection without one
/// never gets past authentication, so its absence is fatal.
pub(crate) fn session<C: ClientInfo + ?Sized>(client: &C) -> PgWireResult<Arc<Session>> {
    let session = client
        .session_extensions()
        .get::<Session>()
        .ok_or_else(|| {
            pg_fatal(
                Status::InvalidAuthorization.sqlstate(),
                "the connection is not authenticated".into(),
            )
        })?;
    session.live.touch();
    Ok(session)
}
