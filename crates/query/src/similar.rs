//! SQL's regular expressions (`SIMILAR TO`) as PostgreSQL reads them.
//!
//! PostgreSQL turns a `SIMILAR TO` pattern into a POSIX regular
//! expression with `similar_to_escape(pattern [, escape])` and matches
//! that: the pattern must match the whole text, `%` is any text, `_` any
//! character, `(...)` groups without capturing, and two escape-double-quote
//! separators (`#"` with `ESCAPE '#'`) mark the part
//! `substring(text SIMILAR pattern ESCAPE '#')` returns. Floe's parser
//! writes `a [NOT] SIMILAR TO p [ESCAPE e]` as `a ~ similar_to_escape(p, e)`
//! (`!~`) and `substring(a FROM p FOR e)` as the regular-expression
//! substring of `similar_to_escape(p, e)`, as PostgreSQL does; DataFusion's
//! own `SIMILAR TO` matches the pattern as a regular expression
//! (`'abc' SIMILAR TO 'a%'` was false).

use std::sync::Arc;

use arrow::array::{Array, AsArray, StringArray};
use arrow::datatypes::DataType;
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use floe_common::Status;

use crate::error::QueryError;

/// `pattern` as a POSIX regular expression; `escape` is the escape
/// character (`None`: a backslash; `Some("")`: none).
pub(crate) fn to_regex(pattern: &str, escape: Option<&str>) -> Result<String, QueryError> {
    let escape = match escape {
        None => Some('\\'),
        Some(e) => {
            let mut chars = e.chars();
            match (chars.next(), chars.next()) {
                (None, _) => None,
                (Some(c), None) => Some(c),
                _ => {
                    return Err(QueryError::InvalidArgument {
                        status: Status::InvalidEscapeSequence,
                        message:
                            "invalid escape string: escape string must be empty or one character"
                                .into(),
                    });
                }
            }
        }
    };
    let mut out = String::from("^(?:");
    let (mut after_escape, mut in_class, mut quotes) = (false, false, 0);
    // Characters since a class opened: `]` first (after an optional `^`)
    // is a member, not the end.
    let mut class_len = 0;
    for c in pattern.chars() {
        if after_escape {
            if c == '"' && !in_class {
                quotes += 1;
                match quotes {
                    1 => out.push_str("){1,1}?("),
                    2 => out.push_str("){1,1}(?:"),
                    _ => {
                        return Err(QueryError::InvalidArgument {
                            status: Status::InvalidRegularExpression,
                            message: "SQL regular expression may not contain more than two \
                                      escape-double-quote separators"
                                .into(),
                        });
                    }
                }
            } else {
                out.push('\\');
                out.push(c);
            }
            after_escape = false;
        } else if Some(c) == escape {
            after_escape = true;
        } else if in_class {
            if c == '\\' {
                out.push('\\');
            }
            out.push(c);
            if c == ']' && !(class_len == 0 || (class_len == 1 && out.ends_with("^]"))) {
                in_class = false;
            }
            class_len += 1;
        } else {
            match c {
                '[' => {
                    out.push('[');
                    in_class = true;
                    class_len = 0;
                }
                '%' => out.push_str(".*"),
                '_' => out.push('.'),
                '(' => out.push_str("(?:"),
                '\\' | '.' | '^' | '$' => {
                    out.push('\\');
                    out.push(c);
                }
                c => out.push(c),
            }
        }
    }
    out.push_str(")$");
    Ok(out)
}

/// PostgreSQL's `similar_to_escape(pattern [, escape])`: the POSIX
/// regular expression of a `SIMILAR TO` pattern.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct SimilarToEscape {
    signature: Signature,
}

impl SimilarToEscape {
    /// The function's name, PostgreSQL's.
    pub(crate) const NAME: &'static str = "similar_to_escape";

    pub(crate) fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(SimilarToEscape {
            signature: Signature::user_defined(Volatility::Immutable),
        })
    }
}

impl ScalarUDFImpl for SimilarToEscape {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types.len() {
            1 | 2 => Ok(vec![DataType::Utf8; arg_types.len()]),
            n => plan_err!(
                "{} takes a pattern and an optional escape, not {n} arguments",
                Self::NAME
            ),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, scalar) = crate::columnar::arrays(&args.args, args.number_rows)?;
        let pattern = arrays[0].as_string::<i32>();
        let escape = arrays.get(1).map(|a| a.as_string::<i32>());
        let mut out = Vec::with_capacity(pattern.len());
        for row in 0..pattern.len() {
            let escape = match escape {
                Some(e) if e.is_null(row) => {
                    out.push(None);
                    continue;
                }
                Some(e) => Some(e.value(row)),
                None => None,
            };
            if pattern.is_null(row) {
                out.push(None);
                continue;
            }
            let regex =
                to_regex(pattern.value(row), escape).map_err(QueryError::into_datafusion)?;
            out.push(Some(regex));
        }
        crate::columnar::answer(Arc::new(StringArray::from(out)), scalar)
    }
}

#[cfg(test)]
mod tests;
