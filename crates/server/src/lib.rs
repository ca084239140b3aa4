//! Floe's network endpoints.
//!
//! This crate owns the PostgreSQL wire protocol endpoint and the HTTP API.
//! Both are thin: they decode requests, execute statements through
//! [`floe_query::Engine`], and encode results. Errors are turned into
//! protocol responses in one place, [`errors`], from the [`floe_common::Status`]
//! every error carries.

mod catalog_functions;
mod catalog_tables;
mod client_sql;
mod connection;
pub mod errors;
pub mod frames;
pub mod http;
pub mod login;
pub mod pg;
pub mod rows;
mod session;
mod text_forms;
pub mod tls;

use std::future::Future;
use std::sync::Arc;

use floe_query::Engine;
use tokio::net::TcpListener;

/// The stack of each runtime worker that serves sessions. Planning
/// recurses: a view's query is planned inside the planning of each view
/// that reads it (up to 32 deep), and DataFusion's planners recurse over
/// deep expressions; tokio's default of 2 MiB does not hold 32 views.
pub const WORKER_STACK_BYTES: usize = 8 << 20;

/// Connections the PG wire endpoint holds at most, by default.
pub const DEFAULT_MAX_CONNECTIONS: usize = 100;

/// How the endpoints are served.
#[derive(Default)]
pub struct Options {
    /// TLS for both endpoints.
    pub tls: Option<tls::Tls>,
    /// Connections held at most on each endpoint (0:
    /// [`DEFAULT_MAX_CONNECTIONS`]); more get FATAL 53300 on the PG wire
    /// and 503 on HTTP.
    pub max_connections: usize,
    /// How long an HTTP client may take to send a request's headers, and
    /// keep an idle connection (zero: [`http::HEADER_TIMEOUT`]).
    pub client_timeout: std::time::Duration,
    /// PG wire connections that run nothing for this long are closed
    /// (none: kept open, as PostgreSQL does by default).
    pub idle_session_timeout: Option<std::time::Duration>,
}

/// Serves both endpoints until `shutdown` resolves, then stops accepting
/// connections and returns. Connections still open are dropped when the
/// runtime shuts down.
///
/// Every PG wire connection authenticates with SCRAM-SHA-256 and every
/// HTTP request but `/healthz` with a bearer token; statements run as the
/// authenticated role. The engine should be [`Engine::secure`]d first.
///
/// With TLS, the PG wire endpoint negotiates TLS when a client asks for
/// it (SSLRequest), and refuses clients that do not if TLS is required;
/// HTTP is served as HTTPS only. The certificate is reloaded on SIGHUP and
/// when its files change.
pub async fn serve(
    engine: Arc<Engine>,
    pg_listener: TcpListener,
    http_listener: TcpListener,
    options: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tls = options.tls;
    let max_connections = match options.max_connections {
        0 => DEFAULT_MAX_CONNECTIONS,
        n => n,
    };
    let client_timeout = match options.client_timeout {
        t if t.is_zero() => http::HEADER_TIMEOUT,
        t => t,
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    pg::install_catalog(&engine);
    let pg_tls = tls.as_ref().map(|t| t.pg_acceptor());
    let require_tls = tls.as_ref().is_some_and(|t| t.required());
    let pg = tokio::spawn(pg::serve(
        engine.clone(),
        pg_listener,
        pg_tls,
        require_tls,
        max_connections,
        options.idle_session_timeout,
        stop_rx.clone(),
    ));
    let http = match &tls {
        Some(tls) => {
            tls.watch();
            let listener = tls::TlsListener::new(http_listener, tls.http_acceptor())?;
            tokio::spawn(http::serve(
                engine,
                listener,
                max_connections,
                client_timeout,
                stop_rx,
            ))
        }
        None => tokio::spawn(http::serve(
            engine,
            http_listener,
            max_connections,
            client_timeout,
            stop_rx,
        )),
    };
    shutdown.await;
    let _ = stop_tx.send(true);
    let (pg, http) = tokio::join!(pg, http);
    pg.map_err(std::io::Error::other)??;
    http.map_err(std::io::Error::other)??;
    Ok(())
}
