//! The archive's line encoding: one Kafka record value per line, byte for byte.
//!
//! A raw archive must keep every record exactly, including the ones the pipeline rejects: not
//! JSON, invalid UTF-8, values with embedded newlines. A line-oriented text file cannot hold
//! those as they are, so each value is written as one of:
//!
//! | value | line |
//! |---|---|
//! | valid UTF-8, no ASCII control character other than tab, not starting with `~` | the value itself |
//! | anything else (invalid UTF-8, `\n`, `\r`, NUL, other control characters, a leading `~`) | `~b64:` + standard base64 (RFC 4648, padded) of the bytes |
//! | no value at all (a Kafka tombstone, `null` payload) | `~null` |
//!
//! Every line ends with `\n`. A JSON text never starts with `~` and never holds a raw control
//! character other than whitespace, so every well-formed single-line event is stored as it
//! is and stays directly queryable as text; the marker prefix `~` can never be mistaken for
//! an event. The control-character rule also keeps Hive's text reader (`LazySimpleSerDe`,
//! field delimiter `\x01`, line terminators `\n` and `\r`) from splitting a stored line.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// The first byte of every line that is not a verbatim value.
pub const MARKER: u8 = b'~';
/// Prefix of a line holding a base64-encoded value.
pub const BASE64_PREFIX: &[u8] = b"~b64:";
/// The whole line of a record without a value (Kafka `null` payload).
pub const NULL_LINE: &[u8] = b"~null";

/// A line that is neither a verbatim value nor a valid marker line.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The line starts with `~` but with no known marker.
    #[error("line starts with the marker `~` but is neither `~b64:…` nor `~null`")]
    UnknownMarker,
    /// The text after `~b64:` is not valid padded standard base64.
    #[error("invalid base64 after `~b64:`: {0}")]
    Base64(#[from] base64::DecodeError),
}

/// Whether `value` is stored as it is (see the module docs for the rule).
pub fn is_verbatim(value: &[u8]) -> bool {
    value.first() != Some(&MARKER)
        && !value.iter().any(|&b| b < 0x20 && b != b'\t')
        && std::str::from_utf8(value).is_ok()
}

/// Appends the line for `value` (`None` for a Kafka null payload) to `out`, terminating
/// `\n` included. Returns the number of bytes appended.
pub fn encode_into(value: Option<&[u8]>, out: &mut Vec<u8>) -> usize {
    let start = out.len();
    match value {
        None => out.extend_from_slice(NULL_LINE),
        Some(v) if is_verbatim(v) => out.extend_from_slice(v),
        Some(v) => {
            out.extend_from_slice(BASE64_PREFIX);
            let mut encoded = String::with_capacity(v.len().div_ceil(3) * 4);
            STANDARD.encode_string(v, &mut encoded);
            out.extend_from_slice(encoded.as_bytes());
        }
    }
    out.push(b'\n');
    out.len() - start
}

/// Decodes one line (without its terminating `\n`) back to the record value: `Ok(None)` for
/// a Kafka null payload.
///
/// # Errors
/// [`DecodeError`] when the line starts with `~` but is not a valid marker line.
pub fn decode_line(line: &[u8]) -> Result<Option<Vec<u8>>, DecodeError> {
    if line.first() != Some(&MARKER) {
        return Ok(Some(line.to_vec()));
    }
    if line == NULL_LINE {
        return Ok(None);
    }
    match line.strip_prefix(BASE64_PREFIX) {
        Some(b64) => Ok(Some(STANDARD.decode(b64)?)),
        None => Err(DecodeError::UnknownMarker),
    }
}

/// Splits a committed file's content into lines and decodes each with [`decode_line`].
/// Returns one entry per line, in file order.
///
/// # Errors
/// The [`DecodeError`] of the first bad line.
pub fn decode_lines(content: &[u8]) -> Result<Vec<Option<Vec<u8>>>, DecodeError> {
    let body = content.strip_suffix(b"\n").unwrap_or(content);
    if content.is_empty() {
        return Ok(Vec::new());
    }
    body.split(|&b| b == b'\n').map(decode_line).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(value: Option<&[u8]>) -> Vec<u8> {
        let mut out = Vec::new();
        let n = encode_into(value, &mut out);
        assert_eq!(n, out.len());
        out
    }

    #[test]
    fn json_events_are_stored_as_they_are() {
        let event = br#"{"event_id":"e1","page_url":"/caf\u00e9","country":"FR","x":"tab	ok"}"#;
        assert_eq!(line(Some(event)), [&event[..], b"\n"].concat());
        assert_eq!(
            line(Some("{\"p\":\"/café\"}".as_bytes())),
            "{\"p\":\"/café\"}\n".as_bytes()
        );
        assert_eq!(line(Some(b"not json at all")), b"not json at all\n");
        assert_eq!(line(Some(b"")), b"\n");
    }

    #[test]
    fn unsafe_values_are_base64_with_the_marker() {
        assert_eq!(line(Some(b"a\nb")), b"~b64:YQpi\n");
        assert_eq!(line(Some(b"a\rb")), b"~b64:YQ1i\n");
        assert_eq!(line(Some(&[0xff, 0xfe])), b"~b64://4=\n");
        assert_eq!(line(Some(b"~b64:YQpi")), b"~b64:fmI2NDpZUXBp\n");
        assert_eq!(line(Some(b"x\x01y")), b"~b64:eAF5\n");
        assert_eq!(line(None), b"~null\n");
    }

    #[test]
    fn every_kind_of_value_round_trips_byte_for_byte() {
        let values: Vec<Option<Vec<u8>>> = vec![
            Some(br#"{"a":1}"#.to_vec()),
            Some(b"{\"a\":\n1}".to_vec()),
            Some(b"\r\n".to_vec()),
            Some(vec![0xc3, 0x28, 0x00, 0x0a]),
            Some(b"~".to_vec()),
            Some(b"~null".to_vec()),
            Some(Vec::new()),
            Some((0..=255u8).collect()),
            None,
        ];
        let mut file = Vec::new();
        for v in &values {
            encode_into(v.as_deref(), &mut file);
        }
        assert_eq!(file.iter().filter(|&&b| b == b'\n').count(), values.len());
        assert_eq!(decode_lines(&file).unwrap(), values);
    }

    #[test]
    fn malformed_marker_lines_are_errors() {
        assert_eq!(decode_line(b"~what"), Err(DecodeError::UnknownMarker));
        assert!(matches!(
            decode_line(b"~b64:***"),
            Err(DecodeError::Base64(_))
        ));
        assert_eq!(decode_lines(b"").unwrap(), Vec::<Option<Vec<u8>>>::new());
        assert_eq!(decode_lines(b"\n").unwrap(), vec![Some(Vec::new())]);
    }
}
