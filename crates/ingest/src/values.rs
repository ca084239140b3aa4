//! Text values into typed Arrow columns, the way PostgreSQL's input
//! functions read them, finding every value that does not parse.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BinaryArray, BooleanArray, FixedSizeBinaryBuilder, ListArray, StringArray,
    new_null_array,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, FieldRef};

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
        DataType::List(element) => format!("{}[]", type_name(element.data_type())),
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
        DataType::List(element) => parse_list(element, text),
        DataType::Boolean => {
            let typed: BooleanArray = text.iter().map(|v| v.and_then(parse_bool)).collect();
            let b = bad(&typed);
            (Arc::new(typed), b)
        }
        DataType::Binary | DataType::LargeBinary => {
            let typed: BinaryArray = text.iter().map(|v| v.and_then(parse_bytea)).collect();
            let b = bad(&typed);
            let typed: ArrayRef = Arc::new(typed);
            match cast_with_options(&typed, ty, &CastOptions::default()) {
                Ok(cast) => (cast, b),
                Err(_) => (
                    new_null_array(ty, text.len()),
                    (0..text.len()).filter(|&i| text.is_valid(i)).collect(),
                ),
            }
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

/// Parses a text column of arrays: each value a JSON array (as JSON
/// bodies send them) or PostgreSQL's text form (`{1,2,NULL}`), its
/// elements parsed as `element`'s type. A row is bad when its text is
/// neither, or one of its elements does not parse.
fn parse_list(element: &FieldRef, text: &StringArray) -> (ArrayRef, Vec<usize>) {
    let mut offsets: Vec<i32> = Vec::with_capacity(text.len() + 1);
    offsets.push(0);
    let mut elements: Vec<Option<String>> = Vec::new();
    let mut row_of_element: Vec<usize> = Vec::new();
    let mut valid = Vec::with_capacity(text.len());
    let mut bad = Vec::new();
    for (row, value) in text.iter().enumerate() {
        match value.map(array_elements) {
            None => valid.push(false),
            Some(Some(values)) => {
                row_of_element.extend(std::iter::repeat_n(row, values.len()));
                elements.extend(values);
                valid.push(true);
            }
            Some(None) => {
                bad.push(row);
                valid.push(false);
            }
        }
        match i32::try_from(elements.len()) {
            Ok(end) => offsets.push(end),
            Err(_) => {
                let all = (0..text.len()).filter(|&i| text.is_valid(i)).collect();
                return (
                    new_null_array(&DataType::List(element.clone()), text.len()),
                    all,
                );
            }
        }
    }
    let (values, bad_elements) = parse_column(element.data_type(), &StringArray::from(elements));
    bad.extend(bad_elements.into_iter().map(|i| row_of_element[i]));
    bad.sort_unstable();
    bad.dedup();
    for &row in &bad {
        valid[row] = false;
    }
    let list = ListArray::try_new(
        element.clone(),
        OffsetBuffer::new(offsets.into()),
        values,
        Some(NullBuffer::from(valid)),
    );
    match list {
        Ok(list) => (Arc::new(list), bad),
        // Elements the type holds no NULL in (a list of required elements).
        Err(_) => {
            let all = (0..text.len()).filter(|&i| text.is_valid(i)).collect();
            (
                new_null_array(&DataType::List(element.clone()), text.len()),
                all,
            )
        }
    }
}

/// The elements' texts of an array written as a JSON array of scalars or
/// in PostgreSQL's text form; `None` if it is neither.
fn array_elements(text: &str) -> Option<Vec<Option<String>>> {
    if !text.trim_start().starts_with('[') {
        return crate::array_text::parse_literal(text).ok();
    }
    let values: Vec<serde_json::Value> = serde_json::from_str(text).ok()?;
    values
        .into_iter()
        .map(|v| match v {
            serde_json::Value::Null => Some(None),
            serde_json::Value::String(s) => Some(Some(s)),
            serde_json::Value::Bool(_) | serde_json::Value::Number(_) => Some(Some(v.to_string())),
            serde_json::Value::Array(_) | serde_json::Value::Object(_) => None,
        })
        .collect()
}

/// PostgreSQL's boolean input forms.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" | "on" | "1" => Some(true),
        "f" | "false" | "n" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// A bytea value in PostgreSQL's text input forms: hex (`\x` followed by
/// pairs of hex digits, white space allowed between pairs) or escape
/// (bytes as they are, `\\` for a backslash, `\ooo` for an octal byte).
/// `None` if the text is neither.
pub fn parse_bytea(s: &str) -> Option<Vec<u8>> {
    decode_bytea(s).ok()
}

/// Like [`parse_bytea`], with PostgreSQL's reason when the text is invalid.
pub fn decode_bytea(s: &str) -> Result<Vec<u8>, String> {
    let bytes = s.as_bytes();
    if let Some(hex) = bytes.strip_prefix(b"\\x") {
        return decode_hex(hex);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
        } else if bytes.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else if let Some(&[a, b, c]) = bytes.get(i + 1..i + 4)
            && (b'0'..=b'3').contains(&a)
            && (b'0'..=b'7').contains(&b)
            && (b'0'..=b'7').contains(&c)
        {
            out.push(((a - b'0') << 6) | ((b - b'0') << 3) | (c - b'0'));
            i += 4;
        } else {
            return Err("invalid input syntax for type bytea".into());
        }
    }
    Ok(out)
}

fn decode_hex(hex: &[u8]) -> Result<Vec<u8>, String> {
    // `at` always follows ASCII, so it is a character boundary.
    let digit = |at: usize| -> Result<u8, String> {
        match hex[at] {
            b @ b'0'..=b'9' => Ok(b - b'0'),
            b @ b'a'..=b'f' => Ok(b - b'a' + 10),
            b @ b'A'..=b'F' => Ok(b - b'A' + 10),
            _ => {
                let shown = std::str::from_utf8(&hex[at..])
                    .ok()
                    .and_then(|s| s.chars().next())
                    .unwrap_or(char::REPLACEMENT_CHARACTER);
                Err(format!("invalid hexadecimal digit: \"{shown}\""))
            }
        }
    };
    let mut out = Vec::with_capacity(hex.len() / 2);
    let mut i = 0;
    while i < hex.len() {
        if matches!(hex[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
            continue;
        }
        let high = digit(i)?;
        if i + 1 >= hex.len() {
            return Err("invalid hexadecimal data: odd number of digits".into());
        }
        out.push((high << 4) | digit(i + 1)?);
        i += 2;
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
