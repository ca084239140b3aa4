use super::*;

use datafusion::prelude::SessionContext;

async fn plan(sql: &str) -> LogicalPlan {
    let ctx = SessionContext::new();
    ctx.state().create_logical_plan(sql).await.unwrap()
}

#[tokio::test]
async fn a_query_of_literals_answers_the_row_the_engine_would() {
    let ctx = SessionContext::new();
    for sql in [
        "SELECT 1",
        "SELECT 1 AS one, 'ok' AS status, NULL AS nothing, 2.5 AS x, true",
    ] {
        let plan = plan(sql).await;
        let row = constant_row(&plan).unwrap_or_else(|| panic!("{sql}: no constant row"));
        let expected = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        assert_eq!(expected.len(), 1, "{sql}");
        assert_eq!(row.num_rows(), 1, "{sql}");
        assert_eq!(row.columns(), expected[0].columns(), "{sql}");
        let names = |s: &arrow::datatypes::Schema| {
            s.fields()
                .iter()
                .map(|f| (f.name().clone(), f.data_type().clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&row.schema()), names(&expected[0].schema()), "{sql}");
    }
}

#[tokio::test]
async fn anything_else_is_planned() {
    for sql in [
        "SELECT 1 + 1",
        "SELECT now()",
        "SELECT CAST(1 AS TEXT)",
        "SELECT 1 WHERE false",
        "SELECT * FROM (VALUES (1)) AS t(a)",
        "SELECT 1 FROM (SELECT 1) AS t LIMIT 0",
    ] {
        assert!(constant_row(&plan(sql).await).is_none(), "{sql}");
    }
}
