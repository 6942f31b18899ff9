//! The real `wa-producer` binary against the local real Kafka:
//! - `simulate --events N --seed S` puts exactly N valid records on a fresh topic, equal to
//!   its `--log`, keyed by session, timestamped with the ingestion time its schedule gives
//!   (`--start-time` + slot offset, never before the event time); the same seed and flags
//!   give the same log byte for byte.
//! - `serve` answers malformed and oversize requests with the right status and stays up;
//!   valid events (also those next to invalid ones) reach Kafka, with ids, times, browser and
//!   os filled in, timestamped with the request's receipt time — also events whose time is
//!   years ahead, which Kafka would refuse as record timestamps; a full Kafka queue is
//!   answered 503 with `Retry-After`.
//! - In headless Chromium, `collect.js` beacons reach Kafka; a page whose clock is 3 days
//!   ahead has its events corrected onto the collector's clock (`clock_skew_ms` ≈ −3 days); a
//!   beacon re-sent after a lost response keeps its `event_id`.

#![allow(clippy::unwrap_used)] // a test fails by panicking

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use reqwest::StatusCode;
use wa_tests::{
    create_topic, kafka_config, simulate_command, stack, unique_name, Collector, Stack,
};

/// A Kafka record as the tests compare it.
type Record = wa_tests::oracle::TopicRecord;

/// Every record of `topic` (all partitions, sorted by partition and offset), after checking
/// from the partitions' watermarks that there are exactly `expected` of them (waiting up to
/// 30 s for them to arrive).
fn read_topic(s: &Stack, topic: &str, expected: usize) -> Vec<Record> {
    let consumer: BaseConsumer = kafka_config(s).create().unwrap();
    // Producers deliver asynchronously: wait (at most 30 s) for the records to be there.
    let deadline = Instant::now() + Duration::from_secs(30);
    while records_on(&consumer, topic) < expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(records_on(&consumer, topic), expected, "records on {topic}");
    let records = wa_tests::read_topic(s, topic).unwrap();
    assert_eq!(records.len(), expected, "records consumed from {topic}");
    records
}

/// Number of records on `topic`: the sum over its partitions of high − low watermark.
fn records_on(consumer: &BaseConsumer, topic: &str) -> usize {
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    let mut total = 0;
    for partition in metadata.topics()[0].partitions() {
        let (low, high) = consumer
            .fetch_watermarks(topic, partition.id(), Duration::from_secs(10))
            .unwrap();
        total += high - low;
    }
    total as usize
}

/// Runs `wa-producer simulate` to the end and returns its log.
fn simulate(s: &Stack, topic: &str, log: &Path, extra: &[&str]) -> String {
    let output = simulate_command(&s.kafka_brokers, topic)
        .arg("--log")
        .arg(log)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "simulate failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::read_to_string(log).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn simulate_puts_exactly_n_valid_records_matching_its_log() {
    let s = stack();
    let _claim = s.shared();
    let topic = unique_name("producer_sim");
    create_topic(s, &topic, 3).await.unwrap();
    let dir = std::env::temp_dir().join(unique_name("producer_sim"));
    std::fs::create_dir_all(&dir).unwrap();
    let n = 3_000;

    let flags = [
        "--events",
        "3000",
        "--seed",
        "42",
        "--rate",
        "3000",
        "--start-time",
        "2026-11-30T04:00:00Z",
        "--out-of-order",
        "500ms",
    ];
    let log = simulate(s, &topic, &dir.join("a.ndjson"), &flags);
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), n);

    let records = read_topic(s, &topic, n);
    // The topic holds exactly the logged events (as multisets of values).
    let mut logged: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
    let mut sent: Vec<&[u8]> = records.iter().map(|r| r.value.as_slice()).collect();
    logged.sort();
    sent.sort();
    assert!(logged == sent, "topic content differs from the log");

    // Every record valid, keyed by its session, timestamped with its slot's ingestion time
    // (start + i × 1000 / rate, the generator's schedule) which is never before its event
    // time, and each session's events in log order within one partition.
    let log_position: BTreeMap<&[u8], usize> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_bytes(), i))
        .collect();
    assert_eq!(log_position.len(), n, "duplicate lines in the log");
    let mut last_of_session: BTreeMap<Option<Vec<u8>>, (i32, usize)> = BTreeMap::new();
    for record in &records {
        let event = events::parse(&record.value).unwrap();
        assert_eq!(record.key.as_deref(), Some(event.session_id.as_bytes()));
        let position = log_position[record.value.as_slice()];
        // 3000 events/s from 2026-11-30T04:00:00Z: slot i at floor(i / 3) ms.
        let scheduled = START_2026_11_30_04 + position as i64 / 3;
        assert_eq!(record.timestamp_ms, Some(scheduled), "event {position}");
        assert!(
            (0..=500).contains(&(scheduled - event.event_time_ms)),
            "event {position}: event time {} vs ingestion time {scheduled}",
            event.event_time_ms
        );
        if let Some((partition, previous)) =
            last_of_session.insert(record.key.clone(), (record.partition, position))
        {
            assert_eq!(partition, record.partition, "a session spans partitions");
            assert!(previous < position, "a session's events were reordered");
        }
    }
    let partitions: std::collections::BTreeSet<i32> = records.iter().map(|r| r.partition).collect();
    assert_eq!(
        partitions.len(),
        3,
        "sessions did not spread over partitions"
    );
    let page_views = records
        .iter()
        .filter(|r| events::parse(&r.value).unwrap().event_type == "page_view")
        .count();
    assert!(page_views > n / 5, "{page_views} page views");

    std::fs::remove_dir_all(&dir).unwrap();
}

/// 2026-11-30T04:00:00Z, UTC epoch ms.
const START_2026_11_30_04: i64 = 1_796_011_200_000;

#[tokio::test(flavor = "multi_thread")]
async fn same_seed_and_flags_give_the_same_log_byte_for_byte() {
    let s = stack();
    let _claim = s.shared();
    let topic = unique_name("producer_seed");
    create_topic(s, &topic, 2).await.unwrap();
    let dir = std::env::temp_dir().join(unique_name("producer_seed"));
    std::fs::create_dir_all(&dir).unwrap();
    let flags = |seed: &'static str| {
        [
            "--duration",
            "500ms",
            "--rate",
            "2000",
            "--seed",
            seed,
            "--start-time",
            "1796011200000",
            "--out-of-order",
            "300ms",
        ]
    };

    let first = simulate(s, &topic, &dir.join("1.ndjson"), &flags("7"));
    let second = simulate(s, &topic, &dir.join("2.ndjson"), &flags("7"));
    let other = simulate(s, &topic, &dir.join("3.ndjson"), &flags("8"));
    // --duration 500ms at 2000/s = 1000 events.
    assert_eq!(first.lines().count(), 1_000);
    assert!(first == second, "same seed, different logs");
    assert!(first != other, "different seeds, same log");
    assert!(first.starts_with(r#"{"event_id":""#));
    assert!(first.contains(r#""event_time":"2026-11-30T04:00:00.000Z""#));
    // Same seed and start: the same records with the same timestamps (the schedule's).
    let records = read_topic(s, &topic, 3_000);
    let timestamps = |log: &str| -> Vec<(Vec<u8>, Option<i64>)> {
        let lines: std::collections::BTreeSet<&[u8]> = log.lines().map(str::as_bytes).collect();
        let mut found: Vec<_> = records
            .iter()
            .filter(|r| lines.contains(r.value.as_slice()))
            .map(|r| (r.value.clone(), r.timestamp_ms))
            .collect();
        found.sort();
        found
    };
    let (first_ts, other_ts) = (timestamps(&first), timestamps(&other));
    // The first and second runs sent the same values: each appears twice, same timestamp.
    assert_eq!(first_ts.len(), 2_000);
    for pair in first_ts.chunks(2) {
        assert_eq!(
            pair[0], pair[1],
            "a repeated run stamped an event differently"
        );
    }
    let range = |ts: &[(Vec<u8>, Option<i64>)]| {
        let all: Vec<i64> = ts.iter().map(|(_, t)| t.unwrap()).collect();
        (*all.iter().min().unwrap(), *all.iter().max().unwrap())
    };
    // 2000/s for 500 ms from 1796011200000: slots at 0..=499 ms.
    assert_eq!(range(&first_ts), (1_796_011_200_000, 1_796_011_200_499));
    assert_eq!(range(&other_ts), (1_796_011_200_000, 1_796_011_200_499));

    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn simulate_to_a_missing_topic_fails_fast_with_a_clear_error() {
    let s = stack();
    let _claim = s.shared();
    let topic = unique_name("producer_missing");
    let began = Instant::now();
    let output = simulate_command(&s.kafka_brokers, &topic)
        .args(["--events", "10", "--seed", "1"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("Kafka topic {topic} does not exist")),
        "{stderr}"
    );
    assert!(
        began.elapsed() < Duration::from_secs(20),
        "took {:?}",
        began.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn late_events_follow_the_documented_rule_and_reach_kafka_with_their_time() {
    let s = stack();
    let _claim = s.shared();
    let topic = unique_name("producer_late");
    create_topic(s, &topic, 2).await.unwrap();
    let dir = std::env::temp_dir().join(unique_name("producer_late"));
    std::fs::create_dir_all(&dir).unwrap();
    // 2000/s for 10 000 events (5 s); late events 1 s old, from stream time 2 s (event 4000).
    let flags = [
        "--events",
        "10000",
        "--rate",
        "2000",
        "--seed",
        "3",
        "--late-fraction",
        "0.1",
        "--late-by",
        "1s",
        "--out-of-order",
        "100ms",
    ];
    let log = simulate(s, &topic, &dir.join("late.ndjson"), &flags);
    let times: Vec<i64> = log
        .lines()
        .map(|l| events::parse(l.as_bytes()).unwrap().event_time_ms)
        .collect();
    assert_eq!(times.len(), 10_000);
    // The rule of the generator's doc: late iff more than late_by_ms / 2 below the largest
    // event time logged before it.
    let mut max_before = i64::MIN;
    let mut late = Vec::new();
    for (i, &t) in times.iter().enumerate() {
        if max_before != i64::MIN && t < max_before - 500 {
            late.push(i);
            assert!(
                max_before - t >= 1_000 - 100 - 1,
                "event {i} late by {}",
                max_before - t
            );
        } else {
            max_before = max_before.max(t);
        }
    }
    assert!(
        late.iter().all(|&i| i >= 4_000),
        "a late event before 2 × late_by_ms"
    );
    // ~10 % of the 6000 events from 4000 on.
    assert!(
        (450..750).contains(&late.len()),
        "{} late events",
        late.len()
    );
    // On Kafka, late events keep their event time in the value, and their record timestamp
    // is their ingestion time: exactly late_by_ms (1 s) after the event time, where on-time
    // events are at most the jitter (100 ms) behind theirs.
    let records = read_topic(s, &topic, 10_000);
    let mut late_on_kafka = 0;
    for record in &records {
        let event = events::parse(&record.value).unwrap();
        let behind = record.timestamp_ms.unwrap() - event.event_time_ms;
        assert!(
            behind == 1_000 || (0..=100).contains(&behind),
            "record timestamp {behind} ms after the event time"
        );
        late_on_kafka += usize::from(behind == 1_000);
    }
    assert_eq!(late_on_kafka, late.len(), "late events on Kafka");

    std::fs::remove_dir_all(&dir).unwrap();
}

const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

fn event(n: u32) -> String {
    format!(
        r#"{{"event_id":"ev-{n}","user_id":"u-1","session_id":"s-{n}","event_type":"click","page_url":"/p/{n}","event_time":"2026-11-30T04:00:00.{n:03}Z"}}"#
    )
}

async fn post(
    client: &reqwest::Client,
    c: &Collector,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, String, Option<String>) {
    let response = client
        .post(format!("{}/collect", c.base))
        .header("user-agent", UA)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, response.text().await.unwrap(), retry_after)
}

#[tokio::test(flavor = "multi_thread")]
async fn collector_answers_bad_requests_and_stays_up() {
    let s = stack();
    let _claim = s.shared();
    let topic = unique_name("producer_collect");
    create_topic(s, &topic, 2).await.unwrap();
    let mut c = Collector::start(&s.kafka_brokers, &topic, &[])
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let began = now_ms();

    // Valid: one event without id and time (filled), an array, NDJSON.
    let bare =
        r#"{"user_id":"u-9","session_id":"s-9","event_type":"page_view","page_url":"/home"}"#;
    assert_eq!(post(&client, &c, bare).await.0, StatusCode::NO_CONTENT);
    let array = format!("[{}, {}]", event(1), event(2));
    assert_eq!(post(&client, &c, array).await.0, StatusCode::NO_CONTENT);
    let ndjson = format!("{}\n{}\r\n\n{}\n", event(3), event(4), event(5));
    assert_eq!(post(&client, &c, ndjson).await.0, StatusCode::NO_CONTENT);

    // A batch with invalid items: 400 naming them, the valid ones still sent.
    let mixed = format!(
        r#"[{}, {{"user_id":"u"}}, 42, {}]"#,
        event(6),
        event(7).replace(r#""page_url":"/p/7""#, r#""page_url":7"#)
    );
    let (status, body, _) = post(&client, &c, mixed).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["accepted"], 1);
    assert_eq!(body["rejected_count"], 3);
    let reasons: Vec<(u64, &str)> = body["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        reasons,
        [(1, "missing_field"), (2, "not_object"), (3, "wrong_type")]
    );

    // Malformed bodies: 400 with the reason.
    let deep = "[".repeat(60_000);
    let mut bad_utf8 = event(8).into_bytes();
    bad_utf8[20] = 0xff;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("not JSON", b"hello world".to_vec(), "not_json"),
        ("empty", Vec::new(), "not_json"),
        ("invalid UTF-8", bad_utf8, "invalid_utf8"),
        ("deeply nested", deep.into_bytes(), "not_json"),
        (
            "array of garbage",
            br#"[1, "x", null, [], {}]"#.to_vec(),
            "not_object",
        ),
        (
            "event over 64 KiB",
            event(9).replace("/p/9", &"/x".repeat(40_000)).into_bytes(),
            "oversize",
        ),
        (
            "odd event_time",
            event(10)
                .replace("2026-11-30T04:00:00.010Z", "30/11/2026")
                .into_bytes(),
            "invalid_event_time",
        ),
        (
            "odd sent_at",
            event(11).replace('}', r#","sent_at":"soon"}"#).into_bytes(),
            "invalid_event_time",
        ),
        (
            "sent_at of the wrong type",
            event(12).replace('}', r#","sent_at":[1]}"#).into_bytes(),
            "wrong_type",
        ),
    ];
    for (name, body, reason) in cases {
        let (status, text, _) = post(&client, &c, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {text}");
        let text: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(text["rejected"][0]["reason"], reason, "{name}");
        if name.contains("sent_at") {
            assert_eq!(text["rejected"][0]["field"], "sent_at", "{name}");
        }
        c.assert_running();
    }

    // Over the 1 MiB default body limit: 413, with or without a Content-Length.
    // (Over a raw connection: the collector answers as soon as it knows, without reading
    // the rest, which an HTTP client library reports as a broken pipe instead of the answer.)
    for (framing, size) in [
        (Framing::ContentLength, 1024 * 1024 + 1),
        (Framing::ContentLength, 10 * 1024 * 1024),
        (Framing::Chunked, 2 * 1024 * 1024),
    ] {
        let status_line = post_raw(&c, framing, size).await;
        assert!(
            status_line.starts_with("HTTP/1.1 413"),
            "{framing:?} {size} bytes: {status_line}"
        );
        c.assert_running();
    }
    // Exactly at the limit is read (and rejected as empty JSON, not as too large).
    let (status, _, _) = post(&client, &c, vec![b' '; 1024 * 1024]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Still up; the other routes answer.
    c.assert_running();
    let health = reqwest::get(format!("{}/health", c.base)).await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let script = reqwest::get(format!("{}/collect.js", c.base))
        .await
        .unwrap();
    assert_eq!(script.status(), StatusCode::OK);
    assert!(script.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(script.text().await.unwrap().contains("sendBeacon"));
    let preflight = client
        .request(reqwest::Method::OPTIONS, format!("{}/collect", c.base))
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    // Metrics are for operators, on their own address, not on the public port.
    let public = reqwest::get(format!("{}/metrics", c.base)).await.unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
    let metrics = reqwest::get(format!("{}/metrics", c.operators))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"wa_producer_events_rejected_total{reason="not_json"} 4"#),
        "{metrics}"
    );

    // Exactly the 7 valid events reached Kafka, filled and mapped, timestamped with the time
    // their request was received (not their event time, 2026-11-30).
    let ended = now_ms();
    let records = read_topic(s, &topic, 7);
    let events: Vec<events::WebEvent> = records
        .iter()
        .map(|r| events::parse(&r.value).unwrap())
        .collect();
    let mut ids: Vec<&str> = events
        .iter()
        .map(|e| e.event_id.as_str())
        .filter(|id| id.starts_with("ev-"))
        .collect();
    ids.sort();
    let filled = events.iter().find(|e| e.session_id == "s-9").unwrap();
    assert!(uuid::Uuid::parse_str(&filled.event_id).is_ok());
    assert!((filled.event_time_ms - now_ms()).abs() < 120_000);
    assert_eq!(ids, ["ev-1", "ev-2", "ev-3", "ev-4", "ev-5", "ev-6"]);
    for (event, record) in events.iter().zip(&records) {
        assert_eq!(event.browser.as_deref(), Some("Chrome"));
        assert_eq!(event.os.as_deref(), Some("Linux"));
        assert_eq!(record.key.as_deref(), Some(event.session_id.as_bytes()));
        let ts = record.timestamp_ms.unwrap();
        assert!(
            (began..=ended).contains(&ts),
            "{ts} not in {began}..={ended}"
        );
        assert_eq!(event.clock_skew_ms, None, "corrected without sent_at");
    }
    c.assert_running();
}

#[tokio::test(flavor = "multi_thread")]
async fn collector_timestamps_records_with_the_receipt_time_even_for_far_future_events() {
    let s = stack();
    let _claim = s.shared();
    let topic = unique_name("producer_future");
    create_topic(s, &topic, 1).await.unwrap();
    let c = Collector::start(&s.kafka_brokers, &topic, &[])
        .await
        .unwrap();
    let client = reqwest::Client::new();
    // 2038-01-19T03:14:08Z (one second past 32-bit time), and one day ahead of now: Kafka
    // refuses record timestamps more than 1 h ahead (log.message.timestamp.after.max.ms), so
    // these are accepted only because the timestamp is the receipt time.
    let y2038 = 2_147_483_648_000;
    let tomorrow = now_ms() + 86_400_000;
    let mut windows = BTreeMap::new();
    for (id, time) in [
        ("ev-2038", "\"2038-01-19T03:14:08Z\"".to_owned()),
        (
            "ev-tomorrow",
            format!("\"{}\"", events::format_event_time(tomorrow).unwrap()),
        ),
    ] {
        let beacon = format!(
            r#"{{"event_id":"{id}","user_id":"u","session_id":"s-{id}","event_type":"page_view","page_url":"/","event_time":{time}}}"#
        );
        let before = now_ms();
        let (status, body, _) = post(&client, &c, beacon).await;
        let after = now_ms();
        assert_eq!(status, StatusCode::NO_CONTENT, "{id}: {body}");
        windows.insert(id.to_owned(), (before, after));
    }
    let records = read_topic(s, &topic, 2);
    for record in &records {
        let event = events::parse(&record.value).unwrap();
        let (before, after) = windows[&event.event_id];
        let ts = record.timestamp_ms.unwrap();
        assert!(
            (before..=after).contains(&ts),
            "{}: timestamp {ts} outside the request's {before}..={after}",
            event.event_id
        );
        let want = if event.event_id == "ev-2038" {
            y2038
        } else {
            tomorrow
        };
        assert_eq!(
            event.event_time_ms, want,
            "the event time is kept in the value"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn collector_answers_503_with_retry_after_when_the_kafka_queue_is_full() {
    let s = stack();
    let _claim = s.shared();
    // A broker nobody listens on: nothing drains librdkafka's queue of 2 records.
    let mut c = Collector::start(
        "127.0.0.1:1",
        "unreachable",
        &["-X", "queue.buffering.max.messages=2"],
    )
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let ndjson: String = (1..=5).map(|n| event(n) + "\n").collect();
    let (status, body, retry_after) = post(&client, &c, ndjson).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(retry_after.as_deref(), Some("1"));
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["accepted"], 2);
    c.assert_running();
    let health = reqwest::get(format!("{}/health", c.base)).await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

/// What a headless-Chromium run of the test page left on Kafka.
struct BrowserRun {
    /// The browser's `navigator.userAgent`.
    user_agent: String,
    /// The records on the topic, each with its value as JSON (keeps `sent_at`) and as event.
    records: Vec<(Record, serde_json::Value, events::WebEvent)>,
    /// Wall clock (UTC epoch ms) when the browser started and when it had finished.
    began_ms: i64,
    ended_ms: i64,
}

/// Serves a test page that includes the collector's `collect.js` (from another origin, as on a
/// real site), runs `tests/browser/beacon.mjs` on it with `options` (load, click, scroll) and
/// returns the records on `topic` once at least `min_records` are there (at most 30 s).
async fn browse(
    s: &Stack,
    c: &Collector,
    topic: &str,
    options: &[&str],
    min_records: usize,
) -> BrowserRun {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run `npm ci --prefix tests/browser` \
         (and `apt-get install chromium` for /usr/bin/chromium)"
    );
    let page = format!(
        "<!doctype html><html><head><title>shop</title>\
         <script src=\"{}/collect.js\" async></script></head>\
         <body><button id=\"buy\">Buy</button><div style=\"height:6000px\"></div></body></html>",
        c.base
    );
    let site = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let page_url = format!("http://{}/shop", site.local_addr().unwrap());
    let server = tokio::spawn(wa_tests::web::serve_page(site, page));

    let began_ms = now_ms();
    let output = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new("node")
            .arg(browser_dir.join("beacon.mjs"))
            .arg(&page_url)
            .args(options)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the browser did not finish within 120 s")
    .expect("running node (install nodejs)");
    server.abort();
    assert!(
        output.status.success(),
        "beacon.mjs failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let ended_ms = now_ms();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();

    let consumer: BaseConsumer = kafka_config(s).create().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while records_on(&consumer, topic) < min_records && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let records = read_topic(s, topic, records_on(&consumer, topic))
        .into_iter()
        .map(|r| {
            let json = serde_json::from_slice(&r.value).unwrap();
            let event = events::parse(&r.value).unwrap();
            (r, json, event)
        })
        .collect();
    BrowserRun {
        user_agent: report["user_agent"].as_str().unwrap().to_owned(),
        records,
        began_ms,
        ended_ms,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn headless_chromium_sends_beacons_that_reach_kafka() {
    let s = stack();
    let _claim = s.shared();
    let topic = unique_name("producer_browser");
    create_topic(s, &topic, 1).await.unwrap();
    let c = Collector::start(&s.kafka_brokers, &topic, &[])
        .await
        .unwrap();
    let run = browse(s, &c, &topic, &[], 3).await;
    assert!(
        run.user_agent.contains("Chrome/") && run.user_agent.contains("Linux"),
        "{}",
        run.user_agent
    );

    // page_view, click and scroll arrive, with the user agent mapped to browser and os, a
    // UUID v4 made by the page, and sent_at; a right clock needs next to no correction.
    let events: Vec<&events::WebEvent> = run.records.iter().map(|(_, _, e)| e).collect();
    let types: std::collections::BTreeSet<&str> =
        events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        ["click", "page_view", "scroll"].into_iter().collect(),
        "{events:?}"
    );
    for (record, json, event) in &run.records {
        assert_eq!(event.browser.as_deref(), Some("Chrome"));
        assert_eq!(event.os.as_deref(), Some("Linux"));
        assert_eq!(event.page_url, "/shop");
        assert_eq!(event.session_id, events[0].session_id);
        let id = uuid::Uuid::parse_str(&event.event_id).unwrap();
        assert_eq!(id.get_version_num(), 4, "{id}");
        assert!((event.event_time_ms - now_ms()).abs() < 120_000);
        assert!(json["sent_at"].is_i64(), "{json}");
        let skew = event.clock_skew_ms.expect("corrected with sent_at");
        assert!(skew.abs() < 5_000, "clock skew {skew} ms on one machine");
        let ts = record.timestamp_ms.unwrap();
        assert!((run.began_ms..=run.ended_ms).contains(&ts));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_browser_clock_three_days_ahead_is_corrected_at_the_collector() {
    const THREE_DAYS_MS: i64 = 3 * 86_400_000;
    let s = stack();
    let _claim = s.shared();
    let topic = unique_name("producer_skew");
    create_topic(s, &topic, 1).await.unwrap();
    let c = Collector::start(&s.kafka_brokers, &topic, &[])
        .await
        .unwrap();
    let run = browse(
        s,
        &c,
        &topic,
        &[&format!("--clock-offset-ms={THREE_DAYS_MS}")],
        3,
    )
    .await;
    assert!(run.records.len() >= 3, "{} records", run.records.len());
    for (record, json, event) in &run.records {
        // The page sent times 3 days ahead (sent_at is kept as sent)…
        let sent_at = json["sent_at"].as_i64().unwrap();
        assert!(
            (sent_at - THREE_DAYS_MS - run.began_ms) > -5_000
                && sent_at - THREE_DAYS_MS <= run.ended_ms + 5_000,
            "sent_at {sent_at} is not 3 days ahead"
        );
        // …and the collector put the events back on the real clock.
        let skew = event.clock_skew_ms.expect("corrected");
        assert!(
            (skew + THREE_DAYS_MS).abs() < 5_000,
            "clock_skew_ms {skew}, expected about -{THREE_DAYS_MS}"
        );
        assert!(
            event.event_time_ms >= run.began_ms - 5_000
                && event.event_time_ms <= run.ended_ms + 5_000,
            "{}: event time {} not within a few seconds of the real time {}..={}",
            event.event_type,
            event.event_time_ms,
            run.began_ms,
            run.ended_ms
        );
        let ts = record.timestamp_ms.unwrap();
        assert!((run.began_ms..=run.ended_ms).contains(&ts));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_beacon_re_sent_after_a_lost_response_keeps_its_event_id() {
    let s = stack();
    let _claim = s.shared();
    let topic = unique_name("producer_resend");
    create_topic(s, &topic, 1).await.unwrap();
    let c = Collector::start(&s.kafka_brokers, &topic, &[])
        .await
        .unwrap();
    // The first fetch (the page_view) reaches the collector, but its response is lost:
    // collect.js sends it again 1 s later.
    let run = browse(s, &c, &topic, &["--lose-first-response"], 4).await;
    let mut by_id: BTreeMap<&str, Vec<&serde_json::Value>> = BTreeMap::new();
    for (_, json, event) in &run.records {
        by_id.entry(event.event_id.as_str()).or_default().push(json);
    }
    let sent_twice: Vec<(&&str, &Vec<&serde_json::Value>)> = by_id
        .iter()
        .filter(|(_, copies)| copies.len() > 1)
        .collect();
    assert_eq!(
        sent_twice.len(),
        1,
        "exactly one event should be re-sent: {:?}",
        run.records.iter().map(|(_, j, _)| j).collect::<Vec<_>>()
    );
    let (id, copies) = sent_twice[0];
    assert_eq!(copies.len(), 2, "{id} sent {} times", copies.len());
    assert!(uuid::Uuid::parse_str(id).is_ok());
    assert_eq!(copies[0]["event_type"], "page_view");
    for field in ["event_type", "session_id", "user_id", "page_url"] {
        assert_eq!(copies[0][field], copies[1][field], "{field}");
    }
    // Each attempt says when it left: the re-send about 1 s after the first.
    let sent_at: Vec<i64> = copies
        .iter()
        .map(|c| c["sent_at"].as_i64().unwrap())
        .collect();
    assert!(
        (sent_at[1] - sent_at[0]).abs() >= 900,
        "sent_at of the two attempts: {sent_at:?}"
    );
    // click and scroll, sent once each, arrived too.
    let types: std::collections::BTreeSet<&str> = run
        .records
        .iter()
        .map(|(_, _, e)| e.event_type.as_str())
        .collect();
    assert_eq!(
        types,
        ["click", "page_view", "scroll"].into_iter().collect()
    );
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// How [`post_raw`] frames its body.
#[derive(Debug, Clone, Copy)]
enum Framing {
    /// `Content-Length`: the collector can refuse it before reading.
    ContentLength,
    /// `Transfer-Encoding: chunked`: the limit can only be found while reading.
    Chunked,
}

/// POSTs `size` spaces to `/collect` over a raw connection and returns the response's status
/// line. The response is read while the body is still being written, since the collector may
/// answer (and close) before reading it all.
async fn post_raw(c: &Collector, framing: Framing, size: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = c.base.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let response = tokio::spawn(async move {
        let mut response = Vec::new();
        // A reset after the response arrived is fine: the status line is what counts.
        let _ = reader.read_to_end(&mut response).await;
        response
    });
    let framing_header = match framing {
        Framing::ContentLength => format!("Content-Length: {size}"),
        Framing::Chunked => "Transfer-Encoding: chunked".to_owned(),
    };
    let head = format!(
        "POST /collect HTTP/1.1\r\nHost: {address}\r\n{framing_header}\r\nConnection: close\r\n\r\n"
    );
    let piece = 64 * 1024;
    let mut written = writer.write_all(head.as_bytes()).await.is_ok();
    let mut left = size;
    while written && left > 0 {
        let n = left.min(piece);
        let data = match framing {
            Framing::ContentLength => vec![b' '; n],
            Framing::Chunked => format!("{n:x}\r\n{}\r\n", " ".repeat(n)).into_bytes(),
        };
        // The collector may answer and close before the whole body is written.
        written = writer.write_all(&data).await.is_ok();
        left -= n;
    }
    if written {
        if let Framing::Chunked = framing {
            let _ = writer.write_all(b"0\r\n\r\n").await;
        }
    }
    let response = tokio::time::timeout(Duration::from_secs(30), response)
        .await
        .expect("no response within 30 s")
        .unwrap();
    let text = String::from_utf8_lossy(&response);
    text.lines().next().unwrap_or_default().to_owned()
}
