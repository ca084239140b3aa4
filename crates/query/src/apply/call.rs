//! The calls subqueries become: what each computes ([`Kind`]), the mark
//! the analyzer leaves ([`Pending`]), and the asynchronous function that
//! runs a subquery per distinct set of outer values ([`Apply`]).

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arrow::array::{ArrayRef, RecordBatch, new_empty_array};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use async_trait::async_trait;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{Column, DFSchema, DataFusionError, Result, exec_err, internal_err};
use datafusion::execution::SessionState;
use datafusion::logical_expr::async_udf::AsyncScalarUDFImpl;
use datafusion::logical_expr::expr::{Exists, InSubquery, SetComparison, SetQuantifier};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder, Operator,
    ScalarFunctionArgs, ScalarUDFImpl, Signature, Subquery, TypeSignature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::physical_plan::collect;
use datafusion::scalar::ScalarValue;

use super::{PgSubqueries, refers_outward, rewrite_exprs};

#[cfg(test)]
mod tests;

/// Distinct sets of outer values whose answers one call keeps; past this
/// the kept answers are dropped and built again as rows come.
const MAX_KEPT_ANSWERS: usize = 100_000;

/// Rows an `IN`, `ANY` or `ALL` subquery may give for one outer row.
const MAX_SET_ROWS: usize = 10_000_000;

/// What a call computes from its subquery's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Kind {
    /// The one value, NULL for no rows.
    Scalar,
    /// Whether a row came.
    Exists { negated: bool },
    /// `probe op ANY (rows)`, or `ALL`; `IN` is `= ANY`, `NOT IN` is
    /// `<> ALL`.
    Compare { op: Operator, all: bool },
    /// `ARRAY(subquery)`: every row's value, in order.
    Array,
}

/// A subquery call: what it computes, the subquery, and the outer columns
/// its arguments give values for (after the probe of a comparison).
#[derive(Debug, Clone)]
pub(super) struct Call {
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
    pub(super) fn of(expr: Expr, schema: &DFSchema) -> Result<(Call, Vec<Expr>)> {
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
            e @ Expr::ScalarFunction(_) => match super::array::array_subquery(&e) {
                Some(sq) => (Kind::Array, sq.clone(), None),
                None => return internal_err!("not a subquery: {e}"),
            },
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
            Kind::Array => super::array::array_type(first.data_type()),
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
            Kind::Array => "array_subquery",
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
pub(super) struct Pending(pub(super) Call);

/// One subquery, run per distinct set of outer values (see the module doc).
pub(super) struct Apply {
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
    pub(super) fn new(call: Call, state: SessionState) -> Apply {
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
            Kind::Compare { .. } | Kind::Array => plan,
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
            Kind::Array => {
                if rows > MAX_SET_ROWS {
                    return Err(DataFusionError::ResourcesExhausted(format!(
                        "ARRAY(subquery) gave {rows} rows for one outer row, more than the \
                         {MAX_SET_ROWS} an array holds"
                    )));
                }
                let columns: Vec<&dyn arrow::array::Array> =
                    batches.iter().map(|b| b.column(0).as_ref()).collect();
                let values = match columns.as_slice() {
                    [] => new_empty_array(self.call.subquery.schema().field(0).data_type()),
                    _ => arrow::compute::concat(&columns)?,
                };
                Ok(Answer::Value(ScalarValue::List(Arc::new(
                    SingleRowListArrayBuilder::new(values).build_list_array(),
                ))))
            }
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
            (Kind::Scalar | Kind::Array, Answer::Value(v)) => v,
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
        .map(|t| t.data)?
        // A relation that read outer values (`unnest(outer.a)` in FROM)
        // is an ordinary one once they are in place.
        .transform_up(|node| match node {
            LogicalPlan::Subquery(sq) if !refers_outward(&sq.subquery)? => {
                Ok(Transformed::yes(Arc::unwrap_or_clone(sq.subquery)))
            }
            other => Ok(Transformed::no(other)),
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
