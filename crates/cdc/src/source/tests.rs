use super::*;

fn spec(tables: Option<Vec<&str>>, into: Option<&str>) -> SourceSpec {
    SourceSpec {
        name: "shop".into(),
        connection: "postgres://u:p@127.0.0.1/db".into(),
        publication: "floe_shop".into(),
        owns_publication: true,
        tables: tables.map(|t| t.into_iter().map(String::from).collect()),
        into_schema: into.map(String::from),
        slot: "floe_shop".into(),
        id: "1".into(),
    }
}

#[test]
fn tables_keep_their_schema_unless_into_schema() {
    assert_eq!(
        spec(None, None).target("sales", "payouts"),
        ("sales".into(), "payouts".into())
    );
    assert_eq!(
        spec(None, Some("pg")).target("sales", "payouts"),
        ("pg".into(), "payouts".into())
    );
}

#[test]
fn the_tables_list_filters_by_schema_and_name() {
    let s = spec(Some(vec!["public.payouts", "merchants"]), None);
    assert!(s.includes("public", "payouts"));
    assert!(s.includes("public", "merchants"));
    assert!(!s.includes("other", "merchants"));
    assert!(!s.includes("public", "methods"));
    assert!(spec(None, None).includes("any", "thing"));
    assert_eq!(
        create_publication_sql(&s),
        "CREATE PUBLICATION \"floe_shop\" FOR TABLE \"public\".\"payouts\", \"merchants\""
    );
}
