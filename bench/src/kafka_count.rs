//! The bare limit of reading a topic: one librdkafka consumer (the client `wa-dataflow` uses)
//! that reads every partition from its first to its end offset — taken once, at the start —
//! and only counts records and bytes (optionally also parsing each value with
//! [`events::parse`], the first stage of our pipeline). No consumer group, no commits, no
//! output: whatever a pipeline does on top of this costs time above this figure.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use kafka_properties::KafkaProperties;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

/// Longest time without a record before the count gives up (the broker stopped answering).
pub const STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// What to count.
#[derive(Debug, Clone)]
pub struct CountConfig {
    /// Kafka bootstrap servers, `host:port[,…]`.
    pub brokers: String,
    /// The topic.
    pub topic: String,
    /// Also run [`events::parse`] on every value and count valid and rejected records.
    pub parse: bool,
    /// librdkafka properties applied after ours (e.g. `fetch.max.bytes`).
    pub properties: Vec<KafkaProperties>,
}

/// What [`count`] read.
#[derive(Debug, Clone, PartialEq)]
pub struct CountReport {
    /// Records read (the sum over partitions of end − start offset at the start).
    pub records: u64,
    /// Bytes of keys and values read.
    pub bytes: u64,
    /// Seconds from the first fetch to the last record.
    pub seconds: f64,
    /// Partitions of the topic.
    pub partitions: usize,
    /// Smallest and largest record timestamp (UTC epoch ms; the producer sets it to the event
    /// time), when any record had one.
    pub timestamp_range_ms: Option<(i64, i64)>,
    /// With `parse`: records [`events::parse`] accepted and rejected.
    pub parsed: Option<(u64, u64)>,
}

impl CountReport {
    /// Records per second.
    pub fn records_per_sec(&self) -> f64 {
        self.records as f64 / self.seconds.max(f64::EPSILON)
    }

    /// Megabytes (10⁶ bytes) per second.
    pub fn megabytes_per_sec(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.seconds.max(f64::EPSILON)
    }

    /// The report as one JSON object (what `bench/run` reads).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "records": self.records,
            "bytes": self.bytes,
            "seconds": self.seconds,
            "partitions": self.partitions,
            "records_per_sec": self.records_per_sec().round(),
            "mb_per_sec": (self.megabytes_per_sec() * 10.0).round() / 10.0,
            "min_timestamp_ms": self.timestamp_range_ms.map(|r| r.0),
            "max_timestamp_ms": self.timestamp_range_ms.map(|r| r.1),
            "valid": self.parsed.map(|p| p.0),
            "rejected": self.parsed.map(|p| p.1),
        })
    }
}

/// Reads `config.topic` from the beginning to the end offsets it has when this starts.
///
/// # Errors
/// When the topic does not exist or its offsets cannot be fetched within 10 s, when librdkafka
/// reports an error while reading, or when no record arrives for [`STALL_TIMEOUT`].
pub fn count(config: &CountConfig) -> Result<CountReport> {
    let mut client = ClientConfig::new();
    client
        .set("bootstrap.servers", &config.brokers)
        .set("client.id", "wa-bench-kafka-count")
        // librdkafka wants a group id for a consumer; nothing is ever committed under it.
        .set("group.id", "wa-bench-kafka-count")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        // The same isolation level as our pipeline's readers (librdkafka's default, said
        // explicitly): only committed records of a transactional producer are counted.
        .set("isolation.level", "read_committed");
    kafka_properties::apply(&mut client, &config.properties);
    let consumer: BaseConsumer = client.create().context("creating the Kafka consumer")?;
    let timeout = Duration::from_secs(10);
    let metadata = consumer
        .fetch_metadata(Some(&config.topic), timeout)
        .with_context(|| format!("fetching the metadata of topic {}", config.topic))?;
    let Some(topic) = metadata.topics().first() else {
        bail!("topic {} not found", config.topic);
    };
    if let Some(error) = topic.error() {
        bail!(
            "topic {} cannot be read ({error:?}): does it exist?",
            config.topic
        );
    }
    let mut remaining: BTreeMap<i32, i64> = BTreeMap::new();
    let mut assignment = TopicPartitionList::new();
    let mut expected = 0u64;
    for p in topic.partitions() {
        let (low, high) = consumer
            .fetch_watermarks(&config.topic, p.id(), timeout)
            .with_context(|| format!("end offsets of {}/{}", config.topic, p.id()))?;
        if high > low {
            remaining.insert(p.id(), high);
            expected += (high - low) as u64;
        }
        assignment
            .add_partition_offset(&config.topic, p.id(), Offset::Offset(low))
            .context("building the assignment")?;
    }
    let partitions = topic.partitions().len();
    consumer
        .assign(&assignment)
        .context("assigning the partitions")?;

    let started = Instant::now();
    let mut last_record = started;
    let (mut records, mut bytes) = (0u64, 0u64);
    let (mut valid, mut rejected) = (0u64, 0u64);
    let mut range: Option<(i64, i64)> = None;
    while !remaining.is_empty() {
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            if last_record.elapsed() > STALL_TIMEOUT {
                bail!(
                    "no record for {STALL_TIMEOUT:?} with {} of {expected} read",
                    records
                );
            }
            continue;
        };
        let message = message.context("reading from Kafka")?;
        last_record = Instant::now();
        let Some(&end) = remaining.get(&message.partition()) else {
            continue; // a record past the end offsets taken at the start
        };
        if message.offset() >= end {
            continue;
        }
        records += 1;
        let value = message.payload().unwrap_or_default();
        bytes += (value.len() + message.key().map_or(0, <[u8]>::len)) as u64;
        if let Some(ts) = message.timestamp().to_millis() {
            range = Some(range.map_or((ts, ts), |(lo, hi)| (lo.min(ts), hi.max(ts))));
        }
        if config.parse {
            match events::parse(value) {
                Ok(_) => valid += 1,
                Err(_) => rejected += 1,
            }
        }
        if message.offset() + 1 >= end {
            remaining.remove(&message.partition());
        }
    }
    Ok(CountReport {
        records,
        bytes,
        seconds: last_record.duration_since(started).as_secs_f64(),
        partitions,
        timestamp_range_ms: range,
        parsed: config.parse.then_some((valid, rejected)),
    })
}
