//! Floating-point values in PostgreSQL's text form: the shortest digits
//! that read back as the same value (PostgreSQL's default, with
//! `extra_float_digits` at 1 or more), in positional notation unless the
//! decimal exponent is below -4 or at least 15 (6 for `real`), where it is
//! `1.5e+20`; `Infinity`, `-Infinity`, `NaN` and `-0` as PostgreSQL spells
//! them. The protocol library writes `1.0`, `1e20` and `inf` instead.

use std::sync::Arc;

use datafusion_postgres::pgwire::api::results::{FieldFormat, FieldInfo};
use datafusion_postgres::pgwire::types::format::FormatOptions;
use floe_query::datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use floe_query::datafusion::arrow::datatypes::{DataType, Field, Float32Type, Float64Type, Schema};
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

/// `batch` with its floating-point columns sent in text format (`fields`)
/// as PostgreSQL's text; unchanged when the client set
/// `extra_float_digits` below 1 (the library rounds to fewer digits then).
pub(crate) fn floats_as_text(
    batch: RecordBatch,
    fields: &[FieldInfo],
    options: &FormatOptions,
) -> Result<RecordBatch, ArrowError> {
    let schema = batch.schema();
    let converts = |i: usize| {
        matches!(
            schema.field(i).data_type(),
            DataType::Float32 | DataType::Float64
        ) && fields
            .get(i)
            .is_some_and(|f| f.format() == FieldFormat::Text)
    };
    if options.extra_float_digits < 1 || !(0..schema.fields().len()).any(converts) {
        return Ok(batch);
    }
    let mut new_fields = Vec::with_capacity(schema.fields().len());
    let mut columns = Vec::with_capacity(schema.fields().len());
    for (i, (field, column)) in schema.fields().iter().zip(batch.columns()).enumerate() {
        if !converts(i) {
            new_fields.push(field.clone());
            columns.push(column.clone());
            continue;
        }
        let text: StringArray = match column.data_type() {
            DataType::Float64 => column
                .as_primitive::<Float64Type>()
                .iter()
                .map(|v| v.map(float8))
                .collect(),
            _ => column
                .as_primitive::<Float32Type>()
                .iter()
                .map(|v| v.map(float4))
                .collect(),
        };
        new_fields.push(Arc::new(Field::new(field.name(), DataType::Utf8, true)));
        columns.push(Arc::new(text) as ArrayRef);
    }
    debug_assert!(columns.iter().all(|c| c.len() == batch.num_rows()));
    RecordBatch::try_new(Arc::new(Schema::new(new_fields)), columns)
}

#[cfg(test)]
mod tests;
