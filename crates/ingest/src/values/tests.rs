use super::*;

#[test]
fn every_unparseable_value_is_found() {
    let text = StringArray::from(vec![Some("1"), Some("x"), None, Some(" 4 "), Some("1e3")]);
    let (typed, bad) = parse_column(&DataType::Int64, &text);
    assert_eq!(bad, vec![1, 4]);
    assert_eq!(typed.null_count(), 3);
}

#[test]
fn booleans_uuids_and_bytea_use_postgres_forms() {
    let (_, bad) = parse_column(
        &DataType::Boolean,
        &StringArray::from(vec!["on", "f", "maybe"]),
    );
    assert_eq!(bad, vec![2]);
    let (_, bad) = parse_column(
        &DataType::FixedSizeBinary(16),
        &StringArray::from(vec!["{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", "nope"]),
    );
    assert_eq!(bad, vec![1]);
    assert_eq!(parse_bytea("\\x0aff"), Some(vec![0x0a, 0xff]));
    assert_eq!(parse_bytea("\\x0"), None);
}
