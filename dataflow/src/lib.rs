//! The timely/differential cluster that replaces the seed's Spark Structured Streaming job.
//!
//! Kafka partitions are read by a source operator per worker, validated with the shared event
//! model, counted per `(page_url, event_type, window)` in event-time windows, and written as ORC
//! into Hive partitions through the `hive` crate; offsets are checkpointed on HDFS only after
//! the outputs they cover are committed. The design, including how a restart avoids both loss
//! and double counting, is in `docs/dataflow-design.md`.
//!
//! Stages, one module each, named after what they are in the field:
//! - [`cluster`]: the process list (`workers.toml`) and the timely configuration it gives.
//! - [`watermark`]: per-partition watermarks and lateness; the source's capability is their
//!   minimum, so the dataflow frontier *is* the watermark.
//! - [`idle`]: when a partition counts as idle (caught up, and its leader reachable).
//! - [`window`]: tumbling and hopping event-time window assignment.
//! - [`source`]: the Kafka source operator (assignment, polling, cuts, backpressure).
//! - [`partition`]: one partition's records judged in log order — rejected (malformed or too
//!   far in the future), duplicate, late or on time — the same on a replay as the first time.
//! - [`dedup`]: deduplication by `event_id` within a horizon of event time.
//! - [`digest`]: keyed 128-bit digests of ids, for state that only tells them apart.
//! - [`rows`]: event rows and the ORC files they become; file names.
//! - [`visit`]: the stream of on-time events the visitor and session operators read.
//! - [`visitors`]: distinct users and events per page (and site) and window: per-worker user
//!   sets (visits exchanged by user), then the workers' partial counts added up.
//! - [`sessions`], [`session_store`]: sessions closed by inactivity or length, one row each;
//!   their state snapshotted with the checkpoints.
//! - [`sink`], [`results`]: final rows → ORC files, one writer per window or close bucket.
//! - [`checkpoint`], [`coordinator`], [`recovery`]: exactly once across restarts.
//! - [`days`]: `_SUCCESS` markers for the days a checkpoint proves complete.
//! - [`feed`]: the results feed — rows of groups a checkpoint made final, to Kafka.
//! - [`pipeline`], [`launch`], [`config`], [`status`]: the process, the launcher, the command
//!   line, metrics and the status line.

pub mod checkpoint;
pub mod cluster;
pub mod config;
pub mod coordinator;
pub mod days;
pub mod dedup;
pub mod digest;
pub mod feed;
pub mod idle;
pub mod launch;
pub mod partition;
pub mod pipeline;
pub mod recovery;
pub mod results;
pub mod rows;
pub mod session_store;
pub mod sessions;
pub mod sink;
pub mod source;
pub mod status;
pub mod visit;
pub mod visitors;
pub mod watermark;
pub mod window;
