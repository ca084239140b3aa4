use super::percentile;

#[test]
fn interpolates_without_rounding_the_weight() {
    let mut v = vec![50.0, 10.0, 40.0, 20.0, 30.0];
    assert_eq!(percentile(&mut v, 0.3), Some(22.0));
    assert_eq!(percentile(&mut v, 0.5), Some(30.0));
    assert_eq!(percentile(&mut v, 0.0), Some(10.0));
    assert_eq!(percentile(&mut v, 1.0), Some(50.0));
    let mut v = vec![1.0, 2.0];
    assert_eq!(percentile(&mut v, 0.1234567), Some(1.1234567));
}

#[test]
fn nan_sorts_last_and_no_values_is_null() {
    let mut v = vec![f64::NAN, 1.0, 3.0];
    assert_eq!(percentile(&mut v, 0.5), Some(3.0));
    assert_eq!(percentile(&mut [], 0.5), None);
}
