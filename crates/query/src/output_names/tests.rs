use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

use super::*;

fn renamed(sql: &str) -> (String, Vec<Apart>) {
    let mut stmt = Parser::parse_sql(&PostgreSqlDialect {}, sql)
        .unwrap()
        .remove(0);
    let apart = name_apart(&mut stmt).unwrap();
    (stmt.to_string(), apart)
}

#[test]
fn later_items_of_a_shared_name_are_renamed() {
    let (sql, apart) = renamed("SELECT 1 AS a, 2 AS A, b, 3 AS b, count(*), count(*) FROM t");
    assert_eq!(
        sql,
        "SELECT 1 AS a, 2 AS a__floe_apart_1, b, 3 AS b__floe_apart_3, count(*), \
         count(*) AS count__floe_apart_5 FROM t"
    );
    assert_eq!(
        apart,
        vec![
            Apart {
                position: 1,
                twin: 0
            },
            Apart {
                position: 3,
                twin: 2
            },
            Apart {
                position: 5,
                twin: 4
            },
        ]
    );
}

#[test]
fn quoted_names_differ_by_case_and_wildcards_are_left_alone() {
    assert!(renamed(r#"SELECT 1 AS "A", 2 AS a"#).1.is_empty());
    assert!(renamed("SELECT *, 1 AS a FROM t").1.is_empty());
    assert!(renamed("SELECT 1 AS a UNION SELECT 2").1.is_empty());
}

#[test]
fn order_by_a_shared_name_is_ambiguous() {
    let mut stmt = Parser::parse_sql(
        &PostgreSqlDialect {},
        "SELECT a AS x, b AS x FROM t ORDER BY x",
    )
    .unwrap()
    .remove(0);
    let err = name_apart(&mut stmt).unwrap_err();
    assert!(err.to_string().contains("x"), "{err}");
}

#[test]
fn a_column_keeps_its_name_through_a_cast_and_a_qualifier() {
    // PostgreSQL names `id::text` and `t.id` both `id`.
    let (sql, apart) = renamed("SELECT id, id::text, t.id FROM t");
    assert_eq!(apart.len(), 2, "{sql}");
    assert!(sql.contains("id::TEXT AS id__floe_apart_1"), "{sql}");
    assert!(sql.contains("t.id AS id__floe_apart_2"), "{sql}");
}
