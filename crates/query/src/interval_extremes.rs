//! `max` and `min` of intervals as PostgreSQL takes them: by length (a
//! month as 30 days, a day as 24 hours), and of two intervals of one
//! length the later one (`interval_larger` and `interval_smaller` keep
//! their first argument only when it is strictly larger or smaller):
//! `max` of `1 mon` then `30 days` is `30 days`.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, FieldRef, IntervalMonthDayNano, IntervalUnit};
use datafusion::common::exec_err;
use datafusion::error::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};
use datafusion::scalar::ScalarValue;

use crate::datetime::interval_length;

const INTERVAL: DataType = DataType::Interval(IntervalUnit::MonthDayNano);

/// `pg_interval_max(x)` (`largest`) or `pg_interval_min(x)`.
pub(crate) fn udaf(largest: bool) -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::new_from_impl(IntervalExtreme {
        largest,
        signature: Signature::any(1, Volatility::Immutable),
    }))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct IntervalExtreme {
    largest: bool,
    signature: Signature,
}

impl AggregateUDFImpl for IntervalExtreme {
    fn name(&self) -> &str {
        if self.largest {
            "pg_interval_max"
        } else {
            "pg_interval_min"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(INTERVAL)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "value"),
            INTERVAL,
            true,
        ))])
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(Extreme {
            largest: self.largest,
            best: None,
        }))
    }
}

#[derive(Debug)]
struct Extreme {
    largest: bool,
    best: Option<IntervalMonthDayNano>,
}

impl Extreme {
    /// `v` replaces the value held unless that one is strictly beyond it.
    fn offer(&mut self, v: IntervalMonthDayNano) {
        let keep = self.best.is_some_and(|best| {
            let (held, offered) = (interval_length(best), interval_length(v));
            if self.largest {
                held > offered
            } else {
                held < offered
            }
        });
        if !keep {
            self.best = Some(v);
        }
    }
}

impl Accumulator for Extreme {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let [values] = values else {
            return exec_err!("max and min of intervals take one argument");
        };
        let values = cast(values, &INTERVAL)?;
        for v in values
            .as_primitive::<arrow::datatypes::IntervalMonthDayNanoType>()
            .iter()
            .flatten()
        {
            self.offer(v);
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.update_batch(states)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.evaluate()?])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::IntervalMonthDayNano(self.best))
    }

    fn size(&self) -> usize {
        size_of_val(self)
    }
}

#[cfg(test)]
mod tests;
