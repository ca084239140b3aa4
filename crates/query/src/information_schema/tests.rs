use std::collections::HashMap;

use arrow::datatypes::{DataType, Field, TimeUnit};

use super::column_types::{column_type, shown_default};

fn described(field: Field) -> (String, String, [Option<i32>; 5]) {
    let t = column_type(&field);
    (
        t.data_type,
        t.udt_name,
        [
            t.character_octet_length,
            t.numeric_precision,
            t.numeric_precision_radix,
            t.numeric_scale,
            t.datetime_precision,
        ],
    )
}

fn plain(ty: DataType) -> (String, String, [Option<i32>; 5]) {
    described(Field::new("c", ty, true))
}

fn row(
    data_type: &str,
    udt: &str,
    numbers: [Option<i32>; 5],
) -> (String, String, [Option<i32>; 5]) {
    (data_type.to_string(), udt.to_string(), numbers)
}

#[test]
fn types_are_described_as_postgresql_describes_them() {
    // The values PostgreSQL 15 gives in information_schema.columns.
    assert_eq!(
        plain(DataType::Int64),
        row("bigint", "int8", [None, Some(64), Some(2), Some(0), None])
    );
    assert_eq!(
        plain(DataType::Int32),
        row("integer", "int4", [None, Some(32), Some(2), Some(0), None])
    );
    assert_eq!(
        plain(DataType::Float64),
        row(
            "double precision",
            "float8",
            [None, Some(53), Some(2), None, None]
        )
    );
    assert_eq!(
        plain(DataType::Float32),
        row("real", "float4", [None, Some(24), Some(2), None, None])
    );
    assert_eq!(
        plain(DataType::Decimal128(10, 2)),
        row(
            "numeric",
            "numeric",
            [None, Some(10), Some(10), Some(2), None]
        )
    );
    assert_eq!(
        plain(DataType::Utf8),
        row(
            "text",
            "text",
            [Some(1_073_741_824), None, None, None, None]
        )
    );
    assert_eq!(
        plain(DataType::Date32),
        row("date", "date", [None, None, None, None, Some(0)])
    );
    assert_eq!(
        plain(DataType::Timestamp(TimeUnit::Microsecond, None)),
        row(
            "timestamp without time zone",
            "timestamp",
            [None, None, None, None, Some(6)]
        )
    );
    assert_eq!(
        plain(DataType::Timestamp(
            TimeUnit::Microsecond,
            Some("UTC".into())
        )),
        row(
            "timestamp with time zone",
            "timestamptz",
            [None, None, None, None, Some(6)]
        )
    );
    assert_eq!(plain(DataType::Boolean), row("boolean", "bool", [None; 5]));
    assert_eq!(plain(DataType::Binary), row("bytea", "bytea", [None; 5]));
    assert_eq!(
        plain(crate::bits::BITS),
        row("bit varying", "varbit", [None; 5])
    );
    let list = DataType::List(Field::new("item", DataType::Int16, true).into());
    assert_eq!(plain(list).1, "_int2");
}

#[test]
fn tagged_columns_are_their_sql_types() {
    let smallint = Field::new("s", DataType::Int32, true).with_metadata(HashMap::from([(
        "doc".to_string(),
        floe_storage::SMALLINT_DOC.to_string(),
    )]));
    assert_eq!(
        described(smallint),
        row("smallint", "int2", [None, Some(16), Some(2), Some(0), None])
    );
    let uuid = Field::new("u", DataType::Utf8, true).with_metadata(HashMap::from([(
        crate::uuid::TYPE_KEY.to_string(),
        "uuid".to_string(),
    )]));
    assert_eq!(described(uuid), row("uuid", "uuid", [None; 5]));
}

#[test]
fn defaults_show_literals_cast_to_the_column_type() {
    assert_eq!(shown_default("'x'", "text"), "'x'::text");
    assert_eq!(shown_default("'it''s'", "text"), "'it''s'::text");
    assert_eq!(shown_default("-1", "integer"), "'-1'::integer");
    assert_eq!(shown_default("0", "integer"), "0");
    assert_eq!(shown_default("now()", "timestamp with time zone"), "now()");
    // Two literals are an expression, shown as written.
    assert_eq!(shown_default("'a' || 'b'", "text"), "'a' || 'b'");
}
