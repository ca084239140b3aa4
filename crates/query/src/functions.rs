//! Functions whose results follow PostgreSQL rather than DataFusion's defaults.
//!
//! `avg()` and `sum()` type and round their answers as PostgreSQL's do
//! (see [`crate::avg`] and [`crate::sum`]), and `version()` names the
//! PostgreSQL release Floe speaks for (drivers parse it to pick their
//! dialect).

use arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{
    AggregateUDF, ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::scalar::ScalarValue;

/// The aggregate functions Floe registers over DataFusion's.
pub fn aggregates() -> Vec<AggregateUDF> {
    vec![
        AggregateUDF::new_from_impl(crate::avg::PgAvg::new()),
        AggregateUDF::new_from_impl(crate::sum::PgSum::new()),
    ]
}

/// The scalar functions Floe registers over DataFusion's.
pub fn scalars() -> Vec<ScalarUDF> {
    vec![ScalarUDF::new_from_impl(PgVersion::new())]
}

/// `version()`: `PostgreSQL 15.0 (Floe 0.1.0) on x86_64-linux, 64-bit`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct PgVersion {
    signature: Signature,
}

impl PgVersion {
    fn new() -> PgVersion {
        PgVersion {
            signature: Signature::nullary(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for PgVersion {
    fn name(&self) -> &str {
        "version"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(
            floe_common::defaults::version(),
        ))))
    }
}
