//! Declared sources: their definitions on disk, their live status, and the
//! set of running replication workers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use floe_storage::Store;
use serde::{Deserialize, Serialize};

use crate::error::{CdcError, Result};
use crate::proto::{PgConfig, quote_ident};
use crate::{upstream, worker};

/// What CREATE SOURCE declares.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SourceSpec {
    /// The source's name in Floe.
    pub name: String,
    /// The connection string, credentials included (the file is 0600).
    pub connection: String,
    /// The publication to stream.
    pub publication: String,
    /// Whether Floe created the publication (and drops it with the source).
    pub owns_publication: bool,
    /// Only these tables (`schema.table`), if given.
    pub tables: Option<Vec<String>>,
    /// The Floe schema every table goes to, instead of its own schema.
    pub into_schema: Option<String>,
    /// The replication slot.
    pub slot: String,
    /// Tells this source from an earlier one of the same name: tables
    /// replicated by a dropped source are copied again, not resumed.
    #[serde(default)]
    pub id: String,
}

impl SourceSpec {
    /// The Floe schema and table a source table is replicated into.
    pub fn target(&self, schema: &str, table: &str) -> (String, String) {
        (
            self.into_schema
                .clone()
                .unwrap_or_else(|| schema.to_string()),
            table.to_string(),
        )
    }

    /// Whether a source table is replicated (by the TABLES list).
    pub fn includes(&self, schema: &str, table: &str) -> bool {
        match &self.tables {
            None => true,
            Some(list) => list.iter().any(|t| match t.split_once('.') {
                Some((s, n)) => s == schema && n == table,
                None => schema == "public" && t == table,
            }),
        }
    }

    /// The connection, parsed.
    pub fn config(&self) -> Result<PgConfig> {
        PgConfig::parse(&self.name, &self.connection)
    }
}

/// The options of CREATE SOURCE, before the source exists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceOptions {
    pub name: String,
    pub connection: String,
    pub publication: Option<String>,
    pub tables: Option<Vec<String>>,
    pub into_schema: Option<String>,
    pub if_not_exists: bool,
}

/// How one replicated table is doing.
#[derive(Debug, Clone, Default)]
pub struct TableStatus {
    /// `schema.table` in the source database.
    pub upstream: String,
    /// The Floe schema and table.
    pub schema: String,
    pub table: String,
    /// `snapshotting`, `streaming`, `paused` or `refused`.
    pub state: String,
    /// The table's changes are applied through this source LSN.
    pub applied_lsn: u64,
    /// Rows copied by the initial snapshot, and the source's estimate of the total.
    pub rows_snapshotted: u64,
    pub rows_estimated: u64,
    /// Row changes applied from the stream.
    pub rows_applied: u64,
    /// Why the table is paused or refused, or the last failure.
    pub last_error: Option<String>,
}

/// How one source is doing.
#[derive(Debug, Clone, Default)]
pub struct SourceStatus {
    /// `connecting`, `snapshotting`, `streaming`, `retrying` or `stopped`.
    pub state: String,
    /// The slot's confirmed position: every change before it is durable in Floe.
    pub confirmed_lsn: u64,
    /// The end of the source's WAL as last reported by the server.
    pub wal_end: u64,
    /// Seconds from the commit of the last applied transaction in the
    /// source to its changes being visible in Floe; 0 when caught up.
    pub lag_seconds: f64,
    /// Unix milliseconds of the last applied source commit.
    pub last_commit_ms: Option<i64>,
    /// The last failure of the source's connection or apply loop.
    pub last_error: Option<String>,
    /// Tables, by upstream name.
    pub tables: BTreeMap<String, TableStatus>,
}

impl SourceStatus {
    /// Bytes of source WAL not yet confirmed as applied.
    pub fn lag_bytes(&self) -> u64 {
        self.wal_end.saturating_sub(self.confirmed_lsn)
    }
}

/// A source as shown in `system.sources`.
#[derive(Debug, Clone)]
pub struct SourceView {
    pub name: String,
    /// The connection with its password masked.
    pub connection: String,
    pub publication: String,
    pub slot: String,
    pub status: SourceStatus,
}

/// What a source keeps on disk besides its definition
/// (`sources/<name>.state`): the tables whose replication is paused.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct SourceState {
    /// The source this state belongs to (`SourceSpec::id`); a state left
    /// by an earlier source of the same name is ignored.
    pub id: String,
    /// Paused tables, by upstream name, with the reason.
    #[serde(default)]
    pub paused: BTreeMap<String, String>,
}

impl SourceState {
    /// Reads the state of `spec` at `path`; none if the file is missing or
    /// belongs to another source.
    pub(crate) fn load(path: &Path, spec: &SourceSpec) -> Result<SourceState> {
        let empty = SourceState {
            id: spec.id.clone(),
            paused: BTreeMap::new(),
        };
        let text = match std::fs::read(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(empty),
            Err(e) => return Err(state_error(path, e)),
        };
        let state: SourceState = serde_json::from_slice(&text).map_err(|e| state_error(path, e))?;
        Ok(if state.id == spec.id { state } else { empty })
    }

    /// Writes the state durably (temporary file, fsync, rename).
    pub(crate) fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(|e| state_error(path, e))?;
        floe_common::fs::write_atomic(path, &text, 0o600).map_err(|e| state_error(path, e))
    }
}

/// Shared between a worker and the manager.
pub(crate) struct Shared {
    pub spec: SourceSpec,
    pub status: Mutex<SourceStatus>,
    pub stop: AtomicBool,
    pub wake: tokio::sync::Notify,
    /// Where the source's state is kept, and the state.
    state_path: PathBuf,
    state: Mutex<SourceState>,
}

impl Shared {
    pub(crate) fn status(&self) -> std::sync::MutexGuard<'_, SourceStatus> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, SourceState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The paused tables, by upstream name, with the reason.
    pub(crate) fn paused(&self) -> BTreeMap<String, String> {
        self.state().paused.clone()
    }

    /// Records durably that a table is paused (`Some(reason)`) or resumed
    /// (`None`); returns only once the state is on disk. A pause must be
    /// durable before the slot confirms any change the table skipped.
    pub(crate) fn set_paused(&self, upstream: &str, reason: Option<&str>) -> Result<()> {
        let mut state = self.state();
        let mut next = state.clone();
        match reason {
            Some(r) => next.paused.insert(upstream.to_string(), r.to_string()),
            None => next.paused.remove(upstream),
        };
        if next == *state {
            return Ok(());
        }
        next.save(&self.state_path)?;
        *state = next;
        Ok(())
    }
}

struct Running {
    shared: Arc<Shared>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Every declared source of a data directory.
pub struct Sources {
    store: Arc<Store>,
    dir: PathBuf,
    sources: Mutex<BTreeMap<String, Running>>,
    started: AtomicBool,
    ddl: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources").field("dir", &self.dir).finish()
    }
}

fn state_error(path: &Path, e: impl std::fmt::Display) -> CdcError {
    CdcError::State {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

impl Sources {
    /// Loads the source definitions of the store's data directory; nothing
    /// runs until [`Sources::start`].
    pub fn open(store: Arc<Store>) -> Result<Arc<Sources>> {
        let dir = store.root().join("sources");
        let mut sources = BTreeMap::new();
        if dir.is_dir() {
            let entries = std::fs::read_dir(&dir).map_err(|e| state_error(&dir, e))?;
            for entry in entries {
                let path = entry.map_err(|e| state_error(&dir, e))?.path();
                if path.extension().and_then(|e| e.to_str()) != Some("json") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).map_err(|e| state_error(&path, e))?;
                let spec: SourceSpec =
                    serde_json::from_str(&text).map_err(|e| state_error(&path, e))?;
                let state_path = state_path(&dir, &spec.name);
                let state = SourceState::load(&state_path, &spec)?;
                sources.insert(
                    spec.name.clone(),
                    Running {
                        shared: new_shared(spec, state_path, state),
                        task: None,
                    },
                );
            }
        }
        Ok(Sources::with(store, dir, sources))
    }

    /// No sources, for a data directory whose `sources/` folder cannot be read.
    pub fn none(store: Arc<Store>) -> Arc<Sources> {
        let dir = store.root().join("sources");
        Sources::with(store, dir, BTreeMap::new())
    }

    fn with(store: Arc<Store>, dir: PathBuf, sources: BTreeMap<String, Running>) -> Arc<Sources> {
        Arc::new(Sources {
            store,
            dir,
            sources: Mutex::new(sources),
            started: AtomicBool::new(false),
            ddl: tokio::sync::Mutex::new(()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Running>> {
        self.sources.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a replication worker for every source (`floe serve`).
    pub fn start(&self) {
        self.started.store(true, Ordering::SeqCst);
        let mut sources = self.lock();
        for running in sources.values_mut() {
            if running.task.is_none() {
                running.task = Some(worker::spawn(self.store.clone(), running.shared.clone()));
            }
        }
    }

    /// Stops every worker and waits for them (shutdown).
    pub async fn stop(&self) {
        let tasks: Vec<_> = {
            let mut sources = self.lock();
            sources
                .values_mut()
                .filter_map(|r| {
                    r.shared.stop.store(true, Ordering::SeqCst);
                    r.shared.wake.notify_one();
                    r.task.take()
                })
                .collect()
        };
        for task in tasks {
            stop_task(task).await;
        }
    }

    /// Every source with its status.
    pub fn list(&self) -> Vec<SourceView> {
        self.lock()
            .values()
            .map(|r| {
                let spec = &r.shared.spec;
                SourceView {
                    name: spec.name.clone(),
                    connection: spec
                        .config()
                        .map(|c| c.redacted())
                        .unwrap_or_else(|_| "(invalid)".into()),
                    publication: spec.publication.clone(),
                    slot: spec.slot.clone(),
                    status: r.shared.status().clone(),
                }
            })
            .collect()
    }

    /// Declares a source: checks the connection, creates the publication
    /// (when none is named) and the replication slot, stores the
    /// definition and starts replicating. The initial snapshot runs in the
    /// background; `system.sources` shows its progress.
    pub async fn create(&self, options: SourceOptions) -> Result<bool> {
        let _ddl = self.ddl.lock().await;
        if self.lock().contains_key(&options.name) {
            return if options.if_not_exists {
                Ok(false)
            } else {
                Err(CdcError::SourceExists { name: options.name })
            };
        }
        let name = options.name.clone();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(CdcError::InvalidOption {
                source_name: name,
                option: "name".into(),
                reason: "a source name uses lowercase letters, digits and underscores".into(),
            });
        }
        let config = PgConfig::parse(&name, &options.connection)?;
        if let Some(schema) = &options.into_schema
            && !self.store.schema_exists(schema)
        {
            self.store.create_schema(schema, true).await?;
        }
        let slot = format!("floe_{name}");
        let (publication, owns_publication) = match &options.publication {
            Some(p) => (p.clone(), false),
            None => (format!("floe_{name}"), true),
        };
        let spec = SourceSpec {
            name: name.clone(),
            connection: options.connection.clone(),
            publication,
            owns_publication,
            tables: options.tables.clone(),
            into_schema: options.into_schema.clone(),
            slot,
            id: uuid::Uuid::new_v4().to_string(),
        };
        upstream::prepare_source(&config, &spec).await?;
        self.save(&spec)?;
        // A state file left by an earlier source of this name is ignored
        // (it names another source id) and replaced at the first pause.
        let state_path = state_path(&self.dir, &name);
        let state = SourceState {
            id: spec.id.clone(),
            paused: BTreeMap::new(),
        };
        let shared = new_shared(spec, state_path, state);
        let task = if self.started.load(Ordering::SeqCst) {
            Some(worker::spawn(self.store.clone(), shared.clone()))
        } else {
            None
        };
        self.lock().insert(name, Running { shared, task });
        Ok(true)
    }

    /// Drops a source: stops its worker, drops its replication slot (and
    /// the publication Floe created) on the source server, and forgets it.
    /// The replicated tables stay in Floe.
    pub async fn drop_source(&self, name: &str, if_exists: bool) -> Result<bool> {
        let _ddl = self.ddl.lock().await;
        let Some(mut running) = self.lock().remove(name) else {
            return if if_exists {
                Ok(false)
            } else {
                Err(CdcError::NoSuchSource {
                    name: name.to_string(),
                })
            };
        };
        running.shared.stop.store(true, Ordering::SeqCst);
        running.shared.wake.notify_one();
        if let Some(task) = running.task.take() {
            stop_task(task).await;
        }
        let spec = running.shared.spec.clone();
        let path = self.path(name);
        std::fs::remove_file(&path).map_err(|e| state_error(&path, e))?;
        let state = state_path(&self.dir, name);
        if let Err(e) = std::fs::remove_file(&state)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(state_error(&state, e));
        }
        if let Err(e) = upstream::drop_upstream(&spec).await {
            tracing::warn!(source = name, error = %e,
                "could not drop the replication slot on the source; drop it there by hand");
        }
        Ok(true)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// Writes a definition durably (temporary file, fsync, rename), 0600.
    fn save(&self, spec: &SourceSpec) -> Result<()> {
        floe_common::fs::create_dir_all_durable(&self.dir)
            .map_err(|e| state_error(&self.dir, e))?;
        let path = self.path(&spec.name);
        let text = serde_json::to_vec_pretty(spec).map_err(|e| state_error(&path, e))?;
        floe_common::fs::write_atomic(&path, &text, 0o600).map_err(|e| state_error(&path, e))
    }

    /// Waits until a source's initial snapshot is done or it fails (for
    /// tests and tools); `None` if no such source.
    pub async fn wait_streaming(&self, name: &str, timeout: Duration) -> Option<SourceStatus> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let status = {
                let sources = self.lock();
                sources.get(name)?.shared.status().clone()
            };
            if status.state == "streaming" || tokio::time::Instant::now() > deadline {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Waits for a stopping worker; one stuck in a network call is aborted
/// after a while (nothing it holds is lost: the source re-sends every
/// change not yet confirmed).
async fn stop_task(mut task: tokio::task::JoinHandle<()>) {
    if tokio::time::timeout(Duration::from_secs(10), &mut task)
        .await
        .is_err()
    {
        task.abort();
        let _ = task.await;
    }
}

/// Where a source's state is kept: beside its definition, not a `.json`
/// file (those are definitions).
fn state_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.state"))
}

pub(crate) fn new_shared(spec: SourceSpec, state_path: PathBuf, state: SourceState) -> Arc<Shared> {
    // Paused tables show as paused, with their reason, from the start.
    let tables = state
        .paused
        .iter()
        .map(|(upstream, reason)| {
            let (schema, name) = upstream.split_once('.').unwrap_or(("public", upstream));
            let (schema, table) = spec.target(schema, name);
            let status = TableStatus {
                upstream: upstream.clone(),
                schema,
                table,
                state: "paused".into(),
                last_error: Some(reason.clone()),
                ..Default::default()
            };
            (upstream.clone(), status)
        })
        .collect();
    Arc::new(Shared {
        spec,
        status: Mutex::new(SourceStatus {
            state: "stopped".into(),
            tables,
            ..Default::default()
        }),
        stop: AtomicBool::new(false),
        wake: tokio::sync::Notify::new(),
        state_path,
        state: Mutex::new(state),
    })
}

/// Names Floe gives the temporary slot of a table sync.
pub(crate) fn sync_slot(spec: &SourceSpec) -> String {
    format!("{}_sync", spec.slot)
}

/// `CREATE PUBLICATION` for the source's tables.
pub(crate) fn create_publication_sql(spec: &SourceSpec) -> String {
    match &spec.tables {
        None => format!(
            "CREATE PUBLICATION {} FOR ALL TABLES",
            quote_ident(&spec.publication)
        ),
        Some(tables) => {
            let list: Vec<String> = tables
                .iter()
                .map(|t| match t.split_once('.') {
                    Some((s, n)) => format!("{}.{}", quote_ident(s), quote_ident(n)),
                    None => quote_ident(t),
                })
                .collect();
            format!(
                "CREATE PUBLICATION {} FOR TABLE {}",
                quote_ident(&spec.publication),
                list.join(", ")
            )
        }
    }
}

#[cfg(test)]
mod tests;
