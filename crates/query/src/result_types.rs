//! The analyzer rules that go ahead of DataFusion's type coercion and
//! change what a statement answers with: date and time arithmetic
//! (`crate::datetime`), intervals ordered by length, which window
//! frames need before their bounds are typed (`crate::interval_order`),
//! bit strings read as text (`crate::bits`), numeric
//! division (`crate::numeric_div`) and doubles meeting numerics
//! (`crate::coercion`). The engine's analyzer runs them; planning a
//! statement runs them too, so the plan's output columns have their final
//! types before a client is told them (a row description, an HTTP
//! answer's column types, a view's columns).

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::logical_expr::LogicalPlan;
use datafusion::optimizer::AnalyzerRule;

/// The rules, in the order they run (see the module's doc).
#[derive(Debug, Clone)]
pub(crate) struct ResultTypes {
    rules: Arc<[Arc<dyn AnalyzerRule + Send + Sync>]>,
}

impl ResultTypes {
    pub(crate) fn new() -> ResultTypes {
        ResultTypes {
            rules: Arc::new([
                Arc::new(crate::datetime::PgDateTime::new()) as Arc<dyn AnalyzerRule + Send + Sync>,
                Arc::new(crate::interval_order::PgIntervalOrder::new()),
                Arc::new(crate::bits::PgBitStrings::text_operations()),
                Arc::new(crate::numeric_div::PgNumericDivision::new()),
                Arc::new(crate::coercion::PgFloatNumeric),
            ]),
        }
    }

    /// The rules, first to run first.
    pub(crate) fn rules(&self) -> impl Iterator<Item = &Arc<dyn AnalyzerRule + Send + Sync>> {
        self.rules.iter()
    }

    /// `plan` with every rule applied.
    pub(crate) fn analyze(
        &self,
        plan: LogicalPlan,
        options: &ConfigOptions,
    ) -> Result<LogicalPlan> {
        self.rules
            .iter()
            .try_fold(plan, |plan, rule| rule.analyze(plan, options))
    }
}
