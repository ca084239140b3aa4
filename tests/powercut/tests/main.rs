//! The filesystem's tests: the built binary mounted on a temporary
//! directory, its durability model checked case by case, and SQLite on it.

mod common;
mod semantics;
mod sqlite;
