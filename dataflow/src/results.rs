//! How each result table's rows are grouped into files ([`crate::sink::FileSpec`]).
//!
//! | table | group | file in `dt=` | `dt` |
//! |---|---|---|---|
//! | `page_analytics` | window | `w-<window_start>-<window_end>.orc` | date of `window_start` |
//! | `visitor_analytics` | window | `w-<window_start>-<window_end>.orc` | date of `window_start` |
//! | `sessions` | minute of close time | `s-<bucket_start>-<bucket_end>.orc` | date of `session_start` |
//!
//! Every name depends on event times only, so the files are the same for any worker count.

use std::collections::{BTreeMap, HashMap};

use hive::{PartitionDate, Table};

use crate::rows::{
    session_batch, session_file_name, visitor_batch, window_batch, window_file_name,
};
use crate::sessions::{close_bucket, SessionRow};
use crate::sink::{FileSpec, GroupFile};
use crate::visitors::VisitorFigure;

/// A final `page_analytics` row: `(page_url, event_type, window_start, window_end, count)`.
pub type PageRow = (String, String, i64, i64, i64);

/// `dt` of a time Hive can place; the epoch day for one it cannot (never for a valid event).
fn dt_of(ms: i64) -> PartitionDate {
    PartitionDate::from_epoch_ms(ms)
        .or_else(|_| PartitionDate::from_epoch_ms(0))
        .unwrap_or_else(|_| PartitionDate::new(chrono::NaiveDate::MIN))
}

/// `page_analytics`: one file per window.
pub fn page_files() -> FileSpec<PageRow> {
    FileSpec {
        table: Table::PageAnalytics,
        group: |r, _| (r.2, r.3),
        files: |start, end, rows| {
            let mut rows: Vec<(String, String, i64)> =
                rows.into_iter().map(|(p, k, _, _, n)| (p, k, n)).collect();
            vec![GroupFile {
                dt: dt_of(start),
                name: window_file_name(start, end),
                batch: window_batch(start, end, &mut rows),
            }]
        },
    }
}

/// `visitor_analytics`: one file per window, one row per page plus the site row.
pub fn visitor_files() -> FileSpec<VisitorFigure> {
    FileSpec {
        table: Table::VisitorAnalytics,
        group: |((_, start, end), _, _), _| (*start, *end),
        files: |start, end, figures| {
            let mut by_scope: HashMap<Option<String>, (i64, i64)> = HashMap::new();
            for ((scope, _, _), is_visitors, value) in figures {
                let entry = by_scope.entry(scope).or_insert((0, 0));
                if is_visitors {
                    entry.0 += value;
                } else {
                    entry.1 += value;
                }
            }
            let mut rows: Vec<(Option<String>, i64, i64)> =
                by_scope.into_iter().map(|(s, (v, e))| (s, v, e)).collect();
            vec![GroupFile {
                dt: dt_of(start),
                name: window_file_name(start, end),
                batch: visitor_batch(start, end, &mut rows),
            }]
        },
    }
}

/// `sessions`: one file per close bucket and `dt` of `session_start`.
pub fn session_files() -> FileSpec<SessionRow> {
    FileSpec {
        table: Table::Sessions,
        group: |_, time| close_bucket(time),
        files: |start, end, rows| {
            let mut by_dt: BTreeMap<PartitionDate, Vec<SessionRow>> = BTreeMap::new();
            for r in rows {
                by_dt.entry(dt_of(r.start_ms)).or_default().push(r);
            }
            by_dt
                .into_iter()
                .map(|(dt, mut rows)| GroupFile {
                    dt,
                    name: session_file_name(start, end),
                    batch: session_batch(&mut rows),
                })
                .collect()
        },
    }
}
