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
