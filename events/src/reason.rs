//! Why a record is not a valid event: [`RejectReason`] (a closed set of stable names) and
//! [`Rejection`] (the reason, the field and a human-readable detail).

use std::fmt;

/// Why a record was rejected. The names ([`RejectReason::as_str`]) are stable snake_case:
/// they are metric label values (`reason="missing_field"`) and the values of the
/// `rejected_web_events.reason` column, so they never change once released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum RejectReason {
    /// `oversize`: the record is longer than [`crate::MAX_EVENT_BYTES`].
    Oversize,
    /// `invalid_utf8`: the record is not UTF-8.
    InvalidUtf8,
    /// `not_json`: the record is not one JSON value (syntax error, empty, trailing garbage, a
    /// string escape that does not decode).
    NotJson,
    /// `not_object`: valid JSON, but not an object (an array, a string, a number, …).
    NotObject,
    /// `duplicate_field`: an event field appears twice in the object.
    DuplicateField,
    /// `missing_field`: a required field is absent or `null`.
    MissingField,
    /// `wrong_type`: a field holds the wrong JSON type (e.g. a number for `user_id`).
    WrongType,
    /// `empty_field`: a required string field is `""`.
    EmptyField,
    /// `page_url_too_long`: `page_url` is longer than [`crate::MAX_PAGE_URL_BYTES`].
    PageUrlTooLong,
    /// `invalid_country`: `country` is not two ASCII uppercase letters.
    InvalidCountry,
    /// `invalid_event_time`: `event_time` is neither RFC 3339 nor an integer of epoch
    /// milliseconds, or lies outside [`crate::MIN_EVENT_TIME_MS`]`..=`[`crate::MAX_EVENT_TIME_MS`].
    InvalidEventTime,
    /// `event_time_in_future`: `event_time` lies more than the allowed skew ahead of the
    /// record's ingestion time (its Kafka record timestamp): a client clock that is wrong, or a
    /// forged time. Judged by [`crate::check_future_skew`], not by [`crate::parse`], because it
    /// needs the record's ingestion time.
    EventTimeInFuture,
}

impl RejectReason {
    /// Every reason, in declaration order (e.g. to register metric series up front).
    pub const ALL: [RejectReason; 12] = [
        RejectReason::Oversize,
        RejectReason::InvalidUtf8,
        RejectReason::NotJson,
        RejectReason::NotObject,
        RejectReason::DuplicateField,
        RejectReason::MissingField,
        RejectReason::WrongType,
        RejectReason::EmptyField,
        RejectReason::PageUrlTooLong,
        RejectReason::InvalidCountry,
        RejectReason::InvalidEventTime,
        RejectReason::EventTimeInFuture,
    ];

    /// The stable snake_case name, e.g. `"missing_field"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            RejectReason::Oversize => "oversize",
            RejectReason::InvalidUtf8 => "invalid_utf8",
            RejectReason::NotJson => "not_json",
            RejectReason::NotObject => "not_object",
            RejectReason::DuplicateField => "duplicate_field",
            RejectReason::MissingField => "missing_field",
            RejectReason::WrongType => "wrong_type",
            RejectReason::EmptyField => "empty_field",
            RejectReason::PageUrlTooLong => "page_url_too_long",
            RejectReason::InvalidCountry => "invalid_country",
            RejectReason::InvalidEventTime => "invalid_event_time",
            RejectReason::EventTimeInFuture => "event_time_in_future",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rejected record: why, which field (when one field is at fault) and a detail for people
/// (bounded in length; never the whole record).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}{}: {detail}", field.map(|f| format!(" ({f})")).unwrap_or_default())]
pub struct Rejection {
    /// The machine-readable reason.
    pub reason: RejectReason,
    /// The event field at fault, e.g. `"page_url"`; `None` for whole-record reasons.
    pub field: Option<&'static str>,
    /// What exactly was wrong, for logs and HTTP responses.
    pub detail: String,
}

impl Rejection {
    pub(crate) fn new(reason: RejectReason, detail: impl Into<String>) -> Self {
        Rejection {
            reason,
            field: None,
            detail: truncate(detail.into()),
        }
    }

    pub(crate) fn for_field(
        reason: RejectReason,
        field: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Rejection {
            reason,
            field: Some(field),
            detail: truncate(detail.into()),
        }
    }
}

/// Details are for people: at most 200 characters.
fn truncate(mut detail: String) -> String {
    if let Some((i, _)) = detail.char_indices().nth(200) {
        detail.truncate(i);
        detail.push('…');
    }
    detail
}
