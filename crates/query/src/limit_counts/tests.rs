use std::sync::Arc;

use arrow::array::{ArrayRef, Decimal128Array, Float64Array, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{Field, Schema};
use floe_common::{HasStatus, Status};

use super::{Count, count_expr, single_value};

fn one_column(column: ArrayRef) -> Vec<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "n",
        column.data_type().clone(),
        true,
    )]));
    vec![RecordBatch::try_new(schema, vec![column]).unwrap()]
}

fn limit(column: ArrayRef) -> Result<Option<i64>, crate::error::QueryError> {
    single_value(Count::Limit, &one_column(column))
}

#[test]
fn a_count_is_the_subquery_s_one_value() {
    assert_eq!(limit(Arc::new(Int32Array::from(vec![2]))).unwrap(), Some(2));
    assert_eq!(limit(Arc::new(Int32Array::from(vec![None]))).unwrap(), None);
    assert_eq!(
        limit(Arc::new(Int32Array::from(Vec::<i32>::new()))).unwrap(),
        None
    );
    let e = limit(Arc::new(Int32Array::from(vec![1, 2]))).unwrap_err();
    assert_eq!(e.status(), Status::CardinalityViolation);
}

#[test]
fn fractions_round_as_postgresql_rounds_them() {
    // A double half to even (rint), a numeric half away from zero.
    assert_eq!(
        limit(Arc::new(Float64Array::from(vec![2.5]))).unwrap(),
        Some(2)
    );
    assert_eq!(
        limit(Arc::new(Float64Array::from(vec![3.5]))).unwrap(),
        Some(4)
    );
    let half = Decimal128Array::from(vec![25_i128])
        .with_precision_and_scale(3, 1)
        .unwrap();
    assert_eq!(limit(Arc::new(half)).unwrap(), Some(3));
    let e = limit(Arc::new(Float64Array::from(vec![1e300]))).unwrap_err();
    assert_eq!(e.status(), Status::NumericValueOutOfRange);
}

#[test]
fn a_count_that_is_not_a_number_is_refused() {
    let e = single_value(
        Count::Offset,
        &one_column(Arc::new(StringArray::from(vec!["abc"]))),
    )
    .unwrap_err();
    assert_eq!(e.status(), Status::DatatypeMismatch);
    assert!(
        e.message()
            .starts_with("argument of OFFSET must be type bigint"),
        "{}",
        e.message()
    );
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
