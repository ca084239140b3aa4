use std::sync::Arc;

use arrow::array::{Float64Array, Int32Array, RecordBatch};
use arrow::datatypes::{Field, Schema};
use floe_common::{HasStatus, Status};

use super::{Count, count_expr, single_value};

fn one_column(column: arrow::array::ArrayRef) -> Vec<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "n",
        column.data_type().clone(),
        true,
    )]));
    vec![RecordBatch::try_new(schema, vec![column]).unwrap()]
}

#[test]
fn a_count_is_the_subquery_s_one_value() {
    assert_eq!(
        single_value(&one_column(Arc::new(Int32Array::from(vec![2])))).unwrap(),
        Some(2)
    );
    assert_eq!(
        single_value(&one_column(Arc::new(Int32Array::from(vec![None])))).unwrap(),
        None
    );
    assert_eq!(
        single_value(&one_column(Arc::new(Int32Array::from(Vec::<i32>::new())))).unwrap(),
        None
    );
    // PostgreSQL rounds a fractional count.
    assert_eq!(
        single_value(&one_column(Arc::new(Float64Array::from(vec![2.5])))).unwrap(),
        Some(3)
    );
    let e = single_value(&one_column(Arc::new(Int32Array::from(vec![1, 2])))).unwrap_err();
    assert_eq!(e.status(), Status::CardinalityViolation);
}

#[test]
fn negative_counts_are_refused_and_null_means_none() {
    let e = count_expr(Count::Limit, Some(-1)).unwrap_err();
    assert_eq!(e.status().sqlstate(), "2201W");
    assert_eq!(e.message(), "LIMIT must not be negative");
    let e = count_expr(Count::Offset, Some(-1)).unwrap_err();
    assert_eq!(e.status().sqlstate(), "2201X");
    assert_eq!(count_expr(Count::Limit, Some(2)).unwrap().to_string(), "2");
    assert_eq!(
        count_expr(Count::Limit, None).unwrap().to_string(),
        i64::MAX.to_string()
    );
    assert_eq!(count_expr(Count::Offset, None).unwrap().to_string(), "0");
}
