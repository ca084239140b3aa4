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
use floe_query::zone::SessionZone;
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
    /// Its time zone (`SET TIME ZONE`).
    pub(crate) zone: std::sync::Mutex<SessionZone>,
    /// Its prepared statements and custom settings.
    pub(crate) memory: floe_query::SessionMemory,
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
        let result = self.run(work).await;
        self.live.touch();
        self.live.running.fetch_sub(1, Ordering::Relaxed);
        running.finish(&outcome(&result));
        result
    }
}

impl Session {
    /// The session's time zone.
    pub(crate) fn zone(&self) -> SessionZone {
        self.zone.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Changes the session's time zone.
    pub(crate) fn set_zone(&self, zone: SessionZone) {
        *self.zone.lock().unwrap_or_else(|e| e.into_inner()) = zone;
    }

    /// Runs `work` (statements on the engine) as this session's user, in
    /// its time zone.
    pub(crate) async fn run<F: std::future::Future>(&self, work: F) -> F::Output {
        Engine::run_in(
            self.identity.clone(),
            self.zone(),
            self.memory.clone(),
            work,
        )
        .await
    }

    /// Before a `SHOW ALL`: records the settings the connection keeps
    /// (`application_name`, `DateStyle`, ...) in the session's memory,
    /// where the statement reads them.
    pub(crate) fn record_client_settings(
        &self,
        client: &(impl ClientInfo + ?Sized),
        stmt: &Parsed,
    ) {
        if stmt.sql().is_some_and(floe_query::shows_all) {
            self.memory.report_client_settings(
                client
                    .metadata()
                    .iter()
                    .map(|(name, value)| (name.as_str(), value.as_str())),
            );
        }
    }

    /// The client's format options, with the session's time zone.
    pub(crate) fn format_options(
        &self,
        client: &(impl ClientInfo + ?Sized),
    ) -> Arc<datafusion_postgres::pgwire::types::format::FormatOptions> {
        let mut options =
            datafusion_postgres::pgwire::types::format::FormatOptions::from_client_metadata(
                client.metadata(),
            );
        options.time_zone = self.zone().arrow().to_string();
        Arc::new(options)
    }
}

/// The time zone a client's startup message names, or UTC: a `TimeZone`
/// parameter (JDBC drivers send one, libpq sends `PGTZ` as one) or
/// `-c TimeZone=...` in its `options`.
pub(crate) fn startup_zone(
    client: &(impl ClientInfo + ?Sized),
) -> Result<SessionZone, floe_query::QueryError> {
    let metadata = client.metadata();
    let parameter = metadata
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("timezone"))
        .map(|(_, value)| value.clone());
    let option = metadata
        .get("options")
        .and_then(|options| option_value(options, "timezone"));
    match option.or(parameter) {
        Some(value) => SessionZone::parse(&value),
        None => Ok(SessionZone::utc()),
    }
}

/// The value `options` (`-c name=value --name=value ...`) gives `name`
/// (any case), the last one written.
fn option_value(options: &str, name: &str) -> Option<String> {
    let mut words = options.split_whitespace();
    let mut found = None;
    while let Some(word) = words.next() {
        let setting = match word {
            "-c" => words.next(),
            w => w.strip_prefix("-c").or_else(|| w.strip_prefix("--")),
        };
        if let Some((key, value)) = setting.and_then(|s| s.split_once('='))
            && key.eq_ignore_ascii_case(name)
        {
            found = Some(value.to_string());
        }
    }
    found
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

#[cfg(test)]
mod tests;
