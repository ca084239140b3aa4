//! The walk every Floe analyzer and optimizer rule shares: each expression
//! of each plan node (subqueries included) is offered to a rewrite, bottom
//! up, with the schema its columns resolve in, and every rewritten
//! expression keeps the output name it had; a rewritten node's schema
//! follows its expressions' types.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::{Cast, TryCast};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{Expr, LogicalPlan};

/// `plan` with every expression `rewrite` answers `Some` for replaced by
/// that answer. `rewrite` sees each expression after its children were
/// offered.
pub(crate) fn rewrite_expressions(
    plan: LogicalPlan,
    rewrite: &impl Fn(&Expr, &DFSchema) -> Result<Option<Expr>>,
) -> Result<Transformed<LogicalPlan>> {
    plan.transform_up_with_subqueries(|node| rewrite_node(node, rewrite))
}

/// The schema a plan node's expressions resolve in: its inputs', or the
/// scanned table's for a scan.
pub(crate) fn input_schema(plan: &LogicalPlan) -> Result<DFSchema> {
    let mut schema = merge_schema(&plan.inputs());
    if let LogicalPlan::TableScan(scan) = plan {
        schema.merge(&DFSchema::try_from_qualified_schema(
            scan.table_name.clone(),
            &scan.source.schema(),
        )?);
    }
    Ok(schema)
}

/// One plan node with its expressions rewritten as [`rewrite_expressions`]
/// does (its inputs and subqueries are left alone).
pub(crate) fn rewrite_node(
    plan: LogicalPlan,
    rewrite: &impl Fn(&Expr, &DFSchema) -> Result<Option<Expr>>,
) -> Result<Transformed<LogicalPlan>> {
    let schema = input_schema(&plan)?;
    let names = NamePreserver::new(&plan);
    let rewritten = plan.map_expressions(|expr| {
        let name = names.save(&expr);
        expr.transform_up(|e| {
            Ok(match rewrite(&e, &schema)? {
                Some(new) => Transformed::yes(new),
                None => Transformed::no(e),
            })
        })
        .map(|t| t.update_data(|e| name.restore(e)))
    })?;
    // A rewrite may change an expression's type (a date plus an interval
    // becomes a timestamp), here or in an input: the node's schema
    // follows.
    rewritten.map_data(|plan| plan.recompute_schema())
}

/// `plan` with every cast and try-cast replaced where `replace` answers
/// `Some`; it sees the operand, the cast's target type and the schema the
/// operand resolves in.
pub(crate) fn rewrite_casts(
    plan: LogicalPlan,
    replace: &impl Fn(&Expr, &DataType, &DFSchema) -> Option<Expr>,
) -> Result<LogicalPlan> {
    let rewritten = rewrite_expressions(plan, &|e, schema| {
        Ok(match e {
            Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) => {
                replace(expr, field.data_type(), schema)
            }
            _ => None,
        })
    })?;
    Ok(rewritten.data)
}

/// `plan` with the operand of every cast and try-cast replaced where
/// `operand` answers `Some`; it sees the operand, the cast's target type
/// and the schema the operand resolves in. The cast itself stays.
pub(crate) fn rewrite_cast_operands(
    plan: LogicalPlan,
    operand: &impl Fn(&Expr, &DataType, &DFSchema) -> Option<Expr>,
) -> Result<LogicalPlan> {
    let rewritten = rewrite_expressions(plan, &|e, schema| {
        Ok(match e {
            Expr::Cast(Cast { expr, field }) => operand(expr, field.data_type(), schema)
                .map(|r| Expr::Cast(Cast::new_from_field(Box::new(r), field.clone()))),
            Expr::TryCast(TryCast { expr, field }) => operand(expr, field.data_type(), schema)
                .map(|r| Expr::TryCast(TryCast::new_from_field(Box::new(r), field.clone()))),
            _ => None,
        })
    })?;
    Ok(rewritten.data)
}
