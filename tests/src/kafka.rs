//! Kafka helpers: client configuration for the local broker, topic creation, and reading a
//! whole topic back.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
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

/// Every record of `topic`, sorted by (partition, offset): what Kafka really holds, to check a
/// predicted [`crate::oracle::Layout`] against. Waits (up to 60 s) until as many records as
/// the partitions' high watermarks announce have been read. Records without a value are read
/// as an empty value.
///
/// # Errors
/// When the topic cannot be read, or not all of it within 60 s.
pub fn read_topic(stack: &Stack, topic: &str) -> Result<Vec<TopicRecord>> {
    let consumer: BaseConsumer = kafka_config(stack)
        .set("group.id", crate::unique_name("wa_tests_read"))
        .set("enable.auto.commit", "false")
        .create()
        .context("creating a Kafka consumer")?;
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .with_context(|| format!("metadata of {topic}"))?;
    let Some(meta) = metadata.topics().first() else {
        bail!("no metadata for {topic}");
    };
    let mut assignment = TopicPartitionList::new();
    let mut total = 0i64;
    for partition in meta.partitions() {
        let (low, high) = consumer
            .fetch_watermarks(topic, partition.id(), Duration::from_secs(10))
            .with_context(|| format!("offsets of {topic}/{}", partition.id()))?;
        total += high - low;
        assignment
            .add_partition_offset(topic, partition.id(), Offset::Beginning)
            .context("building the assignment")?;
    }
    consumer
        .assign(&assignment)
        .context("assigning partitions")?;
    let mut records = Vec::with_capacity(total as usize);
    let deadline = Instant::now() + Duration::from_secs(60);
    while (records.len() as i64) < total {
        if Instant::now() > deadline {
            bail!(
                "read {} of {total} records of {topic} in 60 s",
                records.len()
            );
        }
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message.with_context(|| format!("reading {topic}"))?;
        records.push(TopicRecord {
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().unwrap_or_default().to_vec(),
            timestamp_ms: message.timestamp().to_millis(),
        });
    }
    records.sort();
    Ok(records)
}
