//! Results under real traffic, against the real stack, with the real `wa-dataflow` binary:
//!
//! - **Wrong clocks.** Events dated 2038, 2099 and one day ahead, mixed into two partitions of
//!   a seeded stream, are rejected as `event_time_in_future`: every table equals the oracle
//!   that treats them as rejected, and each partition's checkpoint moves past them.
//! - **Duplicates.** 10 % of a seeded stream's events are sent again a little later (same
//!   payload, same key): `raw_web_events` holds every `event_id` once and every table equals
//!   the oracle without the copies, for 1 × 1, 1 × 2 and 2 × 2 workers, and across two SIGKILLs
//!   of a cluster reading the stream live.
//! - **Idle advances replayed.** A live stream pauses longer than `--idle-timeout`, then sends
//!   events that only the idle advance makes late. A cluster killed twice in that stream and
//!   restarted with other worker counts writes the tables of an uninterrupted cluster reading
//!   the same stream at the same time, and per (page_url, event_type) counted + late = raw.

#![allow(clippy::unwrap_used)] // a test fails by panicking

#[path = "dataflow/support.rs"]
#[allow(dead_code)] // shared with dataflow.rs and end_to_end.rs, which use other parts
mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::Rng as _;
use rdkafka::producer::{FutureProducer, FutureRecord};
use support::*;
use wa_tests::dataflow::{cleanup, init_database, Dataflow, DataflowOptions, Launcher};
use wa_tests::oracle::{assert_tables_eq, Expected, Layout, OracleConfig, Tables};
use wa_tests::{kafka_config, read_topic, stack, unique_name, Stack};

const MINUTE_MS: i64 = 60_000;
const LATENESS_MS: i64 = 3_000;
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

fn database(s: &Stack, name: &str) -> String {
    let db = unique_name(name);
    init_database(s, &db).unwrap();
    db
}

fn run_to_end(s: &Stack, options: &DataflowOptions) -> Tables {
    let mut df = Dataflow::start(s, options).unwrap();
    if let Err(e) = df.wait(RUN_TIMEOUT) {
        panic!(
            "wa-dataflow {} over {}: {e:#}",
            options.shape(),
            options.topic
        );
    }
    Tables::read(s, &options.database).unwrap()
}

/// The checkpoint a run left: per partition `(read_offset, resume_offset)`.
fn checkpoint_offsets(s: &Stack, options: &DataflowOptions) -> BTreeMap<i32, (i64, i64)> {
    let path = format!(
        "{}/{}/checkpoint.json",
        options.checkpoint_dir, options.topic
    );
    let bytes = block_on(async {
        let client = hdfs_native::ClientBuilder::new()
            .with_url(&s.hdfs_url)
            .build()
            .unwrap();
        let mut reader = client.read(&path).await.unwrap();
        reader.read_bytes(reader.file_length()).await.unwrap()
    });
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    json["partitions"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(p, c)| {
            (
                p.parse().unwrap(),
                (
                    c["read_offset"].as_i64().unwrap(),
                    c["resume_offset"].as_i64().unwrap(),
                ),
            )
        })
        .collect()
}

#[test]
fn far_future_events_are_rejected_and_hold_no_partition_back() {
    let s = stack();
    let _claim = s.shared();
    let sim = Sim {
        seed: 2038,
        events: 20_000,
        rate: 400,
        start_ms: start_before_midnight(30_000),
        out_of_order_ms: 1_000,
        late_fraction: 0.02,
        late_by_ms: 8_000,
        no_pacing: true,
    };
    let stream = Stream::create(s, "rt_future", sim);
    let t0 = stream.sim.start_ms;
    let at = |partition: i32, id: &str, event_time: i64, ingested: i64| Extra {
        partition,
        key: Some(format!("future-{id}")),
        value: hand_event(id, "/future", "click", event_time).into_bytes(),
        timestamp_ms: ingested,
    };
    // Ingested at the stream's start; dated 2038-01-19T03:14:08Z, 2099-06-01 and one day on.
    let future = vec![
        at(0, "future-2038", 2_147_483_648_000, t0),
        at(1, "future-2099", 4_083_868_800_000, t0),
        at(0, "future-1d", t0 + 86_400_000, t0 + 1_000),
        // Within the bound (2 s ahead, at the stream's start): an ordinary on-time event.
        at(1, "near-future", t0 + 2_000, t0),
    ];
    produce(s, &stream.topic, &future);
    stream.sim.run(s, &stream.topic, &stream.log);
    let trailing = trailing_records(t0, stream.sim.end_ms());
    produce(s, &stream.topic, &trailing);

    let mut layout = Layout::new(&stream.topic, PARTITIONS);
    push_all(&mut layout, &future);
    layout
        .push_log(&std::fs::read_to_string(&stream.log).unwrap())
        .unwrap();
    push_all(&mut layout, &trailing);
    layout
        .check_against(&read_topic(s, &stream.topic).unwrap())
        .unwrap();
    let expected = Expected::compute(&layout, &OracleConfig::tumbling(MINUTE_MS, LATENESS_MS));
    let mut in_future: Vec<_> = expected
        .tables
        .rejected
        .iter()
        .filter(|r| r.reason == "event_time_in_future")
        .map(|r| (r.kafka_partition, r.kafka_offset))
        .collect();
    in_future.sort_unstable();
    assert_eq!(
        in_future,
        [(0, 0), (0, 1), (1, 0)],
        "the oracle's rejections"
    );

    let db = database(s, "rt_future");
    let mut options = DataflowOptions::new(&stream.topic, &db).cluster(2, 1);
    options.stop_at_watermark_ms = Some(stream.stop_at_ms(MINUTE_MS, LATENESS_MS));
    let actual = run_to_end(s, &options);
    assert_tables_eq(
        &expected.tables,
        &actual.without_reason_detail(),
        "oracle (far-future events rejected) vs 2×1 run",
    );
    // Before: the far-future windows stayed open and pinned resume_offset at their records.
    for (partition, (read, resume)) in checkpoint_offsets(s, &options) {
        assert!(
            resume > 1 && read > 1,
            "partition {partition}: checkpoint read_offset {read}, resume_offset {resume} \
             still at the far-future records"
        );
    }
    block_on(cleanup(s, &db)).unwrap();
    stream.remove_log();
}

#[test]
fn copies_of_an_event_are_written_once_for_any_worker_count_and_across_kills() {
    let s = stack();
    let _claim = s.shared();
    // The events: a seeded simulation into a scratch topic, kept as its log.
    let sim = Sim {
        seed: 1010,
        events: 15_000,
        rate: 300,
        start_ms: start_before_midnight(20_000),
        out_of_order_ms: 1_000,
        late_fraction: 0.02,
        late_by_ms: 8_000,
        no_pacing: true,
    };
    let scratch = Stream::create(s, "rt_dup_source", sim.clone());
    sim.run(s, &scratch.topic, &scratch.log);
    let log = std::fs::read_to_string(&scratch.log).unwrap();
    let (records, copies) = with_copies(&log, 7);
    assert!(copies > 1_000, "{copies} copies");

    // Sent live (≈ 500 records/s, 35 s) while a cluster is killed twice and restarted with
    // other worker counts.
    let topic = unique_name("rt_dup");
    block_on(wa_tests::create_topic(s, &topic, PARTITIONS)).unwrap();
    let mut layout = Layout::new(&topic, PARTITIONS);
    push_all(&mut layout, &records);
    let sender = {
        let (topic, records) = (topic.clone(), records.clone());
        std::thread::spawn(move || {
            for chunk in records.chunks(250) {
                let began = Instant::now();
                produce(stack(), &topic, chunk);
                std::thread::sleep(Duration::from_millis(500).saturating_sub(began.elapsed()));
            }
        })
    };
    let config = OracleConfig::tumbling(MINUTE_MS, LATENESS_MS);
    let expected = Expected::compute(&layout, &config);
    let valid = expected.tables.raw.len();
    let mut ids: Vec<&str> = expected
        .tables
        .raw
        .iter()
        .map(|r| r.event_id.as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), valid, "the oracle keeps one row per event_id");
    assert_eq!(valid, sim.events as usize, "the oracle drops every copy");
    let stop_at = sim.end_ms() + MINUTE_MS + LATENESS_MS;

    pause(Duration::from_secs(3), "every partition has data");
    let db = database(s, "rt_dup_kill");
    let options = |processes, workers, launcher| {
        let mut o = DataflowOptions::new(&topic, &db).cluster(processes, workers);
        o.idle_timeout = Duration::from_secs(15);
        o.roll_interval = Duration::from_secs(1);
        o.stop_at_watermark_ms = Some(stop_at);
        o.launcher = launcher;
        o
    };
    let mut rng = rand::rng();
    for (processes, workers, kill_after) in [
        (2, 1, rng.random_range(6_000..12_000)),
        (1, 2, rng.random_range(6_000..12_000)),
    ] {
        let o = options(processes, workers, Launcher::Launch);
        let mut df = Dataflow::start(s, &o).unwrap();
        df.run_for(Duration::from_millis(kill_after)).unwrap();
        df.kill().unwrap();
        eprintln!(
            "[real traffic] killed the {} cluster after {kill_after} ms",
            o.shape()
        );
    }
    let o = options(2, 2, Launcher::PerProcess);
    let mut df = Dataflow::start(s, &o).unwrap();
    sender.join().unwrap();
    layout
        .check_against(&read_topic(s, &topic).unwrap())
        .unwrap();
    if let Err(e) = df.wait(RUN_TIMEOUT) {
        panic!("the restarted {} cluster: {e:#}", o.shape());
    }
    let killed = Tables::read(s, &db).unwrap();
    assert_tables_eq(
        &expected.tables,
        &killed.without_reason_detail(),
        "oracle without copies vs killed-and-restarted runs (2×1, 1×2, then 2×2)",
    );
    block_on(cleanup(s, &db)).unwrap();

    // The whole topic at once, with each cluster shape.
    for (processes, workers) in [(1, 1), (1, 2), (2, 2)] {
        let db = database(s, "rt_dup");
        let mut o = DataflowOptions::new(&topic, &db).cluster(processes, workers);
        o.stop_at_watermark_ms = Some(stop_at);
        let tables = run_to_end(s, &o);
        assert_tables_eq(
            &expected.tables,
            &tables.without_reason_detail(),
            &format!("oracle without copies vs {} run", o.shape()),
        );
        block_on(cleanup(s, &db)).unwrap();
    }
    scratch.remove_log();
}

/// Sends `n` events spread evenly over `secs` seconds through one producer, round-robin over
/// the partitions, each dated `behind_ms` before the moment it is sent and stamped with that
/// moment; each is acknowledged before the next is due.
fn send_live(s: &Stack, topic: &str, tag: &str, n: usize, secs: u64, behind_ms: i64) -> Vec<Extra> {
    let producer: FutureProducer = kafka_config(s)
        .set("enable.idempotence", "true")
        .set("linger.ms", "0")
        .create()
        .unwrap();
    let mut sent = Vec::new();
    let gap = Duration::from_millis(secs * 1_000 / n as u64);
    let start = Instant::now();
    for i in 0..n {
        if let Some(wait) = (start + gap * i as u32).checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let now = now_ms();
        let partition = (i % PARTITIONS as usize) as i32;
        let record = Extra {
            partition,
            key: Some(format!("{tag}-session-{partition}")),
            value: hand_event(
                &format!("{tag}-{i}"),
                &format!("/{tag}/{}", i % 3),
                if i % 2 == 0 { "page_view" } else { "click" },
                now - behind_ms,
            )
            .into_bytes(),
            timestamp_ms: now,
        };
        let delivery = producer.send(
            FutureRecord::to(topic)
                .partition(record.partition)
                .key(record.key.as_deref().unwrap_or_default())
                .payload(&record.value)
                .timestamp(record.timestamp_ms),
            Duration::from_secs(10),
        );
        block_on(delivery).map_err(|(e, _)| e).unwrap();
        sent.push(record);
    }
    sent
}

/// Per (page_url, event_type): events counted in windows, late events, raw events.
fn counted_late_raw(t: &Tables) -> BTreeMap<(String, String), (i64, i64, i64)> {
    let mut sums: BTreeMap<(String, String), (i64, i64, i64)> = BTreeMap::new();
    for r in &t.page {
        sums.entry((r.page_url.clone(), r.event_type.clone()))
            .or_default()
            .0 += r.event_count;
    }
    for r in &t.late {
        sums.entry((r.page_url.clone(), r.event_type.clone()))
            .or_default()
            .1 += 1;
    }
    for r in &t.raw {
        sums.entry((r.page_url.clone(), r.event_type.clone()))
            .or_default()
            .2 += 1;
    }
    sums
}

#[test]
fn idle_advances_are_judged_the_same_after_kills_and_other_worker_counts() {
    let s = stack();
    let _claim = s.shared();
    let topic = unique_name("rt_idle");
    block_on(wa_tests::create_topic(s, &topic, PARTITIONS)).unwrap();
    let (window, idle) = (Duration::from_secs(10), Duration::from_secs(4));
    let pause_for = idle + Duration::from_secs(6);
    let options = |db: &str, processes, workers, launcher| {
        let mut o = DataflowOptions::new(&topic, db).cluster(processes, workers);
        o.window_size = window;
        o.idle_timeout = idle;
        o.roll_interval = Duration::from_secs(1);
        o.launcher = launcher;
        o
    };
    // Events 8 s behind the clock after a pause: on time by their partition's data (its
    // largest event time is ≥ 10 s old), late once the idle policy moved the watermark to
    // now − 3 s.
    let behind = 8_000;
    let mut sent = send_live(s, &topic, "warm", 40, 2, 0);
    let db_once = database(s, "rt_idle_once");
    let db_killed = database(s, "rt_idle_killed");
    let mut once = Dataflow::start(s, &options(&db_once, 1, 1, Launcher::Launch)).unwrap();
    let first = options(&db_killed, 2, 1, Launcher::Launch);
    let mut killed = Dataflow::start(s, &first).unwrap();
    sent.extend(send_live(s, &topic, "a", 120, 6, 0));
    let mut shapes = vec![(1, 2, Launcher::Launch), (2, 2, Launcher::PerProcess)].into_iter();
    for round in ["b", "c"] {
        pause(
            pause_for,
            "every partition goes idle; its watermark follows the clock",
        );
        sent.extend(send_live(s, &topic, round, 60, 3, behind));
        killed.kill().unwrap();
        let (processes, workers, launcher) = shapes.next().unwrap();
        eprintln!("[real traffic] killed; restarting as {processes}×{workers}");
        killed = Dataflow::start(s, &options(&db_killed, processes, workers, launcher)).unwrap();
        sent.extend(send_live(s, &topic, &format!("{round}-on"), 60, 3, 0));
        once.ensure_running().unwrap();
    }
    // Everything closes once the clock has passed the last window (idle policy).
    let last = sent
        .iter()
        .map(|r| events::parse(&r.value).unwrap().event_time_ms)
        .max()
        .unwrap();
    let closed_at = last + window.as_millis() as i64 * 2 + LATENESS_MS;
    let mut once_tables;
    let mut killed_tables;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        std::thread::sleep(Duration::from_secs(3));
        once.ensure_running().unwrap();
        killed.ensure_running().unwrap();
        if now_ms() < closed_at + 5_000 {
            continue;
        }
        once_tables = Tables::read(s, &db_once).unwrap();
        killed_tables = Tables::read(s, &db_killed).unwrap();
        let complete = |t: &Tables| t.raw.len() == sent.len();
        let same = once_tables.clone().without_late_watermark()
            == killed_tables.clone().without_late_watermark();
        if (complete(&once_tables) && complete(&killed_tables) && same) || Instant::now() > deadline
        {
            break;
        }
    }
    // Exactly the events sent behind the clock after a pause are late, in both runs, each
    // behind the watermark it was judged by.
    for (run, tables, df) in [
        ("uninterrupted", &once_tables, &once),
        ("killed", &killed_tables, &killed),
    ] {
        let mut late_by_round: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &tables.late {
            let round = r.event_id.rsplit_once('-').map_or("", |(round, _)| round);
            *late_by_round.entry(round).or_default() += 1;
            assert!(r.event_time < r.watermark, "{run}: {r:?}");
        }
        assert_eq!(
            late_by_round,
            BTreeMap::from([("b", 60), ("c", 60)]),
            "{run} run: late events per round (only rounds b and c are behind an idle \
             advance)\n{}",
            df.log_tail(40)
        );
    }
    // The same decisions; a late row's watermark is the wall clock of the idle advance that
    // made it late, which the two runs do not share.
    assert_tables_eq(
        &once_tables.clone().without_late_watermark(),
        &killed_tables.clone().without_late_watermark(),
        "uninterrupted 1×1 vs killed twice (2×1 → 1×2 → 2×2)",
    );
    for (key, (counted, late, raw)) in counted_late_raw(&killed_tables) {
        assert_eq!(
            counted + late,
            raw,
            "{key:?}: counted {counted} + late {late} ≠ raw {raw}"
        );
    }
    once.stop(Duration::from_secs(20)).unwrap();
    killed.stop(Duration::from_secs(20)).unwrap();
    block_on(cleanup(s, &db_once)).unwrap();
    block_on(cleanup(s, &db_killed)).unwrap();
}
