//! Kafka helpers: client configuration for the local broker and topic creation.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::types::RDKafkaErrorCode;

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
