//! `json_build_object(key, value, ...)`: a JSON object of the pairs
//! given, written as PostgreSQL writes it (`{"a" : 1, "b" : "x"}`).
//! Numbers and booleans are JSON's own, NULL is `null`, arrays are JSON
//! arrays, and anything else is its text as a JSON string. Keys are
//! text; a NULL key or an odd argument count is 22023, as in
//! PostgreSQL. Floe's JSON is text, so the result is `text`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion::scalar::ScalarValue;
use floe_common::Status;

use crate::error::QueryError;

#[cfg(test)]
mod tests;

/// `json_build_object`: see the module doc.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct JsonBuildObject {
    signature: Signature,
}

impl JsonBuildObject {
    pub(crate) fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(JsonBuildObject {
            signature: Signature::one_of(
                vec![TypeSignature::Nullary, TypeSignature::VariadicAny],
                Volatility::Stable,
            ),
        })
    }
}

fn invalid(status: Status, message: &str) -> datafusion::error::DataFusionError {
    QueryError::InvalidArgument {
        status,
        message: message.to_string(),
    }
    .into_datafusion()
}

impl ScalarUDFImpl for JsonBuildObject {
    fn name(&self) -> &str {
        "json_build_object"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if !arg_types.len().is_multiple_of(2) {
            return Err(invalid(
                Status::InvalidParameterValue,
                "argument list must have even number of elements",
            ));
        }
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = args
            .args
            .iter()
            .map(|a| a.to_array(rows))
            .collect::<Result<Vec<ArrayRef>>>()?;
        let mut out = StringBuilder::new();
        for row in 0..rows {
            let mut object = String::from("{");
            // return_type refused an odd count.
            for (i, pair) in arrays.chunks_exact(2).enumerate() {
                let (key, value) = (&pair[0], &pair[1]);
                let key = ScalarValue::try_from_array(key, row)?;
                if key.is_null() {
                    return Err(invalid(
                        Status::InvalidParameterValue,
                        &format!("argument {} cannot be null", 2 * i + 1),
                    ));
                }
                if i > 0 {
                    object.push_str(", ");
                }
                object.push_str(&json_string(&text_of(&key)?));
                object.push_str(" : ");
                write_value(&mut object, value, row)?;
            }
            object.push('}');
            out.append_value(object);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// `value` as text, as a cast to `text` gives it.
fn text_of(value: &ScalarValue) -> Result<String> {
    let text = value.cast_to(&DataType::Utf8)?;
    Ok(match text {
        ScalarValue::Utf8(Some(s)) => s,
        _ => String::new(),
    })
}

/// `text` as a JSON string.
fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

/// Appends the JSON of row `row` of `array` to `out`.
fn write_value(out: &mut String, array: &ArrayRef, row: usize) -> Result<()> {
    if array.logical_nulls().is_some_and(|n| n.is_null(row)) {
        out.push_str("null");
        return Ok(());
    }
    match array.data_type() {
        DataType::Boolean => out.push_str(if array.as_boolean().value(row) {
            "true"
        } else {
            "false"
        }),
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            let value = ScalarValue::try_from_array(array, row)?;
            let text = text_of(&value)?;
            // NaN and the infinities are no JSON numbers: strings, as in
            // PostgreSQL.
            let finite = value
                .cast_to(&DataType::Float64)
                .ok()
                .and_then(|v| match v {
                    ScalarValue::Float64(Some(f)) => Some(f.is_finite()),
                    _ => None,
                })
                .unwrap_or(false);
            if finite {
                out.push_str(&text);
            } else {
                out.push_str(&json_string(&text));
            }
        }
        t if t.is_integer() || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..)) => {
            out.push_str(&text_of(&ScalarValue::try_from_array(array, row)?)?);
        }
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) => {
            let ScalarValue::List(list) = ScalarValue::try_from_array(array, row)?
                .cast_to(&DataType::new_list(element_type(array.data_type()), true))?
            else {
                return Err(datafusion::error::DataFusionError::Internal(
                    "a list that is not one".into(),
                ));
            };
            let items = list.value(0);
            out.push('[');
            for i in 0..items.len() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, &items, i)?;
            }
            out.push(']');
        }
        _ => {
            let text = text_of(&ScalarValue::try_from_array(array, row)?)?;
            out.push_str(&json_string(&text));
        }
    }
    Ok(())
}

fn element_type(list: &DataType) -> DataType {
    match list {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            f.data_type().clone()
        }
        other => other.clone(),
    }
}
