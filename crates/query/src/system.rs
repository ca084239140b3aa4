//! System tables (`system.tables`, `system.snapshots`, `system.sources`,
//! for access control `system.roles`, `system.grants`, `system.tokens` and
//! `system.audit`, `system.sessions` and `system.queries`, and
//! `system.caches`) and the time-travel table function `at_snapshot`.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, Session, TableFunctionImpl};
use datafusion::common::ScalarValue;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use floe_cdc::{Sources, TableStatus, format_lsn};
use floe_storage::{Store, TableHandle, summary_count};

use crate::access::tables;
use crate::engine::current_session;
use crate::error::QueryError;
use crate::estimates::EstimateCache;
use crate::table::FloeTable;
use floe_auth::Auth;

/// The `system` schema.
#[derive(Debug)]
pub struct SystemSchema {
    store: Arc<Store>,
    sources: Arc<Sources>,
    auth: Arc<Auth>,
    estimates: Arc<EstimateCache>,
}

impl SystemSchema {
    /// The system schema over a store, its replication sources and its
    /// access control.
    pub fn new(store: Arc<Store>, sources: Arc<Sources>, auth: Arc<Auth>) -> SystemSchema {
        SystemSchema {
            store,
            sources,
            auth,
            estimates: Default::default(),
        }
    }

    /// The schema showing the planner's cache of table sizes in
    /// `system.caches`.
    pub(crate) fn with_estimates(mut self, estimates: Arc<EstimateCache>) -> SystemSchema {
        self.estimates = estimates;
        self
    }
}

/// Whether a scan reads a system table only superusers may read: the
/// audit trail, and the replication sources (their upstream connections).
pub(crate) fn superuser_only(source: &Arc<dyn datafusion::logical_expr::TableSource>) -> bool {
    datafusion::datasource::source_as_provider(source).is_ok_and(|p| {
        p.downcast_ref::<SystemTable>()
            .is_some_and(|t| matches!(t.kind, Kind::Audit | Kind::Sources))
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tables,
    Snapshots,
    Sources,
    Roles,
    Grants,
    Tokens,
    Audit,
    Sessions,
    Queries,
    Caches,
}

impl Kind {
    const ALL: [(Kind, &'static str); 10] = [
        (Kind::Tables, "tables"),
        (Kind::Snapshots, "snapshots"),
        (Kind::Sources, "sources"),
        (Kind::Roles, "roles"),
        (Kind::Grants, "grants"),
        (Kind::Tokens, "tokens"),
        (Kind::Audit, "audit"),
        (Kind::Sessions, "sessions"),
        (Kind::Queries, "queries"),
        (Kind::Caches, "caches"),
    ];

    fn schema(self) -> SchemaRef {
        let ts = DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into()));
        let fields = match self {
            Kind::Tables => vec![
                Field::new("table_schema", DataType::Utf8, false),
                Field::new("table_name", DataType::Utf8, false),
                Field::new("snapshot_id", DataType::Int64, true),
                Field::new("last_commit", ts, true),
                Field::new("rows", DataType::Int64, false),
                Field::new("files", DataType::Int64, false),
                Field::new("delete_files", DataType::Int64, false),
                Field::new("bytes", DataType::Int64, false),
                Field::new("buffered_rows", DataType::Int64, false),
                Field::new("buffered_bytes", DataType::Int64, false),
                Field::new("snapshots", DataType::Int64, false),
                Field::new("last_error", DataType::Utf8, true),
                Field::new("partition_spec", DataType::Utf8, false),
                Field::new("sort_order", DataType::Utf8, false),
                Field::new("location", DataType::Utf8, false),
            ],
            Kind::Snapshots => vec![
                Field::new("table_schema", DataType::Utf8, false),
                Field::new("table_name", DataType::Utf8, false),
                Field::new("snapshot_id", DataType::Int64, false),
                Field::new("parent_id", DataType::Int64, true),
                Field::new("committed_at", ts, false),
                Field::new("operation", DataType::Utf8, false),
                Field::new("added_rows", DataType::Int64, true),
                Field::new("total_rows", DataType::Int64, true),
                Field::new("added_files", DataType::Int64, true),
                Field::new("total_files", DataType::Int64, true),
                Field::new("deleted_rows", DataType::Int64, false),
            ],
            Kind::Sources => vec![
                Field::new("source", DataType::Utf8, false),
                Field::new("table_schema", DataType::Utf8, true),
                Field::new("table_name", DataType::Utf8, true),
                Field::new("upstream", DataType::Utf8, true),
                Field::new("state", DataType::Utf8, false),
                Field::new("applied_lsn", DataType::Utf8, false),
                Field::new("lag_bytes", DataType::Int64, true),
                Field::new("lag_seconds", DataType::Float64, true),
                Field::new("last_commit", ts, true),
                Field::new("rows_snapshotted", DataType::Int64, false),
                Field::new("rows_estimated", DataType::Int64, false),
                Field::new("rows_applied", DataType::Int64, false),
                Field::new("last_error", DataType::Utf8, true),
                Field::new("publication", DataType::Utf8, false),
                Field::new("slot", DataType::Utf8, false),
                Field::new("connection", DataType::Utf8, false),
            ],
            Kind::Roles => tables::roles_fields(),
            Kind::Grants => tables::grants_fields(),
            Kind::Tokens => tables::tokens_fields(),
            Kind::Audit => tables::audit_fields(),
            Kind::Sessions => tables::sessions_fields(),
            Kind::Queries => tables::queries_fields(),
            Kind::Caches => vec![
                Field::new("cache", DataType::Utf8, false),
                Field::new("table_schema", DataType::Utf8, true),
                Field::new("table_name", DataType::Utf8, true),
                Field::new("entries", DataType::Int64, false),
                Field::new("bytes", DataType::Int64, false),
                Field::new("limit_bytes", DataType::Int64, false),
            ],
        };
        Arc::new(Schema::new(fields))
    }
}

#[async_trait]
impl SchemaProvider for SystemSchema {
    fn table_names(&self) -> Vec<String> {
        Kind::ALL.iter().map(|(_, n)| n.to_string()).collect()
    }

    async fn table(&self, name: &str) -> DFResult<Option<Arc<dyn TableProvider>>> {
        Ok(Kind::ALL.iter().find(|(_, n)| *n == name).map(|(kind, _)| {
            Arc::new(SystemTable {
                kind: *kind,
                store: self.store.clone(),
                sources: self.sources.clone(),
                auth: self.auth.clone(),
                estimates: self.estimates.clone(),
            }) as Arc<dyn TableProvider>
        }))
    }

    fn table_exist(&self, name: &str) -> bool {
        Kind::ALL.iter().any(|(_, n)| *n == name)
    }
}

#[derive(Debug)]
struct SystemTable {
    kind: Kind,
    store: Arc<Store>,
    sources: Arc<Sources>,
    auth: Arc<Auth>,
    estimates: Arc<EstimateCache>,
}

impl SystemTable {
    fn batch(&self, state: &dyn Session) -> DFResult<RecordBatch> {
        let tables = self.store.all_tables();
        let columns: Vec<ArrayRef> = match self.kind {
            Kind::Tables => {
                let mut schema = vec![];
                let mut name = vec![];
                let mut snapshot = vec![];
                let mut last = vec![];
                let mut rows = vec![];
                let mut files = vec![];
                let mut delete_files = vec![];
                let mut snapshots = vec![];
                let mut errors = vec![];
                let mut bytes = vec![];
                let mut buffered_rows = vec![];
                let mut buffered_bytes = vec![];
                let mut spec = vec![];
                let mut order = vec![];
                let mut location = vec![];
                for h in &tables {
                    let t = h.table();
                    let m = t.metadata();
                    let current = m.current_snapshot();
                    let props = current.map(|s| s.summary().additional_properties.clone());
                    let get = |k| {
                        props
                            .as_ref()
                            .and_then(|p| summary_count(p, k))
                            .unwrap_or(0)
                    };
                    schema.push(h.schema_name());
                    name.push(h.name().to_string());
                    snapshot.push(current.map(|s| s.snapshot_id()));
                    last.push(current.map(|s| s.timestamp_ms()));
                    let buffered = h.buffer_stats();
                    // Each position delete removes exactly one live row.
                    rows.push(
                        get("total-records") - get("total-position-deletes") + buffered.rows as i64,
                    );
                    files.push(get("total-data-files"));
                    delete_files.push(get("total-delete-files"));
                    snapshots.push(m.snapshots().len() as i64);
                    errors.push(h.last_error());
                    bytes.push(get("total-files-size"));
                    buffered_rows.push(buffered.rows as i64);
                    buffered_bytes.push(buffered.bytes as i64);
                    spec.push(describe_spec(h));
                    order.push(describe_order(h));
                    location.push(m.location().to_string());
                }
                for (s, t, reason) in self.store.unavailable_tables() {
                    schema.push(s);
                    name.push(t);
                    snapshot.push(None);
                    last.push(None);
                    errors.push(Some(format!("failed to load: {reason}")));
                    for column in [
                        &mut rows,
                        &mut files,
                        &mut delete_files,
                        &mut snapshots,
                        &mut bytes,
                        &mut buffered_rows,
                        &mut buffered_bytes,
                    ] {
                        column.push(0);
                    }
                    for column in [&mut spec, &mut order, &mut location] {
                        column.push(String::new());
                    }
                }
                vec![
                    Arc::new(StringArray::from(schema)),
                    Arc::new(StringArray::from(name)),
                    Arc::new(Int64Array::from(snapshot)),
                    Arc::new(TimestampMillisecondArray::from(last).with_timezone("+00:00")),
                    Arc::new(Int64Array::from(rows)),
                    Arc::new(Int64Array::from(files)),
                    Arc::new(Int64Array::from(delete_files)),
                    Arc::new(Int64Array::from(bytes)),
                    Arc::new(Int64Array::from(buffered_rows)),
                    Arc::new(Int64Array::from(buffered_bytes)),
                    Arc::new(Int64Array::from(snapshots)),
                    Arc::new(StringArray::from(errors)),
                    Arc::new(StringArray::from(spec)),
                    Arc::new(StringArray::from(order)),
                    Arc::new(StringArray::from(location)),
                ]
            }
            Kind::Snapshots => {
                let mut schema = vec![];
                let mut name = vec![];
                let mut id = vec![];
                let mut parent = vec![];
                let mut at = vec![];
                let mut op = vec![];
                let mut added_rows = vec![];
                let mut total_rows = vec![];
                let mut added_files = vec![];
                let mut total_files = vec![];
                let mut deleted_rows = vec![];
                for h in &tables {
                    let t = h.table();
                    let mut snaps: Vec<_> = t.metadata().snapshots().collect();
                    snaps.sort_by_key(|s| (s.timestamp_ms(), s.sequence_number()));
                    for s in snaps {
                        let p = &s.summary().additional_properties;
                        schema.push(h.schema_name());
                        name.push(h.name().to_string());
                        id.push(s.snapshot_id());
                        parent.push(s.parent_snapshot_id());
                        at.push(s.timestamp_ms());
                        op.push(s.summary().operation.as_str().to_string());
                        added_rows.push(summary_count(p, "added-records"));
                        total_rows.push(
                            summary_count(p, "total-records").map(|t| {
                                t - summary_count(p, "total-position-deletes").unwrap_or(0)
                            }),
                        );
                        deleted_rows.push(summary_count(p, "added-position-deletes").unwrap_or(0));
                        added_files.push(summary_count(p, "added-data-files"));
                        total_files.push(summary_count(p, "total-data-files"));
                    }
                }
                vec![
                    Arc::new(StringArray::from(schema)),
                    Arc::new(StringArray::from(name)),
                    Arc::new(Int64Array::from(id)),
                    Arc::new(Int64Array::from(parent)),
                    Arc::new(TimestampMillisecondArray::from(at).with_timezone("+00:00")),
                    Arc::new(StringArray::from(op)),
                    Arc::new(Int64Array::from(added_rows)),
                    Arc::new(Int64Array::from(total_rows)),
                    Arc::new(Int64Array::from(added_files)),
                    Arc::new(Int64Array::from(total_files)),
                    Arc::new(Int64Array::from(deleted_rows)),
                ]
            }
            Kind::Sources => self.sources_columns(),
            Kind::Caches => caches_columns(&tables, state, &self.estimates),
            Kind::Roles => tables::roles_columns(&self.auth),
            Kind::Grants => tables::grants_columns(&self.auth, current_session().as_ref()),
            Kind::Tokens => tables::tokens_columns(&self.auth, current_session().as_ref()),
            Kind::Sessions => tables::sessions_columns(&self.auth, current_session().as_ref()),
            Kind::Queries => tables::queries_columns(&self.auth, current_session().as_ref()),
            Kind::Audit => tables::audit_columns(&self.auth)
                .map_err(|e| QueryError::from(e).into_datafusion())?,
        };
        Ok(RecordBatch::try_new(self.kind.schema(), columns)?)
    }
}

impl SystemTable {
    /// One row per source (table columns NULL), then one per table.
    fn sources_columns(&self) -> Vec<ArrayRef> {
        let mut source = vec![];
        let mut schema: Vec<Option<String>> = vec![];
        let mut table: Vec<Option<String>> = vec![];
        let mut upstream: Vec<Option<String>> = vec![];
        let mut state = vec![];
        let mut lsn = vec![];
        let mut lag_bytes = vec![];
        let mut lag_seconds = vec![];
        let mut last_commit = vec![];
        let mut snapshotted = vec![];
        let mut estimated = vec![];
        let mut applied = vec![];
        let mut error = vec![];
        let mut publication = vec![];
        let mut slot = vec![];
        let mut connection = vec![];
        for view in self.sources.list() {
            let st = &view.status;
            let mut row = |t: Option<&TableStatus>| {
                source.push(view.name.clone());
                schema.push(t.map(|t| t.schema.clone()));
                table.push(t.map(|t| t.table.clone()));
                upstream.push(t.map(|t| t.upstream.clone()));
                state.push(t.map_or(st.state.clone(), |t| t.state.clone()));
                lsn.push(format_lsn(t.map_or(st.confirmed_lsn, |t| t.applied_lsn)));
                lag_bytes.push(t.is_none().then(|| st.lag_bytes() as i64));
                lag_seconds.push(t.is_none().then_some(st.lag_seconds));
                last_commit.push(t.is_none().then_some(st.last_commit_ms).flatten());
                let sum = |f: fn(&TableStatus) -> u64| match t {
                    Some(t) => f(t) as i64,
                    None => st.tables.values().map(f).sum::<u64>() as i64,
                };
                snapshotted.push(sum(|t| t.rows_snapshotted));
                estimated.push(sum(|t| t.rows_estimated));
                applied.push(sum(|t| t.rows_applied));
                error.push(t.map_or(st.last_error.clone(), |t| t.last_error.clone()));
                publication.push(view.publication.clone());
                slot.push(view.slot.clone());
                connection.push(view.connection.clone());
            };
            row(None);
            for t in st.tables.values() {
                row(Some(t));
            }
        }
        vec![
            Arc::new(StringArray::from(source)),
            Arc::new(StringArray::from(schema)),
            Arc::new(StringArray::from(table)),
            Arc::new(StringArray::from(upstream)),
            Arc::new(StringArray::from(state)),
            Arc::new(StringArray::from(lsn)),
            Arc::new(Int64Array::from(lag_bytes)),
            Arc::new(Float64Array::from(lag_seconds)),
            Arc::new(TimestampMillisecondArray::from(last_commit).with_timezone("+00:00")),
            Arc::new(Int64Array::from(snapshotted)),
            Arc::new(Int64Array::from(estimated)),
            Arc::new(Int64Array::from(applied)),
            Arc::new(StringArray::from(error)),
            Arc::new(StringArray::from(publication)),
            Arc::new(StringArray::from(slot)),
            Arc::new(StringArray::from(connection)),
        ]
    }
}

/// One row per cache of each table (key index, plan cache, idempotency
/// keys), then one per cache every query shares (the planner's column
/// ranges, and the DataFusion runtime's Parquet footers and file
/// listings), with NULL table columns.
fn caches_columns(
    tables: &[Arc<TableHandle>],
    state: &dyn Session,
    estimates: &EstimateCache,
) -> Vec<ArrayRef> {
    let mut cache = vec![];
    let mut schema = vec![];
    let mut table = vec![];
    let mut entries = vec![];
    let mut bytes = vec![];
    let mut limit = vec![];
    for h in tables {
        for c in h.caches() {
            cache.push(c.cache);
            schema.push(Some(h.schema_name()));
            table.push(Some(h.name().to_string()));
            entries.push(c.entries as i64);
            bytes.push(c.bytes as i64);
            limit.push(c.limit_bytes as i64);
        }
    }
    let runtime = &state.runtime_env().cache_manager;
    let mut shared = |name, len: usize, used: usize, max: usize| {
        cache.push(name);
        schema.push(None);
        table.push(None);
        entries.push(len as i64);
        bytes.push(used as i64);
        limit.push(max as i64);
    };
    let (files, used) = estimates.usage();
    shared(
        "column_ranges",
        files,
        used,
        crate::estimates::FILE_BYTES_LIMIT,
    );
    let footers = runtime.get_file_metadata_cache();
    shared(
        "parquet_metadata",
        footers.len(),
        footers.list_entries().values().map(|e| e.size_bytes).sum(),
        footers.cache_limit(),
    );
    if let Some(listings) = runtime.get_list_files_cache() {
        shared(
            "file_listings",
            listings.len(),
            listings.list_entries().values().map(|e| e.size_bytes).sum(),
            listings.cache_limit(),
        );
    }
    vec![
        Arc::new(StringArray::from(cache)),
        Arc::new(StringArray::from(schema)),
        Arc::new(StringArray::from(table)),
        Arc::new(Int64Array::from(entries)),
        Arc::new(Int64Array::from(bytes)),
        Arc::new(Int64Array::from(limit)),
    ]
}

fn describe_spec(h: &TableHandle) -> String {
    let t = h.table();
    let fields = t.metadata().default_partition_spec().fields().to_vec();
    describe_fields(
        h,
        fields
            .iter()
            .map(|f| (f.source_id, f.transform.to_string())),
        |c, t| format!("{t}({c})"),
    )
}

fn describe_order(h: &TableHandle) -> String {
    let t = h.table();
    let fields = t.metadata().default_sort_order().fields.clone();
    describe_fields(
        h,
        fields
            .iter()
            .map(|f| (f.source_id, f.direction.to_string())),
        |c, d| format!("{c} {d}"),
    )
}

/// Joins `(source field id, detail)` items, each shown by `show(column, detail)`.
fn describe_fields(
    h: &TableHandle,
    items: impl Iterator<Item = (i32, String)>,
    show: impl Fn(&str, &str) -> String,
) -> String {
    let t = h.table();
    let schema = t.metadata().current_schema();
    items
        .map(|(id, detail)| {
            let column = schema
                .field_by_id(id)
                .map(|c| c.name.clone())
                .unwrap_or_default();
            show(&column, &detail)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[async_trait]
impl TableProvider for SystemTable {
    fn schema(&self) -> SchemaRef {
        self.kind.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let batch = self.batch(state)?;
        let exec =
            MemorySourceConfig::try_new_exec(&[vec![batch]], self.schema(), projection.cloned())?;
        Ok(exec)
    }
}

/// `at_snapshot('schema.table', snapshot_id)`: the table as of a snapshot.
#[derive(Debug)]
pub struct AtSnapshot {
    store: Arc<Store>,
    auth: Arc<Auth>,
}

impl AtSnapshot {
    /// The function over a store.
    pub fn new(store: Arc<Store>, auth: Arc<Auth>) -> AtSnapshot {
        AtSnapshot { store, auth }
    }
}

impl TableFunctionImpl for AtSnapshot {
    fn call(&self, args: &[Expr]) -> DFResult<Arc<dyn TableProvider>> {
        let usage = || {
            DataFusionError::Plan(
                "at_snapshot takes a table name and a snapshot id: at_snapshot('public.t', 123)"
                    .into(),
            )
        };
        let [name, id] = args else {
            return Err(usage());
        };
        let Expr::Literal(ScalarValue::Utf8(Some(name)), _) = name else {
            return Err(usage());
        };
        let id = match id {
            Expr::Literal(ScalarValue::Int64(Some(v)), _) => *v,
            Expr::Literal(ScalarValue::Int32(Some(v)), _) => *v as i64,
            _ => return Err(usage()),
        };
        let handle = table_by_name(&self.store, &self.auth, name)?;
        Ok(Arc::new(FloeTable::at_snapshot(handle, id)?))
    }
}

/// The table a table function's `'schema.table'` argument names, if the
/// session may read it.
pub(crate) fn table_by_name(store: &Store, auth: &Auth, name: &str) -> DFResult<Arc<TableHandle>> {
    let (schema, table) = crate::names::split_qualified(name);
    let handle =
        crate::engine::lookup(store, &schema, &table).map_err(QueryError::into_datafusion)?;
    if let Some(who) = current_session() {
        auth.check_table(&who, floe_auth::Privilege::Select, &schema, &table)
            .map_err(|e| QueryError::from(e).into_datafusion())?;
    }
    Ok(handle)
}
