use super::*;

#[test]
fn copy_text_escapes_are_undone() {
    assert_eq!(unescape(br"a\tb\nc\\d"), "a\tb\nc\\d");
    assert_eq!(unescape(br"\x41\101"), "AA");
    assert_eq!(unescape(br"\\x0aff"), "\\x0aff");
}

#[test]
fn source_tables_become_iceberg_schemas_with_their_key() {
    let desc = TableDesc {
        schema: "public".into(),
        name: "payouts".into(),
        columns: vec![
            ("id".into(), crate::types::oid::INT8, -1, true),
            ("amount".into(), crate::types::oid::NUMERIC, ((12 << 16) | 2) + 4, false),
        ],
        estimate: 0,
    };
    let schema = iceberg_schema(&desc).unwrap();
    assert_eq!(schema.identifier_field_ids().collect::<Vec<_>>(), vec![1]);
    assert!(schema.field_by_name("id").unwrap().required);
    assert!(!schema.field_by_name("amount").unwrap().required);
}
