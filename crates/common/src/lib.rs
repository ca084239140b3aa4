//! Floe's shared vocabulary.
//!
//! This crate owns the error-status registry: every error in Floe, whatever
//! crate raises it, reports one [`Status`], and this crate is the only place
//! where a status is mapped to a PostgreSQL SQLSTATE and an HTTP status code.
//! Protocol front ends (PG wire, HTTP) translate errors through [`Status`] and
//! never invent codes of their own. It also holds the default addresses and
//! names that the binary, the server and the tests agree on, the ways Floe
//! makes files and directories durable ([`fs`]), and its clock ([`now_ms`]).

pub mod defaults;
pub mod fs;
pub mod status;

/// Milliseconds since the Unix epoch (0 if the clock is before it), as
/// Iceberg and Floe's own records store times.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub use status::{HasStatus, Status};
