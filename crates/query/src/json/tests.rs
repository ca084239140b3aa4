use super::*;

#[test]
fn strings_are_escaped_as_json() {
    assert_eq!(json_string("a\"b\\c\n"), r#""a\"b\\c\n""#);
}
