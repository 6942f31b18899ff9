//! Kafka is real: an idempotent producer and a consumer round-trip records on a 4-partition topic.

#![allow(clippy::unwrap_used)] // a test fails by panicking

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use wa_tests::{create_topic, kafka_config, stack, unique_name};

#[tokio::test(flavor = "multi_thread")]
async fn idempotent_producer_and_consumer_round_trip_on_four_partitions() {
    let s = stack();
    let _claim = s.shared();
    let topic = unique_name("smoke_kafka");
    create_topic(s, &topic, 4).await.unwrap();

    let producer: FutureProducer = kafka_config(s)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()
        .unwrap();
    // (key, payload) -> (partition, offset) as the broker acknowledged it.
    let mut sent = BTreeMap::new();
    for i in 0..400 {
        let key = format!("session-{}", i % 23);
        let payload = format!("{{\"seq\":{i}}}");
        let delivery = producer
            .send(
                FutureRecord::to(&topic).key(&key).payload(&payload),
                Duration::from_secs(30),
            )
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        sent.insert((key, payload), (delivery.partition, delivery.offset));
    }

    let consumer: BaseConsumer = kafka_config(s)
        .set("group.id", unique_name("smoke_group"))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let metadata = consumer
        .fetch_metadata(Some(&topic), Duration::from_secs(10))
        .unwrap();
    assert_eq!(metadata.topics()[0].partitions().len(), 4);
    let mut assignment = TopicPartitionList::new();
    for p in 0..4 {
        assignment
            .add_partition_offset(&topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();

    let mut received = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while received.len() < sent.len() && Instant::now() < deadline {
        if let Some(msg) = consumer.poll(Duration::from_millis(200)) {
            let msg = msg.unwrap();
            let key = String::from_utf8(msg.key().unwrap().to_vec()).unwrap();
            let payload = String::from_utf8(msg.payload().unwrap().to_vec()).unwrap();
            let previous = received.insert((key, payload), (msg.partition(), msg.offset()));
            assert!(previous.is_none(), "a record was delivered twice");
        }
    }
    assert_eq!(
        received, sent,
        "consumed records differ from the acknowledged ones"
    );

    // One key, one partition: the property that keeps a session's events in order.
    let mut partitions_of_key: BTreeMap<&str, BTreeSet<i32>> = BTreeMap::new();
    for ((key, _), (partition, _)) in &received {
        partitions_of_key.entry(key).or_default().insert(*partition);
    }
    assert!(partitions_of_key.values().all(|p| p.len() == 1));
    let used: BTreeSet<i32> = received.values().map(|(p, _)| *p).collect();
    assert!(
        used.len() > 1,
        "23 keys all landed in one partition: {used:?}"
    );
}
