//! The `floe` binary: `floe serve` runs the server, `floe sql` is the SQL
//! shell (embedded on a data directory, or against a server over HTTP).

mod replicate;
mod serve;
mod shell;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use floe_common::defaults;

#[derive(Parser)]
#[command(
    name = "floe",
    version,
    about = "Floe: a real-time analytics warehouse on Apache Iceberg"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve SQL over the PostgreSQL wire protocol and HTTP.
    Serve(ServeArgs),
    /// Run SQL: an interactive shell, -c statements or -f files.
    Sql(SqlArgs),
    /// Replicate a PostgreSQL database into a running server (CREATE
    /// SOURCE), showing the initial snapshot's progress.
    Replicate(ReplicateArgs),
}

#[derive(clap::Args)]
struct ReplicateArgs {
    /// The source's name in Floe.
    name: String,
    /// Connection string of the PostgreSQL database, e.g.
    /// postgres://user:password@host:5432/db (needs REPLICATION or superuser).
    connection: String,
    /// Stream this existing publication; by default Floe creates one.
    #[arg(long)]
    publication: Option<String>,
    /// Replicate only these tables (schema.table; repeatable or comma-separated).
    #[arg(long = "table", value_delimiter = ',')]
    tables: Vec<String>,
    /// Put every table into this Floe schema instead of its own.
    #[arg(long)]
    into_schema: Option<String>,
    /// The server's HTTP address.
    #[arg(long, env = "FLOE_URL", default_value = concat!("http://", "127.0.0.1:8433"))]
    url: String,
    /// Bearer token of a superuser (CREATE SOURCE needs one).
    #[arg(long, env = "FLOE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Return once the source is declared, without following the snapshot.
    #[arg(long)]
    no_wait: bool,
    /// Give up following after the source has failed for this many seconds.
    #[arg(long, default_value_t = 30)]
    fail_after: u64,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Directory holding the catalog and the tables.
    #[arg(long, env = "FLOE_DATA_DIR", default_value = defaults::DATA_DIR)]
    data_dir: PathBuf,
    /// Address for the PostgreSQL wire protocol.
    #[arg(long, env = "FLOE_PG_ADDR", default_value = defaults::PG_ADDR)]
    pg_addr: String,
    /// Address for the HTTP API.
    #[arg(long, env = "FLOE_HTTP_ADDR", default_value = defaults::HTTP_ADDR)]
    http_addr: String,
    /// Server certificate chain (PEM): turns on TLS for both endpoints
    /// (HTTP becomes HTTPS; PG wire clients negotiate it). Needs --tls-key.
    #[arg(long, env = "FLOE_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "FLOE_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// TLS versions and suites offered: tls12-pfs (TLS 1.3, and TLS 1.2
    /// with ECDHE and AEAD suites only) or tls13 (TLS 1.3 only).
    #[arg(long, env = "FLOE_TLS_POLICY", default_value = "tls12-pfs")]
    tls_policy: floe_server::tls::TlsPolicy,
    /// Refuse connections without TLS on both endpoints (PG wire clients
    /// that do not ask for it get FATAL 28000). Needs --tls-cert or
    /// --dev-tls.
    #[arg(long, env = "FLOE_REQUIRE_TLS")]
    require_tls: bool,
    /// Turn on TLS with a local certificate authority and server
    /// certificate made in <data-dir>/tls (for trying TLS; use a real
    /// certificate in production).
    #[arg(long, env = "FLOE_DEV_TLS", conflicts_with = "tls_cert")]
    dev_tls: bool,
    /// Directory COPY may read files from and write files to (repeatable;
    /// in the environment, separated by ':'). Without one, COPY with a
    /// file is refused.
    #[arg(long = "copy-dir", env = "FLOE_COPY_DIRS", value_delimiter = ':')]
    copy_dirs: Vec<PathBuf>,
    /// Connections held at most on each endpoint; more are refused
    /// (PostgreSQL: FATAL 53300; HTTP: 503).
    #[arg(long, env = "FLOE_MAX_CONNECTIONS", default_value_t = floe_server::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Seconds an HTTP client may take to send a request's headers, and
    /// to keep an idle connection open.
    #[arg(long, env = "FLOE_CLIENT_TIMEOUT", default_value_t = 30)]
    client_timeout: u64,
    /// Close PostgreSQL connections that run nothing for this many
    /// seconds, including ones that never finish logging in (0: never).
    #[arg(long, env = "FLOE_IDLE_SESSION_TIMEOUT", default_value_t = 0)]
    idle_session_timeout: u64,
    /// Failed logins one client address may have per minute before it
    /// must wait (0: no limit).
    #[arg(long, env = "FLOE_MAX_FAILED_LOGINS", default_value_t = floe_query::floe_auth::throttle::MAX_FAILURES)]
    max_failed_logins: usize,
    /// Allow listening on a non-loopback address without TLS. Passwords
    /// are still never sent in the clear (SCRAM), but everything else is.
    #[arg(long, env = "FLOE_INSECURE")]
    insecure: bool,
    /// Size in MiB at which the write-ahead log starts a new segment file.
    #[arg(long, env = "FLOE_WAL_SEGMENT_MB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=1024))]
    wal_segment_mb: u64,
    /// Memory in MiB that running queries may hold together; past it,
    /// sorts, aggregations and joins spill to disk, and a query that
    /// still needs more fails (SQLSTATE 54000). At least 64 (below it a
    /// sort cannot start). Default: half of the machine's memory.
    #[arg(long, env = "FLOE_QUERY_MEMORY_MB", value_parser = clap::value_parser!(u64).range(64..))]
    query_memory_mb: Option<u64>,
}

/// How `floe sql` prints rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    /// An aligned table.
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON object per row.
    Json,
}

#[derive(clap::Args)]
struct SqlArgs {
    /// Open this data directory directly (no server may hold it).
    #[arg(long, env = "FLOE_DATA_DIR", default_value = defaults::DATA_DIR, conflicts_with = "url")]
    data_dir: PathBuf,
    /// Talk to a running server instead, e.g. http://127.0.0.1:8433.
    #[arg(long, env = "FLOE_URL")]
    url: Option<String>,
    /// Bearer token for --url (CREATE TOKEN makes one; the first start
    /// writes the superuser's to admin.token in the data directory).
    #[arg(long, env = "FLOE_TOKEN", hide_env_values = true, requires = "url")]
    token: Option<String>,
    /// Run these statements and exit (repeatable).
    #[arg(short = 'c', long = "command")]
    commands: Vec<String>,
    /// Run the statements in this file and exit (repeatable).
    #[arg(short = 'f', long = "file")]
    files: Vec<PathBuf>,
    /// Output format for rows.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

/// An HTTP client that sends `token` as its bearer token.
fn http_client(token: Option<&str>) -> anyhow::Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = token {
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| anyhow::anyhow!("--token holds characters a header cannot carry"))?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    Ok(reqwest::Client::builder()
        .default_headers(headers)
        .build()?)
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FLOE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    // Query execution is CPU-bound and does not yield inside a batch; two
    // workers beyond the core count keep the listeners (and cancel
    // requests) responsive while every core is busy with queries.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()) + 2;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_stack_size(floe_server::WORKER_STACK_BYTES)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("floe: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Sql(args) => shell::run(args).await,
            Command::Replicate(args) => replicate::run(args).await,
        }
    });
    // A query still computing (its client gone or cancelled) must not hold
    // up the exit: everything acknowledged is already durable.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("floe: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
