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

fn shape(sum_scale: i8, scale: i8) -> Shape {
    Shape {
        sum_scale,
        precision: 38,
        scale,
    }
}

#[test]
fn the_mean_is_long_division_rounded_half_away_from_zero() {
    // 8 / 3 at 16 digits
    assert_eq!(mean(8, 3, &shape(0, 16)).unwrap(), 26_666_666_666_666_667);
    assert_eq!(mean(-8, 3, &shape(0, 16)).unwrap(), -26_666_666_666_666_667);
    // 1.00 + 2.00 + 2.00 (scale 2) over 3, at 16 digits
    assert_eq!(mean(500, 3, &shape(2, 16)).unwrap(), 16_666_666_666_666_667);
    // a tie: 5 / 2 at no fractional digit rounds away from zero
    assert_eq!(mean(5, 2, &shape(0, 0)).unwrap(), 3);
    assert_eq!(mean(-5, 2, &shape(0, 0)).unwrap(), -3);
}

#[test]
fn a_sum_too_large_to_scale_up_still_has_its_mean() {
    // 20,000 bigint ids near 2^63: the sum times 10^16 is past i128.
    let value = i64::MAX as i128 - 1;
    let sum = value * 20_000;
    let got = mean(sum, 20_000, &shape(0, 16)).unwrap();
    assert_eq!(got, value * 10_i128.pow(16));
}

#[test]
fn a_mean_past_the_precision_is_an_overflow_error() {
    let err = mean(i128::MAX, 1, &shape(0, 16)).unwrap_err();
    assert!(err.to_string().contains("overflow"), "{err}");
}
