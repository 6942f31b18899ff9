//! Helpers of the archiver integration test: running the real `wa-archiver` binary, producing
//! records with explicit timestamps, and reading the archive back with an independent decoder
//! of the documented line format (`archiver/README.md`), not with the archiver's own code.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hdfs_native::{Client, ClientBuilder};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use wa_tests::{create_topic, kafka_config, unique_name, Stack};

/// Values per UTC date (`YYYY-MM-DD`), sorted; `None` is a record without a value.
pub type ByDate = BTreeMap<String, Vec<Option<Vec<u8>>>>;

/// The `wa-archiver` binary of this workspace (built on first use).
pub fn archiver_binary() -> PathBuf {
    wa_tests::binary("wa-archiver").unwrap()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One test's world: its topic, archive root, Hive database and archiver settings.
pub struct Setup {
    pub topic: String,
    pub root: String,
    pub database: String,
    pub roll_size_bytes: usize,
    pub roll_interval_secs: f64,
    pub gzip: bool,
    pub log: PathBuf,
}

impl Setup {
    pub async fn new(s: &Stack, name: &str, partitions: i32) -> Self {
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

    pub fn command(&self, s: &Stack) -> Command {
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

    pub fn log_file(&self) -> std::fs::File {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap()
    }

    /// Starts the service; `metrics_port` is where `/metrics` answers.
    pub fn start(&self, s: &Stack) -> Archiver {
        let metrics_port = free_port();
        let child = self
            .command(s)
            .env("WA_TOPIC", &self.topic)
            .env("WA_CONSUMER_GROUP", &self.topic)
            .env("WA_DATABASE", &self.database)
            .env("WA_ROLL_SIZE_BYTES", self.roll_size_bytes.to_string())
            .env("WA_ROLL_INTERVAL", format!("{}s", self.roll_interval_secs))
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

    pub async fn cleanup(&self, s: &Stack) {
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
pub struct Archiver {
    pub child: Child,
    pub metrics_port: u16,
    pub log: PathBuf,
}

impl Archiver {
    pub fn sigkill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM and wait: a clean shutdown commits every open file.
    pub fn stop(mut self) {
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

    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("wa-archiver exited with {status}; log: {}", self.log_tail());
        }
    }

    pub fn log_tail(&self) -> String {
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
    pub fn metrics(&self) -> String {
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

pub fn hdfs(s: &Stack) -> Client {
    ClientBuilder::new().with_url(&s.hdfs_url).build().unwrap()
}

/// Decodes one archive line per the documented format.
pub fn decode(line: &[u8]) -> Option<Vec<u8>> {
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
pub async fn read_archive(s: &Stack, root: &str) -> (ByDate, Vec<String>) {
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

pub fn count(by_date: &ByDate) -> usize {
    by_date.values().map(Vec::len).sum()
}

/// Polls the archive until it holds at least `n` records or `timeout` passes.
pub async fn wait_for_records(s: &Stack, root: &str, n: usize, timeout: Duration) -> ByDate {
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
pub type Record = (i64, Option<String>, Option<Vec<u8>>);

pub fn date_of(ms: i64) -> String {
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

pub fn expected(records: &[Record]) -> ByDate {
    let mut by_date = ByDate::new();
    for (ts, _, value) in records {
        by_date.entry(date_of(*ts)).or_default().push(value.clone());
    }
    for values in by_date.values_mut() {
        values.sort();
    }
    by_date
}

pub async fn produce(s: &Stack, topic: &str, records: &[Record]) {
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
pub const NOV_27: i64 = 1_796_083_200_000 - 4 * 86_400_000;
pub const DAY: i64 = 86_400_000;

/// Reads `n` records from every partition of `topic`, values per record-timestamp date.
#[allow(dead_code)] // used by the fault tests, not by every includer
pub async fn consume(s: &Stack, topic: &str, partitions: i32, n: usize) -> ByDate {
    expected(&consume_records(s, topic, partitions, n).await)
}

/// Reads `n` records from every partition of `topic` (at most 60 s): (timestamp, no key,
/// value) each, in the order read.
pub async fn consume_records(s: &Stack, topic: &str, partitions: i32, n: usize) -> Vec<Record> {
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
    records
}
