//! A literal cast to `numeric` without a precision keeps its digits.
//!
//! PostgreSQL's unconstrained `numeric` holds any value exactly; the
//! engine reads `numeric` as `DECIMAL(38, 10)`, so `0.000000000001::numeric`
//! would be 0. A number or quoted number cast so is cast to the precision
//! and scale of its own digits instead (`DECIMAL(12, 12)`).

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    DataType as SqlType, ExactNumberInfo, Expr, Statement, UnaryOperator, Value,
    visit_expressions_mut,
};

/// The precision and scale of the decimal `text` (`-0.0012`: 4, 4), if it
/// is one that fits 38 digits.
pub(super) fn digits_of(text: &str) -> Option<(u64, u64)> {
    let unsigned = text.trim().trim_start_matches(['-', '+']);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    let whole = whole.trim_start_matches('0');
    let scale = fraction.len() as u64;
    let precision = (whole.len() as u64 + scale).max(1);
    (precision <= 38).then_some((precision, scale))
}

/// The literal text a cast operand is, if it is a number or quoted text.
fn literal_text(e: &Expr) -> Option<&str> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) | Value::SingleQuotedString(n) => Some(n),
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus | UnaryOperator::Plus,
            expr,
        } => match expr.as_ref() {
            Expr::Value(v) => match &v.value {
                Value::Number(n, _) => Some(n),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    }
}

/// Rewrites the casts (see the module's doc).
pub(super) fn numeric_literals(stmt: &mut Statement) {
    let _ = visit_expressions_mut(stmt, |expr| {
        if let Expr::Cast {
            expr: operand,
            data_type:
                data_type @ (SqlType::Numeric(ExactNumberInfo::None)
                | SqlType::Decimal(ExactNumberInfo::None)
                | SqlType::Dec(ExactNumberInfo::None)),
            ..
        } = expr
            && let Some((precision, scale)) = literal_text(operand).and_then(digits_of)
        {
            *data_type =
                SqlType::Numeric(ExactNumberInfo::PrecisionAndScale(precision, scale as i64));
        }
        ControlFlow::<()>::Continue(())
    });
}

#[cfg(test)]
mod tests;
