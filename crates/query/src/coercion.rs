//! Numeric coercions as PostgreSQL makes them, where DataFusion's differ
//! and the difference would be a different answer or a needless error.
//!
//! - A floating-point value meeting a numeric one (`x >= 1.5` where `x`
//!   is `double precision`: SQL's `1.5` is a numeric literal) is compared
//!   and computed as `double precision`, because PostgreSQL's cast from
//!   numeric to double is the implicit one. DataFusion casts the double to
//!   a decimal instead, which fails on NaN and infinities and rounds the
//!   double to the decimal's scale ([`PgFloatNumeric`], ahead of
//!   DataFusion's type coercion).
//! - A cast of a double or a numeric to an integer type rounds, as
//!   PostgreSQL's does (a double to the nearest even integer on a tie, a
//!   numeric away from zero), where Arrow's cast truncates:
//!   `CAST(2.7 AS integer)` is 3, not 2. Every such cast in a plan,
//!   written or added by INSERT or type coercion, rounds first
//!   ([`PgIntegerCasts`], after type coercion).
//! - Doubles and numerics meeting in one column (the branches of a CASE,
//!   the arguments of `coalesce`, `greatest` or an ARRAY, the rows of
//!   VALUES, the inputs of UNION) make a `double precision` column, as
//!   PostgreSQL resolves them; DataFusion makes a numeric of 15
//!   fractional digits, which writes `2.5` as `2.500000000000000` and
//!   `1e-20` as zero ([`PgFloatNumeric`]).
//! - A quoted literal passed to a function that takes numbers there
//!   (`abs('-1.2')`) is a `double precision`, as PostgreSQL resolves an
//!   untyped literal against a numeric parameter
//!   ([`quoted_numeric_arguments`], before planning).
//! - An integer literal passed to `to_hex` is an `integer` when it fits
//!   one, as PostgreSQL types it: `to_hex(-1)` is `ffffffff`
//!   ([`int4_literal_arguments`], before planning).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, FixedSizeListArray, LargeListArray, ListArray};
use arrow::datatypes::{DataType, Decimal128Type, Field, FieldRef, Float32Type, Float64Type};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, DFSchema, Result, exec_err};
use datafusion::logical_expr::expr::{Between, BinaryExpr, Cast, InList, ScalarFunction};
use datafusion::logical_expr::logical_plan::{DmlStatement, Projection, Union, Values, WriteOp};
use datafusion::logical_expr::type_coercion::functions::fields_with_udf;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, ReturnFieldArgs, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::scalar::ScalarValue;

use crate::rewrite::{rewrite_cast_operands, rewrite_expressions};

fn is_float(t: &DataType) -> bool {
    matches!(t, DataType::Float16 | DataType::Float32 | DataType::Float64)
}

fn is_decimal(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Decimal32(..)
            | DataType::Decimal64(..)
            | DataType::Decimal128(..)
            | DataType::Decimal256(..)
    )
}

fn type_of(e: &Expr, schema: &DFSchema) -> Option<DataType> {
    e.get_type(schema).ok()
}

/// `e` as a double, if it is a numeric (in `schema`).
fn numeric_as_double(e: &Expr, schema: &DFSchema) -> Option<Expr> {
    numeric_as(e, schema, DataType::Float64)
}

/// `e` cast to the floating-point type `to`, if it is a numeric.
fn numeric_as(e: &Expr, schema: &DFSchema, to: DataType) -> Option<Expr> {
    type_of(e, schema)
        .filter(is_decimal)
        .map(|_| Expr::Cast(Cast::new(Box::new(e.clone()), to)))
}

/// The floating-point type doubles and numerics meeting in `types`
/// resolve to, as PostgreSQL resolves them: `real` when every float is
/// one, else `double precision`; `None` unless both kinds meet.
fn float_where_mixed(types: &[DataType]) -> Option<DataType> {
    if !types.iter().any(is_decimal) {
        return None;
    }
    if types.contains(&DataType::Float64) {
        Some(DataType::Float64)
    } else if types.iter().any(is_float) {
        Some(DataType::Float32)
    } else {
        None
    }
}

/// The analyzer rule, ahead of DataFusion's type coercion, that makes a
/// double meeting a numeric a double comparison or computation (see the
/// module's doc).
#[derive(Debug, Default)]
pub struct PgFloatNumeric;

impl PgFloatNumeric {
    fn rewrite(e: &Expr, schema: &DFSchema) -> Option<Expr> {
        match e {
            Expr::BinaryExpr(BinaryExpr { left, op, right })
                if op.supports_propagation() || op.is_numerical_operators() =>
            {
                let (lt, rt) = (type_of(left, schema)?, type_of(right, schema)?);
                let (left, right) = if is_float(&lt) && is_decimal(&rt) {
                    (left.as_ref().clone(), numeric_as_double(right, schema)?)
                } else if is_decimal(&lt) && is_float(&rt) {
                    (numeric_as_double(left, schema)?, right.as_ref().clone())
                } else {
                    return None;
                };
                Some(Expr::BinaryExpr(BinaryExpr::new(
                    Box::new(left),
                    *op,
                    Box::new(right),
                )))
            }
            Expr::Between(Between {
                expr,
                negated,
                low,
                high,
            }) if is_float(&type_of(expr, schema)?) => {
                let low2 = numeric_as_double(low, schema);
                let high2 = numeric_as_double(high, schema);
                if low2.is_none() && high2.is_none() {
                    return None;
                }
                Some(Expr::Between(Between::new(
                    expr.clone(),
                    *negated,
                    Box::new(low2.unwrap_or_else(|| low.as_ref().clone())),
                    Box::new(high2.unwrap_or_else(|| high.as_ref().clone())),
                )))
            }
            Expr::InList(InList {
                expr,
                list,
                negated,
            }) if is_float(&type_of(expr, schema)?) => {
                let doubles: Vec<Option<Expr>> =
                    list.iter().map(|e| numeric_as_double(e, schema)).collect();
                if doubles.iter().all(Option::is_none) {
                    return None;
                }
                let list = doubles
                    .into_iter()
                    .zip(list)
                    .map(|(d, e)| d.unwrap_or_else(|| e.clone()))
                    .collect();
                Some(Expr::InList(InList::new(expr.clone(), list, *negated)))
            }
            Expr::ScalarFunction(f) if unifies_arguments(f.name()) => {
                let args = doubles_where_mixed(&f.args, schema)?;
                Some(Expr::ScalarFunction(ScalarFunction::new_udf(
                    f.func.clone(),
                    args,
                )))
            }
            Expr::Case(case) => {
                let mut results: Vec<Expr> = case
                    .when_then_expr
                    .iter()
                    .map(|(_, t)| t.as_ref().clone())
                    .collect();
                results.extend(case.else_expr.iter().map(|e| e.as_ref().clone()));
                let mut results = doubles_where_mixed(&results, schema)?.into_iter();
                let mut case = case.clone();
                for (_, then) in case.when_then_expr.iter_mut() {
                    **then = results.next()?;
                }
                if case.else_expr.is_some() {
                    case.else_expr = Some(Box::new(results.next()?));
                }
                Some(Expr::Case(case))
            }
            _ => None,
        }
    }

    /// A VALUES list or a UNION whose column meets doubles and numerics:
    /// the numerics become doubles, as PostgreSQL resolves the column
    /// to `double precision`.
    fn unify(plan: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
        match plan {
            LogicalPlan::Values(values) => {
                let empty = DFSchema::empty();
                let columns = values.schema.fields().len();
                let mut fields: Vec<Field> = values
                    .schema
                    .fields()
                    .iter()
                    .map(|f| f.as_ref().clone())
                    .collect();
                let mut changed = false;
                let mut rows = values.values.clone();
                for (j, field) in fields.iter_mut().enumerate() {
                    // The planner cast every value to the column's type.
                    let written = |row: &Vec<Expr>| match &row[j] {
                        Expr::Cast(Cast { expr, field: to })
                            if to.data_type() == field.data_type() =>
                        {
                            expr.as_ref().clone()
                        }
                        other => other.clone(),
                    };
                    let types: Vec<DataType> = values
                        .values
                        .iter()
                        .filter_map(|row| type_of(&written(row), &empty))
                        .collect();
                    if let Some(to) = float_where_mixed(&types) {
                        for (row, original) in rows.iter_mut().zip(&values.values) {
                            row[j] = Expr::Cast(Cast::new(Box::new(written(original)), to.clone()));
                        }
                        *field = field.clone().with_data_type(to);
                        changed = true;
                    }
                }
                if !changed || columns == 0 {
                    return Ok(Transformed::no(LogicalPlan::Values(values)));
                }
                let schema = DFSchema::from_unqualified_fields(
                    fields.into(),
                    values.schema.metadata().clone(),
                )?;
                Ok(Transformed::yes(LogicalPlan::Values(Values {
                    schema: Arc::new(schema),
                    values: rows,
                })))
            }
            LogicalPlan::Union(union) => {
                let columns = union.schema.fields().len();
                let mut doubles = Vec::new();
                for j in 0..columns {
                    let mut types = Vec::new();
                    for input in &union.inputs {
                        union_types(input, j, &mut types);
                    }
                    if let Some(to) = float_where_mixed(&types) {
                        doubles.push((j, to));
                    }
                }
                if doubles.is_empty() {
                    return Ok(Transformed::no(LogicalPlan::Union(union)));
                }
                let inputs = union
                    .inputs
                    .iter()
                    .map(|input| {
                        let exprs = input
                            .schema()
                            .iter()
                            .enumerate()
                            .map(|(j, (q, f))| {
                                let column = Expr::Column(Column::from((q, f)));
                                // Numerics, and a nested UNION's column
                                // that holds some.
                                let cast = f.data_type().is_numeric() && !is_float(f.data_type());
                                match doubles.iter().find(|(k, _)| *k == j) {
                                    Some((_, to)) if cast => {
                                        Expr::Cast(Cast::new(Box::new(column), to.clone()))
                                            .alias_qualified(q.cloned(), f.name())
                                    }
                                    _ => column,
                                }
                            })
                            .collect();
                        Ok(Arc::new(LogicalPlan::Projection(Projection::try_new(
                            exprs,
                            input.clone(),
                        )?)))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(Transformed::yes(LogicalPlan::Union(
                    Union::try_new_with_loose_types(inputs)?,
                )))
            }
            other => Ok(Transformed::no(other)),
        }
    }
}

/// Functions whose arguments meet in one type, as the branches of a
/// CASE do.
fn unifies_arguments(name: &str) -> bool {
    matches!(
        name,
        "make_array" | "coalesce" | "nvl" | "ifnull" | "greatest" | "least" | "nullif"
    )
}

/// `exprs` with their numerics as the float type they meet, if they
/// mix floats and numerics.
fn doubles_where_mixed(exprs: &[Expr], schema: &DFSchema) -> Option<Vec<Expr>> {
    let types: Vec<Vec<DataType>> = exprs
        .iter()
        .map(|e| {
            let mut types = Vec::new();
            result_types(e, schema, &mut types);
            types
        })
        .collect();
    let to = float_where_mixed(&types.concat())?;
    Some(
        exprs
            .iter()
            .zip(&types)
            .map(|(e, types)| {
                if types.iter().any(is_decimal) && !type_of(e, schema).is_some_and(|t| is_float(&t))
                {
                    Expr::Cast(Cast::new(Box::new(e.clone()), to.clone()))
                } else {
                    e.clone()
                }
            })
            .collect(),
    )
}

/// The types the results of `e` have, through nested CASEs and
/// `coalesce`-like calls (whose own type is still their first result's
/// until type coercion).
fn result_types(e: &Expr, schema: &DFSchema, types: &mut Vec<DataType>) {
    match e {
        Expr::Case(case) => {
            for (_, then) in &case.when_then_expr {
                result_types(then, schema, types);
            }
            if let Some(other) = &case.else_expr {
                result_types(other, schema, types);
            }
        }
        Expr::ScalarFunction(f) if unifies_arguments(f.name()) && f.name() != "make_array" => {
            for arg in &f.args {
                result_types(arg, schema, types);
            }
        }
        other => types.extend(type_of(other, schema)),
    }
}

/// The types column `j` of a UNION's inputs have, through nested
/// UNIONs (whose own type is still their first input's).
fn union_types(plan: &LogicalPlan, j: usize, types: &mut Vec<DataType>) {
    match plan {
        LogicalPlan::Union(union) => {
            for input in &union.inputs {
                union_types(input, j, types);
            }
        }
        other => types.extend(
            other
                .schema()
                .fields()
                .get(j)
                .map(|f| f.data_type().clone()),
        ),
    }
}

impl AnalyzerRule for PgFloatNumeric {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        // INSERT's rows take the table's column types, each value apart,
        // as PostgreSQL assigns them.
        let inserts = matches!(
            &plan,
            LogicalPlan::Dml(DmlStatement {
                op: WriteOp::Insert(_),
                ..
            })
        );
        let plan = if inserts {
            plan
        } else {
            plan.transform_up_with_subqueries(Self::unify)?.data
        };
        Ok(rewrite_expressions(plan, &|e, schema| Ok(Self::rewrite(e, schema)))?.data)
    }

    fn name(&self) -> &str {
        "floe_pg_float_numeric"
    }
}

/// The analyzer rule that rounds before a cast to an integer type (see
/// the module's doc).
#[derive(Debug)]
pub struct PgIntegerCasts {
    round: Arc<ScalarUDF>,
}

impl PgIntegerCasts {
    pub fn new() -> PgIntegerCasts {
        PgIntegerCasts {
            round: Arc::new(ScalarUDF::new_from_impl(RoundForCast::new())),
        }
    }

    /// `expr` rounded, if it is cast (in `schema`) to an integer type from
    /// a type whose cast truncates.
    fn rounded(&self, expr: &Expr, to: &DataType, schema: &DFSchema) -> Option<Expr> {
        if !innermost(to).is_integer() {
            return None;
        }
        let from = type_of(expr, schema)?;
        if !RoundForCast::rounds(innermost(&from)) {
            return None;
        }
        Some(Expr::ScalarFunction(ScalarFunction::new_udf(
            self.round.clone(),
            vec![expr.clone()],
        )))
    }
}

impl Default for PgIntegerCasts {
    fn default() -> Self {
        PgIntegerCasts::new()
    }
}

impl AnalyzerRule for PgIntegerCasts {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_cast_operands(plan, &|expr, to, schema| self.rounded(expr, to, schema))
    }

    fn name(&self) -> &str {
        "floe_pg_integer_casts"
    }
}

/// The element type of an array type, through every level of nesting,
/// or `t` itself.
fn innermost(t: &DataType) -> &DataType {
    match t {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            innermost(f.data_type())
        }
        other => other,
    }
}

/// `pg_round_for_cast(x)`: `x` rounded to an integral value of its own
/// type, as PostgreSQL rounds on a cast to an integer: a double to the
/// nearest even integer on a tie (C's `rint`), a numeric away from zero.
/// An array is rounded element by element (`ARRAY[1.5, 2.7]::int[]` is
/// `{2,3}`).
#[derive(Debug, PartialEq, Eq, Hash)]
struct RoundForCast {
    signature: Signature,
}

impl RoundForCast {
    fn new() -> RoundForCast {
        RoundForCast {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }

    /// Whether a value of type `t` is rounded before a cast to an integer.
    fn rounds(t: &DataType) -> bool {
        matches!(
            t,
            DataType::Float32 | DataType::Float64 | DataType::Decimal128(..)
        )
    }

    fn round(array: &ArrayRef) -> Result<ArrayRef> {
        Ok(match array.data_type() {
            DataType::Float64 => Arc::new(
                array
                    .as_primitive::<Float64Type>()
                    .unary::<_, Float64Type>(f64::round_ties_even),
            ),
            DataType::Float32 => Arc::new(
                array
                    .as_primitive::<Float32Type>()
                    .unary::<_, Float32Type>(f32::round_ties_even),
            ),
            DataType::Decimal128(precision, scale) => {
                let scale = *scale;
                let rounded = array
                    .as_primitive::<Decimal128Type>()
                    .try_unary::<_, Decimal128Type, _>(|v| round_decimal(v, scale))?;
                Arc::new(rounded.with_precision_and_scale(*precision, scale)?)
            }
            DataType::List(field) => {
                let list = array.as_list::<i32>();
                Arc::new(ListArray::try_new(
                    field.clone(),
                    list.offsets().clone(),
                    Self::round(list.values())?,
                    list.nulls().cloned(),
                )?)
            }
            DataType::LargeList(field) => {
                let list = array.as_list::<i64>();
                Arc::new(LargeListArray::try_new(
                    field.clone(),
                    list.offsets().clone(),
                    Self::round(list.values())?,
                    list.nulls().cloned(),
                )?)
            }
            DataType::FixedSizeList(field, size) => {
                let list = array.as_fixed_size_list();
                Arc::new(FixedSizeListArray::try_new(
                    field.clone(),
                    *size,
                    Self::round(list.values())?,
                    list.nulls().cloned(),
                )?)
            }
            other => return exec_err!("pg_round_for_cast does not take {other}"),
        })
    }
}

/// A decimal of `scale` fractional digits (as its unscaled value) rounded
/// to an integer, half away from zero.
fn round_decimal(v: i128, scale: i8) -> std::result::Result<i128, arrow::error::ArrowError> {
    if scale <= 0 {
        return Ok(v);
    }
    let overflow = || arrow::error::ArrowError::ArithmeticOverflow("numeric out of range".into());
    let unit = 10i128.checked_pow(scale as u32).ok_or_else(overflow)?;
    let (whole, rest) = (v / unit, v % unit);
    let whole = if rest.unsigned_abs() * 2 >= unit.unsigned_abs() {
        whole + v.signum()
    } else {
        whole
    };
    whole.checked_mul(unit).ok_or_else(overflow)
}

impl ScalarUDFImpl for RoundForCast {
    fn name(&self) -> &str {
        "pg_round_for_cast"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [t] => Ok(t.clone()),
            _ => exec_err!("pg_round_for_cast takes one argument"),
        }
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        match args.arg_fields {
            [field] => Ok(field.clone()),
            _ => exec_err!("pg_round_for_cast takes one argument"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [value] = args.args.as_slice() else {
            return exec_err!("pg_round_for_cast takes one argument");
        };
        match value {
            ColumnarValue::Array(array) => Ok(ColumnarValue::Array(Self::round(array)?)),
            ColumnarValue::Scalar(scalar) => {
                let rounded = Self::round(&scalar.to_array()?)?;
                Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                    &rounded, 0,
                )?))
            }
        }
    }
}

#[cfg(test)]
mod tests;

/// A function's quoted literal arguments read as doubles, when the
/// function takes no text there but takes a double (`abs('-1.2')`,
/// `regr_slope(1, '2')`): PostgreSQL's quoted literal has no type until
/// the call gives it one, and a numeric parameter makes it `double
/// precision`. DataFusion types it as text and refuses the call while
/// planning it, so this reads the statement before planning: calls whose
/// arguments are all literals, of functions `state` knows.
pub(crate) fn quoted_numeric_arguments(
    stmt: &mut datafusion::sql::sqlparser::ast::Statement,
    state: &datafusion::execution::SessionState,
) {
    use datafusion::sql::sqlparser::ast::{
        CastKind, DataType as SqlType, Expr as SqlExpr, FunctionArg, FunctionArgExpr,
        FunctionArguments, UnaryOperator, Value, visit_expressions_mut,
    };
    use std::ops::ControlFlow;
    /// The type DataFusion gives a literal argument, if it is one.
    fn literal_type(e: &SqlExpr) -> Option<DataType> {
        match e {
            SqlExpr::Value(v) => match &v.value {
                Value::Number(n, _) if n.parse::<i64>().is_ok() => Some(DataType::Int64),
                Value::Number(..) => Some(DataType::Decimal128(38, 10)),
                Value::SingleQuotedString(_) => Some(DataType::Utf8),
                Value::Null => Some(DataType::Null),
                _ => None,
            },
            SqlExpr::UnaryOp {
                op: UnaryOperator::Minus | UnaryOperator::Plus,
                expr,
            } => literal_type(expr).filter(|t| t.is_numeric()),
            _ => None,
        }
    }
    let _ = visit_expressions_mut(stmt, |expr| {
        let SqlExpr::Function(f) = expr else {
            return ControlFlow::<()>::Continue(());
        };
        let FunctionArguments::List(list) = &mut f.args else {
            return ControlFlow::Continue(());
        };
        let name = f.name.to_string().to_ascii_lowercase();
        // Whether the function `name` takes arguments of these fields
        // (`None` if `state` has no such function).
        let accepts = |fields: &[FieldRef]| -> Option<bool> {
            if let Some(udf) = state.scalar_functions().get(&name) {
                Some(fields_with_udf(fields, udf.as_ref()).is_ok())
            } else {
                let udaf = state.aggregate_functions().get(&name)?;
                Some(fields_with_udf(fields, udaf.as_ref()).is_ok())
            }
        };
        let types: Option<Vec<DataType>> = list
            .args
            .iter()
            .map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => literal_type(e),
                _ => None,
            })
            .collect();
        let Some(types) = types.filter(|t| t.contains(&DataType::Utf8)) else {
            return ControlFlow::Continue(());
        };
        let fields = |types: &[DataType]| -> Vec<FieldRef> {
            types
                .iter()
                .map(|t| Arc::new(arrow::datatypes::Field::new("x", t.clone(), true)))
                .collect()
        };
        let doubled: Vec<DataType> = types
            .iter()
            .map(|t| match t {
                DataType::Utf8 => DataType::Float64,
                t => t.clone(),
            })
            .collect();
        if accepts(&fields(&types)) != Some(false) || accepts(&fields(&doubled)) != Some(true) {
            return ControlFlow::Continue(());
        }
        for (arg, t) in list.args.iter_mut().zip(&types) {
            if let (FunctionArg::Unnamed(FunctionArgExpr::Expr(e)), DataType::Utf8) = (arg, t) {
                *e = SqlExpr::Cast {
                    kind: CastKind::Cast,
                    expr: Box::new(e.clone()),
                    data_type: SqlType::DoublePrecision,
                    array: false,
                    format: None,
                };
            }
        }
        ControlFlow::Continue(())
    });
}

/// Functions whose answer depends on the width of an integer argument:
/// `to_hex(-1)` is `ffffffff` of an `integer` and `ffffffffffffffff` of a
/// `bigint`.
const WIDTH_DEPENDENT: &[&str] = &["to_hex"];

/// An integer literal passed to a [`WIDTH_DEPENDENT`] function is an
/// `integer` when it fits one, as PostgreSQL types integer literals
/// (DataFusion makes every integer literal a `bigint`): `to_hex(-1)` is
/// `ffffffff`. Runs on the statement before planning.
pub(crate) fn int4_literal_arguments(stmt: &mut datafusion::sql::sqlparser::ast::Statement) {
    use datafusion::sql::sqlparser::ast::{
        CastKind, DataType as SqlType, Expr as SqlExpr, FunctionArg, FunctionArgExpr,
        FunctionArguments, UnaryOperator, Value, visit_expressions_mut,
    };
    use std::ops::ControlFlow;
    fn integer(e: &SqlExpr) -> Option<i64> {
        match e {
            SqlExpr::Value(v) => match &v.value {
                Value::Number(n, _) => n.parse::<i64>().ok(),
                _ => None,
            },
            SqlExpr::UnaryOp {
                op: UnaryOperator::Minus,
                expr,
            } => integer(expr).map(|n| -n),
            SqlExpr::Nested(inner) => integer(inner),
            _ => None,
        }
    }
    let _ = visit_expressions_mut(stmt, |expr| {
        if let SqlExpr::Function(f) = expr
            && f.name
                .0
                .last()
                .and_then(|part| part.as_ident())
                .is_some_and(|name| {
                    WIDTH_DEPENDENT.contains(&name.value.to_ascii_lowercase().as_str())
                })
            && let FunctionArguments::List(list) = &mut f.args
        {
            for arg in &mut list.args {
                if let FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) = arg
                    && integer(e).is_some_and(|n| i32::try_from(n).is_ok())
                {
                    *e = SqlExpr::Cast {
                        kind: CastKind::Cast,
                        expr: Box::new(e.clone()),
                        data_type: SqlType::Integer(None),
                        array: false,
                        format: None,
                    };
                }
            }
        }
        ControlFlow::<()>::Continue(())
    });
}
