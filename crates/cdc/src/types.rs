//! PostgreSQL column types as Iceberg types, and PostgreSQL's text output
//! as Arrow columns.
//!
//! | PostgreSQL | Floe (Iceberg) |
//! |---|---|
//! | bool | boolean |
//! | int2, int4 | int |
//! | int8, oid | long |
//! | float4 / float8 | float / double |
//! | numeric(p,s), p <= 38 | decimal(p,s) |
//! | numeric without precision, or p > 38 | string (the exact decimal text) |
//! | text, varchar, char, name | string |
//! | bytea | binary |
//! | uuid | uuid |
//! | date, time, timestamp, timestamptz | date, time, timestamp, timestamptz |
//! | interval | string, ISO 8601 (`P1Y2M3DT4H5M6S`) |
//! | json, jsonb | string (the JSON text) |
//! | arrays, enums and every other type | string (PostgreSQL's text form) |
//!
//! Domains are replicated as their base type.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float32Array, Float64Array, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, SchemaRef};
use iceberg::spec::PrimitiveType;

/// Well-known type OIDs.
pub mod oid {
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const OID: u32 = 26;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const DATE: u32 = 1082;
    pub const TIME: u32 = 1083;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const NUMERIC: u32 = 1700;
    pub const UUID: u32 = 2950;

    /// Built-in base types (never domains), including the text-like ones
    /// stored as strings: no catalog lookup is needed for these.
    pub const BUILTIN: [u32; 22] = [
        BOOL,
        BYTEA,
        INT8,
        INT2,
        INT4,
        OID,
        FLOAT4,
        FLOAT8,
        DATE,
        TIME,
        TIMESTAMP,
        TIMESTAMPTZ,
        NUMERIC,
        UUID,
        18,
        19,
        25,
        114,
        1042,
        1043,
        1186,
        3802,
    ];
}

/// The Iceberg type a column of PostgreSQL type `type_oid` (a base type,
/// domains already resolved) with modifier `type_mod` is stored as.
pub fn iceberg_type(type_oid: u32, type_mod: i32) -> PrimitiveType {
    match type_oid {
        oid::BOOL => PrimitiveType::Boolean,
        oid::INT2 | oid::INT4 => PrimitiveType::Int,
        oid::INT8 | oid::OID => PrimitiveType::Long,
        oid::FLOAT4 => PrimitiveType::Float,
        oid::FLOAT8 => PrimitiveType::Double,
        oid::NUMERIC => match numeric_precision(type_mod) {
            Some((precision, scale)) if precision <= 38 => {
                PrimitiveType::Decimal { precision, scale }
            }
            _ => PrimitiveType::String,
        },
        oid::BYTEA => PrimitiveType::Binary,
        oid::UUID => PrimitiveType::Uuid,
        oid::DATE => PrimitiveType::Date,
        oid::TIME => PrimitiveType::Time,
        oid::TIMESTAMP => PrimitiveType::Timestamp,
        oid::TIMESTAMPTZ => PrimitiveType::Timestamptz,
        _ => PrimitiveType::String,
    }
}

/// Precision and scale of a `numeric` type modifier.
fn numeric_precision(type_mod: i32) -> Option<(u32, u32)> {
    if type_mod < 4 {
        return None;
    }
    let m = (type_mod - 4) as u32;
    Some(((m >> 16) & 0xffff, m & 0xffff))
}

/// Whether a column of Iceberg type `from` can hold the values of a new
/// source type `to` after Iceberg schema evolution (int to long, float to
/// double, a wider decimal precision), or is already that type.
pub fn widens(from: &PrimitiveType, to: &PrimitiveType) -> bool {
    use PrimitiveType as P;
    match (from, to) {
        (a, b) if a == b => true,
        (P::Int, P::Long) | (P::Float, P::Double) => true,
        (
            P::Decimal {
                precision: p1,
                scale: s1,
            },
            P::Decimal {
                precision: p2,
                scale: s2,
            },
        ) => s1 == s2 && p2 >= p1,
        _ => false,
    }
}

/// A value that does not convert: its row (in the batch), column and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadValue {
    pub row: usize,
    pub column: String,
    pub value: String,
    pub ty: String,
}

/// Text values collected column by column, converted to typed Arrow
/// columns of a schema in one step.
pub struct TextColumns {
    schema: SchemaRef,
    columns: Vec<StringBuilder>,
    rows: usize,
}

impl TextColumns {
    /// Empty columns for `schema`.
    pub fn new(schema: SchemaRef) -> TextColumns {
        let columns = schema
            .fields()
            .iter()
            .map(|_| StringBuilder::new())
            .collect();
        TextColumns {
            schema,
            columns,
            rows: 0,
        }
    }

    /// Columns per row.
    pub fn width(&self) -> usize {
        self.columns.len()
    }

    /// Rows collected so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The builder of column `i`; every column must get exactly one value
    /// per row, then [`TextColumns::end_row`].
    pub fn column(&mut self, i: usize) -> &mut StringBuilder {
        &mut self.columns[i]
    }

    /// Ends a row.
    pub fn end_row(&mut self) {
        self.rows += 1;
    }

    /// The collected rows as a batch of the schema's types.
    pub fn finish(&mut self) -> Result<RecordBatch, BadValue> {
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.columns.len());
        for (field, builder) in self.schema.fields().iter().zip(self.columns.iter_mut()) {
            let text = builder.finish();
            let (typed, bad) = convert(field.data_type(), &text);
            if let Some(&row) = bad.first() {
                return Err(BadValue {
                    row,
                    column: field.name().clone(),
                    value: text.value(row).to_string(),
                    ty: floe_ingest::values::type_name(field.data_type()),
                });
            }
            arrays.push(typed);
        }
        self.rows = 0;
        RecordBatch::try_new(self.schema.clone(), arrays).map_err(|e| BadValue {
            row: 0,
            column: String::new(),
            value: e.to_string(),
            ty: "row".into(),
        })
    }
}

/// Converts PostgreSQL text output to `ty`; returns the column and the
/// rows whose text did not convert.
fn convert(ty: &DataType, text: &arrow::array::StringArray) -> (ArrayRef, Vec<usize>) {
    match ty {
        DataType::Float32 | DataType::Float64 => {
            let mut bad = Vec::new();
            let values: Vec<Option<f64>> = (0..text.len())
                .map(|i| {
                    if text.is_null(i) {
                        return None;
                    }
                    let v = parse_float(text.value(i));
                    if v.is_none() {
                        bad.push(i);
                    }
                    v
                })
                .collect();
            let array: ArrayRef = if *ty == DataType::Float32 {
                Arc::new(
                    values
                        .into_iter()
                        .map(|v| v.map(|f| f as f32))
                        .collect::<Float32Array>(),
                )
            } else {
                Arc::new(values.into_iter().collect::<Float64Array>())
            };
            (array, bad)
        }
        DataType::Timestamp(_, Some(_)) => {
            // PostgreSQL writes UTC offsets as `+00`; Arrow wants `+00:00`.
            let fixed: arrow::array::StringArray =
                text.iter().map(|v| v.map(normalize_offset)).collect();
            floe_ingest::values::parse_column(ty, &fixed)
        }
        DataType::LargeBinary => {
            let (bytes, bad) = floe_ingest::values::parse_column(&DataType::Binary, text);
            match arrow::compute::cast(&bytes, ty) {
                Ok(large) => (large, bad),
                Err(_) => (bytes, bad),
            }
        }
        _ => floe_ingest::values::parse_column(ty, text),
    }
}

fn parse_float(s: &str) -> Option<f64> {
    match s {
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        other => other.parse().ok(),
    }
}

fn normalize_offset(s: &str) -> String {
    let b = s.as_bytes();
    let n = b.len();
    if n >= 3
        && (b[n - 3] == b'+' || b[n - 3] == b'-')
        && b[n - 2].is_ascii_digit()
        && b[n - 1].is_ascii_digit()
    {
        format!("{s}:00")
    } else {
        s.to_string()
    }
}

/// Converts collected text rows, naming the value that does not convert.
pub(crate) fn finish_text(
    text: &mut TextColumns,
    source: &str,
    upstream: &str,
) -> crate::error::Result<RecordBatch> {
    text.finish()
        .map_err(|bad| crate::error::CdcError::InvalidValue {
            source_name: source.to_string(),
            table: upstream.to_string(),
            column: bad.column,
            value: bad.value,
            ty: bad.ty,
        })
}

#[cfg(test)]
mod tests;
