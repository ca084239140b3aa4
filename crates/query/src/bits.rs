//! Bit strings: PostgreSQL's `bit varying`, as `X'1F'`, `B'0101'`,
//! `'0101'::varbit` and table columns.
//!
//! Arrow has no bit type. A bit string is held as `LargeUtf8` text of
//! `0` and `1`, a type Floe gives nothing else, so the type follows the
//! value through expressions. Text of digits behaves as PostgreSQL's bits
//! where PostgreSQL defines the operation: comparisons and sorting (bit by
//! bit, a prefix first), `||`, `length`, `substring`, and
//! the text PostgreSQL shows, and casts to `integer` and `bigint` (the
//! bits as a two's complement number). Everything else that would read the
//! digits as text (a cast to another number, `octet_length`, `upper`, `LIKE`) is refused
//! with SQLSTATE 0A000 rather than answered as text ([`PgBitStrings`]).
//!
//! Tables keep a bit column as an Iceberg `string` with the doc
//! [`floe_storage::BIT_VARYING_DOC`]; writes check its digits.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, LargeStringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::{
    AggregateFunction, BinaryExpr, Cast, ScalarFunction, TryCast, WindowFunction,
};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, Operator, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::scalar::ScalarValue;

use floe_storage::is_bit_string;

use crate::columnar::{answer, arrays};
use crate::error::QueryError;
use crate::rewrite::rewrite_expressions;

/// The Arrow type of a bit string.
pub const BITS: DataType = DataType::LargeUtf8;

/// Whether `t` is the type of a bit string.
pub fn is_bits(t: &DataType) -> bool {
    *t == BITS
}

/// The name of the function that reads text as a bit string.
pub(crate) const VARBIT: &str = "varbit";

/// The digits of a bit string literal: `X'1F'` (hex, four bits a digit)
/// or `B'0101'`; `None` if a character is not a digit of its base.
pub(crate) fn literal_digits(text: &str, hex: bool) -> Option<String> {
    if !hex {
        return is_bit_string(text).then(|| text.to_string());
    }
    let mut bits = String::with_capacity(text.len() * 4);
    for c in text.chars() {
        bits.push_str(&format!("{:04b}", c.to_digit(16)?));
    }
    Some(bits)
}

/// The error for text that is not a bit string.
fn not_bits(value: &str) -> datafusion::error::DataFusionError {
    QueryError::InvalidLiteral {
        ty: "bit varying",
        value: value.to_string(),
    }
    .into_datafusion()
}

/// Fails unless every value of `column` is made of `0` and `1`.
pub(crate) fn check_digits(column: &LargeStringArray) -> Result<()> {
    match column.iter().flatten().find(|v| !is_bit_string(v)) {
        Some(bad) => Err(not_bits(bad)),
        None => Ok(()),
    }
}

/// `varbit(text)`: text of binary digits as a bit string, checked.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct VarbitIn {
    signature: Signature,
}

impl VarbitIn {
    /// The function, ready to register.
    pub fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(VarbitIn {
            signature: Signature::string(1, Volatility::Immutable),
        })
    }
}

impl ScalarUDFImpl for VarbitIn {
    fn name(&self) -> &str {
        VARBIT
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(BITS)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, scalar) = arrays(&args.args, args.number_rows)?;
        let bits: ArrayRef = cast(&arrays[0], &BITS)?;
        check_digits(bits.as_string::<i64>())?;
        answer(bits, scalar)
    }
}

/// The bits of a signed integer type, the casts of bit strings PostgreSQL
/// has.
fn integer_width(t: &DataType) -> Option<u32> {
    match t {
        DataType::Int32 => Some(32),
        DataType::Int64 => Some(64),
        _ => None,
    }
}

/// The integer of `bits` bits wide, as PostgreSQL's cast of a bit string
/// to `integer` or `bigint` reads it: the bits as a two's complement
/// number of the type's width; more bits than the width is out of range.
pub(crate) fn bits_to_integer(bits: &str, width: u32) -> Option<i64> {
    if bits.len() > width as usize {
        return None;
    }
    let mut value: u64 = 0;
    for b in bits.bytes() {
        value = (value << 1) | u64::from(b == b'1');
    }
    Some(match width {
        32 => value as u32 as i32 as i64,
        _ => value as i64,
    })
}

const BITS_TO_INTEGER: &str = "pg_bits_to_integer";

/// `CAST(bits AS integer | bigint)`, as PostgreSQL's (see
/// [`bits_to_integer`]).
#[derive(Debug, PartialEq, Eq, Hash)]
struct BitsToInteger {
    signature: Signature,
    to: DataType,
}

impl ScalarUDFImpl for BitsToInteger {
    fn name(&self) -> &str {
        BITS_TO_INTEGER
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.to.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, scalar) = arrays(&args.args, args.number_rows)?;
        let width = integer_width(&self.to).unwrap_or(64);
        let bits = cast(&arrays[0], &BITS)?;
        let mut out = Vec::with_capacity(bits.len());
        for v in bits.as_string::<i64>().iter() {
            out.push(match v {
                None => None,
                Some(v) => Some(bits_to_integer(v, width).ok_or_else(|| {
                    datafusion::error::DataFusionError::ArrowError(
                        Box::new(arrow::error::ArrowError::ArithmeticOverflow(format!(
                            "integer out of range: the bit string {v} has more than {width} bits"
                        ))),
                        None,
                    )
                })?),
            });
        }
        let integers: ArrayRef = Arc::new(arrow::array::Int64Array::from(out));
        answer(cast(&integers, &self.to)?, scalar)
    }
}

/// Functions that take a bit string and answer as PostgreSQL's do for
/// bits: by length in bits, by position in bits, or by comparing.
const BIT_FUNCTIONS: &[&str] = &[
    "length",
    "char_length",
    "character_length",
    "substr",
    "substring",
    "coalesce",
    "nullif",
    "greatest",
    "least",
    BITS_TO_INTEGER,
    VARBIT,
];

/// Aggregate and window functions that pass bit strings through or only
/// count or compare them.
const BIT_AGGREGATES: &[&str] = &[
    "count",
    "first_value",
    "last_value",
    "nth_value",
    "lag",
    "lead",
];

/// The analyzer rules for bit strings (see the module's doc): ahead of
/// type coercion, the readings of [`text_operation`]; after it, any other
/// use of a bit string is refused.
#[derive(Debug, Default)]
pub struct PgBitStrings {
    /// Whether this is the check after type coercion.
    check: bool,
}

impl PgBitStrings {
    /// The rewrite ahead of type coercion.
    pub fn text_operations() -> PgBitStrings {
        PgBitStrings { check: false }
    }

    /// The check after type coercion.
    pub fn refusals() -> PgBitStrings {
        PgBitStrings { check: true }
    }
}

/// Whether `e` is a bit string: of the bit string type, and not text or
/// NULL cast to it (type coercion casts both to `LargeUtf8` for
/// DataFusion's `string_agg`).
fn bits_in(e: &Expr, schema: &DFSchema) -> bool {
    if let Expr::Cast(Cast { expr, .. }) | Expr::TryCast(TryCast { expr, .. }) = e
        && !bits_in(expr, schema)
    {
        return false;
    }
    e.get_type(schema).is_ok_and(|t| is_bits(&t))
}

fn as_text(e: &Expr) -> Expr {
    Expr::Cast(Cast::new(Box::new(e.clone()), DataType::Utf8))
}

/// `e` as PostgreSQL reads it, ahead of type coercion: a cast of bits to
/// an integer type reads the bits, `||` with a quoted literal reads the
/// literal as bits, and `||` or `concat` with text reads the bits as text.
fn text_operation(e: &Expr, schema: &DFSchema) -> Option<Expr> {
    match e {
        Expr::Cast(Cast { expr, field })
            if bits_in(expr, schema) && integer_width(field.data_type()).is_some() =>
        {
            Some(Expr::ScalarFunction(ScalarFunction::new_udf(
                Arc::new(ScalarUDF::new_from_impl(BitsToInteger {
                    signature: Signature::any(1, Volatility::Immutable),
                    to: field.data_type().clone(),
                })),
                vec![expr.as_ref().clone()],
            )))
        }
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::StringConcat,
            right,
        }) => {
            let (l, r) = (bits_in(left, schema), bits_in(right, schema));
            if l == r {
                return None;
            }
            // A quoted literal beside a bit string is one (PostgreSQL
            // resolves its type from the other operand).
            let quoted = |e: &Expr| matches!(e, Expr::Literal(ScalarValue::Utf8(Some(_)), _));
            if quoted(left) || quoted(right) {
                let bits = |side: &Expr, is: bool| match is {
                    true => side.clone(),
                    false => Expr::ScalarFunction(ScalarFunction::new_udf(
                        Arc::new(VarbitIn::udf()),
                        vec![side.clone()],
                    )),
                };
                return Some(Expr::BinaryExpr(BinaryExpr::new(
                    Box::new(bits(left, l)),
                    Operator::StringConcat,
                    Box::new(bits(right, r)),
                )));
            }
            let text = |side: &Expr, bits: bool| if bits { as_text(side) } else { side.clone() };
            Some(Expr::BinaryExpr(BinaryExpr::new(
                Box::new(text(left, l)),
                Operator::StringConcat,
                Box::new(text(right, r)),
            )))
        }
        Expr::ScalarFunction(f) if matches!(f.name(), "concat" | "concat_ws") => {
            if !f.args.iter().any(|a| bits_in(a, schema)) {
                return None;
            }
            let args = f
                .args
                .iter()
                .map(|a| {
                    if bits_in(a, schema) {
                        as_text(a)
                    } else {
                        a.clone()
                    }
                })
                .collect();
            Some(Expr::ScalarFunction(ScalarFunction::new_udf(
                f.func.clone(),
                args,
            )))
        }
        _ => None,
    }
}

/// What PostgreSQL would not do with the bit string `e` takes, if
/// anything.
fn refusal(e: &Expr, schema: &DFSchema) -> Option<String> {
    let takes_bits = |args: &[Expr]| args.iter().any(|a| bits_in(a, schema));
    match e {
        Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field })
            if bits_in(expr, schema) =>
        {
            let to = field.data_type();
            let text = matches!(to, DataType::Utf8 | DataType::Utf8View) || is_bits(to);
            (!text).then(|| format!("a cast of a bit string to {to}"))
        }
        Expr::BinaryExpr(BinaryExpr { left, op, right })
            if bits_in(left, schema) || bits_in(right, schema) =>
        {
            let fine = crate::datetime::is_comparison(op) || *op == Operator::StringConcat;
            (!fine).then(|| format!("the operator {op} on bit strings"))
        }
        Expr::ScalarFunction(f) if takes_bits(&f.args) && !BIT_FUNCTIONS.contains(&f.name()) => {
            Some(format!("{}() of a bit string", f.name()))
        }
        Expr::AggregateFunction(AggregateFunction { func, params })
            if takes_bits(&params.args) && !BIT_AGGREGATES.contains(&func.name()) =>
        {
            Some(format!("{}() of bit strings", func.name()))
        }
        Expr::WindowFunction(w)
            if takes_bits(&w.params.args) && !BIT_AGGREGATES.contains(&w.fun.name()) =>
        {
            let WindowFunction { fun, .. } = w.as_ref();
            Some(format!("{}() of bit strings", fun.name()))
        }
        Expr::Like(like) if bits_in(&like.expr, schema) || bits_in(&like.pattern, schema) => {
            Some("LIKE on a bit string".to_string())
        }
        Expr::SimilarTo(like) if bits_in(&like.expr, schema) => {
            Some("SIMILAR TO on a bit string".to_string())
        }
        _ => None,
    }
}

impl AnalyzerRule for PgBitStrings {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        if !self.check {
            return Ok(rewrite_expressions(plan, &|e, schema| Ok(text_operation(e, schema)))?.data);
        }
        let mut refused = None;
        plan.apply_with_subqueries(|node| {
            let schema = crate::rewrite::input_schema(node)?;
            node.apply_expressions(|expr| {
                expr.apply(|e| {
                    Ok(match refusal(e, &schema) {
                        Some(what) => {
                            refused = Some(what);
                            TreeNodeRecursion::Stop
                        }
                        None => TreeNodeRecursion::Continue,
                    })
                })
            })
        })?;
        match refused {
            Some(what) => Err(QueryError::Unsupported { feature: what }.into_datafusion()),
            None => Ok(plan),
        }
    }

    fn name(&self) -> &str {
        if self.check {
            "floe_pg_bit_string_refusals"
        } else {
            "floe_pg_bit_string_text"
        }
    }
}

#[cfg(test)]
mod tests;
