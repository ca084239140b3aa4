use super::digits_of;

#[test]
fn a_literal_keeps_its_own_digits() {
    assert_eq!(digits_of("0.000000000001"), Some((12, 12)));
    assert_eq!(digits_of("-12.50"), Some((4, 2)));
    assert_eq!(digits_of(" 7 "), Some((1, 0)));
    assert_eq!(digits_of("0"), Some((1, 0)));
    assert_eq!(digits_of(".5"), Some((1, 1)));
}

#[test]
fn what_is_not_a_plain_decimal_is_left_alone() {
    assert_eq!(digits_of("1e5"), None);
    assert_eq!(digits_of("NaN"), None);
    assert_eq!(digits_of("."), None);
    assert_eq!(digits_of(&"9".repeat(39)), None);
}
