//! Transaction blocks. Floe runs every statement in a transaction of its
//! own: a write is committed (durable and visible) when it returns. A
//! `BEGIN ... COMMIT` block is accepted so that clients which open one
//! around every statement (psycopg's default mode, JDBC with autocommit off)
//! can read; a statement that writes inside a block is refused, since it
//! could not be rolled back. Nothing is ever silently committed that a
//! `ROLLBACK` was expected to discard.

use datafusion::sql::sqlparser::ast::{SetExpr, Statement};

use crate::error::QueryError;
use crate::syntax::Parsed;

/// Whether `stmt` only reads, so it may run inside a transaction block:
/// queries, EXPLAIN (ANALYZE only of a query), SHOW, SET, RESET, cursors, COPY
/// out, and the transaction statements themselves (savepoints included:
/// a block holds no writes, so they have nothing to keep or discard).
pub fn allowed_in_block(stmt: &Statement) -> bool {
    match stmt {
        Statement::Query(q) => query_only_reads(&q.body),
        Statement::Explain {
            analyze, statement, ..
        } => !analyze || allowed_in_block(statement),
        Statement::Copy { to, .. } => *to,
        Statement::ExplainTable { .. }
        | Statement::Set(_)
        | Statement::Reset(_)
        | Statement::ShowFunctions { .. }
        | Statement::ShowVariable { .. }
        | Statement::ShowStatus { .. }
        | Statement::ShowVariables { .. }
        | Statement::ShowCreate { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowDatabases { .. }
        | Statement::ShowSchemas { .. }
        | Statement::ShowObjects(_)
        | Statement::ShowTables { .. }
        | Statement::ShowViews { .. }
        | Statement::Declare { .. }
        | Statement::Fetch { .. }
        | Statement::Close { .. }
        | Statement::Discard { .. }
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. } => true,
        _ => false,
    }
}

fn query_only_reads(body: &SetExpr) -> bool {
    match body {
        SetExpr::Select(select) => select.into.is_none(),
        SetExpr::Query(q) => query_only_reads(&q.body),
        SetExpr::SetOperation { left, right, .. } => {
            query_only_reads(left) && query_only_reads(right)
        }
        SetExpr::Values(_) | SetExpr::Table(_) => true,
        _ => false,
    }
}

/// The error for a write inside a transaction block.
pub fn refusal(stmt: &Parsed) -> QueryError {
    let verb = match stmt {
        Parsed::Floe(floe) => floe.verb().to_string(),
        Parsed::Sql(stmt) => {
            let text = stmt.to_string();
            text.split_whitespace().next().unwrap_or("").to_uppercase()
        }
    };
    QueryError::WriteInTransactionBlock { statement: verb }
}

/// Checks `stmt` against an open block: `Err` if it writes. Floe's own
/// statements all write.
pub fn check_in_block(stmt: &Parsed) -> Result<(), QueryError> {
    match stmt {
        Parsed::Sql(sql) if allowed_in_block(sql) => Ok(()),
        _ => Err(refusal(stmt)),
    }
}

/// The transaction-block state of a session that has no protocol library
/// tracking it (HTTP requests, the shell).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TransactionBlock {
    open: bool,
}

impl TransactionBlock {
    /// No block open.
    pub const fn new() -> TransactionBlock {
        TransactionBlock { open: false }
    }

    /// A block open or not, as a session's statements left it.
    pub const fn starting(open: bool) -> TransactionBlock {
        TransactionBlock { open }
    }

    /// Checks `stmt` and follows BEGIN, COMMIT and ROLLBACK. When this
    /// returns `Ok`, `stmt` may run; a refused statement leaves the block
    /// open, so the statements after it are checked too.
    pub fn check(&mut self, stmt: &Parsed) -> Result<(), QueryError> {
        match stmt.sql() {
            Some(Statement::StartTransaction { .. }) => self.open = true,
            Some(
                Statement::Commit { .. }
                | Statement::Rollback {
                    savepoint: None, ..
                },
            ) => self.open = false,
            _ if self.open => check_in_block(stmt)?,
            _ => {}
        }
        Ok(())
    }

    /// Whether a block is open.
    pub fn is_open(&self) -> bool {
        self.open
    }
}

#[cfg(test)]
mod tests;
