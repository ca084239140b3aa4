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

#[test]
fn issue14_a_pause_is_durable_and_shows_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(None, None);
    let path = state_path(dir.path(), &spec.name);
    let state = SourceState::load(&path, &spec).unwrap();
    assert!(state.paused.is_empty());
    let shared = new_shared(spec.clone(), path.clone(), state);
    shared
        .set_paused(
            "public.payouts",
            Some("value \"NaN\" is not a valid decimal"),
        )
        .unwrap();

    // As `Sources::open` finds it after a restart: still paused, with why.
    let again = new_shared(
        spec.clone(),
        path.clone(),
        SourceState::load(&path, &spec).unwrap(),
    );
    assert_eq!(
        again.paused().get("public.payouts").map(String::as_str),
        Some("value \"NaN\" is not a valid decimal")
    );
    let status = again.status().clone();
    let table = &status.tables["public.payouts"];
    assert_eq!(
        (
            table.state.as_str(),
            table.schema.as_str(),
            table.table.as_str()
        ),
        ("paused", "public", "payouts")
    );
    assert!(table.last_error.as_deref().unwrap().contains("NaN"));

    // Resumed (after a copy): gone from the state on disk too.
    again.set_paused("public.payouts", None).unwrap();
    assert!(SourceState::load(&path, &spec).unwrap().paused.is_empty());
}

#[test]
fn issue14_a_state_left_by_an_earlier_source_of_the_name_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let old = spec(None, None);
    let path = state_path(dir.path(), &old.name);
    let shared = new_shared(
        old.clone(),
        path.clone(),
        SourceState::load(&path, &old).unwrap(),
    );
    shared.set_paused("public.t", Some("why")).unwrap();
    let mut new = old.clone();
    new.id = "2".into();
    assert!(SourceState::load(&path, &new).unwrap().paused.is_empty());
    // A state file is not a source definition.
    assert_ne!(path.extension().and_then(|e| e.to_str()), Some("json"));
}
