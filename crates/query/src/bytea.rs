//! Text to `bytea` the way PostgreSQL reads it.
//!
//! DataFusion casts text to binary by taking the text's bytes, so
//! `INSERT INTO t (b) VALUES ('\x4142')` would store six bytes where
//! PostgreSQL stores two, and invalid input would pass silently. Every cast
//! from text to a binary type in a plan (written in SQL, or added by
//! INSERT or by type coercion) is replaced by `bytea_in`, which decodes
//! PostgreSQL's hex and escape forms and refuses anything else with 22P02.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BinaryBuilder, StringArray};
use arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::ScalarUDF;

use crate::error::QueryError;
use crate::text_input::{TextInput, TextInputCasts};

/// `bytea_in(text)`: PostgreSQL's bytea input function.
pub(crate) fn udf() -> Arc<ScalarUDF> {
    TextInput::udf("bytea_in", DataType::Binary, decode)
}

/// The analyzer rule that routes text-to-binary casts through `bytea_in`.
pub(crate) fn casts() -> TextInputCasts {
    TextInputCasts::new("floe_pg_bytea_casts", udf(), |to| {
        matches!(
            to,
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView
        )
    })
}

fn decode(text: &StringArray) -> Result<ArrayRef> {
    let mut out = BinaryBuilder::with_capacity(text.len(), text.value_data().len() / 2);
    for value in text.iter() {
        match value {
            None => out.append_null(),
            Some(v) => match floe_ingest::values::decode_bytea(v) {
                Ok(bytes) => out.append_value(bytes),
                Err(reason) => {
                    return Err(QueryError::InvalidBytea {
                        value: v.to_string(),
                        reason,
                    }
                    .into_datafusion());
                }
            },
        }
    }
    Ok(Arc::new(out.finish()))
}
