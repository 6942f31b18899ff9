//! Unit tests: valid events round-trip; every kind of malformed input gets its reason.

use super::*;

const VALID: &str = r#"{"event_id":"e-1","user_id":"u-1","session_id":"s-1","event_type":"page_view","page_url":"/home","browser":"Firefox","os":"Linux","country":"DE","event_time":"2026-11-30T04:08:19.123Z"}"#;

/// `VALID` with `field` replaced by the raw JSON `value` (or removed when `value` is `None`).
fn with(field: &str, value: Option<&str>) -> String {
    let mut map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(VALID).unwrap();
    map.remove(field);
    let mut text = serde_json::to_string(&map).unwrap();
    if let Some(value) = value {
        text.pop();
        text.push_str(&format!(r#","{field}":{value}}}"#));
    }
    text
}

fn reason(bytes: &[u8]) -> RejectReason {
    match parse(bytes) {
        Ok(event) => panic!("accepted {event:?}"),
        Err(rejection) => rejection.reason,
    }
}

#[test]
fn parses_a_valid_event() {
    let event = parse(VALID.as_bytes()).unwrap();
    assert_eq!(
        event,
        WebEvent {
            event_id: "e-1".into(),
            user_id: "u-1".into(),
            session_id: "s-1".into(),
            event_type: "page_view".into(),
            page_url: "/home".into(),
            browser: Some("Firefox".into()),
            os: Some("Linux".into()),
            country: Some("DE".into()),
            event_time_ms: 1_796_011_699_123,
            clock_skew_ms: None,
        }
    );
}

#[test]
fn wire_form_is_rfc3339_utc_millis_and_round_trips() {
    let event = parse(VALID.as_bytes()).unwrap();
    let json = event.to_json().unwrap();
    assert_eq!(json, VALID);
    assert_eq!(parse(json.as_bytes()).unwrap(), event);

    let none = WebEvent {
        browser: None,
        os: None,
        country: None,
        event_time_ms: 0,
        ..event
    };
    let json = none.to_json().unwrap();
    assert!(json.contains(r#""browser":null,"os":null,"country":null"#));
    assert!(json.ends_with(r#""event_time":"1970-01-01T00:00:00.000Z"}"#));
    assert_eq!(parse(json.as_bytes()).unwrap(), none);
}

#[test]
fn serialising_an_out_of_range_time_is_an_error_not_a_panic() {
    let mut event = parse(VALID.as_bytes()).unwrap();
    event.event_time_ms = i64::MAX;
    assert!(event.to_json().is_err());
    assert_eq!(
        event.validate().unwrap_err().reason,
        RejectReason::InvalidEventTime
    );
}

#[test]
fn event_time_forms_accepted() {
    let cases: &[(&str, i64)] = &[
        (r#""2026-11-30T04:08:19.123Z""#, 1_796_011_699_123),
        (r#""2026-11-30T04:08:19Z""#, 1_796_011_699_000),
        (r#""2026-11-30t04:08:19z""#, 1_796_011_699_000),
        (r#""2026-11-30 04:08:19Z""#, 1_796_011_699_000),
        (r#""2026-11-30T05:08:19.123+01:00""#, 1_796_011_699_123),
        (r#""2026-11-29T23:08:19.123-05:00""#, 1_796_011_699_123),
        // Sub-millisecond digits are truncated.
        (r#""2026-11-30T04:08:19.123999999Z""#, 1_796_011_699_123),
        (r#""1970-01-01T00:00:00Z""#, 0),
        (r#""2099-12-31T23:59:59.999Z""#, MAX_EVENT_TIME_MS),
        ("1796011699123", 1_796_011_699_123),
        ("0", MIN_EVENT_TIME_MS),
        (" 1796011699123 ", 1_796_011_699_123),
        ("4102444799999", MAX_EVENT_TIME_MS),
    ];
    for (value, expected) in cases {
        let text = with("event_time", Some(value));
        let event = parse(text.as_bytes()).unwrap_or_else(|e| panic!("{value} rejected: {e}"));
        assert_eq!(event.event_time_ms, *expected, "{value}");
    }
}

#[test]
fn unknown_fields_and_nulls_in_optional_fields_are_accepted() {
    let text = with("browser", Some("null"));
    assert_eq!(parse(text.as_bytes()).unwrap().browser, None);
    let text = with("country", None);
    assert_eq!(parse(text.as_bytes()).unwrap().country, None);
    // Unknown fields are ignored whatever they hold, even nested 30 000 deep, far beyond
    // serde_json's recursion limit of 128 (they are skipped, not built).
    let deep = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
    let text = with("extra", Some(&deep));
    assert!(parse(text.as_bytes()).is_ok());
    let text = with("referrer", Some(r#"{"a":[1,2,{"b":null}]}"#));
    assert!(parse(text.as_bytes()).is_ok());
    // Unknown event types are kept as they are.
    let text = with("event_type", Some(r#""video_play""#));
    assert_eq!(parse(text.as_bytes()).unwrap().event_type, "video_play");
}

#[test]
fn malformed_inputs_are_rejected_with_their_reason() {
    use RejectReason::*;
    let ten_mb_string = format!(r#""{}""#, "x".repeat(10 * 1024 * 1024));
    let url_2049 = format!(r#""/{}""#, "a".repeat(2048));
    let deep_array = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
    let deep_unclosed = "[".repeat(60_000);
    let deep_object = format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
    let mut invalid_utf8 = VALID.as_bytes().to_vec();
    invalid_utf8[60] = 0xff;

    let cases: Vec<(&str, Vec<u8>, RejectReason)> = vec![
        // Not JSON at all.
        ("empty", b"".to_vec(), NotJson),
        ("whitespace", b"  \n ".to_vec(), NotJson),
        ("text", b"hello".to_vec(), NotJson),
        ("truncated object", VALID.as_bytes()[..50].to_vec(), NotJson),
        (
            "trailing garbage",
            format!("{VALID}x").into_bytes(),
            NotJson,
        ),
        (
            "two objects",
            format!("{VALID}{VALID}").into_bytes(),
            NotJson,
        ),
        ("single quotes", b"{'event_id':'e'}".to_vec(), NotJson),
        ("NaN", with("event_time", Some("NaN")).into_bytes(), NotJson),
        (
            "lone surrogate",
            with("user_id", Some(r#""\ud800""#)).into_bytes(),
            NotJson,
        ),
        (
            "raw control character in a string",
            with("page_url", Some("\"/a\u{1}b\"")).into_bytes(),
            NotJson,
        ),
        ("deep unclosed", deep_unclosed.into_bytes(), NotJson),
        // Invalid UTF-8.
        ("invalid utf-8", invalid_utf8, InvalidUtf8),
        (
            "latin-1",
            b"{\"user_id\":\"M\xfcller\"}".to_vec(),
            InvalidUtf8,
        ),
        ("bare 0xff", vec![0xff, 0xfe], InvalidUtf8),
        // Valid JSON, not an object.
        (
            "array of garbage",
            br#"[1,"x",null,{"a":[]}]"#.to_vec(),
            NotObject,
        ),
        (
            "array of events",
            format!("[{VALID}]").into_bytes(),
            NotObject,
        ),
        ("string", br#""page_view""#.to_vec(), NotObject),
        ("number", b"42".to_vec(), NotObject),
        ("null", b"null".to_vec(), NotObject),
        ("deeply nested array", deep_array.into_bytes(), NotObject),
        (
            "deep and huge",
            format!("{}{}", "[".repeat(1 << 20), "]".repeat(1 << 20)).into_bytes(),
            Oversize,
        ),
        // Oversize.
        ("10 MB string", ten_mb_string.into_bytes(), Oversize),
        (
            "10 MB field",
            with("user_id", Some(&format!(r#""{}""#, "u".repeat(10 << 20)))).into_bytes(),
            Oversize,
        ),
        // Duplicate field.
        (
            "duplicate",
            with("user_id", Some(r#""u-2""#))
                .replace(r#""user_id":"u-2""#, r#""user_id":"u-2","user_id":"u-3""#)
                .into_bytes(),
            DuplicateField,
        ),
        // Missing required fields.
        ("empty object", b"{}".to_vec(), MissingField),
        (
            "no event_id",
            with("event_id", None).into_bytes(),
            MissingField,
        ),
        (
            "no user_id",
            with("user_id", None).into_bytes(),
            MissingField,
        ),
        (
            "null session_id",
            with("session_id", Some("null")).into_bytes(),
            MissingField,
        ),
        (
            "no event_type",
            with("event_type", None).into_bytes(),
            MissingField,
        ),
        (
            "no page_url",
            with("page_url", None).into_bytes(),
            MissingField,
        ),
        (
            "no event_time",
            with("event_time", None).into_bytes(),
            MissingField,
        ),
        // Wrong types.
        (
            "number user_id",
            with("user_id", Some("42")).into_bytes(),
            WrongType,
        ),
        (
            "bool event_type",
            with("event_type", Some("true")).into_bytes(),
            WrongType,
        ),
        (
            "array page_url",
            with("page_url", Some(r#"["/a"]"#)).into_bytes(),
            WrongType,
        ),
        (
            "object browser",
            with("browser", Some(r#"{"name":"x"}"#)).into_bytes(),
            WrongType,
        ),
        (
            "number country",
            with("country", Some("49")).into_bytes(),
            WrongType,
        ),
        (
            "bool event_time",
            with("event_time", Some("false")).into_bytes(),
            WrongType,
        ),
        (
            "object event_time",
            with("event_time", Some(r#"{"ms":1}"#)).into_bytes(),
            WrongType,
        ),
        (
            "deeply nested event_id",
            with(
                "event_id",
                Some(&format!("{}{}", "[".repeat(10_000), "]".repeat(10_000))),
            )
            .into_bytes(),
            WrongType,
        ),
        (
            "deeply nested object",
            deep_object.into_bytes(),
            MissingField,
        ),
        // Empty strings.
        (
            "empty event_id",
            with("event_id", Some(r#""""#)).into_bytes(),
            EmptyField,
        ),
        (
            "empty user_id",
            with("user_id", Some(r#""""#)).into_bytes(),
            EmptyField,
        ),
        (
            "empty page_url",
            with("page_url", Some(r#""""#)).into_bytes(),
            EmptyField,
        ),
        // Limits and codes.
        (
            "page_url 2049 bytes",
            with("page_url", Some(&url_2049)).into_bytes(),
            PageUrlTooLong,
        ),
        (
            "country lowercase",
            with("country", Some(r#""de""#)).into_bytes(),
            InvalidCountry,
        ),
        (
            "country alpha-3",
            with("country", Some(r#""DEU""#)).into_bytes(),
            InvalidCountry,
        ),
        (
            "country empty",
            with("country", Some(r#""""#)).into_bytes(),
            InvalidCountry,
        ),
        // Numbers out of range and odd event_time formats.
        (
            "ms above i64",
            with("event_time", Some("9223372036854775808")).into_bytes(),
            InvalidEventTime,
        ),
        (
            "ms below i64",
            with("event_time", Some("-9223372036854775809")).into_bytes(),
            InvalidEventTime,
        ),
        (
            "ms 1e400",
            with("event_time", Some("1e400")).into_bytes(),
            InvalidEventTime,
        ),
        (
            "ms year 10000",
            with("event_time", Some("253402300800000")).into_bytes(),
            InvalidEventTime,
        ),
        (
            "ms year 2100",
            with("event_time", Some("4102444800000")).into_bytes(),
            InvalidEventTime,
        ),
        (
            "ms before 1970",
            with("event_time", Some("-1")).into_bytes(),
            InvalidEventTime,
        ),
        (
            "rfc 3339 before 1970",
            with("event_time", Some(r#""1969-12-31T23:59:59.999Z""#)).into_bytes(),
            InvalidEventTime,
        ),
        (
            "rfc 3339 year 9999",
            with("event_time", Some(r#""9999-12-31T23:59:59Z""#)).into_bytes(),
            InvalidEventTime,
        ),
        (
            "ms i64 max",
            with("event_time", Some("9223372036854775807")).into_bytes(),
            InvalidEventTime,
        ),
        (
            "ms fractional",
            with("event_time", Some("1796011699123.5")).into_bytes(),
            InvalidEventTime,
        ),
        (
            "ms exponent",
            with("event_time", Some("1.764475699123e12")).into_bytes(),
            InvalidEventTime,
        ),
        (
            "ms as string",
            with("event_time", Some(r#""1796011699123""#)).into_bytes(),
            InvalidEventTime,
        ),
        (
            "no offset",
            with("event_time", Some(r#""2026-11-30T04:08:19""#)).into_bytes(),
            InvalidEventTime,
        ),
        (
            "date only",
            with("event_time", Some(r#""2026-11-30""#)).into_bytes(),
            InvalidEventTime,
        ),
        (
            "RFC 2822",
            with("event_time", Some(r#""Mon, 30 Nov 2026 04:08:19 +0000""#)).into_bytes(),
            InvalidEventTime,
        ),
        (
            "US date",
            with("event_time", Some(r#""11/30/2026 04:08:19""#)).into_bytes(),
            InvalidEventTime,
        ),
        (
            "month 13",
            with("event_time", Some(r#""2026-13-30T04:08:19Z""#)).into_bytes(),
            InvalidEventTime,
        ),
        (
            "Feb 30",
            with("event_time", Some(r#""2026-02-30T04:08:19Z""#)).into_bytes(),
            InvalidEventTime,
        ),
        (
            "hour 25",
            with("event_time", Some(r#""2026-11-30T25:08:19Z""#)).into_bytes(),
            InvalidEventTime,
        ),
        (
            "offset +25:00",
            with("event_time", Some(r#""2026-11-30T04:08:19+25:00""#)).into_bytes(),
            InvalidEventTime,
        ),
        (
            "year 0",
            with("event_time", Some(r#""0000-01-01T00:00:00Z""#)).into_bytes(),
            InvalidEventTime,
        ),
        (
            "five-digit year",
            with("event_time", Some(r#""12026-11-30T04:08:19Z""#)).into_bytes(),
            InvalidEventTime,
        ),
        (
            "empty time",
            with("event_time", Some(r#""""#)).into_bytes(),
            InvalidEventTime,
        ),
        (
            "word",
            with("event_time", Some(r#""yesterday""#)).into_bytes(),
            InvalidEventTime,
        ),
    ];
    for (name, bytes, expected) in &cases {
        let rejection = parse(bytes).expect_err(name);
        assert_eq!(rejection.reason, *expected, "{name}: {rejection}");
        assert!(
            rejection.detail.chars().count() <= 201,
            "{name}: detail too long"
        );
    }
}

#[test]
fn rejection_names_the_field() {
    let rejection = parse(with("user_id", Some("42")).as_bytes()).unwrap_err();
    assert_eq!(rejection.field, Some("user_id"));
    assert_eq!(
        rejection.to_string(),
        "wrong_type (user_id): expected a string, got a number"
    );
    assert_eq!(reason(b"[]"), RejectReason::NotObject);
}

#[test]
fn reason_names_are_stable_snake_case() {
    let names: Vec<&str> = RejectReason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        names,
        [
            "oversize",
            "invalid_utf8",
            "not_json",
            "not_object",
            "duplicate_field",
            "missing_field",
            "wrong_type",
            "empty_field",
            "page_url_too_long",
            "invalid_country",
            "invalid_event_time",
            "event_time_in_future",
        ]
    );
}

#[test]
fn filling_supplies_only_missing_id_and_time() {
    let fill = Fill {
        event_id: "filled".into(),
        event_time_ms: 42,
    };
    let text = with("event_id", None);
    let text = text.replace(
        r#""event_time":"2026-11-30T04:08:19.123Z""#,
        r#""event_time":null"#,
    );
    let event = parse_filling(text.as_bytes(), &fill).unwrap();
    assert_eq!(
        (event.event_id.as_str(), event.event_time_ms),
        ("filled", 42)
    );
    // Present values are kept and still validated.
    let event = parse_filling(VALID.as_bytes(), &fill).unwrap();
    assert_eq!(event.event_id, "e-1");
    let text = with("event_id", Some(r#""""#));
    assert_eq!(
        parse_filling(text.as_bytes(), &fill).unwrap_err().reason,
        RejectReason::EmptyField
    );
    let text = with("user_id", None);
    assert_eq!(
        parse_filling(text.as_bytes(), &fill).unwrap_err().reason,
        RejectReason::MissingField
    );
}

#[test]
fn events_too_far_ahead_of_their_ingestion_time_are_rejected() {
    let event = parse(VALID.as_bytes()).unwrap();
    let t = event.event_time_ms;
    // At the bound: accepted; one millisecond past it: rejected, with the field named.
    assert!(check_future_skew(&event, Some(t - 300_000), 300_000).is_ok());
    let rejection = check_future_skew(&event, Some(t - 300_001), 300_000).unwrap_err();
    assert_eq!(rejection.reason, RejectReason::EventTimeInFuture);
    assert_eq!(rejection.field, Some("event_time"));
    // Behind its ingestion time (the normal case), or no timestamp to judge by: accepted.
    assert!(check_future_skew(&event, Some(t + 86_400_000), 0).is_ok());
    assert!(check_future_skew(&event, None, 0).is_ok());
    // Far-future times cannot overflow the arithmetic.
    assert!(check_future_skew(&event, Some(i64::MIN), 300_000).is_err());
}

#[test]
fn clock_skew_is_an_optional_integer_written_only_when_known() {
    let event = parse(with("clock_skew_ms", Some("-259200000")).as_bytes()).unwrap();
    assert_eq!(event.clock_skew_ms, Some(-259_200_000));
    let json = event.to_json().unwrap();
    assert!(
        json.ends_with(r#""event_time":"2026-11-30T04:08:19.123Z","clock_skew_ms":-259200000}"#),
        "{json}"
    );
    assert_eq!(parse(json.as_bytes()).unwrap(), event);
    // Absent or null: None, and not written.
    assert_eq!(parse(VALID.as_bytes()).unwrap().clock_skew_ms, None);
    let null = parse(with("clock_skew_ms", Some("null")).as_bytes()).unwrap();
    assert_eq!(null.clock_skew_ms, None);
    assert!(!null.to_json().unwrap().contains("clock_skew_ms"));
    // Anything but an integer: wrong_type, naming the field.
    for bad in ["\"5\"", "1.5", "1e3", "true", "[]", "99999999999999999999"] {
        let rejection = parse(with("clock_skew_ms", Some(bad)).as_bytes()).unwrap_err();
        assert_eq!(rejection.reason, RejectReason::WrongType, "{bad}");
        assert_eq!(rejection.field, Some("clock_skew_ms"), "{bad}");
    }
    let twice = VALID.replace('}', r#","clock_skew_ms":1,"clock_skew_ms":2}"#);
    assert_eq!(reason(twice.as_bytes()), RejectReason::DuplicateField);
}

#[test]
fn strings_with_and_without_escapes_decode_to_their_text() {
    let event = parse(with("page_url", Some(r#""/a\u00e9\"b\\c""#)).as_bytes()).expect("valid");
    assert_eq!(event.page_url, "/aé\"b\\c");
    let event = parse(with("page_url", Some(r#""/plain é""#)).as_bytes()).expect("valid");
    assert_eq!(event.page_url, "/plain é");
}
