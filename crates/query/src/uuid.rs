//! UUID columns: stored as Iceberg `uuid` (16 bytes), shown to SQL as text;
//! and `bit varying` columns, stored as text, shown as bit strings.
//!
//! DataFusion has no UUID type, so a table's uuid columns appear in its
//! schema as `Utf8` fields tagged with [`TYPE_KEY`] = `uuid`; front ends use
//! the tag to report the PostgreSQL `uuid` type. Scans convert the stored
//! bytes to canonical text; writes parse text back (in the storage layer).

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, FixedSizeBinaryArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::error::Result as DFResult;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalSortExpr};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties,
};
use floe_storage::interval_text::is_interval_field;
use futures::StreamExt;

/// Field metadata key naming a column's SQL type where Arrow cannot.
pub const TYPE_KEY: &str = "floe.type";

fn is_stored_uuid(field: &Field) -> bool {
    *field.data_type() == DataType::FixedSizeBinary(16)
}

/// Whether a field is a uuid column shown as text.
pub fn is_uuid(field: &Field) -> bool {
    field.metadata().get(TYPE_KEY).is_some_and(|t| t == "uuid")
}

/// Whether a stored field is a `bit varying` column, kept as text.
fn is_stored_bits(field: &Field) -> bool {
    field.metadata().get("doc").map(String::as_str) == Some(floe_storage::BIT_VARYING_DOC)
        && *field.data_type() == DataType::Utf8
}

/// The type SQL sees for a stored type: a list's element field is
/// DataFusion's (`item`, without the Iceberg field id), at every level.
fn logical_type(stored: &DataType) -> DataType {
    match stored {
        DataType::List(element) => DataType::List(Arc::new(Field::new(
            "item",
            logical_type(element.data_type()),
            element.is_nullable(),
        ))),
        other => other.clone(),
    }
}

/// Whether a stored field is a list whose elements carry Iceberg field
/// ids.
fn is_stored_list(field: &Field) -> bool {
    matches!(field.data_type(), DataType::List(_))
        && logical_type(field.data_type()) != *field.data_type()
}

const INTERVAL: DataType = DataType::Interval(arrow::datatypes::IntervalUnit::MonthDayNano);

/// Whether a stored schema has columns SQL sees with another type.
fn differs(stored: &Schema) -> bool {
    stored.fields().iter().any(|f| {
        is_stored_uuid(f) || is_stored_bits(f) || is_stored_list(f) || is_interval_field(f)
    })
}

/// The schema SQL sees for a stored schema: uuid columns become tagged
/// text, `bit varying` columns bit strings ([`crate::bits`]), `interval`
/// columns intervals, and arrays lists without Iceberg's element ids.
pub fn logical_schema(stored: &SchemaRef) -> SchemaRef {
    if !differs(stored) {
        return stored.clone();
    }
    let fields: Vec<Field> = stored
        .fields()
        .iter()
        .map(|f| {
            if is_stored_uuid(f) {
                let mut metadata: HashMap<String, String> = f.metadata().clone();
                metadata.insert(TYPE_KEY.to_string(), "uuid".to_string());
                Field::new(f.name(), DataType::Utf8, f.is_nullable()).with_metadata(metadata)
            } else if is_stored_bits(f) {
                f.as_ref().clone().with_data_type(crate::bits::BITS)
            } else if is_interval_field(f) {
                f.as_ref().clone().with_data_type(INTERVAL)
            } else {
                f.as_ref()
                    .clone()
                    .with_data_type(logical_type(f.data_type()))
            }
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, stored.metadata().clone()))
}

/// Converts stored uuid columns (16-byte binary) to canonical text.
fn columns_as_text(columns: &[ArrayRef]) -> Vec<ArrayRef> {
    columns
        .iter()
        .map(
            |c| match c.as_any().downcast_ref::<FixedSizeBinaryArray>() {
                Some(bytes) if bytes.value_length() == 16 => {
                    let text: StringArray = (0..bytes.len())
                        .map(|i| {
                            bytes.is_valid(i).then(|| {
                                uuid::Uuid::from_slice(bytes.value(i))
                                    .map(|u| u.hyphenated().to_string())
                                    .unwrap_or_default()
                            })
                        })
                        .collect();
                    Arc::new(text) as ArrayRef
                }
                _ => c.clone(),
            },
        )
        .collect()
}

/// Stored columns as SQL sees them: uuid columns as text, bit string
/// columns as bit strings, following the first fields of `logical`.
pub fn columns_as_logical(columns: &[ArrayRef], logical: &Schema) -> DFResult<Vec<ArrayRef>> {
    Ok(columns_as_text(columns)
        .into_iter()
        .zip(logical.fields())
        .map(|(c, f)| match c.data_type() == f.data_type() {
            true => Ok(c),
            false if *f.data_type() == INTERVAL => stored_intervals(&c),
            false => arrow::compute::cast(&c, f.data_type()),
        })
        .collect::<Result<Vec<_>, _>>()?)
}

/// The intervals of a stored `interval` column (its text, written by
/// the storage writer).
fn stored_intervals(column: &ArrayRef) -> Result<ArrayRef, arrow::error::ArrowError> {
    use arrow::array::{AsArray, IntervalMonthDayNanoArray};
    let text = arrow::compute::cast(column, &DataType::Utf8)?;
    let values = text
        .as_string::<i32>()
        .iter()
        .map(|v| match v {
            None => Ok(None),
            Some(v) => floe_storage::interval_text::parse(v)
                .map(Some)
                .ok_or_else(|| {
                    arrow::error::ArrowError::ParseError(format!(
                        "stored interval \"{v}\" is not one Floe wrote"
                    ))
                }),
        })
        .collect::<Result<IntervalMonthDayNanoArray, _>>()?;
    Ok(Arc::new(values))
}

fn to_text(batch: RecordBatch, schema: &SchemaRef) -> DFResult<RecordBatch> {
    let columns = columns_as_logical(batch.columns(), schema)?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

/// Wraps a scan whose output has stored uuid or bit string columns so they
/// come out as SQL sees them.
pub fn text_scan(input: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
    let stored = input.schema();
    if !differs(&stored) {
        return input;
    }
    let schema = logical_schema(&stored);
    // The conversion keeps each value's place, and names and places the
    // columns as they were: the input's order holds, except by an
    // interval, whose stored text sorts otherwise.
    let ordering: Vec<PhysicalSortExpr> = input
        .output_ordering()
        .map(|o| o.iter().cloned().collect())
        .unwrap_or_default();
    let by_columns = ordering.iter().all(|s| {
        s.expr
            .downcast_ref::<Column>()
            .is_some_and(|c| !is_interval_field(stored.field(c.index())))
    });
    let orderings = by_columns.then_some(ordering);
    let properties = Arc::new(PlanProperties::new(
        EquivalenceProperties::new_with_orderings(schema.clone(), orderings),
        input.output_partitioning().clone(),
        input.pipeline_behavior(),
        input.boundedness(),
    ));
    Arc::new(UuidTextExec {
        input,
        schema,
        properties,
    })
}

#[derive(Debug)]
struct UuidTextExec {
    input: Arc<dyn ExecutionPlan>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl DisplayAs for UuidTextExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "UuidTextExec")
    }
}

impl ExecutionPlan for UuidTextExec {
    fn name(&self) -> &str {
        "UuidTextExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    /// An order asked of this node is not asked of its input: the input's
    /// columns have their stored types, on which the ordering's
    /// expressions would mean something else (an interval's text sorts
    /// otherwise, and a function of a uuid would meet bytes).
    fn maintains_input_order(&self) -> Vec<bool> {
        vec![false]
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        Ok(text_scan(children.remove(0)))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DFResult<SendableRecordBatchStream> {
        let schema = self.schema.clone();
        let out = schema.clone();
        let stream = self
            .input
            .execute(partition, context)?
            .map(move |b| b.and_then(|b| to_text(b, &out)));
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}
