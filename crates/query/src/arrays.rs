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

use floe_ingest::array_text::{LiteralError, parse_literal};

use crate::error::QueryError;
use crate::text_input::{TextInput, TextInputCasts};

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
