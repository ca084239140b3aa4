//! The error-status registry.
//!
//! A [`Status`] has a stable meaning. Its SQLSTATE follows PostgreSQL's
//! appendix A so that client libraries classify Floe's errors the way they
//! classify PostgreSQL's; its HTTP status follows RFC 9110.

/// The class of an error, with a stable SQLSTATE and HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Status {
    /// 42601: the statement does not parse.
    SyntaxError,
    /// 26000: no prepared statement has that name.
    InvalidSqlStatementName,
    /// 42P05: a prepared statement of that name already exists.
    DuplicatePreparedStatement,
    /// 28P01: the password (or token) does not authenticate the user.
    InvalidPassword,
    /// 28000: the client may not connect this way (no TLS where it is
    /// required, a role that cannot log in, no credentials).
    InvalidAuthorization,
    /// 53300: the server holds as many connections as it accepts.
    TooManyConnections,
    /// 53400: a client exceeded a rate limit, such as failed logins.
    ConfigurationLimitExceeded,
    /// 42P01: the table does not exist.
    UndefinedTable,
    /// 3F000: the schema does not exist.
    UndefinedSchema,
    /// 42703: the column does not exist.
    UndefinedColumn,
    /// 42702: a column name matches columns of more than one relation.
    AmbiguousColumn,
    /// 42P07: the table already exists.
    DuplicateTable,
    /// 42P06: the schema already exists.
    DuplicateSchema,
    /// 42701: a column name is used twice.
    DuplicateColumn,
    /// 42804: a value has the wrong type for its column.
    DatatypeMismatch,
    /// 42704: a type name is unknown.
    UndefinedObject,
    /// 42883: the function does not exist.
    UndefinedFunction,
    /// 42809: the object is of the wrong kind for the statement (DROP
    /// TABLE naming a view).
    WrongObjectType,
    /// 22P02: a text value does not parse as its type.
    InvalidTextRepresentation,
    /// 22P04: an input file is malformed.
    BadCopyFileFormat,
    /// 22000: a value is not valid for the operation applied to it.
    DataException,
    /// 22023: an option or argument has an invalid value.
    InvalidParameterValue,
    /// 22025: a LIKE pattern ends with its escape character.
    InvalidEscapeSequence,
    /// 2201B: a regular expression that cannot be read.
    InvalidRegularExpression,
    /// 22008: a date, time or interval is out of its type's range.
    DatetimeFieldOverflow,
    /// 22007: text does not match a date/time template (`to_date`,
    /// `to_timestamp`).
    InvalidDatetimeFormat,
    /// 22009: a time zone offset out of range.
    InvalidTimeZoneDisplacementValue,
    /// 22003: a number is out of range for its type.
    NumericValueOutOfRange,
    /// 22012: division by zero.
    DivisionByZero,
    /// 2201G: a bad count, bound or NaN given to `width_bucket`.
    InvalidWidthBucketArgument,
    /// 2201W: a negative LIMIT.
    InvalidRowCountInLimitClause,
    /// 2201X: a negative OFFSET.
    InvalidRowCountInResultOffsetClause,
    /// 23502: NULL in a column that does not allow it.
    NotNullViolation,
    /// 23505: two rows with the same primary or UNIQUE key.
    UniqueViolation,
    /// 21000: one statement would change the same row twice, or a scalar
    /// subquery returned more than one row.
    CardinalityViolation,
    /// 42P10: a column list does not match a constraint.
    InvalidColumnReference,
    /// 42803: an aggregate or window function where none may be.
    GroupingError,
    /// 42P16: a table definition change is not allowed.
    InvalidTableDefinition,
    /// 2BP01: dropping an object that others depend on.
    DependentObjectsStillExist,
    /// 0A000: valid SQL that Floe does not support (yet).
    FeatureNotSupported,
    /// 42501: the user lacks a privilege.
    InsufficientPrivilege,
    /// 55006: the object is in use (for example a locked data directory).
    ObjectInUse,
    /// 40001: a concurrent change conflicted; retrying may succeed.
    SerializationFailure,
    /// 25006: a write inside a transaction block, which Floe cannot roll back.
    ReadOnlySqlTransaction,
    /// 55000: the object cannot be used in its present state (a table that
    /// failed to load).
    ObjectNotInPrerequisiteState,
    /// 57014: the query was cancelled.
    QueryCanceled,
    /// 54000: a size or count limit was exceeded.
    ProgramLimitExceeded,
    /// 54001: the statement is nested too deeply to parse or plan.
    StatementTooComplex,
    /// 53000: Floe is over a memory or disk bound; retrying later may succeed.
    InsufficientResources,
    /// 58P01: a file named in the statement does not exist.
    UndefinedFile,
    /// 58030: an I/O error in Floe's own storage.
    IoError,
    /// 42710: an object (a source) of that name already exists.
    DuplicateObject,
    /// 08006: a connection to another server (a replication source) failed.
    ConnectionFailure,
    /// 08P01: a client broke the wire protocol (a malformed or unexpected
    /// message).
    ProtocolViolation,
    /// XX000: a bug or an unexpected state inside Floe.
    Internal,
}

impl Status {
    /// The five-character PostgreSQL SQLSTATE.
    pub const fn sqlstate(self) -> &'static str {
        match self {
            Status::SyntaxError => "42601",
            Status::InvalidSqlStatementName => "26000",
            Status::DuplicatePreparedStatement => "42P05",
            Status::InvalidPassword => "28P01",
            Status::InvalidAuthorization => "28000",
            Status::TooManyConnections => "53300",
            Status::ConfigurationLimitExceeded => "53400",
            Status::UndefinedTable => "42P01",
            Status::UndefinedSchema => "3F000",
            Status::UndefinedColumn => "42703",
            Status::AmbiguousColumn => "42702",
            Status::DuplicateTable => "42P07",
            Status::DuplicateSchema => "42P06",
            Status::DuplicateColumn => "42701",
            Status::DatatypeMismatch => "42804",
            Status::UndefinedObject => "42704",
            Status::UndefinedFunction => "42883",
            Status::WrongObjectType => "42809",
            Status::InvalidTextRepresentation => "22P02",
            Status::BadCopyFileFormat => "22P04",
            Status::DataException => "22000",
            Status::InvalidParameterValue => "22023",
            Status::InvalidEscapeSequence => "22025",
            Status::InvalidRegularExpression => "2201B",
            Status::NumericValueOutOfRange => "22003",
            Status::DatetimeFieldOverflow => "22008",
            Status::InvalidDatetimeFormat => "22007",
            Status::InvalidTimeZoneDisplacementValue => "22009",
            Status::DivisionByZero => "22012",
            Status::InvalidWidthBucketArgument => "2201G",
            Status::InvalidRowCountInLimitClause => "2201W",
            Status::InvalidRowCountInResultOffsetClause => "2201X",
            Status::NotNullViolation => "23502",
            Status::UniqueViolation => "23505",
            Status::CardinalityViolation => "21000",
            Status::InvalidTableDefinition => "42P16",
            Status::InvalidColumnReference => "42P10",
            Status::GroupingError => "42803",
            Status::DependentObjectsStillExist => "2BP01",
            Status::FeatureNotSupported => "0A000",
            Status::InsufficientPrivilege => "42501",
            Status::ObjectInUse => "55006",
            Status::SerializationFailure => "40001",
            Status::ReadOnlySqlTransaction => "25006",
            Status::ObjectNotInPrerequisiteState => "55000",
            Status::QueryCanceled => "57014",
            Status::ProgramLimitExceeded => "54000",
            Status::StatementTooComplex => "54001",
            Status::InsufficientResources => "53000",
            Status::UndefinedFile => "58P01",
            Status::IoError => "58030",
            Status::DuplicateObject => "42710",
            Status::ConnectionFailure => "08006",
            Status::ProtocolViolation => "08P01",
            Status::Internal => "XX000",
        }
    }

    /// The HTTP status code the HTTP API answers with.
    pub const fn http_status(self) -> u16 {
        match self {
            Status::UndefinedTable | Status::UndefinedSchema | Status::UndefinedFile => 404,
            Status::DuplicateTable
            | Status::DuplicateSchema
            | Status::ObjectInUse
            | Status::SerializationFailure
            | Status::ReadOnlySqlTransaction
            | Status::DuplicateObject
            | Status::DuplicatePreparedStatement
            | Status::DependentObjectsStillExist
            | Status::UniqueViolation => 409,
            Status::ConnectionFailure => 502,
            Status::InvalidPassword | Status::InvalidAuthorization => 401,
            Status::TooManyConnections => 503,
            Status::ConfigurationLimitExceeded => 429,
            Status::InsufficientPrivilege => 403,
            Status::ProgramLimitExceeded | Status::StatementTooComplex => 413,
            Status::InsufficientResources | Status::ObjectNotInPrerequisiteState => 503,
            Status::FeatureNotSupported => 501,
            Status::QueryCanceled => 499,
            Status::IoError | Status::Internal => 500,
            Status::SyntaxError
            | Status::InvalidSqlStatementName
            | Status::UndefinedColumn
            | Status::AmbiguousColumn
            | Status::DuplicateColumn
            | Status::DatatypeMismatch
            | Status::UndefinedObject
            | Status::UndefinedFunction
            | Status::WrongObjectType
            | Status::DataException
            | Status::InvalidTextRepresentation
            | Status::BadCopyFileFormat
            | Status::InvalidParameterValue
            | Status::InvalidEscapeSequence
            | Status::InvalidRegularExpression
            | Status::NumericValueOutOfRange
            | Status::DatetimeFieldOverflow
            | Status::InvalidDatetimeFormat
            | Status::InvalidTimeZoneDisplacementValue
            | Status::DivisionByZero
            | Status::InvalidWidthBucketArgument
            | Status::InvalidRowCountInLimitClause
            | Status::InvalidRowCountInResultOffsetClause
            | Status::NotNullViolation
            | Status::CardinalityViolation
            | Status::InvalidTableDefinition
            | Status::InvalidColumnReference
            | Status::GroupingError
            | Status::ProtocolViolation => 400,
        }
    }

    /// Looks a status up by its SQLSTATE, for errors that arrive as codes.
    pub fn from_sqlstate(code: &str) -> Option<Status> {
        ALL.iter().copied().find(|s| s.sqlstate() == code)
    }
}

const ALL: [Status; 55] = [
    Status::DatetimeFieldOverflow,
    Status::InvalidDatetimeFormat,
    Status::InvalidTimeZoneDisplacementValue,
    Status::InvalidSqlStatementName,
    Status::DuplicatePreparedStatement,
    Status::WrongObjectType,
    Status::InvalidPassword,
    Status::InvalidAuthorization,
    Status::TooManyConnections,
    Status::ConfigurationLimitExceeded,
    Status::DuplicateObject,
    Status::ConnectionFailure,
    Status::ProtocolViolation,
    Status::SyntaxError,
    Status::UndefinedTable,
    Status::UndefinedSchema,
    Status::UndefinedColumn,
    Status::AmbiguousColumn,
    Status::DuplicateTable,
    Status::DuplicateSchema,
    Status::DuplicateColumn,
    Status::DatatypeMismatch,
    Status::UndefinedObject,
    Status::UndefinedFunction,
    Status::DataException,
    Status::InvalidTextRepresentation,
    Status::BadCopyFileFormat,
    Status::InvalidParameterValue,
    Status::InvalidEscapeSequence,
    Status::InvalidRegularExpression,
    Status::NumericValueOutOfRange,
    Status::DivisionByZero,
    Status::InvalidWidthBucketArgument,
    Status::InvalidRowCountInLimitClause,
    Status::InvalidRowCountInResultOffsetClause,
    Status::NotNullViolation,
    Status::UniqueViolation,
    Status::CardinalityViolation,
    Status::InvalidTableDefinition,
    Status::InvalidColumnReference,
    Status::GroupingError,
    Status::DependentObjectsStillExist,
    Status::FeatureNotSupported,
    Status::InsufficientPrivilege,
    Status::ObjectInUse,
    Status::SerializationFailure,
    Status::ReadOnlySqlTransaction,
    Status::ObjectNotInPrerequisiteState,
    Status::QueryCanceled,
    Status::ProgramLimitExceeded,
    Status::StatementTooComplex,
    Status::InsufficientResources,
    Status::UndefinedFile,
    Status::IoError,
    Status::Internal,
];

/// Implemented by every crate's error enum: the one question front ends ask.
pub trait HasStatus: std::error::Error {
    /// The status this error is reported with.
    fn status(&self) -> Status;
}

#[cfg(test)]
mod tests;
