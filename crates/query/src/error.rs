//! Errors raised by the SQL layer.

use datafusion::error::DataFusionError;
use floe_common::{HasStatus, Status};
use floe_storage::StorageError;

/// Where in an input file a COPY error happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePosition {
    /// The file, as named or matched by the COPY statement.
    pub file: String,
    /// 1-based line number, counting a header line.
    pub line: Option<u64>,
    /// The column (CSV) or field (JSON) name.
    pub column: Option<String>,
}

impl std::fmt::Display for FilePosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        if let Some(column) = &self.column {
            write!(f, ", column \"{column}\"")?;
        }
        Ok(())
    }
}

/// An error from the SQL layer.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The SQL text does not parse.
    #[error("syntax error: {message}")]
    Parse { message: String },
    /// The SQL text nests deeper than the parser goes.
    #[error("statement is too complex: it nests deeper than Floe's parser goes")]
    TooDeep,
    /// A storage operation failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Declaring, dropping or running a replication source failed.
    #[error(transparent)]
    Cdc(#[from] floe_cdc::CdcError),
    /// DataFusion failed to plan or execute the statement.
    #[error("{0}")]
    DataFusion(#[from] DataFusionError),
    /// A column type in CREATE TABLE cannot be stored.
    #[error("column \"{column}\" has type {ty}: {reason}")]
    InvalidColumnType {
        column: String,
        ty: String,
        reason: String,
    },
    /// A PARTITION BY or ORDER BY clause in CREATE TABLE is not valid.
    #[error("invalid {clause} item `{item}`: {reason}")]
    InvalidLayout {
        clause: &'static str,
        item: String,
        reason: String,
    },
    /// A statement option has an invalid value.
    #[error("invalid option {option}: {reason}")]
    InvalidOption { option: String, reason: String },
    /// A function's arguments are wrong in a way PostgreSQL gives its own
    /// SQLSTATE for.
    #[error("{message}")]
    InvalidArgument { status: Status, message: String },
    /// A table referenced by name does not exist.
    #[error("relation \"{name}\" does not exist")]
    NoSuchTable { name: String },
    /// A column referenced by name does not exist.
    #[error("column \"{column}\" of relation \"{table}\" does not exist")]
    NoSuchColumn { table: String, column: String },
    /// A literal does not parse as the type it is cast to.
    #[error("invalid input syntax for type {ty}: \"{value}\"")]
    InvalidLiteral { ty: &'static str, value: String },
    /// Text that is not a bytea value in PostgreSQL's hex or escape form.
    #[error("invalid input syntax for type bytea: \"{value}\" ({reason})")]
    InvalidBytea { value: String, reason: String },
    /// Text that is not an array in PostgreSQL's text form (`{1,2}`).
    #[error("malformed array literal: \"{value}\" ({detail})")]
    InvalidArrayLiteral { value: String, detail: &'static str },
    /// One statement would change the same row twice.
    #[error("{command} would affect row of relation \"{table}\" a second time")]
    RowChangedTwice {
        command: &'static str,
        table: String,
    },
    /// ON CONFLICT names columns that are not the table's primary key.
    #[error(
        "there is no unique constraint matching the ON CONFLICT specification on \"{table}\" (primary key: {key})"
    )]
    NoConflictTarget { table: String, key: String },
    /// Valid SQL that Floe does not execute.
    #[error("{feature} is not supported")]
    Unsupported { feature: String },
    /// `CREATE INDEX`: Floe keeps no secondary indexes.
    #[error(
        "CREATE INDEX is not supported: Floe keeps no secondary indexes. Scans skip data files \
         and row groups by their column statistics; to cluster a table by a column, give it \
         a sort order (CREATE TABLE ... ORDER BY (column)) or a partition spec (PARTITION BY)"
    )]
    NoIndexes,
    /// A write into a view.
    #[error(
        "cannot write into view \"{name}\": Floe's views are read-only; write into the tables \
         it reads"
    )]
    ReadOnlyView { name: String },
    /// A write inside `BEGIN ... COMMIT`, which could not be rolled back.
    #[error(
        "cannot execute {statement} in a transaction block: Floe commits every statement on its own, \
         so a write inside BEGIN ... COMMIT could not be rolled back; end the block with COMMIT or \
         ROLLBACK and run the statement outside it (psycopg: connect with autocommit=True)"
    )]
    WriteInTransactionBlock { statement: String },
    /// A value in an input file does not fit its column.
    #[error("COPY {table}: {position}: {reason}")]
    CopyValue {
        table: String,
        position: FilePosition,
        reason: String,
    },
    /// An input file is malformed (bad CSV or JSON structure).
    #[error("COPY {table}: {position}: {reason}")]
    CopyFormat {
        table: String,
        position: FilePosition,
        reason: String,
    },
    /// No file matches the path or pattern of a COPY statement.
    #[error("COPY: no file matches \"{pattern}\"")]
    NoFiles { pattern: String },
    /// Access control refused the statement, or a role statement failed.
    #[error(transparent)]
    Auth(#[from] floe_auth::AuthError),
    /// A statement ran outside an authenticated session on a server.
    #[error("no authenticated session")]
    NoSession,
    /// A COPY path outside the directories COPY may use.
    #[error("COPY: \"{path}\" {reason}")]
    CopyPath { path: String, reason: String },
    /// A file named by COPY cannot be read or written.
    #[error("COPY: cannot access \"{path}\": {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl QueryError {
    /// Wraps this error so it can travel through DataFusion and be recovered.
    pub fn into_datafusion(self) -> DataFusionError {
        DataFusionError::External(Box::new(self))
    }
}

/// Recovers a Floe error carried inside a DataFusion error, if there is one.
fn floe_status(e: &DataFusionError) -> Option<Status> {
    let DataFusionError::External(inner) = e else {
        return None;
    };
    if let Some(q) = inner.downcast_ref::<QueryError>() {
        return Some(q.status());
    }
    inner.downcast_ref::<StorageError>().map(|s| s.status())
}

/// Whether Arrow's cast error `msg` says a value was out of the target
/// type's range (rather than not a value of it at all).
fn cast_overflow(msg: &str) -> bool {
    msg.starts_with("Can't cast value ")
        || msg.contains("is out of range")
        || msg.contains("Overflowing on")
        || msg.contains("overflows")
}

fn datafusion_status(e: &DataFusionError) -> Status {
    use arrow::error::ArrowError;
    let root = e.find_root();
    if let Some(status) = floe_status(root) {
        return status;
    }
    if root.to_string().contains("non-nullable but contains null") {
        return Status::NotNullViolation;
    }
    match root {
        DataFusionError::SQL(..) => Status::SyntaxError,
        DataFusionError::NotImplemented(_) => Status::FeatureNotSupported,
        DataFusionError::SchemaError(err, _) => {
            use datafusion::common::SchemaError;
            match err.as_ref() {
                SchemaError::FieldNotFound { .. } => Status::UndefinedColumn,
                SchemaError::AmbiguousReference { .. } => Status::AmbiguousColumn,
                SchemaError::DuplicateQualifiedField { .. }
                | SchemaError::DuplicateUnqualifiedField { .. } => Status::DuplicateColumn,
            }
        }
        DataFusionError::Plan(msg) => {
            let lower = msg.to_ascii_lowercase();
            if lower.contains("invalid function")
                || lower.contains("no function matches")
                || (lower.starts_with("function ") && lower.contains("does not exist"))
                || (lower.starts_with("table function ") && lower.contains("not found"))
            {
                Status::UndefinedFunction
            } else if lower.contains("table") && lower.contains("not found") {
                Status::UndefinedTable
            } else if lower.contains("field not found in schema")
                || (lower.starts_with("column for ") && lower.contains("not found in schema"))
            {
                Status::UndefinedColumn
            } else if lower.starts_with("failed to resolve schema") {
                Status::UndefinedSchema
            } else if lower.starts_with("unrecognized configuration parameter") {
                Status::UndefinedObject
            } else {
                Status::SyntaxError
            }
        }
        DataFusionError::ArrowError(err, _) => match err.as_ref() {
            ArrowError::DivideByZero => Status::DivisionByZero,
            // A value that does not fit the cast's type: Arrow reports it
            // as a cast error, PostgreSQL as out of range.
            ArrowError::CastError(msg) if cast_overflow(msg) => Status::NumericValueOutOfRange,
            ArrowError::CastError(_) | ArrowError::ParseError(_) => {
                Status::InvalidTextRepresentation
            }
            ArrowError::ArithmeticOverflow(_) => Status::NumericValueOutOfRange,
            ArrowError::ComputeError(_) | ArrowError::InvalidArgumentError(_) => {
                Status::DataException
            }
            _ => Status::Internal,
        },
        DataFusionError::Execution(msg) => {
            let lower = msg.to_ascii_lowercase();
            if lower.contains("divide by zero") {
                Status::DivisionByZero
            } else if crate::width_bucket::BAD_ARGUMENTS
                .iter()
                .any(|m| msg.contains(m))
            {
                Status::InvalidWidthBucketArgument
            } else if lower.contains("scalar subquery returned more than one row")
                || lower.contains("more than one row returned by a subquery")
            {
                Status::CardinalityViolation
            } else if lower.contains("field position must not be zero") {
                // split_part's, as PostgreSQL's
                Status::InvalidParameterValue
            } else {
                Status::DataException
            }
        }
        DataFusionError::ResourcesExhausted(_) => Status::ProgramLimitExceeded,
        DataFusionError::IoError(_) | DataFusionError::ObjectStore(_) => Status::IoError,
        DataFusionError::Configuration(_) => Status::InvalidParameterValue,
        _ => Status::Internal,
    }
}

impl HasStatus for QueryError {
    fn status(&self) -> Status {
        match self {
            QueryError::Parse { .. } => Status::SyntaxError,
            QueryError::TooDeep => Status::StatementTooComplex,
            QueryError::Storage(e) => e.status(),
            QueryError::Cdc(e) => e.status(),
            QueryError::DataFusion(e) => datafusion_status(e),
            QueryError::InvalidColumnType { .. } => Status::FeatureNotSupported,
            QueryError::InvalidLayout { .. } => Status::InvalidParameterValue,
            QueryError::InvalidOption { .. } => Status::InvalidParameterValue,
            QueryError::InvalidArgument { status, .. } => *status,
            QueryError::NoSuchTable { .. } => Status::UndefinedTable,
            QueryError::NoSuchColumn { .. } => Status::UndefinedColumn,
            QueryError::Unsupported { .. } | QueryError::NoIndexes => Status::FeatureNotSupported,
            QueryError::ReadOnlyView { .. } => Status::WrongObjectType,
            QueryError::WriteInTransactionBlock { .. } => Status::ReadOnlySqlTransaction,
            QueryError::RowChangedTwice { .. } => Status::CardinalityViolation,
            QueryError::InvalidLiteral { .. }
            | QueryError::InvalidBytea { .. }
            | QueryError::InvalidArrayLiteral { .. } => Status::InvalidTextRepresentation,
            QueryError::NoConflictTarget { .. } => Status::InvalidColumnReference,
            QueryError::CopyValue { .. } => Status::InvalidTextRepresentation,
            QueryError::CopyFormat { .. } => Status::BadCopyFileFormat,
            QueryError::NoFiles { .. } => Status::UndefinedFile,
            QueryError::Auth(e) => e.status(),
            QueryError::NoSession => Status::InvalidAuthorization,
            QueryError::CopyPath { .. } => Status::InsufficientPrivilege,
            QueryError::File { source, .. } => match source.kind() {
                std::io::ErrorKind::NotFound => Status::UndefinedFile,
                std::io::ErrorKind::PermissionDenied => Status::InsufficientPrivilege,
                _ => Status::IoError,
            },
        }
    }
}

impl QueryError {
    /// The message shown to users: DataFusion's context wrappers are peeled
    /// off and a wrapped Floe error is shown as itself.
    pub fn message(&self) -> String {
        match self {
            QueryError::DataFusion(e) => {
                let root = e.find_root();
                if let DataFusionError::External(inner) = root {
                    return inner.to_string();
                }
                let text = root.to_string();
                let text = strip_datafusion_prefix(&text);
                if matches!(root, DataFusionError::ResourcesExhausted(m) if m.contains("Failed to allocate"))
                {
                    return format!("{text}; {QUERY_MEMORY_HINT}");
                }
                text.to_string()
            }
            other => other.to_string(),
        }
    }
}

/// What a query past the shared query memory is told: where the bound
/// is set.
const QUERY_MEMORY_HINT: &str = "the memory running queries may hold together is set by \
    `floe serve --query-memory-mb` (default: half of the machine's memory)";

fn strip_datafusion_prefix(text: &str) -> &str {
    const PREFIXES: [&str; 8] = [
        "Error during planning: ",
        "Execution error: ",
        "Arrow error: ",
        "Schema error: ",
        "SQL error: ",
        "This feature is not implemented: ",
        "Invalid argument error: ",
        "Compute error: ",
    ];
    let mut out = text;
    loop {
        let before = out;
        for p in PREFIXES {
            if let Some(rest) = out.strip_prefix(p) {
                out = rest;
            }
        }
        if before == out {
            return out;
        }
    }
}

/// The error for valid SQL that Floe does not execute.
pub(crate) fn unsupported(what: &str) -> QueryError {
    QueryError::Unsupported {
        feature: what.to_string(),
    }
}

impl From<arrow::error::ArrowError> for QueryError {
    fn from(e: arrow::error::ArrowError) -> Self {
        QueryError::DataFusion(DataFusionError::from(e))
    }
}
