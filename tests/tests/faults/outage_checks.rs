//! What the outage cases check on HDFS and in the programs' answers, with the parsers
//! those checks need: committed and temporary files, block replicas from the NameNode's
//! `fsck`, archive differences, Prometheus counters, log tails.

use std::collections::{BTreeMap, BTreeSet};

use wa_tests::Stack;

use crate::archive::{self as archiver_support, ByDate};
use crate::support::block_on;

/// The sum of every sample of counter `name` (all label sets) on a Prometheus page.
pub(super) fn metric_sum(page: &str, name: &str) -> u64 {
    page.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// The last `n` lines of a log file.
pub(super) fn tail(path: &std::path::Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Data files committed under `root` (recursively) in `marker`-named partition directories:
/// no directory, no hidden or `_`-prefixed name (temporaries, `_SUCCESS`), nothing in `_tmp`.
pub(super) fn committed_under(s: &Stack, root: &str, marker: &str) -> BTreeSet<String> {
    list(s, root)
        .into_iter()
        .filter(|(path, isdir)| {
            let name = path.rsplit('/').next().unwrap_or_default();
            !isdir
                && path.contains(&format!("/{marker}"))
                && !path.contains("/_tmp/")
                && !name.starts_with('.')
                && !name.starts_with('_')
        })
        .map(|(path, _)| path)
        .collect()
}

/// Files under `root` whose path contains `part`.
pub(super) fn temporaries(s: &Stack, root: &str, part: &str) -> Vec<String> {
    list(s, root)
        .into_iter()
        .filter(|(path, isdir)| !isdir && path.contains(part))
        .map(|(path, _)| path)
        .collect()
}

/// Every entry under `root`, recursively, as (path, is a directory); empty if it is missing.
fn list(s: &Stack, root: &str) -> Vec<(String, bool)> {
    let listing = block_on(async {
        archiver_support::hdfs(s)
            .list_status(root.trim_end_matches('/'), true)
            .await
    });
    match listing {
        Ok(entries) => entries.into_iter().map(|e| (e.path, e.isdir)).collect(),
        Err(hdfs_native::HdfsError::FileNotFound(_)) => Vec::new(),
        Err(e) => panic!("listing {root}: {e}"),
    }
}

/// Where two archives (values per date) differ: per date, how many values are missing and
/// how many are extra (duplicates count), with a few examples. `None` when they are equal.
pub(super) fn archive_diff(want: &ByDate, got: &ByDate) -> Option<String> {
    if want == got {
        return None;
    }
    let mut out = String::new();
    let dates: BTreeSet<&String> = want.keys().chain(got.keys()).collect();
    for d in dates {
        let mut left: BTreeMap<&Option<Vec<u8>>, i64> = BTreeMap::new();
        for v in want.get(d).into_iter().flatten() {
            *left.entry(v).or_default() += 1;
        }
        for v in got.get(d).into_iter().flatten() {
            *left.entry(v).or_default() -= 1;
        }
        let missing: Vec<_> = left.iter().filter(|(_, &n)| n > 0).collect();
        let extra: Vec<_> = left.iter().filter(|(_, &n)| n < 0).collect();
        if missing.is_empty() && extra.is_empty() {
            continue;
        }
        let show = |v: &Option<Vec<u8>>| match v {
            Some(b) => String::from_utf8_lossy(b).chars().take(120).collect(),
            None => "<null>".to_owned(),
        };
        out.push_str(&format!(
            "  date={d}: {} missing, {} extra (or duplicated)\n",
            missing.iter().map(|(_, &n)| n).sum::<i64>(),
            -extra.iter().map(|(_, &n)| n).sum::<i64>()
        ));
        for (v, n) in missing.iter().take(3) {
            out.push_str(&format!("    missing ×{n}: {}\n", show(v)));
        }
        for (v, n) in extra.iter().take(3) {
            out.push_str(&format!("    extra ×{}: {}\n", -**n, show(v)));
        }
    }
    Some(out)
}

/// Live replicas of each block of each file in an `fsck -files -blocks` report, per file path.
fn live_replicas(fsck: &str) -> BTreeMap<String, Vec<u32>> {
    let mut files: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in fsck.lines() {
        if line.starts_with('/') && line.contains(" bytes, replicated:") {
            let path = line.split(' ').next().unwrap_or_default().to_owned();
            files.insert(path.clone(), Vec::new());
            current = Some(path);
        } else if let Some(n) = line.split("Live_repl=").nth(1) {
            let n: u32 = n
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|d| d.parse().ok())
                .unwrap_or_else(|| panic!("unreadable fsck block line {line:?}"));
            let Some(file) = current.as_ref() else {
                panic!("fsck block line before any file line: {line:?}");
            };
            files.entry(file.clone()).or_default().push(n);
        } else if !line.is_empty() {
            // Any other line ends a file's block list (directories, summaries).
            current = None;
        }
    }
    files
}

/// The `fsck` view of `files`: for each, the live replicas of its blocks.
pub(super) fn replicas_of(
    s: &Stack,
    roots: &[&str],
    files: &BTreeSet<String>,
) -> BTreeMap<String, Vec<u32>> {
    let mut all = BTreeMap::new();
    for root in roots {
        all.extend(live_replicas(&s.fsck(root).unwrap()));
    }
    files
        .iter()
        .map(|f| (f.clone(), all.get(f).cloned().unwrap_or_default()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsck_reports_parse_into_live_replicas_per_file() {
        let report = "\
FSCK started by root (auth:SIMPLE) from /127.0.0.1 for path /a at Mon Nov 30 09:59:28 UTC 2026

/a <dir>
/a/dt=2026-11-30 <dir>
/a/dt=2026-11-30/x.orc 2048 bytes, replicated: replication=2, 1 block(s):  Under replicated BP-1:blk_1_1. Target Replicas is 2 but found 1 live replica(s), 0 decommissioned replica(s).
0. BP-1-127.0.0.1-1:blk_1073741825_1001 len=2048 Live_repl=1

/a/dt=2026-11-30/y.orc 0 bytes, replicated: replication=2, 0 block(s):  OK

/a/z.orc 300000000 bytes, replicated: replication=2, 2 block(s):  OK
0. BP-1:blk_2_2 len=268435456 Live_repl=2
1. BP-1:blk_3_3 len=31564544 Live_repl=2

Status: HEALTHY
 Number of data-nodes:	2
";
        let files = live_replicas(report);
        assert_eq!(files["/a/dt=2026-11-30/x.orc"], vec![1]);
        assert_eq!(files["/a/dt=2026-11-30/y.orc"], Vec::<u32>::new());
        assert_eq!(files["/a/z.orc"], vec![2, 2]);
        assert_eq!(files.len(), 3);
    }

    #[test]
    fn counters_are_summed_over_label_sets() {
        let page = "# TYPE wa_hive_write_retries_total counter\n\
                    wa_hive_write_retries_total{table=\"raw_web_events\"} 3\n\
                    wa_hive_write_retries_total{table=\"late_web_events\"} 2\n\
                    wa_hive_write_retries_total_other 7\n\
                    wa_archiver_commit_retries_total 4\n";
        assert_eq!(metric_sum(page, "wa_hive_write_retries_total"), 5);
        assert_eq!(metric_sum(page, "wa_archiver_commit_retries_total"), 4);
        assert_eq!(metric_sum(page, "wa_missing_total"), 0);
    }

    #[test]
    fn archive_diffs_count_missing_and_duplicated_values() {
        let v = |s: &str| Some(s.as_bytes().to_vec());
        let mut want = ByDate::new();
        want.insert("2026-11-30".into(), vec![v("a"), v("b")]);
        let mut got = ByDate::new();
        got.insert("2026-11-30".into(), vec![v("a"), v("a")]);
        got.insert("2026-12-01".into(), vec![v("c")]);
        let diff = archive_diff(&want, &got).unwrap();
        assert!(
            diff.contains("date=2026-11-30: 1 missing, 1 extra"),
            "{diff}"
        );
        assert!(
            diff.contains("date=2026-12-01: 0 missing, 1 extra"),
            "{diff}"
        );
        assert!(archive_diff(&want, &want).is_none());
    }
}
