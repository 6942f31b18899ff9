//! Where the tables live and how files are written. Defaults match the local stack
//! (`tests/stack/stack`), so a bare `wa-hive init` works against it.

use std::time::Duration;

use crate::ddl::{database_location, validate_database};
use crate::retry::WriteRetry;
use crate::HiveError;

/// Default metastore: the local stack's, `thrift://127.0.0.1:9083`.
pub const DEFAULT_METASTORE_URI: &str = "thrift://127.0.0.1:9083";
/// Default NameNode: the local stack's, `hdfs://127.0.0.1:9000`.
pub const DEFAULT_HDFS_URL: &str = "hdfs://127.0.0.1:9000";
/// Default warehouse: Hive's default `hive.metastore.warehouse.dir`, on the default NameNode.
pub const DEFAULT_WAREHOUSE: &str = "hdfs://127.0.0.1:9000/user/hive/warehouse";
/// Default database: `default`, so the seed's sample queries run as written (`hive/README.md`).
pub const DEFAULT_DATABASE: &str = "default";
/// Default time one metastore call may take before it counts as failed: 10 s.
pub const DEFAULT_METASTORE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default first wait before retrying the metastore after a failure: 500 ms.
pub const DEFAULT_RETRY_INITIAL: Duration = Duration::from_millis(500);
/// Default longest wait between metastore retries (the wait doubles up to it): 30 s.
pub const DEFAULT_RETRY_MAX: Duration = Duration::from_secs(30);

/// ORC compression codec; both are read by every Hive, Spark and ORC C++ reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Compression {
    /// ZLIB (deflate): Hive's default `orc.compress`; smaller files.
    #[default]
    Zlib,
    /// SNAPPY: faster, larger files.
    Snappy,
    /// No compression (for debugging).
    None,
}

impl Compression {
    pub(crate) fn to_orc(self) -> Option<orc_rust::compression::CompressionType> {
        use orc_rust::compression::CompressionType;
        match self {
            Compression::Zlib => Some(CompressionType::Zlib),
            Compression::Snappy => Some(CompressionType::Snappy),
            Compression::None => None,
        }
    }
}

/// Configuration of [`crate::HiveTables`].
#[derive(Debug, Clone)]
pub struct HiveConfig {
    /// Metastore Thrift address, `thrift://host:port`.
    pub metastore_uri: String,
    /// NameNode URL, `hdfs://host:port` (hdfs-native also honours `HADOOP_CONF_DIR`).
    pub hdfs_url: String,
    /// Warehouse directory: an `hdfs://` URL, or a path on `hdfs_url`. Tables of database
    /// `default` live in it, tables of database `x` in `<warehouse>/x.db` (Hive's rule).
    pub warehouse: String,
    /// Hive database of our tables (`[a-z0-9_]+`).
    pub database: String,
    /// ORC compression codec of the files we write.
    pub compression: Compression,
    /// Longest time one metastore call may take before it counts as failed.
    pub metastore_timeout: Duration,
    /// First wait before retrying the metastore after a failure.
    pub retry_initial: Duration,
    /// Longest wait between metastore retries.
    pub retry_max: Duration,
    /// How a file commit writes the file again after an HDFS failure (a DataNode down, …)
    /// before it returns the error; see [`crate::retry`].
    pub write_retry: WriteRetry,
}

impl Default for HiveConfig {
    fn default() -> Self {
        HiveConfig {
            metastore_uri: DEFAULT_METASTORE_URI.into(),
            hdfs_url: DEFAULT_HDFS_URL.into(),
            warehouse: DEFAULT_WAREHOUSE.into(),
            database: DEFAULT_DATABASE.into(),
            compression: Compression::default(),
            metastore_timeout: DEFAULT_METASTORE_TIMEOUT,
            retry_initial: DEFAULT_RETRY_INITIAL,
            retry_max: DEFAULT_RETRY_MAX,
            write_retry: WriteRetry::default(),
        }
    }
}

impl HiveConfig {
    /// The warehouse as a full URL (a bare path is put on `hdfs_url`).
    pub fn warehouse_url(&self) -> String {
        if self.warehouse.starts_with('/') {
            format!("{}{}", self.hdfs_url.trim_end_matches('/'), self.warehouse)
        } else {
            self.warehouse.clone()
        }
    }

    /// The database directory (full URL): see [`HiveConfig::warehouse`].
    pub fn database_location(&self) -> String {
        database_location(&self.warehouse_url(), &self.database)
    }

    /// Checks the values that can be checked without a service.
    ///
    /// # Errors
    /// [`HiveError::Config`] or [`HiveError::Ddl`] naming the bad value.
    pub fn validate(&self) -> Result<(), HiveError> {
        validate_database(&self.database)?;
        if !self.metastore_uri.starts_with("thrift://") {
            return Err(HiveError::Config(format!(
                "metastore URI {:?} must look like thrift://host:port",
                self.metastore_uri
            )));
        }
        if self.retry_initial.is_zero() || self.retry_max < self.retry_initial {
            return Err(HiveError::Config(
                "retry waits must be > 0 with max ≥ initial".into(),
            ));
        }
        let w = &self.write_retry;
        if w.attempts == 0 || w.max < w.initial {
            return Err(HiveError::Config(
                "file writes need at least 1 attempt, with max wait ≥ initial wait".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_follow_hive_rules() {
        let mut c = HiveConfig::default();
        assert_eq!(
            c.database_location(),
            "hdfs://127.0.0.1:9000/user/hive/warehouse"
        );
        c.database = "wa".into();
        c.warehouse = "/tmp/wh/".into();
        assert_eq!(c.database_location(), "hdfs://127.0.0.1:9000/tmp/wh/wa.db");
        assert!(c.validate().is_ok());
        c.metastore_uri = "127.0.0.1:9083".into();
        assert!(c.validate().is_err());
        let c = HiveConfig {
            write_retry: WriteRetry {
                attempts: 0,
                ..WriteRetry::default()
            },
            ..HiveConfig::default()
        };
        assert!(c.validate().is_err());
    }
}
