//! The filesystem's tests: the built binary mounted on a temporary
//! directory, its durability model checked case by case, SQLite on it, and
//! throughput (ignored by default).

mod common;
mod semantics;
mod sqlite;
mod throughput;
