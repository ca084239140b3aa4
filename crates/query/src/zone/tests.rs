use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

use floe_common::HasStatus;

use super::*;

fn statement(sql: &str) -> Statement {
    Parser::parse_sql(&PostgreSqlDialect {}, sql)
        .unwrap()
        .remove(0)
}

fn change(sql: &str) -> Result<ZoneChange, QueryError> {
    zone_statement(&statement(sql)).expect("a time zone statement")
}

/// The zone `sql` sets: as Arrow names it, and as SHOW answers it.
fn set(sql: &str) -> (String, String) {
    let zone = change(sql).unwrap().zone();
    (zone.arrow().to_string(), zone.shown().to_string())
}

fn pair(arrow: &str, shown: &str) -> (String, String) {
    (arrow.to_string(), shown.to_string())
}

// Each answer below is PostgreSQL 15's (SHOW timezone, and the offset of
// a timestamptz written in the zone).
#[test]
fn numbers_are_hours_east_of_greenwich() {
    assert_eq!(set("SET TIME ZONE '+07'"), pair("+07:00", "<+07>-07"));
    assert_eq!(set("SET TIME ZONE 7"), pair("+07:00", "<+07>-07"));
    assert_eq!(set("SET timezone = '+5'"), pair("+05:00", "<+05>-05"));
    assert_eq!(set("SET TIME ZONE -3.5"), pair("-03:30", "<-03:30>+03:30"));
    assert_eq!(
        set("SET TIME ZONE INTERVAL '-03:30' HOUR TO MINUTE"),
        pair("-03:30", "<-03:30>+03:30")
    );
}

#[test]
fn posix_offsets_are_west_of_greenwich() {
    assert_eq!(set("SET TIMEZONE = '+07:00'"), pair("-07:00", "+07:00"));
    assert_eq!(set("SET TIMEZONE = '-03:00'"), pair("+03:00", "-03:00"));
    assert_eq!(set("SET TIME ZONE 'UTC+3'"), pair("-03:00", "UTC+3"));
    assert_eq!(set("SET TIME ZONE 'GMT-2'"), pair("+02:00", "GMT-2"));
    assert_eq!(set("SET TIME ZONE '+05:30'"), pair("-05:30", "+05:30"));
}

#[test]
fn names_are_iana_zones_in_any_case() {
    assert_eq!(
        set("SET timezone TO 'america/new_york'"),
        pair("America/New_York", "America/New_York")
    );
    assert_eq!(set("SET TIME ZONE 'EST'"), pair("EST", "EST"));
    assert_eq!(set("SET TIME ZONE 'PST8PDT'"), pair("PST8PDT", "PST8PDT"));
    assert_eq!(set("SET TIME ZONE 'utc'"), pair("UTC", "UTC"));
    // Names of UTC itself compute as UTC.
    assert_eq!(set("SET TIME ZONE 'gmt'"), pair("UTC", "GMT"));
    assert_eq!(set("SET TIME ZONE 'Etc/UTC'"), pair("UTC", "Etc/UTC"));
}

#[test]
fn default_local_and_reset_go_back_to_utc() {
    for sql in [
        "RESET timezone",
        "SET TIME ZONE DEFAULT",
        "SET TIME ZONE LOCAL",
        "SET timezone TO DEFAULT",
    ] {
        assert_eq!(change(sql).unwrap(), ZoneChange::Reset, "{sql}");
    }
    assert!(zone_statement(&statement("SET search_path TO public")).is_none());
    assert!(zone_statement(&statement("RESET search_path")).is_none());
}

#[test]
fn what_names_no_zone_is_22023() {
    for sql in [
        "SET TIME ZONE 'PST'",
        "SET TIME ZONE 'Z'",
        "SET TIME ZONE 'nonsense'",
        "SET TIME ZONE 'local'",
        "SET TIME ZONE 99",
        "SET TIME ZONE INTERVAL '600000' HOUR",
    ] {
        let err = change(sql).unwrap_err();
        assert_eq!(err.status(), Status::InvalidParameterValue, "{sql}");
        assert!(
            err.to_string()
                .contains("invalid value for parameter \"TimeZone\""),
            "{sql}: {err}"
        );
    }
    let err = change("SET LOCAL TIME ZONE 'UTC'").unwrap_err();
    assert_eq!(err.status(), Status::FeatureNotSupported);
}

#[test]
fn outside_a_session_the_zone_is_utc() {
    assert!(current().is_utc());
}

#[tokio::test]
async fn a_session_scope_carries_its_zone() {
    let zone = SessionZone::parse("Asia/Kolkata").unwrap();
    let seen = scope(zone.clone(), async { current() }).await;
    assert_eq!(seen, zone);
}
