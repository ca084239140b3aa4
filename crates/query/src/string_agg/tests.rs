use super::*;

fn texts(values: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

fn joined(acc: &mut PairAccumulator) -> Option<String> {
    match acc.evaluate().unwrap() {
        ScalarValue::Utf8(text) => text,
        other => panic!("string_agg answered {other:?}"),
    }
}

fn accumulator(distinct: bool) -> PairAccumulator {
    PairAccumulator {
        pairs: Vec::new(),
        distinct,
    }
}

#[test]
fn each_value_after_the_first_takes_its_own_rows_delimiter() {
    let mut acc = accumulator(false);
    acc.update_batch(&[
        texts(&[Some("a"), Some("b"), None, Some("c"), Some("d")]),
        texts(&[Some("/"), Some("-"), Some("+"), None, Some("+")]),
    ])
    .unwrap();
    // The NULL value is skipped with its delimiter; a NULL delimiter adds
    // nothing; the first value's delimiter is dropped.
    assert_eq!(joined(&mut acc).as_deref(), Some("a-bc+d"));
}

#[test]
fn distinct_joins_the_sorted_distinct_pairs() {
    let mut acc = accumulator(true);
    acc.update_batch(&[
        texts(&[Some("b"), Some("a"), Some("b"), Some("a"), Some("b")]),
        texts(&[Some("-"), Some("/"), Some("-"), Some("+"), None]),
    ])
    .unwrap();
    // (a,+) (a,/) (b,-) (b,NULL): NULL delimiters sort last.
    assert_eq!(joined(&mut acc).as_deref(), Some("a/a-bb"));
}

#[test]
fn no_values_is_null() {
    let mut acc = accumulator(true);
    acc.update_batch(&[texts(&[None]), texts(&[Some(",")])])
        .unwrap();
    assert_eq!(joined(&mut acc), None);
}

#[test]
fn partial_states_merge() {
    let mut first = accumulator(false);
    first
        .update_batch(&[texts(&[Some("x")]), texts(&[Some(",")])])
        .unwrap();
    let mut second = accumulator(false);
    second
        .update_batch(&[texts(&[Some("y"), Some("z")]), texts(&[Some(";"), None])])
        .unwrap();
    let mut last = accumulator(false);
    for mut partial in [first, second] {
        let states: Vec<ArrayRef> = partial
            .state()
            .unwrap()
            .into_iter()
            .map(|s| s.to_array().unwrap())
            .collect();
        last.merge_batch(&states).unwrap();
    }
    assert_eq!(joined(&mut last).as_deref(), Some("x;yz"));
}
