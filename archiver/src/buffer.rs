//! Open files: records accepted but not yet committed, and when each file must roll.
//!
//! One open file per (Kafka partition, date). A record is appended, encoded
//! ([`crate::encoding`]) and compressed if asked, to its file's in-memory buffer; the file is
//! written to HDFS only when it rolls ([`crate::sink`]), so an open file costs no HDFS
//! resources and a crash loses nothing that Kafka does not still hold. Memory is bounded by
//! `roll_size_bytes` × open files (partitions × dates being written, usually one date).
//!
//! A file rolls when its buffered (compressed) size reaches `roll_size_bytes`, or when it has
//! been open for `roll_interval` — checked on a timer as well as on every record, so a quiet
//! topic still gets its last records committed.
//!
//! The partition's committed offset named in a rolled file is the lowest offset still not
//! committed once that file is in place: the `first` offset of the partition's other open
//! files, or the next offset to read when there are none.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use flate2::write::GzEncoder;
use flate2::Compression;

use crate::encoding;
use crate::naming::FileName;

/// Compression of archive files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Codec {
    /// Plain text, `.jsonl`.
    None,
    /// gzip, `.jsonl.gz` (read by Hive's text format and `hdfs dfs -text`).
    Gzip,
}

enum Body {
    Plain(Vec<u8>),
    // Boxed: zlib-rs's deflate state makes the encoder large, and one buffer holds one.
    Gzip(Box<GzEncoder<Vec<u8>>>),
}

impl Body {
    fn len(&self) -> usize {
        match self {
            Body::Plain(v) => v.len(),
            Body::Gzip(g) => g.get_ref().len(),
        }
    }
}

/// A file being filled: records of one partition and one date, in offset order.
pub struct OpenFile {
    /// Kafka partition.
    pub partition: i32,
    /// UTC date of the records' timestamps.
    pub date: NaiveDate,
    /// Offset of the first record.
    pub first: i64,
    /// Offset of the last record.
    pub last: i64,
    /// Number of records.
    pub records: u64,
    /// Encoded bytes before compression.
    pub raw_bytes: u64,
    opened: Instant,
    body: Body,
    scratch: Vec<u8>,
}

impl OpenFile {
    fn new(partition: i32, date: NaiveDate, offset: i64, codec: Codec, now: Instant) -> Self {
        let body = match codec {
            Codec::None => Body::Plain(Vec::new()),
            Codec::Gzip => Body::Gzip(Box::new(GzEncoder::new(Vec::new(), Compression::default()))),
        };
        Self {
            partition,
            date,
            first: offset,
            last: offset,
            records: 0,
            raw_bytes: 0,
            opened: now,
            body,
            scratch: Vec::new(),
        }
    }

    fn append(&mut self, offset: i64, value: Option<&[u8]>) -> std::io::Result<()> {
        let target = match &mut self.body {
            Body::Plain(v) => v,
            Body::Gzip(_) => {
                self.scratch.clear();
                &mut self.scratch
            }
        };
        self.raw_bytes += encoding::encode_into(value, target) as u64;
        if let Body::Gzip(g) = &mut self.body {
            g.write_all(&self.scratch)?;
        }
        self.last = offset;
        self.records += 1;
        Ok(())
    }

    /// Finishes compression and returns the file's bytes.
    ///
    /// # Errors
    /// Only if the gzip encoder fails to finish (it writes to memory, so practically never).
    pub fn finish(self) -> std::io::Result<Vec<u8>> {
        match self.body {
            Body::Plain(v) => Ok(v),
            Body::Gzip(g) => g.finish(),
        }
    }
}

/// A file taken out of the buffer to be committed, with its final name.
pub struct Rolled {
    /// The file's contents.
    pub file: OpenFile,
    /// Its committed name (partition, offsets, the partition's committed offset, codec).
    pub name: FileName,
}

/// All open files, and per partition the next offset to read.
pub struct Buffer {
    codec: Codec,
    roll_size_bytes: usize,
    roll_interval: Duration,
    open: HashMap<(i32, NaiveDate), OpenFile>,
    next_offset: BTreeMap<i32, i64>,
}

impl Buffer {
    /// An empty buffer with the given roll policy.
    pub fn new(codec: Codec, roll_size_bytes: usize, roll_interval: Duration) -> Self {
        Self {
            codec,
            roll_size_bytes,
            roll_interval,
            open: HashMap::new(),
            next_offset: BTreeMap::new(),
        }
    }

    /// Notes that `partition` has been read up to (not including) `offset` without any
    /// record to keep (e.g. records skipped as already archived).
    pub fn advance(&mut self, partition: i32, offset: i64) {
        let next = self.next_offset.entry(partition).or_insert(offset);
        *next = (*next).max(offset);
    }

    /// Appends a record; returns the key of its file if that file reached the roll size.
    ///
    /// # Errors
    /// Only if the gzip encoder fails (it writes to memory).
    pub fn append(
        &mut self,
        partition: i32,
        offset: i64,
        date: NaiveDate,
        value: Option<&[u8]>,
        now: Instant,
    ) -> std::io::Result<Option<(i32, NaiveDate)>> {
        let key = (partition, date);
        let codec = self.codec;
        let file = self
            .open
            .entry(key)
            .or_insert_with(|| OpenFile::new(partition, date, offset, codec, now));
        file.append(offset, value)?;
        let full = file.body.len() >= self.roll_size_bytes;
        self.advance(partition, offset + 1);
        Ok(full.then_some(key))
    }

    /// Keys of files open for at least the roll interval at `now`, oldest first.
    pub fn due(&self, now: Instant) -> Vec<(i32, NaiveDate)> {
        let mut due: Vec<_> = self
            .open
            .iter()
            .filter(|(_, f)| now.duration_since(f.opened) >= self.roll_interval)
            .map(|(k, f)| (f.opened, *k))
            .collect();
        due.sort_unstable();
        due.into_iter().map(|(_, k)| k).collect()
    }

    /// Keys of every open file (for a clean shutdown).
    pub fn all(&self) -> Vec<(i32, NaiveDate)> {
        let mut all: Vec<_> = self.open.keys().copied().collect();
        all.sort_unstable();
        all
    }

    /// Number of open files.
    pub fn open_files(&self) -> usize {
        self.open.len()
    }

    /// Takes the file `key` out of the buffer and names it. Its committed offset is the
    /// lowest offset of the partition that stays uncommitted once this file is in place.
    pub fn roll(&mut self, key: (i32, NaiveDate)) -> Option<Rolled> {
        let file = self.open.remove(&key)?;
        let partition = file.partition;
        let committed = self.committed_offset(partition).unwrap_or(file.last + 1);
        let name = FileName {
            partition,
            first: file.first,
            last: file.last,
            committed,
            gzip: self.codec == Codec::Gzip,
        };
        Some(Rolled { file, name })
    }

    /// The partition's committed offset now: the lowest offset not yet in a committed file.
    pub fn committed_offset(&self, partition: i32) -> Option<i64> {
        self.open
            .values()
            .filter(|f| f.partition == partition)
            .map(|f| f.first)
            .chain(self.next_offset.get(&partition).copied())
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::decode_lines;
    use crate::recovery::RecoveryPlan;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn rolls_by_size_and_by_time() {
        let t0 = Instant::now();
        let mut b = Buffer::new(Codec::None, 20, Duration::from_secs(10));
        let d = date("2026-11-30");
        assert_eq!(b.append(0, 5, d, Some(b"0123456789"), t0).unwrap(), None);
        assert_eq!(
            b.append(0, 6, d, Some(b"0123456789"), t0).unwrap(),
            Some((0, d))
        );
        let rolled = b.roll((0, d)).unwrap();
        assert_eq!(
            (rolled.name.first, rolled.name.last, rolled.name.committed),
            (5, 6, 7)
        );
        assert_eq!(rolled.file.finish().unwrap(), b"0123456789\n0123456789\n");

        b.append(1, 0, d, None, t0).unwrap();
        assert!(b.due(t0 + Duration::from_secs(9)).is_empty());
        assert_eq!(b.due(t0 + Duration::from_secs(10)), vec![(1, d)]);
    }

    #[test]
    fn committed_offset_waits_for_the_other_dates_open_file() {
        let t0 = Instant::now();
        let (d1, d2) = (date("2026-11-29"), date("2026-11-30"));
        let mut b = Buffer::new(Codec::None, 1 << 20, Duration::from_secs(10));
        b.append(0, 100, d1, Some(b"late"), t0).unwrap();
        b.append(0, 101, d2, Some(b"a"), t0).unwrap();
        b.append(0, 102, d1, Some(b"late"), t0).unwrap();
        b.append(0, 103, d2, Some(b"b"), t0).unwrap();
        let first = b.roll((0, d2)).unwrap().name;
        assert_eq!((first.first, first.last, first.committed), (101, 103, 100));
        assert_eq!(b.committed_offset(0), Some(100));
        let second = b.roll((0, d1)).unwrap().name;
        assert_eq!(
            (second.first, second.last, second.committed),
            (100, 102, 104)
        );
        assert_eq!(b.committed_offset(0), Some(104));

        // A crash after only the first rename: recovery re-reads from 100 and skips 101, 103.
        let plan = RecoveryPlan::from_listing([format!("/r/date=2026-11-30/{first}").as_str()]);
        assert_eq!(plan.resume[&0], 100);
        let skipped: Vec<_> = [(100, d1), (101, d2), (102, d1), (103, d2)]
            .into_iter()
            .filter(|&(o, d)| plan.is_archived(0, d, o))
            .map(|(o, _)| o)
            .collect();
        assert_eq!(skipped, vec![101, 103]);
    }

    #[test]
    fn gzip_files_decompress_to_the_encoded_lines() {
        let t0 = Instant::now();
        let d = date("2026-11-30");
        let mut b = Buffer::new(Codec::Gzip, 1 << 20, Duration::from_secs(10));
        b.append(2, 0, d, Some(b"{\"a\":1}"), t0).unwrap();
        b.append(2, 1, d, Some(b"x\ny"), t0).unwrap();
        let rolled = b.roll((2, d)).unwrap();
        assert!(rolled.name.gzip);
        assert_eq!(rolled.file.raw_bytes, 8 + 10);
        let gz = rolled.file.finish().unwrap();
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut plain).unwrap();
        assert_eq!(
            decode_lines(&plain).unwrap(),
            vec![Some(b"{\"a\":1}".to_vec()), Some(b"x\ny".to_vec())]
        );
    }
}
