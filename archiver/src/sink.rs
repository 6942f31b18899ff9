//! The HDFS side: listing the archive at start, and committing rolled files atomically.
//!
//! A commit writes the whole file under its hidden temporary name, closes it (the NameNode
//! then knows its full length and replicas), and renames it to its final name — HDFS rename
//! is atomic, so a reader sees a file completely or not at all. Failures are retried with
//! backoff until they succeed: the file's records stay in memory meanwhile and nothing past
//! them is committed, so an HDFS outage delays the archive but never loses or doubles it.
//!
//! A retry writes the whole file again: hdfs-native cannot route a new block around a
//! DataNode that is down but not yet declared dead by the NameNode, so such a write fails as a
//! whole (see `hive::retry` for the details), and its maintainer advises writing again while
//! the data is at hand. The failed attempt's temporary file is deleted first (it may still be
//! open for writing under our lease), each retry is logged at warn and counted in
//! `wa_archiver_commit_retries_total`. A file is created with a block size that fits it
//! ([`block_size_for`]): the block of a failed attempt stays scheduled on its DataNodes for
//! 10–20 minutes at that size, and with HDFS's default 128 MiB, retries during a DataNode
//! outage can make the surviving DataNode look full to the NameNode.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use hdfs_native::{Client, WriteOptions};
use tracing::{info, warn};

use crate::buffer::Rolled;
use crate::naming::date_dir;
use crate::recovery::RecoveryPlan;

/// Where the archive lives: an HDFS client and the root directory (`/raw/web_analytics`).
pub struct Archive {
    client: Client,
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
        let client = hdfs_native::ClientBuilder::new()
            .with_url(hdfs_url)
            .build()
            .with_context(|| format!("HDFS client for {hdfs_url}"))?;
        Ok(Self {
            client,
            root: root.trim_end_matches('/').to_string(),
        })
    }

    /// The HDFS client.
    pub fn client(&self) -> &Client {
        &self.client
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
        self.client
            .mkdirs(&self.root, 0o755, true)
            .await
            .with_context(|| format!("creating archive root {}", self.root))?;
        let listing = self
            .client
            .list_status(&self.root, true)
            .await
            .with_context(|| format!("listing archive root {}", self.root))?;
        let files: Vec<&str> = listing
            .iter()
            .filter(|f| !f.isdir)
            .map(|f| f.path.as_str())
            .collect();
        let plan = RecoveryPlan::from_listing(files);
        for path in &plan.stale_temporaries {
            self.client
                .delete(path, false)
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
        let temp = format!("{dir}/{}", rolled.name.temp_name());
        let path = format!("{dir}/{}", rolled.name);
        let data = Bytes::from(rolled.file.finish().context("finishing gzip stream")?);
        let started = Instant::now();
        let mut backoff = Duration::from_millis(200);
        loop {
            match self.try_commit(&temp, &path, data.clone()).await {
                Ok(()) => break,
                Err(e) => {
                    // A rename that succeeded on the NameNode but whose answer was lost looks
                    // like a failure: the final name is there with our length.
                    if let Ok(info) = self.client.get_file_info(&path).await {
                        if info.length == data.len() {
                            break;
                        }
                    }
                    if let Err(e) = self.client.delete(&temp, false).await {
                        warn!(path = %temp, error = %e, "cannot delete the failed attempt's temporary file");
                    }
                    metrics::counter!("wa_archiver_commit_retries_total").increment(1);
                    warn!(path = %path, error = %format!("{e:#}"), retry_in_ms = backoff.as_millis() as u64, "commit failed, writing the file again");
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

    /// One attempt: write the whole file under its temporary name, close, rename.
    async fn try_commit(&self, temp: &str, path: &str, data: Bytes) -> Result<()> {
        // CREATE|OVERWRITE: a temporary left by an earlier failed attempt is replaced.
        let options = WriteOptions {
            overwrite: true,
            create_parent: true,
            block_size: Some(block_size_for(data.len())),
            ..Default::default()
        };
        let mut writer = self
            .client
            .create(temp, options)
            .await
            .with_context(|| format!("creating {temp}"))?;
        writer
            .write_bytes(data)
            .await
            .with_context(|| format!("writing {temp}"))?;
        writer
            .close()
            .await
            .with_context(|| format!("closing {temp}"))?;
        self.client
            .rename(temp, path, false)
            .await
            .with_context(|| format!("renaming {temp} to {path}"))?;
        Ok(())
    }
}

/// HDFS's smallest allowed block size (`dfs.namenode.fs-limits.min-block-size`), 1 MiB.
const MIN_BLOCK_SIZE: u64 = 1 << 20;
/// HDFS's default block size, 128 MiB: the most we ask for.
const MAX_BLOCK_SIZE: u64 = 128 << 20;

/// The block size (bytes) of a file of `len` bytes: `len` rounded up to whole MiB, within
/// 1 MiB..=128 MiB (the same rule as `hive::retry::block_size_for`).
fn block_size_for(len: usize) -> u64 {
    let len = u64::try_from(len).unwrap_or(u64::MAX);
    len.div_ceil(MIN_BLOCK_SIZE)
        .saturating_mul(MIN_BLOCK_SIZE)
        .clamp(MIN_BLOCK_SIZE, MAX_BLOCK_SIZE)
}

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
    fn block_sizes_fit_the_file_in_whole_mebibytes() {
        assert_eq!(block_size_for(0), 1 << 20);
        assert_eq!(block_size_for(600_000), 1 << 20);
        assert_eq!(block_size_for((1 << 20) + 1), 2 << 20);
        assert_eq!(block_size_for(64 << 20), 64 << 20);
        assert_eq!(block_size_for(usize::MAX), 128 << 20);
    }

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
