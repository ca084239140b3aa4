//! The catalog of schemas and tables in one data directory.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, RwLock};

use iceberg::spec::{Schema, SortOrder, UnboundPartitionSpec};
use iceberg::{Catalog, NamespaceIdent, TableCreation, TableIdent};

use crate::buffer::{Ingest, IngestLimits};
use crate::catalog::SqliteCatalog;
use crate::datadir::DataDir;
use crate::table::TableHandle;
use crate::{Result, StorageError};

/// Everything needed to create a table.
#[derive(Debug, Clone)]
pub struct TableDefinition {
    /// The schema; primary-key columns are its identifier fields.
    pub schema: Schema,
    /// How rows are partitioned, by source field ids and transforms.
    pub partition_spec: Option<UnboundPartitionSpec>,
    /// The order rows are sorted in when files are written.
    pub sort_order: Option<SortOrder>,
    /// Iceberg table properties.
    pub properties: HashMap<String, String>,
}

type Tables = BTreeMap<String, BTreeMap<String, Arc<TableHandle>>>;

/// The views of one schema, by name.
type ViewsIn = BTreeMap<String, crate::ViewDefinition>;

/// Views by schema and name.
type Views = BTreeMap<String, ViewsIn>;

/// The schemas and tables of one data directory, opened by one process.
///
/// The store caches the latest committed metadata of every table; the
/// process holds the directory lock, so nothing else changes the catalog.
pub struct Store {
    dir: DataDir,
    catalog: Arc<SqliteCatalog>,
    ingest: Arc<Ingest>,
    tables: RwLock<Tables>,
    /// Tables that failed to load, by (schema, name), with the reason.
    unavailable: RwLock<BTreeMap<(String, String), String>>,
    views: RwLock<Views>,
    ddl: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.dir).finish()
    }
}

impl Store {
    /// Locks and opens the data directory at `path`, creating it and the
    /// default schema if they do not exist, with default ingestion limits.
    pub async fn open(path: &Path, default_schema: &str) -> Result<Arc<Store>> {
        Store::open_with(path, default_schema, IngestLimits::default()).await
    }

    /// Like [`Store::open`], with the given ingestion limits.
    ///
    /// Rows in the write-ahead log that no committed snapshot holds yet are
    /// put back into their tables' buffers, and a background task starts
    /// that flushes buffers by their policies.
    pub async fn open_with(
        path: &Path,
        default_schema: &str,
        limits: IngestLimits,
    ) -> Result<Arc<Store>> {
        let dir = DataDir::open(path)?;
        let catalog = Arc::new(
            SqliteCatalog::open(
                &dir.catalog_path(),
                floe_common::defaults::CATALOG_NAME,
                &dir.warehouse_path(),
            )
            .await?,
        );

        let mut loaded = Vec::new();
        let mut unavailable = BTreeMap::new();
        let namespaces = catalog
            .list_namespaces(None)
            .await
            .map_err(StorageError::iceberg("listing schemas", "the catalog"))?;
        for ns in namespaces {
            let name = ns.join(".");
            let idents = catalog
                .list_tables(&ns)
                .await
                .map_err(StorageError::iceberg("listing tables", &name))?;
            let mut in_ns = Vec::new();
            for ident in idents {
                match catalog.load_table(&ident).await {
                    Ok(table) => in_ns.push(table),
                    Err(e) => {
                        // One broken table must not keep the others from
                        // being served: it is kept out of service instead.
                        let reason = crate::error::chain(&e);
                        tracing::error!(table = %ident, error = %reason,
                            "table failed to load; it is unavailable until repaired");
                        unavailable.insert((name.clone(), ident.name().to_string()), reason);
                    }
                }
            }
            loaded.push((name, in_ns));
        }

        // The WAL continues above every LSN a table has recorded as committed.
        let floor = loaded
            .iter()
            .flat_map(|(_, ts)| ts)
            .map(|t| crate::buffer::committed_lsn(t.metadata().properties()))
            .max()
            .unwrap_or(0);
        let (wal, replayed) = floe_wal::Wal::open(
            &dir.wal_path(),
            floe_wal::WalOptions {
                segment_bytes: limits.wal_segment_bytes,
                ..floe_wal::WalOptions::default()
            },
            floor + 1,
        )?;
        let ingest = Arc::new(Ingest {
            wal,
            limits,
            buffered_bytes: Default::default(),
            flush_now: tokio::sync::Notify::new(),
        });

        let mut tables = Tables::new();
        let mut by_key = HashMap::new();
        for (name, in_ns) in loaded {
            let mut handles = BTreeMap::new();
            for table in in_ns {
                let handle = Arc::new(TableHandle::new(catalog.clone(), ingest.clone(), table));
                by_key.insert(handle.wal_key().to_string(), handle.clone());
                handles.insert(handle.name().to_string(), handle);
            }
            tables.insert(name, handles);
        }
        let mut restored = 0u64;
        for entry in replayed {
            let Some(handle) = by_key.get(&entry.key) else {
                // The table was dropped after the write, or is one that
                // failed to load: its records are kept for when it loads.
                if unavailable.is_empty() {
                    ingest.wal.forget(&entry.key);
                }
                continue;
            };
            if entry.lsn <= handle.committed_lsn() {
                continue;
            }
            let (batch, key) = crate::buffer::decode(&entry.payload)?;
            restored += batch.num_rows() as u64;
            handle.restore(entry.lsn, batch, key);
        }
        for handle in by_key.values() {
            ingest.wal.release(handle.wal_key(), handle.committed_lsn());
        }
        let retention = crate::idempotency::IDEMPOTENCY_RETENTION.as_millis() as i64;
        let now = floe_common::now_ms();
        for (table, mut keys) in catalog.load_keys(retention).await? {
            if let Some(handle) = by_key.get(&table) {
                // Oldest first: past the table's limit, those are let go.
                keys.sort_by_key(|(_, _, at)| *at);
                for (key, rows, at) in keys {
                    let age = std::time::Duration::from_millis((now - at).max(0) as u64);
                    handle.remember_key(key, rows, age);
                }
            }
        }
        if restored > 0 {
            tracing::info!(
                rows = restored,
                "restored buffered rows from the write-ahead log"
            );
        }

        let mut views = Views::new();
        for (schema, name, view) in catalog.load_views().await? {
            views.entry(schema).or_default().insert(name, view);
        }
        let store = Arc::new(Store {
            dir,
            catalog,
            ingest,
            tables: RwLock::new(tables),
            unavailable: RwLock::new(unavailable),
            views: RwLock::new(views),
            ddl: tokio::sync::Mutex::new(()),
        });
        store.create_schema(default_schema, true).await?;
        crate::maintenance::start(&store);
        Ok(store)
    }

    /// The ingestion limits the store was opened with.
    pub fn limits(&self) -> IngestLimits {
        self.ingest.limits
    }

    /// Bytes buffered in all tables together.
    pub fn buffered_bytes(&self) -> u64 {
        self.ingest
            .buffered_bytes
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Bytes of write-ahead log segments on disk.
    pub fn wal_bytes(&self) -> u64 {
        self.ingest.wal.disk_bytes()
    }

    pub(crate) fn ingest(&self) -> &Arc<Ingest> {
        &self.ingest
    }

    /// Forgets idempotency keys past their retention, in memory and in the catalog.
    pub(crate) async fn expire_keys(&self) -> Result<()> {
        let retention = crate::idempotency::IDEMPOTENCY_RETENTION;
        for handle in self.all_tables() {
            handle.expire_keys(retention);
        }
        self.catalog.expire_keys(retention.as_millis() as i64).await
    }

    /// Flushes every table's buffer to committed files (CHECKPOINT, and
    /// graceful shutdown). Returns the rows flushed.
    pub async fn flush_all(&self) -> Result<u64> {
        let mut rows = 0;
        for handle in self.all_tables() {
            rows += handle.flush().await?.rows;
        }
        Ok(rows)
    }

    /// The absolute path of the data directory.
    pub fn root(&self) -> &Path {
        self.dir.root()
    }

    /// The data directory.
    pub fn data_dir(&self) -> &DataDir {
        &self.dir
    }

    /// Names of all schemas, sorted.
    pub fn schemas(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    /// Whether the schema exists.
    pub fn schema_exists(&self, schema: &str) -> bool {
        self.read().contains_key(schema)
    }

    /// Names of the tables in a schema, sorted; empty if the schema does not exist.
    pub fn table_names(&self, schema: &str) -> Vec<String> {
        self.read()
            .get(schema)
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The table, if it exists.
    pub fn table(&self, schema: &str, table: &str) -> Option<Arc<TableHandle>> {
        self.read().get(schema).and_then(|t| t.get(table)).cloned()
    }

    /// The error for a table that failed to load when the store opened;
    /// `None` for every other name.
    pub fn unavailable(&self, schema: &str, table: &str) -> Option<StorageError> {
        let unavailable = self.unavailable.read().unwrap_or_else(|e| e.into_inner());
        let reason = unavailable.get(&(schema.to_string(), table.to_string()))?;
        Some(StorageError::TableUnavailable {
            schema: schema.to_string(),
            table: table.to_string(),
            reason: reason.clone(),
        })
    }

    /// Every table that failed to load: (schema, name, reason), sorted.
    pub fn unavailable_tables(&self) -> Vec<(String, String, String)> {
        let unavailable = self.unavailable.read().unwrap_or_else(|e| e.into_inner());
        unavailable
            .iter()
            .map(|((s, t), r)| (s.clone(), t.clone(), r.clone()))
            .collect()
    }

    /// All tables of all schemas, ordered by schema and name.
    pub fn all_tables(&self) -> Vec<Arc<TableHandle>> {
        self.read()
            .values()
            .flat_map(|t| t.values().cloned())
            .collect()
    }

    /// Creates a schema. When this returns, the schema is durable.
    pub async fn create_schema(&self, schema: &str, if_not_exists: bool) -> Result<()> {
        let _ddl = self.ddl.lock().await;
        if self.schema_exists(schema) {
            return if if_not_exists {
                Ok(())
            } else {
                Err(StorageError::SchemaExists {
                    schema: schema.to_string(),
                })
            };
        }
        let ns = NamespaceIdent::new(schema.to_string());
        self.catalog
            .create_namespace(&ns, HashMap::new())
            .await
            .map_err(StorageError::iceberg("creating schema", schema))?;
        self.write().insert(schema.to_string(), BTreeMap::new());
        Ok(())
    }

    /// Drops a schema; with `cascade`, its tables too.
    pub async fn drop_schema(&self, schema: &str, if_exists: bool, cascade: bool) -> Result<()> {
        let _ddl = self.ddl.lock().await;
        let Some(names) = self
            .read()
            .get(schema)
            .map(|t| t.keys().cloned().collect::<Vec<_>>())
        else {
            return if if_exists {
                Ok(())
            } else {
                Err(StorageError::NoSuchSchema {
                    schema: schema.to_string(),
                })
            };
        };
        let views = self.view_names(schema);
        if !cascade && (!names.is_empty() || !views.is_empty()) {
            return Err(StorageError::SchemaNotEmpty {
                schema: schema.to_string(),
                tables: names.len(),
                views: views.len(),
            });
        }
        for name in views {
            self.drop_view_locked(schema, &name).await?;
        }
        for name in names {
            self.drop_table_locked(schema, &name).await?;
        }
        let ns = NamespaceIdent::new(schema.to_string());
        self.catalog
            .drop_namespace(&ns)
            .await
            .map_err(StorageError::iceberg("dropping schema", schema))?;
        self.write().remove(schema);
        Ok(())
    }

    /// Creates a table. When this returns, the empty table is durable and visible.
    pub async fn create_table(
        &self,
        schema: &str,
        name: &str,
        definition: TableDefinition,
        if_not_exists: bool,
    ) -> Result<Option<Arc<TableHandle>>> {
        let _ddl = self.ddl.lock().await;
        if !self.schema_exists(schema) {
            return Err(StorageError::NoSuchSchema {
                schema: schema.to_string(),
            });
        }
        if self.table(schema, name).is_some() || self.view(schema, name).is_some() {
            return if if_not_exists {
                Ok(None)
            } else {
                Err(StorageError::TableExists {
                    schema: schema.to_string(),
                    table: name.to_string(),
                })
            };
        }
        let invalid = |e: iceberg::Error| StorageError::InvalidDefinition {
            table: name.to_string(),
            reason: e.message().to_string(),
        };
        let creation = TableCreation::builder()
            .name(name.to_string())
            .schema(definition.schema)
            .partition_spec_opt(definition.partition_spec)
            .sort_order_opt(definition.sort_order)
            .properties(definition.properties)
            .build();
        let ns = NamespaceIdent::new(schema.to_string());
        let table = self
            .catalog
            .create_table(&ns, creation)
            .await
            .map_err(|e| match e.kind() {
                iceberg::ErrorKind::DataInvalid | iceberg::ErrorKind::FeatureUnsupported => {
                    invalid(e)
                }
                _ => StorageError::Iceberg {
                    operation: "creating table",
                    target: format!("{schema}.{name}"),
                    source: Box::new(e),
                },
            })?;
        let handle = Arc::new(TableHandle::new(
            self.catalog.clone(),
            self.ingest.clone(),
            table,
        ));
        self.write()
            .entry(schema.to_string())
            .or_default()
            .insert(name.to_string(), handle.clone());
        Ok(Some(handle))
    }

    /// Drops a table and deletes its files. Returns whether a table was dropped.
    pub async fn drop_table(&self, schema: &str, name: &str, if_exists: bool) -> Result<bool> {
        let _ddl = self.ddl.lock().await;
        if self.unavailable(schema, name).is_some() {
            let ident = TableIdent::new(NamespaceIdent::new(schema.to_string()), name.to_string());
            self.catalog
                .drop_table(&ident)
                .await
                .map_err(StorageError::iceberg("dropping table", &ident))?;
            let mut unavailable = self.unavailable.write().unwrap_or_else(|e| e.into_inner());
            unavailable.remove(&(schema.to_string(), name.to_string()));
            return Ok(true);
        }
        if self.table(schema, name).is_none() {
            if self.view(schema, name).is_some() {
                return Err(StorageError::WrongKind {
                    name: name.to_string(),
                    kind: "table",
                    hint: "DROP VIEW",
                });
            }
            return if if_exists {
                Ok(false)
            } else {
                Err(StorageError::NoSuchTable {
                    schema: schema.to_string(),
                    table: name.to_string(),
                })
            };
        }
        self.drop_table_locked(schema, name).await?;
        Ok(true)
    }

    async fn drop_table_locked(&self, schema: &str, name: &str) -> Result<()> {
        let Some(handle) = self.table(schema, name) else {
            return Ok(());
        };
        // Wait for a running commit on the table to finish before it goes.
        let _commit = handle.lock_commits().await;
        let ident = TableIdent::new(NamespaceIdent::new(schema.to_string()), name.to_string());
        let location = handle.table().metadata().location().to_string();
        self.catalog
            .drop_table(&ident)
            .await
            .map_err(StorageError::iceberg("dropping table", &ident))?;
        if let Some(t) = self.write().get_mut(schema) {
            t.remove(name);
        }
        handle.discard();
        // The catalog entry is gone, so the files are unreachable; removing
        // them is cleanup, and a failure here only leaves garbage behind.
        if let Some(path) = location.strip_prefix("file://")
            && let Err(e) = tokio::fs::remove_dir_all(path).await
        {
            tracing::warn!(%path, error = %e, "could not remove files of dropped table");
        }
        Ok(())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Tables> {
        self.tables.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Tables> {
        self.tables.write().unwrap_or_else(|e| e.into_inner())
    }
}

mod views;

#[cfg(test)]
pub(crate) mod tests;
