//! SQL `PREPARE`: the types of its parameters, as PostgreSQL gives them.
//!
//! A `PREPARE` may name fewer types than its statement has parameters, or
//! none: PostgreSQL takes each missing type from the parameter's context
//! (`1 + $2` makes `$2` an integer), and a parameter no context types
//! (`SELECT $1`, `VALUES ($1)`) is `text`. Floe completes the list the same
//! way before the engine keeps the statement, so `EXECUTE` casts each value
//! to its parameter's type: `EXECUTE p(1)` of `PREPARE p AS SELECT $1`
//! answers the text `'1'`, as PostgreSQL does. More types than parameters
//! are refused (42601), where PostgreSQL allows them.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::logical_expr::{LogicalPlan, Prepare, Statement};

use crate::error::QueryError;

/// How many parameter types a `PREPARE` names (None: not a PREPARE).
pub(crate) fn given_types(stmt: &datafusion::sql::sqlparser::ast::Statement) -> Option<usize> {
    match stmt {
        datafusion::sql::sqlparser::ast::Statement::Prepare { data_types, .. } => {
            Some(data_types.len())
        }
        _ => None,
    }
}

/// `plan` with the complete parameter list if it is a `PREPARE` that
/// named `given` types (the engine fills the list with the types it
/// inferred when none is named, leaving out the parameters it could not
/// type, so only the first `given` are the statement's).
pub(crate) fn complete(plan: LogicalPlan, given: Option<usize>) -> Result<LogicalPlan, QueryError> {
    let (LogicalPlan::Statement(Statement::Prepare(prepare)), Some(given)) = (&plan, given) else {
        return Ok(plan);
    };
    let inferred = prepare.input.get_parameter_fields()?;
    // Parameters are `$1`, `$2`, ...: the list runs to the highest.
    let count = inferred
        .keys()
        .filter_map(|id| id.strip_prefix('$')?.parse::<usize>().ok())
        .max()
        .unwrap_or(0);
    if given >= count {
        // Complete already, or more types than parameters, which the engine
        // refuses (PostgreSQL allows it).
        return Ok(plan);
    }
    let fields: Vec<FieldRef> = (1..=count)
        .map(|i| match prepare.fields.get(i - 1).filter(|_| i <= given) {
            Some(named) => named.clone(),
            None => match inferred.get(&format!("${i}")).cloned().flatten() {
                Some(field) if !field.data_type().is_null() => field,
                _ => Arc::new(Field::new(format!("${i}"), DataType::Utf8, true)),
            },
        })
        .collect();
    Ok(LogicalPlan::Statement(Statement::Prepare(Prepare {
        name: prepare.name.clone(),
        fields,
        input: prepare.input.clone(),
    })))
}
