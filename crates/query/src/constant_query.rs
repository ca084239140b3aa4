//! Running a statement's DataFrame, with one shortcut: a query of
//! constants only (`SELECT 1`, `SELECT 'ok' AS status, NULL`) answers its
//! one row without the optimizer and the physical planner. Connection
//! pools and load balancers send such a query to check a connection, often
//! once for every connection they hand out, and planning it cost more than
//! the rest of its round trip. The row is the one DataFusion would answer:
//! the plan's own schema, and its literals as they are; any other plan
//! (an expression to evaluate, a function call, a cast) runs as usual.

use std::sync::Arc;

use arrow::array::RecordBatch;
use datafusion::error::Result;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::DataFrame;

/// Runs `df`, streaming its answer.
pub async fn execute_stream(df: DataFrame) -> Result<SendableRecordBatchStream> {
    if let Some(row) = constant_row(df.logical_plan()) {
        let schema = row.schema();
        return Ok(Box::pin(RecordBatchStreamAdapter::new(
            schema,
            futures::stream::iter([Ok(row)]),
        )));
    }
    df.execute_stream().await
}

/// The one row `plan` answers if it selects literals and nothing else.
pub(crate) fn constant_row(plan: &LogicalPlan) -> Option<RecordBatch> {
    let LogicalPlan::Projection(projection) = plan else {
        return None;
    };
    let LogicalPlan::EmptyRelation(empty) = projection.input.as_ref() else {
        return None;
    };
    if !empty.produce_one_row {
        return None;
    }
    let schema = Arc::new(projection.schema.as_arrow().clone());
    let columns = projection
        .expr
        .iter()
        .zip(schema.fields())
        .map(|(expr, field)| match expr.clone().unalias_nested().data {
            Expr::Literal(value, None) if value.data_type() == *field.data_type() => {
                value.to_array_of_size(1).ok()
            }
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    RecordBatch::try_new(schema, columns).ok()
}

#[cfg(test)]
mod tests;
