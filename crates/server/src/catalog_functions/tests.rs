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

#[test]
fn sizes_render_as_postgresql_renders_them() {
    // PostgreSQL 15's answers for pg_size_pretty(n::bigint).
    for (bytes, shown) in [
        (0, "0 bytes"),
        (8192, "8192 bytes"),
        (10239, "10239 bytes"),
        (10240, "10 kB"),
        (106496, "104 kB"),
        (10 * 1024 * 1024 - 1, "10 MB"),
        (10 * 1024 * 1024 - 513, "10239 kB"),
        (10 * 1024 * 1024, "10 MB"),
        (1536 * 1024 * 1024, "1536 MB"),
        (123_456_789_012, "115 GB"),
        (i64::MAX, "8192 PB"),
        (-10240, "-10 kB"),
    ] {
        assert_eq!(size_pretty(bytes), shown, "{bytes}");
    }
}
