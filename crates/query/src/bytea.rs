//! Text to `bytea` the way PostgreSQL reads it.
//!
//! DataFusion casts text to binary by taking the text's bytes, so
//! `INSERT INTO t (b) VALUES ('\x4142')` would store six bytes where
//! PostgreSQL stores two, and invalid input would pass silently. Every cast
//! from text to a binary type in a plan (written in SQL, or added by
//! INSERT or by type coercion) is replaced by [`ByteaIn`], which decodes
//! PostgreSQL's hex and escape forms and refuses anything else with 22P02.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BinaryBuilder, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::{Cast, ScalarFunction};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::scalar::ScalarValue;

use crate::error::QueryError;
use crate::rewrite::rewrite_casts;

/// `bytea_in(text)`: PostgreSQL's bytea input function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ByteaIn {
    signature: Signature,
}

impl ByteaIn {
    fn new() -> ByteaIn {
        ByteaIn {
            signature: Signature::string(1, Volatility::Immutable),
        }
    }

    /// The function, ready to call in a plan.
    pub fn udf() -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::new_from_impl(ByteaIn::new()))
    }
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

impl ScalarUDFImpl for ByteaIn {
    fn name(&self) -> &str {
        "bytea_in"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return Err(datafusion::common::DataFusionError::Plan(
                "bytea_in takes one argument".into(),
            ));
        };
        match arg {
            ColumnarValue::Scalar(scalar) => {
                let text = scalar.to_array()?;
                let text = cast(&text, &DataType::Utf8)?;
                let decoded = decode(text.as_any().downcast_ref().expect("cast to Utf8"))?;
                Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                    &decoded, 0,
                )?))
            }
            ColumnarValue::Array(array) => {
                let text = cast(array, &DataType::Utf8)?;
                Ok(ColumnarValue::Array(decode(
                    text.as_any().downcast_ref().expect("cast to Utf8"),
                )?))
            }
        }
    }
}

/// The analyzer rule that routes text-to-binary casts through [`ByteaIn`].
#[derive(Debug)]
pub struct PgByteaCasts {
    udf: Arc<ScalarUDF>,
}

impl PgByteaCasts {
    pub fn new() -> PgByteaCasts {
        PgByteaCasts {
            udf: ByteaIn::udf(),
        }
    }

    /// `bytea_in(expr)` if `expr` (in `schema`) is text cast to `to`.
    fn rewrite(&self, expr: &Expr, to: &DataType, schema: &DFSchema) -> Option<Expr> {
        if !matches!(
            to,
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView
        ) {
            return None;
        }
        let from = expr.get_type(schema).ok()?;
        if !matches!(
            from,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ) {
            return None;
        }
        let call = Expr::ScalarFunction(ScalarFunction::new_udf(
            self.udf.clone(),
            vec![expr.clone()],
        ));
        Some(if *to == DataType::Binary {
            call
        } else {
            Expr::Cast(Cast::new(Box::new(call), to.clone()))
        })
    }
}

impl AnalyzerRule for PgByteaCasts {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_casts(plan, &|expr, to, schema| self.rewrite(expr, to, schema))
    }

    fn name(&self) -> &str {
        "floe_pg_bytea_casts"
    }
}
