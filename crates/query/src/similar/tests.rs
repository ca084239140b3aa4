use super::*;
use floe_common::HasStatus;

fn re(pattern: &str, escape: Option<&str>) -> String {
    to_regex(pattern, escape).unwrap()
}

#[test]
fn wildcards_anchor_and_groups_follow_postgresql() {
    assert_eq!(re("a%", None), "^(?:a.*)$");
    assert_eq!(re("(a|b)_c", None), "^(?:(?:a|b).c)$");
    assert_eq!(re("a.b^$", None), "^(?:a\\.b\\^\\$)$");
    assert_eq!(re("[%_]x", None), "^(?:[%_]x)$");
    assert_eq!(re("[]a]%", None), "^(?:[]a].*)$");
    assert_eq!(re("[^]a]", None), "^(?:[^]a])$");
}

#[test]
fn escapes_and_separators() {
    assert_eq!(re("\\%a", None), "^(?:\\%a)$");
    assert_eq!(re("#%a", Some("#")), "^(?:\\%a)$");
    assert_eq!(re("a%", Some("")), "^(?:a.*)$");
    assert_eq!(
        re("%#\"o_b#\"%", Some("#")),
        "^(?:.*){1,1}?(o.b){1,1}(?:.*)$"
    );
    let e = to_regex("#\"a#\"b#\"c", Some("#")).unwrap_err();
    assert_eq!(e.status(), Status::InvalidRegularExpression);
    let e = to_regex("a", Some("##")).unwrap_err();
    assert_eq!(e.status(), Status::InvalidEscapeSequence);
}
