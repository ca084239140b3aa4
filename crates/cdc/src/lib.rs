//! Floe's change data capture from PostgreSQL.
//!
//! This crate owns replication sources: their definitions (`CREATE SOURCE`,
//! stored in the data directory's `sources/` folder), the replication
//! connection spoken on the wire (`proto`), decoding `pgoutput` messages,
//! the consistent initial copy of each table (`snapshot`), and the worker
//! that streams changes and applies whole source transactions, in commit
//! order, to Floe tables by primary key (`apply`, `worker`).
//!
//! Invariants:
//! - A Floe table records, in the same commit as the rows, the source LSN
//!   it is applied through (`floe.cdc.lsn`); a transaction that commits
//!   before it is never applied again, so a restart anywhere neither loses
//!   nor repeats a change.
//! - The slot's confirmed position is reported to the source only after
//!   every transaction before it is committed in Floe.
//! - A source transaction's changes to one table become visible in one
//!   Floe snapshot, together with every transaction before it.

mod apply;
mod connect;
mod error;
mod pgoutput;
pub mod props;
mod proto;
mod snapshot;
mod source;
mod spill;
mod tls;
mod types;
mod upstream;
mod worker;

pub use error::{CdcError, Result};
pub use proto::{PgConfig, SslMode, format_lsn, parse_lsn};
pub use source::{SourceOptions, SourceSpec, SourceStatus, SourceView, Sources, TableStatus};
