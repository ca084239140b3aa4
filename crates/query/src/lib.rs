//! Floe's SQL layer.
//!
//! This crate owns the DataFusion session and everything SQL means in Floe:
//! the catalog that exposes the store's schemas and tables to DataFusion,
//! the table provider that scans committed Iceberg snapshots (with
//! DataFusion's Parquet reader, by field id, honouring position deletes) and
//! writes through the storage layer, CREATE/DROP/ALTER, UPDATE/DELETE and
//! upserts, COPY, system tables and time travel. Every front end (PG wire, HTTP, the `floe sql` shell) executes
//! statements through [`Engine`]; it is the only crate that depends on
//! DataFusion's planning APIs.

mod access;
mod alter;
mod apply;
mod arrays;
mod avg;
pub mod bits;
mod bytea;
mod cardinality;
mod catalog;
mod coercion;
mod columnar;
mod constant_query;
mod copy;
mod custom_settings;
mod datetime;
mod ddl;
mod defaults;
mod dml;
mod engine;
mod error;
mod estimates;
mod functions;
mod information_schema;
mod interval_extremes;
mod interval_order;
mod intervals;
mod join_order;
mod json;
mod lateral;
mod limit_counts;
mod linear_sums;
mod mapped;
pub mod names;
mod numeric_div;
mod output_names;
mod overflow;
mod percentile;
mod pg_syntax;
pub mod pg_text;
pub mod positions;
mod prepared;
mod prune;
mod regexp;
mod result_types;
mod rewrite;
mod scan;
mod session_memory;
mod similar;
mod string_agg;
mod sum;
mod syntax;
mod system;
mod table;
mod temp_views;
mod templates;
mod text_input;
mod timestamp_input;
pub mod transaction;
mod types;
pub mod uuid;
mod views;
mod width_bucket;
pub mod zone;
mod zone_casts;

pub use access::{is_access_statement, masked_text, token_schema};
pub use constant_query::execute_stream;
pub use custom_settings::changes_custom_setting;
pub use engine::{Engine, Output};
pub use error::{FilePosition, QueryError};
pub use floe_auth;
pub use floe_cdc;
pub use pg_syntax::{answers_show, refuses_setting, shows_all};
pub use session_memory::{SessionMemory, custom_setting};
pub use syntax::{FloeStatement, Parsed};

/// DataFusion, re-exported so front ends use the same version.
pub use datafusion;
