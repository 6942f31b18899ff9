//! Clock-skew correction at the collector (what Snowplow calls the *derived timestamp*).
//!
//! A browser stamps `event_time` with its own clock, which may be minutes or days wrong. The
//! beacon script also sends `sent_at`, the browser's clock at the moment the beacon leaves. The
//! collector knows when the request arrived by its own clock (`received_at`, one value per
//! request). If the browser's clock is off by `d`, both `event_time` and `sent_at` are off by
//! the same `d`, so
//!
//! ```text
//! clock_skew_ms = received_at − sent_at
//! event_time    = event_time (as sent) + clock_skew_ms
//! ```
//!
//! puts the event on the collector's clock. The correction is made only when the item carries
//! both `event_time` and `sent_at`; without `sent_at` nothing changes (and `clock_skew_ms` is
//! absent). The network's one-way transit time is counted as skew too: a corrected time is
//! later than the true one by that transit time (typically milliseconds), the same trade
//! Snowplow makes. `sent_at` is kept on the published record as it was sent.

use events::{RejectReason, Rejection, WebEvent, MAX_EVENT_TIME_MS, MIN_EVENT_TIME_MS};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The clock fields of one collector item, as raw JSON (read after [`events::parse_filling`]
/// accepted the item, so it is a JSON object).
#[derive(Deserialize)]
struct ClockFields<'a> {
    #[serde(borrow)]
    event_time: Option<&'a RawValue>,
    #[serde(borrow)]
    sent_at: Option<&'a RawValue>,
}

/// An item's `sent_at`: the raw JSON value (published as sent) and its UTC epoch ms.
#[derive(Debug, Clone, Copy)]
pub struct SentAt<'a> {
    /// The value exactly as the item holds it (`1796011699123` or `"2026-11-30T04:08:19.123Z"`).
    pub raw: &'a RawValue,
    /// The same instant, UTC epoch milliseconds, by the browser's clock.
    pub ms: i64,
}

/// Applies the correction to `event`, parsed from `item`, received at `received_at_ms` (UTC
/// epoch ms, the collector's clock): when `item` has both a non-null `event_time` and a
/// non-null `sent_at`, adds `received_at_ms − sent_at` to `event.event_time_ms` and records it
/// in `event.clock_skew_ms`; otherwise sets `event.clock_skew_ms` to `None` (the collector
/// alone decides it; a value sent by a client is dropped). Returns the item's `sent_at`, if
/// any, to be published as sent.
///
/// # Errors
/// Field `sent_at`: [`RejectReason::DuplicateField`] when it appears twice,
/// [`RejectReason::WrongType`] when it is neither a string nor a number,
/// [`RejectReason::InvalidEventTime`] when it is not RFC 3339 nor an integer of epoch ms, or
/// lies outside the accepted event times. Field `event_time`: [`RejectReason::InvalidEventTime`]
/// when the corrected time falls outside them.
pub fn correct<'a>(
    item: &'a [u8],
    event: &mut WebEvent,
    received_at_ms: i64,
) -> Result<Option<SentAt<'a>>, Rejection> {
    event.clock_skew_ms = None;
    let fields: ClockFields<'a> = serde_json::from_slice(item).map_err(|e| Rejection {
        reason: RejectReason::DuplicateField,
        field: Some("sent_at"),
        detail: e.to_string(),
    })?;
    let present = |v: Option<&'a RawValue>| v.filter(|v| v.get() != "null");
    let Some(raw) = present(fields.sent_at) else {
        return Ok(None);
    };
    let sent_at = SentAt {
        raw,
        ms: sent_at_ms(raw)?,
    };
    if present(fields.event_time).is_some() {
        let (event_time_ms, skew_ms) =
            corrected_event_time(event.event_time_ms, sent_at.ms, received_at_ms)?;
        event.event_time_ms = event_time_ms;
        event.clock_skew_ms = Some(skew_ms);
    }
    Ok(Some(sent_at))
}

/// `(event_time + clock_skew, clock_skew)` with `clock_skew = received_at − sent_at`, all UTC
/// epoch ms.
///
/// # Errors
/// [`RejectReason::InvalidEventTime`] (field `event_time`) when the corrected time lies outside
/// [`MIN_EVENT_TIME_MS`]`..=`[`MAX_EVENT_TIME_MS`].
pub fn corrected_event_time(
    event_time_ms: i64,
    sent_at_ms: i64,
    received_at_ms: i64,
) -> Result<(i64, i64), Rejection> {
    let skew_ms = received_at_ms.saturating_sub(sent_at_ms);
    let corrected = event_time_ms.saturating_add(skew_ms);
    if (MIN_EVENT_TIME_MS..=MAX_EVENT_TIME_MS).contains(&corrected) {
        Ok((corrected, skew_ms))
    } else {
        Err(Rejection {
            reason: RejectReason::InvalidEventTime,
            field: Some("event_time"),
            detail: format!(
                "corrected by the clock skew of {skew_ms} ms (received_at − sent_at), \
                 it is {corrected} ms, outside {MIN_EVENT_TIME_MS}..={MAX_EVENT_TIME_MS}"
            ),
        })
    }
}

/// `sent_at` in UTC epoch ms: an RFC 3339 string ([`events::parse_event_time`]) or an integer
/// of epoch ms, within the accepted event times.
fn sent_at_ms(raw: &RawValue) -> Result<i64, Rejection> {
    let text = raw.get();
    let shown = || text.chars().take(40).collect::<String>();
    let invalid = |detail: String| Rejection {
        reason: RejectReason::InvalidEventTime,
        field: Some("sent_at"),
        detail,
    };
    if text.starts_with('"') {
        let s: String = serde_json::from_str(text)
            .map_err(|e| invalid(format!("{} does not decode: {e}", shown())))?;
        // The same rules as `event_time`, reported for `sent_at`.
        events::parse_event_time(&s).map_err(|r| invalid(r.detail))
    } else if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        let ms = serde_json::from_str::<i64>(text).map_err(|_| {
            invalid(format!(
                "{} is not an integer number of epoch milliseconds",
                shown()
            ))
        })?;
        if (MIN_EVENT_TIME_MS..=MAX_EVENT_TIME_MS).contains(&ms) {
            Ok(ms)
        } else {
            Err(invalid(format!(
                "{ms} ms is outside {MIN_EVENT_TIME_MS}..={MAX_EVENT_TIME_MS}"
            )))
        }
    } else {
        Err(Rejection {
            reason: RejectReason::WrongType,
            field: Some("sent_at"),
            detail: format!(
                "expected an RFC 3339 string or epoch milliseconds, got {}",
                shown()
            ),
        })
    }
}

/// The record value the collector publishes: the event's wire form ([`WebEvent::to_json`]),
/// followed by `sent_at` exactly as the item sent it, when it had one. [`events::parse`]
/// ignores `sent_at`, so it reads back the same event.
///
/// # Errors
/// As [`WebEvent::to_json`] (never for a validated event).
pub fn wire_form(event: &WebEvent, sent_at: Option<SentAt<'_>>) -> serde_json::Result<String> {
    #[derive(Serialize)]
    struct Published<'a> {
        #[serde(flatten)]
        event: &'a WebEvent,
        #[serde(skip_serializing_if = "Option::is_none")]
        sent_at: Option<&'a RawValue>,
    }
    match sent_at {
        None => event.to_json(),
        Some(sent_at) => serde_json::to_string(&Published {
            event,
            sent_at: Some(sent_at.raw),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;
    /// 2026-11-30T04:08:19.123Z.
    const T: i64 = 1_796_011_699_123;

    fn item(extra: &str) -> String {
        format!(
            r#"{{"event_id":"e","user_id":"u","session_id":"s","event_type":"click","page_url":"/"{extra}}}"#
        )
    }

    /// Parses `item` as the collector does (filling a missing time with `received`) and
    /// corrects it.
    fn collect(item: &str, received: i64) -> Result<(WebEvent, Option<i64>), Rejection> {
        let fill = events::Fill {
            event_id: "filled".into(),
            event_time_ms: received,
        };
        let mut event = events::parse_filling(item.as_bytes(), &fill)?;
        let sent_at = correct(item.as_bytes(), &mut event, received)?;
        Ok((event, sent_at.map(|s| s.ms)))
    }

    #[test]
    fn arithmetic_moves_the_event_onto_the_collector_clock() {
        // A browser 3 days ahead: sent at T + 3 d + 500 ms by its clock, received at T + 520 ms.
        let (time, skew) = corrected_event_time(T + 3 * DAY, T + 3 * DAY + 500, T + 520).unwrap();
        assert_eq!(skew, -3 * DAY + 20);
        assert_eq!(time, T + 20);
        // A browser 10 minutes behind.
        assert_eq!(
            corrected_event_time(T - 600_000, T - 599_000, T + 1_000).unwrap(),
            (T, 600_000)
        );
        // A right clock: only the transit time (here 30 ms) is added.
        assert_eq!(
            corrected_event_time(T, T + 70, T + 100).unwrap(),
            (T + 30, 30)
        );
        // A correction that leaves the accepted range is refused, not clamped.
        let low = corrected_event_time(1_000, T, T - 5_000).unwrap_err();
        assert_eq!(
            (low.reason, low.field),
            (RejectReason::InvalidEventTime, Some("event_time"))
        );
        assert!(corrected_event_time(MAX_EVENT_TIME_MS, 0, MAX_EVENT_TIME_MS).is_err());
        assert!(corrected_event_time(0, MAX_EVENT_TIME_MS, i64::MIN).is_err());
    }

    #[test]
    fn items_with_event_time_and_sent_at_are_corrected_in_either_form() {
        let received = T + 3 * DAY;
        for sent_at in [
            format!("{}", T + 1_000),
            r#""2026-11-30T04:08:20.123Z""#.to_owned(),
            r#""2026-11-30T05:08:20.123+01:00""#.to_owned(),
        ] {
            let it = item(&format!(
                r#","event_time":"2026-11-30T04:08:19.123Z","sent_at":{sent_at}"#
            ));
            let (event, sent) = collect(&it, received).unwrap();
            assert_eq!(sent, Some(T + 1_000), "{sent_at}");
            assert_eq!(event.clock_skew_ms, Some(3 * DAY - 1_000), "{sent_at}");
            assert_eq!(event.event_time_ms, T + 3 * DAY - 1_000, "{sent_at}");
        }
    }

    #[test]
    fn nothing_is_corrected_without_sent_at_or_without_event_time() {
        let received = T + DAY;
        let no_sent_at = item(r#","event_time":1796011699123"#);
        assert_eq!(collect(&no_sent_at, received).unwrap().0.event_time_ms, T);
        let null_sent_at = item(r#","event_time":1796011699123,"sent_at":null"#);
        let (event, sent) = collect(&null_sent_at, received).unwrap();
        assert_eq!(
            (event.event_time_ms, event.clock_skew_ms, sent),
            (T, None, None)
        );
        // A filled event_time is already on the collector's clock.
        let no_time = item(r#","sent_at":1796011699123"#);
        let (event, sent) = collect(&no_time, received).unwrap();
        assert_eq!((event.event_time_ms, event.clock_skew_ms), (received, None));
        assert_eq!(sent, Some(T));
        // A clock_skew_ms sent by the client is not kept: only the collector sets it.
        let forged = item(r#","event_time":1796011699123,"clock_skew_ms":5"#);
        assert_eq!(collect(&forged, received).unwrap().0.clock_skew_ms, None);
    }

    #[test]
    fn malformed_sent_at_is_rejected_naming_the_field() {
        let cases = [
            (r#""yesterday""#, RejectReason::InvalidEventTime),
            (r#""2026-11-30T04:08:19""#, RejectReason::InvalidEventTime),
            ("1.5", RejectReason::InvalidEventTime),
            ("-1", RejectReason::InvalidEventTime),
            ("99999999999999", RejectReason::InvalidEventTime),
            ("true", RejectReason::WrongType),
            ("{}", RejectReason::WrongType),
            ("[1]", RejectReason::WrongType),
        ];
        for (sent_at, reason) in cases {
            let it = item(&format!(
                r#","event_time":1796011699123,"sent_at":{sent_at}"#
            ));
            let rejection = collect(&it, T).unwrap_err();
            assert_eq!(
                (rejection.reason, rejection.field),
                (reason, Some("sent_at")),
                "{sent_at}"
            );
        }
        let twice = item(r#","sent_at":1,"sent_at":2"#);
        assert_eq!(
            collect(&twice, T).unwrap_err().reason,
            RejectReason::DuplicateField
        );
    }

    #[test]
    fn the_published_value_keeps_sent_at_as_sent_and_reads_back_as_the_event() {
        let it = item(
            r#","event_time":"2026-11-30T04:08:19.123Z","sent_at":"2026-11-30T05:08:20.123+01:00""#,
        );
        let mut event = events::parse(it.as_bytes()).unwrap();
        let sent_at = correct(it.as_bytes(), &mut event, T + 2_000).unwrap();
        let json = wire_form(&event, sent_at).unwrap();
        assert!(
            json.ends_with(
                r#""event_time":"2026-11-30T04:08:20.123Z","clock_skew_ms":1000,"sent_at":"2026-11-30T05:08:20.123+01:00"}"#
            ),
            "{json}"
        );
        assert_eq!(events::parse(json.as_bytes()).unwrap(), event);
        // Without sent_at: exactly the event's wire form.
        let plain = events::parse(item(r#","event_time":1"#).as_bytes()).unwrap();
        assert_eq!(wire_form(&plain, None).unwrap(), plain.to_json().unwrap());
    }
}
