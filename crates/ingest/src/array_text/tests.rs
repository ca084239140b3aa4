use super::{LiteralError, parse_literal};

fn some(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|v| Some(v.to_string())).collect()
}

#[test]
fn reads_postgres_array_text() {
    assert_eq!(parse_literal("{1,2,3}").unwrap(), some(&["1", "2", "3"]));
    assert_eq!(parse_literal(" { 1 , 2 } ").unwrap(), some(&["1", "2"]));
    assert_eq!(parse_literal("{}").unwrap(), Vec::<Option<String>>::new());
    assert_eq!(parse_literal("{ }").unwrap(), Vec::<Option<String>>::new());
    assert_eq!(
        parse_literal(r#"{"a b","c\"d",e\,f,"NULL",NULL,null}"#).unwrap(),
        vec![
            Some("a b".into()),
            Some("c\"d".into()),
            Some("e,f".into()),
            Some("NULL".into()),
            None,
            None
        ]
    );
    assert_eq!(parse_literal(r#"{"",x y}"#).unwrap(), some(&["", "x y"]));
    assert_eq!(parse_literal(r"{N\ULL}").unwrap(), some(&["NULL"]));
}

#[test]
fn refuses_what_postgres_refuses() {
    for bad in [
        "5",
        "abc",
        "{1,2",
        "{1,,2}",
        "{,}",
        "{1}x",
        r#"{"a"b}"#,
        r#"{a"b"}"#,
        "{a{b}",
    ] {
        assert!(
            matches!(parse_literal(bad), Err(LiteralError::Malformed(_))),
            "{bad}: {:?}",
            parse_literal(bad)
        );
    }
}

#[test]
fn refuses_more_than_one_dimension() {
    assert!(matches!(
        parse_literal("{{1,2},{3,4}}"),
        Err(LiteralError::Unsupported(_))
    ));
    assert!(matches!(
        parse_literal("[1:2]={1,2}"),
        Err(LiteralError::Unsupported(_))
    ));
}
