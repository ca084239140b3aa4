//! `string_agg` answering text, as PostgreSQL's does. DataFusion's answers
//! `LargeUtf8`, the type Floe keeps for bit strings ([`crate::bits`]), so
//! its answer would be shown as `bit varying` and refused by text
//! functions. The aggregation is DataFusion's; only the answer is cast.
//! DataFusion takes only a constant delimiter; a delimiter that comes
//! from the rows (`string_agg(x, y)`) is joined by Floe's own
//! accumulation ([`RowDelimitedStringAgg`]).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::config::ConfigOptions;
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{exec_err, not_impl_err};
use datafusion::error::Result;
use datafusion::functions_aggregate::string_agg::string_agg_udaf;
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Expr, GroupsAccumulator,
    LogicalPlan, ReversedUDAF, Signature,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::scalar::ScalarValue;

use crate::mapped::{Mapped, unchanged};

/// `string_agg` answering `Utf8` (see the module's doc).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct PgStringAgg {
    inner: Arc<AggregateUDF>,
}

impl PgStringAgg {
    pub(crate) fn new() -> PgStringAgg {
        PgStringAgg {
            inner: string_agg_udaf(),
        }
    }
}

impl AggregateUDFImpl for PgStringAgg {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        self.inner.state_fields(args)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(Mapped {
            inner: self.inner.accumulator(args)?,
            input: unchanged,
            output: Some(DataType::Utf8),
        }))
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        self.inner.groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(Mapped {
            inner: self.inner.create_groups_accumulator(args)?,
            input: unchanged,
            output: Some(DataType::Utf8),
        }))
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        match self.inner.reverse_udf() {
            ReversedUDAF::Reversed(_) => {
                ReversedUDAF::Reversed(Arc::new(AggregateUDF::new_from_impl(PgStringAgg::new())))
            }
            other => other,
        }
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
}

/// `string_agg(x, d)` where the delimiter `d` comes from the rows, as
/// PostgreSQL reads it: each value but the first is preceded by its own
/// row's delimiter (none where that is NULL); with DISTINCT the distinct
/// (value, delimiter) pairs are joined in their sorted order. Named
/// `string_agg` so that the aggregate's output name is unchanged when
/// [`RowDelimiters`] puts it in place of DataFusion's, which takes only a
/// constant delimiter. DISTINCT is the function's own (`distinct`), not
/// the call's: the optimizer turns a call's DISTINCT over one expression
/// (`string_agg(DISTINCT x, x)`) into a GROUP BY, which would lose the
/// sorted order.
#[derive(Debug, PartialEq, Eq, Hash)]
struct RowDelimitedStringAgg {
    signature: Signature,
    distinct: bool,
}

impl AggregateUDFImpl for RowDelimitedStringAgg {
    fn name(&self) -> &str {
        "string_agg"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = |part: &str| {
            Arc::new(Field::new(
                format_state_name(args.name, part),
                DataType::new_list(DataType::Utf8, true),
                true,
            ))
        };
        Ok(vec![list("values"), list("delimiters")])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(PairAccumulator {
            pairs: Vec::new(),
            distinct: self.distinct || args.is_distinct,
        }))
    }
}

/// The (value, delimiter) pairs of the rows whose value is not NULL.
#[derive(Debug)]
struct PairAccumulator {
    pairs: Vec<(String, Option<String>)>,
    distinct: bool,
}

impl PairAccumulator {
    fn add(&mut self, values: &ArrayRef, delimiters: &ArrayRef) -> Result<()> {
        let values = cast(values, &DataType::Utf8)?;
        let delimiters = cast(delimiters, &DataType::Utf8)?;
        let (values, delimiters) = (values.as_string::<i32>(), delimiters.as_string::<i32>());
        for (value, delimiter) in values.iter().zip(delimiters.iter()) {
            if let Some(value) = value {
                self.pairs
                    .push((value.to_string(), delimiter.map(str::to_string)));
            }
        }
        Ok(())
    }

    fn list(texts: impl Iterator<Item = Option<String>>) -> ScalarValue {
        let array: ArrayRef = Arc::new(StringArray::from_iter(texts));
        SingleRowListArrayBuilder::new(array).build_list_scalar()
    }
}

impl Accumulator for PairAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let [values, delimiters] = values else {
            return exec_err!("string_agg takes a value and a delimiter");
        };
        self.add(values, delimiters)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let [values, delimiters] = states else {
            return exec_err!("string_agg's state is its values and their delimiters");
        };
        let (values, delimiters) = (values.as_list::<i32>(), delimiters.as_list::<i32>());
        for row in 0..values.len() {
            if values.is_valid(row) {
                self.add(&values.value(row), &delimiters.value(row))?;
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            Self::list(self.pairs.iter().map(|(v, _)| Some(v.clone()))),
            Self::list(self.pairs.iter().map(|(_, d)| d.clone())),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.distinct {
            // NULL delimiters sort last, as PostgreSQL's ascending order.
            self.pairs.sort_by(|(v1, d1), (v2, d2)| {
                v1.cmp(v2).then_with(|| match (d1, d2) {
                    (Some(a), Some(b)) => a.cmp(b),
                    (a, b) => a.is_none().cmp(&b.is_none()),
                })
            });
            self.pairs.dedup();
        }
        let mut joined: Option<String> = None;
        for (value, delimiter) in &self.pairs {
            match joined.as_mut() {
                None => joined = Some(value.clone()),
                Some(text) => {
                    text.push_str(delimiter.as_deref().unwrap_or(""));
                    text.push_str(value);
                }
            }
        }
        Ok(ScalarValue::Utf8(joined))
    }

    fn size(&self) -> usize {
        size_of_val(self)
            + self
                .pairs
                .iter()
                .map(|(v, d)| {
                    size_of::<(String, Option<String>)>()
                        + v.capacity()
                        + d.as_ref().map_or(0, String::capacity)
                })
                .sum::<usize>()
    }
}

/// The analyzer rule that gives `string_agg` calls whose delimiter comes
/// from the rows [`RowDelimitedStringAgg`]; calls with a constant
/// delimiter keep DataFusion's accumulation.
#[derive(Debug)]
pub(crate) struct RowDelimiters {
    /// Without DISTINCT, and with it.
    udafs: [Arc<AggregateUDF>; 2],
}

impl RowDelimiters {
    pub(crate) fn new() -> RowDelimiters {
        let udaf = |distinct| {
            Arc::new(AggregateUDF::new_from_impl(RowDelimitedStringAgg {
                signature: string_agg_udaf().signature().clone(),
                distinct,
            }))
        };
        RowDelimiters {
            udafs: [udaf(false), udaf(true)],
        }
    }

    fn rewrite(&self, e: &Expr) -> Result<Option<Expr>> {
        let Expr::AggregateFunction(AggregateFunction { func, params }) = e else {
            return Ok(None);
        };
        let constant = match params.args.as_slice() {
            [_, delimiter] => delimiter.column_refs().is_empty(),
            _ => true,
        };
        let ours = self.udafs.iter().any(|u| Arc::ptr_eq(func, u));
        if func.name() != "string_agg" || constant || ours {
            return Ok(None);
        }
        if !params.order_by.is_empty() {
            return not_impl_err!(
                "string_agg with ORDER BY takes a constant delimiter, not one from the rows"
            );
        }
        let mut params = params.clone();
        let distinct = std::mem::take(&mut params.distinct);
        Ok(Some(Expr::AggregateFunction(AggregateFunction {
            func: self.udafs[usize::from(distinct)].clone(),
            params,
        })))
    }
}

impl AnalyzerRule for RowDelimiters {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        Ok(crate::rewrite::rewrite_expressions(plan, &|e, _| self.rewrite(e))?.data)
    }

    fn name(&self) -> &str {
        "floe_string_agg_row_delimiters"
    }
}

#[cfg(test)]
mod tests;
