use super::*;
use arrow::array::{Decimal128Array, Float64Array};

#[test]
fn numeric_rounds_half_away_from_zero() {
    // 2.50, 2.49, -2.50, -2.51 at scale 2
    assert_eq!(round_decimal(250, 2).unwrap(), 300);
    assert_eq!(round_decimal(249, 2).unwrap(), 200);
    assert_eq!(round_decimal(-250, 2).unwrap(), -300);
    assert_eq!(round_decimal(-251, 2).unwrap(), -300);
    assert_eq!(round_decimal(-249, 2).unwrap(), -200);
    assert_eq!(round_decimal(7, 0).unwrap(), 7);
    assert_eq!(round_decimal(i128::MAX, 2).unwrap(), i128::MAX - 27);
}

#[test]
fn double_rounds_to_even_on_a_tie() {
    let input: ArrayRef = Arc::new(Float64Array::from(vec![
        2.5,
        3.5,
        -2.5,
        2.7,
        -2.7,
        f64::NAN,
    ]));
    let out = RoundForCast::round(&input).unwrap();
    let out = out.as_primitive::<Float64Type>();
    assert_eq!(&out.values()[..5], &[2.0, 4.0, -2.0, 3.0, -3.0]);
    assert!(out.value(5).is_nan());
}

#[test]
fn decimal_array_keeps_its_type() {
    let input: ArrayRef = Arc::new(
        Decimal128Array::from(vec![Some(15), None, Some(-15)])
            .with_precision_and_scale(5, 1)
            .unwrap(),
    );
    let out = RoundForCast::round(&input).unwrap();
    assert_eq!(out.data_type(), &DataType::Decimal128(5, 1));
    let out = out.as_primitive::<Decimal128Type>();
    assert_eq!(out.value(0), 20);
    assert!(out.is_null(1));
    assert_eq!(out.value(2), -20);
}

#[test]
fn list_rounds_each_element() {
    let values = Float64Array::from(vec![1.5, 2.7, 2.5, -0.5]);
    let field = Arc::new(arrow::datatypes::Field::new_list_field(
        DataType::Float64,
        true,
    ));
    let input: ArrayRef = Arc::new(
        ListArray::try_new(
            field,
            arrow::buffer::OffsetBuffer::from_lengths([2, 0, 2]),
            Arc::new(values),
            Some(arrow::buffer::NullBuffer::from(vec![true, false, true])),
        )
        .unwrap(),
    );
    let out = RoundForCast::round(&input).unwrap();
    assert_eq!(out.data_type(), input.data_type());
    let out = out.as_list::<i32>();
    assert!(out.is_null(1));
    let values = out.values().as_primitive::<Float64Type>();
    assert_eq!(values.values().as_ref(), &[2.0, 3.0, 2.0, -0.0]);
}
