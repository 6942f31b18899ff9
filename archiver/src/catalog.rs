//! The Hive table over the archive: `raw_web_events_json` (external, text, partitioned by
//! `date`), created if missing, with a partition added as soon as a date's first file is
//! committed — never through `MSCK REPAIR`.
//!
//! Registration runs in its own task fed by a channel, so the metastore can never stall the
//! archive: while it is unreachable, dates wait in a pending set and are retried every
//! `retry_interval`. Both steps are idempotent (an existing table or partition is success),
//! so after a restart every date found in the archive is simply offered again.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use chrono::NaiveDate;
use hive_metastore::{
    FieldSchema, Partition, SerDeInfo, StorageDescriptor, Table,
    ThriftHiveMetastoreAddPartitionException, ThriftHiveMetastoreClient,
    ThriftHiveMetastoreClientBuilder, ThriftHiveMetastoreCreateTableException,
    ThriftHiveMetastoreGetTableException,
};
use pilota::{AHashMap, FastStr};
use tokio::sync::mpsc;
use tracing::{info, warn};
use volo_thrift::codec::default::DefaultMakeCodec;
use volo_thrift::MaybeException;

use crate::naming::date_dir;

/// Default table name.
pub const DEFAULT_TABLE: &str = "raw_web_events_json";

/// The table comment, which is also the user documentation of the line encoding.
pub const TABLE_COMMENT: &str = "Raw archive of every Kafka record of the web_analytics topic, \
    one record value per line, date = UTC date of the Kafka record timestamp. A line is the \
    value itself when it is valid UTF-8 without control characters (tab allowed) and does not \
    start with '~'; otherwise '~b64:' followed by the base64 of the exact bytes, or '~null' for \
    a record without a value. Written by wa-archiver.";

/// Where the table lives and how to reach the metastore.
#[derive(Debug, Clone)]
pub struct CatalogConfig {
    /// Metastore Thrift address.
    pub metastore: SocketAddr,
    /// Hive database (must exist).
    pub database: String,
    /// Table name.
    pub table: String,
    /// The archive root as a full URL (`hdfs://host:port/raw/web_analytics`).
    pub location: String,
    /// Pause between attempts while the metastore fails.
    pub retry_interval: Duration,
}

/// Resolves `thrift://host:port` (or `host:port`) to a socket address.
///
/// # Errors
/// When the URI has no port or the host does not resolve.
pub async fn resolve_metastore(uri: &str) -> Result<SocketAddr> {
    let hostport = uri
        .strip_prefix("thrift://")
        .unwrap_or(uri)
        .trim_end_matches('/');
    tokio::net::lookup_host(hostport)
        .await
        .with_context(|| format!("resolving metastore {uri}"))?
        .next()
        .ok_or_else(|| anyhow!("metastore {uri} resolves to no address"))
}

/// Starts the registration task; send each date whose first file was committed.
pub fn spawn(config: CatalogConfig) -> mpsc::UnboundedSender<NaiveDate> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run(config, rx));
    tx
}

async fn run(config: CatalogConfig, mut rx: mpsc::UnboundedReceiver<NaiveDate>) {
    let client = ThriftHiveMetastoreClientBuilder::new("hive-metastore")
        .address(config.metastore)
        // The metastore speaks buffered (unframed) Thrift by default.
        .make_codec(DefaultMakeCodec::buffered())
        .build();
    let catalog = Catalog { client, config };
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
    client: ThriftHiveMetastoreClient,
    config: CatalogConfig,
}

/// One metastore call may take at most this long; a hung metastore is retried later.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

impl Catalog {
    fn storage(&self, location: String) -> StorageDescriptor {
        let mut serde_params = AHashMap::default();
        serde_params.insert(FastStr::new("serialization.format"), FastStr::new("1"));
        StorageDescriptor {
            cols: Some(vec![FieldSchema {
                name: Some("line".into()),
                r#type: Some("string".into()),
                comment: Some(
                    "one record value: verbatim, or ~b64:<base64 of the bytes>, or ~null".into(),
                ),
            }]),
            location: Some(FastStr::new(location)),
            input_format: Some("org.apache.hadoop.mapred.TextInputFormat".into()),
            output_format: Some(
                "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat".into(),
            ),
            serde_info: Some(SerDeInfo {
                serialization_lib: Some(
                    "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe".into(),
                ),
                parameters: Some(serde_params),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    async fn ensure_table(&self) -> Result<()> {
        let db = FastStr::new(&self.config.database);
        let name = FastStr::new(&self.config.table);
        let found = tokio::time::timeout(
            CALL_TIMEOUT,
            self.client.get_table(db.clone(), name.clone()),
        )
        .await
        .context("get_table timed out")?
        .context("get_table")?;
        match found {
            MaybeException::Ok(_) => return Ok(()),
            MaybeException::Exception(ThriftHiveMetastoreGetTableException::O2(_)) => {}
            MaybeException::Exception(e) => bail!("get_table refused: {e:?}"),
        }
        let mut params = AHashMap::default();
        params.insert(FastStr::new("EXTERNAL"), FastStr::new("TRUE"));
        params.insert(FastStr::new("comment"), FastStr::new(TABLE_COMMENT));
        let table = Table {
            db_name: Some(db),
            table_name: Some(name),
            owner: Some("wa-archiver".into()),
            table_type: Some("EXTERNAL_TABLE".into()),
            parameters: Some(params),
            partition_keys: Some(vec![FieldSchema {
                name: Some("date".into()),
                r#type: Some("string".into()),
                comment: Some("UTC date of the Kafka record timestamp, YYYY-MM-DD".into()),
            }]),
            sd: Some(self.storage(self.config.location.clone())),
            ..Default::default()
        };
        let created = tokio::time::timeout(CALL_TIMEOUT, self.client.create_table(table))
            .await
            .context("create_table timed out")?
            .context("create_table")?;
        match created {
            MaybeException::Ok(()) => {
                info!(database = %self.config.database, table = %self.config.table, "created Hive table");
                Ok(())
            }
            MaybeException::Exception(ThriftHiveMetastoreCreateTableException::O1(_)) => Ok(()),
            MaybeException::Exception(e) => bail!("create_table refused: {e:?}"),
        }
    }

    async fn add_partition(&self, date: NaiveDate) -> Result<()> {
        let dir = date_dir(date);
        let partition = Partition {
            db_name: Some(FastStr::new(&self.config.database)),
            table_name: Some(FastStr::new(&self.config.table)),
            values: Some(vec![FastStr::new(date.format("%Y-%m-%d").to_string())]),
            sd: Some(self.storage(format!("{}/{dir}", self.config.location))),
            ..Default::default()
        };
        let added = tokio::time::timeout(CALL_TIMEOUT, self.client.add_partition(partition))
            .await
            .context("add_partition timed out")?
            .context("add_partition")?;
        match added {
            MaybeException::Ok(_) => {
                info!(%date, table = %self.config.table, "added Hive partition");
                Ok(())
            }
            MaybeException::Exception(ThriftHiveMetastoreAddPartitionException::O2(_)) => Ok(()),
            MaybeException::Exception(e) => bail!("add_partition refused: {e:?}"),
        }
    }
}
