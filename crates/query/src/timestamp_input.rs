//! Text read as a `timestamp` (without time zone) as PostgreSQL reads it:
//! a time zone written after the time is ignored, so
//! `'2021-01-01 00:00:00+02'::timestamp` is `2021-01-01 00:00:00`.
//! DataFusion's cast converts such text to UTC instead (`2020-12-31
//! 22:00:00`), which would store a different wall-clock time on INSERT.
//! Every cast of text to a timestamp without time zone in a plan, written
//! or added by INSERT and type coercion, reads the text without its zone
//! first ([`PgTimestampText`], after type coercion).

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::{DFSchema, Result, exec_err};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::scalar::ScalarValue;

use crate::rewrite::rewrite_cast_operands;

const NAME: &str = "pg_timestamp_text";

/// `text` without the time zone written after its time of day, if any
/// (`Z`, `+02`, `-05:30`, ` EST`, ` America/New_York`). Text without a
/// time of day, or ending in an era (`BC`, `AD`), is left alone.
pub(crate) fn without_zone(text: &str) -> &str {
    let Some(colon) = text.find(':') else {
        return text;
    };
    let tail = &text[colon..];
    let Some(start) = tail.find(|c: char| c == '+' || c == '-' || c.is_ascii_alphabetic()) else {
        return text;
    };
    let zone = tail[start..].trim();
    if ["BC", "AD"]
        .iter()
        .any(|era| zone.eq_ignore_ascii_case(era))
    {
        return text;
    }
    text[..colon + start].trim_end()
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// The analyzer rule that reads text cast to a timestamp without time
/// zone as PostgreSQL does (see the module's doc).
#[derive(Debug)]
pub struct PgTimestampText {
    udf: Arc<ScalarUDF>,
}

impl Default for PgTimestampText {
    fn default() -> Self {
        PgTimestampText::new()
    }
}

impl PgTimestampText {
    pub fn new() -> PgTimestampText {
        PgTimestampText {
            udf: Arc::new(ScalarUDF::new_from_impl(WithoutZone {
                signature: Signature::any(1, Volatility::Immutable),
            })),
        }
    }

    /// `expr` without its zone, if it is text cast (in `schema`) to a
    /// timestamp without time zone and not already read so.
    fn read(&self, expr: &Expr, to: &DataType, schema: &DFSchema) -> Option<Expr> {
        if !matches!(to, DataType::Timestamp(_, None)) {
            return None;
        }
        if matches!(expr, Expr::ScalarFunction(f) if f.name() == NAME) {
            return None;
        }
        if !is_text(&expr.get_type(schema).ok()?) {
            return None;
        }
        Some(Expr::ScalarFunction(ScalarFunction::new_udf(
            self.udf.clone(),
            vec![expr.clone()],
        )))
    }
}

impl AnalyzerRule for PgTimestampText {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_cast_operands(plan, &|expr, to, schema| self.read(expr, to, schema))
    }

    fn name(&self) -> &str {
        "floe_pg_timestamp_text"
    }
}

/// `pg_timestamp_text(t)`: the text `t` without its zone (see
/// [`without_zone`]).
#[derive(Debug, PartialEq, Eq, Hash)]
struct WithoutZone {
    signature: Signature,
}

impl ScalarUDFImpl for WithoutZone {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [value] = args.args.as_slice() else {
            return exec_err!("{NAME} takes one argument");
        };
        let read = |array: &ArrayRef| -> Result<ArrayRef> {
            let text = cast(array, &DataType::Utf8)?;
            let text: &StringArray = text.as_string();
            Ok(Arc::new(
                text.iter()
                    .map(|t| t.map(without_zone))
                    .collect::<StringArray>(),
            ))
        };
        Ok(match value {
            ColumnarValue::Array(array) => ColumnarValue::Array(read(array)?),
            ColumnarValue::Scalar(scalar) => {
                ColumnarValue::Scalar(ScalarValue::try_from_array(&read(&scalar.to_array()?)?, 0)?)
            }
        })
    }
}

#[cfg(test)]
mod tests;
