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
            ColumnDesc {
                name: "id".into(),
                type_oid: crate::types::oid::INT8,
                type_mod: -1,
                key: true,
                attnum: 1,
            },
            ColumnDesc {
                name: "amount".into(),
                type_oid: crate::types::oid::NUMERIC,
                type_mod: ((12 << 16) | 2) + 4,
                key: false,
                attnum: 3,
            },
        ],
        estimate: 0,
    };
    let schema = iceberg_schema(&desc).unwrap();
    assert_eq!(schema.identifier_field_ids().collect::<Vec<_>>(), vec![1]);
    assert!(schema.field_by_name("id").unwrap().required);
    assert!(!schema.field_by_name("amount").unwrap().required);
}

#[test]
fn attnums_are_recorded_by_name() {
    assert_eq!(
        attnums([("id", 1), ("note", 3)].into_iter()),
        r#"{"id":1,"note":3}"#
    );
}

#[test]
fn schemas_compare_by_columns_and_key_not_field_ids() {
    use iceberg::spec::PrimitiveType;
    let build = |ids: [i32; 2], second: PrimitiveType, key: i32| {
        Schema::builder()
            .with_fields(vec![
                NestedField::required(ids[0], "id", Type::Primitive(PrimitiveType::Long)).into(),
                NestedField::optional(ids[1], "v", Type::Primitive(second)).into(),
            ])
            .with_identifier_field_ids(vec![key])
            .build()
            .unwrap()
    };
    let a = build([1, 2], PrimitiveType::String, 1);
    assert!(same_columns(&a, &build([1, 7], PrimitiveType::String, 1)));
    assert!(!same_columns(&a, &build([1, 2], PrimitiveType::Int, 1)));
}
