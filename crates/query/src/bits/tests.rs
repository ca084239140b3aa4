use arrow::array::LargeStringArray;

use super::{bits_to_integer, check_digits, literal_digits};

#[test]
fn hex_digits_are_four_bits_each() {
    assert_eq!(literal_digits("1F", true).as_deref(), Some("00011111"));
    assert_eq!(literal_digits("abc", true).as_deref(), Some("101010111100"));
    assert_eq!(literal_digits("", true).as_deref(), Some(""));
    assert_eq!(literal_digits("1G", true), None);
}

#[test]
fn binary_literals_keep_their_digits() {
    assert_eq!(literal_digits("0101", false).as_deref(), Some("0101"));
    assert_eq!(literal_digits("012", false), None);
}

#[test]
fn only_binary_digits_are_bits() {
    assert!(check_digits(&LargeStringArray::from(vec![Some("0101"), None, Some("")])).is_ok());
    let e = check_digits(&LargeStringArray::from(vec!["01", "0x1"])).unwrap_err();
    assert!(e.to_string().contains("\"0x1\""), "{e}");
}

#[test]
fn bits_cast_to_integers_as_two_s_complement_of_the_width() {
    assert_eq!(bits_to_integer("00011111", 32), Some(31));
    assert_eq!(bits_to_integer(&"1".repeat(32), 32), Some(-1));
    assert_eq!(bits_to_integer(&"1".repeat(32), 64), Some(4294967295));
    assert_eq!(bits_to_integer(&"1".repeat(64), 64), Some(-1));
    assert_eq!(bits_to_integer(&"0".repeat(33), 32), None);
    assert_eq!(bits_to_integer("", 32), Some(0));
}
