use super::*;
use arrow::array::{Array, ArrayRef, AsArray, Int64Array};
use arrow::datatypes::{Field, Int64Type};
use datafusion::common::config::ConfigOptions;

fn call(op: Op, a: ColumnarValue, b: ColumnarValue, rows: usize) -> Result<ColumnarValue> {
    let udf = CheckedArithmetic::udf(op);
    let field = Arc::new(Field::new("x", DataType::Int64, true));
    udf.invoke_with_args(ScalarFunctionArgs {
        args: vec![a, b],
        arg_fields: vec![field.clone(), field.clone()],
        number_rows: rows,
        return_field: field,
        config_options: Arc::new(ConfigOptions::default()),
    })
}

#[test]
fn integers_add_and_multiply_as_usual() {
    let a: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, Some(-4)]));
    let out = call(
        Op::Mul,
        ColumnarValue::Array(a),
        ColumnarValue::Scalar(ScalarValue::Int64(Some(3))),
        3,
    )
    .unwrap();
    let ColumnarValue::Array(out) = out else {
        panic!("an array in, an array out")
    };
    let out = out.as_primitive::<Int64Type>();
    assert_eq!(out.value(0), 3);
    assert!(out.is_null(1));
    assert_eq!(out.value(2), -12);
}

#[test]
fn overflow_is_an_error_not_a_wrapped_number() {
    let max = || ColumnarValue::Scalar(ScalarValue::Int64(Some(i64::MAX)));
    let one = ColumnarValue::Scalar(ScalarValue::Int64(Some(1)));
    let err = call(Op::Add, max(), one, 1).unwrap_err();
    assert!(err.to_string().contains("Overflow"), "{err}");
    let two = ColumnarValue::Scalar(ScalarValue::Int64(Some(2)));
    assert!(call(Op::Mul, max(), two, 1).is_err());
    let min = ColumnarValue::Scalar(ScalarValue::Int64(Some(i64::MIN)));
    let one = ColumnarValue::Scalar(ScalarValue::Int64(Some(1)));
    assert!(call(Op::Sub, min, one, 1).is_err());
}
