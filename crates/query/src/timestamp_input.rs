//! Text read as a timestamp as PostgreSQL reads it:
//!
//! - as a `timestamp` (without time zone), a time zone written after the
//!   time is ignored, so `'2021-01-01 00:00:00+02'::timestamp` is
//!   `2021-01-01 00:00:00`. DataFusion's cast converts such text to UTC
//!   instead (`2020-12-31 22:00:00`), which would store a different
//!   wall-clock time on INSERT;
//! - a time of day without seconds (`2021-01-01 10:30`) has zero seconds;
//!   DataFusion's cast refuses it;
//! - RFC 2822 and HTTP dates (`Sat, 1 Jan 2022 01:10:00 GMT`) are read,
//!   as PostgreSQL reads them.
//!
//! Every cast of text to a timestamp in a plan, written or added by INSERT
//! and type coercion, reads the text so first ([`PgTimestampText`], after
//! type coercion).

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
const ZONED_NAME: &str = "pg_timestamptz_text";

/// `text` with a zone written by name after its time (`EDT`,
/// `America/New_York`, `GMT-1`) written as the offset it has there
/// (`-04:00`), which Arrow reads; other text is left alone.
pub(crate) fn zone_as_offset(text: &str) -> std::borrow::Cow<'_, str> {
    let Some((head, zone)) = text.trim_end().rsplit_once(' ') else {
        return text.into();
    };
    if !zone.starts_with(|c: char| c.is_ascii_alphabetic())
        || ["BC", "AD"].iter().any(|e| zone.eq_ignore_ascii_case(e))
    {
        return text.into();
    }
    let wall = ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(head.trim(), f).ok());
    let Some(east) = wall.and_then(|wall| crate::zone::written_zone_offset(zone, wall)) else {
        return text.into();
    };
    format!("{}{}", head.trim(), crate::zone::hours_minutes(east)).into()
}

/// `text` with `:00` seconds after a time of day written without them
/// (`10:30` is `10:30:00`).
pub(crate) fn with_seconds(text: &str) -> std::borrow::Cow<'_, str> {
    let Some(colon) = text.find(':') else {
        return text.into();
    };
    let bytes = text.as_bytes();
    let minutes = bytes.get(colon + 1..colon + 3);
    let after = bytes.get(colon + 3);
    match (minutes, after) {
        (Some(m), after)
            if m.iter().all(u8::is_ascii_digit)
                && after.is_none_or(|c| !c.is_ascii_digit() && *c != b':' && *c != b'.') =>
        {
            format!("{}:00{}", &text[..colon + 3], &text[colon + 3..]).into()
        }
        _ => text.into(),
    }
}

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

/// Text in the form of RFC 2822 and HTTP dates (`Sat, 1 Jan 2022 01:10:00
/// GMT`), which PostgreSQL reads, as the ISO text Arrow reads: with its
/// offset when the zone is kept, as the wall-clock time written when not.
pub(crate) fn rfc_2822(text: &str, keeps_zone: bool) -> Option<String> {
    let parsed = chrono::DateTime::parse_from_rfc2822(text.trim()).ok()?;
    Some(if keeps_zone {
        parsed.to_rfc3339()
    } else {
        parsed
            .naive_local()
            .format("%Y-%m-%dT%H:%M:%S%.f")
            .to_string()
    })
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// The analyzer rule that reads text cast to a timestamp without time
/// zone as PostgreSQL does (see the module's doc).
#[derive(Debug)]
pub struct PgTimestampText {
    udf: Arc<ScalarUDF>,
    zoned: Arc<ScalarUDF>,
}

impl Default for PgTimestampText {
    fn default() -> Self {
        PgTimestampText::new()
    }
}

impl PgTimestampText {
    pub fn new() -> PgTimestampText {
        let reader = |keeps_zone| {
            Arc::new(ScalarUDF::new_from_impl(TimestampText {
                keeps_zone,
                signature: Signature::any(1, Volatility::Immutable),
            }))
        };
        PgTimestampText {
            udf: reader(false),
            zoned: reader(true),
        }
    }

    /// `expr` read as PostgreSQL reads it (see the module's doc), if it is
    /// text cast (in `schema`) to a timestamp and not already read so.
    fn read(&self, expr: &Expr, to: &DataType, schema: &DFSchema) -> Option<Expr> {
        let reader = match to {
            DataType::Timestamp(_, None) => &self.udf,
            DataType::Timestamp(_, Some(_)) => &self.zoned,
            _ => return None,
        };
        if matches!(expr, Expr::ScalarFunction(f) if f.name() == NAME || f.name() == ZONED_NAME) {
            return None;
        }
        if !is_text(&expr.get_type(schema).ok()?) {
            return None;
        }
        Some(Expr::ScalarFunction(ScalarFunction::new_udf(
            reader.clone(),
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
/// [`without_zone`]) and with seconds ([`with_seconds`]);
/// `pg_timestamptz_text(t)` keeps the zone.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TimestampText {
    keeps_zone: bool,
    signature: Signature,
}

impl ScalarUDFImpl for TimestampText {
    fn name(&self) -> &str {
        if self.keeps_zone { ZONED_NAME } else { NAME }
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
                    .map(|t| {
                        t.map(|t| {
                            if let Some(read) = rfc_2822(t, self.keeps_zone) {
                                read
                            } else if self.keeps_zone {
                                zone_as_offset(&with_seconds(t)).into_owned()
                            } else {
                                with_seconds(without_zone(t)).into_owned()
                            }
                        })
                    })
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
