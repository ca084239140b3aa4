//! Statements as PostgreSQL means them, where DataFusion's planner would
//! read the same syntax differently: the names of output columns,
//! literal forms drivers send, casts to
//! `varchar(n)`, `generate_series` as a set-returning function (in FROM
//! and in a SELECT list, over dates too), `AT TIME ZONE`, the words after an interval
//! literal, bit strings, literals cast to `numeric`, `substring` with a pattern or
//! quoted positions, column aliases
//! naming fewer columns than a CTE or subquery gives,
//! and the `server_version` settings Floe answers
//! itself; and the settings a session may not change. Every statement
//! Floe plans passes through [`rewrite`] first.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::Statement;

use floe_common::defaults::DEFAULT_SCHEMA;

use crate::error::QueryError;

mod bits;
mod column_aliases;
mod column_names;
mod intervals;
mod numeric;
mod series;
mod strings;

pub(crate) use column_names::item_name as output_column_name;
use series::{name_function_columns, series_of_dates, set_returning_series};

/// Rewrites `stmt` to PostgreSQL's meaning (see the module's doc).
pub(crate) fn rewrite(stmt: &mut Statement) -> Result<(), QueryError> {
    if let Some(refusal) = refused_setting(stmt) {
        return Err(refusal);
    }
    // Words after an interval literal may name its column; the other
    // rewrites must not change the names PostgreSQL gives.
    intervals::interval_words(stmt)?;
    column_names::pg_column_names(stmt);
    bits::bit_strings(stmt)?;
    numeric::numeric_literals(stmt);
    pg_literals(stmt)?;
    name_function_columns(stmt);
    column_aliases::partial_column_aliases(stmt);
    mod_function(stmt);
    fetch_as_limit(stmt);
    like_escapes(stmt)?;
    strings::substring_forms(stmt)?;
    crate::intervals::place_named_arguments(stmt);
    crate::apply::array_subqueries(stmt);
    series_of_dates(stmt);
    set_returning_series(stmt);
    Ok(())
}

/// Whether `stmt` is a `SET` Floe refuses (see [`refused_setting`]).
pub fn refuses_setting(stmt: &Statement) -> bool {
    refused_setting(stmt).is_some()
}

/// The error for a `SET` a session may not run: the engine's own settings
/// (`datafusion.*`) are the server's, shared by every session, so one
/// session's `SET` would change every other session's answers; and a
/// `search_path` that does not start with `public` would be ignored.
fn refused_setting(stmt: &Statement) -> Option<QueryError> {
    use datafusion::sql::sqlparser::ast::Set;
    let Statement::Set(set) = stmt else {
        return None;
    };
    match set {
        // Quoted or not: the planner reads `"datafusion.x"` as `datafusion.x`.
        Set::SingleAssignment { variable, .. }
            if setting_name(variable)
                .to_ascii_lowercase()
                .starts_with("datafusion.") =>
        {
            Some(server_wide(format!("SET {variable}")))
        }
        Set::SingleAssignment {
            variable, values, ..
        } if variable.to_string().eq_ignore_ascii_case("search_path") => {
            // Unqualified names resolve in `public`; a path that puts
            // another schema first would be silently ignored.
            let first = values
                .iter()
                .flat_map(|v| {
                    setting_text(v)
                        .split(',')
                        .map(|p| p.trim().trim_matches('"').to_string())
                        .collect::<Vec<_>>()
                })
                .find(|p| !p.is_empty() && p != "$user" && !p.eq_ignore_ascii_case("pg_catalog"));
            match first {
                Some(schema) if !schema.eq_ignore_ascii_case(DEFAULT_SCHEMA) => {
                    Some(QueryError::Unsupported {
                        feature: format!(
                            "SET search_path with \"{schema}\" first (unqualified names \
                             resolve in public; qualify them, as {schema}.table)"
                        ),
                    })
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// The name a setting's parts spell, without quotes (`"a.b".c` is `a.b.c`).
pub(crate) fn setting_name(name: &datafusion::sql::sqlparser::ast::ObjectName) -> String {
    name.0
        .iter()
        .map(|part| match part.as_ident() {
            Some(ident) => ident.value.clone(),
            None => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The error for a SET of a server-wide setting (`what`).
fn server_wide(what: String) -> QueryError {
    QueryError::Unsupported {
        feature: format!(
            "{what} (it is a server-wide setting: one session's SET would change the \
             answers of every other session)"
        ),
    }
}

/// A SET value as text: a string's contents, a name, or the expression.
pub(crate) fn setting_text(value: &datafusion::sql::sqlparser::ast::Expr) -> String {
    use datafusion::sql::sqlparser::ast::{Expr, Value};
    match value {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(z) | Value::DoubleQuotedString(z) => z.clone(),
            other => other.to_string(),
        },
        Expr::Identifier(ident) => ident.value.clone(),
        other => other.to_string(),
    }
}

/// Whether `name`, written without a schema, is the function `function`.
pub(crate) fn names_function(
    name: &datafusion::sql::sqlparser::ast::ObjectName,
    function: &str,
) -> bool {
    matches!(name.0.as_slice(), [part]
        if part.as_ident().is_some_and(|i| i.value.eq_ignore_ascii_case(function)))
}

/// `mod(a, b)` is PostgreSQL's name for `a % b`, which DataFusion has
/// only as the operator (same sign rule, same types, 22012 for zero).
fn mod_function(stmt: &mut Statement) {
    use datafusion::sql::sqlparser::ast::{
        BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, VisitMut, VisitorMut,
    };
    struct Mod;
    impl VisitorMut for Mod {
        type Break = ();
        fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
            if let Expr::Function(f) = expr
                && names_function(&f.name, "mod")
                && f.over.is_none()
                && f.filter.is_none()
                && let FunctionArguments::List(list) = &f.args
                && list.duplicate_treatment.is_none()
                && list.clauses.is_empty()
                && let [
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(a)),
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(b)),
                ] = list.args.as_slice()
            {
                *expr = Expr::Nested(Box::new(Expr::BinaryOp {
                    left: Box::new(Expr::Nested(Box::new(a.clone()))),
                    op: BinaryOperator::Modulo,
                    right: Box::new(Expr::Nested(Box::new(b.clone()))),
                }));
            }
            ControlFlow::Continue(())
        }
    }
    let _ = stmt.visit(&mut Mod);
}

/// `FETCH { FIRST | NEXT } n ROWS ONLY` as `LIMIT n` (DataFusion's
/// planner has no FETCH); `WITH TIES` and `PERCENT` are left to be refused.
fn fetch_as_limit(stmt: &mut Statement) {
    use datafusion::sql::sqlparser::ast::{Expr, LimitClause, Query, Value, VisitMut, VisitorMut};
    struct Fetches;
    impl VisitorMut for Fetches {
        type Break = ();
        fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
            let Some(fetch) = &query.fetch else {
                return ControlFlow::Continue(());
            };
            if fetch.with_ties || fetch.percent {
                return ControlFlow::Continue(());
            }
            let count = fetch
                .quantity
                .clone()
                .unwrap_or_else(|| Expr::value(Value::Number("1".into(), false)));
            query.limit_clause = match query.limit_clause.take() {
                None => Some(LimitClause::LimitOffset {
                    limit: Some(count),
                    offset: None,
                    limit_by: vec![],
                }),
                Some(LimitClause::LimitOffset {
                    limit: None,
                    offset,
                    limit_by,
                }) => Some(LimitClause::LimitOffset {
                    limit: Some(count),
                    offset,
                    limit_by,
                }),
                other => {
                    query.limit_clause = other;
                    return ControlFlow::Continue(());
                }
            };
            query.fetch = None;
            ControlFlow::Continue(())
        }
    }
    let _ = stmt.visit(&mut Fetches);
}

/// `x LIKE 'a$%' ESCAPE '$'` as `x LIKE 'a\%'`: DataFusion takes only the
/// backslash as LIKE's escape, so a literal pattern is rewritten with it.
/// Another escape character with a pattern that is not a literal is
/// refused.
fn like_escapes(stmt: &mut Statement) -> Result<(), QueryError> {
    use datafusion::sql::sqlparser::ast::{Expr, Value, visit_expressions_mut};
    let outcome = visit_expressions_mut(stmt, |expr| {
        let (Expr::Like {
            pattern,
            escape_char,
            ..
        }
        | Expr::ILike {
            pattern,
            escape_char,
            ..
        }) = expr
        else {
            return ControlFlow::Continue(());
        };
        let escape = match escape_char.as_ref().map(|v| &v.value) {
            Some(Value::SingleQuotedString(e)) => e.clone(),
            _ => return ControlFlow::Continue(()),
        };
        let mut chars = escape.chars();
        let (Some(escape), None) = (chars.next(), chars.next()) else {
            return ControlFlow::Continue(());
        };
        if escape == '\\' {
            return ControlFlow::Continue(());
        }
        let Expr::Value(v) = pattern.as_ref() else {
            return ControlFlow::Break(crate::error::unsupported(
                "LIKE ... ESCAPE with a character other than \\ and a pattern that is not a literal",
            ));
        };
        let Value::SingleQuotedString(text) = &v.value else {
            return ControlFlow::Continue(());
        };
        let mut rewritten = String::with_capacity(text.len() + 2);
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == escape {
                match chars.next() {
                    Some(next @ ('%' | '_' | '\\')) => {
                        rewritten.push('\\');
                        rewritten.push(next);
                    }
                    Some(next) => rewritten.push(next),
                    None => {
                        return ControlFlow::Break(QueryError::InvalidArgument {
                            status: floe_common::Status::InvalidEscapeSequence,
                            message: "LIKE pattern must not end with escape character".into(),
                        });
                    }
                }
            } else if c == '\\' {
                rewritten.push_str("\\\\");
            } else {
                rewritten.push(c);
            }
        }
        **pattern = Expr::value(Value::SingleQuotedString(rewritten));
        *escape_char = Some(Value::SingleQuotedString("\\".into()).into());
        ControlFlow::Continue(())
    });
    match outcome {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// `current_user`, `session_user`, `current_role` and `user` name the
/// session's user (`user`); a SELECT list item of one of them is named
/// after it, as in PostgreSQL.
pub(crate) fn session_user(stmt: &mut Statement, user: &str) {
    use datafusion::sql::sqlparser::ast::{
        Expr, Function, FunctionArguments, Ident, Select, SelectItem, Value, VisitMut, VisitorMut,
        visit_expressions_mut,
    };
    const NAMES: [&str; 4] = ["current_user", "session_user", "current_role", "user"];
    fn which(expr: &Expr) -> Option<&'static str> {
        let Expr::Function(Function {
            name,
            args,
            over: None,
            ..
        }) = expr
        else {
            return None;
        };
        let no_args = match args {
            FunctionArguments::None => true,
            FunctionArguments::List(list) => list.args.is_empty(),
            FunctionArguments::Subquery(_) => false,
        };
        let [part] = name.0.as_slice() else {
            return None;
        };
        let ident = part.as_ident()?;
        let found = NAMES
            .into_iter()
            .find(|n| ident.quote_style.is_none() && ident.value.eq_ignore_ascii_case(n));
        found.filter(|_| no_args)
    }
    struct Names;
    impl VisitorMut for Names {
        type Break = ();
        fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
            for item in &mut select.projection {
                if let SelectItem::UnnamedExpr(expr) = item
                    && let Some(name) = which(expr)
                {
                    *item = SelectItem::ExprWithAlias {
                        expr: expr.clone(),
                        alias: Ident::with_quote('"', name),
                    };
                }
            }
            ControlFlow::Continue(())
        }
    }
    let _ = stmt.visit(&mut Names);
    let _ = visit_expressions_mut(stmt, |expr| {
        if which(expr).is_some() {
            *expr = Expr::value(Value::SingleQuotedString(user.to_string()));
        }
        ControlFlow::<()>::Continue(())
    });
}

/// Rewrites PostgreSQL literal forms drivers send that DataFusion reads
/// differently:
/// - `ts AT TIME ZONE zone` is `timezone(zone, ts)`, PostgreSQL's
///   function, which Floe defines (`crate::datetime`);
/// - `'\x0aff'::bytea` (the hex form of a bytea literal) becomes a binary
///   literal; DataFusion would otherwise cast the text's own bytes;
/// - numeric literals with an exponent (`1e300`) become double precision;
///   others are decimals, as in PostgreSQL;
/// - `::uuid` casts become casts to text, the type uuid columns have in SQL
///   (values are checked as uuids when they are written);
/// - a cast to `varchar(n)` keeps the first n characters;
/// - `power()` takes doubles.
fn pg_literals(stmt: &mut Statement) -> Result<(), QueryError> {
    use datafusion::sql::sqlparser::ast::{
        CharacterLength, DataType as SqlType, Expr, FunctionArg, FunctionArgExpr,
        FunctionArguments, Value, visit_expressions_mut,
    };
    let outcome = visit_expressions_mut(stmt, |expr| {
        if let Expr::AtTimeZone {
            timestamp,
            time_zone,
        } = expr
        {
            // PostgreSQL's `ts AT TIME ZONE zone` is `timezone(zone, ts)`
            // (see `datetime`).
            let ts = std::mem::replace(timestamp.as_mut(), Expr::value(Value::Null));
            let zone = std::mem::replace(time_zone.as_mut(), Expr::value(Value::Null));
            *expr = call("timezone", vec![zone, ts]);
            return std::ops::ControlFlow::Continue(());
        }
        if let Expr::Extract {
            field, expr: of, ..
        } = expr
        {
            // EXTRACT of a part of seconds is `date_part`, Floe's (see
            // `functions`), which keeps the fraction.
            let part = field
                .to_string()
                .trim_matches(['"', '\''])
                .to_ascii_lowercase();
            if part.starts_with("second")
                || part.starts_with("millisecond")
                || part.starts_with("microsecond")
            {
                let of = std::mem::replace(of.as_mut(), Expr::value(Value::Null));
                *expr = call(
                    "date_part",
                    vec![Expr::value(Value::SingleQuotedString(part)), of],
                );
            }
            return std::ops::ControlFlow::Continue(());
        }
        if let Expr::Value(v) = expr
            && let Value::Number(text, _) = &v.value
            && text.contains(['e', 'E'])
        {
            // Numeric literals are decimals, but one with an exponent may
            // not fit a decimal: it is a double precision value.
            *expr = Expr::Cast {
                kind: datafusion::sql::sqlparser::ast::CastKind::Cast,
                expr: Box::new(Expr::Value(Value::SingleQuotedString(text.clone()).into())),
                data_type: SqlType::DoublePrecision,
                array: false,
                format: None,
            };
            return std::ops::ControlFlow::Continue(());
        }
        if let Expr::Cast {
            data_type, expr, ..
        } = expr
            && *data_type == SqlType::Uuid
        {
            *data_type = SqlType::Text;
            if let Expr::Value(v) = expr.as_mut()
                && let Value::SingleQuotedString(text) = &mut v.value
            {
                match uuid::Uuid::parse_str(text.trim()) {
                    Ok(u) => *text = u.hyphenated().to_string(),
                    Err(_) => {
                        return std::ops::ControlFlow::Break(QueryError::InvalidLiteral {
                            ty: "uuid",
                            value: text.clone(),
                        });
                    }
                }
            }
        }
        if let Expr::Function(function) = expr
            && function.name.0.len() == 1
            && function.name.0[0]
                .as_ident()
                .is_some_and(|i| ["power", "pow"].contains(&i.value.to_ascii_lowercase().as_str()))
            && let FunctionArguments::List(list) = &mut function.args
        {
            // power() computes on doubles, as PostgreSQL's does for every
            // argument that is not a numeric (and gives a numeric's value
            // for one): DataFusion's decimal power drops the result's
            // fractional digits (`power(2.5, 4)` gave 39.0).
            for arg in &mut list.args {
                if let FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) = arg {
                    let inner = std::mem::replace(e, Expr::value(Value::Null));
                    *e = Expr::Cast {
                        kind: datafusion::sql::sqlparser::ast::CastKind::Cast,
                        expr: Box::new(inner),
                        data_type: SqlType::DoublePrecision,
                        array: false,
                        format: None,
                    };
                }
            }
            return std::ops::ControlFlow::Continue(());
        }
        if let Expr::Cast {
            data_type:
                SqlType::Varchar(Some(CharacterLength::IntegerLength { length, .. }))
                | SqlType::CharacterVarying(Some(CharacterLength::IntegerLength { length, .. })),
            ..
        } = expr
        {
            // A cast to varchar(n) keeps the first n characters, as in
            // PostgreSQL (DataFusion's text type has no length).
            let length = *length;
            let mut text = expr.clone();
            if let Expr::Cast { data_type, .. } = &mut text {
                *data_type = SqlType::Varchar(None);
            }
            *expr = call(
                "left",
                vec![text, Expr::value(Value::Number(length.to_string(), false))],
            );
            return std::ops::ControlFlow::Continue(());
        }
        if let Expr::Cast {
            data_type: SqlType::Bytea,
            expr: inner,
            ..
        } = expr
            && let Expr::Value(v) = inner.as_ref()
            && let Value::SingleQuotedString(text) | Value::EscapedStringLiteral(text) = &v.value
            && let Some(hex) = text.strip_prefix("\\x")
            && hex.len() % 2 == 0
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
        {
            *expr = Expr::Value(Value::HexStringLiteral(hex.to_string()).into());
        }
        std::ops::ControlFlow::Continue(())
    });
    match outcome {
        std::ops::ControlFlow::Break(e) => Err(e),
        std::ops::ControlFlow::Continue(()) => Ok(()),
    }
}

/// Whether Floe answers this `SHOW` itself: the settings whose value is
/// Floe's and the same for every session (`server_version` as
/// PostgreSQL 15, see [`floe_common::defaults::server_version`]; the time
/// zone, UTC; `standard_conforming_strings`, ...), and a setting no one
/// answers, which is an error as in PostgreSQL. The protocol library
/// answers the settings a session changes ([`SESSION_SETTINGS`]).
pub fn answers_show(stmt: &Statement) -> bool {
    show_query(stmt).is_some()
}

/// Whether `stmt` is `SHOW ALL`, which lists the settings the connection
/// keeps: the server records them in the session's memory first
/// ([`crate::SessionMemory::report_client_settings`]).
pub fn shows_all(stmt: &Statement) -> bool {
    matches!(stmt, Statement::ShowVariable { variable }
        if matches!(variable.as_slice(), [all] if all.value.eq_ignore_ascii_case("all")))
}

/// Settings the protocol library keeps per session (from the startup
/// message or a `SET`), so `SHOW` of them goes there.
const SESSION_SETTINGS: &[&str] = &[
    "application_name",
    "bytea_output",
    "client_encoding",
    "datestyle",
    "extra_float_digits",
    "intervalstyle",
    "is_superuser",
    "search_path",
    "session_authorization",
    "statement_timeout",
    "user",
    "database",
];

/// The settings whose value is Floe's and the same for every session: the
/// name `SHOW` and `SHOW ALL` give it, its value and what it sets.
fn fixed_settings() -> Vec<(&'static str, String, &'static str)> {
    let on = || "on".to_string();
    let off = || "off".to_string();
    let c = || "C".to_string();
    vec![
        (
            "client_min_messages",
            "notice".into(),
            "Sets the message levels that are sent to the client.",
        ),
        (
            "default_transaction_deferrable",
            off(),
            "Sets the default deferrable status of new transactions.",
        ),
        (
            "default_transaction_isolation",
            "read committed".into(),
            "Sets the transaction isolation level of each new transaction.",
        ),
        (
            "default_transaction_read_only",
            off(),
            "Sets the default read-only status of new transactions.",
        ),
        (
            "integer_datetimes",
            on(),
            "Shows whether datetimes are integer based.",
        ),
        ("lc_collate", c(), "Shows the collation order locale."),
        (
            "lc_ctype",
            c(),
            "Shows the character classification and case conversion locale.",
        ),
        (
            "lc_messages",
            c(),
            "Sets the language in which messages are displayed.",
        ),
        (
            "lc_monetary",
            c(),
            "Sets the locale for formatting monetary amounts.",
        ),
        ("lc_numeric", c(), "Sets the locale for formatting numbers."),
        (
            "lc_time",
            c(),
            "Sets the locale for formatting date and time values.",
        ),
        (
            "max_identifier_length",
            "63".into(),
            "Shows the maximum identifier length.",
        ),
        ("role", "none".into(), "Sets the current role."),
        (
            "server_encoding",
            "UTF8".into(),
            "Shows the server (database) character set encoding.",
        ),
        (
            "server_version",
            floe_common::defaults::server_version(),
            "Shows the server version.",
        ),
        (
            "server_version_num",
            floe_common::defaults::PG_VERSION_NUM.into(),
            "Shows the server version as an integer.",
        ),
        (
            "standard_conforming_strings",
            on(),
            "Causes '...' strings to treat backslashes literally.",
        ),
        (
            "TimeZone",
            crate::zone::current().shown().to_string(),
            "Sets the time zone for displaying and interpreting time stamps.",
        ),
        (
            "transaction_deferrable",
            off(),
            "Whether to defer a read-only serializable transaction until it can be executed with no possible serialization failures.",
        ),
        (
            "transaction_isolation",
            "read committed".into(),
            "Sets the current transaction's isolation level.",
        ),
        (
            "transaction_read_only",
            off(),
            "Sets the current transaction's read-only status.",
        ),
    ]
}

/// The settings the connection keeps ([`SESSION_SETTINGS`]) as `SHOW ALL`
/// lists them: the name, the value before the session sets one, and what
/// it sets.
const CLIENT_SETTINGS: &[(&str, &str, &str)] = &[
    (
        "application_name",
        "",
        "Sets the application name to be reported in statistics and logs.",
    ),
    ("bytea_output", "hex", "Sets the output format for bytea."),
    (
        "client_encoding",
        "UTF8",
        "Sets the client's character set encoding.",
    ),
    (
        "DateStyle",
        "ISO, MDY",
        "Sets the display format for date and time values.",
    ),
    (
        "extra_float_digits",
        "1",
        "Sets the number of digits displayed for floating-point values.",
    ),
    (
        "IntervalStyle",
        "postgres",
        "Sets the display format for interval values.",
    ),
    (
        "search_path",
        "\"$user\", public",
        "Sets the schema search order for names that are not schema-qualified.",
    ),
    (
        "statement_timeout",
        "0",
        "Sets the maximum allowed duration of any statement.",
    ),
];

/// `SHOW ALL`: every setting a session sees, by name, with its value and
/// what it sets, as PostgreSQL lists them.
fn show_all() -> Result<Statement, QueryError> {
    let client = crate::session_memory::client_settings();
    let mut rows: Vec<(String, String, String)> = fixed_settings()
        .into_iter()
        // PostgreSQL leaves `role` out of the list.
        .filter(|(name, ..)| *name != "role")
        .map(|(name, value, about)| (name.to_string(), value, about.to_string()))
        .collect();
    rows.extend(CLIENT_SETTINGS.iter().map(|(name, default, about)| {
        let value = client
            .get(&name.to_ascii_lowercase())
            .cloned()
            .unwrap_or_else(|| default.to_string());
        (name.to_string(), value, about.to_string())
    }));
    if let Some(memory) = crate::session_memory::try_current() {
        rows.extend(
            memory
                .settings()
                .iter()
                .map(|(name, value)| (name.clone(), value.clone(), "A custom setting.".into())),
        );
    }
    rows.sort_by_key(|(name, ..)| name.to_ascii_lowercase());
    let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let values: Vec<String> = rows
        .iter()
        .map(|(n, v, d)| format!("({}, {}, {})", quote(n), quote(v), quote(d)))
        .collect();
    crate::syntax::sql_statement(&format!(
        "SELECT name, setting, description FROM (VALUES {}) AS s(name, setting, description) \
         ORDER BY lower(name)",
        values.join(", ")
    ))
}

/// The query that answers a `SHOW` Floe answers itself, or the error for
/// a setting that does not exist.
pub(crate) fn show_query(stmt: &Statement) -> Option<Result<Statement, QueryError>> {
    let Statement::ShowVariable { variable } = stmt else {
        return None;
    };
    let name: Vec<String> = variable
        .iter()
        .map(|part| part.value.to_ascii_lowercase())
        .collect();
    let name = match name.join(" ").as_str() {
        "time zone" => "timezone".to_string(),
        "transaction isolation level" => "transaction_isolation".to_string(),
        other => other.to_string(),
    };
    if name == "all" {
        return Some(show_all());
    }
    let fixed = fixed_settings()
        .into_iter()
        .find(|(n, ..)| n.eq_ignore_ascii_case(&name));
    let (column, value) = match fixed {
        Some((n, value, _)) => (format!("\"{n}\""), value),
        // The engine's own settings (`SHOW datafusion.execution.batch_size`).
        None if variable
            .first()
            .is_some_and(|v| v.value.eq_ignore_ascii_case("datafusion")) =>
        {
            return None;
        }
        None if SESSION_SETTINGS.contains(&name.as_str()) => return None,
        None if let Some(custom) =
            crate::custom_settings::custom_name(variable.iter().map(|v| v.value.as_str())) =>
        {
            match crate::session_memory::custom_setting(&custom) {
                Some(value) => (format!("\"{}\"", custom.replace('"', "\"\"")), value),
                None => {
                    return Some(Err(QueryError::InvalidArgument {
                        status: floe_common::Status::UndefinedObject,
                        message: format!("unrecognized configuration parameter \"{custom}\""),
                    }));
                }
            }
        }
        None => {
            return Some(Err(QueryError::InvalidArgument {
                status: floe_common::Status::UndefinedObject,
                message: format!("unrecognized configuration parameter \"{name}\""),
            }));
        }
    };
    let value = value.replace('\'', "''");
    Some(crate::syntax::sql_statement(&format!(
        "SELECT '{value}' AS {column}"
    )))
}

/// The call `name(args...)`.
fn call(
    name: &str,
    args: Vec<datafusion::sql::sqlparser::ast::Expr>,
) -> datafusion::sql::sqlparser::ast::Expr {
    use datafusion::sql::sqlparser::ast::{
        Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments,
        Ident, ObjectName,
    };
    Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|a| FunctionArg::Unnamed(FunctionArgExpr::Expr(a)))
                .collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}
