use std::collections::HashMap;

use datafusion::sql::sqlparser::ast::Statement;

use super::*;

fn insert(sql: &str) -> Insert {
    match crate::syntax::sql_statement(sql).unwrap() {
        Statement::Insert(insert) => insert,
        other => panic!("not an INSERT: {other}"),
    }
}

fn table_defaults() -> HashMap<String, String> {
    HashMap::from([
        ("b".to_string(), "100 * 2 + 300".to_string()),
        ("c".to_string(), "lower('X')".to_string()),
    ])
}

const COLUMNS: [&str; 3] = ["a", "b", "c"];

fn columns() -> Vec<String> {
    COLUMNS.iter().map(|c| c.to_string()).collect()
}

#[test]
fn default_in_values_becomes_the_columns_default_or_null() {
    let mut i = insert("INSERT INTO t VALUES (DEFAULT, DEFAULT, 'z'), (1, 2, default)");
    fill_insert(&mut i, &columns(), &table_defaults()).unwrap();
    assert_eq!(
        i.to_string(),
        "INSERT INTO t VALUES (NULL, (100 * 2 + 300), 'z'), (1, 2, (lower('X')))"
    );
}

#[test]
fn default_follows_the_named_columns() {
    let mut i = insert("INSERT INTO t (c, a) VALUES (DEFAULT, DEFAULT)");
    fill_insert(&mut i, &columns(), &table_defaults()).unwrap();
    assert_eq!(
        i.to_string(),
        "INSERT INTO t (c, a) VALUES ((lower('X')), NULL)"
    );
}

#[test]
fn a_quoted_default_is_a_column_name() {
    let mut i = insert("INSERT INTO t (a) VALUES (\"default\")");
    fill_insert(&mut i, &columns(), &table_defaults()).unwrap();
    assert_eq!(i.to_string(), "INSERT INTO t (a) VALUES (\"default\")");
}

#[test]
fn a_short_row_fills_the_first_columns() {
    let mut i = insert("INSERT INTO t VALUES (1, DEFAULT)");
    fill_insert(&mut i, &columns(), &table_defaults()).unwrap();
    assert_eq!(
        i.to_string(),
        "INSERT INTO t (\"a\", \"b\") VALUES (1, (100 * 2 + 300))"
    );
}

#[test]
fn default_values_is_a_row_of_the_first_columns_default() {
    let mut i = insert("INSERT INTO t DEFAULT VALUES");
    fill_insert(&mut i, &columns(), &table_defaults()).unwrap();
    assert_eq!(i.to_string(), "INSERT INTO t (\"a\") VALUES (NULL)");
    let mut i = insert("INSERT INTO t DEFAULT VALUES");
    fill_insert(&mut i, &["b".to_string()], &table_defaults()).unwrap();
    assert_eq!(
        i.to_string(),
        "INSERT INTO t (\"b\") VALUES ((100 * 2 + 300))"
    );
}

#[test]
fn update_set_default() {
    let d = table_defaults();
    let keyword = Expr::Identifier(Ident::new("DEFAULT"));
    assert_eq!(
        assigned(keyword.clone(), &d, "b").unwrap().to_string(),
        "(100 * 2 + 300)"
    );
    assert_eq!(assigned(keyword, &d, "a").unwrap().to_string(), "NULL");
    let other = parsed("b + 1").unwrap();
    assert_eq!(assigned(other, &d, "b").unwrap().to_string(), "(b + 1)");
}

#[test]
fn what_a_default_holds() {
    assert!(has_subquery(&parsed("1 + (SELECT 1)").unwrap()));
    assert!(has_subquery(&parsed("EXISTS (SELECT 1)").unwrap()));
    assert!(!has_subquery(&parsed("lower('a')").unwrap()));
    assert!(is_quoted_literal(&parsed("'abc'").unwrap()));
    assert!(is_quoted_literal(&parsed("'abc'::int").unwrap()));
    assert!(!is_quoted_literal(&parsed("100000").unwrap()));
    assert!(!is_quoted_literal(&parsed("lower('a')").unwrap()));
}
