//! Bit strings as PostgreSQL writes them (see [`crate::bits`]).

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::Statement;

use super::call;
use crate::error::QueryError;

/// Bit strings as PostgreSQL writes them ([`crate::bits`]): `X'1F'` and
/// `B'0101'` literals, and casts to `bit varying` (`varbit`), become calls
/// of `varbit(text)`; DataFusion would read the literals as bytes. A cast
/// to `bit(n)` or `bit varying(n)` is refused: the length would not be
/// checked.
pub(super) fn bit_strings(stmt: &mut Statement) -> Result<(), QueryError> {
    use datafusion::sql::sqlparser::ast::{
        DataType as SqlType, Expr, Value, visit_expressions_mut,
    };
    let outcome = visit_expressions_mut(stmt, |expr| {
        let (text, hex) = match expr {
            Expr::Value(v) => match &v.value {
                Value::HexStringLiteral(h) => (h.clone(), true),
                Value::SingleQuotedByteStringLiteral(b) => (b.clone(), false),
                _ => return ControlFlow::Continue(()),
            },
            Expr::Cast {
                expr: inner,
                data_type,
                ..
            } => {
                match data_type {
                    SqlType::BitVarying(None) | SqlType::VarBit(None) => {}
                    SqlType::Custom(name, args)
                        if args.is_empty() && name.to_string().eq_ignore_ascii_case("varbit") => {}
                    SqlType::Bit(_) | SqlType::BitVarying(_) | SqlType::VarBit(_) => {
                        return ControlFlow::Break(QueryError::Unsupported {
                            feature: format!(
                                "a cast to {data_type} (bit strings are bit varying, of any \
                                 length)"
                            ),
                        });
                    }
                    _ => return ControlFlow::Continue(()),
                }
                *expr = call(crate::bits::VARBIT, vec![inner.as_ref().clone()]);
                return ControlFlow::Continue(());
            }
            _ => return ControlFlow::Continue(()),
        };
        match crate::bits::literal_digits(&text, hex) {
            Some(bits) => {
                *expr = call(
                    crate::bits::VARBIT,
                    vec![Expr::value(Value::SingleQuotedString(bits))],
                );
                ControlFlow::Continue(())
            }
            None => ControlFlow::Break(QueryError::InvalidLiteral {
                ty: if hex {
                    "hexadecimal bit string"
                } else {
                    "bit string"
                },
                value: text,
            }),
        }
    });
    match outcome {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(()),
    }
}
