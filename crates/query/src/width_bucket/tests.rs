use super::*;

// Expected buckets are PostgreSQL 15's for the same numeric arguments.
#[test]
fn numerics_bucket_exactly_in_either_direction() {
    // Scale 1: -0.9 is -9, 5.2 is 52.
    assert_eq!(exact_bucket(-9, 52, 5, 2).unwrap(), 3);
    assert_eq!(exact_bucket(-21, 13, 34, 3).unwrap(), 0);
    assert_eq!(exact_bucket(53, 2, 106, 5).unwrap(), 3);
    assert_eq!(exact_bucket(81, 0, 57, 4).unwrap(), 5);
    assert_eq!(exact_bucket(0, 100, 0, 5).unwrap(), 6);
    assert_eq!(exact_bucket(100, 0, 100, 5).unwrap(), 6);
    // The upper bound belongs to the bucket above the range.
    assert_eq!(exact_bucket(99, 0, 100, 5).unwrap(), 5);
}

#[test]
fn bad_arguments_are_errors() {
    assert!(exact_bucket(1, 0, 10, 0).is_err());
    assert!(exact_bucket(1, 5, 5, 3).is_err());
    assert!(float_bucket(f64::NAN, 0.0, 1.0, 3).is_err());
    assert!(float_bucket(0.5, 0.0, f64::INFINITY, 3).is_err());
    assert!(exact_bucket(200, 0, 100, i32::MAX).is_err());
}

#[test]
fn doubles_bucket_as_postgres_float8() {
    assert_eq!(float_bucket(5.35, 0.024, 10.06, 5).unwrap(), 3);
    assert_eq!(float_bucket(-0.9, 5.2, 0.5, 2).unwrap(), 3);
    assert_eq!(float_bucket(1.0, 0.0, 1.0, 4).unwrap(), 5);
    assert_eq!(float_bucket(0.0, 0.0, 1.0, 4).unwrap(), 1);
}
