//! Intervals compared, sorted and grouped as PostgreSQL does it.
//!
//! PostgreSQL compares two intervals by their length, with a month taken
//! as 30 days and a day as 24 hours: `interval '1 month' = interval '30
//! days'` is true, `interval '1 month' < interval '31 days'` is true, and
//! GROUP BY and DISTINCT put `1 mon` and `30 days` in one group. Arrow
//! compares the months, days and nanoseconds of an interval one field
//! after the other, so DataFusion would answer false, false and two groups.
//!
//! [`PgIntervalOrder`] makes every comparison of intervals compare their
//! lengths (`pg_interval_cmp_key`, a numeric of nanoseconds):
//!
//! - comparison operators, BETWEEN, IN lists, `CASE x WHEN`, `IN
//!   (subquery)` and `op ANY/ALL (subquery)`;
//! - ORDER BY, window PARTITION BY and ORDER BY, an aggregate's ORDER BY,
//!   DISTINCT ON and join keys (INTERSECT and EXCEPT among them);
//! - `min` and `max` ([`crate::interval_extremes`]), and
//!   `count(DISTINCT ...)`;
//! - GROUP BY, DISTINCT and UNION: the rows group by length, and each
//!   group shows one of its intervals, as PostgreSQL shows the first one
//!   it met. As an optimizer rule too, for the groupings the optimizer
//!   makes (DISTINCT and UNION become them there).
//!
//! What would still compare field by field is refused with 0A000 rather
//! than answered differently: grouping sets over intervals, `min`/`max`
//! of intervals over a window, other DISTINCT aggregates of intervals,
//! RANGE frames ordered by an interval, comparison functions
//! (`greatest`, `nullif`, the array functions) over intervals, and
//! comparisons of arrays or records that hold intervals.

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, DFSchema, Result, not_impl_err};
use datafusion::functions_aggregate::first_last::first_value_udaf;
use datafusion::logical_expr::expr::{
    AggregateFunction, BinaryExpr, Case, InList, InSubquery, ScalarFunction, SetComparison, Sort,
    WindowFunction, WindowFunctionDefinition,
};
use datafusion::logical_expr::logical_plan::{Aggregate, DistinctOn, Join, Projection};
use datafusion::logical_expr::{
    Distinct, Expr, ExprSchemable, LogicalPlan, ScalarUDF, Subquery, WindowFrameBound,
    WindowFrameUnits,
};
use datafusion::optimizer::{AnalyzerRule, OptimizerConfig, OptimizerRule};

use crate::datetime::{is_calendar_interval as is_interval, is_comparison};
use crate::rewrite::rewrite_node;

/// Whether `t` holds an interval somewhere inside an array, a record or
/// a map.
fn holds_interval(t: &DataType) -> bool {
    match t {
        DataType::Interval(_) => true,
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::LargeListView(f)
        | DataType::FixedSizeList(f, _)
        | DataType::Map(f, _) => holds_interval(f.data_type()),
        DataType::Struct(fields) => fields.iter().any(|f| holds_interval(f.data_type())),
        DataType::Dictionary(_, v) => holds_interval(v),
        _ => false,
    }
}

fn type_in(e: &Expr, schema: &DFSchema) -> Option<DataType> {
    e.get_type(schema).ok()
}

fn refuse<T>(what: &str) -> Result<T> {
    not_impl_err!(
        "{what} is not supported: intervals would be compared field by field, not by length as \
         PostgreSQL compares them"
    )
}

/// The rule (analyzer and optimizer) of the module's doc.
#[derive(Debug)]
pub struct PgIntervalOrder {
    key: Arc<ScalarUDF>,
}

impl Default for PgIntervalOrder {
    fn default() -> Self {
        PgIntervalOrder::new()
    }
}

impl PgIntervalOrder {
    pub fn new() -> PgIntervalOrder {
        PgIntervalOrder {
            key: crate::datetime::interval_key(),
        }
    }

    fn key(&self, e: Expr) -> Expr {
        Expr::ScalarFunction(ScalarFunction::new_udf(self.key.clone(), vec![e]))
    }

    /// `e` as its length when it is an interval (in `schema`); refused
    /// when it holds intervals inside another type.
    fn keyed(&self, e: &Expr, schema: &DFSchema, what: &str) -> Result<Option<Expr>> {
        match type_in(e, schema) {
            Some(t) if is_interval(&t) => Ok(Some(self.key(e.clone()))),
            Some(t) if holds_interval(&t) => refuse(what),
            _ => Ok(None),
        }
    }

    fn keyed_or_same(&self, e: &Expr, schema: &DFSchema, what: &str) -> Result<Expr> {
        Ok(self.keyed(e, schema, what)?.unwrap_or_else(|| e.clone()))
    }

    fn sort_keys(&self, order: &[Sort], schema: &DFSchema, what: &str) -> Result<Vec<Sort>> {
        order
            .iter()
            .map(|s| {
                Ok(Sort {
                    expr: self.keyed_or_same(&s.expr, schema, what)?,
                    ..s.clone()
                })
            })
            .collect()
    }

    /// A subquery whose one column is replaced by its length.
    fn keyed_subquery(&self, subquery: &Subquery) -> Result<Subquery> {
        let plan = subquery.subquery.as_ref();
        let field = plan.schema().qualified_field(0);
        let column = Expr::Column(Column::from(field));
        let projection = Projection::try_new(vec![self.key(column)], subquery.subquery.clone())?;
        Ok(Subquery {
            subquery: Arc::new(LogicalPlan::Projection(projection)),
            ..subquery.clone()
        })
    }

    /// One expression of a plan node, its children already offered.
    fn expression(&self, e: &Expr, schema: &DFSchema) -> Result<Option<Expr>> {
        let interval = |e: &Expr| type_in(e, schema).is_some_and(|t| is_interval(&t));
        let holds = |e: &Expr| type_in(e, schema).is_some_and(|t| holds_interval(&t));
        Ok(match e {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) if is_comparison(op) => {
                if interval(left) && interval(right) {
                    Some(Expr::BinaryExpr(BinaryExpr::new(
                        Box::new(self.key(left.as_ref().clone())),
                        *op,
                        Box::new(self.key(right.as_ref().clone())),
                    )))
                } else if (holds(left) && !interval(left)) || (holds(right) && !interval(right)) {
                    return refuse("comparing arrays or records that hold intervals");
                } else {
                    None
                }
            }
            Expr::Between(b) if interval(&b.expr) && interval(&b.low) && interval(&b.high) => {
                let mut b = b.clone();
                b.expr = Box::new(self.key(*b.expr));
                b.low = Box::new(self.key(*b.low));
                b.high = Box::new(self.key(*b.high));
                Some(Expr::Between(b))
            }
            Expr::InList(InList {
                expr,
                list,
                negated,
            }) if interval(expr) && list.iter().all(interval) => Some(Expr::InList(InList::new(
                Box::new(self.key(expr.as_ref().clone())),
                list.iter().map(|e| self.key(e.clone())).collect(),
                *negated,
            ))),
            Expr::Case(Case {
                expr: Some(base),
                when_then_expr,
                else_expr,
            }) if interval(base) && when_then_expr.iter().all(|(w, _)| interval(w)) => {
                Some(Expr::Case(Case {
                    expr: Some(Box::new(self.key(base.as_ref().clone()))),
                    when_then_expr: when_then_expr
                        .iter()
                        .map(|(w, t)| (Box::new(self.key(w.as_ref().clone())), t.clone()))
                        .collect(),
                    else_expr: else_expr.clone(),
                }))
            }
            Expr::InSubquery(InSubquery {
                expr,
                subquery,
                negated,
            }) if interval(expr) => Some(Expr::InSubquery(InSubquery::new(
                Box::new(self.key(expr.as_ref().clone())),
                self.keyed_subquery(subquery)?,
                *negated,
            ))),
            Expr::SetComparison(SetComparison {
                expr,
                subquery,
                op,
                quantifier,
            }) if interval(expr) => Some(Expr::SetComparison(SetComparison::new(
                Box::new(self.key(expr.as_ref().clone())),
                self.keyed_subquery(subquery)?,
                *op,
                *quantifier,
            ))),
            Expr::ScalarFunction(f) if compares_arguments(f.name()) => {
                if f.args.iter().any(holds) {
                    return refuse(&format!("{}() over intervals", f.name()));
                }
                None
            }
            Expr::AggregateFunction(agg) => self.aggregate(agg, schema)?,
            Expr::WindowFunction(w) => self.window(w, schema)?,
            _ => None,
        })
    }

    fn aggregate(&self, agg: &AggregateFunction, schema: &DFSchema) -> Result<Option<Expr>> {
        let params = &agg.params;
        let name = agg.func.name();
        let interval_args = params
            .args
            .iter()
            .any(|a| type_in(a, schema).is_some_and(|t| holds_interval(&t)));
        let order_by = self.sort_keys(&params.order_by, schema, "an aggregate's ORDER BY")?;
        if interval_args && matches!(name, "min" | "max") {
            let [arg] = params.args.as_slice() else {
                return Ok(None);
            };
            if !type_in(arg, schema).is_some_and(|t| is_interval(&t)) {
                return refuse(&format!(
                    "{name}() of arrays or records that hold intervals"
                ));
            }
            return Ok(Some(Expr::AggregateFunction(AggregateFunction::new_udf(
                crate::interval_extremes::udaf(name == "max"),
                vec![arg.clone()],
                false,
                params.filter.clone(),
                vec![],
                None,
            ))));
        }
        let args = if params.distinct && interval_args {
            if !matches!(name, "count" | "approx_distinct") {
                return refuse(&format!("{name}(DISTINCT ...) of intervals"));
            }
            params
                .args
                .iter()
                .map(|a| self.keyed_or_same(a, schema, "DISTINCT over records of intervals"))
                .collect::<Result<Vec<_>>>()?
        } else {
            params.args.clone()
        };
        if args == params.args && order_by == params.order_by {
            return Ok(None);
        }
        let mut agg = agg.clone();
        agg.params.args = args;
        agg.params.order_by = order_by;
        Ok(Some(Expr::AggregateFunction(agg)))
    }

    fn window(&self, w: &WindowFunction, schema: &DFSchema) -> Result<Option<Expr>> {
        let params = &w.params;
        if let WindowFunctionDefinition::AggregateUDF(udaf) = &w.fun
            && matches!(udaf.name(), "min" | "max")
            && params
                .args
                .iter()
                .any(|a| type_in(a, schema).is_some_and(|t| holds_interval(&t)))
        {
            return refuse(&format!("{}() of intervals over a window", udaf.name()));
        }
        let partition_by = params
            .partition_by
            .iter()
            .map(|e| self.keyed_or_same(e, schema, "PARTITION BY a record of intervals"))
            .collect::<Result<Vec<_>>>()?;
        let order_by = self.sort_keys(&params.order_by, schema, "a window's ORDER BY")?;
        if partition_by == params.partition_by && order_by == params.order_by {
            return Ok(None);
        }
        let frame = &params.window_frame;
        let offset = |b: &WindowFrameBound| matches!(b, WindowFrameBound::Preceding(v) | WindowFrameBound::Following(v) if !v.is_null());
        if order_by != params.order_by
            && frame.units == WindowFrameUnits::Range
            && (offset(&frame.start_bound) || offset(&frame.end_bound))
        {
            return refuse("a RANGE frame with an offset over an interval ORDER BY");
        }
        let mut w = w.clone();
        w.params.partition_by = partition_by;
        w.params.order_by = order_by;
        Ok(Some(Expr::WindowFunction(Box::new(w))))
    }

    /// One plan node, its inputs and subqueries already rewritten.
    fn node(&self, plan: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
        let plan = rewrite_node(plan, &|e, schema| self.expression(e, schema))?;
        plan.transform_data(|plan| self.structure(plan))
    }

    /// The keys a node sorts, joins or groups by.
    fn structure(&self, plan: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
        match plan {
            LogicalPlan::Sort(mut sort) => {
                let schema = sort.input.schema().clone();
                let keys = self.sort_keys(&sort.expr, &schema, "ORDER BY a record of intervals")?;
                if keys == sort.expr {
                    return Ok(Transformed::no(LogicalPlan::Sort(sort)));
                }
                sort.expr = keys;
                Ok(Transformed::yes(LogicalPlan::Sort(sort)))
            }
            LogicalPlan::Distinct(Distinct::On(on)) => self.distinct_on(on),
            LogicalPlan::Join(join) => self.join(join),
            LogicalPlan::Aggregate(agg) => self.group(agg),
            LogicalPlan::RecursiveQuery(q)
                if q.is_distinct
                    && q.static_term
                        .schema()
                        .fields()
                        .iter()
                        .any(|f| holds_interval(f.data_type())) =>
            {
                refuse("a recursive UNION (without ALL) of intervals")
            }
            other => Ok(Transformed::no(other)),
        }
    }

    fn distinct_on(&self, on: DistinctOn) -> Result<Transformed<LogicalPlan>> {
        let schema = on.input.schema().clone();
        let on_expr = on
            .on_expr
            .iter()
            .map(|e| self.keyed_or_same(e, &schema, "DISTINCT ON a record of intervals"))
            .collect::<Result<Vec<_>>>()?;
        let sort_expr = match &on.sort_expr {
            Some(sort) => Some(self.sort_keys(sort, &schema, "ORDER BY a record of intervals")?),
            None => None,
        };
        if on_expr == on.on_expr && sort_expr == on.sort_expr {
            return Ok(Transformed::no(LogicalPlan::Distinct(Distinct::On(on))));
        }
        Ok(Transformed::yes(LogicalPlan::Distinct(Distinct::On(
            DistinctOn::try_new(on_expr, on.select_expr, sort_expr, on.input)?,
        ))))
    }

    fn join(&self, mut join: Join) -> Result<Transformed<LogicalPlan>> {
        let (left, right) = (join.left.schema().clone(), join.right.schema().clone());
        let mut changed = false;
        for (l, r) in join.on.iter_mut() {
            if let Some(key) = self.keyed(l, &left, "joining on records of intervals")? {
                *l = key;
                *r = self.key(r.clone());
                changed = true;
            } else if self
                .keyed(r, &right, "joining on records of intervals")?
                .is_some()
            {
                return refuse("joining an interval to another type");
            }
        }
        Ok(if changed {
            Transformed::yes(LogicalPlan::Join(join))
        } else {
            Transformed::no(LogicalPlan::Join(join))
        })
    }

    /// An aggregate grouping by intervals, grouping by their lengths
    /// instead: each group's interval is its first one
    /// (`first_value`), and a projection gives the node's output its
    /// names and order back.
    fn group(&self, agg: Aggregate) -> Result<Transformed<LogicalPlan>> {
        let input = agg.input.schema().clone();
        let mut grouped = Vec::new();
        for (i, g) in agg.group_expr.iter().enumerate() {
            if let Expr::GroupingSet(set) = g {
                if set
                    .distinct_expr()
                    .iter()
                    .any(|e| type_in(e, &input).is_some_and(|t| holds_interval(&t)))
                {
                    return refuse("ROLLUP, CUBE or GROUPING SETS over intervals");
                }
                continue;
            }
            match type_in(g, &input) {
                Some(t) if is_interval(&t) => grouped.push(i),
                Some(t) if holds_interval(&t) => {
                    return refuse("GROUP BY or DISTINCT over arrays or records of intervals");
                }
                _ => {}
            }
        }
        if grouped.is_empty() {
            return Ok(Transformed::no(LogicalPlan::Aggregate(agg)));
        }
        let groups = agg.group_expr.len();
        let mut group_expr = Vec::with_capacity(groups);
        let mut aggr_expr = agg.aggr_expr.clone();
        for (i, g) in agg.group_expr.iter().enumerate() {
            if grouped.contains(&i) {
                group_expr.push(
                    self.key(g.clone())
                        .alias(format!("__floe_interval_key_{i}")),
                );
                aggr_expr.push(
                    Expr::AggregateFunction(AggregateFunction::new_udf(
                        first_value_udaf(),
                        vec![g.clone()],
                        false,
                        None,
                        vec![],
                        None,
                    ))
                    .alias(format!("__floe_interval_{i}")),
                );
            } else {
                group_expr.push(g.clone());
            }
        }
        let aggregates = agg.aggr_expr.len();
        let rewritten = Aggregate::try_new(agg.input.clone(), group_expr, aggr_expr)?;
        let fields = rewritten.schema.clone();
        let column = |i: usize| Expr::Column(Column::from(fields.qualified_field(i)));
        let mut next_first = groups + aggregates;
        let mut exprs = Vec::with_capacity(agg.schema.fields().len());
        for (i, (qualifier, field)) in agg.schema.iter().enumerate() {
            let source = if grouped.contains(&i) {
                next_first += 1;
                column(next_first - 1)
            } else {
                column(i)
            };
            exprs.push(source.alias_qualified(qualifier.cloned(), field.name()));
        }
        let projection = Projection::try_new(exprs, Arc::new(LogicalPlan::Aggregate(rewritten)))?;
        Ok(Transformed::yes(LogicalPlan::Projection(projection)))
    }
}

/// Scalar functions that compare their arguments' values.
fn compares_arguments(name: &str) -> bool {
    matches!(
        name,
        "nullif"
            | "greatest"
            | "least"
            | "array_position"
            | "array_positions"
            | "array_remove"
            | "array_remove_n"
            | "array_remove_all"
            | "array_replace"
            | "array_replace_n"
            | "array_replace_all"
            | "array_sort"
            | "array_distinct"
            | "array_has"
            | "array_has_all"
            | "array_has_any"
            | "array_union"
            | "array_intersect"
            | "array_except"
            | "array_max"
            | "array_min"
            | "arrays_overlap"
    )
}

impl AnalyzerRule for PgIntervalOrder {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        Ok(plan
            .transform_up_with_subqueries(|node| self.node(node))?
            .data)
    }

    fn name(&self) -> &str {
        "floe_pg_interval_order"
    }
}

impl OptimizerRule for PgIntervalOrder {
    /// The groupings and joins the optimizer made (DISTINCT and UNION
    /// become aggregates there, subqueries joins).
    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let rewritten = plan.transform_up_with_subqueries(|node| self.structure(node))?;
        if !rewritten.transformed {
            return Ok(rewritten);
        }
        // The nodes above a rewritten one take their new schemas (a
        // group's first interval may be NULL where the column was NOT
        // NULL).
        rewritten
            .data
            .transform_up_with_subqueries(|node| match node {
                LogicalPlan::TableScan(_) | LogicalPlan::Extension(_) => Ok(Transformed::yes(node)),
                other => Ok(Transformed::yes(other.recompute_schema()?)),
            })
    }

    fn name(&self) -> &str {
        "floe_pg_interval_order"
    }
}
