//! [`Hdfs`]: the one HDFS client of a process, and the one way every program writes a whole
//! file: atomically ([`Hdfs::write_atomic`]).
//!
//! An atomic write puts the whole file under a temporary name no reader looks at, closes it
//! (the NameNode then knows its full length and replicas) and renames it to its final name;
//! HDFS renames are atomic, so a reader sees the old file or the new one, never a part. The
//! bytes are in memory, so a failed attempt is simply written again whole, under a fresh
//! temporary name, after the wait its [`WriteRetry`] gives (see [`crate::retry`] for why
//! hdfs-native needs whole-file retries and why each file gets a block size that fits it).
//!
//! Used by the warehouse (ORC files), the archiver (gzip/NDJSON files) and the dataflow's
//! checkpoint store; each keeps its own naming.

use std::time::Duration;

use bytes::Bytes;
use hdfs_native::{Client, ClientBuilder, HdfsError, WriteOptions};

use crate::retry::{block_size_for, WriteRetry};
use crate::HiveError;

/// A client of one NameNode (or HA nameservice). Cheap to clone: clones share the connection.
/// Build one per process and pass it around.
#[derive(Clone)]
pub struct Hdfs {
    client: Client,
    url: String,
}

impl std::fmt::Debug for Hdfs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hdfs").field("url", &self.url).finish()
    }
}

/// How [`Hdfs::write_atomic`] writes one file.
pub struct AtomicWrite<'a> {
    /// The file's final path (absolute, on this client's NameNode).
    pub target: &'a str,
    /// The temporary path of one attempt, given a token unique to the attempt (32 lowercase
    /// hex digits). It must be on the same NameNode and hidden from readers (a name starting
    /// with `.` or `_`, or a directory starting so), so that a crash leaves nothing visible.
    pub temp_path: &'a (dyn Fn(&str) -> String + Sync),
    /// Whether the rename replaces an existing `target`. When false an existing target is an
    /// error, except after a failed attempt that finds the target with exactly our length: a
    /// rename whose answer was lost, counted as done.
    pub replace: bool,
    /// How often and how patiently a failed attempt is written again; only errors for which
    /// [`HiveError::is_retryable`] holds are retried.
    pub retry: WriteRetry,
}

/// What [`Hdfs::write_atomic`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Bytes in the file.
    pub bytes: usize,
    /// Attempts made, the successful one included (1 = no retry).
    pub attempts: u32,
}

impl Hdfs {
    /// A client for `url` (`hdfs://host:port`, or `hdfs://nameservice` resolved through
    /// `HADOOP_CONF_DIR`). Makes no call to the NameNode, so it succeeds while HDFS is down.
    ///
    /// # Errors
    /// [`HiveError::Hdfs`] (op `connect`) when hdfs-native rejects the URL.
    pub fn connect(url: &str) -> Result<Self, HiveError> {
        let client = ClientBuilder::new()
            .with_url(url)
            .build()
            .map_err(HiveError::hdfs("connect", url))?;
        Ok(Hdfs {
            client,
            url: url.to_string(),
        })
    }

    /// The URL this client was built for.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// hdfs-native's client, for reads the calls below do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The entries of directory `dir` (recursively with `recursive`); empty when `dir` does
    /// not exist.
    ///
    /// # Errors
    /// [`HiveError::Hdfs`] (op `list`).
    pub async fn list(
        &self,
        dir: &str,
        recursive: bool,
    ) -> Result<Vec<hdfs_native::client::FileStatus>, HiveError> {
        match self.client.list_status(dir, recursive).await {
            Ok(entries) => Ok(entries),
            Err(e) if is_not_found(&e) => Ok(Vec::new()),
            Err(e) => Err(HiveError::hdfs("list", dir)(e)),
        }
    }

    /// Deletes the file `path`; `false` when there was none.
    ///
    /// # Errors
    /// [`HiveError::Hdfs`] (op `delete`).
    pub async fn delete(&self, path: &str) -> Result<bool, HiveError> {
        match self.client.delete(path, false).await {
            Ok(deleted) => Ok(deleted),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(HiveError::hdfs("delete", path)(e)),
        }
    }

    /// Creates directory `dir` and its parents (mode 755); an existing one is fine.
    ///
    /// # Errors
    /// [`HiveError::Hdfs`] (op `mkdirs`).
    pub async fn mkdirs(&self, dir: &str) -> Result<(), HiveError> {
        self.client
            .mkdirs(dir, 0o755, true)
            .await
            .map_err(HiveError::hdfs("mkdirs", dir))
    }

    /// The whole content of file `path`; `None` when it does not exist.
    ///
    /// # Errors
    /// [`HiveError::Hdfs`] (op `open` or `read`).
    pub async fn read(&self, path: &str) -> Result<Option<Bytes>, HiveError> {
        let mut reader = match self.client.read(path).await {
            Ok(reader) => reader,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(HiveError::hdfs("open", path)(e)),
        };
        reader
            .read_bytes(reader.file_length())
            .await
            .map(Some)
            .map_err(HiveError::hdfs("read", path))
    }

    /// Writes an empty file at `path` (creating its directory), replacing one that exists:
    /// a marker such as `_SUCCESS`, for which atomicity means nothing.
    ///
    /// # Errors
    /// [`HiveError::Hdfs`] (op `create` or `close`).
    pub async fn touch(&self, path: &str) -> Result<(), HiveError> {
        let options = WriteOptions {
            overwrite: true,
            create_parent: true,
            ..Default::default()
        };
        let mut writer = self
            .client
            .create(path, options)
            .await
            .map_err(HiveError::hdfs("create", path))?;
        writer.close().await.map_err(HiveError::hdfs("close", path))
    }

    /// Writes `bytes` as the file `write.target`, atomically: each attempt writes a fresh
    /// temporary file ([`AtomicWrite::temp_path`]) with a block size fitted to the file
    /// ([`block_size_for`]), closes it and renames it to the target (creating the target's
    /// directory first). A failed attempt's temporary file is deleted (it may still be open
    /// under our lease; `wa-hive repair` and the archiver's start remove one left behind) and,
    /// when the error is retryable, the file is written again after the policy's wait, logged
    /// at warn; `on_retry(failed_attempt, &error)` is called before each wait, for the
    /// caller's metrics.
    ///
    /// # Errors
    /// The last attempt's [`HiveError::Hdfs`] once no attempt is left or the error is not
    /// retryable; the target is then as it was.
    pub async fn write_atomic(
        &self,
        write: &AtomicWrite<'_>,
        bytes: Bytes,
        mut on_retry: impl FnMut(u32, &HiveError),
    ) -> Result<Written, HiveError> {
        let mut attempt = 1;
        loop {
            let temp = (write.temp_path)(&uuid::Uuid::new_v4().simple().to_string());
            let err = match self.attempt(write, &temp, bytes.clone()).await {
                Ok(()) => {
                    return Ok(Written {
                        bytes: bytes.len(),
                        attempts: attempt,
                    })
                }
                Err(e) => e,
            };
            if !write.replace && self.holds(write.target, bytes.len()).await {
                // The rename happened; only its answer was lost.
                if let Err(e) = self.delete(&temp).await {
                    tracing::warn!(path = %temp, error = %e, "cannot delete a temporary file");
                }
                return Ok(Written {
                    bytes: bytes.len(),
                    attempts: attempt,
                });
            }
            if let Err(e) = self.delete(&temp).await {
                tracing::warn!(path = %temp, error = %e, "cannot delete a failed attempt's temporary file");
            }
            let wait: Option<Duration> = if err.is_retryable() {
                write.retry.wait_after(attempt)
            } else {
                None
            };
            let Some(wait) = wait else { return Err(err) };
            on_retry(attempt, &err);
            tracing::warn!(
                path = write.target,
                attempt,
                error = %err,
                retry_in_ms = wait.as_millis() as u64,
                "writing a file failed; writing it again"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// One attempt: create `temp`, write, close, rename to the target.
    async fn attempt(
        &self,
        write: &AtomicWrite<'_>,
        temp: &str,
        bytes: Bytes,
    ) -> Result<(), HiveError> {
        let options = WriteOptions {
            overwrite: true,
            create_parent: true,
            // A failed attempt's block stays scheduled on its DataNodes at this size.
            block_size: Some(block_size_for(bytes.len())),
            ..Default::default()
        };
        let mut writer = self
            .client
            .create(temp, options)
            .await
            .map_err(HiveError::hdfs("create", temp))?;
        writer
            .write_bytes(bytes)
            .await
            .map_err(HiveError::hdfs("write", temp))?;
        writer
            .close()
            .await
            .map_err(HiveError::hdfs("close", temp))?;
        if let Some((dir, _)) = write.target.rsplit_once('/') {
            if !dir.is_empty() && temp.rsplit_once('/').map(|(d, _)| d) != Some(dir) {
                self.mkdirs(dir).await?;
            }
        }
        self.client
            .rename(temp, write.target, write.replace)
            .await
            .map_err(HiveError::hdfs("rename", write.target))
    }

    /// Whether `path` is a file of exactly `len` bytes.
    async fn holds(&self, path: &str, len: usize) -> bool {
        self.client
            .get_file_info(path)
            .await
            .is_ok_and(|f| !f.isdir && f.length == len)
    }
}

/// Whether hdfs-native's error says the path does not exist (it reports that either as its
/// own variant or as the NameNode's `FileNotFoundException`).
pub fn is_not_found(e: &HdfsError) -> bool {
    match e {
        HdfsError::FileNotFound(_) => true,
        HdfsError::RPCError(class, _) => class.ends_with("FileNotFoundException"),
        _ => false,
    }
}

/// The base name of an HDFS path: what follows the last `/`.
pub fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Whether a base name is one Hive and our readers skip: starting with `_` or `.`
/// (temporaries, `_SUCCESS`, `_tmp`).
pub fn is_hidden(name: &str) -> bool {
    name.starts_with('_') || name.starts_with('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_in_either_form() {
        assert!(is_not_found(&HdfsError::FileNotFound("/x".into())));
        assert!(is_not_found(&HdfsError::RPCError(
            "java.io.FileNotFoundException".into(),
            "File does not exist: /x".into()
        )));
        assert!(!is_not_found(&HdfsError::RPCError(
            "org.apache.hadoop.security.AccessControlException".into(),
            "Permission denied".into()
        )));
    }

    #[test]
    fn base_names_and_hidden_files() {
        assert_eq!(base_name("/w/t/dt=2026-12-05/part-0.orc"), "part-0.orc");
        assert_eq!(base_name("plain"), "plain");
        assert!(is_hidden("_SUCCESS"));
        assert!(is_hidden(".part-p0-o1.json.tmp"));
        assert!(!is_hidden("part-p0-o1.json"));
    }
}
