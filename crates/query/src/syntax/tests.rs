use super::*;

fn one(sql: &str) -> Parsed {
    let mut s = Engine::parse(sql).unwrap();
    assert_eq!(s.len(), 1, "{sql}");
    s.remove(0)
}

fn floe(sql: &str) -> FloeStatement {
    match one(sql) {
        Parsed::Floe(f) => f,
        Parsed::Sql(other) => panic!("{sql} parsed as SQL: {other}"),
    }
}

fn error(sql: &str) -> String {
    Engine::parse(sql).unwrap_err().to_string()
}

#[test]
fn create_source_parses_every_clause() {
    let FloeStatement::CreateSource(o) = floe(
        "create source if not exists Shop from postgres connection 'postgres://u:p@h/db' \
         publication pub1 tables (public.payouts, Merchants) into schema pg",
    ) else {
        panic!("not CREATE SOURCE");
    };
    assert_eq!(o.name, "shop");
    assert!(o.if_not_exists);
    assert_eq!(o.connection, "postgres://u:p@h/db");
    assert_eq!(o.publication.as_deref(), Some("pub1"));
    assert_eq!(
        o.tables,
        Some(vec!["public.payouts".to_string(), "merchants".to_string()])
    );
    assert_eq!(o.into_schema.as_deref(), Some("pg"));

    let FloeStatement::CreateSource(minimal) = floe("CREATE SOURCE s FROM POSTGRES CONNECTION 'x'")
    else {
        panic!("not CREATE SOURCE");
    };
    assert_eq!(
        (minimal.publication, minimal.tables, minimal.into_schema),
        (None, None, None)
    );
}

#[test]
fn issue23_a_source_password_never_reaches_the_statement_text() {
    for sql in [
        "CREATE SOURCE s FROM POSTGRES CONNECTION 'postgres://u:hunter2@h:5432/db'",
        "CREATE SOURCE s FROM POSTGRES CONNECTION 'host=h user=u password=hunter2 dbname=db'",
        "CREATE SOURCE s FROM POSTGRES CONNECTION 'not a connection hunter2'",
    ] {
        let text = one(sql).text();
        assert!(!text.contains("hunter2"), "{sql} -> {text}");
        assert!(
            text.starts_with("CREATE SOURCE \"s\" FROM POSTGRES"),
            "{text}"
        );
    }
    // The text without a password parses back to the same statement.
    let sql = "CREATE SOURCE IF NOT EXISTS \"Shop\" FROM POSTGRES CONNECTION \
               'postgres://u@h:5432/db' PUBLICATION p TABLES (public.a, b) INTO SCHEMA pg";
    let parsed = floe(sql);
    assert_eq!(floe(&parsed.to_string()), parsed);
}

#[test]
fn issue23_floe_statements_have_their_own_nodes() {
    assert_eq!(floe("checkpoint"), FloeStatement::Checkpoint);
    assert_eq!(floe("CHECKPOINT").to_string(), "CHECKPOINT");
    assert_eq!(
        floe("DROP SOURCE IF EXISTS shop"),
        FloeStatement::DropSource {
            name: "shop".into(),
            if_exists: true
        }
    );
    assert_eq!(
        floe("CREATE TOKEN IF NOT EXISTS ingest FOR ROLE Writer"),
        FloeStatement::CreateToken {
            name: "ingest".into(),
            if_not_exists: true,
            role: Some("writer".into())
        }
    );
    assert_eq!(
        floe("create token mine"),
        FloeStatement::CreateToken {
            name: "mine".into(),
            if_not_exists: false,
            role: None
        }
    );
    assert_eq!(
        floe("DROP TOKEN IF EXISTS ingest").to_string(),
        "DROP TOKEN IF EXISTS \"ingest\""
    );
    // Other dialects' look-alikes are SQL statements Floe does not run as
    // its own, and a quoted "checkpoint" is a name.
    for sql in [
        "CREATE CONNECTOR c TYPE 'postgres' URL 'postgres://u:p@h/db'",
        "DROP CONNECTOR c",
        "CREATE SECRET s (TYPE floe_token, role r)",
        "DROP SECRET s FROM floe_token",
    ] {
        let parsed = one(sql);
        assert!(parsed.sql().is_some(), "{sql}");
        assert!(!parsed.is_floe_syntax(), "{sql}");
        assert!(!Engine::executes_itself(&parsed), "{sql}");
    }
    assert!(Engine::parse("\"checkpoint\"").is_err());
}

#[test]
fn issue23_floe_statement_errors_name_line_and_column() {
    let err = error("CREATE SOURCE s FROM MYSQL CONNECTION 'x'");
    assert_eq!(
        err,
        "syntax error: Expected: POSTGRES, found: MYSQL at Line: 1, Column: 22"
    );
    let err = error("CREATE SOURCE s FROM POSTGRES CONNECTION 'x'\n  BOGUS");
    assert_eq!(
        err,
        "syntax error: Expected: end of statement, found: BOGUS at Line: 2, Column: 3"
    );
    let err = error("CHECKPOINT now");
    assert!(err.ends_with("found: now at Line: 1, Column: 12"), "{err}");
    let err = error("CREATE SOURCE s FROM POSTGRES CONNECTION 'x' PUBLICATION a PUBLICATION b");
    assert!(err.contains("each clause at most once"), "{err}");
    assert!(err.ends_with("Column: 60"), "{err}");
    let err = error("DROP TOKEN");
    assert!(err.contains("found: EOF"), "{err}");
    assert!(!err.contains(" at  at "), "{err}");
}

#[test]
fn statements_keep_their_own_text() {
    let sql = "CREATE USER a PASSWORD 'p;w';\n  SELECT 'é', 1 ;;CHECKPOINT\n";
    let texts: Vec<String> = Engine::parse_with_text(sql)
        .unwrap()
        .into_iter()
        .map(|(_, text)| text)
        .collect();
    assert_eq!(
        texts,
        vec![
            "CREATE USER a PASSWORD 'p;w'",
            "SELECT 'é', 1",
            "CHECKPOINT"
        ]
    );
}

// PostgreSQL 15: `SET TIME ZONE = '+08'` is a syntax error (42601) while
// `SET timezone = '+08'` and `SET TIME ZONE '+08'` set the zone.
#[test]
fn issue23_set_time_zone_takes_no_equals_sign() {
    for sql in ["SET TIME ZONE = '+08'", "SET TIME ZONE TO 'UTC'"] {
        let e = error(sql);
        assert!(e.contains("42601") || e.contains("Expected"), "{sql}: {e}");
    }
    assert!(one("SET timezone = '+08'").sql().is_some());
    assert!(one("SET TIME ZONE '+08'").sql().is_some());
}
