//! How `information_schema.columns` describes a column's type: the SQL
//! standard name PostgreSQL gives it (`data_type`), its PostgreSQL type
//! name (`udt_name`) and its precision, as PostgreSQL 15 reports them for
//! the type Floe stores and answers with.

use arrow::datatypes::{DataType, Field};

/// The type columns of one `information_schema.columns` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ColumnType {
    /// `data_type`: `integer`, `timestamp with time zone`, `ARRAY`, ...
    pub data_type: String,
    /// `udt_name`: `int4`, `timestamptz`, `_int4`, ...
    pub udt_name: String,
    pub character_octet_length: Option<i32>,
    pub numeric_precision: Option<i32>,
    pub numeric_precision_radix: Option<i32>,
    pub numeric_scale: Option<i32>,
    pub datetime_precision: Option<i32>,
}

/// The largest value PostgreSQL stores in a `text` field, in bytes: the
/// `character_octet_length` of `text`.
const TEXT_OCTETS: i32 = 1_073_741_824;

impl ColumnType {
    fn named(data_type: &str, udt_name: &str) -> ColumnType {
        ColumnType {
            data_type: data_type.to_string(),
            udt_name: udt_name.to_string(),
            character_octet_length: None,
            numeric_precision: None,
            numeric_precision_radix: None,
            numeric_scale: None,
            datetime_precision: None,
        }
    }

    /// A binary integer of `bits` bits.
    fn integer(data_type: &str, udt_name: &str, bits: i32) -> ColumnType {
        ColumnType {
            numeric_precision: Some(bits),
            numeric_precision_radix: Some(2),
            numeric_scale: Some(0),
            ..ColumnType::named(data_type, udt_name)
        }
    }

    /// A binary float of `bits` bits of mantissa.
    fn float(data_type: &str, udt_name: &str, bits: i32) -> ColumnType {
        ColumnType {
            numeric_precision: Some(bits),
            numeric_precision_radix: Some(2),
            ..ColumnType::named(data_type, udt_name)
        }
    }

    /// A date/time type with `digits` fractional second digits.
    fn datetime(data_type: &str, udt_name: &str, digits: i32) -> ColumnType {
        ColumnType {
            datetime_precision: Some(digits),
            ..ColumnType::named(data_type, udt_name)
        }
    }
}

/// The type of a column SQL sees as `field` (a table's logical schema,
/// where uuid and bit string columns are tagged and `smallint` columns
/// carry their Iceberg doc).
pub(crate) fn column_type(field: &Field) -> ColumnType {
    if crate::uuid::is_uuid(field) {
        return ColumnType::named("uuid", "uuid");
    }
    let smallint =
        field.metadata().get("doc").map(String::as_str) == Some(floe_storage::SMALLINT_DOC);
    if smallint {
        return ColumnType::integer("smallint", "int2", 16);
    }
    arrow_type(field.data_type())
}

fn arrow_type(ty: &DataType) -> ColumnType {
    use DataType as D;
    if crate::bits::is_bits(ty) {
        return ColumnType::named("bit varying", "varbit");
    }
    match ty {
        D::Boolean => ColumnType::named("boolean", "bool"),
        D::Int8 | D::Int16 | D::UInt8 => ColumnType::integer("smallint", "int2", 16),
        D::Int32 | D::UInt16 => ColumnType::integer("integer", "int4", 32),
        D::Int64 | D::UInt32 => ColumnType::integer("bigint", "int8", 64),
        D::UInt64 => ColumnType {
            numeric_precision: Some(20),
            numeric_precision_radix: Some(10),
            numeric_scale: Some(0),
            ..ColumnType::named("numeric", "numeric")
        },
        D::Float16 | D::Float32 => ColumnType::float("real", "float4", 24),
        D::Float64 => ColumnType::float("double precision", "float8", 53),
        D::Decimal32(p, s) | D::Decimal64(p, s) => decimal(*p, *s),
        D::Decimal128(p, s) | D::Decimal256(p, s) => decimal(*p, *s),
        D::Utf8 | D::LargeUtf8 | D::Utf8View => ColumnType {
            character_octet_length: Some(TEXT_OCTETS),
            ..ColumnType::named("text", "text")
        },
        D::Date32 | D::Date64 => ColumnType::datetime("date", "date", 0),
        D::Timestamp(_, None) => {
            ColumnType::datetime("timestamp without time zone", "timestamp", 6)
        }
        D::Timestamp(_, Some(_)) => {
            ColumnType::datetime("timestamp with time zone", "timestamptz", 6)
        }
        D::Time32(_) | D::Time64(_) => ColumnType::datetime("time without time zone", "time", 6),
        D::Interval(_) | D::Duration(_) => ColumnType::datetime("interval", "interval", 6),
        D::Binary | D::LargeBinary | D::BinaryView | D::FixedSizeBinary(_) => {
            ColumnType::named("bytea", "bytea")
        }
        D::List(element)
        | D::LargeList(element)
        | D::FixedSizeList(element, _)
        | D::ListView(element)
        | D::LargeListView(element) => {
            let element = arrow_type(element.data_type());
            ColumnType::named("ARRAY", &format!("_{}", element.udt_name))
        }
        D::Null => ColumnType::named("text", "text"),
        _ => ColumnType::named("USER-DEFINED", &ty.to_string().to_ascii_lowercase()),
    }
}

fn decimal(precision: u8, scale: i8) -> ColumnType {
    ColumnType {
        numeric_precision: Some(i32::from(precision)),
        numeric_precision_radix: Some(10),
        numeric_scale: Some(i32::from(scale)),
        ..ColumnType::named("numeric", "numeric")
    }
}

/// A column default as PostgreSQL shows it in `column_default`: a quoted
/// literal or a negative number with a cast to the column's type
/// (`'x'::text`, `'-1'::integer`), any other expression as written.
pub(crate) fn shown_default(text: &str, data_type: &str) -> String {
    let text = text.trim();
    let quoted = text.len() >= 2
        && text.starts_with('\'')
        && text.ends_with('\'')
        && !text[1..text.len() - 1].replace("''", "").contains('\'');
    if quoted {
        return format!("{text}::{data_type}");
    }
    let negative = text
        .strip_prefix('-')
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit() || c == '.'));
    if negative {
        return format!("'{text}'::{data_type}");
    }
    text.to_string()
}
