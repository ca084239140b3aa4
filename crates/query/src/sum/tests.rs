use super::*;
use crate::functions::numeric_input;

fn sum_input(t: &DataType) -> Result<DataType> {
    numeric_input("sum", t, sum_integer)
}

#[test]
fn bigints_sum_as_exact_decimals_and_smaller_integers_as_bigint() {
    assert_eq!(
        sum_input(&DataType::Int64).unwrap(),
        DataType::Decimal128(20, 0)
    );
    assert_eq!(
        sum_input(&DataType::UInt64).unwrap(),
        DataType::Decimal128(20, 0)
    );
    // Narrower integers are taken as they are and added as bigint; taken
    // twice (a second coercion), they stay what they are.
    assert_eq!(sum_input(&DataType::Int32).unwrap(), DataType::Int32);
    assert_eq!(sum_input(&DataType::Int16).unwrap(), DataType::Int16);
    assert_eq!(
        PgSum::new().return_type(&[DataType::Int32]).unwrap(),
        DataType::Int64
    );
    assert_eq!(sum_input(&DataType::Float32).unwrap(), DataType::Float64);
    assert_eq!(
        sum_input(&DataType::Decimal128(15, 2)).unwrap(),
        DataType::Decimal128(15, 2)
    );
    assert!(sum_input(&DataType::Utf8).is_err());
}
