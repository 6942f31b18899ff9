//! The window sink: final window counts → one `page_analytics` ORC file per window.
//!
//! Counts arrive from differential's `count_total` as `((key, count), window_end − 1, +1)`
//! (and the matching retraction at `window_end`, ignored here). They are exchanged by window,
//! so every window has exactly one writer and one file, `w-<window_start>-<window_end>.orc`,
//! whatever the number of workers. A window is written once the input frontier has passed
//! `window_end − 1`: the watermark of every partition is then at or past `window_end`, so no
//! on-time event of it can still come.
//!
//! The operator's output carries no data. It holds a capability for every window it has not
//! yet committed, so the output's frontier is the *committed frontier*: every window with
//! `window_end` at or below it is in a committed file. The checkpoint coordinator reads it.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::{Scope, Stream};

use crate::rows::{window_batch, window_file_name};
use crate::source::WindowKey;
use crate::status::Status;

/// An update of differential's `count_total` output: `((key, count), time, diff)`.
pub type CountUpdate = ((WindowKey, i64), u64, isize);

/// Settings of the window sink.
#[derive(Clone)]
pub struct SinkSettings {
    /// Where files are committed.
    pub tables: hive::HiveTables,
    /// The process's tokio runtime.
    pub runtime: tokio::runtime::Handle,
    /// Windows ending at or before this (UTC epoch ms) were committed before a restart.
    pub skip_windows_until: i64,
    /// Windows ending after this (UTC epoch ms) are not written (`--stop-at-watermark`).
    pub stop_at_ms: Option<i64>,
    /// The process's status figures.
    pub status: Arc<Status>,
}

struct OpenWindow {
    capability: Capability<u64>,
    start_ms: i64,
    end_ms: i64,
    rows: HashMap<(String, String), i64>,
}

struct Committing {
    _capability: Capability<u64>,
    start_ms: i64,
    end_ms: i64,
    batch: RecordBatch,
    task: tokio::task::JoinHandle<Result<hive::CommittedFile, hive::HiveError>>,
    attempts: u32,
    retry_at: Option<Instant>,
}

fn window_hash(start_ms: i64, end_ms: i64) -> u64 {
    let mut h = DefaultHasher::new();
    (start_ms, end_ms).hash(&mut h);
    h.finish()
}

fn spawn_commit(
    s: &SinkSettings,
    start_ms: i64,
    end_ms: i64,
    batch: RecordBatch,
) -> tokio::task::JoinHandle<Result<hive::CommittedFile, hive::HiveError>> {
    let tables = s.tables.clone();
    s.runtime.spawn(async move {
        let dt = hive::PartitionDate::from_epoch_ms(start_ms)?;
        tables
            .commit_file(
                hive::Table::PageAnalytics,
                dt,
                &window_file_name(start_ms, end_ms),
                std::slice::from_ref(&batch),
            )
            .await
    })
}

/// Writes final window counts; returns the committed-frontier stream (no data).
pub fn window_sink<'scope>(
    counts: Stream<'scope, u64, Vec<CountUpdate>>,
    settings: SinkSettings,
) -> Stream<'scope, u64, Vec<()>> {
    let scope: Scope<'scope, u64> = counts.scope();
    let pact = Exchange::new(|u: &CountUpdate| window_hash((u.0).0 .2, (u.0).0 .3));
    counts.unary_frontier::<CapacityContainerBuilder<Vec<()>>, _, _, _>(pact, "WindowSink", move |_capability, info| {
        let activator = scope.activator_for(info.address.clone());
        let s = settings;
        let mut open: BTreeMap<u64, OpenWindow> = BTreeMap::new();
        let mut committing: VecDeque<Committing> = VecDeque::new();
        move |(input, frontier), _output| {
            input.for_each_stamp(|cap, data| {
                for container in data {
                    for (((page, kind, start_ms, end_ms), count), time, diff) in container.drain(..) {
                        if diff <= 0
                            || end_ms <= s.skip_windows_until
                            || s.stop_at_ms.is_some_and(|t| end_ms > t)
                        {
                            continue;
                        }
                        let window = open.entry(time).or_insert_with(|| OpenWindow {
                            capability: cap.delayed(&time, 0),
                            start_ms,
                            end_ms,
                            rows: HashMap::new(),
                        });
                        *window.rows.entry((page, kind)).or_insert(0) += count * diff as i64;
                    }
                }
            });

            // Windows the frontier has passed are final.
            let closed: Vec<u64> = open
                .keys()
                .copied()
                .take_while(|t| !frontier.less_equal(t))
                .collect();
            for t in closed {
                let Some(w) = open.remove(&t) else { continue };
                let mut rows: Vec<(String, String, i64)> =
                    w.rows.into_iter().map(|((p, k), n)| (p, k, n)).collect();
                let batch = window_batch(w.start_ms, w.end_ms, &mut rows);
                let task = spawn_commit(&s, w.start_ms, w.end_ms, batch.clone());
                committing.push_back(Committing {
                    _capability: w.capability,
                    start_ms: w.start_ms,
                    end_ms: w.end_ms,
                    batch,
                    task,
                    attempts: 0,
                    retry_at: None,
                });
            }

            // Finished commits release their capability (dropping the entry).
            let mut still = VecDeque::new();
            while let Some(mut c) = committing.pop_front() {
                if let Some(at) = c.retry_at {
                    if Instant::now() >= at {
                        c.retry_at = None;
                        c.task = spawn_commit(&s, c.start_ms, c.end_ms, c.batch.clone());
                    }
                    still.push_back(c);
                    continue;
                }
                if !c.task.is_finished() {
                    still.push_back(c);
                    continue;
                }
                let result = s.runtime.block_on(&mut c.task).unwrap_or_else(|e| {
                    Err(hive::HiveError::InvalidInput(format!("commit task failed: {e}")))
                });
                match result {
                    Ok(file) => {
                        metrics::counter!("wa_dataflow_windows_emitted_total").increment(1);
                        metrics::counter!("wa_dataflow_window_rows_total")
                            .increment(file.rows as u64);
                        s.status.windows.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(file = %file.url, rows = file.rows, "window committed");
                    }
                    Err(e) => {
                        c.attempts += 1;
                        let wait = Duration::from_millis(500 * 2u64.pow(c.attempts.min(6)));
                        metrics::counter!("wa_dataflow_commit_retries_total", "what" => "window")
                            .increment(1);
                        tracing::warn!(window_start = c.start_ms, window_end = c.end_ms, attempt = c.attempts, error = %e, ?wait, "committing a window failed; retrying");
                        c.retry_at = Some(Instant::now() + wait);
                        still.push_back(c);
                    }
                }
            }
            committing = still;
            if !committing.is_empty() {
                activator.activate_after(Duration::from_millis(20));
            }
        }
    })
}
