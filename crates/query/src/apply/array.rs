//! PostgreSQL's array constructor over a subquery, `ARRAY(SELECT ...)`:
//! the subquery's one column as an array, rows in the subquery's order,
//! `{}` for no rows. DataFusion's planner has no such expression, so the
//! statement names it [`ARRAY_SUBQUERY`] over a scalar subquery (see
//! [`array_subqueries`]), and [`super::PgSubqueries`] always makes that a
//! call, which collects every row the subquery gives.

use std::ops::ControlFlow;

use crate::pg_syntax::names_function;
use arrow::datatypes::{DataType, Field};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Subquery,
    Volatility,
};
use datafusion::sql::sqlparser::ast::{
    self as sql, FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments, Ident,
    ObjectName, SelectItem, Statement, VisitMut, VisitorMut,
};

/// The function name `ARRAY(subquery)` is planned under.
pub(crate) const ARRAY_SUBQUERY: &str = "array_subquery";

/// Rewrites every `ARRAY(subquery)` of `stmt` into a call of
/// [`ARRAY_SUBQUERY`] over the subquery; as a SELECT list item without
/// an alias it keeps PostgreSQL's column name, `array`.
pub(crate) fn array_subqueries(stmt: &mut Statement) {
    struct Arrays;
    impl VisitorMut for Arrays {
        type Break = ();
        fn post_visit_expr(&mut self, expr: &mut sql::Expr) -> ControlFlow<()> {
            if let sql::Expr::Function(f) = expr
                && is_array_constructor(f)
                && let FunctionArguments::Subquery(query) = &f.args
            {
                let query = query.clone();
                f.name = ObjectName::from(vec![Ident::new(ARRAY_SUBQUERY)]);
                f.args = FunctionArguments::List(FunctionArgumentList {
                    duplicate_treatment: None,
                    args: vec![FunctionArg::Unnamed(FunctionArgExpr::Expr(
                        sql::Expr::Subquery(query),
                    ))],
                    clauses: vec![],
                });
            }
            ControlFlow::Continue(())
        }

        fn pre_visit_query(&mut self, query: &mut sql::Query) -> ControlFlow<()> {
            if let sql::SetExpr::Select(select) = query.body.as_mut() {
                for item in &mut select.projection {
                    if let SelectItem::UnnamedExpr(e) = item
                        && matches!(e, sql::Expr::Function(f) if is_array_constructor(f))
                    {
                        *item = SelectItem::ExprWithAlias {
                            expr: e.clone(),
                            alias: Ident::new("array"),
                        };
                    }
                }
            }
            ControlFlow::Continue(())
        }
    }
    let _ = stmt.visit(&mut Arrays);
}

/// Whether `f` is `ARRAY(subquery)` as written.
fn is_array_constructor(f: &sql::Function) -> bool {
    matches!(f.args, FunctionArguments::Subquery(_)) && names_function(&f.name, "array")
}

/// The subquery of `expr` if it is `ARRAY(subquery)` as planned.
pub(super) fn array_subquery(expr: &Expr) -> Option<&Subquery> {
    match expr {
        Expr::ScalarFunction(f) if f.func.name() == ARRAY_SUBQUERY => match f.args.as_slice() {
            [Expr::ScalarSubquery(sq)] => Some(sq),
            _ => None,
        },
        _ => None,
    }
}

/// The type of `ARRAY(subquery)` whose column is of type `element`.
pub(super) fn array_type(element: &DataType) -> DataType {
    DataType::List(std::sync::Arc::new(Field::new_list_field(
        element.clone(),
        true,
    )))
}

/// The function `ARRAY(subquery)` is planned as until it becomes a call;
/// it never runs itself.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct ArraySubquery {
    signature: Signature,
}

impl ArraySubquery {
    pub(crate) fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(ArraySubquery {
            signature: Signature::any(1, Volatility::Volatile),
        })
    }
}

impl ScalarUDFImpl for ArraySubquery {
    fn name(&self) -> &str {
        ARRAY_SUBQUERY
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [element] => Ok(array_type(element)),
            _ => plan_err!("ARRAY(subquery) takes one subquery"),
        }
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        exec_err!("{ARRAY_SUBQUERY}() takes a subquery: write ARRAY(SELECT ...)")
    }
}
