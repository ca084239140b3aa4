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

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arrow::array::{ArrayRef, RecordBatch, new_empty_array};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use async_trait::async_trait;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{
    Column, DFSchema, DataFusionError, JoinType, Result, exec_err, internal_err, not_impl_err,
};
use datafusion::execution::SessionState;
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::async_udf::{AsyncScalarUDF, AsyncScalarUDFImpl};
use datafusion::logical_expr::expr::{
    Exists, InSubquery, ScalarFunction, SetComparison, SetQuantifier,
};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::logical_plan::check_subquery_expr;
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, Filter, Join, LogicalPlan, LogicalPlanBuilder, Operator,
    Projection, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Subquery, TypeSignature,
    Volatility,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::physical_plan::{ExecutionPlan, collect};
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};
use datafusion::scalar::ScalarValue;

#[cfg(test)]
mod tests;

/// Distinct sets of outer values whose answers one call keeps; past this
/// the kept answers are dropped and built again as rows come.
const MAX_KEPT_ANSWERS: usize = 100_000;

/// Rows an `IN`, `ANY` or `ALL` subquery may give for one outer row.
const MAX_SET_ROWS: usize = 10_000_000;

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
    let Some(schema) = single_input_schema(&node) else {
        return Ok(Transformed::no(node));
    };
    let mut marked: Vec<Expr> = Vec::new();
    node.apply_expressions(|expr| {
        expr.apply(|e| {
            if subquery_of(e).is_some() && must_apply(&node, e, &schema)? {
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
        let (call, args) = Call::of(e, &schema)?;
        let udf = ScalarUDF::new_from_impl(Pending(call));
        Ok(Transformed::new(
            Expr::ScalarFunction(ScalarFunction::new_udf(Arc::new(udf), args)),
            true,
            TreeNodeRecursion::Jump,
        ))
    })
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
    if check_subquery_expr(node, &subquery.subquery, expr).is_err() {
        return Ok(true);
    }
    let correlated = !subquery.outer_ref_columns.is_empty();
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
        _ => None,
    }
}

/// The schema of `node`'s one input, if it has exactly one.
fn single_input_schema(node: &LogicalPlan) -> Option<DFSchema> {
    match node.inputs().as_slice() {
        [input] => Some(input.schema().as_ref().clone()),
        _ => None,
    }
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
            Expr::ScalarSubquery(sq) if sq.outer_ref_columns.is_empty() => {
                needs_apply(&sq.subquery)
            }
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
                return not_impl_err!(
                    "a correlated subquery in the ON condition of a {} join",
                    join.join_type
                );
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
            Expr::ScalarSubquery(sq) if sq.outer_ref_columns.is_empty() => {
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
            | Expr::SetComparison(_)) => Call::of(e, &schema)?,
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
    for (l, r) in join.on.iter_mut() {
        for (key, lifted) in [(l, &mut left), (r, &mut right)] {
            if holds_mark(key) {
                let name = format!(
                    "{LIFTED_PREFIX}key_{}",
                    wanted.fields().len() + lifted.len()
                );
                let call = std::mem::replace(key, Expr::Column(Column::from_name(name.clone())));
                lifted.push(call.alias(name));
            }
        }
    }
    let widen = |input: Arc<LogicalPlan>, lifted: Vec<Expr>| -> Result<Arc<LogicalPlan>> {
        if lifted.is_empty() {
            return Ok(input);
        }
        let mut exprs: Vec<Expr> = input
            .schema()
            .columns()
            .into_iter()
            .map(Expr::Column)
            .collect();
        exprs.extend(lifted);
        let projection = LogicalPlan::Projection(Projection::try_new(exprs, input)?);
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
    let new = apply_node(new, state)?.data;
    let keep = wanted.columns().into_iter().map(Expr::Column).collect();
    Ok(LogicalPlan::Projection(Projection::try_new(
        keep,
        Arc::new(new),
    )?))
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
    let mut below: Vec<Expr> = input
        .schema()
        .columns()
        .into_iter()
        .map(Expr::Column)
        .collect();
    below.extend(lifted);
    let below = LogicalPlan::Projection(Projection::try_new(below, Arc::new(input))?);
    let wanted = node.schema().clone();
    let new = node.with_new_exprs(exprs, vec![below])?;
    if new.schema().fields().len() == wanted.fields().len() {
        return Ok(new);
    }
    let keep = wanted.columns().into_iter().map(Expr::Column).collect();
    Ok(LogicalPlan::Projection(Projection::try_new(
        keep,
        Arc::new(new),
    )?))
}

/// What a call computes from its subquery's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    /// The one value, NULL for no rows.
    Scalar,
    /// Whether a row came.
    Exists { negated: bool },
    /// `probe op ANY (rows)`, or `ALL`; `IN` is `= ANY`, `NOT IN` is
    /// `<> ALL`.
    Compare { op: Operator, all: bool },
}

/// A subquery call: what it computes, the subquery, and the outer columns
/// its arguments give values for (after the probe of a comparison).
#[derive(Debug, Clone)]
struct Call {
    id: u64,
    kind: Kind,
    subquery: Arc<LogicalPlan>,
    outer: Vec<Column>,
    signature: Signature,
    return_type: DataType,
}

impl Call {
    /// The call for the subquery expression `expr` in a node whose input
    /// is `schema`, and its arguments.
    fn of(expr: Expr, schema: &DFSchema) -> Result<(Call, Vec<Expr>)> {
        let (kind, subquery, probe) = match expr {
            Expr::ScalarSubquery(sq) => (Kind::Scalar, sq, None),
            Expr::Exists(Exists { subquery, negated }) => {
                (Kind::Exists { negated }, subquery, None)
            }
            Expr::InSubquery(InSubquery {
                expr,
                subquery,
                negated,
            }) => {
                let (op, all) = if negated {
                    (Operator::NotEq, true)
                } else {
                    (Operator::Eq, false)
                };
                (Kind::Compare { op, all }, subquery, Some(*expr))
            }
            Expr::SetComparison(SetComparison {
                expr,
                subquery,
                op,
                quantifier,
            }) => {
                let all = matches!(quantifier, SetQuantifier::All);
                (Kind::Compare { op, all }, subquery, Some(*expr))
            }
            other => return internal_err!("not a subquery: {other}"),
        };
        if let Kind::Compare { op, .. } = kind
            && op.negate().is_none()
        {
            return exec_err!("{op} ANY/ALL (subquery) is not a comparison");
        }
        let outer = outer_columns(&subquery.subquery, schema)?;
        let mut args: Vec<Expr> = probe.into_iter().collect();
        args.extend(outer.iter().cloned().map(Expr::Column));
        let arg_types = args
            .iter()
            .map(|a| a.get_type(schema))
            .collect::<Result<Vec<_>>>()?;
        let Some(first) = subquery.subquery.schema().fields().first().cloned() else {
            return internal_err!("a subquery without columns");
        };
        let return_type = match kind {
            Kind::Scalar => first.data_type().clone(),
            Kind::Exists { .. } | Kind::Compare { .. } => DataType::Boolean,
        };
        let signature = if arg_types.is_empty() {
            Signature::new(TypeSignature::Nullary, Volatility::Volatile)
        } else {
            Signature::exact(arg_types, Volatility::Volatile)
        };
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let call = Call {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            kind,
            subquery: subquery.subquery,
            outer,
            signature,
            return_type,
        };
        Ok((call, args))
    }

    fn name(&self) -> &'static str {
        match self.kind {
            Kind::Scalar => "scalar_subquery",
            Kind::Exists { .. } => "exists_subquery",
            Kind::Compare { .. } => "compare_subquery",
        }
    }
}

/// The columns of `outer` that `plan` refers to, in it or in the
/// subqueries it holds (DataFusion lists only its own level's). A
/// reference of `plan`'s own level to a column not in `outer` cannot be
/// answered here.
fn outer_columns(plan: &LogicalPlan, outer: &DFSchema) -> Result<Vec<Column>> {
    let mut found: Vec<Column> = Vec::new();
    plan.apply_with_subqueries(|node| {
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                if let Expr::OuterReferenceColumn(_, column) = e
                    && outer.has_column(column)
                    && !found.contains(column)
                {
                    found.push(column.clone());
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    })?;
    let mut missing: Option<Column> = None;
    plan.apply(|node| {
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                if let Expr::OuterReferenceColumn(_, column) = e
                    && !outer.has_column(column)
                {
                    missing.get_or_insert_with(|| column.clone());
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    })?;
    if let Some(column) = missing {
        return Err(DataFusionError::NotImplemented(format!(
            "a subquery here refers to the outer column {column}, which this part of the \
             query does not carry (a correlated subquery in ORDER BY must use columns of the \
             SELECT list)"
        )));
    }
    Ok(found)
}

/// A subquery marked for a call; [`FloePlanner`] makes it an [`Apply`].
#[derive(Debug)]
struct Pending(Call);

/// One subquery, run per distinct set of outer values (see the module doc).
struct Apply {
    call: Call,
    state: SessionState,
    answers: Mutex<HashMap<Vec<ScalarValue>, Answer>>,
}

macro_rules! by_call_id {
    ($t:ty, $call:ident) => {
        impl PartialEq for $t {
            fn eq(&self, other: &Self) -> bool {
                self.$call().id == other.$call().id
            }
        }
        impl Eq for $t {}
        impl Hash for $t {
            fn hash<H: Hasher>(&self, state: &mut H) {
                self.$call().id.hash(state);
            }
        }
        impl ScalarUDFImpl for $t {
            fn name(&self) -> &str {
                self.$call().name()
            }

            fn signature(&self) -> &Signature {
                &self.$call().signature
            }

            fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
                Ok(self.$call().return_type.clone())
            }

            fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
                internal_err!("a subquery call runs only once planned")
            }
        }
    };
}

impl Pending {
    fn call(&self) -> &Call {
        &self.0
    }
}

by_call_id!(Pending, call);
by_call_id!(Apply, call);

impl std::fmt::Debug for Apply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Apply").field("call", &self.call).finish()
    }
}

/// What one run of the subquery gave.
#[derive(Debug, Clone)]
enum Answer {
    Value(ScalarValue),
    Any(bool),
    Rows(Arc<Rows>),
}

/// The rows of a comparison's subquery, as far as ANY and ALL need them.
#[derive(Debug, Default)]
struct Rows {
    values: HashSet<ScalarValue>,
    has_null: bool,
    min: Option<ScalarValue>,
    max: Option<ScalarValue>,
}

impl Rows {
    fn add(&mut self, value: ScalarValue) {
        if value.is_null() {
            self.has_null = true;
            return;
        }
        if self.min.as_ref().is_none_or(|m| value < *m) {
            self.min = Some(value.clone());
        }
        if self.max.as_ref().is_none_or(|m| value > *m) {
            self.max = Some(value.clone());
        }
        self.values.insert(value);
    }

    fn is_empty(&self) -> bool {
        self.values.is_empty() && !self.has_null
    }
}

/// SQL's `probe op ANY (rows)`: true when a comparison is true; over no
/// rows false; otherwise NULL when the probe or a row is NULL, else false.
fn any(op: Operator, probe: &ScalarValue, rows: &Rows) -> Option<bool> {
    if rows.is_empty() {
        return Some(false);
    }
    if probe.is_null() {
        return None;
    }
    let found = match op {
        Operator::Eq => rows.values.contains(probe),
        Operator::NotEq => rows.values.iter().any(|v| v != probe),
        Operator::Lt => rows.max.as_ref().is_some_and(|m| probe < m),
        Operator::LtEq => rows.max.as_ref().is_some_and(|m| probe <= m),
        Operator::Gt => rows.min.as_ref().is_some_and(|m| probe > m),
        Operator::GtEq => rows.min.as_ref().is_some_and(|m| probe >= m),
        _ => false,
    };
    if found {
        Some(true)
    } else if rows.has_null {
        None
    } else {
        Some(false)
    }
}

/// `probe op ALL (rows)`, which is `NOT (probe negated-op ANY (rows))`.
fn all(op: Operator, probe: &ScalarValue, rows: &Rows) -> Option<bool> {
    let negated = op.negate()?;
    any(negated, probe, rows).map(|b| !b)
}

impl Apply {
    fn new(call: Call, state: SessionState) -> Apply {
        Apply {
            call,
            state,
            answers: Mutex::new(HashMap::new()),
        }
    }

    fn call(&self) -> &Call {
        &self.call
    }

    /// The answer for one set of outer values, run or kept.
    async fn answer(&self, key: Vec<ScalarValue>) -> Result<Answer> {
        if let Some(kept) = self.kept().get(&key) {
            return Ok(kept.clone());
        }
        let batches = self.run(&key).await?;
        let answer = self.read(&batches)?;
        let mut kept = self.kept();
        if kept.len() >= MAX_KEPT_ANSWERS {
            kept.clear();
        }
        kept.insert(key, answer.clone());
        Ok(answer)
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<ScalarValue>, Answer>> {
        self.answers.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn run(&self, key: &[ScalarValue]) -> Result<Vec<RecordBatch>> {
        let plan = substitute(&self.call.subquery, &self.call.outer, key)?;
        let plan = match self.call.kind {
            // One row answers EXISTS; a second row is the scalar's error.
            Kind::Exists { .. } => LogicalPlanBuilder::from(plan).limit(0, Some(1))?.build()?,
            Kind::Scalar => LogicalPlanBuilder::from(plan).limit(0, Some(2))?.build()?,
            Kind::Compare { .. } => plan,
        };
        // The subquery was analyzed with its statement; analyzing it again
        // would coerce its types twice. Only the marks it now needs (its
        // own subqueries, seen with values in place) are made.
        let plan = PgSubqueries.analyze(plan, self.state.config_options())?;
        let plan = self
            .state
            .optimizer()
            .optimize(plan, &self.state, |_, _| {})?;
        let physical = self
            .state
            .query_planner()
            .create_physical_plan(&plan, &self.state)
            .await?;
        collect(physical, self.state.task_ctx()).await
    }

    fn read(&self, batches: &[RecordBatch]) -> Result<Answer> {
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        match self.call.kind {
            Kind::Exists { .. } => Ok(Answer::Any(rows > 0)),
            Kind::Scalar => match rows {
                0 => Ok(Answer::Value(ScalarValue::try_from(
                    &self.call.return_type,
                )?)),
                1 => match batches.iter().find(|b| b.num_rows() == 1) {
                    Some(b) => Ok(Answer::Value(ScalarValue::try_from_array(b.column(0), 0)?)),
                    None => internal_err!("a subquery row went missing"),
                },
                _ => exec_err!("more than one row returned by a subquery used as an expression"),
            },
            Kind::Compare { .. } => {
                if rows > MAX_SET_ROWS {
                    return Err(DataFusionError::ResourcesExhausted(format!(
                        "a subquery compared in a SELECT list gave {rows} rows for one outer \
                         row, more than the {MAX_SET_ROWS} Floe compares that way; write it as \
                         a join"
                    )));
                }
                let mut set = Rows::default();
                for batch in batches {
                    for row in 0..batch.num_rows() {
                        set.add(ScalarValue::try_from_array(batch.column(0), row)?);
                    }
                }
                Ok(Answer::Rows(Arc::new(set)))
            }
        }
    }

    /// The call's answer for one row, from the subquery's answer.
    fn row_answer(&self, answer: Answer, probe: Option<ScalarValue>) -> Result<ScalarValue> {
        Ok(match (self.call.kind, answer) {
            (Kind::Scalar, Answer::Value(v)) => v,
            (Kind::Exists { negated }, Answer::Any(found)) => {
                ScalarValue::Boolean(Some(found != negated))
            }
            (
                Kind::Compare {
                    op,
                    all: quantified_all,
                },
                Answer::Rows(rows),
            ) => {
                let probe = probe.unwrap_or(ScalarValue::Null);
                ScalarValue::Boolean(if quantified_all {
                    all(op, &probe, &rows)
                } else {
                    any(op, &probe, &rows)
                })
            }
            _ => return internal_err!("a subquery answer of the wrong kind"),
        })
    }
}

#[async_trait]
impl AsyncScalarUDFImpl for Apply {
    async fn invoke_async_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let mut arrays = args
            .args
            .into_iter()
            .map(|a| a.into_array(rows))
            .collect::<Result<Vec<ArrayRef>>>()?;
        let probe = match self.call.kind {
            Kind::Compare { .. } if !arrays.is_empty() => {
                let probe = arrays.remove(0);
                let wanted = self.call.subquery.schema().field(0).data_type().clone();
                Some(cast(&probe, &wanted)?)
            }
            _ => None,
        };
        let mut out = Vec::with_capacity(rows);
        for row in 0..rows {
            let key = arrays
                .iter()
                .map(|a| ScalarValue::try_from_array(a, row))
                .collect::<Result<Vec<_>>>()?;
            let answer = self.answer(key).await?;
            let probe = probe
                .as_ref()
                .map(|p| ScalarValue::try_from_array(p, row))
                .transpose()?;
            out.push(self.row_answer(answer, probe)?);
        }
        let wanted = &self.call.return_type;
        if out.is_empty() {
            return Ok(ColumnarValue::Array(new_empty_array(wanted)));
        }
        let array = ScalarValue::iter_to_array(out)?;
        Ok(ColumnarValue::Array(if array.data_type() == wanted {
            array
        } else {
            cast(&array, wanted)?
        }))
    }
}

/// `plan` with the outer columns `outer` replaced by the values `key`,
/// in it and in the subqueries it holds.
fn substitute(plan: &LogicalPlan, outer: &[Column], key: &[ScalarValue]) -> Result<LogicalPlan> {
    let value = |column: &Column| {
        outer
            .iter()
            .position(|c| c == column)
            .map(|i| key[i].clone())
    };
    plan.clone()
        .transform_up_with_subqueries(|node| {
            rewrite_exprs(node, |e| {
                Ok(match e {
                    Expr::OuterReferenceColumn(_, ref column) => match value(column) {
                        Some(v) => Transformed::yes(Expr::Literal(v, None)),
                        None => Transformed::no(e),
                    },
                    Expr::ScalarSubquery(sq) => {
                        Transformed::no(Expr::ScalarSubquery(still_outer(sq, outer)))
                    }
                    Expr::Exists(Exists { subquery, negated }) => {
                        Transformed::no(Expr::Exists(Exists {
                            subquery: still_outer(subquery, outer),
                            negated,
                        }))
                    }
                    Expr::InSubquery(InSubquery {
                        expr,
                        subquery,
                        negated,
                    }) => Transformed::no(Expr::InSubquery(InSubquery {
                        expr,
                        subquery: still_outer(subquery, outer),
                        negated,
                    })),
                    Expr::SetComparison(SetComparison {
                        expr,
                        subquery,
                        op,
                        quantifier,
                    }) => Transformed::no(Expr::SetComparison(SetComparison {
                        expr,
                        subquery: still_outer(subquery, outer),
                        op,
                        quantifier,
                    })),
                    other => Transformed::no(other),
                })
            })
        })
        .map(|t| t.data)
}

/// `subquery` no longer listing the outer columns now given as values.
fn still_outer(mut subquery: Subquery, given: &[Column]) -> Subquery {
    subquery.outer_ref_columns.retain(|e| match e {
        Expr::OuterReferenceColumn(_, column) => !given.contains(column),
        _ => true,
    });
    subquery
}
