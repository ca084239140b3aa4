//! Floe's shared vocabulary.
//!
//! This crate owns the error-status registry: every error in Floe, whatever
//! crate raises it, reports one [`Status`], and this crate is the only place
//! where a status is mapped to a PostgreSQL SQLSTATE and an HTTP status code.
//! Protocol front ends (PG wire, HTTP) translate errors through [`Status`] and
//! never invent codes of their own. It also holds the default addresses and
//! names that the binary, the server and the tests agree on, and the one
//! way Floe writes a small file durably ([`fs::write_atomic`]).

pub mod defaults;
pub mod fs;
pub mod status;

pub use status::{HasStatus, Status};
