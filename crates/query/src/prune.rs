//! Scan filters as Iceberg predicates, for pruning data files by the column
//! bounds and counts their manifests record.
//!
//! A filter becomes a predicate that every row the filter keeps also
//! satisfies: a file the predicate rules out holds no row the query wants.
//! Where a part of a filter has no Iceberg form (a function call, a cast, a
//! comparison of two columns) the predicate is weaker than the filter, never
//! stronger, and DataFusion still evaluates the whole filter on the rows.
//! Literals are converted to the stored column's type first; a literal that
//! does not convert exactly (`int_col < 2.5`) prunes nothing.

use arrow::datatypes::{DataType, Schema};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::expr::{Between, InList};
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};
use iceberg::expr::{Predicate, Reference};
use iceberg::spec::{Datum, PrimitiveType};

/// The predicate implied by all of `filters` together, over the columns of
/// the stored schema; `None` when no part of them has an Iceberg form.
pub(crate) fn filters_to_predicate(filters: &[Expr], stored: &Schema) -> Option<Predicate> {
    filters
        .iter()
        .filter_map(|f| implied(f, stored))
        .map(|c| c.predicate)
        .reduce(Predicate::and)
}

/// A converted filter. `exact` when the predicate keeps exactly the non-null
/// values the filter keeps, so that its negation may be taken too.
struct Converted {
    predicate: Predicate,
    exact: bool,
}

impl Converted {
    fn exact(predicate: Predicate) -> Converted {
        Converted {
            predicate,
            exact: true,
        }
    }
}

fn implied(expr: &Expr, stored: &Schema) -> Option<Converted> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And => match (implied(left, stored), implied(right, stored)) {
                (Some(a), Some(b)) => Some(Converted {
                    predicate: a.predicate.and(b.predicate),
                    exact: a.exact && b.exact,
                }),
                // One side alone is weaker than both: still implied, no
                // longer exact.
                (Some(one), None) | (None, Some(one)) => Some(Converted {
                    predicate: one.predicate,
                    exact: false,
                }),
                (None, None) => None,
            },
            Operator::Or => {
                let a = implied(left, stored)?;
                let b = implied(right, stored)?;
                Some(Converted {
                    predicate: a.predicate.or(b.predicate),
                    exact: a.exact && b.exact,
                })
            }
            op => comparison(left, *op, right, stored).map(Converted::exact),
        },
        // The negation of a weaker predicate would be stronger than the
        // negated filter, so only exact ones are negated.
        Expr::Not(inner) => {
            let inner = implied(inner, stored)?;
            inner.exact.then(|| Converted::exact(!inner.predicate))
        }
        Expr::IsNull(e) => Some(Converted::exact(column(e, stored)?.0.is_null())),
        Expr::IsNotNull(e) => Some(Converted::exact(column(e, stored)?.0.is_not_null())),
        Expr::InList(InList {
            expr,
            list,
            negated,
        }) => {
            let (reference, ty) = column(expr, stored)?;
            let values = list
                .iter()
                .map(|e| literal(e, ty))
                .collect::<Option<Vec<_>>>()?;
            Some(Converted::exact(if *negated {
                reference.is_not_in(values)
            } else {
                reference.is_in(values)
            }))
        }
        Expr::Between(Between {
            expr,
            negated,
            low,
            high,
        }) => {
            let (reference, ty) = column(expr, stored)?;
            let (low, high) = (literal(low, ty)?, literal(high, ty)?);
            Some(Converted::exact(if *negated {
                reference
                    .clone()
                    .less_than(low)
                    .or(reference.greater_than(high))
            } else {
                reference
                    .clone()
                    .greater_than_or_equal_to(low)
                    .and(reference.less_than_or_equal_to(high))
            }))
        }
        // A boolean column used as a filter by itself.
        Expr::Column(_) => {
            let (reference, ty) = column(expr, stored)?;
            (ty == &DataType::Boolean)
                .then(|| Converted::exact(reference.equal_to(Datum::bool(true))))
        }
        _ => None,
    }
}

/// `column op literal`, either way round.
fn comparison(left: &Expr, op: Operator, right: &Expr, stored: &Schema) -> Option<Predicate> {
    let (col, lit, op) = match (column(left, stored), column(right, stored)) {
        (Some(col), None) => (col, right, op),
        (None, Some(col)) => (col, left, op.swap()?),
        _ => return None,
    };
    let (reference, ty) = col;
    let value = literal(lit, ty)?;
    Some(match op {
        Operator::Eq => reference.equal_to(value),
        Operator::NotEq => reference.not_equal_to(value),
        Operator::Lt => reference.less_than(value),
        Operator::LtEq => reference.less_than_or_equal_to(value),
        Operator::Gt => reference.greater_than(value),
        Operator::GtEq => reference.greater_than_or_equal_to(value),
        _ => return None,
    })
}

/// A plain column of the stored schema, with its stored type. Names with a
/// dot are left alone: Iceberg would read them as a path into a struct.
fn column<'a>(expr: &Expr, stored: &'a Schema) -> Option<(Reference, &'a DataType)> {
    let Expr::Column(c) = expr else {
        return None;
    };
    if c.name.contains('.') {
        return None;
    }
    let field = stored.field_with_name(&c.name).ok()?;
    Some((Reference::new(c.name.clone()), field.data_type()))
}

/// A non-null literal as a datum of the column's type, when it converts to
/// that type and back without change.
fn literal(expr: &Expr, ty: &DataType) -> Option<Datum> {
    let Expr::Literal(value, _) = expr else {
        return None;
    };
    if value.is_null() {
        return None;
    }
    let cast = value.cast_to(ty).ok()?;
    if cast.cast_to(&value.data_type()).ok()? != *value {
        return None;
    }
    datum(&cast)
}

/// The Iceberg datum of a scalar of a type Iceberg bounds are kept for.
fn datum(value: &ScalarValue) -> Option<Datum> {
    use ScalarValue as S;
    Some(match value {
        S::Boolean(Some(v)) => Datum::bool(*v),
        S::Int8(Some(v)) => Datum::int(*v),
        S::Int16(Some(v)) => Datum::int(*v),
        S::Int32(Some(v)) => Datum::int(*v),
        S::Int64(Some(v)) => Datum::long(*v),
        S::Float32(Some(v)) => Datum::float(*v),
        S::Float64(Some(v)) => Datum::double(*v),
        S::Utf8(Some(v)) | S::LargeUtf8(Some(v)) | S::Utf8View(Some(v)) => Datum::string(v),
        S::Binary(Some(v)) | S::LargeBinary(Some(v)) | S::BinaryView(Some(v)) => {
            Datum::binary(v.iter().copied())
        }
        S::Date32(Some(v)) => Datum::date(*v),
        S::Time64Microsecond(Some(v)) => Datum::time_micros(*v).ok()?,
        S::TimestampMicrosecond(Some(v), None) => Datum::timestamp_micros(*v),
        S::TimestampMicrosecond(Some(v), Some(_)) => Datum::timestamptz_micros(*v),
        S::Decimal128(Some(v), precision, scale) => {
            let scale = u32::try_from(*scale).ok()?;
            Datum::try_from_bytes(
                &v.to_be_bytes(),
                PrimitiveType::Decimal {
                    precision: u32::from(*precision),
                    scale,
                },
            )
            .ok()?
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
