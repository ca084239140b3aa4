//! Values in PostgreSQL's text form, where Arrow's differ: what a client
//! reads over the wire in text format, and what a cast to text gives.
//!
//! - Floating-point values: the shortest digits that read back as the
//!   same value (PostgreSQL's default, with `extra_float_digits` at 1 or
//!   more), in positional notation unless the decimal exponent is below
//!   -4 or at least 15 (6 for `real`), where it is `1.5e+20`; `Infinity`,
//!   `-Infinity`, `NaN` and `-0` as PostgreSQL spells them. Arrow writes
//!   `1.0`, `1e20` and `inf`.
//! - Dates, times and timestamps: seconds' fractions only when there are
//!   some (`12:00:00`, `12:00:00.5`), rounded to microseconds; years past
//!   9999 in full and years before 1 with `BC`; a timestamp with time zone
//!   as the wall-clock time in the session's time zone and its offset
//!   there (`2000-01-01 08:00:00+07`). Arrow writes `2000-01-01T01:00:00Z`.
//! - Intervals: `1 year 2 mons 3 days 04:05:06.5` (Arrow: `1 years 2 mons
//!   3 days 4 hours 5 mins 6.5 secs`).
//! - Arrays: `{1,2,NULL}`, `{"a b",c}` (Arrow: `[1, 2, ]`).

use arrow::array::timezone::Tz;
use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{
    DataType, Date32Type, Float32Type, Float64Type, Int64Type, IntervalMonthDayNano,
    IntervalMonthDayNanoType, IntervalUnit, TimeUnit,
};
use arrow::error::ArrowError;
use chrono::{Offset, TimeZone};
use datafusion::common::config::ConfigOptions;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::{Cast, ScalarFunction};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;

use crate::rewrite::rewrite_casts;

/// `value` as PostgreSQL writes it; `limit` is the decimal exponent from
/// which the notation is scientific (15 for `double precision`, 6 for
/// `real`). `shortest` and `scientific` are Rust's shortest round-trip
/// forms of the value (`{}` and `{:e}`).
fn notation(shortest: String, scientific: String, limit: i32) -> String {
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return shortest;
    };
    let Ok(exponent) = exponent.parse::<i32>() else {
        return shortest;
    };
    if (-4..limit).contains(&exponent) {
        return shortest;
    }
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.abs())
}

fn special(is_nan: bool, is_infinite: bool, is_negative: bool, is_zero: bool) -> Option<String> {
    Some(
        match () {
            _ if is_nan => "NaN",
            _ if is_infinite && is_negative => "-Infinity",
            _ if is_infinite => "Infinity",
            _ if is_zero && is_negative => "-0",
            _ if is_zero => "0",
            _ => return None,
        }
        .to_string(),
    )
}

/// A `double precision` value as PostgreSQL writes it.
pub fn float8(v: f64) -> String {
    special(v.is_nan(), v.is_infinite(), v.is_sign_negative(), v == 0.0)
        .unwrap_or_else(|| notation(format!("{v}"), format!("{v:e}"), 15))
}

/// A `real` value as PostgreSQL writes it.
pub fn float4(v: f32) -> String {
    special(v.is_nan(), v.is_infinite(), v.is_sign_negative(), v == 0.0)
        .unwrap_or_else(|| notation(format!("{v}"), format!("{v:e}"), 6))
}

const DAY_MICROS: i64 = 86_400_000_000;

/// `nanos` rounded to microseconds, half away from zero.
fn micros_of_nanos(nanos: i64) -> i64 {
    let (whole, rest) = (nanos / 1000, nanos % 1000);
    whole
        + if rest >= 500 {
            1
        } else if rest <= -500 {
            -1
        } else {
            0
        }
}

/// A time of day (or an interval's time) in microseconds as `HH:MM:SS`,
/// with the fraction's significant digits.
fn clock(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let m = micros.unsigned_abs();
    let (h, rest) = (m / 3_600_000_000, m % 3_600_000_000);
    let (min, rest) = (rest / 60_000_000, rest % 60_000_000);
    let (sec, frac) = (rest / 1_000_000, rest % 1_000_000);
    let mut text = format!("{sign}{h:02}:{min:02}:{sec:02}");
    if frac != 0 {
        text.push_str(format!(".{frac:06}").trim_end_matches('0'));
    }
    text
}

/// A day (days since 1970-01-01) as PostgreSQL writes a date: years past
/// 9999 in full, years before 1 as `BC` (year 0 is 1 BC).
fn day(days: i64) -> Option<String> {
    use chrono::Datelike;
    let date = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?
        .checked_add_signed(chrono::TimeDelta::try_days(days)?)?;
    let (year, era) = match date.year() {
        y if y <= 0 => (1 - y, " BC"),
        y => (y, ""),
    };
    Some(format!(
        "{year:04}-{:02}-{:02}{era}",
        date.month(),
        date.day()
    ))
}

/// A timestamp in microseconds since the epoch as PostgreSQL writes one:
/// without time zone (`zone` `None`), or with time zone as the wall-clock
/// time in `zone` followed by its offset there (`+00`, `-03:30`).
fn timestamp(micros: i64, zone: Option<&Tz>) -> Option<String> {
    let (micros, suffix) = match zone {
        None => (micros, String::new()),
        Some(tz) => {
            let instant = chrono::DateTime::from_timestamp_micros(micros)?;
            let east = tz.offset_from_utc_datetime(&instant.naive_utc()).fix();
            let east = east.local_minus_utc();
            (micros.checked_add(east as i64 * 1_000_000)?, offset(east))
        }
    };
    let days = micros.div_euclid(DAY_MICROS);
    let text = day(days)?;
    let time = clock(micros.rem_euclid(DAY_MICROS));
    Some(match text.strip_suffix(" BC") {
        Some(date) => format!("{date} {time}{suffix} BC"),
        None => format!("{text} {time}{suffix}"),
    })
}

/// An offset east of Greenwich in seconds as PostgreSQL writes it after a
/// time: `+07`, `-03:30`, `+00:19:32`.
pub(crate) fn offset(east: i32) -> String {
    let sign = if east < 0 { '-' } else { '+' };
    let east = east.unsigned_abs();
    let (h, m, s) = (east / 3600, east % 3600 / 60, east % 60);
    match (m, s) {
        (0, 0) => format!("{sign}{h:02}"),
        (m, 0) => format!("{sign}{h:02}:{m:02}"),
        (m, s) => format!("{sign}{h:02}:{m:02}:{s:02}"),
    }
}

/// An interval as PostgreSQL writes it (`IntervalStyle` postgres): `1 year
/// 2 mons 3 days 04:05:06.5`, the time of day shown when it is not zero
/// or nothing else is. Each part has its own sign, and a positive part
/// after a negative one is written with `+` (`-1 mons +30 days`).
pub fn interval(v: IntervalMonthDayNano) -> String {
    let mut out = String::new();
    // Whether the last part written was negative.
    let mut before_negative = false;
    let mut part = |n: i32, unit: &str, out: &mut String| {
        if n == 0 {
            return;
        }
        let space = if out.is_empty() { "" } else { " " };
        let plus = if before_negative && n > 0 { "+" } else { "" };
        let plural = if n == 1 { "" } else { "s" };
        out.push_str(&format!("{space}{plus}{n} {unit}{plural}"));
        before_negative = n < 0;
    };
    part(v.months / 12, "year", &mut out);
    part(v.months % 12, "mon", &mut out);
    part(v.days, "day", &mut out);
    let micros = micros_of_nanos(v.nanoseconds);
    if micros != 0 || out.is_empty() {
        let space = if out.is_empty() { "" } else { " " };
        let plus = if before_negative && micros > 0 {
            "+"
        } else {
            ""
        };
        out.push_str(&format!("{space}{plus}{}", clock(micros)));
    }
    out
}

/// A column as PostgreSQL's text, if Floe writes its type itself
/// (`floats`: doubles and reals too); a timestamp with time zone is
/// written in `zone`.
pub fn column_text(
    column: &ArrayRef,
    floats: bool,
    zone: &Tz,
) -> Result<Option<StringArray>, ArrowError> {
    let nanos = |column: &ArrayRef, to: DataType| -> Result<ArrayRef, ArrowError> {
        cast(&cast(column, &to)?, &DataType::Int64)
    };
    Ok(Some(match column.data_type() {
        DataType::Float64 if floats => column
            .as_primitive::<Float64Type>()
            .iter()
            .map(|v| v.map(float8))
            .collect(),
        DataType::Float32 if floats => column
            .as_primitive::<Float32Type>()
            .iter()
            .map(|v| v.map(float4))
            .collect(),
        DataType::Date32 => column
            .as_primitive::<Date32Type>()
            .iter()
            .map(|v| v.and_then(|d| day(d as i64)))
            .collect(),
        DataType::Time32(_) | DataType::Time64(_) => {
            nanos(column, DataType::Time64(TimeUnit::Nanosecond))?
                .as_primitive::<Int64Type>()
                .iter()
                .map(|v| v.map(|n| clock(micros_of_nanos(n))))
                .collect()
        }
        DataType::Timestamp(unit, tagged) => {
            let raw = cast(column, &DataType::Int64)?;
            let raw = raw.as_primitive::<Int64Type>();
            let micros = match unit {
                TimeUnit::Nanosecond => raw.unary::<_, Int64Type>(micros_of_nanos),
                TimeUnit::Microsecond => raw.clone(),
                TimeUnit::Millisecond => raw.unary(|v| v.saturating_mul(1_000)),
                TimeUnit::Second => raw.unary(|v| v.saturating_mul(1_000_000)),
            };
            let zone = tagged.is_some().then_some(zone);
            micros
                .iter()
                .map(|v| v.and_then(|m| timestamp(m, zone)))
                .collect()
        }
        DataType::Interval(IntervalUnit::MonthDayNano) => column
            .as_primitive::<IntervalMonthDayNanoType>()
            .iter()
            .map(|v| v.map(interval))
            .collect(),
        _ => return Ok(None),
    }))
}

/// Arrays as PostgreSQL writes them in a cast to text (the wire's text
/// format has its own writer): `{1,2,NULL}`, an element quoted
/// (with `"` and `\` escaped) where it is empty, `NULL`, or holds a
/// brace, comma, quote, backslash or space; `{{1,2},{3,4}}` for arrays
/// of arrays.
fn list_text<O: arrow::array::OffsetSizeTrait>(
    lists: &arrow::array::GenericListArray<O>,
    floats: bool,
    zone: &Tz,
) -> Result<StringArray, ArrowError> {
    let values = lists.values();
    let nested = matches!(
        values.data_type(),
        DataType::List(_) | DataType::LargeList(_)
    );
    let elements: StringArray = match values.data_type() {
        DataType::Boolean => values
            .as_boolean()
            .iter()
            .map(|v| v.map(|b| if b { "t" } else { "f" }))
            .collect(),
        _ => match column_text(values, floats, zone)? {
            Some(text) => text,
            None => cast(values, &DataType::Utf8)?.as_string::<i32>().clone(),
        },
    };
    let offsets = lists.value_offsets();
    Ok((0..lists.len())
        .map(|row| {
            if lists.is_null(row) {
                return None;
            }
            let mut out = String::from("{");
            let (start, end) = (offsets[row].as_usize(), offsets[row + 1].as_usize());
            for i in start..end {
                if i > start {
                    out.push(',');
                }
                if elements.is_null(i) {
                    out.push_str("NULL");
                } else if nested {
                    out.push_str(elements.value(i));
                } else {
                    push_element(&mut out, elements.value(i));
                }
            }
            out.push('}');
            Some(out)
        })
        .collect())
}

/// One element of an array's text, quoted where PostgreSQL quotes it.
fn push_element(out: &mut String, text: &str) {
    let quote = text.is_empty()
        || text.eq_ignore_ascii_case("NULL")
        || text
            .chars()
            .any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_ascii_whitespace());
    if !quote {
        out.push_str(text);
        return;
    }
    out.push('"');
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

const NAME: &str = "pg_text";

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
}

/// Whether Floe writes a value of type `t` as text itself (see the
/// module's doc).
fn written_by_floe(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Float32
            | DataType::Float64
            | DataType::Date32
            | DataType::Time32(_)
            | DataType::Time64(_)
            | DataType::Timestamp(..)
            | DataType::Interval(IntervalUnit::MonthDayNano)
            | DataType::List(_)
            | DataType::LargeList(_)
    )
}

/// The analyzer rule that makes every cast of a floating-point, date,
/// time, timestamp or interval value to text (written, or added by type
/// coercion, as for `ts || 'x'`) give PostgreSQL's text: `pg_text(value)`.
#[derive(Debug)]
pub struct PgTextCasts {
    udf: std::sync::Arc<ScalarUDF>,
}

impl Default for PgTextCasts {
    fn default() -> Self {
        PgTextCasts::new()
    }
}

impl PgTextCasts {
    pub fn new() -> PgTextCasts {
        PgTextCasts {
            udf: std::sync::Arc::new(ScalarUDF::new_from_impl(PgText {
                signature: Signature::any(1, Volatility::Immutable),
            })),
        }
    }

    /// The text of `operand` cast to `to`, if Floe writes it.
    fn text(&self, operand: &Expr, to: &DataType, schema: &DFSchema) -> Option<Expr> {
        if !is_text(to) || !written_by_floe(&operand.get_type(schema).ok()?) {
            return None;
        }
        let text = Expr::ScalarFunction(ScalarFunction::new_udf(
            self.udf.clone(),
            vec![operand.clone()],
        ));
        Some(match to {
            DataType::Utf8 => text,
            other => Expr::Cast(Cast::new(Box::new(text), other.clone())),
        })
    }
}

impl AnalyzerRule for PgTextCasts {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_casts(plan, &|expr, to, schema| self.text(expr, to, schema))
    }

    fn name(&self) -> &str {
        "floe_pg_text_casts"
    }
}

/// `pg_text(value)`: a value as PostgreSQL's text; a timestamp with time
/// zone in the session's zone.
#[derive(Debug, PartialEq, Eq, Hash)]
struct PgText {
    signature: Signature,
}

impl ScalarUDFImpl for PgText {
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
        let zone = args
            .config_options
            .execution
            .time_zone
            .as_deref()
            .unwrap_or("UTC");
        let zone = crate::zone::arrow_zone(zone)?;
        let (arrays, scalar) = crate::columnar::arrays(&args.args, args.number_rows)?;
        let [value] = arrays.as_slice() else {
            return datafusion::common::exec_err!("{NAME} takes one argument");
        };
        let text: ArrayRef = match value.data_type() {
            DataType::List(_) => {
                std::sync::Arc::new(list_text(value.as_list::<i32>(), true, &zone)?)
            }
            DataType::LargeList(_) => {
                std::sync::Arc::new(list_text(value.as_list::<i64>(), true, &zone)?)
            }
            _ => match column_text(value, true, &zone)? {
                Some(text) => std::sync::Arc::new(text),
                None => cast(value, &DataType::Utf8)?,
            },
        };
        crate::columnar::answer(text, scalar)
    }
}

#[cfg(test)]
mod tests;
