//! One process of the cluster: set-up, the dataflow every worker builds, and the worker loop.
//!
//! ```text
//!  KafkaSource ──counts──▶ count_total ─────────────────────▶ Sink(page_analytics) ────┐
//!      │ ──visits──▶ VisitorDistinct (by user) ▶ VisitorSum ───▶ Sink(visitor_analytics) ┤ committed
//!      │        └──▶ Sessions (exchanged by session_id) ────────▶ Sink(sessions) ──────────┤ frontier
//!      │  (rows committed by the source at each cut)                                       ▼
//!      └──────cut reports─────────────────────────────────────────────────────▶ Checkpoint ──▶ probe
//!                                                                                             │
//!      ▲──── the probe tells sources and Sessions what is checkpointed ───────────────────────┘
//! ```

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use differential_dataflow::collection::AsCollection;
use differential_dataflow::operators::CountTotal;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;
use timely::dataflow::operators::core::OkErr;
use timely::dataflow::operators::probe::Handle as ProbeHandle;
use timely::dataflow::operators::vec::Map;
use timely::dataflow::operators::{Concat, Probe};

use crate::checkpoint::CutReport;
use crate::checkpoint::{Checkpoint, CheckpointStore};
use crate::cluster::ClusterConfig;
use crate::config::RunArgs;
use crate::coordinator::{coordinator, CoordinatorSettings};
use crate::partition::WindowKey;
use crate::results::{page_files, session_files, visitor_files, PageRow};
use crate::session_store::SessionStore;
use crate::sessions::{sessions, SessionSettings};
use crate::sink::{file_sink, SinkSettings};
use crate::source::{kafka_source, SourceOutput, SourceSettings};
use crate::status::{format_ms, spawn_status_line, Status};
use crate::visit::Visit;
use crate::visitors::{visitor_counts, VisitorSettings};
use timely::dataflow::Stream;

/// The cluster this process belongs to: `--workers-file`, or one process of `--workers`.
///
/// # Errors
/// When the file cannot be read or is invalid.
pub fn cluster_of(args: &RunArgs) -> Result<ClusterConfig> {
    match &args.workers_file {
        Some(path) => Ok(ClusterConfig::load(path)?),
        None => {
            if args.workers == 0 {
                bail!("--workers must be at least 1");
            }
            Ok(ClusterConfig::single_process(args.workers))
        }
    }
}

/// librdkafka consumer settings from the flags (the pass-through properties win).
pub fn kafka_config(args: &RunArgs) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &args.kafka_brokers)
        .set("group.id", &args.consumer_group)
        // Offsets live in our checkpoint; the group only shows lag.
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        // Tells the source a partition is caught up (the idle policy needs it).
        .set("enable.partition.eof", "true")
        // A checkpointed offset that retention deleted: continue at the oldest (logged).
        .set("auto.offset.reset", "earliest")
        .set("statistics.interval.ms", "5000")
        .set("fetch.wait.max.ms", "100")
        .set("queued.max.messages.kbytes", "65536");
    kafka_properties::apply(&mut c, &args.kafka_properties);
    c
}

/// Partitions of `topic`, waiting up to `timeout` for it to exist. Kafka refusing our
/// credentials ends the wait at once with [`kafka_properties::AuthenticationFailed`]
/// (librdkafka would retry it for ever).
fn partition_count(config: &ClientConfig, topic: &str, timeout: Duration) -> Result<usize> {
    let brokers = config.get("bootstrap.servers").unwrap_or_default();
    let auth = kafka_properties::AuthWatch::new(brokers);
    let consumer: BaseConsumer<kafka_properties::AuthContext> = config
        .create_with_context(kafka_properties::AuthContext::new(auth.clone()))
        .context("creating a Kafka client")?;
    let deadline = std::time::Instant::now() + timeout;
    loop {
        // Short requests: one waits its whole timeout for a broker it can use.
        let last = match consumer.fetch_metadata(Some(topic), Duration::from_secs(2)) {
            Ok(md) => match md.topics().iter().find(|t| t.name() == topic) {
                Some(t) if t.error().is_none() && !t.partitions().is_empty() => {
                    return Ok(t.partitions().len())
                }
                Some(t) => format!("topic {topic:?} not available ({:?})", t.error()),
                None => format!("topic {topic:?} not found"),
            },
            Err(e) => format!("cannot reach Kafka: {e}"),
        };
        if std::time::Instant::now() >= deadline {
            auth.check()?;
            bail!("{last} (waited {timeout:?}); create the topic or check --kafka-brokers");
        }
        tracing::info!("{last}; waiting");
        // Waits 2 s serving the client's events (nothing is assigned: no records come, only
        // errors, logs and statistics), so that its context sees an authentication failure.
        let pause = std::time::Instant::now() + Duration::from_secs(2);
        loop {
            auth.check()?;
            let left = pause.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            consumer.poll(left);
        }
    }
}

/// Runs process `args.process` of the cluster until the dataflow completes (with
/// `--stop-at-watermark`) or forever.
///
/// # Errors
/// Bad settings, unreachable services at start-up, an unreadable checkpoint, or a worker that
/// failed.
pub fn run(args: RunArgs) -> Result<()> {
    let cluster = cluster_of(&args)?;
    let timely_config = cluster.timely_config(args.process)?;
    let window = args.window_spec()?;
    let session_rules = args.session_rules().map_err(anyhow::Error::msg)?;
    let process = args.process;

    let mut metrics_addr = args.metrics_addr;
    metrics_addr.set_port(metrics_addr.port().saturating_add(process as u16));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("wa-io")
        .build()
        .context("starting the tokio runtime")?;
    {
        let _guard = runtime.enter();
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_http_listener(metrics_addr)
            .install()
            .with_context(|| format!("starting the metrics listener on {metrics_addr}"))?;
    }

    let tables = runtime
        .block_on(hive::HiveTables::connect(args.hive_config()))
        .context("configuring the Hive tables")?;
    runtime
        .block_on(tables.init())
        .context("creating the Hive database and tables (is the metastore up?)")?;

    let kafka = kafka_config(&args);
    let partitions_total = partition_count(&kafka, &args.topic, Duration::from_secs(60))?;
    let store = CheckpointStore::new(
        tables.hdfs().clone(),
        tables.config().write_retry,
        &args.checkpoint_dir,
        &args.topic,
    );
    // Read before the cluster connects: no process can write a newer one until all have.
    let checkpoint: Option<Arc<Checkpoint>> = runtime
        .block_on(store.load())
        .context("reading the checkpoint")?
        .map(Arc::new);
    match &checkpoint {
        Some(c) => {
            tracing::info!(path = store.path(), frontier = %format_ms(c.frontier_ms), "resuming from checkpoint")
        }
        None => {
            tracing::info!(path = store.path(), start = ?args.start_position, "no checkpoint; starting fresh")
        }
    }
    let session_store = SessionStore::new(
        tables.hdfs().clone(),
        tables.config().write_retry,
        &args.checkpoint_dir,
        &args.topic,
    );
    let restored_sessions = match checkpoint.as_deref() {
        Some(Checkpoint {
            session_workers: Some(n),
            frontier_ms,
            ..
        }) => runtime
            .block_on(session_store.load(*n, *frontier_ms))
            .context("reading the session snapshot of the checkpoint")?,
        Some(_) => {
            tracing::warn!("the checkpoint predates session snapshots: sessions open at its frontier are not restored");
            Vec::new()
        }
        None => Vec::new(),
    };
    if process == 0 {
        if let Some(c) = &checkpoint {
            let n = runtime
                .block_on(crate::recovery::delete_uncommitted_windows(
                    &tables,
                    c.frontier_ms,
                ))
                .context("deleting windows committed after the checkpoint")?;
            if n > 0 {
                tracing::info!(files = n, "deleted windows committed after the checkpoint");
            }
        }
    }
    tracing::info!(
        process,
        processes = cluster.process_count(),
        workers = cluster.total_workers(),
        partitions = partitions_total,
        topic = %args.topic,
        window_size_ms = window.size_ms(),
        window_slide_ms = window.slide_ms(),
        "starting the dataflow"
    );

    let status = Arc::new(Status::new());
    spawn_status_line(status.clone(), args.status_interval, process);
    let stop_at_ms = args.stop_at_watermark.map(|t| t.timestamp_millis());
    let topic: Arc<str> = args.topic.as_str().into();
    let source_settings = SourceSettings {
        topic: topic.clone(),
        partitions_total,
        kafka: kafka.clone(),
        start_position: args.start_position,
        checkpoint: checkpoint.clone(),
        window,
        max_out_of_orderness_ms: args.max_out_of_orderness.as_millis() as i64,
        max_future_skew_ms: args.max_future_skew.as_millis() as i64,
        dedup_horizon_ms: args.dedup_horizon.as_millis() as i64,
        idle_timeout: args.idle_timeout,
        roll_interval: args.roll_interval,
        roll_size_bytes: args.roll_size_bytes,
        stop_at_ms,
        tables: tables.clone(),
        runtime: runtime.handle().clone(),
        status: status.clone(),
    };
    let skip_windows_until = checkpoint.as_ref().map_or(i64::MIN, |c| c.frontier_ms);
    let sink_settings = SinkSettings {
        tables: tables.clone(),
        runtime: runtime.handle().clone(),
        status: status.clone(),
    };
    let visitor_settings = VisitorSettings {
        window,
        skip_windows_until,
        stop_at_ms,
    };
    let session_settings = SessionSettings {
        rules: session_rules,
        restored_frontier_ms: skip_windows_until,
        restored: Arc::new(restored_sessions),
        stop_at_ms,
        store: session_store,
        snapshot_interval: args.roll_interval,
        runtime: runtime.handle().clone(),
    };
    let feed = (process == 0 && !args.no_results_feed).then(|| {
        let results_topic = args.results_topic();
        let mut producer = crate::feed::task::producer_config(&args.kafka_brokers);
        kafka_properties::apply(&mut producer, &args.kafka_properties);
        tracing::info!(results_topic = %results_topic, "publishing the results feed");
        crate::feed::task::FeedSettings {
            store: crate::feed::task::FeedStore::new(
                tables.hdfs().clone(),
                tables.config().write_retry,
                &args.checkpoint_dir,
                &args.topic,
                &results_topic,
            ),
            results_topic,
            producer,
            tables: tables.clone(),
            window_size_ms: window.size_ms(),
            max_session_ms: session_rules.max_duration_ms,
            drain_timeout: args.results_drain_timeout,
        }
    });
    let coordinator_settings = CoordinatorSettings {
        topic,
        store,
        restored: checkpoint,
        stop_at_ms,
        max_out_of_orderness_ms: args.max_out_of_orderness.as_millis() as i64,
        kafka,
        day_rules: crate::days::DayRules {
            window,
            max_session_ms: session_rules.max_duration_ms,
        },
        tables: tables.clone(),
        runtime: runtime.handle().clone(),
        status,
        feed,
    };

    let guards = timely::execute(timely_config, move |worker| {
        let probe = ProbeHandle::new();
        let (source_settings, sink_settings, coordinator_settings, session_settings) = (
            source_settings.clone(),
            sink_settings.clone(),
            coordinator_settings.clone(),
            session_settings.clone(),
        );
        worker.dataflow::<u64, _, _>(|scope| {
            let out = kafka_source(scope, source_settings, probe.clone());
            let (counts, visits, cuts) = split_source(out);

            let pages = counts.as_collection().count_total().inner.flat_map(
                |(((page, kind, start, end), n), time, diff)| {
                    (diff > 0).then_some(((page, kind, start, end, n) as PageRow, time))
                },
            );
            let pages_done = file_sink(pages, page_files(), sink_settings.clone());

            let figures = visitor_counts(visits.clone(), visitor_settings);
            let visitors_done = file_sink(figures, visitor_files(), sink_settings.clone());

            let closed = sessions(visits, session_settings, probe.clone());
            let sessions_done = file_sink(closed, session_files(), sink_settings);

            let committed = pages_done.concat(visitors_done).concat(sessions_done);
            coordinator(cuts, committed, coordinator_settings).probe_with(&probe);
        });
        while worker.step_or_park(Some(Duration::from_millis(100))) {}
    })
    .map_err(|e| anyhow::anyhow!("starting the timely cluster: {e}"))?;
    let results = guards.join();
    runtime
        .block_on(tables.flush(Duration::from_secs(30)))
        .context("registering the last partitions in the metastore")?;
    for (i, r) in results.into_iter().enumerate() {
        if let Err(e) = r {
            bail!("worker {i} failed: {e}");
        }
    }
    tracing::info!(
        process,
        peak_rss_bytes = peak_rss_bytes(),
        "dataflow complete"
    );
    Ok(())
}

/// A window-count update from the source: `(key, time, diff)`.
type CountStream<'scope> = Stream<'scope, u64, Vec<(WindowKey, u64, i64)>>;
/// On-time events from the source.
type VisitStream<'scope> = Stream<'scope, u64, Vec<Visit>>;
/// Cut reports from the source.
type CutStream<'scope> = Stream<'scope, u64, Vec<CutReport>>;

/// The source's output separated into window-count updates, visits and cut reports.
// The `Result`s are routing tags moved through `ok_err`, not errors: their size is no cost.
#[allow(clippy::result_large_err)]
fn split_source<'scope>(
    out: Stream<'scope, u64, Vec<SourceOutput>>,
) -> (CountStream<'scope>, VisitStream<'scope>, CutStream<'scope>) {
    type Data = Result<(WindowKey, u64, i64), Visit>;
    let (data, cuts): (Stream<'scope, u64, Vec<Data>>, _) = out.ok_err(|o| match o {
        SourceOutput::Count(key, time, diff) => Ok(Ok((key, time, diff))),
        SourceOutput::Visit(visit) => Ok(Err(visit)),
        SourceOutput::Cut(report) => Err(report),
    });
    let (counts, visits) = data.ok_err(|d| d);
    (counts, visits, cuts)
}

/// This process's peak resident set size (`VmHWM` in `/proc/self/status`), bytes; 0 where
/// the kernel does not say.
pub fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}
