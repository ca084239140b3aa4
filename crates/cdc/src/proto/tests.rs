use super::*;

#[test]
fn lsn_round_trips_in_postgres_form() {
    assert_eq!(format_lsn(0x16_B374_D848), "16/B374D848");
    assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
    assert_eq!(parse_lsn("0/0"), Some(0));
    assert_eq!(parse_lsn("nonsense"), None);
}

#[test]
fn connection_strings_parse_and_never_show_the_password() {
    let c = PgConfig::parse("s", "postgres://app:s3cret@127.0.0.1:5433/shop").unwrap();
    assert_eq!(
        (c.host.as_str(), c.port, c.user.as_str()),
        ("127.0.0.1", 5433, "app")
    );
    assert_eq!(c.dbname, "shop");
    assert_eq!(c.password.as_deref(), Some("s3cret"));
    assert!(!c.redacted().contains("s3cret"));
    assert!(!format!("{c:?}").contains("s3cret"));
    let kv = PgConfig::parse("s", "host=/tmp port=5432 user=me dbname=db").unwrap();
    assert!(kv.unix);
    assert_eq!(kv.address(), "/tmp/.s.PGSQL.5432");
    let err = PgConfig::parse("s", "postgres://127.0.0.1/db").unwrap_err();
    assert!(err.to_string().contains("no user name"), "{err}");
}

#[test]
fn quoting() {
    assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    assert_eq!(quote_literal("it's"), "'it''s'");
}
