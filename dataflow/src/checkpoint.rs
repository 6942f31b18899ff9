//! Checkpoints: where each Kafka partition resumes, stored atomically on HDFS.
//!
//! A checkpoint is taken at a committed frontier `F` (UTC epoch ms): every window with
//! `window_end ≤ F` is in a committed `page_analytics` file. Per Kafka partition it keeps
//! (see `docs/dataflow-design.md`):
//!
//! - `read_offset`: the first offset whose event rows (raw, late, rejected) are *not*
//!   committed; rows below it never get written again;
//! - `resume_offset ≤ read_offset`: where reading restarts — the first offset of an on-time
//!   event of a window still open at `F` (the trap: such an event may sit below offsets
//!   whose rows are committed), or `read_offset` when there is none;
//! - the partition's watermark state just before `resume_offset`, and the idle advances the
//!   first reading made between `resume_offset` and `read_offset`, so a replay judges lateness
//!   exactly as the first reading did;
//! - `replay_from ≤ resume_offset`: where reading restarts so the deduplication state is
//!   rebuilt ([`crate::dedup`]); records before `resume_offset` only feed that state.
//!
//! Entries are per partition, so a checkpoint works for any number of workers. Sources take
//! *cuts* ([`PartitionCut`]) after committing their rows; the coordinator combines one cut of
//! every partition with `F` into a [`Checkpoint`] ([`Checkpoint::from_cuts`]).

use std::collections::BTreeMap;

use hive::hdfs::{AtomicWrite, Hdfs};
use hive::{HiveError, WriteRetry};
use serde::{Deserialize, Serialize};

use crate::watermark::WatermarkState;

/// Format version written into every checkpoint.
pub const VERSION: u32 = 1;

/// The first on-time event of one window in one partition, as a source remembers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenWindow {
    /// `window_end` of the window, UTC epoch ms.
    pub window_end_ms: i64,
    /// Offset of the first on-time event of the window in this partition.
    pub first_offset: i64,
    /// The partition's watermark state just before that event was read.
    pub state: WatermarkState,
    /// Where a replay resuming at `first_offset` must start reading to rebuild the
    /// deduplication state ([`crate::dedup::Deduplicator::rebuild_from`]); `None` when
    /// nothing earlier is needed.
    #[serde(default)]
    pub dedup_from: Option<i64>,
}

/// An advance of a partition's watermark by the idle policy, recorded so that a replay makes
/// it at the same place in the log: the wall clock it came from cannot be read again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdleAdvance {
    /// The partition's next offset when it happened: every record below it was read, none at
    /// or after it.
    pub at_offset: i64,
    /// The idle watermark it reached, UTC epoch ms.
    pub watermark_ms: i64,
}

/// One partition at a source's cut: all its rows below `read_offset` are committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionCut {
    /// Kafka partition.
    pub partition: i32,
    /// First offset not read (and not committed) at the cut.
    pub read_offset: i64,
    /// Watermark state at the cut (before `read_offset`).
    pub state: WatermarkState,
    /// Windows with events below `read_offset` that were not yet known to be committed,
    /// ordered by `window_end_ms`.
    pub open: Vec<OpenWindow>,
    /// Idle advances at offsets from the first open window's `first_offset` on, in offset
    /// order.
    pub idle: Vec<IdleAdvance>,
    /// Where a replay resuming at `read_offset` must start reading to rebuild the
    /// deduplication state; `None` when nothing earlier is needed.
    pub dedup_from: Option<i64>,
}

/// What one source reports after a cut: its partitions, all committed up to the cut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CutReport {
    /// The source's cut counter (0, 1, 2, …), for logs; a later cut of a partition supersedes
    /// an earlier one.
    pub round: u64,
    /// Global index of the reporting worker.
    pub worker: usize,
    /// Partitions of the topic (so the coordinator knows when it holds a cut of each).
    pub partitions_total: usize,
    /// The reporting worker's partitions.
    pub partitions: Vec<PartitionCut>,
}

/// Where one partition resumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionCheckpoint {
    /// First offset whose event rows are not committed.
    pub read_offset: i64,
    /// Offset reading resumes at (≤ `read_offset`).
    pub resume_offset: i64,
    /// Watermark state just before `resume_offset`.
    pub resume_state: WatermarkState,
    /// Offset reading restarts at (≤ `resume_offset`): records from here to
    /// `resume_offset` only rebuild the deduplication state. Absent in checkpoints written
    /// before deduplication existed: `resume_offset`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_from: Option<i64>,
    /// Idle advances the first reading made in `[resume_offset, read_offset]`, in offset
    /// order; a replay repeats them at the same offsets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub idle: Vec<IdleAdvance>,
}

impl PartitionCheckpoint {
    /// Offset reading restarts at: [`PartitionCheckpoint::replay_from`] or `resume_offset`.
    pub fn start_offset(&self) -> i64 {
        self.replay_from
            .map_or(self.resume_offset, |o| o.min(self.resume_offset))
    }
}

/// A checkpoint of the whole dataflow (one per topic).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Format version ([`VERSION`]).
    pub version: u32,
    /// Kafka topic.
    pub topic: String,
    /// Committed frontier `F`, UTC epoch ms: windows with `window_end ≤ F` are committed.
    pub frontier_ms: i64,
    /// When it was written (RFC 3339, UTC); informational.
    pub written_at: String,
    /// Per Kafka partition.
    pub partitions: BTreeMap<i32, PartitionCheckpoint>,
    /// Workers of the run that wrote it: whose session snapshots hold the sessions open at
    /// `F` (`crate::session_store`). `None` in checkpoints written before sessions existed:
    /// the run then starts with no open sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_workers: Option<usize>,
}

/// A checkpoint that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// HDFS refused an operation (the error names the operation and the path).
    #[error(transparent)]
    Hdfs(#[from] HiveError),
    /// The stored file is not a checkpoint of this format, or is for another topic.
    #[error("checkpoint {path} is unusable: {detail}")]
    Invalid {
        /// The path.
        path: String,
        /// What is wrong.
        detail: String,
    },
}

impl Checkpoint {
    /// Combines one cut of every partition with the committed frontier `frontier_ms` (`F`).
    ///
    /// For each partition, `resume_offset` is the smallest `first_offset` of its open windows
    /// ending after `F` (with that window's watermark state), else the cut's `read_offset`.
    pub fn from_cuts<'a>(
        topic: &str,
        frontier_ms: i64,
        cuts: impl IntoIterator<Item = &'a PartitionCut>,
    ) -> Checkpoint {
        let partitions = cuts
            .into_iter()
            .map(|cut| {
                let resume = cut
                    .open
                    .iter()
                    .filter(|w| w.window_end_ms > frontier_ms && w.first_offset < cut.read_offset)
                    .min_by_key(|w| w.first_offset);
                let (resume_offset, resume_state, dedup_from) = match resume {
                    Some(w) => (w.first_offset, w.state, w.dedup_from),
                    None => (cut.read_offset, cut.state, cut.dedup_from),
                };
                let entry = PartitionCheckpoint {
                    read_offset: cut.read_offset,
                    resume_offset,
                    resume_state,
                    replay_from: dedup_from.filter(|o| *o < resume_offset),
                    idle: cut
                        .idle
                        .iter()
                        .filter(|a| (resume_offset..=cut.read_offset).contains(&a.at_offset))
                        .copied()
                        .collect(),
                };
                (cut.partition, entry)
            })
            .collect();
        Checkpoint {
            version: VERSION,
            topic: topic.to_string(),
            frontier_ms,
            written_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            partitions,
            session_workers: None,
        }
    }
}

/// The checkpoint of one topic on HDFS: `<dir>/<topic>/checkpoint.json`, replaced atomically
/// through the process's HDFS client ([`Hdfs::write_atomic`]: written under a hidden
/// temporary name `.checkpoint.json.<token>.tmp` beside it, then renamed over the old one).
#[derive(Clone)]
pub struct CheckpointStore {
    hdfs: Hdfs,
    retry: WriteRetry,
    path: String,
    topic: String,
}

impl std::fmt::Debug for CheckpointStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl CheckpointStore {
    /// The store for `topic` under `dir` (an absolute path) on `hdfs`; a failed write is
    /// written again whole as `retry` allows. Makes no call to HDFS.
    pub fn new(hdfs: Hdfs, retry: WriteRetry, dir: &str, topic: &str) -> Self {
        CheckpointStore {
            hdfs,
            retry,
            path: format!("{}/{topic}/checkpoint.json", dir.trim_end_matches('/')),
            topic: topic.to_string(),
        }
    }

    /// Path of the checkpoint file.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The stored checkpoint; `None` when there is none yet.
    ///
    /// # Errors
    /// [`CheckpointError::Hdfs`] when HDFS cannot be read, [`CheckpointError::Invalid`] for a
    /// file that is not a checkpoint of this version and topic (never silently ignored: that
    /// would reprocess the topic from the start).
    pub async fn load(&self) -> Result<Option<Checkpoint>, CheckpointError> {
        let Some(bytes) = self.hdfs.read(&self.path).await? else {
            return Ok(None);
        };
        let invalid = |detail: String| CheckpointError::Invalid {
            path: self.path.clone(),
            detail,
        };
        let checkpoint: Checkpoint =
            serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
        if checkpoint.version != VERSION {
            return Err(invalid(format!(
                "version {} (this build reads {VERSION})",
                checkpoint.version
            )));
        }
        if checkpoint.topic != self.topic {
            return Err(invalid(format!(
                "it is for topic {:?}, not {:?}",
                checkpoint.topic, self.topic
            )));
        }
        Ok(Some(checkpoint))
    }

    /// Replaces the stored checkpoint atomically.
    ///
    /// # Errors
    /// [`CheckpointError::Hdfs`] once the write's retries are spent; the stored checkpoint is
    /// then the previous one.
    pub async fn store(&self, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        let json = serde_json::to_vec_pretty(checkpoint).map_err(|e| CheckpointError::Invalid {
            path: self.path.clone(),
            detail: e.to_string(),
        })?;
        let (dir, name) = self.path.rsplit_once('/').unwrap_or(("", &self.path));
        let temp_path = |token: &str| format!("{dir}/.{name}.{token}.tmp");
        let write = AtomicWrite {
            target: &self.path,
            temp_path: &temp_path,
            replace: true,
            retry: self.retry,
        };
        self.hdfs
            .write_atomic(&write, bytes::Bytes::from(json), |_, _| {})
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(max: i64) -> WatermarkState {
        WatermarkState {
            max_event_time_ms: Some(max),
            idle_watermark_ms: None,
        }
    }

    #[test]
    fn resume_at_the_oldest_window_still_open_at_the_frontier() {
        let cut = PartitionCut {
            partition: 3,
            read_offset: 100,
            state: state(500),
            open: vec![
                OpenWindow {
                    window_end_ms: 60,
                    first_offset: 2,
                    state: state(1),
                    dedup_from: None,
                },
                OpenWindow {
                    window_end_ms: 120,
                    first_offset: 40,
                    state: state(70),
                    dedup_from: Some(35),
                },
                OpenWindow {
                    window_end_ms: 180,
                    first_offset: 30,
                    state: state(65),
                    dedup_from: Some(12),
                },
            ],
            idle: vec![
                IdleAdvance {
                    at_offset: 20,
                    watermark_ms: 60,
                },
                IdleAdvance {
                    at_offset: 55,
                    watermark_ms: 66,
                },
                IdleAdvance {
                    at_offset: 100,
                    watermark_ms: 90,
                },
            ],
            dedup_from: Some(95),
        };
        // F = 60: the window ending at 60 is committed; 120 and 180 are open, 180 starts lower.
        let cp = Checkpoint::from_cuts("t", 60, [&cut]);
        assert_eq!(
            cp.partitions[&3],
            PartitionCheckpoint {
                read_offset: 100,
                resume_offset: 30,
                resume_state: state(65),
                // Deduplication needs what was read from offset 12 on; the idle advances
                // from the resume offset on are replayed.
                replay_from: Some(12),
                idle: vec![
                    IdleAdvance {
                        at_offset: 55,
                        watermark_ms: 66
                    },
                    IdleAdvance {
                        at_offset: 100,
                        watermark_ms: 90
                    }
                ],
            }
        );
        assert_eq!(cp.partitions[&3].start_offset(), 12);
        // F = 180: nothing open, resume where the rows end.
        let cp = Checkpoint::from_cuts("t", 180, [&cut]);
        assert_eq!(cp.partitions[&3].resume_offset, 100);
        assert_eq!(cp.partitions[&3].resume_state, state(500));
        assert_eq!(cp.partitions[&3].start_offset(), 95);
        assert_eq!(cp.partitions[&3].idle.len(), 1);
    }

    #[test]
    fn round_trips_through_json() {
        let cp = Checkpoint::from_cuts("web", 7, []);
        let json = serde_json::to_string(&cp).unwrap();
        assert_eq!(serde_json::from_str::<Checkpoint>(&json).unwrap(), cp);
    }
}

#[cfg(test)]
mod format_tests {
    use super::*;

    #[test]
    fn checkpoints_written_before_dedup_and_idle_replay_still_load() {
        let old = r#"{"version":1,"topic":"web","frontier_ms":7,"written_at":"x",
            "partitions":{"0":{"read_offset":9,"resume_offset":4,
            "resume_state":{"max_event_time_ms":3,"idle_watermark_ms":null}}}}"#;
        let cp: Checkpoint = serde_json::from_str(old).unwrap();
        let p = &cp.partitions[&0];
        assert_eq!(
            (p.start_offset(), p.replay_from, p.idle.len()),
            (4, None, 0)
        );
    }
}
