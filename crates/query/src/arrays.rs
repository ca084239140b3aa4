//! Text to an array the way PostgreSQL reads it.
//!
//! PostgreSQL's text form of an array is `{1,2,NULL}`, with elements
//! quoted where they hold a comma, a brace, a quote, a backslash or
//! spaces (`{"a b","c\"d"}`). Arrow casts text to a list by taking the
//! whole text as one element, so `'{a}'::text[]` would be the array
//! `{"{a}"}` and `'5'::int[]` the array `{5}`, where PostgreSQL reads
//! `{a}` and refuses `5`. Every cast from text to a list in a plan
//! (written in SQL, or added by INSERT or by type coercion) is replaced
//! by `array_in`, which reads PostgreSQL's form into a list of text that
//! is then cast to the element type; anything else is refused with 22P02.
//! Arrays of more than one dimension are refused with 0A000.

use std::sync::Arc;

use arrow::array::{ArrayRef, ListBuilder, StringArray, StringBuilder};
use arrow::datatypes::{DataType, Field};
use datafusion::common::Result;
use datafusion::logical_expr::ScalarUDF;

use crate::error::QueryError;
use crate::text_input::{TextInput, TextInputCasts};

#[cfg(test)]
mod tests;

/// Why a text is not an array literal, or what Floe does not read in one.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LiteralError {
    /// Not PostgreSQL's array form; the reason is PostgreSQL's detail.
    Malformed(&'static str),
    /// An array of more than one dimension, or with explicit bounds.
    Unsupported(&'static str),
}

/// The elements of PostgreSQL's text form of a one-dimensional array,
/// `None` for an unquoted NULL.
pub(crate) fn parse_literal(text: &str) -> Result<Vec<Option<String>>, LiteralError> {
    use LiteralError::{Malformed, Unsupported};
    let body = text.trim_start();
    if body.starts_with('[') {
        return Err(Unsupported("array bounds ([1:2]={...})"));
    }
    let Some(inner) = body.strip_prefix('{') else {
        return Err(Malformed(
            "Array value must start with \"{\" or dimension information.",
        ));
    };
    let mut chars = inner.chars().peekable();
    let mut elements = Vec::new();
    skip_spaces(&mut chars);
    if chars.peek() == Some(&'}') {
        chars.next();
    } else {
        loop {
            skip_spaces(&mut chars);
            let element = match chars.peek() {
                Some('"') => {
                    chars.next();
                    let value = read_quoted(&mut chars)?;
                    skip_spaces(&mut chars);
                    Some(value)
                }
                Some('{') => return Err(Unsupported("arrays of more than one dimension")),
                Some(',') => return Err(Malformed("Unexpected \",\" character.")),
                Some('}') => return Err(Malformed("Unexpected \"}\" character.")),
                None => return Err(Malformed("Unexpected end of input.")),
                Some(_) => {
                    let (value, escaped) = read_unquoted(&mut chars)?;
                    (escaped || !value.eq_ignore_ascii_case("NULL")).then_some(value)
                }
            };
            elements.push(element);
            match chars.next() {
                Some(',') => {}
                Some('}') => break,
                None => return Err(Malformed("Unexpected end of input.")),
                Some(_) => return Err(Malformed("Unexpected array element.")),
            }
        }
    }
    if chars.any(|c| !c.is_whitespace()) {
        return Err(Malformed("Junk after closing right brace."));
    }
    Ok(elements)
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

fn skip_spaces(chars: &mut Chars) {
    while chars.next_if(|c| c.is_whitespace()).is_some() {}
}

/// A quoted element after its opening quote, through its closing one.
fn read_quoted(chars: &mut Chars) -> Result<String, LiteralError> {
    let mut value = String::new();
    loop {
        match chars.next() {
            None => return Err(LiteralError::Malformed("Unexpected end of input.")),
            Some('"') => return Ok(value),
            Some('\\') => match chars.next() {
                Some(c) => value.push(c),
                None => return Err(LiteralError::Malformed("Unexpected end of input.")),
            },
            Some(c) => value.push(c),
        }
    }
}

/// An unquoted element, up to the comma or brace after it (not taken),
/// without trailing spaces, and whether it had an escaped character.
fn read_unquoted(chars: &mut Chars) -> Result<(String, bool), LiteralError> {
    let mut value = String::new();
    let mut escaped = false;
    // The length of `value` through its last character that is not an
    // unescaped space.
    let mut kept = 0;
    while let Some(&c) = chars.peek() {
        match c {
            ',' | '}' => break,
            '{' => return Err(LiteralError::Malformed("Unexpected \"{\" character.")),
            '"' => return Err(LiteralError::Malformed("Unexpected array element.")),
            '\\' => {
                chars.next();
                let Some(next) = chars.next() else {
                    return Err(LiteralError::Malformed("Unexpected end of input."));
                };
                value.push(next);
                kept = value.len();
                escaped = true;
                continue;
            }
            _ => {
                value.push(c);
                if !c.is_whitespace() {
                    kept = value.len();
                }
            }
        }
        chars.next();
    }
    value.truncate(kept);
    Ok((value, escaped))
}

/// `array_in(text)`: PostgreSQL's array input function, giving a list of
/// text (the cast after it gives the element type).
pub(crate) fn udf() -> Arc<ScalarUDF> {
    TextInput::udf("array_in", text_list(), read)
}

/// The analyzer rule that routes text-to-list casts through `array_in`.
pub(crate) fn casts() -> TextInputCasts {
    TextInputCasts::new("floe_pg_array_casts", udf(), |to| {
        matches!(to, DataType::List(_) | DataType::LargeList(_))
    })
}

fn text_list() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
}

fn read(text: &StringArray) -> Result<ArrayRef> {
    let mut out = ListBuilder::new(StringBuilder::new());
    for value in text.iter() {
        match value {
            None => out.append_null(),
            Some(v) => match parse_literal(v) {
                Ok(elements) => {
                    for element in elements {
                        out.values().append_option(element);
                    }
                    out.append(true);
                }
                Err(LiteralError::Malformed(detail)) => {
                    return Err(QueryError::InvalidArrayLiteral {
                        value: v.to_string(),
                        detail,
                    }
                    .into_datafusion());
                }
                Err(LiteralError::Unsupported(what)) => {
                    return Err(QueryError::Unsupported {
                        feature: format!("{what} (in \"{v}\")"),
                    }
                    .into_datafusion());
                }
            },
        }
    }
    Ok(Arc::new(out.finish()))
}
