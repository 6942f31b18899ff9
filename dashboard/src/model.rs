//! The in-memory model of the results feed: the rows the page shows, held by key and pruned to
//! the last hour of event time.
//!
//! **Upsert by key.** The feed is at least once: a row can be published again, with the same
//! key and value. Every row is held under its key, so a re-sent record changes nothing, and a
//! count over the model counts each row once.
//!
//! **The edge, and event time.** The edge is the largest `window_end` of a `visitor_analytics`
//! site row (`page_url` NULL) seen; it never falls. "The last hour" is `(edge − 60 min, edge]`
//! in event time, not the wall clock, so a replay of history or a seeded test run shows its own
//! hour. The *current hour* is the UTC hour holding `edge − 1 ms` (a window ending on the hour
//! belongs to the hour before).
//!
//! - **Chart.** One point per site row whose `window_end` is in the last hour, at its
//!   `window_start`. Windows smaller than a minute stay one point each (distinct counts cannot
//!   be added up), hopping windows give one point per slide.
//! - **Top pages.** For each `page_url`, the sum of `page_analytics.event_count` over the
//!   `page_view` rows whose window lies in the current hour. Only windows with
//!   `window_start mod size = 0` count: they tile time, so with hopping windows an event is
//!   counted once, not `size / slide` times. (Windows start on multiples of the slide since the
//!   epoch, so every tumbling window counts.)
//! - **Sessions.** The `sessions` rows with `session_start` in the last hour, each key once:
//!   their count and how many are bounces. Sessions close up to the session gap after their
//!   last event, so the figure grows as the hour's sessions close.
//!
//! Rows older than what is shown are pruned as the edge advances (site rows ending at or before
//! `edge − 60 min`, page rows starting before the current hour, sessions starting at or before
//! `edge − 60 min`); rows after the edge are kept until it reaches them. A row that arrives
//! already older than that is not stored. With 1-minute windows that is about 60 site rows, one
//! hour of page counts and one hour of session keys.

use std::collections::BTreeMap;

use crate::record::{FeedRow, PageRow, SessionRow, VisitorRow};
use crate::snapshot::{PageViews, SessionsPanel, Time, TopPages, WindowPoint, WindowShape};

/// One hour, ms: the span of the chart, of the sessions panel and of the top-pages hour.
pub const HOUR_MS: i64 = 3_600_000;

/// How many pages the top-pages panel lists.
pub const TOP_PAGES: usize = 10;

/// The `event_type` counted by the top-pages panel.
pub const PAGE_VIEW: &str = "page_view";

/// The counts of a site row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SiteCounts {
    events: u64,
    unique_visitors: u64,
}

/// The rows the page shows, by key. See the module docs for the semantics.
#[derive(Debug, Clone, Default)]
pub struct Model {
    /// The largest `window_end` of a site row seen, UTC epoch ms.
    edge: Option<i64>,
    /// Site rows by `(window_start, window_end)`.
    site: BTreeMap<(i64, i64), SiteCounts>,
    /// `page_view` counts by `(window_start, window_end, page_url)`.
    page_views: BTreeMap<(i64, i64, String), u64>,
    /// Whether each session is a bounce, by `(session_start, session_id)`.
    sessions: BTreeMap<(i64, String), bool>,
}

impl Model {
    /// An empty model: no edge, nothing to show.
    pub fn new() -> Self {
        Model::default()
    }

    /// Upserts `row` under its key and prunes what the new edge makes old. Returns whether
    /// anything the page shows may have changed: `false` for a re-send of a row already held
    /// with the same value, a row the page never shows (a page's `visitor_analytics` row, a
    /// `page_analytics` row of another event type) and a row older than what is kept.
    pub fn upsert(&mut self, row: FeedRow) -> bool {
        let changed = match row {
            FeedRow::Visitor(row) => self.upsert_site(row),
            FeedRow::Page(row) => self.upsert_page(row),
            FeedRow::Session(row) => self.upsert_session(row),
        };
        if changed {
            self.prune();
        }
        changed
    }

    fn upsert_site(&mut self, row: VisitorRow) -> bool {
        let VisitorRow {
            page_url: None,
            window_start,
            window_end,
            unique_visitors,
            events,
        } = row
        else {
            return false;
        };
        if self
            .last_hour()
            .is_some_and(|(since, _)| window_end <= since)
        {
            return false;
        }
        let counts = SiteCounts {
            events,
            unique_visitors,
        };
        let old = self.site.insert((window_start, window_end), counts);
        let raised = self.edge.is_none_or(|edge| window_end > edge);
        if raised {
            self.edge = Some(window_end);
        }
        raised || old != Some(counts)
    }

    fn upsert_page(&mut self, row: PageRow) -> bool {
        if row.event_type != PAGE_VIEW {
            return false;
        }
        if self
            .current_hour()
            .is_some_and(|(hour_start, _)| row.window_start < hour_start)
        {
            return false;
        }
        let key = (row.window_start, row.window_end, row.page_url);
        self.page_views.insert(key, row.event_count) != Some(row.event_count)
    }

    fn upsert_session(&mut self, row: SessionRow) -> bool {
        if self
            .last_hour()
            .is_some_and(|(since, _)| row.session_start <= since)
        {
            return false;
        }
        let key = (row.session_start, row.session_id);
        self.sessions.insert(key, row.is_bounce) != Some(row.is_bounce)
    }

    /// Drops the rows older than what is shown (see the module docs).
    fn prune(&mut self) {
        if let Some((since, _)) = self.last_hour() {
            self.site.retain(|&(_, end), _| end > since);
            self.sessions = self.sessions.split_off(&(since + 1, String::new()));
        }
        if let Some((hour_start, _)) = self.current_hour() {
            self.page_views = self
                .page_views
                .split_off(&(hour_start, i64::MIN, String::new()));
        }
    }

    /// The edge: the largest `window_end` of a site row seen, UTC epoch ms.
    pub fn edge(&self) -> Option<i64> {
        self.edge
    }

    /// The last hour, `(edge − 60 min, edge]`, as `(since, until)` in UTC epoch ms.
    pub fn last_hour(&self) -> Option<(i64, i64)> {
        self.edge.map(|edge| (edge - HOUR_MS, edge))
    }

    /// The current hour, the UTC hour holding `edge − 1 ms`, as `[hour_start, hour_end)` in UTC
    /// epoch ms.
    pub fn current_hour(&self) -> Option<(i64, i64)> {
        self.edge.map(|edge| {
            let start = (edge - 1).div_euclid(HOUR_MS) * HOUR_MS;
            (start, start + HOUR_MS)
        })
    }

    /// The windows' size and slide, from the site rows held: the size of the latest window,
    /// and the smallest gap between two window starts (the size when only one window is held).
    pub fn window_shape(&self) -> Option<WindowShape> {
        let (&(start, end), _) = self.site.last_key_value()?;
        let size_ms = end - start;
        let mut starts: Vec<i64> = self.site.keys().map(|&(s, _)| s).collect();
        starts.dedup();
        let slide_ms = starts
            .windows(2)
            .map(|pair| pair[1] - pair[0])
            .min()
            .unwrap_or(size_ms);
        let label = if slide_ms == size_ms {
            format!("per {}", span(size_ms))
        } else {
            format!("per {}, every {}", span(size_ms), span(slide_ms))
        };
        Some(WindowShape {
            size_ms,
            slide_ms,
            label,
        })
    }

    /// The chart's points: the site rows with `window_end` in the last hour, ascending by
    /// `window_start` (then `window_end`).
    pub fn windows(&self) -> Vec<WindowPoint> {
        let Some((since, until)) = self.last_hour() else {
            return Vec::new();
        };
        self.site
            .iter()
            .filter(|(&(_, end), _)| end > since && end <= until)
            .map(|(&(start, end), counts)| WindowPoint {
                window_start: Time(start),
                window_end: Time(end),
                events: counts.events,
                unique_visitors: counts.unique_visitors,
            })
            .collect()
    }

    /// The top pages of the current hour: page views summed over the tiling windows that lie
    /// in the hour, the [`TOP_PAGES`] largest, ties by `page_url`. `None` before the edge.
    pub fn top_pages(&self) -> Option<TopPages> {
        let (hour_start, hour_end) = self.current_hour()?;
        let mut by_page: BTreeMap<&str, u64> = BTreeMap::new();
        for ((start, end, page), &count) in self
            .page_views
            .range((hour_start, i64::MIN, String::new())..)
        {
            let size = end - start;
            let tiles = size > 0 && start.rem_euclid(size) == 0;
            if *start >= hour_start && *end <= hour_end && tiles {
                *by_page.entry(page).or_default() += count;
            }
        }
        let mut pages: Vec<PageViews> = by_page
            .into_iter()
            .map(|(page_url, page_views)| PageViews {
                page_url: page_url.to_owned(),
                page_views,
            })
            .collect();
        // Stable: pages come in page_url order, so ties stay in it.
        pages.sort_by_key(|p| std::cmp::Reverse(p.page_views));
        pages.truncate(TOP_PAGES);
        Some(TopPages {
            hour_start: Time(hour_start),
            hour_end: Time(hour_end),
            pages,
        })
    }

    /// The sessions panel: sessions with `session_start` in the last hour, each key once.
    /// `None` before the edge.
    pub fn sessions(&self) -> Option<SessionsPanel> {
        let (since, until) = self.last_hour()?;
        let (mut count, mut bounces) = (0u64, 0u64);
        for (_, &is_bounce) in self
            .sessions
            .range((since + 1, String::new())..)
            .take_while(|((start, _), _)| *start <= until)
        {
            count += 1;
            bounces += u64::from(is_bounce);
        }
        Some(SessionsPanel {
            since: Time(since),
            until: Time(until),
            count,
            bounces,
            bounce_rate: (count > 0).then(|| bounces as f64 / count as f64),
        })
    }

    /// How many rows are held (site rows, page-view counts, sessions), for tests and logs.
    pub fn held(&self) -> (usize, usize, usize) {
        (self.site.len(), self.page_views.len(), self.sessions.len())
    }
}

/// A span in the largest unit that divides it: `1 h`, `5 min`, `30 s`, `250 ms`.
fn span(ms: i64) -> String {
    for (unit_ms, unit) in [(HOUR_MS, "h"), (60_000, "min"), (1_000, "s")] {
        if ms != 0 && ms % unit_ms == 0 {
            return format!("{} {unit}", ms / unit_ms);
        }
    }
    format!("{ms} ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    /// 2026-01-01T00:00:00Z.
    const T0: i64 = 1_767_225_600_000;

    fn site(start: i64, end: i64, events: u64, unique_visitors: u64) -> FeedRow {
        FeedRow::Visitor(VisitorRow {
            page_url: None,
            window_start: start,
            window_end: end,
            unique_visitors,
            events,
        })
    }

    fn page(url: &str, event_type: &str, start: i64, end: i64, count: u64) -> FeedRow {
        FeedRow::Page(PageRow {
            page_url: url.into(),
            event_type: event_type.into(),
            event_count: count,
            window_start: start,
            window_end: end,
        })
    }

    fn session(id: &str, start: i64, is_bounce: bool) -> FeedRow {
        FeedRow::Session(SessionRow {
            session_id: id.into(),
            session_start: start,
            is_bounce,
        })
    }

    fn points(model: &Model) -> Vec<(i64, u64, u64)> {
        model
            .windows()
            .iter()
            .map(|w| (w.window_start.0 - T0, w.events, w.unique_visitors))
            .collect()
    }

    fn pages(model: &Model) -> Vec<(String, u64)> {
        model
            .top_pages()
            .map(|t| {
                t.pages
                    .into_iter()
                    .map(|p| (p.page_url, p.page_views))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn upsert_is_idempotent_and_a_new_value_replaces_the_old() {
        let mut model = Model::new();
        assert!(model.upsert(site(T0, T0 + MIN, 10, 4)));
        assert!(model.upsert(page("/a", PAGE_VIEW, T0, T0 + MIN, 3)));
        assert!(model.upsert(session("s", T0 + 5, true)));
        let before = (
            points(&model),
            pages(&model),
            model.sessions(),
            model.held(),
        );
        // Re-sends change nothing.
        assert!(!model.upsert(site(T0, T0 + MIN, 10, 4)));
        assert!(!model.upsert(page("/a", PAGE_VIEW, T0, T0 + MIN, 3)));
        assert!(!model.upsert(session("s", T0 + 5, true)));
        assert_eq!(
            before,
            (
                points(&model),
                pages(&model),
                model.sessions(),
                model.held()
            )
        );
        assert_eq!(model.sessions().map(|s| s.count), Some(1));
        // Rows the page does not show are not held.
        assert!(!model.upsert(page("/a", "click", T0, T0 + MIN, 8)));
        assert!(!model.upsert(FeedRow::Visitor(VisitorRow {
            page_url: Some("/a".into()),
            window_start: T0,
            window_end: T0 + MIN,
            unique_visitors: 1,
            events: 1,
        })));
        assert_eq!(model.held(), (1, 1, 1));
        // The same key with another value: the new value, still once.
        assert!(model.upsert(site(T0, T0 + MIN, 11, 4)));
        assert_eq!(points(&model), [(0, 11, 4)]);
    }

    #[test]
    fn the_edge_is_the_latest_site_window_end_and_the_last_hour_is_event_time() {
        let mut model = Model::new();
        assert_eq!(model.edge(), None);
        assert_eq!(model.windows(), []);
        assert_eq!(model.top_pages(), None);
        assert_eq!(model.sessions(), None);
        assert_eq!(model.window_shape(), None);
        // Page rows and sessions do not move the edge.
        model.upsert(page("/a", PAGE_VIEW, T0 + 10 * MIN, T0 + 11 * MIN, 1));
        model.upsert(session("s", T0 + 10 * MIN, false));
        assert_eq!(model.edge(), None);
        // 90 one-minute windows, out of order: the edge is the largest end, and it never falls.
        for i in (0..90).rev() {
            model.upsert(site(T0 + i * MIN, T0 + (i + 1) * MIN, i as u64, 1));
        }
        assert_eq!(model.edge(), Some(T0 + 90 * MIN));
        let shown = points(&model);
        assert_eq!(shown.len(), 60);
        assert_eq!(shown.first(), Some(&(30 * MIN, 30, 1)));
        assert_eq!(shown.last(), Some(&(89 * MIN, 89, 1)));
        // Older windows are pruned, and one arriving late is not stored.
        assert_eq!(model.held().0, 60);
        assert!(!model.upsert(site(T0 + 29 * MIN, T0 + 30 * MIN, 5, 5)));
        assert_eq!(model.held().0, 60);
        assert_eq!(
            model.last_hour(),
            Some((T0 + 30 * MIN, T0 + 90 * MIN)),
            "(edge − 60 min, edge]"
        );
        // The current hour holds edge − 1 ms: 01:00–02:00 for an edge of 01:30 …
        assert_eq!(model.current_hour(), Some((T0 + 60 * MIN, T0 + 120 * MIN)));
        // … and 00:00–01:00 for an edge on 01:00 exactly.
        let mut on_the_hour = Model::new();
        on_the_hour.upsert(site(T0 + 59 * MIN, T0 + 60 * MIN, 1, 1));
        assert_eq!(on_the_hour.current_hour(), Some((T0, T0 + 60 * MIN)));
        let shape = model.window_shape().unwrap();
        assert_eq!(
            (shape.size_ms, shape.slide_ms, shape.label.as_str()),
            (MIN, MIN, "per 1 min")
        );
    }

    #[test]
    fn hopping_and_small_windows_are_one_point_each_and_named() {
        let mut hopping = Model::new();
        // 5-minute windows every minute.
        for i in 0..10 {
            hopping.upsert(site(T0 + i * MIN, T0 + (i + 5) * MIN, 50, 5));
        }
        let shape = hopping.window_shape().unwrap();
        assert_eq!((shape.size_ms, shape.slide_ms), (5 * MIN, MIN));
        assert_eq!(shape.label, "per 5 min, every 1 min");
        assert_eq!(hopping.windows().len(), 10);
        let mut small = Model::new();
        for i in 0..6 {
            small.upsert(site(T0 + i * 10_000, T0 + (i + 1) * 10_000, 1, 1));
        }
        assert_eq!(small.windows().len(), 6);
        assert_eq!(small.window_shape().unwrap().label, "per 10 s");
        let mut one = Model::new();
        one.upsert(site(T0, T0 + 2 * HOUR_MS, 1, 1));
        assert_eq!(one.window_shape().unwrap().label, "per 2 h");
        assert_eq!(span(1_500), "1500 ms");
    }

    #[test]
    fn top_pages_sum_the_tiling_windows_of_the_current_hour() {
        let mut model = Model::new();
        // Edge 01:03 → the hour 01:00–02:00.
        model.upsert(site(T0 + 62 * MIN, T0 + 63 * MIN, 1, 1));
        // Tumbling minutes in the hour.
        model.upsert(page("/a", PAGE_VIEW, T0 + 60 * MIN, T0 + 61 * MIN, 4));
        model.upsert(page("/a", PAGE_VIEW, T0 + 61 * MIN, T0 + 62 * MIN, 4));
        model.upsert(page("/b", PAGE_VIEW, T0 + 61 * MIN, T0 + 62 * MIN, 8));
        model.upsert(page("/c", PAGE_VIEW, T0 + 62 * MIN, T0 + 63 * MIN, 2));
        // Hopping 5-minute windows every minute: only the one starting on a multiple of 5
        // minutes counts (they tile time).
        model.upsert(page("/h", PAGE_VIEW, T0 + 60 * MIN, T0 + 65 * MIN, 1));
        model.upsert(page("/h", PAGE_VIEW, T0 + 61 * MIN, T0 + 66 * MIN, 100));
        // Not in the hour: the hour before is pruned; a window crossing the hour's end does
        // not lie in it; the next hour is kept for later.
        assert!(!model.upsert(page("/old", PAGE_VIEW, T0 + 59 * MIN, T0 + 60 * MIN, 50)));
        // (7-minute windows: 01:59 is a multiple of 7 minutes since the epoch.)
        model.upsert(page("/x", PAGE_VIEW, T0 + 119 * MIN, T0 + 126 * MIN, 50));
        model.upsert(page("/next", PAGE_VIEW, T0 + 120 * MIN, T0 + 121 * MIN, 60));
        // Other event types do not count.
        model.upsert(page("/c", "click", T0 + 62 * MIN, T0 + 63 * MIN, 99));
        // Ties by page_url.
        model.upsert(page("/0", PAGE_VIEW, T0 + 62 * MIN, T0 + 63 * MIN, 8));
        let top = model.top_pages().unwrap();
        assert_eq!(
            (top.hour_start.0, top.hour_end.0),
            (T0 + HOUR_MS, T0 + 2 * HOUR_MS)
        );
        assert_eq!(
            pages(&model),
            [
                ("/0".into(), 8),
                ("/a".into(), 8),
                ("/b".into(), 8),
                ("/c".into(), 2),
                ("/h".into(), 1)
            ]
        );
        // Twelve pages: the ten largest.
        for i in 0..12u64 {
            model.upsert(page(
                &format!("/p{i:02}"),
                PAGE_VIEW,
                T0 + 62 * MIN,
                T0 + 63 * MIN,
                100 + i,
            ));
        }
        let shown = pages(&model);
        assert_eq!(shown.len(), TOP_PAGES);
        assert_eq!(shown[0], ("/p11".into(), 111));
        assert_eq!(shown[9], ("/p02".into(), 102));
        // The edge moves into the next hour: the kept row counts, the old hour is pruned.
        model.upsert(site(T0 + 120 * MIN, T0 + 121 * MIN, 1, 1));
        assert_eq!(pages(&model), [("/next".into(), 60)]);
        assert_eq!(model.held().1, 1, "only /next is held");
    }

    #[test]
    fn sessions_of_the_last_hour_count_once_each() {
        let mut model = Model::new();
        model.upsert(session("early", T0 + 10 * MIN, true));
        model.upsert(site(T0 + 69 * MIN, T0 + 70 * MIN, 1, 1));
        // The last hour is (00:10, 01:10]: "early" starts on its open end.
        assert_eq!(model.held().2, 0);
        for (id, start, bounce) in [
            ("a", T0 + 10 * MIN + 1, true),
            ("b", T0 + 30 * MIN, false),
            ("c", T0 + 70 * MIN, true),
            ("later", T0 + 71 * MIN, false),
        ] {
            model.upsert(session(id, start, bounce));
        }
        // Re-sent: still once.
        model.upsert(session("b", T0 + 30 * MIN, false));
        let panel = model.sessions().unwrap();
        assert_eq!(
            (panel.since.0, panel.until.0),
            (T0 + 10 * MIN, T0 + 70 * MIN)
        );
        assert_eq!((panel.count, panel.bounces), (3, 2));
        assert_eq!(panel.bounce_rate, Some(2.0 / 3.0));
        // The same id with another start is another session.
        model.upsert(session("b", T0 + 40 * MIN, true));
        assert_eq!(model.sessions().map(|s| (s.count, s.bounces)), Some((4, 3)));
        // The edge moves: older sessions leave, the later one comes in.
        model.upsert(site(T0 + 99 * MIN, T0 + 100 * MIN, 1, 1));
        assert_eq!(model.sessions().map(|s| (s.count, s.bounces)), Some((2, 1)));
        assert_eq!(model.held().2, 2);
        let mut empty = Model::new();
        empty.upsert(site(T0, T0 + MIN, 1, 1));
        assert_eq!(
            empty.sessions().map(|s| (s.count, s.bounce_rate)),
            Some((0, None))
        );
    }
}
