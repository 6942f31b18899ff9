//! [`HiveTables`]: our tables in one Hive database — committing ORC files to HDFS, partitions
//! to the metastore, `_SUCCESS` markers, and the inspection and repair the CLI offers.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use hdfs_native::{Client as HdfsClient, ClientBuilder, WriteOptions};
use tokio::sync::Notify;

use crate::layout::{url_path, validate_file_name, TableLayout};
use crate::metastore::{Created, MetastoreClient};
use crate::registrar::{PartitionState, PartitionStateCell};
use crate::schema::conform;
use crate::{orc, HiveConfig, HiveError, PartitionDate, Table};

/// What [`HiveTables::commit_file`] committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedFile {
    /// Full URL of the committed file, `hdfs://…/<table>/dt=YYYY-MM-DD/<file name>`.
    pub url: String,
    /// Rows in the file.
    pub rows: usize,
    /// File size in bytes.
    pub bytes: usize,
}

/// A partition `repair` added, or found missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepairedPartition {
    /// The table.
    pub table: Table,
    /// The partition.
    pub dt: PartitionDate,
}

pub(crate) struct Shared {
    pub(crate) config: HiveConfig,
    pub(crate) hdfs: HdfsClient,
    pub(crate) metastore: MetastoreClient,
    pub(crate) partitions: PartitionStateCell,
    pub(crate) wake: Arc<Notify>,
}

impl Shared {
    pub(crate) fn table_location(&self, table: Table) -> String {
        table.def().location(&self.config.database_location())
    }

    fn layout(&self, table: Table) -> TableLayout {
        TableLayout::new(&self.table_location(table))
    }

    /// `dt=` partition directories of `table` on HDFS that hold a committed file or a
    /// `_SUCCESS` marker and that the metastore does not list, sorted.
    pub(crate) async fn missing_partitions(
        &self,
        table: Table,
    ) -> Result<Vec<PartitionDate>, HiveError> {
        let root = self.layout(table).root().to_string();
        let entries = match self.hdfs.list_status(&root, false).await {
            Ok(entries) => entries,
            Err(hdfs_native::HdfsError::FileNotFound(_)) => return Ok(Vec::new()),
            Err(e) => return Err(HiveError::hdfs("list", &root)(e)),
        };
        let known: BTreeSet<String> = self
            .metastore
            .partition_names(&self.config.database, table.name())
            .await?
            .into_iter()
            .collect();
        let mut missing = Vec::new();
        for dir in entries.iter().filter(|e| e.isdir) {
            let name = dir.path.rsplit('/').next().unwrap_or_default();
            let Some(dt) = PartitionDate::from_partition_name(name) else {
                continue;
            };
            if known.contains(&dt.partition_name()) {
                continue;
            }
            let files = self
                .hdfs
                .list_status(&dir.path, false)
                .await
                .map_err(HiveError::hdfs("list", &dir.path))?;
            let committed = files.iter().any(|f| {
                let n = f.path.rsplit('/').next().unwrap_or_default();
                !f.isdir && (n == "_SUCCESS" || !(n.starts_with('_') || n.starts_with('.')))
            });
            if committed {
                missing.push(dt);
            }
        }
        missing.sort();
        Ok(missing)
    }
}

/// Our tables in one Hive database (`hive/README.md`): where their files go on HDFS and how their
/// partitions reach the metastore. Cheap to clone; clones share one background partition
/// committer (see [`crate::registrar`]). Must be used inside a tokio runtime.
#[derive(Clone)]
pub struct HiveTables {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for HiveTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HiveTables")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl HiveTables {
    /// Checks `config` and prepares the HDFS and metastore clients. Makes no call to either
    /// service, so it succeeds while they are down.
    ///
    /// # Errors
    /// [`HiveError::Config`]/[`HiveError::Ddl`] for a bad configuration, [`HiveError::Hdfs`]
    /// when hdfs-native rejects the NameNode URL.
    pub async fn connect(config: HiveConfig) -> Result<Self, HiveError> {
        config.validate()?;
        let hdfs = ClientBuilder::new()
            .with_url(&config.hdfs_url)
            .build()
            .map_err(HiveError::hdfs("connect", &config.hdfs_url))?;
        let metastore =
            MetastoreClient::connect(&config.metastore_uri, config.metastore_timeout).await?;
        Ok(HiveTables {
            shared: Arc::new(Shared {
                config,
                hdfs,
                metastore,
                partitions: std::sync::Mutex::new(PartitionState::new()),
                wake: Arc::new(Notify::new()),
            }),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &HiveConfig {
        &self.shared.config
    }

    /// The metastore client, for inspection.
    pub fn metastore(&self) -> &MetastoreClient {
        &self.shared.metastore
    }

    /// The HDFS location (full URL) of `table`: `<database location>/<table name>`.
    pub fn table_location(&self, table: Table) -> String {
        self.shared.table_location(table)
    }

    /// Creates the database and all four tables unless they exist. Idempotent.
    /// Returns each object (`database`, then `database.table`) with what was done.
    ///
    /// The database directory is created on HDFS first (see the body for why).
    ///
    /// # Errors
    /// [`HiveError::TableDrift`] when an existing table differs from its DDL; metastore errors;
    /// [`HiveError::Hdfs`] when the database directory cannot be made.
    pub async fn init(&self) -> Result<Vec<(String, Created)>, HiveError> {
        let c = &self.shared.config;
        // The database directory is made here, before the metastore is asked for the database.
        // When several processes create a fresh database at once, the metastore deletes the
        // directory on behalf of each loser *if that loser's call made it*, which can leave the
        // winner's database without its directory, and every CREATE TABLE in it then fails with
        // FileNotFoundException. A directory that already exists is never deleted that way.
        let db_dir = url_path(&c.database_location()).to_string();
        self.shared
            .hdfs
            .mkdirs(&db_dir, 0o755, true)
            .await
            .map_err(HiveError::hdfs("mkdirs", &db_dir))?;
        let mut done = vec![(
            c.database.clone(),
            self.shared
                .metastore
                .ensure_database(&c.database, &c.database_location())
                .await?,
        )];
        for table in Table::ALL {
            let created = self
                .shared
                .metastore
                .ensure_table(table.def(), &c.database, &self.table_location(table))
                .await?;
            done.push((format!("{}.{}", c.database, table.name()), created));
        }
        Ok(done)
    }

    /// Commits `batches` as one ORC file `file_name` in partition `dt` of `table`, atomically:
    /// the file is encoded, written to a temporary file under `<table>/_tmp/`, closed, then
    /// renamed to `<table>/dt=YYYY-MM-DD/<file_name>`, replacing a file of the same name (so a
    /// re-run with the same deterministic name overwrites instead of adding). Readers see the
    /// old file or the new one, never a part. Then the partition is added to the metastore if
    /// it is new (at most one metastore call, bounded by the configured timeout; while the
    /// metastore is down, the partition is left to the background committer and this returns
    /// at once).
    ///
    /// `batches` must have the table's columns ([`Table::arrow_schema`]; nullability is not
    /// checked) and hold at least one row in total. The file is built in memory.
    ///
    /// An HDFS failure (e.g. a DataNode of the write pipeline is down) does not fail the
    /// commit at once: the whole file is written again, up to [`HiveConfig::write_retry`]
    /// attempts (see [`crate::retry`]).
    ///
    /// # Errors
    /// [`HiveError::InvalidInput`] (file name, no rows), [`HiveError::SchemaMismatch`],
    /// [`HiveError::Orc`], [`HiveError::Hdfs`] once no attempt is left or the error is not
    /// retryable (the partition directory is then unchanged). Metastore failures are not
    /// errors here: they are retried in the background.
    pub async fn commit_file(
        &self,
        table: Table,
        dt: PartitionDate,
        file_name: &str,
        batches: &[RecordBatch],
    ) -> Result<CommittedFile, HiveError> {
        let started = Instant::now();
        validate_file_name(file_name)?;
        let schema = table.arrow_schema();
        let batches = batches
            .iter()
            .map(|b| conform(table.name(), &schema, b))
            .collect::<Result<Vec<_>, _>>()?;
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        if rows == 0 {
            return Err(HiveError::InvalidInput(format!(
                "no rows to commit to {table}/{}/{file_name}",
                dt.partition_name()
            )));
        }
        let compression = self.shared.config.compression;
        let bytes = tokio::task::spawn_blocking(move || orc::encode(schema, &batches, compression))
            .await
            .map_err(|e| HiveError::Orc(format!("encoder task failed: {e}")))??;
        let size = bytes.len();

        self.write_with_retry(table, dt, file_name, Bytes::from(bytes))
            .await?;
        metrics::counter!("wa_hive_files_committed_total", "table" => table.name()).increment(1);
        metrics::counter!("wa_hive_committed_bytes_total", "table" => table.name())
            .increment(size as u64);
        metrics::counter!("wa_hive_committed_rows_total", "table" => table.name())
            .increment(rows as u64);
        metrics::histogram!("wa_hive_commit_seconds", "table" => table.name())
            .record(started.elapsed().as_secs_f64());
        tracing::debug!(table = table.name(), dt = %dt, file = file_name, rows, bytes = size, "file committed");

        self.shared.partition_committed(table, dt).await;
        let url = format!(
            "{}/{}/{file_name}",
            self.table_location(table),
            dt.partition_name()
        );
        Ok(CommittedFile {
            url,
            rows,
            bytes: size,
        })
    }

    /// Writes `bytes` as `file_name` in partition `dt` of `table`: temporary file, close,
    /// rename. A failed attempt's temporary file is deleted and, when the error is retryable,
    /// the whole file is written again under a fresh temporary name after the wait the
    /// configured [`crate::WriteRetry`] gives (logged at warn, counted in
    /// `wa_hive_write_retries_total{table}`). Returns the last error once no attempt is left.
    async fn write_with_retry(
        &self,
        table: Table,
        dt: PartitionDate,
        file_name: &str,
        bytes: Bytes,
    ) -> Result<(), HiveError> {
        let layout = self.shared.layout(table);
        let target = layout.file_path(dt, file_name);
        let partition_dir = layout.partition_dir(dt);
        let policy = self.shared.config.write_retry;
        let mut attempt = 1;
        loop {
            let tmp = layout.tmp_path(dt, file_name, &uuid::Uuid::new_v4().simple().to_string());
            let err = match self
                .write_then_rename(&tmp, &partition_dir, &target, bytes.clone())
                .await
            {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            // The attempt's temporary file, possibly still open: invisible to Hive, but not
            // left behind when HDFS lets us delete it (`wa-hive repair` removes it otherwise).
            if let Err(e) = self.shared.hdfs.delete(&tmp, false).await {
                tracing::warn!(path = %tmp, error = %e, "cannot delete a failed attempt's temporary file");
            }
            let wait = if err.is_retryable() {
                policy.wait_after(attempt)
            } else {
                None
            };
            let Some(wait) = wait else { return Err(err) };
            metrics::counter!("wa_hive_write_retries_total", "table" => table.name()).increment(1);
            tracing::warn!(
                table = table.name(),
                dt = %dt,
                file = file_name,
                attempt,
                error = %err,
                retry_in_ms = wait.as_millis() as u64,
                "writing a file failed; writing it again"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn write_then_rename(
        &self,
        tmp: &str,
        partition_dir: &str,
        target: &str,
        bytes: Bytes,
    ) -> Result<(), HiveError> {
        let hdfs = &self.shared.hdfs;
        let options = WriteOptions {
            overwrite: true,
            create_parent: true,
            // A failed attempt's block stays scheduled on its DataNodes at this size.
            block_size: Some(crate::retry::block_size_for(bytes.len())),
            ..Default::default()
        };
        let mut writer = hdfs
            .create(tmp, options)
            .await
            .map_err(HiveError::hdfs("create", tmp))?;
        writer
            .write_bytes(bytes)
            .await
            .map_err(HiveError::hdfs("write", tmp))?;
        writer
            .close()
            .await
            .map_err(HiveError::hdfs("close", tmp))?;
        hdfs.mkdirs(partition_dir, 0o755, true)
            .await
            .map_err(HiveError::hdfs("mkdirs", partition_dir))?;
        hdfs.rename(tmp, target, true)
            .await
            .map_err(HiveError::hdfs("rename", target))
    }

    /// Marks partition `dt` of `table` complete: writes an empty `_SUCCESS` file into its
    /// directory (creating the directory for a day without data) and makes sure the partition
    /// is in the metastore (as [`HiveTables::commit_file`] does). Idempotent.
    ///
    /// # Errors
    /// [`HiveError::Hdfs`].
    pub async fn mark_day_complete(
        &self,
        table: Table,
        dt: PartitionDate,
    ) -> Result<(), HiveError> {
        let layout = self.shared.layout(table);
        let marker = layout.success_marker(dt);
        let options = WriteOptions {
            overwrite: true,
            create_parent: true,
            ..Default::default()
        };
        let mut writer = self
            .shared
            .hdfs
            .create(&marker, options)
            .await
            .map_err(HiveError::hdfs("create", &marker))?;
        writer
            .close()
            .await
            .map_err(HiveError::hdfs("close", &marker))?;
        metrics::counter!("wa_hive_success_markers_total", "table" => table.name()).increment(1);
        tracing::info!(table = table.name(), dt = %dt, "partition marked complete (_SUCCESS)");
        self.shared.partition_committed(table, dt).await;
        Ok(())
    }

    /// Partitions whose files are committed but that the metastore has not taken yet, as
    /// `table/dt=YYYY-MM-DD`.
    pub fn pending_partitions(&self) -> Vec<String> {
        self.shared
            .state()
            .pending_keys()
            .map(|(t, dt)| format!("{t}/{}", dt.partition_name()))
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
            if self.shared.register_pending().await {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(HiveError::PartitionsPending(self.pending_partitions()));
            }
            tokio::time::sleep(wait.min(deadline - now)).await;
            wait = (wait * 2).min(Duration::from_secs(2));
        }
    }

    /// Adds to the metastore every committed partition directory it lacks (a `dt=` directory
    /// holding a data file or `_SUCCESS`), table by table, and returns what it added, sorted.
    /// For recovery; the background committer does the same once after a restart.
    ///
    /// # Errors
    /// Metastore errors (e.g. a table that does not exist: run `init`), [`HiveError::Hdfs`].
    pub async fn repair(&self) -> Result<Vec<RepairedPartition>, HiveError> {
        let mut added = Vec::new();
        for table in Table::ALL {
            for dt in self.shared.missing_partitions(table).await? {
                self.shared
                    .metastore
                    .add_partition(
                        table.def(),
                        &self.shared.config.database,
                        &self.table_location(table),
                        dt,
                    )
                    .await?;
                added.push(RepairedPartition { table, dt });
            }
        }
        Ok(added)
    }

    /// Deletes temporary files (`<table>/_tmp/**/*.inprogress`) last modified more than
    /// `older_than` ago: left by writers that crashed before their rename. Never touches a
    /// partition directory. Returns the deleted paths, sorted. `older_than` must exceed the
    /// longest time a writer takes to write and close one file (`wa-hive repair` uses 1 day).
    ///
    /// # Errors
    /// [`HiveError::Hdfs`].
    pub async fn remove_stale_temp_files(
        &self,
        older_than: Duration,
    ) -> Result<Vec<String>, HiveError> {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let cutoff_ms = now_ms.saturating_sub(older_than.as_millis() as u64);
        let mut removed = Vec::new();
        for table in Table::ALL {
            let tmp = self.shared.layout(table).tmp_dir();
            let entries = match self.shared.hdfs.list_status(&tmp, true).await {
                Ok(entries) => entries,
                Err(hdfs_native::HdfsError::FileNotFound(_)) => continue,
                Err(e) => return Err(HiveError::hdfs("list", &tmp)(e)),
            };
            for f in entries {
                if !f.isdir && f.path.ends_with(".inprogress") && f.modification_time < cutoff_ms {
                    self.shared
                        .hdfs
                        .delete(&f.path, false)
                        .await
                        .map_err(HiveError::hdfs("delete", &f.path))?;
                    tracing::info!(path = %f.path, "stale temporary file removed");
                    removed.push(f.path);
                }
            }
        }
        removed.sort();
        Ok(removed)
    }

    /// Names of the tables in our database, as the metastore lists them.
    ///
    /// # Errors
    /// Metastore errors.
    pub async fn tables(&self) -> Result<Vec<String>, HiveError> {
        let mut names = self
            .shared
            .metastore
            .table_names(&self.shared.config.database)
            .await?;
        names.sort();
        Ok(names)
    }

    /// Partition names (`dt=YYYY-MM-DD`) of `table` in our database, sorted.
    ///
    /// # Errors
    /// Metastore errors (e.g. no such table).
    pub async fn partitions(&self, table: &str) -> Result<Vec<String>, HiveError> {
        self.shared
            .metastore
            .partition_names(&self.shared.config.database, table)
            .await
    }
}
