//! The dataflow processes' `/metrics` pages, read: a parser of the Prometheus text format as
//! our exporter writes it, and the [`Figures`] the dashboard takes from a page.
//!
//! A page is lines of `name{label="value",…} value [timestamp]`; `#` lines (`HELP`, `TYPE`)
//! and blank lines are skipped. Label values escape `\\`, `\"` and `\n`. A value is a float,
//! `NaN`, `+Inf` or `-Inf`. That is all `metrics-exporter-prometheus` writes; histogram and
//! summary series are plain samples with `_bucket`, `_sum`, `_count` names and `le` or
//! `quantile` labels, which this module never needs.

use std::collections::BTreeMap;

/// One sample of a page: a series and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name (`wa_dataflow_watermark_ms`).
    pub name: String,
    /// Labels in the order written, values unescaped.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

impl Sample {
    /// The value of label `name`, if the sample has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A line of a page that is not a sample.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What was expected there.
    pub reason: &'static str,
}

/// Parses a whole page into its samples, in page order.
///
/// # Errors
/// [`ParseError`] for the first line that is neither a comment, blank, nor a sample.
pub fn parse(page: &str) -> Result<Vec<Sample>, ParseError> {
    let mut samples = Vec::new();
    for (i, line) in page.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let sample = parse_line(line).map_err(|reason| ParseError {
            line: i + 1,
            reason,
        })?;
        samples.push(sample);
    }
    Ok(samples)
}

fn parse_line(line: &str) -> Result<Sample, &'static str> {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let (name, mut rest) = line.split_at(name_end);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("expected a metric name");
    }
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = after.trim_start();
        loop {
            rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let (label, after) = rest.split_once('=').ok_or("expected label=\"value\"")?;
            let after = after
                .trim_start()
                .strip_prefix('"')
                .ok_or("expected a quoted label value")?;
            let (value, after) = unquote(after)?;
            labels.push((label.trim().to_owned(), value));
            rest = after.trim_start();
            if !rest.starts_with([',', '}']) {
                return Err("expected , or } after a label");
            }
        }
    }
    let mut fields = rest.split_whitespace();
    let value = match fields.next().ok_or("expected a value")? {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse::<f64>().map_err(|_| "expected a number")?,
    };
    // An optional timestamp; nothing after it.
    if fields.nth(1).is_some() {
        return Err("unexpected text after the value");
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// Reads a label value after its opening quote: the unescaped value and the text after its
/// closing quote.
fn unquote(s: &str) -> Result<(String, &str), &'static str> {
    let mut value = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &s[i + 1..])),
            '\\' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, c)) => value.push(c),
                None => break,
            },
            c => value.push(c),
        }
    }
    Err("unterminated label value")
}

/// What the dashboard takes from one process's page. Times are UTC epoch ms; a time gauge
/// whose value is not a time (NaN, infinite, before 1970 or after 9999, as a gauge left at its
/// initial `i64::MIN` would be) is absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// `wa_dataflow_watermark_ms{partition}`, by partition number.
    pub watermarks_ms: BTreeMap<i32, i64>,
    /// `wa_dataflow_consumer_lag{partition}`, records, by partition number.
    pub lags: BTreeMap<i32, i64>,
    /// `wa_dataflow_checkpoint_frontier_ms`.
    pub checkpoint_frontier_ms: Option<i64>,
    /// `wa_dataflow_checkpoint_written_ms` (wall clock of the last checkpoint; newer
    /// processes only).
    pub checkpoint_written_ms: Option<i64>,
    /// `wa_dataflow_feed_published_ms` (the feed's published frontier; newer processes, and
    /// process 0 only).
    pub feed_published_ms: Option<i64>,
    /// `wa_dataflow_late_total{reason}`.
    pub late: BTreeMap<String, u64>,
    /// `wa_dataflow_rejected_total{reason}`.
    pub rejected: BTreeMap<String, u64>,
    /// `wa_dataflow_reading_paused{worker}`: whether each worker's reading waits for commits.
    pub reading_paused: BTreeMap<String, bool>,
    /// `wa_dataflow_commit_retries_total{what}`.
    pub commit_retries: BTreeMap<String, u64>,
}

/// The latest time a gauge can hold and still be one: 9999-12-31T23:59:59.999Z.
const MAX_TIME_MS: f64 = 253_402_300_799_999.0;

impl Figures {
    /// The figures of a parsed page; samples of other metrics, and samples missing the label
    /// their metric is read by, are ignored.
    pub fn from_samples(samples: &[Sample]) -> Figures {
        let time = |v: f64| (v.is_finite() && (0.0..=MAX_TIME_MS).contains(&v)).then_some(v as i64);
        let count = |v: f64| {
            if v.is_finite() && v > 0.0 {
                v as u64
            } else {
                0
            }
        };
        let mut f = Figures::default();
        for s in samples {
            let partition = || s.label("partition").and_then(|p| p.parse::<i32>().ok());
            let label = |name| s.label(name).map(str::to_owned);
            match s.name.as_str() {
                "wa_dataflow_watermark_ms" => {
                    if let (Some(p), Some(t)) = (partition(), time(s.value)) {
                        f.watermarks_ms.insert(p, t);
                    }
                }
                "wa_dataflow_consumer_lag" => {
                    if let Some(p) = partition().filter(|_| s.value.is_finite()) {
                        f.lags.insert(p, s.value as i64);
                    }
                }
                "wa_dataflow_checkpoint_frontier_ms" => f.checkpoint_frontier_ms = time(s.value),
                "wa_dataflow_checkpoint_written_ms" => f.checkpoint_written_ms = time(s.value),
                "wa_dataflow_feed_published_ms" => f.feed_published_ms = time(s.value),
                "wa_dataflow_late_total" => {
                    if let Some(reason) = label("reason") {
                        *f.late.entry(reason).or_default() += count(s.value);
                    }
                }
                "wa_dataflow_rejected_total" => {
                    if let Some(reason) = label("reason") {
                        *f.rejected.entry(reason).or_default() += count(s.value);
                    }
                }
                "wa_dataflow_reading_paused" => {
                    if let Some(worker) = label("worker") {
                        f.reading_paused.insert(worker, s.value >= 0.5);
                    }
                }
                "wa_dataflow_commit_retries_total" => {
                    if let Some(what) = label("what") {
                        *f.commit_retries.entry(what).or_default() += count(s.value);
                    }
                }
                _ => {}
            }
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `/metrics` page captured from a `wa-dataflow` process (one process, one worker, two
    /// partitions) that had read 12,000 simulated events.
    const CAPTURED: &str = include_str!("testdata/dataflow-metrics.txt");

    /// Series the captured run had no occasion to write (no late or rejected event, no pause,
    /// no retry, a process without the results feed), in the exporter's form.
    const MORE: &str = "\
# TYPE wa_dataflow_late_total counter
wa_dataflow_late_total{reason=\"behind_watermark\"} 17
# TYPE wa_dataflow_rejected_total counter
wa_dataflow_rejected_total{reason=\"invalid_json\"} 2
wa_dataflow_rejected_total{reason=\"missing_field\"} 1
# TYPE wa_dataflow_reading_paused gauge
wa_dataflow_reading_paused{worker=\"0\"} 1
wa_dataflow_reading_paused{worker=\"1\"} 0
# TYPE wa_dataflow_commit_retries_total counter
wa_dataflow_commit_retries_total{what=\"file\"} 3
wa_dataflow_checkpoint_written_ms 1796625130123
wa_dataflow_feed_published_ms 1796625120000
";

    #[test]
    fn a_captured_page_gives_its_figures() {
        let samples = parse(CAPTURED).unwrap();
        assert!(samples.len() > 60, "{} samples", samples.len());
        let quantile = samples
            .iter()
            .find(|s| s.name == "wa_hive_commit_seconds" && s.label("quantile") == Some("0.5"))
            .unwrap();
        assert_eq!(quantile.label("table"), Some("visitor_analytics"));
        let figures = Figures::from_samples(&samples);
        assert_eq!(
            figures.watermarks_ms,
            BTreeMap::from([(0, 1_796_625_128_990), (1, 1_796_625_128_995)])
        );
        assert_eq!(figures.lags, BTreeMap::from([(0, 0), (1, 0)]));
        assert_eq!(figures.checkpoint_frontier_ms, Some(1_796_625_128_990));
        assert_eq!(figures.checkpoint_written_ms, None);
        assert_eq!(figures.feed_published_ms, None);
        assert!(figures.late.is_empty() && figures.rejected.is_empty());

        let page = format!("{CAPTURED}\n{MORE}");
        let figures = Figures::from_samples(&parse(&page).unwrap());
        assert_eq!(
            figures.late,
            BTreeMap::from([("behind_watermark".into(), 17)])
        );
        assert_eq!(
            figures.rejected,
            BTreeMap::from([("invalid_json".into(), 2), ("missing_field".into(), 1)])
        );
        assert_eq!(
            figures.reading_paused,
            BTreeMap::from([("0".into(), true), ("1".into(), false)])
        );
        assert_eq!(figures.commit_retries, BTreeMap::from([("file".into(), 3)]));
        assert_eq!(figures.checkpoint_written_ms, Some(1_796_625_130_123));
        assert_eq!(figures.feed_published_ms, Some(1_796_625_120_000));
    }

    #[test]
    fn lines_are_read_as_the_text_format_writes_them() {
        let samples = parse(
            "# HELP x help text {with braces}\n\
             \n\
             plain 1.5\n\
             with_ts{a=\"1\"} 2 1700000000000\n\
             escaped{path=\"C:\\\\x\",q=\"say \\\"hi\\\"\",nl=\"a\\nb\",} NaN\n\
             inf{le=\"+Inf\"} +Inf\n\
             neg -Inf\n\
             spaced{ a = \"x y\" , b=\"}\" } -3e2\n",
        )
        .unwrap();
        let shown: Vec<(&str, Vec<(&str, &str)>)> = samples
            .iter()
            .map(|s| {
                let labels = s
                    .labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                (s.name.as_str(), labels)
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("plain", vec![]),
                ("with_ts", vec![("a", "1")]),
                (
                    "escaped",
                    vec![("path", "C:\\x"), ("q", "say \"hi\""), ("nl", "a\nb")]
                ),
                ("inf", vec![("le", "+Inf")]),
                ("neg", vec![]),
                ("spaced", vec![("a", "x y"), ("b", "}")]),
            ]
        );
        let values: Vec<f64> = samples.iter().map(|s| s.value).collect();
        assert_eq!(values[..2], [1.5, 2.0]);
        assert!(values[2].is_nan());
        assert_eq!(values[3..], [f64::INFINITY, f64::NEG_INFINITY, -300.0]);
    }

    #[test]
    fn a_line_that_is_no_sample_is_an_error_naming_it() {
        for (page, line) in [
            ("ok 1\n{a=\"1\"} 2", 2),
            ("x{a=\"1\" 2", 1),
            ("x{a=1} 2", 1),
            ("x{a=\"1\"b=\"2\"} 2", 1),
            ("x{a=\"1} 2", 1),
            ("x", 1),
            ("x one", 1),
            ("# c\nx 1 2 3", 2),
            ("<html>", 1),
        ] {
            assert_eq!(parse(page).map_err(|e| e.line), Err(line), "{page:?}");
        }
    }

    #[test]
    fn gauges_that_are_no_time_are_absent() {
        let page = "wa_dataflow_checkpoint_frontier_ms -9223372036854776000\n\
                    wa_dataflow_watermark_ms{partition=\"0\"} NaN\n\
                    wa_dataflow_watermark_ms{partition=\"1\"} 1e300\n\
                    wa_dataflow_watermark_ms{partition=\"x\"} 5\n\
                    wa_dataflow_watermark_ms 5\n\
                    wa_dataflow_late_total 4\n";
        let figures = Figures::from_samples(&parse(page).unwrap());
        assert_eq!(figures, Figures::default());
    }
}
