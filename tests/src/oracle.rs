//! Ground truth for the dataflow, recomputed from scratch: the rows its Hive tables must
//! hold for a given Kafka topic content, the way differential dataflow's own tests compare an
//! incremental result with a from-scratch recomputation.
//!
//! Nothing here uses the `dataflow` crate. The rules are those of `docs/dataflow-design.md`, written out plainly:
//!
//! - **Where records are.** A [`Layout`] predicts each record's partition and offset: the
//!   producer keys events by `session_id` and partitions with Kafka's murmur2
//!   ([`kafka_partition`]); inside a partition, records are in the order they were produced
//!   (the producer is idempotent, so retries never reorder), offsets count from 0 on a fresh
//!   topic. [`Layout::check_against`] confirms the prediction with what Kafka really holds.
//! - **Valid or rejected.** A record is an event when `events::parse` accepts its value (the
//!   shared event model is the definition of validity) and its event time is at most
//!   `max_future_skew` ahead of the record timestamp (the ingestion time); otherwise it is a
//!   `rejected_web_events` row with the reason code (`event_time_in_future` for the second
//!   rule). Records of a simulator log carry no predicted timestamp ([`Layout::push_event`]):
//!   the simulator stamps each record with its send time, never behind the event's own time,
//!   so the second rule cannot reject them.
//! - **Duplicates.** Per partition, in offset order: an event is a duplicate when an earlier
//!   event of the partition had the same `event_id` and an event time no more than
//!   `dedup_horizon` behind `max_event_time` (below); a duplicate is in no table and changes
//!   nothing.
//! - **Late or on time.** Per partition, in offset order: `max_event_time` is the largest
//!   event time of the on-time events read so far, and the watermark is `max_event_time −
//!   max_out_of_orderness` (none before the first event). An event is late when its time is
//!   below the watermark just before it is read; a late event changes nothing. The dataflow's
//!   idle policy (an idle partition's watermark follows the wall clock) is left out on
//!   purpose: on a topic that was filled before the dataflow reached its end, a partition is
//!   never caught up before its last record, so the policy cannot change any judgement — it
//!   only closes the last windows. Tests must keep it that way (see the dataflow tests).
//! - **Windows.** Each on-time event counts once in every window `[start, start + size)`
//!   with `start` a multiple of the slide (tumbling: slide = size) that contains its time;
//!   `page_analytics` holds one row per (page_url, event_type, window) with a count > 0.
//! - **Unique visitors.** For every window that has a `page_analytics` row, `visitor_analytics`
//!   holds one row per `page_url` with on-time events in the window (`unique_visitors` =
//!   distinct `user_id` among them, `events` = their count) and one row with `page_url` NULL
//!   for the whole site (the same over all pages).
//! - **Sessions.** The on-time events (exactly those counted in windows) are grouped by
//!   `session_id`, each group ordered by (event time, partition, offset). Walking a group in
//!   that order, an event starts a new session when there is none yet, or it is more than
//!   `session_gap` after the session's last event, or at least `max_session_duration` after
//!   its first; otherwise it joins the session. A row: start and end = times of the first and
//!   last event, `duration_ms` = end − start, `events`, `page_views` (type `page_view`),
//!   entry and exit page = `page_url` of the first and last event; `user_id`, `browser`,
//!   `os`, `country` of the first event; `is_bounce` = not engaged, where engaged means
//!   `duration_ms ≥ 10 000` or ≥ 2 page views or any `form_submit`.
//! - **What a stop watermark `S` leaves written.** Windows ending at or before `S`
//!   ([`Expected::page_rows_ending_by`], [`Expected::visitor_rows_ending_by`]); sessions whose
//!   close time `C = min(last + session_gap + 1, start + max_session_duration)` is at or
//!   before `S` ([`Expected::session_rows_closed_by`]): from `C` on no on-time event can join
//!   or change the session.
//! - **Partitions (`dt`).** UTC date of `event_time` (raw, late), of `window_start` (page,
//!   visitors), of `session_start` (sessions), of the Kafka record timestamp (rejected).

mod partitioner;
mod tables;
mod visitors;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{bail, Context, Result};

pub use partitioner::{kafka_partition, murmur2};
pub use tables::{
    assert_tables_eq, assert_visitor_tables_eq, LateRow, PageRow, RawRow, RejectedRow, SessionRow,
    Tables, VisitorRow, VisitorTables,
};
pub use visitors::ENGAGED_DURATION_MS;

/// One Kafka record as the oracle sees it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TopicRecord {
    /// Partition, 0-based.
    pub partition: i32,
    /// Offset within the partition, 0-based on a fresh topic.
    pub offset: i64,
    /// The record key, if any.
    pub key: Option<Vec<u8>>,
    /// The record value (a record without a value is not something our tests produce).
    pub value: Vec<u8>,
    /// The record timestamp (CreateTime), UTC epoch ms.
    pub timestamp_ms: Option<i64>,
}

/// The predicted content of a fresh topic, built in the order records are produced.
#[derive(Debug, Clone)]
pub struct Layout {
    topic: String,
    next_offset: Vec<i64>,
    records: Vec<TopicRecord>,
}

impl Layout {
    /// An empty, freshly created `topic` of `partitions` partitions.
    ///
    /// # Panics
    /// When `partitions` is not positive.
    pub fn new(topic: &str, partitions: i32) -> Layout {
        assert!(partitions > 0, "a topic has at least one partition");
        Layout {
            topic: topic.to_owned(),
            next_offset: vec![0; partitions as usize],
            records: Vec::new(),
        }
    }

    /// The topic name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Number of partitions.
    pub fn partitions(&self) -> i32 {
        self.next_offset.len() as i32
    }

    /// Every record, in the order produced.
    pub fn records(&self) -> &[TopicRecord] {
        &self.records
    }

    /// A record produced explicitly to `partition` (e.g. a malformed one), with record
    /// timestamp `timestamp_ms` (UTC epoch ms). Returns it with its offset.
    ///
    /// # Panics
    /// When `partition` is not in the topic.
    pub fn push(
        &mut self,
        partition: i32,
        key: Option<&[u8]>,
        value: &[u8],
        timestamp_ms: i64,
    ) -> &TopicRecord {
        let slot = usize::try_from(partition)
            .ok()
            .filter(|&p| p < self.next_offset.len())
            .unwrap_or_else(|| panic!("partition {partition} is not in {}", self.topic));
        let offset = self.next_offset[slot];
        self.next_offset[slot] += 1;
        self.records.push(TopicRecord {
            partition,
            offset,
            key: key.map(<[u8]>::to_vec),
            value: value.to_vec(),
            timestamp_ms: Some(timestamp_ms),
        });
        &self.records[self.records.len() - 1]
    }

    /// The layout of a topic whose records were produced concurrently, so that their order
    /// could not be predicted: exactly what Kafka holds (`records`, e.g. from
    /// [`crate::read_topic`]), in partition and offset order. What was sent must then be
    /// checked against it separately (e.g. as multisets of values).
    ///
    /// # Errors
    /// When a record's partition is not in the topic, or a partition's offsets do not run
    /// 0, 1, 2, … (not a fresh topic, or records missing).
    pub fn from_topic(topic: &str, partitions: i32, records: &[TopicRecord]) -> Result<Layout> {
        let mut sorted: Vec<&TopicRecord> = records.iter().collect();
        sorted.sort_by_key(|r| (r.partition, r.offset));
        let mut layout = Layout::new(topic, partitions);
        for r in sorted {
            let next = usize::try_from(r.partition)
                .ok()
                .and_then(|p| layout.next_offset.get(p).copied());
            match next {
                None => bail!("{topic} has no partition {}", r.partition),
                Some(want) if want != r.offset => bail!(
                    "{topic}/{}: offset {} where {want} was expected (not a fresh topic?)",
                    r.partition,
                    r.offset
                ),
                Some(_) => {}
            }
            layout.push(
                r.partition,
                r.key.as_deref(),
                &r.value,
                r.timestamp_ms.unwrap_or_default(),
            );
        }
        Ok(layout)
    }

    /// One event as `wa-producer` sends it: key = `session_id`, partition by murmur2 of the
    /// key. The record timestamp (its ingestion time, the simulator's send time) is not
    /// predicted: `None`, and [`Layout::check_against`] does not compare it.
    ///
    /// # Errors
    /// When `line` is not a valid event (the producer only sends valid ones).
    pub fn push_event(&mut self, line: &[u8]) -> Result<&TopicRecord> {
        let event = events::parse(line).map_err(|r| {
            anyhow::anyhow!("not a valid event ({r}): {}", String::from_utf8_lossy(line))
        })?;
        let key = event.session_id.as_bytes();
        let partition = kafka_partition(key, self.partitions());
        self.push(partition, Some(key), line, 0);
        let last = self.records.len() - 1;
        self.records[last].timestamp_ms = None;
        Ok(&self.records[last])
    }

    /// Every line of a `wa-producer simulate --log` file (NDJSON, one event per line, in the
    /// order sent). Returns the number of events.
    ///
    /// # Errors
    /// When a line is not a valid event; the error gives its line number.
    pub fn push_log(&mut self, log: &str) -> Result<usize> {
        let mut n = 0;
        for (i, line) in log.lines().enumerate() {
            self.push_event(line.as_bytes())
                .with_context(|| format!("log line {}", i + 1))?;
            n += 1;
        }
        Ok(n)
    }

    /// Checks that `actual` (every record of the topic, from [`crate::read_topic`]) is exactly
    /// this layout: same records at the same (partition, offset), same values and timestamps.
    /// Run it before blaming the dataflow for a difference.
    ///
    /// # Errors
    /// On the first difference, or when the counts differ.
    pub fn check_against(&self, actual: &[TopicRecord]) -> Result<()> {
        let mut predicted: Vec<&TopicRecord> = self.records.iter().collect();
        let mut actual: Vec<&TopicRecord> = actual.iter().collect();
        predicted.sort_by_key(|r| (r.partition, r.offset));
        actual.sort_by_key(|r| (r.partition, r.offset));
        for (p, a) in predicted.iter().zip(&actual) {
            if (p.partition, p.offset) != (a.partition, a.offset)
                || p.value != a.value
                || (p.timestamp_ms.is_some() && p.timestamp_ms != a.timestamp_ms)
            {
                bail!(
                    "topic {} differs from the predicted layout at partition {} offset {}:\n  \
                     predicted {:?} ts {:?}\n  actual    p{} o{} {:?} ts {:?}",
                    self.topic,
                    p.partition,
                    p.offset,
                    String::from_utf8_lossy(&p.value),
                    p.timestamp_ms,
                    a.partition,
                    a.offset,
                    String::from_utf8_lossy(&a.value),
                    a.timestamp_ms
                );
            }
        }
        if predicted.len() != actual.len() {
            bail!(
                "topic {} holds {} records, the layout predicts {}",
                self.topic,
                actual.len(),
                predicted.len()
            );
        }
        Ok(())
    }
}

/// The dataflow settings the expected tables depend on, all in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OracleConfig {
    /// `--window-size`.
    pub window_size_ms: i64,
    /// `--window-slide`; equal to the size for tumbling windows.
    pub window_slide_ms: i64,
    /// `--max-out-of-orderness`.
    pub max_out_of_orderness_ms: i64,
    /// `--max-future-skew` (the dataflow's default: 5 minutes).
    pub max_future_skew_ms: i64,
    /// `--dedup-horizon` (the dataflow's default: 10 minutes; 0: no deduplication).
    pub dedup_horizon_ms: i64,
    /// `--session-gap` (the dataflow's default: 30 minutes).
    pub session_gap_ms: i64,
    /// `--max-session-duration` (the dataflow's default: 24 hours).
    pub max_session_duration_ms: i64,
}

/// The dataflow's `--max-future-skew` default, ms.
pub const DEFAULT_MAX_FUTURE_SKEW_MS: i64 = 5 * 60_000;
/// The dataflow's `--dedup-horizon` default, ms.
pub const DEFAULT_DEDUP_HORIZON_MS: i64 = 10 * 60_000;
/// The dataflow's `--session-gap` default, ms.
pub const DEFAULT_SESSION_GAP_MS: i64 = 30 * 60_000;
/// The dataflow's `--max-session-duration` default, ms.
pub const DEFAULT_MAX_SESSION_DURATION_MS: i64 = 24 * 3_600_000;

impl OracleConfig {
    /// Tumbling windows of `size_ms`.
    pub fn tumbling(size_ms: i64, max_out_of_orderness_ms: i64) -> OracleConfig {
        OracleConfig::hopping(size_ms, size_ms, max_out_of_orderness_ms)
    }

    /// Hopping windows of `size_ms`, one starting every `slide_ms`.
    pub fn hopping(size_ms: i64, slide_ms: i64, max_out_of_orderness_ms: i64) -> OracleConfig {
        OracleConfig {
            window_size_ms: size_ms,
            window_slide_ms: slide_ms,
            max_out_of_orderness_ms,
            max_future_skew_ms: DEFAULT_MAX_FUTURE_SKEW_MS,
            dedup_horizon_ms: DEFAULT_DEDUP_HORIZON_MS,
            session_gap_ms: DEFAULT_SESSION_GAP_MS,
            max_session_duration_ms: DEFAULT_MAX_SESSION_DURATION_MS,
        }
    }

    /// The same with `--dedup-horizon` `horizon_ms` (0: off).
    pub fn with_dedup_horizon(self, horizon_ms: i64) -> OracleConfig {
        OracleConfig {
            dedup_horizon_ms: horizon_ms,
            ..self
        }
    }

    /// The same with `--session-gap` `gap_ms`.
    pub fn with_session_gap(self, gap_ms: i64) -> OracleConfig {
        OracleConfig {
            session_gap_ms: gap_ms,
            ..self
        }
    }

    /// The same with `--max-session-duration` `max_ms`.
    pub fn with_max_session_duration(self, max_ms: i64) -> OracleConfig {
        OracleConfig {
            max_session_duration_ms: max_ms,
            ..self
        }
    }

    /// Starts (UTC epoch ms) of the windows containing `t`, oldest first: every multiple of
    /// the slide in `(t − size, t]`.
    pub fn window_starts(&self, t: i64) -> Vec<i64> {
        let (size, slide) = (self.window_size_ms, self.window_slide_ms);
        assert!(
            size > 0 && slide > 0,
            "window size and slide must be positive"
        );
        let first = (t - size).div_euclid(slide) + 1;
        let last = t.div_euclid(slide);
        (first..=last).map(|k| k * slide).collect()
    }
}

/// What the dataflow must have written for one topic content.
#[derive(Debug, Clone)]
pub struct Expected {
    /// The four tables' rows, sorted.
    pub tables: Tables,
    /// `visitor_analytics` and `sessions`, sorted: every window and every session, as if the
    /// watermark had passed them all. What a run stopped at a watermark leaves:
    /// [`Expected::visitor_tables_at`].
    pub visitor_tables: VisitorTables,
    /// Close time (UTC epoch ms) of every session, by (`session_id`, `session_start`), which
    /// is unique: see the module docs.
    pub session_close_ms: BTreeMap<(String, String), i64>,
    /// Largest event time of any valid event (on time or late), UTC epoch ms.
    pub max_event_time_ms: Option<i64>,
}

impl Expected {
    /// Recomputes the tables from `layout` under `config` (rules in the module docs).
    pub fn compute(layout: &Layout, config: &OracleConfig) -> Expected {
        let mut by_partition: BTreeMap<i32, Vec<&TopicRecord>> = BTreeMap::new();
        for record in layout.records() {
            by_partition
                .entry(record.partition)
                .or_default()
                .push(record);
        }
        let mut tables = Tables::default();
        let mut counts: BTreeMap<(String, String, i64), i64> = BTreeMap::new();
        let mut max_event_time_ms: Option<i64> = None;
        let mut on_time: Vec<visitors::OnTime> = Vec::new();

        for records in by_partition.values_mut() {
            records.sort_by_key(|r| r.offset);
            // Largest event time of the on-time events read so far in this partition.
            let mut max_on_time: Option<i64> = None;
            // Per event_id, the largest event time of its events read so far.
            let mut seen: std::collections::HashMap<String, i64> = Default::default();
            for record in records.iter() {
                let parsed = events::parse(&record.value).and_then(|event| {
                    let ingest = record.timestamp_ms;
                    match ingest {
                        Some(ts) if event.event_time_ms - ts > config.max_future_skew_ms => {
                            Err(events::Rejection {
                                reason: events::RejectReason::EventTimeInFuture,
                                field: Some("event_time"),
                                detail: String::new(),
                            })
                        }
                        _ => Ok(event),
                    }
                });
                let event = match parsed {
                    Ok(event) => event,
                    Err(rejection) => {
                        let ts = record.timestamp_ms;
                        tables.rejected.push(RejectedRow {
                            raw_value_hex: hex_upper(&record.value),
                            reason: rejection.reason.as_str().to_owned(),
                            reason_detail: None,
                            kafka_topic: layout.topic().to_owned(),
                            kafka_partition: record.partition,
                            kafka_offset: record.offset,
                            kafka_timestamp: ts.map(sql_timestamp),
                            dt: date(ts.expect("test records always carry a timestamp")),
                        });
                        continue;
                    }
                };
                let t = event.event_time_ms;
                if config.dedup_horizon_ms > 0 {
                    let bound = max_on_time.map_or(i64::MIN, |m| m - config.dedup_horizon_ms);
                    let earlier = seen.get(&event.event_id).copied();
                    let latest = earlier.map_or(t, |e| e.max(t));
                    seen.insert(event.event_id.clone(), latest);
                    if earlier.is_some_and(|e| e >= bound) {
                        continue;
                    }
                }
                max_event_time_ms = max_event_time_ms.max(Some(t));
                tables.raw.push(RawRow {
                    event_id: event.event_id.clone(),
                    user_id: event.user_id.clone(),
                    session_id: event.session_id.clone(),
                    event_type: event.event_type.clone(),
                    page_url: event.page_url.clone(),
                    browser: event.browser.clone(),
                    os: event.os.clone(),
                    country: event.country.clone(),
                    event_time: sql_timestamp(t),
                    clock_skew_ms: event.clock_skew_ms,
                    dt: date(t),
                });
                let watermark = max_on_time.map(|m| m - config.max_out_of_orderness_ms);
                if let Some(w) = watermark.filter(|&w| t < w) {
                    tables.late.push(LateRow {
                        event_id: event.event_id,
                        user_id: event.user_id,
                        session_id: event.session_id,
                        event_type: event.event_type,
                        page_url: event.page_url,
                        browser: event.browser,
                        os: event.os,
                        country: event.country,
                        event_time: sql_timestamp(t),
                        watermark: sql_timestamp(w),
                        kafka_topic: layout.topic().to_owned(),
                        kafka_partition: record.partition,
                        kafka_offset: record.offset,
                        dt: date(t),
                    });
                    continue;
                }
                max_on_time = max_on_time.max(Some(t));
                for start in config.window_starts(t) {
                    *counts
                        .entry((event.page_url.clone(), event.event_type.clone(), start))
                        .or_default() += 1;
                }
                on_time.push(visitors::OnTime {
                    partition: record.partition,
                    offset: record.offset,
                    event_time_ms: t,
                    user_id: event.user_id,
                    session_id: event.session_id,
                    event_type: event.event_type,
                    page_url: event.page_url,
                    browser: event.browser,
                    os: event.os,
                    country: event.country,
                });
            }
        }
        tables.page = counts
            .into_iter()
            .map(|((page_url, event_type, start), event_count)| PageRow {
                page_url,
                event_type,
                event_count,
                window_start: sql_timestamp(start),
                window_end: sql_timestamp(start + config.window_size_ms),
                dt: date(start),
            })
            .collect();
        tables.sort();
        let mut visitor_tables = VisitorTables {
            visitors: visitors::visitor_rows(&on_time, config),
            sessions: Vec::new(),
        };
        let mut session_close_ms = BTreeMap::new();
        for (row, close_ms) in visitors::sessions(&on_time, config) {
            let key = (row.session_id.clone(), row.session_start.clone());
            assert!(
                session_close_ms.insert(key, close_ms).is_none(),
                "two sessions {} start at {}",
                row.session_id,
                row.session_start
            );
            visitor_tables.sessions.push(row);
        }
        visitor_tables.sort();
        Expected {
            tables,
            visitor_tables,
            session_close_ms,
            max_event_time_ms,
        }
    }

    /// The expected `page_analytics` rows of windows ending at or before `end_ms` (UTC epoch
    /// ms), e.g. those that must be visible once the watermark has passed `end_ms`.
    pub fn page_rows_ending_by(&self, end_ms: i64) -> Vec<PageRow> {
        let bound = sql_timestamp(end_ms);
        // Same fixed-width format, so text order is time order.
        self.tables
            .page
            .iter()
            .filter(|r| r.window_end <= bound)
            .cloned()
            .collect()
    }

    /// The expected `visitor_analytics` rows of windows ending at or before `end_ms` (UTC
    /// epoch ms): the same windows as [`Expected::page_rows_ending_by`].
    pub fn visitor_rows_ending_by(&self, end_ms: i64) -> Vec<VisitorRow> {
        let bound = sql_timestamp(end_ms);
        self.visitor_tables
            .visitors
            .iter()
            .filter(|r| r.window_end <= bound)
            .cloned()
            .collect()
    }

    /// Close time (UTC epoch ms) of the expected session `row`.
    ///
    /// # Panics
    /// When `row` is not one of [`Expected::visitor_tables`]' sessions.
    pub fn close_ms(&self, row: &SessionRow) -> i64 {
        self.session_close_ms
            .get(&(row.session_id.clone(), row.session_start.clone()))
            .copied()
            .unwrap_or_else(|| panic!("{row:?} is not an expected session"))
    }

    /// The expected `sessions` rows whose close time is at or before `stop_ms` (UTC epoch
    /// ms): those a run stopped at watermark `stop_ms` has written, and no others.
    pub fn session_rows_closed_by(&self, stop_ms: i64) -> Vec<SessionRow> {
        self.visitor_tables
            .sessions
            .iter()
            .filter(|r| self.close_ms(r) <= stop_ms)
            .cloned()
            .collect()
    }

    /// `visitor_analytics` and `sessions` as a run with `--stop-at-watermark stop_ms` leaves
    /// them: [`Expected::visitor_rows_ending_by`] and [`Expected::session_rows_closed_by`].
    pub fn visitor_tables_at(&self, stop_ms: i64) -> VisitorTables {
        VisitorTables {
            visitors: self.visitor_rows_ending_by(stop_ms),
            sessions: self.session_rows_closed_by(stop_ms),
        }
    }
}

/// UTC epoch ms as Hive SQL prints a `TIMESTAMP` through `stack sql`:
/// `2026-11-30 04:08:19.123`.
///
/// # Panics
/// Outside the years chrono can represent.
pub fn sql_timestamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_else(|| panic!("{ms} ms is not a representable time"))
        .format("%Y-%m-%d %H:%M:%S%.3f")
        .to_string()
}

/// The UTC date of `ms` (epoch ms) as a `dt` partition value, `YYYY-MM-DD`.
///
/// # Panics
/// Outside the years chrono can represent.
pub fn date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_else(|| panic!("{ms} ms is not a representable time"))
        .format("%Y-%m-%d")
        .to_string()
}

/// Upper-case hex, as Hive's `hex(binary)` prints it.
pub fn hex_upper(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s
}

#[cfg(test)]
mod tests;
