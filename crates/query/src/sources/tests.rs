use crate::Engine;

use super::*;

fn create(sql: &str) -> CreateConnector {
    match Engine::parse(sql).unwrap().remove(0) {
        Statement::CreateConnector(c) => c,
        other => panic!("not CREATE SOURCE: {other}"),
    }
}

#[test]
fn create_source_parses_every_clause() {
    let c = create(
        "create source if not exists shop from postgres connection 'postgres://u:p@h/db' \
         publication pub1 tables (public.payouts, Merchants) into schema pg",
    );
    let o = options(&c).unwrap();
    assert_eq!(o.name, "shop");
    assert!(o.if_not_exists);
    assert_eq!(o.connection, "postgres://u:p@h/db");
    assert_eq!(o.publication.as_deref(), Some("pub1"));
    assert_eq!(
        o.tables,
        Some(vec!["public.payouts".to_string(), "merchants".to_string()])
    );
    assert_eq!(o.into_schema.as_deref(), Some("pg"));
    // The text form parses back to the same statement.
    let again = create(&statement_text(&Statement::CreateConnector(c.clone())).unwrap());
    assert_eq!(options(&again).unwrap().tables, o.tables);

    let minimal = options(&create("CREATE SOURCE s FROM POSTGRES CONNECTION 'x'")).unwrap();
    assert_eq!(
        (minimal.publication, minimal.tables, minimal.into_schema),
        (None, None, None)
    );
}

#[test]
fn drop_source_and_errors() {
    let stmt = Engine::parse("DROP SOURCE IF EXISTS shop")
        .unwrap()
        .remove(0);
    assert!(matches!(
        stmt,
        Statement::DropConnector {
            if_exists: true,
            ..
        }
    ));
    assert_eq!(statement_text(&stmt).unwrap(), "DROP SOURCE IF EXISTS shop");
    let err = Engine::parse("CREATE SOURCE s FROM MYSQL CONNECTION 'x'").unwrap_err();
    assert!(err.to_string().contains("Expected: POSTGRES"), "{err}");
    let err = Engine::parse("CREATE SOURCE s FROM POSTGRES CONNECTION 'x' BOGUS").unwrap_err();
    assert!(err.to_string().contains("end of statement"), "{err}");
}
