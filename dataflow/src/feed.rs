//! The results feed: every final row of `page_analytics`, `visitor_analytics` and `sessions`
//! published to a Kafka topic (`docs/results-feed-and-dashboard.md`, section 1).
//!
//! A committed file is not yet final: recovery deletes every group (window, or sessions' close
//! bucket) ending after the restored checkpoint's frontier `F` and produces it again, possibly
//! with other rows. A row is final once a checkpoint with `F ≥` its group's end is written, and
//! from then on its file is never deleted or rewritten. So the feed publishes only groups
//! ending at or before a written `F`, reading them back from their committed ORC files, and
//! keeps the published frontier `P` (every group ending at or before it is on the topic) next
//! to the checkpoint. A restart re-sends the groups ending after the stored `P`; they come from
//! the same files, so a re-sent record has the same key and value bytes.
//!
//! This module holds the pure parts: which files to publish ([`groups_to_publish`],
//! [`first_date`]) and the records a row becomes ([`records`]). [`task`] holds the publishing
//! task the coordinator (worker 0) hands each written `F` to.
//!
//! | table | key (JSON array) | value (JSON object, DDL column order, then `dt`) |
//! |---|---|---|
//! | `page_analytics` | `["page_analytics", page_url, event_type, window_start, window_end]` | `table, page_url, event_type, event_count, window_start, window_end, dt` |
//! | `visitor_analytics` | `["visitor_analytics", page_url, window_start, window_end]` | `table, page_url, window_start, window_end, unique_visitors, events, dt` |
//! | `sessions` | `["sessions", session_id, session_start]` | `table`, the 13 columns, `dt` |
//!
//! Times are RFC 3339 UTC with milliseconds (`2026-12-07T06:31:00.000Z`), NULL is `null`,
//! `is_bounce` a boolean. Both are compact `serde_json` of fixed-order structs holding only
//! strings, integers, booleans and nulls, so one row always gives the same bytes.

pub mod task;

use arrow::array::{Array, BooleanArray, Int64Array, StringArray, TimestampMillisecondArray};
use arrow::record_batch::RecordBatch;
use hive::{PartitionDate, Table};
use serde::Serialize;

use crate::rows::{parse_session_file_name, parse_window_file_name};
use crate::sessions::CLOSE_BUCKET_MS;
use crate::status::format_ms;

/// The tables on the feed, in the order their groups of one end are published.
pub const FEED_TABLES: [Table; 3] = [
    Table::PageAnalytics,
    Table::VisitorAnalytics,
    Table::Sessions,
];

/// One Kafka record of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRecord {
    /// The row's table (header `wa-table`).
    pub table: Table,
    /// The record key: compact JSON array, the table then its key columns.
    pub key: Vec<u8>,
    /// The record value: compact JSON object, the columns in DDL order, then `dt`.
    pub value: Vec<u8>,
}

/// A row that cannot be put on the feed (a file that does not have its table's columns).
#[derive(Debug, thiserror::Error)]
#[error("{table} row cannot be published: {detail}")]
pub struct FeedRowError {
    /// The table.
    pub table: Table,
    /// What is wrong.
    pub detail: String,
}

#[derive(Serialize)]
struct PageValue<'a> {
    table: &'static str,
    page_url: Option<&'a str>,
    event_type: Option<&'a str>,
    event_count: Option<i64>,
    window_start: Option<String>,
    window_end: Option<String>,
    dt: String,
}

#[derive(Serialize)]
struct VisitorValue<'a> {
    table: &'static str,
    page_url: Option<&'a str>,
    window_start: Option<String>,
    window_end: Option<String>,
    unique_visitors: Option<i64>,
    events: Option<i64>,
    dt: String,
}

#[derive(Serialize)]
struct SessionValue<'a> {
    table: &'static str,
    session_id: Option<&'a str>,
    user_id: Option<&'a str>,
    session_start: Option<String>,
    session_end: Option<String>,
    duration_ms: Option<i64>,
    events: Option<i64>,
    page_views: Option<i64>,
    entry_page: Option<&'a str>,
    exit_page: Option<&'a str>,
    is_bounce: Option<bool>,
    browser: Option<&'a str>,
    os: Option<&'a str>,
    country: Option<&'a str>,
    dt: String,
}

/// Typed access to the columns of one batch, by the table's column name.
struct Columns<'a> {
    table: Table,
    batch: &'a RecordBatch,
}

impl<'a> Columns<'a> {
    fn column<T: 'static>(&self, name: &str) -> Result<&'a T, FeedRowError> {
        self.batch
            .column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<T>())
            .ok_or_else(|| FeedRowError {
                table: self.table,
                detail: format!("column {name} is missing or not of the table's type"),
            })
    }
    fn text(&self, name: &str) -> Result<&'a StringArray, FeedRowError> {
        self.column(name)
    }
    fn int(&self, name: &str) -> Result<&'a Int64Array, FeedRowError> {
        self.column(name)
    }
    fn time(&self, name: &str) -> Result<&'a TimestampMillisecondArray, FeedRowError> {
        self.column(name)
    }
    fn flag(&self, name: &str) -> Result<&'a BooleanArray, FeedRowError> {
        self.column(name)
    }
}

fn text_at(a: &StringArray, i: usize) -> Option<&str> {
    a.is_valid(i).then(|| a.value(i))
}
fn int_at(a: &Int64Array, i: usize) -> Option<i64> {
    a.is_valid(i).then(|| a.value(i))
}
fn time_at(a: &TimestampMillisecondArray, i: usize) -> Option<String> {
    a.is_valid(i).then(|| format_ms(a.value(i)))
}
fn flag_at(a: &BooleanArray, i: usize) -> Option<bool> {
    a.is_valid(i).then(|| a.value(i))
}

fn json<T: Serialize + ?Sized>(table: Table, v: &T) -> Result<Vec<u8>, FeedRowError> {
    serde_json::to_vec(v).map_err(|e| FeedRowError {
        table,
        detail: e.to_string(),
    })
}

/// The feed records of `batch`, rows of `table` (one of [`FEED_TABLES`]) in partition `dt`,
/// with the table's columns ([`Table::arrow_schema`]; timestamps UTC epoch ms), one record per
/// row in row order.
///
/// # Errors
/// [`FeedRowError`] when `table` is not on the feed or a column is missing or of another type.
pub fn records(
    table: Table,
    dt: PartitionDate,
    batch: &RecordBatch,
) -> Result<Vec<FeedRecord>, FeedRowError> {
    let c = Columns { table, batch };
    let dt = dt.to_string();
    let name = table.name();
    let mut out = Vec::with_capacity(batch.num_rows());
    match table {
        Table::PageAnalytics => {
            let (page, kind, count) = (
                c.text("page_url")?,
                c.text("event_type")?,
                c.int("event_count")?,
            );
            let (start, end) = (c.time("window_start")?, c.time("window_end")?);
            for i in 0..batch.num_rows() {
                let v = PageValue {
                    table: name,
                    page_url: text_at(page, i),
                    event_type: text_at(kind, i),
                    event_count: int_at(count, i),
                    window_start: time_at(start, i),
                    window_end: time_at(end, i),
                    dt: dt.clone(),
                };
                let key = (
                    name,
                    v.page_url,
                    v.event_type,
                    &v.window_start,
                    &v.window_end,
                );
                out.push(FeedRecord {
                    table,
                    key: json(table, &key)?,
                    value: json(table, &v)?,
                });
            }
        }
        Table::VisitorAnalytics => {
            let page = c.text("page_url")?;
            let (start, end) = (c.time("window_start")?, c.time("window_end")?);
            let (visitors, events) = (c.int("unique_visitors")?, c.int("events")?);
            for i in 0..batch.num_rows() {
                let v = VisitorValue {
                    table: name,
                    page_url: text_at(page, i),
                    window_start: time_at(start, i),
                    window_end: time_at(end, i),
                    unique_visitors: int_at(visitors, i),
                    events: int_at(events, i),
                    dt: dt.clone(),
                };
                let key = (name, v.page_url, &v.window_start, &v.window_end);
                out.push(FeedRecord {
                    table,
                    key: json(table, &key)?,
                    value: json(table, &v)?,
                });
            }
        }
        Table::Sessions => {
            let (id, user) = (c.text("session_id")?, c.text("user_id")?);
            let (start, end) = (c.time("session_start")?, c.time("session_end")?);
            let (duration, events, views) = (
                c.int("duration_ms")?,
                c.int("events")?,
                c.int("page_views")?,
            );
            let (entry, exit, bounce) = (
                c.text("entry_page")?,
                c.text("exit_page")?,
                c.flag("is_bounce")?,
            );
            let (browser, os, country) = (c.text("browser")?, c.text("os")?, c.text("country")?);
            for i in 0..batch.num_rows() {
                let v = SessionValue {
                    table: name,
                    session_id: text_at(id, i),
                    user_id: text_at(user, i),
                    session_start: time_at(start, i),
                    session_end: time_at(end, i),
                    duration_ms: int_at(duration, i),
                    events: int_at(events, i),
                    page_views: int_at(views, i),
                    entry_page: text_at(entry, i),
                    exit_page: text_at(exit, i),
                    is_bounce: flag_at(bounce, i),
                    browser: text_at(browser, i),
                    os: text_at(os, i),
                    country: text_at(country, i),
                    dt: dt.clone(),
                };
                let key = (name, v.session_id, &v.session_start);
                out.push(FeedRecord {
                    table,
                    key: json(table, &key)?,
                    value: json(table, &v)?,
                });
            }
        }
        Table::RawWebEvents | Table::LateWebEvents | Table::RejectedWebEvents => {
            return Err(FeedRowError {
                table,
                detail: "the table is not on the results feed".into(),
            })
        }
    }
    Ok(out)
}

/// One committed group file to publish.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GroupFile {
    /// The group's end, UTC epoch ms: `window_end`, or a sessions close bucket's end.
    pub end_ms: i64,
    /// The table (groups of one end go in [`FEED_TABLES`] order).
    pub table: Table,
    /// The file's partition.
    pub dt: PartitionDate,
    /// The file's name in its partition.
    pub name: String,
}

/// The end (UTC epoch ms) of the group a file of `table` holds, from its name
/// (`w-<start>-<end>.orc` for windows, `s-<start>-<end>.orc` for sessions); `None` for any
/// other name (markers, hidden files) or table.
pub fn group_end(table: Table, name: &str) -> Option<i64> {
    match table {
        Table::PageAnalytics | Table::VisitorAnalytics => parse_window_file_name(name).map(|w| w.1),
        Table::Sessions => parse_session_file_name(name).map(|b| b.1),
        _ => None,
    }
}

/// The files among `names` (base names in partition `dt` of `table`) whose group ends after
/// `published_ms` (`P`) and at or before `frontier_ms` (`F`), sorted by end.
pub fn groups_to_publish(
    table: Table,
    dt: PartitionDate,
    names: &[String],
    published_ms: i64,
    frontier_ms: i64,
) -> Vec<GroupFile> {
    let mut out: Vec<GroupFile> = names
        .iter()
        .filter_map(|n| group_end(table, n).map(|end| (end, n)))
        .filter(|(end, _)| published_ms < *end && *end <= frontier_ms)
        .map(|(end_ms, n)| GroupFile {
            end_ms,
            table,
            dt,
            name: n.clone(),
        })
        .collect();
    out.sort();
    out
}

/// The earliest `dt` that can hold a group of `table` ending after `published_ms`; `None`
/// when every partition can (nothing published yet).
///
/// Windows: `dt` is the date of `window_start = end − size > P − size`. Sessions: `dt` is the
/// date of `session_start`, and a session closes in a bucket ending after `P` at most
/// `max_session_ms` after it starts, so `session_start > P − max_session_ms − 1 min`.
pub fn first_date(
    table: Table,
    published_ms: i64,
    window_size_ms: i64,
    max_session_ms: i64,
) -> Option<PartitionDate> {
    if published_ms == i64::MIN {
        return None;
    }
    let back = match table {
        Table::Sessions => max_session_ms.saturating_add(CLOSE_BUCKET_MS),
        _ => window_size_ms,
    };
    PartitionDate::from_epoch_ms(published_ms.saturating_sub(back)).ok()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::ArrayRef;

    use super::*;
    use crate::rows::{
        session_batch, session_file_name, visitor_batch, window_batch, window_file_name,
    };
    use crate::sessions::SessionRow;

    const MIN: i64 = 60_000;
    // 2026-12-07T06:00:00Z
    const T: i64 = 1_796_623_200_000;

    fn dt(ms: i64) -> PartitionDate {
        PartitionDate::from_epoch_ms(ms).unwrap()
    }

    fn keys(table: Table, batch: &RecordBatch) -> Vec<String> {
        records(table, dt(T), batch)
            .unwrap()
            .into_iter()
            .map(|r| String::from_utf8(r.key).unwrap())
            .collect()
    }

    fn session(id: &str, start: i64, browser: Option<&str>, bounce: bool) -> SessionRow {
        SessionRow {
            session_id: id.into(),
            user_id: "u-1".into(),
            start_ms: start,
            end_ms: start + 5_000,
            events: 2,
            page_views: 1,
            entry_page: "/".into(),
            exit_page: "/b".into(),
            is_bounce: bounce,
            browser: browser.map(Into::into),
            os: None,
            country: Some("DE".into()),
        }
    }

    #[test]
    fn keys_are_the_table_and_its_key_columns() {
        let mut pages = vec![
            ("/a|b".to_string(), "click".to_string(), 3),
            ("/a".to_string(), "b|click".to_string(), 4),
        ];
        let batch = window_batch(T, T + MIN, &mut pages);
        assert_eq!(
            keys(Table::PageAnalytics, &batch),
            [
                r#"["page_analytics","/a","b|click","2026-12-07T06:00:00.000Z","2026-12-07T06:01:00.000Z"]"#,
                r#"["page_analytics","/a|b","click","2026-12-07T06:00:00.000Z","2026-12-07T06:01:00.000Z"]"#,
            ]
        );
        let mut visitors = vec![(None, 7, 9), (Some("/a".to_string()), 2, 3)];
        let batch = visitor_batch(T, T + MIN, &mut visitors);
        assert_eq!(
            keys(Table::VisitorAnalytics, &batch),
            [
                r#"["visitor_analytics",null,"2026-12-07T06:00:00.000Z","2026-12-07T06:01:00.000Z"]"#,
                r#"["visitor_analytics","/a","2026-12-07T06:00:00.000Z","2026-12-07T06:01:00.000Z"]"#,
            ]
        );
        let batch = session_batch(&mut [session("s-\"1\"", T + 1, None, true)]);
        assert_eq!(
            keys(Table::Sessions, &batch),
            [r#"["sessions","s-\"1\"","2026-12-07T06:00:00.001Z"]"#]
        );
        // The event tables are not on the feed.
        assert!(records(Table::RawWebEvents, dt(T), &batch).is_err());
    }

    fn values(table: Table, batch: &RecordBatch) -> Vec<Vec<u8>> {
        records(table, dt(T), batch)
            .unwrap()
            .into_iter()
            .map(|r| r.value)
            .collect()
    }

    fn round_trip(table: Table, batch: &RecordBatch) -> RecordBatch {
        let bytes = hive::orc::encode(
            table.arrow_schema(),
            std::slice::from_ref(batch),
            hive::Compression::Zlib,
        )
        .unwrap();
        let mut read = hive::orc::decode(&table.arrow_schema(), bytes::Bytes::from(bytes)).unwrap();
        assert_eq!(read.len(), 1);
        read.remove(0)
    }

    #[test]
    fn a_row_always_gives_the_same_bytes() {
        let mut pages = vec![("/a".to_string(), "page_view".to_string(), 3)];
        let mut visitors = vec![(None, 7, 9), (Some("/ä".to_string()), 2, 3)];
        let mut sessions = vec![
            session("s-1", T + 1, Some("Firefox"), false),
            session("s-2", T + 2, None, true),
        ];
        let batches = [
            (Table::PageAnalytics, window_batch(T, T + MIN, &mut pages)),
            (
                Table::VisitorAnalytics,
                visitor_batch(T, T + MIN, &mut visitors),
            ),
            (Table::Sessions, session_batch(&mut sessions)),
        ];
        for (table, batch) in &batches {
            let first = values(*table, batch);
            assert_eq!(values(*table, batch), first, "{table}: twice");
            let read = round_trip(*table, batch);
            assert_eq!(values(*table, &read), first, "{table}: after ORC");
            assert_eq!(
                records(*table, dt(T), &read).unwrap(),
                records(*table, dt(T), batch).unwrap(),
                "{table}: keys after ORC"
            );
        }
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
        assert_eq!(
            text(&values(Table::PageAnalytics, &batches[0].1)[0]),
            r#"{"table":"page_analytics","page_url":"/a","event_type":"page_view","event_count":3,"window_start":"2026-12-07T06:00:00.000Z","window_end":"2026-12-07T06:01:00.000Z","dt":"2026-12-07"}"#
        );
        assert_eq!(
            text(&values(Table::VisitorAnalytics, &batches[1].1)[0]),
            r#"{"table":"visitor_analytics","page_url":null,"window_start":"2026-12-07T06:00:00.000Z","window_end":"2026-12-07T06:01:00.000Z","unique_visitors":7,"events":9,"dt":"2026-12-07"}"#
        );
        assert_eq!(
            text(&values(Table::Sessions, &batches[2].1)[1]),
            r#"{"table":"sessions","session_id":"s-2","user_id":"u-1","session_start":"2026-12-07T06:00:00.002Z","session_end":"2026-12-07T06:00:05.002Z","duration_ms":5000,"events":2,"page_views":1,"entry_page":"/","exit_page":"/b","is_bounce":true,"browser":null,"os":null,"country":"DE","dt":"2026-12-07"}"#
        );
        // A file without the table's columns is an error, not a record.
        let bad = RecordBatch::try_from_iter([(
            "page_url",
            Arc::new(StringArray::from(vec!["/a"])) as ArrayRef,
        )])
        .unwrap();
        assert!(records(Table::PageAnalytics, dt(T), &bad).is_err());
    }

    #[test]
    fn groups_to_publish_end_after_p_and_at_or_before_f() {
        let names: Vec<String> = [
            window_file_name(T - MIN, T),
            window_file_name(T, T + MIN),
            window_file_name(T + MIN, T + 2 * MIN),
            window_file_name(T + 2 * MIN, T + 3 * MIN),
            "_SUCCESS".into(),
            ".w-1-2.orc.tmp".into(),
            session_file_name(T, T + MIN),
        ]
        .into();
        let got = groups_to_publish(Table::PageAnalytics, dt(T), &names, T, T + 2 * MIN);
        let ends: Vec<i64> = got.iter().map(|g| g.end_ms).collect();
        assert_eq!(ends, [T + MIN, T + 2 * MIN]);
        assert_eq!(got[0].name, window_file_name(T, T + MIN));
        // Nothing published yet: everything up to F.
        let all = groups_to_publish(
            Table::VisitorAnalytics,
            dt(T),
            &names,
            i64::MIN,
            T + 2 * MIN,
        );
        assert_eq!(all.len(), 3);
        // Sessions pick `s-` files only; a session started the day before its close bucket
        // lies in the earlier `dt`, which the listing reaches back to.
        let day = crate::days::DAY_MS;
        let midnight = T - 6 * 60 * MIN; // 2026-12-07T00:00Z
        let s = groups_to_publish(
            Table::Sessions,
            dt(midnight - 1),
            &[session_file_name(midnight, midnight + MIN)],
            midnight,
            midnight + MIN,
        );
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].dt.to_string(), "2026-12-06");
        assert_eq!(
            first_date(Table::Sessions, midnight, MIN, day),
            Some(dt(midnight - day - MIN))
        );
        assert!(first_date(Table::Sessions, midnight, MIN, 30 * MIN).unwrap() <= dt(midnight - 1));
        assert_eq!(
            first_date(Table::PageAnalytics, midnight, MIN, day),
            Some(dt(midnight - 1))
        );
        assert_eq!(
            first_date(Table::PageAnalytics, midnight + MIN, MIN, day),
            Some(dt(midnight))
        );
        assert_eq!(first_date(Table::Sessions, i64::MIN, MIN, day), None);
        // F at P: nothing.
        assert!(
            groups_to_publish(Table::PageAnalytics, dt(T), &names, T + MIN, T + MIN).is_empty()
        );
    }
}
