//! Where files live on HDFS: partition directories, committed file names, temporary files.
//!
//! ```text
//! <table location>/dt=2026-11-30/<file name>          committed ORC files (what Hive reads)
//! <table location>/dt=2026-11-30/_SUCCESS             the day is complete
//! <table location>/_tmp/dt=2026-11-30/<file name>.<uuid>.inprogress
//!                                                     files being written, renamed when closed
//! ```
//!
//! Temporary files live under `_tmp`, outside every partition directory; Hive, Spark and
//! `repair` ignore names starting with `_` or `.`, and a partition directory only ever gains a
//! file by an atomic HDFS rename of a closed file.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate};

use crate::HiveError;

/// The partition key of every table: a UTC date, written `YYYY-MM-DD` (`dt=2026-11-30`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionDate(NaiveDate);

impl PartitionDate {
    /// The partition of a UTC calendar date.
    pub fn new(date: NaiveDate) -> Self {
        PartitionDate(date)
    }

    /// The partition holding a UTC instant given as epoch milliseconds (negative = before
    /// 1970), e.g. an `event_time` or `window_start`.
    ///
    /// # Errors
    /// [`HiveError::InvalidInput`] outside chrono's range (about ±262,000 years).
    pub fn from_epoch_ms(ms: i64) -> Result<Self, HiveError> {
        DateTime::from_timestamp_millis(ms)
            .map(|t| PartitionDate(t.date_naive()))
            .ok_or_else(|| HiveError::InvalidInput(format!("epoch ms {ms} is out of range")))
    }

    /// The date.
    pub fn date(self) -> NaiveDate {
        self.0
    }

    /// The partition's name in the metastore and its directory name: `dt=YYYY-MM-DD`.
    pub fn partition_name(self) -> String {
        format!("dt={self}")
    }

    /// Parses a partition directory or metastore partition name, `dt=YYYY-MM-DD`.
    pub fn from_partition_name(name: &str) -> Option<Self> {
        name.strip_prefix("dt=").and_then(|d| d.parse().ok())
    }
}

impl fmt::Display for PartitionDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

impl FromStr for PartitionDate {
    type Err = HiveError;

    /// Parses `YYYY-MM-DD` exactly (four-digit year, zero-padded month and day).
    fn from_str(s: &str) -> Result<Self, HiveError> {
        let bad = || HiveError::InvalidInput(format!("{s:?} is not a date YYYY-MM-DD"));
        if s.len() != 10 {
            return Err(bad());
        }
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(PartitionDate)
            .map_err(|_| bad())
    }
}

/// Checks a caller-chosen data file name: 1–200 characters of `[A-Za-z0-9._=-]`, not starting
/// with `_` or `.` (Hive would ignore such a file), no path separator.
///
/// # Errors
/// [`HiveError::InvalidInput`] saying what is wrong.
pub fn validate_file_name(name: &str) -> Result<(), HiveError> {
    let fail = |why: &str| Err(HiveError::InvalidInput(format!("file name {name:?} {why}")));
    if name.is_empty() || name.len() > 200 {
        return fail("must be 1 to 200 characters long");
    }
    if name.starts_with('_') || name.starts_with('.') {
        return fail("starts with `_` or `.`, so Hive would ignore the file");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._=-".contains(&b))
    {
        return fail("may only hold ASCII letters, digits and . _ = -");
    }
    Ok(())
}

/// The path part of an HDFS location URL: `hdfs://nn:9000/a/b` → `/a/b`; a bare path is
/// returned as it is.
pub fn url_path(location: &str) -> &str {
    match location.find("://") {
        Some(i) => {
            let rest = &location[i + 3..];
            rest.find('/').map_or("/", |j| &rest[j..])
        }
        None => location,
    }
}

/// Paths (without scheme and authority) of one table's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableLayout {
    root: String,
}

impl TableLayout {
    /// The layout of a table at `location` (an `hdfs://…` URL or a path).
    pub fn new(location: &str) -> Self {
        TableLayout {
            root: url_path(location).trim_end_matches('/').to_string(),
        }
    }

    /// The table directory.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// `<root>/dt=YYYY-MM-DD`.
    pub fn partition_dir(&self, dt: PartitionDate) -> String {
        format!("{}/{}", self.root, dt.partition_name())
    }

    /// `<root>/dt=YYYY-MM-DD/<file_name>`: where a committed file lives.
    pub fn file_path(&self, dt: PartitionDate, file_name: &str) -> String {
        format!("{}/{file_name}", self.partition_dir(dt))
    }

    /// `<root>/dt=YYYY-MM-DD/_SUCCESS`.
    pub fn success_marker(&self, dt: PartitionDate) -> String {
        format!("{}/_SUCCESS", self.partition_dir(dt))
    }

    /// The directory of files being written: `<root>/_tmp`.
    pub fn tmp_dir(&self) -> String {
        format!("{}/_tmp", self.root)
    }

    /// A fresh temporary path for `file_name` of partition `dt`:
    /// `<root>/_tmp/dt=YYYY-MM-DD/<file_name>.<attempt>.inprogress`, `attempt` unique per write
    /// so two writers of the same file never share a temporary file.
    pub fn tmp_path(&self, dt: PartitionDate, file_name: &str, attempt: &str) -> String {
        format!(
            "{}/{}/{file_name}.{attempt}.inprogress",
            self.tmp_dir(),
            dt.partition_name()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_dates_parse_print_and_come_from_epoch_ms() {
        let dt: PartitionDate = "2026-11-30".parse().unwrap();
        assert_eq!(dt.to_string(), "2026-11-30");
        assert_eq!(dt.partition_name(), "dt=2026-11-30");
        assert_eq!(
            PartitionDate::from_partition_name("dt=2026-11-30"),
            Some(dt)
        );
        for bad in [
            "2026-11-31",
            "2026-1-30",
            "26-11-30",
            "2026/11/30",
            "",
            "dt=2026-11-30",
        ] {
            assert!(bad.parse::<PartitionDate>().is_err(), "{bad:?} accepted");
        }
        assert_eq!(PartitionDate::from_partition_name("date=2026-11-30"), None);
        // 2026-11-30T23:59:59.999Z and the next millisecond.
        assert_eq!(PartitionDate::from_epoch_ms(1_796_083_199_999).unwrap(), dt);
        assert_eq!(
            PartitionDate::from_epoch_ms(1_796_083_200_000)
                .unwrap()
                .to_string(),
            "2026-12-01"
        );
        assert_eq!(
            PartitionDate::from_epoch_ms(-1).unwrap().to_string(),
            "1969-12-31"
        );
        assert!(PartitionDate::from_epoch_ms(i64::MAX).is_err());
    }

    #[test]
    fn file_names_must_be_visible_and_plain() {
        assert!(validate_file_name("part-00003-000000001234.orc").is_ok());
        assert!(validate_file_name("w=2026-11-30T12.orc").is_ok());
        for bad in [
            "",
            "_x.orc",
            ".x.orc",
            "a/b.orc",
            "a b.orc",
            "ä.orc",
            &"x".repeat(201),
        ] {
            assert!(validate_file_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn paths_of_a_table() {
        assert_eq!(
            url_path("hdfs://127.0.0.1:9000/user/hive/warehouse"),
            "/user/hive/warehouse"
        );
        assert_eq!(url_path("hdfs://nn"), "/");
        assert_eq!(url_path("/a/b"), "/a/b");
        let l = TableLayout::new("hdfs://nn:9000/wh/page_analytics/");
        let dt: PartitionDate = "2026-11-30".parse().unwrap();
        assert_eq!(l.root(), "/wh/page_analytics");
        assert_eq!(
            l.file_path(dt, "p-1.orc"),
            "/wh/page_analytics/dt=2026-11-30/p-1.orc"
        );
        assert_eq!(
            l.success_marker(dt),
            "/wh/page_analytics/dt=2026-11-30/_SUCCESS"
        );
        let tmp = l.tmp_path(dt, "p-1.orc", "abc");
        assert_eq!(
            tmp,
            "/wh/page_analytics/_tmp/dt=2026-11-30/p-1.orc.abc.inprogress"
        );
        // A temporary file is never inside a partition directory.
        assert!(!tmp.starts_with(&l.partition_dir(dt)));
    }
}
