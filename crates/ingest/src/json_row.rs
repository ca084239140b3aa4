//! One NDJSON line read as the members of a flat JSON object, in one pass.
//!
//! Event rows are objects of scalars, now and then with a nested object or
//! array kept as its JSON text. [`members`] reads such a line directly into
//! the text each column parses, validating it as JSON as it goes, at a
//! fraction of the cost of a general parser building raw values first.
//!
//! It answers only for lines it can fully vouch for. Anything else (a
//! syntax error, an escape it does not unescape, nesting deeper than
//! [`MAX_DEPTH`]) answers `false`, and the caller reads the line with
//! `serde_json`, which accepts or names the error as before. So the fast
//! path can change speed, never which rows are accepted or what they hold.
//! [`raw_members`] is that general reader: members as raw JSON values.

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde_json::value::RawValue;

/// Nested values deeper than this go to the general parser (whose own
/// limit is 128 levels, counted from the row).
const MAX_DEPTH: usize = 64;

/// The bytes that end a run of plain string contents: the closing quote,
/// an escape, and the control characters JSON does not allow in strings.
static STOPS: [bool; 256] = {
    let mut stops = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        stops[b] = true;
        b += 1;
    }
    stops[b'"' as usize] = true;
    stops[b'\\' as usize] = true;
    stops
};

/// A member: its key, and its value as column text (`None` for JSON null).
pub(crate) type Member<'a> = (Cow<'a, str>, Option<Cow<'a, str>>);

/// Reads `line` (one JSON object) into `out`, in the order written:
/// strings unescaped, other scalars as written, nested objects and arrays as
/// their JSON text, null as `None`. `false` (with `out` in any state) if
/// the line is not an object this reader vouches for.
pub(crate) fn members<'a>(line: &'a str, out: &mut Vec<Member<'a>>) -> bool {
    out.clear();
    let mut scan = Scan {
        text: line,
        bytes: line.as_bytes(),
        at: 0,
    };
    scan.object(out).is_some()
}

struct Scan<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    fn object(&mut self, out: &mut Vec<Member<'a>>) -> Option<()> {
        self.space();
        self.expect(b'{')?;
        self.space();
        if self.peek()? == b'}' {
            self.at += 1;
        } else {
            loop {
                self.space();
                let key = self.string()?;
                self.space();
                self.expect(b':')?;
                self.space();
                let value = self.value()?;
                out.push((key, value));
                self.space();
                match self.peek()? {
                    b',' => self.at += 1,
                    b'}' => {
                        self.at += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.space();
        (self.at == self.bytes.len()).then_some(())
    }

    /// A value as column text.
    fn value(&mut self) -> Option<Option<Cow<'a, str>>> {
        let start = self.at;
        match self.peek()? {
            b'"' => return Some(Some(self.string()?)),
            b'{' | b'[' => self.nested()?,
            b'-' | b'0'..=b'9' => self.number()?,
            b't' => self.word(b"true")?,
            b'f' => self.word(b"false")?,
            b'n' => {
                self.word(b"null")?;
                return Some(None);
            }
            _ => return None,
        }
        Some(Some(Cow::Borrowed(&self.text[start..self.at])))
    }

    fn word(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => self.digits()?,
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.digits()?;
        }
        Some(())
    }

    /// One or more digits.
    fn digits(&mut self) -> Option<()> {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        (self.at > start).then_some(())
    }

    /// A string (at its opening quote), unescaped.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.expect(b'"')?;
        let start = self.at;
        let (end, escaped) = self.string_end()?;
        self.at = end + 1;
        if !escaped {
            return Some(Cow::Borrowed(&self.text[start..end]));
        }
        // Escapes are rare: the general parser unescapes (and checks) them.
        serde_json::from_str::<String>(&self.text[start - 1..=end])
            .ok()
            .map(Cow::Owned)
    }

    /// The position of the closing quote of the string whose contents start
    /// here, and whether it holds escapes; stepping over each escape
    /// (checked to be one JSON allows). `None` at a control character,
    /// which JSON does not allow in a string.
    fn string_end(&self) -> Option<(usize, bool)> {
        let bytes = self.bytes;
        let mut at = self.at;
        let mut escaped = false;
        loop {
            while at < bytes.len() && !STOPS[usize::from(bytes[at])] {
                at += 1;
            }
            match *bytes.get(at)? {
                b'"' => return Some((at, escaped)),
                b'\\' => {
                    escaped = true;
                    match *bytes.get(at + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => at += 2,
                        b'u' => {
                            let hex = bytes.get(at + 2..at + 6)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            at += 6;
                        }
                        _ => return None,
                    }
                }
                _ => return None,
            }
        }
    }

    /// A nested object or array, skipped to its end and checked by the
    /// general parser.
    fn nested(&mut self) -> Option<()> {
        let start = self.at;
        let mut depth = 0usize;
        loop {
            match self.peek()? {
                b'{' | b'[' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return None;
                    }
                    self.at += 1;
                }
                b'}' | b']' => {
                    depth -= 1;
                    self.at += 1;
                    if depth == 0 {
                        break;
                    }
                }
                b'"' => {
                    self.at += 1;
                    self.at = self.string_end()?.0 + 1;
                }
                _ => self.at += 1,
            }
        }
        serde_json::from_str::<IgnoredAny>(&self.text[start..self.at])
            .is_ok()
            .then_some(())
    }
}

/// The members of `line` (one JSON object) as the general parser reads
/// them: values as raw JSON text.
pub(crate) fn raw_members(line: &str) -> serde_json::Result<Vec<(Cow<'_, str>, &RawValue)>> {
    serde_json::from_str::<RawObject>(line).map(|RawObject(members)| members)
}

/// A JSON value (raw text) as the text a column parses: strings unescaped,
/// other scalars as written, objects and arrays as their JSON text; `None`
/// for JSON null. A string whose escapes are not text (a lone surrogate,
/// `"\ud800"`) is an error, never a NULL.
pub(crate) fn raw_text(raw: &str) -> Result<Option<Cow<'_, str>>, String> {
    let raw = raw.trim();
    Ok(match raw.as_bytes().first() {
        Some(b'"') => {
            let inner = &raw[1..raw.len() - 1];
            if inner.contains('\\') {
                let text = serde_json::from_str::<String>(raw).map_err(|e| {
                    // The position is within the value; the caller names
                    // the line and the field.
                    let message = e.to_string();
                    let message = message.split(" at line ").next().unwrap_or_default();
                    format!("invalid JSON string {raw}: {message}")
                })?;
                Some(Cow::Owned(text))
            } else {
                Some(Cow::Borrowed(inner))
            }
        }
        _ if raw == "null" => None,
        _ => Some(Cow::Borrowed(raw)),
    })
}

/// A JSON object's members in body order, values as raw text; keys are
/// borrowed from the body unless they hold escapes.
struct RawObject<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

/// An object key, borrowed when possible.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Key<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Key<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Key<'a>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<Key<'a>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> std::result::Result<Key<'a>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for RawObject<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = RawObject<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<RawObject<'a>, A::Error> {
                let mut members = Vec::new();
                while let Some(Key(k)) = map.next_key::<Key<'a>>()? {
                    let v: &'a RawValue = map.next_value()?;
                    members.push((k, v));
                }
                Ok(RawObject(members))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests;
