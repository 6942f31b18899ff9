//! The archiver against the real stack, running the real `wa-archiver` binary: Kafka records
//! (valid, malformed, invalid UTF-8, embedded newlines, null) land in HDFS byte for byte under
//! their record timestamp's UTC date, exactly once across SIGKILLs, within the roll interval on
//! a quiet topic, and are counted by Hive SQL through `raw_web_events_json`.
//!
//! The archive is read back here with an independent decoder of the documented line format
//! (`archiver/README.md`), not with the archiver's own code.

#![allow(clippy::unwrap_used)] // a test fails by panicking

#[path = "archiver/support.rs"]
mod support;

use std::time::{Duration, Instant};

use rand::Rng as _;
use rdkafka::producer::{FutureProducer, FutureRecord};
use support::*;
use wa_tests::{create_topic, kafka_config, stack, unique_name};

/// Records of every awkward kind, spread over three days, many around midnight.
fn awkward_records(n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let ts = match i % 4 {
                0 => NOV_27 + 10 * 3_600_000 + i as i64,
                1 => NOV_27 + DAY - 1 - (i as i64 % 500),
                2 => NOV_27 + DAY + (i as i64 % 500),
                _ => NOV_27 + 2 * DAY + 12 * 3_600_000,
            };
            let key = Some(format!("session-{}", i % 17));
            let value: Option<Vec<u8>> = match i % 10 {
                0 => Some(
                    format!("{{\"seq\":{i},\"page_url\":\"/p\\n{i}\",\"note\":\"café\"}}")
                        .into_bytes(),
                ),
                1 => Some(format!("{{\"seq\":{i},\n\"split\":true}}").into_bytes()),
                2 => Some(format!("{{\"broken\":{i}").into_bytes()),
                3 => Some(
                    [
                        &[0xff, 0xfe, b'\n'][..],
                        i.to_string().as_bytes(),
                        &[0xc3, 0x28],
                    ]
                    .concat(),
                ),
                4 => Some(format!("~b64:looks-encoded-{i}").into_bytes()),
                5 => Some(format!("line\r{i}\r\n").into_bytes()),
                6 => Some(format!("\ttab {i}\x01 ctrl").into_bytes()),
                _ => Some(format!("{{\"seq\":{i},\"event_type\":\"page_view\"}}").into_bytes()),
            };
            (ts, key, value)
        })
        .chain([
            (NOV_27 + 5, None, None),
            (NOV_27 + 6, None, Some(Vec::new())),
            (NOV_27 + 7, None, Some(b"~null".to_vec())),
        ])
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_record_is_archived_byte_for_byte_under_its_date_and_hive_counts_them() {
    let s = stack();
    let _claim = s.shared();
    let mut setup = Setup::new(s, "archiver_exact", 3).await;
    setup.gzip = true;
    setup.roll_size_bytes = 4096;
    let records = awkward_records(1200);
    let n = records.len();
    produce(s, &setup.topic, &records).await;

    let mut archiver = setup.start(s);
    let archive = wait_for_records(s, &setup.root, n, Duration::from_secs(90)).await;
    archiver.assert_running();
    assert_eq!(
        count(&archive),
        n,
        "archive holds {} of {n} records",
        count(&archive)
    );
    let want = expected(&records);
    assert_eq!(
        archive.keys().collect::<Vec<_>>(),
        vec!["2026-11-27", "2026-11-28", "2026-11-29"]
    );
    assert!(
        archive == want,
        "archived values differ from the produced ones"
    );

    // Several files per date (roll by size), all gzip; the metrics agree.
    let files = hdfs(s)
        .list_status(&format!("{}/date=2026-11-27", setup.root), false)
        .await
        .unwrap();
    assert!(
        files.len() > 2,
        "4 KiB roll size should give several files, got {}",
        files.len()
    );
    assert!(files.iter().all(|f| f.path.ends_with(".jsonl.gz")));
    let metrics = archiver.metrics();
    assert!(
        metrics
            .lines()
            .any(|l| l == format!("wa_archiver_records_archived_total {n}")),
        "metrics do not count {n} archived records:\n{metrics}"
    );
    assert!(metrics.contains("wa_archiver_partition_lag_records{partition=\"0\"}"));
    assert!(metrics.contains("wa_archiver_commit_latency_seconds"));

    // Hive SQL reads the gzip text files through the table the archiver registered.
    let table = format!("{}.raw_web_events_json", setup.database);
    let deadline = Instant::now() + Duration::from_secs(60);
    let per_date = loop {
        let rows = s
            .query(&format!(
                "SELECT `date`, COUNT(*) FROM {table} GROUP BY `date` ORDER BY `date`"
            ))
            .and_then(|r| r.rows_as::<(String, i64)>());
        match rows {
            Ok(rows) if rows.len() == 3 || Instant::now() > deadline => break rows,
            _ => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    };
    let want_per_date: Vec<(String, i64)> = want
        .iter()
        .map(|(d, v)| (d.clone(), v.len() as i64))
        .collect();
    assert_eq!(per_date, want_per_date);
    let total = s
        .query(&format!("SELECT COUNT(*) FROM {table}"))
        .unwrap()
        .rows_as::<(i64,)>()
        .unwrap();
    assert_eq!(total, vec![(n as i64,)]);
    let verbatim = s
        .query(&format!(
            "SELECT COUNT(*) FROM {table} WHERE line LIKE '{{\"seq\":%' AND `date` = '2026-11-29'"
        ))
        .unwrap()
        .rows_as::<(i64,)>()
        .unwrap();
    let want_verbatim = records
        .iter()
        .filter(|(ts, _, v)| {
            date_of(*ts) == "2026-11-29"
                && v.as_ref()
                    .is_some_and(|v| v.starts_with(b"{\"seq\":") && !v.contains(&b'\n'))
        })
        .count();
    assert_eq!(
        verbatim,
        vec![(want_verbatim as i64,)],
        "valid one-line JSON must be stored as is"
    );
    archiver.stop();

    // Replay publishes the same values to a fresh topic, as a new ingestion: every record
    // is timestamped with the time it was replayed.
    let replay_topic = unique_name("archiver_replay");
    create_topic(s, &replay_topic, 2).await.unwrap();
    let replay_began = now_ms();
    let out = setup
        .command(s)
        .args([
            "replay",
            "--from",
            "2026-11-26",
            "--to",
            "2026-11-30",
            "--topic",
            &replay_topic,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), n.to_string());
    let replay_ended = now_ms();
    let replayed = consume_records(s, &replay_topic, 2, n).await;
    let outside: Vec<i64> = replayed
        .iter()
        .map(|(ts, _, _)| *ts)
        .filter(|ts| !(replay_began..=replay_ended).contains(ts))
        .collect();
    assert!(
        outside.is_empty(),
        "{} replayed records are not timestamped with the replay's time \
         ({replay_began}..={replay_ended}), e.g. {:?}",
        outside.len(),
        &outside[..outside.len().min(5)]
    );
    let values = |by_date: &ByDate| {
        let mut all: Vec<Option<Vec<u8>>> = by_date.values().flatten().cloned().collect();
        all.sort();
        all
    };
    let mut replayed_values: Vec<Option<Vec<u8>>> =
        replayed.into_iter().map(|(_, _, v)| v).collect();
    replayed_values.sort();
    assert!(
        replayed_values == values(&want),
        "replayed values differ from the archived ones"
    );

    setup.cleanup(s).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_five_random_moments_loses_and_duplicates_nothing() {
    let s = stack();
    let _claim = s.shared();
    let mut setup = Setup::new(s, "archiver_kill", 4).await;
    setup.roll_size_bytes = 8 * 1024;
    setup.roll_interval_secs = 1.0;
    // Every record unique; timestamps jump back and forth across midnight, so each partition
    // has files of two dates open most of the time.
    let mut rng = rand::rng();
    let records: Vec<Record> = (0..20_000)
        .map(|i| {
            let ts = NOV_27 + DAY + rng.random_range(-5_000..5_000);
            let value = if i % 50 == 7 {
                format!("not json\n#{i}").into_bytes()
            } else {
                format!("{{\"seq\":{i},\"session_id\":\"s{}\"}}", i % 101).into_bytes()
            };
            (ts, Some(format!("s{}", i % 101)), Some(value))
        })
        .collect();
    let n = records.len();

    // Records keep arriving while the archiver is killed and restarted.
    let producer = {
        let (topic, records) = (setup.topic.clone(), records.clone());
        tokio::spawn(async move {
            for chunk in records.chunks(500) {
                produce(stack(), &topic, chunk).await;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let mut kills = Vec::new();
    for _ in 0..5 {
        let mut archiver = setup.start(s);
        let after = Duration::from_millis(rng.random_range(700..3_500));
        tokio::time::sleep(after).await;
        archiver.assert_running();
        archiver.sigkill();
        kills.push(after.as_millis());
    }
    producer.await.unwrap();
    let (partial, _) = read_archive(s, &setup.root).await;
    assert!(
        count(&partial) > 0,
        "nothing was committed before the kills {kills:?}"
    );

    let archiver = setup.start(s);
    let archive = wait_for_records(s, &setup.root, n, Duration::from_secs(120)).await;
    // Anything duplicated would show up now, a few roll intervals later.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let skipped = archiver
        .metrics()
        .lines()
        .find(|l| l.starts_with("wa_archiver_records_skipped_total"))
        .map(str::to_string);
    eprintln!("kills after {kills:?} ms; last restart: {skipped:?}");
    archiver.stop();
    let (archive_after, temporaries) = read_archive(s, &setup.root).await;
    assert_eq!(
        count(&archive),
        n,
        "kills after {kills:?} ms: {} of {n} archived",
        count(&archive)
    );
    assert_eq!(
        count(&archive_after),
        n,
        "kills after {kills:?} ms: duplicates appeared"
    );
    assert!(
        archive_after == expected(&records),
        "archived values differ from the produced ones"
    );
    assert!(
        temporaries.is_empty(),
        "temporaries left after a clean stop: {temporaries:?}"
    );

    setup.cleanup(s).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn quiet_topic_gets_its_last_records_committed_within_the_roll_interval() {
    let s = stack();
    let _claim = s.shared();
    let mut setup = Setup::new(s, "archiver_quiet", 2).await;
    setup.roll_interval_secs = 3.0;
    setup.roll_size_bytes = 64 << 20;
    let mut archiver = setup.start(s);
    // Let it assign its partitions before the records arrive (the roll interval counts from
    // the first record of a file).
    tokio::time::sleep(Duration::from_secs(3)).await;
    archiver.assert_running();

    let records: Vec<Record> = (0..5)
        .map(|i| {
            (
                NOV_27 + i,
                Some(format!("k{i}")),
                Some(format!("{{\"seq\":{i}}}").into_bytes()),
            )
        })
        .collect();
    let produced = Instant::now();
    produce(s, &setup.topic, &records).await;
    let (early, _) = read_archive(s, &setup.root).await;
    assert_eq!(
        count(&early),
        0,
        "a 64 MiB file was committed before its roll interval"
    );
    let archive = wait_for_records(s, &setup.root, records.len(), Duration::from_secs(30)).await;
    let took = produced.elapsed();
    assert!(archive == expected(&records), "got {archive:?}");
    // Without the time-based roll nothing would ever be committed (no record follows); the
    // bound is the roll interval plus generous room for a loaded machine (commit latency is
    // a benchmark figure, not a test).
    assert!(
        took < Duration::from_secs_f64(3.0 + 12.0),
        "committed only after {took:?}"
    );
    archiver.assert_running();
    archiver.stop();
    setup.cleanup(s).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn metastore_outage_does_not_stop_archiving_and_partitions_follow_later() {
    let s = stack();
    let _claim = s.exclusive();
    let setup = Setup::new(s, "archiver_hms", 2).await;
    let records: Vec<Record> = (0..50)
        .map(|i| {
            (
                NOV_27 + i * 3_600_000,
                None,
                Some(format!("{{\"seq\":{i}}}").into_bytes()),
            )
        })
        .collect();
    produce(s, &setup.topic, &records).await;

    let outage = s.metastore_outage().unwrap();
    let mut archiver = setup.start(s);
    let archive = wait_for_records(s, &setup.root, records.len(), Duration::from_secs(60)).await;
    archiver.assert_running();
    assert!(
        archive == expected(&records),
        "archiving stalled while the metastore was down"
    );
    outage.end().unwrap();

    let table = format!("{}.raw_web_events_json", setup.database);
    let deadline = Instant::now() + Duration::from_secs(60);
    let total = loop {
        let total = s
            .query(&format!("SELECT COUNT(*) FROM {table}"))
            .and_then(|r| r.rows_as::<(i64,)>());
        match total {
            Ok(t) if t == vec![(50,)] || Instant::now() > deadline => break t,
            _ if Instant::now() > deadline => panic!("table never readable: {total:?}"),
            _ => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    };
    assert_eq!(
        total,
        vec![(50,)],
        "partitions were not registered once the metastore was back"
    );
    archiver.stop();
    setup.cleanup(s).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn partitions_added_while_running_are_archived_from_their_beginning() {
    use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions};
    use rdkafka::client::DefaultClientContext;

    let s = stack();
    let _claim = s.shared();
    let setup = Setup::new(s, "archiver_grow", 1).await;
    let mut archiver = setup.start(s);
    tokio::time::sleep(Duration::from_secs(3)).await;
    archiver.assert_running();

    let admin: AdminClient<DefaultClientContext> = kafka_config(s).create().unwrap();
    let grown = admin
        .create_partitions(&[NewPartitions::new(&setup.topic, 3)], &AdminOptions::new())
        .await
        .unwrap();
    assert!(grown.iter().all(Result::is_ok), "{grown:?}");
    let producer: FutureProducer = kafka_config(s).create().unwrap();
    let mut records = Vec::new();
    for partition in 0..3 {
        let value = format!("{{\"partition\":{partition}}}").into_bytes();
        let ts = NOV_27 + i64::from(partition);
        // The producer's metadata may not know the new partitions yet: retry until it does.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let record = FutureRecord::<(), Vec<u8>>::to(&setup.topic)
                .partition(partition)
                .timestamp(ts)
                .payload(&value);
            match producer.send(record, Duration::from_secs(10)).await {
                Ok(_) => break,
                Err((e, _)) if Instant::now() > deadline => panic!("producing to {partition}: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
        records.push((ts, None, Some(value)));
    }
    let archive = wait_for_records(s, &setup.root, 3, Duration::from_secs(40)).await;
    archiver.assert_running();
    assert!(archive == expected(&records), "got {archive:?}");
    archiver.stop();
    setup.cleanup(s).await;
}

/// The wall clock, UTC epoch ms.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
