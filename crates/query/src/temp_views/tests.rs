use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

use floe_common::HasStatus;

use super::*;
use crate::session_memory::SessionMemory;

fn parse(sql: &str) -> datafusion::sql::sqlparser::ast::Statement {
    Parser::parse_sql(&PostgreSqlDialect {}, sql)
        .unwrap()
        .remove(0)
}

fn definition() -> ViewDefinition {
    ViewDefinition {
        sql: "SELECT 1".into(),
        columns: vec![],
        query_columns: vec!["Int64(1)".into()],
    }
}

/// `sql` as the current session reads it when it has the temporary view `t`.
async fn qualified(sql: &str) -> (bool, String) {
    let memory = SessionMemory::default();
    memory.temp_views().insert("t".into(), definition());
    session_memory::scope(memory, async {
        let mut stmt = parse(sql);
        let changed = qualify(&mut stmt).unwrap();
        (changed, stmt.to_string())
    })
    .await
}

#[tokio::test]
async fn an_unqualified_name_finds_the_temporary_view_first() {
    assert_eq!(
        qualified("SELECT * FROM t JOIN u ON true").await,
        (true, "SELECT * FROM pg_temp.t JOIN u ON true".to_string())
    );
    assert_eq!(
        qualified("SELECT * FROM \"T\"").await,
        (false, "SELECT * FROM \"T\"".to_string())
    );
}

#[tokio::test]
async fn qualified_names_and_with_clauses_are_left_alone() {
    assert_eq!(
        qualified("SELECT * FROM public.t").await,
        (false, "SELECT * FROM public.t".to_string())
    );
}

#[tokio::test]
async fn a_with_query_named_as_a_temporary_view_is_refused() {
    let memory = SessionMemory::default();
    memory.temp_views().insert("t".into(), definition());
    let refused = session_memory::scope(memory, async {
        let mut stmt = parse("SELECT * FROM u UNION ALL (WITH t AS (SELECT 3) SELECT * FROM t)");
        qualify(&mut stmt).unwrap_err()
    })
    .await;
    assert_eq!(refused.status(), floe_common::Status::FeatureNotSupported);
}

#[tokio::test]
async fn outside_a_session_no_name_is_temporary() {
    let mut stmt = parse("SELECT * FROM t");
    assert!(!qualify(&mut stmt).unwrap());
}

#[test]
fn temporary_views_live_only_in_pg_temp() {
    let name = |sql: &str| view_name(&ObjectName::from(vec![Ident::new(sql)]));
    assert_eq!(name("v").unwrap(), "v");
    let two = ObjectName::from(vec![Ident::new("public"), Ident::new("v")]);
    let err = view_name(&two).unwrap_err();
    assert_eq!(err.status(), floe_common::Status::InvalidTableDefinition);
    assert!(err.to_string().contains("non-temporary schema"), "{err}");
    let temp = ObjectName::from(vec![Ident::new("pg_temp"), Ident::new("v")]);
    assert_eq!(view_name(&temp).unwrap(), "v");
}
