//! The web analytics event model (schema: `events/README.md`), shared by the producer, the archiver and the
//! dataflow: one definition of an event, the one way to parse a Kafka record value into it,
//! and the one way to write it back on the wire.
//!
//! - [`WebEvent`] is a valid event. `event_time_ms` is UTC epoch milliseconds.
//! - [`parse`] turns a record value (raw bytes: maybe not UTF-8, not JSON, huge, deeply
//!   nested) into a [`WebEvent`] or a [`Rejection`] whose [`RejectReason`] has a stable
//!   snake_case name, usable as a metric label and in a `rejected_web_events.reason` column.
//!   It never panics and its cost is linear in the input length (bounded by
//!   [`MAX_EVENT_BYTES`]).
//! - [`WebEvent::to_json`] is the wire form: a JSON object with the event field names and
//!   `event_time` as RFC 3339 UTC with milliseconds (`2026-11-30T04:08:19.123Z`).
//!
//! The crate depends on no other crate of ours, so every component can use it and
//! dependencies stay one-way.

mod reason;
mod time;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub use reason::{RejectReason, Rejection};
pub use time::{format_event_time, parse_event_time, MAX_EVENT_TIME_MS, MIN_EVENT_TIME_MS};

/// Largest record value [`parse`] accepts, in bytes (64 KiB). Larger values are rejected
/// with [`RejectReason::Oversize`] before any parsing: a valid event is a few hundred bytes
/// (`page_url` is at most [`MAX_PAGE_URL_BYTES`]).
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// Longest `page_url` accepted, in bytes of UTF-8 (schema: `events/README.md`).
pub const MAX_PAGE_URL_BYTES: usize = 2048;

/// One valid web analytics event (schema: `events/README.md`).
///
/// Every [`WebEvent`] returned by [`parse`] satisfies [`WebEvent::validate`]; one built by
/// hand should be checked with it before it is sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct WebEvent {
    /// Unique id of the event, non-empty; a UUID when the producer made it.
    pub event_id: String,
    /// Id of the (pseudonymous) user, non-empty.
    pub user_id: String,
    /// Id of the browsing session, non-empty. The Kafka record key.
    pub session_id: String,
    /// What happened: `page_view`, `click`, `scroll`, `form_submit`, `video_play`, … Any
    /// non-empty string is valid; unknown types are kept as they are.
    pub event_type: String,
    /// The page: a path (`/products/42`) or an absolute URL, non-empty, at most
    /// [`MAX_PAGE_URL_BYTES`] bytes.
    pub page_url: String,
    /// Browser family (`Chrome`, `Firefox`, …), when known.
    pub browser: Option<String>,
    /// Operating system family (`Windows`, `Android`, …), when known.
    pub os: Option<String>,
    /// ISO 3166-1 alpha-2 country code (two ASCII uppercase letters), when known.
    pub country: Option<String>,
    /// When the event happened, UTC epoch milliseconds, within
    /// [`MIN_EVENT_TIME_MS`]`..=`[`MAX_EVENT_TIME_MS`]. On the wire: `event_time`, RFC 3339.
    #[serde(rename = "event_time", serialize_with = "time::serialize_event_time")]
    pub event_time_ms: i64,
    /// The clock-skew correction the HTTP collector applied to `event_time`, milliseconds:
    /// `received_at − sent_at` (collector clock minus browser clock when the beacon left;
    /// negative when the browser's clock is ahead). `event_time_ms` already includes it.
    /// `None` when no correction was made (a beacon without `sent_at`, simulated traffic).
    /// On the wire: `clock_skew_ms`, an integer, absent when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_skew_ms: Option<i64>,
}

/// Rejects an event whose time lies more than `max_future_skew_ms` ahead of the time the
/// record entered the system, `ingest_time_ms` (UTC epoch ms; the Kafka record timestamp, which
/// whoever puts a record on Kafka sets to its ingestion time). Such an event would otherwise
/// raise its partition's watermark to a time that has not come yet and make every later event
/// of the partition late. The judgement depends on the record alone, so a replay, and any
/// number of workers, decide the same. `ingest_time_ms == None` (a record without a
/// timestamp) cannot be judged and passes.
///
/// # Errors
/// [`RejectReason::EventTimeInFuture`] (field `event_time`) when
/// `event_time_ms > ingest_time_ms + max_future_skew_ms`.
pub fn check_future_skew(
    event: &WebEvent,
    ingest_time_ms: Option<i64>,
    max_future_skew_ms: i64,
) -> Result<(), Rejection> {
    let Some(ingest) = ingest_time_ms else {
        return Ok(());
    };
    let ahead = event.event_time_ms.saturating_sub(ingest);
    if ahead > max_future_skew_ms {
        return Err(Rejection::for_field(
            RejectReason::EventTimeInFuture,
            "event_time",
            format!(
                "{ahead} ms ahead of its ingestion time (epoch ms {ingest}); at most {max_future_skew_ms} ms allowed"
            ),
        ));
    }
    Ok(())
}

/// Values [`parse_filling`] uses for `event_id` and `event_time` when a record lacks them
/// (absent or `null`), as the HTTP collector does for browser beacons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fill {
    /// Used when `event_id` is absent or `null`.
    pub event_id: String,
    /// Used when `event_time` is absent or `null`, UTC epoch milliseconds.
    pub event_time_ms: i64,
}

/// The record's top-level fields as raw JSON text, before any type check. Unknown fields are
/// skipped without building values (serde_json skips them iteratively: no recursion, so
/// nesting depth cannot overflow the stack).
#[derive(Deserialize)]
struct RawEvent<'a> {
    #[serde(borrow)]
    event_id: Option<&'a RawValue>,
    #[serde(borrow)]
    user_id: Option<&'a RawValue>,
    #[serde(borrow)]
    session_id: Option<&'a RawValue>,
    #[serde(borrow)]
    event_type: Option<&'a RawValue>,
    #[serde(borrow)]
    page_url: Option<&'a RawValue>,
    #[serde(borrow)]
    browser: Option<&'a RawValue>,
    #[serde(borrow)]
    os: Option<&'a RawValue>,
    #[serde(borrow)]
    country: Option<&'a RawValue>,
    #[serde(borrow)]
    event_time: Option<&'a RawValue>,
    #[serde(borrow)]
    clock_skew_ms: Option<&'a RawValue>,
}

/// Parses one Kafka record value (or one collector item) into a valid [`WebEvent`].
///
/// Accepted: a UTF-8 JSON object (surrounding whitespace allowed) of at most
/// [`MAX_EVENT_BYTES`] bytes with the event fields. `event_time` is an RFC 3339 string
/// (any offset, converted to UTC; fractions below a millisecond are truncated) or an integer
/// of epoch milliseconds. `clock_skew_ms`, when present, is an integer of milliseconds.
/// Optional fields may be absent or `null`. Unknown fields are ignored, whatever they hold.
///
/// # Errors
/// A [`Rejection`] with the first rule broken, checked in this order: [`RejectReason::Oversize`],
/// [`RejectReason::InvalidUtf8`], [`RejectReason::NotJson`], [`RejectReason::NotObject`],
/// [`RejectReason::DuplicateField`], then per field in schema order
/// [`RejectReason::MissingField`] (absent or `null`), [`RejectReason::WrongType`],
/// [`RejectReason::EmptyField`], [`RejectReason::PageUrlTooLong`],
/// [`RejectReason::InvalidCountry`], [`RejectReason::InvalidEventTime`]; a `clock_skew_ms` that is
/// not an integer is [`RejectReason::WrongType`] (judged once `event_time` is read).
pub fn parse(bytes: &[u8]) -> Result<WebEvent, Rejection> {
    parse_inner(bytes, None)
}

/// Like [`parse`], but a missing (absent or `null`) `event_id` or `event_time` takes its value
/// from `fill` instead of being rejected. Present values are never replaced, and are
/// validated as in [`parse`].
///
/// # Errors
/// As [`parse`], except that `event_id` and `event_time` are never [`RejectReason::MissingField`].
pub fn parse_filling(bytes: &[u8], fill: &Fill) -> Result<WebEvent, Rejection> {
    parse_inner(bytes, Some(fill))
}

fn parse_inner(bytes: &[u8], fill: Option<&Fill>) -> Result<WebEvent, Rejection> {
    if bytes.len() > MAX_EVENT_BYTES {
        return Err(Rejection::new(
            RejectReason::Oversize,
            format!("{} bytes, more than {MAX_EVENT_BYTES}", bytes.len()),
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Rejection::new(
            RejectReason::InvalidUtf8,
            format!("invalid UTF-8 at byte {}", e.valid_up_to()),
        )
    })?;
    // A derived struct visitor would also take a JSON array as positional fields: only an
    // object is an event. Anything else that is valid JSON is `not_object`.
    let trimmed = text.trim_start_matches([' ', '\t', '\n', '\r']);
    if !trimmed.starts_with('{') {
        return Err(match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Ok(_) => Rejection::new(RejectReason::NotObject, "the JSON value is not an object"),
            Err(e) => Rejection::new(RejectReason::NotJson, e.to_string()),
        });
    }
    let raw: RawEvent<'_> = serde_json::from_str(text).map_err(|e| {
        if e.is_data() {
            // The only data errors an object of raw values can raise.
            Rejection::new(RejectReason::DuplicateField, e.to_string())
        } else {
            Rejection::new(RejectReason::NotJson, e.to_string())
        }
    })?;

    let event_id = match (present(raw.event_id), fill) {
        (None, Some(fill)) => fill.event_id.clone(),
        (value, _) => required_string("event_id", value)?,
    };
    let user_id = required_string("user_id", present(raw.user_id))?;
    let session_id = required_string("session_id", present(raw.session_id))?;
    let event_type = required_string("event_type", present(raw.event_type))?;
    let page_url = required_string("page_url", present(raw.page_url))?;
    let browser = optional_string("browser", present(raw.browser))?;
    let os = optional_string("os", present(raw.os))?;
    let country = optional_string("country", present(raw.country))?;
    let event_time_ms = match (present(raw.event_time), fill) {
        (None, Some(fill)) => fill.event_time_ms,
        (None, None) => return Err(missing("event_time")),
        (Some(value), _) => event_time_value(value)?,
    };
    let clock_skew_ms = present(raw.clock_skew_ms)
        .map(clock_skew_value)
        .transpose()?;
    let event = WebEvent {
        event_id,
        user_id,
        session_id,
        event_type,
        page_url,
        browser,
        os,
        country,
        event_time_ms,
        clock_skew_ms,
    };
    event.validate()?;
    Ok(event)
}

/// `None` for an absent field and for JSON `null`.
fn present(value: Option<&RawValue>) -> Option<&RawValue> {
    value.filter(|v| v.get() != "null")
}

fn missing(field: &'static str) -> Rejection {
    Rejection::for_field(RejectReason::MissingField, field, "absent or null")
}

fn required_string(field: &'static str, value: Option<&RawValue>) -> Result<String, Rejection> {
    match value {
        None => Err(missing(field)),
        Some(value) => string_value(field, value),
    }
}

fn optional_string(
    field: &'static str,
    value: Option<&RawValue>,
) -> Result<Option<String>, Rejection> {
    value.map(|v| string_value(field, v)).transpose()
}

fn string_value(field: &'static str, value: &RawValue) -> Result<String, Rejection> {
    // A string without escapes is its text between the quotes: `RawValue` has checked its
    // syntax already (closing quote, no control characters), so no second parse is needed.
    if let Some(inner) = value
        .get()
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
    {
        if !inner.contains('\\') {
            return Ok(inner.to_owned());
        }
    }
    match serde_json::from_str::<Cow<'_, str>>(value.get()) {
        Ok(s) => Ok(s.into_owned()),
        Err(e) if e.is_data() => Err(Rejection::for_field(
            RejectReason::WrongType,
            field,
            format!("expected a string, got {}", json_kind(value)),
        )),
        // A string whose escapes do not decode (a lone surrogate such as "\ud800").
        Err(e) => Err(Rejection::for_field(
            RejectReason::NotJson,
            field,
            e.to_string(),
        )),
    }
}

fn event_time_value(value: &RawValue) -> Result<i64, Rejection> {
    let text = value.get();
    if text.starts_with('"') {
        let s = string_value("event_time", value)?;
        parse_event_time(&s)
    } else if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        let ms = serde_json::from_str::<i64>(text).map_err(|_| {
            Rejection::for_field(
                RejectReason::InvalidEventTime,
                "event_time",
                format!(
                    "{} is not an integer number of epoch milliseconds",
                    text.chars().take(40).collect::<String>()
                ),
            )
        })?;
        time::check_range(ms)
    } else {
        Err(Rejection::for_field(
            RejectReason::WrongType,
            "event_time",
            format!(
                "expected an RFC 3339 string or epoch milliseconds, got {}",
                json_kind(value)
            ),
        ))
    }
}

fn clock_skew_value(value: &RawValue) -> Result<i64, Rejection> {
    serde_json::from_str::<i64>(value.get()).map_err(|_| {
        Rejection::for_field(
            RejectReason::WrongType,
            "clock_skew_ms",
            format!(
                "expected an integer of milliseconds, got {} {}",
                json_kind(value),
                value.get().chars().take(40).collect::<String>()
            ),
        )
    })
}

fn json_kind(value: &RawValue) -> &'static str {
    match value.get().as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

impl WebEvent {
    /// Checks the event rules (`events/README.md`) that the types do not: required strings non-empty,
    /// `page_url` at most [`MAX_PAGE_URL_BYTES`], `country` two ASCII uppercase letters,
    /// `event_time_ms` within [`MIN_EVENT_TIME_MS`]`..=`[`MAX_EVENT_TIME_MS`].
    ///
    /// # Errors
    /// The first rule broken, in field order: [`RejectReason::EmptyField`],
    /// [`RejectReason::PageUrlTooLong`], [`RejectReason::InvalidCountry`],
    /// [`RejectReason::InvalidEventTime`].
    pub fn validate(&self) -> Result<(), Rejection> {
        for (field, value) in [
            ("event_id", &self.event_id),
            ("user_id", &self.user_id),
            ("session_id", &self.session_id),
            ("event_type", &self.event_type),
            ("page_url", &self.page_url),
        ] {
            if value.is_empty() {
                return Err(Rejection::for_field(
                    RejectReason::EmptyField,
                    field,
                    "empty string",
                ));
            }
        }
        if self.page_url.len() > MAX_PAGE_URL_BYTES {
            return Err(Rejection::for_field(
                RejectReason::PageUrlTooLong,
                "page_url",
                format!(
                    "{} bytes, more than {MAX_PAGE_URL_BYTES}",
                    self.page_url.len()
                ),
            ));
        }
        if let Some(country) = &self.country {
            if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(Rejection::for_field(
                    RejectReason::InvalidCountry,
                    "country",
                    format!(
                        "{:?} is not an ISO 3166-1 alpha-2 code",
                        country.chars().take(16).collect::<String>()
                    ),
                ));
            }
        }
        time::check_range(self.event_time_ms)?;
        Ok(())
    }

    /// The wire form: one JSON object, fields in schema order, optional fields as `null`
    /// when unknown, `event_time` as RFC 3339 UTC with milliseconds
    /// (`"2026-11-30T04:08:19.123Z"`), then `clock_skew_ms` only when it is `Some`. [`parse`]
    /// of the result gives back `self`.
    ///
    /// # Errors
    /// Only when `event_time_ms` is outside [`MIN_EVENT_TIME_MS`]`..=`[`MAX_EVENT_TIME_MS`]
    /// (never for a [`WebEvent`] that passes [`WebEvent::validate`]).
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}

#[cfg(test)]
mod tests;
