use super::*;

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
