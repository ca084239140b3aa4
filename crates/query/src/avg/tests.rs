use super::*;
use crate::functions::numeric_input;

fn avg_input(t: &DataType) -> Result<DataType> {
    numeric_input("avg", t, avg_integer)
}

#[test]
fn avg_of_decimal_keeps_sixteen_fractional_digits() {
    assert_eq!(avg_decimal(15, 2), DataType::Decimal128(38, 16));
    assert_eq!(avg_decimal(10, 0), DataType::Decimal128(38, 16));
    // a larger scale is kept, plus four digits as before
    assert_eq!(avg_decimal(30, 20), DataType::Decimal128(38, 24));
    // integer digits are never given up for fractional ones
    assert_eq!(avg_decimal(38, 2), DataType::Decimal128(38, 2));
    assert_eq!(avg_decimal(30, 2), DataType::Decimal128(38, 10));
}

#[test]
fn integers_average_as_exact_decimals() {
    assert_eq!(
        avg_input(&DataType::Int32).unwrap(),
        DataType::Decimal128(20, 0)
    );
    assert_eq!(
        avg_input(&DataType::UInt64).unwrap(),
        DataType::Decimal128(20, 0)
    );
    assert_eq!(avg_input(&DataType::Float32).unwrap(), DataType::Float64);
    assert!(avg_input(&DataType::Utf8).is_err());
}

#[test]
fn the_last_digit_rounds_half_away_from_zero() {
    assert_eq!(drop_digit(266_666_666_666_666_667), 26_666_666_666_666_667);
    assert_eq!(drop_digit(25), 3);
    assert_eq!(drop_digit(24), 2);
    assert_eq!(drop_digit(-25), -3);
    assert_eq!(drop_digit(-24), -2);
    assert_eq!(drop_digit(0), 0);
}
