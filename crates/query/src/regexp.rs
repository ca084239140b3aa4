//! `regexp_replace` as PostgreSQL's: its replacement text, its flags and
//! its default regular-expression semantics.
//!
//! - In the replacement, `\1`..`\9` are the groups, `\&` the whole match
//!   and `\\` a backslash; everything else is text (`$1` is `$1`).
//!   DataFusion's reads `$1` as a group and `\\1` as one too, so a
//!   replacement meant literally answered differently.
//! - `.` matches a newline and `^`/`$` match only at the ends of the text
//!   unless the flags say otherwise (PostgreSQL's default; Rust's regular
//!   expressions default to the opposite).
//! - The flags are PostgreSQL's: `g` every match, `i`/`c` case, `n`/`m`
//!   newline-sensitive, `p`/`w` partly so, `s` not, `x` expanded, `q` the
//!   pattern is literal text; any other letter is an error (22023).
//!
//! A pattern Rust's regular expressions cannot read (a back-reference
//! such as `(a)\1`) is an error, never a different match.
//!
//! The match operators `~`, `~*`, `!~` and `!~*` with a literal pattern
//! match with PostgreSQL's default too: `.` matches a newline
//! ([`PgRegexOperators`], after type coercion).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::expr::BinaryExpr;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::logical_expr::{Expr, LogicalPlan, Operator};
use datafusion::optimizer::AnalyzerRule;
use datafusion::scalar::ScalarValue;
use regex::Regex;

/// A pattern with PostgreSQL's flags, compiled; and whether every match
/// is replaced (`g`).
fn compile(pattern: &str, flags: &str) -> Result<(Regex, bool)> {
    let mut global = false;
    let (mut case_insensitive, mut dot_newline, mut multi_line) = (false, true, false);
    let (mut extended, mut quoted) = (false, false);
    for flag in flags.chars() {
        match flag {
            'g' => global = true,
            'i' => case_insensitive = true,
            'c' => case_insensitive = false,
            'n' | 'm' => (dot_newline, multi_line) = (false, true),
            'p' => (dot_newline, multi_line) = (false, false),
            'w' => (dot_newline, multi_line) = (true, true),
            's' => (dot_newline, multi_line) = (true, false),
            'x' => extended = true,
            'q' => quoted = true,
            'e' => {}
            other => return exec_err!("invalid regular expression option: \"{other}\""),
        }
    }
    let body = if quoted {
        regex::escape(pattern)
    } else {
        pattern.to_string()
    };
    let mut prefix = String::from("(?");
    for (on, letter) in [
        (case_insensitive, 'i'),
        (dot_newline, 's'),
        (multi_line, 'm'),
        (extended && !quoted, 'x'),
    ] {
        if on {
            prefix.push(letter);
        }
    }
    let full = if prefix.len() > 2 {
        format!("{prefix}){body}")
    } else {
        body
    };
    match Regex::new(&full) {
        Ok(re) => Ok((re, global)),
        Err(e) => exec_err!("invalid regular expression \"{pattern}\": {e}"),
    }
}

/// `replacement` with PostgreSQL's escapes resolved against `captures`.
fn expand(replacement: &str, captures: &regex::Captures, out: &mut String) {
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some(d @ '1'..='9') => {
                chars.next();
                let group = d as usize - '0' as usize;
                if let Some(m) = captures.get(group) {
                    out.push_str(m.as_str());
                }
            }
            Some('&') => {
                chars.next();
                out.push_str(&captures[0]);
            }
            Some('\\') => {
                chars.next();
                out.push('\\');
            }
            _ => out.push('\\'),
        }
    }
}

/// `text` with the first match of `re` (every match when `global`)
/// replaced.
fn replace(text: &str, re: &Regex, replacement: &str, global: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for captures in re.captures_iter(text) {
        let whole = captures.get(0).expect("group 0 is the match");
        out.push_str(&text[last..whole.start()]);
        expand(replacement, &captures, &mut out);
        last = whole.end();
        if !global {
            break;
        }
    }
    out.push_str(&text[last..]);
    out
}

/// A function's arguments as arrays of text, and whether all were scalars.
fn text_arrays(args: &ScalarFunctionArgs) -> Result<(Vec<ArrayRef>, bool)> {
    let (arrays, scalar) = crate::columnar::arrays(&args.args, args.number_rows)?;
    let arrays = arrays
        .iter()
        .map(|a| Ok(cast(a, &DataType::Utf8)?))
        .collect::<Result<Vec<ArrayRef>>>()?;
    Ok((arrays, scalar))
}

/// `regexp_replace(source, pattern, replacement [, flags])`, PostgreSQL's.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct PgRegexpReplace {
    aliases: Vec<String>,
    signature: Signature,
}

impl PgRegexpReplace {
    pub(crate) fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(PgRegexpReplace {
            aliases: datafusion::functions::regex::regexp_replace()
                .aliases()
                .to_vec(),
            signature: Signature::user_defined(Volatility::Immutable),
        })
    }
}

impl ScalarUDFImpl for PgRegexpReplace {
    fn name(&self) -> &str {
        "regexp_replace"
    }

    // DataFusion's function's names, so it is replaced under each.
    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types.len() {
            3 | 4 => {}
            n => {
                return plan_err!(
                    "regexp_replace takes 3 or 4 arguments (source, pattern, replacement \
                     [, flags]), not {n}"
                );
            }
        }
        if let Some(t) = arg_types.get(3)
            && t.is_integer()
        {
            return plan_err!(
                "regexp_replace with a start position is not supported (use the flags form)"
            );
        }
        Ok(vec![DataType::Utf8; arg_types.len()])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, scalar) = text_arrays(&args)?;
        let rows = arrays.first().map_or(0, |a| a.len());
        let strings: Vec<&StringArray> = arrays.iter().map(|a| a.as_string()).collect();
        let mut compiled: Option<((String, String), (Regex, bool))> = None;
        let mut out = Vec::with_capacity(rows);
        for row in 0..rows {
            if strings.iter().any(|s| s.is_null(row)) {
                out.push(None);
                continue;
            }
            let (text, pattern, replacement) = (
                strings[0].value(row),
                strings[1].value(row),
                strings[2].value(row),
            );
            let flags = strings.get(3).map_or("", |s| s.value(row));
            let fresh = compiled
                .as_ref()
                .is_none_or(|((p, f), _)| p != pattern || f != flags);
            if fresh {
                compiled = Some((
                    (pattern.to_string(), flags.to_string()),
                    compile(pattern, flags)?,
                ));
            }
            let (re, global) = &compiled.as_ref().expect("compiled above").1;
            out.push(Some(replace(text, re, replacement, *global)));
        }
        crate::columnar::answer(Arc::new(StringArray::from(out)), scalar)
    }
}

/// `substring(text FROM pattern)`, PostgreSQL's: the part of the text
/// the first parenthesized subexpression matched when the pattern has
/// one, the whole first match otherwise; NULL without a match. Floe's
/// parser writes that form as a call of this function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct PgSubstringPattern {
    signature: Signature,
}

impl PgSubstringPattern {
    /// The function's name.
    pub(crate) const NAME: &'static str = "substring_regex";

    pub(crate) fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(PgSubstringPattern {
            signature: Signature::user_defined(Volatility::Immutable),
        })
    }
}

impl ScalarUDFImpl for PgSubstringPattern {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types.len() {
            2 => Ok(vec![DataType::Utf8; 2]),
            n => plan_err!(
                "{} takes a text and a pattern, not {n} arguments",
                Self::NAME
            ),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, scalar) = text_arrays(&args)?;
        let (text, pattern) = (arrays[0].as_string::<i32>(), arrays[1].as_string::<i32>());
        let mut compiled: Option<(String, Regex)> = None;
        let mut out = Vec::with_capacity(text.len());
        for row in 0..text.len() {
            if text.is_null(row) || pattern.is_null(row) {
                out.push(None);
                continue;
            }
            let p = pattern.value(row);
            if compiled.as_ref().is_none_or(|(q, _)| q != p) {
                compiled = Some((p.to_string(), compile(p, "")?.0));
            }
            let re = &compiled.as_ref().expect("compiled above").1;
            let group = if re.captures_len() > 1 { 1 } else { 0 };
            out.push(
                re.captures(text.value(row))
                    .and_then(|c| c.get(group))
                    .map(|m| m.as_str().to_string()),
            );
        }
        crate::columnar::answer(Arc::new(StringArray::from(out)), scalar)
    }
}

/// The flag that makes `.` match a newline, PostgreSQL's default.
const DOT_NEWLINE: &str = "(?s)";

/// The analyzer rule that gives the match operators PostgreSQL's
/// default semantics (see the module's doc).
#[derive(Debug, Default)]
pub struct PgRegexOperators;

impl PgRegexOperators {
    fn rewrite(e: &Expr) -> Option<Expr> {
        let Expr::BinaryExpr(BinaryExpr { left, op, right }) = e else {
            return None;
        };
        if !matches!(
            op,
            Operator::RegexMatch
                | Operator::RegexIMatch
                | Operator::RegexNotMatch
                | Operator::RegexNotIMatch
        ) {
            return None;
        }
        let Expr::Literal(pattern, metadata) = right.as_ref() else {
            return None;
        };
        let with_flag =
            |p: &String| (!p.starts_with(DOT_NEWLINE)).then(|| format!("{DOT_NEWLINE}{p}"));
        let pattern = match pattern {
            ScalarValue::Utf8(Some(p)) => ScalarValue::Utf8(Some(with_flag(p)?)),
            ScalarValue::Utf8View(Some(p)) => ScalarValue::Utf8View(Some(with_flag(p)?)),
            ScalarValue::LargeUtf8(Some(p)) => ScalarValue::LargeUtf8(Some(with_flag(p)?)),
            _ => return None,
        };
        Some(Expr::BinaryExpr(BinaryExpr::new(
            left.clone(),
            *op,
            Box::new(Expr::Literal(pattern, metadata.clone())),
        )))
    }
}

impl AnalyzerRule for PgRegexOperators {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        Ok(crate::rewrite::rewrite_expressions(plan, &|e, _| Ok(Self::rewrite(e)))?.data)
    }

    fn name(&self) -> &str {
        "floe_pg_regex_operators"
    }
}

#[cfg(test)]
mod tests;
