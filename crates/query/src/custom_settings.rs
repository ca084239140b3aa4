//! Custom settings: `SET app.user_id = '42'`, `SHOW app.user_id`,
//! `RESET app.user_id` and `current_setting('app.user_id')`. As in
//! PostgreSQL, a name with a dot in it (other than the engine's own
//! `datafusion.*`) is a placeholder any session may set to any text: the
//! value is the session's alone and lasts until the session ends. Names
//! are case-insensitive. `SHOW` of a name never set is 42704; `RESET`
//! leaves the name set to the empty string, as PostgreSQL does.

use datafusion::sql::sqlparser::ast::{
    ContextModifier, Expr, ObjectName, Reset, ResetStatement, Set, Statement,
};
use floe_common::Status;

use crate::engine::Output;
use crate::error::QueryError;
use crate::session_memory::SessionMemory;

/// The lowercase name `parts` spell if they name a custom setting (a
/// quoted part may hold the dots itself: `"app.user_id"`).
pub(crate) fn custom_name<'a>(parts: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let parts: Vec<String> = parts
        .into_iter()
        .flat_map(|part| part.split('.'))
        .map(str::to_ascii_lowercase)
        .collect();
    (parts.len() >= 2 && parts[0] != "datafusion").then(|| parts.join("."))
}

fn object_name(name: &ObjectName) -> Option<String> {
    custom_name([crate::pg_syntax::setting_name(name).as_str()])
}

/// Whether `stmt` sets or resets a custom setting (Floe answers it, not
/// a client library).
pub fn changes_custom_setting(stmt: &Statement) -> bool {
    match stmt {
        Statement::Set(Set::SingleAssignment {
            hivevar: false,
            variable,
            ..
        })
        | Statement::Reset(ResetStatement {
            reset: Reset::ConfigurationParameter(variable),
        }) => object_name(variable).is_some(),
        _ => false,
    }
}

/// Runs `stmt` if it sets or resets a custom setting.
pub(crate) fn execute(
    memory: &SessionMemory,
    stmt: &Statement,
) -> Option<Result<Output, QueryError>> {
    match stmt {
        Statement::Set(Set::SingleAssignment {
            scope,
            hivevar: false,
            variable,
            values,
        }) => {
            let name = object_name(variable)?;
            Some(set(
                memory,
                name,
                matches!(scope, Some(ContextModifier::Local)),
                values,
            ))
        }
        Statement::Reset(ResetStatement {
            reset: Reset::ConfigurationParameter(variable),
        }) => {
            let name = object_name(variable)?;
            memory.settings().insert(name, String::new());
            Some(Ok(Output::command("RESET")))
        }
        _ => None,
    }
}

fn set(
    memory: &SessionMemory,
    name: String,
    local: bool,
    values: &[Expr],
) -> Result<Output, QueryError> {
    if local {
        return Err(crate::error::unsupported(&format!(
            "SET LOCAL {name} (Floe's transaction blocks do not scope settings; use SET)"
        )));
    }
    let [value] = values else {
        return Err(QueryError::InvalidArgument {
            status: Status::InvalidParameterValue,
            message: format!("SET {name} takes only one argument"),
        });
    };
    let text = match value {
        Expr::Identifier(id)
            if id.quote_style.is_none() && id.value.eq_ignore_ascii_case("default") =>
        {
            String::new()
        }
        other => crate::pg_syntax::setting_text(other),
    };
    memory.settings().insert(name, text);
    Ok(Output::command("SET"))
}

#[cfg(test)]
mod tests;
