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
            HiveError::Hdfs { source, .. } => match source {
                hdfs_native::HdfsError::IOError(_)
                | hdfs_native::HdfsError::DataTransferError(_)
                | hdfs_native::HdfsError::ChecksumError
                | hdfs_native::HdfsError::BlocksNotFound(_)
                | hdfs_native::HdfsError::OperationFailed(_) => true,
                hdfs_native::HdfsError::RPCError(class, message) => {
                    transient_namenode_error(class, message)
                }
                _ => false,
            },
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

/// Whether a NameNode exception (Java class name, message) goes away by itself: the NameNode
/// is busy, starting, failing over or recovering a lease, or has no live DataNode to place a
/// block on right now (`could only be written to 0 of the 1 minReplication nodes`).
fn transient_namenode_error(class: &str, message: &str) -> bool {
    const TRANSIENT: [&str; 6] = [
        "org.apache.hadoop.ipc.RetriableException",
        "org.apache.hadoop.ipc.StandbyException",
        "org.apache.hadoop.hdfs.server.namenode.SafeModeException",
        "org.apache.hadoop.hdfs.server.namenode.NotReplicatedYetException",
        "org.apache.hadoop.hdfs.protocol.RecoveryInProgressException",
        "org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException",
    ];
    TRANSIENT.contains(&class)
        || (class == "java.io.IOException" && message.contains("minReplication"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdfs_native::HdfsError;

    fn hdfs(source: HdfsError) -> HiveError {
        HiveError::hdfs("create", "/t/_tmp/x")(source)
    }

    #[test]
    fn unreachable_or_busy_hdfs_is_retryable_a_refusal_is_not() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(hdfs(HdfsError::IOError(refused)).is_retryable());
        assert!(hdfs(HdfsError::DataTransferError("ack".into())).is_retryable());
        assert!(hdfs(HdfsError::RPCError(
            "org.apache.hadoop.hdfs.server.namenode.SafeModeException".into(),
            "Name node is in safe mode".into()
        ))
        .is_retryable());
        assert!(hdfs(HdfsError::RPCError(
            "java.io.IOException".into(),
            "File /x could only be written to 0 of the 1 minReplication nodes.".into()
        ))
        .is_retryable());
        assert!(!hdfs(HdfsError::RPCError(
            "org.apache.hadoop.security.AccessControlException".into(),
            "Permission denied".into()
        ))
        .is_retryable());
        assert!(!hdfs(HdfsError::RPCError(
            "java.io.IOException".into(),
            "other".into()
        ))
        .is_retryable());
        assert!(!hdfs(HdfsError::InvalidPath("x".into())).is_retryable());
        assert!(!HiveError::InvalidInput("no rows".into()).is_retryable());
    }
}
