//! SQL column types and their Iceberg storage types.

use datafusion::sql::sqlparser::ast::{
    ArrayElemTypeDef, DataType as SqlType, ExactNumberInfo, TimezoneInfo,
};
use iceberg::spec::{ListType, NestedField, PrimitiveType, Type};

use crate::error::QueryError;

/// Whether `ty` is `bit varying` (or `varbit`) without a length.
fn is_varbit(ty: &SqlType) -> bool {
    match ty {
        SqlType::BitVarying(None) | SqlType::VarBit(None) => true,
        SqlType::Custom(name, args) => {
            args.is_empty() && name.to_string().eq_ignore_ascii_case("varbit")
        }
        _ => false,
    }
}

/// The Iceberg doc of a column of SQL type `ty`: `smallint` columns are
/// marked so their range is checked when written
/// ([`floe_storage::SMALLINT_DOC`]), `bit varying` ones so their digits
/// are, and so they read back as bit strings ([`crate::bits`]).
pub fn column_doc(ty: &SqlType) -> Option<&'static str> {
    if is_varbit(ty) {
        return Some(floe_storage::BIT_VARYING_DOC);
    }
    if matches!(ty, SqlType::Interval { .. }) {
        return Some(floe_storage::interval_text::INTERVAL_DOC);
    }
    matches!(ty, SqlType::SmallInt(_) | SqlType::Int2(_)).then_some(floe_storage::SMALLINT_DOC)
}

/// The Iceberg doc of a query result column of Arrow type `ty`, for
/// CREATE TABLE AS (see [`column_doc`]).
pub fn arrow_column_doc(ty: &arrow::datatypes::DataType) -> Option<&'static str> {
    match ty {
        arrow::datatypes::DataType::Int16 => Some(floe_storage::SMALLINT_DOC),
        arrow::datatypes::DataType::Interval(_) => Some(floe_storage::interval_text::INTERVAL_DOC),
        t if crate::bits::is_bits(t) => Some(floe_storage::BIT_VARYING_DOC),
        _ => None,
    }
}

/// Maps a SQL type from a column definition to the Iceberg type it is stored as.
///
/// SMALLINT is stored as Iceberg `int` (Iceberg has no 16-bit integer),
/// JSON as `string` and INTERVAL as `string` (Iceberg has no interval;
/// fields and precision, `INTERVAL DAY TO SECOND(3)`, are refused); UUID
/// is Iceberg's `uuid`, TIME (without time zone) Iceberg's `time`
/// (microseconds).
///
/// An array is an Iceberg `list` of its element type; its element id is
/// numbered by [`number_nested`] when the table's fields are. As in
/// PostgreSQL, the number of brackets is not part of the type: `int[][]`
/// is `int[]`. Elements of a type that Iceberg stores as another type
/// (`smallint`, `bit varying`, `uuid`) are refused.
pub fn iceberg_type(column: &str, ty: &SqlType) -> Result<Type, QueryError> {
    use PrimitiveType as P;
    if let Some(element) = array_element(ty) {
        let element_type = iceberg_type(column, element)?;
        if column_doc(element).is_some() || matches!(element_type, Type::Primitive(P::Uuid)) {
            return Err(QueryError::InvalidColumnType {
                column: column.to_string(),
                ty: ty.to_string(),
                reason: format!("arrays of {element} are not supported"),
            });
        }
        return Ok(list_of(element_type));
    }
    let p = match ty {
        SqlType::Boolean | SqlType::Bool => P::Boolean,
        SqlType::SmallInt(_) | SqlType::Int2(_) | SqlType::TinyInt(_) => P::Int,
        SqlType::Int(_) | SqlType::Integer(_) | SqlType::Int4(_) => P::Int,
        SqlType::BigInt(_) | SqlType::Int8(_) | SqlType::Int64 => P::Long,
        SqlType::Real | SqlType::Float4 | SqlType::Float32 => P::Float,
        SqlType::Float(_)
        | SqlType::Double(_)
        | SqlType::DoublePrecision
        | SqlType::Float8
        | SqlType::Float64 => P::Double,
        SqlType::Decimal(info) | SqlType::Numeric(info) | SqlType::Dec(info) => {
            let (precision, scale) = match info {
                ExactNumberInfo::None => (38, 9),
                ExactNumberInfo::Precision(p) => (*p, 0),
                ExactNumberInfo::PrecisionAndScale(p, s) => (*p, *s),
            };
            if precision == 0 || precision > 38 {
                return Err(QueryError::InvalidColumnType {
                    column: column.to_string(),
                    ty: ty.to_string(),
                    reason: "DECIMAL precision must be between 1 and 38".into(),
                });
            }
            let scale = u32::try_from(scale)
                .ok()
                .filter(|s| (*s as u64) <= precision);
            let Some(scale) = scale else {
                return Err(QueryError::InvalidColumnType {
                    column: column.to_string(),
                    ty: ty.to_string(),
                    reason: "DECIMAL scale must be between 0 and the precision".into(),
                });
            };
            P::Decimal {
                precision: precision as u32,
                scale,
            }
        }
        SqlType::Text
        | SqlType::String(_)
        | SqlType::Varchar(_)
        | SqlType::CharacterVarying(_)
        | SqlType::Char(_)
        | SqlType::Character(_)
        | SqlType::JSON
        | SqlType::JSONB => P::String,
        SqlType::Bytea | SqlType::Blob(_) | SqlType::Varbinary(_) | SqlType::Binary(_) => P::Binary,
        SqlType::Date => P::Date,
        SqlType::Time(_, TimezoneInfo::None | TimezoneInfo::WithoutTimeZone) => P::Time,
        SqlType::Timestamp(_, tz) => match tz {
            TimezoneInfo::None | TimezoneInfo::WithoutTimeZone => P::Timestamp,
            TimezoneInfo::WithTimeZone | TimezoneInfo::Tz => P::Timestamptz,
        },
        SqlType::Uuid => P::Uuid,
        t if is_varbit(t) => P::String,
        // Stored as text (see `floe_storage::interval_text`).
        SqlType::Interval {
            fields: None,
            precision: None,
        } => P::String,
        SqlType::Custom(name, _) if name.to_string().eq_ignore_ascii_case("timestamptz") => {
            P::Timestamptz
        }
        SqlType::Custom(name, _) if name.to_string().eq_ignore_ascii_case("uuid") => P::Uuid,
        SqlType::Custom(name, _) if name.to_string().eq_ignore_ascii_case("json") => P::String,
        other => {
            return Err(QueryError::InvalidColumnType {
                column: column.to_string(),
                ty: other.to_string(),
                reason: "type is not supported; see docs/sql.md for the supported types".into(),
            });
        }
    };
    Ok(Type::Primitive(p))
}

/// The element type of an array type, through any number of brackets.
fn array_element(ty: &SqlType) -> Option<&SqlType> {
    match ty {
        SqlType::Array(
            ArrayElemTypeDef::SquareBracket(element, _)
            | ArrayElemTypeDef::AngleBracket(element)
            | ArrayElemTypeDef::Parenthesis(element),
        ) => Some(array_element(element).unwrap_or(element)),
        _ => None,
    }
}

/// An Iceberg `list` of `element` (optional elements, as PostgreSQL's
/// arrays hold NULLs); its element id is set by [`number_nested`].
pub fn list_of(element: Type) -> Type {
    Type::List(ListType {
        element_field: NestedField::list_element(0, element, false).into(),
    })
}

/// `ty` with the ids of the fields nested in it numbered from `*next` on
/// (a table's top-level fields take the ids before).
pub fn number_nested(ty: &Type, next: &mut i32) -> Type {
    match ty {
        Type::List(list) => {
            let id = *next;
            *next += 1;
            let element = number_nested(&list.element_field.field_type, next);
            Type::List(ListType {
                element_field: NestedField::list_element(id, element, list.element_field.required)
                    .into(),
            })
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests;
