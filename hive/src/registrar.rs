//! [`PartitionRegistrar`]: partition commit — adding a date partition to the metastore once its
//! first file is committed, and retrying in the background while the metastore is away. One
//! registrar serves every program: the dataflow's ORC tables (through [`crate::HiveTables`])
//! and the archive's text table (`wa-archiver`).
//!
//! The data path never waits for a metastore that is down: when no partition is pending, a
//! committed file's partition is added at once (one call, bounded by the metastore timeout);
//! when that fails, or partitions are already pending, the partition joins the pending set and
//! a background task retries with exponential backoff until the metastore takes it. Pending
//! partitions live in memory; after a crash, the background task's first round reconciles HDFS
//! with the metastore (the same work as `wa-hive repair`), so a partition whose files were
//! committed is never lost. A registrar built with [`RegistrarOptions::create_tables`] also
//! creates its tables (idempotently) before it adds a partition, retrying the same way.
//!
//! Metrics: `wa_hive_partitions_pending` (gauge), `wa_hive_partitions_added_total{table}`,
//! `wa_hive_metastore_errors_total{op}`.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::ddl::TableDef;
use crate::hdfs::{base_name, is_hidden, Hdfs};
use crate::metastore::{Created, MetastoreClient};
use crate::{HiveError, PartitionDate};

/// How long the idle background task sleeps before checking it is still needed.
const IDLE_RECHECK: Duration = Duration::from_secs(30);

/// A table the registrar adds partitions to: its definition (name, partition key, format)
/// and its location (full URL); a partition's directory is `<location>/<key>=YYYY-MM-DD`.
#[derive(Debug, Clone)]
pub struct RegisteredTable {
    /// The table's definition, as parsed from `hive/ddl/`.
    pub def: TableDef,
    /// The table's location, `hdfs://…/<table>`.
    pub location: String,
}

impl RegisteredTable {
    /// The partition key's name (`dt` for our ORC tables, `date` for the archive).
    pub fn key(&self) -> &str {
        self.def
            .partition_keys
            .first()
            .map_or("dt", |k| k.name.as_str())
    }

    /// The partition's name in the metastore and its directory name, `<key>=YYYY-MM-DD`.
    pub fn partition_name(&self, dt: PartitionDate) -> String {
        format!("{}={dt}", self.key())
    }

    /// Parses a partition directory or metastore name of this table.
    pub fn parse_partition_name(&self, name: &str) -> Option<PartitionDate> {
        name.strip_prefix(self.key())?
            .strip_prefix('=')?
            .parse()
            .ok()
    }
}

/// How the registrar retries and what it may create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrarOptions {
    /// First wait of the background task after a failed round (doubles up to `retry_max`).
    pub retry_initial: Duration,
    /// Longest wait between two rounds while the metastore fails.
    pub retry_max: Duration,
    /// Create the tables (if missing) before their first partition is added.
    pub create_tables: bool,
}

/// Index into the registrar's tables, and the date.
type Key = (usize, PartitionDate);

/// What the registrar knows about partitions.
#[derive(Debug)]
struct State {
    /// Partitions known to be in the metastore.
    registered: HashSet<Key>,
    /// Partitions with committed files that the metastore has not taken yet.
    pending: BTreeSet<Key>,
    /// The tables exist (always true unless the registrar creates them).
    tables_ready: bool,
    /// The background task has not yet reconciled HDFS with the metastore.
    needs_reconcile: bool,
    task_started: bool,
}

struct Inner {
    metastore: MetastoreClient,
    hdfs: Hdfs,
    database: String,
    tables: Vec<RegisteredTable>,
    options: RegistrarOptions,
    state: Mutex<State>,
    wake: Arc<Notify>,
}

/// Adds partitions of a fixed set of tables to the metastore as their files are committed
/// (see the module doc). Cheap to clone; clones share one background task, which exits when
/// the last clone is dropped. Must be used inside a tokio runtime.
#[derive(Clone)]
pub struct PartitionRegistrar {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PartitionRegistrar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionRegistrar")
            .field("database", &self.inner.database)
            .field(
                "tables",
                &self
                    .inner
                    .tables
                    .iter()
                    .map(|t| &t.def.name)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

fn note_error(op: &'static str, err: &HiveError) {
    metrics::counter!("wa_hive_metastore_errors_total", "op" => op).increment(1);
    tracing::warn!(op, error = %err, retryable = err.is_retryable(), "metastore call failed");
}

impl PartitionRegistrar {
    /// A registrar for `tables` of `database`, calling `metastore` and listing `hdfs` to
    /// reconcile. Makes no call yet.
    pub fn new(
        metastore: MetastoreClient,
        hdfs: Hdfs,
        database: &str,
        tables: Vec<RegisteredTable>,
        options: RegistrarOptions,
    ) -> Self {
        PartitionRegistrar {
            inner: Arc::new(Inner {
                metastore,
                hdfs,
                database: database.to_string(),
                tables,
                options,
                state: Mutex::new(State {
                    registered: HashSet::new(),
                    pending: BTreeSet::new(),
                    tables_ready: !options.create_tables,
                    needs_reconcile: true,
                    task_started: false,
                }),
                wake: Arc::new(Notify::new()),
            }),
        }
    }

    /// The tables, in the order given to [`PartitionRegistrar::new`].
    pub fn tables(&self) -> &[RegisteredTable] {
        &self.inner.tables
    }

    /// Called after a file of partition `dt` of table `table` (by name) is committed: makes
    /// sure the partition is, or will be, in the metastore. Waits for at most one metastore
    /// call, and for none while the metastore is known to be failing.
    ///
    /// # Panics
    /// When `table` is not one of the registrar's tables (a programming error).
    pub async fn committed(&self, table: &str, dt: PartitionDate) {
        let index = self
            .inner
            .index(table)
            .unwrap_or_else(|| panic!("table {table} is not registered here"));
        self.inner.committed(index, dt).await;
        self.ensure_task();
    }

    /// Partitions whose files are committed but that the metastore has not taken yet, as
    /// `table/<key>=YYYY-MM-DD`, in table then date order.
    pub fn pending(&self) -> Vec<String> {
        self.inner
            .state()
            .pending
            .iter()
            .map(|&(i, dt)| {
                let t = &self.inner.tables[i];
                format!("{}/{}", t.def.name, t.partition_name(dt))
            })
            .collect()
    }

    /// Waits until every pending partition is in the metastore, trying again every 200 ms up to
    /// 2 s apart, for at most `timeout`. Call before a clean shutdown.
    ///
    /// # Errors
    /// [`HiveError::PartitionsPending`] with those still pending after `timeout`.
    pub async fn flush(&self, timeout: Duration) -> Result<(), HiveError> {
        let deadline = Instant::now() + timeout;
        let mut wait = Duration::from_millis(200);
        loop {
            if self.inner.register_pending().await {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(HiveError::PartitionsPending(self.pending()));
            }
            tokio::time::sleep(wait.min(deadline - now)).await;
            wait = (wait * 2).min(Duration::from_secs(2));
        }
    }

    /// Partition directories of `table` (by name) on HDFS that hold a committed file (a name
    /// not starting with `_` or `.`) or a `_SUCCESS` marker and that the metastore does not
    /// list, sorted.
    ///
    /// # Errors
    /// Metastore errors (e.g. no such table), [`HiveError::Hdfs`]; [`HiveError::InvalidInput`]
    /// for a table the registrar does not know.
    pub async fn missing_partitions(&self, table: &str) -> Result<Vec<PartitionDate>, HiveError> {
        let index = self
            .inner
            .index(table)
            .ok_or_else(|| HiveError::InvalidInput(format!("unknown table {table}")))?;
        self.inner.missing_partitions(index).await
    }

    /// Adds partition `dt` of `table` (by name) now, whatever the registrar's state; for
    /// `wa-hive repair`.
    ///
    /// # Errors
    /// Metastore errors; [`HiveError::InvalidInput`] for a table the registrar does not know.
    pub async fn add_now(&self, table: &str, dt: PartitionDate) -> Result<Created, HiveError> {
        let index = self
            .inner
            .index(table)
            .ok_or_else(|| HiveError::InvalidInput(format!("unknown table {table}")))?;
        let created = self.inner.add_partition(index, dt).await?;
        self.inner.state().registered.insert((index, dt));
        Ok(created)
    }

    /// Starts the background task once; wakes it otherwise.
    fn ensure_task(&self) {
        {
            let mut st = self.inner.state();
            if st.task_started {
                self.inner.wake.notify_one();
                return;
            }
            st.task_started = true;
        }
        tokio::spawn(run(
            Arc::downgrade(&self.inner),
            Arc::clone(&self.inner.wake),
            self.inner.options,
        ));
    }

    /// Starts the background task now (it creates the tables when the registrar does, then
    /// reconciles HDFS with the metastore), without waiting for a first commit.
    pub fn start(&self) {
        self.ensure_task();
    }
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain sets behind, still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn index(&self, table: &str) -> Option<usize> {
        self.tables.iter().position(|t| t.def.name == table)
    }

    fn set_pending_gauge(st: &State) {
        metrics::gauge!("wa_hive_partitions_pending").set(st.pending.len() as f64);
    }

    async fn committed(&self, index: usize, dt: PartitionDate) {
        let key = (index, dt);
        {
            let mut st = self.state();
            if st.registered.contains(&key) {
                return;
            }
            if !st.pending.is_empty() || !st.tables_ready {
                st.pending.insert(key);
                Self::set_pending_gauge(&st);
                return;
            }
        }
        let started = Instant::now();
        match self.add_partition(index, dt).await {
            Ok(_) => {
                metrics::histogram!("wa_hive_partition_add_seconds")
                    .record(started.elapsed().as_secs_f64());
                self.state().registered.insert(key);
            }
            Err(e) => {
                note_error("add_partition", &e);
                let mut st = self.state();
                st.pending.insert(key);
                Self::set_pending_gauge(&st);
            }
        }
    }

    async fn add_partition(&self, index: usize, dt: PartitionDate) -> Result<Created, HiveError> {
        let t = &self.tables[index];
        let created = self
            .metastore
            .add_partition(&t.def, &self.database, &t.location, dt)
            .await?;
        if created == Created::New {
            metrics::counter!("wa_hive_partitions_added_total", "table" => t.def.name.clone())
                .increment(1);
            tracing::info!(table = %t.def.name, partition = %t.partition_name(dt), "partition added to the metastore");
        }
        Ok(created)
    }

    /// Creates the tables that are missing, when the registrar does that.
    async fn ensure_tables(&self) -> Result<(), HiveError> {
        if self.state().tables_ready {
            return Ok(());
        }
        for t in &self.tables {
            let created = self
                .metastore
                .ensure_table(&t.def, &self.database, &t.location)
                .await?;
            if created == Created::New {
                tracing::info!(database = %self.database, table = %t.def.name, "table created");
            }
        }
        self.state().tables_ready = true;
        Ok(())
    }

    /// One attempt at every pending partition, in order; stops at the first failure.
    /// Returns true when nothing is left pending.
    async fn register_pending(&self) -> bool {
        if let Err(e) = self.ensure_tables().await {
            note_error("create_table", &e);
            return false;
        }
        let todo: Vec<Key> = self.state().pending.iter().copied().collect();
        for (index, dt) in todo {
            match self.add_partition(index, dt).await {
                Ok(_) => {
                    let mut st = self.state();
                    st.pending.remove(&(index, dt));
                    st.registered.insert((index, dt));
                    Self::set_pending_gauge(&st);
                }
                Err(e) => {
                    note_error("add_partition", &e);
                    return false;
                }
            }
        }
        self.state().pending.is_empty()
    }

    async fn missing_partitions(&self, index: usize) -> Result<Vec<PartitionDate>, HiveError> {
        let t = &self.tables[index];
        let root = crate::layout::url_path(&t.location);
        let entries = self.hdfs.list(root, false).await?;
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let known: BTreeSet<String> = self
            .metastore
            .partition_names(&self.database, &t.def.name)
            .await?
            .into_iter()
            .collect();
        let mut missing = Vec::new();
        for dir in entries.iter().filter(|e| e.isdir) {
            let Some(dt) = t.parse_partition_name(base_name(&dir.path)) else {
                continue;
            };
            if known.contains(&t.partition_name(dt)) {
                continue;
            }
            let files = self.hdfs.list(&dir.path, false).await?;
            let committed = files.iter().any(|f| {
                let n = base_name(&f.path);
                !f.isdir && (n == "_SUCCESS" || !is_hidden(n))
            });
            if committed {
                missing.push(dt);
            }
        }
        missing.sort();
        Ok(missing)
    }

    /// Partitions with committed files that the metastore does not list join the pending set.
    async fn reconcile(&self) -> Result<(), HiveError> {
        for index in 0..self.tables.len() {
            let missing = self.missing_partitions(index).await?;
            if !missing.is_empty() {
                tracing::info!(
                    table = %self.tables[index].def.name,
                    count = missing.len(),
                    "found committed partitions the metastore lacks"
                );
            }
            let mut st = self.state();
            for dt in missing {
                st.pending.insert((index, dt));
            }
            Self::set_pending_gauge(&st);
        }
        Ok(())
    }
}

/// The background task: create the tables if asked, reconcile once, then retry pending
/// partitions with exponential backoff; exits when every handle is dropped.
async fn run(weak: Weak<Inner>, wake: Arc<Notify>, options: RegistrarOptions) {
    let mut backoff = options.retry_initial;
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let mut ok = inner.register_pending().await;
        if ok && inner.state().needs_reconcile {
            match inner.reconcile().await {
                Ok(()) => {
                    inner.state().needs_reconcile = false;
                    ok = inner.register_pending().await;
                }
                Err(e) => {
                    note_error("reconcile", &e);
                    ok = false;
                }
            }
        }
        let pending = inner.state().pending.len();
        drop(inner);
        if ok {
            backoff = options.retry_initial;
            // Woken by a commit, or rechecking now and then whether any handle is left.
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(IDLE_RECHECK) => {}
            }
        } else {
            tracing::warn!(
                pending,
                retry_in_ms = backoff.as_millis() as u64,
                "metastore unavailable; partitions pending"
            );
            // New commits do not cut the wait short: a failing metastore is not hammered.
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(options.retry_max);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_follow_the_tables_key() {
        let archive = RegisteredTable {
            def: crate::archive::archive_table(crate::archive::DEFAULT_TABLE),
            location: "hdfs://nn:9000/raw/web_analytics".into(),
        };
        let dt: PartitionDate = "2026-12-05".parse().unwrap();
        assert_eq!(archive.key(), "date");
        assert_eq!(archive.partition_name(dt), "date=2026-12-05");
        assert_eq!(archive.parse_partition_name("date=2026-12-05"), Some(dt));
        assert_eq!(archive.parse_partition_name("dt=2026-12-05"), None);
        assert_eq!(archive.parse_partition_name("date=2026-12-5"), None);
        assert_eq!(archive.parse_partition_name("dates=2026-12-05"), None);
        let orc = RegisteredTable {
            def: crate::Table::PageAnalytics.def().clone(),
            location: "hdfs://nn:9000/user/hive/warehouse/page_analytics".into(),
        };
        assert_eq!(orc.partition_name(dt), dt.partition_name());
        assert_eq!(orc.parse_partition_name("dt=2026-12-05"), Some(dt));
    }
}
