use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Expr, col, lit};

use super::filters_to_predicate;

fn schema() -> Schema {
    Schema::new(vec![
        Field::new("i", DataType::Int32, true),
        Field::new("l", DataType::Int64, true),
        Field::new("d", DataType::Float64, true),
        Field::new("s", DataType::Utf8, true),
        Field::new("b", DataType::Boolean, true),
        Field::new("m", DataType::Decimal128(15, 2), true),
        Field::new("day", DataType::Date32, true),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some(Arc::from("UTC"))),
            true,
        ),
    ])
}

fn pred(filters: &[Expr]) -> Option<String> {
    filters_to_predicate(filters, &schema()).map(|p| p.to_string())
}

#[test]
fn comparisons_either_way_round() {
    assert_eq!(pred(&[col("i").gt(lit(5))]).as_deref(), Some("i > 5"));
    assert_eq!(pred(&[lit(5).gt(col("i"))]).as_deref(), Some("i < 5"));
    assert_eq!(pred(&[col("s").eq(lit("x"))]).as_deref(), Some("s = \"x\""));
    assert_eq!(
        pred(&[col("l").lt_eq(lit(7i64)), col("b")]).as_deref(),
        Some("(l <= 7) AND (b = true)")
    );
}

#[test]
fn literals_take_the_stored_type_or_prune_nothing() {
    // An Int64 literal that fits the int column converts exactly.
    assert_eq!(pred(&[col("i").eq(lit(3i64))]).as_deref(), Some("i = 3"));
    // One that does not fit, and a fraction against an integer, have no
    // exact form.
    assert_eq!(pred(&[col("i").eq(lit(1i64 << 40))]), None);
    assert_eq!(pred(&[col("i").lt(lit(2.5f64))]), None);
    // NULL literals and comparisons of two columns prune nothing.
    assert_eq!(pred(&[col("i").eq(lit(ScalarValue::Int32(None)))]), None);
    assert_eq!(pred(&[col("i").eq(col("l"))]), None);
    // A column the stored schema does not have.
    assert_eq!(pred(&[col("nope").eq(lit(1))]), None);
}

#[test]
fn decimals_dates_and_timestamps_keep_their_scale_and_unit() {
    let m = lit(ScalarValue::Decimal128(Some(12345), 15, 2));
    assert_eq!(pred(&[col("m").gt_eq(m)]).as_deref(), Some("m >= 123.45"));
    let day = lit(ScalarValue::Date32(Some(19000)));
    assert_eq!(
        pred(&[col("day").lt(day)]).as_deref(),
        Some("day < 2022-01-08")
    );
    let ts = lit(ScalarValue::TimestampMicrosecond(
        Some(1_000_000),
        Some(Arc::from("UTC")),
    ));
    assert!(
        pred(&[col("ts").gt(ts)])
            .unwrap()
            .starts_with("ts > 1970-01-01")
    );
}

#[test]
fn and_keeps_what_converts_or_needs_both_sides() {
    let opaque = Expr::ScalarFunction(datafusion::logical_expr::expr::ScalarFunction::new_udf(
        datafusion::functions::string::lower(),
        vec![col("s")],
    ))
    .eq(lit("a"));
    assert_eq!(
        pred(&[col("i").gt(lit(1)).and(opaque.clone())]).as_deref(),
        Some("i > 1")
    );
    assert_eq!(pred(&[col("i").gt(lit(1)).or(opaque.clone())]), None);
    assert_eq!(
        pred(&[col("i").gt(lit(1)).or(col("l").lt(lit(0i64)))]).as_deref(),
        Some("(i > 1) OR (l < 0)")
    );
}

#[test]
fn only_exact_predicates_are_negated() {
    let opaque = Expr::ScalarFunction(datafusion::logical_expr::expr::ScalarFunction::new_udf(
        datafusion::functions::string::lower(),
        vec![col("s")],
    ))
    .eq(lit("a"));
    // NOT (i > 1 AND f(s)) is true for rows with i > 1: negating the part
    // that converts (i <= 1) would prune them.
    assert_eq!(pred(&[!(col("i").gt(lit(1)).and(opaque))]), None);
    assert_eq!(
        pred(&[!(col("i").gt(lit(1)))]).as_deref(),
        Some("NOT (i > 1)")
    );
    assert_eq!(pred(&[col("s").is_null()]).as_deref(), Some("s IS NULL"));
}

#[test]
fn in_lists_and_between() {
    assert_eq!(
        pred(&[col("i").in_list(vec![lit(1), lit(2)], false)]).as_deref(),
        Some("i IN (1, 2)")
    );
    // A NULL in the list: no exact form.
    assert_eq!(
        pred(&[col("i").in_list(vec![lit(1), lit(ScalarValue::Int32(None))], true)]),
        None
    );
    assert_eq!(
        pred(&[col("d").between(lit(1.0f64), lit(2.0f64))]).as_deref(),
        Some("(d >= 1) AND (d <= 2)")
    );
}
