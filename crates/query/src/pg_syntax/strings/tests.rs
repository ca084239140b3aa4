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
fn the_similar_forms_read_the_pattern_as_postgresql_does() {
    assert_eq!(
        rewritten("SELECT substring(s FROM '%#\"o_a#\"_' FOR '#')").unwrap(),
        "SELECT substring_regex(s, similar_to_escape('%#\"o_a#\"_', '#'))"
    );
    assert_eq!(
        rewritten("SELECT s SIMILAR TO 'a%', s NOT SIMILAR TO 'a#%' ESCAPE '#' FROM t").unwrap(),
        "SELECT s ~ similar_to_escape('a%'), s !~ similar_to_escape('a#%', '#') FROM t"
    );
}
