use super::*;

use std::collections::HashMap as Map;

use arrow::array::{Int32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

fn with_id(name: &str, data_type: DataType, id: i32) -> Field {
    Field::new(name, data_type, true).with_metadata(Map::from([(
        parquet::arrow::PARQUET_FIELD_ID_META_KEY.to_string(),
        id.to_string(),
    )]))
}

/// Writes a file of row groups of three rows: `a` (id 1, bigint), `b`
/// (id 2, text), `c` (id 3, int, NULL in the second row group only), `d`
/// (id 4, int, all NULL).
fn file(dir: &std::path::Path, name: &str, a: Vec<i64>) -> String {
    let schema = Arc::new(Schema::new(vec![
        with_id("a", DataType::Int64, 1),
        with_id("b", DataType::Utf8, 2),
        with_id("c", DataType::Int32, 3),
        with_id("d", DataType::Int32, 4),
    ]));
    let path = dir.join(name);
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(3))
        .build();
    let mut writer = ArrowWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        schema.clone(),
        Some(props),
    )
    .unwrap();
    let n = a.len();
    let c: Vec<Option<i32>> = (0..n as i32)
        .map(|i| (!(3..6).contains(&i)).then_some(i * 10 - 5))
        .collect();
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(a)),
            Arc::new(StringArray::from(vec!["x"; n])),
            Arc::new(Int32Array::from(c)),
            Arc::new(Int32Array::from(vec![None::<i32>; n])),
        ],
    )
    .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn ranges_of_a_file_are_its_integer_columns_over_every_row_group() {
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "f.parquet", vec![5, 9, 7, 1, 3, 2, 40]);
    let ranges = file_ranges(&path).unwrap();
    assert_eq!(ranges.get(&1), Some(&(1, 40)));
    // Text has no range; a row group of NULLs only adds no values.
    assert_eq!(ranges.get(&2), None);
    assert_eq!(ranges.get(&3), Some(&(-5, 55)));
    assert_eq!(ranges.get(&4), None);
}

#[test]
fn an_unreadable_file_has_no_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.parquet");
    std::fs::write(&path, b"not parquet").unwrap();
    assert!(file_ranges(&path.to_string_lossy()).is_none());
}

#[tokio::test]
async fn a_table_spans_its_files_and_forgets_columns_one_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let one = file(dir.path(), "1.parquet", vec![5, 9, 7]);
    let two = file(dir.path(), "2.parquet", vec![-3, 0, 100, 4]);
    let cache = EstimateCache::default();
    let ranges = cache.table_ranges(vec![one.clone(), two.clone()]).await;
    assert_eq!(ranges.get(&1), Some(&(-3, 100)));
    assert_eq!(ranges.get(&3), Some(&(-5, 15)));
    // Read once, kept: a file removed from disk is still known.
    std::fs::remove_file(&two).unwrap();
    let again = cache.table_ranges(vec![one, two]).await;
    assert_eq!(again, ranges);
    // A file whose footer cannot be read leaves the table without ranges.
    let bad = dir.path().join("bad.parquet");
    std::fs::write(&bad, b"x").unwrap();
    let with_bad = cache
        .table_ranges(vec![bad.to_string_lossy().into_owned()])
        .await;
    assert!(with_bad.is_empty());
}
