//! Subqueries DataFusion cannot turn into joins, run as a nested loop.
//!
//! DataFusion decorrelates a subquery when its correlation is an equality
//! in a WHERE clause, and runs an uncorrelated scalar subquery once. What
//! it cannot plan, PostgreSQL still runs: a scalar subquery correlated by
//! `<`, or not aggregated, or in GROUP BY or ORDER BY; `IN`, `EXISTS` and
//! `op ANY/ALL` in a SELECT list; a subquery that refers two levels out.
//!
//! Each such subquery becomes a call ([`Apply`]) that takes the outer
//! row's values of the columns the subquery refers to, puts them into the
//! subquery as literals, plans and runs it, and answers as PostgreSQL
//! does: a scalar subquery gives its one value (NULL for no rows, an error
//! for more than one), `EXISTS` whether a row came, and `IN`, `ANY` and
//! `ALL` true, false or NULL by SQL's three-valued rules. Answers are kept
//! per distinct set of outer values, so a subquery runs once per distinct
//! outer value, not once per row.
//!
//! Two steps make the calls:
//! - [`PgSubqueries`], the analyzer's last rule, marks the subqueries
//!   DataFusion would refuse ([`Pending`] calls), before its checks run;
//! - [`FloePlanner`], just before physical planning, turns marks, and the
//!   subqueries DataFusion's optimizer could not remove, into [`Apply`]
//!   calls, which run with the statement's session. A call in a node that
//!   cannot evaluate it in place (an aggregate, a sort) moves into a
//!   projection under that node.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchema, DFSchemaRef, JoinType, Result, not_impl_err};
use datafusion::execution::SessionState;
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::async_udf::AsyncScalarUDF;
use datafusion::logical_expr::expr::{Exists, InSubquery, ScalarFunction, SetComparison};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::logical_plan::check_subquery_expr;
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{
    Expr, Filter, Join, LogicalPlan, Operator, Projection, ScalarUDF, Subquery,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};

mod array;
mod call;

pub(crate) use array::{ArraySubquery, array_subqueries};
use call::{Apply, Call, Pending};

/// Prefix of the columns that carry a moved call's answer to its node.
const LIFTED_PREFIX: &str = "__floe_subquery_";

/// The analyzer's last rule: marks the subqueries DataFusion would refuse
/// (see the module doc) as [`Pending`] calls.
#[derive(Debug, Default)]
pub(crate) struct PgSubqueries;

impl AnalyzerRule for PgSubqueries {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_down_with_subqueries(mark_node)
            .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "pg_subqueries"
    }
}

fn mark_node(node: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    if !node_has(&node, |e| Ok(subquery_of(e).is_some()))? {
        return Ok(Transformed::no(node));
    }
    let node = match node {
        LogicalPlan::Join(join) if join_condition_correlated(&join)? => {
            return filter_join_condition(join).map(Transformed::yes);
        }
        other => other,
    };
    let Some(schema) = single_input_schema(&node) else {
        return Ok(Transformed::no(node));
    };
    let mut marked: Vec<Expr> = Vec::new();
    node.apply_expressions(|expr| {
        expr.apply(|e| {
            if subquery_of(e).is_some() && must_apply(&node, e, schema.as_ref())? {
                marked.push(e.clone());
                return Ok(TreeNodeRecursion::Jump);
            }
            Ok(TreeNodeRecursion::Continue)
        })
    })?;
    if marked.is_empty() {
        return Ok(Transformed::no(node));
    }
    rewrite_exprs(node, |e| {
        if !marked.contains(&e) {
            return Ok(Transformed::no(e));
        }
        let (call, args) = Call::of(e, schema.as_ref())?;
        let udf = ScalarUDF::new_from_impl(Pending(call));
        Ok(Transformed::new(
            Expr::ScalarFunction(ScalarFunction::new_udf(Arc::new(udf), args)),
            true,
            TreeNodeRecursion::Jump,
        ))
    })
}

/// Whether the ON condition of `join` holds a correlated subquery.
fn join_condition_correlated(join: &Join) -> Result<bool> {
    let Some(condition) = &join.filter else {
        return Ok(false);
    };
    condition.exists(|e| match subquery_of(e) {
        Some(subquery) => is_correlated(subquery),
        None => Ok(false),
    })
}

/// An inner join whose ON condition holds a correlated subquery, as the
/// filter over the join it means, whose subqueries are then marked like
/// any filter's; for an outer join the condition cannot move, and the
/// subquery is 0A000.
fn filter_join_condition(mut join: Join) -> Result<LogicalPlan> {
    if join.join_type != JoinType::Inner {
        return outer_join_condition(join.join_type);
    }
    let Some(condition) = join.filter.take() else {
        return Ok(LogicalPlan::Join(join));
    };
    let filter = Filter::try_new(condition, Arc::new(LogicalPlan::Join(join)))?;
    Ok(mark_node(LogicalPlan::Filter(filter))?.data)
}

/// The error for a correlated subquery in the ON condition of an outer
/// join: the condition cannot move above the join.
fn outer_join_condition<T>(join_type: JoinType) -> Result<T> {
    let kind = join_type.to_string().to_uppercase();
    not_impl_err!("a correlated subquery in the ON condition of a {kind} JOIN")
}

/// Whether the subquery expression `expr` in `node` must run as a call:
/// DataFusion would refuse it, or would leave it in the plan, where its
/// optimizer does not see the outer columns it reads (it pushed a filter
/// holding one below a join, onto the other side's columns).
fn must_apply(node: &LogicalPlan, expr: &Expr, schema: &DFSchema) -> Result<bool> {
    let Some(subquery) = subquery_of(expr) else {
        return Ok(false);
    };
    if subquery.subquery.schema().fields().len() != 1 {
        // DataFusion's error ("... should only return one column") stands.
        return Ok(false);
    }
    if array::array_subquery(expr).is_some() {
        // DataFusion has no expression for it: it is always a call.
        return Ok(true);
    }
    if check_subquery_expr(node, &subquery.subquery, expr).is_err() {
        return Ok(true);
    }
    let correlated = is_correlated(subquery)?;
    if matches!(expr, Expr::SetComparison(_)) {
        // DataFusion's rewrite of ANY/ALL renames a projection's column,
        // and leaves a correlated one in the plan.
        return Ok(correlated || matches!(node, LogicalPlan::Projection(_)));
    }
    if !correlated {
        return Ok(false);
    }
    if reaches_beyond(&subquery.subquery, schema)? {
        return Ok(true);
    }
    let decorrelated = match (node, expr) {
        (LogicalPlan::Projection(_) | LogicalPlan::Filter(_), Expr::ScalarSubquery(_)) => {
            correlated_in_filters(&subquery.subquery, true)?
        }
        (LogicalPlan::Filter(filter), Expr::Exists(_) | Expr::InSubquery(_)) => {
            split_conjunction(&filter.predicate).contains(&expr)
                && correlated_in_filters(&subquery.subquery, false)?
        }
        _ => false,
    };
    Ok(!decorrelated)
}

/// Whether `plan` (a subquery) refers to outer columns only in the
/// conjuncts of its filters, and with `equal`, only as `inner = outer`:
/// what DataFusion turns into a join.
fn correlated_in_filters(plan: &LogicalPlan, equal: bool) -> Result<bool> {
    let refers = |e: &Expr| e.exists(|x| Ok(matches!(x, Expr::OuterReferenceColumn(..))));
    let mut joinable = true;
    plan.apply(|node| {
        for expr in node.expressions() {
            if !refers(&expr)? {
                continue;
            }
            let LogicalPlan::Filter(_) = node else {
                joinable = false;
                break;
            };
            for conjunct in split_conjunction(&expr) {
                if !equal || !refers(conjunct)? {
                    continue;
                }
                joinable &= match conjunct {
                    Expr::BinaryExpr(b) if b.op == Operator::Eq => {
                        let (l, r) = (refers(&b.left)?, refers(&b.right)?);
                        let inner = |e: &Expr| !e.column_refs().is_empty();
                        (l && !r && !inner(&b.left)) || (r && !l && !inner(&b.right))
                    }
                    _ => false,
                };
            }
        }
        Ok(stop_if(!joinable))
    })?;
    Ok(joinable)
}

/// Whether a subquery nested in `plan` refers to a column of `outer`, the
/// input of the node holding `plan`: DataFusion decorrelates one level at
/// a time and loses such a column.
fn reaches_beyond(plan: &LogicalPlan, outer: &DFSchema) -> Result<bool> {
    let refers_out = |n: &LogicalPlan| {
        node_has(n, |x| {
            Ok(matches!(x, Expr::OuterReferenceColumn(_, c) if outer.has_column(c)))
        })
    };
    let mut found = false;
    plan.apply_with_subqueries(|node| {
        found = node_has(node, |e| match subquery_of(e) {
            Some(inner) => inner.subquery.exists(refers_out),
            None => Ok(false),
        })?;
        Ok(stop_if(found))
    })?;
    Ok(found)
}

/// Whether a part of an expression of `node` (not of its subqueries)
/// satisfies `f`.
fn node_has(node: &LogicalPlan, mut f: impl FnMut(&Expr) -> Result<bool>) -> Result<bool> {
    let mut found = false;
    node.apply_expressions(|expr| {
        found = expr.exists(&mut f)?;
        Ok(stop_if(found))
    })?;
    Ok(found)
}

fn stop_if(found: bool) -> TreeNodeRecursion {
    if found {
        TreeNodeRecursion::Stop
    } else {
        TreeNodeRecursion::Continue
    }
}

fn subquery_of(expr: &Expr) -> Option<&Subquery> {
    match expr {
        Expr::ScalarSubquery(sq) => Some(sq),
        Expr::Exists(Exists { subquery, .. })
        | Expr::InSubquery(InSubquery { subquery, .. })
        | Expr::SetComparison(SetComparison { subquery, .. }) => Some(subquery),
        _ => array::array_subquery(expr),
    }
}

/// Whether `subquery` refers to an outer column anywhere in its plan
/// (DataFusion's list of its outer references misses some, such as one
/// under an `unnest` in its FROM clause).
fn is_correlated(subquery: &Subquery) -> Result<bool> {
    Ok(!subquery.outer_ref_columns.is_empty() || refers_outward(&subquery.subquery)?)
}

/// Whether a node of `plan` (not of its subqueries) refers to an outer
/// column.
fn refers_outward(plan: &LogicalPlan) -> Result<bool> {
    plan.exists(|node| node_has(node, |e| Ok(matches!(e, Expr::OuterReferenceColumn(..)))))
}

/// The schema of `node`'s one input, if it has exactly one.
fn single_input_schema(node: &LogicalPlan) -> Option<DFSchemaRef> {
    match node.inputs().as_slice() {
        [input] => Some(Arc::clone(input.schema())),
        _ => None,
    }
}

/// `input` with `extra` columns after its own.
fn with_columns(input: Arc<LogicalPlan>, extra: Vec<Expr>) -> Result<LogicalPlan> {
    let mut exprs: Vec<Expr> = input
        .schema()
        .columns()
        .into_iter()
        .map(Expr::Column)
        .collect();
    exprs.extend(extra);
    Ok(LogicalPlan::Projection(Projection::try_new(exprs, input)?))
}

/// `plan` narrowed to the columns of `schema` (which it has, and more).
fn only(schema: &DFSchemaRef, plan: LogicalPlan) -> Result<LogicalPlan> {
    let keep = schema.columns().into_iter().map(Expr::Column).collect();
    Ok(LogicalPlan::Projection(Projection::try_new(
        keep,
        Arc::new(plan),
    )?))
}

/// `node` with `f` applied top-down to its expressions, their names kept.
fn rewrite_exprs(
    node: LogicalPlan,
    mut f: impl FnMut(Expr) -> Result<Transformed<Expr>>,
) -> Result<Transformed<LogicalPlan>> {
    let preserver = NamePreserver::new(&node);
    let rewritten = node.map_expressions(|expr| {
        let saved = preserver.save(&expr);
        let new = expr.transform_down(&mut f)?;
        Ok(if new.transformed {
            Transformed::yes(saved.restore(new.data))
        } else {
            new
        })
    })?;
    if rewritten.transformed {
        rewritten.data.recompute_schema().map(Transformed::yes)
    } else {
        Ok(rewritten)
    }
}

/// DataFusion's physical planner, after marked subqueries and those its
/// optimizer could not remove became [`Apply`] calls.
#[derive(Debug, Default)]
pub(crate) struct FloePlanner;

#[async_trait]
impl QueryPlanner for FloePlanner {
    async fn create_physical_plan(
        &self,
        plan: &LogicalPlan,
        state: &SessionState,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let planner = DefaultPhysicalPlanner::default();
        if !needs_apply(plan)? {
            return planner.create_physical_plan(plan, state).await;
        }
        let plan = plan
            .clone()
            .transform_up(|node| apply_node(node, state))?
            .data;
        planner.create_physical_plan(&plan, state).await
    }
}

/// Whether `plan` holds a mark, or a subquery the physical planner
/// cannot plan.
fn needs_apply(plan: &LogicalPlan) -> Result<bool> {
    plan.exists(|node| {
        node_has(node, |e| match e {
            Expr::ScalarSubquery(sq) if !is_correlated(sq)? => needs_apply(&sq.subquery),
            Expr::ScalarSubquery(_)
            | Expr::InSubquery(_)
            | Expr::Exists(_)
            | Expr::SetComparison(_) => Ok(true),
            Expr::ScalarFunction(_) => Ok(holds_mark(e)),
            _ => Ok(false),
        })
    })
}

fn apply_node(node: LogicalPlan, state: &SessionState) -> Result<Transformed<LogicalPlan>> {
    let node = match node {
        LogicalPlan::Join(join) if join.on.iter().any(|(l, r)| holds_mark(l) || holds_mark(r)) => {
            return lift_join_keys(join, state).map(Transformed::yes);
        }
        LogicalPlan::Join(mut join) if join.filter.as_ref().is_some_and(holds_mark) => {
            // The optimizer made a filter over a cross join this join's
            // condition; for an inner join it is a filter above it again.
            if join.join_type != JoinType::Inner {
                return outer_join_condition(join.join_type);
            }
            let predicate = join.filter.take().expect("checked above");
            let joined = Arc::new(LogicalPlan::Join(join));
            let filter = LogicalPlan::Filter(Filter::try_new(predicate, joined)?);
            return Ok(Transformed::yes(apply_node(filter, state)?.data));
        }
        other => other,
    };
    let Some(schema) = single_input_schema(&node) else {
        return Ok(Transformed::no(node));
    };
    let rewritten = rewrite_exprs(node, |e| {
        let (call, args) = match e {
            Expr::ScalarFunction(f) => {
                match f
                    .func
                    .inner()
                    .downcast_ref::<Pending>()
                    .map(|p| p.0.clone())
                {
                    Some(call) => (call, f.args),
                    None => return Ok(Transformed::no(Expr::ScalarFunction(f))),
                }
            }
            Expr::ScalarSubquery(sq) if !is_correlated(&sq)? => {
                // DataFusion runs it once; what it holds may need calls.
                let inner = sq
                    .subquery
                    .as_ref()
                    .clone()
                    .transform_up(|n| apply_node(n, state))?;
                return Ok(Transformed::new(
                    Expr::ScalarSubquery(Subquery {
                        subquery: Arc::new(inner.data),
                        ..sq
                    }),
                    inner.transformed,
                    TreeNodeRecursion::Jump,
                ));
            }
            e @ (Expr::ScalarSubquery(_)
            | Expr::InSubquery(_)
            | Expr::Exists(_)
            | Expr::SetComparison(_)) => Call::of(e, schema.as_ref())?,
            other => return Ok(Transformed::no(other)),
        };
        let apply = Apply::new(call, state.clone());
        let udf = AsyncScalarUDF::new(Arc::new(apply)).into_scalar_udf();
        Ok(Transformed::new(
            Expr::ScalarFunction(ScalarFunction::new_udf(Arc::new(udf), args)),
            true,
            TreeNodeRecursion::Jump,
        ))
    })?;
    let node = rewritten.data;
    if !rewritten.transformed || matches!(node, LogicalPlan::Projection(_) | LogicalPlan::Filter(_))
    {
        return Ok(Transformed::new_transformed(node, rewritten.transformed));
    }
    lift(node).map(Transformed::yes)
}

/// `join` with the marked calls among its keys computed by projections
/// under it, so that it joins on their columns.
fn lift_join_keys(mut join: Join, state: &SessionState) -> Result<LogicalPlan> {
    let wanted = join.schema.clone();
    let (mut left, mut right) = (Vec::new(), Vec::new());
    let mut lifted_keys = 0;
    for (l, r) in join.on.iter_mut() {
        for (key, lifted) in [(l, &mut left), (r, &mut right)] {
            if holds_mark(key) {
                // One count over both sides: the join's output has both.
                let name = format!("{LIFTED_PREFIX}key_{lifted_keys}");
                lifted_keys += 1;
                let call = std::mem::replace(key, Expr::Column(Column::from_name(name.clone())));
                lifted.push(call.alias(name));
            }
        }
    }
    let widen = |input: Arc<LogicalPlan>, lifted: Vec<Expr>| -> Result<Arc<LogicalPlan>> {
        if lifted.is_empty() {
            return Ok(input);
        }
        let projection = with_columns(input, lifted)?;
        Ok(Arc::new(apply_node(projection, state)?.data))
    };
    let new = LogicalPlan::Join(Join::try_new(
        widen(join.left, left)?,
        widen(join.right, right)?,
        join.on,
        join.filter,
        join.join_type,
        join.join_constraint,
        join.null_equality,
        join.null_aware,
    )?);
    only(&wanted, apply_node(new, state)?.data)
}

fn holds_mark(expr: &Expr) -> bool {
    expr.exists(|e| {
        Ok(matches!(e, Expr::ScalarFunction(f) if f.func.inner().downcast_ref::<Pending>().is_some()))
    })
    .unwrap_or(false)
}

/// A node other than a projection or filter that holds [`Apply`] calls:
/// the calls move into a projection under it, which the node reads as
/// columns; columns that projection adds to a node passing its input
/// through are projected away above it.
fn lift(node: LogicalPlan) -> Result<LogicalPlan> {
    let input = node.inputs()[0].clone();
    let mut lifted: Vec<Expr> = Vec::new();
    let exprs = node
        .expressions()
        .into_iter()
        .map(|expr| {
            expr.transform_down(|e| {
                if !matches!(&e, Expr::ScalarFunction(f) if f.func.as_async().is_some()) {
                    return Ok(Transformed::no(e));
                }
                let name = format!("{LIFTED_PREFIX}{}", lifted.len());
                lifted.push(e.alias(name.clone()));
                Ok(Transformed::new(
                    Expr::Column(Column::from_name(name)),
                    true,
                    TreeNodeRecursion::Jump,
                ))
            })
            .map(|t| t.data)
        })
        .collect::<Result<Vec<_>>>()?;
    let below = with_columns(Arc::new(input), lifted)?;
    let wanted = node.schema().clone();
    let new = node.with_new_exprs(exprs, vec![below])?;
    if new.schema().fields().len() == wanted.fields().len() {
        return Ok(new);
    }
    only(&wanted, new)
}
