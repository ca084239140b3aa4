//! Floe's network endpoints.
//!
//! This crate owns the PostgreSQL wire protocol endpoint and the HTTP API.
//! Both are thin: they decode requests, execute statements through
//! [`floe_query::Engine`], and encode results. Errors are turned into
//! protocol responses in one place, [`errors`], from the [`floe_common::Status`]
//! every error carries.

pub mod errors;
pub mod http;
pub mod pg;
pub mod rows;

use std::future::Future;
use std::sync::Arc;

use floe_query::Engine;
use tokio::net::TcpListener;

/// Serves both endpoints until `shutdown` resolves, then stops accepting
/// connections and returns. Connections still open are dropped when the
/// runtime shuts down.
pub async fn serve(
    engine: Arc<Engine>,
    pg_listener: TcpListener,
    http_listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    pg::install_catalog(&engine);
    let pg = tokio::spawn(pg::serve(engine.clone(), pg_listener, stop_rx.clone()));
    let http = tokio::spawn(http::serve(engine, http_listener, stop_rx));
    shutdown.await;
    let _ = stop_tx.send(true);
    let (pg, http) = tokio::join!(pg, http);
    pg.map_err(std::io::Error::other)??;
    http.map_err(std::io::Error::other)??;
    Ok(())
}
