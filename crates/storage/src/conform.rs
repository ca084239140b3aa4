//! Matching columns by Iceberg field id. Files and buffered batches keep
//! the schema they were written with; readers see the table's current one:
//! a renamed column keeps its data, a widened one is cast, an added one is
//! NULL and a dropped one disappears.

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions, new_null_array};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{Field, SchemaRef};
use arrow::error::ArrowError;

/// The Iceberg field id an Arrow field carries (Parquet field-id metadata).
pub fn field_id(field: &Field) -> Option<&str> {
    field
        .metadata()
        .get(parquet::arrow::PARQUET_FIELD_ID_META_KEY)
        .map(String::as_str)
}

/// Conforms `batch` to `target` by field id. A value that does not fit a
/// widened type is an error, never a silent NULL.
pub fn conform_by_id(batch: &RecordBatch, target: &SchemaRef) -> Result<RecordBatch, ArrowError> {
    if batch.schema() == *target {
        return Ok(batch.clone());
    }
    let source = batch.schema();
    let options = CastOptions {
        safe: false,
        ..Default::default()
    };
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(target.fields().len());
    for field in target.fields() {
        let id = field_id(field);
        let found = source
            .fields()
            .iter()
            .position(|f| id.is_some() && field_id(f) == id);
        let column = match found {
            Some(i) if batch.column(i).data_type() == field.data_type() => batch.column(i).clone(),
            Some(i) => cast_with_options(batch.column(i), field.data_type(), &options)?,
            None => new_null_array(field.data_type(), batch.num_rows()),
        };
        columns.push(column);
    }
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(target.clone(), columns, &options)
}

#[cfg(test)]
mod tests;
