//! The Hive table over the archive: `raw_web_events_json` (external, text, partitioned by
//! `date`; defined in `hive/ddl/`, see [`hive::archive`]), created if missing, with a partition
//! added as soon as a date's first file is committed — never through `MSCK REPAIR`.
//!
//! Both go through `hive`'s [`PartitionRegistrar`], the partition commit every program uses:
//! it creates the table, adds each date's partition, retries in the background with backoff
//! while the metastore is away, and on start reconciles the archive's `date=` directories with
//! the metastore, so a date whose files were committed before a crash is registered too. The
//! archive never waits for the metastore: [`Catalog::committed`] hands the date to a task.

use std::time::Duration;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use hive::hdfs::Hdfs;
use hive::metastore::MetastoreClient;
use hive::registrar::{PartitionRegistrar, RegisteredTable, RegistrarOptions};
use hive::PartitionDate;

/// Default table name.
pub const DEFAULT_TABLE: &str = hive::archive::DEFAULT_TABLE;

/// Where the table lives and how to reach the metastore.
#[derive(Debug, Clone)]
pub struct CatalogConfig {
    /// Metastore Thrift URI, `thrift://host:port`.
    pub metastore_uri: String,
    /// Hive database (must exist).
    pub database: String,
    /// Table name.
    pub table: String,
    /// The archive root as a full URL (`hdfs://host:port/raw/web_analytics`).
    pub location: String,
}

/// One metastore call may take at most this long; a hung metastore is retried later.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// The archive's table in the metastore.
#[derive(Debug, Clone)]
pub struct Catalog {
    registrar: PartitionRegistrar,
    table: String,
}

impl Catalog {
    /// Connects the metastore client (no call is made yet) and starts the registrar's
    /// background task, which creates the table and registers the dates already archived.
    /// Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// When the URI is not `thrift://host:port` or the host does not resolve.
    pub async fn start(hdfs: Hdfs, config: &CatalogConfig) -> Result<Self> {
        let metastore = MetastoreClient::connect(&config.metastore_uri, CALL_TIMEOUT)
            .await
            .with_context(|| format!("metastore {}", config.metastore_uri))?;
        let def = hive::archive::archive_table(&config.table);
        let location = hive::archive::archive_location(&def, &config.location);
        let defaults = hive::HiveConfig::default();
        let registrar = PartitionRegistrar::new(
            metastore,
            hdfs,
            &config.database,
            vec![RegisteredTable { def, location }],
            RegistrarOptions {
                retry_initial: defaults.retry_initial,
                retry_max: defaults.retry_max,
                create_tables: true,
            },
        );
        registrar.start();
        let table = registrar.tables()[0].def.name.clone();
        Ok(Catalog { registrar, table })
    }

    /// A file of `date` was committed: its partition is added in the background.
    pub fn committed(&self, date: NaiveDate) {
        let (registrar, table) = (self.registrar.clone(), self.table.clone());
        tokio::spawn(async move {
            registrar.committed(&table, PartitionDate::new(date)).await;
        });
    }

    /// Dates committed but not yet in the metastore, as `table/date=YYYY-MM-DD`.
    pub fn pending(&self) -> Vec<String> {
        self.registrar.pending()
    }
}
