//! [`WriteRetry`]: how often, and how patiently, a file commit writes a file again after an
//! HDFS failure.
//!
//! Why a file write fails while HDFS as a whole is fine: when one DataNode stops, the
//! NameNode keeps offering it as a write target until it declares it dead (after
//! 2 × `dfs.namenode.heartbeat.recheck-interval` + 10 × `dfs.heartbeat.interval`: 10.5 min with
//! Hadoop's defaults, about 20 s on the local stack). The Java client survives that by asking
//! for a new block that excludes the bad node; hdfs-native (0.14) cannot, and it also drops
//! the wrong node when the *second* DataNode of a new pipeline is the dead one (it ignores the
//! pipeline setup reply that names the bad link), so the write fails with "connection
//! refused" or "connection reset". It does recover a pipeline whose DataNode dies in the
//! middle of a block. Its maintainer's advice for the rest is to retry the whole write while
//! the data is still at hand (<https://github.com/Kimahriman/hdfs-native/issues/154>).
//!
//! A commit does exactly that: the encoded file is in memory, each attempt writes a fresh
//! temporary file (the failed attempt's one is deleted) and renames it over the same
//! deterministic name, so an attempt that failed half-way leaves nothing visible and a later
//! one gives the same file.
//!
//! A failed attempt is not free, though: the block the NameNode allocated for it stays
//! *scheduled* on its DataNodes for 10 to 20 minutes, counted at the file's block size against
//! their free space. With HDFS's default 128 MiB blocks, a few hundred failed attempts make a
//! DataNode with tens of GiB free look full, and the NameNode then refuses it as a target
//! ("could only be written to 0 of the 1 minReplication nodes … 1 node(s) are excluded"),
//! long after the failed DataNode is gone. Seen on the local stack: 30 s into a 50 s outage of
//! one DataNode, retried this way with 128 MiB blocks, the NameNode refused the surviving
//! DataNode (222 blocks scheduled against 29.8 GB free) for the rest of the outage. So every
//! file is written with a block size that fits it ([`block_size_for`]):
//! a failed attempt then holds only about the file's own size.

use std::time::Duration;

/// Default attempts per file write, the first included: 6 (6.2 s of retrying with the
/// default waits; a caller that must never give up retries the whole commit after that).
pub const DEFAULT_WRITE_ATTEMPTS: u32 = 6;
/// Default wait before the second attempt: 200 ms.
pub const DEFAULT_WRITE_RETRY_INITIAL: Duration = Duration::from_millis(200);
/// Default longest wait between attempts (the wait doubles up to it): 5 s.
pub const DEFAULT_WRITE_RETRY_MAX: Duration = Duration::from_secs(5);

/// HDFS's smallest allowed block size (`dfs.namenode.fs-limits.min-block-size`), 1 MiB; also a
/// multiple of every checksum chunk size (`dfs.bytes-per-checksum`, 512 by default).
pub const MIN_BLOCK_SIZE: u64 = 1 << 20;
/// The largest block size we ask for: HDFS's default, 128 MiB. A larger file gets several
/// blocks, as it would by default.
pub const MAX_BLOCK_SIZE: u64 = 128 << 20;

/// The block size (bytes) to create a file of `len` bytes with, when the whole file is known
/// before it is written: `len` rounded up to a multiple of [`MIN_BLOCK_SIZE`], within
/// [`MIN_BLOCK_SIZE`]..=[`MAX_BLOCK_SIZE`]. Pass it as `hdfs_native::WriteOptions::block_size`.
pub fn block_size_for(len: usize) -> u64 {
    let len = u64::try_from(len).unwrap_or(u64::MAX);
    len.div_ceil(MIN_BLOCK_SIZE)
        .saturating_mul(MIN_BLOCK_SIZE)
        .clamp(MIN_BLOCK_SIZE, MAX_BLOCK_SIZE)
}

/// Retry policy of one file write: up to `attempts` attempts, waiting `initial` after the
/// first failure, twice as long after each further one, never more than `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteRetry {
    /// Attempts in all, the first included; 1 means no retry, 0 counts as 1.
    pub attempts: u32,
    /// Wait after the first failed attempt.
    pub initial: Duration,
    /// Longest wait between two attempts.
    pub max: Duration,
}

impl Default for WriteRetry {
    fn default() -> Self {
        WriteRetry {
            attempts: DEFAULT_WRITE_ATTEMPTS,
            initial: DEFAULT_WRITE_RETRY_INITIAL,
            max: DEFAULT_WRITE_RETRY_MAX,
        }
    }
}

impl WriteRetry {
    /// The wait after failed attempt `failed` (1 for the first attempt) before the next one,
    /// or `None` when it was the last: `min(initial × 2^(failed − 1), max)`.
    pub fn wait_after(&self, failed: u32) -> Option<Duration> {
        if failed == 0 || failed >= self.attempts {
            return None;
        }
        let factor = 1u32 << (failed - 1).min(20);
        Some(self.initial.saturating_mul(factor).min(self.max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_and_stop_after_the_last_attempt() {
        let r = WriteRetry {
            attempts: 6,
            initial: Duration::from_millis(200),
            max: Duration::from_secs(1),
        };
        let waits: Vec<Option<Duration>> = (1..=6).map(|n| r.wait_after(n)).collect();
        let ms = |m| Some(Duration::from_millis(m));
        assert_eq!(
            waits,
            vec![ms(200), ms(400), ms(800), ms(1000), ms(1000), None]
        );
        assert_eq!(r.wait_after(0), None);
    }

    #[test]
    fn one_attempt_means_no_retry_and_huge_counts_do_not_overflow() {
        let once = WriteRetry {
            attempts: 1,
            ..WriteRetry::default()
        };
        assert_eq!(once.wait_after(1), None);
        let zero = WriteRetry {
            attempts: 0,
            ..WriteRetry::default()
        };
        assert_eq!(zero.wait_after(1), None);
        let many = WriteRetry {
            attempts: u32::MAX,
            ..WriteRetry::default()
        };
        assert_eq!(many.wait_after(1_000), Some(DEFAULT_WRITE_RETRY_MAX));
    }

    #[test]
    fn block_sizes_fit_the_file_in_whole_mebibytes_within_hdfs_limits() {
        const MIB: u64 = 1 << 20;
        assert_eq!(block_size_for(0), MIB);
        assert_eq!(block_size_for(1), MIB);
        assert_eq!(block_size_for(MIB as usize), MIB);
        assert_eq!(block_size_for(MIB as usize + 1), 2 * MIB);
        assert_eq!(block_size_for(64 * MIB as usize - 5), 64 * MIB);
        assert_eq!(block_size_for(128 * MIB as usize), 128 * MIB);
        assert_eq!(block_size_for(1 << 40), 128 * MIB);
        assert_eq!(block_size_for(usize::MAX), 128 * MIB);
        for len in [0, 1, 513, 3 << 20, 200 << 20] {
            assert_eq!(
                block_size_for(len) % 512,
                0,
                "not a multiple of the checksum chunk"
            );
        }
    }

    #[test]
    fn the_default_gives_up_after_about_six_seconds() {
        let r = WriteRetry::default();
        let total: Duration = (1..r.attempts).filter_map(|n| r.wait_after(n)).sum();
        assert_eq!(total, Duration::from_millis(200 + 400 + 800 + 1600 + 3200));
    }
}
