//! `visitor_analytics` and `sessions` recomputed from the on-time events (rules in the module
//! docs of [`super`]).

use std::collections::{BTreeMap, BTreeSet};

use super::tables::{SessionRow, VisitorRow};
use super::{date, sql_timestamp, OracleConfig};

/// A session lasting at least this long is engaged, not a bounce (GA4's rule), ms.
pub const ENGAGED_DURATION_MS: i64 = 10_000;

/// One on-time event with what the two tables need of it.
#[derive(Debug, Clone)]
pub(super) struct OnTime {
    pub partition: i32,
    pub offset: i64,
    pub event_time_ms: i64,
    pub user_id: String,
    pub session_id: String,
    pub event_type: String,
    pub page_url: String,
    pub browser: Option<String>,
    pub os: Option<String>,
    pub country: Option<String>,
}

/// (scope, window start): scope `None` is the whole site.
type WindowKey<'a> = (Option<&'a str>, i64);

/// One row per (page_url, window) and one per window for the whole site (`page_url` NULL):
/// distinct users and events among the on-time events of the window.
pub(super) fn visitor_rows(events: &[OnTime], config: &OracleConfig) -> Vec<VisitorRow> {
    // (scope, window) → (distinct users, events).
    let mut windows: BTreeMap<WindowKey, (BTreeSet<&str>, i64)> = BTreeMap::new();
    for event in events {
        for start in config.window_starts(event.event_time_ms) {
            for scope in [Some(event.page_url.as_str()), None] {
                let (users, count) = windows.entry((scope, start)).or_default();
                users.insert(event.user_id.as_str());
                *count += 1;
            }
        }
    }
    windows
        .into_iter()
        .map(|((scope, start), (users, count))| VisitorRow {
            page_url: scope.map(str::to_owned),
            window_start: sql_timestamp(start),
            window_end: sql_timestamp(start + config.window_size_ms),
            unique_visitors: users.len() as i64,
            events: count,
            dt: date(start),
        })
        .collect()
}

/// Every session of `events`, each with its close time (UTC epoch ms): the moment from which
/// no on-time event can change it, `min(last + gap + 1, start + max_duration)`.
pub(super) fn sessions(events: &[OnTime], config: &OracleConfig) -> Vec<(SessionRow, i64)> {
    assert!(
        config.session_gap_ms >= 0 && config.max_session_duration_ms > 0,
        "the session gap must not be negative and the maximum duration must be positive"
    );
    let mut by_session: BTreeMap<&str, Vec<&OnTime>> = BTreeMap::new();
    for event in events {
        by_session
            .entry(event.session_id.as_str())
            .or_default()
            .push(event);
    }
    let mut out = Vec::new();
    for group in by_session.values_mut() {
        group.sort_by_key(|e| (e.event_time_ms, e.partition, e.offset));
        // The events of the current session, in order.
        let mut current: Vec<&OnTime> = Vec::new();
        for &event in group.iter() {
            let t = event.event_time_ms;
            let joins = match (current.first(), current.last()) {
                (Some(first), Some(last)) => {
                    t - last.event_time_ms <= config.session_gap_ms
                        && t - first.event_time_ms < config.max_session_duration_ms
                }
                _ => false,
            };
            if !joins && !current.is_empty() {
                out.push(session_row(&current, config));
                current.clear();
            }
            current.push(event);
        }
        if !current.is_empty() {
            out.push(session_row(&current, config));
        }
    }
    out
}

/// The row of one session's events (in order, at least one) and its close time.
fn session_row(events: &[&OnTime], config: &OracleConfig) -> (SessionRow, i64) {
    let (first, last) = (events[0], events[events.len() - 1]);
    let (start, end) = (first.event_time_ms, last.event_time_ms);
    let duration_ms = end - start;
    let page_views = events
        .iter()
        .filter(|e| e.event_type == "page_view")
        .count() as i64;
    let form_submit = events.iter().any(|e| e.event_type == "form_submit");
    let engaged = duration_ms >= ENGAGED_DURATION_MS || page_views >= 2 || form_submit;
    let row = SessionRow {
        session_id: first.session_id.clone(),
        user_id: first.user_id.clone(),
        session_start: sql_timestamp(start),
        session_end: sql_timestamp(end),
        duration_ms,
        events: events.len() as i64,
        page_views,
        entry_page: first.page_url.clone(),
        exit_page: last.page_url.clone(),
        is_bounce: !engaged,
        browser: first.browser.clone(),
        os: first.os.clone(),
        country: first.country.clone(),
        dt: date(start),
    };
    let close_ms = (end + config.session_gap_ms + 1).min(start + config.max_session_duration_ms);
    (row, close_ms)
}
