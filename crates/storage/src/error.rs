//! Errors raised by the storage layer.

use std::path::PathBuf;

use floe_common::{HasStatus, Status};

/// An error from the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// Another process holds the data directory.
    #[error(
        "data directory {} is in use by another Floe process (lock {} is held); stop that process or choose another --data-dir",
        path.display(), lock.display()
    )]
    DataDirLocked { path: PathBuf, lock: PathBuf },
    /// The data directory cannot be created, opened or locked.
    #[error("cannot use data directory {}: {source}", path.display())]
    DataDirIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The schema (Iceberg namespace) does not exist.
    #[error("schema \"{schema}\" does not exist")]
    NoSuchSchema { schema: String },
    /// The schema already exists.
    #[error("schema \"{schema}\" already exists")]
    SchemaExists { schema: String },
    /// DROP SCHEMA without CASCADE on a schema that still holds tables.
    #[error(
        "cannot drop schema \"{schema}\": it holds {tables} table(s){}; use DROP SCHEMA {schema} CASCADE",
        if *views > 0 { format!(" and {views} view(s)") } else { String::new() }
    )]
    SchemaNotEmpty {
        schema: String,
        tables: usize,
        views: usize,
    },
    /// The table does not exist.
    #[error("relation \"{schema}.{table}\" does not exist")]
    NoSuchTable { schema: String, table: String },
    /// The view does not exist.
    #[error("view \"{schema}.{view}\" does not exist")]
    NoSuchView { schema: String, view: String },
    /// A statement for one kind of relation names another kind (DROP
    /// TABLE naming a view).
    #[error("\"{name}\" is not a {kind}; use {hint} to remove it")]
    WrongKind {
        name: String,
        kind: &'static str,
        hint: &'static str,
    },
    /// The table already exists.
    #[error("relation \"{schema}.{table}\" already exists")]
    TableExists { schema: String, table: String },
    /// A table definition is not valid Iceberg (bad partition field, key on a nullable column, ...).
    #[error("invalid definition of table \"{table}\": {reason}")]
    InvalidDefinition { table: String, reason: String },
    /// Rows handed to a table do not fit its schema.
    #[error("rows do not fit table \"{table}\": column \"{column}\": {reason}")]
    SchemaMismatch {
        table: String,
        column: String,
        reason: String,
    },
    /// A value does not parse as its column's type.
    #[error("{reason} (column \"{column}\" of relation \"{table}\")")]
    InvalidValue {
        table: String,
        column: String,
        reason: String,
    },
    /// A value is outside the range of its column's declared type (a
    /// `smallint` column is stored as Iceberg's 32-bit `int`).
    #[error("{ty} out of range (column \"{column}\" of relation \"{table}\")")]
    OutOfRange {
        table: String,
        column: String,
        ty: &'static str,
    },
    /// A NULL was written to a column declared NOT NULL.
    #[error(
        "null value in column \"{column}\" of relation \"{table}\" violates not-null constraint"
    )]
    NullInRequiredColumn { table: String, column: String },
    /// A write would give two live rows the same key.
    #[error(
        "duplicate key value violates unique constraint \"{constraint}\": Key {key} already exists"
    )]
    UniqueViolation {
        table: String,
        constraint: String,
        key: String,
    },
    /// The snapshot id is not in the table's history.
    #[error("snapshot {snapshot_id} does not exist in table \"{table}\"")]
    NoSuchSnapshot { table: String, snapshot_id: i64 },
    /// An Iceberg operation (catalog, metadata or file I/O) failed.
    #[error("{operation} of {target} failed: {source}")]
    Iceberg {
        operation: &'static str,
        target: String,
        #[source]
        source: Box<iceberg::Error>,
    },
    /// The table uses an Iceberg feature Floe does not read or write.
    #[error("table \"{table}\" uses {feature}, which Floe does not support")]
    Unsupported { table: String, feature: String },
    /// A data or delete file cannot be read or written.
    #[error("file {path}: {reason}")]
    DataFileIo { path: String, reason: String },
    /// A change to a table's schema that Iceberg schema evolution does not allow.
    #[error("cannot alter table \"{table}\": {reason}")]
    InvalidAlter { table: String, reason: String },
    /// The SQLite catalog could not be read or updated.
    #[error("catalog update of table \"{table}\" failed: {reason}")]
    Catalog { table: String, reason: String },
    /// The write-ahead log failed or refused a record.
    #[error(transparent)]
    Wal(#[from] floe_wal::WalError),
    /// A table whose metadata could not be loaded when the store opened; it
    /// is kept out of service (its rows in the log are kept) until it loads.
    #[error(
        "table \"{schema}.{table}\" is unavailable: it failed to load when the server started ({reason}); \
         repair its metadata and restart, or DROP it"
    )]
    TableUnavailable {
        schema: String,
        table: String,
        reason: String,
    },
    /// A request with the same idempotency key is still being written.
    #[error(
        "a request with Idempotency-Key \"{key}\" is still being written; retry when it has finished"
    )]
    KeyInUse { key: String },
    /// Ingestion is over a memory or disk bound; the client should retry later.
    #[error("{resource} is full ({used} of {limit} bytes); retry in a moment")]
    Overloaded {
        resource: &'static str,
        used: u64,
        limit: u64,
    },
    /// Arrow could not convert or combine batches.
    #[error("{operation} failed: {source}")]
    Arrow {
        operation: &'static str,
        #[source]
        source: arrow::error::ArrowError,
    },
}

impl StorageError {
    pub(crate) fn iceberg(
        operation: &'static str,
        target: impl std::fmt::Display,
    ) -> impl FnOnce(iceberg::Error) -> StorageError {
        let target = target.to_string();
        move |source| StorageError::Iceberg {
            operation,
            target,
            source: Box::new(source),
        }
    }
}

/// An error and its sources, as one line.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

impl HasStatus for StorageError {
    fn status(&self) -> Status {
        match self {
            StorageError::DataDirLocked { .. } => Status::ObjectInUse,
            StorageError::DataDirIo { .. } => Status::IoError,
            StorageError::NoSuchSchema { .. } => Status::UndefinedSchema,
            StorageError::SchemaExists { .. } => Status::DuplicateSchema,
            StorageError::SchemaNotEmpty { .. } => Status::DependentObjectsStillExist,
            StorageError::NoSuchTable { .. } | StorageError::NoSuchView { .. } => {
                Status::UndefinedTable
            }
            StorageError::WrongKind { .. } => Status::WrongObjectType,
            StorageError::TableExists { .. } => Status::DuplicateTable,
            StorageError::InvalidDefinition { .. } => Status::InvalidParameterValue,
            StorageError::SchemaMismatch { .. } => Status::DatatypeMismatch,
            StorageError::NullInRequiredColumn { .. } => Status::NotNullViolation,
            StorageError::UniqueViolation { .. } => Status::UniqueViolation,
            StorageError::OutOfRange { .. } => Status::NumericValueOutOfRange,
            StorageError::InvalidValue { .. } => Status::InvalidTextRepresentation,
            StorageError::NoSuchSnapshot { .. } => Status::InvalidParameterValue,
            StorageError::Iceberg { source, .. } => match source.kind() {
                iceberg::ErrorKind::CatalogCommitConflicts => Status::SerializationFailure,
                iceberg::ErrorKind::FeatureUnsupported => Status::FeatureNotSupported,
                iceberg::ErrorKind::DataInvalid => Status::InvalidParameterValue,
                _ => Status::IoError,
            },
            StorageError::Unsupported { .. } => Status::FeatureNotSupported,
            StorageError::DataFileIo { .. } => Status::IoError,
            StorageError::InvalidAlter { .. } => Status::InvalidTableDefinition,
            StorageError::Catalog { .. } => Status::IoError,
            StorageError::Arrow { .. } => Status::DatatypeMismatch,
            StorageError::Wal(e) => e.status(),
            StorageError::Overloaded { .. } => Status::InsufficientResources,
            StorageError::KeyInUse { .. } => Status::ObjectInUse,
            StorageError::TableUnavailable { .. } => Status::ObjectNotInPrerequisiteState,
        }
    }
}
