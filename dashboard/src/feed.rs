//! The results-feed consumer: reads every partition of `--results-topic` from
//! `now − --history` on, and applies each record to the [`State`].
//!
//! The consumer joins no group and commits nothing: its partitions are assigned, and every
//! start reads the history again (the model is rebuilt from it; records are upserted by key,
//! so what was read before is read the same way). The start offsets come from
//! `offsets_for_times(now − history)`; record timestamps are publish times, so a row published
//! in that span is read even when its window is older. A partition with no record since then
//! starts at its end.
//!
//! A topic that does not exist yet (the dashboard usually starts before the dataflow) is
//! waited for; this is logged once. Records that are not of the feed's form are counted in
//! `feed.malformed` and skipped.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use kafka_properties::KafkaProperties;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use tracing::{debug, info, warn};

use crate::scrape::now_ms;
use crate::state::State;

/// How long to wait between two looks for the topic, or after a failed offset lookup.
const RETRY: Duration = Duration::from_secs(2);

/// The consumer configuration: ours first, then the user's `-X` properties (which win).
pub fn consumer_config(brokers: &str, properties: &[KafkaProperties]) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        // rdkafka's consumer needs a group to take partition assignments; the group is never
        // joined (no subscribe) and nothing is committed to it.
        .set("group.id", "wa-dashboard")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        // A start offset that retention has already deleted: take what is left.
        .set("auto.offset.reset", "earliest")
        .set("client.id", "wa-dashboard");
    kafka_properties::apply(&mut config, properties);
    config
}

/// Creates the consumer (so a bad `-X` fails the start), then reads the feed in a task for
/// ever.
///
/// # Errors
/// librdkafka refuses the configuration.
pub fn spawn(
    state: Arc<State>,
    brokers: &str,
    properties: &[KafkaProperties],
    topic: String,
    history: Duration,
) -> Result<()> {
    let consumer: StreamConsumer = consumer_config(brokers, properties)
        .create()
        .context("creating the Kafka consumer")?;
    tokio::spawn(async move {
        assign(&consumer, &topic, history).await;
        loop {
            match consumer.recv().await {
                Ok(message) => {
                    let result = state.apply_record(message.key(), message.payload(), now_ms());
                    if let Err(error) = result {
                        warn!(
                            %topic,
                            partition = message.partition(),
                            offset = message.offset(),
                            %error,
                            "malformed feed record skipped"
                        );
                    }
                }
                Err(error) => {
                    warn!(%topic, %error, "Kafka consumer error");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(())
}

/// Waits for `topic`, then assigns all its partitions at the offsets of `now − history`.
async fn assign(consumer: &StreamConsumer, topic: &str, history: Duration) {
    let mut logged = false;
    loop {
        match partitions(consumer, topic) {
            Ok(partitions) if !partitions.is_empty() => {
                let since = now_ms() - i64::try_from(history.as_millis()).unwrap_or(i64::MAX);
                match start_offsets(consumer, topic, &partitions, since) {
                    Ok(assignment) => match consumer.assign(&assignment) {
                        Ok(()) => {
                            info!(%topic, partitions = partitions.len(), since_ms = since, "reading the results feed");
                            return;
                        }
                        Err(error) => warn!(%topic, %error, "assigning the feed's partitions"),
                    },
                    Err(error) => warn!(%topic, %error, "looking up the feed's start offsets"),
                }
            }
            Ok(_) | Err(_) if !logged => {
                info!(%topic, "results topic not found yet; waiting for it");
                logged = true;
            }
            Ok(_) => {}
            Err(error) => debug!(%topic, %error, "results topic metadata"),
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// The partition ids of `topic`; empty when it does not exist.
fn partitions(consumer: &StreamConsumer, topic: &str) -> Result<Vec<i32>> {
    let metadata = tokio::task::block_in_place(|| {
        consumer.fetch_metadata(Some(topic), Duration::from_secs(5))
    })?;
    Ok(metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect())
}

/// Each partition's first offset with a timestamp at or after `since_ms` (its end when
/// there is none).
fn start_offsets(
    consumer: &StreamConsumer,
    topic: &str,
    partitions: &[i32],
    since_ms: i64,
) -> Result<TopicPartitionList> {
    let mut query = TopicPartitionList::new();
    for &p in partitions {
        query.add_partition_offset(topic, p, Offset::Offset(since_ms))?;
    }
    let found =
        tokio::task::block_in_place(|| consumer.offsets_for_times(query, Duration::from_secs(10)))?;
    for element in found.elements() {
        debug!(%topic, partition = element.partition(), offset = ?element.offset(), "feed start offset");
    }
    Ok(found)
}
