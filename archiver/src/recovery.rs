//! Recovery: what a (re)starting archiver learns from the archive itself.
//!
//! The archive on HDFS is the only state. Every committed file name carries its partition,
//! its offset range and the partition's committed offset once it was in place
//! ([`crate::naming`]). From a listing of the root the archiver derives, per Kafka partition:
//!
//! - the **resume offset**: the highest committed offset named by any of its files. Every
//!   record below it was in a committed file when that file was renamed, and files are never
//!   removed, so it is safe to resume there;
//! - the **committed ranges** per date: records at or above the resume offset may already be
//!   archived — near midnight a partition has files of two dates open, and the later date's
//!   file may have been committed while the earlier one was still open when the process died.
//!   A record `(partition, date, offset)` is already archived exactly when a committed file of
//!   that partition and date has `first <= offset <= last` (a file holds every record of its
//!   partition and date in its range); such records are skipped, not written twice.
//!
//! Temporaries left behind by a crash are listed for deletion: their records were never
//! committed and are read again from Kafka.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use crate::naming::{is_temp_name, parse_date_dir, FileName};

/// What the archive holds, as far as restarting is concerned.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RecoveryPlan {
    /// Per partition, the offset to resume reading at. Partitions without files are absent
    /// (read from the beginning of the log).
    pub resume: BTreeMap<i32, i64>,
    /// Per (partition, date), the `(first, last)` offset ranges of committed files, sorted.
    pub committed: BTreeMap<(i32, NaiveDate), Vec<(i64, i64)>>,
    /// Full paths of temporaries to delete before writing anything.
    pub stale_temporaries: Vec<String>,
    /// Dates that have at least one committed file (their Hive partitions must exist).
    pub dates: BTreeSet<NaiveDate>,
    /// Paths under the root that are neither ours nor expected; reported, left alone.
    pub foreign: Vec<String>,
}

impl RecoveryPlan {
    /// Builds the plan from a recursive listing of the archive root: full paths of files
    /// (directories are not needed).
    pub fn from_listing<'a>(files: impl IntoIterator<Item = &'a str>) -> Self {
        let mut plan = Self::default();
        for path in files {
            let mut parts = path.rsplit('/');
            let name = parts.next().unwrap_or_default();
            let date = parts.next().and_then(parse_date_dir);
            match (date, FileName::parse(name)) {
                (Some(date), Some(file)) => {
                    let resume = plan.resume.entry(file.partition).or_insert(file.committed);
                    *resume = (*resume).max(file.committed);
                    plan.committed
                        .entry((file.partition, date))
                        .or_default()
                        .push((file.first, file.last));
                    plan.dates.insert(date);
                }
                (Some(_), None) if is_temp_name(name) => {
                    plan.stale_temporaries.push(path.to_string());
                }
                _ => plan.foreign.push(path.to_string()),
            }
        }
        for ranges in plan.committed.values_mut() {
            ranges.sort_unstable();
        }
        plan
    }

    /// Whether the record at `offset` of `partition`, dated `date`, is already archived.
    pub fn is_archived(&self, partition: i32, date: NaiveDate, offset: i64) -> bool {
        let Some(ranges) = self.committed.get(&(partition, date)) else {
            return false;
        };
        // The last range starting at or before `offset` is the only one that can hold it.
        let after = ranges.partition_point(|&(first, _)| first <= offset);
        after > 0 && ranges[after - 1].1 >= offset
    }

    /// Per partition, the highest offset held by any of its committed files.
    pub fn highest_archived_offsets(&self) -> BTreeMap<i32, i64> {
        let mut highest = BTreeMap::new();
        for (&(partition, _), ranges) in &self.committed {
            if let Some(&(_, last)) = ranges.last() {
                let h = highest.entry(partition).or_insert(last);
                *h = (*h).max(last);
            }
        }
        highest
    }

    /// Forgets ranges that no record at or after `partition`'s `offset` can fall in, keeping
    /// the lookup small once the re-read past the resume offset is over.
    pub fn forget_below(&mut self, partition: i32, offset: i64) {
        self.committed.retain(|&(p, _), ranges| {
            p != partition || ranges.last().is_some_and(|r| r.1 >= offset)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn resume_is_the_highest_committed_offset_and_temporaries_are_stale() {
        let plan = RecoveryPlan::from_listing([
            "/raw/date=2026-11-29/part-p0-o0-99-c100.jsonl",
            "/raw/date=2026-11-29/part-p0-o100-180-c181.jsonl",
            "/raw/date=2026-11-29/.part-p0-o181.jsonl.inprogress",
            "/raw/date=2026-11-29/part-p1-o0-9-c10.jsonl.gz",
            "/raw/date=2026-11-29/_SUCCESS",
            "/raw/notes.txt",
        ]);
        assert_eq!(plan.resume, BTreeMap::from([(0, 181), (1, 10)]));
        assert_eq!(
            plan.stale_temporaries,
            vec!["/raw/date=2026-11-29/.part-p0-o181.jsonl.inprogress"]
        );
        assert_eq!(plan.dates, BTreeSet::from([date("2026-11-29")]));
        assert_eq!(plan.foreign.len(), 2);
    }

    /// Around midnight partition 0 has a file per date open. The later date's file
    /// (offsets 150..=190) was committed while the earlier date's (from 100) was still open,
    /// so its committed offset is 100; then the process died.
    #[test]
    fn midnight_crash_resumes_at_the_open_file_and_skips_what_is_committed() {
        let (d1, d2) = (date("2026-11-29"), date("2026-11-30"));
        let plan = RecoveryPlan::from_listing([
            "/raw/date=2026-11-29/part-p0-o0-99-c100.jsonl",
            "/raw/date=2026-11-30/part-p0-o150-190-c100.jsonl",
        ]);
        assert_eq!(
            plan.resume[&0], 100,
            "records 100.. of 2026-11-29 were never committed"
        );
        assert!(!plan.is_archived(0, d1, 120));
        assert!(!plan.is_archived(0, d1, 195));
        assert!(plan.is_archived(0, d2, 150));
        assert!(plan.is_archived(0, d2, 170));
        assert!(plan.is_archived(0, d2, 190));
        assert!(!plan.is_archived(0, d2, 191));
        assert!(!plan.is_archived(0, d2, 149));
        assert!(!plan.is_archived(1, d2, 170));
        assert!(plan.is_archived(0, d1, 50));
    }

    #[test]
    fn lookup_with_many_ranges_and_forgetting() {
        let d = date("2026-11-30");
        let mut plan = RecoveryPlan::from_listing([
            "/r/date=2026-11-30/part-p2-o30-39-c40.jsonl",
            "/r/date=2026-11-30/part-p2-o0-9-c10.jsonl",
            "/r/date=2026-11-30/part-p2-o10-19-c20.jsonl",
            "/r/date=2026-11-29/part-p2-o20-25-c20.jsonl",
        ]);
        let archived: Vec<i64> = (0..45).filter(|&o| plan.is_archived(2, d, o)).collect();
        assert_eq!(archived, (0..20).chain(30..40).collect::<Vec<_>>());
        assert_eq!(plan.resume[&2], 40);
        assert_eq!(plan.highest_archived_offsets(), BTreeMap::from([(2, 39)]));
        plan.forget_below(2, 26);
        assert_eq!(plan.committed.len(), 1);
        assert!(plan.is_archived(2, d, 35));
    }
}
