//! Kafka helpers: client configuration for the local broker, topic creation, and reading a
//! whole topic back.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use crate::oracle::TopicRecord;
use crate::Stack;

/// A librdkafka configuration pointing at the local broker (`bootstrap.servers` only).
pub fn kafka_config(stack: &Stack) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &stack.kafka_brokers);
    config
}

/// Creates `topic` with `partitions` partitions (replication 1: one broker) and waits until
/// the broker reports it. An existing topic of that name is an error: tests use
/// [`crate::unique_name`] so they never share one.
///
/// # Errors
/// When the broker is unreachable or refuses the topic.
pub async fn create_topic(stack: &Stack, topic: &str, partitions: i32) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = kafka_config(stack)
        .create()
        .context("creating a Kafka admin client")?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &options,
        )
        .await
        .context("CreateTopics request")?;
    for result in results {
        match result {
            Ok(_) => {}
            Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => {
                bail!("topic {name} already exists")
            }
            Err((name, code)) => bail!("creating topic {name}: {code}"),
        }
    }
    Ok(())
}

/// One record of a topic as a consumer reads it back: the oracle's [`TopicRecord`] (its
/// fields are reached through it: `r.key`, `r.offset`, …) and the record's headers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReadRecord {
    /// Partition, offset, key, value (empty when the record has none) and timestamp.
    pub record: TopicRecord,
    /// The record headers in their order: name and value (a header without a value has an
    /// empty one).
    pub headers: Vec<(String, Vec<u8>)>,
}

impl std::ops::Deref for ReadRecord {
    type Target = TopicRecord;

    fn deref(&self) -> &TopicRecord {
        &self.record
    }
}

impl ReadRecord {
    /// The value of the first header called `name`, as UTF-8 text; `None` when there is no
    /// such header or its value is not UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

/// Every record of `topic`, with its headers, sorted by (partition, offset): each partition
/// read from its first offset up to the high watermark it had when this was called, by a
/// consumer of its own (no committed offsets). A partition is done once a record at or past
/// its last offset has been read, or the consumer reports its end (offsets a compaction
/// removed are skipped either way).
///
/// # Errors
/// When the topic does not exist or cannot be read, or not all of it within 60 s.
pub fn read_topic_records(stack: &Stack, topic: &str) -> Result<Vec<ReadRecord>> {
    let consumer: BaseConsumer = kafka_config(stack)
        .set("group.id", crate::unique_name("wa_tests_read"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create()
        .context("creating a Kafka consumer")?;
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .with_context(|| format!("metadata of {topic}"))?;
    let Some(meta) = metadata.topics().first() else {
        bail!("no metadata for {topic}");
    };
    if let Some(error) = meta.error() {
        bail!("topic {topic}: {error:?}");
    }
    let mut assignment = TopicPartitionList::new();
    // Per partition: the offset reading must reach (its high watermark).
    let mut ends = BTreeMap::new();
    for partition in meta.partitions() {
        let (low, high) = consumer
            .fetch_watermarks(topic, partition.id(), Duration::from_secs(10))
            .with_context(|| format!("offsets of {topic}/{}", partition.id()))?;
        if high > low {
            ends.insert(partition.id(), high);
            assignment
                .add_partition_offset(topic, partition.id(), Offset::Beginning)
                .context("building the assignment")?;
        }
    }
    let mut records = Vec::new();
    if ends.is_empty() {
        return Ok(records);
    }
    consumer
        .assign(&assignment)
        .context("assigning partitions")?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ends.is_empty() {
        if Instant::now() > deadline {
            bail!(
                "read {} records of {topic} in 60 s; partitions not read to their end: {ends:?}",
                records.len()
            );
        }
        let message = match consumer.poll(Duration::from_millis(200)) {
            None => continue,
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                ends.remove(&partition);
                continue;
            }
            Some(message) => message.with_context(|| format!("reading {topic}"))?,
        };
        if ends
            .get(&message.partition())
            .is_some_and(|&end| message.offset() + 1 >= end)
        {
            ends.remove(&message.partition());
        }
        let headers = message
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
                    .collect()
            })
            .unwrap_or_default();
        records.push(ReadRecord {
            record: TopicRecord {
                partition: message.partition(),
                offset: message.offset(),
                key: message.key().map(<[u8]>::to_vec),
                value: message.payload().unwrap_or_default().to_vec(),
                timestamp_ms: message.timestamp().to_millis(),
            },
            headers,
        });
    }
    records.sort();
    records.dedup_by_key(|r| (r.partition, r.offset));
    Ok(records)
}

/// Every record of `topic`, sorted by (partition, offset), as the oracle's [`TopicRecord`]s:
/// what Kafka really holds, to check a predicted [`crate::oracle::Layout`] against.
/// Reads as [`read_topic_records`] does.
///
/// # Errors
/// As [`read_topic_records`].
pub fn read_topic(stack: &Stack, topic: &str) -> Result<Vec<TopicRecord>> {
    Ok(read_topic_records(stack, topic)?
        .into_iter()
        .map(|r| r.record)
        .collect())
}
