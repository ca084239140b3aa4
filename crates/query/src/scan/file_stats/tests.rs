use super::*;

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::DataType;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::properties::WriterProperties;

fn with_id(name: &str, data_type: DataType, id: i32) -> Field {
    Field::new(name, data_type, true).with_metadata(HashMap::from([(
        parquet::arrow::PARQUET_FIELD_ID_META_KEY.to_string(),
        id.to_string(),
    )]))
}

/// A file of two row groups: `a` (id 1) 5..=9 then 1..=3, `b` (id 2)
/// text, `x` (id 3) doubles.
fn footer() -> Arc<ParquetMetaData> {
    let schema = Arc::new(Schema::new(vec![
        with_id("a", DataType::Int64, 1),
        with_id("b", DataType::Utf8, 2),
        with_id("x", DataType::Float64, 3),
    ]));
    let file = tempfile::tempfile().unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(3))
        .build();
    let mut writer =
        ArrowWriter::try_new(file.try_clone().unwrap(), schema.clone(), Some(props)).unwrap();
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(vec![5, 9, 7, 1, 3, 2])),
            Arc::new(StringArray::from(vec!["m", "q", "n", "c", "d", "e"])),
            Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])),
        ],
    )
    .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .metadata()
        .clone()
}

fn min_max(s: &ColumnStatistics) -> Option<(ScalarValue, ScalarValue)> {
    match (&s.min_value, &s.max_value) {
        (Precision::Exact(min), Precision::Exact(max)) => Some((min.clone(), max.clone())),
        _ => None,
    }
}

#[test]
fn bounds_of_a_file_with_deleted_rows_are_inexact() {
    let table = Schema::new(vec![with_id("a", DataType::Int64, 1)]);
    let stats = column_statistics(&footer(), &table, None, true);
    assert_eq!(
        stats[0].min_value,
        Precision::Inexact(ScalarValue::Int64(Some(1)))
    );
    assert_eq!(
        stats[0].max_value,
        Precision::Inexact(ScalarValue::Int64(Some(9)))
    );
}

#[test]
fn bounds_span_every_row_group() {
    let footer = footer();
    assert_eq!(footer.row_groups().len(), 2);
    let table = Schema::new(vec![
        with_id("a", DataType::Int64, 1),
        with_id("b", DataType::Utf8, 2),
    ]);
    let stats = column_statistics(&footer, &table, None, false);
    assert_eq!(
        min_max(&stats[0]),
        Some((ScalarValue::Int64(Some(1)), ScalarValue::Int64(Some(9))))
    );
    assert_eq!(
        min_max(&stats[1]),
        Some((ScalarValue::from("c"), ScalarValue::from("q")))
    );
}

#[test]
fn columns_are_matched_by_field_id_not_by_name() {
    // `a` was renamed `old_a` and a new `a` (id 4) added: the file's `a`
    // is `old_a`'s, and the new `a` has no bounds in this file.
    let table = Schema::new(vec![
        with_id("old_a", DataType::Int64, 1),
        with_id("a", DataType::Int64, 4),
    ]);
    let stats = column_statistics(&footer(), &table, None, false);
    assert_eq!(
        min_max(&stats[0]),
        Some((ScalarValue::Int64(Some(1)), ScalarValue::Int64(Some(9))))
    );
    assert_eq!(stats[1], ColumnStatistics::new_unknown());
}

#[test]
fn doubles_and_columns_without_ids_get_no_bounds() {
    let table = Schema::new(vec![
        with_id("x", DataType::Float64, 3),
        Field::new("a", DataType::Int64, true),
    ]);
    let stats = column_statistics(&footer(), &table, None, false);
    assert_eq!(stats[0], ColumnStatistics::new_unknown());
    assert_eq!(stats[1], ColumnStatistics::new_unknown());
}

#[test]
fn a_widened_column_gets_bounds_of_its_new_type() {
    let table = Schema::new(vec![with_id("a", DataType::Decimal128(20, 0), 1)]);
    let stats = column_statistics(&footer(), &table, None, false);
    assert_eq!(
        min_max(&stats[0]),
        Some((
            ScalarValue::Decimal128(Some(1), 20, 0),
            ScalarValue::Decimal128(Some(9), 20, 0)
        ))
    );
}

#[test]
fn only_the_columns_a_scan_reads_get_bounds() {
    let table = Schema::new(vec![
        with_id("a", DataType::Int64, 1),
        with_id("b", DataType::Utf8, 2),
    ]);
    let stats = column_statistics(&footer(), &table, Some(&vec![1]), false);
    assert_eq!(stats[0], ColumnStatistics::new_unknown());
    assert!(min_max(&stats[1]).is_some());
    let none = column_statistics(&footer(), &table, Some(&vec![]), false);
    assert!(none.iter().all(|s| *s == ColumnStatistics::new_unknown()));
}
