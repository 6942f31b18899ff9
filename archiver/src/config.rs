//! Command line: `wa-archiver [run]` (the service) and `wa-archiver replay`. Every flag has
//! an environment twin; defaults match the local stack, so a bare `wa-archiver` works
//! against it.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};
use kafka_properties::KafkaProperties;

use crate::buffer::Codec;

/// Kafka → HDFS raw archive, exactly once (and replay of the archive back to Kafka).
#[derive(Debug, Parser)]
#[command(
    name = "wa-archiver",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// What to do; the archiver service when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Service flags when no subcommand is given.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the archiver service (the default).
    Run(RunArgs),
    /// Re-publishes the archived records of a date range to a Kafka topic.
    Replay(ReplayArgs),
}

/// Settings shared by the service and replay.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Kafka bootstrap servers, `host:port[,host:port…]`.
    #[arg(long, env = "WA_KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    pub kafka_brokers: String,
    /// NameNode URL (`hdfs://host:port`, or a nameservice from `HADOOP_CONF_DIR`).
    #[arg(long, env = "WA_HDFS_URL", default_value = "hdfs://127.0.0.1:9000")]
    pub hdfs_url: String,
    /// Archive root directory on HDFS (absolute path).
    #[arg(long, env = "WA_ARCHIVE_ROOT", default_value = "/raw/web_analytics")]
    pub archive_root: String,
    /// librdkafka properties passed through as is, applied after ours (repeatable; e.g.
    /// `-X security.protocol=SASL_SSL`). Several in one value, here or in the environment, are
    /// separated by `;` (`debug=broker,topic;linger.ms=5`).
    #[arg(short = 'X', value_name = "KEY=VALUE[;…]", env = "WA_KAFKA_PROPERTIES")]
    pub kafka_properties: Vec<KafkaProperties>,
}

/// The archiver service.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Shared settings.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Topic to archive (all of its partitions).
    #[arg(long, env = "WA_TOPIC", default_value = "web_analytics")]
    pub topic: String,
    /// Consumer group id; offsets are committed to it for lag monitoring only (restarts
    /// resume from the archive, never from the group).
    #[arg(long, env = "WA_CONSUMER_GROUP", default_value = "wa-archiver")]
    pub consumer_group: String,
    /// A file is committed once it holds this many bytes (after compression). Files are
    /// buffered in memory until committed: memory ≈ this × open files.
    #[arg(long, env = "WA_ROLL_SIZE_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub roll_size_bytes: usize,
    /// A file is committed at most this long after its first record, even when no further
    /// record arrives.
    #[arg(long, env = "WA_ROLL_INTERVAL_SECS", default_value_t = 60.0)]
    pub roll_interval_secs: f64,
    /// File compression.
    #[arg(long, env = "WA_COMPRESSION", value_enum, default_value = "none")]
    pub compression: Codec,
    /// Hive Metastore Thrift URI.
    #[arg(
        long,
        env = "WA_METASTORE_URI",
        default_value = "thrift://127.0.0.1:9083"
    )]
    pub metastore_uri: String,
    /// Hive database of the archive table (must exist).
    #[arg(long, env = "WA_HIVE_DATABASE", default_value = "default")]
    pub hive_database: String,
    /// Hive table over the archive.
    #[arg(long, env = "WA_HIVE_TABLE", default_value = crate::catalog::DEFAULT_TABLE)]
    pub hive_table: String,
    /// Address of the Prometheus `/metrics` endpoint.
    #[arg(long, env = "WA_METRICS_ADDR", default_value = "0.0.0.0:9184")]
    pub metrics_addr: SocketAddr,
}

/// Replay: re-publish archived records, oldest date first, to a topic.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// Shared settings.
    #[command(flatten)]
    pub common: CommonArgs,
    /// First archive date to replay, `YYYY-MM-DD` (UTC date of ingestion), inclusive.
    #[arg(long, env = "WA_REPLAY_FROM")]
    pub from: chrono::NaiveDate,
    /// Last archive date to replay, `YYYY-MM-DD` (UTC date of ingestion), inclusive.
    #[arg(long, env = "WA_REPLAY_TO")]
    pub to: chrono::NaiveDate,
    /// Topic to publish to.
    #[arg(long, env = "WA_REPLAY_TOPIC")]
    pub topic: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_command_runs_the_service_with_local_defaults() {
        let cli = Cli::try_parse_from(["wa-archiver"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.run.topic, "web_analytics");
        assert_eq!(cli.run.common.archive_root, "/raw/web_analytics");
        assert_eq!(cli.run.roll_interval_secs, 60.0);
        assert_eq!(cli.run.compression, Codec::None);
    }

    #[test]
    fn properties_and_replay() {
        let cli = Cli::try_parse_from([
            "wa-archiver",
            "-X",
            "security.protocol=SASL_SSL",
            "-X",
            "sasl.mechanism=PLAIN",
            "--compression",
            "gzip",
        ])
        .unwrap();
        let pairs: Vec<_> = cli
            .run
            .common
            .kafka_properties
            .iter()
            .flat_map(KafkaProperties::pairs)
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanism", "PLAIN")
            ]
        );
        assert!(Cli::try_parse_from(["wa-archiver", "-X", "novalue"]).is_err());
        let cli = Cli::try_parse_from([
            "wa-archiver",
            "replay",
            "--from",
            "2026-11-29",
            "--to",
            "2026-11-30",
            "--topic",
            "t",
        ])
        .unwrap();
        assert!(
            matches!(cli.command, Some(Command::Replay(ReplayArgs { ref topic, .. })) if topic == "t")
        );
    }
}
