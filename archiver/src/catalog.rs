//! The Hive table over the archive: `raw_web_events_json` (external, text, partitioned by
//! `date`; defined in `hive/ddl/`, see [`hive::archive`]), created if missing, with a partition
//! added as soon as a date's first file is committed — never through `MSCK REPAIR`. The calls
//! go through `hive`'s metastore client, the one every program uses.
//!
//! Registration runs in its own task fed by a channel, so the metastore can never stall the
//! archive: while it is unreachable, dates wait in a pending set and are retried every
//! `retry_interval`. Both steps are idempotent (an existing table or partition is success),
//! so after a restart every date found in the archive is simply offered again.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use hive::ddl::TableDef;
use hive::metastore::{Created, MetastoreClient};
use hive::PartitionDate;
use tokio::sync::mpsc;
use tracing::{info, warn};

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
    /// Pause between attempts while the metastore fails.
    pub retry_interval: Duration,
}

/// One metastore call may take at most this long; a hung metastore is retried later.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// Connects the metastore client (no call is made yet).
///
/// # Errors
/// When the URI is not `thrift://host:port` or the host does not resolve.
pub async fn connect(uri: &str) -> Result<MetastoreClient> {
    MetastoreClient::connect(uri, CALL_TIMEOUT)
        .await
        .with_context(|| format!("metastore {uri}"))
}

/// Starts the registration task on `client`; send each date whose first file was committed.
pub fn spawn(client: MetastoreClient, config: CatalogConfig) -> mpsc::UnboundedSender<NaiveDate> {
    let (tx, rx) = mpsc::unbounded_channel();
    let def = hive::archive::archive_table(&config.table);
    tokio::spawn(run(
        Catalog {
            client,
            config,
            def,
        },
        rx,
    ));
    tx
}

async fn run(catalog: Catalog, mut rx: mpsc::UnboundedReceiver<NaiveDate>) {
    let mut table_ready = false;
    let mut pending = BTreeSet::new();
    let mut registered = BTreeSet::new();
    loop {
        if !table_ready {
            match catalog.ensure_table().await {
                Ok(()) => table_ready = true,
                Err(e) => {
                    metrics::counter!("wa_archiver_metastore_errors_total").increment(1);
                    warn!(error = %format!("{e:#}"), "creating the Hive table failed, will retry");
                }
            }
        }
        if table_ready {
            while let Some(&date) = pending.iter().next() {
                match catalog.add_partition(date).await {
                    Ok(()) => {
                        pending.remove(&date);
                        registered.insert(date);
                        metrics::counter!("wa_archiver_hive_partitions_registered_total")
                            .increment(1);
                    }
                    Err(e) => {
                        metrics::counter!("wa_archiver_metastore_errors_total").increment(1);
                        warn!(%date, error = %format!("{e:#}"), "adding the Hive partition failed, will retry");
                        break;
                    }
                }
            }
        }
        metrics::gauge!("wa_archiver_hive_partitions_pending").set(pending.len() as f64);
        let retry = !table_ready || !pending.is_empty();
        tokio::select! {
            date = rx.recv() => match date {
                Some(date) => {
                    if !registered.contains(&date) {
                        pending.insert(date);
                    }
                }
                None => return,
            },
            _ = tokio::time::sleep(catalog.config.retry_interval), if retry => {}
        }
    }
}

struct Catalog {
    client: MetastoreClient,
    config: CatalogConfig,
    def: TableDef,
}

impl Catalog {
    async fn ensure_table(&self) -> Result<()> {
        let location = hive::archive::archive_location(&self.def, &self.config.location);
        let created = self
            .client
            .ensure_table(&self.def, &self.config.database, &location)
            .await?;
        if created == Created::New {
            info!(database = %self.config.database, table = %self.config.table, "created Hive table");
        }
        Ok(())
    }

    async fn add_partition(&self, date: NaiveDate) -> Result<()> {
        let location = hive::archive::archive_location(&self.def, &self.config.location);
        let created = self
            .client
            .add_partition(
                &self.def,
                &self.config.database,
                &location,
                PartitionDate::new(date),
            )
            .await?;
        if created == Created::New {
            info!(%date, table = %self.config.table, "added Hive partition");
        }
        Ok(())
    }
}
