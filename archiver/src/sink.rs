//! The HDFS side: listing the archive at start, and committing rolled files atomically.
//!
//! A commit goes through the process's one HDFS client and `hive`'s atomic write
//! ([`hive::hdfs::Hdfs::write_atomic`]): the whole file under a hidden temporary name
//! (`.part-…<token>.inprogress`, a fresh token per attempt), closed, then renamed to its final
//! name, which it never replaces — a rename whose answer was lost is recognised by the final
//! name holding exactly our length. A failed attempt is written again whole with a block size
//! fitted to the file (see `hive::retry` for why both matter with hdfs-native); each retry is
//! logged at warn and counted in `wa_archiver_commit_retries_total`. The archiver never gives
//! up: after an error `hive` does not retry (e.g. permission denied), the commit waits and
//! starts again, so an HDFS outage delays the archive but never loses or doubles it — the
//! file's records stay in memory meanwhile and nothing past them is committed.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use hive::hdfs::{AtomicWrite, Hdfs};
use hive::WriteRetry;
use tracing::{info, warn};

use crate::buffer::Rolled;
use crate::naming::date_dir;
use crate::recovery::RecoveryPlan;

/// Where the archive lives: the process's HDFS client and the root directory
/// (`/raw/web_analytics`).
pub struct Archive {
    hdfs: Hdfs,
    root: String,
}

/// What one commit wrote.
#[derive(Debug, Clone)]
pub struct Committed {
    /// Full path of the committed file.
    pub path: String,
    /// Bytes in the file (after compression).
    pub bytes: u64,
    /// Time from the first write attempt to the finished rename.
    pub latency: Duration,
}

impl Archive {
    /// Connects to `hdfs_url` (`hdfs://host:port`, or a nameservice resolved through
    /// `HADOOP_CONF_DIR`) for the archive under `root` (an absolute path).
    ///
    /// # Errors
    /// When the URL is invalid or the client cannot be built.
    pub fn connect(hdfs_url: &str, root: &str) -> Result<Self> {
        let hdfs =
            Hdfs::connect(hdfs_url).with_context(|| format!("HDFS client for {hdfs_url}"))?;
        Ok(Self {
            hdfs,
            root: root.trim_end_matches('/').to_string(),
        })
    }

    /// The process's HDFS client.
    pub fn hdfs(&self) -> &Hdfs {
        &self.hdfs
    }

    /// The archive root, without a trailing `/`.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// Lists the archive (creating the root if missing), builds the [`RecoveryPlan`] and
    /// deletes stale temporaries. Only one archiver may write a root at a time.
    ///
    /// # Errors
    /// HDFS errors listing the root or deleting a temporary.
    pub async fn recover(&self) -> Result<RecoveryPlan> {
        self.hdfs
            .mkdirs(&self.root)
            .await
            .with_context(|| format!("creating archive root {}", self.root))?;
        let listing = self
            .hdfs
            .list(&self.root, true)
            .await
            .with_context(|| format!("listing archive root {}", self.root))?;
        let files: Vec<&str> = listing
            .iter()
            .filter(|f| !f.isdir)
            .map(|f| f.path.as_str())
            .collect();
        let plan = RecoveryPlan::from_listing(files);
        for path in &plan.stale_temporaries {
            self.hdfs
                .delete(path)
                .await
                .with_context(|| format!("deleting {path}"))?;
            info!(path = %path, "deleted stale temporary file");
        }
        for path in &plan.foreign {
            warn!(path = %path, "unexpected file under the archive root, left alone");
        }
        Ok(plan)
    }

    /// Commits a rolled file: temporary name, close, rename. Retries until done.
    ///
    /// # Errors
    /// Only if the gzip encoder fails to finish; HDFS errors are retried.
    pub async fn commit(&self, rolled: Rolled) -> Result<Committed> {
        let dir = format!("{}/{}", self.root, date_dir(rolled.file.date));
        let path = format!("{dir}/{}", rolled.name);
        let name = rolled.name;
        let data = Bytes::from(rolled.file.finish().context("finishing gzip stream")?);
        let temp_path = |token: &str| format!("{dir}/{}", name.temp_name(token));
        let write = AtomicWrite {
            target: &path,
            temp_path: &temp_path,
            replace: false,
            retry: WriteRetry {
                attempts: u32::MAX,
                initial: INITIAL_BACKOFF,
                max: MAX_BACKOFF,
            },
        };
        let started = Instant::now();
        let mut backoff = INITIAL_BACKOFF;
        loop {
            let retried = || metrics::counter!("wa_archiver_commit_retries_total").increment(1);
            match self
                .hdfs
                .write_atomic(&write, data.clone(), |_, _| retried())
                .await
            {
                Ok(_) => break,
                Err(e) => {
                    retried();
                    warn!(path = %path, error = %e, retry_in_ms = backoff.as_millis() as u64, "commit failed, writing the file again");
                    tokio::time::sleep(backoff).await;
                    backoff = next_backoff(backoff);
                }
            }
        }
        Ok(Committed {
            path,
            bytes: data.len() as u64,
            latency: started.elapsed(),
        })
    }
}

/// First wait after a failed attempt at committing a file.
const INITIAL_BACKOFF: Duration = Duration::from_millis(200);

/// Longest wait between two attempts at committing a file.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// The wait after `current`: twice as long, at most [`MAX_BACKOFF`].
fn next_backoff(current: Duration) -> Duration {
    (current * 2).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_ten_seconds() {
        let mut wait = Duration::from_millis(200);
        let mut waits = Vec::new();
        for _ in 0..8 {
            waits.push(wait.as_millis());
            wait = next_backoff(wait);
        }
        assert_eq!(waits, vec![200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
    }
}
