//! The Kafka side of the producer: one idempotent, batched, compressed librdkafka producer
//! shared by `simulate` and `serve`, and the one way an event becomes a Kafka record
//! (value = the event's wire form, key = `session_id`, timestamp = ingestion time).
//!
//! The record timestamp (`CreateTime`) is the **ingestion time**, set by whoever puts the
//! record on Kafka: the collector's receipt time, the simulator's schedule. The event time is
//! in the value only. (Were it the record timestamp, the broker would refuse a record whose
//! event time is more than `log.message.timestamp.after.max.ms`, 1 h by default, ahead of its
//! clock, after the collector had already answered 204.)
//!
//! Sending only enqueues: librdkafka batches, compresses and retries in its own threads, and
//! reports each record's fate to [`DeliveryCounter`]. A full local queue is reported to the
//! caller as [`Enqueue::QueueFull`] (the collector answers 503, the simulator waits).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use events::WebEvent;
use kafka_properties::{AuthWatch, KafkaProperties};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;

/// Where events go and how to reach Kafka (flags shared by `simulate` and `serve`).
#[derive(Debug, Clone, clap::Args)]
pub struct KafkaArgs {
    /// Kafka bootstrap servers, comma-separated `host:port` (librdkafka `bootstrap.servers`).
    #[arg(
        long = "kafka-brokers",
        env = "WA_KAFKA_BROKERS",
        default_value = "127.0.0.1:9092"
    )]
    pub brokers: String,

    /// Topic the events are written to.
    #[arg(long, env = "WA_TOPIC", default_value = "web_analytics")]
    pub topic: String,

    /// Extra librdkafka producer properties `KEY=VALUE[;KEY=VALUE…]` (repeatable), e.g.
    /// `-X security.protocol=SASL_SSL -X sasl.mechanism=SCRAM-SHA-512`. Applied after our
    /// settings, so they override them. Several in one value, here or in the environment, are
    /// separated by `;`; `\;` is a `;` inside a value and `\\` a `\`. Give secrets in the
    /// environment: a command line is visible to every user. `-X` replaces the environment
    /// variable, it does not add to it.
    #[arg(
        short = 'X',
        long = "kafka-property",
        value_name = "KEY=VALUE[;…]",
        env = "WA_KAFKA_PROPERTIES",
        hide_env_values = true
    )]
    pub properties: Vec<KafkaProperties>,
}

/// Counts what librdkafka reports about every enqueued record; failures are also logged.
#[derive(Debug, Default)]
pub struct DeliveryCounter {
    delivered: AtomicU64,
    failed: AtomicU64,
}

impl DeliveryCounter {
    /// Records acknowledged by the broker so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Records librdkafka gave up on (after its retries, `message.timeout.ms`) so far.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
}

/// The librdkafka client context: delivery reports go to a [`DeliveryCounter`] and metrics;
/// an authentication failure is recorded in an [`AuthWatch`] (and logged, like every error).
pub struct DeliveryReports {
    counter: Arc<DeliveryCounter>,
    auth: Arc<AuthWatch>,
}

impl ClientContext for DeliveryReports {
    fn error(&self, error: KafkaError, reason: &str) {
        self.auth.observe(&error, reason);
        DefaultClientContext.error(error, reason);
    }
}

impl ProducerContext for DeliveryReports {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.counter.delivered.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("wa_producer_events_delivered_total").increment(1);
            }
            Err((error, _)) => {
                let failed = self.counter.failed.fetch_add(1, Ordering::Relaxed) + 1;
                metrics::counter!("wa_producer_delivery_errors_total").increment(1);
                // Failures come in bursts (a whole queue times out at once): log the first
                // and then every 10 000th, not one line per record.
                if failed == 1 || failed.is_multiple_of(10_000) {
                    tracing::error!(%error, failed, "Kafka delivery failed");
                }
            }
        }
    }
}

/// The shared producer handle.
pub struct EventProducer {
    producer: ThreadedProducer<DeliveryReports>,
    topic: String,
    counter: Arc<DeliveryCounter>,
    /// Kafka refused our credentials (recorded by the polling thread's context).
    auth: Arc<AuthWatch>,
    /// `message.timeout.ms` as configured (librdkafka's default 300 s unless overridden):
    /// the longest librdkafka keeps a record before it reports it failed.
    message_timeout: Duration,
}

/// The outcome of [`EventProducer::enqueue`].
#[derive(Debug)]
pub enum Enqueue {
    /// In librdkafka's queue; its fate will be counted in [`DeliveryCounter`].
    Queued,
    /// The local queue is full (`queue.buffering.max.messages`/`.kbytes`): Kafka is backed
    /// up. Nothing was enqueued.
    QueueFull,
}

impl EventProducer {
    /// Creates the producer for `args`. Connecting is lazy: an unreachable broker shows up as
    /// delivery failures (after `message.timeout.ms`), not here.
    ///
    /// # Errors
    /// When librdkafka refuses the configuration (an unknown or invalid property).
    pub fn new(args: &KafkaArgs) -> Result<EventProducer> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &args.brokers)
            // Names us in broker logs, quotas and metrics.
            .set("client.id", "wa-producer")
            // No duplicates or reordering within a partition when librdkafka
            // retries (implies acks=all and max.in.flight ≤ 5).
            .set("enable.idempotence", "true")
            // Said explicitly (idempotence requires it): a record counts as delivered only
            // once all in-sync replicas have it.
            .set("acks", "all")
            // Wait up to 20 ms to fill batches: far fewer, larger requests at high rates
            // (the default 5 ms makes small batches), for a latency nobody downstream of a
            // one-minute window notices.
            .set("linger.ms", "20")
            // JSON events compress 5-10×; lz4 is the cheapest codec in CPU on our 2 cores.
            .set("compression.type", "lz4")
            // Same key → same partition as the Java client (murmur2), so any other producer
            // of this topic keeps a session in the same partition.
            .set("partitioner", "murmur2_random");
        kafka_properties::apply(&mut config, &args.properties);
        let counter = Arc::new(DeliveryCounter::default());
        let auth = AuthWatch::new(&args.brokers);
        let message_timeout = message_timeout(&config)?;
        let producer = config
            .create_with_context(DeliveryReports {
                counter: counter.clone(),
                auth: auth.clone(),
            })
            .context("creating the Kafka producer")?;
        Ok(EventProducer {
            producer,
            topic: args.topic.clone(),
            counter,
            auth,
            message_timeout,
        })
    }

    /// Checks that the topic exists, asking the brokers for its metadata; returns its number
    /// of partitions. Brokers that do not auto-create topics (ours) would otherwise only
    /// report a missing topic as delivery failures, after `message.timeout.ms`.
    ///
    /// # Errors
    /// When no broker answers within `timeout`, the topic does not exist, or Kafka refused
    /// our credentials ([`kafka_properties::AuthenticationFailed`], as soon as it is reported).
    pub fn check_topic(&self, timeout: Duration) -> Result<usize> {
        let deadline = Instant::now() + timeout;
        // Asked in short requests: librdkafka retries a refused authentication forever, and
        // a request waits its whole timeout for a broker it can use.
        let metadata = loop {
            let wait = deadline
                .saturating_duration_since(Instant::now())
                .min(Duration::from_secs(1));
            match self
                .producer
                .client()
                .fetch_metadata(Some(&self.topic), wait)
            {
                Ok(metadata) => break metadata,
                Err(error) => {
                    self.auth.check()?;
                    if Instant::now() >= deadline {
                        return Err(error).with_context(|| {
                            format!("asking Kafka for the metadata of topic {}", self.topic)
                        });
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        };
        match metadata.topics().iter().find(|t| t.name() == self.topic) {
            Some(topic) if topic.error().is_none() && !topic.partitions().is_empty() => {
                Ok(topic.partitions().len())
            }
            _ => bail!(
                "Kafka topic {} does not exist (create it first; brokers do not auto-create it)",
                self.topic
            ),
        }
    }

    /// Delivery counts of every record enqueued so far.
    pub fn counter(&self) -> &DeliveryCounter {
        &self.counter
    }

    /// Enqueues `json` (the event's wire form) for `event`: key `session_id`, record
    /// timestamp `ingestion_time_ms` (UTC epoch ms: when the event entered the pipeline, by
    /// the clock of the caller; never its event time).
    ///
    /// # Errors
    /// When librdkafka refuses the record for another reason than a full queue (e.g. larger
    /// than `message.max.bytes`).
    pub fn enqueue(&self, event: &WebEvent, json: &str, ingestion_time_ms: i64) -> Result<Enqueue> {
        let record = BaseRecord::to(&self.topic)
            .key(event.session_id.as_bytes())
            .payload(json.as_bytes())
            .timestamp(ingestion_time_ms);
        match self.producer.send(record) {
            Ok(()) => Ok(Enqueue::Queued),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                metrics::counter!("wa_producer_queue_full_total").increment(1);
                Ok(Enqueue::QueueFull)
            }
            Err((error, _)) => Err(error).context("enqueueing a record"),
        }
    }

    /// Waits until every enqueued record is delivered or failed, at most `timeout`.
    ///
    /// # Errors
    /// When records are still queued after `timeout`, or any record failed.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        self.producer
            .flush(timeout)
            .context("flushing the Kafka producer")?;
        self.check_delivered()
    }

    /// Waits until librdkafka has settled every enqueued record, delivered or failed, however
    /// long that takes within `message.timeout.ms` (+ 10 s): a broker that is restarting
    /// holds records back for as long as it is away, and librdkafka still delivers them
    /// once it is back. Logs the records still in flight every 10 s meanwhile.
    ///
    /// # Errors
    /// When any record failed (librdkafka gave up on it), or records are still in flight
    /// past `message.timeout.ms` + 10 s (which librdkafka should never let happen).
    pub fn drain(&self) -> Result<()> {
        const STEP: Duration = Duration::from_secs(10);
        let deadline = Instant::now() + self.message_timeout + STEP;
        loop {
            match self.producer.flush(STEP) {
                Ok(()) => break,
                Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut))
                    if Instant::now() < deadline =>
                {
                    tracing::warn!(
                        in_flight = self.producer.in_flight_count(),
                        "waiting for Kafka to acknowledge the records still in flight"
                    );
                }
                Err(error) => {
                    return Err(error).with_context(|| {
                        format!(
                            "flushing the Kafka producer ({} records in flight)",
                            self.producer.in_flight_count()
                        )
                    })
                }
            }
        }
        self.check_delivered()
    }

    /// Fails when librdkafka gave up on any record so far.
    fn check_delivered(&self) -> Result<()> {
        let failed = self.counter.failed();
        if failed > 0 {
            bail!("{failed} records could not be delivered to Kafka");
        }
        Ok(())
    }
}

/// librdkafka's `message.timeout.ms` (alias `delivery.timeout.ms`) as set in `config`, or its
/// default, 300 000 ms.
///
/// # Errors
/// When the value set is not a whole number of milliseconds.
fn message_timeout(config: &ClientConfig) -> Result<Duration> {
    let set = config
        .get("message.timeout.ms")
        .or_else(|| config.get("delivery.timeout.ms"));
    let ms = match set {
        Some(value) => value
            .trim()
            .parse::<u64>()
            .with_context(|| format!("message.timeout.ms={value:?} is not a number of ms"))?,
        None => 300_000,
    };
    Ok(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_timeout_is_read_from_either_name_or_defaults() {
        let mut config = ClientConfig::new();
        assert_eq!(message_timeout(&config).unwrap(), Duration::from_secs(300));
        config.set("delivery.timeout.ms", "45000");
        assert_eq!(message_timeout(&config).unwrap(), Duration::from_secs(45));
        config.set("message.timeout.ms", "1500");
        assert_eq!(
            message_timeout(&config).unwrap(),
            Duration::from_millis(1500)
        );
        config.set("message.timeout.ms", "soon");
        assert!(message_timeout(&config).is_err());
    }
}
