//! One record of the results feed, read back: the row it carries, checked against its key.
//!
//! The dataflow publishes every final row of `page_analytics`, `visitor_analytics` and
//! `sessions`. The key is a JSON array, the table then its key columns; the value a JSON
//! object, `table` then the row's columns (and `dt`). Times are RFC 3339 UTC strings, a NULL is
//! `null`:
//!
//! | table | key |
//! |---|---|
//! | `page_analytics` | `["page_analytics", page_url, event_type, window_start, window_end]` |
//! | `visitor_analytics` | `["visitor_analytics", page_url\|null, window_start, window_end]` |
//! | `sessions` | `["sessions", session_id, session_start]` |
//!
//! Only the columns the dashboard shows are read; other fields are ignored, so a column added
//! to a table does not make its records malformed. A record is malformed when its key or value
//! is missing or not of this form, or when the key does not name the value's own row.

use serde::Deserialize;
use serde_json::Value;

use crate::snapshot::parse_time;

/// A `page_analytics` row: how often `event_type` happened on `page_url` in a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRow {
    /// The page.
    pub page_url: String,
    /// `page_view`, `click`, …
    pub event_type: String,
    /// Events of that type on that page in the window.
    pub event_count: u64,
    /// Window start, inclusive, UTC epoch ms.
    pub window_start: i64,
    /// Window end, exclusive, UTC epoch ms.
    pub window_end: i64,
}

/// A `visitor_analytics` row: distinct users and events of a page (or of the whole site, when
/// `page_url` is `None`) in a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitorRow {
    /// The page; `None` for the site row.
    pub page_url: Option<String>,
    /// Window start, inclusive, UTC epoch ms.
    pub window_start: i64,
    /// Window end, exclusive, UTC epoch ms.
    pub window_end: i64,
    /// Distinct users.
    pub unique_visitors: u64,
    /// Valid events.
    pub events: u64,
}

/// A `sessions` row, the columns the dashboard uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// The session.
    pub session_id: String,
    /// Its first event's time, UTC epoch ms.
    pub session_start: i64,
    /// Whether it had a single page view.
    pub is_bounce: bool,
}

/// The row a feed record carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedRow {
    /// `page_analytics`.
    Page(PageRow),
    /// `visitor_analytics`.
    Visitor(VisitorRow),
    /// `sessions`.
    Session(SessionRow),
}

/// Why a record was skipped. The message never quotes the record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedRecord {
    /// The record has no key, or no value (a tombstone).
    #[error("the record has no {0}")]
    Missing(&'static str),
    /// The value is not a JSON object of a known table with the expected columns.
    #[error("the value is not a row of a known table: {0}")]
    Value(String),
    /// A time column is not an RFC 3339 time.
    #[error("column {0} is not an RFC 3339 time")]
    Time(&'static str),
    /// The key is not the JSON array naming the value's row.
    #[error("the key does not name the value's row")]
    Key,
}

/// The value as published (the columns read; the rest ignored).
#[derive(Deserialize)]
#[serde(tag = "table", rename_all = "snake_case")]
enum RawValue {
    PageAnalytics {
        page_url: String,
        event_type: String,
        event_count: u64,
        window_start: String,
        window_end: String,
    },
    VisitorAnalytics {
        page_url: Option<String>,
        window_start: String,
        window_end: String,
        unique_visitors: u64,
        events: u64,
    },
    Sessions {
        session_id: String,
        session_start: String,
        is_bounce: bool,
    },
}

/// Reads a feed record: its value's row, after checking that `key` names that row.
///
/// # Errors
/// [`MalformedRecord`] when the key or value is missing or not of the feed's form.
pub fn parse_record(key: Option<&[u8]>, value: Option<&[u8]>) -> Result<FeedRow, MalformedRecord> {
    let key = key.ok_or(MalformedRecord::Missing("key"))?;
    let value = value.ok_or(MalformedRecord::Missing("value"))?;
    let raw: RawValue =
        serde_json::from_slice(value).map_err(|e| MalformedRecord::Value(e.to_string()))?;
    let key: Vec<Value> = serde_json::from_slice(key).map_err(|_| MalformedRecord::Key)?;
    let time = |s: &str, column| parse_time(s).ok_or(MalformedRecord::Time(column));
    let (row, expected) = match raw {
        RawValue::PageAnalytics {
            page_url,
            event_type,
            event_count,
            window_start,
            window_end,
        } => {
            let row = PageRow {
                window_start: time(&window_start, "window_start")?,
                window_end: time(&window_end, "window_end")?,
                page_url,
                event_type,
                event_count,
            };
            let expected = vec![
                Part::Text("page_analytics".into()),
                Part::Text(row.page_url.clone()),
                Part::Text(row.event_type.clone()),
                Part::Time(row.window_start),
                Part::Time(row.window_end),
            ];
            (FeedRow::Page(row), expected)
        }
        RawValue::VisitorAnalytics {
            page_url,
            window_start,
            window_end,
            unique_visitors,
            events,
        } => {
            let row = VisitorRow {
                window_start: time(&window_start, "window_start")?,
                window_end: time(&window_end, "window_end")?,
                page_url,
                unique_visitors,
                events,
            };
            let expected = vec![
                Part::Text("visitor_analytics".into()),
                row.page_url.clone().map_or(Part::Null, Part::Text),
                Part::Time(row.window_start),
                Part::Time(row.window_end),
            ];
            (FeedRow::Visitor(row), expected)
        }
        RawValue::Sessions {
            session_id,
            session_start,
            is_bounce,
        } => {
            let row = SessionRow {
                session_start: time(&session_start, "session_start")?,
                session_id,
                is_bounce,
            };
            let expected = vec![
                Part::Text("sessions".into()),
                Part::Text(row.session_id.clone()),
                Part::Time(row.session_start),
            ];
            (FeedRow::Session(row), expected)
        }
    };
    let names_the_row =
        key.len() == expected.len() && key.iter().zip(&expected).all(|(k, e)| e.matches(k));
    if names_the_row {
        Ok(row)
    } else {
        Err(MalformedRecord::Key)
    }
}

/// One element of the key a row should have.
enum Part {
    /// A string, compared as written.
    Text(String),
    /// A time, compared as UTC epoch ms (so the key may write it with another offset).
    Time(i64),
    /// `null` (the site row's `page_url`).
    Null,
}

impl Part {
    fn matches(&self, element: &Value) -> bool {
        match (self, element) {
            (Part::Text(want), Value::String(s)) => want == s,
            (Part::Time(want), Value::String(s)) => parse_time(s) == Some(*want),
            (Part::Null, Value::Null) => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(key: &str, value: &str) -> Result<FeedRow, MalformedRecord> {
        parse_record(Some(key.as_bytes()), Some(value.as_bytes()))
    }

    #[test]
    fn the_three_tables_are_read_with_their_keys() {
        let page = parse(
            r#"["page_analytics","/a|b","page_view","2026-01-01T00:00:00.000Z","2026-01-01T00:01:00.000Z"]"#,
            r#"{"table":"page_analytics","page_url":"/a|b","event_type":"page_view","event_count":7,"window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:01:00.000Z","dt":"2026-01-01"}"#,
        );
        assert_eq!(
            page,
            Ok(FeedRow::Page(PageRow {
                page_url: "/a|b".into(),
                event_type: "page_view".into(),
                event_count: 7,
                window_start: 1_767_225_600_000,
                window_end: 1_767_225_660_000,
            }))
        );
        let site = parse(
            r#"["visitor_analytics",null,"2026-01-01T00:00:00.000Z","2026-01-01T00:01:00.000Z"]"#,
            r#"{"table":"visitor_analytics","page_url":null,"window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:01:00.000Z","unique_visitors":3,"events":9,"dt":"2026-01-01"}"#,
        );
        assert_eq!(
            site,
            Ok(FeedRow::Visitor(VisitorRow {
                page_url: None,
                window_start: 1_767_225_600_000,
                window_end: 1_767_225_660_000,
                unique_visitors: 3,
                events: 9,
            }))
        );
        let session = parse(
            r#"["sessions","s-1","2026-01-01T00:00:05.250Z"]"#,
            r#"{"table":"sessions","session_id":"s-1","user_id":"u","session_start":"2026-01-01T00:00:05.250Z","session_end":"2026-01-01T00:00:05.250Z","duration_ms":0,"events":1,"page_views":1,"entry_page":"/","exit_page":"/","is_bounce":true,"browser":null,"os":null,"country":"FR","dt":"2026-01-01"}"#,
        );
        assert_eq!(
            session,
            Ok(FeedRow::Session(SessionRow {
                session_id: "s-1".into(),
                session_start: 1_767_225_605_250,
                is_bounce: true,
            }))
        );
    }

    #[test]
    fn malformed_records_say_why() {
        let value = r#"{"table":"sessions","session_id":"s-1","session_start":"2026-01-01T00:00:05.250Z","is_bounce":false}"#;
        let key = r#"["sessions","s-1","2026-01-01T00:00:05.250Z"]"#;
        assert!(parse(key, value).is_ok());
        assert_eq!(
            parse_record(None, Some(value.as_bytes())),
            Err(MalformedRecord::Missing("key"))
        );
        assert_eq!(
            parse_record(Some(key.as_bytes()), None),
            Err(MalformedRecord::Missing("value"))
        );
        // Another row's key, a key of the wrong length, a key that is no JSON array.
        for bad_key in [
            r#"["sessions","s-2","2026-01-01T00:00:05.250Z"]"#,
            r#"["sessions","s-1","2026-01-01T00:00:05.251Z"]"#,
            r#"["visitor_analytics","s-1","2026-01-01T00:00:05.250Z"]"#,
            r#"["sessions","s-1"]"#,
            r#"{"table":"sessions"}"#,
            "not json",
        ] {
            assert_eq!(
                parse(bad_key, value),
                Err(MalformedRecord::Key),
                "{bad_key}"
            );
        }
        // The same time with another offset names the same row.
        assert!(parse(
            r#"["sessions","s-1","2026-01-01T01:00:05.250+01:00"]"#,
            value
        )
        .is_ok());
        assert!(matches!(
            parse(key, r#"{"table":"raw_web_events","event_id":"e"}"#),
            Err(MalformedRecord::Value(_))
        ));
        assert!(matches!(
            parse(
                key,
                r#"{"table":"sessions","session_id":"s-1","is_bounce":false}"#
            ),
            Err(MalformedRecord::Value(_))
        ));
        assert!(matches!(parse(key, "{"), Err(MalformedRecord::Value(_))));
        assert_eq!(
            parse(
                key,
                r#"{"table":"sessions","session_id":"s-1","session_start":"yesterday","is_bounce":false}"#
            ),
            Err(MalformedRecord::Time("session_start"))
        );
        // A negative count is not a count.
        assert!(matches!(
            parse(
                r#"["visitor_analytics",null,"2026-01-01T00:00:00.000Z","2026-01-01T00:01:00.000Z"]"#,
                r#"{"table":"visitor_analytics","page_url":null,"window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:01:00.000Z","unique_visitors":-3,"events":9}"#
            ),
            Err(MalformedRecord::Value(_))
        ));
    }
}
