use chrono::{NaiveDateTime, Offset, TimeZone};

use super::*;

fn east_seconds(zone: &str) -> i32 {
    let tz = pg_zone(zone).unwrap();
    let instant = DateTime::from_timestamp(946_684_800, 0)
        .unwrap()
        .naive_utc();
    tz.offset_from_utc_datetime(&instant)
        .fix()
        .local_minus_utc()
}

#[test]
fn offsets_written_alone_are_posix_west_of_greenwich() {
    assert_eq!(east_seconds("+07"), -7 * 3600);
    assert_eq!(east_seconds("-03:30"), 3 * 3600 + 1800);
    assert_eq!(east_seconds("UTC+7"), -7 * 3600);
    assert_eq!(east_seconds("gmt-2"), 2 * 3600);
    assert_eq!(east_seconds("5"), -5 * 3600);
}

#[test]
fn zone_names_are_read_in_any_case() {
    assert_eq!(east_seconds("UTC"), 0);
    assert_eq!(east_seconds("z"), 0);
    assert_eq!(east_seconds("Asia/Kolkata"), 5 * 3600 + 1800);
    assert_eq!(east_seconds("america/new_york"), -5 * 3600);
    assert_eq!(east_seconds("EST"), -5 * 3600);
    let err = pg_zone("Mars/Olympus").unwrap_err().to_string();
    assert!(
        err.contains("time zone \"Mars/Olympus\" not recognized"),
        "{err}"
    );
    assert_eq!(east_seconds("+16"), -16 * 3600);
}

#[test]
fn a_duration_is_days_and_a_time_of_day_with_its_sign() {
    let hours = |h: i128| h * 3_600_000_000_000;
    assert_eq!(
        days_and_time(hours(63 * 24 + 15)).unwrap(),
        IntervalMonthDayNano::new(0, 63, 15 * 3_600_000_000_000)
    );
    assert_eq!(
        days_and_time(-hours(25)).unwrap(),
        IntervalMonthDayNano::new(0, -1, -3_600_000_000_000)
    );
    assert!(days_and_time(i128::MAX / 2).is_err());
}

#[test]
fn wall_clock_times_in_a_gap_or_an_overlap_resolve_as_postgresql() {
    let tz = pg_zone("Europe/Brussels").unwrap();
    let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
    let utc = |nanos: i64| DateTime::from_timestamp_nanos(nanos).naive_utc();
    // 02:30 does not exist on 2024-03-31: read with the winter offset.
    assert_eq!(
        utc(from_wall_clock(&tz, at("2024-03-31 02:30:00")).unwrap()),
        at("2024-03-31 01:30:00")
    );
    // 02:30 happens twice on 2024-10-27: the first.
    assert_eq!(
        utc(from_wall_clock(&tz, at("2024-10-27 02:30:00")).unwrap()),
        at("2024-10-27 00:30:00")
    );
    let nanos = at("2024-03-30 00:00:20")
        .and_utc()
        .timestamp_nanos_opt()
        .unwrap();
    assert_eq!(utc(to_wall_clock(&tz, nanos)), at("2024-03-30 01:00:20"));
}

#[test]
fn intervals_compare_with_30_day_months_and_24_hour_days() {
    let a: ArrayRef = Arc::new(IntervalMonthDayNanoArray::from(vec![
        IntervalMonthDayNano::new(1, 0, 0),
        IntervalMonthDayNano::new(0, 30, 0),
        IntervalMonthDayNano::new(0, 1, 0),
        IntervalMonthDayNano::new(0, 0, 25 * 3_600_000_000_000),
    ]));
    let keys = nanoseconds(&a).unwrap();
    assert_eq!(keys.value(0), keys.value(1));
    assert!(keys.value(3) > keys.value(2));
}
