//! Rendering Arrow values the way PostgreSQL prints them in text format, so
//! in-process results and PG wire results compare equal in SQL logic tests.

use arrow::array::timezone::Tz;
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float32Type, Float64Type, IntervalUnit};
use arrow::util::display::{ArrayFormatter, FormatOptions};

/// One value in PostgreSQL's text form (a timestamp with time zone in
/// `zone`); `None` for NULL.
pub fn pg_text(column: &dyn Array, row: usize, zone: &Tz) -> Option<String> {
    if column.is_null(row) {
        return None;
    }
    let text = match column.data_type() {
        DataType::Boolean => if column.as_boolean().value(row) {
            "t"
        } else {
            "f"
        }
        .to_string(),
        DataType::Float64 => float(column.as_primitive::<Float64Type>().value(row)),
        DataType::Float32 => float(column.as_primitive::<Float32Type>().value(row) as f64),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => {
            format!("\\x{}", display(column, row))
        }
        DataType::Date32
        | DataType::Timestamp(..)
        | DataType::Time32(_)
        | DataType::Time64(_)
        | DataType::Interval(IntervalUnit::MonthDayNano) => {
            match floe_query::pg_text::column_text(&column.slice(row, 1), false, zone) {
                Ok(Some(text)) => text.value(0).to_string(),
                _ => display(column, row),
            }
        }
        _ => display(column, row),
    };
    Some(text)
}

fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        }
    } else {
        format!("{v}")
    }
}

fn display(column: &dyn Array, row: usize) -> String {
    ArrayFormatter::try_new(column, &FormatOptions::default())
        .map(|f| f.value(row).to_string())
        .unwrap_or_else(|e| format!("<{e}>"))
}

/// All rows of the batches as PostgreSQL text, in `zone`.
pub fn rows(batches: &[RecordBatch], zone: &Tz) -> Vec<Vec<Option<String>>> {
    let mut out = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            out.push(
                b.columns()
                    .iter()
                    .map(|c| pg_text(c.as_ref(), r, zone))
                    .collect(),
            );
        }
    }
    out
}
