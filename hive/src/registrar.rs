//! Partition commit: adding a `dt` partition to the metastore once its first file is committed,
//! and retrying in the background while the metastore is away.
//!
//! The data path never waits for a metastore that is down: when no partition is pending, a
//! committed file's partition is added at once (one call, bounded by the metastore timeout);
//! when that fails, or partitions are already pending, the partition joins the pending set and
//! a background task retries with exponential backoff until the metastore takes it. Pending
//! partitions live in memory; after a crash, the background task's first round reconciles HDFS
//! with the metastore (the same work as `wa-hive repair`), so a partition whose files were
//! committed is never lost. Metrics: `wa_hive_partitions_pending` (gauge),
//! `wa_hive_partitions_added_total{table}`, `wa_hive_metastore_errors_total{op}`.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::sync::Notify;

use crate::metastore::Created;
use crate::tables::Table;
use crate::warehouse::Shared;
use crate::{HiveError, PartitionDate};

/// How long the idle background task sleeps before checking it is still needed.
const IDLE_RECHECK: Duration = Duration::from_secs(30);

type Key = (Table, PartitionDate);

/// What the registrar knows about partitions.
#[derive(Debug)]
pub(crate) struct PartitionState {
    /// Partitions known to be in the metastore.
    registered: HashSet<Key>,
    /// Partitions with committed files that the metastore has not taken yet.
    pending: BTreeSet<Key>,
    /// The background task has not yet reconciled HDFS with the metastore.
    needs_reconcile: bool,
    task_started: bool,
}

impl PartitionState {
    pub(crate) fn new() -> Self {
        PartitionState {
            registered: HashSet::new(),
            pending: BTreeSet::new(),
            needs_reconcile: true,
            task_started: false,
        }
    }

    /// The pending partitions, in (table, dt) order.
    pub(crate) fn pending_keys(&self) -> impl Iterator<Item = Key> + '_ {
        self.pending.iter().copied()
    }
}

fn set_pending_gauge(state: &PartitionState) {
    metrics::gauge!("wa_hive_partitions_pending").set(state.pending.len() as f64);
}

pub(crate) fn note_error(op: &'static str, err: &HiveError) {
    metrics::counter!("wa_hive_metastore_errors_total", "op" => op).increment(1);
    tracing::warn!(op, error = %err, retryable = err.is_retryable(), "metastore call failed");
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, PartitionState> {
        // A panic while holding this lock leaves plain sets behind, still consistent.
        self.partitions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Called after a file of `(table, dt)` is committed: makes sure the partition is, or will
    /// be, in the metastore. Waits for at most one metastore call, and for none while the
    /// metastore is known to be failing.
    pub(crate) async fn partition_committed(self: &Arc<Self>, table: Table, dt: PartitionDate) {
        let key = (table, dt);
        {
            let mut st = self.state();
            if st.registered.contains(&key) {
                return;
            }
            if !st.pending.is_empty() {
                st.pending.insert(key);
                set_pending_gauge(&st);
                drop(st);
                self.ensure_task();
                return;
            }
        }
        let started = std::time::Instant::now();
        match self.add_partition(table, dt).await {
            Ok(_) => {
                metrics::histogram!("wa_hive_partition_add_seconds")
                    .record(started.elapsed().as_secs_f64());
                self.state().registered.insert(key);
            }
            Err(e) => {
                note_error("add_partition", &e);
                let mut st = self.state();
                st.pending.insert(key);
                set_pending_gauge(&st);
            }
        }
        // Reconciliation after a restart happens in the background task.
        self.ensure_task();
    }

    async fn add_partition(&self, table: Table, dt: PartitionDate) -> Result<Created, HiveError> {
        let created = self
            .metastore
            .add_partition(
                table.def(),
                &self.config.database,
                &self.table_location(table),
                dt,
            )
            .await?;
        if created == Created::New {
            metrics::counter!("wa_hive_partitions_added_total", "table" => table.name())
                .increment(1);
            tracing::info!(table = table.name(), dt = %dt, "partition added to the metastore");
        }
        Ok(created)
    }

    /// One attempt at every pending partition, in order; stops at the first failure.
    /// Returns true when nothing is left pending.
    pub(crate) async fn register_pending(&self) -> bool {
        let todo: Vec<Key> = self.state().pending.iter().copied().collect();
        for (table, dt) in todo {
            match self.add_partition(table, dt).await {
                Ok(_) => {
                    let mut st = self.state();
                    st.pending.remove(&(table, dt));
                    st.registered.insert((table, dt));
                    set_pending_gauge(&st);
                }
                Err(e) => {
                    note_error("add_partition", &e);
                    return false;
                }
            }
        }
        self.state().pending.is_empty()
    }

    /// Partitions with committed files that the metastore does not list join the pending set.
    async fn reconcile(&self) -> Result<(), HiveError> {
        for table in Table::ALL {
            let missing = self.missing_partitions(table).await?;
            if !missing.is_empty() {
                tracing::info!(
                    table = table.name(),
                    count = missing.len(),
                    "found committed partitions the metastore lacks"
                );
            }
            let mut st = self.state();
            for dt in missing {
                st.pending.insert((table, dt));
            }
            set_pending_gauge(&st);
        }
        Ok(())
    }

    /// Starts the background task once.
    fn ensure_task(self: &Arc<Self>) {
        {
            let mut st = self.state();
            if st.task_started {
                self.wake.notify_one();
                return;
            }
            st.task_started = true;
        }
        let weak = Arc::downgrade(self);
        let wake = Arc::clone(&self.wake);
        let (initial, max) = (self.config.retry_initial, self.config.retry_max);
        tokio::spawn(run(weak, wake, initial, max));
    }
}

/// The background task: reconcile once, then retry pending partitions with exponential
/// backoff (`initial`, doubling up to `max`); exits when every handle is dropped.
async fn run(weak: Weak<Shared>, wake: Arc<Notify>, initial: Duration, max: Duration) {
    let mut backoff = initial;
    loop {
        let Some(shared) = weak.upgrade() else { return };
        let mut ok = shared.register_pending().await;
        if ok && shared.state().needs_reconcile {
            match shared.reconcile().await {
                Ok(()) => {
                    shared.state().needs_reconcile = false;
                    ok = shared.register_pending().await;
                }
                Err(e) => {
                    note_error("reconcile", &e);
                    ok = false;
                }
            }
        }
        let pending = shared.state().pending.len();
        drop(shared);
        if ok {
            backoff = initial;
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
            backoff = (backoff * 2).min(max);
        }
    }
}

/// Holds the registrar's state in [`Shared`].
pub(crate) type PartitionStateCell = Mutex<PartitionState>;
