//! The archiver against the real stack, running the real `wa-archiver` binary: Kafka records
//! (valid, malformed, invalid UTF-8, embedded newlines, null) land in HDFS byte for byte under
//! their record timestamp's UTC date, exactly once across SIGKILLs, within the roll interval on
//! a quiet topic, and are counted by Hive SQL through `raw_web_events_json`.
//!
//! The archive is read back here with an independent decoder of the documented line format
//! (`archiver/README.md`), not with the archiver's own code.

#![allow(clippy::unwrap_used)] // a test fails by panicking

use std::collections::BTreeMap;
use std::io::Read as _;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hdfs_native::{Client, ClientBuilder};
use rand::Rng as _;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use wa_tests::{create_topic, kafka_config, stack, unique_name, Stack};

/// Values per UTC date (`YYYY-MM-DD`), sorted; `None` is a record without a value.
type ByDate = BTreeMap<String, Vec<Option<Vec<u8>>>>;

/// The `wa-archiver` binary built by this `cargo test` run (`cargo test -p archiver -p
/// wa-tests` builds it; so does `cargo test --workspace`). One place to change once the
/// shared binary locator lands.
fn archiver_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/archiver-HASH → target/<profile>/wa-archiver
    let bin = exe.parent().unwrap().parent().unwrap().join("wa-archiver");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo test -p archiver -p wa-tests --test archiver` (or `cargo build -p archiver`) first",
        bin.display()
    );
    bin
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One test's world: its topic, archive root, Hive database and archiver settings.
struct Setup {
    topic: String,
    root: String,
    database: String,
    roll_size_bytes: usize,
    roll_interval_secs: f64,
    gzip: bool,
    log: PathBuf,
}

impl Setup {
    async fn new(s: &Stack, name: &str, partitions: i32) -> Self {
        let topic = unique_name(name);
        create_topic(s, &topic, partitions).await.unwrap();
        let database = topic.clone();
        s.hive_sql(&[&format!("CREATE DATABASE {database}")])
            .unwrap();
        let log = std::env::temp_dir().join(format!("{topic}.log"));
        Self {
            root: format!("/tmp/wa-tests/{topic}/raw"),
            topic,
            database,
            roll_size_bytes: 1 << 20,
            roll_interval_secs: 2.0,
            gzip: false,
            log,
        }
    }

    fn command(&self, s: &Stack) -> Command {
        let mut cmd = Command::new(archiver_binary());
        cmd.env("RUST_LOG", "info")
            .env("WA_KAFKA_BROKERS", &s.kafka_brokers)
            .env("WA_HDFS_URL", &s.hdfs_url)
            .env("WA_ARCHIVE_ROOT", &self.root)
            .env("WA_METASTORE_URI", format!("thrift://{}", s.metastore_addr))
            .stdin(Stdio::null())
            .stderr(self.log_file());
        cmd
    }

    fn log_file(&self) -> std::fs::File {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap()
    }

    /// Starts the service; `metrics_port` is where `/metrics` answers.
    fn start(&self, s: &Stack) -> Archiver {
        let metrics_port = free_port();
        let child = self
            .command(s)
            .env("WA_TOPIC", &self.topic)
            .env("WA_CONSUMER_GROUP", &self.topic)
            .env("WA_HIVE_DATABASE", &self.database)
            .env("WA_ROLL_SIZE_BYTES", self.roll_size_bytes.to_string())
            .env("WA_ROLL_INTERVAL_SECS", self.roll_interval_secs.to_string())
            .env("WA_COMPRESSION", if self.gzip { "gzip" } else { "none" })
            .env("WA_METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        Archiver {
            child,
            metrics_port,
            log: self.log.clone(),
        }
    }

    async fn cleanup(&self, s: &Stack) {
        s.hive_sql(&[&format!(
            "DROP DATABASE IF EXISTS {} CASCADE",
            self.database
        )])
        .unwrap();
        hdfs(s)
            .delete(&format!("/tmp/wa-tests/{}", self.topic), true)
            .await
            .unwrap();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A running `wa-archiver`; killed when dropped.
struct Archiver {
    child: Child,
    metrics_port: u16,
    log: PathBuf,
}

impl Archiver {
    fn sigkill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM and wait: a clean shutdown commits every open file.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "wa-archiver exited with {status}; log: {}",
                    self.log_tail()
                );
                return;
            }
            assert!(Instant::now() < deadline, "wa-archiver ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("wa-archiver exited with {status}; log: {}", self.log_tail());
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        log.lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The `/metrics` page.
    fn metrics(&self) -> String {
        use std::io::Write as _;
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", self.metrics_port)).unwrap();
        conn.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let mut page = String::new();
        conn.read_to_string(&mut page).unwrap();
        page
    }
}

impl Drop for Archiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hdfs(s: &Stack) -> Client {
    ClientBuilder::new().with_url(&s.hdfs_url).build().unwrap()
}

/// Decodes one archive line per the documented format.
fn decode(line: &[u8]) -> Option<Vec<u8>> {
    if line == b"~null" {
        None
    } else if let Some(b64) = line.strip_prefix(b"~b64:") {
        Some(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap(),
        )
    } else {
        assert!(!line.starts_with(b"~"), "unknown marker line {line:?}");
        Some(line.to_vec())
    }
}

/// Everything committed under `root`, decoded, per date; and the names of temporaries seen.
async fn read_archive(s: &Stack, root: &str) -> (ByDate, Vec<String>) {
    let client = hdfs(s);
    let mut by_date = ByDate::new();
    let mut temporaries = Vec::new();
    let listing = match client.list_status(root, true).await {
        Ok(l) => l,
        Err(hdfs_native::HdfsError::FileNotFound(_)) => return (by_date, temporaries),
        Err(e) => panic!("listing {root}: {e}"),
    };
    for file in listing.into_iter().filter(|f| !f.isdir) {
        let mut parts = file.path.rsplit('/');
        let name = parts.next().unwrap().to_string();
        let date = parts
            .next()
            .unwrap()
            .strip_prefix("date=")
            .unwrap()
            .to_string();
        if name.starts_with('.') {
            assert!(
                name.ends_with(".inprogress"),
                "unexpected hidden file {}",
                file.path
            );
            temporaries.push(file.path);
            continue;
        }
        assert!(name.starts_with("part-p"), "unexpected file {}", file.path);
        // A file may be renamed away (never, for committed files) or still be written; read
        // only committed names, which never change.
        let reader = client.read(&file.path).await.unwrap();
        let raw = reader
            .read_range(0, reader.file_length())
            .await
            .unwrap()
            .to_vec();
        let content = if name.ends_with(".gz") {
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_end(&mut plain)
                .unwrap();
            plain
        } else {
            raw
        };
        assert!(
            content.is_empty() || content.ends_with(b"\n"),
            "{} does not end with a newline",
            file.path
        );
        let values = by_date.entry(date).or_default();
        if !content.is_empty() {
            for line in content[..content.len() - 1].split(|&b| b == b'\n') {
                values.push(decode(line));
            }
        }
    }
    for values in by_date.values_mut() {
        values.sort();
    }
    (by_date, temporaries)
}

fn count(by_date: &ByDate) -> usize {
    by_date.values().map(Vec::len).sum()
}

/// Polls the archive until it holds at least `n` records or `timeout` passes.
async fn wait_for_records(s: &Stack, root: &str, n: usize, timeout: Duration) -> ByDate {
    let deadline = Instant::now() + timeout;
    loop {
        let (archive, _) = read_archive(s, root).await;
        if count(&archive) >= n || Instant::now() > deadline {
            return archive;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A record to produce: timestamp (epoch ms), key, value.
type Record = (i64, Option<String>, Option<Vec<u8>>);

fn date_of(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    // Civil date from days since 1970-01-01 (proleptic Gregorian), independent of chrono.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn expected(records: &[Record]) -> ByDate {
    let mut by_date = ByDate::new();
    for (ts, _, value) in records {
        by_date.entry(date_of(*ts)).or_default().push(value.clone());
    }
    for values in by_date.values_mut() {
        values.sort();
    }
    by_date
}

async fn produce(s: &Stack, topic: &str, records: &[Record]) {
    let producer: FutureProducer = kafka_config(s)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()
        .unwrap();
    let mut pending = Vec::new();
    for (ts, key, value) in records {
        let mut record = FutureRecord::<String, Vec<u8>>::to(topic).timestamp(*ts);
        if let Some(k) = key {
            record = record.key(k);
        }
        if let Some(v) = value {
            record = record.payload(v);
        }
        pending.push(producer.send_result(record).map_err(|(e, _)| e).unwrap());
    }
    for delivery in pending {
        delivery.await.unwrap().map_err(|(e, _)| e).unwrap();
    }
}

/// 2026-11-27T00:00:00Z in epoch ms. Test timestamps stay in the past: the broker rejects
/// records too far in the future (`log.message.timestamp.after.max.ms`, 1 hour).
const NOV_27: i64 = 1_796_083_200_000 - 4 * 86_400_000;
const DAY: i64 = 86_400_000;

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

    // Replay publishes the same values, with keys and timestamps, to a fresh topic.
    let replay_topic = unique_name("archiver_replay");
    create_topic(s, &replay_topic, 2).await.unwrap();
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
    let replayed = consume(s, &replay_topic, 2, n).await;
    assert_eq!(
        replayed, want,
        "replayed values differ from the archived ones"
    );

    setup.cleanup(s).await;
}

/// Reads `n` records from every partition of `topic`, values per record-timestamp date.
async fn consume(s: &Stack, topic: &str, partitions: i32, n: usize) -> ByDate {
    let consumer: BaseConsumer = kafka_config(s)
        .set("group.id", unique_name("archiver_check"))
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    for p in 0..partitions {
        assignment
            .add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();
    let mut records = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while records.len() < n && Instant::now() < deadline {
        if let Some(message) = consumer.poll(Duration::from_millis(200)) {
            let m = message.unwrap();
            records.push((
                m.timestamp().to_millis().unwrap(),
                None,
                m.payload().map(<[u8]>::to_vec),
            ));
        }
    }
    expected(&records)
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
    // The roll interval, plus the timer's granularity and HDFS commit time.
    assert!(
        took < Duration::from_secs_f64(3.0 + 3.0),
        "committed only after {took:?}"
    );
    archiver.assert_running();
    archiver.stop();
    setup.cleanup(s).await;
}

/// Starts the stopped metastore again even when the test fails half-way.
struct RestartMetastore<'a>(&'a Stack);
impl Drop for RestartMetastore<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.0.start_metastore() {
            eprintln!("could not restart the metastore: {e:#}");
        }
    }
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

    s.stop_metastore().unwrap();
    let restart = RestartMetastore(s);
    let mut archiver = setup.start(s);
    let archive = wait_for_records(s, &setup.root, records.len(), Duration::from_secs(60)).await;
    archiver.assert_running();
    assert!(
        archive == expected(&records),
        "archiving stalled while the metastore was down"
    );
    drop(restart);

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
