//! `timestamp with time zone` computed in the session's time zone.
//!
//! Stored columns carry UTC as their zone, and Arrow's kernels read a
//! value's wall-clock time in the zone its type carries. In a session
//! whose zone is not UTC ([`crate::zone`]), this rule (after type
//! coercion) makes every zone-dependent step use the session's zone `Z`,
//! as PostgreSQL does:
//!
//! - a `timestamp with time zone` passed to a function (`date_trunc`,
//!   `date_part`, `to_char`, ...) or added to an interval is first labelled
//!   with `Z` (the instant is unchanged), so days, months and fields are
//!   `Z`'s;
//! - a cast of a `timestamp with time zone` to a `timestamp`, a `date` or
//!   a `time` takes the wall-clock time in `Z` (Arrow's keeps UTC's);
//! - a cast of text, a `timestamp` or a `date` to a `timestamp with time
//!   zone` reads the wall-clock time in `Z` (Arrow's reads it in the
//!   target type's zone, UTC for a stored column).
//!
//! In UTC every one of these is what Arrow does already, and the rule
//! leaves the plan alone.

use std::sync::Arc;

use arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::config::ConfigOptions;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::{BinaryExpr, Cast, ScalarFunction, TryCast};
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, Operator, ScalarUDF};
use datafusion::optimizer::AnalyzerRule;

use crate::rewrite::rewrite_expressions;

/// The analyzer rule (see the module's doc).
#[derive(Debug)]
pub struct SessionZoneCasts {
    to_local_time: Arc<ScalarUDF>,
}

impl Default for SessionZoneCasts {
    fn default() -> Self {
        SessionZoneCasts::new()
    }
}

fn zoned(unit: TimeUnit, zone: &str) -> DataType {
    DataType::Timestamp(unit, Some(zone.into()))
}

fn cast(e: Expr, to: DataType) -> Expr {
    Expr::Cast(Cast::new(Box::new(e), to))
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
}

fn is_wall_clock(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Timestamp(_, None)
            | DataType::Date32
            | DataType::Date64
            | DataType::Time32(_)
            | DataType::Time64(_)
    )
}

impl SessionZoneCasts {
    pub fn new() -> SessionZoneCasts {
        SessionZoneCasts {
            to_local_time: datafusion::functions::datetime::to_local_time(),
        }
    }

    /// `e` labelled with `zone` if it is a timestamp with another zone.
    fn relabel(e: &Expr, zone: &str, schema: &DFSchema) -> Option<Expr> {
        match e.get_type(schema).ok()? {
            DataType::Timestamp(unit, Some(tz)) if tz.as_ref() != zone => {
                Some(cast(e.clone(), zoned(unit, zone)))
            }
            _ => None,
        }
    }

    /// The operand of a cast of `operand` to `to`, made to read or give
    /// wall-clock times in `zone`; `None` when the cast needs no change.
    fn cast_operand(
        &self,
        operand: &Expr,
        to: &DataType,
        zone: &str,
        schema: &DFSchema,
    ) -> Option<Expr> {
        let from = operand.get_type(schema).ok()?;
        match (&from, to) {
            (DataType::Timestamp(_, Some(_)), to) if is_wall_clock(to) => {
                let labelled = Self::relabel(operand, zone, schema).unwrap_or(operand.clone());
                Some(Expr::ScalarFunction(ScalarFunction::new_udf(
                    self.to_local_time.clone(),
                    vec![labelled],
                )))
            }
            (DataType::Date32 | DataType::Date64, DataType::Timestamp(unit, Some(_))) => {
                Some(cast(
                    cast(operand.clone(), DataType::Timestamp(*unit, None)),
                    zoned(*unit, zone),
                ))
            }
            (from, DataType::Timestamp(unit, Some(tz)))
                if tz.as_ref() != zone
                    && (is_text(from) || matches!(from, DataType::Timestamp(_, None))) =>
            {
                Some(cast(operand.clone(), zoned(*unit, zone)))
            }
            _ => None,
        }
    }

    /// `e` rewritten, with the type it had: type coercion has run, so a
    /// timestamp relabelled with the zone is labelled back (the instant is
    /// unchanged) where the rewrite changed a result's label.
    fn rewrite(&self, e: &Expr, zone: &str, schema: &DFSchema) -> Option<Expr> {
        let rewritten = self.rewrite_here(e, zone, schema)?;
        match (e.get_type(schema), rewritten.get_type(schema)) {
            (Ok(before @ DataType::Timestamp(..)), Ok(after)) if before != after => {
                Some(cast(rewritten, before))
            }
            _ => Some(rewritten),
        }
    }

    fn rewrite_here(&self, e: &Expr, zone: &str, schema: &DFSchema) -> Option<Expr> {
        match e {
            Expr::Cast(Cast { expr, field }) => self
                .cast_operand(expr, field.data_type(), zone, schema)
                .map(|r| Expr::Cast(Cast::new_from_field(Box::new(r), field.clone()))),
            Expr::TryCast(TryCast { expr, field }) => self
                .cast_operand(expr, field.data_type(), zone, schema)
                .map(|r| Expr::TryCast(TryCast::new_from_field(Box::new(r), field.clone()))),
            Expr::ScalarFunction(f) if f.name() != self.to_local_time.name() => {
                let args: Vec<Option<Expr>> = f
                    .args
                    .iter()
                    .map(|a| Self::relabel(a, zone, schema))
                    .collect();
                if args.iter().all(Option::is_none) {
                    return None;
                }
                let args = args
                    .into_iter()
                    .zip(&f.args)
                    .map(|(new, old)| new.unwrap_or_else(|| old.clone()))
                    .collect();
                Some(Expr::ScalarFunction(ScalarFunction::new_udf(
                    f.func.clone(),
                    args,
                )))
            }
            Expr::BinaryExpr(BinaryExpr { left, op, right })
                if matches!(op, Operator::Plus | Operator::Minus) =>
            {
                let interval = |e: &Expr| {
                    e.get_type(schema)
                        .is_ok_and(|t| matches!(t, DataType::Interval(_)))
                };
                let new_left = interval(right)
                    .then(|| Self::relabel(left, zone, schema))
                    .flatten();
                let new_right = interval(left)
                    .then(|| Self::relabel(right, zone, schema))
                    .flatten();
                if new_left.is_none() && new_right.is_none() {
                    return None;
                }
                Some(Expr::BinaryExpr(BinaryExpr::new(
                    Box::new(new_left.unwrap_or_else(|| *left.clone())),
                    *op,
                    Box::new(new_right.unwrap_or_else(|| *right.clone())),
                )))
            }
            _ => None,
        }
    }
}

impl AnalyzerRule for SessionZoneCasts {
    fn analyze(&self, plan: LogicalPlan, config: &ConfigOptions) -> Result<LogicalPlan> {
        let zone = match config.execution.time_zone.as_deref() {
            None | Some("UTC") => return Ok(plan),
            Some(zone) => zone.to_string(),
        };
        Ok(rewrite_expressions(plan, &|e, schema| Ok(self.rewrite(e, &zone, schema)))?.data)
    }

    fn name(&self) -> &str {
        "floe_session_zone_casts"
    }
}
