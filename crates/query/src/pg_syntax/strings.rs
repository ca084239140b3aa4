//! `substring` as PostgreSQL reads it: a quoted string after `FROM` with no
//! `FOR` is a regular expression (`substring('alphabet' FROM 'p(h.)')` is
//! `ha`); a quoted string in a position or length is an integer
//! (`substring('alphabet' FROM 3 FOR '2')` is `ph`); and the SQL-standard
//! form with two strings (`FROM pattern FOR escape`) is a `SIMILAR TO`
//! pattern, whose part between the escape-double-quote separators it
//! returns. `a [NOT] SIMILAR TO p [ESCAPE e]` is `a ~ similar_to_escape(p,
//! e)` (see [`crate::similar`]).

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, CastKind, DataType, Expr, Statement, Value, VisitMut, VisitorMut,
};

use crate::error::QueryError;
use crate::similar::SimilarToEscape;

fn is_string(e: &Expr) -> bool {
    matches!(e, Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_)))
}

fn as_integer(e: &mut Expr) {
    let value = std::mem::replace(e, Expr::value(Value::Null));
    *e = Expr::Cast {
        kind: CastKind::Cast,
        expr: Box::new(value),
        data_type: DataType::Integer(None),
        array: false,
        format: None,
    };
}

/// Rewrites every `substring` of `stmt` (see the module's doc).
pub(super) fn substring_forms(stmt: &mut Statement) -> Result<(), QueryError> {
    struct Forms(Option<QueryError>);
    impl VisitorMut for Forms {
        type Break = ();
        fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
            if let Expr::SimilarTo {
                negated,
                expr: text,
                pattern,
                escape_char,
            } = expr
            {
                let mut args = vec![(**pattern).clone()];
                args.extend(escape_char.clone().map(Expr::Value));
                *expr = Expr::BinaryOp {
                    left: text.clone(),
                    op: if *negated {
                        BinaryOperator::PGRegexNotMatch
                    } else {
                        BinaryOperator::PGRegexMatch
                    },
                    right: Box::new(super::call(SimilarToEscape::NAME, args)),
                };
                return ControlFlow::Continue(());
            }
            let Expr::Substring {
                expr: text,
                substring_from,
                substring_for,
                shorthand,
                ..
            } = expr
            else {
                return ControlFlow::Continue(());
            };
            match (substring_from.as_deref_mut(), substring_for.as_deref_mut()) {
                (Some(pattern), None) if is_string(pattern) && !*shorthand => {
                    let call = super::call(
                        crate::regexp::PgSubstringPattern::NAME,
                        vec![(**text).clone(), pattern.clone()],
                    );
                    *expr = call;
                }
                (Some(pattern), Some(escape))
                    if is_string(pattern) && is_string(escape) && !*shorthand =>
                {
                    let similar =
                        super::call(SimilarToEscape::NAME, vec![pattern.clone(), escape.clone()]);
                    *expr = super::call(
                        crate::regexp::PgSubstringPattern::NAME,
                        vec![(**text).clone(), similar],
                    );
                }
                (from, length) => {
                    for position in [from, length].into_iter().flatten() {
                        if is_string(position) {
                            as_integer(position);
                        }
                    }
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut forms = Forms(None);
    let _ = stmt.visit(&mut forms);
    match forms.0 {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
