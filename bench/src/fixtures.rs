//! Bench inputs shaped like `wa-producer simulate` output, made without Kafka: the same field
//! shapes and value mix (UUID ids, `user-<n>`, Zipf-popular catalogue paths, the producer's
//! event-type, browser/OS and country shares, events 1/rate ms apart), seeded, so every run of
//! a bench sees the same bytes. The session model is simpler than the producer's (a uniform
//! pick among open sessions): only the shape of each record matters to the stages benched.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray, TimestampMillisecondArray};
use arrow::record_batch::RecordBatch;
use events::WebEvent;
use rand::distr::weighted::WeightedIndex;
use rand::distr::Distribution;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::Zipf;

/// Stream time of the first fixture event, UTC epoch ms: 2026-11-30T00:00:00Z.
pub const START_MS: i64 = 1_795_996_800_000;

const PAGES: f64 = 1000.0;
const TYPES: &[(&str, u32)] = &[
    ("page_view", 30),
    ("click", 35),
    ("scroll", 25),
    ("form_submit", 5),
    ("video_play", 5),
];
const PLATFORMS: &[(&str, &str, u32)] = &[
    ("Chrome", "Windows", 28),
    ("Chrome", "Android", 24),
    ("Safari", "iOS", 17),
    ("Chrome", "macOS", 6),
    ("Safari", "macOS", 6),
    ("Edge", "Windows", 6),
    ("Firefox", "Windows", 3),
    ("Samsung Internet", "Android", 3),
];
const COUNTRIES: &[(&str, u32)] = &[
    ("US", 28),
    ("IN", 10),
    ("DE", 6),
    ("GB", 6),
    ("BR", 6),
    ("FR", 4),
    ("JP", 4),
    ("CA", 4),
    ("NL", 2),
];

/// `n` valid events, `1000 / rate` ms apart from [`START_MS`], seeded by `seed`.
pub fn events(n: usize, rate_per_sec: f64, seed: u64) -> Vec<WebEvent> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let weights = |w: Vec<u32>| WeightedIndex::new(w).expect("fixture weights are positive");
    let types = weights(TYPES.iter().map(|t| t.1).collect());
    let platforms = weights(PLATFORMS.iter().map(|p| p.2).collect());
    let countries = weights(COUNTRIES.iter().map(|c| c.1).collect());
    let pages = Zipf::new(PAGES, 1.1).expect("fixture Zipf parameters are valid");
    // About rate × 5 s of think time sessions are open at once, as in the producer.
    let open = ((rate_per_sec * 5.0) as usize).clamp(1, 100_000);
    let sessions: Vec<(String, String, usize, usize)> = (0..open)
        .map(|_| {
            let user = rng.random_range(0..100_000u32);
            (
                uuid(&mut rng),
                format!("user-{user}"),
                platforms.sample(&mut rng),
                countries.sample(&mut rng),
            )
        })
        .collect();
    (0..n)
        .map(|i| {
            let (session_id, user_id, platform, country) = &sessions[rng.random_range(0..open)];
            let (browser, os, _) = PLATFORMS[*platform];
            WebEvent {
                event_id: uuid(&mut rng),
                user_id: user_id.clone(),
                session_id: session_id.clone(),
                event_type: TYPES[types.sample(&mut rng)].0.to_owned(),
                page_url: page_url(pages.sample(&mut rng) as u64),
                browser: Some(browser.to_owned()),
                os: Some(os.to_owned()),
                country: Some(COUNTRIES[*country].0.to_owned()),
                event_time_ms: START_MS + (i as f64 * 1000.0 / rate_per_sec) as i64,
                clock_skew_ms: None,
            }
        })
        .collect()
}

/// The producer's path scheme: a few fixed pages for the most popular ranks, then catalogue
/// pages.
fn page_url(rank: u64) -> String {
    const FIXED: &[&str] = &["/", "/products", "/search", "/cart", "/blog", "/about"];
    match rank.checked_sub(1).and_then(|i| FIXED.get(i as usize)) {
        Some(path) => (*path).to_owned(),
        None if rank.is_multiple_of(5) => format!("/blog/post-{rank}"),
        None if rank.is_multiple_of(7) => format!("/category/{rank}"),
        None => format!("/products/{rank}"),
    }
}

fn uuid(rng: &mut ChaCha8Rng) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// The events' Kafka record values, as the producer writes them ([`WebEvent::to_json`]).
pub fn wire_records(events: &[WebEvent]) -> Vec<Vec<u8>> {
    events
        .iter()
        .map(|e| {
            e.to_json()
                .expect("fixture event times are in range")
                .into_bytes()
        })
        .collect()
}

/// The same records with `event_time` as epoch milliseconds (the other accepted form).
pub fn wire_records_epoch_ms(events: &[WebEvent]) -> Vec<Vec<u8>> {
    events
        .iter()
        .map(|e| {
            let mut v = serde_json::to_value(e).expect("a WebEvent serialises");
            v["event_time"] = serde_json::Value::from(e.event_time_ms);
            v.to_string().into_bytes()
        })
        .collect()
}

/// One record of each kind `events::parse` rejects, with a name for the bench report: not
/// JSON, truncated, not an object, invalid UTF-8, oversize, a missing field, a wrong type, an
/// empty field, a bad country and a bad event time (all built from a valid record).
pub fn malformed_records() -> Vec<(&'static str, Vec<u8>)> {
    let valid =
        String::from_utf8(wire_records(&events(1, 1000.0, 7)).remove(0)).expect("to_json is UTF-8");
    let replace = |from: &str, to: &str| valid.replacen(from, to, 1).into_bytes();
    let mut invalid_utf8 = valid.clone().into_bytes();
    invalid_utf8[20] = 0xff;
    let mut oversize = valid.clone().into_bytes();
    oversize.resize(events::MAX_EVENT_BYTES + 1, b' ');
    vec![
        ("not_json", b"GET /collect HTTP/1.1".to_vec()),
        ("truncated", valid.as_bytes()[..valid.len() / 2].to_vec()),
        ("not_object", b"[1, 2, 3]".to_vec()),
        ("invalid_utf8", invalid_utf8),
        ("oversize", oversize),
        ("missing_field", replace("\"user_id\"", "\"user_ident\"")),
        (
            "wrong_type",
            replace("\"event_type\":\"", "\"event_type\":7,\"x\":\""),
        ),
        (
            "empty_field",
            replace("\"session_id\":\"", "\"session_id\":\"\",\"x\":\""),
        ),
        (
            "invalid_country",
            replace("\"country\":\"", "\"country\":\"x"),
        ),
        (
            "invalid_event_time",
            replace("\"event_time\":\"2", "\"event_time\":\"x"),
        ),
    ]
}

/// A `raw_web_events` batch of `events` ([`hive::Table::RawWebEvents`] columns).
pub fn raw_web_events_batch(events: &[WebEvent]) -> RecordBatch {
    let strings = |f: fn(&WebEvent) -> Option<&str>| -> ArrayRef {
        Arc::new(events.iter().map(f).collect::<StringArray>())
    };
    let columns = vec![
        strings(|e| Some(&e.event_id)),
        strings(|e| Some(&e.user_id)),
        strings(|e| Some(&e.session_id)),
        strings(|e| Some(&e.event_type)),
        strings(|e| Some(&e.page_url)),
        strings(|e| e.browser.as_deref()),
        strings(|e| e.os.as_deref()),
        strings(|e| e.country.as_deref()),
        Arc::new(TimestampMillisecondArray::from_iter_values(
            events.iter().map(|e| e.event_time_ms),
        )) as ArrayRef,
        Arc::new(
            events
                .iter()
                .map(|e| e.clock_skew_ms)
                .collect::<Int64Array>(),
        ) as ArrayRef,
    ];
    RecordBatch::try_new(hive::Table::RawWebEvents.arrow_schema(), columns)
        .expect("the fixture columns match raw_web_events")
}

/// The `page_analytics` rows of `events` in 1-minute tumbling windows (one row per page,
/// event type and window, sorted), as one batch ([`hive::Table::PageAnalytics`] columns).
pub fn page_analytics_batch(events: &[WebEvent]) -> RecordBatch {
    const MINUTE: i64 = 60_000;
    let mut counts: BTreeMap<(i64, &str, &str), i64> = BTreeMap::new();
    for e in events {
        let start = e.event_time_ms.div_euclid(MINUTE) * MINUTE;
        *counts
            .entry((start, &e.page_url, &e.event_type))
            .or_default() += 1;
    }
    let rows: Vec<_> = counts.into_iter().collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(rows.iter().map(|r| Some(r.0 .1)).collect::<StringArray>()),
        Arc::new(rows.iter().map(|r| Some(r.0 .2)).collect::<StringArray>()),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
        Arc::new(TimestampMillisecondArray::from_iter_values(
            rows.iter().map(|r| r.0 .0),
        )),
        Arc::new(TimestampMillisecondArray::from_iter_values(
            rows.iter().map(|r| r.0 .0 + MINUTE),
        )),
    ];
    RecordBatch::try_new(hive::Table::PageAnalytics.arrow_schema(), columns)
        .expect("the fixture columns match page_analytics")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_parse_as_the_producer_sends_them() {
        let evs = events(500, 50_000.0, 1);
        for (record, event) in wire_records(&evs).iter().zip(&evs) {
            assert_eq!(&events::parse(record).unwrap(), event);
        }
        for (record, event) in wire_records_epoch_ms(&evs).iter().zip(&evs) {
            assert_eq!(&events::parse(record).unwrap(), event);
        }
        assert_eq!(events(50, 1000.0, 3), events(50, 1000.0, 3));
    }

    #[test]
    fn every_malformed_record_is_rejected_for_its_reason() {
        for (name, record) in malformed_records() {
            let rejection = events::parse(&record).unwrap_err();
            let expected = match name {
                "truncated" => "not_json",
                other => other,
            };
            assert_eq!(rejection.reason.as_str(), expected, "{name}");
        }
    }

    #[test]
    fn batches_fit_the_tables() {
        let evs = events(2_000, 100.0, 1);
        assert_eq!(raw_web_events_batch(&evs).num_rows(), 2_000);
        let agg = page_analytics_batch(&evs);
        let total: i64 = agg
            .column(2)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .iter()
            .flatten()
            .sum();
        assert_eq!(total, 2_000);
        assert!(agg.num_rows() < 2_000);
    }
}
