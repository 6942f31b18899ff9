//! The snapshot: everything the page shows, as one JSON object (the contract with the page,
//! written out in the crate's README). [`Snapshot`] is built from the feed's
//! [`Model`](crate::model::Model), the processes' scraped [`Figures`](crate::metrics::Figures)
//! and the feed's counters; it is served by `GET /api/snapshot` and sent whole on every
//! `event: snapshot` of `GET /events`.
//!
//! Times are [`Time`]s: UTC epoch milliseconds, written as RFC 3339 UTC strings with
//! milliseconds (`2026-01-01T00:01:00.000Z`). An absent value is `null`, and every field is
//! always present.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat};
use serde::{Serialize, Serializer};

/// A point in time, UTC epoch milliseconds; serialized as an RFC 3339 UTC string with
/// milliseconds ([`format_ms`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub i64);

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_ms(self.0))
    }
}

/// `ms` (UTC epoch milliseconds) as RFC 3339 UTC with milliseconds,
/// `2026-01-01T00:01:00.000Z`; a time chrono cannot represent (beyond ±262,000 years) is
/// written as the bare number.
pub fn format_ms(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).map_or_else(
        || ms.to_string(),
        |t| t.to_rfc3339_opts(SecondsFormat::Millis, true),
    )
}

/// An RFC 3339 time (any offset, any fraction of a second) as UTC epoch milliseconds, `None`
/// if it is not one. Sub-millisecond digits are truncated.
pub fn parse_time(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// The whole page's data. Field order is the JSON's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// Wall clock when this snapshot was built.
    pub generated_at: Time,
    /// The largest `window_end` of a `visitor_analytics` site row (`page_url` NULL) seen;
    /// `None` before the first.
    pub edge: Option<Time>,
    /// The window size and slide, derived from the site rows; `None` before the first.
    pub window: Option<WindowShape>,
    /// The site rows with `window_end` in the last hour `(edge − 60 min, edge]`, ascending by
    /// `window_start`.
    pub windows: Vec<WindowPoint>,
    /// Top pages of the UTC hour holding `edge − 1 ms`; `None` before the edge is known.
    pub top_pages: Option<TopPages>,
    /// Sessions with `session_start` in the last hour; `None` before the edge is known.
    pub sessions: Option<SessionsPanel>,
    /// Late events by reason (`wa_dataflow_late_total`), summed over processes.
    pub late: BTreeMap<String, u64>,
    /// Sum of `late`.
    pub late_total: u64,
    /// Rejected records by reason (`wa_dataflow_rejected_total`), summed over processes.
    pub rejected: BTreeMap<String, u64>,
    /// Sum of `rejected`.
    pub rejected_total: u64,
    /// Partitions, checkpoints, the feed's frontier and the processes.
    pub health: Health,
    /// The dashboard's own reading of the feed.
    pub feed: FeedStats,
}

/// Size and slide of the windows, from the rows (`window_end − window_start`, and the
/// smallest gap between two `window_start`s, or the size when there is one window).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowShape {
    /// Window length, ms.
    pub size_ms: i64,
    /// Distance between consecutive window starts, ms (equal to `size_ms` when tumbling).
    pub slide_ms: i64,
    /// The chart's caption: `per 1 min`, or `per 5 min, every 1 min` for hopping windows.
    pub label: String,
}

/// One window of the `visitor_analytics` site row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowPoint {
    /// Inclusive start.
    pub window_start: Time,
    /// Exclusive end.
    pub window_end: Time,
    /// Valid events in the window.
    pub events: u64,
    /// Distinct users in the window.
    pub unique_visitors: u64,
}

/// The pages with most page views in one UTC hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopPages {
    /// Start of the hour (inclusive).
    pub hour_start: Time,
    /// End of the hour (exclusive), `hour_start + 1 h`.
    pub hour_end: Time,
    /// At most 10, `page_views` descending, ties by `page_url` ascending.
    pub pages: Vec<PageViews>,
}

/// One page of [`TopPages`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PageViews {
    /// The page.
    pub page_url: String,
    /// Sum of `page_analytics.event_count` for `page_view` over the hour's tiling windows.
    pub page_views: u64,
}

/// Sessions closed so far whose `session_start` is in `(since, until]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionsPanel {
    /// `edge − 60 min` (exclusive).
    pub since: Time,
    /// The edge (inclusive).
    pub until: Time,
    /// Sessions, each key once.
    pub count: u64,
    /// Of which bounces (`is_bounce`).
    pub bounces: u64,
    /// `bounces / count`, `None` when `count` is 0.
    pub bounce_rate: Option<f64>,
}

/// The processes' health, from their `/metrics`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    /// Every partition some process reports, sorted by partition number.
    pub partitions: Vec<PartitionHealth>,
    /// The largest `wa_dataflow_checkpoint_frontier_ms` over the processes.
    pub checkpoint_frontier: Option<Time>,
    /// The largest `wa_dataflow_checkpoint_written_ms` (wall clock of the last checkpoint).
    pub checkpoint_written_at: Option<Time>,
    /// The largest `wa_dataflow_feed_published_ms` (the feed's published frontier).
    pub feed_published: Option<Time>,
    /// Workers whose `wa_dataflow_reading_paused` is 1.
    pub paused_workers: u64,
    /// One per metrics URL, in the order given.
    pub processes: Vec<ProcessHealth>,
}

/// One partition of the input topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionHealth {
    /// The partition number, as a string (the metric's label).
    pub partition: String,
    /// `wa_dataflow_watermark_ms`.
    pub watermark: Option<Time>,
    /// Wall clock of the snapshot minus the watermark, ms.
    pub watermark_behind_ms: Option<i64>,
    /// `wa_dataflow_consumer_lag`, records.
    pub lag: Option<i64>,
}

/// One scraped process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessHealth {
    /// The metrics URL.
    pub url: String,
    /// Whether the last scrape succeeded.
    pub up: bool,
    /// The last success when up, the first failure of the current run of failures when down;
    /// `None` before the first scrape.
    pub since: Option<Time>,
    /// Why the last scrape failed; `None` when up.
    pub error: Option<String>,
}

/// How the feed is being read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FeedStats {
    /// Records read, re-sends included.
    pub records: u64,
    /// Records skipped because they could not be read (bad key or value).
    pub malformed: u64,
    /// Wall clock when the last record was read.
    pub last_record_at: Option<Time>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc_with_milliseconds_both_ways() {
        assert_eq!(format_ms(1_767_225_660_000), "2026-01-01T00:01:00.000Z");
        assert_eq!(format_ms(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            parse_time("2026-01-01T00:01:00.000Z"),
            Some(1_767_225_660_000)
        );
        assert_eq!(
            parse_time("2026-01-01T01:01:00.5+01:00"),
            Some(1_767_225_660_500)
        );
        assert_eq!(parse_time("2026-01-01 00:01:00"), None);
        assert_eq!(
            serde_json::to_string(&Time(1_767_225_660_123)).unwrap(),
            "\"2026-01-01T00:01:00.123Z\""
        );
    }
}
