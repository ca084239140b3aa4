use super::*;

#[test]
fn arguments_become_one_create_source_statement() {
    let args = ReplicateArgs {
        name: "shop".into(),
        connection: "postgres://u:it's@h/db".into(),
        publication: Some("p".into()),
        tables: vec!["public.payouts".into(), "public.merchants".into()],
        into_schema: Some("pg".into()),
        url: "http://127.0.0.1:8433".into(),
        token: None,
        no_wait: false,
        fail_after: 30,
    };
    let sql = create_statement(&args);
    assert_eq!(
        sql,
        "CREATE SOURCE shop FROM POSTGRES CONNECTION 'postgres://u:it''s@h/db' PUBLICATION \"p\" \
         TABLES (public.payouts, public.merchants) INTO SCHEMA \"pg\""
    );
    floe_query::Engine::parse(&sql).unwrap();
}
