//! Identifier rules: unquoted names fold to lower case, as in PostgreSQL,
//! and unqualified table names live in the default schema.

use datafusion::sql::sqlparser::ast::{Ident, ObjectName, ObjectNamePart};
use floe_common::defaults::DEFAULT_SCHEMA;

use crate::error::QueryError;

/// `name` as a double-quoted SQL identifier (quotes inside doubled).
pub fn quoted(name: &str) -> String {
    Ident::with_quote('"', name).to_string()
}

/// The name an identifier refers to.
pub fn ident(ident: &Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_lowercase()
    }
}

/// Splits a (possibly catalog- or schema-qualified) object name into schema and table.
pub fn table(name: &ObjectName) -> Result<(String, String), QueryError> {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) => Ok(ident(i)),
            other => Err(QueryError::Unsupported {
                feature: format!("object name part {other}"),
            }),
        })
        .collect::<Result<_, _>>()?;
    match parts.as_slice() {
        [t] => Ok((DEFAULT_SCHEMA.to_string(), t.clone())),
        [s, t] | [_, s, t] => Ok((s.clone(), t.clone())),
        _ => Err(QueryError::Parse {
            message: format!("improper qualified name (too many dotted names): {name}"),
        }),
    }
}

/// Splits `schema.table` text (as passed to table functions); unqualified
/// names are in the default schema.
pub fn split_qualified(name: &str) -> (String, String) {
    match name.split_once('.') {
        Some((s, t)) => (s.to_lowercase(), t.to_lowercase()),
        None => (DEFAULT_SCHEMA.to_string(), name.to_lowercase()),
    }
}
