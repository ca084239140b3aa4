use arrow::array::Array;

use super::*;

#[test]
fn key_lists_in_each_written_form_read_alike() {
    assert_eq!(key_list("1 2").unwrap(), vec![1, 2]);
    assert_eq!(key_list("[2, 20, 3]").unwrap(), vec![2, 20, 3]);
    assert_eq!(key_list("{1,-3}").unwrap(), vec![1, -3]);
    assert_eq!(key_list("").unwrap(), Vec::<i64>::new());
    assert!(key_list("1 x").is_err());
}

#[test]
fn key_list_columns_become_arrays_with_nulls_kept() {
    let texts: ArrayRef = Arc::new(arrow::array::StringArray::from(vec![
        Some("1 2"),
        None,
        Some("[7]"),
    ]));
    let lists = key_list_array(&texts, Element::Smallint).unwrap();
    assert_eq!(lists.data_type(), &list_type(Element::Smallint));
    let lists = lists.as_list::<i32>();
    assert!(lists.is_null(1));
    let first = lists.value(0);
    assert_eq!(
        first.as_primitive::<arrow::datatypes::Int16Type>().values(),
        &[1i16, 2]
    );
    let third = lists.value(2);
    assert_eq!(
        third.as_primitive::<arrow::datatypes::Int16Type>().values(),
        &[7i16]
    );
    let oids = key_list_array(&texts, Element::Oid).unwrap();
    assert_eq!(oids.data_type(), &list_type(Element::Oid));
    let too_big: ArrayRef = Arc::new(arrow::array::StringArray::from(vec!["70000"]));
    assert!(key_list_array(&too_big, Element::Smallint).is_err());
}

#[test]
fn numeric_type_modifiers_are_postgresqls() {
    // PostgreSQL 15: SELECT atttypmod FROM pg_attribute WHERE ... for
    // numeric(10,2), numeric(38,0) and numeric(5,5).
    assert_eq!(typmods::numeric_typmod(10, 2), 655366);
    assert_eq!(typmods::numeric_typmod(38, 0), 2490372);
    assert_eq!(typmods::numeric_typmod(5, 5), 327689);
}
