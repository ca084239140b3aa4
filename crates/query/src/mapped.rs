//! A DataFusion accumulator with its arguments and its answers mapped: the
//! way Floe's aggregates reuse DataFusion's accumulation with PostgreSQL's
//! argument or result types (`sum` of narrow integers, `string_agg`).

use arrow::array::{ArrayRef, BooleanArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{Accumulator, EmitTo, GroupsAccumulator};
use datafusion::scalar::ScalarValue;

/// `inner`, fed its arguments through `input` and answering as `output`
/// (as it answers if `None`).
#[derive(Debug)]
pub(crate) struct Mapped<A: ?Sized> {
    pub(crate) inner: Box<A>,
    pub(crate) input: fn(&[ArrayRef]) -> Result<Vec<ArrayRef>>,
    pub(crate) output: Option<DataType>,
}

/// The arguments as they are.
pub(crate) fn unchanged(values: &[ArrayRef]) -> Result<Vec<ArrayRef>> {
    Ok(values.to_vec())
}

impl Accumulator for Mapped<dyn Accumulator> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.inner.update_batch(&(self.input)(values)?)
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.inner.retract_batch(&(self.input)(values)?)
    }

    fn supports_retract_batch(&self) -> bool {
        self.inner.supports_retract_batch()
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let answer = self.inner.evaluate()?;
        match &self.output {
            Some(t) => answer.cast_to(t),
            None => Ok(answer),
        }
    }

    fn size(&self) -> usize {
        self.inner.size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.inner.state()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.inner.merge_batch(states)
    }
}

impl GroupsAccumulator for Mapped<dyn GroupsAccumulator> {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.inner.update_batch(
            &(self.input)(values)?,
            group_indices,
            opt_filter,
            total_num_groups,
        )
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let answers = self.inner.evaluate(emit_to)?;
        match &self.output {
            Some(t) => Ok(cast(&answers, t)?),
            None => Ok(answers),
        }
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        self.inner.state(emit_to)
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.inner
            .merge_batch(values, group_indices, opt_filter, total_num_groups)
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        self.inner
            .convert_to_state(&(self.input)(values)?, opt_filter)
    }

    fn supports_convert_to_state(&self) -> bool {
        self.inner.supports_convert_to_state()
    }

    fn size(&self) -> usize {
        self.inner.size()
    }
}
