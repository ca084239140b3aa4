//! Each data file's column bounds, for DataFusion to skip whole files.
//!
//! A filter, a join's dynamic filter or a TopK threshold prunes a file
//! before it is opened only when the file's [`PartitionedFile`] statistics
//! carry min/max values. They come from the row group statistics in the
//! file's Parquet footer, matched to the table's columns by Iceberg field
//! id (never by name: after a rename and a re-add, a file's column of a
//! name can be another column). DataFusion prunes with exact bounds only,
//! so bounds are exact where Parquet says every row group's is; they are
//! inexact (kept, not pruned on) when a row group's was truncated, or when
//! the file has deleted rows, whose values may lie at the ends.
//!
//! A column gets no bounds when any row group lacks statistics for it,
//! when it is nested, when it is floating point (Parquet bounds leave NaN
//! out, and NaN is greater than every number in PostgreSQL), or when a
//! bound does not cast to the table's type.
//!
//! [`PartitionedFile`]: datafusion::datasource::listing::PartitionedFile

use std::cmp::Ordering;

use arrow::array::{Array, ArrayRef};
use arrow::datatypes::{Field, Schema};
use datafusion::common::stats::Precision;
use datafusion::common::{ColumnStatistics, ScalarValue};
use floe_storage::conform::field_id;
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::arrow::parquet_to_arrow_schema;
use parquet::file::metadata::ParquetMetaData;

/// The bounds of the columns of `table_schema` the scan reads
/// (`projection`, all when `None`) in the file `footer` describes, in the
/// table's column order, the others unknown; `deletes` says whether some
/// of the file's rows are deleted.
pub(super) fn column_statistics(
    footer: &ParquetMetaData,
    table_schema: &Schema,
    projection: Option<&Vec<usize>>,
    deletes: bool,
) -> Vec<ColumnStatistics> {
    let mut stats = vec![ColumnStatistics::new_unknown(); table_schema.fields().len()];
    let read: Vec<usize> = match projection {
        Some(p) => p.clone(),
        None => (0..stats.len()).collect(),
    };
    if read.is_empty() {
        return stats;
    }
    let metadata = footer.file_metadata();
    let Ok(file_schema) =
        parquet_to_arrow_schema(metadata.schema_descr(), metadata.key_value_metadata())
    else {
        return stats;
    };
    for i in read {
        if let Some(bounds) = table_schema
            .fields()
            .get(i)
            .and_then(|field| bounds(footer, &file_schema, field, deletes))
        {
            stats[i] = bounds;
        }
    }
    stats
}

/// The bounds of one table column in the file, if it has them.
fn bounds(
    footer: &ParquetMetaData,
    file_schema: &Schema,
    field: &Field,
    deletes: bool,
) -> Option<ColumnStatistics> {
    let id = field_id(field)?;
    let file_field = file_schema
        .fields()
        .iter()
        .find(|f| field_id(f) == Some(id))?;
    if file_field.data_type().is_nested() || file_field.data_type().is_floating() {
        return None;
    }
    let descr = footer.file_metadata().schema_descr();
    let converter = StatisticsConverter::try_new(file_field.name(), file_schema, descr).ok()?;
    let mins = converter.row_group_mins(footer.row_groups().iter()).ok()?;
    let maxes = converter.row_group_maxes(footer.row_groups().iter()).ok()?;
    let min = extreme(&mins, Ordering::Less)?
        .cast_to(field.data_type())
        .ok()?;
    let max = extreme(&maxes, Ordering::Greater)?
        .cast_to(field.data_type())
        .ok()?;
    let exact = |flags: parquet::errors::Result<arrow::array::BooleanArray>| {
        !deletes && flags.is_ok_and(|f| f.null_count() == 0 && f.true_count() == f.len())
    };
    let precision = |value: ScalarValue, exact: bool| {
        if exact {
            Precision::Exact(value)
        } else {
            Precision::Inexact(value)
        }
    };
    let row_groups = footer.row_groups();
    Some(ColumnStatistics {
        min_value: precision(
            min,
            exact(converter.row_group_is_min_value_exact(row_groups)),
        ),
        max_value: precision(
            max,
            exact(converter.row_group_is_max_value_exact(row_groups)),
        ),
        ..ColumnStatistics::new_unknown()
    })
}

/// The least (`Less`) or greatest (`Greater`) of the row groups' bounds;
/// `None` if a row group has none or two bounds do not compare.
fn extreme(values: &ArrayRef, keep: Ordering) -> Option<ScalarValue> {
    if values.is_empty() || values.null_count() > 0 {
        return None;
    }
    let mut best = ScalarValue::try_from_array(values, 0).ok()?;
    for i in 1..values.len() {
        let value = ScalarValue::try_from_array(values, i).ok()?;
        if value.partial_cmp(&best)? == keep {
            best = value;
        }
    }
    Some(best)
}

#[cfg(test)]
mod tests;
