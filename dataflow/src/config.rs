//! Command line of `wa-dataflow`: `run` (one process of the cluster, the default) and `launch`
//! (every process of `workers.toml` on this host). Every flag has an environment twin (for
//! Compose); defaults match the local stack, so a bare `wa-dataflow` works against it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use kafka_properties::KafkaProperties;
use wa_cli::parse_duration;

use crate::window::{WindowSpec, WindowSpecError};

/// Kafka → event-time windows → ORC in Hive, on a timely/differential cluster.
#[derive(Debug, Parser)]
#[command(
    name = "wa-dataflow",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// What to do; `run` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `run` flags when no subcommand is given.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs one process of the cluster (`--process I` of `--workers-file`), the default.
    Run(RunArgs),
    /// Starts every process of `--workers-file` on this host as child processes (development,
    /// tests, single-host deployments); when one fails it stops them all, then either exits
    /// with that failure or, with `--restart-on-failure`, starts the whole cluster again.
    Launch(LaunchArgs),
}

/// Where a partition without a checkpoint starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StartPosition {
    /// The oldest record Kafka still holds.
    Earliest,
    /// Only records produced after the start.
    Latest,
}

/// Settings of one dataflow process. Durations are read by [`wa_cli::duration`], as in every
/// program: `500ms`, `10s`, `1m`, `1min`, `1h30m`, or a bare number of seconds (`30`, `0.5`).
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The timely process list (`workers.toml`). Without it the cluster is this one process
    /// with `--workers` threads.
    #[arg(long, env = "WA_WORKERS_FILE")]
    pub workers_file: Option<PathBuf>,
    /// This process's index in `--workers-file` (0-based).
    #[arg(long, env = "WA_PROCESS", default_value_t = 0)]
    pub process: usize,
    /// Worker threads when there is no `--workers-file`.
    #[arg(long, env = "WA_WORKERS", default_value_t = crate::cluster::DEFAULT_WORKERS)]
    pub workers: usize,

    /// Kafka bootstrap servers, `host:port[,host:port…]`.
    #[arg(long, env = "WA_KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    pub kafka_brokers: String,
    /// Topic of the browser events.
    #[arg(long, env = "WA_TOPIC", default_value = "web_analytics")]
    pub topic: String,
    /// Consumer group the committed offsets are reported under (lag monitoring only: the
    /// dataflow resumes from its own checkpoint, never from these).
    #[arg(long, env = "WA_CONSUMER_GROUP", default_value = "wa-dataflow")]
    pub consumer_group: String,
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
    /// Where a partition without a checkpoint starts.
    #[arg(
        long,
        env = "WA_START_POSITION",
        value_enum,
        default_value = "earliest"
    )]
    pub start_position: StartPosition,

    /// NameNode URL (`hdfs://host:port`, or a nameservice from `HADOOP_CONF_DIR`).
    #[arg(long, env = "WA_HDFS_URL", default_value = hive::config::DEFAULT_HDFS_URL)]
    pub hdfs_url: String,
    /// Hive warehouse directory (an `hdfs://` URL or a path on `--hdfs-url`).
    #[arg(long, env = "WA_WAREHOUSE", default_value = hive::config::DEFAULT_WAREHOUSE)]
    pub warehouse: String,
    /// Hive Metastore Thrift address.
    #[arg(long, env = "WA_METASTORE_URI", default_value = hive::config::DEFAULT_METASTORE_URI)]
    pub metastore_uri: String,
    /// Hive database of the tables.
    #[arg(long, env = "WA_DATABASE", default_value = hive::config::DEFAULT_DATABASE)]
    pub database: String,
    /// Checkpoint directory on HDFS (path on `--hdfs-url`); one checkpoint per topic inside.
    #[arg(
        long,
        env = "WA_CHECKPOINT_DIR",
        default_value = "/checkpoints/wa-dataflow"
    )]
    pub checkpoint_dir: String,

    /// Window length.
    #[arg(long, env = "WA_WINDOW_SIZE", default_value = "1m", value_parser = parse_duration)]
    pub window_size: Duration,
    /// Window slide (hopping windows); equal to the size (tumbling) when omitted.
    #[arg(long, env = "WA_WINDOW_SLIDE", value_parser = parse_duration)]
    pub window_slide: Option<Duration>,
    /// How far behind the largest event time read from a partition an event may be and still
    /// count: the partition's watermark is that maximum minus this.
    #[arg(long, env = "WA_MAX_OUT_OF_ORDERNESS", default_value = "5s", value_parser = parse_duration)]
    pub max_out_of_orderness: Duration,
    /// How far an event's time may be ahead of its ingestion time (the Kafka record
    /// timestamp, set by whoever put the record on Kafka) before it is rejected as
    /// `event_time_in_future`. Such an event would raise its partition's watermark to a time
    /// that has not come yet and make every later event of the partition late.
    #[arg(long, env = "WA_MAX_FUTURE_SKEW", default_value = "5m", value_parser = parse_duration)]
    pub max_future_skew: Duration,
    /// How far back in event time a copy of an `event_id` is recognised as a duplicate (and
    /// kept out of every table); `0` turns deduplication off. Costs memory for the ids of this
    /// much event time per partition, and a restart re-reads up to this much of the topic to
    /// rebuild them.
    #[arg(long, env = "WA_DEDUP_HORIZON", default_value = "10m", value_parser = parse_duration)]
    pub dedup_horizon: Duration,
    /// How long a partition must be caught up with the end of its log before its watermark
    /// follows the wall clock (now − max-out-of-orderness). The default, 30 s, stays above
    /// librdkafka's longest reconnect backoff (`reconnect.backoff.max.ms`, 10 s), so events a
    /// producer queued through a broker restart still arrive before their partition goes idle.
    #[arg(long, env = "WA_IDLE_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// Longest time event rows (raw, late, rejected) stay buffered before they are committed
    /// and offsets checkpointed.
    #[arg(long, env = "WA_ROLL_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub roll_interval: Duration,
    /// Buffered event-row bytes (record values, per worker) that trigger a commit before the
    /// roll interval. Also the unit of the source's backpressure: a worker holds at most about
    /// three times this of event rows (`docs/dataflow-design.md`, Backpressure).
    #[arg(long, env = "WA_ROLL_SIZE_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub roll_size_bytes: usize,
    /// A session ends when its `session_id` has no on-time event for longer than this (GA4
    /// and most analytics tools use 30 minutes). Must be positive.
    #[arg(long, env = "WA_SESSION_GAP", default_value = "30m", value_parser = parse_duration)]
    pub session_gap: Duration,
    /// A session is cut at this length: the first event this long after its first event
    /// starts a new session. Must be positive. Open sessions are part of every checkpoint's
    /// state (`docs/visitors-and-sessions.md`).
    #[arg(long, env = "WA_MAX_SESSION_DURATION", default_value = "24h", value_parser = parse_duration)]
    pub max_session_duration: Duration,
    /// ORC compression codec.
    #[arg(long, env = "WA_COMPRESSION", value_enum, default_value = "zlib")]
    pub compression: CompressionArg,

    /// Prometheus `/metrics` listen address. Process `I` listens on this port + `I`.
    #[arg(long, env = "WA_METRICS_ADDR", default_value = "0.0.0.0:9185")]
    pub metrics_addr: SocketAddr,
    /// How often the one-line status is printed to stderr (0 = never).
    #[arg(long, env = "WA_STATUS_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub status_interval: Duration,
    /// Kafka topic of the results feed: every final row of `page_analytics`,
    /// `visitor_analytics` and `sessions`, published once a checkpoint covers it (process 0
    /// creates it when missing: 1 partition, compacted, 7 days). `<--topic>_results` when
    /// omitted.
    #[arg(long, env = "WA_RESULTS_TOPIC")]
    pub results_topic: Option<String>,
    /// Publish no results feed.
    #[arg(long, env = "WA_NO_RESULTS_FEED")]
    pub no_results_feed: bool,
    /// With `--stop-at-watermark`: how long the run waits for the results feed to publish
    /// through the last checkpoint before it ends anyway (the next run re-sends from where the
    /// feed stopped).
    #[arg(long, env = "WA_RESULTS_DRAIN_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub results_drain_timeout: Duration,
    /// Stop once every partition's watermark has passed this time (UTC, RFC 3339) and all
    /// windows before it are committed. For tests and backfills; runs forever when omitted.
    #[arg(long, env = "WA_STOP_AT_WATERMARK")]
    pub stop_at_watermark: Option<chrono::DateTime<chrono::Utc>>,
}

/// `launch` flags: every `run` flag (passed on to each process) and the supervisor's own.
#[derive(Debug, Clone, Args)]
pub struct LaunchArgs {
    /// The cluster's settings, passed to every process.
    #[command(flatten)]
    pub run: RunArgs,
    /// Supervise the cluster: when a process fails (exits non-zero or is killed), stop the
    /// others and start every process again after a backoff (`--restart-backoff`, doubling
    /// after each failure up to `--restart-backoff-max`; back to the first once the cluster
    /// has run for a minute). The checkpoint makes a restart exact. Without it, `launch`
    /// exits with the failure.
    #[arg(long, env = "WA_RESTART_ON_FAILURE")]
    pub restart_on_failure: bool,
    /// With `--restart-on-failure`: the first wait before a restart.
    #[arg(long, env = "WA_RESTART_BACKOFF", default_value = "1s", value_parser = parse_duration)]
    pub restart_backoff: Duration,
    /// With `--restart-on-failure`: the longest wait before a restart.
    #[arg(long, env = "WA_RESTART_BACKOFF_MAX", default_value = "30s", value_parser = parse_duration)]
    pub restart_backoff_max: Duration,
    /// With `--restart-on-failure`: give up (exit with the failure) after this many restarts;
    /// unlimited when omitted.
    #[arg(long, env = "WA_MAX_RESTARTS", requires = "restart_on_failure")]
    pub max_restarts: Option<u32>,
}

/// ORC codec choice on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompressionArg {
    /// ZLIB (Hive's default).
    Zlib,
    /// Snappy.
    Snappy,
    /// No compression.
    None,
}

impl From<CompressionArg> for hive::Compression {
    fn from(c: CompressionArg) -> Self {
        match c {
            CompressionArg::Zlib => hive::Compression::Zlib,
            CompressionArg::Snappy => hive::Compression::Snappy,
            CompressionArg::None => hive::Compression::None,
        }
    }
}

impl RunArgs {
    /// The window specification from `--window-size`/`--window-slide`.
    ///
    /// # Errors
    /// [`WindowSpecError`] when the size is not a positive multiple of the slide.
    pub fn window_spec(&self) -> Result<WindowSpec, WindowSpecError> {
        let size = self.window_size.as_millis() as i64;
        let slide = self.window_slide.map_or(size, |s| s.as_millis() as i64);
        WindowSpec::hopping(size, slide)
    }

    /// `--session-gap` and `--max-session-duration` in ms.
    ///
    /// # Errors
    /// When either is zero.
    pub fn session_rules(&self) -> Result<crate::sessions::SessionRules, String> {
        let gap_ms = self.session_gap.as_millis() as i64;
        let max_duration_ms = self.max_session_duration.as_millis() as i64;
        if gap_ms <= 0 || max_duration_ms <= 0 {
            return Err(format!(
                "--session-gap ({:?}) and --max-session-duration ({:?}) must be positive",
                self.session_gap, self.max_session_duration
            ));
        }
        Ok(crate::sessions::SessionRules {
            gap_ms,
            max_duration_ms,
        })
    }

    /// The results feed's topic: `--results-topic`, else `<--topic>_results`.
    pub fn results_topic(&self) -> String {
        self.results_topic
            .clone()
            .unwrap_or_else(|| format!("{}_results", self.topic))
    }

    /// The Hive layer's configuration from these flags.
    pub fn hive_config(&self) -> hive::HiveConfig {
        hive::HiveConfig {
            metastore_uri: self.metastore_uri.clone(),
            hdfs_url: self.hdfs_url.clone(),
            warehouse: self.warehouse.clone(),
            database: self.database.clone(),
            compression: self.compression.into(),
            ..hive::HiveConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_duration_flag_reads_the_shared_syntax() {
        let cli = Cli::try_parse_from([
            "wa-dataflow",
            "--roll-interval",
            "1min",
            "--idle-timeout",
            "1h30m",
            "--max-out-of-orderness",
            "0.5",
            "--window-size",
            "2m",
        ])
        .unwrap();
        assert_eq!(cli.run.roll_interval, Duration::from_secs(60));
        assert_eq!(cli.run.idle_timeout, Duration::from_secs(5400));
        assert_eq!(cli.run.max_out_of_orderness, Duration::from_millis(500));
        assert_eq!(cli.run.window_size, Duration::from_secs(120));
        let e = Cli::try_parse_from(["wa-dataflow", "--idle-timeout=-1s"]).unwrap_err();
        assert!(e.to_string().contains("cannot be negative"), "{e}");
    }

    #[test]
    fn defaults_parse() {
        let cli = Cli::try_parse_from(["wa-dataflow"]).unwrap();
        assert_eq!(cli.run.results_topic(), "web_analytics_results");
        assert!(!cli.run.no_results_feed);
        assert_eq!(cli.run.results_drain_timeout, Duration::from_secs(30));
        let spec = cli.run.window_spec().unwrap();
        assert_eq!((spec.size_ms(), spec.slide_ms()), (60_000, 60_000));
        let cli = Cli::try_parse_from([
            "wa-dataflow",
            "launch",
            "--window-size",
            "10m",
            "--window-slide",
            "5m",
        ])
        .unwrap();
        let Some(Command::Launch(args)) = cli.command else {
            panic!("launch expected")
        };
        let spec = args.run.window_spec().unwrap();
        assert_eq!((spec.size_ms(), spec.slide_ms()), (600_000, 300_000));
        assert!(!args.restart_on_failure);
        let cli = Cli::try_parse_from([
            "wa-dataflow",
            "launch",
            "--restart-on-failure",
            "--max-restarts",
            "3",
        ])
        .unwrap();
        let Some(Command::Launch(args)) = cli.command else {
            panic!("launch expected")
        };
        assert!(args.restart_on_failure);
        assert_eq!(args.max_restarts, Some(3));
        // A cap on restarts without restarting is a mistake, not a no-op.
        assert!(Cli::try_parse_from(["wa-dataflow", "launch", "--max-restarts", "3"]).is_err());
    }
}
