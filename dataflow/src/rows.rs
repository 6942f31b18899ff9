//! Event rows of one Kafka partition (`raw_web_events`, `late_web_events`,
//! `rejected_web_events`) buffered between cuts, and the ORC files they become.
//!
//! A source buffers the rows of each partition it reads, grouped by table and `dt`, as Arrow
//! columns filled while it reads (an event's fields are copied once, into its columns, and the
//! event is dropped). At a cut every group becomes one file named `p<partition>-o<first offset>.orc` (the Kafka offset of
//! its first row), so a file holds rows of one partition only and its name says which offsets
//! it starts at. Recovery relies on that: files of partition `p` whose first offset is at or
//! after the checkpoint's `read_offset` came from a run that died before its checkpoint and
//! are deleted ([`parse_row_file_name`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow::record_batch::RecordBatch;
use events::{Rejection, WebEvent};
use hive::{PartitionDate, Table};

use crate::sessions::SessionRow;

/// A Kafka record that is not a valid event.
#[derive(Debug, Clone)]
pub struct RejectedRow {
    /// The record value, byte for byte (empty for a null value).
    pub raw_value: Vec<u8>,
    /// Why it was rejected.
    pub rejection: Rejection,
    /// Its Kafka offset.
    pub offset: i64,
    /// Kafka record timestamp, UTC epoch ms, when the record has one.
    pub kafka_timestamp_ms: Option<i64>,
    /// When the dataflow read it, UTC epoch ms.
    pub seen_at_ms: i64,
}

/// The rows of one table and `dt` since the last cut: `R` is their columns, filled as the
/// records arrive (or the rows themselves, for the rare rejected records).
#[derive(Debug)]
struct Chunk<R> {
    first_offset: i64,
    rows: R,
}

impl<R: Default> Chunk<R> {
    /// The rows of `dt`, started at `offset` when `dt` has none yet.
    fn at(map: &mut BTreeMap<PartitionDate, Chunk<R>>, dt: PartitionDate, offset: i64) -> &mut R {
        &mut map
            .entry(dt)
            .or_insert_with(|| Chunk {
                first_offset: offset,
                rows: R::default(),
            })
            .rows
    }
}

/// The columns every event table starts with (`event_id` … `event_time`), appended to as
/// events are read. Copying an event's fields into them at once, rather than keeping the
/// event until the cut, keeps one contiguous buffer per column instead of eight small heap
/// strings per buffered event.
#[derive(Debug, Default)]
struct EventColumns {
    text: [StringBuilder; 8],
    event_time: TimestampMillisecondBuilder,
}

impl EventColumns {
    fn push(&mut self, e: &WebEvent) {
        let [event_id, user_id, session_id, event_type, page_url, browser, os, country] =
            &mut self.text;
        event_id.append_value(&e.event_id);
        user_id.append_value(&e.user_id);
        session_id.append_value(&e.session_id);
        event_type.append_value(&e.event_type);
        page_url.append_value(&e.page_url);
        browser.append_option(e.browser.as_deref());
        os.append_option(e.os.as_deref());
        country.append_option(e.country.as_deref());
        self.event_time.append_value(e.event_time_ms);
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.text.len() + 1);
        for b in &mut self.text {
            columns.push(Arc::new(b.finish()));
        }
        columns.push(Arc::new(self.event_time.finish()));
        columns
    }
}

/// `raw_web_events` columns of one chunk.
#[derive(Debug, Default)]
struct RawColumns {
    events: EventColumns,
    clock_skew_ms: Int64Builder,
}

/// `late_web_events` columns of one chunk (the Kafka columns are made at the cut).
#[derive(Debug, Default)]
struct LateColumns {
    events: EventColumns,
    watermark: TimestampMillisecondBuilder,
    offsets: Vec<i64>,
}

/// One file to commit: rows of one table, one `dt`, one Kafka partition.
#[derive(Debug, Clone)]
pub struct RowFile {
    /// The table.
    pub table: Table,
    /// Its partition.
    pub dt: PartitionDate,
    /// `p<partition>-o<first offset>.orc`.
    pub name: String,
    /// The rows, in offset order, with the table's columns.
    pub batch: RecordBatch,
}

/// The buffered rows of one Kafka partition.
#[derive(Debug)]
pub struct RowBuffer {
    topic: Arc<str>,
    partition: i32,
    raw: BTreeMap<PartitionDate, Chunk<RawColumns>>,
    late: BTreeMap<PartitionDate, Chunk<LateColumns>>,
    rejected: BTreeMap<PartitionDate, Chunk<Vec<RejectedRow>>>,
    bytes: usize,
}

/// `dt` of an event time; times the Hive layer cannot place (never for a valid event) go to
/// the epoch day rather than being dropped.
fn dt_of(ms: i64) -> PartitionDate {
    PartitionDate::from_epoch_ms(ms)
        .or_else(|_| PartitionDate::from_epoch_ms(0))
        .unwrap_or_else(|_| PartitionDate::new(chrono::NaiveDate::MIN))
}

impl RowBuffer {
    /// An empty buffer for `partition` of `topic`.
    pub fn new(topic: Arc<str>, partition: i32) -> Self {
        RowBuffer {
            topic,
            partition,
            raw: BTreeMap::new(),
            late: BTreeMap::new(),
            rejected: BTreeMap::new(),
            bytes: 0,
        }
    }

    /// Approximate bytes buffered (of record values).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Buffers a valid event read at `offset` for `raw_web_events`; `size` is its record's
    /// length in bytes.
    pub fn push_raw(&mut self, offset: i64, event: &WebEvent, size: usize) {
        self.bytes += size;
        let raw = Chunk::at(&mut self.raw, dt_of(event.event_time_ms), offset);
        raw.events.push(event);
        raw.clock_skew_ms.append_option(event.clock_skew_ms);
    }

    /// Buffers a valid event read at `offset` behind its partition's watermark
    /// (`watermark_ms`, UTC epoch ms) for `late_web_events`; `size` is its record's length.
    pub fn push_late(&mut self, offset: i64, event: &WebEvent, watermark_ms: i64, size: usize) {
        self.bytes += size;
        let late = Chunk::at(&mut self.late, dt_of(event.event_time_ms), offset);
        late.events.push(event);
        late.watermark.append_value(watermark_ms);
        late.offsets.push(offset);
    }

    /// Buffers a rejected record for `rejected_web_events` (`dt` of its Kafka timestamp, of
    /// `seen_at` when it has none or one Hive cannot place).
    pub fn push_rejected(&mut self, row: RejectedRow) {
        self.bytes += row.raw_value.len();
        let dt = row
            .kafka_timestamp_ms
            .and_then(|ms| PartitionDate::from_epoch_ms(ms).ok())
            .unwrap_or_else(|| dt_of(row.seen_at_ms));
        Chunk::at(&mut self.rejected, dt, row.offset).push(row);
    }

    /// Takes everything buffered as files (possibly none) and empties the buffer.
    pub fn take_files(&mut self) -> Vec<RowFile> {
        let p = self.partition;
        let name = |first: i64| row_file_name(p, first);
        let mut files = Vec::new();
        for (dt, mut chunk) in std::mem::take(&mut self.raw) {
            let mut columns = chunk.rows.events.finish();
            columns.push(Arc::new(chunk.rows.clock_skew_ms.finish()));
            files.push(RowFile {
                table: Table::RawWebEvents,
                dt,
                name: name(chunk.first_offset),
                batch: batch(Table::RawWebEvents, columns),
            });
        }
        for (dt, mut chunk) in std::mem::take(&mut self.late) {
            let rows = &mut chunk.rows;
            let mut columns = rows.events.finish();
            columns.push(Arc::new(rows.watermark.finish()));
            columns.extend(kafka_columns(&self.topic, p, &rows.offsets));
            files.push(RowFile {
                table: Table::LateWebEvents,
                dt,
                name: name(chunk.first_offset),
                batch: batch(Table::LateWebEvents, columns),
            });
        }
        for (dt, chunk) in std::mem::take(&mut self.rejected) {
            files.push(RowFile {
                table: Table::RejectedWebEvents,
                dt,
                name: name(chunk.first_offset),
                batch: rejected_batch(&self.topic, p, &chunk.rows),
            });
        }
        self.bytes = 0;
        files
    }
}

/// `p<partition>-o<first offset>.orc`.
pub fn row_file_name(partition: i32, first_offset: i64) -> String {
    format!("p{partition}-o{first_offset}.orc")
}

/// `(partition, first offset)` of a name made by [`row_file_name`]; `None` for anything else.
pub fn parse_row_file_name(name: &str) -> Option<(i32, i64)> {
    let rest = name.strip_prefix('p')?.strip_suffix(".orc")?;
    let (p, o) = rest.split_once("-o")?;
    Some((p.parse().ok()?, o.parse().ok()?))
}

/// `w-<window_start>-<window_end>.orc`, UTC epoch ms: the one `page_analytics` file of a
/// window.
pub fn window_file_name(window_start_ms: i64, window_end_ms: i64) -> String {
    format!("w-{window_start_ms}-{window_end_ms}.orc")
}

/// `(window_start, window_end)` of a name made by [`window_file_name`].
pub fn parse_window_file_name(name: &str) -> Option<(i64, i64)> {
    let rest = name.strip_prefix("w-")?.strip_suffix(".orc")?;
    let (s, e) = rest.rsplit_once('-')?;
    Some((s.parse().ok()?, e.parse().ok()?))
}

fn batch(table: Table, columns: Vec<ArrayRef>) -> RecordBatch {
    // The columns are built above in the DDL's order and types, so this cannot fail unless
    // the DDL and this file disagree, which the tests catch.
    RecordBatch::try_new(table.arrow_schema(), columns)
        .unwrap_or_else(|e| panic!("{table} columns out of step with its DDL: {e}"))
}

fn kafka_columns(topic: &str, partition: i32, offsets: &[i64]) -> Vec<ArrayRef> {
    let mut t = StringBuilder::new();
    let mut p = Int32Builder::new();
    let mut o = Int64Builder::new();
    for &offset in offsets {
        t.append_value(topic);
        p.append_value(partition);
        o.append_value(offset);
    }
    vec![
        Arc::new(t.finish()),
        Arc::new(p.finish()),
        Arc::new(o.finish()),
    ]
}

fn rejected_batch(topic: &str, partition: i32, rows: &[RejectedRow]) -> RecordBatch {
    let mut raw = BinaryBuilder::new();
    let mut reason = StringBuilder::new();
    let mut detail = StringBuilder::new();
    let mut kafka_ts = TimestampMillisecondBuilder::new();
    let mut seen = TimestampMillisecondBuilder::new();
    for r in rows {
        raw.append_value(&r.raw_value);
        reason.append_value(r.rejection.reason.as_str());
        let d = match r.rejection.field {
            Some(field) => format!("{field}: {}", r.rejection.detail),
            None => r.rejection.detail.clone(),
        };
        detail.append_value(d);
        kafka_ts.append_option(r.kafka_timestamp_ms);
        seen.append_value(r.seen_at_ms);
    }
    let offsets: Vec<i64> = rows.iter().map(|r| r.offset).collect();
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(raw.finish()),
        Arc::new(reason.finish()),
        Arc::new(detail.finish()),
    ];
    columns.extend(kafka_columns(topic, partition, &offsets));
    columns.push(Arc::new(kafka_ts.finish()));
    columns.push(Arc::new(seen.finish()));
    batch(Table::RejectedWebEvents, columns)
}

/// The `page_analytics` batch of one window: `(page_url, event_type, event_count)` rows,
/// sorted so the file's bytes do not depend on the worker count.
pub fn window_batch(
    window_start_ms: i64,
    window_end_ms: i64,
    rows: &mut [(String, String, i64)],
) -> RecordBatch {
    rows.sort_unstable();
    let mut page = StringBuilder::new();
    let mut kind = StringBuilder::new();
    let mut count = Int64Builder::new();
    let mut start = TimestampMillisecondBuilder::new();
    let mut end = TimestampMillisecondBuilder::new();
    for (p, k, n) in rows.iter() {
        page.append_value(p);
        kind.append_value(k);
        count.append_value(*n);
        start.append_value(window_start_ms);
        end.append_value(window_end_ms);
    }
    batch(
        Table::PageAnalytics,
        vec![
            Arc::new(page.finish()),
            Arc::new(kind.finish()),
            Arc::new(count.finish()),
            Arc::new(start.finish()),
            Arc::new(end.finish()),
        ],
    )
}

/// The `visitor_analytics` batch of one window: `(page_url, unique_visitors, events)` rows
/// (`None` = the whole site), sorted so the file's bytes do not depend on the worker count.
pub fn visitor_batch(
    window_start_ms: i64,
    window_end_ms: i64,
    rows: &mut [(Option<String>, i64, i64)],
) -> RecordBatch {
    rows.sort_unstable();
    let mut page = StringBuilder::new();
    let mut start = TimestampMillisecondBuilder::new();
    let mut end = TimestampMillisecondBuilder::new();
    let mut visitors = Int64Builder::new();
    let mut events = Int64Builder::new();
    for (p, v, e) in rows.iter() {
        page.append_option(p.as_deref());
        start.append_value(window_start_ms);
        end.append_value(window_end_ms);
        visitors.append_value(*v);
        events.append_value(*e);
    }
    batch(
        Table::VisitorAnalytics,
        vec![
            Arc::new(page.finish()),
            Arc::new(start.finish()),
            Arc::new(end.finish()),
            Arc::new(visitors.finish()),
            Arc::new(events.finish()),
        ],
    )
}

/// `s-<bucket_start>-<bucket_end>.orc`, UTC epoch ms: the `sessions` file of one close
/// bucket in one `dt` partition.
pub fn session_file_name(bucket_start_ms: i64, bucket_end_ms: i64) -> String {
    format!("s-{bucket_start_ms}-{bucket_end_ms}.orc")
}

/// `(bucket_start, bucket_end)` of a name made by [`session_file_name`].
pub fn parse_session_file_name(name: &str) -> Option<(i64, i64)> {
    let rest = name.strip_prefix("s-")?.strip_suffix(".orc")?;
    let (s, e) = rest.rsplit_once('-')?;
    Some((s.parse().ok()?, e.parse().ok()?))
}

/// The `sessions` batch of some sessions, sorted by `(session_start, session_id)` so the
/// file's bytes do not depend on the worker count.
pub fn session_batch(rows: &mut [SessionRow]) -> RecordBatch {
    rows.sort_unstable_by(|a, b| (a.start_ms, &a.session_id).cmp(&(b.start_ms, &b.session_id)));
    let mut session_id = StringBuilder::new();
    let mut user_id = StringBuilder::new();
    let mut start = TimestampMillisecondBuilder::new();
    let mut end = TimestampMillisecondBuilder::new();
    let mut duration = Int64Builder::new();
    let mut events = Int64Builder::new();
    let mut page_views = Int64Builder::new();
    let mut entry = StringBuilder::new();
    let mut exit = StringBuilder::new();
    let mut bounce = BooleanBuilder::new();
    let mut browser = StringBuilder::new();
    let mut os = StringBuilder::new();
    let mut country = StringBuilder::new();
    for r in rows.iter() {
        session_id.append_value(&r.session_id);
        user_id.append_value(&r.user_id);
        start.append_value(r.start_ms);
        end.append_value(r.end_ms);
        duration.append_value(r.end_ms - r.start_ms);
        events.append_value(r.events);
        page_views.append_value(r.page_views);
        entry.append_value(&r.entry_page);
        exit.append_value(&r.exit_page);
        bounce.append_value(r.is_bounce);
        browser.append_option(r.browser.as_deref());
        os.append_option(r.os.as_deref());
        country.append_option(r.country.as_deref());
    }
    batch(
        Table::Sessions,
        vec![
            Arc::new(session_id.finish()),
            Arc::new(user_id.finish()),
            Arc::new(start.finish()),
            Arc::new(end.finish()),
            Arc::new(duration.finish()),
            Arc::new(events.finish()),
            Arc::new(page_views.finish()),
            Arc::new(entry.finish()),
            Arc::new(exit.finish()),
            Arc::new(bounce.finish()),
            Arc::new(browser.finish()),
            Arc::new(os.finish()),
            Arc::new(country.finish()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(t: i64) -> WebEvent {
        events::parse(
            format!(r#"{{"event_id":"e","user_id":"u","session_id":"s","event_type":"click","page_url":"/","event_time":{t}}}"#)
                .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(
            parse_row_file_name(&row_file_name(3, 1234)),
            Some((3, 1234))
        );
        assert_eq!(parse_row_file_name("w-1-2.orc"), None);
        assert_eq!(parse_row_file_name("p3-o12.orc.tmp"), None);
        assert_eq!(
            parse_window_file_name(&window_file_name(60_000, 120_000)),
            Some((60_000, 120_000))
        );
        assert_eq!(parse_window_file_name("p1-o2.orc"), None);
    }

    #[test]
    fn one_file_per_table_and_day_named_by_its_first_offset() {
        let day = 86_400_000;
        let mut buf = RowBuffer::new("t".into(), 2);
        buf.push_raw(10, &event(5), 100);
        buf.push_raw(11, &event(day + 5), 100);
        buf.push_raw(12, &event(7), 100);
        buf.push_late(13, &event(1), 3, 100);
        buf.push_rejected(RejectedRow {
            raw_value: b"nope".to_vec(),
            rejection: events::parse(b"nope").unwrap_err(),
            offset: 14,
            kafka_timestamp_ms: None,
            seen_at_ms: 9,
        });
        assert_eq!(buf.bytes(), 404);
        let files = buf.take_files();
        let summary: Vec<_> = files
            .iter()
            .map(|f| {
                (
                    f.table,
                    f.dt.partition_name(),
                    f.name.clone(),
                    f.batch.num_rows(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    Table::RawWebEvents,
                    "dt=1970-01-01".into(),
                    "p2-o10.orc".into(),
                    2
                ),
                (
                    Table::RawWebEvents,
                    "dt=1970-01-02".into(),
                    "p2-o11.orc".into(),
                    1
                ),
                (
                    Table::LateWebEvents,
                    "dt=1970-01-01".into(),
                    "p2-o13.orc".into(),
                    1
                ),
                (
                    Table::RejectedWebEvents,
                    "dt=1970-01-01".into(),
                    "p2-o14.orc".into(),
                    1
                ),
            ]
        );
        assert_eq!(buf.bytes(), 0);
        assert!(buf.take_files().is_empty());
    }

    #[test]
    fn raw_rows_end_with_the_clock_skew_column_null_when_uncorrected() {
        let mut buf = RowBuffer::new("t".into(), 0);
        let corrected = WebEvent {
            clock_skew_ms: Some(-259_200_000),
            ..event(5)
        };
        buf.push_raw(1, &corrected, 100);
        buf.push_raw(2, &event(6), 100);
        let files = buf.take_files();
        let batch = &files[0].batch;
        let skew = batch
            .column_by_name("clock_skew_ms")
            .and_then(|c| c.as_any().downcast_ref::<arrow::array::Int64Array>())
            .unwrap();
        assert_eq!(
            skew.iter().collect::<Vec<_>>(),
            vec![Some(-259_200_000), None]
        );
        assert_eq!(batch.num_columns(), 10);
    }

    #[test]
    fn window_rows_are_sorted() {
        let mut rows = vec![
            ("/b".into(), "click".into(), 2),
            ("/a".into(), "view".into(), 1),
        ];
        let b = window_batch(0, 60_000, &mut rows);
        assert_eq!(b.num_rows(), 2);
        assert_eq!(rows[0].0, "/a");
    }
}
