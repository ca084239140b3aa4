//! Text values into typed Arrow columns, the way PostgreSQL's input
//! functions read them, finding every value that does not parse.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BinaryArray, BooleanArray, FixedSizeBinaryBuilder, StringArray, new_null_array,
};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::DataType;

/// The SQL name of a storage type, for error messages.
pub fn type_name(ty: &DataType) -> String {
    match ty {
        DataType::Boolean => "boolean".into(),
        DataType::Int16 => "smallint".into(),
        DataType::Int32 => "integer".into(),
        DataType::Int64 => "bigint".into(),
        DataType::Float32 => "real".into(),
        DataType::Float64 => "double precision".into(),
        DataType::Decimal128(p, s) => format!("numeric({p},{s})"),
        DataType::Date32 => "date".into(),
        DataType::Timestamp(_, None) => "timestamp".into(),
        DataType::Timestamp(_, Some(_)) => "timestamptz".into(),
        DataType::FixedSizeBinary(16) => "uuid".into(),
        DataType::Binary | DataType::LargeBinary => "bytea".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "text".into(),
        other => other.to_string().to_lowercase(),
    }
}

/// Parses a text column as `ty`. Returns the typed column and the rows
/// whose text did not parse (they are NULL in the column), in order.
pub fn parse_column(ty: &DataType, text: &StringArray) -> (ArrayRef, Vec<usize>) {
    let bad = |typed: &dyn Array| {
        (0..text.len())
            .filter(|&i| text.is_valid(i) && typed.is_null(i))
            .collect::<Vec<_>>()
    };
    match ty {
        DataType::Utf8 => (Arc::new(text.clone()), Vec::new()),
        DataType::Boolean => {
            let typed: BooleanArray = text.iter().map(|v| v.and_then(parse_bool)).collect();
            let b = bad(&typed);
            (Arc::new(typed), b)
        }
        DataType::Binary => {
            let typed: BinaryArray = text.iter().map(|v| v.and_then(parse_bytea)).collect();
            let b = bad(&typed);
            (Arc::new(typed), b)
        }
        DataType::FixedSizeBinary(16) => {
            let mut builder = FixedSizeBinaryBuilder::with_capacity(text.len(), 16);
            for v in text.iter() {
                match v.and_then(|s| uuid::Uuid::parse_str(s.trim()).ok()) {
                    Some(u) => builder.append_value(u.as_bytes()).expect("16 bytes"),
                    None => builder.append_null(),
                }
            }
            let typed = builder.finish();
            let b = bad(&typed);
            (Arc::new(typed), b)
        }
        other => {
            let trimmed = StringArray::from_iter(text.iter().map(|v| v.map(str::trim)));
            match cast_with_options(&trimmed, other, &CastOptions::default()) {
                Ok(typed) => {
                    let b = bad(typed.as_ref());
                    (typed, b)
                }
                Err(_) => (
                    new_null_array(other, text.len()),
                    (0..text.len()).filter(|&i| text.is_valid(i)).collect(),
                ),
            }
        }
    }
}

/// PostgreSQL's boolean input forms.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" | "on" | "1" => Some(true),
        "f" | "false" | "n" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// PostgreSQL's hex bytea text form (`\x0a0b`), or the raw bytes.
pub fn parse_bytea(s: &str) -> Option<Vec<u8>> {
    let Some(hex) = s.strip_prefix("\\x") else {
        return Some(s.as_bytes().to_vec());
    };
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests;
