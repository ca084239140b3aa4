//! Statements as PostgreSQL means them, where DataFusion's planner would
//! read the same syntax differently: literal forms drivers send, the
//! column name of a set-returning function in FROM, and the
//! `server_version` settings Floe answers itself. Every statement Floe
//! plans passes through [`rewrite`] first.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::Statement;

use crate::engine::Engine;
use crate::error::QueryError;

/// Rewrites `stmt` to PostgreSQL's meaning (see the module's doc).
pub(crate) fn rewrite(stmt: &mut Statement) -> Result<(), QueryError> {
    pg_literals(stmt)?;
    name_function_columns(stmt);
    Ok(())
}

/// Rewrites PostgreSQL literal forms drivers send that DataFusion reads
/// differently:
/// - `'\x0aff'::bytea` (the hex form of a bytea literal) becomes a binary
///   literal; DataFusion would otherwise cast the text's own bytes;
/// - numeric literals with an exponent (`1e300`) become double precision;
///   others are decimals, as in PostgreSQL;
/// - `::uuid` casts become casts to text, the type uuid columns have in SQL
///   (values are checked as uuids when they are written).
fn pg_literals(stmt: &mut Statement) -> Result<(), QueryError> {
    use datafusion::sql::sqlparser::ast::{
        DataType as SqlType, Expr, Value, visit_expressions_mut,
    };
    let outcome = visit_expressions_mut(stmt, |expr| {
        if let Expr::Value(v) = expr
            && let Value::Number(text, _) = &v.value
            && text.contains(['e', 'E'])
        {
            // Numeric literals are decimals, but one with an exponent may
            // not fit a decimal: it is a double precision value.
            *expr = Expr::Cast {
                kind: datafusion::sql::sqlparser::ast::CastKind::Cast,
                expr: Box::new(Expr::Value(Value::SingleQuotedString(text.clone()).into())),
                data_type: SqlType::DoublePrecision,
                array: false,
                format: None,
            };
            return std::ops::ControlFlow::Continue(());
        }
        if let Expr::Cast {
            data_type, expr, ..
        } = expr
            && *data_type == SqlType::Uuid
        {
            *data_type = SqlType::Text;
            if let Expr::Value(v) = expr.as_mut()
                && let Value::SingleQuotedString(text) = &mut v.value
            {
                match uuid::Uuid::parse_str(text.trim()) {
                    Ok(u) => *text = u.hyphenated().to_string(),
                    Err(_) => {
                        return std::ops::ControlFlow::Break(QueryError::InvalidLiteral {
                            ty: "uuid",
                            value: text.clone(),
                        });
                    }
                }
            }
        }
        if let Expr::Cast {
            data_type: SqlType::Bytea,
            expr: inner,
            ..
        } = expr
            && let Expr::Value(v) = inner.as_ref()
            && let Value::SingleQuotedString(text) | Value::EscapedStringLiteral(text) = &v.value
            && let Some(hex) = text.strip_prefix("\\x")
            && hex.len() % 2 == 0
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
        {
            *expr = Expr::Value(Value::HexStringLiteral(hex.to_string()).into());
        }
        std::ops::ControlFlow::Continue(())
    });
    match outcome {
        std::ops::ControlFlow::Break(e) => Err(e),
        std::ops::ControlFlow::Continue(()) => Ok(()),
    }
}

/// Names the one column of a set-returning function in FROM after the
/// function's alias, as PostgreSQL does: `FROM generate_series(1, 3) g`
/// has a column `g` (DataFusion's is `value`).
fn name_function_columns(stmt: &mut Statement) {
    use datafusion::sql::sqlparser::ast::{TableAliasColumnDef, TableFactor, VisitMut, VisitorMut};
    struct Aliases;
    impl VisitorMut for Aliases {
        type Break = ();
        fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
            if let TableFactor::Table {
                name,
                args: Some(_),
                alias: Some(alias),
                with_ordinality: false,
                ..
            } = factor
                && alias.columns.is_empty()
                && let [function] = name.0.as_slice()
                && let Some(function) = function.as_ident()
                && ["generate_series", "range"]
                    .contains(&function.value.to_ascii_lowercase().as_str())
            {
                alias.columns.push(TableAliasColumnDef {
                    name: alias.name.clone(),
                    data_type: None,
                });
            }
            ControlFlow::Continue(())
        }
    }
    let _ = stmt.visit(&mut Aliases);
}

/// Whether `stmt` is `SHOW server_version` or `SHOW server_version_num`,
/// which Floe answers itself (as PostgreSQL 15: see
/// [`floe_common::defaults::server_version`]).
pub fn shows_server_version(stmt: &Statement) -> bool {
    server_version_query(stmt).is_some()
}

/// The query that answers `SHOW server_version` or
/// `SHOW server_version_num`.
pub(crate) fn server_version_query(stmt: &Statement) -> Option<Statement> {
    let Statement::ShowVariable { variable } = stmt else {
        return None;
    };
    let [name] = variable.as_slice() else {
        return None;
    };
    let name = name.value.to_ascii_lowercase();
    let value = match name.as_str() {
        "server_version" => floe_common::defaults::server_version(),
        "server_version_num" => floe_common::defaults::PG_VERSION_NUM.to_string(),
        _ => return None,
    };
    Engine::parse(&format!("SELECT '{value}' AS {name}"))
        .ok()?
        .pop()
}
