//! `floe serve`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use floe_query::Engine;
use tokio::net::TcpListener;

use crate::ServeArgs;

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    if args.require_tls && args.tls_cert.is_none() && !args.dev_tls {
        anyhow::bail!("--require-tls needs --tls-cert and --tls-key, or --dev-tls");
    }
    let limits = floe_storage::IngestLimits {
        wal_segment_bytes: args.wal_segment_mb << 20,
        ..floe_storage::IngestLimits::default()
    };
    let query_memory = args
        .query_memory_mb
        .map(|mb| mb << 20)
        .or_else(half_of_memory)
        .map(|b| b as usize);
    let engine = Engine::open_with(&args.data_dir, limits, query_memory)
        .await
        .map_err(|e| anyhow::anyhow!(e.message()))?;
    let dev = if args.dev_tls {
        Some(floe_server::tls::dev::ensure(
            &engine.store().root().join("tls"),
        )?)
    } else {
        None
    };
    let files = match (&args.tls_cert, &args.tls_key, &dev) {
        (Some(cert), Some(key), _) => Some((cert.clone(), key.clone())),
        (_, _, Some(dev)) => Some((dev.cert.clone(), dev.key.clone())),
        _ => None,
    };
    let tls = match files {
        Some((cert, key)) => Some(
            floe_server::tls::Tls::load(&cert, &key, args.tls_policy)?.require(args.require_tls),
        ),
        None => None,
    };
    engine.auth().throttle().set_limit(args.max_failed_logins);
    engine
        .secure(&args.copy_dirs)
        .map_err(|e| anyhow::anyhow!("--copy-dir: {}", e.message()))?;
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
    let exposed: Vec<_> = [pg_addr, http_addr]
        .into_iter()
        .filter(|a| !a.ip().is_loopback())
        .collect();
    if tls.is_none() && !exposed.is_empty() {
        let list: Vec<String> = exposed.iter().map(|a| a.to_string()).collect();
        if !args.insecure {
            anyhow::bail!(
                "refusing to listen on {} without TLS: give --tls-cert and --tls-key, or pass --insecure to serve in plaintext",
                list.join(" and ")
            );
        }
        let warning = format!(
            "WARNING: --insecure: serving in plaintext on {}; queries, results and tokens cross the network unencrypted",
            list.join(" and ")
        );
        eprintln!("{warning}");
        tracing::warn!("{warning}");
    }
    let admin = engine
        .auth()
        .bootstrap(ADMIN, floe_common::defaults::DEFAULT_SCHEMA)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("Floe {}", env!("CARGO_PKG_VERSION"));
    if let Some(admin) = &admin {
        let root = engine.store().root();
        write_secret(&root.join(PASSWORD_FILE), &admin.password)?;
        write_secret(&root.join(TOKEN_FILE), &admin.token)?;
        println!("  first start: created the superuser \"{}\"", admin.user);
        println!("    password: {}", admin.password);
        println!("    token:    {}", admin.token);
        println!(
            "    saved in {} and {} (mode 0600); they are not shown again",
            root.join(PASSWORD_FILE).display(),
            root.join(TOKEN_FILE).display()
        );
    }
    println!("  data:     {}", engine.store().root().display());
    println!(
        "  postgres: {pg_addr}   (psql -h {} -p {} -U {ADMIN})",
        pg_addr.ip(),
        pg_addr.port()
    );
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("  http:     {scheme}://{http_addr}");
    if let Some(tls) = &tls {
        let required = if tls.required() { ", required" } else { "" };
        println!("  tls:      policy {}{required}", tls.policy().name());
    }
    if let Some(dev) = &dev {
        let made = if dev.created { "made" } else { "kept" };
        println!("  dev tls:  {made} a local CA, {}", dev.ca.display());
        println!("            CA SHA-256 fingerprint {}", dev.ca_fingerprint);
        println!(
            "            psql \"host=localhost port={} user={ADMIN} dbname=floe sslmode=verify-full sslrootcert={}\"",
            pg_addr.port(),
            dev.ca.display()
        );
        println!(
            "            curl --cacert {} https://localhost:{}/healthz",
            dev.ca.display(),
            http_addr.port()
        );
    }
    engine.sources().start();
    println!("ready");
    let options = floe_server::Options {
        tls,
        max_connections: args.max_connections,
        client_timeout: std::time::Duration::from_secs(args.client_timeout.max(1)),
        idle_session_timeout: (args.idle_session_timeout > 0)
            .then(|| std::time::Duration::from_secs(args.idle_session_timeout)),
    };
    floe_server::serve(engine.clone(), pg, http, options, shutdown_signal()).await?;
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

/// The superuser made on first start.
const ADMIN: &str = "floe";
/// Where its password is kept, in the data directory.
pub const PASSWORD_FILE: &str = "admin.password";
/// Where its token is kept, in the data directory.
pub const TOKEN_FILE: &str = "admin.token";

/// Writes a secret to a file only its owner can read.
fn write_secret(path: &Path, secret: &str) -> anyhow::Result<()> {
    floe_common::fs::write_atomic(path, format!("{secret}\n").as_bytes(), 0o600)
        .with_context(|| format!("cannot write {}", path.display()))
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

/// Half of the machine's memory (`MemTotal` in `/proc/meminfo`), if known.
fn half_of_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024 / 2)
}
