//! Which statements a PostgreSQL client sends that Floe must not plan as
//! written: the protocol library's own statements (SET, SHOW, transaction
//! control, cursors), and the catalog queries of psql, drivers and BI
//! tools, which read `pg_catalog` and `information_schema` with
//! PostgreSQL-only syntax.
//!
//! Only these go through the protocol library's compatibility rewrites.
//! Those rewrites change what a query means (one of them replaces a scalar
//! subquery in a SELECT list by NULL, another adds `LIMIT 1` to subqueries),
//! which is acceptable for a client's catalog probe and never for a user's
//! query: every other statement is planned exactly as written.

use std::ops::ControlFlow;

use datafusion_postgres::datafusion_pg_catalog::pg_catalog::PG_CATALOG_TABLES;
use floe_query::datafusion::sql::sqlparser::ast::{
    Expr, ObjectName, Set, Statement, Value, visit_expressions, visit_relations,
};

/// Schemas whose relations only clients' catalog queries read.
const CATALOG_SCHEMAS: &[&str] = &["pg_catalog", "information_schema"];

/// Functions of PostgreSQL's system catalog that only catalog queries call
/// (besides every function named `pg_*`).
const CATALOG_FUNCTIONS: &[&str] = &[
    "col_description",
    "current_database",
    "current_schema",
    "current_schemas",
    "format_type",
    "has_any_column_privilege",
    "has_column_privilege",
    "has_database_privilege",
    "has_function_privilege",
    "has_schema_privilege",
    "has_table_privilege",
    "obj_description",
    "quote_ident",
    "shobj_description",
    "to_regclass",
    "to_regtype",
    "version",
];

/// Type names that only catalog queries cast to.
const CATALOG_TYPES: &[&str] = &[
    "name",
    "oid",
    "regclass",
    "regnamespace",
    "regoper",
    "regproc",
    "regprocedure",
    "regrole",
    "regtype",
];

/// Whether Floe answers this SET, RESET or SHOW itself (the session's time
/// zone and custom settings, the SHOWs Floe answers, the settings it
/// refuses), on both protocols, ahead of the protocol library's hooks.
pub(crate) fn floe_setting(statement: &Statement) -> bool {
    floe_query::answers_show(statement)
        || floe_query::refuses_setting(statement)
        || floe_query::changes_custom_setting(statement)
        || floe_query::zone::zone_statement(statement).is_some()
}

/// Whether `statement` goes through the protocol library (its statement
/// hooks and its compatibility rewrites) rather than straight to Floe.
pub(crate) fn needs_client_compat(statement: &Statement) -> bool {
    if floe_setting(statement) {
        return false;
    }
    match statement {
        Statement::Set(_)
        | Statement::ShowVariable { .. }
        | Statement::ShowStatus { .. }
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback {
            savepoint: None, ..
        }
        | Statement::Declare { .. }
        | Statement::Fetch { .. }
        | Statement::Close { .. } => true,
        _ => is_catalog_query(statement),
    }
}

/// The settings the protocol library keeps from a SET.
const LIBRARY_SETTINGS: &[&str] = &[
    "application_name",
    "bytea_output",
    "datestyle",
    "extra_float_digits",
    "intervalstyle",
    "search_path",
];

/// `SET name = value` for the protocol library, with the value written as
/// one quoted string, as PostgreSQL reads it: the library keeps only a
/// quoted value (`SET extra_float_digits = 3` and `SET application_name =
/// psql2` would keep an empty text or nothing) and only the first item of
/// a list (`SET search_path = a, b`). `None` when the text is not such a
/// SET or needs no rewrite.
pub(crate) fn library_setting_text(sql: &str) -> Option<String> {
    let statements = floe_query::Engine::parse(sql).ok()?;
    let [floe_query::Parsed::Sql(statement)] = statements.as_slice() else {
        return None;
    };
    if !needs_client_compat(statement) {
        return None;
    }
    let Statement::Set(Set::SingleAssignment {
        scope: None,
        hivevar: false,
        variable,
        values,
    }) = statement.as_ref()
    else {
        return None;
    };
    let name = variable.to_string().to_ascii_lowercase();
    if !LIBRARY_SETTINGS.contains(&name.as_str()) {
        return None;
    }
    let quoted =
        |e: &Expr| matches!(e, Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_)));
    if values.is_empty() || (values.len() == 1 && quoted(&values[0])) {
        return None;
    }
    let mut items = Vec::with_capacity(values.len());
    for value in values {
        items.push(match value {
            // `SET x TO DEFAULT` is the library's to answer.
            Expr::Identifier(id) if id.value.eq_ignore_ascii_case("default") => return None,
            Expr::Identifier(id) => id.value.clone(),
            Expr::Value(v) => match &v.value {
                Value::SingleQuotedString(s) => s.clone(),
                Value::Number(n, _) => n.clone(),
                other => other.to_string(),
            },
            other => other.to_string(),
        });
    }
    let value = items.join(", ").replace('\'', "''");
    Some(format!("SET {name} = '{value}'"))
}

/// Whether text Floe's parser refused is a client's catalog query that the
/// protocol library's parser reads (after its token rewrites), so that the
/// library should answer it. Other text gets Floe's own syntax error.
pub(crate) fn library_reads(sql: &str) -> bool {
    use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;
    PostgresCompatibilityParser::new()
        .parse(sql)
        .is_ok_and(|statements| {
            !statements.is_empty() && statements.iter().all(needs_client_compat)
        })
}

/// Whether `statement` reads the system catalog: a relation of
/// `pg_catalog` or `information_schema` (or a `pg_catalog` relation named
/// without its schema), a catalog function, or a cast to a catalog type.
pub(crate) fn is_catalog_query(statement: &Statement) -> bool {
    let relations = visit_relations(statement, |name| {
        if is_catalog_relation(name) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    if relations.is_break() {
        return true;
    }
    visit_expressions(statement, |expr| {
        if is_catalog_expr(expr) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .is_break()
}

fn parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .map(|part| match part.as_ident() {
            Some(ident) => ident.value.to_ascii_lowercase(),
            None => part.to_string().to_ascii_lowercase(),
        })
        .collect()
}

fn is_catalog_relation(name: &ObjectName) -> bool {
    let parts = parts(name);
    match parts.as_slice() {
        [table] => PG_CATALOG_TABLES.contains(&table.as_str()),
        [.., schema, _] => CATALOG_SCHEMAS.contains(&schema.as_str()),
        [] => false,
    }
}

fn is_catalog_expr(expr: &Expr) -> bool {
    match expr {
        Expr::Function(function) => {
            let parts = parts(&function.name);
            let qualified = parts.len() > 1 && parts[parts.len() - 2] == "pg_catalog";
            let last = parts.last().map(String::as_str).unwrap_or_default();
            qualified || last.starts_with("pg_") || CATALOG_FUNCTIONS.contains(&last)
        }
        Expr::Cast { data_type, .. } => {
            let name = data_type.to_string().to_ascii_lowercase();
            let name = name.strip_prefix("pg_catalog.").unwrap_or(&name);
            CATALOG_TYPES.contains(&name)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
