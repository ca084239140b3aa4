use super::*;

/// The wall-clock time `template` reads from `input`, as text.
fn read_at(template: &str, input: &str) -> String {
    let r = read(&Template::parse(template), input).unwrap();
    let mut micros = r.wall_micros();
    if let Some(east) = r.offset_east {
        micros -= east as i64 * 1_000_000;
    }
    let t = chrono::DateTime::from_timestamp_micros(micros).unwrap();
    t.naive_utc().format("%Y-%m-%d %H:%M:%S%.f").to_string()
}

fn error(template: &str, input: &str) -> String {
    read(&Template::parse(template), input)
        .unwrap_err()
        .to_string()
}

// Every expected value below is PostgreSQL 15's.
#[test]
fn reads_templates_as_postgresql() {
    assert_eq!(read_at("YYYY-MM-DD", "2022-01-23"), "2022-01-23 00:00:00");
    assert_eq!(read_at("DD Mon YYYY", "23 Jan 2022"), "2022-01-23 00:00:00");
    assert_eq!(
        read_at("YYYY-MM-DD HH:MI:SS AM", "2020-09-08 01:42:29 PM"),
        "2020-09-08 13:42:29"
    );
    assert_eq!(read_at("YYYYMMDD", "20200908"), "2020-09-08 00:00:00");
    assert_eq!(
        read_at("YYYY-MM-DD HH24:MI:SS.MS", "2020-09-08 13:42:29.5"),
        "2020-09-08 13:42:29.500"
    );
    assert_eq!(read_at("YYYY-MM-DD", "  2022-1-5"), "2022-01-05 00:00:00");
    assert_eq!(
        read_at("YYYY-MM-DD HH24:MI:SS TZH", "2020-09-08 13:42:29 +05"),
        "2020-09-08 08:42:29"
    );
    assert_eq!(read_at("YY-MM-DD", "69-01-01"), "2069-01-01 00:00:00");
    assert_eq!(read_at("YY-MM-DD", "70-01-01"), "1970-01-01 00:00:00");
    assert_eq!(read_at("CC YY", "21 05"), "2005-01-01 00:00:00");
    assert_eq!(read_at("YYYY DDD", "2024 060"), "2024-02-29 00:00:00");
    assert_eq!(read_at("IYYY IW ID", "2020 01 1"), "2019-12-30 00:00:00");
    assert_eq!(read_at("J", "2459000"), "2020-05-30 00:00:00");
    // Reading stops where the text ends.
    assert_eq!(read_at("YYYYMMDD", "2022"), "2022-01-01 00:00:00");
    assert_eq!(read_at("YYYY RM", "2020 xii"), "2020-12-01 00:00:00");
    assert_eq!(read_at("SSSS", "3661"), "0000-01-01 01:01:01");
}

#[test]
fn reads_strftime_patterns_as_postgresql() {
    // `%` and `-` are separators, `Y` a year reading every digit, `m` a
    // text character and `d` the day of the week.
    assert_eq!(read_at("%Y-%m-%d", "2022-01-23"), "2022-01-01 00:00:00");
    assert_eq!(
        read_at("%Y-%m-%d %H:%M:%S", "2020-09-08 13:42:29"),
        "2020-01-01 00:00:00"
    );
    let r = read(&Template::parse("%q"), "2020-09-08 12/00/00+00:00").unwrap();
    assert_eq!((r.year, r.month, r.day), (0, 1, 1));
}

#[test]
fn keywords_keep_their_case() {
    // `Yyyy` is `Y` then `yyy`, not `YYYY`; `mM` is two text characters.
    let names: Vec<&str> = parse("Yyyy").iter().map(Node::name).collect();
    assert_eq!(names, ["Y", "yyy"]);
    assert!(matches!(
        parse("mM").as_slice(),
        [Node::Char('m'), Node::Char('M')]
    ));
    assert_eq!(
        error("yyyy", "x").to_string(),
        "invalid value \"x\" for \"yyyy\""
    );
}

#[test]
fn bad_text_is_an_error_naming_the_field() {
    assert!(error("YYYY-MM-DD", "20x2-01-23").contains("invalid value"));
    assert!(error("YYYY-MM-DD", "2022-02-30").contains("out of range"));
    assert!(error("YYYYMMDD", "20221").contains("source string too short for \"MM\""));
    assert!(error("HH12", "13").contains("12-hour clock"));
    assert!(error("YYYY IW", "2020 01").contains("invalid combination"));
    assert!(error("YYYY YYYY", "2020 2021").contains("conflicting values for \"YYYY\""));
    assert!(error("Mon", "Foo").contains("invalid value \"Foo\" for \"Mon\""));
}

#[test]
fn fractions_round_to_their_precision() {
    assert_eq!(round_micros(1_234_567, 3), 1_235_000);
    assert_eq!(round_micros(1_234_499, 3), 1_234_000);
}
