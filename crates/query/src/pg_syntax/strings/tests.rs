use super::*;

fn rewritten(sql: &str) -> Result<String, QueryError> {
    let mut stmt = crate::syntax::sql_statement(sql).unwrap();
    substring_forms(&mut stmt)?;
    Ok(stmt.to_string())
}

#[test]
fn a_string_after_from_is_a_pattern() {
    assert_eq!(
        rewritten("SELECT substring(s FROM 'p(h.)') FROM t").unwrap(),
        "SELECT substring_regex(s, 'p(h.)') FROM t"
    );
    assert_eq!(
        rewritten("SELECT substring(s, 'a.') FROM t").unwrap(),
        "SELECT substring_regex(s, 'a.') FROM t"
    );
}

#[test]
fn strings_as_positions_are_integers() {
    assert_eq!(
        rewritten("SELECT substring(s FROM 3 FOR '2')").unwrap(),
        "SELECT SUBSTRING(s FROM 3 FOR CAST('2' AS INTEGER))"
    );
    assert_eq!(
        rewritten("SELECT substring(s FOR '2')").unwrap(),
        "SELECT SUBSTRING(s FOR CAST('2' AS INTEGER))"
    );
    assert_eq!(
        rewritten("SELECT substr(s, '3')").unwrap(),
        "SELECT SUBSTR(s, CAST('3' AS INTEGER))"
    );
}

#[test]
fn integers_are_left_alone() {
    assert_eq!(
        rewritten("SELECT substring(s FROM 3 FOR 2)").unwrap(),
        "SELECT SUBSTRING(s FROM 3 FOR 2)"
    );
}

#[test]
fn the_similar_form_is_refused() {
    let e = rewritten("SELECT substring(s FROM '%#\"o_a#\"_' FOR '#')").unwrap_err();
    assert!(e.to_string().contains("SIMILAR TO form"), "{e}");
}
