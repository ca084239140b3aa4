use super::*;

fn iv(months: i32, days: i32, nanos: i64) -> IntervalMonthDayNano {
    IntervalMonthDayNano::new(months, days, nanos)
}

#[test]
fn values_are_written_in_iso_8601_with_a_sign_on_each_part() {
    assert_eq!(format(iv(0, 0, 0)), "PT0S");
    assert_eq!(format(iv(14, 3, 0)), "P1Y2M3D");
    assert_eq!(format(iv(-1, 5, 0)), "P-1M5D");
    assert_eq!(format(iv(0, 0, -(90 * NANOS_PER_MINUTE))), "PT-1H-30M");
    assert_eq!(
        format(iv(0, 1, 6 * NANOS_PER_SECOND + 500_000_000)),
        "P1DT6.5S"
    );
    assert_eq!(format(iv(0, 0, 1)), "PT0.000000001S");
}

#[test]
fn every_value_reads_back_exactly() {
    let edges = [i32::MIN, -13, -1, 0, 1, 11, 12, i32::MAX];
    let nanos = [
        i64::MIN,
        -NANOS_PER_HOUR - 1,
        -1,
        0,
        1,
        NANOS_PER_HOUR * 25 + 7,
        i64::MAX,
    ];
    for &months in &edges {
        for &days in &edges {
            for &n in &nanos {
                let value = iv(months, days, n);
                assert_eq!(parse(&format(value)), Some(value), "{}", format(value));
            }
        }
    }
}

#[test]
fn other_text_is_not_a_stored_interval() {
    for bad in [
        "",
        "P",
        "PT",
        "1 day",
        "P1",
        "P1X",
        "P1D1D",
        "PT1.1234567891S",
        "P1.5D",
        "PT--1H",
    ] {
        assert_eq!(parse(bad), None, "{bad:?}");
    }
}
