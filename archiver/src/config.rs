//! Command line: `wa-archiver [run]` (the service) and `wa-archiver replay`. Every flag has
//! an environment twin; defaults match the local stack (the Hive ones are `hive::config`'s,
//! shared with `wa-dataflow` and `wa-hive`), so a bare `wa-archiver` works against it.
//! Durations are read by [`wa_cli::duration`], as in every program. Parse with
//! [`wa_cli::renamed::parse`] and [`RENAMED`], so the settings' old names are still read.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};
use hive::config::{DEFAULT_DATABASE, DEFAULT_HDFS_URL, DEFAULT_METASTORE_URI};
use kafka_properties::KafkaProperties;
use wa_cli::renamed::{OldValue, Renamed};

use crate::buffer::Codec;

/// The archiver's renamed settings, still read under their old names with a warning
/// ([`wa_cli::renamed`]): `--hive-database` / `WA_HIVE_DATABASE` (now `--database` /
/// `WA_DATABASE`, as in `wa-dataflow` and `wa-hive`) and `--roll-interval-secs` /
/// `WA_ROLL_INTERVAL_SECS` (now `--roll-interval` / `WA_ROLL_INTERVAL`, a duration, as in
/// `wa-dataflow`; an old number of seconds reads the same).
pub const RENAMED: &[Renamed] = &[
    Renamed {
        id: "hive_database",
        old_flag: Some("hive-database"),
        old_env: Some("WA_HIVE_DATABASE"),
        old_value: OldValue::Same,
    },
    Renamed {
        id: "roll_interval_secs",
        old_flag: Some("roll-interval-secs"),
        old_env: Some("WA_ROLL_INTERVAL_SECS"),
        old_value: OldValue::Same,
    },
];

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
    #[arg(long, env = "WA_HDFS_URL", default_value = DEFAULT_HDFS_URL)]
    pub hdfs_url: String,
    /// Archive root directory on HDFS (absolute path).
    #[arg(long, env = "WA_ARCHIVE_ROOT", default_value = "/raw/web_analytics")]
    pub archive_root: String,
    /// librdkafka properties passed through as is, applied after ours (repeatable; e.g.
    /// `-X security.protocol=SASL_SSL`). Several in one value, here or in the environment, are
    /// separated by `;` (`debug=broker,topic;linger.ms=5`); `\;` is a `;` inside a value and
    /// `\\` a `\`. Give secrets in the environment: a command line is visible to every user.
    /// `-X` replaces the environment variable, it does not add to it.
    #[arg(
        short = 'X',
        value_name = "KEY=VALUE[;…]",
        env = "WA_KAFKA_PROPERTIES",
        hide_env_values = true
    )]
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
    /// A file is committed once it holds this many bytes (after compression), more than 0.
    /// Files are buffered in memory until committed: memory ≈ this × open files.
    #[arg(
        long,
        env = "WA_ROLL_SIZE_BYTES",
        default_value_t = 64 * 1024 * 1024,
        value_parser = positive_bytes
    )]
    pub roll_size_bytes: usize,
    /// A file is committed at most this long after its first record, even when no further
    /// record arrives: a duration (`90s`, `1m`, `500ms`; a bare number is seconds: `60`,
    /// `0.5`), more than 0. Was `--roll-interval-secs` / `WA_ROLL_INTERVAL_SECS` (deprecated,
    /// still read).
    // Held in seconds, under the name the service reads.
    #[arg(
        long = "roll-interval",
        env = "WA_ROLL_INTERVAL",
        value_name = "ROLL_INTERVAL",
        default_value = "60s",
        value_parser = positive_secs
    )]
    pub roll_interval_secs: f64,
    /// File compression.
    #[arg(long, env = "WA_COMPRESSION", value_enum, default_value = "none")]
    pub compression: Codec,
    /// Hive Metastore Thrift URI.
    #[arg(long, env = "WA_METASTORE_URI", default_value = DEFAULT_METASTORE_URI)]
    pub metastore_uri: String,
    /// Hive database of the archive table (must exist). Was `--hive-database` /
    /// `WA_HIVE_DATABASE` (deprecated, still read).
    #[arg(
        long = "database",
        env = "WA_DATABASE",
        value_name = "DATABASE",
        default_value = DEFAULT_DATABASE
    )]
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

/// A duration ([`wa_cli::duration`]) in seconds, refused unless more than 0.
fn positive_secs(s: &str) -> Result<f64, String> {
    let duration = wa_cli::parse_duration(s).map_err(|e| e.to_string())?;
    if duration.is_zero() {
        return Err(format!("{s:?} is no time: it must be more than 0"));
    }
    Ok(duration.as_secs_f64())
}

/// A number of bytes, refused unless more than 0.
fn positive_bytes(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("it must be more than 0".to_owned()),
        Ok(bytes) => Ok(bytes),
        Err(e) => Err(format!("expected a number of bytes: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use wa_cli::renamed::try_parse_from;

    use super::*;

    /// Parses `argv` as `main` does, with `env` as the renamed settings' environment.
    fn parse_renamed(argv: &[&str], env: &[(&str, &str)]) -> (RunArgs, Vec<String>) {
        let lookup = wa_cli::renamed::env_from(env);
        let argv = std::iter::once("wa-archiver").chain(argv.iter().copied());
        let (cli, deprecations) = try_parse_from::<Cli, _, _>(argv, RENAMED, lookup).unwrap();
        let args = match cli.command {
            Some(Command::Run(args)) => args,
            _ => cli.run,
        };
        let olds = deprecations.iter().map(|d| d.old().to_owned()).collect();
        (args, olds)
    }

    #[test]
    fn hive_defaults_are_the_hive_crates() {
        let cli = Cli::try_parse_from(["wa-archiver"]).unwrap();
        let hive = hive::HiveConfig::default();
        assert_eq!(cli.run.common.hdfs_url, hive.hdfs_url);
        assert_eq!(cli.run.metastore_uri, hive.metastore_uri);
        assert_eq!(cli.run.hive_database, hive.database);
    }

    #[test]
    fn the_roll_interval_is_a_duration() {
        for (value, secs) in [("60", 60.0), ("0.5", 0.5), ("90s", 90.0), ("1min", 60.0)] {
            let cli = Cli::try_parse_from(["wa-archiver", "--roll-interval", value]).unwrap();
            assert_eq!(cli.run.roll_interval_secs, secs, "{value}");
        }
        for bad in ["0", "0s", "soon", "-1"] {
            let e = Cli::try_parse_from(["wa-archiver", &format!("--roll-interval={bad}")])
                .unwrap_err();
            assert!(e.to_string().contains("--roll-interval"), "{bad}: {e}");
        }
        // The size too is checked here, where the message can name the flag.
        for bad in ["0", "lots"] {
            let e = Cli::try_parse_from(["wa-archiver", "--roll-size-bytes", bad]).unwrap_err();
            assert!(e.to_string().contains("--roll-size-bytes"), "{bad}: {e}");
        }
    }

    #[test]
    fn new_names_are_read_without_deprecations() {
        let (args, olds) = parse_renamed(&["--database", "wa", "--roll-interval", "2s"], &[]);
        assert_eq!(
            (args.hive_database.as_str(), args.roll_interval_secs),
            ("wa", 2.0)
        );
        assert!(olds.is_empty());
    }

    #[test]
    fn old_flags_are_still_read_with_a_deprecation() {
        for argv in [
            ["--hive-database", "wa", "--roll-interval-secs", "0.5"].as_slice(),
            ["run", "--hive-database=wa", "--roll-interval-secs=0.5"].as_slice(),
        ] {
            let (args, olds) = parse_renamed(argv, &[]);
            assert_eq!(args.hive_database, "wa", "{argv:?}");
            assert_eq!(args.roll_interval_secs, 0.5, "{argv:?}");
            assert_eq!(olds, ["--hive-database", "--roll-interval-secs"]);
        }
    }

    #[test]
    fn old_variables_are_read_when_the_new_ones_are_unset() {
        let env = [("WA_HIVE_DATABASE", "wa"), ("WA_ROLL_INTERVAL_SECS", "3")];
        for argv in [[].as_slice(), ["run"].as_slice()] {
            let (args, olds) = parse_renamed(argv, &env);
            assert_eq!(args.hive_database, "wa");
            assert_eq!(args.roll_interval_secs, 3.0);
            assert_eq!(olds, ["WA_HIVE_DATABASE", "WA_ROLL_INTERVAL_SECS"]);
        }
        // A flag wins over an old variable; so does the new variable (read by clap from the
        // process environment, so here only the decision not to apply the old one shows).
        let (args, _) = parse_renamed(&["--database", "flag"], &env);
        assert_eq!(args.hive_database, "flag");
        let (args, olds) =
            parse_renamed(&[], &[("WA_HIVE_DATABASE", "old"), ("WA_DATABASE", "new")]);
        assert_eq!(args.hive_database, DEFAULT_DATABASE);
        assert_eq!(olds, ["WA_HIVE_DATABASE"]);
    }

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
