//! The Iceberg catalog of a data directory: one SQLite database.
//!
//! The database has the layout of the Iceberg SQL catalog that PyIceberg's
//! `SqlCatalog` (and the JDBC catalog) read and write: table
//! `iceberg_tables` holds each table's current metadata location, table
//! `iceberg_namespace_properties` each namespace's properties (at least
//! `exists = true`). Floe keeps its own rows beside them in
//! `floe_idempotency_keys` (the idempotency keys of committed rows) and
//! `floe_views` (each view's SQL, see [`views`]).
//!
//! Every statement goes through one connection pool, with one busy timeout
//! ([`BUSY_TIMEOUT`]): a write waits that long for another connection's
//! lock (another SQLite client reading or writing the catalog) before it
//! fails. Write transactions take the write lock when they begin, so a
//! transaction that reads before it writes never finds the database
//! changed under it.
//!
//! A commit writes the table's next metadata file first (durable when the
//! write returns), then moves the table's row from the metadata it was
//! based on to the new file with a compare-and-swap, in one SQLite
//! transaction that is synced when it commits. Until that commit nothing is
//! visible; after it, all is. [`SqliteCatalog::swap`] (Floe's own commits)
//! and [`Catalog::update_table`] (the Iceberg library's transactions) both
//! commit this way.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use iceberg::io::{FileIO, FileIOBuilder};
use iceberg::spec::{TableMetadata, TableMetadataBuilder};
use iceberg::table::Table;
use iceberg::{
    Catalog, Error, ErrorKind, MetadataLocation, Namespace, NamespaceIdent, Runtime, TableCommit,
    TableCreation, TableIdent,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

use crate::{Result, StorageError};

/// How long a statement waits for another connection's lock on the catalog
/// database before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections of the pool. Commits to different tables hold one each for
/// their short transaction; SQLite serializes their writes anyway.
const MAX_CONNECTIONS: u32 = 2;

/// The namespace property that every namespace row set has.
const EXISTS_PROPERTY: &str = "exists";
/// The namespace property that sets where its tables are created.
const LOCATION_PROPERTY: &str = "location";

/// The tables of the Iceberg SQL catalog layout and Floe's own, created if
/// missing.
const SCHEMA: [&str; 4] = [
    "CREATE TABLE IF NOT EXISTS iceberg_tables (
        catalog_name VARCHAR(255) NOT NULL,
        table_namespace VARCHAR(255) NOT NULL,
        table_name VARCHAR(255) NOT NULL,
        metadata_location VARCHAR(1000),
        previous_metadata_location VARCHAR(1000),
        iceberg_type VARCHAR(5),
        PRIMARY KEY (catalog_name, table_namespace, table_name))",
    "CREATE TABLE IF NOT EXISTS iceberg_namespace_properties (
        catalog_name VARCHAR(255) NOT NULL,
        namespace VARCHAR(255) NOT NULL,
        property_key VARCHAR(255),
        property_value VARCHAR(1000),
        PRIMARY KEY (catalog_name, namespace, property_key))",
    "CREATE TABLE IF NOT EXISTS floe_idempotency_keys (
        table_uuid TEXT NOT NULL,
        key TEXT NOT NULL,
        rows INTEGER NOT NULL,
        created_ms INTEGER NOT NULL,
        PRIMARY KEY (table_uuid, key))",
    "CREATE TABLE IF NOT EXISTS floe_views (
        catalog_name VARCHAR(255) NOT NULL,
        namespace VARCHAR(255) NOT NULL,
        view_name VARCHAR(255) NOT NULL,
        definition TEXT NOT NULL,
        columns TEXT NOT NULL,
        query_columns TEXT NOT NULL,
        PRIMARY KEY (catalog_name, namespace, view_name))",
];

/// Rows of `iceberg_tables` that are tables (views have `iceberg_type`
/// `VIEW`; catalogs from before views leave it NULL).
const IS_TABLE: &str = "(iceberg_type = 'TABLE' OR iceberg_type IS NULL)";

/// The Iceberg catalog in a data directory's SQLite database.
pub(crate) struct SqliteCatalog {
    /// The catalog name, the first key of every row.
    name: String,
    pool: SqlitePool,
    /// Where tables of namespaces without a `location` are created.
    warehouse: String,
    file_io: FileIO,
    runtime: Runtime,
}

impl std::fmt::Debug for SqliteCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteCatalog")
            .field("name", &self.name)
            .field("warehouse", &self.warehouse)
            .finish()
    }
}

impl SqliteCatalog {
    /// Opens the catalog `name` in the SQLite database at `path`, creating
    /// the database and its tables if missing. Tables are created under
    /// `warehouse` (a directory), and their files are written durably.
    pub(crate) async fn open(path: &Path, name: &str, warehouse: &Path) -> Result<SqliteCatalog> {
        let failed = |e: sqlx::Error| StorageError::Catalog {
            table: "(all)".into(),
            reason: format!("opening {}: {e}", path.display()),
        };
        // Write-ahead-log mode (a setting of the database file, so every
        // connection uses it) with full syncs: in the default
        // rollback-journal mode a commit is the journal's unlink, which is
        // durable only once its directory is synced, and SQLite syncs that
        // directory only at synchronous=EXTRA. A power cut could then roll
        // back an acknowledged commit.
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(
                SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(BUSY_TIMEOUT),
            )
            .await
            .map_err(failed)?;
        for statement in SCHEMA {
            sqlx::query(statement)
                .execute(&pool)
                .await
                .map_err(failed)?;
        }
        let runtime = Runtime::try_current()
            .map_err(StorageError::iceberg("opening the catalog", path.display()))?;
        Ok(SqliteCatalog {
            name: name.to_string(),
            pool,
            warehouse: format!("file://{}", warehouse.display()),
            file_io: FileIOBuilder::new(Arc::new(crate::durable_io::DurableFsStorageFactory))
                .build(),
            runtime,
        })
    }

    /// A write transaction that holds the database's write lock from its
    /// start (waiting up to [`BUSY_TIMEOUT`] for it).
    async fn begin_write(&self) -> sqlx::Result<Transaction<'_, Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// Writes `metadata` as the table's next metadata file and moves the
    /// catalog's pointer to it from `base`'s file. Fails with a commit
    /// conflict if `base` is no longer the table's current metadata.
    ///
    /// When this returns, the new metadata is durable and current.
    pub(crate) async fn swap(&self, base: &Table, metadata: TableMetadata) -> Result<Table> {
        self.swap_with_keys(base, metadata, &[]).await
    }

    /// Like [`SqliteCatalog::swap`], and records `keys` (idempotency keys
    /// of the committed rows, with their row counts) in the same SQLite
    /// transaction.
    pub(crate) async fn swap_with_keys(
        &self,
        base: &Table,
        metadata: TableMetadata,
        keys: &[(String, u64)],
    ) -> Result<Table> {
        self.commit(base, metadata, keys)
            .await
            .map_err(StorageError::iceberg("committing to", base.identifier()))
    }

    /// The one commit path: see the module documentation.
    async fn commit(
        &self,
        base: &Table,
        metadata: TableMetadata,
        keys: &[(String, u64)],
    ) -> iceberg::Result<Table> {
        let ident = base.identifier();
        let current = base.metadata_location_result()?.to_string();
        let next = MetadataLocation::from_str(&current)?
            .with_next_version()
            .with_new_metadata(&metadata);
        metadata.write_to(base.file_io(), &next).await?;
        let next = next.to_string();

        let failed = sql_error(format!("committing to {ident}"));
        let mut tx = self.begin_write().await.map_err(&failed)?;
        let swapped = sqlx::query(&format!(
            "UPDATE iceberg_tables
                SET metadata_location = ?, previous_metadata_location = ?
              WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? AND {IS_TABLE}
                AND metadata_location = ?"
        ))
        .bind(&next)
        .bind(&current)
        .bind(&self.name)
        .bind(namespace_key(ident.namespace()))
        .bind(ident.name())
        .bind(&current)
        .execute(&mut *tx)
        .await
        .map_err(&failed)?;
        if swapped.rows_affected() != 1 {
            return Err(Error::new(
                ErrorKind::CatalogCommitConflicts,
                format!("table {ident} changed during the commit"),
            )
            .with_retryable(true));
        }
        record_keys(&mut tx, &metadata.uuid().to_string(), keys)
            .await
            .map_err(&failed)?;
        tx.commit().await.map_err(&failed)?;
        Table::builder()
            .identifier(ident.clone())
            .file_io(base.file_io().clone())
            .metadata(metadata)
            .metadata_location(next)
            .runtime(self.runtime.clone())
            .build()
    }

    /// Drops committed idempotency keys older than `retention_ms` and
    /// returns the rest per table uuid, as (key, rows, created_ms).
    pub(crate) async fn load_keys(
        &self,
        retention_ms: i64,
    ) -> Result<HashMap<String, Vec<(String, u64, i64)>>> {
        self.expire_keys(retention_ms).await?;
        let rows: Vec<(String, String, i64, i64)> =
            sqlx::query_as("SELECT table_uuid, key, rows, created_ms FROM floe_idempotency_keys")
                .fetch_all(&self.pool)
                .await
                .map_err(keys_error)?;
        let mut out: HashMap<String, Vec<(String, u64, i64)>> = HashMap::new();
        for (table, key, rows, at) in rows {
            out.entry(table).or_default().push((key, rows as u64, at));
        }
        Ok(out)
    }

    /// A committed idempotency key of the table with uuid `table_uuid`, if
    /// recorded within `retention`: its rows and its age.
    pub(crate) async fn find_key(
        &self,
        table_uuid: &str,
        key: &str,
        retention: std::time::Duration,
    ) -> Result<Option<(u64, std::time::Duration)>> {
        let now = floe_common::now_ms();
        let found: Option<(i64, i64)> = sqlx::query_as(
            "SELECT rows, created_ms FROM floe_idempotency_keys
              WHERE table_uuid = ? AND key = ? AND created_ms >= ?",
        )
        .bind(table_uuid)
        .bind(key)
        .bind(now - retention.as_millis() as i64)
        .fetch_optional(&self.pool)
        .await
        .map_err(keys_error)?;
        Ok(found.map(|(rows, at)| {
            let age = std::time::Duration::from_millis((now - at).max(0) as u64);
            (rows as u64, age)
        }))
    }

    /// Deletes committed idempotency keys older than `retention_ms`.
    pub(crate) async fn expire_keys(&self, retention_ms: i64) -> Result<()> {
        sqlx::query("DELETE FROM floe_idempotency_keys WHERE created_ms < ?")
            .bind(floe_common::now_ms() - retention_ms)
            .execute(&self.pool)
            .await
            .map_err(keys_error)?;
        Ok(())
    }

    /// Whether the namespace has a property row or a table, read on `conn`.
    async fn has_namespace(
        &self,
        conn: &mut SqliteConnection,
        namespace: &NamespaceIdent,
    ) -> iceberg::Result<bool> {
        let key = namespace_key(namespace);
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM iceberg_namespace_properties
                             WHERE catalog_name = ? AND namespace = ?)
                 OR EXISTS (SELECT 1 FROM iceberg_tables
                             WHERE catalog_name = ? AND table_namespace = ?)",
        )
        .bind(&self.name)
        .bind(&key)
        .bind(&self.name)
        .bind(&key)
        .fetch_one(conn)
        .await
        .map_err(sql_error(format!("looking up namespace {key}")))
    }

    /// The table's current metadata location, read on `conn`; `None` if
    /// there is no such table.
    async fn location_of(
        &self,
        conn: &mut SqliteConnection,
        table: &TableIdent,
    ) -> iceberg::Result<Option<Option<String>>> {
        sqlx::query_scalar(&format!(
            "SELECT metadata_location FROM iceberg_tables
              WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? AND {IS_TABLE}"
        ))
        .bind(&self.name)
        .bind(namespace_key(table.namespace()))
        .bind(table.name())
        .fetch_optional(conn)
        .await
        .map_err(sql_error(format!("looking up table {table}")))
    }

    /// Reads `table`'s metadata at `location` into a table.
    async fn table_at(&self, table: &TableIdent, location: String) -> iceberg::Result<Table> {
        let metadata = TableMetadata::read_from(&self.file_io, &location).await?;
        Table::builder()
            .identifier(table.clone())
            .file_io(self.file_io.clone())
            .metadata(metadata)
            .metadata_location(location)
            .runtime(self.runtime.clone())
            .build()
    }

    /// Adds `table`'s row, pointing at `location`, in `tx`.
    async fn insert_table(
        &self,
        tx: &mut SqliteConnection,
        table: &TableIdent,
        location: &str,
    ) -> iceberg::Result<()> {
        sqlx::query(
            "INSERT INTO iceberg_tables
                (catalog_name, table_namespace, table_name, metadata_location, iceberg_type)
             VALUES (?, ?, ?, ?, 'TABLE')",
        )
        .bind(&self.name)
        .bind(namespace_key(table.namespace()))
        .bind(table.name())
        .bind(location)
        .execute(tx)
        .await
        .map_err(sql_error(format!("adding table {table}")))?;
        Ok(())
    }

    /// The namespace's properties, read on `conn`.
    async fn properties_of(
        &self,
        conn: &mut SqliteConnection,
        namespace: &NamespaceIdent,
    ) -> iceberg::Result<HashMap<String, String>> {
        let key = namespace_key(namespace);
        let rows: Vec<(Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT property_key, property_value FROM iceberg_namespace_properties
              WHERE catalog_name = ? AND namespace = ?",
        )
        .bind(&self.name)
        .bind(&key)
        .fetch_all(conn)
        .await
        .map_err(sql_error(format!("reading namespace {key}")))?;
        Ok(rows
            .into_iter()
            .filter_map(|(k, v)| Some((k?, v.unwrap_or_default())))
            .collect())
    }

    /// Sets the namespace's properties `properties` (adding or replacing
    /// each) in `tx`.
    async fn set_properties(
        &self,
        tx: &mut SqliteConnection,
        namespace: &NamespaceIdent,
        properties: &HashMap<String, String>,
    ) -> iceberg::Result<()> {
        let key = namespace_key(namespace);
        for (property, value) in properties {
            sqlx::query(
                "INSERT OR REPLACE INTO iceberg_namespace_properties
                    (catalog_name, namespace, property_key, property_value)
                 VALUES (?, ?, ?, ?)",
            )
            .bind(&self.name)
            .bind(&key)
            .bind(property)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(sql_error(format!("setting properties of namespace {key}")))?;
        }
        Ok(())
    }

    /// A connection for reads.
    async fn read(&self) -> iceberg::Result<sqlx::pool::PoolConnection<Sqlite>> {
        self.pool
            .acquire()
            .await
            .map_err(sql_error("connecting".to_string()))
    }
}

#[async_trait]
impl Catalog for SqliteCatalog {
    /// Without a parent, the top-level namespaces; with one, its direct
    /// children.
    async fn list_namespaces(
        &self,
        parent: Option<&NamespaceIdent>,
    ) -> iceberg::Result<Vec<NamespaceIdent>> {
        let mut conn = self.read().await?;
        if let Some(parent) = parent
            && !self.has_namespace(&mut conn, parent).await?
        {
            return Err(no_such_namespace(parent));
        }
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT namespace FROM iceberg_namespace_properties WHERE catalog_name = ?
             UNION
             SELECT table_namespace FROM iceberg_tables WHERE catalog_name = ?",
        )
        .bind(&self.name)
        .bind(&self.name)
        .fetch_all(&mut *conn)
        .await
        .map_err(sql_error("listing namespaces".to_string()))?;
        let depth = parent.map_or(0, |p| p.len());
        let mut out = BTreeSet::new();
        for name in names {
            let levels: Vec<&str> = name.split('.').collect();
            let under_parent = match parent {
                Some(p) => levels.len() > depth && levels[..depth] == p[..],
                None => true,
            };
            if under_parent {
                out.insert(NamespaceIdent::from_strs(&levels[..=depth])?);
            }
        }
        Ok(out.into_iter().collect())
    }

    async fn create_namespace(
        &self,
        namespace: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> iceberg::Result<Namespace> {
        let failed = sql_error(format!("creating namespace {}", namespace_key(namespace)));
        let mut tx = self.begin_write().await.map_err(&failed)?;
        if self.has_namespace(&mut tx, namespace).await? {
            return Err(Error::new(
                ErrorKind::NamespaceAlreadyExists,
                format!("namespace {} already exists", namespace_key(namespace)),
            ));
        }
        let mut properties = properties;
        properties.insert(EXISTS_PROPERTY.to_string(), "true".to_string());
        self.set_properties(&mut tx, namespace, &properties).await?;
        tx.commit().await.map_err(&failed)?;
        Ok(Namespace::with_properties(namespace.clone(), properties))
    }

    async fn get_namespace(&self, namespace: &NamespaceIdent) -> iceberg::Result<Namespace> {
        let mut conn = self.read().await?;
        if !self.has_namespace(&mut conn, namespace).await? {
            return Err(no_such_namespace(namespace));
        }
        let properties = self.properties_of(&mut conn, namespace).await?;
        Ok(Namespace::with_properties(namespace.clone(), properties))
    }

    async fn namespace_exists(&self, namespace: &NamespaceIdent) -> iceberg::Result<bool> {
        let mut conn = self.read().await?;
        self.has_namespace(&mut conn, namespace).await
    }

    async fn update_namespace(
        &self,
        namespace: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> iceberg::Result<()> {
        let failed = sql_error(format!("updating namespace {}", namespace_key(namespace)));
        let mut tx = self.begin_write().await.map_err(&failed)?;
        if !self.has_namespace(&mut tx, namespace).await? {
            return Err(no_such_namespace(namespace));
        }
        self.set_properties(&mut tx, namespace, &properties).await?;
        tx.commit().await.map_err(&failed)
    }

    /// Drops an empty namespace; one that holds tables is refused.
    async fn drop_namespace(&self, namespace: &NamespaceIdent) -> iceberg::Result<()> {
        let key = namespace_key(namespace);
        let failed = sql_error(format!("dropping namespace {key}"));
        let mut tx = self.begin_write().await.map_err(&failed)?;
        if !self.has_namespace(&mut tx, namespace).await? {
            return Err(no_such_namespace(namespace));
        }
        let tables: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ?",
        )
        .bind(&self.name)
        .bind(&key)
        .fetch_one(&mut *tx)
        .await
        .map_err(&failed)?;
        if tables > 0 {
            return Err(Error::new(
                ErrorKind::Unexpected,
                format!("namespace {key} is not empty: it holds {tables} table(s)"),
            ));
        }
        sqlx::query(
            "DELETE FROM iceberg_namespace_properties WHERE catalog_name = ? AND namespace = ?",
        )
        .bind(&self.name)
        .bind(&key)
        .execute(&mut *tx)
        .await
        .map_err(&failed)?;
        tx.commit().await.map_err(&failed)
    }

    async fn list_tables(&self, namespace: &NamespaceIdent) -> iceberg::Result<Vec<TableIdent>> {
        let mut conn = self.read().await?;
        if !self.has_namespace(&mut conn, namespace).await? {
            return Err(no_such_namespace(namespace));
        }
        let key = namespace_key(namespace);
        let names: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT table_name FROM iceberg_tables
              WHERE catalog_name = ? AND table_namespace = ? AND {IS_TABLE}
              ORDER BY table_name"
        ))
        .bind(&self.name)
        .bind(&key)
        .fetch_all(&mut *conn)
        .await
        .map_err(sql_error(format!("listing tables of namespace {key}")))?;
        Ok(names
            .into_iter()
            .map(|name| TableIdent::new(namespace.clone(), name))
            .collect())
    }

    /// Creates the table under its namespace's `location` property, or the
    /// warehouse's `<namespace>/<table>` directory if it has none. When
    /// this returns, the table's first metadata file and its catalog row
    /// are durable.
    async fn create_table(
        &self,
        namespace: &NamespaceIdent,
        creation: TableCreation,
    ) -> iceberg::Result<Table> {
        let ident = TableIdent::new(namespace.clone(), creation.name.clone());
        let failed = sql_error(format!("creating table {ident}"));
        let location = {
            let mut conn = self.read().await?;
            if !self.has_namespace(&mut conn, namespace).await? {
                return Err(no_such_namespace(namespace));
            }
            if self.location_of(&mut conn, &ident).await?.is_some() {
                return Err(table_exists(&ident));
            }
            match &creation.location {
                Some(location) => location.clone(),
                None => {
                    let properties = self.properties_of(&mut conn, namespace).await?;
                    let parent = match properties.get(LOCATION_PROPERTY) {
                        Some(location) => location.trim_end_matches('/').to_string(),
                        None => format!("{}/{}", self.warehouse, namespace.join("/")),
                    };
                    format!("{parent}/{}", ident.name())
                }
            }
        };
        let metadata = TableMetadataBuilder::from_table_creation(TableCreation {
            location: Some(location.clone()),
            ..creation
        })?
        .build()?
        .metadata;
        let metadata_location = MetadataLocation::new_with_metadata(&location, &metadata);
        metadata.write_to(&self.file_io, &metadata_location).await?;
        let metadata_location = metadata_location.to_string();

        let mut tx = self.begin_write().await.map_err(&failed)?;
        // Checked again under the write lock: another client may have
        // created the table since.
        if self.location_of(&mut tx, &ident).await?.is_some() {
            return Err(table_exists(&ident));
        }
        self.insert_table(&mut tx, &ident, &metadata_location)
            .await?;
        tx.commit().await.map_err(&failed)?;
        Table::builder()
            .identifier(ident)
            .file_io(self.file_io.clone())
            .metadata(metadata)
            .metadata_location(metadata_location)
            .runtime(self.runtime.clone())
            .build()
    }

    async fn load_table(&self, table: &TableIdent) -> iceberg::Result<Table> {
        let location = {
            let mut conn = self.read().await?;
            self.location_of(&mut conn, table).await?
        };
        match location {
            None => Err(no_such_table(table)),
            Some(None) => Err(Error::new(
                ErrorKind::DataInvalid,
                format!("table {table} has no metadata location in the catalog"),
            )),
            Some(Some(location)) => self.table_at(table, location).await,
        }
    }

    /// Removes the table from the catalog; its files stay.
    async fn drop_table(&self, table: &TableIdent) -> iceberg::Result<()> {
        let failed = sql_error(format!("dropping table {table}"));
        let mut tx = self.begin_write().await.map_err(&failed)?;
        let dropped = sqlx::query(&format!(
            "DELETE FROM iceberg_tables
              WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? AND {IS_TABLE}"
        ))
        .bind(&self.name)
        .bind(namespace_key(table.namespace()))
        .bind(table.name())
        .execute(&mut *tx)
        .await
        .map_err(&failed)?;
        if dropped.rows_affected() == 0 {
            return Err(no_such_table(table));
        }
        tx.commit().await.map_err(&failed)
    }

    /// Removes the table from the catalog and deletes its files.
    async fn purge_table(&self, table: &TableIdent) -> iceberg::Result<()> {
        let loaded = self.load_table(table).await?;
        self.drop_table(table).await?;
        iceberg::drop_table_data(&loaded).await
    }

    async fn table_exists(&self, table: &TableIdent) -> iceberg::Result<bool> {
        let mut conn = self.read().await?;
        Ok(self.location_of(&mut conn, table).await?.is_some())
    }

    async fn rename_table(&self, src: &TableIdent, dest: &TableIdent) -> iceberg::Result<()> {
        if src == dest {
            return Ok(());
        }
        let failed = sql_error(format!("renaming table {src} to {dest}"));
        let mut tx = self.begin_write().await.map_err(&failed)?;
        if self.location_of(&mut tx, src).await?.is_none() {
            return Err(no_such_table(src));
        }
        if !self.has_namespace(&mut tx, dest.namespace()).await? {
            return Err(no_such_namespace(dest.namespace()));
        }
        if self.location_of(&mut tx, dest).await?.is_some() {
            return Err(table_exists(dest));
        }
        sqlx::query(&format!(
            "UPDATE iceberg_tables SET table_namespace = ?, table_name = ?
              WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? AND {IS_TABLE}"
        ))
        .bind(namespace_key(dest.namespace()))
        .bind(dest.name())
        .bind(&self.name)
        .bind(namespace_key(src.namespace()))
        .bind(src.name())
        .execute(&mut *tx)
        .await
        .map_err(&failed)?;
        tx.commit().await.map_err(&failed)
    }

    /// Adds a table whose metadata file already exists.
    async fn register_table(
        &self,
        table: &TableIdent,
        metadata_location: String,
    ) -> iceberg::Result<Table> {
        let loaded = self.table_at(table, metadata_location.clone()).await?;
        let failed = sql_error(format!("registering table {table}"));
        let mut tx = self.begin_write().await.map_err(&failed)?;
        if !self.has_namespace(&mut tx, table.namespace()).await? {
            return Err(no_such_namespace(table.namespace()));
        }
        if self.location_of(&mut tx, table).await?.is_some() {
            return Err(table_exists(table));
        }
        self.insert_table(&mut tx, table, &metadata_location)
            .await?;
        tx.commit().await.map_err(&failed)?;
        Ok(loaded)
    }

    /// Checks the commit's requirements against the table's current
    /// metadata, applies its updates, writes the result as the next
    /// metadata file and swaps the catalog's pointer to it (see the module
    /// documentation). A concurrent commit makes this fail with a
    /// retryable commit conflict.
    async fn update_table(&self, mut commit: TableCommit) -> iceberg::Result<Table> {
        let current = self.load_table(commit.identifier()).await?;
        for requirement in commit.take_requirements() {
            requirement.check(Some(current.metadata()))?;
        }
        let mut builder = current
            .metadata()
            .clone()
            .into_builder(Some(current.metadata_location_result()?.to_string()));
        for update in commit.take_updates() {
            builder = update.apply(builder)?;
        }
        let metadata = builder.build()?.metadata;
        self.commit(&current, metadata, &[]).await
    }
}

/// Records `keys` of rows committed to the table `table_uuid` in `tx`.
async fn record_keys(
    tx: &mut SqliteConnection,
    table_uuid: &str,
    keys: &[(String, u64)],
) -> sqlx::Result<()> {
    for (key, rows) in keys {
        sqlx::query(
            "INSERT OR REPLACE INTO floe_idempotency_keys (table_uuid, key, rows, created_ms)
             VALUES (?, ?, ?, ?)",
        )
        .bind(table_uuid)
        .bind(key)
        .bind(*rows as i64)
        .bind(floe_common::now_ms())
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// A namespace as the catalog's rows name it: its levels joined by dots.
fn namespace_key(namespace: &NamespaceIdent) -> String {
    namespace.join(".")
}

/// An SQLite failure while `action`, as an Iceberg error.
fn sql_error(action: String) -> impl Fn(sqlx::Error) -> Error {
    move |e| {
        Error::new(
            ErrorKind::Unexpected,
            format!("catalog database: {action} failed"),
        )
        .with_source(e)
    }
}

fn keys_error(e: sqlx::Error) -> StorageError {
    StorageError::Catalog {
        table: "(idempotency keys)".into(),
        reason: e.to_string(),
    }
}

fn no_such_namespace(namespace: &NamespaceIdent) -> Error {
    Error::new(
        ErrorKind::NamespaceNotFound,
        format!("namespace {} does not exist", namespace_key(namespace)),
    )
}

fn no_such_table(table: &TableIdent) -> Error {
    Error::new(
        ErrorKind::TableNotFound,
        format!("table {table} does not exist"),
    )
}

fn table_exists(table: &TableIdent) -> Error {
    Error::new(
        ErrorKind::TableAlreadyExists,
        format!("table {table} already exists"),
    )
}

pub(crate) mod views;

#[cfg(test)]
mod tests;
