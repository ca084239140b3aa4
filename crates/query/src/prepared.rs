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
//!
//! Prepared statements belong to the session that made them
//! ([`SessionMemory`]), as in PostgreSQL: another session neither sees
//! nor collides with them, and `EXECUTE` checks the privileges of the user
//! running it, when it runs.

use std::collections::hash_map::Entry;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::ParamValues;
use datafusion::common::metadata::ScalarAndMetadata;
use datafusion::execution::SessionState;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::{Execute, Expr, LogicalPlan, Prepare, Statement};
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use floe_common::Status;

use crate::error::QueryError;
use crate::session_memory::SessionMemory;

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

/// A prepared statement: its parameters' types and its plan, unoptimized
/// so that `now()` is read at each `EXECUTE`.
#[derive(Debug)]
pub(crate) struct Kept {
    fields: Vec<FieldRef>,
    plan: LogicalPlan,
}

fn no_such(name: &str) -> QueryError {
    QueryError::InvalidArgument {
        status: Status::InvalidSqlStatementName,
        message: format!("prepared statement \"{name}\" does not exist"),
    }
}

impl SessionMemory {
    /// `PREPARE`: keeps the statement under its name (42P05 if the
    /// session has one of that name already).
    pub(crate) fn prepare(&self, prepare: Prepare) -> Result<(), QueryError> {
        let Prepare {
            name,
            fields,
            input,
        } = prepare;
        if !fields.is_empty() {
            let parameters = input.get_parameter_names()?.len();
            if parameters != fields.len() {
                return Err(QueryError::InvalidArgument {
                    status: Status::SyntaxError,
                    message: format!(
                        "PREPARE \"{name}\" names {} parameter types but its statement has {parameters} parameters",
                        fields.len()
                    ),
                });
            }
        }
        match self.statements().entry(name) {
            Entry::Occupied(e) => Err(QueryError::InvalidArgument {
                status: Status::DuplicatePreparedStatement,
                message: format!("prepared statement \"{}\" already exists", e.key()),
            }),
            Entry::Vacant(e) => {
                e.insert(Arc::new(Kept {
                    fields,
                    plan: Arc::unwrap_or_clone(input),
                }));
                Ok(())
            }
        }
    }

    /// `EXECUTE`: the prepared statement's plan with the values given,
    /// each cast to its parameter's type.
    pub(crate) fn bind(
        &self,
        execute: Execute,
        state: &SessionState,
    ) -> Result<LogicalPlan, QueryError> {
        let Execute { name, parameters } = execute;
        let kept = self
            .statements()
            .get(&name)
            .cloned()
            .ok_or_else(|| no_such(&name))?;
        if parameters.len() != kept.fields.len() {
            return Err(QueryError::InvalidArgument {
                status: Status::SyntaxError,
                message: format!(
                    "wrong number of parameters for prepared statement \"{name}\": it takes {}, {} were given",
                    kept.fields.len(),
                    parameters.len()
                ),
            });
        }
        let context = SimplifyContext::builder()
            .with_schema(Arc::clone(kept.plan.schema()))
            .with_config_options(Arc::clone(state.config_options()))
            .with_query_execution_start_time(state.execution_props().query_execution_start_time)
            .build();
        let simplifier = ExprSimplifier::new(context);
        let values =
            parameters
                .into_iter()
                .zip(&kept.fields)
                .map(|(value, field)| match simplifier.simplify(value)? {
                    Expr::Literal(scalar, metadata) => Ok(ScalarAndMetadata::new(scalar, metadata)
                        .cast_storage_to(field.data_type())?),
                    other => Err(crate::error::unsupported(&format!(
                        "EXECUTE with a parameter that is not a constant ({other})"
                    ))),
                })
                .collect::<Result<Vec<_>, QueryError>>()?;
        Ok(kept
            .plan
            .clone()
            .replace_params_with_values(&ParamValues::List(values))?)
    }

    /// `DEALLOCATE name`, or `DEALLOCATE ALL`.
    pub(crate) fn deallocate(&self, name: &str) -> Result<(), QueryError> {
        let mut kept = self.statements();
        if name.eq_ignore_ascii_case("all") {
            kept.clear();
            return Ok(());
        }
        kept.remove(name).map(|_| ()).ok_or_else(|| no_such(name))
    }
}
