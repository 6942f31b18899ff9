//! The archiver service: Kafka → open files → committed HDFS files → Hive partitions.
//!
//! Lifecycle:
//! 1. **recover** — list the archive, delete stale temporaries, compute each partition's
//!    resume offset and the committed ranges to skip ([`crate::recovery`]);
//! 2. **assign** — every partition of the topic, manually (no group rebalancing), at its
//!    resume offset (the log's beginning for a partition with no file yet);
//! 3. **process** — each record is skipped if already archived, else appended to the open
//!    file of its (partition, date) ([`crate::buffer`]); a file that reaches the roll size
//!    is committed at once ([`crate::sink`]);
//! 4. **tick** — files open for the roll interval are committed even when no record comes;
//!    lag is measured;
//! 5. **commit** — after each file commit, the partition's committed offset goes to the
//!    consumer group (monitoring only) and the file's date to the catalog task
//!    ([`crate::catalog`]);
//! 6. **shutdown** (SIGINT/SIGTERM) — every open file is committed, then exit. A kill -9
//!    instead loses only uncommitted buffers, which recovery reads again from Kafka.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use kafka_properties::KafkaProperties;
use kafka_properties::{AuthContext, AuthWatch, AuthenticationFailed};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use tracing::{debug, info, warn};

use crate::buffer::{Buffer, Codec};
use crate::catalog::{Catalog, CatalogConfig};
use crate::config::RunArgs;
use crate::naming::date_of_timestamp;
use crate::recovery::RecoveryPlan;
use crate::sink::Archive;

/// How often lag is measured.
const LAG_INTERVAL: Duration = Duration::from_secs(5);

/// The consumer configuration: ours first, then the user's `-X` properties (which win).
pub fn consumer_config(brokers: &str, group: &str, properties: &[KafkaProperties]) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        // Offsets go to this group only for lag monitoring; the archive is the checkpoint.
        .set("group.id", group)
        // We commit explicitly, after the files holding the records are committed.
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        // A resume offset that retention has already deleted: take what is left.
        .set("auto.offset.reset", "earliest")
        // Only records of committed transactions are archived (librdkafka's default, stated).
        .set("isolation.level", "read_committed")
        .set("client.id", "wa-archiver");
    kafka_properties::apply(&mut config, properties);
    config
}

/// Runs the service until SIGINT/SIGTERM.
///
/// # Errors
/// Start-up failures (HDFS listing, Kafka client, topic metadata, metrics listener). Once
/// running, external failures are logged and retried; bad records are archived, not errors.
pub async fn run(args: RunArgs) -> Result<()> {
    if !args.roll_interval_secs.is_finite()
        || args.roll_interval_secs <= 0.0
        || args.roll_size_bytes == 0
    {
        bail!("--roll-interval and --roll-size-bytes must be positive");
    }
    let roll_interval = Duration::from_secs_f64(args.roll_interval_secs);
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(args.metrics_addr)
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Suffix("_seconds".into()),
            &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0],
        )
        .context("metrics buckets")?
        .install()
        .with_context(|| format!("starting the metrics listener on {}", args.metrics_addr))?;

    let archive = Archive::connect(&args.common.hdfs_url, &args.common.archive_root)?;
    let mut plan = archive.recover().await?;
    info!(
        root = %archive.root(),
        partitions_with_files = plan.resume.len(),
        dates = plan.dates.len(),
        stale_temporaries = plan.stale_temporaries.len(),
        "recovered from the archive"
    );

    let catalog = Catalog::start(
        archive.hdfs().clone(),
        &CatalogConfig {
            metastore_uri: args.metastore_uri.clone(),
            database: args.hive_database.clone(),
            table: args.hive_table.clone(),
            location: format!(
                "{}{}",
                args.common.hdfs_url.trim_end_matches('/'),
                archive.root()
            ),
        },
    )
    .await?;

    let auth = AuthWatch::new(&args.common.kafka_brokers);
    let consumer: Arc<StreamConsumer<AuthContext>> = Arc::new(
        consumer_config(
            &args.common.kafka_brokers,
            &args.consumer_group,
            &args.common.kafka_properties,
        )
        .create_with_context(AuthContext::new(auth.clone()))
        .context("creating the Kafka consumer")?,
    );
    let mut partitions = assign(&consumer, &args.topic, &plan).await?;
    let (grown_tx, mut grown) = tokio::sync::mpsc::unbounded_channel::<Vec<i32>>();

    let mut state = State {
        buffer: Buffer::new(args.compression, args.roll_size_bytes, roll_interval),
        archive,
        catalog,
        consumer: consumer.clone(),
        topic: args.topic.clone(),
        codec: args.compression,
        lag_running: Arc::new(AtomicBool::new(false)),
        grown: grown_tx,
    };
    let tick = (roll_interval / 10).clamp(Duration::from_millis(100), Duration::from_secs(1));
    let mut ticker = tokio::time::interval(tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_lag: Option<Instant> = None;
    let mut shutdown = std::pin::pin!(shutdown_signal());
    for (&partition, &offset) in &plan.resume {
        state.buffer.advance(partition, offset);
    }
    // Partitions still re-reading records that may already be archived, with the highest
    // offset any of their committed files holds; past it the skip lookup is dropped.
    let mut rereading = plan.highest_archived_offsets();

    loop {
        tokio::select! {
            message = consumer.recv() => {
                let message = match message {
                    Ok(m) => m,
                    Err(e) => {
                        metrics::counter!("wa_archiver_consumer_errors_total").increment(1);
                        // Kafka refused our credentials: librdkafka would retry for ever.
                        auth.check()?;
                        warn!(error = %e, "Kafka consumer error");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let (partition, offset) = (message.partition(), message.offset());
                let date = date_of_timestamp(message.timestamp().to_millis());
                if let Some(&until) = rereading.get(&partition) {
                    if plan.is_archived(partition, date, offset) {
                        metrics::counter!("wa_archiver_records_skipped_total").increment(1);
                        state.buffer.advance(partition, offset + 1);
                        continue;
                    }
                    if offset > until {
                        plan.forget_below(partition, offset);
                        rereading.remove(&partition);
                    }
                }
                let full = state
                    .buffer
                    .append(partition, offset, date, message.payload(), Instant::now())
                    .context("buffering a record")?;
                drop(message);
                if let Some(key) = full {
                    state.commit(key).await?;
                }
            }
            _ = ticker.tick() => {
                for key in state.buffer.due(Instant::now()) {
                    state.commit(key).await?;
                }
                metrics::gauge!("wa_archiver_open_files").set(state.buffer.open_files() as f64);
                if last_lag.is_none_or(|t| t.elapsed() >= LAG_INTERVAL) {
                    last_lag = Some(Instant::now());
                    state.measure_lag(&partitions);
                }
            }
            Some(found) = grown.recv() => {
                let mut added = TopicPartitionList::new();
                for p in found {
                    if partitions.contains(&p) {
                        continue;
                    }
                    let offset = plan.resume.get(&p).map_or(Offset::Beginning, |&o| Offset::Offset(o));
                    info!(topic = %args.topic, partition = p, offset = ?offset, "assigning new partition");
                    added.add_partition_offset(&args.topic, p, offset).context("building the assignment")?;
                    partitions.push(p);
                }
                if added.count() > 0 {
                    consumer.incremental_assign(&added).context("assigning new partitions")?;
                }
            }
            _ = &mut shutdown => {
                info!(open_files = state.buffer.open_files(), "shutting down: committing open files");
                for key in state.buffer.all() {
                    state.commit(key).await?;
                }
                return Ok(());
            }
        }
    }
}

/// Assigns every partition of `topic` at its resume offset; returns the partition ids.
/// Kafka refusing our credentials ends the wait for the topic at once.
async fn assign(
    consumer: &StreamConsumer<AuthContext>,
    topic: &str,
    plan: &RecoveryPlan,
) -> Result<Vec<i32>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let partitions = loop {
        // Short requests: one waits its whole timeout for a broker it can use.
        let metadata = tokio::task::block_in_place(|| {
            consumer.fetch_metadata(Some(topic), Duration::from_secs(2))
        });
        let found = metadata.ok().and_then(|m| {
            m.topics()
                .iter()
                .find(|t| t.name() == topic && t.error().is_none())
                .map(|t| t.partitions().iter().map(|p| p.id()).collect::<Vec<_>>())
        });
        match found {
            Some(p) if !p.is_empty() => break p,
            _ => {
                if Instant::now() > deadline {
                    consumer.context().watch().check()?;
                    bail!("topic {topic} not found (or has no partitions)")
                }
                warn!(%topic, "topic metadata not available yet, retrying");
                serve_events(consumer, Duration::from_secs(1)).await?;
            }
        }
    };
    let mut assignment = TopicPartitionList::new();
    for &p in &partitions {
        let offset = plan
            .resume
            .get(&p)
            .map_or(Offset::Beginning, |&o| Offset::Offset(o));
        info!(%topic, partition = p, offset = ?offset, "assigning partition");
        assignment
            .add_partition_offset(topic, p, offset)
            .context("building the assignment")?;
    }
    consumer
        .assign(&assignment)
        .context("assigning partitions")?;
    Ok(partitions)
}

/// Waits `pause` serving the consumer's events (before the assignment there are no records,
/// only errors, logs and statistics), so that its context sees an authentication failure;
/// fails as soon as it does.
async fn serve_events(
    consumer: &StreamConsumer<AuthContext>,
    pause: Duration,
) -> Result<(), AuthenticationFailed> {
    let watch = consumer.context().watch();
    let _ = tokio::time::timeout(pause, async {
        while !watch.failed() {
            let _ = consumer.recv().await;
        }
    })
    .await;
    watch.check()
}

struct State {
    buffer: Buffer,
    archive: Archive,
    catalog: Catalog,
    consumer: Arc<StreamConsumer<AuthContext>>,
    topic: String,
    codec: Codec,
    /// Whether a lag measurement is in flight.
    lag_running: Arc<AtomicBool>,
    /// Where the lag task reports partitions added to the topic since they were assigned.
    grown: tokio::sync::mpsc::UnboundedSender<Vec<i32>>,
}

impl State {
    /// Commits the open file `key`, then reports it to the group offsets, metrics and catalog.
    async fn commit(&mut self, key: (i32, NaiveDate)) -> Result<()> {
        let Some(rolled) = self.buffer.roll(key) else {
            return Ok(());
        };
        let (records, raw_bytes, date, name) = (
            rolled.file.records,
            rolled.file.raw_bytes,
            rolled.file.date,
            rolled.name,
        );
        let done = self.archive.commit(rolled).await?;
        metrics::counter!("wa_archiver_records_archived_total").increment(records);
        metrics::counter!("wa_archiver_bytes_archived_total").increment(done.bytes);
        metrics::counter!("wa_archiver_encoded_bytes_total").increment(raw_bytes);
        metrics::counter!("wa_archiver_files_committed_total").increment(1);
        metrics::histogram!("wa_archiver_commit_latency_seconds")
            .record(done.latency.as_secs_f64());
        info!(
            path = %done.path, records, bytes = done.bytes, compressed = self.codec == Codec::Gzip,
            latency_ms = done.latency.as_millis() as u64, "committed file"
        );
        self.catalog.committed(date);
        let mut offsets = TopicPartitionList::new();
        if offsets
            .add_partition_offset(&self.topic, name.partition, Offset::Offset(name.committed))
            .is_ok()
        {
            if let Err(e) = self.consumer.commit(&offsets, CommitMode::Async) {
                debug!(error = %e, "committing group offsets (monitoring only) failed");
            }
        }
        Ok(())
    }

    /// Lag per partition: records in the log not yet in a committed file. Measured in a
    /// background task (the watermark requests block), so a slow broker never delays rolls.
    /// The same task looks for partitions added to the topic, which the loop then assigns.
    fn measure_lag(&self, partitions: &[i32]) {
        let committed: Vec<(i32, Option<i64>)> = partitions
            .iter()
            .map(|&p| (p, self.buffer.committed_offset(p)))
            .collect();
        if self.lag_running.swap(true, Ordering::AcqRel) {
            return; // the previous measurement is still waiting for the broker
        }
        let running = self.lag_running.clone();
        let consumer = self.consumer.clone();
        let topic = self.topic.clone();
        let grown = self.grown.clone();
        tokio::task::spawn_blocking(move || {
            if let Ok(metadata) = consumer.fetch_metadata(Some(&topic), Duration::from_secs(2)) {
                let found: Vec<i32> = metadata
                    .topics()
                    .iter()
                    .filter(|t| t.name() == topic && t.error().is_none())
                    .flat_map(|t| t.partitions().iter().map(|p| p.id()))
                    .filter(|id| !committed.iter().any(|(p, _)| p == id))
                    .collect();
                if !found.is_empty() {
                    let _ = grown.send(found);
                }
            }
            for (p, committed) in committed {
                match consumer.fetch_watermarks(&topic, p, Duration::from_secs(2)) {
                    Ok((low, high)) => {
                        let committed = committed.unwrap_or(low).max(low);
                        metrics::gauge!("wa_archiver_partition_lag_records", "partition" => p.to_string())
                            .set((high - committed).max(0) as f64);
                    }
                    Err(e) => debug!(partition = p, error = %e, "fetching watermarks failed"),
                }
            }
            running.store(false, Ordering::Release);
        });
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
