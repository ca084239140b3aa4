use datafusion::sql::sqlparser::ast::{SelectItem, SetExpr, Statement};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

use super::pg_column_names;

fn parse(sql: &str) -> Statement {
    Parser::parse_sql(&PostgreSqlDialect {}, sql)
        .unwrap()
        .remove(0)
}

/// The names of the top-level SELECT's items after naming: an alias, or
/// the item as written when it keeps DataFusion's name.
fn names(sql: &str) -> Vec<String> {
    let mut stmt = parse(sql);
    pg_column_names(&mut stmt);
    let Statement::Query(query) = stmt else {
        panic!("not a query")
    };
    let SetExpr::Select(select) = *query.body else {
        panic!("not a SELECT")
    };
    select
        .projection
        .iter()
        .map(|item| match item {
            SelectItem::ExprWithAlias { alias, .. } => alias.value.clone(),
            other => format!("<{other}>"),
        })
        .collect()
}

#[test]
fn functions_are_named_by_the_function() {
    assert_eq!(
        names("SELECT count(*), Sum(a), pg_catalog.upper(b), now() FROM t"),
        ["count", "sum", "upper", "now"]
    );
    assert_eq!(
        names(
            "SELECT extract(year from d), trim(b), trim(leading 'x' from b), substring(b from 2), position('a' in b), ceil(x), d at time zone 'UTC' FROM t"
        ),
        [
            "extract",
            "btrim",
            "ltrim",
            "substring",
            "position",
            "ceil",
            "timezone"
        ]
    );
}

#[test]
fn columns_keep_their_names_and_casts_name_by_what_they_cast() {
    assert_eq!(
        names(
            "SELECT a, t.b, a::text, CAST(t.b AS int), '1'::int, 1::varchar(3), true, 'x'::timestamptz FROM t"
        ),
        [
            "<a>",
            "<t.b>",
            "a",
            "b",
            "int4",
            "varchar",
            "?column?",
            "timestamptz"
        ]
    );
    assert_eq!(
        names(
            "SELECT DATE '2020-01-01', INTERVAL '1 day', CASE WHEN a THEN 1 END, CASE WHEN a THEN 1 END::text, ARRAY[1], CASE WHEN a THEN 1 ELSE b END, substr(b, 2)"
        ),
        ["date", "interval", "case", "text", "array", "b", "substr"]
    );
}

#[test]
fn other_expressions_are_unnamed_and_may_repeat_at_the_top() {
    assert_eq!(
        names("SELECT 1, 'a', a + 1, -a, a IS NULL, NOT EXISTS (SELECT 1), EXISTS (SELECT 1)"),
        [
            "?column?", "?column?", "?column?", "?column?", "?column?", "?column?", "exists"
        ]
    );
}

#[test]
fn scalar_subqueries_are_named_by_their_first_column() {
    assert_eq!(
        names(
            "SELECT (SELECT count(*) FROM t), (SELECT x.b AS c FROM t x), (SELECT 1), (SELECT * FROM t)"
        ),
        ["count", "c", "?column?", "<(SELECT * FROM t)>"]
    );
}

#[test]
fn repeats_are_left_to_datafusion_below_the_top_and_beside_a_wildcard() {
    let mut stmt = parse("SELECT * FROM (SELECT 1, 2, count(*) FROM t) s");
    pg_column_names(&mut stmt);
    assert_eq!(
        stmt.to_string(),
        r#"SELECT * FROM (SELECT 1 AS "?column?", 2, count(*) AS "count" FROM t) s"#
    );
    assert_eq!(names("SELECT *, 1, 2 FROM t"), ["<*>", "?column?", "<2>"]);
    let mut stmt = parse("SELECT 1, 2 UNION SELECT 3, 4");
    pg_column_names(&mut stmt);
    assert_eq!(
        stmt.to_string(),
        r#"SELECT 1 AS "?column?", 2 UNION SELECT 3, 4"#
    );
}

#[test]
fn named_items_and_other_statements_keep_their_names() {
    assert_eq!(names("SELECT count(*) AS n, a FROM t"), ["n", "<a>"]);
    let mut stmt = parse("CREATE TABLE u AS SELECT count(*) FROM t");
    pg_column_names(&mut stmt);
    assert_eq!(
        stmt.to_string(),
        r#"CREATE TABLE u AS SELECT count(*) AS "count" FROM t"#
    );
}

#[test]
fn a_word_after_a_cast_to_an_integer_names_the_column() {
    let mut stmt = parse("SELECT 1::integer unsigned, 2::bigint unsigned FROM t");
    pg_column_names(&mut stmt);
    assert_eq!(
        stmt.to_string(),
        "SELECT 1::INTEGER AS unsigned, 2::BIGINT AS unsigned FROM t"
    );
}
