//! PostgreSQL's text form of a one-dimensional array, `{1,2,NULL}`, read
//! into its elements' texts: the form `array_in` reads in SQL and that
//! array columns take from CSV, `COPY` and JSON text.
//!
//! Elements are quoted where they hold a comma, a brace, a quote, a
//! backslash or spaces (`{"a b","c\"d"}`); an unquoted `NULL` is a NULL
//! element. Arrays of more than one dimension, and explicit bounds, are
//! refused as unsupported.

/// Why a text is not an array literal, or what Floe does not read in one.
#[derive(Debug, PartialEq, Eq)]
pub enum LiteralError {
    /// Not PostgreSQL's array form; the reason is PostgreSQL's detail.
    Malformed(&'static str),
    /// An array of more than one dimension, or with explicit bounds.
    Unsupported(&'static str),
}

/// The elements of PostgreSQL's text form of a one-dimensional array,
/// `None` for an unquoted NULL.
pub fn parse_literal(text: &str) -> Result<Vec<Option<String>>, LiteralError> {
    use LiteralError::{Malformed, Unsupported};
    let body = text.trim_start();
    if body.starts_with('[') {
        return Err(Unsupported("array bounds ([1:2]={...})"));
    }
    let Some(inner) = body.strip_prefix('{') else {
        return Err(Malformed(
            "Array value must start with \"{\" or dimension information.",
        ));
    };
    let mut chars = inner.chars().peekable();
    let mut elements = Vec::new();
    skip_spaces(&mut chars);
    if chars.peek() == Some(&'}') {
        chars.next();
    } else {
        loop {
            skip_spaces(&mut chars);
            let element = match chars.peek() {
                Some('"') => {
                    chars.next();
                    let value = read_quoted(&mut chars)?;
                    skip_spaces(&mut chars);
                    Some(value)
                }
                Some('{') => return Err(Unsupported("arrays of more than one dimension")),
                Some(',') => return Err(Malformed("Unexpected \",\" character.")),
                Some('}') => return Err(Malformed("Unexpected \"}\" character.")),
                None => return Err(Malformed("Unexpected end of input.")),
                Some(_) => {
                    let (value, escaped) = read_unquoted(&mut chars)?;
                    (escaped || !value.eq_ignore_ascii_case("NULL")).then_some(value)
                }
            };
            elements.push(element);
            match chars.next() {
                Some(',') => {}
                Some('}') => break,
                None => return Err(Malformed("Unexpected end of input.")),
                Some(_) => return Err(Malformed("Unexpected array element.")),
            }
        }
    }
    if chars.any(|c| !c.is_whitespace()) {
        return Err(Malformed("Junk after closing right brace."));
    }
    Ok(elements)
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

fn skip_spaces(chars: &mut Chars) {
    while chars.next_if(|c| c.is_whitespace()).is_some() {}
}

/// A quoted element after its opening quote, through its closing one.
fn read_quoted(chars: &mut Chars) -> Result<String, LiteralError> {
    let mut value = String::new();
    loop {
        match chars.next() {
            None => return Err(LiteralError::Malformed("Unexpected end of input.")),
            Some('"') => return Ok(value),
            Some('\\') => match chars.next() {
                Some(c) => value.push(c),
                None => return Err(LiteralError::Malformed("Unexpected end of input.")),
            },
            Some(c) => value.push(c),
        }
    }
}

/// An unquoted element, up to the comma or brace after it (not taken),
/// without trailing spaces, and whether it had an escaped character.
fn read_unquoted(chars: &mut Chars) -> Result<(String, bool), LiteralError> {
    let mut value = String::new();
    let mut escaped = false;
    // The length of `value` through its last character that is not an
    // unescaped space.
    let mut kept = 0;
    while let Some(&c) = chars.peek() {
        match c {
            ',' | '}' => break,
            '{' => return Err(LiteralError::Malformed("Unexpected \"{\" character.")),
            '"' => return Err(LiteralError::Malformed("Unexpected array element.")),
            '\\' => {
                chars.next();
                let Some(next) = chars.next() else {
                    return Err(LiteralError::Malformed("Unexpected end of input."));
                };
                value.push(next);
                kept = value.len();
                escaped = true;
                continue;
            }
            _ => {
                value.push(c);
                if !c.is_whitespace() {
                    kept = value.len();
                }
            }
        }
        chars.next();
    }
    value.truncate(kept);
    Ok((value, escaped))
}

#[cfg(test)]
mod tests;
