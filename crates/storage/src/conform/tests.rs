use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, Int32Array, Int64Array};
use arrow::datatypes::{DataType, Schema};

use super::*;

fn field(name: &str, ty: DataType, id: &str) -> Field {
    Field::new(name, ty, true).with_metadata(HashMap::from([(
        parquet::arrow::PARQUET_FIELD_ID_META_KEY.to_string(),
        id.to_string(),
    )]))
}

#[test]
fn columns_follow_their_ids_through_renames_widening_adds_and_drops() {
    let old = Arc::new(Schema::new(vec![
        field("a", DataType::Int32, "1"),
        field("dropped", DataType::Int32, "2"),
    ]));
    let batch = RecordBatch::try_new(
        old,
        vec![
            Arc::new(Int32Array::from(vec![1, 2])),
            Arc::new(Int32Array::from(vec![9, 9])),
        ],
    )
    .unwrap();
    let new = Arc::new(Schema::new(vec![
        field("renamed", DataType::Int64, "1"),
        field("added", DataType::Int32, "3"),
    ]));
    let out = conform_by_id(&batch, &new).unwrap();
    let renamed = out.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
    assert_eq!(renamed.values(), &[1, 2]);
    assert_eq!(out.column(1).null_count(), 2);
    // No columns at all still keeps the row count.
    let empty = Arc::new(Schema::empty());
    assert_eq!(conform_by_id(&batch, &empty).unwrap().num_rows(), 2);
}
