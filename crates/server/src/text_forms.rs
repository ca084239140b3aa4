//! Values in PostgreSQL's text form, where the protocol library's differ.
//!
//! - Floating-point values: the shortest digits that read back as the
//!   same value (PostgreSQL's default, with `extra_float_digits` at 1 or
//!   more), in positional notation unless the decimal exponent is below
//!   -4 or at least 15 (6 for `real`), where it is `1.5e+20`; `Infinity`,
//!   `-Infinity`, `NaN` and `-0` as PostgreSQL spells them. The library
//!   writes `1.0`, `1e20` and `inf`.
//! - Dates, times and timestamps: seconds' fractions only when there are
//!   some (`12:00:00`, `12:00:00.5`), rounded to microseconds; years past
//!   9999 in full and years before 1 with `BC`; a timestamp with time zone
//!   in the session's zone, UTC (`+00`). The library writes `.000000`.
//! - Intervals: `1 year 2 mons 3 days 04:05:06.5`.

use std::sync::Arc;

use datafusion_postgres::pgwire::api::results::{FieldFormat, FieldInfo};
use datafusion_postgres::pgwire::types::format::FormatOptions;
use floe_query::datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use floe_query::datafusion::arrow::compute::cast;
use floe_query::datafusion::arrow::datatypes::{
    DataType, Date32Type, Field, Float32Type, Float64Type, Int64Type, IntervalMonthDayNano,
    IntervalMonthDayNanoType, IntervalUnit, Schema, TimeUnit,
};
use floe_query::datafusion::arrow::error::ArrowError;

/// `value` as PostgreSQL writes it; `limit` is the decimal exponent from
/// which the notation is scientific (15 for `double precision`, 6 for
/// `real`). `shortest` and `scientific` are Rust's shortest round-trip
/// forms of the value (`{}` and `{:e}`).
fn pg_text(shortest: String, scientific: String, limit: i32) -> String {
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
pub(crate) fn float8(v: f64) -> String {
    special(v.is_nan(), v.is_infinite(), v.is_sign_negative(), v == 0.0)
        .unwrap_or_else(|| pg_text(format!("{v}"), format!("{v:e}"), 15))
}

/// A `real` value as PostgreSQL writes it.
pub(crate) fn float4(v: f32) -> String {
    special(v.is_nan(), v.is_infinite(), v.is_sign_negative(), v == 0.0)
        .unwrap_or_else(|| pg_text(format!("{v}"), format!("{v:e}"), 6))
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

/// A timestamp in microseconds since the epoch as PostgreSQL writes one
/// (`zone`: `+00` for a timestamp with time zone).
fn timestamp(micros: i64, zone: &str) -> Option<String> {
    let days = micros.div_euclid(DAY_MICROS);
    let text = day(days)?;
    let time = clock(micros.rem_euclid(DAY_MICROS));
    Some(match text.strip_suffix(" BC") {
        Some(date) => format!("{date} {time}{zone} BC"),
        None => format!("{text} {time}{zone}"),
    })
}

/// An interval as PostgreSQL writes it (`IntervalStyle` postgres): `1 year
/// 2 mons 3 days 04:05:06.5`, each part with its own sign, the time of day
/// shown when it is not zero or nothing else is.
pub fn interval(v: IntervalMonthDayNano) -> String {
    let unit = |n: i32, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut parts = Vec::new();
    let (years, months) = (v.months / 12, v.months % 12);
    if years != 0 {
        parts.push(unit(years, "year", "years"));
    }
    if months != 0 {
        parts.push(unit(months, "mon", "mons"));
    }
    if v.days != 0 {
        parts.push(unit(v.days, "day", "days"));
    }
    let micros = micros_of_nanos(v.nanoseconds);
    if micros != 0 || parts.is_empty() {
        parts.push(clock(micros));
    }
    parts.join(" ")
}

/// A date, time, timestamp or interval column as PostgreSQL's text (see
/// the module's doc); `None` for other types.
pub fn temporal_text(column: &ArrayRef) -> Result<Option<StringArray>, ArrowError> {
    column_text(column, false)
}

/// A column as PostgreSQL's text, if Floe writes its type itself
/// (`floats`: doubles and reals too).
fn column_text(column: &ArrayRef, floats: bool) -> Result<Option<StringArray>, ArrowError> {
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
        DataType::Timestamp(unit, zone) => {
            let raw = cast(column, &DataType::Int64)?;
            let raw = raw.as_primitive::<Int64Type>();
            let micros = match unit {
                TimeUnit::Nanosecond => raw.unary::<_, Int64Type>(micros_of_nanos),
                TimeUnit::Microsecond => raw.clone(),
                TimeUnit::Millisecond => raw.unary(|v| v.saturating_mul(1_000)),
                TimeUnit::Second => raw.unary(|v| v.saturating_mul(1_000_000)),
            };
            let zone = if zone.is_some() { "+00" } else { "" };
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

/// `batch` with the columns sent in text format (`fields`) whose type
/// Floe writes itself (see the module's doc) converted to PostgreSQL's
/// text. Floating-point values are left to the library when the client
/// set `extra_float_digits` below 1 (it rounds to fewer digits then).
pub(crate) fn as_text(
    batch: RecordBatch,
    fields: &[FieldInfo],
    options: &FormatOptions,
) -> Result<RecordBatch, ArrowError> {
    let schema = batch.schema();
    let floats = options.extra_float_digits >= 1;
    let text_format = |i: usize| {
        fields
            .get(i)
            .is_some_and(|f| f.format() == FieldFormat::Text)
    };
    let mut converted = false;
    let mut new_fields = Vec::with_capacity(schema.fields().len());
    let mut columns = Vec::with_capacity(schema.fields().len());
    for (i, (field, column)) in schema.fields().iter().zip(batch.columns()).enumerate() {
        let text = if text_format(i) {
            column_text(column, floats)?
        } else {
            None
        };
        match text {
            Some(text) => {
                converted = true;
                new_fields.push(Arc::new(Field::new(field.name(), DataType::Utf8, true)));
                columns.push(Arc::new(text) as ArrayRef);
            }
            None => {
                new_fields.push(field.clone());
                columns.push(column.clone());
            }
        }
    }
    if !converted {
        return Ok(batch);
    }
    debug_assert!(columns.iter().all(|c| c.len() == batch.num_rows()));
    RecordBatch::try_new(Arc::new(Schema::new(new_fields)), columns)
}

#[cfg(test)]
mod tests;
