use super::*;

#[test]
fn doubles_are_written_as_postgresql_writes_them() {
    for (v, text) in [
        (12123457.0, "12123457"),
        (1.5, "1.5"),
        (0.1, "0.1"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1e14, "100000000000000"),
        (1e15, "1e+15"),
        (1.2123457e20, "1.2123457e+20"),
        (-2.5e-300, "-2.5e-300"),
        (1.0 / 3.0, "0.3333333333333333"),
        (f64::INFINITY, "Infinity"),
        (f64::NEG_INFINITY, "-Infinity"),
        (f64::NAN, "NaN"),
        (-0.0, "-0"),
        (0.0, "0"),
    ] {
        assert_eq!(float8(v), text, "{v:?}");
    }
}

#[test]
fn reals_switch_to_exponents_from_the_sixth_digit() {
    for (v, text) in [
        (123456.0_f32, "123456"),
        (1234567.0_f32, "1.234567e+06"),
        (0.1_f32, "0.1"),
        (3.5_f32, "3.5"),
        (f32::INFINITY, "Infinity"),
    ] {
        assert_eq!(float4(v), text, "{v:?}");
    }
}

#[test]
fn dates_and_timestamps_are_written_as_postgresql_writes_them() {
    assert_eq!(day(0).unwrap(), "1970-01-01");
    // make_date(10001, 1, 27) and a date before year 1.
    assert_eq!(day(2_933_289).unwrap(), "10001-01-27");
    assert_eq!(day(-719_528).unwrap(), "0001-01-01 BC");
    let utc = crate::zone::arrow_zone("UTC").unwrap();
    assert_eq!(timestamp(0, None).unwrap(), "1970-01-01 00:00:00");
    assert_eq!(
        timestamp(1_500_000, Some(&utc)).unwrap(),
        "1970-01-01 00:00:01.5+00"
    );
    assert_eq!(timestamp(-1, None).unwrap(), "1969-12-31 23:59:59.999999");
    assert_eq!(
        timestamp(-62_167_219_200_000_000 - 1, Some(&utc)).unwrap(),
        "0002-12-31 23:59:59.999999+00 BC"
    );
}

#[test]
fn times_round_nanoseconds_to_microseconds() {
    assert_eq!(
        clock(micros_of_nanos(29_350_123_456_789)),
        "08:09:10.123457"
    );
    assert_eq!(clock(micros_of_nanos(29_350_123_000_000)), "08:09:10.123");
    assert_eq!(clock(14_400_000_000), "04:00:00");
}

#[test]
fn intervals_are_written_as_postgresql_writes_them() {
    let hour = 3_600_000_000_000;
    assert_eq!(
        interval(IntervalMonthDayNano::new(0, 63, 15 * hour)),
        "63 days 15:00:00"
    );
    assert_eq!(
        interval(IntervalMonthDayNano::new(0, -1, -hour)),
        "-1 days -01:00:00"
    );
    assert_eq!(
        interval(IntervalMonthDayNano::new(14, 1, 0)),
        "1 year 2 mons 1 day"
    );
    assert_eq!(interval(IntervalMonthDayNano::new(0, 0, 0)), "00:00:00");
    assert_eq!(
        interval(IntervalMonthDayNano::new(0, 0, 1_500_000_000)),
        "00:00:01.5"
    );
    assert_eq!(interval(IntervalMonthDayNano::new(-1, 0, 0)), "-1 mons");
}

#[test]
fn a_positive_part_after_a_negative_one_has_a_plus() {
    let hour = 3_600_000_000_000;
    // PostgreSQL 15: '-1 mon 30 days', '-1 year 2 mons -3 days 4 hours',
    // '1 day -2 hours', '-1 day'.
    assert_eq!(
        interval(IntervalMonthDayNano::new(-1, 30, 0)),
        "-1 mons +30 days"
    );
    assert_eq!(
        interval(IntervalMonthDayNano::new(-10, -3, 4 * hour)),
        "-10 mons -3 days +04:00:00"
    );
    assert_eq!(
        interval(IntervalMonthDayNano::new(-12, 2, -hour)),
        "-1 years +2 days -01:00:00"
    );
    assert_eq!(
        interval(IntervalMonthDayNano::new(0, 1, -2 * hour)),
        "1 day -02:00:00"
    );
}

#[test]
fn timestamps_with_time_zone_are_written_in_the_session_zone() {
    // 2000-07-01 12:00:00 UTC.
    let noon = 962_452_800_000_000;
    let zone = |name: &str| crate::zone::arrow_zone(name).unwrap();
    assert_eq!(
        timestamp(noon, Some(&zone("America/New_York"))).unwrap(),
        "2000-07-01 08:00:00-04"
    );
    assert_eq!(
        timestamp(noon, Some(&zone("+05:30"))).unwrap(),
        "2000-07-01 17:30:00+05:30"
    );
    assert_eq!(
        timestamp(noon, Some(&zone("-07:00"))).unwrap(),
        "2000-07-01 05:00:00-07"
    );
    assert_eq!(offset(-(3 * 3600 + 1800)), "-03:30");
    assert_eq!(offset(1172), "+00:19:32");
}
