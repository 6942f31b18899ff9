//! Replay: re-publishes the archived records of a date range to a Kafka topic, so a day can
//! be recomputed by pointing the dataflow at that topic.
//!
//! Dates are replayed oldest first; within a date, partition by partition, files in offset
//! order, records in file order — so each original partition's order is kept. Each record is
//! published with:
//! - its exact original value (decoded from the line encoding; `~null` as a null payload);
//! - key = the event's `session_id` when the value is a JSON object with a string
//!   `session_id` (how the producer keys events), otherwise no key;
//! - timestamp = the event's `event_time` (RFC 3339 or epoch milliseconds) when it parses,
//!   otherwise midnight UTC of the archive date (the archive keeps the date, not the
//!   original Kafka timestamp of records that carry no event time).
//!
//! The producer is idempotent (`enable.idempotence=true`): librdkafka retries never
//! duplicate; a replay run twice publishes twice — replay into a fresh topic.

use std::collections::VecDeque;
use std::io::Read as _;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, NaiveDate};
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

/// Key and timestamp (epoch ms) of a replayed record, derived from its value.
pub fn key_and_timestamp(value: Option<&[u8]>, date: NaiveDate) -> (Option<String>, i64) {
    let midnight = date
        .and_time(chrono::NaiveTime::MIN)
        .and_utc()
        .timestamp_millis();
    let Some(Ok(Value::Object(event))) = value.map(serde_json::from_slice::<Value>) else {
        return (None, midnight);
    };
    let key = event
        .get("session_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    let time = match event.get("event_time") {
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.timestamp_millis()),
        Some(Value::Number(n)) => n.as_i64(),
        _ => None,
    };
    (key, time.unwrap_or(midnight))
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
        let listing = match archive.client().list_status(&dir, false).await {
            Ok(l) => l,
            Err(hdfs_native::HdfsError::FileNotFound(_)) => continue,
            Err(e) => return Err(e).with_context(|| format!("listing {dir}")),
        };
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
            let reader = archive
                .client()
                .read(&path)
                .await
                .with_context(|| format!("opening {path}"))?;
            let raw = reader
                .read_range(0, reader.file_length())
                .await
                .with_context(|| format!("reading {path}"))?;
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
                let (key, timestamp) = key_and_timestamp(value.as_deref(), date);
                let mut record = FutureRecord::<str, [u8]>::to(&args.topic).timestamp(timestamp);
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
    fn key_and_timestamp_come_from_the_event_when_it_has_them() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let midnight = 1_796_083_200_000 - 86_400_000;
        let event = br#"{"session_id":"s1","event_time":"2026-11-30T10:00:00.5Z"}"#;
        assert_eq!(
            key_and_timestamp(Some(event), d),
            (Some("s1".into()), midnight + 36_000_500)
        );
        let epoch = br#"{"session_id":"s2","event_time":1796040000000}"#;
        assert_eq!(
            key_and_timestamp(Some(epoch), d),
            (Some("s2".into()), 1_796_040_000_000)
        );
        assert_eq!(key_and_timestamp(Some(b"not json"), d), (None, midnight));
        assert_eq!(key_and_timestamp(Some(br#"[1,2]"#), d), (None, midnight));
        assert_eq!(key_and_timestamp(None, d), (None, midnight));
        assert_eq!(
            key_and_timestamp(Some(br#"{"event_time":"yesterday"}"#), d),
            (None, midnight)
        );
    }
}
