//! Functions whose results follow PostgreSQL rather than DataFusion's defaults.
//!
//! `avg()` and `sum()` type and round their answers as PostgreSQL's do
//! (see [`crate::avg`] and [`crate::sum`]), and `version()` names the
//! PostgreSQL release Floe speaks for (drivers parse it to pick their
//! dialect). Some of DataFusion's functions are adjusted to PostgreSQL's
//! answers: `regexp_count` of a NULL is NULL, `atan2` computes in double
//! precision whatever its argument types, `split_part` of a NULL is NULL
//! whatever the position, `to_hex` of an `integer`
//! shows its 32 bits, `date_part`/`EXTRACT` of seconds or
//! milliseconds keeps the fraction, and `date_bin` takes an origin that
//! differs by row (DataFusion's takes only a constant one).

use std::sync::Arc;

use arrow::array::Float64Array;
use arrow::array::{Array, ArrayRef, AsArray, StringArray, make_array};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field, FieldRef, Int32Type, Int64Type};
use datafusion::error::Result;
use datafusion::logical_expr::{
    AggregateUDF, ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};
use datafusion::scalar::ScalarValue;

/// The aggregate functions Floe registers over DataFusion's.
pub fn aggregates() -> Vec<AggregateUDF> {
    vec![
        AggregateUDF::new_from_impl(crate::avg::PgAvg::new()),
        AggregateUDF::new_from_impl(crate::sum::PgSum::new()),
        AggregateUDF::new_from_impl(crate::percentile::PgPercentileCont::new()),
        AggregateUDF::new_from_impl(crate::string_agg::PgStringAgg::new()),
    ]
}

/// The scalar functions Floe registers over DataFusion's.
pub fn scalars() -> Vec<ScalarUDF> {
    use datafusion::functions::{datetime, math, regex};
    let mut scalars = crate::templates::Templated::all();
    scalars.push(crate::regexp::PgRegexpReplace::udf());
    scalars.push(crate::regexp::PgSubstringPattern::udf());
    scalars.push(crate::similar::SimilarToEscape::udf());
    scalars.push(crate::width_bucket::PgWidthBucket::udf());
    scalars.push(crate::apply::ArraySubquery::udf());
    scalars.push(crate::json::JsonBuildObject::udf());
    scalars.push(crate::intervals::MakeInterval::udf());
    scalars.extend([
        ScalarUDF::new_from_impl(PgVersion::new()),
        ScalarUDF::new_from_impl(PgDatePart {
            inner: datetime::date_part().as_ref().clone(),
        }),
        ScalarUDF::new_from_impl(PgToHex::new()),
        ScalarUDF::new_from_impl(crate::datetime::PgTimezone::new()),
        ScalarUDF::new_from_impl(Adjusted {
            inner: regex::regexp_count().as_ref().clone(),
            signature: None,
            strict: true,
            by_row: &[],
        }),
        ScalarUDF::new_from_impl(Adjusted {
            inner: datafusion::functions::string::split_part().as_ref().clone(),
            signature: None,
            strict: true,
            by_row: &[],
        }),
        ScalarUDF::new_from_impl(Adjusted {
            inner: datetime::date_bin().as_ref().clone(),
            signature: None,
            strict: false,
            by_row: &[0, 2],
        }),
        ScalarUDF::new_from_impl(Adjusted {
            inner: math::atan2().as_ref().clone(),
            signature: Some(Signature::exact(
                vec![DataType::Float64, DataType::Float64],
                Volatility::Immutable,
            )),
            strict: false,
            by_row: &[],
        }),
    ]);
    scalars
}

/// One of DataFusion's functions with PostgreSQL's argument types (a
/// `signature` its implementation accepts), NULL handling (`strict`: a
/// NULL argument gives NULL), or arguments that may differ by row where
/// DataFusion's implementation takes only constants (`by_row`: their
/// positions; such a call runs one row at a time).
#[derive(Debug, PartialEq, Eq, Hash)]
struct Adjusted {
    inner: ScalarUDF,
    signature: Option<Signature>,
    strict: bool,
    by_row: &'static [usize],
}

impl Adjusted {
    /// The inner function called once per row, every argument a constant.
    fn row_by_row(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let mut answers = Vec::with_capacity(args.number_rows);
        for row in 0..args.number_rows {
            let row_args = args
                .args
                .iter()
                .map(|a| match a {
                    ColumnarValue::Scalar(s) => Ok(ColumnarValue::Scalar(s.clone())),
                    ColumnarValue::Array(a) => {
                        ScalarValue::try_from_array(a, row).map(ColumnarValue::Scalar)
                    }
                })
                .collect::<Result<Vec<_>>>()?;
            let answer = self.inner.invoke_with_args(ScalarFunctionArgs {
                args: row_args,
                arg_fields: args.arg_fields.clone(),
                number_rows: 1,
                return_field: args.return_field.clone(),
                config_options: args.config_options.clone(),
            })?;
            answers.push(answer.into_array(1)?);
        }
        if answers.is_empty() {
            return Ok(ColumnarValue::Array(arrow::array::new_empty_array(
                args.return_field.data_type(),
            )));
        }
        let parts: Vec<&dyn Array> = answers.iter().map(|a| a.as_ref()).collect();
        Ok(ColumnarValue::Array(arrow::compute::concat(&parts)?))
    }
}

impl ScalarUDFImpl for Adjusted {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.signature
            .as_ref()
            .unwrap_or_else(|| self.inner.signature())
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn output_ordering(
        &self,
        inputs: &[datafusion::logical_expr::sort_properties::ExprProperties],
    ) -> Result<datafusion::logical_expr::sort_properties::SortProperties> {
        self.inner.output_ordering(inputs)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let varies = |i: &usize| matches!(args.args.get(*i), Some(ColumnarValue::Array(_)));
        if self.by_row.iter().any(varies) {
            return self.row_by_row(args);
        }
        if !self.strict {
            return self.inner.invoke_with_args(args);
        }
        let (rows, returns) = (args.number_rows, args.return_field.data_type().clone());
        let inputs = args.args.clone();
        // An argument that is NULL in every row makes every answer NULL,
        // whatever the others hold (`split_part(NULL, '.', 0)` is NULL;
        // PostgreSQL never looks at the position).
        let all_null = |a: &ColumnarValue| match a {
            ColumnarValue::Scalar(s) => s.is_null(),
            ColumnarValue::Array(a) => a.logical_null_count() == a.len(),
        };
        if inputs.iter().any(all_null) {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from(&returns)?));
        }
        let out = self.inner.invoke_with_args(args)?;
        let nulls = inputs
            .iter()
            .filter_map(|a| match a {
                ColumnarValue::Array(a) => a.logical_nulls(),
                ColumnarValue::Scalar(_) => None,
            })
            .fold(None, |all: Option<NullBuffer>, n| {
                NullBuffer::union(all.as_ref(), Some(&n))
            });
        let Some(nulls) = nulls else {
            return Ok(out);
        };
        let array = out.into_array(rows)?;
        let nulls = NullBuffer::union(array.logical_nulls().as_ref(), Some(&nulls));
        let data = array.to_data().into_builder().nulls(nulls).build()?;
        Ok(ColumnarValue::Array(make_array(data)))
    }
}

/// `to_hex(integer)` and `to_hex(bigint)`: an integer's two's complement
/// in 32 bits (smaller integers too), a bigint's in 64, as PostgreSQL.
#[derive(Debug, PartialEq, Eq, Hash)]
struct PgToHex {
    signature: Signature,
}

impl PgToHex {
    fn new() -> PgToHex {
        PgToHex {
            signature: Signature::uniform(
                1,
                vec![DataType::Int32, DataType::Int64],
                Volatility::Immutable,
            ),
        }
    }
}

impl ScalarUDFImpl for PgToHex {
    fn name(&self) -> &str {
        "to_hex"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let [arg] = args.args.as_slice() else {
            return datafusion::common::exec_err!("to_hex takes one argument");
        };
        let array = arg.to_array(rows)?;
        let hex: StringArray = match array.data_type() {
            DataType::Int32 => array
                .as_primitive::<Int32Type>()
                .iter()
                .map(|v| v.map(|v| format!("{:x}", v as u32)))
                .collect(),
            DataType::Int64 => array
                .as_primitive::<Int64Type>()
                .iter()
                .map(|v| v.map(|v| format!("{:x}", v as u64)))
                .collect(),
            other => return datafusion::common::exec_err!("to_hex of {other}"),
        };
        let hex: ArrayRef = Arc::new(hex);
        Ok(match arg {
            ColumnarValue::Scalar(_) => {
                ColumnarValue::Scalar(ScalarValue::try_from_array(&hex, 0)?)
            }
            ColumnarValue::Array(_) => ColumnarValue::Array(hex),
        })
    }
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

/// `date_part` (and `EXTRACT`, which DataFusion plans as it) of a
/// timestamp's or time's `second`, `millisecond` or `microsecond`: the
/// seconds with their fraction, in double precision, rounded to the
/// microsecond as PostgreSQL's timestamps are (`12.123457`, `12123.457`,
/// `12123457`). DataFusion's answers are whole numbers, the fraction
/// dropped. Every other part is DataFusion's.
#[derive(Debug, PartialEq, Eq, Hash)]
struct PgDatePart {
    inner: ScalarUDF,
}

/// Microseconds per unit of a fractional part of [`PgDatePart`].
fn fractional_part(part: &str, of: &DataType) -> Option<f64> {
    if !matches!(
        of,
        DataType::Timestamp(..) | DataType::Time32(_) | DataType::Time64(_)
    ) {
        return None;
    }
    match part.trim().to_ascii_lowercase().as_str() {
        "second" | "seconds" => Some(1e6),
        "millisecond" | "milliseconds" => Some(1e3),
        "microsecond" | "microseconds" => Some(1.0),
        _ => None,
    }
}

fn part_text(v: Option<&ScalarValue>) -> Option<&str> {
    v.and_then(|v| v.try_as_str().flatten())
}

impl ScalarUDFImpl for PgDatePart {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        if let ([part, _], [_, of]) = (args.scalar_arguments, args.arg_fields)
            && part_text(*part).is_some_and(|p| fractional_part(p, of.data_type()).is_some())
        {
            return Ok(Arc::new(Field::new(
                self.name(),
                DataType::Float64,
                of.is_nullable(),
            )));
        }
        self.inner.return_field_from_args(args)
    }

    fn invoke_with_args(&self, mut args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let per_unit = match (args.args.as_slice(), args.arg_fields.as_slice()) {
            ([ColumnarValue::Scalar(part), _], [_, of]) => {
                part_text(Some(part)).and_then(|p| fractional_part(p, of.data_type()))
            }
            _ => None,
        };
        let Some(per_unit) = per_unit else {
            return self.inner.invoke_with_args(args);
        };
        // The nanoseconds within the minute, as DataFusion gives them.
        args.args[0] = ColumnarValue::Scalar(ScalarValue::Utf8(Some("nanosecond".into())));
        let scalar = matches!(args.args[1], ColumnarValue::Scalar(_));
        let rows = args.number_rows;
        let nanos = self.inner.invoke_with_args(args)?.into_array(rows)?;
        let nanos = datafusion::arrow::compute::cast(&nanos, &DataType::Int64)?;
        let value: Float64Array = nanos
            .as_primitive::<Int64Type>()
            .unary(|ns| (ns as f64 / 1e3).round() / per_unit);
        let value: ArrayRef = Arc::new(value);
        Ok(if scalar {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&value, 0)?)
        } else {
            ColumnarValue::Array(value)
        })
    }
}
