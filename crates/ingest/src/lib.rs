//! Floe's ingestion decoding.
//!
//! This crate owns turning what clients send into Arrow record batches of
//! a table's schema: event bodies over HTTP (NDJSON, a JSON array, CSV with
//! a header, an Arrow IPC stream; gzip or zstd compressed) and text values
//! read the way PostgreSQL's input functions read them (also used by
//! `COPY`). It never writes: callers hand the batches to the storage layer.
//!
//! Invariants:
//! - Every row that does not fit is named by its line (or array index), its
//!   field and the reason; nothing that does not fit is silently dropped or
//!   turned into NULL.
//! - Decompressed bodies are bounded, so a small compressed body cannot
//!   expand past the configured limit.

pub mod array_text;
pub mod decode;
mod json_row;
pub mod values;

use floe_common::{HasStatus, Status};

pub use decode::{Decoded, Format, Rejected};

/// An error decoding a body.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The Content-Type is not a format Floe reads.
    #[error(
        "unsupported Content-Type \"{content_type}\"; send application/x-ndjson, application/json, text/csv or application/vnd.apache.arrow.stream"
    )]
    UnsupportedFormat { content_type: String },
    /// The Content-Encoding is not one Floe undoes.
    #[error("unsupported Content-Encoding \"{encoding}\"; send gzip, zstd or identity")]
    UnsupportedEncoding { encoding: String },
    /// The compressed body does not decompress.
    #[error("cannot decompress the {encoding} body: {reason}")]
    Decompress { encoding: String, reason: String },
    /// The body (after decompression) is larger than allowed.
    #[error("request body exceeds the limit of {limit} bytes")]
    TooLarge { limit: usize },
    /// The body as a whole cannot be read in its format.
    #[error("malformed {format} body: {reason}")]
    Malformed {
        format: &'static str,
        reason: String,
    },
    /// A field the table does not have (CSV header, Arrow schema).
    #[error("column \"{field}\" does not exist in the table")]
    UnknownField { field: String },
}

impl HasStatus for IngestError {
    fn status(&self) -> Status {
        match self {
            IngestError::TooLarge { .. } => Status::ProgramLimitExceeded,
            IngestError::UnknownField { .. } => Status::UndefinedColumn,
            IngestError::Malformed { .. } => Status::BadCopyFileFormat,
            IngestError::UnsupportedFormat { .. }
            | IngestError::UnsupportedEncoding { .. }
            | IngestError::Decompress { .. } => Status::InvalidParameterValue,
        }
    }
}

/// Result type of this crate.
pub type Result<T, E = IngestError> = std::result::Result<T, E>;
