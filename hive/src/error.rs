//! The crate's error type.

use std::time::Duration;

use crate::ddl::DdlError;

/// Everything that can go wrong in the Hive layer. [`HiveError::is_retryable`] tells whether
/// trying the same call again later can help (an unreachable service) or not (bad input,
/// a table that differs from its DDL).
#[derive(Debug, thiserror::Error)]
pub enum HiveError {
    /// The caller passed something unusable (a bad file name, a date, no rows …).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A configuration value is unusable (e.g. a metastore URI that is not `thrift://host:port`).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A record batch does not have the table's columns.
    #[error("record batch does not fit table {table}: {detail}")]
    SchemaMismatch {
        /// Table name.
        table: String,
        /// The first difference.
        detail: String,
    },
    /// A table definition could not be parsed or rendered.
    #[error(transparent)]
    Ddl(#[from] DdlError),
    /// orc-rust could not encode the batches.
    #[error("ORC encoding failed: {0}")]
    Orc(String),
    /// An HDFS operation failed.
    #[error("HDFS {op} {path}: {source}")]
    Hdfs {
        /// What we tried: `create`, `write`, `rename`, `mkdirs`, `list`, …
        op: &'static str,
        /// The path it was about.
        path: String,
        /// hdfs-native's error.
        #[source]
        source: hdfs_native::HdfsError,
    },
    /// The metastore could not be reached or did not answer (transport error); retryable.
    #[error("metastore {op}: {detail}")]
    MetastoreUnavailable {
        /// The Thrift call, e.g. `add_partition`.
        op: &'static str,
        /// The transport error.
        detail: String,
    },
    /// The metastore did not answer within the configured timeout; retryable.
    #[error("metastore {op}: no answer within {after:?}")]
    MetastoreTimeout {
        /// The Thrift call.
        op: &'static str,
        /// The timeout.
        after: Duration,
    },
    /// The metastore answered with an exception (e.g. `MetaException`, `InvalidObjectException`).
    #[error("metastore {op} refused: {detail}")]
    MetastoreRefused {
        /// The Thrift call.
        op: &'static str,
        /// The exception as the metastore sent it.
        detail: String,
    },
    /// A table exists in the metastore but differs from its DDL (columns, partition keys or
    /// location); `init` does not alter tables.
    #[error("table {table} exists but differs from hive/ddl: {detail}")]
    TableDrift {
        /// `database.table`.
        table: String,
        /// What differs.
        detail: String,
    },
    /// Partitions still not in the metastore when [`crate::HiveTables::flush`] gave up.
    #[error("{} partition(s) not yet added to the metastore: {}", .0.len(), .0.join(", "))]
    PartitionsPending(Vec<String>),
}

impl HiveError {
    /// True when the same call may succeed later without any change (the metastore or HDFS was
    /// unreachable or slow); false for errors in the input, the configuration or the tables.
    pub fn is_retryable(&self) -> bool {
        match self {
            HiveError::MetastoreUnavailable { .. }
            | HiveError::MetastoreTimeout { .. }
            | HiveError::PartitionsPending(_) => true,
            HiveError::Hdfs { source, .. } => matches!(
                source,
                hdfs_native::HdfsError::IOError(_)
                    | hdfs_native::HdfsError::DataTransferError(_)
                    | hdfs_native::HdfsError::ChecksumError
                    | hdfs_native::HdfsError::BlocksNotFound(_)
                    | hdfs_native::HdfsError::OperationFailed(_)
            ),
            _ => false,
        }
    }

    pub(crate) fn hdfs(
        op: &'static str,
        path: &str,
    ) -> impl FnOnce(hdfs_native::HdfsError) -> Self {
        let path = path.to_string();
        move |source| HiveError::Hdfs { op, path, source }
    }
}
