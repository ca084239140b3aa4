use super::{divide, pg_division_scale, quotient_scale};

/// `a / b` written at `scale`, as text with the point put back.
fn div(a: i128, a_scale: i8, b: i128, b_scale: i8, scale: i8) -> String {
    let v = divide(a, a_scale, b, b_scale, scale).unwrap();
    let digits = format!("{:0>width$}", v.unsigned_abs(), width = scale as usize + 1);
    let (whole, fraction) = digits.split_at(digits.len() - scale as usize);
    format!("{}{whole}.{fraction}", if v < 0 { "-" } else { "" })
}

#[test]
fn scales_as_postgresql_selects_them() {
    // 2.0 / 3, 10.0 / 3, 100 / 7, 1 / 30000.0, 0 / 7
    assert_eq!(pg_division_scale(20, 1, 3, 0), 20);
    assert_eq!(pg_division_scale(100, 1, 3, 0), 16);
    assert_eq!(pg_division_scale(100, 0, 7, 0), 16);
    assert_eq!(pg_division_scale(1, 0, 300000, 1), 24);
    assert_eq!(pg_division_scale(0, 0, 7, 0), 20);
    // 123456789 / 3: a quotient of weight 1 keeps 12 digits.
    assert_eq!(pg_division_scale(123456789, 0, 3, 0), 12);
}

#[test]
fn rounds_half_away_from_zero_where_postgresql_does() {
    assert_eq!(div(20, 1, 3, 0, 20), "0.66666666666666666667");
    assert_eq!(div(-20, 1, 3, 0, 20), "-0.66666666666666666667");
    assert_eq!(div(100, 1, 3, 0, 20), "3.33333333333333330000");
    assert_eq!(div(100, 0, 7, 0, 20), "14.28571428571428570000");
    assert_eq!(div(1, 0, 8, 0, 20), "0.12500000000000000000");
    // A quotient PostgreSQL gives 24 digits is rounded to the type's 20.
    assert_eq!(div(1, 0, 300000, 1, 20), "0.00003333333333333333");
}

#[test]
fn division_by_zero_and_overflow_are_errors() {
    assert!(matches!(
        divide(1, 0, 0, 0, 20),
        Err(arrow::error::ArrowError::DivideByZero)
    ));
    assert!(matches!(
        divide(i128::MAX / 10, 0, 1, 2, 20),
        Err(arrow::error::ArrowError::ArithmeticOverflow(_))
    ));
}

#[test]
fn the_type_keeps_twenty_digits_where_the_integer_part_leaves_room() {
    assert_eq!(quotient_scale((2, 1), (19, 0)), 20);
    assert_eq!(quotient_scale((38, 2), (19, 0)), 16);
    assert_eq!(quotient_scale((38, 30), (38, 30)), 30);
}
