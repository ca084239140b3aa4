use super::*;

use arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::SessionContext;

fn context() -> SessionContext {
    let ctx = SessionContext::new();
    ctx.add_analyzer_rule(Arc::new(LateralValues));
    ctx
}

async fn answer(sql: &str) -> Result<String> {
    let batches = context().sql(sql).await?.collect().await?;
    Ok(pretty_format_batches(&batches)?.to_string())
}

#[tokio::test]
async fn lateral_values_read_each_left_row() {
    let got = answer(
        "SELECT * FROM (VALUES (42), (84)) t(a), LATERAL (SELECT t.a + 1, t.a * 2 AS d) x(b, d) \
         ORDER BY a",
    )
    .await
    .unwrap();
    assert_eq!(
        got,
        "+----+----+-----+\n\
         | a  | b  | d   |\n\
         +----+----+-----+\n\
         | 42 | 43 | 84  |\n\
         | 84 | 85 | 168 |\n\
         +----+----+-----+"
    );
}

#[tokio::test]
async fn join_conditions_still_filter_and_left_joins_keep_rows() {
    let inner = answer(
        "SELECT t.a, x.d FROM (VALUES (42), (84)) t(a) \
         JOIN LATERAL (SELECT t.a * 2 AS d) x ON x.d > 100",
    )
    .await
    .unwrap();
    assert!(
        inner.contains("| 84 | 168 |") && !inner.contains("| 42"),
        "{inner}"
    );
    let left = answer(
        "SELECT t.a, x.d FROM (VALUES (42), (NULL)) t(a) \
         LEFT JOIN LATERAL (SELECT t.a * 2 AS d) x ON true ORDER BY t.a",
    )
    .await
    .unwrap();
    assert!(
        left.contains("| 42 | 84 |") && left.contains("|    |    |"),
        "{left}"
    );
}

#[tokio::test]
async fn a_left_join_with_a_condition_is_never_answered_as_an_inner_one() {
    // Rows failing the condition must stay, with NULLs: the rule leaves
    // this join alone, so the engine answers it right or refuses it.
    match answer(
        "SELECT t.a, x.d FROM (VALUES (42), (84)) t(a) \
         LEFT JOIN LATERAL (SELECT t.a * 2 AS d) x ON x.d > 100 ORDER BY t.a",
    )
    .await
    {
        Ok(got) => assert!(got.contains("| 42 |    |"), "{got}"),
        Err(e) => assert!(e.to_string().contains("OuterReferenceColumn"), "{e}"),
    }
}

#[tokio::test]
async fn derived_tables_and_volatile_values_are_left_to_the_engine() {
    let ctx = context();
    ctx.register_batch(
        "t2",
        arrow::array::RecordBatch::try_from_iter([(
            "a",
            Arc::new(arrow::array::Int64Array::from(vec![7])) as _,
        )])
        .unwrap(),
    )
    .unwrap();
    // Not LATERAL: `o.a` in the derived table is the enclosing query's
    // (PostgreSQL binds it there), never the `t2 AS o` beside it.
    let got = answer_in(
        &ctx,
        "SELECT o.a, (SELECT max(x.b) FROM t2 AS o, (SELECT o.a AS b) x) \
         FROM (VALUES (1), (2)) AS o(a) ORDER BY 1",
    )
    .await;
    if let Ok(got) = got {
        assert!(
            got.contains("| 1 | 1 ") && got.contains("| 2 | 2 "),
            "{got}"
        );
    }
    // One random() for the whole query in a derived table; one per use
    // must not become one per row, nor two uses two values.
    let got = answer_in(
        &ctx,
        "SELECT count(DISTINCT x.r = x.r2) FROM (VALUES (1), (2), (3)) t(a), \
         LATERAL (SELECT r, r AS r2 FROM (SELECT random() AS r) s) x",
    )
    .await;
    if let Ok(got) = got {
        assert!(got.contains("| 1 "), "{got}");
    }
}

async fn answer_in(ctx: &SessionContext, sql: &str) -> Result<String> {
    let batches = ctx.sql(sql).await?.collect().await?;
    Ok(pretty_format_batches(&batches)?.to_string())
}
