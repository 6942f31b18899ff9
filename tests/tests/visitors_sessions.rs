//! `visitor_analytics` and `sessions` against the real stack, written by the real
//! `wa-dataflow` binary, read back through Hive SQL and judged by the independent oracle
//! (`wa_tests::oracle`):
//!
//! - **Tumbling windows, any cluster shape:** 1 × 1, 1 × 2 and 2 × 2 (processes × workers)
//!   each write both tables exactly as the oracle recomputes them, so identical tables.
//! - **Hopping windows, cut by the stop watermark:** 1-minute windows every 20 s; the run stops
//!   at a watermark a few seconds past the last event, so the last windows and the sessions
//!   whose close time lies past it are not written (yet), and every other one is.
//! - **SIGKILL:** a cluster reading the stream live is killed twice and restarted with other
//!   worker counts; the tables still equal the oracle.
//!
//! The stream is a seeded simulation (mean think time 5 s) with jitter, 3 % late events and
//! 10 % copies of events sent again, plus the hand-made leading and trailing records of the
//! dataflow tests (malformed ones, and a session whose events reach two partitions). With
//! `--session-gap 8s` some think times are longer than the gap and most shorter, and with
//! `--max-session-duration 30s` the longer sessions are split; the test checks that the
//! stream really has every case before it judges a run.
//!
//! As in the dataflow tests, the idle policy never judges a record: the shared topic is filled
//! before a cluster reads it, and the live one has data in every partition before the first
//! cluster starts and an idle timeout far above any pause of its sender.

#![allow(clippy::unwrap_used)] // a test fails by panicking

#[path = "dataflow/support.rs"]
#[allow(dead_code)] // shared with dataflow.rs, real_traffic.rs and end_to_end.rs
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rand::Rng as _;
use support::*;
use wa_tests::dataflow::{cleanup, init_database, Dataflow, DataflowOptions, Launcher};
use wa_tests::oracle::{assert_visitor_tables_eq, Expected, Layout, OracleConfig, VisitorTables};
use wa_tests::{create_topic, read_topic, stack, unique_name, Stack};

const MINUTE_MS: i64 = 60_000;
/// `--max-out-of-orderness`.
const LATENESS_MS: i64 = 3_000;
/// `--session-gap`: above most of the simulator's think times (mean 5 s), below some.
const GAP_MS: i64 = 8_000;
/// `--max-session-duration`: shorter than the longer simulated sessions.
const MAX_SESSION_MS: i64 = 30_000;
/// Longest a run over a drained topic may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// The records every case sends, in order: the leading hand-made records, a seeded
/// simulation's log with 10 % of its events sent again, the trailing hand-made records.
struct Source {
    sim: Sim,
    records: Vec<Extra>,
    copies: usize,
}

/// 20 000 simulated events over 100 s of stream time from 23:59:20 UTC, so windows and
/// sessions lie on two dates; jitter up to 1.5 s (on time with 3 s of lateness), 3 % late
/// events 10 s old. The simulation runs once per test binary, into a scratch topic, for its
/// log.
fn source() -> &'static Source {
    static SOURCE: OnceLock<Source> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let s = stack();
        let sim = Sim {
            seed: 2_020,
            events: 20_000,
            rate: 200,
            start_ms: start_before_midnight(40_000),
            out_of_order_ms: 1_500,
            late_fraction: 0.03,
            late_by_ms: 10_000,
            no_pacing: true,
        };
        eprintln!("[visitors test] simulating {} events", sim.events);
        let scratch = Stream::create(s, "vs_source", sim.clone());
        sim.run(s, &scratch.topic, &scratch.log);
        let log = std::fs::read_to_string(&scratch.log).unwrap();
        scratch.remove_log();
        let (copied, copies) = with_copies(&log, 20);
        let mut records = leading_records(sim.start_ms);
        records.extend(copied);
        records.extend(trailing_records(sim.start_ms, sim.end_ms()));
        Source {
            sim,
            records,
            copies,
        }
    })
}

/// A topic holding the [`source`] records, and its layout.
struct Prefilled {
    topic: String,
    layout: Layout,
}

/// The topic of the tumbling and hopping cases, filled once per test binary.
fn prefilled() -> &'static Prefilled {
    static TOPIC: OnceLock<Prefilled> = OnceLock::new();
    TOPIC.get_or_init(|| {
        let s = stack();
        let source = source();
        let topic = unique_name("vs_shared");
        block_on(create_topic(s, &topic, PARTITIONS)).unwrap();
        produce(s, &topic, &source.records);
        let mut layout = Layout::new(&topic, PARTITIONS);
        push_all(&mut layout, &source.records);
        layout
            .check_against(&read_topic(s, &topic).unwrap())
            .unwrap();
        Prefilled { topic, layout }
    })
}

/// The oracle's settings for windows of `size_ms` every `slide_ms`.
fn config(size_ms: i64, slide_ms: i64) -> OracleConfig {
    OracleConfig::hopping(size_ms, slide_ms, LATENESS_MS)
        .with_session_gap(GAP_MS)
        .with_max_session_duration(MAX_SESSION_MS)
}

/// A fresh database with every table (`wa-hive init`).
fn database(s: &Stack, name: &str) -> String {
    let db = unique_name(name);
    init_database(s, &db).unwrap();
    db
}

/// Dataflow options of these tests: `--session-gap` and `--max-session-duration` set.
fn options(topic: &str, db: &str, processes: usize, workers: usize) -> DataflowOptions {
    let mut o = DataflowOptions::new(topic, db).cluster(processes, workers);
    o.session_gap = Some(Duration::from_millis(GAP_MS as u64));
    o.max_session_duration = Some(Duration::from_millis(MAX_SESSION_MS as u64));
    o
}

/// Runs a cluster over a filled topic until it stops at its watermark, then reads the two
/// tables.
fn run_to_end(s: &Stack, options: &DataflowOptions) -> VisitorTables {
    let started = Instant::now();
    let mut df = Dataflow::start(s, options).unwrap();
    if let Err(e) = df.wait(RUN_TIMEOUT) {
        panic!(
            "wa-dataflow {} over {}: {e:#}",
            options.shape(),
            options.topic
        );
    }
    eprintln!(
        "[visitors test] {} run over {} finished in {:.1?}",
        options.shape(),
        options.topic,
        started.elapsed()
    );
    VisitorTables::read(s, &options.database).unwrap()
}

/// `yyyy-MM-dd HH:mm:ss.SSS` (UTC) back to epoch ms.
fn ms_of(sql_timestamp: &str) -> i64 {
    chrono::NaiveDateTime::parse_from_str(sql_timestamp, "%Y-%m-%d %H:%M:%S%.3f")
        .unwrap()
        .and_utc()
        .timestamp_millis()
}

/// What a stream has, so a test cannot pass on a degenerate one: per kind, how many.
fn cases(expected: &Expected, want: &VisitorTables) -> BTreeMap<&'static str, usize> {
    let mut n: BTreeMap<&'static str, usize> = BTreeMap::new();
    n.insert("late events", expected.tables.late.len());
    let dates: BTreeSet<&str> = want.sessions.iter().map(|r| r.dt.as_str()).collect();
    n.insert("session dates", dates.len());
    // Per session_id, its sessions' (start, end), in order.
    let mut by_id: BTreeMap<&str, Vec<(i64, i64)>> = BTreeMap::new();
    for r in &want.sessions {
        by_id
            .entry(r.session_id.as_str())
            .or_default()
            .push((ms_of(&r.session_start), ms_of(&r.session_end)));
    }
    let mut count = |what: &'static str, yes: bool| *n.entry(what).or_default() += usize::from(yes);
    for r in &want.sessions {
        count("bounces", r.is_bounce);
        count("engaged sessions", !r.is_bounce);
    }
    for spans in by_id.values_mut() {
        spans.sort_unstable();
        for pair in spans.windows(2) {
            let ((start, end), (next, _)) = (pair[0], pair[1]);
            count("splits by the gap", next - end > GAP_MS);
            count(
                "splits at the maximum duration",
                next - end <= GAP_MS && next - start >= MAX_SESSION_MS,
            );
        }
    }
    for r in &want.visitors {
        count("site rows", r.page_url.is_none());
        count(
            "rows with fewer visitors than events",
            r.unique_visitors < r.events,
        );
    }
    n
}

/// Panics unless every kind of [`cases`] occurs at least `least` times (dates and site
/// rows: twice).
fn assert_meaningful(expected: &Expected, want: &VisitorTables, least: usize) {
    let n = cases(expected, want);
    for (what, &count) in &n {
        // One site row per window: a few windows, over two dates.
        let need = if matches!(*what, "session dates" | "site rows") {
            2
        } else {
            least
        };
        assert!(count >= need, "only {count} {what} in the stream: {n:?}");
    }
    eprintln!("[visitors test] the stream has {n:?}");
}

#[test]
fn tumbling_windows_equal_the_oracle_for_one_two_and_four_workers() {
    let s = stack();
    let _claim = s.shared();
    let dbs: Vec<String> = (0..3).map(|_| database(s, "vs_tumbling")).collect();
    let topic = prefilled();
    assert!(source().copies > 1_000, "{} copies", source().copies);
    let expected = Expected::compute(&topic.layout, &config(MINUTE_MS, MINUTE_MS));
    let stop_at = source().sim.end_ms() + MINUTE_MS + LATENESS_MS;
    let want = expected.visitor_tables_at(stop_at);
    // Every window and session is complete by then.
    assert_eq!(want, expected.visitor_tables);
    assert_meaningful(&expected, &want, 10);

    let mut first: Option<(String, VisitorTables)> = None;
    for ((processes, workers), db) in [(1, 1), (1, 2), (2, 2)].into_iter().zip(&dbs) {
        let mut o = options(&topic.topic, db, processes, workers);
        o.stop_at_watermark_ms = Some(stop_at);
        let actual = run_to_end(s, &o);
        assert_visitor_tables_eq(
            &want,
            &actual,
            &format!("oracle vs {} run, tumbling 1 min", o.shape()),
        );
        match &first {
            None => first = Some((o.shape(), actual)),
            Some((shape, tables)) => assert_visitor_tables_eq(
                tables,
                &actual,
                &format!("{shape} run vs {} run", o.shape()),
            ),
        }
    }
    for db in &dbs {
        block_on(cleanup(s, db)).unwrap();
    }
}

#[test]
fn hopping_windows_and_sessions_closed_by_the_stop_watermark_equal_the_oracle() {
    let s = stack();
    let _claim = s.shared();
    let db = database(s, "vs_hopping");
    let topic = prefilled();
    let (size, slide) = (MINUTE_MS, 20_000);
    let expected = Expected::compute(&topic.layout, &config(size, slide));
    // 5 s past the last slot: sessions with an event in the last 3 s are still open (their
    // close time is last + 8 s + 1 ms), and so are the windows ending after it.
    let stop_at = source().sim.end_ms() + 5_000;
    let want = expected.visitor_tables_at(stop_at);
    let open = expected.visitor_tables.sessions.len() - want.sessions.len();
    let unwritten = expected.visitor_tables.visitors.len() - want.visitors.len();
    assert!(open >= 10, "only {open} sessions still open at the stop");
    assert!(unwritten > 0, "every window ends before the stop");
    let near = want
        .sessions
        .iter()
        .filter(|r| expected.close_ms(r) > stop_at - GAP_MS)
        .count();
    assert!(
        near > 0,
        "no session closes in the last {GAP_MS} ms before the stop"
    );
    assert_meaningful(&expected, &want, 10);

    let mut o = options(&topic.topic, &db, 2, 1);
    o.window_size = Duration::from_millis(size as u64);
    o.window_slide = Some(Duration::from_millis(slide as u64));
    o.stop_at_watermark_ms = Some(stop_at);
    let actual = run_to_end(s, &o);
    assert_visitor_tables_eq(
        &want,
        &actual,
        &format!(
            "oracle vs {} run, hopping 1 min / 20 s, stopped 5 s past the last event \
             ({open} sessions still open)",
            o.shape()
        ),
    );
    block_on(cleanup(s, &db)).unwrap();
}

#[test]
fn sigkill_mid_stream_and_restarts_with_other_worker_counts_change_nothing() {
    let s = stack();
    let _claim = s.shared();
    let db = database(s, "vs_kill");
    let source = source();
    // Sent live (250 records every 500 ms, ≈ 45 s) while a cluster is killed twice and
    // restarted with other worker counts.
    let topic = unique_name("vs_live");
    block_on(create_topic(s, &topic, PARTITIONS)).unwrap();
    let mut layout = Layout::new(&topic, PARTITIONS);
    push_all(&mut layout, &source.records);
    let sender = {
        let (topic, records) = (topic.clone(), source.records.clone());
        std::thread::spawn(move || {
            for chunk in records.chunks(250) {
                let began = Instant::now();
                produce(stack(), &topic, chunk);
                std::thread::sleep(Duration::from_millis(500).saturating_sub(began.elapsed()));
            }
        })
    };
    let expected = Expected::compute(&layout, &config(MINUTE_MS, MINUTE_MS));
    let stop_at = source.sim.end_ms() + MINUTE_MS + LATENESS_MS;
    let want = expected.visitor_tables_at(stop_at);
    assert_meaningful(&expected, &want, 10);

    pause(Duration::from_secs(3), "every partition has data");
    let live = |processes, workers, launcher| {
        let mut o = options(&topic, &db, processes, workers);
        o.idle_timeout = Duration::from_secs(15);
        o.roll_interval = Duration::from_secs(1);
        o.stop_at_watermark_ms = Some(stop_at);
        o.launcher = launcher;
        o
    };
    let mut rng = rand::rng();
    for (processes, workers, kill_after) in [
        (2, 1, rng.random_range(6_000..14_000)),
        (1, 2, rng.random_range(6_000..14_000)),
    ] {
        let o = live(processes, workers, Launcher::Launch);
        let mut df = Dataflow::start(s, &o).unwrap();
        df.run_for(Duration::from_millis(kill_after)).unwrap();
        df.kill().unwrap();
        eprintln!(
            "[visitors test] killed the {} cluster after {kill_after} ms",
            o.shape()
        );
    }
    let o = live(2, 2, Launcher::PerProcess);
    let mut df = Dataflow::start(s, &o).unwrap();
    sender.join().unwrap();
    layout
        .check_against(&read_topic(s, &topic).unwrap())
        .unwrap();
    if let Err(e) = df.wait(RUN_TIMEOUT) {
        panic!("the restarted {} cluster: {e:#}", o.shape());
    }
    let actual = VisitorTables::read(s, &db).unwrap();
    assert_visitor_tables_eq(
        &want,
        &actual,
        "oracle vs killed-and-restarted runs (2×1, 1×2, then 2×2)",
    );
    block_on(cleanup(s, &db)).unwrap();
}
