//! How every program reads a duration: one parser for every duration flag and environment
//! variable (`--roll-interval`, `--window-size`, `--duration`, `--metastore-timeout`, …).
//!
//! A duration is either
//! - a bare non-negative decimal number of **seconds**: `60`, `30`, `0.5`, `.5`; or
//! - one or more numbers each followed by a unit, read by the [`humantime`] crate:
//!   `500ms`, `10s`, `1m`, `1min`, `2h`, `1h30m`, `1h 30m`, `1.5s`, `2 hours`.
//!
//! Units (humantime's): `ns`/`nsec`, `us`/`µs`/`usec`, `ms`/`msec`, `s`/`sec`/`second(s)`,
//! `m`/`min`/`minute(s)`, `h`/`hr`/`hour(s)`, `d`/`day(s)`, `w`/`week(s)`, and the imprecise
//! `M`/`month(s)` (30.44 days) and `y`/`year(s)` (365.25 days). Units are case-sensitive:
//! `1m` is a minute, `1M` a month. A negative duration, an empty string, an unknown unit or
//! a number too large for [`Duration`] is refused with a message that quotes the input and
//! shows how to write one.
//!
//! Use it as a clap value parser: `#[arg(long, value_parser = wa_cli::parse_duration)]`.

use std::fmt;
use std::time::Duration;

/// Why a duration was refused: the input as written and the reason. Its message (`Display`)
/// ends with examples of valid durations, so a program can show it as is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurationError {
    input: String,
    reason: String,
}

impl DurationError {
    fn new(input: &str, reason: impl Into<String>) -> Self {
        DurationError {
            input: input.to_owned(),
            reason: reason.into(),
        }
    }

    /// The refused input, as given.
    pub fn input(&self) -> &str {
        &self.input
    }
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid duration {:?}: {}; write a number with a unit (500ms, 10s, 1m, 1min, 2h, \
             1h30m) or a bare number of seconds (30, 0.5)",
            self.input, self.reason
        )
    }
}

impl std::error::Error for DurationError {}

/// Parses a duration: a bare decimal number of seconds (`60`, `0.5`) or humantime units
/// (`500ms`, `10s`, `1m`, `1min`, `2h`, `1h30m`); see the [module docs](self). Surrounding
/// whitespace is ignored. Exact: `0.1` is 100 ms, not the nearest binary fraction.
///
/// # Errors
/// [`DurationError`] for an empty input, a negative duration, a number without digits, an
/// unknown unit, a character that belongs to no number or unit, or a value that does not fit
/// a [`Duration`] (or is finer than a nanosecond).
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(DurationError::new(input, "it is empty"));
    }
    if s.starts_with('-') {
        return Err(DurationError::new(input, "durations cannot be negative"));
    }
    let parsed = match bare_seconds(s) {
        // humantime reads fractions of a unit exactly; give it the number as seconds.
        Some(number) => humantime::parse_duration(&format!("{number}s")),
        None => humantime::parse_duration(s),
    };
    parsed.map_err(|e| DurationError::new(input, e.to_string()))
}

/// `s` written as `digits[.digits]` when it is a bare number (with at least one digit and at
/// most one `.`), with a `0` added on an empty side of the `.` (`.5` → `0.5`, `5.` → `5.0`).
fn bare_seconds(s: &str) -> Option<String> {
    let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
        return None;
    }
    let whole = if whole.is_empty() { "0" } else { whole };
    Some(if fraction.is_empty() {
        whole.to_owned()
    } else {
        format!("{whole}.{fraction}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Duration {
        parse_duration(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn a_bare_number_is_seconds() {
        assert_eq!(ok("60"), Duration::from_secs(60));
        assert_eq!(ok("30"), Duration::from_secs(30));
        assert_eq!(ok("0"), Duration::ZERO);
        assert_eq!(ok(" 45 "), Duration::from_secs(45));
    }

    #[test]
    fn a_bare_fraction_is_exact_seconds() {
        assert_eq!(ok("0.5"), Duration::from_millis(500));
        assert_eq!(ok(".5"), Duration::from_millis(500));
        assert_eq!(ok("2."), Duration::from_secs(2));
        assert_eq!(ok("0.1"), Duration::from_millis(100));
        assert_eq!(ok("1.000000001"), Duration::new(1, 1));
    }

    #[test]
    fn every_unit() {
        assert_eq!(ok("250ns"), Duration::from_nanos(250));
        assert_eq!(ok("250us"), Duration::from_micros(250));
        assert_eq!(ok("500ms"), Duration::from_millis(500));
        assert_eq!(ok("10s"), Duration::from_secs(10));
        assert_eq!(ok("10sec"), Duration::from_secs(10));
        assert_eq!(ok("1m"), Duration::from_secs(60));
        assert_eq!(ok("1min"), Duration::from_secs(60));
        assert_eq!(ok("2h"), Duration::from_secs(7200));
        assert_eq!(ok("1d"), Duration::from_secs(86_400));
        assert_eq!(ok("1w"), Duration::from_secs(7 * 86_400));
    }

    #[test]
    fn fractions_and_combinations_of_units() {
        assert_eq!(ok("1.5s"), Duration::from_millis(1500));
        assert_eq!(ok("1.5m"), Duration::from_secs(90));
        assert_eq!(ok("1h30m"), Duration::from_secs(5400));
        assert_eq!(ok("1h 30m"), Duration::from_secs(5400));
        assert_eq!(ok("2 hours"), Duration::from_secs(7200));
        assert_eq!(ok("1m30s500ms"), Duration::from_millis(90_500));
    }

    #[test]
    fn refusals_quote_the_input_and_say_why() {
        for (bad, why) in [
            ("", "empty"),
            ("   ", "empty"),
            ("-1s", "negative"),
            ("-5", "negative"),
            ("10 parsecs", "unknown time unit"),
            ("10x", "unknown time unit"),
            ("s", "expected number"),
            (".", "expected number"),
            ("1.2.3", "invalid character"),
            ("1e3", "unknown time unit"),
            ("inf", "expected number"),
            ("99999999999999999999s", "too large"),
        ] {
            let e = parse_duration(bad).expect_err(bad);
            assert_eq!(e.input(), bad);
            let message = e.to_string();
            assert!(message.contains(&format!("{bad:?}")), "{message}");
            assert!(message.contains(why), "{bad:?}: {message}");
            assert!(message.contains("500ms, 10s, 1m"), "{message}");
        }
    }
}
