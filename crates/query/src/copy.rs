//! COPY: bulk load from CSV, NDJSON and Parquet files, and export of query
//! results to CSV, NDJSON and Parquet.
//!
//! A COPY FROM is one commit: every matched file is read and validated
//! before anything becomes visible, and the first bad value aborts the whole
//! statement with its file, line and column.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, StringArray, new_null_array};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::config::CsvOptions;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::prelude::{
    CsvReadOptions, DataFrame, ParquetReadOptions, SessionConfig, SessionContext,
};
use datafusion::sql::sqlparser::ast::{
    CopyLegacyCsvOption, CopyLegacyOption, CopyOption, CopySource, CopyTarget, Ident, Statement,
};
use floe_storage::{StorageError, TableAppend};
use futures::StreamExt;

use floe_ingest::values::{parse_column, type_name};

use crate::engine::Engine;
use crate::error::{FilePosition, QueryError};
use crate::names;

/// Rows handed to the writer at a time when reading text formats.
const BATCH_ROWS: usize = 8192;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Json,
    Parquet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Zstd,
}

#[derive(Debug, Clone)]
struct Options {
    format: Option<Format>,
    header: bool,
    delimiter: u8,
    quote: u8,
    null: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            format: None,
            header: false,
            delimiter: b',',
            quote: b'"',
            null: None,
        }
    }
}

fn ascii(option: &str, c: char) -> Result<u8, QueryError> {
    u8::try_from(c)
        .ok()
        .filter(u8::is_ascii)
        .ok_or_else(|| QueryError::InvalidOption {
            option: option.to_string(),
            reason: format!("must be a single ASCII character, got '{c}'"),
        })
}

fn parse_options(
    options: &[CopyOption],
    legacy: &[CopyLegacyOption],
) -> Result<Options, QueryError> {
    let mut out = Options::default();
    for option in options {
        match option {
            CopyOption::Format(ident) => out.format = Some(format_named(ident)?),
            CopyOption::Header(h) => out.header = *h,
            CopyOption::Delimiter(c) => out.delimiter = ascii("DELIMITER", *c)?,
            CopyOption::Quote(c) => out.quote = ascii("QUOTE", *c)?,
            CopyOption::Null(s) => out.null = Some(s.clone()),
            CopyOption::Encoding(e)
                if e.eq_ignore_ascii_case("utf8") || e.eq_ignore_ascii_case("utf-8") => {}
            other => {
                return Err(QueryError::Unsupported {
                    feature: format!("COPY option {other}"),
                });
            }
        }
    }
    for option in legacy {
        match option {
            CopyLegacyOption::Csv(csv) => {
                out.format = Some(Format::Csv);
                for o in csv {
                    match o {
                        CopyLegacyCsvOption::Header => out.header = true,
                        CopyLegacyCsvOption::Quote(c) => out.quote = ascii("QUOTE", *c)?,
                        other => {
                            return Err(QueryError::Unsupported {
                                feature: format!("COPY option {other}"),
                            });
                        }
                    }
                }
            }
            CopyLegacyOption::Delimiter(c) => out.delimiter = ascii("DELIMITER", *c)?,
            CopyLegacyOption::Null(s) => out.null = Some(s.clone()),
            other => {
                return Err(QueryError::Unsupported {
                    feature: format!("COPY option {other}"),
                });
            }
        }
    }
    Ok(out)
}

fn format_named(ident: &Ident) -> Result<Format, QueryError> {
    match ident.value.to_ascii_lowercase().as_str() {
        "csv" | "text" => Ok(Format::Csv),
        "json" | "ndjson" | "jsonl" => Ok(Format::Json),
        "parquet" => Ok(Format::Parquet),
        other => Err(QueryError::InvalidOption {
            option: "FORMAT".into(),
            reason: format!("unknown format \"{other}\"; expected csv, json or parquet"),
        }),
    }
}

/// The format and compression a file name implies.
fn detect(path: &Path) -> (Option<Format>, Compression) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let (stem, compression) = if let Some(s) = name.strip_suffix(".gz") {
        (s, Compression::Gzip)
    } else if let Some(s) = name
        .strip_suffix(".zst")
        .or_else(|| name.strip_suffix(".zstd"))
    {
        (s, Compression::Zstd)
    } else {
        (name.as_str(), Compression::None)
    };
    let format = match stem.rsplit_once('.').map(|(_, ext)| ext) {
        Some("csv" | "tsv" | "txt") => Some(Format::Csv),
        Some("json" | "ndjson" | "jsonl") => Some(Format::Json),
        Some("parquet" | "pq") => Some(Format::Parquet),
        _ => None,
    };
    (format, compression)
}

/// Expands a path or glob pattern into the files it names, sorted.
fn expand(pattern: &str) -> Result<Vec<PathBuf>, QueryError> {
    let is_glob = pattern.contains(['*', '?', '[']);
    if !is_glob {
        let path = PathBuf::from(pattern);
        std::fs::metadata(&path).map_err(|source| QueryError::File {
            path: pattern.to_string(),
            source,
        })?;
        return Ok(vec![path]);
    }
    let paths = glob::glob(pattern).map_err(|e| QueryError::InvalidOption {
        option: "file pattern".into(),
        reason: e.to_string(),
    })?;
    let mut files = Vec::new();
    for entry in paths {
        let path = entry.map_err(|e| QueryError::File {
            path: e.path().display().to_string(),
            source: std::io::Error::other(e.to_string()),
        })?;
        if path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(QueryError::NoFiles {
            pattern: pattern.to_string(),
        });
    }
    Ok(files)
}

fn open(path: &Path, compression: Compression) -> Result<Box<dyn BufRead + Send>, QueryError> {
    let io = |source| QueryError::File {
        path: path.display().to_string(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let reader: Box<dyn Read + Send> = match compression {
        Compression::None => Box::new(file),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(file)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(file).map_err(io)?),
    };
    Ok(Box::new(BufReader::with_capacity(1 << 20, reader)))
}

/// The path COPY may use for `path` on this engine: any path in process;
/// on a server, only paths inside its COPY directories (relative paths are
/// taken from the first one) and never one with a `..` component.
fn confine(engine: &Engine, path: &str) -> Result<PathBuf, QueryError> {
    let Some(dirs) = engine.copy_dirs() else {
        return Ok(PathBuf::from(path));
    };
    let refuse = |reason: String| QueryError::CopyPath {
        path: path.to_string(),
        reason,
    };
    let Some(first) = dirs.first() else {
        return Err(refuse(
            "is refused: this server reads and writes no files for COPY (start it with --copy-dir DIR)"
                .into(),
        ));
    };
    let given = Path::new(path);
    if given
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(refuse(
            "is refused: \"..\" is not allowed in COPY paths".into(),
        ));
    }
    let full = if given.is_absolute() {
        given.to_path_buf()
    } else {
        first.join(given)
    };
    if !dirs.iter().any(|d| full.starts_with(d)) {
        return Err(refuse(outside(dirs)));
    }
    Ok(full)
}

fn outside(dirs: &[PathBuf]) -> String {
    let list: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    format!("is outside the COPY directories ({})", list.join(", "))
}

/// Fails if `file` (an existing file, or the parent of one to be
/// written), with symbolic links resolved, is outside the COPY directories.
fn confine_resolved(engine: &Engine, file: &Path) -> Result<(), QueryError> {
    let Some(dirs) = engine.copy_dirs() else {
        return Ok(());
    };
    let resolved = std::fs::canonicalize(file).map_err(|source| QueryError::File {
        path: file.display().to_string(),
        source,
    })?;
    if dirs.iter().any(|d| resolved.starts_with(d)) {
        Ok(())
    } else {
        Err(QueryError::CopyPath {
            path: file.display().to_string(),
            reason: format!("resolves to {} which {}", resolved.display(), outside(dirs)),
        })
    }
}

/// Runs a COPY statement; returns the number of rows copied.
pub async fn execute(
    engine: &Engine,
    source: CopySource,
    to: bool,
    target: CopyTarget,
    options: Vec<CopyOption>,
    legacy: Vec<CopyLegacyOption>,
) -> Result<u64, QueryError> {
    let options = parse_options(&options, &legacy)?;
    let CopyTarget::File { filename } = target else {
        return Err(QueryError::Unsupported {
            feature: format!(
                "COPY {} {target}; name a file on the server instead",
                if to { "TO" } else { "FROM" }
            ),
        });
    };
    let path = confine(engine, &filename)?;
    let filename = path.to_string_lossy().into_owned();
    if to {
        return copy_to(engine, source, &filename, &options).await;
    }
    let CopySource::Table {
        table_name,
        columns,
    } = source
    else {
        return Err(QueryError::Parse {
            message: "COPY (query) FROM is not valid; COPY FROM loads into a table".into(),
        });
    };
    let (schema, table) = names::table(&table_name)?;
    let handle = engine.table_handle(&schema, &table)?;
    engine.check_table(floe_auth::Privilege::Insert, &schema, &table)?;
    let columns: Vec<String> = columns.iter().map(names::ident).collect();
    let files = expand(&filename)?;
    for file in &files {
        confine_resolved(engine, file)?;
    }
    let mut append = handle.append()?;
    let qualified = format!("{schema}.{table}");
    for file in &files {
        let (detected, compression) = detect(file);
        let format = options
            .format
            .or(detected)
            .ok_or_else(|| QueryError::InvalidOption {
                option: "FORMAT".into(),
                reason: format!(
                    "cannot tell the format of \"{}\" from its name; add (FORMAT csv|json|parquet)",
                    file.display()
                ),
            })?;
        let reader = Reader {
            table: &qualified,
            file,
            options: &options,
            columns: &columns,
            compression,
        };
        match format {
            Format::Csv => reader.csv(&mut append).await?,
            Format::Json => reader.json(&mut append).await?,
            Format::Parquet => reader.parquet(&mut append).await?,
        }
        tracing::debug!(file = %file.display(), rows = append.rows(), "copied");
    }
    let summary = append.commit().await?;
    Ok(summary.rows)
}

struct Reader<'a> {
    table: &'a str,
    file: &'a Path,
    options: &'a Options,
    columns: &'a [String],
    compression: Compression,
}

impl Reader<'_> {
    fn position(&self, line: Option<u64>, column: Option<&str>) -> FilePosition {
        FilePosition {
            file: self.file.display().to_string(),
            line,
            column: column.map(str::to_string),
        }
    }

    fn format_error(&self, line: Option<u64>, column: Option<&str>, reason: String) -> QueryError {
        QueryError::CopyFormat {
            table: self.table.to_string(),
            position: self.position(line, column),
            reason,
        }
    }

    /// The table columns the file's columns load into, in file order.
    fn file_columns(
        &self,
        target: &SchemaRef,
        header: Option<Vec<String>>,
    ) -> Result<Vec<String>, QueryError> {
        let names: Vec<String> = match header {
            Some(h) => h.into_iter().map(|n| n.trim().to_lowercase()).collect(),
            None if !self.columns.is_empty() => self.columns.to_vec(),
            None => target.fields().iter().map(|f| f.name().clone()).collect(),
        };
        for name in &names {
            if target.index_of(name).is_err() {
                return Err(self.format_error(
                    Some(1),
                    Some(name),
                    format!("column \"{name}\" is not a column of {}", self.table),
                ));
            }
        }
        Ok(names)
    }

    async fn csv(&self, append: &mut TableAppend) -> Result<(), QueryError> {
        let target = append.schema().clone();
        let header = if self.options.header {
            let mut first = String::new();
            open(self.file, self.compression)?
                .read_line(&mut first)
                .map_err(|source| QueryError::File {
                    path: self.file.display().to_string(),
                    source,
                })?;
            Some(split_csv_line(
                first.trim_end_matches(['\r', '\n']),
                self.options.delimiter,
                self.options.quote,
            ))
        } else {
            None
        };
        let file_columns = self.file_columns(&target, header)?;
        let text_schema = Schema::new(
            file_columns
                .iter()
                .map(|n| Field::new(n, DataType::Utf8, true))
                .collect::<Vec<_>>(),
        );
        let ctx = reading_context();
        let compression = match self.compression {
            Compression::None => FileCompressionType::UNCOMPRESSED,
            Compression::Gzip => FileCompressionType::GZIP,
            Compression::Zstd => FileCompressionType::ZSTD,
        };
        let read = CsvReadOptions::new()
            .has_header(self.options.header)
            .delimiter(self.options.delimiter)
            .quote(self.options.quote)
            .schema(&text_schema)
            .file_extension("")
            .file_compression_type(compression);
        let path = self.file.display().to_string();
        let df = ctx.read_csv(&path, read).await?;
        let mut stream = df.execute_stream().await?;
        let mut next_line = if self.options.header { 2 } else { 1 };
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(|e| {
                self.format_error(None, None, crate::error::QueryError::from(e).message())
            })?;
            let first = next_line;
            next_line += batch.num_rows() as u64;
            let typed = self.convert(&target, &file_columns, &batch, &|i| first + i as u64)?;
            self.write(append, typed).await?;
        }
        Ok(())
    }

    async fn json(&self, append: &mut TableAppend) -> Result<(), QueryError> {
        let target = append.schema().clone();
        let names: Vec<String> = target.fields().iter().map(|f| f.name().clone()).collect();
        let text_schema = Arc::new(Schema::new(
            names
                .iter()
                .map(|n| Field::new(n, DataType::Utf8, true))
                .collect::<Vec<_>>(),
        ));
        let mut reader = open(self.file, self.compression)?;
        let mut line = String::new();
        let mut line_no = 0u64;
        let mut lines: Vec<u64> = Vec::with_capacity(BATCH_ROWS);
        let mut values: Vec<Vec<Option<String>>> =
            vec![Vec::with_capacity(BATCH_ROWS); names.len()];
        loop {
            line.clear();
            let n = reader
                .read_line(&mut line)
                .map_err(|source| QueryError::File {
                    path: self.file.display().to_string(),
                    source,
                })?;
            if n > 0 {
                line_no += 1;
                let text = line.trim();
                if !text.is_empty() {
                    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
                        self.format_error(
                            Some(line_no),
                            None,
                            format!("invalid JSON at character {}: {e}", e.column()),
                        )
                    })?;
                    let serde_json::Value::Object(object) = value else {
                        return Err(self.format_error(
                            Some(line_no),
                            None,
                            "expected a JSON object".into(),
                        ));
                    };
                    for key in object.keys() {
                        if !names.iter().any(|n| n == key) {
                            return Err(self.format_error(
                                Some(line_no),
                                Some(key),
                                format!("field \"{key}\" is not a column of {}", self.table),
                            ));
                        }
                    }
                    for (i, name) in names.iter().enumerate() {
                        values[i].push(match object.get(name) {
                            None | Some(serde_json::Value::Null) => None,
                            Some(serde_json::Value::String(s)) => Some(s.clone()),
                            Some(other) => Some(other.to_string()),
                        });
                    }
                    lines.push(line_no);
                }
            }
            if (n == 0 && !lines.is_empty()) || lines.len() >= BATCH_ROWS {
                let columns: Vec<ArrayRef> = values
                    .iter_mut()
                    .map(|v| Arc::new(StringArray::from(std::mem::take(v))) as ArrayRef)
                    .collect();
                let batch = RecordBatch::try_new(text_schema.clone(), columns)
                    .map_err(|e| self.format_error(None, None, e.to_string()))?;
                let at = std::mem::take(&mut lines);
                let typed = self.convert(&target, &names, &batch, &|i| at[i])?;
                self.write(append, typed).await?;
            }
            if n == 0 {
                return Ok(());
            }
        }
    }

    async fn parquet(&self, append: &mut TableAppend) -> Result<(), QueryError> {
        let target = append.schema().clone();
        let ctx = reading_context();
        let path = self.file.display().to_string();
        let df = ctx
            .read_parquet(&path, ParquetReadOptions::default().file_extension(""))
            .await?;
        for field in df.schema().fields() {
            let name = field.name().to_lowercase();
            if target.index_of(&name).is_err() {
                return Err(self.format_error(
                    None,
                    Some(field.name()),
                    format!(
                        "column \"{}\" is not a column of {}",
                        field.name(),
                        self.table
                    ),
                ));
            }
        }
        let mut stream = df.execute_stream().await?;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            let schema = Schema::new(
                batch
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.as_ref().clone().with_name(f.name().to_lowercase()))
                    .collect::<Vec<_>>(),
            );
            let batch = RecordBatch::try_new(Arc::new(schema), batch.columns().to_vec())
                .map_err(|e| self.format_error(None, None, e.to_string()))?;
            self.write(append, batch).await?;
        }
        Ok(())
    }

    async fn write(&self, append: &mut TableAppend, batch: RecordBatch) -> Result<(), QueryError> {
        append.write(batch).await.map_err(|e| match e {
            StorageError::SchemaMismatch { column, reason, .. } => QueryError::CopyValue {
                table: self.table.to_string(),
                position: self.position(None, Some(&column)),
                reason,
            },
            StorageError::NullInRequiredColumn { column, .. } => QueryError::CopyValue {
                table: self.table.to_string(),
                position: self.position(None, Some(&column)),
                reason: "null value violates not-null constraint".into(),
            },
            other => other.into(),
        })
    }

    /// Converts text columns to the table's types; the first value that does
    /// not parse is reported with its line and column.
    fn convert(
        &self,
        target: &SchemaRef,
        file_columns: &[String],
        batch: &RecordBatch,
        line_of: &dyn Fn(usize) -> u64,
    ) -> Result<RecordBatch, QueryError> {
        let rows = batch.num_rows();
        let mut columns = Vec::with_capacity(target.fields().len());
        for field in target.fields() {
            let column = match file_columns.iter().position(|c| c == field.name()) {
                None => new_null_array(field.data_type(), rows),
                Some(i) => {
                    let text = batch.column(i);
                    let text = cast_with_options(text, &DataType::Utf8, &CastOptions::default())
                        .map_err(|e| self.format_error(None, Some(field.name()), e.to_string()))?;
                    let text = text
                        .as_any()
                        .downcast_ref::<StringArray>()
                        .expect("cast to Utf8 gives a StringArray");
                    let text = match &self.options.null {
                        Some(null) if !null.is_empty() => {
                            StringArray::from_iter(text.iter().map(|v| v.filter(|s| s != null)))
                        }
                        _ => text.clone(),
                    };
                    let (typed, bad) = parse_column(field.data_type(), &text);
                    let bad = bad.first().copied();
                    if let Some(row) = bad {
                        return Err(QueryError::CopyValue {
                            table: self.table.to_string(),
                            position: self.position(Some(line_of(row)), Some(field.name())),
                            reason: format!(
                                "invalid input for type {}: \"{}\"",
                                type_name(field.data_type()),
                                text.value(row)
                            ),
                        });
                    }
                    typed
                }
            };
            if !field.is_nullable()
                && let Some(row) = (0..rows).find(|r| column.is_null(*r))
            {
                return Err(QueryError::CopyValue {
                    table: self.table.to_string(),
                    position: self.position(Some(line_of(row)), Some(field.name())),
                    reason: "null value violates not-null constraint".into(),
                });
            }
            columns.push(column);
        }
        RecordBatch::try_new(target.clone(), columns)
            .map_err(|e| self.format_error(None, None, e.to_string()))
    }
}

/// `df` with its array columns as PostgreSQL's text form (`{1,2,NULL}`),
/// which COPY FROM reads back; CSV has no arrays of its own.
fn arrays_as_text(df: DataFrame) -> datafusion::error::Result<DataFrame> {
    let lists = df
        .schema()
        .fields()
        .iter()
        .any(|f| matches!(f.data_type(), DataType::List(_) | DataType::LargeList(_)));
    if !lists {
        return Ok(df);
    }
    let columns: Vec<datafusion::prelude::Expr> = df
        .schema()
        .iter()
        .map(|(qualifier, f)| {
            let column = datafusion::prelude::Expr::Column(datafusion::common::Column::new(
                qualifier.cloned(),
                f.name(),
            ));
            match f.data_type() {
                DataType::List(_) | DataType::LargeList(_) => {
                    datafusion::prelude::cast(column, DataType::Utf8).alias(f.name())
                }
                _ => column,
            }
        })
        .collect();
    df.select(columns)
}

/// A context for reading input files in order, one partition per file.
fn reading_context() -> SessionContext {
    SessionContext::new_with_config(
        SessionConfig::new()
            .with_target_partitions(1)
            .with_repartition_file_scans(false),
    )
}

/// Splits one CSV line into fields (for the header line).
fn split_csv_line(line: &str, delimiter: u8, quote: u8) -> Vec<String> {
    let (delimiter, quote) = (delimiter as char, quote as char);
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == quote {
                if chars.peek() == Some(&quote) {
                    field.push(quote);
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
        } else if c == quote {
            quoted = true;
        } else if c == delimiter {
            fields.push(std::mem::take(&mut field));
        } else {
            field.push(c);
        }
    }
    fields.push(field);
    fields
}

async fn copy_to(
    engine: &Engine,
    source: CopySource,
    filename: &str,
    options: &Options,
) -> Result<u64, QueryError> {
    let df = match source {
        CopySource::Query(query) => {
            let plan = engine.plan(Statement::Query(query)).await?;
            engine.execute_plan(plan).await?
        }
        CopySource::Table {
            table_name,
            columns,
        } => {
            let (schema, table) = names::table(&table_name)?;
            if engine.store().table(&schema, &table).is_none() {
                return Err(QueryError::NoSuchTable {
                    name: format!("{schema}.{table}"),
                });
            }
            engine.check_table(floe_auth::Privilege::Select, &schema, &table)?;
            let df = engine.context().table(format!("{schema}.{table}")).await?;
            if columns.is_empty() {
                df
            } else {
                let cols: Vec<String> = columns.iter().map(names::ident).collect();
                df.select_columns(&cols.iter().map(String::as_str).collect::<Vec<_>>())?
            }
        }
    };
    let (detected, compression) = detect(Path::new(filename));
    if compression != Compression::None {
        return Err(QueryError::Unsupported {
            feature: "compressed COPY TO output".into(),
        });
    }
    let format = options.format.or(detected).unwrap_or(Format::Csv);
    let target = Path::new(filename);
    if engine.copy_dirs().is_some() {
        if target.is_symlink() {
            return Err(QueryError::CopyPath {
                path: filename.to_string(),
                reason: "is a symbolic link; COPY TO does not write through links".into(),
            });
        }
        confine_resolved(engine, target.parent().unwrap_or(Path::new("/")))?;
    }
    // Write next to the target and rename, so a failed export never leaves
    // a half-written file under the requested name.
    let partial = format!("{filename}.partial");
    let write = DataFrameWriteOptions::new().with_single_file_output(true);
    let result = match format {
        Format::Csv => {
            let csv = CsvOptions::default()
                .with_has_header(options.header)
                .with_delimiter(options.delimiter)
                .with_quote(options.quote);
            match arrays_as_text(df) {
                Ok(df) => df.write_csv(&partial, write, Some(csv)).await,
                Err(e) => Err(e),
            }
        }
        Format::Json => df.write_json(&partial, write, None).await,
        Format::Parquet => df.write_parquet(&partial, write, None).await,
    };
    let batches = match result {
        Ok(b) => b,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e.into());
        }
    };
    std::fs::rename(&partial, filename).map_err(|source| QueryError::File {
        path: filename.to_string(),
        source,
    })?;
    let rows = batches
        .first()
        .and_then(|b| b.column_by_name("count"))
        .and_then(|c| c.as_any().downcast_ref::<arrow::array::UInt64Array>())
        .map(|a| a.value(0))
        .unwrap_or(0);
    Ok(rows)
}

#[cfg(test)]
mod tests;
