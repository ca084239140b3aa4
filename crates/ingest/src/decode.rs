//! Event bodies (NDJSON, a JSON array, CSV with a header, an Arrow IPC
//! stream) into one record batch of a table's schema, naming every row
//! that does not fit.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, RecordBatch, RecordBatchOptions, StringBuilder};
use arrow::compute::filter;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::json_row;
use crate::values::{parse_column, type_name};

/// Why a member naming no column rejects its row.
const NO_SUCH_COLUMN: &str = "the table has no such column";
use crate::{IngestError, Result};

/// At most this many rejected rows are described in an error.
pub const MAX_REPORTED: usize = 100;

/// The body formats `POST /v1/tables/{table}/rows` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line (`application/x-ndjson`).
    Ndjson,
    /// A JSON array of objects (`application/json`).
    JsonArray,
    /// CSV with a header line (`text/csv`).
    Csv,
    /// An Arrow IPC stream (`application/vnd.apache.arrow.stream`).
    ArrowIpc,
}

impl Format {
    /// The format named by a `Content-Type` header; NDJSON when there is none.
    pub fn from_content_type(content_type: Option<&str>) -> Result<Format> {
        let Some(ct) = content_type else {
            return Ok(Format::Ndjson);
        };
        let essence = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/x-ndjson"
            | "application/ndjson"
            | "application/jsonl"
            | "application/x-jsonlines" => Ok(Format::Ndjson),
            "application/json" => Ok(Format::JsonArray),
            "text/csv" => Ok(Format::Csv),
            "application/vnd.apache.arrow.stream" | "application/x-arrow-stream" => {
                Ok(Format::ArrowIpc)
            }
            _ => Err(IngestError::UnsupportedFormat {
                content_type: ct.to_string(),
            }),
        }
    }

    /// How rows are counted in error messages.
    pub fn row_word(self) -> &'static str {
        match self {
            Format::JsonArray => "index",
            Format::ArrowIpc => "row",
            Format::Ndjson | Format::Csv => "line",
        }
    }
}

/// A row that does not fit the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The line (NDJSON, CSV; from 1) or array index (JSON; from 0).
    pub row: u64,
    /// The field at fault, if one is.
    pub field: Option<String>,
    /// What is wrong.
    pub reason: String,
    /// The row as it was sent.
    pub raw: String,
}

/// The rows of a body that fit the table, and those that do not.
#[derive(Debug)]
pub struct Decoded {
    /// Rows that fit, in the table's Arrow schema.
    pub batch: RecordBatch,
    /// Rows that do not fit, in body order (one entry per row).
    pub rejected: Vec<Rejected>,
}

/// Undoes a `Content-Encoding` (gzip, zstd or identity), refusing output
/// larger than `limit` bytes. An identity body is answered as it is.
pub fn decompress<'a>(
    encoding: Option<&str>,
    body: &'a [u8],
    limit: usize,
) -> Result<Cow<'a, [u8]>> {
    let encoding = encoding.map(|e| e.trim().to_ascii_lowercase());
    let reader: Box<dyn Read + '_> = match encoding.as_deref() {
        None | Some("") | Some("identity") => return Ok(Cow::Borrowed(body)),
        Some("gzip") | Some("x-gzip") => Box::new(flate2::read::MultiGzDecoder::new(body)),
        Some("zstd") => Box::new(zstd::stream::read::Decoder::new(body).map_err(|e| {
            IngestError::Decompress {
                encoding: "zstd".into(),
                reason: e.to_string(),
            }
        })?),
        Some(other) => {
            return Err(IngestError::UnsupportedEncoding {
                encoding: other.to_string(),
            });
        }
    };
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    let read = reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| IngestError::Decompress {
            encoding: encoding.clone().unwrap_or_default(),
            reason: e.to_string(),
        })?;
    if read > limit {
        return Err(IngestError::TooLarge { limit });
    }
    Ok(Cow::Owned(out))
}

/// Decodes `body` into rows of `schema` (the table's Arrow schema).
/// Fields are matched by name; a field the table does not have rejects
/// its row unless `extra` is given, in which case its name and an
/// inferred type are collected there for schema evolution.
pub fn decode(
    format: Format,
    body: &[u8],
    schema: &SchemaRef,
    mut extra: Option<&mut Vec<Field>>,
) -> Result<Decoded> {
    match format {
        Format::ArrowIpc => decode_arrow(body, schema),
        Format::Ndjson => {
            let text = utf8(body)?;
            let lines = memchr::memchr_iter(b'\n', body).count() + 1;
            let mut rows = TextRows::with_capacity(schema, lines, body.len());
            for (i, line) in text.split('\n').enumerate() {
                let line = line.trim_end_matches('\r');
                if line.trim().is_empty() {
                    continue;
                }
                rows.push_json(i as u64 + 1, line, extra.as_deref_mut());
            }
            rows.finish()
        }
        Format::JsonArray => {
            let text = utf8(body)?;
            let items: Vec<&RawValue> =
                serde_json::from_str(text).map_err(|e| IngestError::Malformed {
                    format: "JSON",
                    reason: format!(
                        "expected a JSON array of objects: {e} (line {}, column {})",
                        e.line(),
                        e.column()
                    ),
                })?;
            let mut rows = TextRows::with_capacity(schema, items.len(), text.len());
            for (i, item) in items.into_iter().enumerate() {
                rows.push_json(i as u64, item.get(), extra.as_deref_mut());
            }
            rows.finish()
        }
        Format::Csv => decode_csv(body, schema, extra),
    }
}

fn utf8(body: &[u8]) -> Result<&str> {
    std::str::from_utf8(body).map_err(|e| IngestError::Malformed {
        format: "text",
        reason: format!("body is not valid UTF-8 (at byte {})", e.valid_up_to()),
    })
}

fn decode_arrow(body: &[u8], schema: &SchemaRef) -> Result<Decoded> {
    let malformed = |e: arrow::error::ArrowError| IngestError::Malformed {
        format: "Arrow IPC",
        reason: e.to_string(),
    };
    check_ipc_framing(body)?;
    let reader = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(body), None)
        .map_err(malformed)?;
    let sent = reader.schema();
    for field in sent.fields() {
        if schema.field_with_name(field.name()).is_err() {
            return Err(IngestError::UnknownField {
                field: field.name().clone(),
            });
        }
    }
    let batches = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(malformed)?;
    let batch = arrow::compute::concat_batches(&sent, &batches).map_err(malformed)?;
    // Types are cast to the table's (and NOT NULL checked) by the writer.
    Ok(Decoded {
        batch,
        rejected: Vec::new(),
    })
}

/// Walks the messages of an Arrow IPC stream and checks that each one's
/// metadata and body fit in what was sent, before the reader allocates
/// buffers of the sizes the messages declare.
fn check_ipc_framing(body: &[u8]) -> Result<()> {
    let bad = |at: usize, reason: String| IngestError::Malformed {
        format: "Arrow IPC",
        reason: format!("message at byte {at}: {reason}"),
    };
    let read_i32 = |at: usize| -> Option<i32> {
        body.get(at..at + 4)
            .map(|b| i32::from_le_bytes(b.try_into().expect("4 bytes")))
    };
    let mut at = 0usize;
    while at < body.len() {
        let start = at;
        let mut len = read_i32(at).ok_or_else(|| bad(start, "truncated length".into()))?;
        at += 4;
        if len == -1 {
            len = read_i32(at).ok_or_else(|| bad(start, "truncated length".into()))?;
            at += 4;
        }
        if len == 0 {
            return Ok(());
        }
        let left = body.len() - at;
        let meta = usize::try_from(len)
            .ok()
            .filter(|&n| n <= left)
            .ok_or_else(|| {
                bad(
                    start,
                    format!("declares {len} bytes of metadata, {left} left"),
                )
            })?;
        let message = arrow::ipc::root_as_message(&body[at..at + meta])
            .map_err(|e| bad(start, format!("invalid message header: {e}")))?;
        at += meta;
        let left = body.len() - at;
        let declared = message.bodyLength();
        let size = usize::try_from(declared)
            .ok()
            .filter(|&n| n <= left)
            .ok_or_else(|| {
                bad(
                    start,
                    format!("declares a body of {declared} bytes, {left} left"),
                )
            })?;
        at += size;
    }
    Ok(())
}

fn decode_csv(
    body: &[u8],
    schema: &SchemaRef,
    mut extra: Option<&mut Vec<Field>>,
) -> Result<Decoded> {
    let text = utf8(body)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| IngestError::Malformed {
            format: "CSV",
            reason: format!("cannot read the header line: {e}"),
        })?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if header.iter().all(|h| h.is_empty()) {
        return Err(IngestError::Malformed {
            format: "CSV",
            reason: "the body has no header line".into(),
        });
    }
    let mut rows = TextRows::with_capacity(schema, 0, 0);
    let mut unknown = Vec::new();
    for name in &header {
        if rows.index.contains_key(name.as_str()) {
            continue;
        }
        match extra.as_deref_mut() {
            Some(extra) => {
                if !extra.iter().any(|f| f.name() == name) {
                    extra.push(Field::new(name, DataType::Utf8, true));
                }
            }
            None => unknown.push(name.clone()),
        }
    }
    if let Some(field) = unknown.into_iter().next() {
        return Err(IngestError::UnknownField { field });
    }
    let mut record = csv::StringRecord::new();
    let mut start = reader.position().byte() as usize;
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let end = reader.position().byte() as usize;
                let raw = text[start..end.min(text.len())].trim_end_matches(['\r', '\n']);
                start = end;
                if record.len() == 1 && record.get(0).is_some_and(|f| f.is_empty()) {
                    continue;
                }
                if record.len() != header.len() {
                    rows.reject(
                        line,
                        None,
                        format!("expected {} fields, found {}", header.len(), record.len()),
                        raw,
                    );
                    continue;
                }
                rows.push_text(
                    line,
                    raw,
                    header.iter().map(String::as_str).zip(record.iter()),
                );
            }
            Err(e) => {
                return Err(IngestError::Malformed {
                    format: "CSV",
                    reason: format!("line {line}: {e}"),
                });
            }
        }
    }
    rows.finish()
}

/// Rows gathered as text per field, then parsed column by column.
struct TextRows<'a> {
    schema: SchemaRef,
    index: HashMap<String, usize>,
    /// One text column per field, appended to without a copy per value.
    columns: Vec<StringBuilder>,
    /// The values of the row being read, borrowed from the body when they
    /// need no unescaping.
    row: Vec<Option<Cow<'a, str>>>,
    /// Row number and raw text of each accepted-so-far row.
    rows: Vec<(u64, &'a str)>,
    /// The members of the JSON line being read (kept to reuse its memory).
    members: Vec<json_row::Member<'a>>,
    rejected: Vec<Rejected>,
}

impl<'a> TextRows<'a> {
    /// Rows of `schema`, with room for about `rows` rows of `bytes` bytes
    /// of text in all (a body's size bounds its values'). The row hint is
    /// capped so that the offsets reserved stay within the body's size: a
    /// body of blank lines, or a table of many columns, must not reserve
    /// room for rows it does not hold.
    fn with_capacity(schema: &SchemaRef, rows: usize, bytes: usize) -> TextRows<'a> {
        let columns = schema.fields().len().max(1);
        let rows = rows.min(1 << 16).min(bytes / (4 * columns));
        let per_column = bytes / columns;
        TextRows {
            schema: schema.clone(),
            index: schema
                .fields()
                .iter()
                .enumerate()
                .map(|(i, f)| (f.name().clone(), i))
                .collect(),
            columns: (0..schema.fields().len())
                .map(|_| StringBuilder::with_capacity(rows, per_column))
                .collect(),
            row: Vec::new(),
            rows: Vec::new(),
            members: Vec::new(),
            rejected: Vec::new(),
        }
    }

    fn reject(&mut self, row: u64, field: Option<&str>, reason: String, raw: &str) {
        self.rejected.push(Rejected {
            row,
            field: field.map(str::to_string),
            reason,
            raw: raw.to_string(),
        });
    }

    /// One JSON object. Values are taken from the raw text, so nested
    /// objects and arrays keep their key order and formatting. A line the
    /// one-pass reader vouches for is read by it; any other (and every line
    /// when new fields are collected) by the general parser, which names
    /// what is wrong.
    fn push_json(&mut self, row: u64, raw: &'a str, extra: Option<&mut Vec<Field>>) {
        if extra.is_none() {
            let mut members = std::mem::take(&mut self.members);
            if json_row::members(raw, &mut members) {
                self.start_row();
                let mut next = 0;
                let mut unknown = None;
                for (key, value) in members.drain(..) {
                    match self.column_of(&key, next) {
                        Some(i) => {
                            next = i + 1;
                            self.row[i] = value;
                        }
                        None => {
                            unknown = Some(key);
                            break;
                        }
                    }
                }
                self.members = members;
                return match unknown {
                    Some(key) => self.reject(row, Some(&key), NO_SUCH_COLUMN.into(), raw),
                    None => self.accept(row, raw),
                };
            }
            self.members = members;
        }
        let object = match json_row::raw_members(raw) {
            Ok(o) => o,
            Err(e) => {
                let reason = match serde_json::from_str::<serde::de::IgnoredAny>(raw) {
                    Ok(_) => "expected a JSON object".to_string(),
                    Err(_) => format!("invalid JSON: {e}"),
                };
                return self.reject(row, None, reason, raw);
            }
        };
        self.start_row();
        let mut extra = extra;
        let mut next = 0;
        for (key, value) in object {
            let Some(i) = self.column_of(&key, next) else {
                match extra.as_deref_mut() {
                    Some(extra) => {
                        let value: Value = serde_json::from_str(value.get()).unwrap_or(Value::Null);
                        let key = key.as_ref();
                        match extra.iter_mut().find(|f| f.name() == key) {
                            // A fraction widens a field first seen as an integer.
                            Some(f) if *f.data_type() == DataType::Int64 && value.is_f64() => {
                                *f = Field::new(key, DataType::Float64, true);
                            }
                            Some(_) => {}
                            None if value.is_null() => {}
                            None => extra.push(Field::new(key, infer_json(&value), true)),
                        }
                        continue;
                    }
                    None => {
                        return self.reject(row, Some(&key), NO_SUCH_COLUMN.into(), raw);
                    }
                }
            };
            next = i + 1;
            match json_row::raw_text(value.get()) {
                Ok(text) => self.row[i] = text,
                Err(reason) => return self.reject(row, Some(&key), reason, raw),
            }
        }
        self.accept(row, raw);
    }

    /// Clears the row being read.
    fn start_row(&mut self) {
        self.row.clear();
        self.row.resize(self.columns.len(), None);
    }

    /// The column a key names; fields usually come in table order, so the
    /// one after the last found is tried first.
    fn column_of(&self, key: &str, next: usize) -> Option<usize> {
        match self.schema.fields().get(next) {
            Some(f) if f.name() == key => Some(next),
            _ => self.index.get(key).copied(),
        }
    }

    fn push_text<'f>(
        &mut self,
        row: u64,
        raw: &'a str,
        fields: impl Iterator<Item = (&'f str, &'f str)>,
    ) {
        self.start_row();
        for (name, value) in fields {
            if let Some(&i) = self.index.get(name)
                && !value.is_empty()
            {
                self.row[i] = Some(Cow::Owned(value.to_string()));
            }
        }
        self.accept(row, raw);
    }

    fn accept(&mut self, row: u64, raw: &'a str) {
        let schema = self.schema.clone();
        for (i, field) in schema.fields().iter().enumerate() {
            if !field.is_nullable() && self.row[i].is_none() {
                return self.reject(
                    row,
                    Some(field.name()),
                    "null value violates not-null constraint".into(),
                    raw,
                );
            }
        }
        for (column, value) in self.columns.iter_mut().zip(self.row.drain(..)) {
            column.append_option(value);
        }
        self.rows.push((row, raw));
    }

    fn finish(mut self) -> Result<Decoded> {
        let n = self.rows.len();
        let mut good = vec![true; n];
        let mut late: Vec<(usize, Rejected)> = Vec::new();
        let mut typed: Vec<ArrayRef> = Vec::with_capacity(self.columns.len());
        for (field, column) in self
            .schema
            .fields()
            .iter()
            .zip(std::mem::take(&mut self.columns))
        {
            let mut column = column;
            let text = column.finish();
            let (array, bad) = parse_column(field.data_type(), &text);
            for i in bad {
                if good[i] {
                    good[i] = false;
                    let (row, raw) = self.rows[i];
                    late.push((
                        i,
                        Rejected {
                            row,
                            field: Some(field.name().clone()),
                            reason: format!(
                                "invalid input syntax for type {}: \"{}\"",
                                type_name(field.data_type()),
                                text.value(i)
                            ),
                            raw: raw.to_string(),
                        },
                    ));
                }
            }
            typed.push(array);
        }
        let arrow = |e: arrow::error::ArrowError| IngestError::Malformed {
            format: "rows",
            reason: e.to_string(),
        };
        let kept_rows = good.iter().filter(|g| **g).count();
        let columns = if late.is_empty() {
            typed
        } else {
            let mask = BooleanArray::from(good);
            typed
                .iter()
                .map(|c| filter(c.as_ref(), &mask))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(arrow)?
        };
        let options = RecordBatchOptions::new().with_row_count(Some(kept_rows));
        let batch = RecordBatch::try_new_with_options(self.schema.clone(), columns, &options)
            .map_err(arrow)?;
        let mut rejected = self.rejected;
        rejected.extend(late.into_iter().map(|(_, r)| r));
        rejected.sort_by_key(|r| r.row);
        Ok(Decoded { batch, rejected })
    }
}

/// The column type a new JSON field gets (`?create=auto`, schema evolution).
pub fn infer_json(value: &Value) -> DataType {
    match value {
        Value::Bool(_) => DataType::Boolean,
        Value::Number(n) if n.is_i64() => DataType::Int64,
        Value::Number(_) => DataType::Float64,
        Value::String(s) if looks_like_timestamp(s) => DataType::Timestamp(
            arrow::datatypes::TimeUnit::Microsecond,
            Some("+00:00".into()),
        ),
        _ => DataType::Utf8,
    }
}

fn looks_like_timestamp(s: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(s.trim()).is_ok()
}

/// Infers a table schema from a body, for `?create=auto`: fields in the
/// order first seen, typed by their first non-null value (integers and
/// floats together become double precision; CSV fields are text).
pub fn infer_schema(format: Format, body: &[u8]) -> Result<Schema> {
    let mut fields: Vec<Field> = Vec::new();
    let empty: SchemaRef = Arc::new(Schema::empty());
    match format {
        Format::ArrowIpc => {
            check_ipc_framing(body)?;
            let reader =
                arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(body), None)
                    .map_err(|e| IngestError::Malformed {
                        format: "Arrow IPC",
                        reason: e.to_string(),
                    })?;
            return Ok(reader.schema().as_ref().clone());
        }
        _ => {
            decode(format, body, &empty, Some(&mut fields))?;
        }
    }
    if matches!(format, Format::Ndjson | Format::JsonArray) {
        // JSON objects decode with sorted keys; columns follow the body.
        let order = key_order(format, utf8(body)?);
        fields.sort_by_key(|f| {
            order
                .iter()
                .position(|k| k == f.name())
                .unwrap_or(usize::MAX)
        });
    }
    if fields.is_empty() {
        return Err(IngestError::Malformed {
            format: "rows",
            reason: "cannot create a table from a body without fields".into(),
        });
    }
    Ok(Schema::new(fields))
}

/// Object keys in the order they first appear in the body.
fn key_order(format: Format, text: &str) -> Vec<String> {
    struct Keys(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Keys, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> std::result::Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some(k) = map.next_key::<String>()? {
                        map.next_value::<serde::de::IgnoredAny>()?;
                        keys.push(k);
                    }
                    Ok(Keys(keys))
                }
            }
            d.deserialize_map(V)
        }
    }
    let mut order: Vec<String> = Vec::new();
    let mut add = |raw: &str| {
        if let Ok(Keys(keys)) = serde_json::from_str::<Keys>(raw) {
            for k in keys {
                if !order.contains(&k) {
                    order.push(k);
                }
            }
        }
    };
    match format {
        Format::Ndjson => text.lines().for_each(&mut add),
        _ => {
            if let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(text) {
                items.iter().for_each(|i| add(i.get()));
            }
        }
    }
    order
}

/// Summarizes rejected rows for an error message.
pub fn describe(format: Format, rejected: &[Rejected]) -> String {
    let word = format.row_word();
    let mut parts: Vec<String> = rejected
        .iter()
        .take(3)
        .map(|r| match &r.field {
            Some(f) => format!("{word} {}, field \"{f}\": {}", r.row, r.reason),
            None => format!("{word} {}: {}", r.row, r.reason),
        })
        .collect();
    if rejected.len() > 3 {
        parts.push(format!("and {} more", rejected.len() - 3));
    }
    format!("{} row(s) rejected: {}", rejected.len(), parts.join("; "))
}

#[cfg(test)]
mod tests;
