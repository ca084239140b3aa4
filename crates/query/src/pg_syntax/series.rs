//! Set-returning functions as PostgreSQL reads them: `generate_series`
//! and `generate_subscripts` in a SELECT list give rows, `unnest` in FROM
//! is the table factor whatever its schema prefix, the one column of such
//! a function in FROM is named after its alias, and `generate_series` of
//! dates counts in timestamps with time zone.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::Statement;

use super::{call, names_function};

/// Whether `name` is `generate_series` (unqualified, any case).
fn names_series(name: &datafusion::sql::sqlparser::ast::ObjectName) -> bool {
    names_function(name, "generate_series")
}

/// Whether `name` is the function `function`, written with or without
/// `pg_catalog.`.
fn names_catalog_function(
    name: &datafusion::sql::sqlparser::ast::ObjectName,
    function: &str,
) -> bool {
    let is = |part: &datafusion::sql::sqlparser::ast::ObjectNamePart, word: &str| {
        part.as_ident()
            .is_some_and(|i| i.value.eq_ignore_ascii_case(word))
    };
    match name.0.as_slice() {
        [f] => is(f, function),
        [schema, f] => is(schema, "pg_catalog") && is(f, function),
        _ => false,
    }
}

/// `generate_series(...)` (and `generate_subscripts(a, dim)`) written as a
/// SELECT list item is a
/// set-returning function in PostgreSQL: one row per value. DataFusion's
/// scalar `generate_series` returns one list instead, so the item becomes
/// `unnest(generate_series(...))`, which yields PostgreSQL's rows (none
/// when an argument is NULL).
pub(super) fn set_returning_series(stmt: &mut Statement) {
    use datafusion::sql::sqlparser::ast::{
        Expr, Function, Ident, Select, SelectItem, Value, VisitMut, VisitorMut,
    };
    fn is_series(expr: &Expr) -> bool {
        matches!(expr, Expr::Function(Function { name, over: None, .. }) if names_series(name))
    }
    fn unnest(expr: &mut Expr) {
        let series = std::mem::replace(expr, Expr::value(Value::Null));
        *expr = call("unnest", vec![series]);
    }
    /// `generate_subscripts(a, dim)`, the subscripts of an array (Floe's
    /// start at 1), as the series `1 .. array_length(a, dim)`.
    fn subscripts(expr: &Expr) -> Option<Expr> {
        use datafusion::sql::sqlparser::ast::{FunctionArg, FunctionArgExpr, FunctionArguments};
        let Expr::Function(f) = expr else {
            return None;
        };
        let FunctionArguments::List(list) = &f.args else {
            return None;
        };
        match list.args.as_slice() {
            [
                FunctionArg::Unnamed(FunctionArgExpr::Expr(array)),
                FunctionArg::Unnamed(FunctionArgExpr::Expr(dim)),
            ] if names_catalog_function(&f.name, "generate_subscripts") && f.over.is_none() => {
                let one = Expr::value(Value::Number("1".into(), false));
                let length = call("array_length", vec![array.clone(), dim.clone()]);
                Some(call("generate_series", vec![one, length]))
            }
            _ => None,
        }
    }
    struct Series;
    impl VisitorMut for Series {
        type Break = ();
        fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
            for item in &mut select.projection {
                match item {
                    SelectItem::UnnamedExpr(expr) => {
                        if let Some(series) = subscripts(expr) {
                            *item = SelectItem::ExprWithAlias {
                                expr: series,
                                alias: Ident::new("generate_subscripts"),
                            };
                        }
                    }
                    SelectItem::ExprWithAlias { expr, .. } => {
                        if let Some(series) = subscripts(expr) {
                            *expr = series;
                        }
                    }
                    _ => {}
                }
                match item {
                    SelectItem::UnnamedExpr(expr) if is_series(expr) => {
                        let mut expr = expr.clone();
                        unnest(&mut expr);
                        // PostgreSQL names the column after the function.
                        *item = SelectItem::ExprWithAlias {
                            expr,
                            alias: Ident::new("generate_series"),
                        };
                    }
                    SelectItem::ExprWithAlias { expr, .. } if is_series(expr) => unnest(expr),
                    _ => {}
                }
            }
            ControlFlow::Continue(())
        }
    }
    let _ = stmt.visit(&mut Series);
}

/// Names the one column of a set-returning function in FROM after the
/// function's alias, as PostgreSQL does: `FROM generate_series(1, 3) g`
/// has a column `g` (DataFusion's is `value`), and `FROM unnest(a) x` a
/// column `x`; `pg_catalog.unnest` is `unnest`.
pub(super) fn name_function_columns(stmt: &mut Statement) {
    use datafusion::sql::sqlparser::ast::{
        FunctionArg, FunctionArgExpr, Ident, TableAlias, TableAliasColumnDef, TableFactor,
        VisitMut, VisitorMut,
    };
    /// `alias` with its name as its one column's name.
    fn name_column(alias: &mut TableAlias) {
        alias.columns.push(TableAliasColumnDef {
            name: alias.name.clone(),
            data_type: None,
        });
    }
    /// The alias `name (name)`.
    fn named_alias(name: &str) -> TableAlias {
        TableAlias {
            explicit: false,
            name: Ident::new(name),
            columns: Vec::new(),
            at: None,
        }
    }
    struct Aliases;
    impl VisitorMut for Aliases {
        type Break = ();
        fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
            // `pg_catalog.unnest(a)` is `unnest(a)`, the table factor.
            if let TableFactor::Table {
                name,
                args: Some(args),
                alias,
                with_ordinality,
                ..
            } = factor
                && names_catalog_function(name, "unnest")
                && let Some(arrays) = args
                    .args
                    .iter()
                    .map(|a| match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()
            {
                *factor = TableFactor::UNNEST {
                    alias: alias.take(),
                    array_exprs: arrays,
                    with_offset: false,
                    with_offset_alias: None,
                    with_ordinality: *with_ordinality,
                };
            }
            // Without an alias, the function's name is the alias:
            // `FROM generate_series(1, 3)` has a column `generate_series`.
            match factor {
                TableFactor::Table {
                    name,
                    args: Some(_),
                    alias: alias @ None,
                    with_ordinality: false,
                    ..
                } if names_series(name) => *alias = Some(named_alias("generate_series")),
                TableFactor::UNNEST {
                    alias: alias @ None,
                    array_exprs,
                    with_offset: false,
                    with_ordinality: false,
                    ..
                } if array_exprs.len() == 1 => *alias = Some(named_alias("unnest")),
                _ => {}
            }
            match factor {
                TableFactor::Table {
                    name,
                    args: Some(_),
                    alias: Some(alias),
                    with_ordinality: false,
                    ..
                } if alias.columns.is_empty() && names_series(name) => name_column(alias),
                TableFactor::UNNEST {
                    alias: Some(alias),
                    array_exprs,
                    with_offset: false,
                    with_ordinality: false,
                    ..
                } if alias.columns.is_empty() && array_exprs.len() == 1 => name_column(alias),
                _ => {}
            }
            ControlFlow::Continue(())
        }
    }
    let _ = stmt.visit(&mut Aliases);
}

/// `generate_series` of dates and an interval is PostgreSQL's series of
/// `timestamp with time zone` values (a date is promoted to one); the
/// date arguments are cast so (DataFusion's would be timestamps without
/// time zone).
pub(super) fn series_of_dates(stmt: &mut Statement) {
    use datafusion::sql::sqlparser::ast::{
        CastKind, DataType as SqlType, Expr, FunctionArg, FunctionArgExpr, FunctionArguments,
        TableFactor, TimezoneInfo, TypedString, VisitMut, VisitorMut,
    };
    /// The date or timestamp type a literal argument has; `Some(None)`
    /// for one whose type the call decides (a quoted string or NULL);
    /// `None` for anything else.
    fn literal_type(e: &Expr) -> Option<Option<SqlType>> {
        use datafusion::sql::sqlparser::ast::Value;
        match e {
            Expr::TypedString(TypedString { data_type, .. }) | Expr::Cast { data_type, .. }
                if matches!(data_type, SqlType::Date | SqlType::Timestamp(..)) =>
            {
                Some(Some(data_type.clone()))
            }
            Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_) | Value::Null) => {
                Some(None)
            }
            _ => None,
        }
    }
    fn cast(e: &mut Expr, data_type: SqlType) {
        let value = std::mem::replace(e, Expr::value(datafusion::sql::sqlparser::ast::Value::Null));
        *e = Expr::Cast {
            kind: CastKind::Cast,
            expr: Box::new(value),
            data_type,
            array: false,
            format: None,
        };
    }
    /// Gives the bounds of a series of literals one type, as PostgreSQL
    /// resolves them: dates and strings or NULL beside a date are
    /// `timestamp with time zone`, beside a `timestamp` they are
    /// `timestamp`; a NULL step is an interval.
    fn promote(args: &mut [FunctionArg]) {
        let [first, second, step] = args else {
            return;
        };
        let expr = |a: &FunctionArg| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => literal_type(e),
            _ => None,
        };
        let (Some(a), Some(b)) = (expr(first), expr(second)) else {
            return;
        };
        let with_zone = SqlType::Timestamp(None, TimezoneInfo::WithTimeZone);
        let target = match (&a, &b) {
            (None, None) => return,
            (Some(SqlType::Timestamp(_, TimezoneInfo::WithTimeZone)), _)
            | (_, Some(SqlType::Timestamp(_, TimezoneInfo::WithTimeZone))) => with_zone,
            (Some(SqlType::Timestamp(..)), _) | (_, Some(SqlType::Timestamp(..))) => {
                SqlType::Timestamp(None, TimezoneInfo::None)
            }
            _ => with_zone,
        };
        for (arg, ty) in [(first, a), (second, b)] {
            if let FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) = arg
                && ty.as_ref() != Some(&target)
            {
                cast(e, target.clone());
            }
        }
        if let FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) = step
            && matches!(e, Expr::Value(v) if v.value == datafusion::sql::sqlparser::ast::Value::Null)
        {
            cast(
                e,
                SqlType::Interval {
                    fields: None,
                    precision: None,
                },
            );
        }
    }
    struct Dates;
    impl VisitorMut for Dates {
        type Break = ();
        fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
            if let TableFactor::Table {
                name,
                args: Some(args),
                ..
            } = factor
                && names_series(name)
            {
                promote(&mut args.args);
            }
            ControlFlow::Continue(())
        }
        fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
            if let Expr::Function(f) = expr
                && names_series(&f.name)
                && let FunctionArguments::List(list) = &mut f.args
            {
                promote(&mut list.args);
            }
            ControlFlow::Continue(())
        }
    }
    let _ = stmt.visit(&mut Dates);
}
