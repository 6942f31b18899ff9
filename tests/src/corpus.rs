//! A corpus of malformed Kafka records, one per kind, each with the rejection reason the event rules (`events/README.md`)
//! gives it: what the fault suite mixes into a valid stream to show that bad input is kept
//! (in `rejected_web_events` and in the raw archive) and never crashes or stalls a process.
//!
//! Kinds cover: not JSON at all, truncated, trailing garbage, JSON extensions (NaN,
//! Infinity, comments, single quotes, trailing commas), invalid UTF-8 of several shapes, raw
//! control characters, valid JSON that is not an object, huge records and fields, duplicate
//! keys, missing/null/empty required fields, wrong JSON types, bad countries and URLs, event
//! times unparseable, before 1970, far in the past and far in the future, and records whose
//! key or value is null. Every record fits Kafka's default 1 MB message limit.

/// One malformed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    /// A short unique name of the kind, e.g. `"nan event_time"`.
    pub kind: &'static str,
    /// The record key; `None` for a null key.
    pub key: Option<Vec<u8>>,
    /// The record value; `None` for a null value (the dataflow reads it as empty bytes).
    pub value: Option<Vec<u8>>,
    /// The stable reason code it must be rejected with (`events::RejectReason::as_str`).
    pub reason: &'static str,
}

impl BadRecord {
    /// The value as the dataflow and `rejected_web_events.raw_value` see it: a null value is
    /// empty bytes.
    pub fn value_bytes(&self) -> &[u8] {
        self.value.as_deref().unwrap_or_default()
    }
}

/// The fields of a valid event, in order, as raw JSON values.
const FIELDS: [(&str, &str); 9] = [
    ("event_id", r#""corpus-e1""#),
    ("user_id", r#""corpus-u1""#),
    ("session_id", r#""corpus-s1""#),
    ("event_type", r#""click""#),
    ("page_url", r#""/corpus""#),
    ("browser", r#""Firefox""#),
    ("os", r#""Linux""#),
    ("country", r#""DE""#),
    ("event_time", r#""2026-11-29T23:59:30Z""#),
];

/// A valid event's JSON text with `field` replaced by the raw JSON `value`, or left out when
/// `value` is `None`. `field` may be a field no event has (it is then added).
fn event_with(field: &str, value: Option<&str>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut replaced = false;
    for (name, v) in FIELDS {
        if name == field {
            replaced = true;
            if let Some(value) = value {
                parts.push(format!("\"{name}\":{value}"));
            }
        } else {
            parts.push(format!("\"{name}\":{v}"));
        }
    }
    if !replaced {
        if let Some(value) = value {
            parts.push(format!("\"{field}\":{value}"));
        }
    }
    format!("{{{}}}", parts.join(","))
}

/// A valid event's JSON text.
fn valid() -> String {
    event_with("", None)
}

/// Every kind of malformed record, each once (more than 50 kinds). Keys are
/// `corpus-<index>` except for the null-key kinds.
pub fn bad_records() -> Vec<BadRecord> {
    let valid = valid();
    let mut cases: Vec<(&'static str, Option<Vec<u8>>, &'static str)> = Vec::new();
    let mut add = |kind: &'static str, value: Vec<u8>, reason: &'static str| {
        cases.push((kind, Some(value), reason));
    };
    let text = |s: &str| s.as_bytes().to_vec();
    let with = |field: &str, value: Option<&str>| event_with(field, value).into_bytes();

    // Not JSON.
    add("empty value", Vec::new(), "not_json");
    add("whitespace only", text(" \n\t "), "not_json");
    add("plain text", text("hello, world"), "not_json");
    add("xml", text("<event id=\"1\"/>"), "not_json");
    add(
        "csv line",
        text("e1,u1,s1,click,/x,2026-11-30T00:00:00Z"),
        "not_json",
    );
    add(
        "truncated object",
        valid.as_bytes()[..40].to_vec(),
        "not_json",
    );
    add(
        "truncated in a string",
        valid.as_bytes()[..15].to_vec(),
        "not_json",
    );
    add("only an opening brace", text("{"), "not_json");
    add(
        "trailing garbage",
        format!("{valid}x").into_bytes(),
        "not_json",
    );
    add(
        "two objects",
        format!("{valid}{valid}").into_bytes(),
        "not_json",
    );
    add(
        "ndjson of two events",
        format!("{valid}\n{valid}").into_bytes(),
        "not_json",
    );
    add("single quotes", text("{'event_id':'e'}"), "not_json");
    add("unquoted keys", text("{event_id:\"e\"}"), "not_json");
    add(
        "trailing comma",
        valid.replacen('}', ",}", 1).into_bytes(),
        "not_json",
    );
    add(
        "comment",
        format!("// an event\n{valid}").into_bytes(),
        "not_json",
    );
    add(
        "NaN event_time",
        with("event_time", Some("NaN")),
        "not_json",
    );
    add(
        "Infinity event_time",
        with("event_time", Some("Infinity")),
        "not_json",
    );
    add(
        "-Infinity event_time",
        with("event_time", Some("-Infinity")),
        "not_json",
    );
    add(
        "lone surrogate escape",
        with("user_id", Some(r#""\ud800""#)),
        "not_json",
    );
    add(
        "invalid escape",
        with("user_id", Some(r#""a\qb""#)),
        "not_json",
    );
    add(
        "raw control character in a string",
        with("user_id", Some("\"a\u{1}b\"")),
        "not_json",
    );
    add(
        "raw newline in a string",
        with("page_url", Some("\"/a\nb\"")),
        "not_json",
    );
    add("nul bytes", vec![0, 0, 0], "not_json");
    add(
        "byte order mark",
        format!("\u{feff}{valid}").into_bytes(),
        "not_json",
    );
    add(
        "utf-16 text",
        valid.bytes().flat_map(|b| [b, 0]).collect(),
        "not_json",
    );
    add(
        "deep unclosed arrays",
        text(&"[".repeat(20_000)),
        "not_json",
    );
    add("hex number", with("event_time", Some("0x1F")), "not_json");
    // Invalid UTF-8.
    add("bytes ff fe", vec![0xff, 0xfe], "invalid_utf8");
    add(
        "latin-1 in a string",
        {
            let mut v = with("user_id", Some("\"M\u{fc}ller\""));
            let at = v.windows(2).position(|w| w == [0xc3, 0xbc]).unwrap_or(0);
            v.splice(at..at + 2, [0xfc]);
            v
        },
        "invalid_utf8",
    );
    add(
        "truncated multibyte sequence",
        {
            let mut v = valid.as_bytes()[..30].to_vec();
            v.extend_from_slice(&[0xe2, 0x82]);
            v
        },
        "invalid_utf8",
    );
    add(
        "overlong encoding",
        vec![b'{', 0xc0, 0xaf, b'}'],
        "invalid_utf8",
    );
    add(
        "encoded surrogate",
        vec![b'"', 0xed, 0xa0, 0x80, b'"'],
        "invalid_utf8",
    );
    add(
        "binary garbage",
        (0u8..=255).rev().collect(),
        "invalid_utf8",
    );
    // Valid JSON, not an object.
    add(
        "array of events",
        format!("[{valid}]").into_bytes(),
        "not_object",
    );
    add("string", text("\"page_view\""), "not_object");
    add("number", text("42"), "not_object");
    add("json null", text("null"), "not_object");
    add("boolean", text("true"), "not_object");
    add(
        "deeply nested arrays",
        format!("{}{}", "[".repeat(5_000), "]".repeat(5_000)).into_bytes(),
        "not_object",
    );
    // Too big.
    add(
        "70 KB record",
        with("padding", Some(&format!("\"{}\"", "p".repeat(70_000)))),
        "oversize",
    );
    add(
        "600 KB user_id",
        with("user_id", Some(&format!("\"{}\"", "u".repeat(600_000)))),
        "oversize",
    );
    // Duplicate keys.
    add(
        "duplicate user_id",
        valid
            .replacen("\"user_id\":", "\"user_id\":\"u-2\",\"user_id\":", 1)
            .into_bytes(),
        "duplicate_field",
    );
    add(
        "duplicate event_time",
        valid
            .replacen(
                "\"event_time\":",
                "\"event_time\":1796083200000,\"event_time\":",
                1,
            )
            .into_bytes(),
        "duplicate_field",
    );
    add(
        "duplicate identical event_id",
        valid
            .replacen(
                "\"event_id\":",
                "\"event_id\":\"corpus-e1\",\"event_id\":",
                1,
            )
            .into_bytes(),
        "duplicate_field",
    );
    // Missing or null required fields.
    add("empty object", text("{}"), "missing_field");
    add("no event_id", with("event_id", None), "missing_field");
    add("no user_id", with("user_id", None), "missing_field");
    add(
        "null session_id",
        with("session_id", Some("null")),
        "missing_field",
    );
    add("no event_type", with("event_type", None), "missing_field");
    add("no page_url", with("page_url", None), "missing_field");
    add("no event_time", with("event_time", None), "missing_field");
    add(
        "null event_time",
        with("event_time", Some("null")),
        "missing_field",
    );
    // Empty required strings.
    add(
        "empty event_id",
        with("event_id", Some("\"\"")),
        "empty_field",
    );
    add(
        "empty user_id",
        with("user_id", Some("\"\"")),
        "empty_field",
    );
    add(
        "empty page_url",
        with("page_url", Some("\"\"")),
        "empty_field",
    );
    // Wrong JSON types.
    add("number user_id", with("user_id", Some("42")), "wrong_type");
    add("number event_id", with("event_id", Some("7")), "wrong_type");
    add(
        "boolean event_type",
        with("event_type", Some("true")),
        "wrong_type",
    );
    add(
        "array page_url",
        with("page_url", Some(r#"["/a"]"#)),
        "wrong_type",
    );
    add(
        "object browser",
        with("browser", Some(r#"{"name":"x"}"#)),
        "wrong_type",
    );
    add("number country", with("country", Some("49")), "wrong_type");
    add(
        "boolean event_time",
        with("event_time", Some("false")),
        "wrong_type",
    );
    add(
        "object event_time",
        with("event_time", Some(r#"{"ms":1}"#)),
        "wrong_type",
    );
    // Field values out of their domain.
    add(
        "page_url of 3000 bytes",
        with("page_url", Some(&format!("\"/{}\"", "a".repeat(3_000)))),
        "page_url_too_long",
    );
    add(
        "three-letter country",
        with("country", Some("\"USA\"")),
        "invalid_country",
    );
    add(
        "lower-case country",
        with("country", Some("\"de\"")),
        "invalid_country",
    );
    add(
        "event_time not a time",
        with("event_time", Some("\"yesterday\"")),
        "invalid_event_time",
    );
    add(
        "event_time without a zone",
        with("event_time", Some("\"2026-11-30T10:00:00\"")),
        "invalid_event_time",
    );
    add(
        "event_time month 13",
        with("event_time", Some("\"2026-13-01T00:00:00Z\"")),
        "invalid_event_time",
    );
    add(
        "event_time before 1970",
        with("event_time", Some("\"1969-12-31T23:59:59Z\"")),
        "invalid_event_time",
    );
    add(
        "event_time negative epoch ms",
        with("event_time", Some("-1")),
        "invalid_event_time",
    );
    add(
        "event_time year 1900",
        with("event_time", Some("\"1900-01-01T00:00:00Z\"")),
        "invalid_event_time",
    );
    add(
        "event_time year 9999",
        with("event_time", Some("\"9999-12-31T23:59:59Z\"")),
        "invalid_event_time",
    );
    add(
        "event_time epoch ms in year 5138",
        with("event_time", Some("99999999999999")),
        "invalid_event_time",
    );
    let mut records: Vec<BadRecord> = cases
        .into_iter()
        .enumerate()
        .map(|(i, (kind, value, reason))| BadRecord {
            kind,
            key: Some(format!("corpus-{i}").into_bytes()),
            value,
            reason,
        })
        .collect();
    records.push(BadRecord {
        kind: "null value",
        key: Some(b"corpus-null-value".to_vec()),
        value: None,
        reason: "not_json",
    });
    records.push(BadRecord {
        kind: "null key and null value",
        key: None,
        value: None,
        reason: "not_json",
    });
    records.push(BadRecord {
        kind: "null key, malformed value",
        key: None,
        value: Some(b"{\"event_id\":".to_vec()),
        reason: "not_json",
    });
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_is_a_valid_event() {
        assert!(events::parse(valid().as_bytes()).is_ok());
    }

    #[test]
    fn every_kind_is_distinct_and_rejected_with_its_reason() {
        let records = bad_records();
        assert!(records.len() >= 50, "only {} kinds", records.len());
        let kinds: std::collections::BTreeSet<&str> = records.iter().map(|r| r.kind).collect();
        assert_eq!(kinds.len(), records.len(), "kinds must be unique");
        let mut wrong = Vec::new();
        for r in &records {
            assert!(
                r.value_bytes().len() < 1_000_000,
                "{} exceeds Kafka's limit",
                r.kind
            );
            match events::parse(r.value_bytes()) {
                Ok(_) => wrong.push(format!("{}: accepted", r.kind)),
                Err(e) if e.reason.as_str() != r.reason => wrong.push(format!(
                    "{}: {} ({e}), want {}",
                    r.kind,
                    e.reason.as_str(),
                    r.reason
                )),
                Err(_) => {}
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        let reasons: std::collections::BTreeSet<&str> = records.iter().map(|r| r.reason).collect();
        // `event_time_in_future` needs the record's ingestion time, not only its value: the
        // real_traffic tests exercise it.
        let by_value = events::RejectReason::ALL
            .iter()
            .filter(|r| **r != events::RejectReason::EventTimeInFuture)
            .count();
        assert_eq!(reasons.len(), by_value, "every reason is exercised");
    }
}
