//! Column defaults: the value a column takes when an INSERT leaves it out
//! or writes `DEFAULT` for it, and what `UPDATE ... SET c = DEFAULT` sets.
//!
//! A default is kept as SQL text in the table's Iceberg properties, under
//! `floe.default.<field id>` (so a renamed column keeps it; an empty value
//! means the default was dropped). It is checked when it is declared
//! ([`check`]) and planned again by every statement that writes the table,
//! so `now()` is the time of each INSERT. Rows written by HTTP ingestion
//! and replication carry their own values and take no defaults.

use std::collections::HashMap;

use arrow::compute::can_cast_types;
use arrow::datatypes::DataType as ArrowType;
use datafusion::common::Column;
use datafusion::common::tree_node::TreeNode;
use datafusion::logical_expr::{Expr as DfExpr, LogicalPlan, LogicalPlanBuilder, cast};
use datafusion::sql::sqlparser::ast::{
    ColumnDef, ColumnOption, CreateTable, Expr, Ident, Insert, ObjectName, SelectItem, SetExpr,
    Statement, TableObject, Value,
};
use floe_common::{HasStatus, Status};
use floe_storage::iceberg::arrow::schema_to_arrow_schema;
use floe_storage::{Store, TableDefinition, TableHandle};

use crate::engine::Engine;
use crate::error::QueryError;

const PROPERTY_PREFIX: &str = "floe.default.";

/// The table property that holds the default of the field `field_id`.
pub(crate) fn property(field_id: i32) -> String {
    format!("{PROPERTY_PREFIX}{field_id}")
}

/// Whether `key` is a table property that holds a column default.
pub(crate) fn is_property(key: &str) -> bool {
    key.starts_with(PROPERTY_PREFIX)
}

/// The SQL text of each column's default, by column name.
pub(crate) fn stored(handle: &TableHandle) -> HashMap<String, String> {
    let table = handle.table();
    let metadata = table.metadata();
    let schema = metadata.current_schema();
    metadata
        .properties()
        .iter()
        .filter(|(_, text)| !text.is_empty())
        .filter_map(|(key, text)| {
            let id = key.strip_prefix(PROPERTY_PREFIX)?.parse::<i32>().ok()?;
            let field = schema.field_by_id(id)?;
            Some((field.name.clone(), text.clone()))
        })
        .collect()
}

/// The default a column definition declares, if any.
pub(crate) fn declared(column: &ColumnDef) -> Option<&Expr> {
    column.options.iter().find_map(|o| match &o.option {
        ColumnOption::Default(expr) => Some(expr),
        _ => None,
    })
}

/// Checks the defaults a CREATE TABLE declares ([`check`]) and keeps
/// them in the properties of `definition`, the table it describes.
pub(crate) async fn declare(
    engine: &Engine,
    ct: &CreateTable,
    definition: &mut TableDefinition,
) -> Result<(), QueryError> {
    if !ct.columns.iter().any(|c| declared(c).is_some()) {
        return Ok(());
    }
    let schema = schema_to_arrow_schema(&definition.schema).map_err(|e| {
        QueryError::Storage(floe_storage::StorageError::InvalidDefinition {
            table: ct.name.to_string(),
            reason: e.message().to_string(),
        })
    })?;
    let schema = crate::uuid::logical_schema(&std::sync::Arc::new(schema));
    for column in &ct.columns {
        let Some(default) = declared(column) else {
            continue;
        };
        let name = crate::names::ident(&column.name);
        let field = schema.field_with_name(&name)?;
        let text = check(engine, &name, field.data_type(), default).await?;
        let id =
            definition
                .schema
                .field_id_by_name(&name)
                .ok_or_else(|| QueryError::NoSuchColumn {
                    table: ct.name.to_string(),
                    column: name.clone(),
                })?;
        definition.properties.insert(property(id), text);
    }
    Ok(())
}

/// Checks that `default` may be the default of `column`, of type `ty` as
/// SQL sees it, as PostgreSQL does when the default is declared, and
/// returns the text to keep: no column reference, subquery, aggregate or
/// window function; a value the column's type can be cast from; and a
/// quoted literal that reads as the column's type (PostgreSQL reads it at
/// once; other values are computed, and may fail, on INSERT).
pub(crate) async fn check(
    engine: &Engine,
    column: &str,
    ty: &ArrowType,
    default: &Expr,
) -> Result<String, QueryError> {
    let refused = |status, message: String| QueryError::InvalidArgument {
        status,
        message: format!("{message} (the default of column \"{column}\")"),
    };
    if has_subquery(default) {
        return Err(refused(
            Status::FeatureNotSupported,
            "cannot use subquery in DEFAULT expression".into(),
        ));
    }
    let text = default.to_string();
    let plan = match engine.plan(select_of(&text)?).await {
        Err(e) if e.status() == Status::UndefinedColumn => {
            return Err(refused(
                Status::FeatureNotSupported,
                "cannot use column reference in DEFAULT expression".into(),
            ));
        }
        other => other?,
    };
    if aggregates(&plan) {
        return Err(refused(
            Status::GroupingError,
            "aggregate functions are not allowed in DEFAULT expressions".into(),
        ));
    }
    let (qualifier, field) = plan.schema().qualified_field(0);
    if !can_cast_types(field.data_type(), ty) {
        return Err(refused(
            Status::DatatypeMismatch,
            format!(
                "column \"{column}\" is of type {ty} but default expression is of type {}",
                field.data_type()
            ),
        ));
    }
    if is_quoted_literal(default) {
        let value = DfExpr::Column(Column::new(qualifier.cloned(), field.name()));
        let probe = LogicalPlanBuilder::from(plan)
            .project(vec![cast(value, ty.clone())])?
            .build()?;
        engine.execute_plan(probe).await?.collect().await?;
    }
    Ok(text)
}

/// Whether `expr` reads a subquery.
fn has_subquery(expr: &Expr) -> bool {
    use std::ops::ControlFlow;
    datafusion::sql::sqlparser::ast::visit_expressions(expr, |e| {
        if matches!(
            e,
            Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. }
        ) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .is_break()
}

/// Whether a plan aggregates or computes a window.
fn aggregates(plan: &LogicalPlan) -> bool {
    plan.exists(|node| {
        Ok(matches!(
            node,
            LogicalPlan::Aggregate(_) | LogicalPlan::Window(_)
        ))
    })
    .unwrap_or(false)
}

/// Whether `expr` is a quoted literal, cast or not.
fn is_quoted_literal(expr: &Expr) -> bool {
    match expr {
        Expr::Value(v) => matches!(v.value, Value::SingleQuotedString(_)),
        Expr::Cast { expr, .. } | Expr::Nested(expr) => is_quoted_literal(expr),
        _ => false,
    }
}

/// `SELECT (<text>)`: the statement that plans a stored default.
pub(crate) fn select_of(text: &str) -> Result<Statement, QueryError> {
    crate::syntax::sql_statement(&format!("SELECT ({text})"))
}

/// The expression a planned `SELECT (<default>)` computes.
pub(crate) fn planned_expression(plan: &LogicalPlan) -> Result<DfExpr, QueryError> {
    match plan {
        LogicalPlan::Projection(p) if p.expr.len() == 1 => {
            Ok(p.expr[0].clone().unalias_nested().data)
        }
        _ => Err(QueryError::InvalidArgument {
            status: Status::Internal,
            message: "a column default did not plan as one expression".into(),
        }),
    }
}

/// The SQL expression of a stored default.
fn parsed(text: &str) -> Result<Expr, QueryError> {
    match select_of(text)? {
        Statement::Query(q) => match *q.body {
            SetExpr::Select(s) => match s.projection.into_iter().next() {
                Some(SelectItem::UnnamedExpr(e)) => Ok(e),
                _ => Err(unreadable(text)),
            },
            _ => Err(unreadable(text)),
        },
        _ => Err(unreadable(text)),
    }
}

fn unreadable(text: &str) -> QueryError {
    QueryError::InvalidArgument {
        status: Status::Internal,
        message: format!("a stored column default does not parse: {text}"),
    }
}

/// Whether `expr` is the keyword `DEFAULT`.
fn is_default_keyword(expr: &Expr) -> bool {
    matches!(expr, Expr::Identifier(Ident { value, quote_style: None, .. })
        if value.eq_ignore_ascii_case("default"))
}

/// The expression `DEFAULT` stands for in a write to `column`: its
/// default, or NULL.
fn default_for(defaults: &HashMap<String, String>, column: &str) -> Result<Expr, QueryError> {
    match defaults.get(column) {
        Some(text) => parsed(text),
        None => Ok(Expr::value(Value::Null)),
    }
}

/// Replaces `SET c = DEFAULT` with `c`'s default.
pub(crate) fn assigned(
    value: Expr,
    defaults: &HashMap<String, String>,
    column: &str,
) -> Result<Expr, QueryError> {
    if is_default_keyword(&value) {
        default_for(defaults, column)
    } else {
        Ok(value)
    }
}

/// [`fill_insert`] for an INSERT into a table of `store`.
pub(crate) fn fill_insert_into(store: &Store, insert: &mut Insert) -> Result<(), QueryError> {
    let TableObject::TableName(name) = &insert.table else {
        return Ok(());
    };
    let (schema, table) = crate::names::table(name)?;
    let Some(handle) = store.table(&schema, &table) else {
        return Ok(());
    };
    let columns: Vec<String> = handle
        .table()
        .metadata()
        .current_schema()
        .as_struct()
        .fields()
        .iter()
        .map(|f| f.name.clone())
        .collect();
    fill_insert(insert, &columns, &stored(&handle))
}

/// Rewrites an INSERT into `columns` (the table's, in order) so DataFusion
/// can plan it: `DEFAULT` in a row of VALUES becomes the column's default,
/// and `DEFAULT VALUES` a row of the first column's default (the others
/// are left out, so they take theirs).
pub(crate) fn fill_insert(
    insert: &mut Insert,
    columns: &[String],
    defaults: &HashMap<String, String>,
) -> Result<(), QueryError> {
    let Some(source) = insert.source.as_mut() else {
        let Some(first) = columns.first() else {
            return Ok(());
        };
        let Statement::Query(mut query) = crate::syntax::sql_statement("VALUES (NULL)")? else {
            return Err(unreadable("VALUES (NULL)"));
        };
        if let SetExpr::Values(values) = query.body.as_mut() {
            values.rows[0].content = vec![default_for(defaults, first)?];
        }
        insert.columns = vec![ObjectName::from(vec![Ident::with_quote('"', first)])];
        insert.source = Some(query);
        return Ok(());
    };
    let targets: Vec<String> = if insert.columns.is_empty() {
        columns.to_vec()
    } else {
        insert
            .columns
            .iter()
            .map(|c| match c.0.as_slice() {
                [part] => part.as_ident().map(crate::names::ident).unwrap_or_default(),
                _ => String::new(),
            })
            .collect()
    };
    if let SetExpr::Values(values) = source.body.as_mut() {
        // Rows shorter than the table fill its first columns; the others
        // take their defaults.
        let width = values.rows.first().map_or(0, |r| r.content.len());
        if insert.columns.is_empty()
            && width < columns.len()
            && values.rows.iter().all(|r| r.content.len() == width)
        {
            insert.columns = columns[..width]
                .iter()
                .map(|c| ObjectName::from(vec![Ident::with_quote('"', c)]))
                .collect();
        }
        for row in &mut values.rows {
            for (item, column) in row.content.iter_mut().zip(&targets) {
                if is_default_keyword(item) {
                    *item = default_for(defaults, column)?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
