//! `CREATE SOURCE` and `DROP SOURCE`: the SQL of replication sources.
//!
//! ```sql
//! CREATE SOURCE [IF NOT EXISTS] name FROM POSTGRES
//!     CONNECTION 'postgres://user:password@host:port/db'
//!     [PUBLICATION publication]
//!     [TABLES (schema.table, ...)]
//!     [INTO SCHEMA schema]
//! DROP SOURCE [IF EXISTS] name
//! ```
//!
//! The SQL parser does not know these statements; they are parsed here
//! and carried as the parser's `CREATE CONNECTOR` / `DROP CONNECTOR`
//! statements, which Floe has no other use for.

use datafusion::sql::sqlparser::ast::{CreateConnector, Expr, Ident, SqlOption, Statement, Value};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::Token;
use floe_cdc::SourceOptions;

use crate::error::QueryError;
use crate::names;

const KIND: &str = "postgres";

/// Whether the parser stands at `word0 word1` (unquoted, any case).
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
        let found = parser.peek_token();
        Err(ParserError::ParserError(format!(
            "Expected: {}, found: {} at {}",
            word.to_uppercase(),
            found.token,
            found.span.start
        )))
    }
}

fn option(key: &str, value: String) -> SqlOption {
    SqlOption::KeyValue {
        key: Ident::new(key),
        value: Expr::value(Value::SingleQuotedString(value)),
    }
}

/// Parses `CREATE SOURCE ...` (the parser stands at CREATE).
pub(crate) fn parse_create(parser: &mut Parser) -> Result<Statement, ParserError> {
    parser.expect_keyword(Keyword::CREATE)?;
    expect_word(parser, "source")?;
    let if_not_exists = parser.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = parser.parse_identifier()?;
    parser.expect_keyword(Keyword::FROM)?;
    expect_word(parser, KIND)?;
    expect_word(parser, "connection")?;
    let url = parser.parse_literal_string()?;
    let mut options = Vec::new();
    loop {
        if at_words(parser, &["publication"]) {
            parser.next_token();
            options.push(option(
                "publication",
                names::ident(&parser.parse_identifier()?),
            ));
        } else if at_words(parser, &["tables"]) {
            parser.next_token();
            parser.expect_token(&Token::LParen)?;
            let tables = parser.parse_comma_separated(|p| p.parse_object_name(false))?;
            parser.expect_token(&Token::RParen)?;
            let list: Vec<String> = tables
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
            options.push(option("tables", list.join(",")));
        } else if parser.parse_keywords(&[Keyword::INTO, Keyword::SCHEMA]) {
            options.push(option(
                "into_schema",
                names::ident(&parser.parse_identifier()?),
            ));
        } else {
            break;
        }
    }
    Ok(Statement::CreateConnector(CreateConnector {
        name,
        if_not_exists,
        connector_type: Some(KIND.into()),
        url: Some(url),
        comment: None,
        with_dcproperties: Some(options),
    }))
}

/// Parses `DROP SOURCE [IF EXISTS] name` (the parser stands at DROP).
pub(crate) fn parse_drop(parser: &mut Parser) -> Result<Statement, ParserError> {
    parser.expect_keyword(Keyword::DROP)?;
    expect_word(parser, "source")?;
    let if_exists = parser.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
    let name = parser.parse_identifier()?;
    Ok(Statement::DropConnector { if_exists, name })
}

fn option_value(options: &[SqlOption], key: &str) -> Option<String> {
    options.iter().find_map(|o| match o {
        SqlOption::KeyValue {
            key: k,
            value: Expr::Value(v),
        } if k.value == key => match &v.value {
            Value::SingleQuotedString(s) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    })
}

/// The options of a parsed `CREATE SOURCE`.
pub(crate) fn options(create: &CreateConnector) -> Result<SourceOptions, QueryError> {
    let props = create.with_dcproperties.clone().unwrap_or_default();
    Ok(SourceOptions {
        name: names::ident(&create.name),
        connection: create.url.clone().unwrap_or_default(),
        publication: option_value(&props, "publication"),
        tables: option_value(&props, "tables").map(|t| t.split(',').map(str::to_string).collect()),
        into_schema: option_value(&props, "into_schema"),
        if_not_exists: create.if_not_exists,
    })
}

/// The statement as Floe's SQL, for re-parsing; the connection string's
/// password is kept, since the text is executed again.
pub(crate) fn statement_text(stmt: &Statement) -> Option<String> {
    match stmt {
        Statement::CreateConnector(c) => {
            let o = options(c).ok()?;
            let mut text = format!(
                "CREATE SOURCE {}{} FROM POSTGRES CONNECTION '{}'",
                if o.if_not_exists {
                    "IF NOT EXISTS "
                } else {
                    ""
                },
                c.name,
                o.connection.replace('\'', "''")
            );
            if let Some(p) = o.publication {
                text.push_str(&format!(" PUBLICATION \"{p}\""));
            }
            if let Some(t) = o.tables {
                text.push_str(&format!(" TABLES ({})", t.join(", ")));
            }
            if let Some(s) = o.into_schema {
                text.push_str(&format!(" INTO SCHEMA \"{s}\""));
            }
            Some(text)
        }
        Statement::DropConnector { if_exists, name } => Some(format!(
            "DROP SOURCE {}{name}",
            if *if_exists { "IF EXISTS " } else { "" }
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
