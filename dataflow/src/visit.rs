//! The stream of validated, deduplicated on-time events that the visitor and session
//! operators read: one [`Visit`] per event a source counts in its windows.

use serde::{Deserialize, Serialize};

/// An on-time event, as the `visitors` and `sessions` operators need it.
///
/// Sources emit one per on-time event they read at or after a partition's resume offset
/// (a replay after a restart emits the re-read ones again; the operators know which they
/// have already seen from the restored checkpoint's frontier). It travels at a timely time at
/// or below `event_time_ms`, so an operator's input frontier is a lower bound for the event
/// time of every visit still to come.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    /// `event_time`, UTC epoch ms.
    pub event_time_ms: i64,
    /// Kafka partition it was read from: with `offset`, breaks ties in event time.
    pub partition: i32,
    /// Kafka offset of its record.
    pub offset: i64,
    /// `user_id`.
    pub user_id: String,
    /// `session_id` (the Kafka record key).
    pub session_id: String,
    /// `page_url`.
    pub page_url: String,
    /// `event_type`, e.g. `page_view`.
    pub event_type: String,
    /// Browser family, when known.
    pub browser: Option<String>,
    /// Operating system family, when known.
    pub os: Option<String>,
    /// ISO 3166-1 alpha-2 country, when known.
    pub country: Option<String>,
}

impl Visit {
    /// The visit of `event`, read at `offset` of `partition`.
    pub fn of(event: &events::WebEvent, partition: i32, offset: i64) -> Visit {
        Visit {
            event_time_ms: event.event_time_ms,
            partition,
            offset,
            user_id: event.user_id.clone(),
            session_id: event.session_id.clone(),
            page_url: event.page_url.clone(),
            event_type: event.event_type.clone(),
            browser: event.browser.clone(),
            os: event.os.clone(),
            country: event.country.clone(),
        }
    }

    /// The order in which a session applies its events: event time, then partition, then
    /// offset.
    pub fn order_key(&self) -> (i64, i32, i64) {
        (self.event_time_ms, self.partition, self.offset)
    }
}
