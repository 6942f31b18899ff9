//! [`HiveTables`]: our tables in one Hive database — committing ORC files to HDFS, partitions
//! to the metastore, `_SUCCESS` markers, and the inspection and repair the CLI offers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use bytes::Bytes;

use crate::hdfs::{base_name, AtomicWrite, Hdfs};
use crate::layout::{url_path, validate_file_name, TableLayout};
use crate::metastore::{Created, MetastoreClient};
use crate::registrar::{PartitionRegistrar, RegisteredTable, RegistrarOptions};
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

struct Shared {
    config: HiveConfig,
    hdfs: Hdfs,
    metastore: MetastoreClient,
    registrar: PartitionRegistrar,
}

impl Shared {
    fn table_location(&self, table: Table) -> String {
        table.def().location(&self.config.database_location())
    }

    fn layout(&self, table: Table) -> TableLayout {
        TableLayout::new(&self.table_location(table))
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
        let hdfs = Hdfs::connect(&config.hdfs_url)?;
        Self::with_hdfs(config, hdfs).await
    }

    /// As [`HiveTables::connect`], with the process's HDFS client `hdfs` (which must be a
    /// client of `config.hdfs_url`).
    ///
    /// # Errors
    /// As [`HiveTables::connect`].
    pub async fn with_hdfs(config: HiveConfig, hdfs: Hdfs) -> Result<Self, HiveError> {
        config.validate()?;
        let metastore =
            MetastoreClient::connect(&config.metastore_uri, config.metastore_timeout).await?;
        let db_location = config.database_location();
        let tables = Table::ALL
            .iter()
            .map(|t| RegisteredTable {
                def: t.def().clone(),
                location: t.def().location(&db_location),
            })
            .collect();
        let registrar = PartitionRegistrar::new(
            metastore.clone(),
            hdfs.clone(),
            &config.database,
            tables,
            RegistrarOptions {
                retry_initial: config.retry_initial,
                retry_max: config.retry_max,
                create_tables: false,
            },
        );
        Ok(HiveTables {
            shared: Arc::new(Shared {
                config,
                hdfs,
                metastore,
                registrar,
            }),
        })
    }

    /// The process's HDFS client, shared with everything else that writes or lists HDFS.
    pub fn hdfs(&self) -> &Hdfs {
        &self.shared.hdfs
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

    /// Creates the database and all six tables unless they exist. Idempotent.
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
        self.shared
            .hdfs
            .mkdirs(url_path(&c.database_location()))
            .await?;
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

        self.shared.registrar.committed(table.name(), dt).await;
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

    /// Writes `bytes` as `file_name` in partition `dt` of `table` through
    /// [`Hdfs::write_atomic`]: each attempt's temporary file is
    /// `<table>/_tmp/dt=…/<file_name>.<attempt token>.inprogress`; retries are counted in
    /// `wa_hive_write_retries_total{table}`.
    async fn write_with_retry(
        &self,
        table: Table,
        dt: PartitionDate,
        file_name: &str,
        bytes: Bytes,
    ) -> Result<(), HiveError> {
        let layout = self.shared.layout(table);
        let target = layout.file_path(dt, file_name);
        let temp_path = |token: &str| layout.tmp_path(dt, file_name, token);
        let write = AtomicWrite {
            target: &target,
            temp_path: &temp_path,
            replace: true,
            retry: self.shared.config.write_retry,
        };
        self.shared
            .hdfs
            .write_atomic(&write, bytes, |_, _| {
                metrics::counter!("wa_hive_write_retries_total", "table" => table.name())
                    .increment(1);
            })
            .await?;
        Ok(())
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
        let marker = self.shared.layout(table).success_marker(dt);
        self.shared.hdfs.touch(&marker).await?;
        metrics::counter!("wa_hive_success_markers_total", "table" => table.name()).increment(1);
        tracing::info!(table = table.name(), dt = %dt, "partition marked complete (_SUCCESS)");
        self.shared.registrar.committed(table.name(), dt).await;
        Ok(())
    }

    /// Partitions whose files are committed but that the metastore has not taken yet, as
    /// `table/dt=YYYY-MM-DD`.
    pub fn pending_partitions(&self) -> Vec<String> {
        self.shared.registrar.pending()
    }

    /// Waits until every pending partition is in the metastore, trying again every 200 ms up to
    /// 2 s apart, for at most `timeout`. Call before a clean shutdown.
    ///
    /// # Errors
    /// [`HiveError::PartitionsPending`] with those still pending after `timeout`.
    pub async fn flush(&self, timeout: Duration) -> Result<(), HiveError> {
        self.shared.registrar.flush(timeout).await
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
            for dt in self
                .shared
                .registrar
                .missing_partitions(table.name())
                .await?
            {
                self.shared.registrar.add_now(table.name(), dt).await?;
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
            for f in self.shared.hdfs.list(&tmp, true).await? {
                if !f.isdir && f.path.ends_with(".inprogress") && f.modification_time < cutoff_ms {
                    self.shared.hdfs.delete(&f.path).await?;
                    tracing::info!(path = %f.path, "stale temporary file removed");
                    removed.push(f.path);
                }
            }
        }
        removed.sort();
        Ok(removed)
    }

    /// The `dt=` partitions of `table` that have a directory on HDFS, sorted (whether or not
    /// the metastore lists them).
    ///
    /// # Errors
    /// [`HiveError::Hdfs`].
    pub async fn partition_dates(&self, table: Table) -> Result<Vec<PartitionDate>, HiveError> {
        let root = self.shared.layout(table).root().to_string();
        let mut dates: Vec<PartitionDate> = self
            .shared
            .hdfs
            .list(&root, false)
            .await?
            .iter()
            .filter(|d| d.isdir)
            .filter_map(|d| PartitionDate::from_partition_name(base_name(&d.path)))
            .collect();
        dates.sort();
        Ok(dates)
    }

    /// Base names of the files in partition `dt` of `table` on HDFS (data files and markers
    /// such as `_SUCCESS`), sorted; empty when the directory does not exist.
    ///
    /// # Errors
    /// [`HiveError::Hdfs`].
    pub async fn partition_files(
        &self,
        table: Table,
        dt: PartitionDate,
    ) -> Result<Vec<String>, HiveError> {
        let dir = self.shared.layout(table).partition_dir(dt);
        let mut names: Vec<String> = self
            .shared
            .hdfs
            .list(&dir, false)
            .await?
            .iter()
            .filter(|f| !f.isdir)
            .map(|f| base_name(&f.path).to_string())
            .collect();
        names.sort();
        Ok(names)
    }

    /// The rows of committed file `file_name` in partition `dt` of `table`, read back whole
    /// from HDFS as record batches with the table's columns ([`Table::arrow_schema`];
    /// timestamps in UTC epoch ms, as written); `None` when there is no such file.
    ///
    /// # Errors
    /// [`HiveError::Hdfs`] when HDFS cannot be read; [`HiveError::Orc`] or
    /// [`HiveError::SchemaMismatch`] for a file that is not an ORC file of the table.
    pub async fn read_file(
        &self,
        table: Table,
        dt: PartitionDate,
        file_name: &str,
    ) -> Result<Option<Vec<RecordBatch>>, HiveError> {
        let path = self.shared.layout(table).file_path(dt, file_name);
        let Some(bytes) = self.shared.hdfs.read(&path).await? else {
            return Ok(None);
        };
        let schema = table.arrow_schema();
        let batches = tokio::task::spawn_blocking(move || orc::decode(&schema, bytes))
            .await
            .map_err(|e| HiveError::Orc(format!("decoder task failed: {e}")))?
            .map_err(|e| match e {
                HiveError::SchemaMismatch { detail, .. } => HiveError::SchemaMismatch {
                    table: table.name().to_string(),
                    detail: format!("{path}: {detail}"),
                },
                HiveError::Orc(detail) => HiveError::Orc(format!("{path}: {detail}")),
                other => other,
            })?;
        Ok(Some(batches))
    }

    /// Makes sure partition `dt` of `table` is in the metastore now (adds it when missing;
    /// idempotent), rather than in the background as a commit does: for a reader that must
    /// not expose rows Hive SQL cannot see yet.
    ///
    /// # Errors
    /// Metastore errors (the metastore down: [`HiveError::is_retryable`] tells).
    pub async fn ensure_partition(&self, table: Table, dt: PartitionDate) -> Result<(), HiveError> {
        self.shared.registrar.add_now(table.name(), dt).await?;
        Ok(())
    }

    /// Deletes file `file_name` of partition `dt` of `table`; `false` when there was none.
    /// For recovery: a committed file that must be written again differently.
    ///
    /// # Errors
    /// [`HiveError::Hdfs`].
    pub async fn delete_file(
        &self,
        table: Table,
        dt: PartitionDate,
        file_name: &str,
    ) -> Result<bool, HiveError> {
        let path = self.shared.layout(table).file_path(dt, file_name);
        self.shared.hdfs.delete(&path).await
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
