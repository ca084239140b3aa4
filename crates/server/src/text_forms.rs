//! Result columns in PostgreSQL's text form where the protocol library's
//! differs (floating-point values, dates, times, timestamps and
//! intervals; see [`floe_query::pg_text`]). A timestamp with time zone is
//! written in the session's time zone, which the client's format options
//! carry.

use std::sync::Arc;

use datafusion_postgres::pgwire::api::results::{FieldFormat, FieldInfo};
use datafusion_postgres::pgwire::types::format::FormatOptions;
use floe_query::datafusion::arrow::array::{ArrayRef, RecordBatch};
use floe_query::datafusion::arrow::datatypes::{DataType, Field, Schema};
use floe_query::datafusion::arrow::error::ArrowError;
use floe_query::pg_text::column_text;

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
    let zone = floe_query::zone::arrow_zone(&options.time_zone)?;
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
            column_text(column, floats, &zone)?
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
