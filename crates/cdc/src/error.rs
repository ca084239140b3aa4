//! The errors of replication, each with its SQLSTATE and HTTP status.

use floe_common::{HasStatus, Status};
use floe_storage::StorageError;

/// Why a replication source could not be declared, started or applied.
#[derive(Debug, thiserror::Error)]
pub enum CdcError {
    /// The connection string does not parse or lacks a required part.
    #[error("invalid connection string for source \"{source_name}\": {reason}")]
    InvalidConnection { source_name: String, reason: String },
    /// An option of CREATE SOURCE is not valid.
    #[error("invalid option {option} for source \"{source_name}\": {reason}")]
    InvalidOption {
        source_name: String,
        option: String,
        reason: String,
    },
    /// The source server could not be reached or closed the connection.
    #[error("cannot connect to source \"{source_name}\" at {address}: {reason}")]
    Connect {
        source_name: String,
        address: String,
        reason: String,
    },
    /// The source server answered a command with an error.
    #[error("source \"{source_name}\": {command} failed: {message} (SQLSTATE {sqlstate})")]
    Server {
        source_name: String,
        command: String,
        sqlstate: String,
        message: String,
    },
    /// The replication stream broke the protocol.
    #[error("source \"{source_name}\": replication protocol error: {reason}")]
    Protocol { source_name: String, reason: String },
    /// A source of this name exists.
    #[error("source \"{name}\" already exists")]
    SourceExists { name: String },
    /// No source of this name exists.
    #[error("source \"{name}\" does not exist")]
    NoSuchSource { name: String },
    /// A table cannot be replicated as it is.
    #[error("cannot replicate {table} from source \"{source_name}\": {reason}")]
    Unsupported {
        source_name: String,
        table: String,
        reason: String,
    },
    /// A value from the source does not convert to its column's type.
    #[error(
        "source \"{source_name}\": value {value:?} of column \"{column}\" of {table} is not a valid {ty}"
    )]
    InvalidValue {
        source_name: String,
        table: String,
        column: String,
        value: String,
        ty: String,
    },
    /// A schema change on the source that Floe cannot follow.
    #[error("source \"{source_name}\": {table}: incompatible schema change: {reason}")]
    IncompatibleChange {
        source_name: String,
        table: String,
        reason: String,
    },
    /// The source's state file could not be read or written.
    #[error("source state {path}: {reason}")]
    State { path: String, reason: String },
    /// Writing to a Floe table failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl HasStatus for CdcError {
    fn status(&self) -> Status {
        match self {
            CdcError::InvalidConnection { .. } | CdcError::InvalidOption { .. } => {
                Status::InvalidParameterValue
            }
            CdcError::Connect { .. } | CdcError::Protocol { .. } => Status::ConnectionFailure,
            // The source refusing Floe's own login is a failure to connect,
            // not a wrong password of the client asking.
            CdcError::Server { sqlstate, .. } if sqlstate.starts_with("28") => {
                Status::ConnectionFailure
            }
            CdcError::Server { sqlstate, .. } => {
                Status::from_sqlstate(sqlstate).unwrap_or(Status::ConnectionFailure)
            }
            CdcError::SourceExists { .. } => Status::DuplicateObject,
            CdcError::NoSuchSource { .. } => Status::UndefinedObject,
            CdcError::Unsupported { .. } => Status::FeatureNotSupported,
            CdcError::InvalidValue { .. } => Status::InvalidTextRepresentation,
            CdcError::IncompatibleChange { .. } => Status::DatatypeMismatch,
            CdcError::State { .. } => Status::IoError,
            CdcError::Storage(e) => e.status(),
        }
    }
}

/// A result with [`CdcError`].
pub type Result<T, E = CdcError> = std::result::Result<T, E>;
