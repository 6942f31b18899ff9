//! The Kafka source operator: one per worker, reading the partitions that worker owns.
//!
//! - **Assignment.** Partition `p` belongs to global worker `p mod workers`; the consumer is
//!   `assign`ed those partitions at explicit offsets (no group rebalancing).
//! - **Polling.** Each activation drains what librdkafka has buffered (bounded per activation)
//!   without blocking, then reschedules itself through its activator (at once when it read
//!   something, after a few milliseconds otherwise).
//! - **Time.** It holds one capability at the minimum watermark of its partitions
//!   ([`crate::watermark`]) and downgrades it as that rises; a worker without partitions drops
//!   it at once. Errors never drop it.
//! - **Output.** Window counts, pre-aggregated per activation (so one key's update crosses the
//!   exchange once per batch): `+n` at `window_end − 1` and `−n` at `window_end`, the
//!   retraction that lets the count's arrangement release the window once it is closed.
//!   Every on-time event also goes out once as a [`Visit`] for the visitor and session
//!   operators, which do their own combining.
//!   Event rows are buffered per partition ([`crate::rows`]) and committed by the source itself
//!   at each *cut* (every roll interval or roll size); after the commit the source reports the
//!   cut ([`CutReport`]) to the checkpoint coordinator.
//! - **Records.** Each record is judged by its partition ([`crate::partition`]): rejected
//!   (malformed, or too far in the future), duplicate, late or on time.
//! - **Restart.** A partition with a checkpoint starts at its `replay_from` with the watermark
//!   state saved for it; records below `read_offset` feed only the deduplication state and the
//!   windows (their rows are committed already), and windows ending at or before the
//!   checkpoint's frontier are not produced again ([`crate::partition`], Replays).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use timely::dataflow::operators::generic::operator::source;
use timely::dataflow::operators::probe::Handle as ProbeHandle;
use timely::dataflow::operators::Capability;
use timely::dataflow::{Scope, Stream};

use crate::checkpoint::{Checkpoint, CutReport};
use crate::config::StartPosition;
use crate::idle::LeaderContact;
use crate::partition::{PartitionState, Record, Rules, Tally};
pub use crate::partition::{WindowCounts, WindowKey};
use crate::rows::RowFile;
use crate::status::{StatsContext, Status};
use crate::visit::Visit;
use crate::watermark::source_watermark;
use crate::window::WindowSpec;

/// What the source emits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SourceOutput {
    /// A differential update of one window count: key, time (UTC epoch ms), difference.
    Count(WindowKey, u64, i64),
    /// An on-time event, for the visitor and session operators.
    Visit(Visit),
    /// A cut: the rows below these offsets are committed.
    Cut(CutReport),
}

/// Everything a source needs; shared by the workers of a process.
#[derive(Clone)]
pub struct SourceSettings {
    /// Kafka topic.
    pub topic: Arc<str>,
    /// Partitions of the topic (from its metadata at start-up).
    pub partitions_total: usize,
    /// librdkafka settings of the consumers (brokers, security, group for lag reporting).
    pub kafka: ClientConfig,
    /// Where a partition without a checkpoint starts.
    pub start_position: StartPosition,
    /// The checkpoint this run starts from, if any.
    pub checkpoint: Option<Arc<Checkpoint>>,
    /// Window assignment.
    pub window: WindowSpec,
    /// `max_out_of_orderness`, ms.
    pub max_out_of_orderness_ms: i64,
    /// `--max-future-skew`, ms: events further ahead of their ingestion time are rejected.
    pub max_future_skew_ms: i64,
    /// `--dedup-horizon`, ms (0: no deduplication).
    pub dedup_horizon_ms: i64,
    /// How long a caught-up partition waits before its watermark follows the wall clock.
    pub idle_timeout: Duration,
    /// Longest time between cuts.
    pub roll_interval: Duration,
    /// Buffered row bytes that force a cut.
    pub roll_size_bytes: usize,
    /// Stop once every partition's watermark reaches this (UTC epoch ms).
    pub stop_at_ms: Option<i64>,
    /// Where row files are committed.
    pub tables: hive::HiveTables,
    /// The process's tokio runtime (commits run there).
    pub runtime: tokio::runtime::Handle,
    /// The process's status figures.
    pub status: Arc<Status>,
}

/// The worker that owns Kafka partition `partition` among `workers` workers.
pub fn owner(partition: i32, workers: usize) -> usize {
    (partition.max(0) as usize) % workers.max(1)
}

/// Timely time of an event time: UTC epoch ms, clamped at 0.
pub fn to_time(ms: i64) -> u64 {
    ms.max(0) as u64
}

struct PendingCut {
    report: CutReport,
    files: Arc<Vec<RowFile>>,
    task: tokio::task::JoinHandle<Result<(), hive::HiveError>>,
    attempts: u32,
    retry_at: Option<Instant>,
}

/// Builds the source operator of this worker. `committed` probes the checkpoint coordinator's
/// output: its frontier is the frontier of the last checkpoint written, below which no window
/// needs to be remembered for resumption.
pub fn kafka_source<'scope>(
    scope: Scope<'scope, u64>,
    settings: SourceSettings,
    committed: ProbeHandle<u64>,
) -> Stream<'scope, u64, Vec<SourceOutput>> {
    let worker = scope.index();
    let workers = scope.peers();
    let activations = scope;
    source(scope, "KafkaSource", move |capability, info| {
        let activator = activations.activator_for(info.address.clone());
        let mut reader = match Reader::new(settings, worker, workers, capability) {
            Ok(reader) => Some(reader),
            Err(e) => {
                // Nothing can be read without a consumer: fail the process loudly rather than
                // hold the whole cluster's frontier forever.
                panic!("worker {worker}: cannot start the Kafka source: {e:#}");
            }
        };
        move |output| {
            let Some(r) = reader.as_mut() else { return };
            let again = r.step(output, &committed);
            match again {
                Some(delay) => activator.activate_after(delay),
                None => reader = None,
            }
        }
    })
}

/// Cuts a worker commits at once. With the row buffer's roll size this bounds the event rows a
/// worker holds to about `(MAX_PENDING_CUTS + 1) × --roll-size-bytes` of record values.
const MAX_PENDING_CUTS: usize = 2;

struct Reader {
    s: SourceSettings,
    worker: usize,
    consumer: Option<BaseConsumer<StatsContext>>,
    /// Whether the consumer reaches its partitions' leaders: gates the idle policy.
    contact: Arc<LeaderContact>,
    partitions: Vec<PartitionState>,
    index: HashMap<i32, usize>,
    capability: Option<Capability<u64>>,
    /// How records are judged.
    rules: Rules,
    round: u64,
    last_cut: Instant,
    pending: VecDeque<PendingCut>,
    final_round: Option<u64>,
    counts: WindowCounts,
    /// On-time events of this activation, emitted with the counts.
    visits: Vec<Visit>,
    /// Reading waits for commits ([`Reader::backlogged`]).
    held_back: bool,
}

impl Reader {
    fn new(
        s: SourceSettings,
        worker: usize,
        workers: usize,
        capability: Capability<u64>,
    ) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let owned: Vec<i32> = (0..s.partitions_total as i32)
            .filter(|p| owner(*p, workers) == worker)
            .collect();
        let rules = Rules {
            window: s.window,
            max_out_of_orderness_ms: s.max_out_of_orderness_ms,
            max_future_skew_ms: s.max_future_skew_ms,
            dedup_horizon_ms: s.dedup_horizon_ms,
            skip_windows_until: s.checkpoint.as_ref().map_or(i64::MIN, |c| c.frontier_ms),
            stop_at_ms: s.stop_at_ms,
        };
        let mut reader = Reader {
            worker,
            consumer: None,
            contact: Arc::new(LeaderContact::default()),
            partitions: Vec::new(),
            index: HashMap::new(),
            capability: None,
            rules,
            round: 0,
            last_cut: Instant::now(),
            pending: VecDeque::new(),
            final_round: None,
            counts: WindowCounts::default(),
            visits: Vec::new(),
            held_back: false,
            s,
        };
        if owned.is_empty() {
            tracing::info!(
                worker,
                "no Kafka partitions for this worker; it holds no capability"
            );
            return Ok(reader);
        }
        let context = StatsContext {
            status: reader.s.status.clone(),
            topic: reader.s.topic.to_string(),
            contact: reader.contact.clone(),
        };
        let consumer: BaseConsumer<StatsContext> = reader
            .s
            .kafka
            .create_with_context(context)
            .context("creating the Kafka consumer")?;
        let mut tpl = TopicPartitionList::new();
        let topic = reader.s.topic.clone();
        let mut bounds = Vec::new();
        for &p in &owned {
            let restored = reader
                .s
                .checkpoint
                .as_ref()
                .and_then(|c| c.partitions.get(&p).cloned());
            let state = match restored {
                Some(c) => PartitionState::restored(p, topic.clone(), &c, &reader.rules),
                None => {
                    let (low, high) = consumer
                        .fetch_watermarks(&topic, p, Duration::from_secs(30))
                        .with_context(|| format!("reading the offsets of partition {p}"))?;
                    let start = match reader.s.start_position {
                        StartPosition::Earliest => low,
                        StartPosition::Latest => high,
                    };
                    PartitionState::fresh(p, topic.clone(), start, &reader.rules)
                }
            };
            let (start, replay_until) = (state.next_offset, state.replay_until);
            tracing::info!(
                worker,
                partition = p,
                start,
                replay_until,
                "reading partition"
            );
            tpl.add_partition_offset(&topic, p, Offset::Offset(start))
                .context("building the assignment")?;
            bounds.push((p, replay_until));
            reader.index.insert(p, reader.partitions.len());
            reader.partitions.push(state);
        }
        // Row files at or after a partition's committed offset come from a run that died
        // before its checkpoint: they are about to be written again.
        reader
            .s
            .runtime
            .block_on(crate::recovery::delete_uncommitted_rows(
                &reader.s.tables,
                &bounds,
            ))
            .context("deleting row files the last run committed after its checkpoint")?;
        consumer.assign(&tpl).context("assigning the partitions")?;
        reader.consumer = Some(consumer);
        let mut capability = capability;
        if let Some(wm) = source_watermark(reader.partitions.iter().map(|p| &p.watermark)) {
            capability.downgrade(&to_time(wm));
        }
        reader.capability = Some(capability);
        Ok(reader)
    }

    /// One activation. Returns when to run again, or `None` when the source is finished.
    fn step(
        &mut self,
        output: &mut timely::dataflow::operators::generic::OutputBuilderSession<
            '_,
            u64,
            timely::container::CapacityContainerBuilder<Vec<SourceOutput>>,
        >,
        committed: &ProbeHandle<u64>,
    ) -> Option<Duration> {
        let capability = self.capability.clone()?;
        let read = if self.backlogged() {
            self.hold_back();
            0
        } else {
            if std::mem::take(&mut self.held_back) {
                self.s.status.reading_paused(self.worker, false);
            }
            self.poll()
        };
        self.advance_idle();

        // Window counts, pre-aggregated over this activation.
        if !self.counts.is_empty() {
            let mut session = output.session(&capability);
            for (key, n) in self.counts.drain() {
                let end = key.3;
                session.give(SourceOutput::Count(key.clone(), to_time(end - 1), n));
                session.give(SourceOutput::Count(key, to_time(end), -n));
            }
        }
        if !self.visits.is_empty() {
            let mut session = output.session(&capability);
            for v in self.visits.drain(..) {
                session.give(SourceOutput::Visit(v));
            }
        }

        // Forget windows the last checkpoint already covers.
        let checkpointed = committed.with_frontier(|f| f.first().copied());
        for p in &mut self.partitions {
            match checkpointed {
                Some(f) => p.open.retain(|end, _| to_time(*end) > f),
                None => p.open.clear(),
            }
        }

        self.maybe_cut();
        // Reports go out in round order, each once its files are committed.
        while let Some(front) = self.pending.front_mut() {
            if !front.task.is_finished() {
                break;
            }
            if let Some(at) = front.retry_at {
                if Instant::now() < at {
                    break;
                }
                front.retry_at = None;
                front.task = self
                    .s
                    .runtime
                    .spawn(commit(self.s.tables.clone(), front.files.clone()));
                break;
            }
            let result = self
                .s
                .runtime
                .block_on(&mut front.task)
                .unwrap_or_else(|e| {
                    Err(hive::HiveError::InvalidInput(format!(
                        "commit task failed: {e}"
                    )))
                });
            match result {
                Ok(()) => {
                    let Some(done) = self.pending.pop_front() else {
                        break;
                    };
                    let round = done.report.round;
                    output
                        .session(&capability)
                        .give(SourceOutput::Cut(done.report));
                    if self.final_round == Some(round) {
                        tracing::info!(
                            worker = self.worker,
                            "all partitions past the stop watermark; source finished"
                        );
                        self.capability = None;
                        if let Some(c) = self.consumer.take() {
                            let _ = c.unassign();
                        }
                        return None;
                    }
                }
                Err(e) => {
                    front.attempts += 1;
                    let wait = Duration::from_millis(500 * 2u64.pow(front.attempts.min(6)));
                    metrics::counter!("wa_dataflow_commit_retries_total", "what" => "rows")
                        .increment(1);
                    tracing::warn!(worker = self.worker, round = front.report.round, attempt = front.attempts, error = %e, ?wait, "committing event rows failed; retrying");
                    front.retry_at = Some(Instant::now() + wait);
                    break;
                }
            }
        }

        // The capability follows the minimum watermark.
        if let Some(wm) = source_watermark(self.partitions.iter().map(|p| &p.watermark)) {
            let t = to_time(wm);
            if let Some(cap) = self.capability.as_mut() {
                if *cap.time() < t {
                    cap.downgrade(&t);
                }
            }
        }
        for p in &self.partitions {
            if let Some(wm) = p.watermark.watermark_ms() {
                self.s.status.set_watermark(p.id, wm);
            }
        }
        Some(if read > 0 {
            Duration::ZERO
        } else {
            Duration::from_millis(10)
        })
    }

    /// Reads what librdkafka has buffered, at most a few thousand records.
    fn poll(&mut self) -> usize {
        const MAX_PER_ACTIVATION: usize = 4096;
        let Some(consumer) = self.consumer.as_ref() else {
            return 0;
        };
        let mut read = 0;
        let mut tally = Tally::default();
        let seen_at = chrono::Utc::now().timestamp_millis();
        while read < MAX_PER_ACTIVATION {
            let message = match consumer.poll(Duration::ZERO) {
                None => break,
                Some(Ok(m)) => m,
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    if let Some(&i) = self.index.get(&p) {
                        let part = &mut self.partitions[i];
                        part.caught_up_since.get_or_insert_with(Instant::now);
                    }
                    continue;
                }
                Some(Err(e)) => {
                    // Maybe cut off from the leaders: no partition is idle until this passes.
                    self.contact.trouble();
                    metrics::counter!("wa_dataflow_kafka_errors_total").increment(1);
                    tracing::warn!(worker = self.worker, error = %e, "Kafka consumer error (librdkafka retries by itself)");
                    break;
                }
            };
            read += 1;
            let Some(&i) = self.index.get(&message.partition()) else {
                continue;
            };
            let part = &mut self.partitions[i];
            let offset = message.offset();
            if offset < part.next_offset {
                continue; // already seen (a re-delivery after a seek)
            }
            if offset > part.next_offset {
                tracing::warn!(
                    partition = part.id,
                    expected = part.next_offset,
                    got = offset,
                    "offsets skipped (log compaction or retention removed them)"
                );
            }
            // The record timestamp is the ingestion time: set by whoever put the record on
            // Kafka (or the broker, for LogAppendTime topics).
            let ingest_time_ms = message.timestamp().to_millis().filter(|t| *t >= 0);
            part.read(
                Record {
                    offset,
                    value: message.payload().unwrap_or_default(),
                    ingest_time_ms,
                    seen_at_ms: seen_at,
                },
                &self.rules,
                &mut self.counts,
                &mut self.visits,
                &mut tally,
            );
        }
        let Tally {
            fresh,
            valid,
            late,
            duplicates,
            rejected,
        } = tally;
        if fresh > 0 {
            metrics::counter!("wa_dataflow_events_in_total").increment(fresh);
            metrics::counter!("wa_dataflow_events_valid_total").increment(valid);
            self.s.status.events_in.fetch_add(fresh, Ordering::Relaxed);
        }
        if late > 0 {
            metrics::counter!("wa_dataflow_late_total", "reason" => "behind_watermark")
                .increment(late);
            self.s.status.late.fetch_add(late, Ordering::Relaxed);
        }
        if duplicates > 0 {
            metrics::counter!("wa_dataflow_duplicates_total").increment(duplicates);
        }
        for (reason, n) in rejected {
            metrics::counter!("wa_dataflow_rejected_total", "reason" => reason).increment(n);
            self.s.status.rejected.fetch_add(n, Ordering::Relaxed);
        }
        read
    }

    /// The idle policy: a partition caught up for `idle_timeout`, in steady contact with its
    /// leader for as long ([`crate::idle`]), follows the wall clock.
    fn advance_idle(&mut self) {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let now = Instant::now();
        for p in &mut self.partitions {
            if p.caught_up_since
                .is_some_and(|since| self.contact.idle(since, now, self.s.idle_timeout))
            {
                p.advance_idle(now_ms);
            }
        }
    }

    /// Whether reading must wait for commits: [`MAX_PENDING_CUTS`] cuts are being committed
    /// and the row buffer is full again. This is the source's backpressure — without it a
    /// slow or failing HDFS would let the buffer grow with the stream.
    fn backlogged(&self) -> bool {
        self.pending.len() >= MAX_PENDING_CUTS
            && self
                .partitions
                .iter()
                .map(|p| p.rows.bytes())
                .sum::<usize>()
                >= self.s.roll_size_bytes
    }

    /// Skips reading for this activation. librdkafka stops fetching once its queue is full
    /// (`queued.max.messages.kbytes`), so the records wait in Kafka. No partition counts as
    /// caught up meanwhile: its idle clock starts again at the next end of its log, so a
    /// pause never lets the idle policy judge the records behind it late.
    fn hold_back(&mut self) {
        for p in &mut self.partitions {
            p.caught_up_since = None;
        }
        if !std::mem::replace(&mut self.held_back, true) {
            self.s.status.reading_paused(self.worker, true);
        }
    }

    fn replaying(&self) -> bool {
        self.partitions.iter().any(PartitionState::replaying)
    }

    /// Starts a cut when the roll interval or size says so, or the stop watermark is reached.
    fn maybe_cut(&mut self) {
        if self.final_round.is_some() || self.replaying() || self.pending.len() >= MAX_PENDING_CUTS
        {
            return;
        }
        let stop = self.s.stop_at_ms.is_some_and(|t| {
            self.partitions.iter().all(|p| {
                p.caught_up_since.is_some() && p.watermark.watermark_ms().is_some_and(|w| w >= t)
            })
        });
        let bytes: usize = self.partitions.iter().map(|p| p.rows.bytes()).sum();
        if !(stop
            || bytes >= self.s.roll_size_bytes
            || self.last_cut.elapsed() >= self.s.roll_interval)
        {
            return;
        }
        if stop && !self.pending.is_empty() {
            return; // the final cut waits for the others, so it is reported last
        }
        self.last_cut = Instant::now();
        let mut files = Vec::new();
        let mut cuts = Vec::new();
        for p in &mut self.partitions {
            files.extend(p.rows.take_files());
            cuts.push(p.cut());
            metrics::gauge!("wa_dataflow_dedup_ids", "partition" => p.id.to_string())
                .set(p.dedup_len() as f64);
        }
        let report = CutReport {
            round: self.round,
            worker: self.worker,
            partitions_total: self.s.partitions_total,
            partitions: cuts,
        };
        if stop {
            self.final_round = Some(self.round);
        }
        self.round += 1;
        let files = Arc::new(files);
        let task = self
            .s
            .runtime
            .spawn(commit(self.s.tables.clone(), files.clone()));
        self.pending.push_back(PendingCut {
            report,
            files,
            task,
            attempts: 0,
            retry_at: None,
        });
    }
}

/// Commits row files, a few at a time. Re-committing a file that already landed overwrites it
/// with the same rows, so a retry of the whole set is safe.
async fn commit(tables: hive::HiveTables, files: Arc<Vec<RowFile>>) -> Result<(), hive::HiveError> {
    let mut set = tokio::task::JoinSet::new();
    for (i, _) in files.iter().enumerate() {
        let (tables, files) = (tables.clone(), files.clone());
        set.spawn(async move {
            let f = &files[i];
            tables
                .commit_file(f.table, f.dt, &f.name, std::slice::from_ref(&f.batch))
                .await
                .map(|_| ())
        });
    }
    let mut result = Ok(());
    while let Some(done) = set.join_next().await {
        let r = done.unwrap_or_else(|e| {
            Err(hive::HiveError::InvalidInput(format!(
                "commit task failed: {e}"
            )))
        });
        if result.is_ok() {
            result = r;
        }
    }
    result
}
