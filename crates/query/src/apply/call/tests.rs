use super::*;

fn rows(values: &[i64], has_null: bool) -> Rows {
    let mut rows = Rows::default();
    for v in values {
        rows.add(ScalarValue::Int64(Some(*v)));
    }
    if has_null {
        rows.add(ScalarValue::Int64(None));
    }
    rows
}

fn int(v: i64) -> ScalarValue {
    ScalarValue::Int64(Some(v))
}

#[test]
fn in_follows_three_valued_logic() {
    let null = ScalarValue::Int64(None);
    assert_eq!(
        any(Operator::Eq, &int(1), &rows(&[1, 2], false)),
        Some(true)
    );
    assert_eq!(
        any(Operator::Eq, &int(9), &rows(&[1, 2], false)),
        Some(false)
    );
    assert_eq!(any(Operator::Eq, &int(9), &rows(&[1, 2], true)), None);
    assert_eq!(any(Operator::Eq, &int(1), &rows(&[1, 2], true)), Some(true));
    assert_eq!(any(Operator::Eq, &null, &rows(&[1, 2], false)), None);
    // Over no rows, IN is false and NOT IN true, whatever the probe.
    assert_eq!(any(Operator::Eq, &null, &rows(&[], false)), Some(false));
    assert_eq!(all(Operator::NotEq, &null, &rows(&[], false)), Some(true));
    assert_eq!(any(Operator::Eq, &int(9), &rows(&[], true)), None);
    // NOT IN: a NULL row makes a missing value unknown.
    assert_eq!(all(Operator::NotEq, &int(9), &rows(&[1], true)), None);
    assert_eq!(
        all(Operator::NotEq, &int(1), &rows(&[1], true)),
        Some(false)
    );
}

#[test]
fn any_and_all_compare_with_the_extremes() {
    let r = rows(&[3, 5, 7], false);
    assert_eq!(any(Operator::Lt, &int(6), &r), Some(true));
    assert_eq!(any(Operator::Lt, &int(7), &r), Some(false));
    assert_eq!(any(Operator::GtEq, &int(3), &r), Some(true));
    assert_eq!(all(Operator::Gt, &int(7), &r), Some(false));
    assert_eq!(all(Operator::Gt, &int(8), &r), Some(true));
    assert_eq!(all(Operator::LtEq, &int(3), &r), Some(true));
    assert_eq!(
        any(Operator::NotEq, &int(3), &rows(&[3], false)),
        Some(false)
    );
    assert_eq!(
        any(Operator::NotEq, &int(3), &rows(&[3, 4], false)),
        Some(true)
    );
    // A NULL row: ALL is unknown unless a comparison is false.
    assert_eq!(all(Operator::Gt, &int(8), &rows(&[3], true)), None);
    assert_eq!(all(Operator::Gt, &int(2), &rows(&[3], true)), Some(false));
}
