//! The checkpoint coordinator (worker 0): cut reports + committed frontier → checkpoint.
//!
//! Every source reports its cuts; the coordinator keeps the latest cut of each partition (a
//! later cut of a partition supersedes an earlier one, and each is self-consistent, so cuts
//! taken at different moments combine). Once it holds a cut of every partition, and whenever a
//! new cut arrives, it writes [`Checkpoint::from_cuts`] atomically at the frontier `F` of
//! [`checkpoint_frontier`]: the committed frontier `G` (the frontier of the window sink's
//! output, at or past the end of every committed window), capped by the stop watermark and by
//! the lowest watermark of the cuts ([`cuts_watermark`]), and never below the previous
//! checkpoint's. Sources only forget windows below that, so every cut still knows the windows
//! open at `F`. Then it downgrades its own output capability to `F`. Sources probe that
//! output, so they learn which windows no longer need remembering, and the probe never runs
//! ahead of a written checkpoint.
//!
//! After each checkpoint it also reports the read offsets to the Kafka consumer group (lag
//! monitoring only) and has the [`DayMarker`] write `_SUCCESS` into every `dt` partition the
//! checkpoint proves complete (and, at start-up, those the restored checkpoint proves), and
//! hands its frontier to the results [`Feed`], which publishes the groups it made final. A
//! run that reached its stop watermark ends only once the feed has published through the
//! last checkpoint, or after `--results-drain-timeout`.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::{Scope, Stream};

use crate::checkpoint::{Checkpoint, CheckpointStore, CutReport, PartitionCut};
use crate::days::{DayMarker, DayRules};
use crate::feed::task::{Feed, FeedSettings};
use crate::source::to_time;
use crate::status::{format_ms, Status};
use crate::watermark::PartitionWatermark;

/// Settings of the coordinator.
#[derive(Clone)]
pub struct CoordinatorSettings {
    /// Kafka topic.
    pub topic: Arc<str>,
    /// Where the checkpoint goes.
    pub store: CheckpointStore,
    /// The checkpoint this run started from.
    pub restored: Option<Arc<Checkpoint>>,
    /// Stop watermark (UTC epoch ms): checkpoints never claim more.
    pub stop_at_ms: Option<i64>,
    /// `--max-out-of-orderness`, ms: turns the cuts' watermark states into watermarks.
    pub max_out_of_orderness_ms: i64,
    /// Consumer settings for reporting offsets to the group.
    pub kafka: ClientConfig,
    /// When a day of each table is complete (`_SUCCESS`).
    pub day_rules: DayRules,
    /// Tables (for `_SUCCESS` markers).
    pub tables: hive::HiveTables,
    /// The process's tokio runtime.
    pub runtime: tokio::runtime::Handle,
    /// The process's status figures.
    pub status: Arc<Status>,
    /// The results feed (process 0, unless `--no-results-feed`).
    pub feed: Option<FeedSettings>,
}

struct Writing {
    checkpoint: Checkpoint,
    task: tokio::task::JoinHandle<Result<(), crate::checkpoint::CheckpointError>>,
    attempts: u32,
    retry_at: Option<Instant>,
}

/// The lowest watermark (UTC epoch ms) of `cuts`, the latest cut of every partition; a
/// partition without a watermark yet counts as `i64::MIN`, and so do no cuts at all.
pub fn cuts_watermark<'a>(
    max_out_of_orderness_ms: i64,
    cuts: impl IntoIterator<Item = &'a PartitionCut>,
) -> i64 {
    cuts.into_iter()
        .map(|cut| {
            PartitionWatermark::from_state(max_out_of_orderness_ms, cut.state)
                .watermark_ms()
                .unwrap_or(i64::MIN)
        })
        .min()
        .unwrap_or(i64::MIN)
}

/// The frontier of the next checkpoint: `max(previous, min(committed, stop, cuts_watermark))`.
///
/// `committed` (`G`) bounds it because windows ending at or before `F` are never produced
/// again; `stop` because a run that stops there does not write the windows after it; and the
/// cuts' watermark because after a restart every record at or after a partition's
/// `read_offset` is judged again from the watermark at the cut: only with `F` at or below it
/// is every window ending at or before `F` made of records below `read_offset`, whose
/// judgement the replay repeats exactly (`docs/dataflow-design.md`, Cuts). The previous
/// frontier was vouched for by an earlier checkpoint with no larger read offsets.
pub fn checkpoint_frontier(
    previous: i64,
    committed: i64,
    stop_at: Option<i64>,
    cuts_watermark: i64,
) -> i64 {
    committed
        .min(stop_at.unwrap_or(i64::MAX))
        .min(cuts_watermark)
        .max(previous)
}

/// Builds the coordinator; its output (no data) has the last checkpoint's frontier.
pub fn coordinator<'scope>(
    cuts: Stream<'scope, u64, Vec<CutReport>>,
    committed: Stream<'scope, u64, Vec<()>>,
    settings: CoordinatorSettings,
) -> Stream<'scope, u64, Vec<()>> {
    let scope: Scope<'scope, u64> = cuts.scope();
    let is_leader = scope.index() == 0;
    let peers = scope.peers();
    cuts.binary_frontier::<_, CapacityContainerBuilder<Vec<()>>, _, _, _, _>(
        committed,
        Exchange::new(|_: &CutReport| 0),
        Pipeline,
        "Checkpoint",
        move |capability, info| {
            let activator = scope.activator_for(info.address.clone());
            let s = settings;
            let mut last_frontier = s.restored.as_ref().map_or(i64::MIN, |c| c.frontier_ms);
            let mut days = is_leader
                .then(|| DayMarker::new(s.tables.clone(), s.day_rules, s.runtime.clone()));
            if let (Some(days), Some(restored)) = (days.as_mut(), &s.restored) {
                // Days the restored checkpoint proves complete: their markers may be missing
                // (a crash between checkpoint and marker, or a run that did not write them).
                days.checkpoint_written(restored.frontier_ms);
            }
            let mut feed = if is_leader {
                s.feed.clone().map(|f| Feed::start(f, &s.runtime))
            } else {
                None
            };
            if let (Some(feed), Some(restored)) = (feed.as_mut(), &s.restored) {
                // Groups the restored checkpoint made final that the feed may not have
                // published yet (it re-sends from its stored frontier).
                feed.checkpoint_written(restored.frontier_ms, &restored.written_at);
            }
            let mut capability = if is_leader {
                let mut c = capability;
                c.downgrade(&to_time(last_frontier));
                Some(c)
            } else {
                None
            };
            let group = if is_leader {
                // It only reports offsets: no statistics (nobody reads them, and unserved
                // they pile up in its queue), and it is polled after each commit.
                let mut config = s.kafka.clone();
                config.set("statistics.interval.ms", "0");
                config.create::<BaseConsumer>().ok()
            } else {
                None
            };
            let mut latest: BTreeMap<i32, PartitionCut> = BTreeMap::new();
            let mut fresh_cuts = false;
            let mut partitions_total = usize::MAX;
            let mut writing: Option<Writing> = None;
            move |(cuts, cuts_frontier), (committed, committed_frontier), _output| {
                cuts.for_each_stamp(|_, data| {
                    for container in data {
                        for report in container.drain(..) {
                            partitions_total = report.partitions_total;
                            for cut in report.partitions {
                                latest.insert(cut.partition, cut);
                            }
                            fresh_cuts = true;
                        }
                    }
                });
                committed.for_each_stamp(|_, data| {
                    for container in data {
                        container.clear();
                    }
                });
                if capability.is_none() {
                    return;
                }
                if let Some(days) = days.as_mut() {
                    days.poll();
                }

                if let Some(w) = writing.as_mut() {
                    if let Some(at) = w.retry_at {
                        if Instant::now() >= at {
                            w.retry_at = None;
                            let (store, cp) = (s.store.clone(), w.checkpoint.clone());
                            w.task = s.runtime.spawn(async move { store.store(&cp).await });
                        }
                    } else if w.task.is_finished() {
                        let result = s.runtime.block_on(&mut w.task).unwrap_or_else(|e| {
                            Err(crate::checkpoint::CheckpointError::Invalid {
                                path: s.store.path().to_string(),
                                detail: format!("write task failed: {e}"),
                            })
                        });
                        match result {
                            Ok(()) => {
                                let Some(done) = writing.take() else { return };
                                last_frontier = done.checkpoint.frontier_ms;
                                if let Some(c) = capability.as_mut() {
                                    let t = to_time(last_frontier);
                                    if *c.time() < t {
                                        c.downgrade(&t);
                                    }
                                }
                                after_checkpoint(&s, &done.checkpoint, group.as_ref());
                                if let Some(days) = days.as_mut() {
                                    days.checkpoint_written(done.checkpoint.frontier_ms);
                                }
                                if let Some(feed) = feed.as_mut() {
                                    feed.checkpoint_written(
                                        done.checkpoint.frontier_ms,
                                        &done.checkpoint.written_at,
                                    );
                                }
                            }
                            Err(e) => {
                                w.attempts += 1;
                                let wait = Duration::from_millis(500 * 2u64.pow(w.attempts.min(6)));
                                metrics::counter!("wa_dataflow_commit_retries_total", "what" => "checkpoint").increment(1);
                                tracing::warn!(attempt = w.attempts, error = %e, ?wait, "writing the checkpoint failed; retrying");
                                w.retry_at = Some(Instant::now() + wait);
                            }
                        }
                    }
                }

                let committed_ms = committed_frontier
                    .frontier()
                    .first()
                    .map_or(i64::MAX, |t| i64::try_from(*t).unwrap_or(i64::MAX));
                let frontier = checkpoint_frontier(
                    last_frontier,
                    committed_ms,
                    s.stop_at_ms,
                    cuts_watermark(s.max_out_of_orderness_ms, latest.values()),
                );
                if writing.is_none()
                    && latest.len() >= partitions_total
                    && (fresh_cuts || frontier > last_frontier)
                {
                    fresh_cuts = false;
                    let mut checkpoint = Checkpoint::from_cuts(&s.topic, frontier, latest.values());
                    checkpoint.session_workers = Some(peers);
                    let (store, cp) = (s.store.clone(), checkpoint.clone());
                    let task = s.runtime.spawn(async move { store.store(&cp).await });
                    writing = Some(Writing {
                        checkpoint,
                        task,
                        attempts: 0,
                        retry_at: None,
                    });
                }

                // Every source has finished (stop watermark reached), the window sink has
                // committed its last window, the last checkpoint (at the stop watermark) is
                // written, its days are marked and the results feed has published through it
                // (or `--results-drain-timeout` passed): release the output, letting the
                // dataflow complete. (Without waiting for the sink, a checkpoint taken on the final cuts
                // while the last windows were still being committed would end the run with a
                // frontier short of the stop watermark.)
                if cuts_frontier.is_empty()
                    && committed_frontier.is_empty()
                    && writing.is_none()
                    && !fresh_cuts
                    && frontier <= last_frontier
                    && days.as_mut().is_none_or(DayMarker::is_idle)
                    && feed.as_mut().is_none_or(Feed::is_drained)
                {
                    capability = None;
                    return;
                }
                activator.activate_after(Duration::from_millis(50));
            }
        },
    )
}

fn after_checkpoint(
    s: &CoordinatorSettings,
    checkpoint: &Checkpoint,
    group: Option<&BaseConsumer>,
) {
    metrics::counter!("wa_dataflow_checkpoints_total").increment(1);
    metrics::gauge!("wa_dataflow_checkpoint_frontier_ms").set(checkpoint.frontier_ms as f64);
    let written_ms = chrono::Utc::now().timestamp_millis();
    metrics::gauge!("wa_dataflow_checkpoint_written_ms").set(written_ms as f64);
    s.status
        .checkpoint_frontier_ms
        .store(checkpoint.frontier_ms, Ordering::Relaxed);
    tracing::debug!(frontier = %format_ms(checkpoint.frontier_ms), partitions = checkpoint.partitions.len(), "checkpoint written");

    if let Some(consumer) = group {
        let mut tpl = TopicPartitionList::new();
        for (p, c) in &checkpoint.partitions {
            let _ = tpl.add_partition_offset(&s.topic, *p, Offset::Offset(c.read_offset));
        }
        if let Err(e) = consumer.commit(&tpl, CommitMode::Async) {
            tracing::debug!(error = %e, "reporting offsets to the consumer group failed");
        }
        // Serves what the client has queued (earlier commits' results, errors) without
        // waiting; it has no partitions assigned, so no record comes.
        if let Some(Err(e)) = consumer.poll(Duration::ZERO) {
            tracing::debug!(error = %e, "consumer group client");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::PartitionCut;
    use crate::watermark::WatermarkState;

    fn cut(partition: i32, max_event_time_ms: Option<i64>, idle: Option<i64>) -> PartitionCut {
        PartitionCut {
            partition,
            read_offset: 10,
            state: WatermarkState {
                max_event_time_ms,
                idle_watermark_ms: idle,
            },
            open: Vec::new(),
            idle: Vec::new(),
            dedup_from: None,
        }
    }

    #[test]
    fn the_cuts_watermark_is_the_lowest_partition_watermark() {
        // Lateness 1 000: watermarks 9 000, 4 000 and (idle) 7 000.
        let cuts = [
            cut(0, Some(10_000), None),
            cut(1, Some(5_000), None),
            cut(2, Some(2_000), Some(7_000)),
        ];
        assert_eq!(cuts_watermark(1_000, &cuts), 4_000);
        // A partition without a watermark holds everything back, and so do no cuts.
        let with_empty = [cut(0, Some(10_000), None), cut(1, None, None)];
        assert_eq!(cuts_watermark(1_000, &with_empty), i64::MIN);
        assert_eq!(cuts_watermark(1_000, &[]), i64::MIN);
    }

    #[test]
    fn the_frontier_is_capped_by_the_committed_frontier_the_stop_and_the_cuts() {
        // The committed frontier, the stop and the cuts' watermark: the lowest wins.
        assert_eq!(checkpoint_frontier(0, 300, None, 500), 300);
        assert_eq!(checkpoint_frontier(0, 300, Some(200), 500), 200);
        // The cap: windows committed past the cuts' watermark are not vouched for yet.
        assert_eq!(checkpoint_frontier(0, 300, Some(400), 250), 250);
        // Sources that finished: the committed frontier is empty (i64::MAX).
        assert_eq!(checkpoint_frontier(0, i64::MAX, Some(400), 900), 400);
        assert_eq!(checkpoint_frontier(0, i64::MAX, None, 900), 900);
        // Never below the previous checkpoint's frontier (after a restart the first cuts may
        // lag it, and a partition without a watermark counts as the minimum).
        assert_eq!(checkpoint_frontier(350, 300, None, 500), 350);
        assert_eq!(checkpoint_frontier(350, 900, None, i64::MIN), 350);
        assert_eq!(checkpoint_frontier(i64::MIN, 900, None, i64::MIN), i64::MIN);
    }
}
