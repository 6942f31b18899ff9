//! Result sinks: final rows of a table → ORC files, one set of files per *group*, each group
//! written by exactly one worker, committed once the input frontier has passed the group.
//!
//! A group is a span of timely time `[start, end)` (UTC epoch ms):
//!
//! - `page_analytics` and `visitor_analytics`: a window, one file `w-<window_start>-<window_end>.orc`;
//!   its rows arrive at `window_end − 1`, once differential's counts are final;
//! - `sessions`: a minute of close time, `s-<start>-<end>.orc` in the `dt` of each session's
//!   start; a closed session arrives at its close time − 1.
//!
//! Rows are exchanged by group, so a group has one writer and its file names do not depend
//! on the number of workers. A group is written once the input frontier has passed `end − 1`:
//! no row of it can still come.
//!
//! The operator's output carries no data. It holds a capability at the earliest row time of
//! every group it has not yet committed, so the output's frontier is the sink's *committed
//! frontier*: every row with a time below it is in a committed file. The checkpoint
//! coordinator reads it.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use hive::{PartitionDate, Table};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::{Scope, Stream};
use timely::ExchangeData;

use crate::status::Status;

/// One file of a group: its `dt` partition, its name, its rows.
#[derive(Debug, Clone)]
pub struct GroupFile {
    /// The `dt` partition.
    pub dt: PartitionDate,
    /// The file name, unique in the partition (e.g. `w-<start>-<end>.orc`).
    pub name: String,
    /// The rows, with the table's columns.
    pub batch: RecordBatch,
}

/// How a table's rows become files.
pub struct FileSpec<R> {
    /// The table written.
    pub table: Table,
    /// The group `(start, end)` of a row arriving at timely time `time`; `start ≤ time < end`.
    pub group: fn(&R, u64) -> (i64, i64),
    /// The files of a group from its rows (possibly none for no rows).
    pub files: fn(i64, i64, Vec<R>) -> Vec<GroupFile>,
}

/// Settings shared by the sinks.
#[derive(Clone)]
pub struct SinkSettings {
    /// Where files are committed.
    pub tables: hive::HiveTables,
    /// The process's tokio runtime.
    pub runtime: tokio::runtime::Handle,
    /// The process's status figures.
    pub status: Arc<Status>,
}

struct OpenGroup<R> {
    capability: Capability<u64>,
    start_ms: i64,
    rows: Vec<R>,
}

struct Committing {
    _capability: Capability<u64>,
    start_ms: i64,
    end_ms: i64,
    files: Arc<Vec<GroupFile>>,
    task: tokio::task::JoinHandle<Result<usize, hive::HiveError>>,
    attempts: u32,
    retry_at: Option<Instant>,
}

fn group_hash(start_ms: i64, end_ms: i64) -> u64 {
    let mut h = DefaultHasher::new();
    (start_ms, end_ms).hash(&mut h);
    h.finish()
}

fn spawn_commit(
    s: &SinkSettings,
    table: Table,
    files: Arc<Vec<GroupFile>>,
) -> tokio::task::JoinHandle<Result<usize, hive::HiveError>> {
    let tables = s.tables.clone();
    s.runtime.spawn(async move {
        let mut rows = 0;
        for f in files.iter() {
            let committed = tables
                .commit_file(table, f.dt, &f.name, std::slice::from_ref(&f.batch))
                .await?;
            rows += committed.rows;
        }
        Ok(rows)
    })
}

/// Writes the rows of `spec.table` arriving as `(row, time)`; returns the committed-frontier
/// stream (no data).
pub fn file_sink<'scope, R: ExchangeData>(
    rows: Stream<'scope, u64, Vec<(R, u64)>>,
    spec: FileSpec<R>,
    settings: SinkSettings,
) -> Stream<'scope, u64, Vec<()>> {
    let scope: Scope<'scope, u64> = rows.scope();
    let group = spec.group;
    let pact = Exchange::new(move |(r, t): &(R, u64)| {
        let (start, end) = group(r, *t);
        group_hash(start, end)
    });
    let name = format!("Sink({})", spec.table.name());
    rows.unary_frontier::<CapacityContainerBuilder<Vec<()>>, _, _, _>(pact, &name, move |_capability, info| {
        let activator = scope.activator_for(info.address.clone());
        let s = settings;
        let table = spec.table;
        // Open groups by their end.
        let mut open: BTreeMap<i64, OpenGroup<R>> = BTreeMap::new();
        let mut committing: VecDeque<Committing> = VecDeque::new();
        move |(input, frontier), _output| {
            input.for_each_stamp(|cap, data| {
                for container in data {
                    for (row, time) in container.drain(..) {
                        let (start_ms, end_ms) = (spec.group)(&row, time);
                        let g = open.entry(end_ms).or_insert_with(|| OpenGroup {
                            capability: cap.delayed(&time, 0),
                            start_ms,
                            rows: Vec::new(),
                        });
                        if time < *g.capability.time() {
                            g.capability = cap.delayed(&time, 0);
                        }
                        g.rows.push(row);
                    }
                }
            });

            // Groups the frontier has passed are final.
            let closed: Vec<i64> = open
                .keys()
                .copied()
                .take_while(|end| !frontier.less_equal(&crate::source::to_time(end - 1)))
                .collect();
            for end_ms in closed {
                let Some(g) = open.remove(&end_ms) else { continue };
                let files = Arc::new((spec.files)(g.start_ms, end_ms, g.rows));
                let task = spawn_commit(&s, table, files.clone());
                committing.push_back(Committing {
                    _capability: g.capability,
                    start_ms: g.start_ms,
                    end_ms,
                    files,
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
                        c.task = spawn_commit(&s, table, c.files.clone());
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
                    Ok(rows) => {
                        let t = table.name();
                        metrics::counter!("wa_dataflow_result_files_total", "table" => t)
                            .increment(c.files.len() as u64);
                        metrics::counter!("wa_dataflow_result_rows_total", "table" => t)
                            .increment(rows as u64);
                        if table == Table::PageAnalytics {
                            metrics::counter!("wa_dataflow_windows_emitted_total").increment(1);
                            metrics::counter!("wa_dataflow_window_rows_total")
                                .increment(rows as u64);
                            s.status.windows.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        tracing::debug!(table = t, start = c.start_ms, end = c.end_ms, rows, "group committed");
                    }
                    Err(e) => {
                        c.attempts += 1;
                        let wait = Duration::from_millis(500 * 2u64.pow(c.attempts.min(6)));
                        metrics::counter!("wa_dataflow_commit_retries_total", "what" => table.name())
                            .increment(1);
                        tracing::warn!(table = table.name(), start = c.start_ms, end = c.end_ms, attempt = c.attempts, error = %e, ?wait, "committing result files failed; retrying");
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
