use std::sync::Arc;

use arrow::array::{
    Array, Decimal128Array, Float64Array, Int32Array, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

use super::*;

#[test]
fn numeric_modifiers_map_to_decimals_or_exact_text() {
    // numeric(30,2): typmod = ((30 << 16) | 2) + 4
    let m = ((30 << 16) | 2) + 4;
    assert_eq!(
        iceberg_type(oid::NUMERIC, m),
        PrimitiveType::Decimal {
            precision: 30,
            scale: 2
        }
    );
    assert_eq!(iceberg_type(oid::NUMERIC, -1), PrimitiveType::String);
    assert_eq!(
        iceberg_type(oid::NUMERIC, ((60 << 16) | 2) + 4),
        PrimitiveType::String
    );
    assert_eq!(iceberg_type(oid::INT2, -1), PrimitiveType::Int);
    assert_eq!(iceberg_type(3802, -1), PrimitiveType::String);
    assert!(widens(&PrimitiveType::Int, &PrimitiveType::Long));
    assert!(!widens(&PrimitiveType::Long, &PrimitiveType::Int));
    assert!(!widens(&PrimitiveType::String, &PrimitiveType::Long));
}

#[test]
fn postgres_text_output_converts_exactly() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("i", DataType::Int32, true),
        Field::new("d", DataType::Decimal128(30, 2), true),
        Field::new("f", DataType::Float64, true),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into())),
            true,
        ),
        Field::new("s", DataType::Utf8, true),
    ]));
    let mut text = TextColumns::new(schema);
    for row in [
        [
            "1",
            "12345678901234567890123.45",
            "0.1",
            "2024-02-29 23:59:59.123456+00",
            "x",
        ],
        ["-7", "-0.01", "-Infinity", "1999-12-31 00:00:00+00", ""],
    ] {
        for (i, v) in row.iter().enumerate() {
            text.column(i).append_value(v);
        }
        text.end_row();
    }
    let batch = text.finish().unwrap();
    let i = batch
        .column(0)
        .as_any()
        .downcast_ref::<Int32Array>()
        .unwrap();
    assert_eq!(i.value(1), -7);
    let d = batch
        .column(1)
        .as_any()
        .downcast_ref::<Decimal128Array>()
        .unwrap();
    assert_eq!(d.value(0), 1_234_567_890_123_456_789_012_345);
    let f = batch
        .column(2)
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap();
    assert_eq!(f.value(0), 0.1);
    assert_eq!(f.value(1), f64::NEG_INFINITY);
    let ts = batch
        .column(3)
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .unwrap();
    assert_eq!(ts.value(1), 946_598_400_000_000);
    let s = batch
        .column(4)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert!(s.is_valid(1) && s.value(1).is_empty());
}

#[test]
fn a_bad_value_is_named() {
    let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true)]));
    let mut text = TextColumns::new(schema);
    for v in ["1", "x2"] {
        text.column(0).append_value(v);
        text.end_row();
    }
    let bad = text.finish().unwrap_err();
    assert_eq!(
        (bad.row, bad.column.as_str(), bad.value.as_str()),
        (1, "n", "x2")
    );
}

#[test]
fn bytea_hex_output_becomes_bytes() {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "b",
        DataType::LargeBinary,
        true,
    )]));
    let mut text = TextColumns::new(schema);
    text.column(0).append_value("\\x00ff10");
    text.end_row();
    let batch = text.finish().unwrap();
    let b = batch
        .column(0)
        .as_any()
        .downcast_ref::<arrow::array::LargeBinaryArray>()
        .unwrap();
    assert_eq!(b.value(0), &[0u8, 255, 16]);
}
