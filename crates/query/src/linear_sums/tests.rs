use super::*;

use arrow::array::{Int16Array, Int32Array, Int64Array, RecordBatch};
use arrow::util::pretty::pretty_format_batches;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::prelude::SessionContext;

/// A context with Floe's aggregates, with or without the rewrite, over
/// `t(w smallint, b bigint, g int)`; `w` has NULLs, and group 3 only NULLs.
fn context(rewrite: bool) -> SessionContext {
    let ctx = SessionContext::new();
    for udaf in crate::functions::aggregates() {
        ctx.register_udaf(udaf);
    }
    if rewrite {
        ctx.add_analyzer_rule(Arc::new(LinearSums));
    }
    let batch = RecordBatch::try_from_iter([
        (
            "w",
            Arc::new(Int16Array::from(vec![
                Some(1),
                Some(-7),
                None,
                Some(i16::MAX),
                None,
                Some(i16::MIN),
            ])) as _,
        ),
        (
            "b",
            Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5, i64::MAX])) as _,
        ),
        ("g", Arc::new(Int32Array::from(vec![1, 1, 2, 2, 3, 1])) as _),
    ])
    .unwrap();
    ctx.register_batch("t", batch).unwrap();
    ctx
}

async fn answer(ctx: &SessionContext, sql: &str) -> String {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    pretty_format_batches(&batches).unwrap().to_string()
}

/// The aggregate expressions of the optimized plan's aggregations.
async fn aggregates(ctx: &SessionContext, sql: &str) -> Vec<String> {
    let plan = ctx.sql(sql).await.unwrap().into_optimized_plan().unwrap();
    let mut found = Vec::new();
    plan.apply(|node| {
        if let LogicalPlan::Aggregate(agg) = node {
            found.extend(agg.aggr_expr.iter().map(|e| e.to_string()));
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .unwrap();
    found
}

const SUMS: &str = "sum(w), sum(w + 1), sum(w + 2), sum(3 + w), sum(w - 4), \
                    sum(w + 2147483648), sum(w - 2147483648)";

#[tokio::test]
async fn shared_sums_answer_what_each_sum_would() {
    let (plain, rewritten) = (context(false), context(true));
    for sql in [
        format!("SELECT {SUMS} FROM t"),
        format!("SELECT g, {SUMS}, count(*) FROM t GROUP BY g ORDER BY g"),
        format!("SELECT {SUMS} FROM t WHERE false"),
        format!("SELECT g, {SUMS} FROM t GROUP BY g HAVING sum(w + 1) > 0 ORDER BY 2"),
    ] {
        let want = answer(&plain, &sql).await;
        assert_eq!(answer(&rewritten, &sql).await, want, "{sql}");
        let schema = |ctx: &SessionContext| {
            let sql = sql.clone();
            let ctx = ctx.clone();
            async move { ctx.sql(&sql).await.unwrap().schema().as_arrow().clone() }
        };
        assert_eq!(schema(&rewritten).await, schema(&plain).await, "{sql}");
    }
}

#[tokio::test]
async fn shared_sums_need_one_sum_and_one_count() {
    let sql = format!("SELECT {SUMS} FROM t");
    assert_eq!(aggregates(&context(false), &sql).await.len(), 7);
    // At most sum(w) as it was, the shared decimal sum of w (the engine
    // may fold it into the first), and count(w).
    let shared = aggregates(&context(true), &sql).await;
    assert!(shared.len() <= 3, "{shared:?}");
    assert!(shared.iter().any(|a| a.starts_with("count(")), "{shared:?}");
}

#[tokio::test]
async fn sums_that_could_overflow_or_stand_alone_are_left_alone() {
    for sql in [
        // A bigint plus a constant may overflow: PostgreSQL raises 22003.
        "SELECT sum(b + 1), sum(b + 2) FROM t",
        // Past 2^31 the rewrite is not proven safe.
        "SELECT sum(w + 2147483649), sum(w + 2) FROM t",
        // One sum would only become two aggregates.
        "SELECT sum(w + 1), sum(b) FROM t",
        "SELECT sum(DISTINCT w + 1), sum(DISTINCT w + 2) FROM t",
        "SELECT sum(w + 1) FILTER (WHERE g = 1), sum(w + 2) FILTER (WHERE g = 1) FROM t",
    ] {
        let plain = aggregates(&context(false), sql).await;
        assert_eq!(aggregates(&context(true), sql).await, plain, "{sql}");
    }
}

#[tokio::test]
async fn narrow_decimals_extreme_constants_and_volatile_columns_are_left_alone() {
    for sql in [
        // numeric(5) can overflow in `w + k` and not in `w`, or the reverse.
        "SELECT sum(CAST(w + 1 AS DECIMAL(5, 0))), sum(CAST(w + 2 AS DECIMAL(5, 0))) FROM t",
        // |i64::MIN| does not fit an i64.
        "SELECT sum(w + -9223372036854775808), sum(w + 1) FROM t",
        "SELECT sum(CAST(CASE WHEN random() < 0.5 THEN w END AS BIGINT) + 1), \
                sum(CAST(CASE WHEN random() < 0.5 THEN w END AS BIGINT) + 2) FROM t",
    ] {
        let plain = aggregates(&context(false), sql).await;
        assert_eq!(aggregates(&context(true), sql).await, plain, "{sql}");
    }
}
