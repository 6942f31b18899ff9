//! Names of the archive's directories and files.
//!
//! Layout under the archive root (default `/raw/web_analytics`):
//!
//! ```text
//! <root>/date=YYYY-MM-DD/part-p{partition}-o{first}-{last}-c{committed}.jsonl[.gz]   committed
//! <root>/date=YYYY-MM-DD/.part-p{partition}-o{first}.jsonl[.gz].inprogress          being written
//! ```
//!
//! - `date` is the UTC date of the Kafka record timestamp: the record's ingestion time, not
//!   its event time.
//! - `first` and `last` are the Kafka offsets of the file's first and last record. A file
//!   holds, in offset order, *every* record of that partition and date whose offset lies in
//!   `first..=last` (records of other dates in that range are in other dates' files).
//! - `committed` is the partition's committed offset once this file is in place: every record
//!   of the partition with a lower offset is in a committed file. It is what a restart
//!   resumes from (see [`crate::recovery`]).
//! - Names starting with `.` are hidden from Hive and Hadoop input formats, so a file being
//!   written is never read.

use std::fmt;

use chrono::NaiveDate;

/// Directory name prefix of a date partition (`date=`), also the Hive partition column.
pub const DATE_PREFIX: &str = "date=";
/// Suffix of a committed plain-text file.
pub const PLAIN_SUFFIX: &str = ".jsonl";
/// Suffix of a committed gzip file (Hadoop picks its gzip codec from `.gz`).
pub const GZIP_SUFFIX: &str = ".jsonl.gz";
/// Suffix of a file being written.
pub const TEMP_SUFFIX: &str = ".inprogress";

/// A committed archive file, as its name describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileName {
    /// Kafka partition.
    pub partition: i32,
    /// Offset of the first record in the file.
    pub first: i64,
    /// Offset of the last record in the file (`>= first`).
    pub last: i64,
    /// The partition's committed offset once this file is in place (next offset to read).
    pub committed: i64,
    /// Whether the file is gzip-compressed.
    pub gzip: bool,
}

impl FileName {
    /// Parses a committed file's base name (no directory); `None` for anything else,
    /// including temporaries and foreign files such as `_SUCCESS`.
    pub fn parse(name: &str) -> Option<Self> {
        let (stem, gzip) = if let Some(stem) = name.strip_suffix(GZIP_SUFFIX) {
            (stem, true)
        } else {
            (name.strip_suffix(PLAIN_SUFFIX)?, false)
        };
        let rest = stem.strip_prefix("part-p")?;
        let (partition, rest) = rest.split_once("-o")?;
        let (first, rest) = rest.split_once('-')?;
        let (last, committed) = rest.split_once("-c")?;
        let parsed = Self {
            partition: parse_number(partition)?,
            first: parse_number(first)?,
            last: parse_number(last)?,
            committed: parse_number(committed)?,
            gzip,
        };
        (parsed.partition >= 0 && parsed.first >= 0 && parsed.first <= parsed.last)
            .then_some(parsed)
    }

    /// The temporary name one write attempt of this file uses before the rename; `token` is
    /// unique to the attempt.
    pub fn temp_name(&self, token: &str) -> String {
        temp_name(self.partition, self.first, self.gzip, token)
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let suffix = if self.gzip { GZIP_SUFFIX } else { PLAIN_SUFFIX };
        write!(
            f,
            "part-p{}-o{}-{}-c{}{suffix}",
            self.partition, self.first, self.last, self.committed
        )
    }
}

/// Decimal digits only (no sign, no `+`), so every number has exactly one spelling.
fn parse_number<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The hidden temporary name of a write attempt (unique `token`) of the file of `partition`
/// that starts at offset `first`: `.part-p<partition>-o<first><suffix>.<token>.inprogress`.
pub fn temp_name(partition: i32, first: i64, gzip: bool, token: &str) -> String {
    let suffix = if gzip { GZIP_SUFFIX } else { PLAIN_SUFFIX };
    format!(".part-p{partition}-o{first}{suffix}.{token}{TEMP_SUFFIX}")
}

/// Whether a base name is one of our temporaries (left behind by a crash if seen at start).
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with(".part-p") && name.ends_with(TEMP_SUFFIX)
}

/// The directory name of a date partition: `date=YYYY-MM-DD`.
pub fn date_dir(date: NaiveDate) -> String {
    format!("{DATE_PREFIX}{}", date.format("%Y-%m-%d"))
}

/// Parses `date=YYYY-MM-DD`; `None` for anything else.
pub fn parse_date_dir(name: &str) -> Option<NaiveDate> {
    let date = name.strip_prefix(DATE_PREFIX)?;
    (date.len() == 10)
        .then(|| NaiveDate::parse_from_str(date, "%Y-%m-%d").ok())
        .flatten()
}

/// The UTC date of a Kafka timestamp in epoch milliseconds. A record without a timestamp
/// (`None`) is filed under 1970-01-01, so its place never depends on when it is read.
pub fn date_of_timestamp(timestamp_ms: Option<i64>) -> NaiveDate {
    timestamp_ms
        .and_then(chrono::DateTime::from_timestamp_millis)
        .unwrap_or(chrono::DateTime::UNIX_EPOCH)
        .date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn file_names_round_trip() {
        for gzip in [false, true] {
            let name = FileName {
                partition: 3,
                first: 100,
                last: 250,
                committed: 251,
                gzip,
            };
            let text = name.to_string();
            assert_eq!(FileName::parse(&text), Some(name));
            assert!(!is_temp_name(&text));
            let temp = name.temp_name("0123abcd");
            assert!(is_temp_name(&temp));
            assert!(temp.starts_with('.'));
            assert!(temp.contains(".0123abcd."));
            assert_eq!(FileName::parse(&temp), None);
        }
        assert_eq!(
            FileName {
                partition: 0,
                first: 0,
                last: 0,
                committed: 1,
                gzip: true
            }
            .to_string(),
            "part-p0-o0-0-c1.jsonl.gz"
        );
    }

    #[test]
    fn foreign_and_malformed_names_are_rejected() {
        for name in [
            "_SUCCESS",
            "part-p1-o5-4-c6.jsonl",
            "part-p-1-o5-6-c7.jsonl",
            "part-p1-o+5-6-c7.jsonl",
            "part-p1-o5-6.jsonl",
            "part-p1-o5-6-c7.json",
            "part-p1-o5-6-c7.jsonl.gz.inprogress",
            "part-px-o5-6-c7.jsonl",
        ] {
            assert_eq!(FileName::parse(name), None, "{name}");
        }
    }

    #[test]
    fn date_dirs_and_timestamps() {
        assert_eq!(date_dir(date("2026-11-30")), "date=2026-11-30");
        assert_eq!(parse_date_dir("date=2026-11-30"), Some(date("2026-11-30")));
        assert_eq!(parse_date_dir("date=2026-11-3"), None);
        assert_eq!(parse_date_dir("dt=2026-11-30"), None);
        // 2026-11-30T23:59:59.999Z and one millisecond later.
        assert_eq!(
            date_of_timestamp(Some(1_796_083_199_999)),
            date("2026-11-30")
        );
        assert_eq!(
            date_of_timestamp(Some(1_796_083_200_000)),
            date("2026-12-01")
        );
        assert_eq!(date_of_timestamp(None), date("1970-01-01"));
        assert_eq!(date_of_timestamp(Some(-1)), date("1969-12-31"));
    }
}
