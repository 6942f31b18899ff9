//! The dataflow cluster against the real stack, running the real `wa-dataflow` binary, judged
//! by the independent oracle (`wa_tests::oracle`) through Hive SQL:
//!
//! - **Oracle:** a seeded stream with out-of-order jitter, late events and invalid records →
//!   all four tables equal the recomputation from the producer's log, exactly (tumbling
//!   1-minute windows, and hopping windows).
//! - **Determinism:** 1 × 1, 1 × 2 and 2 × 2 (processes × workers, from a `workers.toml`) give
//!   identical tables.
//! - **Idle partitions:** with 4 partitions of which only one receives events, windows still
//!   close and appear in Hive within idle_timeout + window + lateness, while the cluster runs.
//! - **Restart:** SIGKILL of the whole cluster mid-stream, twice, restarting with other worker
//!   counts, gives the oracle's tables, equal to an uninterrupted run.
//! - **Complete days** (`dataflow/days.rs`): `_SUCCESS` appears in a `dt` partition once a
//!   checkpoint proves the day complete, comes back after a crash between checkpoint and
//!   marker, is written by a fresh run, and never marks the day not yet complete.
//!
//! The oracle ignores the idle policy (an idle partition's watermark follows the wall clock),
//! so every test keeps partitions busy until their last record: a prefilled topic is read
//! from its start, and the live test starts the cluster once every partition has data and
//! uses an idle timeout far above any pause of the producer. Event times lie in the past, so
//! once the topic is drained the idle policy moves every watermark past `--stop-at-watermark`
//! and the cluster exits by itself.

#![allow(clippy::unwrap_used)] // a test fails by panicking

#[path = "dataflow/support.rs"]
#[allow(dead_code)] // shared with end_to_end.rs, which uses other parts
mod support;

#[path = "dataflow/days.rs"]
mod days;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rand::Rng as _;
use rdkafka::producer::{FutureProducer, FutureRecord};
use support::*;
use wa_tests::dataflow::{cleanup, init_database, Dataflow, DataflowOptions, Launcher};
use wa_tests::oracle::{assert_tables_eq, Expected, Layout, OracleConfig, Tables};
use wa_tests::{create_topic, kafka_config, stack, unique_name, Stack};

const MINUTE_MS: i64 = 60_000;
/// `--max-out-of-orderness` of every run but the idle test.
const LATENESS_MS: i64 = 3_000;
/// Longest a run over a drained topic may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// The stream the oracle, hopping and determinism tests share (filled once per test binary:
/// the producer paces itself in wall-clock time, so a stream costs its length to make).
/// 30 000 events over 100 s of stream time from 23:58:50 UTC: three 1-minute windows over two
/// dates; jitter up to 1.5 s (on time with 3 s of lateness), 3 % late events 10 s old once
/// the stream has run 20 s, and the leading/trailing hand-made records (invalid ones, valid
/// ones the producer never makes, a late one).
fn shared_stream() -> &'static Stream {
    static STREAM: OnceLock<Stream> = OnceLock::new();
    STREAM.get_or_init(|| {
        let sim = Sim {
            seed: 20_261_130,
            events: 30_000,
            rate: 300,
            start_ms: start_before_midnight(70_000),
            out_of_order_ms: 1_500,
            late_fraction: 0.03,
            late_by_ms: 10_000,
            no_pacing: true,
        };
        eprintln!(
            "[dataflow test] filling the shared stream ({} events)",
            sim.events
        );
        Stream::prefilled(stack(), "df_shared", sim)
    })
}

/// A fresh database with the four tables.
fn database(s: &Stack, name: &str) -> String {
    let db = unique_name(name);
    init_database(s, &db).unwrap();
    db
}

/// Runs a cluster over a prefilled stream until it stops at the watermark, then reads the
/// tables.
fn run_to_end(s: &Stack, stream: &Stream, options: &DataflowOptions) -> Tables {
    let started = Instant::now();
    let mut df = Dataflow::start(s, options).unwrap();
    if let Err(e) = df.wait(RUN_TIMEOUT) {
        panic!(
            "wa-dataflow {} over {}: {e:#}",
            options.shape(),
            stream.topic
        );
    }
    eprintln!(
        "[dataflow test] {} run over {} finished in {:.1?}",
        options.shape(),
        stream.topic,
        started.elapsed()
    );
    Tables::read(s, &options.database).unwrap()
}

/// Sanity of an expectation, so a test cannot pass on a degenerate stream.
fn assert_meaningful(expected: &Expected) {
    let t = &expected.tables;
    assert!(t.late.len() > 100, "too few late events: {}", t.summary());
    assert!(t.rejected.len() >= 10, "too few rejects: {}", t.summary());
    let dates: std::collections::BTreeSet<&str> = t.page.iter().map(|r| r.dt.as_str()).collect();
    assert!(dates.len() >= 2, "windows on one date only: {dates:?}");
}

#[test]
fn tumbling_windows_and_every_table_equal_the_oracle() {
    let s = stack();
    let _claim = s.shared();
    let stream = shared_stream();
    let config = OracleConfig::tumbling(MINUTE_MS, LATENESS_MS);
    let expected = Expected::compute(&stream.layout, &config);
    assert_meaningful(&expected);

    let db = database(s, "df_oracle");
    let mut options = DataflowOptions::new(&stream.topic, &db).cluster(2, 1);
    options.stop_at_watermark_ms = Some(stream.stop_at_ms(MINUTE_MS, LATENESS_MS));
    let actual = run_to_end(s, stream, &options);
    assert_tables_eq(
        &expected.tables,
        &actual.without_reason_detail(),
        "oracle vs 2×1 run, tumbling 1 min",
    );
    block_on(cleanup(s, &db)).unwrap();
}

#[test]
fn hopping_windows_equal_the_oracle() {
    let s = stack();
    let _claim = s.shared();
    let stream = shared_stream();
    let (size, slide) = (MINUTE_MS, 20_000);
    let expected = Expected::compute(
        &stream.layout,
        &OracleConfig::hopping(size, slide, LATENESS_MS),
    );

    let db = database(s, "df_hopping");
    let mut options = DataflowOptions::new(&stream.topic, &db).cluster(1, 2);
    options.window_size = Duration::from_millis(size as u64);
    options.window_slide = Some(Duration::from_millis(slide as u64));
    options.stop_at_watermark_ms = Some(stream.stop_at_ms(size, LATENESS_MS));
    let actual = run_to_end(s, stream, &options);
    assert_tables_eq(
        &expected.tables,
        &actual.without_reason_detail(),
        "oracle vs 1×2 run, hopping 1 min / 20 s",
    );
    block_on(cleanup(s, &db)).unwrap();
}

#[test]
fn one_two_and_four_workers_write_identical_tables() {
    let s = stack();
    let _claim = s.shared();
    let stream = shared_stream();
    let mut runs: Vec<(String, String, Tables)> = Vec::new();
    for (processes, workers) in [(1, 1), (1, 2), (2, 2)] {
        let db = database(s, "df_determinism");
        let mut options = DataflowOptions::new(&stream.topic, &db).cluster(processes, workers);
        options.stop_at_watermark_ms = Some(stream.stop_at_ms(MINUTE_MS, LATENESS_MS));
        let tables = run_to_end(s, stream, &options);
        runs.push((options.shape(), db, tables));
    }
    let (first_shape, _, first) = &runs[0];
    assert!(!first.raw.is_empty(), "the {first_shape} run wrote nothing");
    for (shape, _, tables) in &runs[1..] {
        // Every column but rejected_web_events.seen_at (never read), reason_detail included.
        assert_tables_eq(first, tables, &format!("{first_shape} run vs {shape} run"));
    }
    for (_, db, _) in &runs {
        block_on(cleanup(s, db)).unwrap();
    }
}

#[test]
fn idle_partitions_do_not_hold_windows_back() {
    let s = stack();
    let _claim = s.shared();
    let topic = unique_name("df_idle");
    block_on(create_topic(s, &topic, PARTITIONS)).unwrap();
    let db = database(s, "df_idle");
    let (window, lateness, idle) = (
        Duration::from_secs(10),
        Duration::from_secs(3),
        Duration::from_secs(3),
    );
    // Time from a window's end to its rows being readable, beyond lateness + idle timeout:
    // a commit (roll interval 1 s) and one Hive SQL query (~10 s, more on a busy machine).
    let slack = Duration::from_secs(30);
    let mut options = DataflowOptions::new(&topic, &db).cluster(1, 2);
    options.window_size = window;
    options.max_out_of_orderness = lateness;
    options.idle_timeout = idle;
    options.roll_interval = Duration::from_secs(1);
    let mut df = Dataflow::start(s, &options).unwrap();
    // Every partition is empty: all become idle and follow the wall clock.
    df.run_for(idle + Duration::from_secs(3)).unwrap();

    // 40 events over 4 s, all to partition 0, each stamped with the time it is sent: in
    // order, so on time by the data rule, and (latency ≪ lateness) by the idle rule too.
    let producer: FutureProducer = kafka_config(s).create().unwrap();
    let mut layout = Layout::new(&topic, PARTITIONS);
    let mut pending = Vec::new();
    for i in 0..40 {
        let t = now_ms();
        let value = hand_event(
            &format!("idle-{i}"),
            &format!("/idle/{}", i % 3),
            "click",
            t,
        );
        let key = format!("idle-session-{}", i % 5);
        let record = FutureRecord::to(&topic)
            .partition(0)
            .key(&key)
            .payload(&value)
            .timestamp(t);
        pending.push(producer.send_result(record).map_err(|(e, _)| e).unwrap());
        layout.push(0, Some(key.as_bytes()), value.as_bytes(), t);
        std::thread::sleep(Duration::from_millis(100));
    }
    block_on(async {
        for delivery in pending {
            delivery.await.unwrap().map_err(|(e, _)| e).unwrap();
        }
    });
    let config = OracleConfig::tumbling(window.as_millis() as i64, lateness.as_millis() as i64);
    let expected = Expected::compute(&layout, &config);

    // Poll page_analytics until every window's rows are there; note when each appeared.
    let mut window_ends: Vec<i64> = expected
        .tables
        .page
        .iter()
        .map(|r| ms_of(&r.window_end))
        .collect();
    window_ends.sort();
    window_ends.dedup();
    let bound = lateness + idle + slack;
    let last_deadline = window_ends.last().unwrap() + bound.as_millis() as i64;
    let mut seen_at: Vec<Option<i64>> = vec![None; window_ends.len()];
    while seen_at.iter().any(Option::is_none) && now_ms() < last_deadline + 15_000 {
        df.ensure_running().unwrap();
        let rows = Tables::read(s, &db).unwrap().page;
        let checked_at = now_ms();
        for (i, &end) in window_ends.iter().enumerate() {
            let want: Vec<_> = expected
                .tables
                .page
                .iter()
                .filter(|r| ms_of(&r.window_end) == end)
                .collect();
            let have: Vec<_> = rows
                .iter()
                .filter(|r| ms_of(&r.window_end) == end)
                .collect();
            if seen_at[i].is_none() && !have.is_empty() {
                assert_eq!(have, want, "rows of the window ending {}", r_ts(end));
                seen_at[i] = Some(checked_at);
            }
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    for (i, &end) in window_ends.iter().enumerate() {
        let Some(seen) = seen_at[i] else {
            panic!(
                "the window ending {} never appeared in Hive ({:?} after its end)\n{}",
                r_ts(end),
                bound,
                df.log_tail(30)
            );
        };
        let after = Duration::from_millis((seen - end).max(0) as u64);
        eprintln!(
            "[dataflow test] window ending {} visible {after:.1?} after its end",
            r_ts(end)
        );
        assert!(
            after <= bound,
            "window ending {} appeared {after:?} after its end; allowed: lateness {lateness:?} \
             + idle timeout {idle:?} + {slack:?} for commit and query",
            r_ts(end)
        );
    }
    // Raw rows are committed within the roll interval; nothing is late or rejected.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let actual = Tables::read(s, &db).unwrap();
        if actual == expected.tables || Instant::now() > deadline {
            assert_tables_eq(&expected.tables, &actual, "oracle vs idle-partition run");
            break;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    df.stop(Duration::from_secs(20)).unwrap();
    block_on(cleanup(s, &db)).unwrap();
}

#[test]
fn sigkill_mid_stream_and_restart_with_other_worker_counts_loses_and_duplicates_nothing() {
    let s = stack();
    let _claim = s.shared();
    // 15 000 events over 50 s of stream time (and of wall time: the producer runs live while
    // the cluster is killed and restarted), starting 23:59:35 UTC.
    let sim = Sim {
        seed: 7,
        events: 15_000,
        rate: 300,
        start_ms: start_before_midnight(25_000),
        out_of_order_ms: 1_000,
        late_fraction: 0.03,
        late_by_ms: 8_000,
        no_pacing: false,
    };
    let mut stream = Stream::create(s, "df_restart", sim);
    stream.produce_leading(s);
    let mut producer = stream.sim.spawn(s, &stream.topic, &stream.log);
    // Every partition has data before the cluster starts, and the idle timeout (15 s) is far
    // above any pause of a live producer: the idle policy never judges a record here.
    pause(Duration::from_secs(4), "the producer fills every partition");

    let db = database(s, "df_restart");
    let stop_at = stream.stop_at_ms(MINUTE_MS, LATENESS_MS);
    let options = |processes, workers, launcher| {
        let mut o = DataflowOptions::new(&stream.topic, &db).cluster(processes, workers);
        o.idle_timeout = Duration::from_secs(15);
        o.stop_at_watermark_ms = Some(stop_at);
        o.launcher = launcher;
        o
    };
    let mut rng = rand::rng();
    for (processes, workers, launcher, kill_after) in [
        (2, 1, Launcher::Launch, rng.random_range(8_000..18_000)),
        (1, 2, Launcher::Launch, rng.random_range(6_000..14_000)),
    ] {
        let o = options(processes, workers, launcher);
        let mut df = Dataflow::start(s, &o).unwrap();
        eprintln!(
            "[dataflow test] SIGKILL of the {} cluster in {kill_after} ms",
            o.shape()
        );
        df.run_for(Duration::from_millis(kill_after)).unwrap();
        df.kill().unwrap();
        eprintln!("[dataflow test] killed the {} cluster", o.shape());
    }
    let o = options(2, 2, Launcher::PerProcess);
    let mut df = Dataflow::start(s, &o).unwrap();
    producer.wait_success("wa-producer simulate");
    stream.produce_trailing(s);
    if let Err(e) = df.wait(RUN_TIMEOUT) {
        panic!("the restarted {} cluster: {e:#}", o.shape());
    }
    stream.finish_layout(s);
    let expected = Expected::compute(
        &stream.layout,
        &OracleConfig::tumbling(MINUTE_MS, LATENESS_MS),
    );
    assert!(!expected.tables.late.is_empty() && !expected.tables.rejected.is_empty());
    let restarted = Tables::read(s, &db).unwrap();
    assert_tables_eq(
        &expected.tables,
        &restarted.clone().without_reason_detail(),
        "oracle vs killed-and-restarted runs (2×1, 1×2, then 2×2)",
    );

    // An uninterrupted run over the same topic writes the same tables, details included.
    let db_once = database(s, "df_restart_once");
    let mut once = DataflowOptions::new(&stream.topic, &db_once);
    once.stop_at_watermark_ms = Some(stop_at);
    let uninterrupted = run_to_end(s, &stream, &once);
    assert_tables_eq(
        &uninterrupted,
        &restarted,
        "uninterrupted 1×1 run vs killed-and-restarted runs",
    );
    block_on(cleanup(s, &db)).unwrap();
    block_on(cleanup(s, &db_once)).unwrap();
    stream.remove_log();
}

/// `yyyy-MM-dd HH:mm:ss.SSS` (UTC) back to epoch ms.
fn ms_of(sql_timestamp: &str) -> i64 {
    chrono::NaiveDateTime::parse_from_str(sql_timestamp, "%Y-%m-%d %H:%M:%S%.3f")
        .unwrap()
        .and_utc()
        .timestamp_millis()
}

fn r_ts(ms: i64) -> String {
    wa_tests::oracle::sql_timestamp(ms)
}
