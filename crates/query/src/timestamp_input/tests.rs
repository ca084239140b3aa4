use super::*;

// PostgreSQL 15 reads each of these as `2021-01-01 00:00:00` (or the
// same wall-clock time) when cast to `timestamp`.
#[test]
fn zones_after_the_time_are_dropped() {
    for (text, read) in [
        ("2021-01-01T00:00:00+02:00", "2021-01-01T00:00:00"),
        ("2021-01-01 00:00:00 EST", "2021-01-01 00:00:00"),
        ("2021-01-01T00:00:00Z", "2021-01-01T00:00:00"),
        ("2021-01-01 00:00:00.5-05", "2021-01-01 00:00:00.5"),
        (
            "2021-01-01 00:00:00 America/New_York",
            "2021-01-01 00:00:00",
        ),
        ("2021-01-01 00:00:00", "2021-01-01 00:00:00"),
        ("2021-01-01", "2021-01-01"),
        ("2021-01-01 00:00:00 BC", "2021-01-01 00:00:00 BC"),
    ] {
        assert_eq!(without_zone(text), read, "{text}");
    }
}

// PostgreSQL 15 reads a time of day without seconds as zero seconds.
#[test]
fn a_time_without_seconds_has_zero_seconds() {
    for (text, read) in [
        ("2000-03-12 00:00", "2000-03-12 00:00:00"),
        ("2000-03-01 05:00Z", "2000-03-01 05:00:00Z"),
        ("2000-03-01 05:00+02", "2000-03-01 05:00:00+02"),
        ("2000-03-01 05:00 EST", "2000-03-01 05:00:00 EST"),
        ("2000-03-01 05:00:07", "2000-03-01 05:00:07"),
        ("2000-03-01 05:00:07.5+02:00", "2000-03-01 05:00:07.5+02:00"),
        ("2000-03-01", "2000-03-01"),
    ] {
        assert_eq!(with_seconds(text), read, "{text}");
    }
}

// PostgreSQL 15 reads each of these zones at the time written (the
// conformance corpus's records; Los Angeles skips 02:00 that day and
// PostgreSQL takes the offset before the change).
#[test]
fn a_zone_written_by_name_is_its_offset_there() {
    for (text, read) in [
        ("2023-03-12 02:00:00 EDT", "2023-03-12 02:00:00-04:00"),
        ("2022-01-01 01:10:00 AEST", "2022-01-01 01:10:00+10:00"),
        ("2022-01-01 01:10:00 GMT-1", "2022-01-01 01:10:00+01:00"),
        (
            "2023-03-12 02:00:00 America/Los_Angeles",
            "2023-03-12 02:00:00-08:00",
        ),
        (
            "2023-07-01 12:00:00 america/new_york",
            "2023-07-01 12:00:00-04:00",
        ),
        ("2021-01-01 00:00:00+02", "2021-01-01 00:00:00+02"),
        ("2021-01-01 00:00:00 BC", "2021-01-01 00:00:00 BC"),
        ("2021-01-01 00:00:00 Nowhere", "2021-01-01 00:00:00 Nowhere"),
    ] {
        assert_eq!(zone_as_offset(text), read, "{text}");
    }
}

#[test]
fn rfc_2822_dates_are_read() {
    assert_eq!(
        super::rfc_2822("Sat, 1 Jan 2022 01:10:00 GMT", true).as_deref(),
        Some("2022-01-01T01:10:00+00:00")
    );
    assert_eq!(
        super::rfc_2822("Tue, 15 Nov 1994 08:12:31 +0200", false).as_deref(),
        Some("1994-11-15T08:12:31")
    );
    assert_eq!(super::rfc_2822("2022-01-01 01:10:00", true), None);
}
