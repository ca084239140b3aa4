//! Parsing SQL text into statements.
//!
//! Statements are SQL in PostgreSQL's dialect, parsed by the SQL parser,
//! or one of Floe's own, which no SQL dialect has:
//!
//! ```sql
//! CHECKPOINT
//! CREATE SOURCE [IF NOT EXISTS] name FROM POSTGRES
//!     CONNECTION 'postgres://user:password@host:port/db'
//!     [PUBLICATION publication]
//!     [TABLES (schema.table, ...)]
//!     [INTO SCHEMA schema]
//! DROP SOURCE [IF EXISTS] name
//! CREATE TOKEN [IF NOT EXISTS] name [FOR [ROLE|USER] role]
//! DROP TOKEN [IF EXISTS] name
//! ```
//!
//! Floe's statements are recognized by their leading words before the SQL
//! parser sees them and are parsed here into Floe's own syntax nodes
//! ([`FloeStatement`]), never into some other dialect's statement: a new
//! version of the SQL parser cannot change what they mean, and the SQL
//! parser's look-alikes (`FLUSH`, `CREATE CONNECTOR`, `CREATE SECRET`)
//! are just statements Floe does not support. Only the SQL parser's
//! tokenizer and its readers of identifiers and string literals are used.
//! Errors name the line and column.

use std::fmt;

use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::{Location, Token, TokenWithSpan};
use floe_cdc::SourceOptions;

use crate::engine::Engine;
use crate::error::QueryError;
use crate::{access, names};

/// One parsed statement: SQL, or one of Floe's own statements.
#[derive(Debug, Clone)]
pub enum Parsed {
    /// A statement of PostgreSQL's SQL.
    Sql(Box<Statement>),
    /// One of Floe's own statements.
    Floe(FloeStatement),
}

/// Floe's own statements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FloeStatement {
    /// `CHECKPOINT`: flush every table's buffered rows into files.
    Checkpoint,
    /// `CREATE SOURCE`: start replicating a PostgreSQL database.
    CreateSource(SourceOptions),
    /// `DROP SOURCE`.
    DropSource { name: String, if_exists: bool },
    /// `CREATE TOKEN`: a bearer token for HTTP, acting as a role.
    CreateToken {
        name: String,
        if_not_exists: bool,
        role: Option<String>,
    },
    /// `DROP TOKEN`.
    DropToken { name: String, if_exists: bool },
}

impl FloeStatement {
    /// The statement's command tag and name in messages.
    pub fn verb(&self) -> &'static str {
        match self {
            FloeStatement::Checkpoint => "CHECKPOINT",
            FloeStatement::CreateSource(_) => "CREATE SOURCE",
            FloeStatement::DropSource { .. } => "DROP SOURCE",
            FloeStatement::CreateToken { .. } => "CREATE TOKEN",
            FloeStatement::DropToken { .. } => "DROP TOKEN",
        }
    }
}

fn if_exists(yes: bool) -> &'static str {
    if yes { "IF EXISTS " } else { "" }
}

fn if_not_exists(yes: bool) -> &'static str {
    if yes { "IF NOT EXISTS " } else { "" }
}

/// The statement as SQL, with the connection string's password masked.
impl fmt::Display for FloeStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FloeStatement::Checkpoint => f.write_str("CHECKPOINT"),
            FloeStatement::CreateSource(o) => {
                let connection = floe_cdc::PgConfig::parse(&o.name, &o.connection)
                    .map(|c| c.redacted())
                    .unwrap_or_else(|_| access::MASK.to_string());
                write!(
                    f,
                    "CREATE SOURCE {}{} FROM POSTGRES CONNECTION '{}'",
                    if_not_exists(o.if_not_exists),
                    names::quoted(&o.name),
                    connection.replace('\'', "''")
                )?;
                if let Some(p) = &o.publication {
                    write!(f, " PUBLICATION {}", names::quoted(p))?;
                }
                if let Some(t) = &o.tables {
                    write!(f, " TABLES ({})", t.join(", "))?;
                }
                if let Some(s) = &o.into_schema {
                    write!(f, " INTO SCHEMA {}", names::quoted(s))?;
                }
                Ok(())
            }
            FloeStatement::DropSource { name, if_exists: e } => {
                write!(f, "DROP SOURCE {}{}", if_exists(*e), names::quoted(name))
            }
            FloeStatement::CreateToken {
                name,
                if_not_exists: e,
                role,
            } => {
                write!(
                    f,
                    "CREATE TOKEN {}{}",
                    if_not_exists(*e),
                    names::quoted(name)
                )?;
                match role {
                    Some(role) => write!(f, " FOR ROLE {}", names::quoted(role)),
                    None => Ok(()),
                }
            }
            FloeStatement::DropToken { name, if_exists: e } => {
                write!(f, "DROP TOKEN {}{}", if_exists(*e), names::quoted(name))
            }
        }
    }
}

impl Parsed {
    /// The SQL statement, unless this is one of Floe's own.
    pub fn sql(&self) -> Option<&Statement> {
        match self {
            Parsed::Sql(stmt) => Some(stmt),
            Parsed::Floe(_) => None,
        }
    }

    /// The statement's text for display (sessions, the query log, the
    /// audit trail): passwords masked.
    pub fn text(&self) -> String {
        match self {
            Parsed::Sql(stmt) if access::is_access_statement(stmt) => access::masked_text(stmt),
            Parsed::Sql(stmt) => stmt.to_string(),
            Parsed::Floe(f) => f.to_string(),
        }
    }

    /// Whether the statement is one the PostgreSQL protocol library's
    /// parser does not read as Floe does (Floe's own statements, and the
    /// access-control statements in their PostgreSQL forms); front ends
    /// run such text through [`Engine::parse`].
    pub fn is_floe_syntax(&self) -> bool {
        match self {
            Parsed::Floe(_) => true,
            Parsed::Sql(stmt) => access::is_access_statement(stmt),
        }
    }
}

impl From<Statement> for Parsed {
    fn from(stmt: Statement) -> Parsed {
        Parsed::Sql(Box::new(stmt))
    }
}

/// "Expected: `what`, found: `found` at Line: l, Column: c".
pub(crate) fn expected(what: &str, found: &TokenWithSpan) -> ParserError {
    // A location's text starts with " at " (and is empty at the end).
    ParserError::ParserError(format!(
        "Expected: {what}, found: {}{}",
        found.token, found.span.start
    ))
}

/// Whether the parser stands at `words` (unquoted, any case).
pub(crate) fn at_words(parser: &Parser, words: &[&str]) -> bool {
    words.iter().enumerate().all(|(i, w)| {
        matches!(&parser.peek_nth_token(i).token,
            Token::Word(t) if t.quote_style.is_none() && t.value.eq_ignore_ascii_case(w))
    })
}

fn expect_word(parser: &mut Parser, word: &str) -> Result<(), ParserError> {
    if at_words(parser, &[word]) {
        parser.next_token();
        Ok(())
    } else {
        Err(expected(&word.to_uppercase(), &parser.peek_token()))
    }
}

fn expect_words(parser: &mut Parser, words: &[&str]) -> Result<(), ParserError> {
    words.iter().try_for_each(|w| expect_word(parser, w))
}

fn name(parser: &mut Parser) -> Result<String, ParserError> {
    Ok(names::ident(&parser.parse_identifier()?))
}

/// The syntax error of `SET TIME ZONE = ...` or `SET TIME ZONE TO ...`,
/// if the parser stands at one: PostgreSQL's grammar has no such form,
/// though sqlparser reads it as `SET TIME ZONE ...`.
fn zone_assignment(parser: &Parser) -> Option<ParserError> {
    let value_at = [
        (&["set", "time", "zone"][..], 3),
        (&["set", "local", "time", "zone"][..], 4),
        (&["set", "session", "time", "zone"][..], 4),
    ]
    .into_iter()
    .find(|(words, _)| at_words(parser, words))?
    .1;
    let next = parser.peek_nth_token(value_at);
    let assigns = match &next.token {
        Token::Eq => true,
        Token::Word(w) => w.quote_style.is_none() && w.value.eq_ignore_ascii_case("to"),
        _ => false,
    };
    assigns.then(|| expected("a time zone", &next))
}

/// Floe's statement at the parser, if it stands at one.
fn parse_floe(parser: &mut Parser) -> Option<Result<FloeStatement, ParserError>> {
    let parse: fn(&mut Parser) -> Result<FloeStatement, ParserError> =
        if at_words(parser, &["checkpoint"]) {
            |p| {
                p.next_token();
                Ok(FloeStatement::Checkpoint)
            }
        } else if at_words(parser, &["create", "source"]) {
            parse_create_source
        } else if at_words(parser, &["drop", "source"]) {
            |p| {
                let (name, if_exists) = parse_drop(p, "source")?;
                Ok(FloeStatement::DropSource { name, if_exists })
            }
        } else if at_words(parser, &["create", "token"]) {
            |p| {
                expect_words(p, &["create", "token"])?;
                let if_not_exists = p.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
                let name = name(p)?;
                let role = if p.parse_keyword(Keyword::FOR) {
                    let _ = p.parse_one_of_keywords(&[Keyword::ROLE, Keyword::USER]);
                    Some(self::name(p)?)
                } else {
                    None
                };
                Ok(FloeStatement::CreateToken {
                    name,
                    if_not_exists,
                    role,
                })
            }
        } else if at_words(parser, &["drop", "token"]) {
            |p| {
                let (name, if_exists) = parse_drop(p, "token")?;
                Ok(FloeStatement::DropToken { name, if_exists })
            }
        } else {
            return None;
        };
    Some(parse(parser))
}

/// `DROP <what> [IF EXISTS] name`: the name, and whether IF EXISTS was given.
fn parse_drop(parser: &mut Parser, what: &str) -> Result<(String, bool), ParserError> {
    expect_words(parser, &["drop", what])?;
    let if_exists = parser.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
    Ok((name(parser)?, if_exists))
}

/// `CREATE SOURCE ...`; each clause at most once.
fn parse_create_source(parser: &mut Parser) -> Result<FloeStatement, ParserError> {
    expect_words(parser, &["create", "source"])?;
    let if_not_exists = parser.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = name(parser)?;
    parser.expect_keyword(Keyword::FROM)?;
    expect_word(parser, "postgres")?;
    expect_word(parser, "connection")?;
    let connection = parser.parse_literal_string()?;
    let mut o = SourceOptions {
        name,
        connection,
        if_not_exists,
        ..SourceOptions::default()
    };
    loop {
        let at = parser.peek_token();
        let twice = || expected("end of statement (each clause at most once)", &at);
        if at_words(parser, &["publication"]) {
            parser.next_token();
            if o.publication.replace(self::name(parser)?).is_some() {
                return Err(twice());
            }
        } else if at_words(parser, &["tables"]) {
            parser.next_token();
            parser.expect_token(&Token::LParen)?;
            let tables = parser.parse_comma_separated(|p| p.parse_object_name(false))?;
            parser.expect_token(&Token::RParen)?;
            let list = tables
                .iter()
                .map(|t| {
                    t.0.iter()
                        .map(|part| match part.as_ident() {
                            Some(ident) => names::ident(ident),
                            None => part.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(".")
                })
                .collect();
            if o.tables.replace(list).is_some() {
                return Err(twice());
            }
        } else if parser.parse_keywords(&[Keyword::INTO, Keyword::SCHEMA]) {
            if o.into_schema.replace(self::name(parser)?).is_some() {
                return Err(twice());
            }
        } else {
            return Ok(FloeStatement::CreateSource(o));
        }
    }
}

/// The byte offset of `at` in `sql`; the end for an unknown location.
fn offset(sql: &str, at: Location) -> usize {
    if at.line == 0 {
        return sql.len();
    }
    let mut line_start = 0;
    for _ in 1..at.line {
        match sql[line_start..].find('\n') {
            Some(i) => line_start += i + 1,
            None => return sql.len(),
        }
    }
    sql[line_start..]
        .char_indices()
        .nth(at.column.saturating_sub(1) as usize)
        .map_or(sql.len(), |(i, _)| line_start + i)
}

fn parse_error(e: ParserError) -> QueryError {
    if let ParserError::RecursionLimitExceeded = e {
        return QueryError::TooDeep;
    }
    QueryError::Parse {
        message: e
            .to_string()
            .trim_start_matches("sql parser error: ")
            .to_string(),
    }
}

/// The one SQL statement in `sql`, text Floe itself wrote.
pub(crate) fn sql_statement(sql: &str) -> Result<Statement, QueryError> {
    let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).map_err(parse_error)?;
    match (statements.pop(), statements.is_empty()) {
        (Some(stmt), true) => Ok(stmt),
        _ => Err(QueryError::Parse {
            message: format!("not one statement: {sql}"),
        }),
    }
}

/// `SELECT ... INTO t FROM ...` as PostgreSQL reads it: `CREATE TABLE t
/// AS SELECT ... FROM ...` (DataFusion would make an in-memory table).
/// A temporary table is refused: Floe has none.
fn select_into(stmt: Statement) -> Result<Statement, QueryError> {
    use datafusion::sql::sqlparser::ast::SetExpr;
    let Statement::Query(mut query) = stmt else {
        return Ok(stmt);
    };
    let SetExpr::Select(select) = query.body.as_mut() else {
        return Ok(Statement::Query(query));
    };
    let Some(into) = select.into.take() else {
        return Ok(Statement::Query(query));
    };
    if into.temporary {
        return Err(crate::error::unsupported(
            "SELECT INTO TEMPORARY (Floe has no temporary tables)",
        ));
    }
    // An unlogged table is written durably all the same.
    sql_statement(&format!("CREATE TABLE {} AS {query}", into.name))
}

impl Engine {
    /// Parses SQL text into statements.
    pub fn parse(sql: &str) -> Result<Vec<Parsed>, QueryError> {
        Ok(Engine::parse_with_text(sql)?
            .into_iter()
            .map(|(stmt, _)| stmt)
            .collect())
    }

    /// Parses SQL text into statements, each with its own text as written.
    pub fn parse_with_text(sql: &str) -> Result<Vec<(Parsed, String)>, QueryError> {
        let dialect = PostgreSqlDialect {};
        let mut parser = Parser::new(&dialect)
            .try_with_sql(sql)
            .map_err(parse_error)?;
        let mut statements = Vec::new();
        loop {
            while parser.consume_token(&Token::SemiColon) {}
            let start = parser.peek_token();
            if start.token == Token::EOF {
                break;
            }
            if let Some(e) = zone_assignment(&parser) {
                return Err(parse_error(e));
            }
            let statement = if let Some(floe) = parse_floe(&mut parser) {
                Parsed::Floe(floe.map_err(parse_error)?)
            } else if let Some(access) = access::parse_here(&mut parser) {
                access.map_err(parse_error)?.into()
            } else {
                select_into(parser.parse_statement().map_err(parse_error)?)?.into()
            };
            let after = parser.peek_token();
            if !matches!(after.token, Token::SemiColon | Token::EOF) {
                return Err(parse_error(expected("end of statement", &after)));
            }
            let text = sql[offset(sql, start.span.start)..offset(sql, after.span.start)].trim();
            statements.push((statement, text.to_string()));
        }
        Ok(statements)
    }
}

#[cfg(test)]
mod tests;
