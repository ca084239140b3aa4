//! The words after an interval literal, as PostgreSQL reads them.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::Statement;

use crate::error::QueryError;

/// The rank of an interval qualifier among [`smallest_unit`]'s ranks.
fn qualifier_rank(field: &datafusion::sql::sqlparser::ast::DateTimeField) -> u8 {
    use datafusion::sql::sqlparser::ast::DateTimeField;
    match field {
        DateTimeField::Year => 8,
        DateTimeField::Month => 7,
        DateTimeField::Day => 5,
        DateTimeField::Hour => 4,
        DateTimeField::Minute => 3,
        _ => 0,
    }
}

/// The rank of the smallest unit an interval's text names (`'5 day'`:
/// day), from microseconds (0) to millennia; `None` if the text names no
/// unit, has a word that is not one, or ends in a number without a unit
/// (which counts in the qualifier's unit: `'5 day 1' hour`). A time of
/// day (`02:00`) counts as seconds.
fn smallest_unit(text: &str) -> Option<u8> {
    let mut smallest = None::<u8>;
    let mut bare_number = false;
    for token in text.split_whitespace() {
        let word = token.trim_start_matches(|c: char| c.is_ascii_digit() || "+-.".contains(c));
        bare_number = word.is_empty();
        let rank = if bare_number {
            continue;
        } else if token.contains(':') {
            2
        } else {
            match crate::datetime::canonical_unit(word)? {
                "microsecond" => 0,
                "millisecond" => 1,
                "second" => 2,
                "minute" => 3,
                "hour" => 4,
                "day" => 5,
                "week" => 6,
                "month" | "quarter" => 7,
                "year" => 8,
                _ => 9,
            }
        };
        smallest = Some(smallest.map_or(rank, |s: u8| s.min(rank)));
    }
    if bare_number {
        return None;
    }
    smallest
}

/// The words after an interval literal as PostgreSQL reads them. Its
/// interval qualifiers are `YEAR`, `MONTH`, `DAY`, `HOUR`, `MINUTE` and
/// `SECOND`; with one, the value counts in that unit and smaller units
/// are dropped (`interval '1.5' hour` is one hour). Any other word
/// (`years`, `week`, `milliseconds`) ends the expression: in a SELECT
/// list it names the column (`SELECT interval '5' years` is five seconds
/// named `years`), and anywhere else it is a syntax error.
pub(super) fn interval_words(stmt: &mut Statement) -> Result<(), QueryError> {
    use datafusion::sql::sqlparser::ast::{
        DateTimeField, Expr, Ident, Interval, Select, SelectItem, Value, VisitMut, VisitorMut,
        visit_expressions_mut,
    };
    fn qualifier(field: &DateTimeField) -> bool {
        matches!(
            field,
            DateTimeField::Year
                | DateTimeField::Month
                | DateTimeField::Day
                | DateTimeField::Hour
                | DateTimeField::Minute
                | DateTimeField::Second
        )
    }
    fn word(field: &DateTimeField) -> String {
        match field {
            DateTimeField::Custom(ident) => ident.value.clone(),
            other => other.to_string().to_ascii_lowercase(),
        }
    }
    struct Aliases;
    impl VisitorMut for Aliases {
        type Break = ();
        fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
            for item in &mut select.projection {
                if let SelectItem::UnnamedExpr(Expr::Interval(interval)) = item
                    && interval.last_field.is_none()
                    && let Some(field) = interval.leading_field.as_ref().filter(|f| !qualifier(f))
                {
                    let alias = Ident::new(word(field));
                    *item = SelectItem::ExprWithAlias {
                        expr: Expr::Interval(Interval {
                            leading_field: None,
                            leading_precision: None,
                            ..interval.clone()
                        }),
                        alias,
                    };
                }
            }
            ControlFlow::Continue(())
        }
    }
    let _ = stmt.visit(&mut Aliases);
    let outcome = visit_expressions_mut(stmt, |expr| {
        let Expr::Interval(interval) = expr else {
            return ControlFlow::Continue(());
        };
        for field in [&interval.leading_field, &interval.last_field]
            .into_iter()
            .flatten()
        {
            if !qualifier(field) {
                return ControlFlow::Break(QueryError::Parse {
                    message: format!(
                        "unexpected \"{}\" after an interval literal (PostgreSQL's interval \
                         units there are YEAR, MONTH, DAY, HOUR, MINUTE and SECOND; write \
                         interval '5 {}')",
                        word(field),
                        word(field)
                    ),
                });
            }
        }
        if let (Some(field), None) = (&interval.leading_field, &interval.last_field)
            && let Expr::Value(v) = interval.value.as_ref()
            && let Value::SingleQuotedString(text) = &v.value
            && let Some(smallest) = smallest_unit(text)
        {
            // Units written in the text: the qualifier only drops the
            // smaller ones (`interval '5 day' hour` is five days).
            if smallest < qualifier_rank(field) {
                return ControlFlow::Break(QueryError::Unsupported {
                    feature: format!(
                        "interval '{text}' {field}, which drops the units smaller than {field}"
                    ),
                });
            }
            interval.leading_field = None;
            interval.leading_precision = None;
            return ControlFlow::Continue(());
        }
        if let (Some(field), None) = (&interval.leading_field, &interval.last_field)
            && *field != DateTimeField::Second
            && let Expr::Value(v) = interval.value.as_mut()
            && let Value::SingleQuotedString(text) = &mut v.value
            && let Some((whole, fraction)) = text.trim().split_once('.')
            && fraction.bytes().all(|b| b.is_ascii_digit())
            && whole
                .trim_start_matches(['-', '+'])
                .bytes()
                .all(|b| b.is_ascii_digit())
        {
            *text = match whole.trim_start_matches(['-', '+']) {
                "" => "0".to_string(),
                _ => whole.to_string(),
            };
        }
        ControlFlow::Continue(())
    });
    match outcome {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(()),
    }
}
