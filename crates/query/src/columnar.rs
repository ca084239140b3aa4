//! The arguments and answer of a scalar function as Arrow arrays: the
//! functions Floe defines compute on arrays, and answer a scalar when
//! every argument was one.

use arrow::array::ArrayRef;
use datafusion::common::Result;
use datafusion::logical_expr::ColumnarValue;
use datafusion::scalar::ScalarValue;

/// The arguments of a call as arrays of one length, and whether they all
/// were scalars (the answer is then a scalar too).
pub(crate) fn arrays(args: &[ColumnarValue], rows: usize) -> Result<(Vec<ArrayRef>, bool)> {
    let scalar = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let rows = if scalar { 1 } else { rows };
    let arrays = args
        .iter()
        .map(|a| a.clone().into_array(rows))
        .collect::<Result<Vec<_>>>()?;
    Ok((arrays, scalar))
}

pub(crate) fn answer(array: ArrayRef, scalar: bool) -> Result<ColumnarValue> {
    Ok(if scalar {
        ColumnarValue::Scalar(ScalarValue::try_from_array(&array, 0)?)
    } else {
        ColumnarValue::Array(array)
    })
}
