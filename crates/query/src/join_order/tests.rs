use super::*;

use datafusion::logical_expr::col;

fn condition_between(inputs: u64, keys: Option<f64>) -> Condition {
    Condition {
        expr: col("a").eq(col("b")),
        inputs,
        equality: keys.map(|keys| Equality {
            left: col("a"),
            right: col("b"),
            left_inputs: inputs & inputs.wrapping_neg(),
            right_inputs: inputs & !(inputs & inputs.wrapping_neg()),
            keys,
        }),
        key: true,
        applied: false,
    }
}

/// A cluster like TPC-H Q5's: region(filtered, 0.5) - nation(25) -
/// supplier(10K) - customer(150K), with customer and supplier also linked
/// by the nation key (25 keys).
#[test]
fn a_non_key_equality_does_not_pass_for_a_key() {
    let sets = vec![
        (0b0001, 0.5),
        (0b0010, 25.0),
        (0b0100, 10_000.0),
        (0b1000, 150_000.0),
    ];
    let conditions = vec![
        condition_between(0b0011, Some(5.0)),
        condition_between(0b0110, Some(25.0)),
        condition_between(0b1010, Some(25.0)),
        condition_between(0b1100, Some(25.0)),
    ];
    // The filtered region and nation first.
    let (i, j, rows) = next_pair(&sets, &conditions);
    assert_eq!((i, j), (0, 1));
    assert!((rows - 2.5).abs() < 1e-9, "{rows}");
    // customer with supplier is 60M rows, not 150K.
    let only = vec![(0b0100, 10_000.0), (0b1000, 150_000.0)];
    let (_, _, rows) = next_pair(&only, &conditions);
    assert_eq!(rows, 60_000_000.0);
}

#[test]
fn of_several_equalities_the_strongest_counts() {
    let sets = vec![(0b01, 1000.0), (0b10, 6_000_000.0)];
    let conditions = vec![
        condition_between(0b11, Some(25.0)),
        condition_between(0b11, Some(10_000.0)),
    ];
    let (_, _, rows) = next_pair(&sets, &conditions);
    assert_eq!(rows, 600_000.0);
}

#[test]
fn applied_conditions_no_longer_link_and_unlinked_parts_cross_smallest_first() {
    let sets = vec![(0b001, 50.0), (0b010, 7.0), (0b100, 3.0)];
    let mut conditions = vec![condition_between(0b011, Some(7.0))];
    assert_eq!(next_pair(&sets, &conditions).0, 0);
    conditions[0].applied = true;
    let (i, j, rows) = next_pair(&sets, &conditions);
    assert_eq!((i, j, rows), (1, 2, 21.0));
}
