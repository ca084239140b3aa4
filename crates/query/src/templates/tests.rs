use super::*;

fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
}

fn written(template: &str, s: &str, zoned: bool) -> String {
    let zone = zoned.then(|| MomentZone {
        east: 0,
        abbreviation: "UTC".into(),
    });
    write(&pieces(template), &Moment { at: at(s), zone })
}

// Every expected text below is PostgreSQL 15's.
#[test]
fn writes_dates_as_postgresql() {
    assert_eq!(
        written(
            "YYYY YYY YY Y Y,YYY IYYY MM MON Mon mon MONTH Month month|",
            "2000-02-03 04:05:06.789",
            false
        ),
        "2000 000 00 0 2,000 2000 02 FEB Feb feb FEBRUARY  February  february |"
    );
    assert_eq!(
        written(
            "DD DDD D ID DAY Day day DY Dy dy W WW IW CC J Q RM rm",
            "2000-02-03 04:05:06.789",
            false
        ),
        "03 034 5 4 THURSDAY  Thursday  thursday  THU Thu thu 1 05 05 20 2451578 1 II   ii  "
    );
    assert_eq!(
        written("Day, DD Month YYYY", "2020-09-01 00:00:00", false),
        "Tuesday  , 01 September 2020"
    );
}

#[test]
fn writes_times_modifiers_and_text_as_postgresql() {
    assert_eq!(
        written(
            "HH HH12 HH24 MI SS MS US FF1 FF3 SSSS AM am PM A.M. p.m. AD BC a.d. TZ OF FMMonth \
             FMDD DDth DDTH FMDDth \"quoted YYYY\" \\YYYY",
            "2000-02-03 14:05:06.789",
            false
        ),
        "02 02 14 05 06 789 789000 7 789 50706 PM pm PM P.M. p.m. AD AD a.d.  +00 February 3 \
         03rd 03RD 3rd quoted YYYY \\2000"
    );
    assert_eq!(
        written("TZ tz TZH:TZM OF", "2000-02-03 14:05:06", true),
        "UTC utc +00:00 +00"
    );
}

#[test]
fn strftime_letters_are_text_and_template_letters_as_postgresql() {
    // PostgreSQL: to_char('2000-02-03'::date, '%Y:%d:%m') is '%0:%5:%m'.
    assert_eq!(
        written("%Y:%d:%m", "2000-02-03 00:00:00", false),
        "%0:%5:%m"
    );
    assert_eq!(
        written("%Y-%m-%d %H:%M:%S.%3f", "2020-01-01 00:10:20.123", false),
        "%0-%m-%4 %H:%M:%S.%3f"
    );
}

#[test]
fn writes_years_before_1_as_bc() {
    // 0044-03-15 minus 100 years is 57 BC (year -56).
    assert_eq!(
        written("YYYY BC CC", "-0056-03-15 00:00:00", false),
        "0057 BC -01"
    );
}
