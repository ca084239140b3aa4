//! Table properties that tie a Floe table to its source.

/// The source's name.
pub const SOURCE: &str = "floe.cdc.source";
/// The source's id (see `SourceSpec::id`).
pub const SOURCE_ID: &str = "floe.cdc.source-id";
/// The source table, `schema.table`.
pub const RELATION: &str = "floe.cdc.relation";
/// Every source transaction committed before this LSN is applied.
pub const LSN: &str = "floe.cdc.lsn";
/// `true` once the initial copy is committed.
pub const SYNCED: &str = "floe.cdc.synced";
/// Each column's attribute number in the source (JSON), to tell a
/// renamed column from a dropped and an added one.
pub const ATTNUMS: &str = "floe.cdc.attnums";
