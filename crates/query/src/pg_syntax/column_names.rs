//! Output column names as PostgreSQL gives them.
//!
//! A SELECT list item without an alias is named by PostgreSQL after what
//! it is: a column by its name, a function call by the function
//! (`count(*)` is `count`), a cast by what it casts or else by the type
//! (`'1'::int` is `int4`), `CASE` by its ELSE result or as `case`, a scalar subquery by its own
//! first column, and anything else `?column?`. DataFusion names it by
//! its whole expression (`count(*)`, `Int64(1)`). Clients read results
//! by these names (`row["count"]`, a DataFrame's columns), and the names
//! also become the columns of CREATE TABLE AS and CREATE VIEW, so Floe
//! writes PostgreSQL's name onto every unnamed item as an alias before
//! planning, in every SELECT of the statement.
//!
//! Names within one SELECT list may repeat in PostgreSQL (`SELECT 1, 2`
//! has two `?column?` columns). The statement's own top-level SELECT gets
//! them all (`output_names` tells them apart for the planner); in a
//! subquery, set operation or a SELECT list with `*`, a name an earlier
//! item already has is left to DataFusion, which refuses repeats there.

use std::collections::HashSet;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    AccessExpr, DataType as SqlType, Expr, Ident, ObjectName, Query, SelectItem, SetExpr,
    Statement, TimezoneInfo, TrimWhereField, VisitMut, VisitorMut,
};

use crate::names::ident;

#[cfg(test)]
mod tests;

/// PostgreSQL's name for a column whose expression gives it none.
const NO_NAME: &str = "?column?";

/// Names every unnamed SELECT list item of `stmt` as PostgreSQL does
/// (see the module's doc).
pub(super) fn pg_column_names(stmt: &mut Statement) {
    if let Statement::Query(query) = stmt
        && let SetExpr::Select(select) = query.body.as_mut()
        && !has_wildcard(&select.projection)
    {
        name_items(&mut select.projection, true);
    }
    struct Names;
    impl VisitorMut for Names {
        type Break = ();
        fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
            name_body(query.body.as_mut());
            ControlFlow::Continue(())
        }
    }
    let _ = stmt.visit(&mut Names);
}

fn has_wildcard(items: &[SelectItem]) -> bool {
    items.iter().any(|item| {
        matches!(
            item,
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
        )
    })
}

/// Names the items of the SELECT that names a query body's columns; a
/// repeated name is left to DataFusion.
fn name_body(body: &mut SetExpr) {
    match body {
        SetExpr::Select(select) => name_items(&mut select.projection, false),
        // The first SELECT names the columns; DataFusion gives the others'
        // columns its names.
        SetExpr::SetOperation { left, .. } => name_body(left),
        _ => {}
    }
}

/// Aliases the unnamed expressions of a SELECT list with PostgreSQL's
/// names; with `repeats`, also where an earlier item has the name.
fn name_items(items: &mut [SelectItem], repeats: bool) {
    for item in items.iter_mut() {
        unsigned_as_alias(item);
    }
    let mut taken: HashSet<String> = items
        .iter()
        .filter_map(|item| match item {
            SelectItem::ExprWithAlias { alias, .. } => Some(ident(alias)),
            SelectItem::UnnamedExpr(e) if is_column(e) => item_name(e),
            _ => None,
        })
        .collect();
    for item in items.iter_mut() {
        let SelectItem::UnnamedExpr(expr) = item else {
            continue;
        };
        if is_column(expr) {
            continue;
        }
        let Some(name) = item_name(expr) else {
            continue;
        };
        if !taken.insert(name.clone()) && !repeats {
            continue;
        }
        *item = SelectItem::ExprWithAlias {
            expr: expr.clone(),
            alias: Ident::with_quote('"', name),
        };
    }
}

/// `10::integer unsigned` in a SELECT list is, to PostgreSQL, a cast to
/// `integer` named `unsigned` (it has no unsigned types); the parser reads
/// MySQL's `INTEGER UNSIGNED` there.
fn unsigned_as_alias(item: &mut SelectItem) {
    let SelectItem::UnnamedExpr(Expr::Cast { data_type, .. }) = item else {
        return;
    };
    let signed = match data_type {
        SqlType::SmallIntUnsigned(n) => SqlType::SmallInt(*n),
        SqlType::Int2Unsigned(n) => SqlType::Int2(*n),
        SqlType::IntUnsigned(n) => SqlType::Int(*n),
        SqlType::Int4Unsigned(n) => SqlType::Int4(*n),
        SqlType::IntegerUnsigned(n) => SqlType::Integer(*n),
        SqlType::BigIntUnsigned(n) => SqlType::BigInt(*n),
        SqlType::Int8Unsigned(n) => SqlType::Int8(*n),
        _ => return,
    };
    *data_type = signed;
    if let SelectItem::UnnamedExpr(expr) = item {
        *item = SelectItem::ExprWithAlias {
            expr: expr.clone(),
            alias: Ident::new("unsigned"),
        };
    }
}

/// Whether `expr` is a column reference, which DataFusion already names
/// by the column.
fn is_column(expr: &Expr) -> bool {
    matches!(expr, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
}

/// The name PostgreSQL gives a SELECT list item `expr`, or `None` where
/// Floe cannot tell it (a scalar subquery whose first item is `*`).
pub(crate) fn item_name(expr: &Expr) -> Option<String> {
    match figure(expr) {
        Figure::Named(name) | Figure::Typed(name) => Some(name),
        Figure::Unnamed => Some(NO_NAME.to_string()),
        Figure::Unknown => None,
    }
}

/// What PostgreSQL's parser figures an expression's name to be
/// (`FigureColname`): a name of its own, or one from a type only, which
/// a cast of it replaces by the cast's type.
enum Figure {
    Named(String),
    Typed(String),
    Unnamed,
    Unknown,
}

fn named(name: &str) -> Figure {
    Figure::Named(name.to_string())
}

fn figure(expr: &Expr) -> Figure {
    match expr {
        Expr::Identifier(id) => Figure::Named(ident(id)),
        Expr::CompoundIdentifier(parts) => match parts.last() {
            Some(id) => Figure::Named(ident(id)),
            None => Figure::Unnamed,
        },
        Expr::CompoundFieldAccess { root, access_chain } => match access_chain.last() {
            Some(AccessExpr::Dot(Expr::Identifier(id))) => Figure::Named(ident(id)),
            _ => figure(root),
        },
        Expr::Nested(inner) | Expr::Collate { expr: inner, .. } => figure(inner),
        Expr::Cast {
            expr, data_type, ..
        } => match figure(expr) {
            Figure::Named(name) => Figure::Named(name),
            Figure::Unknown => Figure::Unknown,
            Figure::Typed(_) | Figure::Unnamed => Figure::Typed(type_name(data_type)),
        },
        Expr::TypedString(typed) => Figure::Typed(type_name(&typed.data_type)),
        Expr::Interval(_) => Figure::Typed("interval".into()),
        Expr::Function(f) => function_name(&f.name),
        Expr::Extract { .. } => named("extract"),
        Expr::Ceil { .. } => named("ceil"),
        Expr::Floor { .. } => named("floor"),
        Expr::Position { .. } => named("position"),
        Expr::Substring {
            shorthand: true, ..
        } => named("substr"),
        Expr::Substring { .. } => named("substring"),
        Expr::Overlay { .. } => named("overlay"),
        Expr::Trim { trim_where, .. } => named(match trim_where {
            Some(TrimWhereField::Leading) => "ltrim",
            Some(TrimWhereField::Trailing) => "rtrim",
            Some(TrimWhereField::Both) | None => "btrim",
        }),
        Expr::AtTimeZone { .. } => named("timezone"),
        // A CASE is named by its ELSE result where that has a name.
        Expr::Case { else_result, .. } => match else_result.as_deref().map(figure) {
            Some(Figure::Named(name)) => Figure::Named(name),
            _ => Figure::Typed("case".into()),
        },
        Expr::Array(_) => Figure::Typed("array".into()),
        Expr::Exists { negated: false, .. } => named("exists"),
        Expr::Subquery(query) => subquery_name(query),
        _ => Figure::Unnamed,
    }
}

/// A scalar subquery is named by its first column, `?column?` included.
fn subquery_name(query: &Query) -> Figure {
    let mut body = query.body.as_ref();
    loop {
        match body {
            SetExpr::Select(select) => {
                return match select.projection.first() {
                    Some(SelectItem::ExprWithAlias { alias, .. }) => Figure::Named(ident(alias)),
                    Some(SelectItem::UnnamedExpr(e)) => match item_name(e) {
                        Some(name) => Figure::Named(name),
                        None => Figure::Unknown,
                    },
                    _ => Figure::Unknown,
                };
            }
            SetExpr::SetOperation { left, .. } => body = left.as_ref(),
            SetExpr::Query(inner) => body = inner.body.as_ref(),
            _ => return Figure::Unknown,
        }
    }
}

/// A function call is named by the function, without its schema.
fn function_name(name: &ObjectName) -> Figure {
    match name.0.last().and_then(|part| part.as_ident()) {
        Some(id) => Figure::Named(ident(id)),
        None => Figure::Unnamed,
    }
}

/// PostgreSQL's internal name of a type as written in a cast
/// (`integer` is `int4`, `character varying(3)` is `varchar`); an array
/// type is named by its element type.
fn type_name(ty: &SqlType) -> String {
    let name = match ty {
        SqlType::SmallInt(_) | SqlType::Int2(_) => "int2",
        SqlType::Int(_) | SqlType::Integer(_) | SqlType::Int4(_) => "int4",
        SqlType::BigInt(_) | SqlType::Int8(_) => "int8",
        SqlType::Real | SqlType::Float4 => "float4",
        SqlType::Float(info) => match info {
            datafusion::sql::sqlparser::ast::ExactNumberInfo::Precision(p) if *p <= 24 => "float4",
            _ => "float8",
        },
        SqlType::Double(_) | SqlType::DoublePrecision | SqlType::Float8 => "float8",
        SqlType::Decimal(_) | SqlType::Numeric(_) | SqlType::Dec(_) => "numeric",
        SqlType::Text => "text",
        SqlType::Varchar(_) | SqlType::CharacterVarying(_) | SqlType::CharVarying(_) => "varchar",
        SqlType::Char(_) | SqlType::Character(_) => "bpchar",
        SqlType::Boolean | SqlType::Bool => "bool",
        SqlType::Date => "date",
        SqlType::Time(_, TimezoneInfo::WithTimeZone | TimezoneInfo::Tz) => "timetz",
        SqlType::Time(..) => "time",
        SqlType::Timestamp(_, TimezoneInfo::WithTimeZone | TimezoneInfo::Tz) => "timestamptz",
        SqlType::Timestamp(..) => "timestamp",
        SqlType::Interval { .. } => "interval",
        SqlType::Bytea => "bytea",
        SqlType::Uuid => "uuid",
        SqlType::JSON => "json",
        SqlType::JSONB => "jsonb",
        SqlType::Bit(_) => "bit",
        SqlType::BitVarying(_) | SqlType::VarBit(_) => "varbit",
        SqlType::Array(element) => {
            use datafusion::sql::sqlparser::ast::ArrayElemTypeDef as E;
            return match element {
                E::AngleBracket(t) | E::SquareBracket(t, _) | E::Parenthesis(t) => type_name(t),
                E::None => "anyarray".into(),
            };
        }
        // Types the parser has no keyword for (`timestamptz`, `oid`).
        SqlType::Custom(name, _) => {
            return match name.0.last().and_then(|part| part.as_ident()) {
                Some(id) => ident(id),
                None => name.to_string().to_lowercase(),
            };
        }
        other => {
            let text = other.to_string().to_lowercase();
            return text
                .split(['(', ' '])
                .next()
                .unwrap_or_default()
                .to_string();
        }
    };
    name.to_string()
}
