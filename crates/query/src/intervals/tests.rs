use super::*;

const HOUR: i64 = 3_600_000_000_000;

fn iv(months: i32, days: i32, nanos: i64) -> IntervalMonthDayNano {
    IntervalMonthDayNano::new(months, days, nanos)
}

// Each answer is PostgreSQL 15's.
#[test]
fn scaling_carries_fractions_of_months_and_days_down() {
    assert_eq!(
        scale(iv(0, 0, 1_000_000_000), 900.0, false).unwrap(),
        iv(0, 0, HOUR / 4)
    );
    assert_eq!(scale(iv(0, 1, 0), 21.0, false).unwrap(), iv(0, 21, 0));
    assert_eq!(
        scale(iv(0, 0, HOUR), 3.5, false).unwrap(),
        iv(0, 0, 7 * HOUR / 2)
    );
    assert_eq!(
        scale(iv(0, 0, HOUR), 1.5, true).unwrap(),
        iv(0, 0, 2 * HOUR / 3)
    );
    assert_eq!(scale(iv(1, 0, 0), 2.0, true).unwrap(), iv(0, 15, 0));
    // 1 year 1 month * 0.3 is 3 mons 27 days; 1 mon * 1.7 is 1 mon 21 days.
    assert_eq!(scale(iv(13, 0, 0), 0.3, false).unwrap(), iv(3, 27, 0));
    assert_eq!(scale(iv(1, 0, 0), 1.7, false).unwrap(), iv(1, 21, 0));
    // -1 day 3 hours * 2.25 is -2 days +00:45:00.
    assert_eq!(
        scale(iv(0, -1, 3 * HOUR), 2.25, false).unwrap(),
        iv(0, -2, 3 * HOUR / 4)
    );
}

#[test]
fn dividing_by_zero_and_leaving_the_range_are_errors() {
    let e = scale(iv(0, 0, HOUR), 0.0, true).unwrap_err().to_string();
    assert!(e.contains("Divide by zero"), "{e}");
    let e = scale(iv(i32::MAX, 0, 0), 2.0, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("interval out of range"), "{e}");
}

#[test]
fn named_make_interval_arguments_are_placed() {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;
    let mut stmt = Parser::parse_sql(
        &PostgreSqlDialect {},
        "SELECT make_interval(days => 10), make_interval(hours => 1, secs => 1.25)",
    )
    .unwrap()
    .remove(0);
    place_named_arguments(&mut stmt);
    assert_eq!(
        stmt.to_string(),
        "SELECT make_interval(0, 0, 0, 10), make_interval(0, 0, 0, 0, 1, 0, 1.25)"
    );
}
