use super::*;
use arrow::array::IntervalMonthDayNanoArray;

fn run(largest: bool, values: Vec<Option<IntervalMonthDayNano>>) -> ScalarValue {
    let mut acc = Extreme {
        largest,
        best: None,
    };
    let array: ArrayRef = Arc::new(IntervalMonthDayNanoArray::from(values));
    acc.update_batch(&[array]).unwrap();
    acc.evaluate().unwrap()
}

#[test]
fn of_equal_lengths_the_later_one_is_kept() {
    let month = IntervalMonthDayNano::new(1, 0, 0);
    let thirty = IntervalMonthDayNano::new(0, 30, 0);
    let day = IntervalMonthDayNano::new(0, 1, 0);
    let values = vec![Some(month), None, Some(day), Some(thirty)];
    assert_eq!(
        run(true, values.clone()),
        ScalarValue::IntervalMonthDayNano(Some(thirty))
    );
    assert_eq!(
        run(false, values),
        ScalarValue::IntervalMonthDayNano(Some(day))
    );
    let thirty_one = IntervalMonthDayNano::new(0, 31, 0);
    assert_eq!(
        run(true, vec![Some(thirty_one), Some(month)]),
        ScalarValue::IntervalMonthDayNano(Some(thirty_one))
    );
    assert_eq!(
        run(true, vec![None]),
        ScalarValue::IntervalMonthDayNano(None)
    );
}
