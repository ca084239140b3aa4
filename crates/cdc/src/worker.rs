//! The replication worker of one source: connect,
//! make sure the publication and slot exist, sync the tables that are not
//! synced yet, then stream pgoutput and apply whole source transactions in
//! commit order. On any failure it reconnects with backoff and resumes
//! from the slot's confirmed position; each table's applied LSN skips what
//! it already has, so nothing is lost or applied twice.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use floe_storage::{Store, TableHandle};

use crate::apply::{self, Op};
use crate::connect::{sql_connect, sql_error};
use crate::error::{CdcError, Result};
use crate::pgoutput::{self, Message, Relation};
use crate::props;
use crate::proto::{PgConfig, ReplConn, StreamMessage, format_lsn, pg_time_to_unix_ms};
use crate::snapshot;
use crate::source::Shared;
use crate::spill::{SpillWriter, Spilled};
use crate::upstream::prepare_source;

/// Longest wait for more transactions before applying what arrived; also
/// the shortest time between two applies, so a busy table commits at most
/// about this often.
const APPLY_INTERVAL: Duration = Duration::from_millis(50);
/// A stream quiet for this long has sent everything committed so far:
/// what arrived is applied at once if the last apply is `APPLY_INTERVAL`
/// old, so a lone transaction is not held back for the full interval.
const APPLY_IDLE: Duration = Duration::from_millis(2);
/// Apply at once when this many row changes are waiting.
const APPLY_MAX_CHANGES: usize = 200_000;
/// The row changes of one source transaction held in memory: beyond
/// this, the transaction's changes go to a file under the data directory
/// (`cdc-spill/`), and at its commit they are applied in parts of this
/// many changes per table (see [`Worker::apply_spilled`]).
pub(crate) const TXN_MEMORY_CHANGES: usize = 100_000;
/// How often the worker reports its position to the server.
const STATUS_INTERVAL: Duration = Duration::from_secs(1);
/// How often the publication is checked for new tables.
const DISCOVER_INTERVAL: Duration = Duration::from_secs(5);
/// A paused table is copied again at each (re)connect; while the source
/// streams, a copy that failed is tried again after this long, doubling
/// up to `RECOPY_MAX`.
/// A table that pauses while the source streams is copied again after
/// `RECOPY_FIRST` (or at the next reconnect, if sooner).
const RECOPY_FIRST: Duration = Duration::from_secs(60);
const RECOPY_MAX: Duration = Duration::from_secs(30 * 60);

/// Starts the worker of a source, a task on the server's runtime. (Tables
/// it creates hold handles that must outlive the worker, so it does not
/// get a runtime of its own.)
pub(crate) fn spawn(store: Arc<Store>, shared: Arc<Shared>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(store, shared))
}

async fn run(store: Arc<Store>, shared: Arc<Shared>) {
    let mut backoff = Duration::from_millis(500);
    while !shared.stopping() {
        shared.status().state = "connecting".into();
        let started = Instant::now();
        let mut worker = Worker::new(store.clone(), shared.clone());
        match worker.run_once().await {
            Ok(()) => break,
            Err(e) => {
                tracing::warn!(source = %shared.spec.name, error = %e,
                    "replication stopped; reconnecting in {:?}", backoff);
                let mut status = shared.status();
                status.state = "retrying".into();
                status.last_error = Some(e.to_string());
            }
        }
        if started.elapsed() > Duration::from_secs(60) {
            backoff = Duration::from_millis(500);
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shared.wake.notified() => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
    shared.status().state = "stopped".into();
}

/// A relation of the stream and where its changes go.
struct RelState {
    relation: Arc<Relation>,
    upstream: String,
    target: Option<Arc<TableHandle>>,
    /// Transactions that commit before this LSN are already in the table.
    from_lsn: u64,
    paused: bool,
}

/// A transaction being received.
struct Txn {
    final_lsn: u64,
    xid: u32,
    /// Its changes, in memory while they are few.
    ops: Vec<(String, Op)>,
    /// Its changes once they are many: all of them, in a file.
    spill: Option<SpillWriter>,
}

impl Txn {
    /// Drops the changes of `upstream` received so far.
    fn forget(&mut self, upstream: &str) {
        self.ops.retain(|(u, _)| u != upstream);
        if let Some(spill) = self.spill.as_mut() {
            spill.forget(upstream);
        }
    }
}

/// A committed transaction whose changes are in a file.
struct SpilledTxn {
    spilled: Spilled,
    end_lsn: u64,
}

/// Whole transactions received and not yet applied.
#[derive(Default)]
struct Pending {
    tables: HashMap<String, (Arc<TableHandle>, Vec<Op>)>,
    changes: usize,
    /// The end of the last transaction in `tables` (or with no change
    /// Floe keeps).
    end_lsn: u64,
    since: Option<Instant>,
    last_commit_time: i64,
    /// A large transaction after those in `tables`; applied right after them.
    spilled: Option<SpilledTxn>,
}

struct Worker {
    store: Arc<Store>,
    shared: Arc<Shared>,
    /// Synced tables that stream, by upstream name (never a paused one).
    tables: HashMap<String, Arc<TableHandle>>,
    relations: HashMap<u32, RelState>,
    confirmed: u64,
    wal_end: u64,
    /// When paused tables are next copied again, and the wait after that.
    recopy_at: Instant,
    recopy_backoff: Duration,
    /// Row changes of one transaction held in memory (`TXN_MEMORY_CHANGES`).
    txn_memory_changes: usize,
}

impl Worker {
    fn new(store: Arc<Store>, shared: Arc<Shared>) -> Worker {
        Worker {
            store,
            shared,
            tables: HashMap::new(),
            relations: HashMap::new(),
            confirmed: 0,
            wal_end: 0,
            recopy_at: Instant::now(),
            recopy_backoff: RECOPY_FIRST,
            txn_memory_changes: TXN_MEMORY_CHANGES,
        }
    }

    fn source(&self) -> &str {
        &self.shared.spec.name
    }

    /// The synced Floe tables of this source, by upstream name.
    fn load_tables(&mut self) {
        self.tables.clear();
        for handle in self.store.all_tables() {
            let table = handle.table();
            let p = table.metadata().properties();
            if p.get(props::SOURCE).map(String::as_str) == Some(self.source())
                && p.get(props::SOURCE_ID) == Some(&self.shared.spec.id)
                && p.get(props::SYNCED).map(String::as_str) == Some("true")
                && let Some(upstream) = p.get(props::RELATION)
            {
                self.tables.insert(upstream.clone(), handle.clone());
            }
        }
        // A paused table skipped changes that the slot has confirmed since:
        // it never streams again before it is copied anew.
        for upstream in self.shared.paused().keys() {
            self.tables.remove(upstream);
        }
    }

    /// Pauses a table: durably first (the slot may confirm the changes it
    /// skips from now on only once the pause survives a restart), then in
    /// memory, dropping its changes of the transaction being received.
    fn pause(&mut self, upstream: &str, error: &CdcError, txn: &mut Option<Txn>) -> Result<()> {
        tracing::warn!(source = %self.source(), table = %upstream, %error,
            "pausing replication of the table until it is copied again");
        let reason = error.to_string();
        self.shared.set_paused(upstream, Some(&reason))?;
        self.recopy_at = self.recopy_at.max(Instant::now() + self.recopy_backoff);
        self.tables.remove(upstream);
        for rel in self.relations.values_mut() {
            if rel.upstream == upstream {
                rel.paused = true;
                rel.target = None;
            }
        }
        if let Some(txn) = txn.as_mut() {
            txn.forget(upstream);
        }
        let mut status = self.shared.status();
        let entry = status
            .tables
            .entry(upstream.to_string())
            .or_insert_with(|| crate::source::TableStatus {
                upstream: upstream.to_string(),
                ..Default::default()
            });
        entry.state = "paused".into();
        entry.last_error = Some(reason);
        Ok(())
    }

    fn applied_lsn(handle: &TableHandle) -> u64 {
        handle
            .table()
            .metadata()
            .properties()
            .get(props::LSN)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// Tables of the publication that this source replicates.
    async fn published(&self, client: &tokio_postgres::Client) -> Result<Vec<(String, String)>> {
        let rows = client
            .query(
                "SELECT schemaname::text, tablename::text FROM pg_publication_tables
                 WHERE pubname = $1 ORDER BY 1, 2",
                &[&self.shared.spec.publication],
            )
            .await
            .map_err(|e| sql_error(self.source(), "reading pg_publication_tables", e))?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
            .filter(|(s, t)| self.shared.spec.includes(s, t))
            .collect())
    }

    /// Syncs every published table that has no synced Floe table yet, and
    /// copies paused tables again when that is due (at each connect, then
    /// with a backoff while a copy keeps failing).
    async fn sync_missing(
        &mut self,
        config: &PgConfig,
        client: &tokio_postgres::Client,
        txn: &mut Option<Txn>,
    ) -> Result<()> {
        let paused = self.shared.paused();
        let recopy = !paused.is_empty() && Instant::now() >= self.recopy_at;
        let missing: Vec<(String, String)> = self
            .published(client)
            .await?
            .into_iter()
            .filter(|(s, t)| !self.tables.contains_key(&format!("{s}.{t}")))
            .filter(|(s, t)| recopy || !paused.contains_key(&format!("{s}.{t}")))
            .filter(|(s, t)| {
                // Refused tables are not retried until the source restarts.
                let status = self.shared.status();
                status
                    .tables
                    .get(&format!("{s}.{t}"))
                    .is_none_or(|t| t.state != "refused")
            })
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        self.shared.status().state = "snapshotting".into();
        let synced = snapshot::sync_tables(&self.store, &self.shared, config, &missing).await?;
        for (upstream, handle) in synced.tables {
            if paused.contains_key(&upstream) {
                // The copy has every change the pause skipped: stream again.
                self.shared.set_paused(&upstream, None)?;
                tracing::info!(source = %self.source(), table = %upstream,
                    "copied again; the table streams again");
            }
            for rel in self.relations.values_mut() {
                if rel.upstream == upstream {
                    rel.from_lsn = Self::applied_lsn(&handle);
                    rel.target = Some(handle.clone());
                    rel.paused = false;
                }
            }
            self.tables.insert(upstream, handle);
        }
        for (upstream, error) in &synced.failed {
            self.pause(upstream, error, txn)?;
        }
        if recopy {
            if self.shared.paused().is_empty() {
                self.recopy_backoff = RECOPY_FIRST;
            } else {
                self.recopy_at = Instant::now() + self.recopy_backoff;
                self.recopy_backoff = (self.recopy_backoff * 2).min(RECOPY_MAX);
            }
        }
        self.shared.status().state = "streaming".into();
        Ok(())
    }

    fn set_table_status(&self, upstream: &str, f: impl FnOnce(&mut crate::source::TableStatus)) {
        let mut status = self.shared.status();
        if let Some(t) = status.tables.get_mut(upstream) {
            f(t);
        }
    }

    /// Shows every synced table as streaming, with its applied LSN, and
    /// every paused table as paused, with why.
    fn publish_tables(&self) {
        let mut status = self.shared.status();
        for (upstream, reason) in self.shared.paused() {
            let entry = status.tables.entry(upstream.clone()).or_insert_with(|| {
                crate::source::TableStatus {
                    upstream: upstream.clone(),
                    ..Default::default()
                }
            });
            entry.state = "paused".into();
            entry.last_error = Some(reason);
        }
        for (upstream, handle) in &self.tables {
            let entry = status.tables.entry(upstream.clone()).or_insert_with(|| {
                crate::source::TableStatus {
                    upstream: upstream.clone(),
                    schema: handle.schema_name(),
                    table: handle.name().to_string(),
                    ..Default::default()
                }
            });
            entry.state = "streaming".into();
            entry.last_error = None;
            entry.applied_lsn = Self::applied_lsn(handle);
        }
    }

    async fn run_once(&mut self) -> Result<()> {
        let spec = self.shared.spec.clone();
        // Transactions spilled before a restart or reconnect come again.
        crate::spill::clean(self.store.root(), &spec.name);
        let config = spec.config()?;
        let created = prepare_source(&config, &spec).await?;
        self.load_tables();
        if created && !self.tables.is_empty() {
            // The slot was lost (dropped on the source): changes since the
            // last sync are gone with it, so every table is copied again.
            tracing::warn!(source = %spec.name,
                "the replication slot was missing and has been re-created; re-syncing every table");
            self.tables.clear();
        }
        let client = sql_connect(&config, &spec.name).await?;
        self.sync_missing(&config, &client, &mut None).await?;
        self.publish_tables();

        let mut repl = ReplConn::connect(&config, &spec.name).await?;
        repl.start_replication(&spec.slot, 0, &spec.publication)
            .await?;
        {
            let mut status = self.shared.status();
            status.state = "streaming".into();
            status.last_error = None;
        }
        tracing::info!(source = %spec.name, slot = %spec.slot, "streaming changes");

        let mut txn: Option<Txn> = None;
        let mut pending = Pending::default();
        let mut last_status = Instant::now();
        let mut last_discover = Instant::now();
        let mut last_apply = Instant::now();
        loop {
            if self.shared.stopping() {
                if txn.is_none() {
                    self.apply(&mut pending, &mut repl, &mut txn).await?;
                }
                return Ok(());
            }
            let may_apply_early = txn.is_none() && last_apply.elapsed() >= APPLY_INTERVAL;
            let wait = match pending.since {
                Some(since) if may_apply_early => {
                    APPLY_IDLE.min(APPLY_INTERVAL.saturating_sub(since.elapsed()))
                }
                Some(since) => APPLY_INTERVAL.saturating_sub(since.elapsed()),
                None => STATUS_INTERVAL,
            };
            let message = tokio::select! {
                m = repl.next_message() => Some(m?),
                _ = tokio::time::sleep(wait) => None,
                _ = self.shared.wake.notified() => None,
            };
            let quiet = message.is_none();
            match message {
                Some(StreamMessage::XLogData { wal_end, data, .. }) => {
                    self.wal_end = self.wal_end.max(wal_end);
                    let message = pgoutput::decode(data).map_err(|e| CdcError::Protocol {
                        source_name: spec.name.clone(),
                        reason: e.0,
                    })?;
                    match message {
                        Message::Relation(relation) => {
                            self.on_relation(relation, &mut txn, &mut pending, &config, &client)
                                .await?;
                        }
                        other => self.on_message(other, &mut txn, &mut pending)?,
                    }
                }
                Some(StreamMessage::Keepalive { wal_end, reply }) => {
                    self.wal_end = self.wal_end.max(wal_end);
                    if txn.is_none() && pending.since.is_none() {
                        // Everything the server sent before its WAL end is applied.
                        self.confirmed = self.confirmed.max(pending.end_lsn).max(wal_end);
                    }
                    if reply {
                        repl.send_status(self.wal_end, self.confirmed).await?;
                        last_status = Instant::now();
                    }
                }
                None => {}
            }
            let due = pending.since.is_some_and(|s| s.elapsed() >= APPLY_INTERVAL)
                || pending.changes >= APPLY_MAX_CHANGES
                || pending.spilled.is_some()
                || (quiet && may_apply_early && pending.since.is_some());
            if due {
                self.apply(&mut pending, &mut repl, &mut txn).await?;
                last_apply = Instant::now();
            }
            if last_status.elapsed() >= STATUS_INTERVAL {
                repl.send_status(self.wal_end, self.confirmed).await?;
                last_status = Instant::now();
                let mut status = self.shared.status();
                status.wal_end = self.wal_end;
                status.confirmed_lsn = self.confirmed;
                if pending.since.is_none() && txn.is_none() {
                    status.lag_seconds = 0.0;
                }
            }
            if txn.is_none() && last_discover.elapsed() >= DISCOVER_INTERVAL {
                last_discover = Instant::now();
                self.sync_missing(&config, &client, &mut txn).await?;
            }
        }
    }

    /// Takes one message of the stream other than a Relation (which
    /// needs the source: [`Worker::on_relation`]).
    fn on_message(
        &mut self,
        message: Message,
        txn: &mut Option<Txn>,
        pending: &mut Pending,
    ) -> Result<()> {
        match message {
            Message::Begin { final_lsn, xid, .. } => {
                *txn = Some(Txn {
                    final_lsn,
                    xid,
                    ops: Vec::new(),
                    spill: None,
                });
            }
            Message::Relation(_) => {}
            Message::Insert { relation, new } => {
                self.push(txn, relation, |rel| Op::Upsert {
                    relation: rel,
                    old: None,
                    new,
                })?;
            }
            Message::Update { relation, old, new } => {
                self.push(txn, relation, |rel| Op::Upsert {
                    relation: rel,
                    old,
                    new,
                })?;
            }
            Message::Delete { relation, old } => {
                self.push(txn, relation, |rel| Op::Delete { relation: rel, old })?;
            }
            Message::Truncate { relations } => {
                for relation in relations {
                    self.push(txn, relation, |_| Op::Truncate)?;
                }
            }
            Message::Commit {
                end_lsn,
                commit_time,
                ..
            } => {
                if let Some(mut done) = txn.take() {
                    if let Some(spill) = done.spill.take() {
                        // Applied right after what is waiting, in parts.
                        let spilled = spill.finish().map_err(|e| self.spill_error(e))?;
                        pending.spilled = Some(SpilledTxn { spilled, end_lsn });
                        pending.last_commit_time = commit_time;
                        pending.since.get_or_insert_with(Instant::now);
                        return Ok(());
                    }
                    for (upstream, op) in done.ops {
                        let Some(handle) = self.tables.get(&upstream) else {
                            continue;
                        };
                        pending.changes += 1;
                        pending
                            .tables
                            .entry(upstream)
                            .or_insert_with(|| (handle.clone(), Vec::new()))
                            .1
                            .push(op);
                    }
                }
                pending.end_lsn = end_lsn;
                pending.last_commit_time = commit_time;
                pending.since.get_or_insert_with(Instant::now);
            }
            Message::Other(_) => {}
        }
        Ok(())
    }

    fn spill_error(&self, e: std::io::Error) -> CdcError {
        CdcError::State {
            path: crate::spill::dir(self.store.root()).display().to_string(),
            reason: format!(
                "spilling a large transaction of source \"{}\": {e}",
                self.source()
            ),
        }
    }

    /// Keeps a change of the transaction being received: in memory while
    /// the transaction has fewer than `txn_memory_changes`, then (all of
    /// them) in a spill file.
    fn push(
        &self,
        txn: &mut Option<Txn>,
        relation: u32,
        op: impl FnOnce(Arc<Relation>) -> Op,
    ) -> Result<()> {
        let Some(txn) = txn.as_mut() else {
            return Ok(());
        };
        let Some(rel) = self.relations.get(&relation) else {
            return Ok(());
        };
        if rel.target.is_none() || rel.paused || txn.final_lsn < rel.from_lsn {
            return Ok(());
        }
        let op = op(rel.relation.clone());
        if let Some(spill) = txn.spill.as_mut() {
            return spill
                .write(&rel.upstream, &op)
                .map_err(|e| self.spill_error(e));
        }
        txn.ops.push((rel.upstream.clone(), op));
        if txn.ops.len() >= self.txn_memory_changes {
            let mut spill = SpillWriter::create(self.store.root(), self.source(), txn.xid)
                .map_err(|e| self.spill_error(e))?;
            for (upstream, op) in std::mem::take(&mut txn.ops) {
                spill
                    .write(&upstream, &op)
                    .map_err(|e| self.spill_error(e))?;
            }
            tracing::info!(source = %self.source(), xid = txn.xid, changes = spill.count,
                "a large transaction: its changes go to a spill file");
            txn.spill = Some(spill);
        }
        Ok(())
    }

    async fn on_relation(
        &mut self,
        relation: Relation,
        txn: &mut Option<Txn>,
        pending: &mut Pending,
        config: &PgConfig,
        client: &tokio_postgres::Client,
    ) -> Result<()> {
        let upstream = format!("{}.{}", relation.namespace, relation.name);
        let included = self
            .shared
            .spec
            .includes(&relation.namespace, &relation.name);
        if included && !self.tables.contains_key(&upstream) {
            // A table new to the publication: copy it now. Its changes in
            // the stream before the copy's consistent point are skipped.
            // (A paused table is copied again only when that is due.)
            self.sync_missing(config, client, txn).await?;
        }
        let target = if included {
            self.tables.get(&upstream).cloned()
        } else {
            None
        };
        let mut paused = false;
        let mut target = target;
        if let Some(handle) = target.clone() {
            match apply::reconcile(&handle, &relation, client, self.source()).await {
                Ok(apply::Reconciled::Resync(reason)) => {
                    tracing::info!(source = %self.source(), table = %upstream, %reason,
                        "copying the table again");
                    // The copy has every change before its consistent
                    // point; drop the ones waiting here.
                    pending.changes -= pending.tables.remove(&upstream).map_or(0, |t| t.1.len());
                    if let Some(txn) = txn.as_mut() {
                        txn.forget(&upstream);
                    }
                    self.tables.remove(&upstream);
                    self.sync_missing(config, client, txn).await?;
                    target = self.tables.get(&upstream).cloned();
                }
                Ok(_) => {}
                Err(e) if snapshot::table_error(&e) => {
                    self.pause(&upstream, &e, txn)?;
                    paused = true;
                    target = None;
                }
                // Anything else (the source or the store failing) is
                // retried: the Relation message comes again after a reconnect.
                Err(e) => return Err(e),
            }
        }
        let from_lsn = target.as_deref().map(Self::applied_lsn).unwrap_or(0);
        self.relations.insert(
            relation.id,
            RelState {
                relation: Arc::new(relation),
                upstream,
                target,
                from_lsn,
                paused,
            },
        );
        Ok(())
    }

    /// Applies every waiting transaction: one Floe commit per table, each
    /// recording the LSN it is applied through; then confirms the position
    /// to the server.
    async fn apply(
        &mut self,
        pending: &mut Pending,
        repl: &mut ReplConn,
        txn: &mut Option<Txn>,
    ) -> Result<()> {
        if pending.since.is_none() {
            return Ok(());
        }
        let mut batch = std::mem::take(pending);
        let mut end_lsn = batch.end_lsn;
        for (upstream, (handle, ops)) in std::mem::take(&mut batch.tables) {
            self.apply_part(&handle, &upstream, ops, Some(end_lsn), txn)
                .await?;
        }
        if let Some(spilled) = batch.spilled.take() {
            self.apply_spilled(&spilled, txn).await?;
            end_lsn = end_lsn.max(spilled.end_lsn);
        }
        self.confirmed = self.confirmed.max(end_lsn);
        repl.send_status(self.wal_end, self.confirmed).await?;
        let now_ms = chrono::Utc::now().timestamp_millis();
        let commit_ms = pg_time_to_unix_ms(batch.last_commit_time);
        let mut status = self.shared.status();
        status.confirmed_lsn = self.confirmed;
        status.wal_end = self.wal_end.max(self.confirmed);
        status.last_commit_ms = Some(commit_ms);
        status.lag_seconds = ((now_ms - commit_ms).max(0) as f64) / 1000.0;
        tracing::debug!(source = %self.source(), lsn = %format_lsn(end_lsn),
            changes = batch.changes, "applied");
        Ok(())
    }

    /// Applies changes to one table as one Floe commit; with `end_lsn`,
    /// the commit records it as the table's applied LSN. A value or schema
    /// change the table cannot take pauses it (durably, before the slot
    /// confirms the changes it skips); the other tables go on.
    async fn apply_part(
        &mut self,
        handle: &Arc<TableHandle>,
        upstream: &str,
        ops: Vec<Op>,
        end_lsn: Option<u64>,
        txn: &mut Option<Txn>,
    ) -> Result<()> {
        let count = ops.len() as u64;
        match apply::apply_ops(handle, ops, end_lsn, self.source(), upstream).await {
            Ok(()) => self.set_table_status(upstream, |t| {
                t.rows_applied += count;
                if let Some(lsn) = end_lsn {
                    t.applied_lsn = lsn;
                }
            }),
            Err(e @ (CdcError::InvalidValue { .. } | CdcError::IncompatibleChange { .. })) => {
                self.pause(upstream, &e, txn)?;
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Applies a spilled transaction: its changes are read back in order
    /// and applied to each table in parts of `txn_memory_changes`, so
    /// memory holds one part per table. Only each table's last part records
    /// the transaction's end as its applied LSN: until then, queries may
    /// see part of the transaction, and after a crash the table applies it
    /// again from its start (changes are by key, so that ends the same).
    async fn apply_spilled(&mut self, txn_done: &SpilledTxn, txn: &mut Option<Txn>) -> Result<()> {
        let part = self.txn_memory_changes.max(1);
        let mut parts: HashMap<String, Vec<Op>> = HashMap::new();
        let mut reader = txn_done.spilled.read().map_err(|e| self.spill_error(e))?;
        loop {
            let next = reader.next().map_err(|e| self.spill_error(e))?;
            let Some((upstream, op)) = next else {
                break;
            };
            // A table that paused meanwhile skips the rest.
            let Some(handle) = self.tables.get(upstream).cloned() else {
                continue;
            };
            let ops = parts.entry(upstream.to_string()).or_default();
            ops.push(op);
            if ops.len() >= part {
                let ops = std::mem::take(ops);
                let upstream = upstream.to_string();
                self.apply_part(&handle, &upstream, ops, None, txn).await?;
            }
        }
        for upstream in txn_done.spilled.tables() {
            if let Some(handle) = self.tables.get(upstream).cloned() {
                let ops = parts.remove(upstream).unwrap_or_default();
                self.apply_part(&handle, upstream, ops, Some(txn_done.end_lsn), txn)
                    .await?;
            }
        }
        tracing::info!(source = %self.source(), changes = txn_done.spilled.count,
            lsn = %format_lsn(txn_done.end_lsn), "applied a large transaction");
        Ok(())
    }
}

#[cfg(test)]
mod tests;
