use super::*;

#[test]
fn built_in_types_resolve_to_postgresql_oids() {
    assert_eq!(type_oid("int4"), Some(23));
    assert_eq!(type_oid("Integer"), Some(23));
    assert_eq!(type_oid("pg_catalog.text"), Some(25));
    assert_eq!(type_oid("double precision"), Some(701));
    assert_eq!(type_oid("timestamp with time zone"), Some(1184));
    // Types Floe does not have are NULL, as PostgreSQL answers for a
    // type that is not installed.
    assert_eq!(type_oid("hstore"), None);
    assert_eq!(type_oid("citext"), None);
}

#[test]
fn settings_clients_read() {
    assert_eq!(setting("server_version_num").as_deref(), Some("150000"));
    assert!(setting("server_version").unwrap().starts_with("15."));
    assert_eq!(setting("search_path").as_deref(), Some("\"$user\", public"));
    assert_eq!(setting("no_such_setting"), None);
}
