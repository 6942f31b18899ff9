//! `archiver`: keeps every Kafka record of `web_analytics` verbatim in HDFS, exactly once,
//! under `/raw/web_analytics/date=YYYY-MM-DD/` (UTC date of the record timestamp, which is
//! the ingestion time), with the Hive table `raw_web_events_json` over it. The binary is
//! `wa-archiver`; see `README.md`.
//!
//! The data's path, one module per stage:
//! - [`config`] — command line and environment;
//! - [`recovery`] — what a restart learns from the archive (resume offsets, records to skip);
//! - [`encoding`] — one value per line, byte for byte;
//! - [`buffer`] — open files per (partition, date) and the roll policy;
//! - [`naming`] — directory and file names, which carry the offsets;
//! - [`sink`] — atomic commits to HDFS (temporary, close, rename);
//! - [`catalog`] — the Hive table and its partitions;
//! - [`service`] — the loop that ties them together;
//! - [`replay`] — the archive back to a Kafka topic.
//!
//! Must never: lose or duplicate a record across a crash, stop on a bad record, or keep
//! state anywhere but the archive itself.

pub mod buffer;
pub mod catalog;
pub mod config;
pub mod encoding;
pub mod naming;
pub mod recovery;
pub mod replay;
pub mod service;
pub mod sink;
