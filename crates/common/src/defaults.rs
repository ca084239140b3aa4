//! Defaults shared by the binary, the server and the tests.

/// Data directory used by `floe serve` and `floe sql` when none is given.
pub const DATA_DIR: &str = "floe-data";
/// PostgreSQL wire protocol listen address.
pub const PG_ADDR: &str = "127.0.0.1:5433";
/// HTTP listen address.
pub const HTTP_ADDR: &str = "127.0.0.1:8433";
/// Name of the Iceberg catalog inside the data directory (PyIceberg's `SqlCatalog` name).
pub const CATALOG_NAME: &str = "floe";
/// Schema that unqualified table names resolve to, as in PostgreSQL.
pub const DEFAULT_SCHEMA: &str = "public";
/// Schema holding Floe's read-only system tables.
pub const SYSTEM_SCHEMA: &str = "system";
/// The PostgreSQL release Floe answers as: its wire protocol, catalog and
/// SQL are those of PostgreSQL 15, so drivers that parse the version
/// (SQLAlchemy, JDBC, psycopg's `server_version`) pick PostgreSQL 15's
/// dialect.
pub const PG_VERSION: &str = "15.0";
/// [`PG_VERSION`] as `server_version_num` spells it.
pub const PG_VERSION_NUM: &str = "150000";

/// The `server_version` parameter and `SHOW server_version`:
/// `15.0 (Floe 0.1.0)`, in the shape of PostgreSQL's own
/// (`15.8 (Debian 15.8-1)`).
pub fn server_version() -> String {
    format!("{PG_VERSION} (Floe {})", env!("CARGO_PKG_VERSION"))
}

/// What `SELECT version()` answers, in the shape of PostgreSQL's:
/// `PostgreSQL 15.0 (Floe 0.1.0) on x86_64-linux, 64-bit`.
pub fn version() -> String {
    format!(
        "PostgreSQL {} on {}-{}, {}-bit",
        server_version(),
        std::env::consts::ARCH,
        std::env::consts::OS,
        usize::BITS
    )
}
