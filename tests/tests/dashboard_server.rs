//! `wa-dashboard` against the local real Kafka, on a results topic of its own:
//! - started before its topic exists, it answers `/health` and waits for the topic;
//! - hand-written feed records in the results feed's format (a re-sent duplicate, rows the
//!   page does not show, a malformed record among them) give exactly the expected windows,
//!   top pages, sessions and bounce rate in `/api/snapshot`, and the malformed record is
//!   counted, not fatal;
//! - `/events` sends a snapshot on connect, and one showing a new window within 1 s of the
//!   new record's acknowledgement;
//! - a metrics endpoint serving a page captured from `wa-dataflow` gives the partitions,
//!   watermarks, checkpoint frontier and late/rejected counts; a URL where nothing listens is
//!   `up: false` with an error; and when the endpoint goes away, it becomes unreachable with
//!   its last figures kept;
//! - the page and its assets are served with ETags that answer `304`.

#![allow(clippy::unwrap_used)] // a test fails by panicking

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::producer::{FutureProducer, FutureRecord};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wa_tests::{binary, create_topic, free_port, kafka_config, stack, unique_name};

/// A `/metrics` page captured from a `wa-dataflow` process (two partitions, watermarks
/// `…128990` and `…128995`, checkpoint frontier `…128990`).
const CAPTURED_PAGE: &str = include_str!("../../dashboard/src/testdata/dataflow-metrics.txt");

/// Series that process had no occasion to write, in the exporter's form.
const MORE_SERIES: &str = "\
# TYPE wa_dataflow_late_total counter
wa_dataflow_late_total{reason=\"behind_watermark\"} 17
# TYPE wa_dataflow_rejected_total counter
wa_dataflow_rejected_total{reason=\"invalid_json\"} 2
wa_dataflow_rejected_total{reason=\"missing_field\"} 1
";

/// Start of the first window of the records: 2026-01-01T10:10:00Z.
const T: &str = "2026-01-01T10:1";

/// `2026-01-01T10:1M:00.000Z` for minute digit `m` (0–9 after ten past ten).
fn at(m: u32) -> String {
    format!("{T}{m}:00.000Z")
}

/// The dashboard process, killed on drop.
struct Dashboard {
    child: Child,
    base: String,
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Dashboard {
    async fn start(brokers: &str, topic: &str, metrics_urls: &str) -> Dashboard {
        let port = free_port();
        let child = Command::new(binary("wa-dashboard").unwrap())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--kafka-brokers", brokers])
            .args(["--results-topic", topic])
            .args(["--metrics-urls", metrics_urls])
            .args(["--scrape-interval", "300ms"])
            .args(["--history", "10m"])
            .env_remove("WA_KAFKA_PROPERTIES")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut dashboard = Dashboard {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = dashboard.child.try_wait().unwrap() {
                panic!("wa-dashboard exited at start: {status}");
            }
            if let Ok(r) = reqwest::get(format!("{}/health", dashboard.base)).await {
                assert_eq!(r.status(), StatusCode::OK);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "wa-dashboard not healthy within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        dashboard
    }

    async fn snapshot(&self) -> Value {
        let r = reqwest::get(format!("{}/api/snapshot", self.base))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
    }

    /// Polls the snapshot until `done` holds (30 s at most); returns it.
    async fn wait_for(&mut self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "wa-dashboard exited while waiting for {what}"
            );
            let snapshot = self.snapshot().await;
            if done(&snapshot) {
                return snapshot;
            }
            assert!(
                Instant::now() < deadline,
                "no snapshot with {what} within 30 s; last:\n{snapshot:#}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A tiny HTTP server answering every request with `page` as `text/plain`, until aborted.
async fn serve_metrics(page: String) -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                continue;
            };
            let page = page.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    (url, task)
}

/// A site row of `visitor_analytics` for the window starting at minute digit `m`.
fn site(m: u32, unique_visitors: u64, events: u64) -> (String, String) {
    let key = json!(["visitor_analytics", null, at(m), at(m + 1)]);
    let value = json!({"table": "visitor_analytics", "page_url": null, "window_start": at(m),
        "window_end": at(m + 1), "unique_visitors": unique_visitors, "events": events,
        "dt": "2026-01-01"});
    (key.to_string(), value.to_string())
}

fn page(m: u32, url: &str, event_type: &str, count: u64) -> (String, String) {
    let key = json!(["page_analytics", url, event_type, at(m), at(m + 1)]);
    let value = json!({"table": "page_analytics", "page_url": url, "event_type": event_type,
        "event_count": count, "window_start": at(m), "window_end": at(m + 1),
        "dt": "2026-01-01"});
    (key.to_string(), value.to_string())
}

fn session(id: &str, start: &str, is_bounce: bool) -> (String, String) {
    let key = json!(["sessions", id, start]);
    let value = json!({"table": "sessions", "session_id": id, "user_id": "u-1",
        "session_start": start, "session_end": start, "duration_ms": 0, "events": 1,
        "page_views": 1, "entry_page": "/a", "exit_page": "/a", "is_bounce": is_bounce,
        "browser": null, "os": null, "country": "FR", "dt": "2026-01-01"});
    (key.to_string(), value.to_string())
}

async fn send(producer: &FutureProducer, topic: &str, records: &[(String, String)]) {
    for (key, value) in records {
        producer
            .send(
                FutureRecord::to(topic).key(key).payload(value),
                Duration::from_secs(30),
            )
            .await
            .map_err(|(e, _)| e)
            .unwrap();
    }
}

/// Reads `/events` until a snapshot satisfies `done`; returns it and when it arrived.
async fn next_snapshot(
    events: &mut reqwest::Response,
    pending: &mut String,
    deadline: Instant,
    done: impl Fn(&Value) -> bool,
) -> (Value, Instant) {
    loop {
        while let Some(end) = pending.find("\n\n") {
            let block: String = pending.drain(..end + 2).collect();
            let mut name = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event:") {
                    name = Some(n.trim().to_owned());
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.strip_prefix(' ').unwrap_or(d));
                }
            }
            if name.as_deref() == Some("snapshot") {
                let snapshot: Value = serde_json::from_str(&data).unwrap();
                if done(&snapshot) {
                    return (snapshot, Instant::now());
                }
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, events.chunk())
            .await
            .expect("no matching snapshot on /events in time")
            .unwrap()
            .expect("/events ended");
        pending.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboard_serves_the_feed_and_the_processes_health() {
    let s = stack();
    let _claim = s.shared();
    let topic = unique_name("dashboard_feed");
    let (metrics_url, metrics_server) =
        serve_metrics(format!("{CAPTURED_PAGE}\n{MORE_SERIES}")).await;
    let nobody = format!("http://127.0.0.1:{}/metrics", free_port());
    let mut dashboard =
        Dashboard::start(&s.kafka_brokers, &topic, &format!("{metrics_url},{nobody}")).await;

    // Before the topic exists: serving, nothing read, the processes scraped.
    let snapshot = dashboard
        .wait_for("both processes scraped", |s| {
            s["health"]["processes"]
                .as_array()
                .is_some_and(|p| p.iter().all(|p| !p["since"].is_null()))
        })
        .await;
    assert_eq!(snapshot["edge"], Value::Null);
    assert_eq!(snapshot["windows"], json!([]));
    assert_eq!(snapshot["top_pages"], Value::Null);
    assert_eq!(snapshot["sessions"], Value::Null);
    assert_eq!(snapshot["feed"]["records"], 0);
    let processes = &snapshot["health"]["processes"];
    assert_eq!(processes[0]["url"], metrics_url.as_str());
    assert_eq!(processes[0]["up"], true);
    assert_eq!(processes[0]["error"], Value::Null);
    assert_eq!(processes[1]["url"], nobody.as_str());
    assert_eq!(processes[1]["up"], false);
    assert!(processes[1]["error"]
        .as_str()
        .is_some_and(|e| !e.is_empty()));
    let health = &snapshot["health"];
    assert_eq!(
        health["partitions"],
        json!([
            {"partition": "0", "watermark": "2026-12-07T06:32:08.990Z",
             "watermark_behind_ms": health["partitions"][0]["watermark_behind_ms"], "lag": 0},
            {"partition": "1", "watermark": "2026-12-07T06:32:08.995Z",
             "watermark_behind_ms": health["partitions"][1]["watermark_behind_ms"], "lag": 0},
        ])
    );
    let generated =
        chrono::DateTime::parse_from_rfc3339(snapshot["generated_at"].as_str().unwrap())
            .unwrap()
            .timestamp_millis();
    assert_eq!(
        health["partitions"][0]["watermark_behind_ms"],
        generated - 1_796_625_128_990
    );
    assert_eq!(health["checkpoint_frontier"], "2026-12-07T06:32:08.990Z");
    assert_eq!(health["checkpoint_written_at"], Value::Null);
    assert_eq!(health["feed_published"], Value::Null);
    assert_eq!(snapshot["late"], json!({"behind_watermark": 17}));
    assert_eq!(snapshot["late_total"], 17);
    assert_eq!(
        snapshot["rejected"],
        json!({"invalid_json": 2, "missing_field": 1})
    );
    assert_eq!(snapshot["rejected_total"], 3);

    // The topic appears; the records of three minutes arrive, with a re-send, rows the page
    // does not show and a malformed record among them.
    create_topic(s, &topic, 1).await.unwrap();
    let producer: FutureProducer = kafka_config(s).create().unwrap();
    let mut records = vec![
        site(0, 4, 10),
        site(1, 6, 20),
        page(0, "/a", "page_view", 5),
        page(1, "/a", "page_view", 3),
        page(0, "/b", "page_view", 7),
        page(1, "/c", "page_view", 8),
        page(0, "/a", "click", 50),
        session("s-1", &format!("{T}0:05.000Z"), true),
        session("s-2", &format!("{T}1:30.500Z"), false),
    ];
    // A page's visitor row: not on the page.
    let key = json!(["visitor_analytics", "/a", at(0), at(1)]).to_string();
    let value = json!({"table": "visitor_analytics", "page_url": "/a", "window_start": at(0),
        "window_end": at(1), "unique_visitors": 1, "events": 99, "dt": "2026-01-01"});
    records.push((key, value.to_string()));
    // Malformed: a value that is no JSON object of a table.
    records.push((
        site(2, 0, 0).0,
        "{\"table\":\"visitor_analytics\",".to_owned(),
    ));
    // Re-sends, byte for byte.
    records.push(site(0, 4, 10));
    records.push(session("s-1", &format!("{T}0:05.000Z"), true));
    send(&producer, &topic, &records).await;

    let snapshot = dashboard
        .wait_for("every record read", |s| s["feed"]["records"] == 13)
        .await;
    assert_eq!(snapshot["feed"]["malformed"], 1);
    assert!(snapshot["feed"]["last_record_at"].is_string());
    assert_eq!(snapshot["edge"], at(2));
    assert_eq!(
        snapshot["window"],
        json!({"size_ms": 60000, "slide_ms": 60000, "label": "per 1 min"})
    );
    assert_eq!(
        snapshot["windows"],
        json!([
            {"window_start": at(0), "window_end": at(1), "events": 10, "unique_visitors": 4},
            {"window_start": at(1), "window_end": at(2), "events": 20, "unique_visitors": 6},
        ])
    );
    assert_eq!(
        snapshot["top_pages"],
        json!({"hour_start": "2026-01-01T10:00:00.000Z", "hour_end": "2026-01-01T11:00:00.000Z",
            "pages": [{"page_url": "/a", "page_views": 8}, {"page_url": "/c", "page_views": 8},
                {"page_url": "/b", "page_views": 7}]})
    );
    assert_eq!(
        snapshot["sessions"],
        json!({"since": "2026-01-01T09:12:00.000Z", "until": at(2), "count": 2, "bounces": 1,
            "bounce_rate": 0.5})
    );

    // /events: a snapshot on connect, then one with the new window within 1 s of its record.
    let mut events = reqwest::get(format!("{}/events", dashboard.base))
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    assert_eq!(
        events.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut pending = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let (first, _) = next_snapshot(&mut events, &mut pending, deadline, |_| true).await;
    assert_eq!(first["edge"], at(2));
    send(&producer, &topic, &[site(2, 9, 30)]).await;
    let acknowledged = Instant::now();
    let (shown, arrived) =
        next_snapshot(&mut events, &mut pending, deadline, |s| s["edge"] == at(3)).await;
    let delay = arrived.duration_since(acknowledged);
    println!("new window on /events {delay:?} after its record was acknowledged");
    assert!(delay <= Duration::from_secs(1), "took {delay:?}");
    assert_eq!(shown["windows"].as_array().unwrap().len(), 3);
    assert_eq!(shown["windows"][2]["events"], 30);

    // The metrics endpoint goes away: unreachable, its last figures kept.
    metrics_server.abort();
    let snapshot = dashboard
        .wait_for("the first process unreachable", |s| {
            s["health"]["processes"][0]["up"] == false
        })
        .await;
    assert!(snapshot["health"]["processes"][0]["error"].is_string());
    assert!(snapshot["health"]["processes"][0]["since"].is_string());
    assert_eq!(snapshot["late_total"], 17);
    assert_eq!(
        snapshot["health"]["checkpoint_frontier"],
        "2026-12-07T06:32:08.990Z"
    );
    assert_eq!(
        snapshot["health"]["partitions"].as_array().unwrap().len(),
        2
    );

    // The page and its assets, with ETags.
    let client = reqwest::Client::new();
    for (path, kind) in [
        ("/", "text/html"),
        ("/assets/dashboard.js", "text/javascript"),
        ("/assets/dashboard.css", "text/css"),
        ("/assets/uPlot.iife.min.js", "text/javascript"),
        ("/assets/uPlot.min.css", "text/css"),
    ] {
        let r = client
            .get(format!("{}{path}", dashboard.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(content_type.starts_with(kind), "{path}: {content_type}");
        let etag = r.headers()["etag"].to_str().unwrap().to_owned();
        assert!(!r.bytes().await.unwrap().is_empty(), "{path} is empty");
        let again = client
            .get(format!("{}{path}", dashboard.base))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
    }
    let missing = reqwest::get(format!("{}/assets/nope.js", dashboard.base))
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(
        dashboard.child.try_wait().unwrap().is_none(),
        "wa-dashboard exited"
    );
}
