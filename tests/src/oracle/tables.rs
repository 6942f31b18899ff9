//! The dataflow's tables as rows, read back through Hive SQL, and compared with a readable
//! diff: the four event and window tables ([`Tables`]) and the two of unique visitors and
//! sessions ([`VisitorTables`]), read and compared separately.
//!
//! Every value is held the way `tests/stack/stack sql` prints it, so expected and actual rows
//! compare as plain values: timestamps are UTC text `yyyy-MM-dd HH:mm:ss.SSS` (the JDBC client
//! pads to milliseconds, keeps finer digits), `rejected_web_events.raw_value` is read as
//! `hex(raw_value)` (upper case; binary survives any byte), `dt` is the partition value.
//! Tables are multisets: row order means nothing, duplicates count.

use std::cmp::Ordering;
use std::fmt::{Debug, Write as _};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::Stack;

/// One `raw_web_events` row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub struct RawRow {
    /// `event_id`.
    pub event_id: String,
    /// `user_id`.
    pub user_id: String,
    /// `session_id`.
    pub session_id: String,
    /// `event_type`.
    pub event_type: String,
    /// `page_url`.
    pub page_url: String,
    /// `browser`, `None` for SQL NULL.
    pub browser: Option<String>,
    /// `os`, `None` for SQL NULL.
    pub os: Option<String>,
    /// `country`, `None` for SQL NULL.
    pub country: Option<String>,
    /// `event_time`, UTC text with milliseconds.
    pub event_time: String,
    /// `clock_skew_ms`: the collector's clock-skew correction, `None` for SQL NULL (no
    /// correction made).
    pub clock_skew_ms: Option<i64>,
    /// Partition `dt`: UTC date of `event_time`, `YYYY-MM-DD`.
    pub dt: String,
}

/// One `late_web_events` row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub struct LateRow {
    /// `event_id`.
    pub event_id: String,
    /// `user_id`.
    pub user_id: String,
    /// `session_id`.
    pub session_id: String,
    /// `event_type`.
    pub event_type: String,
    /// `page_url`.
    pub page_url: String,
    /// `browser`, `None` for SQL NULL.
    pub browser: Option<String>,
    /// `os`, `None` for SQL NULL.
    pub os: Option<String>,
    /// `country`, `None` for SQL NULL.
    pub country: Option<String>,
    /// `event_time`, UTC text with milliseconds.
    pub event_time: String,
    /// `watermark`: the partition's watermark the event was behind when read, UTC text.
    pub watermark: String,
    /// `kafka_topic`.
    pub kafka_topic: String,
    /// `kafka_partition`.
    pub kafka_partition: i32,
    /// `kafka_offset`.
    pub kafka_offset: i64,
    /// Partition `dt`: UTC date of `event_time`.
    pub dt: String,
}

/// One `page_analytics` row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub struct PageRow {
    /// `page_url`.
    pub page_url: String,
    /// `event_type`.
    pub event_type: String,
    /// `event_count`: on-time events of this page and type in the window.
    pub event_count: i64,
    /// `window_start`, inclusive, UTC text.
    pub window_start: String,
    /// `window_end`, exclusive, UTC text.
    pub window_end: String,
    /// Partition `dt`: UTC date of `window_start`.
    pub dt: String,
}

/// One `rejected_web_events` row, without `seen_at` (a wall-clock time no two runs share).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub struct RejectedRow {
    /// `hex(raw_value)`: the record value byte for byte, upper-case hex.
    pub raw_value_hex: String,
    /// `reason`: the stable snake_case rejection reason (`events::RejectReason::as_str`).
    pub reason: String,
    /// `reason_detail`. The oracle does not predict this free text: it is `None` in expected
    /// rows, and [`Tables::without_reason_detail`] blanks it before an oracle comparison.
    pub reason_detail: Option<String>,
    /// `kafka_topic`.
    pub kafka_topic: String,
    /// `kafka_partition`.
    pub kafka_partition: i32,
    /// `kafka_offset`.
    pub kafka_offset: i64,
    /// `kafka_timestamp`, UTC text; `None` for SQL NULL.
    pub kafka_timestamp: Option<String>,
    /// Partition `dt`: UTC date of `kafka_timestamp`.
    pub dt: String,
}

/// One `visitor_analytics` row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub struct VisitorRow {
    /// `page_url`; `None` (SQL NULL) for the row of the whole site.
    pub page_url: Option<String>,
    /// `window_start`, inclusive, UTC text.
    pub window_start: String,
    /// `window_end`, exclusive, UTC text.
    pub window_end: String,
    /// `unique_visitors`: distinct `user_id` among the on-time events of this page (or of
    /// the site) in the window.
    pub unique_visitors: i64,
    /// `events`: those events' count.
    pub events: i64,
    /// Partition `dt`: UTC date of `window_start`.
    pub dt: String,
}

/// One `sessions` row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub struct SessionRow {
    /// `session_id`.
    pub session_id: String,
    /// `user_id` of the session's first event.
    pub user_id: String,
    /// `session_start`: time of the first event, UTC text.
    pub session_start: String,
    /// `session_end`: time of the last event, UTC text.
    pub session_end: String,
    /// `duration_ms`: end − start.
    pub duration_ms: i64,
    /// `events`: the session's events.
    pub events: i64,
    /// `page_views`: those of type `page_view`.
    pub page_views: i64,
    /// `entry_page`: `page_url` of the first event.
    pub entry_page: String,
    /// `exit_page`: `page_url` of the last event.
    pub exit_page: String,
    /// `is_bounce`: not engaged (engaged: ≥ 10 s, or ≥ 2 page views, or a `form_submit`).
    pub is_bounce: bool,
    /// `browser` of the first event, `None` for SQL NULL.
    pub browser: Option<String>,
    /// `os` of the first event, `None` for SQL NULL.
    pub os: Option<String>,
    /// `country` of the first event, `None` for SQL NULL.
    pub country: Option<String>,
    /// Partition `dt`: UTC date of `session_start`.
    pub dt: String,
}

/// The contents of the four tables of one Hive database, each sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tables {
    /// `raw_web_events`.
    pub raw: Vec<RawRow>,
    /// `late_web_events`.
    pub late: Vec<LateRow>,
    /// `page_analytics`.
    pub page: Vec<PageRow>,
    /// `rejected_web_events`.
    pub rejected: Vec<RejectedRow>,
}

const EVENT_COLUMNS: &str =
    "event_id, user_id, session_id, event_type, page_url, browser, os, country, event_time";

impl Tables {
    /// Reads the four tables of `database` through Hive SQL, in one session (each `stack sql`
    /// call starts a JVM, so one call rather than four).
    ///
    /// # Errors
    /// When a query fails (missing table, unreadable file) or a row does not have the
    /// expected shape (e.g. NULL in a required column); the error names the table.
    pub fn read(stack: &Stack, database: &str) -> Result<Tables> {
        Self::read_some(stack, database, true)
    }

    /// Like [`Tables::read`], without `raw_web_events` (left empty): for streams whose raw
    /// rows are too many to move through JDBC; check those with aggregates in SQL.
    ///
    /// # Errors
    /// As [`Tables::read`].
    pub fn read_without_raw(stack: &Stack, database: &str) -> Result<Tables> {
        Self::read_some(stack, database, false)
    }

    fn read_some(stack: &Stack, database: &str, with_raw: bool) -> Result<Tables> {
        let raw =
            format!("SELECT {EVENT_COLUMNS}, clock_skew_ms, dt FROM {database}.raw_web_events");
        let late = format!(
            "SELECT {EVENT_COLUMNS}, watermark, kafka_topic, kafka_partition, kafka_offset, dt \
             FROM {database}.late_web_events"
        );
        let page = format!(
            "SELECT page_url, event_type, event_count, window_start, window_end, dt \
             FROM {database}.page_analytics"
        );
        let rejected = format!(
            "SELECT hex(raw_value), reason, reason_detail, kafka_topic, kafka_partition, \
             kafka_offset, kafka_timestamp, dt FROM {database}.rejected_web_events"
        );
        let mut queries = vec![late.as_str(), page.as_str(), rejected.as_str()];
        if with_raw {
            queries.insert(0, raw.as_str());
        }
        let mut sets = stack
            .hive_sql(&queries)
            .with_context(|| format!("reading the tables of {database} through Hive SQL"))?;
        if sets.len() != queries.len() {
            bail!(
                "expected {} result sets from {database}, got {}",
                queries.len(),
                sets.len()
            );
        }
        let raw = if with_raw {
            sets.remove(0).rows_as().context("raw_web_events")?
        } else {
            Vec::new()
        };
        let mut tables = Tables {
            raw,
            late: sets[0].rows_as().context("late_web_events")?,
            page: sets[1].rows_as().context("page_analytics")?,
            rejected: sets[2].rows_as().context("rejected_web_events")?,
        };
        tables.sort();
        Ok(tables)
    }

    /// Sorts every table, so equal multisets are equal vectors.
    pub fn sort(&mut self) {
        self.raw.sort();
        self.late.sort();
        self.page.sort();
        self.rejected.sort();
    }

    /// The same tables with `rejected_web_events.reason_detail` set to `None` (the oracle
    /// predicts the reason code, not its free-text detail).
    pub fn without_reason_detail(mut self) -> Tables {
        for row in &mut self.rejected {
            row.reason_detail = None;
        }
        self
    }

    /// The same tables with `late_web_events.watermark` emptied: after an idle advance the
    /// watermark is the wall clock of the process that made it, which two independent runs do
    /// not share even when they judge every event alike.
    pub fn without_late_watermark(mut self) -> Tables {
        for row in &mut self.late {
            row.watermark.clear();
        }
        self.sort();
        self
    }

    /// Row counts, e.g. `raw=30012 late=812 page=2113 rejected=12`.
    pub fn summary(&self) -> String {
        format!(
            "raw={} late={} page={} rejected={}",
            self.raw.len(),
            self.late.len(),
            self.page.len(),
            self.rejected.len()
        )
    }

    /// `None` when `actual` holds exactly the rows of `expected` (as multisets), else a
    /// readable report: per differing table the counts and the first `max_rows` missing and
    /// unexpected rows.
    pub fn diff(expected: &Tables, actual: &Tables, max_rows: usize) -> Option<String> {
        let mut report = String::new();
        diff_table(
            "raw_web_events",
            &expected.raw,
            &actual.raw,
            max_rows,
            &mut report,
        );
        diff_table(
            "late_web_events",
            &expected.late,
            &actual.late,
            max_rows,
            &mut report,
        );
        diff_table(
            "page_analytics",
            &expected.page,
            &actual.page,
            max_rows,
            &mut report,
        );
        diff_table(
            "rejected_web_events",
            &expected.rejected,
            &actual.rejected,
            max_rows,
            &mut report,
        );
        (!report.is_empty()).then_some(report)
    }
}

/// The contents of `visitor_analytics` and `sessions` of one Hive database, each sorted.
///
/// Kept apart from [`Tables`], so the tests of the four older tables read nothing more.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VisitorTables {
    /// `visitor_analytics`.
    pub visitors: Vec<VisitorRow>,
    /// `sessions`.
    pub sessions: Vec<SessionRow>,
}

impl VisitorTables {
    /// Reads both tables of `database` through Hive SQL, in one session.
    ///
    /// # Errors
    /// When a table is missing or a query fails (Hive's message names the table), or a row
    /// does not have the expected shape.
    pub fn read(stack: &Stack, database: &str) -> Result<VisitorTables> {
        let visitors = format!(
            "SELECT page_url, window_start, window_end, unique_visitors, events, dt \
             FROM {database}.visitor_analytics"
        );
        let sessions = format!(
            "SELECT session_id, user_id, session_start, session_end, duration_ms, events, \
             page_views, entry_page, exit_page, is_bounce, browser, os, country, dt \
             FROM {database}.sessions"
        );
        let sets = stack.hive_sql(&[&visitors, &sessions]).with_context(|| {
            format!("reading visitor_analytics and sessions of {database} through Hive SQL")
        })?;
        if sets.len() != 2 {
            bail!("expected 2 result sets from {database}, got {}", sets.len());
        }
        let mut tables = VisitorTables {
            visitors: sets[0].rows_as().context("visitor_analytics")?,
            sessions: sets[1].rows_as().context("sessions")?,
        };
        tables.sort();
        Ok(tables)
    }

    /// Sorts both tables, so equal multisets are equal vectors.
    pub fn sort(&mut self) {
        self.visitors.sort();
        self.sessions.sort();
    }

    /// Row counts, e.g. `visitor_analytics=2113 sessions=812`.
    pub fn summary(&self) -> String {
        format!(
            "visitor_analytics={} sessions={}",
            self.visitors.len(),
            self.sessions.len()
        )
    }

    /// `None` when `actual` holds exactly the rows of `expected` (as multisets), else a
    /// readable report as [`Tables::diff`] gives.
    pub fn diff(
        expected: &VisitorTables,
        actual: &VisitorTables,
        max_rows: usize,
    ) -> Option<String> {
        let mut report = String::new();
        diff_table(
            "visitor_analytics",
            &expected.visitors,
            &actual.visitors,
            max_rows,
            &mut report,
        );
        diff_table(
            "sessions",
            &expected.sessions,
            &actual.sessions,
            max_rows,
            &mut report,
        );
        (!report.is_empty()).then_some(report)
    }
}

/// Panics with a [`VisitorTables::diff`] report (up to 10 rows per side and table) unless
/// `actual` equals `expected`. `what` names the comparison in the message.
///
/// # Panics
/// When the tables differ.
pub fn assert_visitor_tables_eq(expected: &VisitorTables, actual: &VisitorTables, what: &str) {
    if let Some(report) = VisitorTables::diff(expected, actual, 10) {
        panic!(
            "{what}: tables differ\n  expected: {}\n  actual:   {}\n{report}",
            expected.summary(),
            actual.summary()
        );
    }
}

/// Panics with a [`Tables::diff`] report (up to 10 rows per side and table) unless `actual`
/// equals `expected`. `what` names the comparison in the message, e.g. `"oracle vs 2×1 run"`.
///
/// # Panics
/// When the tables differ.
pub fn assert_tables_eq(expected: &Tables, actual: &Tables, what: &str) {
    if let Some(report) = Tables::diff(expected, actual, 10) {
        panic!(
            "{what}: tables differ\n  expected: {}\n  actual:   {}\n{report}",
            expected.summary(),
            actual.summary()
        );
    }
}

/// Appends to `out` the difference of two multisets of rows, if any.
fn diff_table<T: Ord + Clone + Debug>(
    name: &str,
    expected: &[T],
    actual: &[T],
    max_rows: usize,
    out: &mut String,
) {
    let (missing, unexpected) = multiset_difference(expected, actual);
    if missing.is_empty() && unexpected.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "{name}: expected {} rows, got {}; {} missing, {} unexpected",
        expected.len(),
        actual.len(),
        missing.len(),
        unexpected.len()
    );
    for (label, rows) in [("missing", &missing), ("unexpected", &unexpected)] {
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "  {label} (first {} of {}):",
            max_rows.min(rows.len()),
            rows.len()
        );
        for row in rows.iter().take(max_rows) {
            let _ = writeln!(out, "    {row:?}");
        }
    }
}

/// (rows of `expected` not in `actual`, rows of `actual` not in `expected`), as multisets,
/// each sorted.
fn multiset_difference<T: Ord + Clone>(expected: &[T], actual: &[T]) -> (Vec<T>, Vec<T>) {
    let mut e = expected.to_vec();
    let mut a = actual.to_vec();
    e.sort();
    a.sort();
    let (mut missing, mut unexpected) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < e.len() && j < a.len() {
        match e[i].cmp(&a[j]) {
            Ordering::Equal => {
                i += 1;
                j += 1;
            }
            Ordering::Less => {
                missing.push(e[i].clone());
                i += 1;
            }
            Ordering::Greater => {
                unexpected.push(a[j].clone());
                j += 1;
            }
        }
    }
    missing.extend_from_slice(&e[i..]);
    unexpected.extend_from_slice(&a[j..]);
    (missing, unexpected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hive_sql::parse_json_lines;

    fn page(url: &str, count: i64) -> PageRow {
        PageRow {
            page_url: url.into(),
            event_type: "click".into(),
            event_count: count,
            window_start: "2026-11-30 00:00:00.000".into(),
            window_end: "2026-11-30 00:01:00.000".into(),
            dt: "2026-11-30".into(),
        }
    }

    #[test]
    fn multisets_count_duplicates() {
        let (missing, unexpected) = multiset_difference(&[1, 1, 2, 5], &[1, 2, 2, 3]);
        assert_eq!(missing, vec![1, 5]);
        assert_eq!(unexpected, vec![2, 3]);
        let (missing, unexpected) = multiset_difference(&[3, 1, 2], &[2, 3, 1]);
        assert!(missing.is_empty() && unexpected.is_empty());
    }

    #[test]
    fn equal_tables_have_no_diff_and_different_ones_a_readable_one() {
        let expected = Tables {
            page: vec![page("/a", 3), page("/b", 1)],
            ..Tables::default()
        };
        assert_eq!(Tables::diff(&expected, &expected.clone(), 5), None);
        let actual = Tables {
            page: vec![page("/b", 1), page("/a", 2), page("/c", 7)],
            ..Tables::default()
        };
        let report = Tables::diff(&expected, &actual, 5).unwrap();
        assert!(
            report.starts_with("page_analytics: expected 2 rows, got 3; 1 missing, 2 unexpected")
        );
        assert!(report.contains("missing (first 1 of 1):"));
        assert!(report.contains("page_url: \"/a\""));
        assert!(report.contains("event_count: 7"));
        assert!(!report.contains("raw_web_events"));
    }

    #[test]
    fn rows_deserialise_from_the_sql_client_output() {
        let out = concat!(
            "{\"columns\":[{\"name\":\"hex(raw_value)\",\"type\":\"string\"},",
            "{\"name\":\"reason\",\"type\":\"string\"},{\"name\":\"reason_detail\",\"type\":\"string\"},",
            "{\"name\":\"kafka_topic\",\"type\":\"string\"},{\"name\":\"kafka_partition\",\"type\":\"int\"},",
            "{\"name\":\"kafka_offset\",\"type\":\"bigint\"},{\"name\":\"kafka_timestamp\",\"type\":\"timestamp\"},",
            "{\"name\":\"dt\",\"type\":\"string\"}]}\n",
            "[\"FFFE\",\"invalid_utf8\",\"invalid UTF-8 at byte 0\",\"t\",2,17,\"2026-11-29 23:59:01.000\",\"2026-11-29\"]\n",
        );
        let sets = parse_json_lines(out).unwrap();
        let rows: Vec<RejectedRow> = sets[0].rows_as().unwrap();
        assert_eq!(rows[0].raw_value_hex, "FFFE");
        assert_eq!(rows[0].kafka_partition, 2);
        assert_eq!(rows[0].kafka_offset, 17);
        let blanked = Tables {
            rejected: rows,
            ..Tables::default()
        }
        .without_reason_detail();
        assert_eq!(blanked.rejected[0].reason_detail, None);
    }

    #[test]
    fn visitor_and_session_rows_deserialise_with_nulls_and_booleans() {
        let out = concat!(
            "{\"columns\":[{\"name\":\"page_url\",\"type\":\"string\"},",
            "{\"name\":\"window_start\",\"type\":\"timestamp\"},",
            "{\"name\":\"window_end\",\"type\":\"timestamp\"},",
            "{\"name\":\"unique_visitors\",\"type\":\"bigint\"},",
            "{\"name\":\"events\",\"type\":\"bigint\"},{\"name\":\"dt\",\"type\":\"string\"}]}\n",
            "[null,\"2026-11-30 00:00:00.000\",\"2026-11-30 00:01:00.000\",7,19,\"2026-11-30\"]\n",
            "{\"columns\":[{\"name\":\"session_id\",\"type\":\"string\"},",
            "{\"name\":\"user_id\",\"type\":\"string\"},",
            "{\"name\":\"session_start\",\"type\":\"timestamp\"},",
            "{\"name\":\"session_end\",\"type\":\"timestamp\"},",
            "{\"name\":\"duration_ms\",\"type\":\"bigint\"},{\"name\":\"events\",\"type\":\"bigint\"},",
            "{\"name\":\"page_views\",\"type\":\"bigint\"},{\"name\":\"entry_page\",\"type\":\"string\"},",
            "{\"name\":\"exit_page\",\"type\":\"string\"},{\"name\":\"is_bounce\",\"type\":\"boolean\"},",
            "{\"name\":\"browser\",\"type\":\"string\"},{\"name\":\"os\",\"type\":\"string\"},",
            "{\"name\":\"country\",\"type\":\"string\"},{\"name\":\"dt\",\"type\":\"string\"}]}\n",
            "[\"s1\",\"user-3\",\"2026-11-29 23:59:58.000\",\"2026-11-30 00:00:03.500\",5500,2,1,",
            "\"/a\",\"/b\",true,\"Edge\",null,\"DE\",\"2026-11-29\"]\n",
        );
        let sets = parse_json_lines(out).unwrap();
        let visitors: Vec<VisitorRow> = sets[0].rows_as().unwrap();
        assert_eq!(visitors[0].page_url, None);
        assert_eq!((visitors[0].unique_visitors, visitors[0].events), (7, 19));
        let sessions: Vec<SessionRow> = sets[1].rows_as().unwrap();
        assert!(sessions[0].is_bounce);
        assert_eq!(sessions[0].os, None);
        assert_eq!(sessions[0].duration_ms, 5500);

        let expected = VisitorTables {
            visitors: visitors.clone(),
            sessions: sessions.clone(),
        };
        assert_eq!(VisitorTables::diff(&expected, &expected.clone(), 5), None);
        let mut other = sessions[0].clone();
        other.is_bounce = false;
        let actual = VisitorTables {
            visitors,
            sessions: vec![other],
        };
        let report = VisitorTables::diff(&expected, &actual, 5).unwrap();
        assert!(
            report.starts_with("sessions: expected 1 rows, got 1; 1 missing, 1 unexpected"),
            "{report}"
        );
        assert!(report.contains("is_bounce: false"));
        assert!(!report.contains("visitor_analytics"));
    }
}
