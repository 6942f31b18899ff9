//! Helpers of the dataflow integration tests: seeded streams from the real `wa-producer`,
//! hand-made records (malformed and valid) produced with rdkafka to chosen partitions, and the
//! predicted topic layout the oracle works from.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::{Rng as _, SeedableRng as _};
use rdkafka::producer::{FutureProducer, FutureRecord};
use wa_tests::oracle::{kafka_partition, Layout};
use wa_tests::{create_topic, kafka_config, read_topic, simulate_command, unique_name, Stack};

/// Partitions of every test topic.
pub const PARTITIONS: i32 = 4;

/// Runs a future to completion on a private runtime (the tests themselves are synchronous).
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// Now, UTC epoch ms.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A stream start `lead_ms` before a UTC midnight that lies at least 10 minutes in the past,
/// so the stream crosses a date (`dt`) boundary, its event times are in the past (the idle
/// policy then closes the last windows at once) and within Kafka's 7-day retention.
pub fn start_before_midnight(lead_ms: i64) -> i64 {
    let day = 86_400_000;
    (now_ms() - 10 * 60_000).div_euclid(day) * day - lead_ms
}

/// `wa-producer simulate` flags.
#[derive(Debug, Clone)]
pub struct Sim {
    pub seed: u64,
    pub events: u64,
    pub rate: u64,
    pub start_ms: i64,
    pub out_of_order_ms: u64,
    pub late_fraction: f64,
    pub late_by_ms: u64,
    /// `--no-pacing`: publish as fast as Kafka takes the events (event times unchanged).
    pub no_pacing: bool,
}

impl Sim {
    /// The largest event time the simulation can produce: the stream time of its last slot
    /// (late and jittered events are older).
    pub fn end_ms(&self) -> i64 {
        self.start_ms + ((self.events - 1) * 1000 / self.rate) as i64
    }

    fn command(&self, s: &Stack, topic: &str, log: &Path) -> Command {
        let mut command = simulate_command(&s.kafka_brokers, topic);
        command
            .arg("--log")
            .arg(log)
            .args(["--seed", &self.seed.to_string()])
            .args(["--events", &self.events.to_string()])
            .args(["--rate", &self.rate.to_string()])
            .args(["--start-time", &self.start_ms.to_string()])
            .args(["--out-of-order", &format!("{}ms", self.out_of_order_ms)])
            .args(["--late-fraction", &self.late_fraction.to_string()])
            .args(["--late-by", &format!("{}ms", self.late_by_ms)])
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if self.no_pacing {
            command.arg("--no-pacing");
        }
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("WA_") {
                command.env_remove(key);
            }
        }
        command
    }

    /// Starts the simulation in the background (it paces itself at `rate` per second); its
    /// stderr goes beside the log (`*.stderr`).
    pub fn spawn(&self, s: &Stack, topic: &str, log: &Path) -> Background {
        let stderr = std::fs::File::create(log.with_extension("stderr")).unwrap();
        Background(self.command(s, topic, log).stderr(stderr).spawn().unwrap())
    }

    /// Runs the simulation to its end.
    pub fn run(&self, s: &Stack, topic: &str, log: &Path) {
        let out = self.command(s, topic, log).output().unwrap();
        assert!(
            out.status.success(),
            "wa-producer simulate failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A child process that is killed if the test ends (or fails) before it does.
#[derive(Debug)]
pub struct Background(Child);

impl Background {
    /// Starts `command`; the process is killed when this is dropped.
    pub fn spawn(command: &mut Command) -> Background {
        Background(command.spawn().unwrap())
    }

    /// Panics when the process has exited.
    pub fn assert_running(&mut self, what: &str) {
        if let Some(status) = self.0.try_wait().unwrap() {
            panic!("{what} exited: {status}");
        }
    }

    /// Waits for the process to end; panics unless it succeeded.
    pub fn wait_success(&mut self, what: &str) {
        let status = self.0.wait().unwrap();
        assert!(status.success(), "{what} failed: {status}");
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A record the test produces itself, to a chosen partition.
#[derive(Debug, Clone)]
pub struct Extra {
    pub partition: i32,
    pub key: Option<String>,
    pub value: Vec<u8>,
    pub timestamp_ms: i64,
}

fn extra(partition: i32, value: impl Into<Vec<u8>>, timestamp_ms: i64) -> Extra {
    Extra {
        partition,
        key: Some(format!("extra-{partition}")),
        value: value.into(),
        timestamp_ms,
    }
}

/// A valid event built by hand (not by the producer), time as epoch ms.
pub fn hand_event(id: &str, page: &str, kind: &str, t: i64) -> String {
    serde_json::json!({
        "event_id": id,
        "user_id": "hand-user",
        "session_id": format!("hand-session-{id}"),
        "event_type": kind,
        "page_url": page,
        "browser": "Firefox",
        "os": "Linux",
        "country": "DE",
        "event_time": t,
    })
    .to_string()
}

/// Records produced before the simulation: one of each kind of invalid record, and valid
/// events the producer never makes (null and absent optional fields, an unknown event type,
/// a non-ASCII absolute URL, epoch-ms and offset RFC 3339 times, unknown extra fields).
/// Record timestamps lie in the first seconds of the stream.
pub fn leading_records(start_ms: i64) -> Vec<Extra> {
    let ts = |i: i64| start_ms + 1_000 * i;
    let rfc = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .with_timezone(&chrono::FixedOffset::east_opt(3600).unwrap())
            .to_rfc3339()
    };
    let oversize = format!(
        "{{\"event_id\":\"big\",\"padding\":\"{}\"}}",
        "x".repeat(70_000)
    );
    vec![
        extra(0, "this is not JSON", ts(1)),
        extra(1, vec![0xff, 0xfe, b'{', b'}', b'\n', 0xc3, 0x28], ts(1)),
        extra(
            2,
            r#"{"event_id":"m1","session_id":"s","event_type":"click","page_url":"/x","event_time":1796083200000}"#,
            ts(1),
        ),
        extra(3, "[1,2,3]", ts(1)),
        extra(
            0,
            r#"{"event_id":"w1","user_id":42,"session_id":"s","event_type":"click","page_url":"/x","event_time":1796083200000}"#,
            ts(2),
        ),
        extra(
            1,
            r#"{"event_id":"","user_id":"u","session_id":"s","event_type":"click","page_url":"/x","event_time":1796083200000}"#,
            ts(2),
        ),
        extra(2, oversize, ts(2)),
        extra(
            3,
            r#"{"event_id":"c1","user_id":"u","session_id":"s","event_type":"click","page_url":"/x","country":"usa","event_time":1796083200000}"#,
            ts(2),
        ),
        extra(
            0,
            r#"{"event_id":"t1","user_id":"u","session_id":"s","event_type":"click","page_url":"/x","event_time":"yesterday"}"#,
            ts(3),
        ),
        extra(
            1,
            serde_json::json!({
                "event_id": "hand-1",
                "user_id": "hand-user",
                "session_id": "hand-session",
                "event_type": "newsletter_signup",
                "page_url": "https://example.com/ünï/çødé?q=1&r=\"2\"",
                "browser": null,
                "event_time": start_ms + 1_500,
                "extra": {"nested": [1, 2, {"deep": true}]},
            })
            .to_string(),
            start_ms + 1_500,
        ),
        extra(
            2,
            serde_json::json!({
                "event_id": "hand-2",
                "user_id": "hand-user",
                "session_id": "hand-session",
                "event_type": "page_view",
                "page_url": "/",
                "os": "Linux",
                "country": null,
                "event_time": rfc(start_ms + 2_500),
            })
            .to_string(),
            start_ms + 2_500,
        ),
    ]
}

/// Records produced after the simulation: more invalid ones, a valid event far behind every
/// watermark (late) and one just behind the end of the stream (on time).
pub fn trailing_records(start_ms: i64, end_ms: i64) -> Vec<Extra> {
    vec![
        extra(
            0,
            hand_event("hand-late", "/late", "click", start_ms),
            start_ms,
        ),
        extra(1, "{\"truncated\":", end_ms - 1),
        extra(3, vec![b'{', 0x80, b'}'], end_ms),
        extra(
            3,
            hand_event("hand-last", "/last", "scroll", end_ms - 500),
            end_ms - 500,
        ),
        extra(2, "null", end_ms),
    ]
}

/// Produces `records` in order (idempotent producer: per partition, offsets follow the
/// order), and waits until Kafka acknowledged every one.
pub fn produce(s: &Stack, topic: &str, records: &[Extra]) {
    let producer: FutureProducer = kafka_config(s)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()
        .unwrap();
    let mut pending = Vec::new();
    for r in records {
        let mut record = FutureRecord::<String, Vec<u8>>::to(topic)
            .partition(r.partition)
            .payload(&r.value)
            .timestamp(r.timestamp_ms);
        if let Some(key) = &r.key {
            record = record.key(key);
        }
        pending.push(producer.send_result(record).map_err(|(e, _)| e).unwrap());
    }
    block_on(async {
        for delivery in pending {
            delivery.await.unwrap().map_err(|(e, _)| e).unwrap();
        }
    });
}

/// A record the test produces, keyed like the producer's (by `session_id`) when it is an
/// event, to the partition murmur2 gives that key.
pub fn keyed(line: &str, timestamp_ms: i64) -> Extra {
    let event = events::parse(line.as_bytes()).unwrap();
    Extra {
        partition: kafka_partition(event.session_id.as_bytes(), PARTITIONS),
        key: Some(event.session_id),
        value: line.as_bytes().to_vec(),
        timestamp_ms,
    }
}

/// A seeded stream's log with 10 % of its events sent again (same payload, same key), each
/// 1 to 1 500 records after the original, stamped with the time it is sent again.
pub fn with_copies(log: &str, seed: u64) -> (Vec<Extra>, usize) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let lines: Vec<&str> = log.lines().collect();
    let mut due: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    let mut records = Vec::new();
    let mut copies = 0;
    let mut last_ts = i64::MIN;
    for (i, line) in lines.iter().enumerate() {
        let t = events::parse(line.as_bytes()).unwrap().event_time_ms;
        last_ts = last_ts.max(t);
        records.push(keyed(line, last_ts));
        if rng.random_bool(0.10) {
            due.entry(i + rng.random_range(1..1_500))
                .or_default()
                .push(line);
            copies += 1;
        }
        for copy in due.remove(&i).unwrap_or_default() {
            records.push(keyed(copy, last_ts));
        }
    }
    for (_, rest) in due {
        for copy in rest {
            records.push(keyed(copy, last_ts));
        }
    }
    (records, copies)
}

/// Adds `records` to the predicted layout, in order.
pub fn push_all(layout: &mut Layout, records: &[Extra]) {
    for r in records {
        layout.push(
            r.partition,
            r.key.as_deref().map(str::as_bytes),
            &r.value,
            r.timestamp_ms,
        );
    }
}

/// A topic with known content: leading records, a simulation, trailing records.
#[derive(Debug)]
pub struct Stream {
    pub topic: String,
    pub sim: Sim,
    pub log: PathBuf,
    pub layout: Layout,
}

impl Stream {
    /// A fresh topic of [`PARTITIONS`] partitions named after `name`; nothing produced yet.
    pub fn create(s: &Stack, name: &str, sim: Sim) -> Stream {
        let topic = unique_name(name);
        block_on(create_topic(s, &topic, PARTITIONS)).unwrap();
        let dir = std::env::temp_dir().join(&topic);
        std::fs::create_dir_all(&dir).unwrap();
        Stream {
            layout: Layout::new(&topic, PARTITIONS),
            log: dir.join("simulate.ndjson"),
            topic,
            sim,
        }
    }

    /// Fills a fresh topic completely (leading records, the whole simulation, trailing
    /// records) and checks that Kafka holds exactly the predicted layout.
    pub fn prefilled(s: &Stack, name: &str, sim: Sim) -> Stream {
        let mut stream = Stream::create(s, name, sim);
        stream.produce_leading(s);
        stream.sim.run(s, &stream.topic, &stream.log);
        stream.produce_trailing(s);
        stream.finish_layout(s);
        stream
    }

    pub fn produce_leading(&mut self, s: &Stack) {
        let records = leading_records(self.sim.start_ms);
        produce(s, &self.topic, &records);
    }

    pub fn produce_trailing(&mut self, s: &Stack) {
        let records = trailing_records(self.sim.start_ms, self.sim.end_ms());
        produce(s, &self.topic, &records);
    }

    /// Builds the layout (leading records, the simulation log, trailing records — the order
    /// they were produced in) and checks it against what Kafka holds.
    pub fn finish_layout(&mut self, s: &Stack) {
        let mut layout = Layout::new(&self.topic, PARTITIONS);
        push_all(&mut layout, &leading_records(self.sim.start_ms));
        let log = std::fs::read_to_string(&self.log).unwrap();
        let n = layout.push_log(&log).unwrap();
        assert_eq!(n as u64, self.sim.events, "events in the simulation log");
        push_all(
            &mut layout,
            &trailing_records(self.sim.start_ms, self.sim.end_ms()),
        );
        let actual = read_topic(s, &self.topic).unwrap();
        layout.check_against(&actual).unwrap();
        self.layout = layout;
    }

    /// The `--stop-at-watermark` time for windows of `window_ms` and lateness `lateness_ms`:
    /// past the end of every window holding an event of this stream.
    pub fn stop_at_ms(&self, window_ms: i64, lateness_ms: i64) -> i64 {
        self.sim.end_ms() + window_ms + lateness_ms
    }

    pub fn remove_log(&self) {
        if let Some(dir) = self.log.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Waits for `duration`, printing why (tests can be long; say what they wait for).
pub fn pause(duration: Duration, why: &str) {
    eprintln!("[dataflow test] waiting {duration:?}: {why}");
    std::thread::sleep(duration);
}
