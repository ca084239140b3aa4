//! PostgreSQL system functions that drivers and psql call in their catalog
//! queries and that the protocol library's `pg_catalog` lacks:
//!
//! - `to_regtype(name)`: the OID of a built-in type, or NULL for a type
//!   Floe does not have (psycopg asks it for `hstore`, and SQLAlchemy's
//!   dialect on every connection);
//! - `pg_function_is_visible(oid)`, `pg_get_function_result(oid)` and
//!   `pg_get_function_arguments(oid)`, which psql's `\df` reads. Floe has
//!   no user-defined functions; every function in `pg_proc` is one of
//!   PostgreSQL's own, in `pg_catalog`; likewise `pg_collation_is_visible(oid)`;
//! - `current_setting(name [, missing_ok])`, for the settings clients read
//!   this way (Grafana asks `server_version_num`, BI tools `search_path`),
//!   the session's time zone and its custom settings (`app.user_id`);
//! - the functions of psql's `\d+` and `\dt+` and SQLAlchemy's
//!   reflection whose answer for a Floe relation is NULL: there are no
//!   comments (`col_description`, `obj_description`), no indexes
//!   (`pg_get_indexdef`) and no sequences (`pg_get_serial_sequence`);
//! - `pg_size_pretty(bigint)`, PostgreSQL's rendering of a byte count;
//! - `format_type(oid, typmod)` naming an array type with its element's
//!   modifier (`numeric(10,2)[]`), which the library's drops.

use std::sync::Arc;

use std::ops::RangeInclusive;

use arrow::array::{Array, ArrayRef, AsArray, Int32Array, StringArray};
use arrow::datatypes::{DataType, Int32Type, Int64Type};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

/// Registers the functions in `ctx`.
pub(crate) fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(ToRegtype::new()));
    ctx.register_udf(ScalarUDF::new_from_impl(CurrentSetting::new()));
    ctx.register_udf(ScalarUDF::new_from_impl(SizePretty::new()));
    ctx.register_udf(ScalarUDF::new_from_impl(FormatType::new()));
    let text = || ScalarValue::Utf8(None);
    for (name, arity, value) in [
        (
            "pg_function_is_visible",
            1..=1,
            ScalarValue::Boolean(Some(true)),
        ),
        (
            "pg_collation_is_visible",
            1..=1,
            ScalarValue::Boolean(Some(true)),
        ),
        ("pg_get_function_result", 1..=1, ScalarValue::from("")),
        ("pg_get_function_arguments", 1..=1, ScalarValue::from("")),
        ("col_description", 2..=2, text()),
        ("obj_description", 1..=2, text()),
        ("pg_get_indexdef", 1..=3, text()),
        ("pg_get_serial_sequence", 2..=2, text()),
    ] {
        ctx.register_udf(ScalarUDF::new_from_impl(Constant::new(name, arity, value)));
    }
}

/// The one text argument of function `name`, as a `Utf8` array of the
/// call's rows.
fn text_argument(name: &str, args: &ScalarFunctionArgs) -> Result<ArrayRef> {
    let [arg] = args.args.as_slice() else {
        return exec_err!("{name} takes one argument");
    };
    let values = arg.to_array(args.number_rows)?;
    Ok(arrow::compute::cast(&values, &DataType::Utf8)?)
}

/// The element type of the array types whose element takes a modifier.
fn modified_element(array_oid: i32) -> Option<i32> {
    Some(match array_oid {
        1014 => 1042, // bpchar[]
        1015 => 1043, // varchar[]
        1231 => 1700, // numeric[]
        1183 => 1083, // time[]
        1115 => 1114, // timestamp[]
        1185 => 1184, // timestamptz[]
        _ => return None,
    })
}

/// `format_type(oid, typmod)`: the library's, but an array of a type with
/// a modifier is named as its element with that modifier, then `[]`, as
/// PostgreSQL names it.
#[derive(Debug, PartialEq, Eq, Hash)]
struct FormatType {
    inner: ScalarUDF,
}

impl FormatType {
    fn new() -> FormatType {
        FormatType {
            inner: datafusion_postgres::datafusion_pg_catalog::pg_catalog::format_type::create_format_type_udf(),
        }
    }
}

impl ScalarUDFImpl for FormatType {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn invoke_with_args(&self, mut args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [oids, typmods] = args.args.as_slice() else {
            return self.inner.invoke_with_args(args);
        };
        let rows = args.number_rows;
        let oids = arrow::compute::cast(&oids.to_array(rows)?, &DataType::Int32)?;
        let typmods = arrow::compute::cast(&typmods.to_array(rows)?, &DataType::Int32)?;
        let (oids, typmods) = (
            oids.as_primitive::<Int32Type>(),
            typmods.as_primitive::<Int32Type>(),
        );
        let element = |i: usize| {
            (oids.is_valid(i) && typmods.is_valid(i) && typmods.value(i) >= 0)
                .then(|| modified_element(oids.value(i)))
                .flatten()
        };
        if !(0..rows).any(|i| element(i).is_some()) {
            return self.inner.invoke_with_args(args);
        }
        let asked: Int32Array = (0..rows)
            .map(|i| element(i).or_else(|| oids.is_valid(i).then(|| oids.value(i))))
            .collect();
        args.args = vec![
            ColumnarValue::Array(Arc::new(asked)),
            ColumnarValue::Array(Arc::new(typmods.clone())),
        ];
        let names = self.inner.invoke_with_args(args)?.to_array(rows)?;
        let names = arrow::compute::cast(&names, &DataType::Utf8)?;
        let names: StringArray = names
            .as_string::<i32>()
            .iter()
            .enumerate()
            .map(|(i, name)| match element(i) {
                Some(_) => name.map(|n| format!("{n}[]")),
                None => name.map(str::to_string),
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(names)))
    }
}

/// Built-in type names (as `to_regtype` reads them: lower case, the
/// standard spellings included) and their PostgreSQL OIDs.
const TYPE_OIDS: &[(&str, i32)] = &[
    ("bool", 16),
    ("boolean", 16),
    ("bytea", 17),
    ("char", 18),
    ("name", 19),
    ("int8", 20),
    ("bigint", 20),
    ("int2", 21),
    ("smallint", 21),
    ("int4", 23),
    ("integer", 23),
    ("int", 23),
    ("regproc", 24),
    ("text", 25),
    ("oid", 26),
    ("json", 114),
    ("float4", 700),
    ("real", 700),
    ("float8", 701),
    ("double precision", 701),
    ("bpchar", 1042),
    ("character", 1042),
    ("varchar", 1043),
    ("character varying", 1043),
    ("date", 1082),
    ("time", 1083),
    ("time without time zone", 1083),
    ("timestamp", 1114),
    ("timestamp without time zone", 1114),
    ("timestamptz", 1184),
    ("timestamp with time zone", 1184),
    ("interval", 1186),
    ("numeric", 1700),
    ("decimal", 1700),
    ("regclass", 2205),
    ("regtype", 2206),
    ("uuid", 2950),
    ("jsonb", 3802),
];

/// The OID of type `name`, as `to_regtype` resolves it.
fn type_oid(name: &str) -> Option<i32> {
    let name = name.trim().to_ascii_lowercase();
    let name = name.strip_prefix("pg_catalog.").unwrap_or(&name);
    let name = name.trim_matches('"');
    TYPE_OIDS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, oid)| *oid)
}

/// `to_regtype(text)`: see the module's doc.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ToRegtype {
    signature: Signature,
}

impl ToRegtype {
    fn new() -> ToRegtype {
        ToRegtype {
            signature: Signature::string(1, Volatility::Stable),
        }
    }
}

impl ScalarUDFImpl for ToRegtype {
    fn name(&self) -> &str {
        "to_regtype"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let names = text_argument(self.name(), &args)?;
        let oids: Int32Array = names
            .as_string::<i32>()
            .iter()
            .map(|n| n.and_then(type_oid))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(oids)))
    }
}

/// The value of setting `name` as `current_setting` reports it, if Floe
/// has the setting.
fn setting(name: &str) -> Option<String> {
    Some(match name.to_ascii_lowercase().as_str() {
        "server_version" => floe_common::defaults::server_version(),
        "server_version_num" => floe_common::defaults::PG_VERSION_NUM.to_string(),
        "search_path" => "\"$user\", public".to_string(),
        "server_encoding" | "client_encoding" => "UTF8".to_string(),
        "standard_conforming_strings" | "integer_datetimes" => "on".to_string(),
        "datestyle" => "ISO, MDY".to_string(),
        "timezone" => floe_query::zone::current().shown().to_string(),
        "max_identifier_length" => "63".to_string(),
        custom => return floe_query::custom_setting(custom),
    })
}

/// `current_setting(name [, missing_ok])`: see the module's doc. A setting
/// Floe does not have is SQLSTATE 42704, as in PostgreSQL, or NULL when
/// `missing_ok` is true.
#[derive(Debug, PartialEq, Eq, Hash)]
struct CurrentSetting {
    signature: Signature,
}

impl CurrentSetting {
    fn new() -> CurrentSetting {
        CurrentSetting {
            signature: Signature::one_of(
                vec![
                    TypeSignature::String(1),
                    TypeSignature::Exact(vec![DataType::Utf8, DataType::Boolean]),
                ],
                Volatility::Stable,
            ),
        }
    }
}

impl ScalarUDFImpl for CurrentSetting {
    fn name(&self) -> &str {
        "current_setting"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let (names, missing_ok) = match args.args.as_slice() {
            [name] => (name.to_array(rows)?, None),
            [name, missing_ok] => (name.to_array(rows)?, Some(missing_ok.to_array(rows)?)),
            _ => return exec_err!("current_setting takes one or two arguments"),
        };
        let names = arrow::compute::cast(&names, &DataType::Utf8)?;
        let values = names
            .as_string::<i32>()
            .iter()
            .enumerate()
            .map(|(row, n)| match n {
                None => Ok(None),
                Some(n) => match setting(n) {
                    Some(v) => Ok(Some(v)),
                    None if missing_ok
                        .as_ref()
                        .is_some_and(|m| m.is_valid(row) && m.as_boolean().value(row)) =>
                    {
                        Ok(None)
                    }
                    None => plan_err!("unrecognized configuration parameter \"{n}\""),
                },
            })
            .collect::<Result<StringArray>>()?;
        Ok(ColumnarValue::Array(Arc::new(values)))
    }
}

/// A catalog function whose answer is the same for every argument (see
/// the module's doc): `pg_proc`'s functions and `pg_collation`'s
/// collations are all visible, and Floe
/// reports no result or argument types for them; the rest are NULL.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Constant {
    name: &'static str,
    value: ScalarValue,
    signature: Signature,
}

impl Constant {
    fn new(name: &'static str, arity: RangeInclusive<usize>, value: ScalarValue) -> Constant {
        let forms = arity.map(TypeSignature::Any).collect();
        Constant {
            name,
            value,
            signature: Signature::one_of(forms, Volatility::Stable),
        }
    }
}

impl ScalarUDFImpl for Constant {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.value.data_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Array(
            self.value.to_array_of_size(args.number_rows)?,
        ))
    }
}

/// PostgreSQL's rendering of a byte count: bytes below 10 kB, then the
/// first unit (kB, MB, GB, TB, PB) that leaves less than 10 of the next,
/// with a half rounded away from zero.
fn size_pretty(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if bytes.unsigned_abs() < 10 * 1024 {
        return format!("{bytes} bytes");
    }
    // The count in halves of the unit, for the rounding.
    let mut halves = bytes / 512;
    for (i, unit) in UNITS.iter().enumerate() {
        if i == UNITS.len() - 1 || halves.unsigned_abs() < 20 * 1024 - 1 {
            let rounded = (halves + if halves < 0 { -1 } else { 1 }) / 2;
            return format!("{rounded} {unit}");
        }
        halves /= 1024;
    }
    unreachable!("the last unit returns")
}

/// `pg_size_pretty(bigint)`: see [`size_pretty`].
#[derive(Debug, PartialEq, Eq, Hash)]
struct SizePretty {
    signature: Signature,
}

impl SizePretty {
    fn new() -> SizePretty {
        SizePretty {
            signature: Signature::exact(vec![DataType::Int64], Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for SizePretty {
    fn name(&self) -> &str {
        "pg_size_pretty"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [bytes] = args.args.as_slice() else {
            return exec_err!("pg_size_pretty takes one argument");
        };
        let bytes = bytes.to_array(args.number_rows)?;
        let text: StringArray = bytes
            .as_primitive::<Int64Type>()
            .iter()
            .map(|b| b.map(size_pretty))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(text)))
    }
}

#[cfg(test)]
mod tests;
