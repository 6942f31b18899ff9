//! `event_time`: RFC 3339 or epoch milliseconds in, UTC epoch milliseconds inside, RFC 3339
//! UTC with milliseconds out.

use chrono::{DateTime, SecondsFormat};

use crate::{RejectReason, Rejection};

/// Earliest accepted event time, UTC epoch ms: `1970-01-01T00:00:00.000Z`. Web events older
/// than the Unix epoch are broken clocks or bad data, never traffic.
pub const MIN_EVENT_TIME_MS: i64 = 0;

/// Latest accepted event time, UTC epoch ms: `2099-12-31T23:59:59.999Z`. A far-future event
/// time is bad data, and an accepted one would carry its partition's watermark (max event time
/// − lateness) decades ahead, making every later event late.
pub const MAX_EVENT_TIME_MS: i64 = 4_102_444_799_999;

/// Parses an RFC 3339 timestamp (`2026-11-30T04:08:19.123Z`, `2026-11-30T05:08:19+01:00`;
/// `T` or a space between date and time; an offset is required) into UTC epoch milliseconds.
/// Digits below the millisecond are truncated toward the past.
///
/// # Errors
/// [`RejectReason::InvalidEventTime`] when `s` is not RFC 3339 or lies outside
/// [`MIN_EVENT_TIME_MS`]`..=`[`MAX_EVENT_TIME_MS`].
pub fn parse_event_time(s: &str) -> Result<i64, Rejection> {
    let time = DateTime::parse_from_rfc3339(s).map_err(|e| {
        Rejection::for_field(
            RejectReason::InvalidEventTime,
            "event_time",
            format!(
                "{:?} is not RFC 3339: {e}",
                s.chars().take(40).collect::<String>()
            ),
        )
    })?;
    check_range(time.timestamp_millis())
}

/// Formats UTC epoch milliseconds as RFC 3339 UTC with milliseconds:
/// `1796011699123` → `"2026-11-30T04:08:19.123Z"`. `None` outside
/// [`MIN_EVENT_TIME_MS`]`..=`[`MAX_EVENT_TIME_MS`].
pub fn format_event_time(event_time_ms: i64) -> Option<String> {
    if !(MIN_EVENT_TIME_MS..=MAX_EVENT_TIME_MS).contains(&event_time_ms) {
        return None;
    }
    DateTime::from_timestamp_millis(event_time_ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

pub(crate) fn check_range(event_time_ms: i64) -> Result<i64, Rejection> {
    if (MIN_EVENT_TIME_MS..=MAX_EVENT_TIME_MS).contains(&event_time_ms) {
        Ok(event_time_ms)
    } else {
        Err(Rejection::for_field(
            RejectReason::InvalidEventTime,
            "event_time",
            format!(
                "{event_time_ms} ms is outside 1970-01-01T00:00:00Z..=2099-12-31T23:59:59.999Z \
                 ({MIN_EVENT_TIME_MS}..={MAX_EVENT_TIME_MS} ms)"
            ),
        ))
    }
}

pub(crate) fn serialize_event_time<S: serde::Serializer>(
    event_time_ms: &i64,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match format_event_time(*event_time_ms) {
        Some(s) => serializer.serialize_str(&s),
        None => Err(serde::ser::Error::custom(format!(
            "event_time {event_time_ms} ms is outside years 0001..=9999"
        ))),
    }
}
