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

/// The one argument of `avg` or `sum` (`name`) with the type it is
/// accumulated as: integers (and NULL) as `integer` maps them, floating
/// point as double, numerics and durations as they are; any other type is
/// an error naming the function, as PostgreSQL's "function avg(text) does
/// not exist".
pub(crate) fn numeric_argument(
    name: &str,
    arg_types: &[DataType],
    integer: fn(&DataType) -> DataType,
) -> Result<Vec<DataType>> {
    let [arg] = arg_types else {
        return datafusion::common::plan_err!("{name} takes one argument, not {}", arg_types.len());
    };
    Ok(vec![numeric_input(name, arg, integer)?])
}

pub(crate) fn numeric_input(
    name: &str,
    arg: &DataType,
    integer: fn(&DataType) -> DataType,
) -> Result<DataType> {
    Ok(match arg {
        t if t.is_integer() || *t == DataType::Null => integer(t),
        DataType::Float16 | DataType::Float32 | DataType::Float64 => DataType::Float64,
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..)
        | DataType::Duration(_) => arg.clone(),
        DataType::Dictionary(_, value) => numeric_input(name, value, integer)?,
        other => {
            return datafusion::common::plan_err!("function {name}({other}) does not exist");
        }
    })
}
