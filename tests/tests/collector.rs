//! `wa-producer serve` facing the open internet, against the local real Kafka:
//! - 1,000 connections that send their request head a byte a second and 200 that announce a
//!   body and never send it are closed within the configured timeouts (the second kind with
//!   a `408`), and connections that send nothing within the idle timeout, while a
//!   well-behaved client's 1,000 beacons are each answered `204` within 1 s and all reach
//!   Kafka; the collector's peak RSS stays under [`RSS_BOUND_BYTES`].
//! - Connections beyond `--max-connections` are closed at once, and served again once the
//!   others are gone; a head over `--max-header-bytes` is answered `431`.
//! - SIGTERM during a steady beacon load: the collector exits 0 and every beacon it answered
//!   `204` is on the topic.

#![allow(clippy::unwrap_used)] // a test fails by panicking

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wa_tests::{create_topic, read_topic, stack, unique_name, Collector, Stack};

/// The collector's timeouts in the abuse test (idle, head and body alike).
const TIMEOUT: Duration = Duration::from_secs(6);

/// How late after its timeout a connection may be closed on this busy 2-core machine.
const SLACK: Duration = Duration::from_secs(3);

/// The bound on the collector's peak RSS while it holds 1,210 abusive connections.
const RSS_BOUND_BYTES: u64 = 64 << 20;

/// A beacon with a known `event_id`.
fn beacon(id: &str) -> String {
    format!(
        r#"{{"event_id":"{id}","user_id":"u-1","session_id":"s-1","event_type":"page_view","page_url":"/p"}}"#
    )
}

/// The host:port of a collector's `http://…` base.
fn address(base: &str) -> String {
    base.trim_start_matches("http://").to_owned()
}

/// Reads until the peer closes (EOF or reset); returns what was read.
async fn read_to_close(reader: &mut (impl AsyncReadExt + Unpin)) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => return seen,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// Sends a request head a byte a second; returns how long after its first byte the
/// collector closed the connection, or `None` if it was still open after 30 s.
async fn trickle_head(addr: String) -> Option<Duration> {
    let stream = TcpStream::connect(&addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST /collect HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n"
    );
    let first = Instant::now();
    let trickle = async {
        for byte in head.bytes() {
            if writer.write_all(&[byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        std::future::pending::<()>().await;
    };
    let closed = async {
        read_to_close(&mut reader).await;
        first.elapsed()
    };
    tokio::time::timeout(Duration::from_secs(30), async {
        tokio::select! {
            elapsed = closed => elapsed,
            () = trickle => unreachable!(),
        }
    })
    .await
    .ok()
}

/// Sends a whole head announcing a 1,000-byte body, then nothing; returns how long after the
/// head the collector closed the connection and what it answered, or `None` after 30 s.
async fn withhold_body(addr: String) -> Option<(Duration, String)> {
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /collect HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let sent = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(30), read_to_close(&mut stream))
        .await
        .ok()?;
    Some((
        sent.elapsed(),
        String::from_utf8_lossy(&answer).into_owned(),
    ))
}

/// Connects and sends nothing; returns how long the collector kept the connection open, or
/// `None` after 30 s.
async fn stay_silent(addr: String) -> Option<Duration> {
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    let connected = Instant::now();
    tokio::time::timeout(Duration::from_secs(30), read_to_close(&mut stream))
        .await
        .ok()?;
    Some(connected.elapsed())
}

/// The `event_id` of every record on `topic`.
fn event_ids_on(s: &Stack, topic: &str) -> BTreeSet<String> {
    read_topic(s, topic)
        .unwrap()
        .iter()
        .map(|r| {
            let event: serde_json::Value = serde_json::from_slice(&r.value).unwrap();
            event["event_id"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// The collector's `wa_producer_connections_open` gauge (public connections only).
async fn open_connections(c: &Collector) -> f64 {
    let metrics = reqwest::get(format!("{}/metrics", c.operators))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    metric(&metrics, "wa_producer_connections_open")
}

/// The value of the Prometheus series `series` (exact label text) in `metrics`, 0 if absent.
fn metric(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series).map(str::trim))
        .map_or(0.0, |v| v.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_and_stalled_clients_are_cut_off_while_beacons_are_answered() {
    let s = stack();
    let _claim = s.shared();
    let topic = unique_name("collector_abuse");
    create_topic(s, &topic, 2).await.unwrap();
    let timeout = format!("{}s", TIMEOUT.as_secs());
    let mut c = Collector::start(
        &s.kafka_brokers,
        &topic,
        &[
            "--idle-timeout",
            &timeout,
            "--header-timeout",
            &timeout,
            "--body-timeout",
            &timeout,
        ],
    )
    .await
    .unwrap();
    let addr = address(&c.base);

    let trickling: Vec<_> = (0..1000)
        .map(|_| tokio::spawn(trickle_head(addr.clone())))
        .collect();
    let withholding: Vec<_> = (0..200)
        .map(|_| tokio::spawn(withhold_body(addr.clone())))
        .collect();
    let silent: Vec<_> = (0..10)
        .map(|_| tokio::spawn(stay_silent(addr.clone())))
        .collect();
    // Let every abusive connection be established before the beacons start.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let client = reqwest::Client::new();
    let mut slowest = Duration::ZERO;
    for n in 0..1000 {
        let started = Instant::now();
        let response = client
            .post(format!("{}/collect", c.base))
            .body(beacon(&format!("good-{n}")))
            .send()
            .await
            .unwrap();
        let took = started.elapsed();
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "beacon {n}");
        slowest = slowest.max(took);
    }
    c.assert_running();
    assert!(
        slowest < Duration::from_secs(1),
        "the slowest of 1,000 beacons took {slowest:?}"
    );

    // Closed by its timeout: not early (the configured limit holds), not much later.
    let assert_cut = |what: &str, closed: Option<Duration>| {
        let closed = closed.unwrap_or_else(|| panic!("{what}: still open after 30 s"));
        assert!(
            closed + Duration::from_millis(500) >= TIMEOUT && closed <= TIMEOUT + SLACK,
            "{what}: cut after {closed:?} (timeout {TIMEOUT:?})"
        );
    };
    for task in trickling {
        assert_cut("a head sent a byte a second", task.await.unwrap());
    }
    for task in withholding {
        let (closed, answer) = task.await.unwrap().unzip();
        assert_cut("a withheld body", closed);
        let answer = answer.unwrap_or_default();
        assert!(
            answer.starts_with("HTTP/1.1 408"),
            "answer to a withheld body: {answer:?}"
        );
    }
    for task in silent {
        assert_cut("a silent connection", task.await.unwrap());
    }
    let rss = c.peak_rss_bytes().unwrap();
    assert!(
        rss < RSS_BOUND_BYTES,
        "peak RSS {} MiB over the bound of {} MiB",
        rss >> 20,
        RSS_BOUND_BYTES >> 20
    );
    eprintln!(
        "collector peak RSS with 1,210 abusive connections: {} MiB; slowest beacon {slowest:?}",
        rss >> 20
    );

    let metrics = reqwest::get(format!("{}/metrics", c.operators))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let cut = |reason: &str| {
        metric(
            &metrics,
            &format!("wa_producer_connections_timed_out_total{{reason=\"{reason}\"}}"),
        )
    };
    assert_eq!(cut("header"), 1000.0, "{metrics}");
    assert_eq!(cut("body"), 200.0, "{metrics}");
    assert!(cut("idle") >= 10.0, "{metrics}");

    let ids: BTreeSet<String> = event_ids_on(s, &topic);
    let expected: BTreeSet<String> = (0..1000).map(|n| format!("good-{n}")).collect();
    assert_eq!(ids, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_beyond_the_limit_are_closed_at_once_and_big_heads_refused() {
    let s = stack();
    let _claim = s.shared();
    let topic = unique_name("collector_limit");
    create_topic(s, &topic, 1).await.unwrap();
    let c = Collector::start(
        &s.kafka_brokers,
        &topic,
        &["--max-connections", "20", "--idle-timeout", "20s"],
    )
    .await
    .unwrap();
    let addr = address(&c.base);
    // The start-up health check's connection must be gone before the 20 slots are taken.
    let deadline = Instant::now() + Duration::from_secs(10);
    while open_connections(&c).await > 0.0 {
        assert!(
            Instant::now() < deadline,
            "the health check's connection still open"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut held = Vec::new();
    for n in 0..20 {
        // Each held connection is answered once, so it is known to hold a slot.
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        stream
            .write_all(format!("GET /health HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut buf = [0u8; 12];
        stream.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"HTTP/1.1 200", "held connection {n}");
        held.push(stream);
    }
    let mut extra = TcpStream::connect(&addr).await.unwrap();
    let closed_in = tokio::time::timeout(Duration::from_secs(1), read_to_close(&mut extra))
        .await
        .expect("a connection beyond --max-connections was kept open");
    assert!(
        closed_in.is_empty(),
        "answered beyond the limit: {closed_in:?}"
    );
    drop(held);
    // The held connections are gone: the collector serves again.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answered = reqwest::Client::new()
            .post(format!("{}/collect", c.base))
            .body(beacon("after-the-limit"))
            .send()
            .await;
        if matches!(&answered, Ok(r) if r.status() == StatusCode::NO_CONTENT) {
            break;
        }
        assert!(Instant::now() < deadline, "not served again: {answered:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A head over --max-header-bytes (16 KiB by default) is refused with 431.
    let mut big = TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /collect HTTP/1.1\r\nHost: {addr}\r\nX-Padding: {}\r\nContent-Length: 0\r\n\r\n",
        "x".repeat(20_000)
    );
    big.write_all(head.as_bytes()).await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), read_to_close(&mut big))
        .await
        .expect("an oversize head still open after 5 s");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 431"),
        "answer to a 20 KB head: {answer:?}"
    );
    let metrics = reqwest::get(format!("{}/metrics", c.operators))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metric(&metrics, "wa_producer_connections_refused_total") >= 1.0,
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_under_load_loses_no_answered_beacon() {
    let s = stack();
    let _claim = s.shared();
    let topic = unique_name("collector_sigterm");
    create_topic(s, &topic, 2).await.unwrap();
    let mut c = Collector::start(&s.kafka_brokers, &topic, &[])
        .await
        .unwrap();
    let answered = Arc::new(Mutex::new(Vec::new()));
    let senders: Vec<_> = (0..4)
        .map(|sender| {
            let base = c.base.clone();
            let answered = answered.clone();
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                for n in 0.. {
                    let id = format!("load-{sender}-{n}");
                    let Ok(response) = client
                        .post(format!("{base}/collect"))
                        .body(beacon(&id))
                        .send()
                        .await
                    else {
                        // The collector stopped accepting: the load is over for this sender.
                        return;
                    };
                    if response.status() == StatusCode::NO_CONTENT {
                        answered.lock().unwrap().push(id);
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let status = tokio::task::block_in_place(|| c.terminate(Duration::from_secs(60))).unwrap();
    assert!(status.success(), "collector exit after SIGTERM: {status}");
    for sender in senders {
        tokio::time::timeout(Duration::from_secs(30), sender)
            .await
            .expect("a sender still running 30 s after the collector exited")
            .unwrap();
    }
    let answered: BTreeSet<String> = answered.lock().unwrap().iter().cloned().collect();
    assert!(
        answered.len() > 100,
        "only {} beacons answered in 3 s",
        answered.len()
    );
    let on_topic: BTreeSet<String> = event_ids_on(s, &topic);
    let lost: Vec<_> = answered.difference(&on_topic).collect();
    assert!(
        lost.is_empty(),
        "{} answered beacons not on the topic, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    eprintln!(
        "{} beacons answered before SIGTERM, {} records on the topic",
        answered.len(),
        on_topic.len()
    );
}
