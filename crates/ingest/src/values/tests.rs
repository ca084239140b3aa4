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

#[test]
fn issue14_bytea_text_is_decoded_as_postgres_does_and_bad_text_refused() {
    assert_eq!(decode_bytea("\\x4142"), Ok(b"AB".to_vec()));
    assert_eq!(decode_bytea("\\x41 42\n43"), Ok(b"ABC".to_vec()));
    assert_eq!(decode_bytea("\\x"), Ok(vec![]));
    assert_eq!(decode_bytea("plain"), Ok(b"plain".to_vec()));
    assert_eq!(decode_bytea("a\\\\b\\001"), Ok(b"a\\b\x01".to_vec()));
    assert_eq!(decode_bytea("é"), Ok("é".as_bytes().to_vec()));
    // Multi-byte characters where hex digits belong: an error, not a panic.
    assert_eq!(
        decode_bytea("\\x0é0"),
        Err("invalid hexadecimal digit: \"é\"".into())
    );
    assert!(decode_bytea("\\xé").is_err());
    assert!(decode_bytea("\\x4").unwrap_err().contains("odd number"));
    assert!(
        decode_bytea("\\x4g")
            .unwrap_err()
            .contains("hexadecimal digit")
    );
    assert!(decode_bytea("a\\q").is_err());
    assert!(decode_bytea("trailing\\").is_err());
    assert!(decode_bytea("\\400").is_err());
    let (typed, bad) = parse_column(
        &DataType::Binary,
        &StringArray::from(vec![Some("\\x4142"), Some("\\x0é0"), None]),
    );
    assert_eq!(bad, vec![1]);
    let typed = typed.as_any().downcast_ref::<BinaryArray>().unwrap();
    assert_eq!(typed.value(0), b"AB");
    // Iceberg's binary is Arrow's LargeBinary: the same text rules hold.
    let (typed, bad) = parse_column(
        &DataType::LargeBinary,
        &StringArray::from(vec![Some("\\x4142"), Some("\\x0é0")]),
    );
    assert_eq!(bad, vec![1]);
    let typed = typed
        .as_any()
        .downcast_ref::<arrow::array::LargeBinaryArray>()
        .unwrap();
    assert_eq!(typed.value(0), b"AB");
}

#[test]
fn issue23_arrays_read_json_arrays_and_postgres_text() {
    use arrow::array::{AsArray, Int32Array};
    use arrow::datatypes::{Field, Int32Type};
    let element = Arc::new(Field::new("element", DataType::Int32, true));
    let text = StringArray::from(vec![
        Some("[1, 2, null]"),
        Some("{5,6}"),
        None,
        Some("{}"),
        Some("[\"x\"]"),
        Some("{1,{2}}"),
        Some("[[1]]"),
        Some("7"),
    ]);
    let (typed, bad) = parse_column(&DataType::List(element.clone()), &text);
    // A bad element, a second dimension, a text that is no array: named.
    assert_eq!(bad, vec![4, 5, 6, 7]);
    let lists = typed.as_list::<i32>();
    assert_eq!(lists.data_type(), &DataType::List(element));
    let row = |i: usize| lists.value(i).as_primitive::<Int32Type>().clone();
    assert_eq!(row(0), Int32Array::from(vec![Some(1), Some(2), None]));
    assert_eq!(row(1), Int32Array::from(vec![5, 6]));
    assert!(lists.is_null(2));
    assert_eq!(row(3).len(), 0);
    assert!(lists.is_valid(3));
    assert!((4..8).all(|i| lists.is_null(i)));
    assert_eq!(type_name(lists.data_type()), "integer[]");
}
