//! The order of a query's inner joins, chosen by their estimated sizes.
//!
//! DataFusion joins the tables of a FROM list in the order they are
//! written; it only picks which side of each join to build its hash table
//! from. TPC-H's Q7 lists `supplier, lineitem, orders, customer, nation n1,
//! nation n2`, so 1.8M rows go through three joins before the condition on
//! `n1` keeps 146K of them; written with `nation n1` first it runs in less
//! than half the time. The order a user writes should not decide that.
//!
//! [`JoinOrder`] takes each cluster of inner joins (joins whose inputs are
//! joins, through projections that only drop columns), and builds it again
//! greedily: of the pairs of inputs a join condition links, it joins the
//! pair whose result is estimated smallest, and repeats until one input is
//! left (greedy operator ordering; the tree may be bushy). The smaller
//! side of each join goes left, where the hash table is built.
//!
//! Estimates ([`crate::estimates`]):
//! - a table's live rows;
//! - a filter's selectivity by its shape: an equality with a constant
//!   keeps one value of an integer column's range, 10% otherwise; a
//!   comparison 33%; AND multiplies, OR adds;
//! - an equality between two inputs' columns divides the product of their
//!   rows by the smaller number of distinct keys of the two, each bounded by its table's
//!   rows and, for an integer column, by its range. Bounds overstate how
//!   many keys there are, so the smaller is the closer, and a key joined to
//!   a foreign key is counted as such: `c_nationkey = s_nationkey` (25
//!   keys) matches each customer with 400 suppliers, not one.
//!
//! Semi and anti joins (`IN`, `EXISTS`, `NOT EXISTS`; not `NOT IN`) are
//! placed first: one over a cluster whose columns it reads all come from
//! one input is moved onto that input when its subquery is estimated
//! smaller than the input, so TPC-H's Q18 keeps its 57 orders
//! before joining them with 6M line items rather than after, and each
//! builds its hash table from the side estimated smaller (`L LEFT SEMI
//! JOIN R` becomes `R RIGHT SEMI JOIN L`).
//!
//! The answer cannot change: only inner joins are moved, every condition
//! is applied exactly once, at the first join that has all the inputs it
//! reads, and a projection restores the cluster's columns in their order.
//! Clusters with a volatile condition, a subquery in a condition, a table
//! of unknown size or more than [`MAX_INPUTS`] inputs are left as written,
//! as is every plan when `datafusion.optimizer.join_reordering` is off.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, NullEquality, Result};
use datafusion::logical_expr::utils::{conjunction, split_conjunction_owned};
use datafusion::logical_expr::{
    BinaryExpr, Expr, Join, JoinConstraint, JoinType, LogicalPlan, Operator, Projection,
};
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

use crate::cardinality::{key_count, rows, selectivity};

/// Clusters with more inputs are left as written.
const MAX_INPUTS: usize = 24;

/// The optimizer rule (see the module's doc).
#[derive(Debug, Default)]
pub struct JoinOrder;

impl OptimizerRule for JoinOrder {
    fn name(&self) -> &str {
        "floe_join_order"
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        if !config.options().optimizer.join_reordering {
            return Ok(Transformed::no(plan));
        }
        reorder(plan)
    }
}

/// `plan` with each of its join clusters, and those in its subqueries,
/// ordered.
fn reorder(plan: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    plan.map_subqueries(reorder)?.transform_data(|plan| {
        if let Some(pushed) = push_semi_join(&plan)? {
            return Ok(Transformed::yes(reorder(pushed)?.data));
        }
        if cluster_join(&plan).is_some() {
            return order_cluster(plan);
        }
        plan.map_children(reorder)?
            .transform_data(|plan| Ok(build_semi_join_on_smaller_side(plan)))
    })
}

/// Whether `join` keeps or drops rows of its left side by whether the right
/// side has a match, with no other effect: `EXISTS`, `IN`, `NOT EXISTS`
/// (not `NOT IN`, whose NULLs make it depend on the whole right side).
fn filters_left_rows(join: &Join) -> bool {
    matches!(join.join_type, JoinType::LeftSemi | JoinType::LeftAnti)
        && !join.null_aware
        && join.null_equality == NullEquality::NullEqualsNothing
}

/// A semi or anti join (`WHERE o_orderkey IN (SELECT ...)`) over a cluster
/// of inner joins, moved onto the one input of the cluster whose columns
/// it reads: filtering that input's rows before the joins keeps the same
/// rows after them, and lets the join order count the filter.
fn push_semi_join(plan: &LogicalPlan) -> Result<Option<LogicalPlan>> {
    let LogicalPlan::Join(join) = plan else {
        return Ok(None);
    };
    if !filters_left_rows(join) || cluster_join(&join.left).is_none() {
        return Ok(None);
    }
    let left_schema = join.left.schema();
    let mut read: HashSet<&Column> = HashSet::new();
    for (l, _) in &join.on {
        read.extend(l.column_refs());
    }
    if let Some(filter) = &join.filter {
        read.extend(
            filter
                .column_refs()
                .into_iter()
                .filter(|c| left_schema.has_column(c)),
        );
    }
    if read.is_empty() {
        return Ok(None);
    }
    // Worth it only when the subquery is the smaller side: a semi join with
    // a large one (TPC-H Q21's EXISTS over all line items) costs less after
    // the joins have kept few rows.
    let Some(input) = input_with(&join.left, &read) else {
        return Ok(None);
    };
    match (rows(input), rows(&join.right)) {
        (Some(input), Some(right)) if right < input => {}
        _ => return Ok(None),
    }
    let pushed = onto_input(join.left.as_ref().clone(), &read, |input| {
        Ok(LogicalPlan::Join(Join::try_new(
            Arc::new(input),
            join.right.clone(),
            join.on.clone(),
            join.filter.clone(),
            join.join_type,
            join.join_constraint,
            join.null_equality,
            false,
        )?))
    })?;
    Ok(Some(pushed))
}

/// The input of the cluster `plan` that has every column of `read`.
fn input_with<'a>(plan: &'a LogicalPlan, read: &HashSet<&Column>) -> Option<&'a LogicalPlan> {
    if cluster_join(plan).is_none() {
        return Some(plan);
    }
    let child = plan
        .inputs()
        .into_iter()
        .find(|p| read.iter().all(|c| p.schema().has_column(c)))?;
    input_with(child, read)
}

/// The cluster `plan` with `f` applied to the input that has every column
/// of `read` (see [`input_with`]).
fn onto_input(
    plan: LogicalPlan,
    read: &HashSet<&Column>,
    f: impl FnOnce(LogicalPlan) -> Result<LogicalPlan>,
) -> Result<LogicalPlan> {
    if cluster_join(&plan).is_none() {
        return f(plan);
    }
    let mut f = Some(f);
    Ok(plan
        .map_children(|child| {
            let has_all = read.iter().all(|c| child.schema().has_column(c));
            Ok(match f.take_if(|_| has_all) {
                Some(f) => Transformed::yes(onto_input(child, read, f)?),
                None => Transformed::no(child),
            })
        })?
        .data)
}

/// A semi or anti join that builds its hash table (of its left side) from
/// the side estimated smaller: `L LEFT SEMI JOIN R` is `R RIGHT SEMI JOIN
/// L`, which builds from `R`.
fn build_semi_join_on_smaller_side(plan: LogicalPlan) -> Transformed<LogicalPlan> {
    let LogicalPlan::Join(join) = &plan else {
        return Transformed::no(plan);
    };
    if !filters_left_rows(join) {
        return Transformed::no(plan);
    }
    let (Some(left), Some(right)) = (rows(&join.left), rows(&join.right)) else {
        return Transformed::no(plan);
    };
    if right >= left {
        return Transformed::no(plan);
    }
    let swapped = match join.join_type {
        JoinType::LeftSemi => JoinType::RightSemi,
        _ => JoinType::RightAnti,
    };
    match Join::try_new(
        join.right.clone(),
        join.left.clone(),
        join.on
            .iter()
            .map(|(l, r)| (r.clone(), l.clone()))
            .collect(),
        join.filter.clone(),
        swapped,
        join.join_constraint,
        join.null_equality,
        false,
    ) {
        Ok(j) => Transformed::yes(LogicalPlan::Join(j)),
        Err(_) => Transformed::no(plan),
    }
}

/// The inner join `plan` is, or that it only drops columns of.
fn cluster_join(plan: &LogicalPlan) -> Option<&Join> {
    let join = match plan {
        LogicalPlan::Join(join) => join,
        LogicalPlan::Projection(p) if p.expr.iter().all(|e| matches!(e, Expr::Column(_))) => {
            match p.input.as_ref() {
                LogicalPlan::Join(join) => join,
                _ => return None,
            }
        }
        _ => return None,
    };
    (join.join_type == JoinType::Inner
        && join.null_equality == NullEquality::NullEqualsNothing
        && !join.null_aware)
        .then_some(join)
}

/// `plan` with `f` applied to each input of the cluster it is the root of.
fn map_inputs(
    plan: LogicalPlan,
    f: &mut impl FnMut(LogicalPlan) -> Result<Transformed<LogicalPlan>>,
) -> Result<Transformed<LogicalPlan>> {
    if cluster_join(&plan).is_some() {
        plan.map_children(|child| map_inputs(child, f))
    } else {
        f(plan)
    }
}

/// How a cluster's inputs are joined: a tree of input numbers.
#[derive(Debug, Clone, PartialEq)]
enum Shape {
    Input(usize),
    Join(Box<Shape>, Box<Shape>),
}

/// A join condition of a cluster and the inputs it reads (a bit each).
struct Condition {
    expr: Expr,
    inputs: u64,
    /// For an equality between columns of two sets of inputs: its sides,
    /// the inputs each reads, and how many distinct values each can have.
    equality: Option<Equality>,
    /// Whether the condition was a key of its join, so may be one again.
    key: bool,
    applied: bool,
}

struct Equality {
    left: Expr,
    right: Expr,
    left_inputs: u64,
    right_inputs: u64,
    keys: f64,
}

/// Collects the inputs and conditions of the cluster rooted at `plan`.
fn flatten(
    plan: &LogicalPlan,
    inputs: &mut Vec<LogicalPlan>,
    conditions: &mut Vec<(Expr, bool)>,
) -> Shape {
    match cluster_join(plan) {
        Some(join) => {
            let left = flatten(&join.left, inputs, conditions);
            let right = flatten(&join.right, inputs, conditions);
            for (l, r) in &join.on {
                conditions.push((l.clone().eq(r.clone()), true));
            }
            if let Some(filter) = &join.filter {
                conditions.extend(
                    split_conjunction_owned(filter.clone())
                        .into_iter()
                        .map(|e| (e, false)),
                );
            }
            Shape::Join(Box::new(left), Box::new(right))
        }
        None => {
            inputs.push(plan.clone());
            Shape::Input(inputs.len() - 1)
        }
    }
}

/// One input of the cluster being built, or a join of several.
struct Part {
    plan: LogicalPlan,
    inputs: u64,
    rows: f64,
    shape: Shape,
}

/// Orders the cluster rooted at `plan` (see the module's doc).
fn order_cluster(plan: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    let plan = map_inputs(plan, &mut reorder)?;
    let changed = plan.transformed;
    let plan = plan.data;
    let mut inputs = Vec::new();
    let mut found = Vec::new();
    let shape = flatten(&plan, &mut inputs, &mut found);
    let unchanged = |plan| Ok(Transformed::new_transformed(plan, changed));
    if inputs.len() < 3 || inputs.len() > MAX_INPUTS || plan.schema().fields().is_empty() {
        return unchanged(plan);
    }
    let Some(rows) = inputs.iter().map(rows).collect::<Option<Vec<f64>>>() else {
        return unchanged(plan);
    };
    let Some(mut conditions) = found
        .into_iter()
        .map(|(expr, key)| condition(expr, key, &inputs, &rows))
        .collect::<Option<Vec<_>>>()
    else {
        return unchanged(plan);
    };
    let mut parts: Vec<Part> = inputs
        .into_iter()
        .zip(rows)
        .enumerate()
        .map(|(i, (plan, rows))| Part {
            plan,
            inputs: 1 << i,
            rows,
            shape: Shape::Input(i),
        })
        .collect();
    let output: HashSet<Column> = plan.schema().columns().into_iter().collect();
    while parts.len() > 1 {
        let sizes: Vec<(u64, f64)> = parts.iter().map(|p| (p.inputs, p.rows)).collect();
        let (i, j, rows) = next_pair(&sizes, &conditions);
        let b = parts.remove(j);
        let a = parts.remove(i);
        let (left, right) = if b.rows < a.rows { (b, a) } else { (a, b) };
        parts.insert(i, join(left, right, rows, &mut conditions, &output)?);
    }
    let joined = parts.pop().expect("one part left");
    // The order as written is the order chosen: nothing to change.
    if joined.shape == shape {
        return unchanged(plan);
    }
    let columns = plan
        .schema()
        .columns()
        .into_iter()
        .map(Expr::Column)
        .collect();
    Ok(Transformed::yes(LogicalPlan::Projection(
        Projection::try_new_with_schema(columns, Arc::new(joined.plan), plan.schema().clone())?,
    )))
}

/// The two parts (of `sets`, their inputs and rows) to join next, and the
/// rows their join is estimated to make: of the pairs some condition not
/// yet applied links, the smallest join; else the two smallest parts.
fn next_pair(sets: &[(u64, f64)], conditions: &[Condition]) -> (usize, usize, f64) {
    let mut best: Option<(usize, usize, f64)> = None;
    for i in 0..sets.len() {
        for j in i + 1..sets.len() {
            let (a, b) = (sets[i].0, sets[j].0);
            let links = conditions.iter().filter(|c| {
                !c.applied && c.inputs & a != 0 && c.inputs & b != 0 && c.inputs & !(a | b) == 0
            });
            let mut keys: f64 = 1.0;
            let mut others = 1.0;
            let mut linked = false;
            for c in links {
                linked = true;
                match &c.equality {
                    Some(e) => keys = keys.max(e.keys),
                    None => others *= selectivity(&c.expr, None),
                }
            }
            if !linked {
                continue;
            }
            let rows = (sets[i].1 * sets[j].1 / keys * others).max(1.0);
            if best.is_none_or(|(_, _, r)| rows < r) {
                best = Some((i, j, rows));
            }
        }
    }
    best.unwrap_or_else(|| {
        // No condition links any two parts: a cross join of the smallest.
        let mut by_rows: Vec<usize> = (0..sets.len()).collect();
        by_rows.sort_by(|x, y| sets[*x].1.total_cmp(&sets[*y].1));
        let (i, j) = (by_rows[0].min(by_rows[1]), by_rows[0].max(by_rows[1]));
        (i, j, sets[i].1 * sets[j].1)
    })
}

/// The join of two parts, with the conditions it can now apply, and
/// without the columns nothing above it reads.
fn join(
    left: Part,
    right: Part,
    rows: f64,
    conditions: &mut [Condition],
    output: &HashSet<Column>,
) -> Result<Part> {
    let both = left.inputs | right.inputs;
    let mut on = Vec::new();
    let mut filters = Vec::new();
    for c in conditions.iter_mut() {
        if c.applied || c.inputs & !both != 0 {
            continue;
        }
        c.applied = true;
        match (&c.equality, c.key) {
            (Some(e), true)
                if e.left_inputs & !left.inputs == 0 && e.right_inputs & !right.inputs == 0 =>
            {
                on.push((e.left.clone(), e.right.clone()));
            }
            (Some(e), true)
                if e.left_inputs & !right.inputs == 0 && e.right_inputs & !left.inputs == 0 =>
            {
                on.push((e.right.clone(), e.left.clone()));
            }
            _ => filters.push(c.expr.clone()),
        }
    }
    let joined = LogicalPlan::Join(Join::try_new(
        Arc::new(left.plan),
        Arc::new(right.plan),
        on,
        conjunction(filters),
        JoinType::Inner,
        JoinConstraint::On,
        NullEquality::NullEqualsNothing,
        false,
    )?);
    // Keep what the cluster returns and what later conditions read.
    let mut needed: HashSet<&Column> = output.iter().collect();
    for c in conditions.iter().filter(|c| !c.applied) {
        needed.extend(c.expr.column_refs());
    }
    let columns = joined.schema().columns();
    let kept: Vec<Expr> = columns
        .iter()
        .filter(|c| needed.contains(c))
        .cloned()
        .map(Expr::Column)
        .collect();
    let plan = if kept.len() < columns.len() && !kept.is_empty() {
        LogicalPlan::Projection(Projection::try_new(kept, Arc::new(joined))?)
    } else {
        joined
    };
    Ok(Part {
        plan,
        inputs: both,
        rows,
        shape: Shape::Join(Box::new(left.shape), Box::new(right.shape)),
    })
}

/// A condition of the cluster over `inputs`, or `None` when the cluster
/// must be left as written: it reads one input only or none, a column no
/// input has, an outer query's, a subquery, or is volatile.
fn condition(expr: Expr, key: bool, inputs: &[LogicalPlan], rows: &[f64]) -> Option<Condition> {
    if expr.is_volatile() || expr.contains_outer() || has_subquery(&expr) {
        return None;
    }
    let read = reads(&expr, inputs)?;
    if read.count_ones() < 2 {
        return None;
    }
    let equality = match &expr {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) => {
            let (l, r) = (reads(left, inputs)?, reads(right, inputs)?);
            (l != 0 && r != 0 && l & r == 0).then(|| Equality {
                keys: distinct(left, l, inputs, rows).min(distinct(right, r, inputs, rows)),
                left: left.as_ref().clone(),
                right: right.as_ref().clone(),
                left_inputs: l,
                right_inputs: r,
            })
        }
        _ => None,
    };
    Some(Condition {
        expr,
        inputs: read,
        equality,
        key,
        applied: false,
    })
}

fn has_subquery(expr: &Expr) -> bool {
    expr.exists(|e| {
        Ok(matches!(
            e,
            Expr::ScalarSubquery(_) | Expr::Exists(_) | Expr::InSubquery(_)
        ))
    })
    .unwrap_or(true)
}

/// The inputs `expr` reads columns of, a bit each; `None` when a column is
/// in no input or in several.
fn reads(expr: &Expr, inputs: &[LogicalPlan]) -> Option<u64> {
    let mut read = 0u64;
    for column in expr.column_refs() {
        let mut owners = inputs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.schema().has_column(column));
        let (i, _) = owners.next()?;
        if owners.next().is_some() {
            return None;
        }
        read |= 1 << i;
    }
    Some(read)
}

/// How many distinct values `expr` (of the inputs `read`) can take: for a
/// column of a Floe table at most its rows and, for an integer column, its
/// range; else the rows of its input.
fn distinct(expr: &Expr, read: u64, inputs: &[LogicalPlan], rows: &[f64]) -> f64 {
    if read.count_ones() == 1 {
        let i = read.trailing_zeros() as usize;
        return key_count(expr, &inputs[i], rows[i]);
    }
    (0..inputs.len())
        .filter(|i| read & (1 << i) != 0)
        .map(|i| rows[i])
        .fold(1.0, f64::max)
}

#[cfg(test)]
mod tests;
