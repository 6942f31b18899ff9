//! The results feed against the real stack: the real `wa-dataflow` publishes every final row
//! of `page_analytics`, `visitor_analytics` and `sessions` to `<topic>_results`, and the test
//! reads the topic back with its own consumer and compares it with the tables read through
//! Hive SQL (`docs/results-feed-and-dashboard.md`, section 1).
//!
//! - **`feed_equals_the_tables`:** a seeded stream across a UTC midnight with jitter, late
//!   events and the malformed hand-made records of the dataflow tests, a 2-process cluster
//!   stopped at a watermark 5 s past the last event. The latest value of every key equals the
//!   three tables' rows (both ways; a session counts once its one-minute close bucket ends
//!   by the stop — a later bucket is final only in the next run); every key is the one its value gives, in the design's
//!   format, with the design's headers; no row of a window ending after the stop is on the
//!   topic (and the stream has such a window, so the check means something).
//! - **`feed_across_kill_minus_9`:** a live producer and 10-second windows; the cluster is
//!   killed with SIGKILL twice while it publishes (once right after the feed has published
//!   something, so the kill lands between deliveries and the stored published frontier) and
//!   restarted with other shapes, then runs to a stop watermark. Every row of the three
//!   tables is on the topic (the latest value per key equals the tables, both ways), every
//!   key seen more than once has byte-identical values, and no record names a window ending
//!   after the stop.

#![allow(clippy::unwrap_used)] // a test fails by panicking

#[path = "dataflow/support.rs"]
#[allow(dead_code)] // shared with dataflow.rs, visitors_sessions.rs and others
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};

use serde_json::Value;
use support::*;
use wa_tests::dataflow::{cleanup, init_database, Dataflow, DataflowOptions, Launcher};
use wa_tests::oracle::{sql_timestamp, PageRow, SessionRow, Tables, VisitorRow, VisitorTables};
use wa_tests::{kafka_config, read_topic_records, stack, unique_name, ReadRecord, Stack};

const MINUTE_MS: i64 = 60_000;
/// `--session-gap`.
const GAP_MS: i64 = 8_000;
/// `--max-session-duration`.
const MAX_SESSION_MS: i64 = 30_000;
/// Longest a run over a filled topic may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// Every record of the results feed `topic`, in offset order (the feed has one partition).
fn read_feed(s: &Stack, topic: &str) -> Vec<ReadRecord> {
    let records = read_topic_records(s, topic)
        .unwrap_or_else(|e| panic!("results topic {topic} (the dataflow creates it): {e:#}"));
    let partitions: BTreeSet<i32> = records.iter().map(|r| r.partition).collect();
    assert!(
        partitions.len() <= 1,
        "results topic {topic} has records in partitions {partitions:?}, one expected"
    );
    records
}

/// `2026-11-30T23:59:00.000Z` → epoch ms, checking the feed's exact format (RFC 3339, UTC,
/// milliseconds).
fn feed_ms(v: &Value) -> i64 {
    let text = v.as_str().unwrap_or_else(|| panic!("{v} is not a time"));
    let t = chrono::DateTime::parse_from_rfc3339(text).unwrap();
    let ms = t.timestamp_millis();
    let again = chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    assert_eq!(text, again, "time not in the feed's format");
    ms
}

fn text(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("{v} is not a string"))
        .to_string()
}

fn opt_text(v: &Value) -> Option<String> {
    (!v.is_null()).then(|| text(v))
}

fn int(v: &Value) -> i64 {
    v.as_i64()
        .unwrap_or_else(|| panic!("{v} is not an integer"))
}

/// The field names of a value, in order (the raw bytes, as `serde_json::Value` sorts them).
fn field_order(value: &[u8]) -> Vec<String> {
    let text = std::str::from_utf8(value).unwrap();
    let mut fields = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let map: serde_json::Map<String, Value> = serde::Deserialize::deserialize(&mut de).unwrap();
    // Positions of `"name":` at the top level: the fields hold no nested objects.
    let mut keyed: Vec<(usize, String)> = map
        .keys()
        .map(|k| {
            (
                text.find(&format!("{}:", serde_json::to_string(k).unwrap()))
                    .unwrap(),
                k.clone(),
            )
        })
        .collect();
    keyed.sort();
    fields.extend(keyed.into_iter().map(|(_, k)| k));
    fields
}

/// The tables as the feed says them: the latest value of every key, checked record by
/// record (key from value, headers, field order).
#[derive(Debug, Default)]
struct FeedTables {
    page: Vec<PageRow>,
    visitors: Vec<VisitorRow>,
    sessions: Vec<SessionRow>,
    records: usize,
    keys: usize,
    resent: usize,
}

/// A feed record's key (every record of the feed has one).
fn feed_key(r: &ReadRecord) -> &[u8] {
    r.key
        .as_deref()
        .unwrap_or_else(|| panic!("the record at offset {} has no key", r.offset))
}

fn feed_tables(records: &[ReadRecord]) -> FeedTables {
    let mut latest: BTreeMap<&[u8], &ReadRecord> = BTreeMap::new();
    let mut resent = 0;
    for r in records {
        let v: Value = serde_json::from_slice(&r.value).unwrap();
        let table = text(&v["table"]);
        let key = match table.as_str() {
            "page_analytics" => serde_json::to_vec(&(
                &table,
                &v["page_url"],
                &v["event_type"],
                &v["window_start"],
                &v["window_end"],
            )),
            "visitor_analytics" => {
                serde_json::to_vec(&(&table, &v["page_url"], &v["window_start"], &v["window_end"]))
            }
            "sessions" => serde_json::to_vec(&(&table, &v["session_id"], &v["session_start"])),
            other => panic!("record of table {other} on the feed"),
        }
        .unwrap();
        assert_eq!(
            String::from_utf8_lossy(feed_key(r)),
            String::from_utf8_lossy(&key),
            "key of the record at offset {} does not match its value",
            r.offset
        );
        let fields = field_order(&r.value);
        let want: &[&str] = match table.as_str() {
            "page_analytics" => &[
                "table",
                "page_url",
                "event_type",
                "event_count",
                "window_start",
                "window_end",
                "dt",
            ],
            "visitor_analytics" => &[
                "table",
                "page_url",
                "window_start",
                "window_end",
                "unique_visitors",
                "events",
                "dt",
            ],
            _ => &[
                "table",
                "session_id",
                "user_id",
                "session_start",
                "session_end",
                "duration_ms",
                "events",
                "page_views",
                "entry_page",
                "exit_page",
                "is_bounce",
                "browser",
                "os",
                "country",
                "dt",
            ],
        };
        assert_eq!(fields, want, "fields of the record at offset {}", r.offset);
        assert_eq!(
            r.header("wa-table"),
            Some(table.as_str()),
            "header wa-table at {}",
            r.offset
        );
        let committed = r
            .header("wa-committed-at")
            .unwrap_or_else(|| panic!("no wa-committed-at at {}", r.offset));
        chrono::DateTime::parse_from_rfc3339(committed).unwrap();
        if let Some(before) = latest.insert(feed_key(r), r) {
            resent += 1;
            assert_eq!(
                String::from_utf8_lossy(&before.value),
                String::from_utf8_lossy(&r.value),
                "a re-sent key with another value (offsets {} and {})",
                before.offset,
                r.offset
            );
        }
    }
    let mut out = FeedTables {
        records: records.len(),
        keys: latest.len(),
        resent,
        ..FeedTables::default()
    };
    for r in latest.values() {
        let v: Value = serde_json::from_slice(&r.value).unwrap();
        let time = |name: &str| sql_timestamp(feed_ms(&v[name]));
        match v["table"].as_str().unwrap() {
            "page_analytics" => out.page.push(PageRow {
                page_url: text(&v["page_url"]),
                event_type: text(&v["event_type"]),
                event_count: int(&v["event_count"]),
                window_start: time("window_start"),
                window_end: time("window_end"),
                dt: text(&v["dt"]),
            }),
            "visitor_analytics" => out.visitors.push(VisitorRow {
                page_url: opt_text(&v["page_url"]),
                window_start: time("window_start"),
                window_end: time("window_end"),
                unique_visitors: int(&v["unique_visitors"]),
                events: int(&v["events"]),
                dt: text(&v["dt"]),
            }),
            _ => out.sessions.push(SessionRow {
                session_id: text(&v["session_id"]),
                user_id: text(&v["user_id"]),
                session_start: time("session_start"),
                session_end: time("session_end"),
                duration_ms: int(&v["duration_ms"]),
                events: int(&v["events"]),
                page_views: int(&v["page_views"]),
                entry_page: text(&v["entry_page"]),
                exit_page: text(&v["exit_page"]),
                is_bounce: v["is_bounce"]
                    .as_bool()
                    .unwrap_or_else(|| panic!("is_bounce {}", v["is_bounce"])),
                browser: opt_text(&v["browser"]),
                os: opt_text(&v["os"]),
                country: opt_text(&v["country"]),
                dt: text(&v["dt"]),
            }),
        }
    }
    out.page.sort();
    out.visitors.sort();
    out.sessions.sort();
    out
}

/// `yyyy-MM-dd HH:mm:ss.SSS` (UTC, as Hive SQL prints a timestamp) → epoch ms.
fn sql_ms(text: &str) -> i64 {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.3f")
        .unwrap_or_else(|e| panic!("timestamp {text}: {e}"))
        .and_utc()
        .timestamp_millis()
}

/// The `sessions` rows a run stopped at `stop_ms` made final: those whose close bucket (the
/// UTC minute of `close_at − 1`, `close_at = min(session_end + gap + 1, session_start + max
/// duration)`) ends at or before the stop. A bucket ending after it is in the table but is
/// deleted and written again by the next run, so the feed leaves it to that run.
fn final_sessions(rows: &[SessionRow], stop_ms: i64) -> Vec<SessionRow> {
    let mut out: Vec<SessionRow> = rows
        .iter()
        .filter(|r| {
            let close_at = (sql_ms(&r.session_end) + GAP_MS + 1)
                .min(sql_ms(&r.session_start) + MAX_SESSION_MS);
            let bucket_end = (close_at - 1).div_euclid(MINUTE_MS) * MINUTE_MS + MINUTE_MS;
            bucket_end <= stop_ms
        })
        .cloned()
        .collect();
    out.sort();
    out
}

/// Reads the tables of `db` through Hive SQL and checks that the feed's latest value per key
/// equals `page_analytics`, `visitor_analytics` and the `sessions` rows a run stopped at
/// `stop_ms` made final, both ways (none of the three may be empty). Returns the tables
/// without `raw_web_events`, for the caller's own checks.
fn assert_feed_equals_tables(s: &Stack, db: &str, feed: &FeedTables, stop_ms: i64) -> Tables {
    let tables = Tables::read_without_raw(s, db).unwrap();
    let visitors = VisitorTables::read(s, db).unwrap();
    for (what, n) in [
        ("page_analytics", tables.page.len()),
        ("visitor_analytics", visitors.visitors.len()),
        ("sessions", visitors.sessions.len()),
    ] {
        assert!(n > 0, "{what} is empty: nothing to compare");
    }
    assert_same("page_analytics", &feed.page, &tables.page);
    assert_same("visitor_analytics", &feed.visitors, &visitors.visitors);
    assert_same(
        "sessions",
        &feed.sessions,
        &final_sessions(&visitors.sessions, stop_ms),
    );
    tables
}

/// Panics with the first rows that differ, both ways.
fn assert_same<T: Ord + std::fmt::Debug>(what: &str, feed: &[T], table: &[T]) {
    let only_feed: Vec<&T> = feed
        .iter()
        .filter(|r| table.binary_search(r).is_err())
        .take(5)
        .collect();
    let only_table: Vec<&T> = table
        .iter()
        .filter(|r| feed.binary_search(r).is_err())
        .take(5)
        .collect();
    assert!(
        only_feed.is_empty() && only_table.is_empty() && feed.len() == table.len(),
        "{what}: feed {} rows, table {} rows; only on the feed: {only_feed:#?}; only in the table: {only_table:#?}",
        feed.len(),
        table.len()
    );
}

#[test]
fn feed_equals_the_tables() {
    let s = stack();
    let _claim = s.shared();
    let db = unique_name("rf_tables");
    init_database(s, &db).unwrap();
    // 10 000 events over 100 s of stream time from 30 s before a UTC midnight: final windows
    // and sessions on two dates, and the last minute still open at the stop; jitter, 3 % late
    // events, the malformed leading records.
    let sim = Sim {
        seed: 4_242,
        events: 10_000,
        rate: 100,
        start_ms: start_before_midnight(30_000),
        out_of_order_ms: 1_500,
        late_fraction: 0.03,
        late_by_ms: 10_000,
        no_pacing: true,
    };
    let stream = Stream::prefilled(s, "rf_source", sim);
    stream.remove_log();
    let stop_at = stream.sim.end_ms() + 5_000;
    let mut o = DataflowOptions::new(&stream.topic, &db).cluster(2, 1);
    o.session_gap = Some(Duration::from_millis(GAP_MS as u64));
    o.max_session_duration = Some(Duration::from_millis(MAX_SESSION_MS as u64));
    o.stop_at_watermark_ms = Some(stop_at);
    let mut df = Dataflow::start(s, &o).unwrap();
    if let Err(e) = df.wait(RUN_TIMEOUT) {
        panic!("wa-dataflow {} over {}: {e:#}", o.shape(), o.topic);
    }

    let results_topic = format!("{}_results", stream.topic);
    let records = read_feed(s, &results_topic);
    let feed = feed_tables(&records);
    eprintln!(
        "[results feed test] {} records, {} keys ({} re-sent): page_analytics={} visitor_analytics={} sessions={}",
        feed.records,
        feed.keys,
        feed.resent,
        feed.page.len(),
        feed.visitors.len(),
        feed.sessions.len()
    );
    let tables = assert_feed_equals_tables(s, &db, &feed, stop_at);
    assert!(!tables.late.is_empty(), "no late events in the stream");
    assert!(
        !tables.rejected.is_empty(),
        "no malformed records in the stream"
    );
    let dates: BTreeSet<&str> = feed.page.iter().map(|r| r.dt.as_str()).collect();
    assert!(dates.len() >= 2, "windows on one date only: {dates:?}");

    // No window ending after the stop is on the topic, and the stream has one.
    let stop = sql_timestamp(stop_at);
    let last_end = feed
        .page
        .iter()
        .map(|r| r.window_end.as_str())
        .chain(feed.visitors.iter().map(|r| r.window_end.as_str()))
        .max()
        .unwrap()
        .to_string();
    assert!(
        last_end <= stop,
        "a window ending at {last_end} is on the feed, after the stop at {stop}"
    );
    let open_window_end = (stream.sim.end_ms().div_euclid(MINUTE_MS) + 1) * MINUTE_MS;
    assert!(
        open_window_end > stop_at,
        "the stream's last window ends at {open_window_end}, before the stop: the check means nothing"
    );
    block_on(cleanup(s, &db)).unwrap();
}

#[test]
fn feed_across_kill_minus_9() {
    let s = stack();
    let _claim = s.shared();
    let db = unique_name("rf_kill");
    init_database(s, &db).unwrap();
    // 9 000 events over 130 s of stream and wall time from 8 s before a UTC midnight (the
    // producer runs live while the cluster is killed and restarted), 10-second windows.
    // Checkpoints move on at least once a minute of event time (the sessions' one-minute
    // close buckets), so the stream crosses three minute boundaries: the feed publishes
    // while the kills land.
    const WINDOW_MS: i64 = 10_000;
    let sim = Sim {
        seed: 99,
        events: 9_000,
        rate: 70,
        start_ms: start_before_midnight(8_000),
        out_of_order_ms: 1_000,
        late_fraction: 0.02,
        late_by_ms: 15_000,
        no_pacing: false,
    };
    let mut stream = Stream::create(s, "rf_kill_source", sim);
    stream.produce_leading(s);
    let mut producer = stream.sim.spawn(s, &stream.topic, &stream.log);
    pause(Duration::from_secs(3), "the producer fills every partition");
    let stop_at = stream.stop_at_ms(WINDOW_MS, 3_000);
    let results_topic = format!("{}_results", stream.topic);
    let options = |processes, workers, launcher| {
        let mut o = DataflowOptions::new(&stream.topic, &db).cluster(processes, workers);
        o.window_size = Duration::from_millis(WINDOW_MS as u64);
        o.idle_timeout = Duration::from_secs(15);
        o.roll_interval = Duration::from_secs(1);
        o.session_gap = Some(Duration::from_millis(GAP_MS as u64));
        o.max_session_duration = Some(Duration::from_millis(MAX_SESSION_MS as u64));
        o.stop_at_watermark_ms = Some(stop_at);
        o.launcher = launcher;
        o
    };

    // First cluster: killed as soon as the feed holds something (its first published batch).
    let o = options(2, 1, Launcher::Launch);
    let mut df = Dataflow::start(s, &o).unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        df.ensure_running().unwrap();
        if feed_count(s, &results_topic) > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the {} cluster published nothing to {results_topic} in 90 s:\n{}",
            o.shape(),
            df.log_tail(30)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    df.kill().unwrap();
    let after_first = feed_count(s, &results_topic);
    eprintln!(
        "[results feed test] SIGKILL of the 2×1 cluster with {after_first} records on the feed"
    );

    // Second cluster: killed a few seconds into its run, while windows keep closing.
    let o = options(1, 2, Launcher::Launch);
    let mut df = Dataflow::start(s, &o).unwrap();
    df.run_for(Duration::from_millis(rand::random_range(6_000..12_000)))
        .unwrap();
    df.kill().unwrap();
    let after_second = feed_count(s, &results_topic);
    eprintln!(
        "[results feed test] SIGKILL of the 1×2 cluster with {after_second} records on the feed"
    );

    // Last cluster: runs to the stop watermark.
    let o = options(2, 1, Launcher::PerProcess);
    let mut df = Dataflow::start(s, &o).unwrap();
    producer.wait_success("wa-producer simulate");
    stream.produce_trailing(s);
    if let Err(e) = df.wait(RUN_TIMEOUT) {
        panic!("the restarted {} cluster: {e:#}", o.shape());
    }

    // feed_tables checks every record's key, fields and headers, and that a key seen twice
    // has the same value both times.
    let records = read_feed(s, &results_topic);
    let feed = feed_tables(&records);
    eprintln!(
        "[results feed test] {} records, {} keys, {} re-sent (same value)",
        feed.records, feed.keys, feed.resent
    );
    assert!(
        feed.records > after_second,
        "the last run published nothing: {after_first} records after the first kill, {after_second} after the second, {} at the end",
        feed.records
    );
    assert_feed_equals_tables(s, &db, &feed, stop_at);
    let stop = sql_timestamp(stop_at);
    if let Some(late) = feed
        .page
        .iter()
        .map(|r| r.window_end.as_str())
        .chain(feed.visitors.iter().map(|r| r.window_end.as_str()))
        .find(|end| *end > stop.as_str())
    {
        panic!("a window ending at {late} is on the feed, after the stop at {stop}");
    }
    block_on(cleanup(s, &db)).unwrap();
    stream.remove_log();
}

/// How many records `topic` holds (its one partition's high watermark; 0 while it does not
/// exist yet).
fn feed_count(s: &Stack, topic: &str) -> usize {
    let consumer: BaseConsumer = kafka_config(s).create().unwrap();
    let exists = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map(|m| {
            m.topics()
                .iter()
                .any(|t| t.error().is_none() && !t.partitions().is_empty())
        })
        .unwrap_or(false);
    if !exists {
        return 0;
    }
    consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .map(|(low, high)| (high - low) as usize)
        .unwrap_or(0)
}
