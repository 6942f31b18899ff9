//! The Hive layer: how our results become Hive tables (`hive/README.md`).
//!
//! - [`ddl`]: the table definitions in `hive/ddl/*.sql`, the one source of truth, parsed.
//! - [`Table`]: our six tables, each with its parsed DDL and its Arrow schema.
//! - [`schema`]: Hive → Arrow → ORC type mapping (timestamps: UTC wall-clock, milliseconds).
//! - [`orc`]: record batches → one ORC file (orc-rust).
//! - [`layout`]: partition directories (`dt=YYYY-MM-DD`), file names, temporary files.
//! - [`hdfs`]: the process's one HDFS client and the one atomic file write (temporary file,
//!   close, rename, whole-file retry, block size fitted to the file) every program uses.
//! - [`metastore`]: the metastore client (database, tables, partitions), idempotent, with
//!   calls that every Hive Metastore in use answers (2.3, 3.1, 4.0.x).
//! - [`archive`]: the raw archive's text table `raw_web_events_json`, for `wa-archiver`.
//! - [`HiveTables`]: atomic file commit to HDFS (a failed write is written again whole, see
//!   [`retry`]), partition commit to the metastore (retried in the background while it is
//!   down, see [`registrar`], which `wa-archiver` uses for its table too), `_SUCCESS`
//!   markers, `repair`.
//!
//! ```no_run
//! # async fn demo(batch: arrow::record_batch::RecordBatch) -> Result<(), hive::HiveError> {
//! use hive::{HiveConfig, HiveTables, PartitionDate, Table};
//! let tables = HiveTables::connect(HiveConfig::default()).await?;
//! tables.init().await?; // database + tables, idempotent
//! let dt = PartitionDate::from_epoch_ms(1_796_040_000_000)?; // 2026-11-30
//! // `batch` has the columns of Table::PageAnalytics.arrow_schema().
//! tables.commit_file(Table::PageAnalytics, dt, "part-0-000000000042.orc", &[batch]).await?;
//! tables.mark_day_complete(Table::PageAnalytics, dt).await?; // when the watermark passes the day
//! tables.flush(std::time::Duration::from_secs(30)).await?; // before a clean shutdown
//! # Ok(()) }
//! ```

pub mod archive;
pub mod config;
pub mod ddl;
mod error;
pub mod hdfs;
pub mod layout;
pub mod metastore;
pub mod orc;
pub mod registrar;
pub mod retry;
pub mod schema;
mod tables;
mod warehouse;

pub use config::{Compression, HiveConfig};
pub use error::HiveError;
pub use hdfs::Hdfs;
pub use layout::PartitionDate;
pub use retry::WriteRetry;
pub use tables::Table;
pub use warehouse::{CommittedFile, HiveTables, RepairedPartition};
