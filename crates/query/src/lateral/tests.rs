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
