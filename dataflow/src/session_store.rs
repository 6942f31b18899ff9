//! Session snapshots on HDFS: what lets a restart rebuild open sessions without re-reading
//! hours of the topic.
//!
//! Worker `i` of `n` writes its sessions ([`crate::sessions::SessionState::snapshot`]) every
//! snapshot interval, as JSON lines, to `<checkpoint dir>/<topic>/sessions/n<n>/w<i>/<T>.jsonl`,
//! where `T` (UTC epoch ms) is its input frontier at that moment: every event before `T` has
//! been applied. The write is atomic (a complete file or none).
//!
//! A checkpoint at frontier `F` records `n`. Each worker's snapshot capability stops the
//! checkpoint from claiming more than its latest `T`, so for every `i` a file with `T ≥ F`
//! exists when the checkpoint is written. [`SessionStore::load`] reads, for every `i`, the
//! file with the smallest such `T`; the operator keeps each session's events before `F`
//! ([`crate::sessions::SessionState::restore`]). Any snapshot at or after `F` gives the same
//! state at `F`: events are applied in order, and a snapshot keeps every session a checkpoint
//! at or after the last written one could still need.
//!
//! A worker deletes its files older than the newest one at or before the last written
//! checkpoint's frontier ([`SessionStore::prune`]). Files of other worker counts (an earlier
//! run of another shape) are not read and are left in place.

use hive::hdfs::{AtomicWrite, Hdfs};
use hive::{HiveError, WriteRetry};

use crate::sessions::Session;

/// A snapshot's body: one JSON value per session (see [`Session`]), one per line.
/// `expected_bytes` sizes the buffer up front (the last body's length: growing a buffer of
/// tens of MB by doubling costs more in fresh pages than the encoding).
///
/// # Errors
/// [`HiveError::InvalidInput`] when a session cannot be encoded (never for sessions built
/// from valid events).
pub fn encode<'a>(
    sessions: impl Iterator<Item = &'a Session>,
    expected_bytes: usize,
) -> Result<Vec<u8>, HiveError> {
    let mut body = Vec::with_capacity(expected_bytes.saturating_add(expected_bytes / 8));
    for s in sessions {
        serde_json::to_writer(&mut body, s)
            .map_err(|e| HiveError::InvalidInput(format!("encoding a session: {e}")))?;
        body.push(b'\n');
    }
    Ok(body)
}

/// The sessions of a snapshot's body as [`encode`] makes it; `path` names it in errors.
///
/// # Errors
/// [`HiveError::InvalidInput`] for a line that is not a session, with its number.
pub fn decode(path: &str, body: &[u8]) -> Result<Vec<Session>, HiveError> {
    body.split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.is_empty())
        .map(|(n, line)| {
            serde_json::from_slice(line)
                .map_err(|e| HiveError::InvalidInput(format!("{path} line {}: {e}", n + 1)))
        })
        .collect()
}

/// Where session snapshots of one topic live.
#[derive(Clone, Debug)]
pub struct SessionStore {
    hdfs: Hdfs,
    retry: WriteRetry,
    root: String,
}

impl SessionStore {
    /// The store under `<dir>/<topic>/sessions` on `hdfs`. Makes no call to HDFS.
    pub fn new(hdfs: Hdfs, retry: WriteRetry, dir: &str, topic: &str) -> Self {
        SessionStore {
            hdfs,
            retry,
            root: format!("{}/{topic}/sessions", dir.trim_end_matches('/')),
        }
    }

    /// Directory of worker `index` of `workers`.
    pub fn dir(&self, index: usize, workers: usize) -> String {
        format!("{}/n{workers}/w{index}", self.root)
    }

    /// Snapshot times (UTC epoch ms) of worker `index` of `workers`, ascending.
    ///
    /// # Errors
    /// [`HiveError::Hdfs`] when the directory cannot be listed.
    pub async fn times(&self, index: usize, workers: usize) -> Result<Vec<i64>, HiveError> {
        let mut times: Vec<i64> = self
            .hdfs
            .list(&self.dir(index, workers), false)
            .await?
            .into_iter()
            .filter_map(|f| {
                hive::hdfs::base_name(&f.path)
                    .strip_suffix(".jsonl")?
                    .parse()
                    .ok()
            })
            .collect();
        times.sort_unstable();
        Ok(times)
    }

    /// Writes worker `index`'s snapshot at `at_ms`: `body` as [`encode`] makes it.
    ///
    /// # Errors
    /// [`HiveError`] once the write's retries are spent.
    pub async fn write(
        &self,
        index: usize,
        workers: usize,
        at_ms: i64,
        body: Vec<u8>,
    ) -> Result<(), HiveError> {
        let dir = self.dir(index, workers);
        let target = format!("{dir}/{at_ms}.jsonl");
        let temp_path = |token: &str| format!("{dir}/.{at_ms}.jsonl.{token}.tmp");
        let write = AtomicWrite {
            target: &target,
            temp_path: &temp_path,
            replace: true,
            retry: self.retry,
        };
        self.hdfs
            .write_atomic(&write, bytes::Bytes::from(body), |_, _| {})
            .await?;
        Ok(())
    }

    /// Deletes worker `index`'s snapshots older than its newest one at or before
    /// `checkpoint_ms` (the frontier of the last written checkpoint): a later checkpoint
    /// never needs them.
    ///
    /// # Errors
    /// [`HiveError::Hdfs`] when listing or deleting fails.
    pub async fn prune(
        &self,
        index: usize,
        workers: usize,
        checkpoint_ms: i64,
    ) -> Result<(), HiveError> {
        let times = self.times(index, workers).await?;
        let Some(keep) = times.iter().copied().filter(|t| *t <= checkpoint_ms).max() else {
            return Ok(());
        };
        let dir = self.dir(index, workers);
        for t in times.into_iter().filter(|t| *t < keep) {
            self.hdfs.delete(&format!("{dir}/{t}.jsonl")).await?;
        }
        Ok(())
    }

    /// The sessions of every worker of a run of `workers` workers, each from its earliest
    /// snapshot at or after `frontier_ms`.
    ///
    /// # Errors
    /// [`HiveError::InvalidInput`] when a worker has no such snapshot or one that does not
    /// parse (the checkpoint cannot be resumed exactly: never ignored), [`HiveError::Hdfs`]
    /// when HDFS cannot be read.
    pub async fn load(&self, workers: usize, frontier_ms: i64) -> Result<Vec<Session>, HiveError> {
        let mut all = Vec::new();
        for index in 0..workers {
            let times = self.times(index, workers).await?;
            let Some(at) = times.into_iter().find(|t| *t >= frontier_ms) else {
                return Err(HiveError::InvalidInput(format!(
                    "no session snapshot at or after the checkpoint's frontier {frontier_ms} in {}",
                    self.dir(index, workers)
                )));
            };
            let path = format!("{}/{at}.jsonl", self.dir(index, workers));
            let bytes = self.hdfs.read(&path).await?.ok_or_else(|| {
                HiveError::InvalidInput(format!("session snapshot {path} vanished while read"))
            })?;
            all.extend(decode(&path, &bytes)?);
        }
        Ok(all)
    }
}
