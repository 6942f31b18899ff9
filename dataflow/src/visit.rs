//! The stream of validated, deduplicated on-time events that the visitor and session
//! operators read: one [`Visit`] per event a source counts in its windows.

use serde::{Deserialize, Serialize};

/// The text fields of a [`Visit`], borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisitText<'a> {
    /// `user_id`.
    pub user_id: &'a str,
    /// `session_id` (the Kafka record key).
    pub session_id: &'a str,
    /// `page_url`.
    pub page_url: &'a str,
    /// `event_type`, e.g. `page_view`.
    pub event_type: &'a str,
    /// Browser family, when known.
    pub browser: Option<&'a str>,
    /// Operating system family, when known.
    pub os: Option<&'a str>,
    /// ISO 3166-1 alpha-2 country, when known.
    pub country: Option<&'a str>,
}

/// An on-time event, as the `visitors` and `sessions` operators need it.
///
/// Sources emit one per on-time event they read at or after a partition's resume offset
/// (a replay after a restart emits the re-read ones again; the operators know which they
/// have already seen from the restored checkpoint's frontier). It travels at a timely time at
/// or below `event_time_ms`, so an operator's input frontier is a lower bound for the event
/// time of every visit still to come.
///
/// Its seven text fields share one allocation (`text`, the fields back to back; `ends`, where
/// each ends; `present`, which optional ones are set), so making, copying and dropping a
/// visit costs one allocation, not seven. Read them with [`Visit::text`] or the accessors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    /// `event_time`, UTC epoch ms.
    pub event_time_ms: i64,
    /// Kafka partition it was read from: with `offset`, breaks ties in event time.
    pub partition: i32,
    /// Kafka offset of its record.
    pub offset: i64,
    text: Box<str>,
    /// Byte offsets in `text` where user_id, session_id, page_url, event_type, browser, os
    /// and country end.
    ends: [u32; 7],
    /// Bit 0, 1, 2: browser, os, country is present.
    present: u8,
}

impl Visit {
    /// A visit with these fields.
    ///
    /// # Panics
    /// When the text fields together exceed 4 GiB (a Kafka record cannot).
    pub fn new(event_time_ms: i64, partition: i32, offset: i64, t: VisitText<'_>) -> Visit {
        let fields = [
            t.user_id,
            t.session_id,
            t.page_url,
            t.event_type,
            t.browser.unwrap_or(""),
            t.os.unwrap_or(""),
            t.country.unwrap_or(""),
        ];
        let mut text = String::with_capacity(fields.iter().map(|f| f.len()).sum());
        let mut ends = [0u32; 7];
        for (end, field) in ends.iter_mut().zip(fields) {
            text.push_str(field);
            *end = u32::try_from(text.len()).expect("a visit's text fields exceed 4 GiB");
        }
        let present = u8::from(t.browser.is_some())
            | (u8::from(t.os.is_some()) << 1)
            | (u8::from(t.country.is_some()) << 2);
        Visit {
            event_time_ms,
            partition,
            offset,
            text: text.into_boxed_str(),
            ends,
            present,
        }
    }

    /// The visit of `event`, read at `offset` of `partition`.
    pub fn of(event: &events::WebEvent, partition: i32, offset: i64) -> Visit {
        Visit::new(
            event.event_time_ms,
            partition,
            offset,
            VisitText {
                user_id: &event.user_id,
                session_id: &event.session_id,
                page_url: &event.page_url,
                event_type: &event.event_type,
                browser: event.browser.as_deref(),
                os: event.os.as_deref(),
                country: event.country.as_deref(),
            },
        )
    }

    fn field(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    fn optional(&self, i: usize) -> Option<&str> {
        (self.present & (1 << (i - 4)) != 0).then(|| self.field(i))
    }

    /// All text fields, borrowed.
    pub fn text(&self) -> VisitText<'_> {
        VisitText {
            user_id: self.user_id(),
            session_id: self.session_id(),
            page_url: self.page_url(),
            event_type: self.event_type(),
            browser: self.browser(),
            os: self.os(),
            country: self.country(),
        }
    }

    /// `user_id`.
    pub fn user_id(&self) -> &str {
        self.field(0)
    }

    /// `session_id`.
    pub fn session_id(&self) -> &str {
        self.field(1)
    }

    /// `page_url`.
    pub fn page_url(&self) -> &str {
        self.field(2)
    }

    /// `event_type`.
    pub fn event_type(&self) -> &str {
        self.field(3)
    }

    /// Browser family, when known.
    pub fn browser(&self) -> Option<&str> {
        self.optional(4)
    }

    /// Operating system family, when known.
    pub fn os(&self) -> Option<&str> {
        self.optional(5)
    }

    /// Country, when known.
    pub fn country(&self) -> Option<&str> {
        self.optional(6)
    }

    /// The order in which a session applies its events: event time, then partition, then
    /// offset.
    pub fn order_key(&self) -> (i64, i32, i64) {
        (self.event_time_ms, self.partition, self.offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_back_as_given_empty_and_absent_apart() {
        let t = VisitText {
            user_id: "u-1",
            session_id: "",
            page_url: "/é?x=1",
            event_type: "page_view",
            browser: Some(""),
            os: None,
            country: Some("DE"),
        };
        let v = Visit::new(5, 1, 9, t);
        assert_eq!(v.text(), t);
        assert_eq!(v.order_key(), (5, 1, 9));
        let none = Visit::new(5, 1, 9, VisitText { browser: None, ..t });
        assert_eq!(none.browser(), None);
        assert_ne!(none, v);
    }
}
