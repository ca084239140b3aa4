//! `floe serve`.

use std::process::ExitCode;

use anyhow::Context;
use floe_query::Engine;
use tokio::net::TcpListener;

use crate::ServeArgs;

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            Some(floe_server::tls::Tls::load(cert, key, args.tls_policy)?.require(args.require_tls))
        }
        _ => None,
    };
    let engine = Engine::open(&args.data_dir)
        .await
        .map_err(|e| anyhow::anyhow!(e.message()))?;
    let pg = TcpListener::bind(&args.pg_addr).await.with_context(|| {
        format!(
            "cannot listen for PostgreSQL connections on {}",
            args.pg_addr
        )
    })?;
    let http = TcpListener::bind(&args.http_addr)
        .await
        .with_context(|| format!("cannot listen for HTTP on {}", args.http_addr))?;
    let pg_addr = pg.local_addr()?;
    let http_addr = http.local_addr()?;
    println!("Floe {}", env!("CARGO_PKG_VERSION"));
    println!("  data:     {}", engine.store().root().display());
    println!(
        "  postgres: {pg_addr}   (psql -h {} -p {})",
        pg_addr.ip(),
        pg_addr.port()
    );
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("  http:     {scheme}://{http_addr}");
    if let Some(tls) = &tls {
        let required = if tls.required() { ", required" } else { "" };
        println!("  tls:      policy {}{required}", tls.policy().name());
    }
    engine.sources().start();
    println!("ready");
    floe_server::serve(engine.clone(), pg, http, tls, shutdown_signal()).await?;
    // Replication workers apply what they hold and stop; the source
    // re-sends anything not yet confirmed on the next start.
    engine.sources().stop().await;
    // Buffered rows are safe in the write-ahead log either way; flushing
    // them makes the Iceberg tables complete for other readers.
    match engine.store().flush_all().await {
        Ok(rows) if rows > 0 => println!("flushed {rows} buffered rows"),
        Ok(_) => {}
        Err(e) => eprintln!(
            "warning: flushing buffered rows failed (they stay in the write-ahead log): {e}"
        ),
    }
    println!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
