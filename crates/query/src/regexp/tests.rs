use super::*;

fn replaced(text: &str, pattern: &str, replacement: &str, flags: &str) -> String {
    let (re, global) = compile(pattern, flags).unwrap();
    replace(text, &re, replacement, global)
}

// Every expected answer below is PostgreSQL 15's.
#[test]
fn replacement_escapes_are_postgresql_s() {
    assert_eq!(replaced("foobarbaz", "b(..)", "X\\1Y", "g"), "fooXarYXazY");
    assert_eq!(
        replaced("foobarbaz", "b(..)", "X\\1Y\\&Z\\\\", ""),
        "fooXarYbarZ\\baz"
    );
    // `\\1` is a backslash and a 1; `$1` is text; `\0` is text.
    assert_eq!(
        replaced("foobarbaz", "b(..)", "X\\\\1Y", "g"),
        "fooX\\1YX\\1Y"
    );
    assert_eq!(replaced("a$b", "\\$", "$1", ""), "a$1b");
    assert_eq!(replaced("abab", "b", "\\0", "g"), "a\\0a\\0");
}

#[test]
fn dot_matches_a_newline_unless_newline_sensitive() {
    assert_eq!(replaced("a\nb", "a.b", "X", ""), "X");
    assert_eq!(replaced("a\nb", "a.b", "X", "n"), "a\nb");
    assert_eq!(
        replaced("http://x/\nrest", "^https?://([^/]+)/.*$", "\\1", ""),
        "x"
    );
}

#[test]
fn flags_are_postgresql_s() {
    assert_eq!(replaced("ABC", "b", "x", "i"), "AxC");
    assert_eq!(replaced("abab", "b", "x", ""), "axab");
    assert_eq!(replaced("a.b", ".", "x", "gq"), "axb");
    let err = compile("a", "z").unwrap_err().to_string();
    assert!(
        err.contains("invalid regular expression option: \"z\""),
        "{err}"
    );
    let err = compile("(a)\\1", "").unwrap_err().to_string();
    assert!(err.contains("invalid regular expression"), "{err}");
}

#[test]
fn match_operators_get_the_dot_newline_flag_once() {
    use datafusion::prelude::{col, lit};
    let e = Expr::BinaryExpr(BinaryExpr::new(
        Box::new(col("s")),
        Operator::RegexMatch,
        Box::new(lit("a.b")),
    ));
    let once = PgRegexOperators::rewrite(&e).unwrap();
    assert_eq!(once.to_string(), "s ~ Utf8(\"(?s)a.b\")");
    assert!(PgRegexOperators::rewrite(&once).is_none());
    let like = col("s").like(lit("a%"));
    assert!(PgRegexOperators::rewrite(&like).is_none());
}
