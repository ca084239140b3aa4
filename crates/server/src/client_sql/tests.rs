use floe_query::Engine;

use super::{is_catalog_query, library_setting_text, needs_client_compat};

fn one(sql: &str) -> floe_query::datafusion::sql::sqlparser::ast::Statement {
    let mut statements = Engine::parse(sql).expect("parses");
    assert_eq!(statements.len(), 1, "{sql}");
    statements.remove(0).sql().expect("SQL").clone()
}

#[test]
fn issue23_user_queries_are_planned_as_written() {
    for sql in [
        "SELECT a, (SELECT count(*) FROM t9 AS x WHERE x.b < t9.b) FROM t9 ORDER BY 1",
        "SELECT (SELECT b FROM t9) FROM t9",
        "SELECT * FROM events WHERE id = ANY(ARRAY[1, 2])",
        "INSERT INTO t SELECT * FROM s",
        "UPDATE t SET v = (SELECT max(v) FROM s) WHERE id = 1",
        "SELECT name FROM pg_users_of_mine",
        "SELECT x::text, y::bigint FROM public.t",
        "CREATE TABLE pg_notes (a int)",
    ] {
        let statement = one(sql);
        assert!(!is_catalog_query(&statement), "{sql}");
        assert!(!needs_client_compat(&statement), "{sql}");
    }
}

#[test]
fn issue23_catalog_queries_and_library_statements_get_the_rewrites() {
    for sql in [
        "SELECT n.nspname FROM pg_catalog.pg_namespace n",
        "SELECT relname FROM pg_class WHERE relkind = 'r'",
        "SELECT table_name FROM information_schema.tables",
        "SELECT version()",
        "SELECT current_schema()",
        "SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) FROM t a",
        "SELECT pg_get_userbyid(1)",
        "SELECT 'public.t'::regclass::oid",
        "SELECT c.oid, (SELECT count(*) FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid) FROM t c",
        "SET search_path = public",
        "SHOW search_path",
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
    ] {
        assert!(needs_client_compat(&one(sql)), "{sql}");
    }
}

#[test]
fn a_library_setting_is_set_as_one_quoted_value() {
    assert_eq!(
        library_setting_text("SET extra_float_digits = 3").as_deref(),
        Some("SET extra_float_digits = '3'")
    );
    assert_eq!(
        library_setting_text("set application_name to psql2").as_deref(),
        Some("SET application_name = 'psql2'")
    );
    assert_eq!(
        library_setting_text("SET search_path = public, b").as_deref(),
        Some("SET search_path = 'public, b'")
    );
    assert_eq!(
        library_setting_text("SET extra_float_digits = -2").as_deref(),
        Some("SET extra_float_digits = '-2'")
    );
    assert_eq!(library_setting_text("SET application_name = 'x'"), None);
    assert_eq!(
        library_setting_text("SET application_name TO DEFAULT"),
        None
    );
    assert_eq!(library_setting_text("SELECT 1"), None);
}
