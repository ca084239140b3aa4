use super::*;

use datafusion::logical_expr::{col, lit};

#[test]
fn selectivity_follows_the_shape_of_a_condition() {
    let eq = col("x").eq(lit(1));
    assert_eq!(selectivity(&eq, None), EQUALITY);
    let both = eq.clone().and(col("y").lt(lit(3)));
    assert!((selectivity(&both, None) - EQUALITY * COMPARISON).abs() < 1e-12);
    let either = eq.clone().or(col("y").eq(lit(2)));
    assert!((selectivity(&either, None) - 0.19).abs() < 1e-12);
    assert!((selectivity(&!eq.clone(), None) - 0.9).abs() < 1e-12);
    let in_list = col("x").in_list(vec![lit(1), lit(2), lit(3)], false);
    assert!((selectivity(&in_list, None) - 0.3).abs() < 1e-12);
    let many = col("x").in_list((0..20).map(lit).collect(), false);
    assert_eq!(selectivity(&many, None), 1.0);
    assert_eq!(selectivity(&col("x").is_null(), None), EQUALITY);
    assert_eq!(selectivity(&col("f"), None), UNKNOWN);
}
