use super::*;

fn rewritten(sql: &str) -> String {
    let mut stmt = crate::syntax::sql_statement(sql).unwrap();
    partial_column_aliases(&mut stmt);
    stmt.to_string()
}

#[test]
fn fewer_names_rename_the_first_columns() {
    assert_eq!(
        rewritten("WITH n(a) AS (SELECT 1, 2, 3) SELECT * FROM n"),
        "WITH n AS (SELECT 1 AS a, 2, 3) SELECT * FROM n"
    );
    assert_eq!(
        rewritten("SELECT * FROM (SELECT x AS y, 2) AS t(a)"),
        "SELECT * FROM (SELECT x AS a, 2) AS t"
    );
}

#[test]
fn full_lists_and_wildcards_are_left_alone() {
    for sql in [
        "WITH n (a, b) AS (SELECT 1, 2) SELECT * FROM n",
        "WITH n (a) AS (SELECT *, 1 FROM t) SELECT * FROM n",
        "SELECT * FROM (SELECT 1 UNION SELECT 2) AS t (a)",
    ] {
        assert_eq!(rewritten(sql), sql);
    }
}
