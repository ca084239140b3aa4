//! Input functions: text read into a type the way PostgreSQL reads it,
//! where Arrow's cast would read it otherwise (`bytea`'s hex and escape
//! forms, arrays' `{...}`), and the analyzer rule that sends every cast
//! from text to such a type (written in SQL, or added by INSERT or by
//! type coercion) through its function.

use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::{Cast, ScalarFunction};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;

use crate::rewrite::rewrite_casts;

/// Reads a column of text, or fails with the error PostgreSQL gives.
pub(crate) type Reader = fn(&StringArray) -> Result<ArrayRef>;

/// A function of one text argument giving `output`, read by `read`; two
/// are the same function when their names are.
#[derive(Debug)]
pub(crate) struct TextInput {
    name: &'static str,
    output: DataType,
    read: Reader,
    signature: Signature,
}

impl TextInput {
    /// The function `name(text)`, ready to call in a plan.
    pub(crate) fn udf(name: &'static str, output: DataType, read: Reader) -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::new_from_impl(TextInput {
            name,
            output,
            read,
            signature: Signature::string(1, Volatility::Immutable),
        }))
    }
}

impl PartialEq for TextInput {
    fn eq(&self, other: &TextInput) -> bool {
        self.name == other.name
    }
}

impl Eq for TextInput {}

impl std::hash::Hash for TextInput {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for TextInput {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.output.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, scalar) = crate::columnar::arrays(&args.args, args.number_rows)?;
        let [text] = arrays.as_slice() else {
            return datafusion::common::exec_err!("{} takes one argument", self.name);
        };
        let text = cast(text, &DataType::Utf8)?;
        let read = (self.read)(text.as_any().downcast_ref().expect("cast to Utf8"))?;
        crate::columnar::answer(read, scalar)
    }
}

/// The analyzer rule that replaces a cast from text to a type `accepts`
/// takes by a call of `udf`, cast on to that type where the function's
/// output differs.
#[derive(Debug)]
pub(crate) struct TextInputCasts {
    rule: &'static str,
    udf: Arc<ScalarUDF>,
    accepts: fn(&DataType) -> bool,
}

impl TextInputCasts {
    pub(crate) fn new(
        rule: &'static str,
        udf: Arc<ScalarUDF>,
        accepts: fn(&DataType) -> bool,
    ) -> TextInputCasts {
        TextInputCasts { rule, udf, accepts }
    }

    fn rewrite(&self, expr: &Expr, to: &DataType, schema: &DFSchema) -> Option<Expr> {
        if !(self.accepts)(to) {
            return None;
        }
        let from = expr.get_type(schema).ok()?;
        if !matches!(
            from,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ) {
            return None;
        }
        let call = Expr::ScalarFunction(ScalarFunction::new_udf(
            self.udf.clone(),
            vec![expr.clone()],
        ));
        let output = call.get_type(schema).ok()?;
        Some(if output == *to {
            call
        } else {
            Expr::Cast(Cast::new(Box::new(call), to.clone()))
        })
    }
}

impl AnalyzerRule for TextInputCasts {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_casts(plan, &|expr, to, schema| self.rewrite(expr, to, schema))
    }

    fn name(&self) -> &str {
        self.rule
    }
}
