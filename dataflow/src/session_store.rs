//! Session snapshots on HDFS: what lets a restart rebuild open sessions without re-reading
//! hours of the topic.
//!
//! Worker `i` of `n` writes snapshots of its sessions every snapshot interval, as JSON lines,
//! to `<checkpoint dir>/<topic>/sessions/n<n>/w<i>/`, each named by `T` (UTC epoch ms), its
//! input frontier at that moment: every event before `T` has been applied. A write is atomic
//! (a complete file or none).
//!
//! **Full snapshots and parts.** Encoding every open session each interval costs as much as
//! the state is large, on the worker thread. So a worker writes a full snapshot
//! (`<T>.jsonl`) only to start a sequence (its first snapshot, or the one after a failed
//! write), and then parts (`<T>.from-<S>.jsonl`): the sessions changed since the previous
//! snapshot, plus a rotating share of the unchanged ones
//! ([`crate::sessions::SnapshotPart`]). `S` is the time of the earliest file the part needs:
//! overlaying the files from `S` to `T`, later versions of a session (keyed by `session_id`
//! and start) replacing earlier ones, gives every session kept at `T` as it was at `T`
//! ([`overlay`]). At most [`ROTATION`] files are overlaid.
//!
//! A checkpoint at frontier `F` records `n`. Each worker's snapshot capability stops the
//! checkpoint from claiming more than its latest `T`, so for every `i` a file with `T ≥ F`
//! exists when the checkpoint is written. [`SessionStore::load`] overlays, for every `i`, the
//! files of the first `T ≥ F`; the operator keeps each session's events before `F`
//! ([`crate::sessions::SessionState::restore`]). Any state at or after `F` gives the same
//! state at `F`: events are applied in order. Sessions the overlay has that the worker had
//! already dropped are closed ones a checkpoint at or before `F` committed, and the restore
//! drops them again.
//!
//! After each full snapshot at `T` a worker deletes its files after `T`: they are left from a
//! run that crashed after the checkpoint this run resumed from, and must not be overlaid with
//! this run's. After every snapshot it deletes the files older than the `S` of its newest
//! file at or before the last written checkpoint's frontier ([`SessionStore::prune`]). Files
//! of other worker counts (an earlier run of another shape) are not read and are left in
//! place.

use hive::hdfs::{AtomicWrite, Hdfs};
use hive::{HiveError, WriteRetry};

use std::collections::HashMap;

use crate::sessions::Session;

/// Parts after which every session was written again: a restore overlays at most this many
/// files per worker, and each part carries about `1 / ROTATION` of the unchanged sessions.
pub const ROTATION: u64 = 16;

/// One snapshot file: its time and the time of the earliest file it needs, UTC epoch ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SnapshotFile {
    /// `T`: every event before it had been applied.
    pub at_ms: i64,
    /// `S ≤ T`: the files from `S` to `T` overlaid hold the state at `T`; `S = T` for a full
    /// snapshot.
    pub from_ms: i64,
}

impl SnapshotFile {
    /// Its name in a worker's directory: `<T>.jsonl` or `<T>.from-<S>.jsonl`.
    pub fn name(&self) -> String {
        if self.from_ms == self.at_ms {
            format!("{}.jsonl", self.at_ms)
        } else {
            format!("{}.from-{}.jsonl", self.at_ms, self.from_ms)
        }
    }

    /// The file a name given by [`SnapshotFile::name`] stands for; `None` for other names.
    pub fn parse(name: &str) -> Option<SnapshotFile> {
        let stem = name.strip_suffix(".jsonl")?;
        let (at, from) = match stem.split_once(".from-") {
            Some((at, from)) => (at.parse().ok()?, from.parse().ok()?),
            None => {
                let at = stem.parse().ok()?;
                (at, at)
            }
        };
        (from <= at).then_some(SnapshotFile {
            at_ms: at,
            from_ms: from,
        })
    }
}

/// The sessions of snapshot files overlaid, `files` in the order written: a session (keyed by
/// `session_id` and start) in a later file replaces the same session in an earlier one.
pub fn overlay(files: impl IntoIterator<Item = Vec<Session>>) -> Vec<Session> {
    let mut by_key: HashMap<(String, i64), Session> = HashMap::new();
    for file in files {
        for s in file {
            by_key.insert((s.session_id.clone(), s.start_ms()), s);
        }
    }
    by_key.into_values().collect()
}

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

    /// Snapshot files of worker `index` of `workers`, by time (a full snapshot after a part
    /// of the same time).
    ///
    /// # Errors
    /// [`HiveError::Hdfs`] when the directory cannot be listed.
    pub async fn files(
        &self,
        index: usize,
        workers: usize,
    ) -> Result<Vec<SnapshotFile>, HiveError> {
        let mut files: Vec<SnapshotFile> = self
            .hdfs
            .list(&self.dir(index, workers), false)
            .await?
            .into_iter()
            .filter_map(|f| SnapshotFile::parse(hive::hdfs::base_name(&f.path)))
            .collect();
        files.sort_unstable();
        Ok(files)
    }

    /// Writes worker `index`'s snapshot `file`: `body` as [`encode`] makes it. After a full
    /// snapshot, deletes the worker's files of later times (left by a crashed run).
    ///
    /// # Errors
    /// [`HiveError`] once the write's retries are spent, or when the later files cannot be
    /// listed or deleted.
    pub async fn write(
        &self,
        index: usize,
        workers: usize,
        file: SnapshotFile,
        body: Vec<u8>,
    ) -> Result<(), HiveError> {
        let dir = self.dir(index, workers);
        let name = file.name();
        let target = format!("{dir}/{name}");
        let temp_path = |token: &str| format!("{dir}/.{name}.{token}.tmp");
        let write = AtomicWrite {
            target: &target,
            temp_path: &temp_path,
            replace: true,
            retry: self.retry,
        };
        self.hdfs
            .write_atomic(&write, bytes::Bytes::from(body), |_, _| {})
            .await?;
        if file.from_ms == file.at_ms {
            for later in self.files(index, workers).await? {
                if later.at_ms > file.at_ms {
                    self.hdfs.delete(&format!("{dir}/{}", later.name())).await?;
                }
            }
        }
        Ok(())
    }

    /// Deletes worker `index`'s snapshot files older than the `S` of its newest file at or
    /// before `checkpoint_ms` (the frontier of the last written checkpoint): a restore at that
    /// checkpoint or a later one never reads them.
    ///
    /// # Errors
    /// [`HiveError::Hdfs`] when listing or deleting fails.
    pub async fn prune(
        &self,
        index: usize,
        workers: usize,
        checkpoint_ms: i64,
    ) -> Result<(), HiveError> {
        let files = self.files(index, workers).await?;
        let Some(keep) = files.iter().filter(|f| f.at_ms <= checkpoint_ms).max() else {
            return Ok(());
        };
        let keep_from = keep.from_ms;
        let dir = self.dir(index, workers);
        for f in files.iter().filter(|f| f.at_ms < keep_from) {
            self.hdfs.delete(&format!("{dir}/{}", f.name())).await?;
        }
        Ok(())
    }

    /// The sessions of every worker of a run of `workers` workers at its first snapshot at or
    /// after `frontier_ms` (a full one, or a part overlaid on the files it needs).
    ///
    /// # Errors
    /// [`HiveError::InvalidInput`] when a worker has no such snapshot or one that does not
    /// parse (the checkpoint cannot be resumed exactly: never ignored), [`HiveError::Hdfs`]
    /// when HDFS cannot be read.
    pub async fn load(&self, workers: usize, frontier_ms: i64) -> Result<Vec<Session>, HiveError> {
        let mut all = Vec::new();
        for index in 0..workers {
            let dir = self.dir(index, workers);
            let files = self.files(index, workers).await?;
            // The first time at or after the frontier; of two files of that time, the full one.
            let Some(chosen) = files
                .iter()
                .filter(|f| f.at_ms >= frontier_ms)
                .min_by_key(|f| (f.at_ms, std::cmp::Reverse(f.from_ms)))
                .copied()
            else {
                return Err(HiveError::InvalidInput(format!(
                    "no session snapshot at or after the checkpoint's frontier {frontier_ms} in {dir}"
                )));
            };
            if !files.iter().any(|f| f.at_ms == chosen.from_ms) {
                return Err(HiveError::InvalidInput(format!(
                    "session snapshot {dir}/{} needs the one at {}, which is missing",
                    chosen.name(),
                    chosen.from_ms
                )));
            }
            let mut parts = Vec::new();
            for f in files
                .iter()
                .filter(|f| f.at_ms >= chosen.from_ms && f.at_ms <= chosen.at_ms)
            {
                let path = format!("{dir}/{}", f.name());
                let bytes = self.hdfs.read(&path).await?.ok_or_else(|| {
                    HiveError::InvalidInput(format!("session snapshot {path} vanished while read"))
                })?;
                parts.push(decode(&path, &bytes)?);
            }
            all.extend(overlay(parts));
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_say_time_and_the_earliest_file_needed() {
        let full = SnapshotFile {
            at_ms: 60_000,
            from_ms: 60_000,
        };
        let part = SnapshotFile {
            at_ms: 70_000,
            from_ms: 40_000,
        };
        assert_eq!(full.name(), "60000.jsonl");
        assert_eq!(part.name(), "70000.from-40000.jsonl");
        for f in [full, part] {
            assert_eq!(SnapshotFile::parse(&f.name()), Some(f));
        }
        for other in [
            "x.jsonl",
            "60000.json",
            ".60000.jsonl.abc.tmp",
            "1.from-2.jsonl",
            "1.from-.jsonl",
        ] {
            assert_eq!(SnapshotFile::parse(other), None, "{other}");
        }
        // A full file sorts after a part of the same time: overlaid last, it wins.
        let same_time_part = SnapshotFile {
            at_ms: 60_000,
            from_ms: 50_000,
        };
        assert!(same_time_part < full);
    }

    #[test]
    fn a_later_file_replaces_the_same_session_only() {
        let session = |id: &str, start: i64, last: i64| -> Session {
            let events: Vec<String> = [start, last]
                .iter()
                .map(|t| format!(r#"[{t},0,{t},"/","Other"]"#))
                .collect();
            serde_json::from_str(&format!(
                r#"["{id}","u",null,null,null,[{}],null]"#,
                events.join(",")
            ))
            .expect("a session")
        };
        let first = vec![session("a", 0, 10), session("b", 0, 10)];
        let second = vec![session("a", 0, 20), session("b", 500, 600)];
        let mut got = overlay([first, second]);
        got.sort_by_key(|s| (s.session_id.clone(), s.start_ms()));
        let got: Vec<(&str, i64, i64)> = got
            .iter()
            .map(|s| (s.session_id.as_str(), s.start_ms(), s.last_ms()))
            .collect();
        assert_eq!(got, [("a", 0, 20), ("b", 0, 10), ("b", 500, 600)]);
    }
}
