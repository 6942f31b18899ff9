//! Replay: re-publishes the archived records of a date range to a Kafka topic, so a day can
//! be recomputed by pointing the dataflow at that topic.
//!
//! Dates are replayed oldest first; within a date, partition by partition, files in offset
//! order, records in file order — so each original partition's order is kept. Each record is
//! published with:
//! - its exact original value (decoded from the line encoding; `~null` as a null payload);
//! - key = the event's `session_id` when the value is a JSON object with a string
//!   `session_id` (how the producer keys events), otherwise no key;
//! - timestamp = the replay's own time of sending (UTC epoch ms). A record timestamp is the
//!   ingestion time (the producer's rule), and a replay is a new ingestion: the event time
//!   stays in the value, and the archive keeps only the date of the original ingestion.
//!
//! The producer is idempotent (`enable.idempotence=true`): librdkafka retries never
//! duplicate; a replay run twice publishes twice — replay into a fresh topic.

use std::collections::VecDeque;
use std::io::Read as _;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use serde_json::Value;
use tracing::info;

use crate::config::ReplayArgs;
use crate::encoding::decode_lines;
use crate::naming::{date_dir, FileName};
use crate::sink::Archive;

/// Deliveries awaited at most in flight before waiting for the oldest.
const MAX_IN_FLIGHT: usize = 10_000;

/// The key of a replayed record, derived from its value: the event's `session_id` when the
/// value is a JSON object with a string `session_id`, otherwise none.
pub fn key_of(value: Option<&[u8]>) -> Option<String> {
    let Some(Ok(Value::Object(event))) = value.map(serde_json::from_slice::<Value>) else {
        return None;
    };
    event
        .get("session_id")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Publishes every archived record of `args.from..=args.to` to `args.topic`; returns the
/// number of records published.
///
/// # Errors
/// HDFS or Kafka errors, an undecodable line, or a date range with `from > to`.
pub async fn replay(args: ReplayArgs) -> Result<u64> {
    if args.from > args.to {
        bail!("--from {} is after --to {}", args.from, args.to);
    }
    let archive = Archive::connect(&args.common.hdfs_url, &args.common.archive_root)?;
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &args.common.kafka_brokers)
        // No duplicates from librdkafka's own retries, and order kept per partition.
        .set("enable.idempotence", "true")
        .set("linger.ms", "20");
    kafka_properties::apply(&mut config, &args.common.kafka_properties);
    let producer: FutureProducer = config.create().context("creating the Kafka producer")?;

    let mut published = 0u64;
    let mut in_flight: VecDeque<DeliveryFuture> = VecDeque::new();
    for date in args.from.iter_days().take_while(|d| *d <= args.to) {
        let dir = format!("{}/{}", archive.root(), date_dir(date));
        let listing = archive
            .hdfs()
            .list(&dir, false)
            .await
            .with_context(|| format!("listing {dir}"))?;
        let mut files: Vec<(FileName, String)> = listing
            .into_iter()
            .filter(|f| !f.isdir)
            .filter_map(|f| {
                let name = f.path.rsplit('/').next().and_then(FileName::parse)?;
                Some((name, f.path))
            })
            .collect();
        files.sort();
        let mut date_records = 0u64;
        for (name, path) in files {
            let raw = archive
                .hdfs()
                .read(&path)
                .await
                .with_context(|| format!("reading {path}"))?
                .with_context(|| format!("{path} vanished while replaying"))?;
            let content = if name.gzip {
                let mut plain = Vec::new();
                flate2::read::GzDecoder::new(&raw[..])
                    .read_to_end(&mut plain)
                    .with_context(|| format!("gunzip {path}"))?;
                plain
            } else {
                raw.to_vec()
            };
            for value in decode_lines(&content).with_context(|| format!("decoding {path}"))? {
                let key = key_of(value.as_deref());
                // A new ingestion: stamped with the time it is sent again.
                let ingestion_time_ms = chrono::Utc::now().timestamp_millis();
                let mut record =
                    FutureRecord::<str, [u8]>::to(&args.topic).timestamp(ingestion_time_ms);
                if let Some(v) = value.as_deref() {
                    record = record.payload(v);
                }
                if let Some(k) = key.as_deref() {
                    record = record.key(k);
                }
                let delivery = producer
                    .send_result(record)
                    .map_err(|(e, _)| e)
                    .context("enqueueing a record")?;
                in_flight.push_back(delivery);
                if in_flight.len() >= MAX_IN_FLIGHT {
                    await_delivery(in_flight.pop_front()).await?;
                }
                date_records += 1;
            }
        }
        info!(%date, records = date_records, "replayed date");
        published += date_records;
    }
    while let Some(d) = in_flight.pop_front() {
        await_delivery(Some(d)).await?;
    }
    let _ = rdkafka::producer::Producer::flush(&producer, Duration::from_secs(30));
    Ok(published)
}

async fn await_delivery(delivery: Option<DeliveryFuture>) -> Result<()> {
    let Some(delivery) = delivery else {
        return Ok(());
    };
    match delivery.await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err((e, _))) => Err(e).context("delivering a replayed record"),
        Err(_) => bail!("the producer dropped a delivery"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_the_session_id_when_the_value_has_one() {
        let event = br#"{"session_id":"s1","event_time":"2026-11-30T10:00:00.5Z"}"#;
        assert_eq!(key_of(Some(event)), Some("s1".into()));
        assert_eq!(key_of(Some(br#"{"session_id":7}"#)), None);
        assert_eq!(key_of(Some(br#"{"event_time":1796040000000}"#)), None);
        assert_eq!(key_of(Some(b"not json")), None);
        assert_eq!(key_of(Some(br#"[1,2]"#)), None);
        assert_eq!(key_of(None), None);
    }
}
