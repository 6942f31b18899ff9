//! What a process tells its operator: Prometheus metrics and the one-line terminal status.
//!
//! Metric names (all prefixed `wa_dataflow_`; the Hive layer adds `wa_hive_*` for files,
//! bytes, rows, partitions and commit latency):
//!
//! | metric | type | labels | meaning |
//! |---|---|---|---|
//! | `events_in_total` | counter | – | Kafka records read (first reading; replays not counted) |
//! | `events_valid_total` | counter | – | valid events (on time or late) |
//! | `rejected_total` | counter | `reason` | records rejected by validation |
//! | `late_total` | counter | `reason` | valid events behind their partition's watermark (`behind_watermark`) |
//! | `watermark_ms` | gauge | `partition` | partition watermark, UTC epoch ms |
//! | `consumer_lag` | gauge | `partition` | log end offset − next offset to read (from librdkafka statistics) |
//! | `windows_emitted_total` | counter | – | windows committed to `page_analytics` |
//! | `window_rows_total` | counter | – | `page_analytics` rows committed |
//! | `checkpoints_total` | counter | – | checkpoints written |
//! | `checkpoint_frontier_ms` | gauge | – | frontier of the last checkpoint, UTC epoch ms |
//! | `checkpoint_written_ms` | gauge | – | wall-clock time the last checkpoint was written, UTC epoch ms (process 0) |
//! | `feed_published_ms` | gauge | – | the results feed's published frontier `P`: every group ending at or before it is on the results topic, UTC epoch ms (process 0) |
//! | `feed_rows_total` | counter | `table` | rows published to the results topic (re-sends included) |
//! | `feed_retries_total` | counter | – | results-feed drains that stopped short (Kafka, HDFS or the metastore failing) and start again from `P` |
//! | `commit_retries_total` | counter | `what` | failed commits that are being retried |
//! | `result_files_total`, `result_rows_total` | counter | `table` | files and rows committed to `page_analytics`, `visitor_analytics`, `sessions` |
//! | `visitor_state_keys` | gauge | `worker` | (page or site, window, user) keys this worker sent into windows still open (an upper bound of the visitor state) |
//! | `sessions_open` | gauge | `worker` | open sessions on this worker |
//! | `sessions_closed_total` | counter | – | sessions closed (their rows go to `sessions`) |

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::consumer::ConsumerContext;
use rdkafka::{ClientContext, Statistics};

/// Figures shared by the workers of one process, read by the status line.
#[derive(Debug, Default)]
pub struct Status {
    /// Kafka records read.
    pub events_in: AtomicU64,
    /// Records rejected.
    pub rejected: AtomicU64,
    /// Late events.
    pub late: AtomicU64,
    /// Windows committed.
    pub windows: AtomicU64,
    /// Frontier of the last checkpoint (UTC epoch ms; `i64::MIN` before the first).
    pub checkpoint_frontier_ms: AtomicI64,
    /// Workers whose reading waits for their commits (backpressure).
    pub paused_workers: AtomicU64,
    watermarks: Mutex<BTreeMap<i32, i64>>,
    lags: Mutex<BTreeMap<i32, i64>>,
}

impl Status {
    /// A fresh status.
    pub fn new() -> Self {
        Status {
            checkpoint_frontier_ms: AtomicI64::new(i64::MIN),
            ..Status::default()
        }
    }

    /// Records partition `p`'s watermark (UTC epoch ms).
    pub fn set_watermark(&self, partition: i32, watermark_ms: i64) {
        if let Ok(mut w) = self.watermarks.lock() {
            w.insert(partition, watermark_ms);
        }
        metrics::gauge!("wa_dataflow_watermark_ms", "partition" => partition.to_string())
            .set(watermark_ms as f64);
    }

    /// Records that `worker` stopped (`true`) or resumed (`false`) reading because its cuts
    /// are still being committed (gauge `wa_dataflow_reading_paused`, 0/1 per worker).
    pub fn reading_paused(&self, worker: usize, paused: bool) {
        if paused {
            self.paused_workers.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(worker, "reading paused until commits catch up");
        } else {
            self.paused_workers.fetch_sub(1, Ordering::Relaxed);
        }
        metrics::gauge!("wa_dataflow_reading_paused", "worker" => worker.to_string())
            .set(if paused { 1.0 } else { 0.0 });
    }

    /// Minimum watermark over this process's partitions (UTC epoch ms), if it reads any.
    pub fn min_watermark_ms(&self) -> Option<i64> {
        self.watermarks
            .lock()
            .ok()
            .and_then(|w| w.values().copied().min())
    }

    /// Sum of the consumer lag of this process's partitions, records.
    pub fn total_lag(&self) -> Option<i64> {
        let lags = self.lags.lock().ok()?;
        (!lags.is_empty()).then(|| lags.values().sum())
    }

    fn set_lag(&self, partition: i32, lag: i64) {
        if let Ok(mut l) = self.lags.lock() {
            l.insert(partition, lag);
        }
        metrics::gauge!("wa_dataflow_consumer_lag", "partition" => partition.to_string())
            .set(lag as f64);
    }
}

/// librdkafka client context of the sources: turns statistics into per-partition lag, and
/// tells the idle policy whether the partitions' leaders are reachable.
#[derive(Debug, Clone)]
pub struct StatsContext {
    /// The process's status.
    pub status: std::sync::Arc<Status>,
    /// The topic read.
    pub topic: String,
    /// The consumer's contact with its partitions' leaders ([`crate::idle`]).
    pub contact: std::sync::Arc<crate::idle::LeaderContact>,
}

impl ClientContext for StatsContext {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        // End of a partition is how the idle policy learns a partition is caught up, not a
        // fault; librdkafka also reports it as a global error.
        if error.rdkafka_error_code() == Some(rdkafka::types::RDKafkaErrorCode::PartitionEOF) {
            return;
        }
        tracing::warn!(%error, reason, "librdkafka error (it retries by itself)");
    }

    fn stats(&self, statistics: Statistics) {
        self.contact
            .report(crate::idle::leaders_reachable(&statistics, &self.topic));
        let Some(topic) = statistics.topics.get(&self.topic) else {
            return;
        };
        for (id, p) in &topic.partitions {
            // librdkafka lists an internal partition -1; `app_offset` is the next offset the
            // application will see, `hi_offset` the log end.
            if *id >= 0 && p.desired && p.hi_offset >= 0 && p.app_offset >= 0 {
                self.status
                    .set_lag(*id, (p.hi_offset - p.app_offset).max(0));
            }
        }
    }
}

impl ConsumerContext for StatsContext {}

/// Prints `events/s, watermark, lag, windows, checkpoint` to stderr every `every` until the
/// process exits (a detached thread).
pub fn spawn_status_line(status: std::sync::Arc<Status>, every: Duration, process: usize) {
    if every.is_zero() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("status".into())
        .spawn(move || {
            let mut last = (Instant::now(), status.events_in.load(Ordering::Relaxed));
            loop {
                std::thread::sleep(every);
                let now = Instant::now();
                let events = status.events_in.load(Ordering::Relaxed);
                let rate = (events - last.1) as f64 / (now - last.0).as_secs_f64().max(1e-3);
                last = (now, events);
                let wm = status
                    .min_watermark_ms()
                    .map_or_else(|| "-".to_string(), format_ms);
                let cp = status.checkpoint_frontier_ms.load(Ordering::Relaxed);
                let cp = if cp == i64::MIN { "-".to_string() } else { format_ms(cp) };
                let lag = status
                    .total_lag()
                    .map_or_else(|| "-".to_string(), |l| l.to_string());
                let paused = match status.paused_workers.load(Ordering::Relaxed) {
                    0 => String::new(),
                    n => format!(" | {n} worker(s) waiting for commits"),
                };
                eprintln!(
                    "[process {process}] {rate:>9.0} events/s | read {events} | rejected {} | late {} | watermark {wm} | lag {lag} | windows {} | checkpoint {cp}{paused}",
                    status.rejected.load(Ordering::Relaxed),
                    status.late.load(Ordering::Relaxed),
                    status.windows.load(Ordering::Relaxed),
                );
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no status line: cannot start its thread");
    }
}

/// UTC epoch ms as `YYYY-MM-DDTHH:MM:SS.sssZ` (or the number when out of range).
pub fn format_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(
        || ms.to_string(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    )
}
