//! Writing record batches into Parquet data files of one table.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, FixedSizeBinaryBuilder, RecordBatch, new_null_array};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::util::display::FormatOptions;
use iceberg::arrow::RecordBatchPartitionSplitter;
use iceberg::spec::{DataFile, DataFileFormat};
use iceberg::table::Table;
use iceberg::writer::base_writer::data_file_writer::DataFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;
use iceberg::writer::file_writer::location_generator::{
    DefaultFileNameGenerator, DefaultLocationGenerator,
};
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use iceberg::writer::partitioning::PartitioningWriter;
use iceberg::writer::partitioning::fanout_writer::FanoutWriter;
use iceberg::writer::partitioning::unpartitioned_writer::UnpartitionedWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::table::{CommitSummary, TableHandle};
use crate::{Result, StorageError};

type FileWriterBuilder =
    DataFileWriterBuilder<ParquetWriterBuilder, DefaultLocationGenerator, DefaultFileNameGenerator>;

enum Partitioned {
    No(Box<UnpartitionedWriter<FileWriterBuilder>>),
    Yes {
        splitter: Box<RecordBatchPartitionSplitter>,
        writer: Box<FanoutWriter<FileWriterBuilder>>,
    },
}

/// An append in progress: batches are written to new Parquet files, which
/// become visible only when [`TableAppend::commit`] returns. Dropping it
/// without committing leaves the table as it was.
pub struct TableAppend {
    handle: Arc<TableHandle>,
    schema: SchemaRef,
    writer: Partitioned,
    rows: u64,
    /// Keeps orphan cleanup away from the files being written.
    in_flight: crate::inflight::InFlight,
    /// For a write checked against the table's unique keys: the key
    /// columns' indexes and their values in the rows written.
    checked: Option<(Vec<usize>, Vec<RecordBatch>)>,
}

impl TableAppend {
    pub(crate) fn new(handle: Arc<TableHandle>, table: Table) -> Result<TableAppend> {
        let in_flight = handle.writes.begin();
        let ident = handle.ident().clone();
        let err = |op| StorageError::iceberg(op, &ident);
        let metadata = table.metadata();
        let schema = handle.arrow_schema()?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).map_err(
                |source| StorageError::Iceberg {
                    operation: "configuring compression for",
                    target: ident.to_string(),
                    source: Box::new(iceberg::Error::new(
                        iceberg::ErrorKind::Unexpected,
                        source.to_string(),
                    )),
                },
            )?))
            .set_max_row_group_row_count(Some(1024 * 1024))
            .build();
        let parquet = ParquetWriterBuilder::new(props, metadata.current_schema().clone());
        let location = DefaultLocationGenerator::new(metadata).map_err(err("locating files of"))?;
        let names = DefaultFileNameGenerator::new(
            uuid::Uuid::now_v7().to_string(),
            None,
            DataFileFormat::Parquet,
        );
        let target_size = crate::compact::CompactionPolicy::for_table(metadata.properties())
            .target_file_size as usize;
        let rolling = RollingFileWriterBuilder::new(
            parquet,
            target_size,
            table.file_io().clone(),
            location,
            names,
        );
        let builder = DataFileWriterBuilder::new(rolling);
        let spec = metadata.default_partition_spec().clone();
        let writer = if spec.is_unpartitioned() {
            Partitioned::No(Box::new(UnpartitionedWriter::new(builder)))
        } else {
            let splitter = RecordBatchPartitionSplitter::try_new_with_computed_values(
                metadata.current_schema().clone(),
                spec,
            )
            .map_err(err("partitioning rows of"))?;
            Partitioned::Yes {
                splitter: Box::new(splitter),
                writer: Box::new(FanoutWriter::new(builder)),
            }
        };
        Ok(TableAppend {
            handle,
            schema,
            writer,
            rows: 0,
            in_flight,
            checked: None,
        })
    }

    /// Keeps the unique-key columns of the rows written, when the table
    /// has unique keys, so the commit can check them.
    pub(crate) fn checking(mut self, table: &Table) -> TableAppend {
        let keys = crate::unique::keys(table, &self.schema);
        let mut columns: Vec<usize> = keys
            .iter()
            .flat_map(|k| k.fields.iter())
            .filter_map(|f| self.schema.index_of(f.name()).ok())
            .collect();
        columns.sort_unstable();
        columns.dedup();
        if !columns.is_empty() {
            self.checked = Some((columns, Vec::new()));
        }
        self
    }

    /// The unique-key columns of the rows written, if the write is checked.
    pub(crate) fn take_checked(&mut self) -> Option<Vec<RecordBatch>> {
        self.checked.take().map(|(_, batches)| batches)
    }

    /// The Arrow schema rows are written with; batches are cast to it by column name.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes a batch. Columns are matched by name and cast to the table's
    /// types; a missing nullable column is filled with NULLs.
    pub async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let batch = conform(&self.schema, self.handle.ident(), &batch)?;
        self.rows += batch.num_rows() as u64;
        if let Some((columns, kept)) = &mut self.checked {
            kept.push(
                batch
                    .project(columns)
                    .map_err(|source| StorageError::Arrow {
                        operation: "keeping unique keys",
                        source,
                    })?,
            );
        }
        let ident = self.handle.ident();
        let err = StorageError::iceberg("writing data files of", ident);
        match &mut self.writer {
            Partitioned::No(w) => w.write(batch).await.map_err(err),
            Partitioned::Yes { splitter, writer } => {
                let parts = splitter.split(&batch).map_err(err)?;
                for (key, part) in parts {
                    writer
                        .write(key, part)
                        .await
                        .map_err(StorageError::iceberg("writing data files of", ident))?;
                }
                Ok(())
            }
        }
    }

    /// Closes the files and commits them as one snapshot.
    ///
    /// When this returns, the rows are durable and visible to every later read.
    pub async fn commit(mut self) -> Result<CommitSummary> {
        let handle = self.handle.clone();
        let checked = self.take_checked();
        let (files, rows, _in_flight) = self.finish().await?;
        match checked {
            Some(new) => handle.commit_files_checked(files, rows, &new).await,
            None => handle.commit_files(files, rows).await,
        }
    }

    /// Closes the files without committing them: the data files, the
    /// number of rows they hold, and the write's registration, to keep
    /// until the files are committed or discarded.
    pub(crate) async fn finish(self) -> Result<(Vec<DataFile>, u64, crate::inflight::InFlight)> {
        let ident = self.handle.ident().clone();
        let err = StorageError::iceberg("closing data files of", &ident);
        let files: Vec<DataFile> = match self.writer {
            Partitioned::No(w) => (*w).close().await.map_err(err)?,
            Partitioned::Yes { writer, .. } => (*writer).close().await.map_err(err)?,
        };
        Ok((files, self.rows, self.in_flight))
    }
}

/// The Iceberg doc of a column declared `smallint`: Iceberg has no 16-bit
/// integer, so such a column is an `int` whose values are checked against
/// `smallint`'s range when written.
pub const SMALLINT_DOC: &str = "smallint";

/// The Iceberg doc of a column of bit strings (`bit varying`): Iceberg has
/// no bit type, so such a column is a `string` of `0` and `1`, checked
/// when written.
pub const BIT_VARYING_DOC: &str = "bit varying";

/// Whether `text` is a bit string: binary digits only.
pub fn is_bit_string(text: &str) -> bool {
    text.bytes().all(|b| b == b'0' || b == b'1')
}

/// Fails if a column declared with a type Iceberg lacks holds a value
/// that type would not: a `smallint` out of its range, a `bit varying`
/// that is not binary digits.
fn check_declared_type(
    field: &arrow::datatypes::Field,
    column: &ArrayRef,
    ident: &iceberg::TableIdent,
) -> Result<()> {
    let doc = field.metadata().get("doc").map(String::as_str);
    if doc == Some(SMALLINT_DOC)
        && let Some(values) = column.as_any().downcast_ref::<arrow::array::Int32Array>()
    {
        let range = i16::MIN as i32..=i16::MAX as i32;
        if values.iter().flatten().any(|v| !range.contains(&v)) {
            return Err(StorageError::OutOfRange {
                table: ident.to_string(),
                column: field.name().clone(),
                ty: "smallint",
            });
        }
    }
    if doc == Some(BIT_VARYING_DOC)
        && let Some(values) = column.as_any().downcast_ref::<arrow::array::StringArray>()
        && let Some(bad) = values.iter().flatten().find(|v| !is_bit_string(v))
    {
        return Err(StorageError::InvalidValue {
            table: ident.to_string(),
            column: field.name().clone(),
            reason: format!("invalid input syntax for type bit varying: \"{bad}\""),
        });
    }
    Ok(())
}

/// The stored text of the values written to an `interval` column:
/// intervals as they are; text as the stored form, or else as an interval
/// literal (`1 day 2 hours`), anything else refused.
fn stored_intervals(
    column: &ArrayRef,
    field: &arrow::datatypes::Field,
    ident: &iceberg::TableIdent,
) -> Result<ArrayRef> {
    use arrow::array::{AsArray, StringArray};
    use arrow::datatypes::{IntervalMonthDayNanoType, IntervalUnit};
    let invalid = |reason: String| StorageError::InvalidValue {
        table: ident.to_string(),
        column: field.name().clone(),
        reason,
    };
    let as_interval = DataType::Interval(IntervalUnit::MonthDayNano);
    if matches!(column.data_type(), DataType::Interval(_)) {
        let values = cast_with_options(column, &as_interval, &CastOptions::default())
            .map_err(|e| invalid(e.to_string()))?;
        let text: StringArray = values
            .as_primitive::<IntervalMonthDayNanoType>()
            .iter()
            .map(|v| v.map(crate::interval_text::format))
            .collect();
        return Ok(Arc::new(text));
    }
    let text = cast_with_options(column, &DataType::Utf8, &CastOptions::default())
        .map_err(|e| invalid(e.to_string()))?;
    let mut out = Vec::with_capacity(text.len());
    for value in text.as_string::<i32>().iter() {
        let Some(value) = value else {
            out.push(None);
            continue;
        };
        let parsed = crate::interval_text::parse(value.trim()).or_else(|| {
            let one: ArrayRef = Arc::new(StringArray::from(vec![value]));
            let options = CastOptions {
                safe: false,
                format_options: FormatOptions::default(),
            };
            let cast = cast_with_options(&one, &as_interval, &options).ok()?;
            let cast = cast.as_primitive::<IntervalMonthDayNanoType>();
            cast.is_valid(0).then(|| cast.value(0))
        });
        match parsed {
            Some(v) => out.push(Some(crate::interval_text::format(v))),
            None => {
                return Err(invalid(format!(
                    "invalid input syntax for type interval: \"{value}\""
                )));
            }
        }
    }
    Ok(Arc::new(StringArray::from(out)))
}

/// Casts `batch` to `schema` by column name, checking NOT NULL columns,
/// the range of `smallint` ones and the digits of `bit varying` ones.
pub(crate) fn conform(
    schema: &SchemaRef,
    ident: &iceberg::TableIdent,
    batch: &RecordBatch,
) -> Result<RecordBatch> {
    let options = CastOptions {
        safe: false,
        format_options: FormatOptions::default(),
    };
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let column = match batch.schema().index_of(field.name()) {
            Ok(i) if crate::interval_text::is_interval_field(field) => {
                stored_intervals(batch.column(i), field, ident)?
            }
            Ok(i) => {
                let column = batch.column(i);
                if column.data_type() == field.data_type() {
                    column.clone()
                } else if *field.data_type() == DataType::FixedSizeBinary(16) {
                    uuid_from_text(column, ident, field.name())?
                } else {
                    cast_with_options(column, field.data_type(), &options).map_err(|e| {
                        StorageError::SchemaMismatch {
                            table: ident.to_string(),
                            column: field.name().clone(),
                            reason: e.to_string(),
                        }
                    })?
                }
            }
            Err(_) => new_null_array(field.data_type(), batch.num_rows()),
        };
        if !field.is_nullable() && column.null_count() > 0 {
            return Err(StorageError::NullInRequiredColumn {
                table: ident.to_string(),
                column: field.name().clone(),
            });
        }
        check_declared_type(field, &column, ident)?;
        columns.push(column);
    }
    RecordBatch::try_new(schema.clone(), columns).map_err(|source| StorageError::Arrow {
        operation: "assembling rows",
        source,
    })
}

/// Parses UUID text (any of the forms `uuid` accepts) into Iceberg's 16-byte uuid.
fn uuid_from_text(column: &ArrayRef, ident: &iceberg::TableIdent, name: &str) -> Result<ArrayRef> {
    let text = arrow::compute::cast(column, &DataType::Utf8).map_err(|e| {
        StorageError::SchemaMismatch {
            table: ident.to_string(),
            column: name.to_string(),
            reason: e.to_string(),
        }
    })?;
    let text = text
        .as_any()
        .downcast_ref::<arrow::array::StringArray>()
        .expect("cast to Utf8 gives a StringArray");
    let mut out = FixedSizeBinaryBuilder::with_capacity(text.len(), 16);
    for value in text.iter() {
        match value {
            None => out.append_null(),
            Some(v) => {
                let parsed =
                    uuid::Uuid::parse_str(v.trim()).map_err(|_| StorageError::InvalidValue {
                        table: ident.to_string(),
                        column: name.to_string(),
                        reason: format!("invalid input syntax for type uuid: \"{v}\""),
                    })?;
                out.append_value(parsed.as_bytes())
                    .expect("a uuid is 16 bytes");
            }
        }
    }
    Ok(std::sync::Arc::new(out.finish()))
}
