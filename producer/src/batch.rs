//! How a `POST /collect` body becomes items, each parsed on its own by [`events::parse`]:
//! one JSON value (an object, pretty-printed or not), a JSON array of values, or NDJSON.

use serde::de::IgnoredAny;
use serde_json::value::RawValue;

/// Splits a request body into the raw bytes of its items, in order.
///
/// - A body whose first non-blank byte is `[` and that is one valid JSON array: its elements.
/// - A body that is one valid JSON value (of any type): that value, a single item.
/// - Otherwise, NDJSON: each non-blank line (`\n` or `\r\n` ends a line) is an item.
///
/// A body that is none of these (e.g. `[` followed by garbage, or a single line of text)
/// comes back as one item, which [`events::parse`] rejects with its reason. An empty body
/// is one empty item (`not_json`). Never fails, never panics; no copies are made.
pub fn split_items(body: &[u8]) -> Vec<&[u8]> {
    let trimmed = body.trim_ascii();
    if trimmed.starts_with(b"[") {
        if let Ok(items) = serde_json::from_slice::<Vec<&RawValue>>(trimmed) {
            return items.into_iter().map(|v| v.get().as_bytes()).collect();
        }
    } else if serde_json::from_slice::<IgnoredAny>(trimmed).is_ok() {
        return vec![trimmed];
    }
    let lines: Vec<&[u8]> = trimmed
        .split(|&b| b == b'\n')
        .map(<[u8]>::trim_ascii)
        .filter(|line| !line.is_empty())
        .collect();
    if lines.is_empty() {
        vec![trimmed]
    } else {
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(body: &str) -> Vec<&str> {
        split_items(body.as_bytes())
            .into_iter()
            .map(|b| std::str::from_utf8(b).unwrap())
            .collect()
    }

    #[test]
    fn single_object_array_and_ndjson() {
        assert_eq!(split(r#" {"a":1} "#), [r#"{"a":1}"#]);
        assert_eq!(split("{\n  \"a\": 1\n}\n"), ["{\n  \"a\": 1\n}"]);
        assert_eq!(split(r#"[{"a":1}, {"b":2}]"#), [r#"{"a":1}"#, r#"{"b":2}"#]);
        assert_eq!(split("[]"), Vec::<&str>::new());
        assert_eq!(
            split("{\"a\":1}\r\n\n{\"b\":2}\nnot json\n"),
            [r#"{"a":1}"#, r#"{"b":2}"#, "not json"]
        );
        assert_eq!(split("[1, 2"), ["[1, 2"]);
        assert_eq!(split(""), [""]);
        assert_eq!(split("   "), [""]);
        assert_eq!(split("42"), ["42"]);
    }

    #[test]
    fn invalid_utf8_stays_in_its_line() {
        let body = b"{\"a\":1}\n{\"b\":\"\xff\"}\n";
        let items = split_items(body);
        assert_eq!(items.len(), 2);
        assert_eq!(items[1], b"{\"b\":\"\xff\"}");
    }
}
